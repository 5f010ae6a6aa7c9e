"""Shared fixtures: small synthetic data sets and reference runs, built once per session."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT_DIR = Path(__file__).resolve().parent.parent
REF_SETTINGS = {"scale": 0.02, "classifier": "hgb", "seed": 11}  # those of the reference_run fixture


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
    from hepmini.data import synth

    out = tmp_path_factory.mktemp("data")
    synth.generate(out, scale=0.02, seed=7)
    return out


@pytest.fixture(scope="session")
def reference_run(tmp_path_factory):
    """A tiny complete reference run (synthetic data at scale 0.02, fallback classifier).

    Returns the solution directory; treat it as read-only (copy before changing anything).
    """
    work = tmp_path_factory.mktemp("refrun") / "work"
    proc = run_cli("all", "--workdir", work, *[a for k, v in REF_SETTINGS.items() for a in ("--set", f"{k}={v}")])
    assert proc.returncode == 0, proc.stderr
    return work / "solution"


def copy_workdir(reference_run, tmp_path_factory, name):
    """A private copy of the session's tiny reference workdir (data, solution, stamps: up to date)."""
    import shutil

    dst = tmp_path_factory.mktemp(name) / "work"
    shutil.copytree(reference_run.parent, dst, symlinks=True)
    return dst


def work_config(work, env=None, **settings):
    """A Config on a copied workdir with the reference run's settings and a minimal environment."""
    from hepmini import config

    environ = {"PATH": os.environ["PATH"], "LANG": "C.UTF-8", **(env or {})}
    return config.resolve({"workdir": work, "call_log": str(work / "calls.jsonl"), **REF_SETTINGS, **settings},
                          environ=environ, cwd=work)


@pytest.fixture(scope="session")
def faults_campaign(reference_run, tmp_path_factory):
    """A real `bench` campaign of scripted:faults, 5 steps x 5 trials, built once per session.

    With one iteration a fault is never repaired, so every trial fails with its injected fault; seeds
    0..4 give every applicable fault of each step at least once (a step has at most 5).
    """
    root = tmp_path_factory.mktemp("faults-campaign")
    work = copy_workdir(reference_run, tmp_path_factory, "faults-work")
    out = root / "faults"
    proc = run_cli("bench", "--models", "scripted:faults", "--trials", "5", "--max-iterations", "1",
                   "--fault-seed", "0", "-j", "2", "--out", out, "--workdir", work,
                   *[a for k, v in REF_SETTINGS.items() for a in ("--set", f"{k}={v}")])
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out
