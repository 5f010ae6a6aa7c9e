"""(f) Campaign throughput on scripted:oracle for -j 1, 2, 4 (trials per minute) and the harness overhead per trial.

Builds a tiny reference (scale 0.02, fallback classifier) in a temporary workdir unless --workdir names
one, then runs the same oracle campaign in-process once per -j into a fresh campaign directory. Per
-j: trials per minute of wall time and the speed-up over -j 1. Per trial: the harness overhead
(all but the generated code's own run time, as perf/perf_agent.py measures it) and, at -j 1, the
campaign's own overhead: wall time minus the sum of the trials' times (spec, locks, scans, progress).
Trials wait on the sandbox's subprocess, so the threads overlap until the cores are busy: on a
2-core machine expect -j 2 to gain and -j 4 to gain little more.
"""

import argparse
import io
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))


def campaign_once(cfg, out: Path, jobs: int, steps: str, trials: int) -> dict:
    """Run one oracle campaign with `jobs` threads; return wall time and per-trial durations."""
    from hepmini.bench import campaign

    args = SimpleNamespace(models="scripted:oracle", steps=steps, trials=trials, max_iterations=None, budget=None,
                           workdir=None)
    _, spec = campaign.spec_from_args(cfg, args, out)
    t0 = time.perf_counter()
    summary = campaign.run_campaign(cfg, spec, out, jobs=jobs, stream=io.StringIO())
    wall = time.perf_counter() - t0
    records, problems = campaign.load_trials(out)
    if problems or summary["passed"] != len(records) or len(records) != summary["cells"]:
        raise SystemExit(f"the oracle campaign did not pass everywhere: {summary} {problems}")
    durations = [r["durations"] for r in records]
    return {"jobs": jobs, "trials": len(records), "wall": wall, "per_minute": 60 * len(records) / wall,
            "trial_seconds": sum(d["total"] for d in durations),
            "overhead": statistics.median(d["except_code_runs"] for d in durations)}


def main(argv=None) -> list:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", help="a workdir holding the tiny reference (default: build one)")
    parser.add_argument("--steps", default="step1,step2,step3,step5", help="steps of the campaign (step4 trains "
                        "a classifier: seconds of code per trial)")
    parser.add_argument("--trials", type=int, default=3, help="trials per step (default 3)")
    parser.add_argument("--jobs", default="1,2,4", help="the -j values to compare (default 1,2,4)")
    args = parser.parse_args(argv)
    import perf_agent

    from hepmini import config

    tmp = Path(tempfile.mkdtemp(prefix="hepmini-perf-bench-"))
    rows = []
    try:
        workdir = Path(args.workdir) if args.workdir else tmp / "work"
        perf_agent.reference(workdir)
        # the settings the reference was built with, or the campaign would find it stale and rebuild it
        cfg = config.resolve({"workdir": workdir, "call_log": str(tmp / "calls.jsonl"), **perf_agent.SETTINGS})
        for jobs in [int(j) for j in args.jobs.split(",")]:
            rows.append(campaign_once(cfg, tmp / f"campaign-j{jobs}", jobs, args.steps, args.trials))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    base = rows[0]
    for r in rows:
        print(f"    -j {r['jobs']}: {r['trials']} trials in {r['wall']:.1f} s = {r['per_minute']:.0f} trials/min "
              f"(x{r['per_minute'] / base['per_minute']:.2f} of -j {base['jobs']}); harness overhead per trial "
              f"{r['overhead'] * 1e3:.0f} ms (median)")
    if base["jobs"] == 1:
        extra = (base["wall"] - base["trial_seconds"]) / base["trials"]
        print(f"    campaign overhead per trial at -j 1 (wall - sum of trial times): {extra * 1e3:.0f} ms")
    return rows


if __name__ == "__main__":
    print(__doc__.splitlines()[0])
    main()
