"""Fixtures of the attack suite: one attack range per session (see attack_range.py), a victim file per test."""

from pathlib import Path

import pytest
from .attack_range import KEY, RETURNED, Range
from support.fakes import OpenAIFake
from support.workdirs import copy_workdir

from hepmini.agent.sandbox import Limits, run_python


def namespaces_here(tmp: Path) -> dict:
    """The isolation a run gets on this machine (one tiny run)."""
    (tmp / "probe.py").write_text("pass\n")
    return run_python(tmp / "probe.py", tmp / "scratch", logs=tmp / "logs", limits=Limits(wall_seconds=30)).isolation


@pytest.fixture(scope="session")
def range_(reference_run, tmp_path_factory):
    iso = namespaces_here(tmp_path_factory.mktemp("probe"))
    if not iso.get("mountns"):  # without one, every attack on the territories succeeds: none is worth trying
        pytest.skip("the attack suite needs a mount namespace: run as root, or allow unprivileged user namespaces "
                    f"(sysctl kernel.unprivileged_userns_clone=1); here: {iso.get('namespaces_reason')}")
    work = copy_workdir(reference_run, tmp_path_factory, "attacks")
    mp = pytest.MonkeyPatch()
    mp.setenv("OPENAI_API_KEY", KEY)            # in the harness's own environment too
    mp.setenv("NO_PROXY", "127.0.0.1,localhost")
    try:
        with OpenAIFake(key=KEY, returned_model=RETURNED) as fake:
            yield Range(work, fake)
    finally:
        mp.undo()


@pytest.fixture
def victim(tmp_path):
    """A file only its owner may read, in a directory only its owner may enter: what a redirected write would hit."""
    home = tmp_path / "victim"
    home.mkdir(mode=0o700)
    target = home / "secret.txt"
    target.write_text("untouched\n")
    target.chmod(0o600)
    return target
