"""Shared fixtures: small synthetic data sets, reference runs and a scripted campaign, built once per session."""

import fnmatch

import pytest
from support.workdirs import REF_SETTINGS, copy_workdir, run_cli


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


# Tests that build or copy a reference run, a campaign or a data set take seconds each: `make test-fast`
# (pytest -m "not slow") leaves them out.
SLOW_FIXTURES = {"reference_run", "faults_campaign", "small_data"}
SLOW_TESTS = ("*tabpfn*", "tests/test_synth.py::*", "*fork_bomb*", "*sleeping_forever*", "*non_editable_install*",
              "*no_false_pass*", "*train_and_score*", "*hgb_scores*", "*snakemake*", "*slurm*",
              "*corrupt_checkpoint*", "*out_of_fold*")


def pytest_collection_modifyitems(items):
    for item in items:
        if SLOW_FIXTURES & set(getattr(item, "fixturenames", ())) or \
                any(fnmatch.fnmatch(item.nodeid, p) for p in SLOW_TESTS):
            item.add_marker(pytest.mark.slow)
