"""The campaign report: files, numbers, a self-contained page, and a look at it in a real headless browser."""

import csv
import json
import re
import shutil
import struct
import subprocess
import zlib

import pytest
from test_metrics import CLAUDE, OPENAI, write_campaign

from hepmini import cli
from hepmini.bench import report
from hepmini.bench import svg

CHROMIUM = shutil.which("chromium")


@pytest.fixture
def fixture_report(tmp_path, capsys):
    d = write_campaign(tmp_path / "camp")
    assert cli.main(["report", str(d)]) == 0
    return d, capsys.readouterr().out


def test_report_writes_every_file_with_the_metrics(fixture_report):
    d, out = fixture_report
    assert "10/13" not in out and "6/10 succeeded (2 infrastructure, 1 skipped, excluded); 3 problem(s)" in out
    summary = json.loads((d / "summary.json").read_text())
    assert summary["format"] == "hepmini-summary-1" and summary["models"] == [OPENAI, CLAUDE]
    cell = next(c for c in summary["cells"] if c["model"] == OPENAI and c["step"] == "step1")
    assert cell["success_rate"] == 0.5 and cell["agent_work"]["mean"] == 25.0 and cell["cost"]["n_unknown"] == 1
    assert len(summary["problems"]) == 3 and summary["provenance"]["spec"]["budget"] == 5.0
    assert summary["provenance"]["classifier"] == {"rules v1": 4, "LLM openai:judge": 2}
    with open(d / "summary.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [(r["model"], r["step"]) for r in rows] == [(OPENAI, "step1"), (OPENAI, "step3"), (CLAUDE, "step1"),
                                                       (CLAUDE, "step3")]
    assert rows[0]["success_rate"] == "0.5" and rows[0]["pass@2"].startswith("0.833") and rows[0]["pass@5"] == ""
    assert rows[0]["cost_n_unknown"] == "1" and rows[0]["errors: semantic error"] == "1"
    md = (d / "summary.md").read_text()
    assert f"| {OPENAI} | 50 ± 25 % (2/4) | 0 ± 0 % (0/1) |" in md
    assert "| **Total failures** | **2** | **2** |" in md


def test_report_page_is_self_contained_with_every_figure(fixture_report):
    d, _ = fixture_report
    html = (d / "report.html").read_text()
    assert html.startswith("<!DOCTYPE html>") and html.rstrip().endswith("</html>")
    for banned in ("<script", "src=", "href=", "<link", "<iframe", "@import", "url("):
        assert banned not in html, banned
    assert "http" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "")   # a namespace, not a fetch
    assert html.count("<svg") == 7          # heatmap, errors, agent work, API calls, cost, user ratio, Pareto
    for text in ("Success rate per model and step", "Error distribution per model", "Table 1.",
                 "Agent work per step", "API calls per step", "Cost per step", "Cost vs success", "Pareto front",
                 "Rules vs LLM", "agree on 1/2 = 50.0 %", "Provenance", "sha256", "m-2025",
                 "trial(s) used a model of unknown price", "unreadable result.json", "no result.json",
                 "workflow step", "fraction of failed trials"):
        assert text in html, text
    assert "class='banner'" not in html and " †" not in html    # no scripted stand-in in this campaign
    # every tick label of the agent-work axis (0 ... 40 and beyond) is drawn
    assert re.search(r">0</text>.*>40</text>", html, re.DOTALL)


def test_report_on_a_scripted_faults_campaign(faults_campaign):
    out = subprocess.run([*_python(), "-m", "hepmini", "report", str(faults_campaign)], capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "rule classifier accuracy against the injected faults: 25/25" in out.stdout
    assert "scripted:faults: scripted stand-in — not a model result" in out.stdout
    html = (faults_campaign / "report.html").read_text()
    assert "scripted:faults — scripted stand-in — not a model result" in html and "scripted:faults †" in html
    assert "Rule accuracy against the injected faults" in html and "25/25 = 100.0 %" in html


def test_report_refuses_a_directory_that_is_no_campaign(tmp_path, capsys):
    assert cli.main(["report", str(tmp_path)]) != 0
    assert "campaign" in capsys.readouterr().err


def test_chart_primitives():
    assert svg.nice_ticks(0, 0.031) == [0, 0.01, 0.02, 0.03, 0.04]
    assert svg.log_ticks(3, 4000) == [1.0, 10.0, 100.0, 1000.0, 10000.0]
    assert svg.pareto_front([("a", 0.0, 0.5), ("b", 0.0, 0.5), ("c", 1.0, 0.4)]) == ["a", "b"]
    chart = svg.series_chart(["s1", "s2"], [{"name": "m <x>", "color": "#000", "marker": "circle",
                                            "values": [(5.0, 1.0), None]}], "T", "y")
    assert "m &lt;x&gt;" in chart and chart.count("<circle") == 2    # the point and its legend marker
    assert report.pct(0.5, 0.25) == "50 ± 25 %" and report.pct(None) == "–"


def _python():
    import sys

    return [sys.executable]


def png_info(path) -> tuple:
    """(width, height, distinct byte values of the decoded image data) of a PNG, with the stdlib only."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, size = 8, b"", None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        chunk = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            size = struct.unpack(">II", chunk[:8])
        elif kind == b"IDAT":
            idat += chunk
        pos += 12 + length
    return size[0], size[1], len(set(zlib.decompress(idat)))


def screenshot(html_path, png_path, tmp_path):
    subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync", "--no-first-run",
                    f"--user-data-dir={tmp_path / 'chromium-profile'}", f"--screenshot={png_path}",
                    "--window-size=1400,3000", f"file://{html_path}"], capture_output=True, timeout=120, check=False)


@pytest.mark.skipif(not CHROMIUM, reason="chromium is not installed")
def test_report_renders_in_a_headless_browser(fixture_report, faults_campaign, tmp_path):
    d, _ = fixture_report
    if not (faults_campaign / "report.html").exists():
        assert cli.main(["report", str(faults_campaign)]) == 0
    for name, html in (("fixture", d / "report.html"), ("faults", faults_campaign / "report.html")):
        png = tmp_path / f"{name}.png"
        screenshot(html, png, tmp_path)
        assert png.is_file(), f"no screenshot of {html}"
        width, height, distinct = png_info(png)
        # a blank page decodes to a handful of byte values; charts, text and colours to hundreds
        assert (width, height) == (1400, 3000) and distinct > 100, (name, distinct)
