"""Turn the trials of a campaign into the paper's numbers per model × step, with their uncertainties.

A record is a trial's result.json dict plus `model`, `step`, `trial`, `cell` and `path` (what
hepmini.bench.store.load_trials returns) and, for a failure, its `classification` (hepmini.bench.diagnose).
Trials that are not the model's doing (`infrastructure`, `skipped`, harness `error`) never enter a
success rate: they are counted beside it. Everything returned is plain JSON-ready data.

    success rate   c/n over the counted trials, ± sqrt(p(1-p)/n) (the paper's style) and the
                   Wilson 95 % interval
    pass@k         1 - C(n-c, k)/C(n, k), the unbiased estimator; pass^k = C(c, k)/C(n, k)
    agent work     (total tokens - user tokens)/user tokens per trial, mean ± std (paper Fig. 3)
    user ratio     user tokens/total tokens per trial, mean ± std (paper §V.1)
    API calls, wall time, cost   mean ± std per trial; cost also summed; a trial of unknown price
                   (cost None) is counted apart, never as 0
"""

import json
import math
import statistics
from pathlib import Path

from hepmini import layout
from hepmini.agent.trial import COUNTED, FAILURES
from hepmini.agent.prompts import ERROR_CATEGORIES

Z95 = 1.959963984540054
PASS_K = (1, 2, 3, 5, 10)


# ---- statistics -------------------------------------------------------------------------------------


def binomial_error(c: int, n: int):
    """The paper's ± on a success fraction: sqrt(p(1-p)/n); None for n = 0.

    >>> round(binomial_error(127, 219), 3)   # paper §V.1: 58 ± 3 %
    0.033
    """
    if n <= 0:
        return None
    p = c / n
    return math.sqrt(p * (1 - p) / n)


def wilson(c: int, n: int, z: float = Z95) -> tuple:
    """The Wilson score interval (lo, hi) of c successes in n trials; (None, None) for n = 0.

    >>> [round(x, 4) for x in wilson(8, 10)]
    [0.4902, 0.9433]
    """
    if n <= 0:
        return None, None
    p, z2 = c / n, z * z
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = z / (1 + z2 / n) * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)


def pass_at_k(n: int, c: int, k: int):
    """Unbiased pass@k (chance that at least one of k trials drawn from n succeeds); None if k > n.

    >>> round(pass_at_k(5, 2, 2), 4)
    0.7
    """
    if k > n or n <= 0:
        return None
    return 1.0 - math.comb(n - c, k) / math.comb(n, k)


def pass_hat_k(n: int, c: int, k: int):
    """pass^k (chance that all of k trials drawn from n succeed); None if k > n.

    >>> pass_hat_k(5, 2, 2)
    0.1
    """
    if k > n or n <= 0:
        return None
    return math.comb(c, k) / math.comb(n, k)


def mean_std(values) -> dict:
    """{mean, std, n} of the numbers in `values` (None skipped); std is the sample std, None below n = 2."""
    xs = [float(v) for v in values if v is not None]
    n = len(xs)
    if not n:
        return {"mean": None, "std": None, "n": 0}
    mean = math.fsum(xs) / n
    # two passes in floats: statistics.stdev is exact (Fractions) and 50x slower on a 10,000-trial campaign
    std = math.sqrt(math.fsum((x - mean) ** 2 for x in xs) / (n - 1)) if n > 1 else None
    return {"mean": mean, "std": std, "n": n}


# ---- one trial --------------------------------------------------------------------------------------


def user_tokens(r: dict):
    tokens = r.get("tokens") or {}
    return tokens.get("user_prompt")


def total_tokens(r: dict):
    tokens = r.get("tokens") or {}
    total = tokens.get("total")
    if total is None and "input" in tokens:
        total = tokens.get("input", 0) + tokens.get("output", 0)
    return total


def agent_work(r: dict):
    """(total - user)/user tokens of one trial; None when the user prompt's tokens are unknown or 0."""
    user, total = user_tokens(r), total_tokens(r)
    if not user or total is None:
        return None
    return (total - user) / user


def user_ratio(r: dict):
    """user/total tokens of one trial; None when unknown."""
    user, total = user_tokens(r), total_tokens(r)
    if user is None or not total:
        return None
    return user / total


def cost_of(r: dict):
    """The trial's dollars, or None when a price is unknown."""
    return (r.get("cost") or {}).get("total")


def category_of(r: dict, source: str = "rule"):
    """The error category of a failed record from its classification ('rule' or 'llm'); None if unclassified."""
    c = r.get("classification") or {}
    part = c.get(source) or {}
    return part.get("category")


# ---- groups of trials -----------------------------------------------------------------------------------


def group_metrics(records: list) -> dict:
    """Every metric of one group of trials (a cell, a model, a step, or all)."""
    by_status = {}
    for r in records:
        by_status[r.get("status")] = by_status.get(r.get("status"), 0) + 1
    counted = [r for r in records if r.get("status") in COUNTED]
    n, c = len(counted), by_status.get("success", 0)
    lo, hi = wilson(c, n)
    errors = {cat: 0 for cat in ERROR_CATEGORIES}
    unclassified = 0
    for r in counted:
        if r.get("status") in FAILURES:
            cat = category_of(r)
            if cat in errors:
                errors[cat] += 1
            else:
                unclassified += 1
    costs = [cost_of(r) for r in counted]
    known = [x for x in costs if x is not None]
    unknown = [r for r in counted if cost_of(r) is None]
    walls = [(r.get("durations") or {}).get("total") for r in counted]
    spend = [cost_of(r) for r in records]
    return {
        "n_trials": len(records), "n_counted": n, "n_success": c, "n_failures": n - c,
        "by_status": dict(sorted(by_status.items(), key=lambda kv: str(kv[0]))),
        "n_infrastructure": by_status.get("infrastructure", 0), "n_skipped": by_status.get("skipped", 0),
        "n_harness_error": by_status.get("harness_error", 0),
        "success_rate": c / n if n else None, "success_err": binomial_error(c, n),
        "wilson_lo": lo, "wilson_hi": hi,
        "agent_work": mean_std(agent_work(r) for r in counted),
        "user_ratio": mean_std(user_ratio(r) for r in counted),
        "api_calls": mean_std(r.get("api_calls") for r in counted),
        "iterations": mean_std(r.get("iterations") for r in counted),
        "wall_time": {**mean_std(walls), "total": sum(w for w in walls if w is not None)},
        "cost": {**mean_std(known), "total": sum(known), "n_known": len(known), "n_unknown": len(unknown),
                 "unknown_known_part": sum((r.get("cost") or {}).get("known_part") or 0.0 for r in unknown)},
        # every dollar paid in the group, the excluded trials included
        "spend": {"known": sum(x for x in spend if x is not None),
                  "n_unknown": sum(1 for x in spend if x is None)},
        "errors": errors, "unclassified": unclassified,
    }


def cell_metrics(records: list) -> dict:
    """group_metrics plus pass@k and pass^k over the trials of one model × step cell."""
    out = group_metrics(records)
    n, c = out["n_counted"], out["n_success"]
    out["pass_at_k"] = {str(k): pass_at_k(n, c, k) for k in PASS_K if k <= n}
    out["pass_hat_k"] = {str(k): pass_hat_k(n, c, k) for k in PASS_K if k <= n}
    return out


def _mean_pass(cells: list, key: str) -> dict:
    """pass@k of a group of cells: the mean over the cells that have k trials (each cell is one problem)."""
    out = {}
    for k in PASS_K:
        values = [cell[key][str(k)] for cell in cells if str(k) in cell[key]]
        if values and len(values) == len(cells):
            out[str(k)] = statistics.fmean(values)
    return out


def step_key(name: str):
    """Sort key: the workflow order of steps/, unknown names last."""
    order = [s.NAME for s in layout.steps()]
    return (order.index(name), name) if name in order else (len(order), name)


def summarize(records: list, models=None, steps=None) -> dict:
    """The summary of a campaign: per cell, per model, per step and overall (see the module docstring)."""
    models = list(models or [])
    for r in records:
        if r["model"] not in models:
            models.append(r["model"])
    steps = sorted(set(steps or []) | {r["step"] for r in records}, key=step_key)
    by_cell = {}
    for r in records:
        by_cell.setdefault((r["model"], r["step"]), []).append(r)
    cells = []
    for m in models:
        for s in steps:
            if (m, s) in by_cell:
                cells.append({"model": m, "step": s, **cell_metrics(by_cell[(m, s)])})
    by_model, by_step = [], []
    for m in models:
        group = [r for r in records if r["model"] == m]
        mine = [c for c in cells if c["model"] == m]
        by_model.append({"model": m, "steps_present": [c["step"] for c in mine],
                         "all_steps_succeeded": all(c["n_success"] for c in mine) and len(mine) == len(steps),
                         **group_metrics(group), "pass_at_k": _mean_pass(mine, "pass_at_k"),
                         "pass_hat_k": _mean_pass(mine, "pass_hat_k")})
    for s in steps:
        group = [r for r in records if r["step"] == s]
        by_step.append({"step": s, **group_metrics(group)})
    return {"models": models, "steps": steps, "cells": cells, "by_model": by_model, "by_step": by_step,
            "overall": group_metrics(records), "classifier": classifier_stats(records)}


def classifier_stats(records: list) -> dict:
    """Rule accuracy against injected ground truth, and rules-vs-LLM agreement, over the failures."""
    from hepmini.bench.agreement import confusion, position_control

    truth, llm, flagged, failed, llm_models, failures = [], [], 0, 0, set(), []
    for r in records:
        if r.get("status") not in FAILURES:
            continue
        c = r.get("classification") or {}
        rule = category_of(r)
        if rule is None:
            continue
        failures.append(c)
        if c.get("ground_truth"):
            truth.append((c["ground_truth"], rule))
        answer = c.get("llm") or {}
        if answer:
            llm_models.add(answer.get("model") or "?")
            if answer.get("category") is None:  # the call failed: no answer, nothing to agree with
                failed += 1
            else:
                flagged += bool(answer.get("flagged"))
            if answer.get("category"):
                llm.append((rule, answer["category"]))
    return {"rules_vs_truth": confusion(truth) if truth else None,
            "rules_vs_llm": confusion(llm) if llm else None,
            "llm_models": sorted(llm_models), "llm_flagged": flagged, "llm_failed": failed,
            "llm_position": position_control(failures)}


# ---- reading a campaign directory ---------------------------------------------------------------------------


def load_trials(directory) -> tuple:
    """(records, problems) of a campaign directory, read by hepmini.bench.store (bad cells are problems, not records)."""
    from hepmini.bench import store

    return store.load_trials(directory)


def read_spec(directory):
    """campaign.json of a campaign directory, or None."""
    try:
        return json.loads((Path(directory) / "campaign.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
