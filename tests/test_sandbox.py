"""The sandbox against hostile and broken generated code, with real subprocesses and small limits.

As root every measure applies; as a normal user the run gets what an unprivileged user namespace gives
(mount, network, PID namespaces, the minimal root, the scratch tmpfs) and tests needing a uid of its
own or a cgroup are skipped, each saying why.
"""

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

from hepmini.agent import cgroups, copyout, sandbox_proc
from hepmini.agent.sandbox import Limits, run_python
from support.procs import processes_with

REPO = Path(__file__).resolve().parent.parent
ROOT = os.geteuid() == 0
needs_root = pytest.mark.skipif(not ROOT, reason="a uid of the run's own (kill-by-uid, per-uid limits) needs root")
FAST = Limits(wall_seconds=5, cpu_seconds=10, memory_bytes=2 * 2**30, processes=64, output_bytes=2**20,
              prompt_chars=2000, scratch_bytes=64 * 2**20)


@pytest.fixture
def world(tmp_path):
    """A trial dir with an input, a sibling trial, reference data and a copy of hepmini."""
    trial, ref, other, pkg = (tmp_path / n for n in ("trial", "reference", "other_trial", "pkg"))
    (trial / "inputs").mkdir(parents=True)
    (trial / "inputs" / "x.txt").write_text("input\n")
    ref.mkdir()
    (ref / "data.txt").write_text("reference\n")
    other.mkdir()
    (other / "result.txt").write_text("other trial\n")
    shutil.copytree(REPO / "hepmini", pkg / "hepmini", ignore=shutil.ignore_patterns("__pycache__"))
    return SimpleNamespace(trial=trial, ref=ref, other=other, pkg=pkg / "hepmini", tmp=tmp_path)


def run(world, code, limits=FAST, env=None, readonly=(), **kwargs):
    """Write `code` as the trial's generated script and run it in the sandbox, outputs/ collected."""
    script = world.trial / "generated_code" / "step.py"
    script.parent.mkdir(exist_ok=True)
    script.unlink(missing_ok=True)
    script.write_text(textwrap.dedent(code))
    kwargs.setdefault("protect", [world.trial / "inputs", world.ref, world.pkg])
    return run_python(script, world.trial / "scratch", logs=world.trial / "logs",
                      binds={"inputs": world.trial / "inputs"}, collect=("outputs", world.trial / "outputs"),
                      readonly=[REPO / "hepmini", REPO / "steps", *readonly], limits=limits, pythonpath=[REPO],
                      passthrough_env=env or {"PATH": os.environ["PATH"], "LANG": "C.UTF-8"}, **kwargs)


def contained(res) -> None:
    """Skip when the kernel refused the namespaces this test is about."""
    if not res.isolation.get("mountns"):
        pytest.skip(f"no mount namespace here: {res.isolation.get('namespaces_reason')}")


def test_normal_script_gets_numpy_and_tools_and_its_output_captured(world):
    res = run(world, """
        import numpy as np
        from hepmini.tools import *
        print("sum", np.arange(4).sum(), callable(get_significance))
        np.save("outputs/out.npy", np.ones(3))
        np.save("not_an_output.npy", np.ones(3))
    """)
    assert res.returncode == 0, res.stderr_tail
    assert "sum 6 True" in res.stdout_tail and "sum 6 True" in Path(res.stdout_path).read_text()
    copy = world.trial / "outputs" / "out.npy"
    assert res.outputs == ["outputs/out.npy"] and copy.stat().st_uid == os.geteuid()  # the harness's copy
    assert not (world.trial / "scratch").exists()  # the run's territory is gone, only the copy stays
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
    if ROOT or res.isolation["pidns"]:  # another uid, or the harness is not even in the run's PID namespace
        assert child["_parent"] in ("PermissionError", "FileNotFoundError")
    everything = json.dumps(res.to_dict()) + Path(res.stdout_path).read_text() + Path(res.stderr_path).read_text()
    assert secret not in everything


def test_home_root_and_the_checkout_are_out_of_reach(world):
    userhome = world.tmp / "userhome"  # stands in for a real user's home: 0700, with credentials
    userhome.mkdir(mode=0o700)
    secret = f"password-{uuid.uuid4().hex}"
    (userhome / ".netrc").write_text(f"machine example.org login u password {secret}\n")
    res = run(world, """
        import json, os, sys
        out = {}
        for name, path in (("own", "~/.netrc"), ("user", sys.argv[1]), ("root", "/root/.netrc"),
                           ("git", sys.argv[2] + "/.git/config"), ("tests", sys.argv[2] + "/tests/conftest.py"),
                           ("reference", sys.argv[2] + "/reference/step5_categorize.py")):
            try:
                out[name] = open(os.path.expanduser(path)).read()
            except OSError as exc:
                out[name] = type(exc).__name__
        out["root_listing"] = sorted(os.listdir("/root")) if os.path.isdir("/root") else "absent"
        out["checkout"] = sorted(os.listdir(sys.argv[2]))
        print(json.dumps(out))
    """, args=[userhome / ".netrc", REPO])
    contained(res)
    out = json.loads(Path(res.stdout_path).read_text())
    assert out["own"] == out["user"] == out["root"] == out["git"] == out["tests"] == out["reference"] \
        == "FileNotFoundError", out
    # /root is absent or holds only the interpreter the run needs; of the checkout only what the run needs
    needed = {Path(p).relative_to("/root").parts[0] for p in (sys.base_prefix, sys.prefix)
              if str(p).startswith("/root/")}
    assert out["root_listing"] == "absent" or set(out["root_listing"]) <= needed
    assert set(out["checkout"]) <= {"hepmini", "steps", Path(sys.prefix).name}, out["checkout"]
    assert secret not in json.dumps(res.to_dict())
    assert res.isolation["root"].startswith("minimal") and res.isolation["uid_dropped"] == ROOT


def test_writes_outside_the_scratch_fail_and_data_survive(world):
    escape = Path("/tmp") / f"hepmini-escape-{uuid.uuid4().hex}"
    before = {p: p.read_bytes() for p in (world.ref / "data.txt", world.pkg / "__init__.py",
                                          world.trial / "inputs" / "x.txt", world.other / "result.txt")}
    res = run(world, """
        import json, os, sys
        ref, pkg, other, escape, script = sys.argv[1:]
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
            "own script": lambda: open(script, "w"),
            "logs": lambda: open(os.path.dirname(os.getcwd()) + "/logs/step.stdout.txt", "w"),
            "/tmp": lambda: open(escape, "w"),
        }
        out = {}
        for name, attempt in attempts.items():
            try:
                attempt()
                out[name] = "done"
            except OSError as exc:
                out[name] = type(exc).__name__
        open("outputs/output.txt", "w").write("inside is fine")
        print(json.dumps(out))
    """, readonly=[world.ref, world.pkg], args=[world.ref, world.pkg, world.other, escape,
                                                  world.trial / "generated_code" / "step.py"])
    assert res.returncode == 0, res.stderr_tail
    out = json.loads(Path(res.stdout_path).read_text())
    assert "done" not in out.values(), out
    assert all(p.read_bytes() == data for p, data in before.items())
    assert not escape.exists() and not (world.ref / "new.txt").exists()
    assert (world.trial / "outputs" / "output.txt").read_text() == "inside is fine"
    assert res.tampered == [] and str(world.ref) in res.isolation["readonly"]


def test_tampering_is_detected_by_content_not_by_size_and_mtime(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "a.txt").write_text("0123456789")
    (data / "b.txt").write_text("b")
    before = sandbox_proc.snapshot([str(data)], skip_pycache=False)
    st = (data / "a.txt").stat()
    (data / "a.txt").write_text("0123456780")  # same size, and the mtime is put back
    os.utime(data / "a.txt", ns=(st.st_atime_ns, st.st_mtime_ns))
    (data / "b.txt").unlink()
    (data / "c.txt").write_text("c")
    after = sandbox_proc.snapshot([str(data)], skip_pycache=False)
    assert sandbox_proc.diff(before, after) == [f"{data}/a.txt (modified)", f"{data}/b.txt (deleted)",
                                                f"{data}/c.txt (created)"]


def test_fork_bomb_is_bounded_and_fully_killed(world):
    marker = f"bomb-{uuid.uuid4().hex}"
    res = run(world, """
        import os
        while True:
            try:
                os.fork()
            except OSError:
                pass
    """, limits=Limits(wall_seconds=3, processes=32, output_bytes=2**20), args=[marker])
    assert res.timed_out and res.killed_reason == "wall-clock timeout"
    assert res.isolation["leftover_pids"] == [] and processes_with(marker) == []
    if ROOT:
        assert sandbox_proc.processes_of(res.isolation["uid"]) == []
    assert subprocess.run(["true"], timeout=5).returncode == 0  # the machine is still usable


def test_allocating_50_gb_is_reported_as_memory_limit(world):
    res = run(world, "x = bytearray(50 * 10**9)\n")
    assert res.returncode == 1 and "MemoryError" in res.stderr_tail
    if res.isolation.get("cgroup"):  # RLIMIT_AS refused it: nothing the harness sees, so the run's word is a hint
        assert res.killed_reason == "" and "memory limit" in res.isolation["limit_hint"]
    else:
        assert res.killed_reason.startswith("memory limit (per the run's own last error line")


def test_sleeping_forever_hits_the_wall_clock(world):
    res = run(world, "import time\nprint('started')\ntime.sleep(10**6)\n",
              limits=Limits(wall_seconds=1.5, output_bytes=2**20))
    assert res.timed_out and res.killed_reason == "wall-clock timeout" and res.signal == "SIGKILL"
    assert 1.2 <= res.seconds < 4  # the deadline counts from the spawn of the wrapper
    assert "started" in res.stdout_tail  # unbuffered output survives the kill


def test_detached_grandchild_is_killed(world):
    marker = f"daemon-{uuid.uuid4().hex}"
    res = run(world, """
        import os, time
        if os.fork() == 0:
            os.setsid()  # leaves the process group, as a daemon would
            if os.fork() == 0:
                open("outputs/daemon.started", "w").close()
                time.sleep(10**6)
            os._exit(0)
        while not os.path.exists("outputs/daemon.started"):
            time.sleep(0.01)
        print("parent exits, daemon lives on")
    """, args=[marker])
    assert res.returncode == 0, res.stderr_tail
    assert (world.trial / "outputs" / "daemon.started").exists() and processes_with(marker) == []
    if ROOT:
        assert sandbox_proc.processes_of(res.isolation["uid"]) == []


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
        pytest.skip(f"no network namespace here: {res.isolation.get('namespaces_reason')}")
    out = json.loads(Path(res.stdout_path).read_text())
    assert "connected" not in out.values(), out


def test_cpu_file_size_open_file_and_scratch_limits_are_named(world):
    res = run(world, "while True:\n    pass\n", limits=Limits(wall_seconds=10, cpu_seconds=1))
    assert res.killed_reason == "cpu limit" and res.signal in ("SIGXCPU", "SIGKILL")
    res = run(world, "open('big.bin', 'wb').write(b'x' * 2**21)\n", limits=Limits(file_bytes=2**20))
    assert res.killed_reason == "file size limit" and res.returncode == 1
    res = run(world, "files = [open('inputs/x.txt') for _ in range(100)]\n", limits=Limits(open_files=32))
    assert res.killed_reason == "open files limit" and res.returncode == 1
    res = run(world, "for i in range(8):\n    open(f'f{i}.bin', 'wb').write(b'x' * 2**20)\n",
              limits=Limits(scratch_bytes=4 * 2**20))
    if res.isolation["mountns"]:  # the scratch is a tmpfs of 4 MiB: the fifth MiB does not fit
        assert res.killed_reason == "disk limit (the scratch is full)" and "[Errno 28]" in res.stderr_tail


def test_multiprocessing_pools_and_locks_work_in_dev_shm(world):
    res = run(world, """
        import multiprocessing as mp, os, stat
        def square(x):
            return x * x
        if __name__ == "__main__":
            lock = mp.Lock()
            with lock, mp.Pool(2) as pool:
                print(sum(pool.map(square, range(10))), oct(stat.S_IMODE(os.stat("/dev/shm").st_mode)))
    """)
    assert res.returncode == 0, res.stderr_tail
    assert res.stdout_tail.split() == ["285", "0o1777"]


def test_outputs_come_out_as_copies_and_planted_entries_are_tampering(world):
    res = run(world, """
        import os, socket, sys
        os.makedirs("outputs/arrays/deeper")
        open("outputs/arrays/ok.txt", "w").write("fine")
        open("outputs/arrays/deeper/also.txt", "w").write("fine too")
        os.symlink(sys.argv[1], "outputs/arrays/answer.npy")       # a link to the reference
        os.symlink("/dev/stdin", "outputs/stdin.npy")
        os.mkfifo("outputs/fifo.npy")                               # would hang whoever opens it
        open("outputs/one.txt", "w").write("x")
        os.link("outputs/one.txt", "outputs/two.txt")               # a hard link
        socket.socket(socket.AF_UNIX).bind("outputs/sock.npy")
    """, args=[world.ref / "data.txt"])
    assert res.returncode == 0, res.stderr_tail
    assert sorted(res.outputs) == ["outputs/arrays/deeper/also.txt", "outputs/arrays/ok.txt"]
    found = {t.split(" (")[0]: t.split(" (", 1)[1] for t in res.tampered}
    assert found["outputs/arrays/answer.npy"] == f"symbolic link -> {world.ref}/data.txt)"
    assert found["outputs/stdin.npy"].startswith("symbolic link") and found["outputs/fifo.npy"] == "FIFO)"
    assert found["outputs/sock.npy"] == "socket)" and found["outputs/one.txt"].startswith("hard link")
    copies = sorted(str(p.relative_to(world.trial)) for p in (world.trial / "outputs").rglob("*") if p.is_file())
    assert copies == ["outputs/arrays/deeper/also.txt", "outputs/arrays/ok.txt"]
    assert not any(p.is_symlink() for p in (world.trial / "outputs").rglob("*"))


def test_outputs_over_the_caps_are_refused_and_a_deep_tree_costs_nothing(world):
    res = run(world, """
        import os
        with open("outputs/sparse.npy", "wb") as fh:   # 1.5 GiB that take no space
            fh.truncate(1536 * 2**20)
        with open("outputs/holes.bin", "wb") as fh:    # 32 MiB, 3 bytes of data: copied, holes kept
            fh.write(b"abc")
            fh.truncate(32 * 2**20)
        os.chdir("outputs")
        for _ in range(300):                            # 4500+ characters of path, 300 levels
            os.mkdir("d" * 14)
            os.chdir("d" * 14)
        open("deep.txt", "w").write("x")
    """)
    assert res.returncode == 0, res.stderr_tail
    assert any(r.startswith(f"outputs/sparse.npy ({1536 * 2**20} bytes") for r in res.refused)
    assert any("deeper than 16 levels" in r for r in res.refused) and res.tampered == []
    holes = world.trial / "outputs" / "holes.bin"
    assert holes.stat().st_size == 32 * 2**20 and holes.read_bytes()[:4] == b"abc\0"
    assert sum(f.stat().st_blocks * 512 for f in (world.trial / "outputs").rglob("*")) < 2**20


def test_remove_tree_takes_any_depth_without_following_links(tmp_path):
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "keep.txt").write_text("keep")
    (tmp_path / "top").mkdir()
    here = os.open(tmp_path / "top", os.O_RDONLY)
    for _ in range(420):  # over 4600 characters of path
        os.symlink(str(victim), "link", dir_fd=here)
        os.mkdir("dddddddddd", dir_fd=here)
        below = os.open("dddddddddd", os.O_RDONLY, dir_fd=here)
        os.close(here)
        here = below
    os.close(here)
    copyout.remove_tree(tmp_path / "top")
    assert not (tmp_path / "top").exists() and (victim / "keep.txt").read_text() == "keep"


@needs_root
def test_concurrent_runs_get_their_own_uids(world, tmp_path):
    results = {}

    def one(name):
        trial = tmp_path / name
        trial.mkdir()
        (trial / "s.py").write_text("import os, time\ntime.sleep(0.5)\nprint(os.getuid())\n")
        results[name] = run_python(trial / "s.py", trial / "scratch", logs=trial / "logs", limits=FAST)

    threads = [threading.Thread(target=one, args=(n,)) for n in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    uids = {int(r.stdout_tail) for r in results.values()}
    assert len(uids) == 2 and all(u >= sandbox_proc.UID_BASE for u in uids)


@needs_root
def test_an_unprivileged_caller_gets_a_user_namespace_and_the_same_containment(world):
    res = run(world, """
        import json, os
        from pathlib import Path
        from hepmini.agent.sandbox import Limits, run_python
        inner = Path("inner").absolute()
        (inner / "inputs").mkdir(parents=True)
        (inner / "inputs" / "data.txt").write_text("v1")
        (inner / "s.py").write_text("import os\\nprint(sorted(os.listdir('/')))\\n"
                                    "open('outputs/o.txt', 'w').write('made')\\n"
                                    "open('inputs/data.txt', 'w').write('v2')")
        res = run_python(inner / "s.py", inner / "scratch", logs=inner / "logs", binds={"inputs": inner / "inputs"},
                         collect=("outputs", inner / "outputs"), limits=Limits(wall_seconds=5),
                         protect=[inner / "inputs"])
        print(json.dumps(res.to_dict()))
    """, limits=Limits(wall_seconds=20, memory_bytes=4 * 2**30, scratch_bytes=64 * 2**20))
    assert res.returncode == 0, res.stderr_tail
    inner = json.loads(Path(res.stdout_path).read_text())
    iso = inner["isolation"]
    assert iso["uid"] is None and iso["uid_reason"].startswith("not running as root")
    if not iso["mountns"]:
        assert iso["kill_scope"].startswith("process group") and iso["root"].startswith("host")
        return
    assert iso["userns"] and iso["pidns"] and iso["root"].startswith("minimal")
    assert inner["outputs"] == ["outputs/o.txt"] and inner["tampered"] == []
    assert "Read-only file system" in inner["stderr_tail"]


def test_without_namespaces_the_fallback_still_copies_outputs_safely(world):
    res = run(world, """
        import os, sys
        open("outputs/result.txt", "w").write("made")
        os.symlink(sys.argv[1], "outputs/answer.txt")
        print(os.path.islink("inputs"))
    """, args=[world.ref / "data.txt"], namespaces=False)
    assert res.returncode == 0, res.stderr_tail
    assert res.isolation["namespaces"] == [] and res.isolation["root"].startswith("host")
    assert res.isolation["namespaces_reason"] == "none asked for (namespaces=False)"
    assert res.stdout_tail.strip() == "True"  # the binds are symlinks to the harness's read-only copies
    assert res.outputs == ["outputs/result.txt"] and res.tampered == [f"outputs/answer.txt (symbolic link -> "
                                                                       f"{world.ref}/data.txt)"]
    assert not (world.trial / "scratch").exists()


def test_hidden_directories_stay_hidden_inside_what_the_run_sees(world):
    answers = world.tmp / "work" / "solution"  # reference answers beside the trial, as in a workdir
    answers.mkdir(parents=True)
    (answers / "boundaries.npy").write_text("the answer\n")
    inner = world.pkg / "reference"  # a hidden directory inside a visible one (an installed package)
    inner.mkdir()
    (inner / "step5.py").write_text("ANSWER = 42\n")
    res = run(world, """
        import json, os, sys
        answers, inner, other, pkg = sys.argv[1:]
        out = {"answers": os.listdir(answers) if os.path.exists(answers) else "absent",
               "inner": os.listdir(inner), "other": os.path.exists(other),
               "pkg": "__init__.py" in os.listdir(pkg), "inputs": open("inputs/x.txt").read()}
        for name, path in (("read", f"{answers}/boundaries.npy"), ("write", f"{inner}/new.py")):
            try:
                open(path, "r" if name == "read" else "w").close()
                out[name] = "done"
            except OSError as exc:
                out[name] = type(exc).__name__
        print(json.dumps(out))
    """, readonly=[world.pkg], args=[answers, inner, world.other, world.pkg], hide=[answers, inner, world.tmp])
    assert res.returncode == 0, res.stderr_tail
    contained(res)
    out = json.loads(Path(res.stdout_path).read_text())
    assert out["answers"] == "absent" and out["inner"] == [] and out["other"] is False
    assert out["pkg"] and out["inputs"] == "input\n"
    assert out["read"] == "FileNotFoundError" and out["write"] != "done"
    assert set(res.isolation["hidden"]) == {str(answers), str(inner), str(world.tmp)}
    assert res.isolation["masked"] == [str(inner)] and res.tampered == []


@pytest.mark.skipif(not ROOT, reason="a memory cgroup per run needs root (or a delegated cgroup v2 subtree)")
def test_memory_is_bounded_per_run_and_an_oom_kill_is_named(world):
    res = run(world, """
        import os, time
        children = []
        for _ in range(3):                            # each under the per-process limit...
            pid = os.fork()
            if pid == 0:
                block = bytearray(400 * 2**20)
                block[::4096] = b"x" * len(range(0, len(block), 4096))
                time.sleep(1.5)
                os._exit(0)
            children.append(pid)
        ends = [os.waitpid(pid, 0)[1] for pid in children]   # ... 1.2 GB together, over the run's 1 GiB
        raise SystemExit(1 if any(os.WIFSIGNALED(e) for e in ends) else 0)
    """, limits=Limits(wall_seconds=20, memory_bytes=2**30, scratch_bytes=64 * 2**20))
    if res.isolation["cgroup"] is None:
        pytest.skip(f"no cgroup here: {res.isolation.get('cgroup_reason')}")
    assert res.isolation["oom_kills"] >= 1 and res.killed_reason.startswith("out of memory")


def test_a_self_inflicted_sigkill_is_not_called_out_of_memory(world):
    res = run(world, "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)\n")
    assert res.returncode == -9 and res.signal == "SIGKILL"
    assert res.killed_reason.startswith("killed by SIGKILL, not by a limit of hepmini's")


def test_a_cgroup_v2_group_is_read_as_the_kernel_writes_it(tmp_path):
    group = tmp_path / "run1"  # the files a cgroup v2 directory holds, as plain files
    group.mkdir()
    (group / "cgroup.procs").write_text("")
    (group / "memory.events").write_text("low 0\nhigh 0\nmax 3\noom 1\noom_kill 2\n")
    (group / "cpu.stat").write_text("usage_usec 1500000\nuser_usec 1000000\n")
    (group / "memory.peak").write_text("123456\n")
    run = cgroups.RunGroup(2, {"": group})
    assert (run.oom_kills(), run.cpu_seconds(), run.memory_peak(), run.pids()) == (2, 1.5, 123456, [])
    assert run.procs_files() == [str(group / "cgroup.procs")] and run.kill() == []
