"""CI's real-model smoke test: one bounded trial with the local model reaches a model-made verdict and leaves no server.

Run by `make smoke-local` (HEPMINI_REAL_MODEL=1); skipped in the main suite, which never needs the model.
"""

import json
import os
import time
from pathlib import Path

import pytest
from support.workdirs import run_cli

pytestmark = pytest.mark.skipif(os.environ.get("HEPMINI_REAL_MODEL") != "1",
                                reason="the real local model runs in `make smoke-local` (HEPMINI_REAL_MODEL=1)")


def servers_of(workdir: Path) -> list:
    """PIDs of llama-server processes writing their log under `workdir` (the ones this test started)."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            if not (proc / "cmdline").read_bytes().split(b"\0")[0].endswith(b"llama-server"):
                continue
            if any(str(workdir) in os.readlink(fd) for fd in (proc / "fd").iterdir()):
                found.append(int(proc.name))
        except OSError:
            continue
    return found


def test_one_local_trial_reaches_a_model_made_verdict(tmp_path):
    work = tmp_path / "work"
    start = time.monotonic()
    proc = run_cli("agent", "step1", "--model", "local", "--workdir", work, "--set", "scale=0.05",
                   "--set", "classifier=hgb", "--max-iterations", "1", "--max-output-tokens", "1024",
                   "--time-limit", "2400", timeout=3000)
    seconds = time.monotonic() - start
    results = sorted(work.glob("agent/*/step1_inspect/trial-*/result.json"))
    assert results, proc.stdout + proc.stderr
    r = json.loads(results[-1].read_text())
    print(f"smoke: status {r['status']} (stop {r['stop']}), {r['api_calls']} calls, "
          f"{r['tokens']['input']} in / {r['tokens']['output']} out tokens, {seconds:.0f} s")
    assert r["status"] not in ("infrastructure", "harness_error", "running"), r.get("reason")
    assert r["api_calls"] >= 2 and r["tokens"]["input"] > 0 and r["tokens"]["output"] > 0
    assert r["cost"]["total"] == 0.0
    assert "step1 trial 1" in proc.stderr          # the live progress was shown
    assert servers_of(work) == [], "a llama-server outlived the command"
