"""Benchmarks of the real local model (`make perf-local`), measured on a finished local campaign and one short run.

1. harness overhead per real call: the call's wall time as hepmini saw it (client, streaming, logging)
   minus the server's own prompt and generation time, as a share of the call's time;
2. prompt-cache hits of the supervisor's calls: cached prompt tokens over all prompt tokens, for the
   first call of a trial (the system prompt and task repeat across trials) and for its reviews (the
   conversation so far repeats);
3. with --throughput: trials per hour of one step with -j 1 and with -j 4 on one server with 4 slots
   (continuous batching), as a ratio measured in one run.

    python perf/perf_local.py [CAMPAIGN_DIR ...]      default: work/bench-local/paper work/bench-local/rich
    python perf/perf_local.py --throughput           adds 3 (slow: tens of minutes on 2 cores)
"""

import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def calls(directories) -> list:
    """Every recorded call of every trial: (role guess, reply record, messages) from the cassettes."""
    found = []
    for directory in directories:
        for path in Path(directory).glob("cells/*/*/trial-*/cassette.jsonl"):
            for line in path.read_text().splitlines():
                record = json.loads(line)
                system = record["messages"][0]["content"] if record["messages"] else ""
                role = "coder" if system.startswith("You are the coder") else "supervisor"
                first = len(record["messages"]) <= 2
                found.append((role, first, record["reply"]))
    return found


def overhead(found) -> str:
    shares = []
    for _, _, reply in found:
        t = reply.get("timings") or {}
        server = (t.get("prompt_ms", 0) + t.get("predicted_ms", 0)) / 1000
        if server > 0 and reply.get("latency"):
            shares.append(max(reply["latency"] - server, 0) / reply["latency"])
    if not shares:
        return "harness overhead per call: no call with server timings found"
    return (f"harness overhead per real call: median {100 * statistics.median(shares):.2f} % of the call's time "
            f"(max {100 * max(shares):.2f} %, {len(shares)} calls)")


def cache_hits(found) -> list:
    lines = []
    for label, first in (("first supervisor call of a trial", True), ("supervisor review calls", False)):
        usage = [r["usage"] for role, f, r in found if role == "supervisor" and f == first]
        total, cached = sum(u["input"] for u in usage), sum(u["cached_input"] for u in usage)
        share = f"{100 * cached / total:.1f} %" if total else "n/a"
        lines.append(f"prompt-cache hits, {label}: {share} of {total} prompt tokens ({len(usage)} calls)")
    return lines


def throughput(trials: int = 4) -> str:
    """Trials per hour of step 5 (short replies) with -j 1 and -j 4 on a 4-slot server, in one run."""
    work = ROOT / "work" / "perf-local"
    rates = {}
    for jobs in (1, 4):
        out = work / f"j{jobs}"
        start = time.monotonic()
        subprocess.run([sys.executable, "-m", "hepmini", "bench", "--models", "local", "--steps", "step5", "--trials",
                        str(trials), "-j", str(jobs), "--max-iterations", "1", "--max-output-tokens", "512",
                        "--out", str(out), "--workdir", str(work / "w"), "--set", "scale=0.05",
                        "--set", "classifier=hgb"], cwd=ROOT, check=False, capture_output=True)
        rates[jobs] = trials / ((time.monotonic() - start) / 3600)
    return (f"campaign throughput, step5 x {trials} trials on one server: -j 1 {rates[1]:.1f}/h, -j 4 "
            f"{rates[4]:.1f}/h: ratio {rates[4] / rates[1]:.2f}")


def main(argv) -> int:
    dirs = [a for a in argv if not a.startswith("--")] or [ROOT / "work/bench-local/paper",
                                                           ROOT / "work/bench-local/rich"]
    found = calls(dirs)
    print(f"{len(found)} real calls in {', '.join(map(str, dirs))}")
    print(overhead(found))
    print("\n".join(cache_hits(found)))
    if "--throughput" in argv:
        print(throughput())
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
