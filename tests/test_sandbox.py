"""The sandbox against hostile and broken generated code, with real subprocesses and small limits."""

import json
import os
import shutil
import socket
import subprocess
import sys
import textwrap
import threading
import uuid
from pathlib import Path
from types import SimpleNamespace

import pytest

from hepmini.agent import sandbox
from hepmini.agent.sandbox import Limits, run_python

REPO = Path(__file__).resolve().parent.parent
ROOT = os.geteuid() == 0
needs_root = pytest.mark.skipif(not ROOT, reason="uid drop, namespaces and kill-by-uid apply only as root")
FAST = Limits(wall_seconds=5, cpu_seconds=10, memory_bytes=2 * 2**30, processes=64, output_bytes=2**20,
              prompt_chars=2000)


@pytest.fixture
def world(tmp_path):
    """A trial dir with a protected input, a sibling trial, reference data and a copy of hepmini."""
    trial, ref, other, pkg = (tmp_path / n for n in ("trial", "reference", "other_trial", "pkg"))
    (trial / "inputs").mkdir(parents=True)
    (trial / "inputs" / "x.txt").write_text("input\n")
    ref.mkdir()
    (ref / "data.txt").write_text("reference\n")
    other.mkdir()
    (other / "result.txt").write_text("other trial\n")
    shutil.copytree(REPO / "hepmini", pkg / "hepmini", ignore=shutil.ignore_patterns("__pycache__"))
    return SimpleNamespace(trial=trial, ref=ref, other=other, pkg=pkg / "hepmini", tmp=tmp_path)


def run(world, code, limits=FAST, env=None, **kwargs):
    """Write `code` as the trial's generated script and run it in the sandbox."""
    script = world.trial / "generated_code" / "step.py"
    script.parent.mkdir(exist_ok=True)
    script.write_text(textwrap.dedent(code))
    kwargs.setdefault("protect", [world.trial / "inputs", world.ref, world.pkg])
    return run_python(script, world.trial, limits=limits, pythonpath=[REPO],
                      passthrough_env=env or {"PATH": os.environ["PATH"], "LANG": "C.UTF-8"}, **kwargs)


def alive(pid, uid):
    """Whether process `pid` still exists as `uid` (a zombie counts: it still holds an NPROC slot)."""
    return any(p == pid for p, _, _ in sandbox._processes_of(uid))


def test_normal_script_gets_numpy_and_tools_and_its_output_captured(world):
    res = run(world, """
        import numpy as np
        from hepmini.tools import *
        print("sum", np.arange(4).sum(), callable(get_significance))
        np.save("out.npy", np.ones(3))
    """)
    assert res.returncode == 0, res.stderr_tail
    assert "sum 6 True" in res.stdout_tail and "sum 6 True" in Path(res.stdout_path).read_text()
    assert (world.trial / "out.npy").stat().st_uid == os.geteuid()  # handed back to the caller
    assert res.tampered == [] and res.killed_reason == "" and not res.timed_out
    assert json.loads(json.dumps(res.to_dict()))["returncode"] == 0


def test_exit_codes_and_tracebacks_come_through(world):
    res = run(world, "print('before')\nraise ValueError('boom')\n")
    assert res.returncode == 1 and "before" in res.stdout_tail
    assert "Traceback" in res.stderr_tail and "ValueError: boom" in res.stderr_tail
    assert res.killed_reason == ""
    assert run(world, "raise SystemExit(3)").returncode == 3


def test_environment_is_an_allowlist_and_keys_never_leak(world, monkeypatch):
    secret = f"sk-hepmini-test-{uuid.uuid4().hex}"
    monkeypatch.setenv("OPENAI_API_KEY", secret)
    monkeypatch.setenv("HTTPS_PROXY", f"http://user:{secret}@proxy.invalid:3128")
    env = {"PATH": os.environ["PATH"], "LANG": "C.UTF-8", "OMP_NUM_THREADS": "1", "OPENAI_API_KEY": secret}
    res = run(world, """
        import json, os, sys
        env = dict(os.environ)
        try:  # the harness's own environment, through /proc
            env["_parent"] = "read %d bytes" % len(open(f"/proc/{sys.argv[1]}/environ", "rb").read())
        except OSError as exc:
            env["_parent"] = type(exc).__name__
        print(json.dumps(env))
    """, env=env, args=[os.getpid()])
    assert res.returncode == 0, res.stderr_tail
    child = json.loads(Path(res.stdout_path).read_text())
    expected = {"PATH", "LANG", "OMP_NUM_THREADS", "HOME", "TMPDIR", "PYTHONPATH", "PYTHONDONTWRITEBYTECODE",
                "PYTHONNOUSERSITE", "PYTHONUNBUFFERED", "MPLBACKEND"}
    assert set(res.env_keys) == expected and set(child) - {"_parent"} == expected
    assert child["HOME"].startswith(str(world.trial)) and child["TMPDIR"].startswith(str(world.trial))
    assert child["PYTHONPATH"] == str(REPO) and res.isolation["env_dropped"] == ["OPENAI_API_KEY"]
    if ROOT:
        assert child["_parent"] == "PermissionError"
    everything = json.dumps(res.to_dict()) + Path(res.stdout_path).read_text() + Path(res.stderr_path).read_text()
    assert secret not in everything


@needs_root
def test_home_and_root_are_out_of_reach(world):
    userhome = world.tmp / "userhome"  # stands in for a real user's home: 0700, with credentials
    userhome.mkdir(mode=0o700)
    secret = f"password-{uuid.uuid4().hex}"
    (userhome / ".netrc").write_text(f"machine example.org login u password {secret}\n")
    res = run(world, """
        import json, os, sys
        out = {}
        for name, path in (("own", "~/.netrc"), ("user", sys.argv[1]), ("root", "/root/.netrc")):
            try:
                out[name] = open(os.path.expanduser(path)).read()
            except OSError as exc:
                out[name] = type(exc).__name__
        try:
            out["root_listing"] = sorted(os.listdir("/root"))
        except OSError as exc:
            out["root_listing"] = type(exc).__name__
        print(json.dumps(out))
    """, args=[userhome / ".netrc"])
    out = json.loads(Path(res.stdout_path).read_text())
    assert out["own"] == "FileNotFoundError"  # HOME is inside the trial dir
    assert out["user"] in ("FileNotFoundError", "PermissionError")
    assert out["root"] in ("FileNotFoundError", "PermissionError")
    # /root is either untraversable or an empty tmpfs holding only the interpreter the run needs
    needed = {Path(p).relative_to("/root").parts[0] for p in (sys.base_prefix, sys.prefix, REPO)
              if str(p).startswith("/root/")}
    assert out["root_listing"] == "PermissionError" or set(out["root_listing"]) <= needed
    assert secret not in json.dumps(res.to_dict())
    assert res.isolation["uid_dropped"] and res.isolation["mountns"]


@needs_root
def test_writes_outside_the_trial_dir_fail_and_data_survive(world):
    escape = Path("/tmp") / f"hepmini-escape-{uuid.uuid4().hex}"
    before = {p: p.read_bytes() for p in (world.ref / "data.txt", world.pkg / "__init__.py",
                                          world.trial / "inputs" / "x.txt", world.other / "result.txt")}
    res = run(world, """
        import json, os, sys
        ref, pkg, other, escape = sys.argv[1:]
        attempts = {
            "reference write": lambda: open(f"{ref}/data.txt", "a").write("x"),
            "reference delete": lambda: os.remove(f"{ref}/data.txt"),
            "reference create": lambda: open(f"{ref}/new.txt", "w"),
            "reference chmod": lambda: os.chmod(f"{ref}/data.txt", 0o666),
            "hepmini write": lambda: open(f"{pkg}/__init__.py", "a").write("x"),
            "input write": lambda: open("inputs/x.txt", "a").write("x"),
            "input delete": lambda: os.remove("inputs/x.txt"),
            "input rename": lambda: os.rename("inputs", "moved"),
            "other trial": lambda: open(f"{other}/result.txt", "w"),
            "/tmp": lambda: open(escape, "w"),
        }
        out = {}
        for name, attempt in attempts.items():
            try:
                attempt()
                out[name] = "done"
            except OSError as exc:
                out[name] = type(exc).__name__
        open("output.txt", "w").write("inside is fine")
        print(json.dumps(out))
    """, args=[world.ref, world.pkg, world.other, escape])
    assert res.returncode == 0, res.stderr_tail
    out = json.loads(Path(res.stdout_path).read_text())
    assert "done" not in out.values(), out
    assert all(p.read_bytes() == data for p, data in before.items())
    assert not escape.exists() and not (world.ref / "new.txt").exists()
    assert (world.trial / "output.txt").read_text() == "inside is fine"
    assert res.tampered == []
    assert str(world.ref) in res.isolation["readonly"] and "/tmp" in res.isolation["masked"]


def test_tampering_is_detected_by_content_not_by_size_and_mtime(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "a.txt").write_text("0123456789")
    (data / "b.txt").write_text("b")
    before = sandbox._snapshot([str(data)], skip_pycache=False)
    st = (data / "a.txt").stat()
    (data / "a.txt").write_text("0123456780")  # same size, and the mtime is put back
    os.utime(data / "a.txt", ns=(st.st_atime_ns, st.st_mtime_ns))
    (data / "b.txt").unlink()
    (data / "c.txt").write_text("c")
    after = sandbox._snapshot([str(data)], skip_pycache=False)
    assert sandbox._diff(before, after) == [f"{data}/a.txt (modified)", f"{data}/b.txt (deleted)",
                                            f"{data}/c.txt (created)"]


@needs_root
def test_fork_bomb_is_bounded_and_fully_killed(world):
    res = run(world, """
        import os
        while True:
            try:
                os.fork()
            except OSError:
                pass
    """, limits=Limits(wall_seconds=3, processes=32, output_bytes=2**20))
    assert res.timed_out and res.killed_reason == "wall-clock timeout"
    assert res.isolation["leftover_pids"] == [] and sandbox._processes_of(res.isolation["uid"]) == []
    assert subprocess.run(["true"], timeout=5).returncode == 0  # the machine is still usable


def test_allocating_50_gb_is_reported_as_memory_limit(world):
    res = run(world, "x = bytearray(50 * 10**9)\n")
    assert res.returncode == 1 and "MemoryError" in res.stderr_tail
    assert res.killed_reason == "memory limit"


def test_sleeping_forever_hits_the_wall_clock(world):
    res = run(world, "import time\nprint('started')\ntime.sleep(10**6)\n",
              limits=Limits(wall_seconds=1.5, output_bytes=2**20))
    assert res.timed_out and res.killed_reason == "wall-clock timeout" and res.signal == "SIGKILL"
    assert 1.2 <= res.seconds < 4  # the deadline counts from the spawn of the wrapper
    assert "started" in res.stdout_tail  # unbuffered output survives the kill


@needs_root
def test_detached_grandchild_is_killed(world):
    res = run(world, """
        import os, time
        if os.fork() == 0:
            os.setsid()  # leaves the process group, as a daemon would
            if os.fork() == 0:
                with open("daemon.tmp", "w") as fh:
                    fh.write(str(os.getpid()))
                os.rename("daemon.tmp", "daemon.pid")
                time.sleep(10**6)
            os._exit(0)
        while not os.path.exists("daemon.pid"):
            time.sleep(0.01)
        print("parent exits, daemon lives on")
    """)
    assert res.returncode == 0, res.stderr_tail
    pid, uid = int((world.trial / "daemon.pid").read_text()), res.isolation["uid"]
    assert not alive(pid, uid) and sandbox._processes_of(uid) == []


def test_printing_1_gb_is_cut_at_the_output_limit(world):
    res = run(world, """
        import sys
        chunk = "x" * (1 << 20)
        for _ in range(1024):
            sys.stdout.write(chunk)
    """, limits=Limits(wall_seconds=20, output_bytes=2**20, prompt_chars=2000))
    assert res.killed_reason == "output limit" and res.returncode == -9
    assert os.path.getsize(res.stdout_path) == 2**20 and res.stdout_bytes > 2**20
    assert "[output limit" in res.stdout_tail and "bytes cut" in res.stdout_tail
    assert len(res.stdout_tail) < 2200
    used = sum(f.stat().st_size for f in world.trial.rglob("*") if f.is_file())
    assert used < 4 * 2**20


@needs_root
def test_sockets_reach_neither_outside_nor_host_loopback(world):
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        res = run(world, """
            import json, socket, sys
            out = {}
            for host, port in (("127.0.0.1", int(sys.argv[1])), ("203.0.113.1", 80)):
                try:
                    socket.create_connection((host, port), timeout=2).close()
                    out[host] = "connected"
                except OSError as exc:
                    out[host] = type(exc).__name__
            print(json.dumps(out))
        """, args=[port])
        with socket.create_connection(("127.0.0.1", port), timeout=2):
            pass  # the listener itself works from the host
    if not res.isolation["netns"]:
        pytest.skip(f"no network namespace here: {res.isolation.get('netns_reason')}")
    out = json.loads(Path(res.stdout_path).read_text())
    assert "connected" not in out.values(), out


def test_cpu_file_size_and_open_file_limits_are_named(world):
    res = run(world, "while True:\n    pass\n", limits=Limits(wall_seconds=10, cpu_seconds=1))
    assert res.killed_reason == "cpu limit" and res.signal == "SIGXCPU"
    res = run(world, "open('big.bin', 'wb').write(b'x' * 2**21)\n", limits=Limits(file_bytes=2**20))
    assert res.killed_reason == "file size limit" and res.returncode == 1
    res = run(world, "files = [open('inputs/x.txt') for _ in range(100)]\n", limits=Limits(open_files=32))
    assert res.killed_reason == "open files limit" and res.returncode == 1


@needs_root
def test_concurrent_runs_get_their_own_uids(world, tmp_path):
    results = {}

    def one(name):
        trial = tmp_path / name
        trial.mkdir()
        (trial / "s.py").write_text("import os, time\ntime.sleep(0.5)\nprint(os.getuid())\n")
        results[name] = run_python(trial / "s.py", trial, limits=FAST)

    threads = [threading.Thread(target=one, args=(n,)) for n in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    uids = {int(r.stdout_tail) for r in results.values()}
    assert len(uids) == 2 and all(u >= sandbox.UID_BASE for u in uids)


@needs_root
def test_unprivileged_caller_falls_back_and_still_detects_tampering(world):
    res = run(world, """
        import json
        from pathlib import Path
        from hepmini.agent.sandbox import Limits, run_python
        inner = Path("inner").absolute()
        inner.mkdir()
        (inner / "data.txt").write_text("v1")
        (inner / "s.py").write_text("open('data.txt', 'w').write('v2')")
        res = run_python(inner / "s.py", inner, limits=Limits(wall_seconds=5), protect=[inner / "data.txt"])
        print(json.dumps(res.to_dict()))
    """)
    assert res.returncode == 0, res.stderr_tail
    inner = json.loads(Path(res.stdout_path).read_text())
    assert inner["returncode"] == 0 and inner["isolation"]["uid"] is None
    assert inner["isolation"]["kill_scope"].startswith("process group only")
    assert inner["tampered"] == [f"{world.trial}/inner/data.txt (modified)"]


@needs_root
def test_traps_left_for_the_harness_are_disarmed(world):
    victim = world.tmp / "victim"
    victim.mkdir()
    res = run(world, """
        import os, shutil, signal, sys
        os.mkfifo("out.npy")  # would hang a validator that opens it
        shutil.rmtree(".sandbox")
        os.symlink(sys.argv[1], ".sandbox")  # tries to make the next run's HOME/TMPDIR land elsewhere
        os.kill(os.getpid(), signal.SIGRTMIN + 3)
    """, args=[victim])
    assert res.signal == f"signal {int(__import__('signal').SIGRTMIN) + 3}"
    assert not (world.trial / "out.npy").exists() and res.isolation["fifos_removed"] == [str(world.trial / "out.npy")]
    res = run(world, "import os\nprint(os.environ['HOME'])\n")
    assert res.returncode == 0 and list(victim.iterdir()) == []
    assert (world.trial / ".sandbox").is_dir() and not (world.trial / ".sandbox").is_symlink()


@needs_root
def test_hidden_directories_look_empty_but_what_the_run_needs_stays(world):
    answers = world.tmp / "work" / "solution"  # reference answers beside the trial, as in a workdir
    answers.mkdir(parents=True)
    (answers / "boundaries.npy").write_text("the answer\n")
    inner = world.pkg / "reference"  # a hidden directory inside a protected (kept) one
    inner.mkdir()
    (inner / "step5.py").write_text("ANSWER = 42\n")
    res = run(world, """
        import json, os, sys
        answers, inner, other, pkg = sys.argv[1:]
        out = {"answers": os.listdir(answers) if os.path.exists(answers) else "absent",
               "inner": os.listdir(inner), "other": os.path.exists(other),
               "pkg": "__init__.py" in os.listdir(pkg), "inputs": open("inputs/x.txt").read()}
        for name, path in (("read", f"{answers}/boundaries.npy"), ("write", f"{answers}/new.npy")):
            try:
                open(path, "r" if name == "read" else "w").close()
                out[name] = "done"
            except OSError as exc:
                out[name] = type(exc).__name__
        print(json.dumps(out))
    """, args=[answers, inner, world.other, world.pkg], hide=[answers, inner, world.tmp])
    assert res.returncode == 0, res.stderr_tail
    out = json.loads(Path(res.stdout_path).read_text())
    # world.tmp holds the trial itself: the trial and the protected paths stay, the sibling trial goes;
    # inside a hidden directory a hidden one is simply absent, inside a kept one it is empty
    assert out["answers"] == "absent" and out["inner"] == [] and out["other"] is False
    assert out["pkg"] and out["inputs"] == "input\n"
    assert out["read"] == "FileNotFoundError" and out["write"] != "done"
    assert set(res.isolation["hidden"]) == {str(answers), str(inner), str(world.tmp)}
    assert (answers / "boundaries.npy").read_text() == "the answer\n" and not (answers / "new.npy").exists()
    assert res.tampered == []
