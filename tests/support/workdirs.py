"""Run hepmini as a user does (a real `python -m hepmini` subprocess) and work on private copies of a workdir."""

import os
import subprocess
import sys
from pathlib import Path

ROOT_DIR = Path(__file__).resolve().parents[2]
REF_SETTINGS = {"scale": 0.02, "classifier": "hgb", "seed": 11}  # those of the reference_run fixture


def run_cli(*args, cwd=None, env=None, timeout=600):
    """Run `python -m hepmini ARGS` in a real subprocess and return the CompletedProcess."""
    full_env = dict(os.environ)
    full_env["PYTHONPATH"] = str(ROOT_DIR) + os.pathsep + full_env.get("PYTHONPATH", "")
    full_env.update(env or {})
    return subprocess.run([sys.executable, "-m", "hepmini", *map(str, args)], cwd=cwd or ROOT_DIR,
                          env=full_env, capture_output=True, text=True, timeout=timeout)


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
