"""The offline stand-ins: they read the task, label themselves, and inject known faults through the real loop."""

import ast
import json
import re
import shutil

import pytest
from support.workdirs import run_cli

from hepmini import config
from hepmini.agent import loop
from hepmini.agent import prompts
from hepmini.agent import standins
from hepmini import layout
from hepmini.errors import ConfigError
from hepmini.agent.trial import new_trial_dir, run_trial

STEPS = ["step1", "step2", "step3", "step4", "step5"]
REF_SETTINGS = {"scale": 0.02, "classifier": "hgb", "seed": 11}


@pytest.fixture(scope="module")
def work(reference_run, tmp_path_factory):
    dst = tmp_path_factory.mktemp("scripted") / "work"
    shutil.copytree(reference_run.parent, dst, symlinks=True)
    return dst


def faulty_trial(work, runs, step_name, model, max_iterations=3):
    cfg = config.resolve({"workdir": work, **REF_SETTINGS}, environ={"PATH": "/usr/bin:/bin"}, cwd=work)
    step = layout.get(step_name)
    n, directory = new_trial_dir(runs, step)
    s = loop.Settings(supervisor=model, coder=model, max_iterations=max_iterations)
    r = run_trial(cfg, step, s, directory, sources={rel: cfg.solution_dir for rel in step.INPUTS}, index=n)
    return r, (directory / "comprehensive.log").read_text(), (directory / "validation.log").read_text()


# ---- reading tasks and writing code (no runs) ---------------------------------------------------------


@pytest.mark.parametrize("step", STEPS)
def test_the_task_is_recognised_with_its_directories_wherever_they_are(step):
    dirs = {"data_dir": "/site/atlas data", "inputs_dir": "run 7/inputs", "outputs_dir": "/scratch/out"}
    task = standins.parse_task("Please do this:\n" + prompts.task_prompt(step, **dirs) + "\nThanks.")
    assert task.step == step
    expected = {"outputs": "/scratch/out"}
    expected.update({"data": "/site/atlas data"} if layout.get(step).READS_DATA else {"inputs": "run 7/inputs"})
    assert task.dirs == expected
    assert standins.parse_task("Write a script that prints hello.") is None


def test_faults_cover_the_paper_categories_and_every_step():
    categories = {f.category for f in standins.FAULTS}
    assert categories == set(prompts.ERROR_CATEGORIES) - {"other"}
    for step in STEPS:
        assert len(standins.applicable(step)) >= 3, step
    # seeds walk through every applicable fault, first repaired, then not
    faults = standins.applicable("step5")
    n = len(faults)
    assert [standins.choose("step5", k)[0] for k in range(n)] == faults
    assert [standins.choose("step5", k)[1] for k in (0, n - 1, n, 2 * n)] == [True, True, False, True]


@pytest.mark.parametrize("step", STEPS)
def test_every_injected_script_compiles_and_shows_its_fault(step):
    task = standins.Task(step, {"data": "data", "inputs": "inputs", "outputs": "outputs"})
    oracle = standins.oracle_code(task)
    assert oracle.startswith("# SCRIPTED STAND-IN") and layout.get(step).SCRIPT in oracle
    ast.parse(oracle)
    for fault in standins.applicable(step):
        code = standins.oracle_code(task, fault)
        ast.parse(code)
        assert code != oracle
        if fault.code[step]:
            assert fault.code[step].splitlines()[-1] in code


def test_replies_are_labelled_as_scripted():
    model = standins.ScriptedModel("scripted:oracle")
    task = prompts.task_prompt("step5", data_dir="data", inputs_dir="inputs", outputs_dir="outputs")
    first = model.complete([{"role": "system", "content": prompts.render("supervisor_system")},
                            {"role": "user", "content": task}], {"temperature": 0})
    assert (first.model, first.provider, first.cost, first.cost_source) == \
        ("scripted:oracle", "scripted", 0.0, "scripted")
    assert first.raw["scripted"] and "not a language model" in first.raw["note"]
    assert first.text.startswith("## Worker Prompt\n" + task.strip()) and "## Call record:" in first.text
    assert first.usage.input > 1000 and first.usage.total == first.usage.input + first.usage.output
    code = model.complete([{"role": "system", "content": prompts.render("coder_system")},
                           {"role": "user", "content": first.text}]).text
    assert code.count("```python") == 1 and "SCRIPTED STAND-IN" in code
    assert "run(None, Path('inputs'), Path('outputs'), {})" in code
    with pytest.raises(ConfigError, match="unknown fault 'typo'"):
        standins.ScriptedModel("scripted:faults:typo")
    with pytest.raises(ConfigError, match="repair or stubborn"):
        standins.ScriptedModel("scripted:faults:semantic:maybe")


# ---- faults through the real loop ---------------------------------------------------------------------


def test_a_wrong_branch_fails_visibly_and_a_stubborn_coder_never_fixes_it(work, tmp_path):
    r, log, vlog = faulty_trial(work, tmp_path, "step2", "scripted:faults:wrong_branch:stubborn", max_iterations=2)
    assert (r["status"], r["stop"], r["iterations"], r["api_calls"]) == ("failed", "max_iterations", 2, 5)
    assert r["scripted"]["injected_fault"] == "incorrect branch name" and r["scripted"]["repairs"] is False
    assert r["scripted"]["roles"] == ["supervisor", "coder"]
    assert [e["returncode"] for e in r["executions"]] == [1, 1]
    assert 'BRANCHES[BRANCHES.index("photon_pt")] = "photon_pT"' in log
    assert "has no branch 'photon_pT' (nearest: photon_pt" in log
    assert "VERDICT: REVISE" in log and "FAIL" in vlog


def test_a_function_calling_error_is_repaired_after_feedback(work, tmp_path):
    r, log, vlog = faulty_trial(work, tmp_path, "step4", "scripted:faults:function_call:repair")
    assert (r["status"], r["iterations"], r["api_calls"]) == ("success", 2, 5)
    assert r["scripted"]["injected_fault"] == "function-calling error" and r["scripted"]["repairs"] is True
    assert [e["returncode"] for e in r["executions"]] == [1, 0]
    assert "_train_and_score(signal[:, 1:6], bkgd[:, 1:6]" in log and "ToolInputError" in log
    assert "PASS" in vlog


@pytest.mark.parametrize("step, fault, category, evidence, failing", [
    ("step3", "zero_weights", "all data weights = 0", "rows[:, -1] = 0.0", "arrays/bkgd.npy differs"),
    ("step3", "dummy_data", "dummy data created", "np.random.default_rng(0).random((500", "arrays/signal.npy"),
    ("step5", "semantic", "semantic error", "boundaries, significances = [0.0, 1.0], []", "significances.npy"),
])
def test_silent_faults_are_accepted_by_the_supervisor_and_caught_by_validation(work, tmp_path, step, fault,
                                                                               category, evidence, failing):
    r, log, vlog = faulty_trial(work, tmp_path, step, f"scripted:faults:{fault}")
    assert (r["status"], r["stop"], r["api_calls"]) == ("failed", "accepted", 3)
    assert r["scripted"]["injected_fault"] == category and r["scripted"]["crashes"] is False
    assert evidence in log
    assert f"Step {step[-1]}" in vlog and "FAIL" in vlog and failing in vlog


def test_a_missing_intermediate_file_is_reported_with_the_path(work, tmp_path):
    r, log, _ = faulty_trial(work, tmp_path, "step5", "scripted:faults:missing_file:stubborn", max_iterations=1)
    assert (r["status"], r["stop"]) == ("failed", "max_iterations")
    assert r["scripted"]["injected_fault"] == "intermediate file not found"
    assert "run(None, Path('solution'), Path('outputs'), {})" in log and "solution/arrays/signal.npy: missing" in log


def test_the_seed_picks_the_fault_per_trial_from_the_command_line(work, tmp_path):
    proc = run_cli("agent", "step5", "--model", "scripted:faults", "--trials", "2", "--fault-seed", "3",
                   "--workdir", work, *[a for k, v in REF_SETTINGS.items() for a in ("--set", f"{k}={v}")],
                   "--out", tmp_path, "--max-iterations", "2")
    assert proc.returncode == 1, proc.stdout + proc.stderr  # not every trial succeeds
    for k in (1, 2):
        r = json.loads((tmp_path / "step5_categorize" / f"trial-00{k}" / "result.json").read_text())
        fault, repairs = standins.choose("step5", 3 + k - 1)
        assert (r["scripted"]["fault"], r["scripted"]["repairs"], r["scripted"]["seed"]) == (fault.id, repairs, 2 + k)
        assert r["scripted"]["injected_fault"] == fault.category


def test_a_chain_skips_the_steps_whose_inputs_an_earlier_step_never_wrote(work):
    proc = run_cli("all", "--model", "scripted:faults:missing_file:stubborn", "--max-iterations", "1",
                   "--workdir", work, *[a for k, v in REF_SETTINGS.items() for a in ("--set", f"{k}={v}")])
    assert proc.returncode == 1, proc.stdout + proc.stderr
    rows = {ln.split()[0]: ln.split()[2] for ln in proc.stdout.splitlines() if re.match(r"step\d ", ln)}
    assert rows == {"step1": "failed", "step2": "failed", "step3": "skipped", "step4": "skipped",
                    "step5": "skipped"}, proc.stdout
    assert "step3: skipped (input(s) missing from the agent's earlier steps: " in proc.stdout
    assert "agent's classifier" not in proc.stdout and "agent's categories" not in proc.stdout
    run = next((work / "agent").glob("*-chained-scripted_faults_missing_file_stubborn"))
    assert json.loads((run / "step5_categorize" / "trial-001" / "result.json").read_text())["status"] == "skipped"
