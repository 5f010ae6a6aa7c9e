"""The DAG runner on small real subprocess steps: staleness, reasons, atomicity, parallelism, errors."""

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from hepmini import config
from hepmini.analysis import dag, staging
from hepmini.errors import CycleError, MissingInput, StepFailed, WorkdirError


def make_cfg(tmp_path, **over):
    return config.resolve({"workdir": tmp_path / "work", **over}, environ={}, cwd=tmp_path)


def writer(outputs, extra=""):
    """A python -c program writing each relative output (content: its name) into argv[1]."""
    return textwrap.dedent(f"""
        import os, sys, pathlib
        root = pathlib.Path(sys.argv[1])
        {extra}
        for rel in {outputs!r}:
            p = root / rel
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text(rel)
    """)


def node(tmp_path, name, inputs, outputs, after=(), code=None, params=None):
    sol = tmp_path / "work" / "solution"
    return dag.Node(name=name, title=name, inputs=[tmp_path / i for i in inputs],
                    outputs=[sol / o for o in outputs], out_root=sol,
                    command=[sys.executable, "-c", code or writer(outputs), "{staging}"],
                    params=params or {}, after=list(after))


@pytest.fixture
def chain(tmp_path):
    (tmp_path / "raw.txt").write_text("raw")
    nodes = {
        "a": node(tmp_path, "a", ["raw.txt"], ["a/out.txt"]),
        "b": node(tmp_path, "b", ["work/solution/a/out.txt"], ["b/x.txt", "b/y.txt"], after=["a"]),
    }
    return nodes


def test_fresh_run_then_nothing_to_do(tmp_path, chain):
    cfg = make_cfg(tmp_path)
    assert [r[0] for r in dag.plan(cfg, nodes=chain)[0][1]][:1]  # stale before the first run
    assert "missing output" in dag.plan(cfg, nodes=chain)[0][1][0]
    assert dag.run(cfg, nodes=chain, report=lambda s: None) == 2
    assert (tmp_path / "work/solution/b/y.txt").read_text() == "b/y.txt"
    said = []
    assert dag.run(cfg, nodes=chain, report=said.append) == 0
    assert said == ["all steps up to date; nothing to do"]
    assert all(state == "up to date" for _, _, state, _ in dag.status_rows(cfg, nodes=chain))


def test_newer_input_makes_step_and_downstream_stale(tmp_path, chain):
    cfg = make_cfg(tmp_path)
    dag.run(cfg, nodes=chain, report=lambda s: None)
    out = tmp_path / "work/solution/a/out.txt"
    earlier = os.stat(tmp_path / "raw.txt").st_mtime_ns - 5_000_000_000
    os.utime(out, ns=(earlier, earlier))
    plan = dict(dag.plan(cfg, nodes=chain))
    assert plan["a"] == [f"input {tmp_path / 'raw.txt'} is newer than output solution/a/out.txt"]
    assert plan["b"] == ["upstream a will run"]
    dag.run(cfg, nodes=chain, report=lambda s: None)
    assert all(not r for _, r in dag.plan(cfg, nodes=chain))


def test_oldest_output_decides(tmp_path, chain):
    """An input newer than only the OLDEST output still makes the step stale (strict >)."""
    cfg = make_cfg(tmp_path)
    dag.run(cfg, nodes=chain, report=lambda s: None)
    x, y = tmp_path / "work/solution/b/x.txt", tmp_path / "work/solution/b/y.txt"
    a_out = tmp_path / "work/solution/a/out.txt"
    t = os.stat(a_out).st_mtime_ns
    os.utime(x, ns=(t - 10, t - 10))          # one output older than the input
    os.utime(y, ns=(t + 10**9, t + 10**9))    # one newer
    assert dict(dag.plan(cfg, nodes=chain))["b"][0].endswith("newer than output solution/b/x.txt")
    os.utime(x, ns=(t, t))                    # equal mtime: up to date (strict >)
    assert dict(dag.plan(cfg, nodes=chain))["b"] == []


def test_parameter_change_and_force(tmp_path, chain):
    cfg = make_cfg(tmp_path)
    chain["a"].params = {"scale": 1.0}
    dag.run(cfg, nodes=chain, report=lambda s: None)
    chain["a"].params = {"scale": 0.5}
    reasons = dict(dag.plan(cfg, nodes=chain))["a"]
    assert reasons == ["parameters changed: scale 1.0 -> 0.5"]
    chain["a"].params = {"scale": 1.0}
    assert dict(dag.plan(cfg, nodes=chain, force=True))["a"] == ["forced"]
    assert dict(dag.plan(cfg, nodes=chain, targets=["b"], force=True)) == {"a": [], "b": ["forced"]}


def test_dry_run_runs_nothing(tmp_path, chain):
    cfg = make_cfg(tmp_path)
    said = []
    assert dag.run(cfg, nodes=chain, dry_run=True, report=said.append) == 0
    assert said[0].startswith("would run a: missing output")
    assert not (tmp_path / "work/solution").exists()


def test_failed_step_leaves_no_output_and_keeps_old_ones(tmp_path, chain):
    cfg = make_cfg(tmp_path)
    dag.run(cfg, nodes=chain, report=lambda s: None)
    before = (tmp_path / "work/solution/b/x.txt").stat().st_mtime_ns
    chain["b"].command[2] = writer(["b/x.txt"], extra="sys.stderr.write('boom: bad thing\\n')") \
        + "\nsys.exit(3)\n"
    chain["b"].params = {"v": 2}
    with pytest.raises(StepFailed, match=r"b \(b\) failed: boom: bad thing"):
        dag.run(cfg, nodes=chain, report=lambda s: None)
    assert (tmp_path / "work/solution/b/x.txt").stat().st_mtime_ns == before
    assert dict(dag.plan(cfg, nodes=chain))["b"]  # still stale
    assert not list((tmp_path / "work/.hepmini/staging").iterdir())


def test_step_killed_half_way_publishes_nothing(tmp_path, chain):
    cfg = make_cfg(tmp_path)
    chain["a"].command[2] = writer(["a/out.txt"]) + "\nimport os, signal\nos.kill(os.getpid(), signal.SIGKILL)\n"
    with pytest.raises(StepFailed, match="exit code -9"):
        dag.run(cfg, nodes=chain, report=lambda s: None)
    assert not (tmp_path / "work/solution/a/out.txt").exists()


def test_missing_declared_output_is_an_error(tmp_path, chain):
    cfg = make_cfg(tmp_path)
    chain["b"].command[2] = writer(["b/x.txt"])
    with pytest.raises(StepFailed, match="did not write b/y.txt"):
        dag.run(cfg, nodes=chain, report=lambda s: None)
    assert not (tmp_path / "work/solution/b/x.txt").exists()


def test_cycle_and_missing_input(tmp_path, chain):
    cfg = make_cfg(tmp_path)
    chain["a"].after = ["b"]
    with pytest.raises(CycleError, match="cycle"):
        dag.plan(cfg, nodes=chain)
    chain["a"].after = []
    (tmp_path / "raw.txt").unlink()
    with pytest.raises(MissingInput, match="raw.txt, which does not exist"):
        dag.plan(cfg, nodes=chain)


def test_independent_steps_run_in_parallel(tmp_path):
    """Each step waits for the other's marker: run one at a time, the first would time out."""
    (tmp_path / "raw.txt").write_text("raw")
    rendezvous = tmp_path / "rv"
    rendezvous.mkdir()

    def code(me, other, out):
        wait = (f"(pathlib.Path({str(rendezvous)!r}) / {me!r}).touch()\n"
                f"import time\nt0 = time.monotonic()\n"
                f"while not (pathlib.Path({str(rendezvous)!r}) / {other!r}).exists():\n"
                f"    time.sleep(0.02)\n"
                f"    if time.monotonic() - t0 > 20: sys.exit('never met ' + {other!r})\n")
        return writer([out], extra=wait.replace("\n", "\n        "))

    nodes = {n: node(tmp_path, n, ["raw.txt"], [f"{n}.txt"], code=code(n, o, f"{n}.txt"))
             for n, o in (("p", "q"), ("q", "p"))}
    cfg = make_cfg(tmp_path, jobs=2)
    assert dag.run(cfg, nodes=nodes, report=lambda s: None) == 2


def test_unwritable_workdir(tmp_path, chain):
    blocker = tmp_path / "file"
    blocker.write_text("not a dir")
    cfg = config.resolve({"workdir": blocker / "work"}, environ={}, cwd=tmp_path)
    with pytest.raises(WorkdirError, match="not writable.*--workdir"):
        dag.run(cfg, nodes=chain, report=lambda s: None)


def test_killing_the_runner_leaves_no_fresh_output(tmp_path):
    """SIGKILL the whole `run` process mid-step: no output appears; the next run completes."""
    (tmp_path / "raw.txt").write_text("raw")
    started = tmp_path / "started"
    script = tmp_path / "driver.py"
    step_code = ("import pathlib, sys, time\n"
                 "root = pathlib.Path(sys.argv[1])\n"
                 "(root / 'a').mkdir(parents=True, exist_ok=True)\n"
                 "(root / 'a' / 'out.txt').write_text('half')\n"
                 f"pathlib.Path({str(started)!r}).touch()\n"
                 "if sys.argv[2] == 'slow': time.sleep(60)\n")
    script.write_text(
        "import sys, pathlib\n"
        f"sys.path.insert(0, {str(dag.PACKAGE_DIR.parent)!r})\n"
        "from hepmini import config\nfrom hepmini.analysis import dag\n"
        f"tmp = pathlib.Path({str(tmp_path)!r})\n"
        "sol = tmp / 'work' / 'solution'\n"
        f"code = {step_code!r}\n"
        "nodes = {'a': dag.Node('a', 'a', [tmp / 'raw.txt'], [sol / 'a/out.txt'], sol,\n"
        "                      [sys.executable, '-c', code, '{staging}', sys.argv[1]], {}, [])}\n"
        "cfg = config.resolve({'workdir': tmp / 'work'}, environ={}, cwd=tmp)\n"
        "dag.run(cfg, nodes=nodes, report=print)\n")
    proc = subprocess.Popen([sys.executable, str(script), "slow"], start_new_session=True)
    deadline = time.monotonic() + 30
    while not started.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert started.exists()
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (tmp_path / "work/solution/a/out.txt").exists()
    staged = [p.name for p in (tmp_path / "work/.hepmini/staging").iterdir()]
    assert any(name.startswith(f"a-{proc.pid}-") for name in staged), staged   # left behind by the kill
    fast = subprocess.run([sys.executable, str(script), "fast"], check=True, capture_output=True, text=True)
    assert (tmp_path / "work/solution/a/out.txt").read_text() == "half"
    # the next run removes what the killed one left, says so once, and leaves nothing of its own
    assert fast.stdout.count(f"removed stale staging a-{proc.pid}-") == 1, fast.stdout
    assert "left by a run that was killed" in fast.stdout
    assert not list((tmp_path / "work/.hepmini/staging").iterdir())


def test_staging_of_a_live_runner_is_never_swept(tmp_path):
    root = tmp_path / "staging"
    mine, fd = staging.claim(root, "step2")                      # held, as by a runner in another thread
    (mine / "part.npy").write_bytes(b"x" * 1000)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    legacy_dead = root / f"step3-{dead.stdout.strip()}-1"        # before the locks: judged by its pid
    legacy_alive = root / f"step4-{os.getppid()}-1"
    for d in (legacy_dead, legacy_alive):
        d.mkdir()
    (root / "step5-1-2.lock").write_text("")                    # a lock whose directory is gone
    removed = staging.sweep(root)
    assert [name for name, _ in removed] == [legacy_dead.name]
    assert sorted(p.name for p in root.iterdir()) == sorted([mine.name, mine.name + ".lock", legacy_alive.name])
    staging.release(mine, fd)
    assert sorted(p.name for p in root.iterdir()) == [legacy_alive.name]


def test_many_reasons_are_cut_to_three_and_counted(tmp_path):
    for i in range(14):
        (tmp_path / f"in{i:02}.txt").write_text("x")
    nodes = {"a": node(tmp_path, "a", [f"in{i:02}.txt" for i in range(14)], ["a.txt"])}
    cfg = make_cfg(tmp_path)
    dag.run(cfg, nodes=nodes, report=lambda s: None)
    later = os.stat(tmp_path / "work/solution/a.txt").st_mtime_ns + 10**9
    for i in range(14):
        os.utime(tmp_path / f"in{i:02}.txt", ns=(later, later))
    reasons = dict(dag.plan(cfg, nodes=nodes))["a"]
    assert len(reasons) == 4 and reasons[-1] == "and 11 more"
    assert all("in0" in r and "is newer than output solution/a.txt" in r for r in reasons[:3])
