"""Campaign metrics against values worked out by hand on a small hand-made campaign directory."""

import json
import math
from pathlib import Path

import pytest

from hepmini.bench import diagnose
from hepmini.bench import metrics

OPENAI, CLAUDE = "openai:gpt-x", "anthropic:claude-y"


def trial(status, user, total, calls, cost, wall, category=None, known_part=None, llm=None, truth=None,
          control=None):
    """A result.json as hepmini.agent.trial writes it (the fields the metrics read), plus its classification."""
    result = {"format": "hepmini-trial-1", "status": status, "api_calls": calls, "iterations": max(0, (calls - 1) // 2),
              "tokens": {"user_prompt": user, "total": total, "input": total - 10, "output": 10},
              "cost": {"total": cost, "known_part": cost if known_part is None else known_part,
                       "unknown_calls": 0 if cost is not None else 1},
              "durations": {"total": wall},
              "provenance": {"hepmini_version": "0.1.0", "python": "3.11.7",
                             "prompts": {"coder_system": "c" * 64, "supervisor_system": "s" * 64},
                             "task_prompt_sha256": "t" * 64,
                             "models": {"coder": {"requested": "m", "returned": ["m-2025"]}}}}
    classification = None
    if category:
        classification = {"format": diagnose.FORMAT, "rules_version": diagnose.RULES_VERSION,
                          "rule": {"category": category, "rule": "hand-made", "evidence": ["fixture"]},
                          "llm": {"model": "openai:judge", "category": llm, "raw": f"***{llm}***", "flagged": ""}
                          if llm else None, "ground_truth": truth}
        if control:   # the LLM asked again with its category list reversed
            classification["llm_control"] = {"model": "openai:judge", "category": control, "raw": f"***{control}***",
                                             "flagged": "", "order": "reversed"}
    return result, classification


# (model, step, k) -> trial; the numbers below are worked out from these by hand.
FIXTURE = {
    (OPENAI, "step1", 1): trial("success", 100, 1100, 3, 0.01, 10),
    (OPENAI, "step1", 2): trial("success", 100, 2100, 5, 0.03, 20),
    (OPENAI, "step1", 3): trial("failed", 100, 3100, 7, 0.05, 30, "semantic error", llm="semantic error",
                                control="semantic error"),
    (OPENAI, "step1", 4): trial("infrastructure", 100, 150, 1, 0.001, 5),
    (OPENAI, "step1", 5): trial("format_error", 100, 4100, 7, None, 40, "other", known_part=0.02,
                                llm="function-calling error"),
    (CLAUDE, "step1", 1): trial("success", 200, 600, 3, 0.1, 12),
    (CLAUDE, "step1", 2): trial("success", 200, 600, 3, 0.1, 12),
    (CLAUDE, "step1", 3): trial("success", 200, 600, 3, 0.1, 12),
    (OPENAI, "step3", 1): trial("failed", 50, 550, 7, 0.02, 8, "incorrect branch name",
                                truth="incorrect branch name"),
    (OPENAI, "step3", 2): trial("skipped", 0, 0, 0, 0.0, 0),
    (CLAUDE, "step3", 1): trial("success", 100, 400, 3, 0.2, 6),
    (CLAUDE, "step3", 2): trial("failed", 100, 1000, 5, 0.3, 9, "dummy data created", truth="semantic error"),
    (CLAUDE, "step3", 3): trial("infrastructure", 100, 100, 1, 0.0, 1),
}


def write_campaign(root: Path, fixture=FIXTURE, broken=True, files=False, settings=None, models=None,
                   steps=None) -> Path:
    """A campaign directory in hepmini.bench's layout holding `fixture` (and, if `broken`, bad cells).

    With `files`, each trial also gets the logs and generated code a real trial leaves, named in result.json.
    """
    root.mkdir(parents=True, exist_ok=True)
    spec = {"format": "hepmini-campaign-1", "models": models or [OPENAI, CLAUDE], "steps": steps or ["step1", "step3"],
            "trials": 5, "max_iterations": 3, "budget": 5.0, "settings": settings or {"scale": 0.02},
            "hepmini_version": "0.1.0", "created": "2026-01-01T00:00:00"}
    (root / "campaign.json").write_text(json.dumps(spec))
    for (model, step, k), (result, classification) in fixture.items():
        d = root / "cells" / model.replace(":", "__").replace("/", "_") / step / f"trial-{k}"
        d.mkdir(parents=True)
        if files:
            result = {**result, "executions": trial_files(d, step, attempts=1 if result["status"] == "success" else 2)}
        (d / "result.json").write_text(json.dumps({**result, "step": step, "trial": k, "trial_dir": str(d),
                                                   "models": {"supervisor": model, "coder": model}}))
        if classification:
            (d / "classification.json").write_text(json.dumps({**classification, "status": result["status"],
                                                               "step": step}))
    if broken:
        cells = root / "cells" / "openai__gpt-x" / "step3"
        (cells / "trial-3").mkdir(parents=True)
        (cells / "trial-3" / "result.json").write_text("{broken")                    # corrupt
        (cells / "trial-4").mkdir()
        (cells / "trial-4" / "result.json").write_text(json.dumps({"status": "running", "step": "step3"}))
        (cells / "trial-5").mkdir()                                                    # partial: killed in set-up
    return root


def trial_files(d: Path, step: str, attempts: int) -> list:
    """The logs and code a trial leaves (hepmini.agent.record's layout); its executions as result.json lists them."""
    (d / "generated_code").mkdir()
    (d / "logs").mkdir()
    (d / "comprehensive.log").write_text("=== COMPREHENSIVE SUPERVISOR-CODER LOG ===\n")
    (d / "validation.log").write_text("Validating ...\n")
    runs = []
    for n in range(1, attempts + 1):
        script = f"generated_code/{step}_task_attempt{n}.py"
        (d / script).write_text(f"print('attempt {n} of {d.name}')\n")
        logs = f"logs/{step}_attempt{n}"
        (d / f"{logs}.stderr.txt").write_text("Traceback ...\n")
        runs.append({"attempt": n, "script": script, "returncode": 1, "stderr_log": f"{logs}.stderr.txt",
                     "stdout_log": f"{logs}.stdout.txt"})
    return runs


def loaded(root):
    """Records with their classification attached (as the report does)."""
    records, problems = metrics.load_trials(root)
    for r in records:
        if r["status"] in metrics.FAILURES:
            r["classification"] = diagnose.cached(r["path"], r)
    return records, problems


@pytest.fixture
def summary(tmp_path):
    records, problems = loaded(write_campaign(tmp_path / "camp"))
    return metrics.summarize(records, models=[OPENAI, CLAUDE]), problems


def cell(s, model, step):
    return next(c for c in s["cells"] if c["model"] == model and c["step"] == step)


def test_statistics_by_hand():
    assert metrics.binomial_error(2, 4) == pytest.approx(0.25)
    assert metrics.binomial_error(0, 0) is None
    # Wilson for 2/4: centre (0.5 + z²/8)/(1 + z²/4) = 0.5, half = z/(1+z²/4) sqrt(1/16 + z²/64)
    z = metrics.Z95
    half = z / (1 + z * z / 4) * math.sqrt(0.25 / 4 + z * z / 64)
    assert metrics.wilson(2, 4) == pytest.approx((0.5 - half, 0.5 + half))
    assert metrics.wilson(2, 4)[0] == pytest.approx(0.15004, abs=1e-5)
    assert metrics.wilson(0, 5)[0] == 0.0 and metrics.wilson(5, 5)[1] == 1.0
    assert metrics.pass_at_k(4, 2, 1) == pytest.approx(0.5)
    assert metrics.pass_at_k(4, 2, 2) == pytest.approx(1 - 1 / 6)       # 1 - C(2,2)/C(4,2)
    assert metrics.pass_at_k(4, 2, 3) == 1.0                            # C(2,3) = 0: any 3 of 4 hold a success
    assert metrics.pass_at_k(4, 0, 2) == 0.0 and metrics.pass_at_k(3, 1, 4) is None
    assert metrics.pass_hat_k(4, 2, 2) == pytest.approx(1 / 6)
    assert metrics.mean_std([10, 20, 30, 40]) == {"mean": 25.0, "std": pytest.approx(math.sqrt(500 / 3)), "n": 4}
    assert metrics.mean_std([None, 3]) == {"mean": 3.0, "std": None, "n": 1}


def test_cell_metrics_match_hand_computed_values(summary):
    s, _ = summary
    c = cell(s, OPENAI, "step1")
    # 5 trials; the infrastructure one is excluded: 2 successes of 4 counted
    assert (c["n_trials"], c["n_counted"], c["n_success"], c["n_infrastructure"]) == (5, 4, 2, 1)
    assert c["success_rate"] == 0.5 and c["success_err"] == pytest.approx(0.25)
    assert c["pass_at_k"] == {"1": 0.5, "2": pytest.approx(5 / 6), "3": 1.0}
    assert c["pass_hat_k"]["2"] == pytest.approx(1 / 6)
    # agent work (total - user)/user = 10, 20, 30, 40 (the infrastructure trial's 0.5 is left out)
    assert c["agent_work"] == {"mean": 25.0, "std": pytest.approx(12.909944), "n": 4}
    ratios = [100 / 1100, 100 / 2100, 100 / 3100, 100 / 4100]
    assert c["user_ratio"]["mean"] == pytest.approx(sum(ratios) / 4)
    assert c["api_calls"] == {"mean": 5.5, "std": pytest.approx(math.sqrt(11 / 3)), "n": 4}
    assert c["wall_time"]["mean"] == 25.0 and c["wall_time"]["total"] == 100
    # cost: the format_error trial's price is unknown: counted apart, never as $0
    assert c["cost"]["mean"] == pytest.approx(0.03) and c["cost"]["std"] == pytest.approx(0.02)
    assert c["cost"]["total"] == pytest.approx(0.09) and c["cost"]["n_known"] == 3
    assert c["cost"]["n_unknown"] == 1 and c["cost"]["unknown_known_part"] == pytest.approx(0.02)
    assert c["spend"] == {"known": pytest.approx(0.091), "n_unknown": 1}      # the infrastructure trial paid too
    assert c["errors"]["semantic error"] == 1 and c["errors"]["other"] == 1 and sum(c["errors"].values()) == 2


def test_infrastructure_and_skipped_trials_never_enter_a_success_rate(summary):
    s, _ = summary
    c = cell(s, OPENAI, "step3")           # one failure, one skipped
    assert (c["n_trials"], c["n_counted"], c["n_success"], c["n_skipped"]) == (2, 1, 0, 1)
    assert c["success_rate"] == 0.0 and c["pass_at_k"] == {"1": 0.0}
    c = cell(s, CLAUDE, "step3")           # success, failure, infrastructure
    assert (c["n_counted"], c["n_success"], c["n_infrastructure"], c["success_rate"]) == (2, 1, 1, 0.5)
    c = cell(s, CLAUDE, "step1")
    assert c["success_rate"] == 1.0 and c["success_err"] == 0.0 and c["agent_work"]["mean"] == 2.0
    assert c["wilson_lo"] == pytest.approx(0.43850, abs=1e-5) and c["wilson_hi"] == 1.0


def test_groups_by_model_by_step_and_overall(summary):
    s, _ = summary
    assert s["models"] == [OPENAI, CLAUDE] and s["steps"] == ["step1", "step3"]
    by_model = {b["model"]: b for b in s["by_model"]}
    assert (by_model[OPENAI]["n_counted"], by_model[OPENAI]["n_success"]) == (5, 2)
    assert by_model[OPENAI]["success_rate"] == pytest.approx(0.4)
    assert by_model[OPENAI]["success_err"] == pytest.approx(math.sqrt(0.4 * 0.6 / 5))
    assert not by_model[OPENAI]["all_steps_succeeded"] and by_model[CLAUDE]["all_steps_succeeded"]
    # pass@1 of a model: the mean over its cells (each cell one problem): (0.5 + 0)/2
    assert by_model[OPENAI]["pass_at_k"]["1"] == pytest.approx(0.25)
    by_step = {b["step"]: b for b in s["by_step"]}
    assert (by_step["step1"]["n_counted"], by_step["step1"]["n_success"]) == (7, 5)
    assert by_step["step3"]["errors"]["incorrect branch name"] == 1
    assert by_step["step3"]["errors"]["dummy data created"] == 1
    o = s["overall"]
    assert (o["n_trials"], o["n_counted"], o["n_success"], o["n_infrastructure"], o["n_skipped"]) == (13, 10, 6, 2, 1)
    assert o["spend"]["known"] == pytest.approx(0.01 + 0.03 + 0.05 + 0.001 + 0.3 + 0.02 + 0.2 + 0.3)


def test_classifier_accuracy_and_llm_agreement(summary):
    c = summary[0]["classifier"]
    truth = c["rules_vs_truth"]                # branch right, dummy vs injected semantic wrong
    assert (truth["n"], truth["agree"]) == (2, 1) and truth["matrix"]["semantic error"] == {"dummy data created": 1}
    llm = c["rules_vs_llm"]                    # semantic agreed, other vs function-calling not
    assert (llm["n"], llm["agree"], llm["rate"]) == (2, 1, 0.5) and c["llm_models"] == ["openai:judge"]
    assert c["llm_position"] == {"n": 1, "same": 1, "first": 0, "first_control": 0}   # one trial had the control


def test_running_corrupt_and_partial_cells_are_reported_and_skipped(summary):
    problems = summary[1]
    text = "\n".join(problems)
    assert len(problems) == 3
    for k, word in ((3, "unreadable"), (4, "running"), (5, "no result.json")):
        assert f"trial-{k}" in text and word in text


def test_a_trial_without_token_counts_gives_no_agent_work():
    r = {"tokens": {"user_prompt": 0, "total": 0}}
    assert metrics.agent_work(r) is None and metrics.user_ratio(r) is None
    assert metrics.agent_work({"tokens": {"user_prompt": 10, "input": 25, "output": 5}}) == 2.0
