"""Shared fixtures: small synthetic data sets and reference runs, built once per session."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT_DIR = Path(__file__).resolve().parent.parent


def run_cli(*args, cwd=None, env=None, timeout=600):
    """Run `python -m hepmini ARGS` in a real subprocess and return the CompletedProcess."""
    full_env = dict(os.environ)
    full_env["PYTHONPATH"] = str(ROOT_DIR) + os.pathsep + full_env.get("PYTHONPATH", "")
    full_env.update(env or {})
    return subprocess.run([sys.executable, "-m", "hepmini", *map(str, args)], cwd=cwd or ROOT_DIR,
                          env=full_env, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="session")
def small_data(tmp_path_factory):
    """A small synthetic GamGam data set (written once per test session)."""
    from hepmini import synth

    out = tmp_path_factory.mktemp("data")
    synth.generate(out, scale=0.02, seed=7)
    return out


@pytest.fixture(scope="session")
def reference_run(tmp_path_factory):
    """A tiny complete reference run (synthetic data at scale 0.02, fallback classifier).

    Returns the solution directory; treat it as read-only (copy before changing anything).
    """
    work = tmp_path_factory.mktemp("refrun") / "work"
    proc = run_cli("all", "--workdir", work, "--set", "scale=0.02", "--set", "classifier=hgb",
                   "--set", "seed=11")
    assert proc.returncode == 0, proc.stderr
    return work / "solution"
