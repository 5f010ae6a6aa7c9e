"""The report in a real headless Chromium: screenshots at 800 and 1400 px, no horizontal scrollbar, the trial
table without JavaScript, and with it filtered from a heatmap cell and sorted.

Skipped where Debian's `chromium` is not installed (apt-get install -y chromium). The screenshots are kept
under pytest's tmp directory (the last three runs are kept); their paths are printed (pytest -s shows them).
"""

import html
import json
import re
import shutil
import struct
import subprocess
import zlib

import pytest
from test_metrics import trial, write_campaign

from hepmini import cli
from hepmini.bench import diagnose

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# each test starts the browser a few times (seconds each): not in `make test-fast`
pytestmark = [pytest.mark.skipif(not CHROMIUM, reason="chromium is not installed (Debian: apt-get install -y "
                                                      "chromium)"), pytest.mark.slow]
WIDTHS = (800, 1400)
# The paper's models, and one name longer than any of them, to stress the page's widths.
MODELS = ("gemini:gemini-2.5-pro", "gemini:gemini-2.5-flash", "gemini:gemini-2.0-flash-lite", "openai:gpt-5",
          "openai:gpt-5-mini", "openai:o3", "anthropic:claude-sonnet-4-5", "anthropic:claude-haiku-4-5",
          "anthropic:claude-opus-4-1", "anthropic:claude-3-5-haiku-latest", "cborg:gpt-oss-120b",
          "cborg:openai/gpt-oss-20b-with-a-very-long-deployment-name-2025-10-01")
STEPS = ("step1", "step2", "step3", "step4", "step5")
EVIDENCE = ["last run (attempt 3) exited 1", "MissingData: data/GamGam/Data/data_A.GamGam.root: no such file; "
            "check --data-dir (it must hold GamGam/Data and GamGam/MC); raised in /work/main/hepmini/data/"
            "rootio_with_a_long_module_name_that_never_breaks_on_its_own.py", "the root cause of the final KeyError"]

# Runs after the page's own script: measures the layout, then clicks the tokens column head twice.
PROBE = """<script>(function () {
  var d = document.documentElement, out = {sw: d.scrollWidth, cw: d.clientWidth, inner: []};
  Array.prototype.forEach.call(document.querySelectorAll("body *"), function (e) {
    var s = getComputedStyle(e);
    if (e.scrollWidth > e.clientWidth + 1 && (s.overflowX == "auto" || s.overflowX == "scroll"))
      out.inner.push(e.tagName + "." + e.className);
  });
  var t = document.getElementById("trials"), rows = Array.prototype.slice.call(t.tBodies[0].rows);
  function seen() { return rows.filter(function (r) { return !r.hidden; }).length; }
  out.rows = rows.length; out.visible = seen();
  out.filter_hidden = document.getElementById("trial-filter").hidden;
  var heads = Array.prototype.slice.call(t.tHead.rows[0].cells), col = heads.findIndex(function (h) {
    return h.textContent.indexOf("tokens") === 0; });
  function tokens() { return Array.prototype.map.call(t.tBodies[0].rows, function (r) {
    return parseFloat(r.cells[col].textContent); }); }
  heads[col].click(); out.up = tokens(); heads[col].click(); out.down = tokens();
  var p = document.createElement("pre"); p.id = "probe"; p.textContent = JSON.stringify(out);
  document.body.appendChild(p);
})();</script>"""


def chromium(*args, profile):
    return subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                           "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars",
                           f"--user-data-dir={profile}", *map(str, args)], capture_output=True, text=True,
                          timeout=180, check=False)


def copy_of(report, name, js=True, probe=False):
    """A copy of `report` beside it (so its links hold): with the PROBE, or with scripts blocked by a CSP."""
    text = report.read_text()
    if probe:
        text = text.replace("</body>", PROBE + "</body>")
    if not js:   # a policy in the page blocks its scripts, as a browser with JavaScript off would not run them
        text = text.replace("<head>", "<head><meta http-equiv='Content-Security-Policy' content=\"script-src 'none'\">")
    copy = report.with_name(f"{name}-{report.name}")
    copy.write_text(text)
    return copy


def probe(report, width, tmp_path, fragment="") -> dict:
    """The PROBE's measurements of `report` in a window `width` px wide."""
    copy = copy_of(report, f"probe-{width}", probe=True)
    out = chromium(f"--window-size={width},1000", "--dump-dom", copy.as_uri() + fragment, profile=tmp_path / "profile")
    found = re.search(r'<pre id="probe">(.*?)</pre>', out.stdout, re.DOTALL)
    assert found, f"no measurement from chromium: {out.stderr[-1500:]}"
    return json.loads(html.unescape(found.group(1)))


def dom_without_javascript(report, tmp_path) -> str:
    copy = copy_of(report, "nojs", js=False, probe=True)
    out = chromium("--window-size=800,1000", "--dump-dom", copy.as_uri(), profile=tmp_path / "profile")
    assert "</html>" in out.stdout, out.stderr[-1500:]
    return out.stdout


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


def screenshot(report, png, width, tmp_path, js=True):
    page = report if js else copy_of(report, "nojs", js=False)
    chromium(f"--screenshot={png}", f"--window-size={width},2400", page.as_uri(), profile=tmp_path / "profile")
    assert png.is_file(), f"no screenshot of {report}"
    print(f"screenshot: {png}")
    return png_info(png)


def _failure(k: int):
    result, _ = trial("failed", 900, 40_000 + 1000 * k, 7, 0.0123 * k, 31.4 * k)
    return result, {"format": diagnose.FORMAT, "rules_version": diagnose.RULES_VERSION,
                    "rule": {"category": "intermediate file not found", "rule": "missing-file", "evidence": EVIDENCE},
                    "llm": {"model": "cborg:gpt-oss-120b", "category": "other", "raw": "***other***", "flagged": ""},
                    "ground_truth": None}


@pytest.fixture(scope="module")
def stress_report(tmp_path_factory):
    """Two hand-made campaigns merged: 12 models (long names) x 5 steps x 3 trials, settings that differ."""
    root = tmp_path_factory.mktemp("stress")
    fixture = {}
    for i, model in enumerate(MODELS):
        for j, step in enumerate(STEPS):
            for k in range(1, 4):
                fixture[(model, step, k)] = (_failure(k) if (i + j + k) % 3 == 0 else
                                             trial("success", 900, 20_000 * k, 3, 0.004 * k, 12.5 * k))
    a = write_campaign(root / "paper-models", fixture=fixture, broken=False, files=True, models=list(MODELS),
                       steps=list(STEPS), settings={"scale": 1.0, "temperature": 0.0})
    extra = {(m, s, 1): trial("success", 900, 15_000, 3, 0.01, 9.0) for m in MODELS[-2:] for s in STEPS}
    b = write_campaign(root / "next-month", fixture=extra, broken=False, files=True, models=list(MODELS[-2:]),
                       steps=list(STEPS), settings={"scale": 1.0, "temperature": 0.7})
    out = root / "merged"
    assert cli.main(["report", str(a), str(b), "--out", str(out)]) == 0
    return out / "report.html"


@pytest.fixture(scope="module")
def scripted_report(faults_campaign):
    """The report of a real scripted:faults campaign (5 steps x 5 trials)."""
    assert cli.main(["report", str(faults_campaign)]) == 0
    return faults_campaign / "report.html"


def _check_widths(report, name, tmp_path):
    for width in WIDTHS:
        got = probe(report, width, tmp_path)
        assert got["sw"] <= got["cw"] and got["inner"] == [], (name, width, got["sw"], got["cw"], got["inner"])
        png = tmp_path / f"{name}-{width}.png"
        w, h, distinct = screenshot(report, png, width, tmp_path)
        # a blank page decodes to a handful of byte values; charts, text and colours to hundreds
        assert (w, h) == (width, 2400) and distinct > 100, (name, width, distinct)


def test_a_scripted_campaigns_report_fits_800_and_1400_px(scripted_report, tmp_path):
    _check_widths(scripted_report, "scripted", tmp_path)


def test_twelve_long_model_names_and_merged_campaigns_fit_800_and_1400_px(stress_report, tmp_path):
    _check_widths(stress_report, "stress", tmp_path)


def test_the_page_is_complete_without_javascript(stress_report, tmp_path):
    dom = dom_without_javascript(stress_report, tmp_path)
    body = dom.split('id="trials"', 1)[1].split("</tbody>", 1)[0]
    assert len(re.findall(r"<tr [^>]*data-g=", body)) == 12 * 5 * 3 + 2 * 5 and " hidden" not in body
    assert re.search(r'<div id="trial-filter" hidden', dom) and 'id="probe"' not in dom     # no script ran
    assert screenshot(stress_report, tmp_path / "stress-nojs-800.png", 800, tmp_path, js=False)[2] > 100


def test_a_heatmap_cell_filters_the_trial_table_and_a_column_head_sorts_it(stress_report, tmp_path):
    everything = probe(stress_report, 1400, tmp_path)
    assert not everything["filter_hidden"] and everything["visible"] == everything["rows"] == 12 * 5 * 3 + 2 * 5
    one = probe(stress_report, 1400, tmp_path, fragment="#cell-1-step2")      # gemini-2.5-flash, step 2
    assert one["visible"] == 3
    numbers = [x for x in one["up"] if x == x]
    assert numbers == sorted(numbers) and one["down"][:len(numbers)] == sorted(numbers, reverse=True)
