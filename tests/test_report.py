"""The campaign report: files, numbers, the trial table and its links, campaigns side by side, a widened campaign."""

import csv
import hashlib
import html as htmllib
import json
import re
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import unquote

import pytest
from support.workdirs import REF_SETTINGS, copy_workdir, run_cli
from test_metrics import CLAUDE, FIXTURE, OPENAI, write_campaign

from hepmini import cli
from hepmini.bench import charts, diagnose, fmt, report, specs, store, svg


@pytest.fixture
def fixture_report(tmp_path, capsys):
    d = write_campaign(tmp_path / "camp", files=True)
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
    assert summary["provenance"]["classifier"] == {f"rules v{diagnose.RULES_VERSION}": 4, "LLM openai:judge": 2}
    with open(d / "summary.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [(r["model"], r["step"]) for r in rows] == [(OPENAI, "step1"), (OPENAI, "step3"), (CLAUDE, "step1"),
                                                       (CLAUDE, "step3")]
    assert rows[0]["success_rate"] == "0.5" and rows[0]["pass@2"].startswith("0.833") and rows[0]["pass@5"] == ""
    assert rows[0]["cost_n_unknown"] == "1" and rows[0]["errors: semantic error"] == "1"
    md = (d / "summary.md").read_text()
    assert f"| {OPENAI} | 50 ± 25 % (2/4, 15–85 %) | 0 ± 0 % (0/1, 0–79 %) |" in md
    assert "0/1 · 0–79 %" in (d / "report.html").read_text()     # the heatmap: "0 ± 0 %" of one trial, bounded
    # Table 1 per model, not pooled: openai fails twice in step1 and once in step3, claude once in step3
    assert f"Failures of {OPENAI} by error category" in md and f"Failures of {CLAUDE} by error category" in md
    assert "| **Total failures** | **2** | **1** |" in md and "| **Total failures** | **0** | **1** |" in md
    assert "Rules vs LLM classifier (openai:judge): agree on 1/2 failures; 0 answer(s) flagged." in md
    assert "LLM position control (the category list reversed): 1/1 answers unchanged" in md
    with open(d / "trials.csv", newline="") as fh:
        trials = list(csv.DictReader(fh))
    assert len(trials) == 13 and {(t["model"], t["step"], t["trial"]) for t in trials} == \
        {(m, s, str(k)) for m, s, k in FIXTURE}


def test_report_page_is_self_contained_and_every_link_is_relative(fixture_report):
    d, _ = fixture_report
    page = (d / "report.html").read_text()
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    for banned in ("src=", "<link", "<iframe", "@import", "url(", "fetch(", "XMLHttpRequest"):
        assert banned not in page, banned
    assert "http" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")   # a namespace, not a fetch
    hrefs = re.findall(r'href="([^"]*)"', page)
    assert hrefs and all(not re.match(r"[a-z]+:|/", h) for h in hrefs), [h for h in hrefs if re.match(r"[a-z]+:|/", h)]
    for h in hrefs:   # every link resolves from the report's directory, inside the campaign
        target = htmllib.unescape(h)
        if not target.startswith("#"):
            path = (d / unquote(target)).resolve()
            assert path.is_file() and d.resolve() in path.parents, h
    assert page.count("<svg") == 7          # heatmap, errors, agent work, API calls, cost, user ratio, Pareto
    for text in ("Success rate per model and step", "Error distribution per model", "Table 1, per model",
                 "Agent work per step", "API calls per step", "Cost per step", "Cost vs success", "Pareto front",
                 "Rules vs LLM", "agree on 1/2 = 50.0 %", "position control (the category list reversed): 1/1 "
                 "answers unchanged", "Provenance", "processors: not recorded (", "sha256", "m-2025", "Every trial",
                 "trial(s) used a model of unknown price", "unreadable result.json", "no result.json",
                 "workflow step", "fraction of failed trials"):
        assert text in page, text
    assert "class='banner'" not in page and " †" not in page    # no scripted stand-in in this campaign


def _rows(page: str) -> list:
    body = page.split("<table id='trials'>", 1)[1].split("</table>", 1)[0]
    return re.findall(r"<tr([^>]*)>(.*?)</tr>", body.split("<tbody>", 1)[1])


def test_the_trial_table_lists_every_trial_with_its_class_evidence_and_files(fixture_report):
    d, _ = fixture_report
    page = (d / "report.html").read_text()
    rows = _rows(page)
    assert len(rows) == len(FIXTURE) == 13
    head = page.split("<table id='trials'>", 1)[1].split("</thead>", 1)[0]
    for column in ("model", "step", "trial", "status", "error (rules)", "the rule's evidence", "error (LLM)",
                   "iter.", "tokens", "cost ($)", "time (s)", "files"):
        assert f">{column}</th>" in head, column
    failed = next(cells for attrs, cells in rows if 'data-c="0-step1"' in attrs and "format_error" in cells)
    assert "other" in failed and "hand-made: fixture" in failed and "function-calling error" in failed
    assert '<td class="n">3</td>' in failed and "unknown" in failed     # 3 iterations, a cost of unknown price
    for label, file in (("log", "comprehensive.log"), ("val", "validation.log"), ("json", "result.json"),
                        ("err", "stderr.txt"), ("code", "_attempt2.py")):
        assert re.search(rf'href="cells/openai__gpt-x/step1/trial-5/[^"]*{re.escape(file)}">{label}</a>', failed), label
    assert 'trial-5/generated_code/step1_task_attempt1.py">1</a>' in failed    # the earlier attempt
    # the table is complete without JavaScript; the script only sorts and filters it
    assert "<div id='trial-filter' hidden>" in page and page.count("<script>") == 1


def test_two_clicks_from_a_heatmap_cell_to_the_failing_trials_code(fixture_report):
    d, _ = fixture_report
    page = (d / "report.html").read_text()
    heatmap = page.split("<svg", 2)[1]
    cell = re.search(r'<a href="#(cell-0-step1)">', heatmap)            # click 1: openai step1 in Fig. 2a
    assert cell, "the heatmap cell links to its trials"
    row = re.search(rf'<tr id="{cell.group(1)}"[^>]*>(.*?)</tr>', page).group(1)
    assert ">failed<" in row           # it lands on the cell's first failing trial, not on a success
    code = re.search(r'<a href="([^"]+)">code</a>', row).group(1)      # click 2: its code
    assert (d / unquote(code)).read_text() == "print('attempt 2 of trial-3')\n"
    assert all(f'href="#cell-{i}-{s}"' in heatmap for i, s in ((0, "step3"), (1, "step1"), (1, "step3")))


def test_numbers_are_tidy_and_headers_list_what_is_shown(fixture_report):
    assert fmt.uncertain(6.45, 9.93e-16) == "6.45 ± 0" and fmt.uncertain(2.0, 0.0) == "2 ± 0"
    assert fmt.uncertain(25.0, 12.909944) == "25 ± 13" and fmt.uncertain(0.1, 0.0, "$") == "$0.1 ± 0"
    assert fmt.uncertain(0.00165, 0.00015) == "(1.65 ± 0.15) × 10⁻³" and fmt.uncertain(1234.7, 61.2) == "1235 ± 61"
    d, _ = fixture_report
    page = (d / "report.html").read_text()
    text = re.sub(r"<[^>]+>", " ", re.sub(r"<style>.*?</style>|<script>.*?</script>", "", page, flags=re.DOTALL))
    assert not re.search(r"\b\d(\.\d+)?e[-+]?\d", text), re.search(r".{40}\b\d(\.\d+)?e[-+]?\d.{20}", text)
    assert "pass@k (k =" not in page
    table = page.split("<table class='cells'>", 1)[1].split("</table>", 1)[0]
    ks = re.findall(r"<th>pass@(\d+)</th>", table)
    assert ks == ["1", "2", "3"]     # the cells have 4, 1, 3 and 2 counted trials: no pass@5 anywhere
    for row in re.findall(r"<tr><td class='name'>.*?</tr>", table):
        assert row.count("<td") == 4 + len(ks) + 5
    # claude step1: three identical successes, agent work 2 with a std of exactly 0
    assert "2 ± 0" in table and "$0.1 ± 0" in table


def test_figures_3_to_5_plot_the_models_with_a_success_in_every_step_unless_all_are_asked(tmp_path, capsys):
    d = write_campaign(tmp_path / "camp")
    assert cli.main(["report", str(d)]) == 0
    page = (d / "report.html").read_text()
    effort = page.split("Effort and cost per step", 1)[1].split("Cost vs success", 1)[0]
    assert CLAUDE in effort and f"Left out: {OPENAI}" in effort and "--all-models" in effort
    assert OPENAI not in effort.split("Left out", 1)[1].split("<svg", 1)[1]
    assert OPENAI in page.split("Cost vs success", 1)[1]       # cost vs success keeps every model
    assert cli.main(["report", str(d), "--all-models"]) == 0
    effort = (d / "report.html").read_text().split("Effort and cost per step", 1)[1].split("Cost vs success", 1)[0]
    assert "Every model is plotted" in effort and effort.count(OPENAI) >= 4


def test_table_1_is_per_model(fixture_report):
    d, _ = fixture_report
    page = (d / "report.html").read_text()
    assert "all models together" not in page
    openai = page.split(f"<b>{OPENAI}</b>: 3 failure(s) of 5 counted trial(s)", 1)[1].split("</details>", 1)[0]
    assert re.search(r"semantic error</td><td class=\"n\">1</td><td class=\"n\">0</td>", openai)
    assert re.search(r"Total failures</th><th class=\"n\">2</th><th class=\"n\">1</th>", openai)


def test_report_refuses_a_directory_that_is_no_campaign(tmp_path, capsys):
    assert cli.main(["report", str(tmp_path)]) != 0
    assert "campaign" in capsys.readouterr().err


def test_report_errors_are_one_line_and_a_non_zero_exit(tmp_path, capsys):
    a = write_campaign(tmp_path / "a")
    (tmp_path / "file").write_text("")
    assert cli.main(["report", str(a), "--out", str(tmp_path / "file" / "out")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "cannot write the report into" in err
    assert cli.main(["report", str(a), str(a)]) == 2 and "--out" in capsys.readouterr().err
    assert cli.main(["report", str(a), str(tmp_path / "a"), "--out", str(tmp_path / "o")]) == 2
    assert "given twice" in capsys.readouterr().err
    bad = write_campaign(tmp_path / "bad", fixture={}, broken=True)      # every result.json unreadable or missing
    assert cli.main(["report", str(bad)]) == 1 and "no finished trial" in capsys.readouterr().err


def test_chart_primitives():
    assert svg.nice_ticks(0, 0.031) == [0, 0.01, 0.02, 0.03, 0.04]
    assert svg.log_ticks(3, 4000) == [1.0, 10.0, 100.0, 1000.0, 10000.0]
    assert charts.pareto_front([("a", 0.0, 0.5), ("b", 0.0, 0.5), ("c", 1.0, 0.4)]) == ["a", "b"]
    chart = charts.series_chart(["s1", "s2"], [{"name": "m <x>", "color": "#000", "marker": "circle",
                                               "values": [(5.0, 1.0), None]}], "T", "y")
    assert "m &lt;x&gt;" in chart and chart.count("<circle") == 2    # the point and its legend marker
    assert report.pct(0.5, 0.25) == "50 ± 25 %" and report.pct(None) == "–"


# ---- campaigns side by side ---------------------------------------------------------------------------


def test_two_campaigns_that_agree_merge_into_one_figure_2a(tmp_path, capsys):
    a = write_campaign(tmp_path / "a", files=True)
    b = write_campaign(tmp_path / "b", fixture={(OPENAI, "step1", 1): FIXTURE[(OPENAI, "step1", 1)],
                                                ("google:gem", "step1", 1): FIXTURE[(CLAUDE, "step1", 1)]},
                       broken=False, models=[OPENAI, "google:gem"], files=True)
    out = tmp_path / "both"
    assert cli.main(["report", str(a), str(b), "--out", str(out)]) == 0
    said = capsys.readouterr().out
    assert "merged a (13 trial(s)), b (2 trial(s))" in said and "agree on every setting" in said
    summary = json.loads((out / "summary.json").read_text())
    assert summary["models"] == [OPENAI, CLAUDE, "google:gem"]
    cell = next(c for c in summary["cells"] if c["model"] == OPENAI and c["step"] == "step1")
    assert (cell["n_trials"], cell["n_success"]) == (6, 3)          # a's 5 and b's 1, pooled
    page = (out / "report.html").read_text()
    assert page.count('aria-label="Success rate per model and step"') == 1 and "<h2>Campaigns</h2>" in page
    assert ">campaign</th>" in page and "<td>b</td>" in page
    links = [unquote(htmllib.unescape(h)) for h in re.findall(r'href="([^"#][^"]*)"', page)]
    assert links and all((out / h).resolve().is_file() for h in links)
    assert any(h.startswith("../b/cells/") for h in links) and any(h.startswith("../a/cells/") for h in links)


def test_campaigns_whose_settings_differ_keep_a_model_apart_and_say_why(tmp_path, capsys):
    a = write_campaign(tmp_path / "a", settings={"scale": 0.02, "temperature": 0.0})
    b = write_campaign(tmp_path / "b", fixture={(OPENAI, "step1", 1): FIXTURE[(OPENAI, "step1", 1)]}, broken=False,
                       settings={"scale": 0.02, "temperature": 0.7}, models=[OPENAI])
    out = tmp_path / "both"
    assert cli.main(["report", str(a), str(b), "--out", str(out)]) == 0
    said = capsys.readouterr().out
    assert "settings differ: temperature: a 0.0, b 0.7" in said
    assert f"kept apart (settings differ): {OPENAI} [a], {OPENAI} [b]" in said
    summary = json.loads((out / "summary.json").read_text())
    assert summary["models"] == [f"{OPENAI} [a]", CLAUDE, f"{OPENAI} [b]"]
    assert summary["campaigns"]["differing"] == {"temperature": {"a": 0.0, "b": 0.7}}
    page = (out / "report.html").read_text()
    assert "Settings that change results differ:</b> temperature (a: 0.0, b: 0.7)" in page
    assert f"{OPENAI} [b]" in page.split("<svg", 2)[1]           # its own row in Fig. 2a


# ---- a campaign widened: models and steps added, no cell touched ------------------------------------------------


def _args(**kw):
    base = dict(models=None, steps=None, trials=None, max_iterations=None, budget=None, workdir=None)
    return SimpleNamespace(**{**base, **kw})


def _tree(d: Path) -> dict:
    return {p.relative_to(d): hashlib.sha256(p.read_bytes()).hexdigest() for p in (d / "cells").rglob("*")
            if p.is_file()}


def test_models_and_steps_are_added_to_a_campaign_without_touching_its_cells(tmp_path):
    from hepmini import config

    cfg = config.resolve({"workdir": tmp_path / "work", **REF_SETTINGS}, environ={}, cwd=tmp_path)
    out = tmp_path / "camp"
    _, first = specs.spec_from_args(cfg, _args(models="scripted:oracle", steps="step5", trials=2), out)
    store.ensure_spec(out, first)
    (out / "cells" / "scripted__oracle" / "step5" / "trial-1").mkdir(parents=True)
    (out / "cells" / "scripted__oracle" / "step5" / "trial-1" / "result.json").write_text('{"status": "success"}')
    before = _tree(out)
    _, wider = specs.spec_from_args(cfg, _args(models="scripted:faults,scripted:oracle", steps="step4,step5"), out)
    assert wider.models == ("scripted:oracle", "scripted:faults") and wider.steps == ("step5", "step4")
    assert wider.trials == 2 and wider.created == first.created      # left out: the stored value
    stored = store.ensure_spec(out, wider)
    assert store.Spec.load(out) == stored == wider and _tree(out) == before
    assert json.loads((out / "campaign.jsonl").read_text().splitlines()[-1])["event"] == "widened"
    _, one_more = specs.spec_from_args(cfg, _args(models="scripted:oracle,scripted:faults,openai:gpt-5"), out)
    assert one_more.models[-1] == "openai:gpt-5" and one_more.steps == wider.steps     # --steps left out: kept
    _, steps_only = specs.spec_from_args(cfg, _args(steps="step5,step4,step1"), out)
    assert steps_only.steps == ("step5", "step4", "step1") and steps_only.models == wider.models
    for kw, needle in ((dict(models="scripted:oracle,scripted:faults", temperature=0.5), "temperature 0.0 here, 0.5"),
                       (dict(models="scripted:faults"), "models scripted:oracle,scripted:faults here, "
                                                        "scripted:faults asked (models and steps may be added"),
                       (dict(models="scripted:oracle,scripted:faults", max_iterations=1), "max_iterations 3 here")):
        _, spec = specs.spec_from_args(cfg, _args(**kw), out)
        with pytest.raises(store.CampaignError, match=re.escape(needle)):
            store.check_spec(out, spec)
    assert _tree(out) == before


def test_a_model_added_to_a_real_campaign_runs_only_its_cells_and_lands_in_the_same_figure(reference_run,
                                                                                           tmp_path_factory):
    work = copy_workdir(reference_run, tmp_path_factory, "widen")
    out = tmp_path_factory.mktemp("widen-campaign") / "camp"
    sets = [a for k, v in REF_SETTINGS.items() for a in ("--set", f"{k}={v}")]
    first = run_cli("bench", "--models", "scripted:oracle", "--steps", "step5", "--out", out, "--workdir", work, *sets)
    assert first.returncode == 0, first.stderr[-2000:]
    before = _tree(out)
    again = run_cli("bench", "--models", "scripted:oracle,scripted:faults", "--steps", "step5,step4", "--out", out,
                    "--workdir", work, "--max-iterations", "3", *sets)
    assert again.returncode == 0, again.stderr[-2000:]
    assert "4/4 cell(s) finished (3 run now)" in again.stdout
    after = _tree(out)
    assert all(after[p] == h for p, h in before.items())             # the first cell, byte for byte
    shown = run_cli("report", out)
    assert shown.returncode == 0, shown.stderr
    heatmap = (out / "report.html").read_text().split("<svg", 2)[1]
    assert "scripted:oracle †" in heatmap and "scripted:faults †" in heatmap and "step4 classify" in heatmap


def test_report_on_a_scripted_faults_campaign(faults_campaign):
    out = subprocess.run([sys.executable, "-m", "hepmini", "report", str(faults_campaign)], capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "rule classifier accuracy against the injected faults: 25/25" in out.stdout
    assert "scripted:faults: scripted stand-in — not a model result" in out.stdout
    page = (faults_campaign / "report.html").read_text()
    assert "scripted:faults — scripted stand-in — not a model result" in page and "scripted:faults †" in page
    assert "Rule accuracy against the injected faults" in page and "25/25 = 100.0 %" in page
    assert len(_rows(page)) == 25 and page.count('data-g="f"') == 25


def test_provenance_takes_one_hash_per_step_or_one_per_part_of_a_step():
    records = [{"step": "step1", "model": "m", "provenance": {"reference_script_sha256": "a" * 64}},
               {"step": "step2", "model": "m", "provenance": {"reference_script_sha256": {"step2a": "b" * 64,
                                                                                          "step2b": "c" * 64}}}]
    scripts = report.provenance(records, {})["reference_scripts"]
    assert scripts == {"step1": {"a" * 64: 1}, "step2a": {"b" * 64: 1}, "step2b": {"c" * 64: 1}}


def test_a_trial_row_carries_its_local_servers_load_into_the_csv_and_the_time_cells_title(tmp_path):
    from hepmini.bench import trials

    base = {"model": "local:x", "step": "step1", "status": "failed", "durations": {"total": 12.5},
            "path": str(tmp_path / "trial")}
    shared = {**base, "trial": 1, "compute": {"local_server_load": {"mean_busy_slots": 1.6, "slots": 2}}}
    rows = [trials.row_of(shared, str(tmp_path), m=0), trials.row_of({**base, "trial": 2}, str(tmp_path), m=0)]
    assert [r["server_busy_slots"] for r in rows] == [1.6, None]
    parsed = list(csv.DictReader(trials.csv_text(rows).splitlines()))
    assert [r["server_busy_slots"] for r in parsed] == ["1.6", ""] and [r["seconds"] for r in parsed] == ["12.5"] * 2
    page = trials.table(rows, merged=False)
    assert page.count('title="the local server had 1.6 slot(s) busy on average meanwhile">12.5</td>') == 1
    assert page.count('<td class="n">12.5</td>') == 1
