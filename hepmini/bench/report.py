"""Write a campaign's report: one self-contained report.html plus summary.csv/.json/.md and trials.csv.

`python -m hepmini report DIR...` reads the finished trials of each DIR (hepmini.bench.metrics.load_trials;
several campaigns through hepmini.bench.merge), classifies the failures that have no current
classification.json (rules only; the LLM classifier is `python -m hepmini classify --model M`), and
writes the paper's figures: the success heatmap (Fig. 2a), the error distribution per model (Fig. 2b)
and per model and step (Table 1), agent work, API calls and cost per step with error bars (Figs. 3-5,
the models with a success in every step unless all are asked for), cost vs success with its Pareto
front, every trial with links to its files, the classifier's accuracy and agreement, and the
provenance. No network; the page's few lines of script only sort and filter the trial table.
"""

import csv
import io
import json
import time
from collections import Counter
from pathlib import Path

from hepmini.agent.models import is_standin
from hepmini.bench import method, metrics, repeats, trials
from hepmini.bench.fmt import interval, mean_std_text, pct, shown, step_label
from hepmini.files import atomic_write_text
from hepmini.agent.prompts import ERROR_CATEGORIES
from hepmini.bench.agreement import position_text

# ---- gathering ---------------------------------------------------------------------------------------


def collect(directory, write: bool = True, memo=None) -> tuple:
    """(records with their classification, problems, spec) of a campaign directory; `write` False writes nothing."""
    # hepmini view never writes into a campaign: its verdicts stay in memory, in `memo`, between calls
    from hepmini.bench import diagnose

    records, problems = metrics.load_trials(directory)
    for r in records:
        if r.get("status") in metrics.FAILURES:
            try:
                r["classification"] = diagnose.cached(r["path"], r) if write else _unwritten(r, memo)
            except Exception as exc:  # one odd trial must not cost the whole report
                problems.append(f"{r.get('cell')}/trial-{r.get('trial')}: not classified ({type(exc).__name__}: {exc})")
    return records, problems, metrics.read_spec(directory)


def _unwritten(r: dict, memo=None) -> dict:
    """The current classification.json of a trial, else the rules' verdict made in memory (nothing written)."""
    from hepmini.bench import diagnose, evidence

    memo = {} if memo is None else memo
    key = (r["path"], r.get("started"), r.get("ended"))   # a cell run again is another trial
    if key not in memo:
        old = evidence.read_json(Path(r["path"]) / "classification.json") or {}
        if diagnose.is_current(old, r):
            return old   # not memoised: an LLM verdict may still be added by `classify`
        memo[key] = {"format": diagnose.FORMAT, "rules_version": diagnose.RULES_VERSION,
                           "rule": diagnose.classify_rules(r["path"], r), **diagnose.stored_answers(old),
                           "ground_truth": (r.get("scripted") or {}).get("injected_fault"), "agree": None}
    return memo[key]


def provenance(records: list, spec) -> dict:
    """Versions, prompt and script hashes, models requested and returned, sampling parameters, data hashes."""
    versions, pythons, prompts_seen, tasks, scripts = Counter(), Counter(), {}, {}, {}
    models, data_sets, classifier, machines = {}, Counter(), Counter(), Counter()
    for r in records:
        p = r.get("provenance") or {}
        versions[p.get("hepmini_version", "?")] += 1
        pythons[p.get("python", "?")] += 1
        machines[f"{p['cpu']} ({p.get('cpus', '?')} cores)" if p.get("cpu") else "not recorded"] += 1
        for name, digest in (p.get("prompts") or {}).items():
            prompts_seen.setdefault(name, Counter())[digest] += 1
        for seen, key in ((tasks, "task_prompt_sha256"), (scripts, "reference_script_sha256")):
            for name, digest in _digests(p.get(key), r["step"]):
                seen.setdefault(name, Counter())[digest] += 1
        if p.get("data"):
            data_sets[json.dumps(p["data"], sort_keys=True)] += 1
        entry = models.setdefault(r["model"], {"requested": set(), "returned": set(), "params_sent": set(),
                                               "scripted": is_standin(r["model"]) or bool(r.get("scripted"))})
        for role, info in (p.get("models") or {}).items():
            entry["requested"].add(f"{role}: {info.get('requested')}")
            entry["returned"].update(f"{role}: {m}" for m in info.get("returned") or [])
        for role, sent in (p.get("params_sent") or {}).items():
            entry["params_sent"].update(f"{role}: {json.dumps(x, sort_keys=True)}" for x in sent or [])
        c = r.get("classification") or {}
        if c:
            classifier[f"rules v{c.get('rules_version', '?')}"] += 1
            if (c.get("llm") or {}).get("model"):
                classifier[f"LLM {c['llm']['model']}"] += 1
    return {"spec": spec, "hepmini_versions": dict(versions), "python": dict(pythons), "cpus": dict(machines),
            "prompts": {k: dict(v) for k, v in sorted(prompts_seen.items())},
            "task_prompts": {k: dict(v) for k, v in sorted(tasks.items())},
            "reference_scripts": {k: dict(v) for k, v in sorted(scripts.items())},
            "data_sets": len(data_sets), "classifier": dict(classifier),
            "models": {m: {k: (sorted(v) if isinstance(v, set) else v) for k, v in e.items()}
                       for m, e in models.items()}}


def _digests(value, step: str) -> list:
    """[(name, sha256)] of a provenance hash: one for the step, or one per part of a step made of several."""
    if isinstance(value, dict):
        return [(str(k), str(v)) for k, v in value.items() if v]
    return [(step, str(value))] if value else []


# ---- files ----------------------------------------------------------------------------------------------


def summary_rows(summary: dict) -> list:
    """One flat dict per model × step: the columns of summary.csv."""
    rows = []
    for c in summary["cells"]:
        row = {"model": c["model"], "step": c["step"], "scripted_stand_in": is_standin(c["model"]),
               "n_trials": c["n_trials"], "n_counted": c["n_counted"], "n_success": c["n_success"],
               "n_infrastructure": c["n_infrastructure"], "n_skipped": c["n_skipped"],
               "n_harness_error": c["n_harness_error"], "success_rate": c["success_rate"],
               "success_err": c["success_err"], "wilson_lo": c["wilson_lo"], "wilson_hi": c["wilson_hi"]}
        for k in metrics.PASS_K:
            row[f"pass@{k}"] = c["pass_at_k"].get(str(k))
        for key in ("agent_work", "user_ratio", "api_calls", "wall_time", "cost"):
            row[f"{key}_mean"], row[f"{key}_std"] = c[key]["mean"], c[key]["std"]
        row.update(cost_total=c["cost"]["total"], cost_n_unknown=c["cost"]["n_unknown"],
                   wall_time_total=c["wall_time"]["total"])
        row.update({f"errors: {k}": v for k, v in c["errors"].items()}, unclassified=c["unclassified"])
        rows.append(row)
    return rows


def summary_csv(summary: dict) -> str:
    rows = summary_rows(summary)
    # the columns even when no cell finished: those of an empty cell
    columns = list(rows[0] if rows else summary_rows({"cells": [{"model": "", "step": "",
                                                                  **metrics.cell_metrics([])}]})[0])
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows({k: ("" if v is None else v) for k, v in row.items()} for row in rows)
    return out.getvalue()


def summary_md(summary: dict) -> str:
    """Markdown tables for a paper: success per model × step, errors per model and step (Table 1), effort."""
    steps, cells = summary["steps"], {(c["model"], c["step"]): c for c in summary["cells"]}
    lines = ["# Campaign summary", "", "Success rate per model and step: mean ± sqrt(p(1-p)/n) (successes/counted "
             "trials, Wilson 95 % interval; infrastructure failures excluded). † = scripted stand-in, not a model "
             "result.", "",
             "| Model | " + " | ".join(step_label(s) for s in steps) + " |",
             "|---|" + "---:|" * len(steps)]
    for m in summary["models"]:
        row = []
        for s in steps:
            c = cells.get((m, s))
            row.append("–" if not c or not c["n_counted"] else
                       f"{pct(c['success_rate'], c['success_err'])} ({c['n_success']}/{c['n_counted']}, "
                       f"{interval(c['wilson_lo'], c['wilson_hi'])})")
        lines.append(f"| {shown(m)} | " + " | ".join(row) + " |")
    repeated = repeats.text(summary.get("repeats") or [])
    if repeated:
        lines += ["", repeated]
    for m in summary["models"]:
        mine = [cells.get((m, s)) for s in steps]
        if not any(c and c["n_failures"] for c in mine):
            continue
        lines += ["", f"Failures of {shown(m)} by error category and step (rule classifier).", "",
                  "| Error type | " + " | ".join(step_label(s) for s in steps) + " |", "|---|" + "---:|" * len(steps)]
        for cat in ERROR_CATEGORIES:
            lines.append(f"| {cat} | " + " | ".join(str(c["errors"][cat]) if c else "–" for c in mine) + " |")
        lines.append("| **Total failures** | " + " | ".join(f"**{c['n_failures']}**" if c else "–" for c in mine)
                     + " |")
    lines += ["", "Per model, over all steps (mean ± std per trial).", "",
              "| Model | Success | Agent work | User/total tokens | API calls | Cost per trial | Cost total |",
              "|---|---:|---:|---:|---:|---:|---:|"]
    for b in summary["by_model"]:
        unknown = f" (+{b['cost']['n_unknown']} unknown)" if b["cost"]["n_unknown"] else ""
        lines.append(f"| {shown(b['model'])} | {pct(b['success_rate'], b['success_err'])} | "
                     f"{mean_std_text(b['agent_work'])} | {mean_std_text(b['user_ratio'])} | "
                     f"{mean_std_text(b['api_calls'])} | {mean_std_text(b['cost'], '$')} | "
                     f"${b['cost']['total']:.4f}{unknown} |")
    return "\n".join(lines + _classifier_md(summary["classifier"])) + "\n"


def _classifier_md(c: dict) -> list:
    """The rules-vs-LLM agreement and the position control, when the LLM classifier was run."""
    llm, position = c.get("rules_vs_llm"), c.get("llm_position") or {}
    if not llm:
        return []
    lines = ["", f"Rules vs LLM classifier ({', '.join(c['llm_models'])}): agree on {llm['agree']}/{llm['n']} "
             f"failures; {c['llm_flagged']} answer(s) flagged."]
    if position.get("n"):
        lines.append(f"LLM {position_text(position)}.")
    return lines


def summary_of(records: list, problems: list, spec=None, *, all_models: bool = False, campaigns=None) -> dict:
    """The summary every report file is made from: metrics, provenance, problems, campaigns (merge.collect's info)."""
    spec = spec or {}
    summary = metrics.summarize(records, models=spec.get("models"), steps=spec.get("steps"))
    summary.update(format="hepmini-summary-1", provenance=provenance(records, spec),
                   problems=[str(p) for p in problems],
                   scripted_models=[m for m in summary["models"] if is_standin(m)],
                   figure_models=figure_models(summary, all_models), campaigns=campaigns,
                   paired=method.paired(records), quoted=method.quoted(records), repeats=repeats.of(records),
                   generated=time.strftime("%Y-%m-%d %H:%M:%S"))
    return summary


def figure_models(summary: dict, all_models: bool = False) -> dict:
    """The models Figs. 3-5 plot: those with a success in every step (paper §V.4), or all (asked, or none has)."""
    every = [b["model"] for b in summary["by_model"] if b["all_steps_succeeded"]]
    shown_models = list(summary["models"]) if all_models or not every else every
    return {"all_models": all_models, "fallback": not all_models and not every, "shown": shown_models,
            "left_out": [m for m in summary["models"] if m not in shown_models]}


def build(directory, records: list, problems: list, spec=None, all_models: bool = False) -> dict:
    """Write the report files of one campaign's records into `directory`; return their paths."""
    return write(directory, summary_of(records, problems, spec, all_models=all_models), records)


def write(directory, summary: dict, records=()) -> dict:
    """Write report.html, summary.csv/.json/.md and trials.csv of `summary` into `directory`; return their paths."""
    d = Path(directory)
    paths = {"html": d / "report.html", "csv": d / "summary.csv", "json": d / "summary.json", "md": d / "summary.md",
             "trials": d / "trials.csv"}
    rows = trials.rows_of(records, d, summary["models"], summary["steps"])
    atomic_write_text(paths["json"], json.dumps(summary, indent=1, sort_keys=True, default=str) + "\n")
    atomic_write_text(paths["csv"], summary_csv(summary))
    atomic_write_text(paths["md"], summary_md(summary))
    atomic_write_text(paths["trials"], trials.csv_text(rows))
    from hepmini.bench.render import page

    atomic_write_text(paths["html"], page(summary, rows))
    return paths
