"""Benchmarks of the real local model (`make perf-local`), measured on a finished local campaign and one short run.

1. harness overhead per real call: the call's wall time as hepmini saw it (client, streaming, logging)
   minus the server's own prompt and generation time, as a share of the call's time;
2. prompt-cache hits of the supervisor's calls: cached prompt tokens over all prompt tokens, for the
   first call of a trial (the system prompt and task repeat across trials) and for its reviews (the
   conversation so far repeats);
3. with --batching: the server alone, generated tokens per second with 1 stream and with 4 at once on one
   4-slot server (what continuous batching gives on this CPU; a few minutes);
4. with --throughput: trials per hour of one step with -j 1 and with -j 4, each on a fresh server with 4 slots
   (continuous batching; fresh so that neither run reads the other's prompt cache), as a ratio in one run.

    python perf/perf_local.py [CAMPAIGN_DIR ...]      default: work/bench-local/paper work/bench-local/rich
    python perf/perf_local.py --batching             adds 3 (a few minutes)
    python perf/perf_local.py --throughput           adds 4 (slow: tens of minutes on 2 cores)
"""

import contextlib
import datetime
import json
import shutil
import signal
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def calls(directories) -> list:
    """Every recorded call of every trial: (role guess, reply record, messages) from the cassettes."""
    found = []
    for directory in directories:
        for path in Path(directory).glob("cells/*/*/trial-*/cassette.jsonl"):
            for line in path.read_text().splitlines():
                record = json.loads(line)
                if "error" in record["reply"]:        # a failed call: no reply, no usage
                    continue
                system = record["messages"][0]["content"] if record["messages"] else ""
                # recorded since 2026-12-07; older cassettes of one client serving both roles say ""
                role = record.get("role") or ("coder" if system.startswith("You are the coder") else "supervisor")
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
    """Trials per hour of step 5 (short replies) with -j 1 and with -j 4, each on a fresh 4-slot server."""
    work, rates, cached = ROOT / "work" / "perf-local", {}, {}
    for jobs in (1, 4):
        out = work / f"j{jobs}"
        shutil.rmtree(out, ignore_errors=True)        # a resumed campaign would skip its finished trials
        with kept_server(work, slots=4):              # fresh: no prompt cache carried from the other run
            with open(work / f"j{jobs}.log", "w") as log:
                subprocess.run([sys.executable, "-m", "hepmini", "bench", "--models", "local", "--steps", "step5",
                                "--trials", str(trials), "-j", str(jobs), "--max-iterations", "1",
                                "--max-output-tokens", "512", "--out", str(out), "--workdir", str(work / "w"),
                                "--set", "scale=0.05", "--set", "classifier=hgb"],
                               cwd=ROOT, check=False, stdout=log, stderr=subprocess.STDOUT)
        records = [json.loads(p.read_text()) for p in out.glob("cells/*/*/trial-*/result.json")]
        unsettled = [r.get("status") for r in records if r.get("status") in (None, "running", "infrastructure",
                                                                              "harness_error")]
        if len(records) != trials or unsettled:
            return (f"campaign throughput not measured: -j {jobs} finished {len(records) - len(unsettled)} of "
                    f"{trials} trials ({', '.join(map(str, unsettled)) or 'missing'}); see {work / f'j{jobs}.log'}")
        # from the first trial's start to the last one's end: the server's start and data preparation excluded
        span = max(map(_stamp, (r["ended"] for r in records))) - min(map(_stamp, (r["started"] for r in records)))
        rates[jobs] = trials / (span / 3600)
        usage = [c[2]["usage"] for c in calls([out])]
        cached[jobs] = sum(u["cached_input"] for u in usage) / max(sum(u["input"] for u in usage), 1)
    return (f"campaign throughput, step5 x {trials} trials (1 repair round, 512-token replies), a fresh 4-slot server "
            f"each: -j 1 {rates[1]:.1f}/h, -j 4 {rates[4]:.1f}/h: ratio {rates[4] / rates[1]:.2f} "
            f"(prompt tokens from the cache: {100 * cached[1]:.0f} % and {100 * cached[4]:.0f} %)")


def batching(streams: int = 4, tokens: int = 128) -> str:
    """Generated tokens/s of `streams` different requests one after another, then all at once, on one server."""
    from concurrent.futures import ThreadPoolExecutor

    from hepmini import config
    from hepmini.llm import localserver

    cfg = config.resolve({"workdir": str(ROOT / "work" / "perf-local")})
    prompts = [f"Write a Python function that returns the {n + 2}-th prime number, with a docstring." for n in
               range(2 * streams)]                     # all different: no request reads another's prompt cache
    server, rates = localserver.server_for(cfg, streams), {}    # its own, never one `hepmini serve` keeps
    try:
        server.start(say=lambda line: None)
        for label, batch, workers in (("1", prompts[:streams], 1), (str(streams), prompts[streams:], streams)):
            start = time.monotonic()
            with ThreadPoolExecutor(workers) as pool:
                made = sum(pool.map(lambda text: _generate(server.url, text, tokens), batch))
            rates[label] = made / (time.monotonic() - start)
    finally:
        server.stop()
    return (f"llama-server batching, {streams} requests of {tokens} tokens: 1 at a time {rates['1']:.1f} tok/s, "
            f"{streams} at once {rates[str(streams)]:.1f} tok/s in all: ratio {rates[str(streams)] / rates['1']:.2f}")


def _generate(url: str, text: str, tokens: int) -> int:
    """One non-streaming completion of exactly `tokens` tokens (no stop): the tokens it generated."""
    body = json.dumps({"messages": [{"role": "user", "content": text}], "max_tokens": tokens, "temperature": 0,
                       "ignore_eos": True, "cache_prompt": False}).encode()
    request = urllib.request.Request(url + "/v1/chat/completions", body, {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=1800) as response:
        return json.loads(response.read())["usage"]["completion_tokens"]


def _stamp(text: str) -> float:
    return datetime.datetime.fromisoformat(text).timestamp()


@contextlib.contextmanager
def kept_server(work: Path, slots: int):
    """`hepmini serve --slots N` for the duration: bench runs inside join it."""
    work.mkdir(parents=True, exist_ok=True)
    with subprocess.Popen([sys.executable, "-m", "hepmini", "serve", "--slots", str(slots), "--workdir", str(work)],
                          cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) as proc:
        try:
            said = []
            for line in proc.stdout:
                said.append(line.strip())
                if line.startswith("serving "):
                    break
            else:
                raise SystemExit(f"perf_local: `hepmini serve` did not start: {' '.join(said[-2:])}")
            yield
        finally:
            proc.send_signal(signal.SIGTERM)          # serve stops its llama-server and forgets it
            proc.communicate(timeout=60)


def main(argv) -> int:
    dirs = [a for a in argv if not a.startswith("--")] or [ROOT / "work/bench-local/paper",
                                                           ROOT / "work/bench-local/rich"]
    found = calls(dirs)
    print(f"{len(found)} real calls in {', '.join(map(str, dirs))}")
    print(overhead(found))
    print("\n".join(cache_hits(found)))
    if "--batching" in argv:
        print(batching())
    if "--throughput" in argv:
        print(throughput())
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
