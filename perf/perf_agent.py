"""(e) Harness overhead per scripted:oracle trial: all a trial costs except the generated code's own run time.

Builds a tiny reference (scale 0.02, fallback classifier) in a temporary workdir unless --workdir names
one, then runs oracle trials of step 5 and step 3 in-process. Per trial: total wall time minus the
seconds the generated code ran (ExecResult.seconds: from its exec to its end). What remains is the
harness: trial setup and input copies, prompts, the stand-in's replies, logs and trace, the sandbox's
own work (wrapper, namespaces, uid handover, fingerprints), validation and result.json.
"""

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
SETTINGS = {"scale": 0.02, "classifier": "hgb", "seed": 11}
TARGET_SECONDS = 0.5


def reference(workdir: Path) -> None:
    """The tiny reference analysis the trials are validated against."""
    sets = [a for k, v in SETTINGS.items() for a in ("--set", f"{k}={v}")]
    proc = subprocess.run([sys.executable, "-m", "hepmini", "all", "--workdir", str(workdir), *sets], cwd=ROOT,
                          env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True)
    if proc.returncode:
        raise SystemExit(f"reference run failed:\n{proc.stderr}")


def measure(workdir: Path, trials: int = 5, steps=("step5", "step3")) -> dict:
    """Run `trials` oracle trials per step; return the overheads (seconds) and their median."""
    from hepmini import config
    from hepmini.agent import loop
    from hepmini import layout
    from hepmini.agent.trial import new_trial_dir, run_trial

    cfg = config.resolve({"workdir": workdir, **SETTINGS})
    rows = []
    for name in steps:
        step = layout.get(name)
        s = loop.Settings(supervisor="scripted:oracle", coder="scripted:oracle")
        for _ in range(trials):
            n, directory = new_trial_dir(workdir / "perf-agent", step)
            r = run_trial(cfg, step, s, directory, sources={rel: cfg.solution_dir for rel in step.INPUTS},
                                index=n)
            if r["status"] != "success":
                raise SystemExit(f"oracle trial failed: {r['status']} ({r['reason']}) in {directory}")
            d = r["durations"]
            rows.append({"step": name, "total": d["total"], "code": d["code_runs"],
                         "overhead": d["except_code_runs"], "sandbox": d["sandbox_overhead"],
                         "validation": d["validation"]})
    return {"rows": rows, "median": statistics.median(r["overhead"] for r in rows),
            "worst": max(r["overhead"] for r in rows)}


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", help="a workdir holding the tiny reference (default: build one)")
    parser.add_argument("--trials", type=int, default=5, help="trials per step (default 5)")
    args = parser.parse_args(argv)
    tmp = None
    try:
        if args.workdir:
            workdir = Path(args.workdir)
        else:
            tmp = Path(tempfile.mkdtemp(prefix="hepmini-perf-agent-"))
            workdir = tmp / "work"
        reference(workdir)
        result = measure(workdir, args.trials)
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
    for step in sorted({r["step"] for r in result["rows"]}):
        rows = [r for r in result["rows"] if r["step"] == step]
        print(f"    {step}: overhead {statistics.median(r['overhead'] for r in rows) * 1e3:.0f} ms "
              f"(sandbox {statistics.median(r['sandbox'] for r in rows) * 1e3:.0f} ms, validation "
              f"{statistics.median(r['validation'] for r in rows) * 1e3:.0f} ms) + code "
              f"{statistics.median(r['code'] for r in rows) * 1e3:.0f} ms")
    verdict = "met" if result["median"] < TARGET_SECONDS else "MISSED"
    print(f"    harness overhead per oracle trial: median {result['median'] * 1e3:.0f} ms, worst "
          f"{result['worst'] * 1e3:.0f} ms over {len(result['rows'])} trials (target < "
          f"{TARGET_SECONDS * 1e3:.0f} ms: {verdict})")
    return result


if __name__ == "__main__":
    print(__doc__.splitlines()[0])
    main()
