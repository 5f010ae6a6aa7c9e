"""The method as data: the paper's and the baseline's protocols, the paper's command, the rich context, and replay."""

import json
import re
from pathlib import Path

import pytest
from support.workdirs import REF_SETTINGS, copy_workdir, run_cli, work_config

from hepmini import layout
from hepmini.agent import prompts
from hepmini.agent.loop import Settings
from hepmini.agent.standins import Replay
from hepmini.agent.trial import new_trial_dir, run_trial
from hepmini.llm import cassette

SETS = [a for k, v in REF_SETTINGS.items() for a in ("--set", f"{k}={v}")]


@pytest.fixture(scope="module")
def work(reference_run, tmp_path_factory):
    return copy_workdir(reference_run, tmp_path_factory, "protocols")


def numbers(text: str) -> set:
    return set(re.findall(r"(?<![\w.])\d+(?:\.\d+)?(?![\w.])", text))


def test_the_baseline_is_three_composite_tasks_with_five_repair_rounds():
    tasks = layout.tasks("baseline")
    assert [t.NAME for t in tasks] == ["dataprep", "sbsep", "categorization"]
    assert tasks[0].STEPS == ["step1", "step2", "step3"] and tasks[0].INPUTS == [] and tasks[0].READS_DATA
    assert set(tasks[0].VALIDATE) == {rel for s in layout.steps()[:3] for rel in s.VALIDATE}
    assert tasks[2].INPUTS == layout.get("step5").INPUTS
    assert layout.protocols().MAX_ITERATIONS == {"paper": 3, "baseline": 5}
    assert [t.NAME for t in layout.tasks("paper")] == [s.NAME for s in layout.steps()]


@pytest.mark.parametrize("name", ["baseline_dataprep", "baseline_sbsep", "baseline_categorization", "run_command"])
def test_a_composite_prompt_quotes_no_number_of_its_own(name):
    rules = layout.rules()
    known = numbers(" ".join(str(v) for v in vars(rules).values() if isinstance(v, (int, float, str, list, tuple))))
    own = numbers(prompts.load(name)) - known - {"1", "2", "3"}     # the parts' own numbering
    assert not own, f"{name}.txt quotes numbers not in steps/rules.py: {sorted(own)}"


def test_a_composite_task_is_its_steps_prompts_each_reading_what_the_part_before_wrote():
    text = prompts.task_prompt(layout.get("dataprep", "baseline"), data_dir="data", inputs_dir="inputs",
                               outputs_dir="outputs")
    for step in ("step1", "step2", "step3"):
        part = prompts.task_prompt(step, data_dir="data", inputs_dir="outputs", outputs_dir="outputs")
        assert part.splitlines()[0] in text
    assert "outputs/ntuples/data_A.npy" in text.split("PART 3 OF 3")[1] and "inputs/" not in text
    assert text.rstrip().endswith("they name the same files.") and "--input-files data/GamGam" in text


def test_every_task_prompt_says_how_its_script_is_run():
    for task in layout.tasks("paper") + layout.tasks("baseline"):
        text = prompts.task_prompt(task, data_dir="data", inputs_dir="inputs", outputs_dir="outputs")
        assert "python generated_code/<script>.py --input-files" in text and "--output-files outputs/" in text


def scripted_trial(cfg, task, runs, supervisor, coder, **settings):
    s = Settings(supervisor="scripted:replay", coder="scripted:replay", **settings)
    n, directory = new_trial_dir(runs, task)
    return run_trial(cfg, task, s, directory, sources={rel: cfg.solution_dir for rel in task.INPUTS}, index=n,
                     clients=(supervisor, coder))


ARGV = ("import json, os, sys\nos.makedirs('outputs', exist_ok=True)\n"
        "print(json.dumps(sys.argv[1:]))\nsys.exit(3)\n")


def test_the_script_is_run_with_the_paths_of_the_call_record(work, tmp_path):
    boss = Replay(["## Worker Prompt\nPrint your arguments.\n## Call record:\nasked\nInput files:\ninputs/arrays/"
                   "signal.npy\nOutput files:\noutputs/arrays/boundaries.npy outputs/arrays/significances.npy\n",
                   "VERDICT: ACCEPT"])
    r = scripted_trial(work_config(work), layout.get("step5"), tmp_path, boss, Replay([f"```python\n{ARGV}```"]))
    log = (Path(r["trial_dir"]) / "comprehensive.log").read_text()
    assert "Command: python generated_code/step5_categorize_attempt1.py --input-files inputs/arrays/signal.npy " \
           "--output-files outputs/arrays/boundaries.npy outputs/arrays/significances.npy" in log
    assert '["--input-files", "inputs/arrays/signal.npy", "--output-files", "outputs/arrays/boundaries.npy"' in log


def test_without_a_call_record_the_script_gets_the_tasks_own_paths(work, tmp_path):
    boss = Replay(["## Worker Prompt\nPrint your arguments.\n## Call record:\nasked\n", "VERDICT: ACCEPT"])
    r = scripted_trial(work_config(work), layout.get("step4"), tmp_path, boss, Replay([f"```python\n{ARGV}```"]))
    log = (Path(r["trial_dir"]) / "comprehensive.log").read_text()
    assert "--input-files inputs/arrays/signal.npy inputs/arrays/bkgd.npy --output-files outputs/arrays/" in log


def test_the_rich_context_reaches_both_roles_and_the_coder_sees_the_last_error(work, tmp_path):
    boss = Replay(["## Worker Prompt\nDo it.\n## Call record:\nasked\n", "VERDICT: REVISE\n## Worker Prompt\n"
                   "Fix it.\n## Call record:\nagain\n", "VERDICT: ACCEPT"])
    coder = Replay(["```python\nraise KeyError('photon_ptt')\n```", "```python\nprint('ok')\n```"])
    scripted_trial(work_config(work), layout.get("step3"), tmp_path, boss, coder, context="rich")
    task, first, second = boss.calls[0]["messages"][1]["content"], coder.calls[0]["messages"][1]["content"], \
        coder.calls[1]["messages"][1]["content"]
    for text in (task, first):
        assert "EXECUTION CONTEXT" in text and "inputs/ntuples/data_A.npy" in text and "numpy " in text
        assert "Columns of data_A.npy" in text and "photon1_pt" in text
    assert "THE PREVIOUS ATTEMPT FAILED (exit code 1)" in second and "KeyError: 'photon_ptt'" in second
    assert "EXECUTION CONTEXT" not in scripted_paper(work, tmp_path)


def scripted_paper(work, tmp_path) -> str:
    boss = Replay(["## Worker Prompt\nDo it.\n## Call record:\nasked\n", "VERDICT: ACCEPT"])
    coder = Replay(["```python\nprint('ok')\n```"])
    scripted_trial(work_config(work), layout.get("step3"), tmp_path, boss, coder)
    return boss.calls[0]["messages"][1]["content"] + coder.calls[0]["messages"][1]["content"]


def test_a_baseline_campaign_task_runs_on_the_stand_ins(work, tmp_path):
    proc = run_cli("agent", "dataprep", "--protocol", "baseline", "--model", "scripted:oracle", "--out", tmp_path / "b",
                   "--workdir", work, *SETS)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    r = json.loads(next((tmp_path / "b").glob("dataprep_data-preparation/trial-001/result.json")).read_text())
    assert r["status"] == "success" and r["settings"]["protocol"] == "baseline" and r["settings"]["max_iterations"] == 5
    assert {f["name"] for f in r["validation"]["files"]} == set(layout.get("dataprep", "baseline").VALIDATE)


def test_replay_reproduces_a_trial_and_reports_a_changed_prompt(work, tmp_path):
    first = run_cli("agent", "step5", "--model", "scripted:faults", "--out", tmp_path / "a", "--workdir", work, *SETS)
    # a replay needs no model: not even the default local one installed (CI's first machine had none)
    again = run_cli("agent", "step5", "--replay", tmp_path / "a", "--out", tmp_path / "b", "--workdir", work, *SETS,
                    "--set", "local_server=/nonexistent/llama-server")
    a, b = (json.loads(next((tmp_path / d).glob("step5_categorize/trial-001/result.json")).read_text())
            for d in ("a", "b"))
    assert first.returncode == again.returncode
    for key in ("status", "stop", "tokens", "api_calls", "iterations", "format_errors"):
        assert a[key] == b[key], key
    assert a["cost"]["total"] == b["cost"]["total"]
    # the recording no longer matches once a call's request changes: reported, never answered
    path = next((tmp_path / "a").glob("step5_categorize/trial-001/cassette.jsonl"))
    lines = [json.loads(x) for x in path.read_text().splitlines()]
    assert {x["role"] for x in lines} == {"supervisor", "coder"}       # one client served both: each call's role kept
    lines[0]["key"] = "0" * 64
    last = lines[0]["messages"][-1]
    last["content"] = last["content"][:40] + "\x00" + last["content"][41:]
    path.write_text("".join(json.dumps(x) + "\n" for x in lines))
    changed = run_cli("agent", "step5", "--replay", tmp_path / "a", "--out", tmp_path / "c", "--workdir", work, *SETS)
    c = json.loads(next((tmp_path / "c").glob("step5_categorize/trial-001/result.json")).read_text())
    assert c["status"] == "infrastructure" and c["error"]["kind"] == "ReplayMismatch" and c["api_calls"] == 0
    # and where: the first character that differs from the call recorded at that place
    assert "never recorded" in changed.stdout
    assert f"message {len(lines[0]['messages'])} ({last['role']}), character 41: recorded '…" in changed.stdout


def test_a_foreign_or_corrupt_cassette_is_one_line(tmp_path):
    path = tmp_path / "cassette.jsonl"
    path.write_text('{"format": "other-9", "hepmini": "9.9"}\n')
    with pytest.raises(Exception, match="format 'other-9'"):
        cassette.load(path)
    path.write_text("{not json\n")
    with pytest.raises(Exception, match="corrupt cassette line"):
        cassette.load(path)
    with pytest.raises(Exception, match="no cassette at"):
        cassette.load(tmp_path / "missing.jsonl")


def cells(directory: Path) -> dict:
    """{(model dir, step, trial): result} of a campaign directory."""
    return {tuple(p.parent.relative_to(directory / "cells").parts): json.loads(p.read_text())
            for p in (directory / "cells").glob("*/*/trial-*/result.json")}


def test_a_baseline_rich_campaign_on_the_stand_ins_replays_exactly(work, tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    proc = run_cli("bench", "--models", "scripted:faults", "--protocol", "baseline", "--context", "rich", "--trials", "2",
                   "--fault-seed", "3", "--out", a, "--workdir", work, *SETS)
    assert proc.returncode == 0, proc.stderr[-2000:]
    spec = json.loads((a / "campaign.json").read_text())
    assert spec["steps"] == ["dataprep", "sbsep", "categorization"] and spec["max_iterations"] == 5
    assert spec["settings"]["protocol"] == "baseline" and spec["settings"]["context"] == "rich"
    again = run_cli("bench", "--replay", a, "--out", b, "--workdir", work, *SETS)
    assert again.returncode == 0, again.stderr[-2000:]
    first, second = cells(a), cells(b)
    assert set(first) == set(second) and len(first) == 6
    for key, r in first.items():
        for field in ("status", "stop", "tokens", "api_calls", "iterations"):
            assert r[field] == second[key][field], (key, field)
        assert r["cost"]["total"] == second[key]["cost"]["total"]
    assert "replayed 6/6 cell(s)" in again.stdout
    dry = run_cli("bench", "--out", a, "--steps", "dataprep,sbsep,categorization", "--trials", "3", "--dry-run")
    assert dry.returncode == 0, dry.stderr[-2000:]        # a stored baseline campaign grown: its tasks, not steps
    assert "resume: 6 cell(s) finished before (skipped), 0 to clear and re-run, 3 never run" in dry.stdout
    assert "reference outputs in" in dry.stdout and "\tcategorization\ttrial 3\t(never run)" in dry.stdout


def test_the_report_pairs_the_two_contexts_and_quotes_the_paper_apart(work, tmp_path):
    for context in ("paper", "rich"):
        proc = run_cli("bench", "--models", "scripted:faults", "--protocol", "baseline", "--context", context,
                       "--steps", "sbsep,categorization", "--trials", "3", "--fault-seed", "1",
                       "--out", tmp_path / context, "--workdir", work, *SETS)
        assert proc.returncode == 0, proc.stderr[-2000:]
    proc = run_cli("report", tmp_path / "paper", tmp_path / "rich", "--out", tmp_path / "both")
    assert proc.returncode == 0, proc.stderr
    summary = json.loads((tmp_path / "both" / "summary.json").read_text())
    (pair,) = summary["paired"]
    assert pair["protocol"] == "baseline" and set(pair["steps"]) == {"sbsep", "categorization"}
    assert all(r["n"] == 3 and 0 <= r["p_mcnemar"] <= 1 for r in pair["steps"].values())
    page = (tmp_path / "both" / "report.html").read_text()
    assert "Context: paper vs rich" in page and "paper (quoted, not measured)" in page and "58 ± 3 %" in page
    assert set(summary["quoted"]["measured"]) == {f"{m} (baseline protocol, {c} context)"
                                                  for m in {pair["model"]} for c in ("paper", "rich")}


def test_mcnemar_and_the_paired_difference():
    from hepmini.bench import method

    a = {k: {"status": s} for k, s in enumerate(["failed", "failed", "success", "failed"])}
    b = {k: {"status": s} for k, s in enumerate(["success", "success", "success", "infrastructure"])}
    r = method.paired_step(a, b)
    assert (r["n"], r["a"], r["b"], r["b_only"], r["a_only"]) == (3, 1 / 3, 1.0, 2, 0)
    assert r["difference"] == 2 / 3 and r["p_mcnemar"] == 0.5 and r["low"] < r["difference"] < r["high"] <= 1


def test_a_replay_skips_the_cells_its_source_never_finished(work, tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    proc = run_cli("bench", "--models", "scripted:faults", "--steps", "step1", "--trials", "2", "--fault-seed", "3",
                   "--out", a, "--workdir", work, *SETS)
    assert proc.returncode == 0, proc.stderr[-2000:]
    killed = next(a.glob("cells/*/step1/trial-2/result.json"))
    killed.write_text(json.dumps(dict(json.loads(killed.read_text()), status="running")))  # killed mid-trial
    again = run_cli("bench", "--replay", a, "--out", b, "--workdir", work, *SETS)
    assert again.returncode == 0, again.stderr[-2000:]
    assert "1 of 2 cell(s) have no record" in again.stderr and len(cells(b)) == 1
