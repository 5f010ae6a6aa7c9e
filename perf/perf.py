"""`make perf`: the four performance figures of the reference analysis, measured as ratios in one run.

(a) step-5 categorization: vectorised place_boundary vs a full-recompute baseline (>= 1e6 events)
(b) step-2 conversion throughput vs a plain uproot read of the same branches
(c) start-up: `python -m hepmini --help` and an up-to-date `all`
(d) a fresh `python -m hepmini all` on the default data
(e) harness overhead per scripted:oracle agent trial (perf/perf_agent.py)
Timings on shared machines are noisy: read the ratios, not the seconds.
"""

import argparse
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def cli(*args, cwd=None):
    """Run `python -m hepmini ARGS`; return (seconds, CompletedProcess)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "hepmini", *map(str, args)], cwd=cwd or ROOT, env=env,
                          capture_output=True, text=True)
    return time.perf_counter() - t0, proc


def best_of(n, fn):
    return min(fn()[0] for _ in range(n))


def conversion(data_dir: Path) -> dict:
    """(b) step-2 conversion vs plain uproot.arrays of the same branches, on the largest data file."""
    from hepmini.data import rootio
    from hepmini import layout
    from hepmini.layout import tree_dir

    spec = importlib.util.spec_from_file_location("ref_step2", tree_dir("reference") / "step2_ntuples.py")
    step2 = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(step2)
    rules = layout.rules()
    path = max((data_dir / f for f in rules.DATA_FILES), key=lambda p: p.stat().st_size)

    def plain():
        t0 = time.perf_counter()
        arrays = rootio.open_tree(path, rules.TREE).arrays(step2.BRANCHES, library="ak")
        return time.perf_counter() - t0, len(arrays)

    def ours():
        t0 = time.perf_counter()
        table = step2.convert(path)
        return time.perf_counter() - t0, len(table)

    n_events = ours()[1]
    t_plain, t_ours = best_of(3, plain), best_of(3, ours)
    return {"file": path.name, "events": n_events, "plain_s": t_plain, "convert_s": t_ours,
            "ratio": t_plain / t_ours}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", help="reuse this workdir for (d) (default: a fresh temporary one)")
    parser.add_argument("--skip-full", action="store_true", help="skip (d), the fresh full run")
    args = parser.parse_args(argv)

    sys.path.insert(0, str(ROOT / "bench"))
    import perf_categorize

    print("(a) step-5 categorization, vectorised place_boundary vs full-recompute baseline")
    perf_categorize.main()

    tmp = Path(tempfile.mkdtemp(prefix="hepmini-perf-"))
    work = Path(args.workdir) if args.workdir else tmp / "work"
    try:
        print("(d) fresh `python -m hepmini all` on the default data (synthesis included)")
        if args.skip_full:
            print("    skipped")
            _, proc = cli("data", "--out", work / "data")
        else:
            seconds, proc = cli("all", "--workdir", work)
            if proc.returncode:
                print(proc.stderr)
                return 1
            print(f"    {seconds:.1f} s wall")
        print("(b) step-2 conversion throughput vs plain uproot read of the same branches")
        b = conversion(work / "data")
        print(f"    {b['file']}: {b['events']} events; uproot {b['plain_s']:.3f} s, conversion "
              f"{b['convert_s']:.3f} s; throughput ratio {b['ratio']:.2f} (target >= 0.7)")
        print("(c) start-up")
        t_help = best_of(5, lambda: cli("--help"))
        print(f"    python -m hepmini --help: {t_help*1e3:.0f} ms (target < 300 ms)")
        if not args.skip_full:
            t_all = best_of(5, lambda: cli("all", "--workdir", work))
            print(f"    up-to-date `all`: {t_all*1e3:.0f} ms (target < 300 ms)")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("(e) harness overhead per oracle trial (all but the generated code's own run time)")
    import perf_agent

    perf_agent.main([])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
