"""Time the report for a large campaign: 10,000 synthetic trial records (20 models × 5 steps × 100 trials).

Usage: python perf/perf_report.py [--records N] [--models M] [--out DIR]
Prints the time of the metrics alone, of the trial table alone (its rows, HTML and trials.csv) and of the
whole report (report.html, summary.csv/.json/.md, trials.csv); the target is under 5 s. Timings are
printed, never asserted. The records are made up here (no trial directories, classifications attached),
so this times the report, not the classifier. The page's modules are imported before the clock starts:
with PYTHONDONTWRITEBYTECODE their compilation would otherwise be timed as the report's.
"""

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hepmini.bench import metrics, report, trials  # noqa: E402
from hepmini.bench import render  # noqa: E402,F401 - compiled before the clock starts
from hepmini.agent.prompts import ERROR_CATEGORIES  # noqa: E402

STEPS = ("step1", "step2", "step3", "step4", "step5")
STATUSES = ("success",) * 6 + ("failed",) * 3 + ("format_error", "infrastructure", "tampered")


def synthetic_records(n: int, n_models: int, seed: int = 1) -> list:
    """`n` records shaped like hepmini.bench.store.load_trials output, with classifications attached."""
    rng = random.Random(seed)
    models = [f"provider{i % 4}:model-{i:02d}-2025-10-01" for i in range(n_models)]
    per_cell = max(1, n // (n_models * len(STEPS)))
    records = []
    for m, model in enumerate(models):
        price = None if m % 7 == 6 else rng.uniform(0.0, 0.3)   # every 7th model of unknown price
        for step in STEPS:
            for k in range(1, per_cell + 1):
                status = rng.choice(STATUSES)
                user = rng.randint(800, 1500)
                total = user + rng.randint(2_000, 400_000)
                calls = rng.choice((3, 5, 7))
                cost = None if price is None else price * total / 1e5
                r = {"status": status, "step": step, "model": model, "trial": k, "cell": len(records),
                     "path": f"/nowhere/{len(records)}", "api_calls": calls, "iterations": (calls - 1) // 2,
                     "tokens": {"user_prompt": user, "total": total, "input": total // 2, "output": total - total // 2},
                     "cost": {"total": cost, "known_part": cost or 0.0}, "durations": {"total": rng.uniform(5, 300)},
                     "provenance": {"hepmini_version": "0.1.0", "python": "3.11.7",
                                    "prompts": {"coder_system": "c" * 64, f"{step}_task": "t" * 64},
                                    "task_prompt_sha256": "t" * 64, "reference_script_sha256": "r" * 64,
                                    "models": {"coder": {"requested": model, "returned": [model + "-snap"]},
                                               "supervisor": {"requested": model, "returned": [model + "-snap"]}},
                                    "params_sent": {"coder": [{"temperature": 0.0, "max_tokens": 16384}]}}}
                if status in metrics.FAILURES:
                    category = rng.choice(ERROR_CATEGORIES)
                    r["classification"] = {"rules_version": 1, "rule": {"category": category},
                                           "llm": {"model": "cborg:gpt-oss-120b",
                                                   "category": rng.choice((category, "other"))},
                                           "ground_truth": None}
                records.append(r)
    return records[:n]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--models", type=int, default=20)
    parser.add_argument("--out", help="write the report here (default: a temporary directory)")
    args = parser.parse_args(argv)
    records = synthetic_records(args.records, args.models)
    problems = [f"cells/x/step{i % 5 + 1}/trial-{i}: status running (killed mid-run); skipped" for i in range(25)]
    spec = {"models": sorted({r["model"] for r in records}), "steps": list(STEPS), "trials": 100}
    t0 = time.perf_counter()
    summary = metrics.summarize(records, models=spec["models"], steps=spec["steps"])
    t_metrics = time.perf_counter() - t0
    t0 = time.perf_counter()
    rows = trials.rows_of(records, tempfile.gettempdir(), summary["models"], summary["steps"])
    trials.table(rows, merged=False), trials.csv_text(rows)
    t_table = time.perf_counter() - t0
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(args.out or tmp)
        out.mkdir(parents=True, exist_ok=True)
        t0 = time.perf_counter()
        paths = report.build(out, records, problems, spec)
        t_report = time.perf_counter() - t0
        size = paths["html"].stat().st_size
    print(f"report of {len(records):,} trial records ({args.models} models x {len(STEPS)} steps):")
    print(f"  metrics only        {t_metrics:6.2f} s")
    print(f"  trial table only    {t_table:6.2f} s   (rows, HTML and trials.csv)")
    print(f"  whole report        {t_report:6.2f} s   (target < 5 s; report.html {size / 1024:.0f} KiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
