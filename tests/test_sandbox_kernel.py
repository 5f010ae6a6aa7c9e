"""Beyond the namespaces: keyrings, the seccomp filter, the harness's descriptors in copy-out, limit claims."""

import ctypes
import json
import errno
import os
import resource
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import pytest

from hepmini.agent import copyout, sandbox, sandbox_keys, sandbox_proc, sandbox_root
from hepmini.agent.sandbox import Limits, run_python
from hepmini.errors import SandboxError

REPO = Path(__file__).resolve().parent.parent
MACHINE = os.uname().machine
known_arch = pytest.mark.skipif(MACHINE not in sandbox_keys.KEY_CALLS, reason=f"no keyring numbers for {MACHINE}")
FAST = Limits(wall_seconds=10, output_bytes=2**20, scratch_bytes=64 * 2**20)


def _python(code: str, python: str = sys.executable, **kwargs) -> str:
    """Run `code` in a fresh interpreter that can import hepmini; its stdout."""
    done = subprocess.run([python, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          timeout=60, cwd=REPO if python == sys.executable else "/", **kwargs)
    assert done.returncode == 0, done.stderr
    return done.stdout


def _run(tmp_path: Path, code: str, **kwargs):
    tmp_path.mkdir(exist_ok=True)
    script = tmp_path / "step.py"
    script.write_text(textwrap.dedent(code))
    kwargs.setdefault("limits", FAST)
    return run_python(script, tmp_path / "scratch", logs=tmp_path / "logs", **kwargs)


@known_arch
def test_the_filter_refuses_every_keyring_call_and_nothing_else():
    out = _python("""
        import ctypes, os
        from hepmini.agent import sandbox_keys as k
        libc = ctypes.CDLL(None, use_errno=True)
        libc.syscall.restype = ctypes.c_long
        assert libc.prctl(38, 1, 0, 0, 0) == 0          # no_new_privs, as the sandbox sets it first
        print(k.deny_key_calls(libc))
        native = k.KEY_CALLS[os.uname().machine][1][0][1]
        calls = list(native) + ([nr | k.X32_BIT for nr in native] if os.uname().machine == "x86_64" else [])
        for nr in calls:
            r = libc.syscall(ctypes.c_long(nr), *[ctypes.c_long(0)] * 5)
            print(nr, r, ctypes.get_errno())
        print("getppid", os.getppid() > 0, open("/proc/self/status").read().count("Seccomp:\\t2"))
    """).splitlines()
    assert out[0] == "add_key, request_key and keyctl fail with EPERM"
    assert all(line.split()[1:] == ["-1", str(errno.EPERM)] for line in out[1:-1]), out
    assert out[-1] == "getppid True 1"


@known_arch
def test_a_fresh_session_keyring_leaves_the_inherited_one_behind():
    out = _python("""
        import ctypes, os
        from hepmini.agent import sandbox_keys as k
        libc = ctypes.CDLL(None, use_errno=True)
        libc.syscall.restype = ctypes.c_long
        keyctl = k.KEY_CALLS[os.uname().machine][0]
        def call(*a):
            return libc.syscall(ctypes.c_long(keyctl), *[ctypes.c_long(x) if isinstance(x, int) else x for x in a])
        if call(1, None) < 0:                             # a session keyring of the harness's, as after pam_keyinit
            raise SystemExit(print("no keyrings"))
        libc.syscall(ctypes.c_long(keyctl - 2), b"user", b"hepmini-test-harness", b"x", ctypes.c_size_t(1),
                     ctypes.c_long(-3))
        print(call(10, -3, b"user", b"hepmini-test-harness", 0) > 0)
        print(k.fresh_keyrings(libc, clear_user=False))
        print(call(10, -3, b"user", b"hepmini-test-harness", 0) > 0)
    """).splitlines()
    if out == ["no keyrings"]:
        pytest.skip("the kernel refuses keyrings here")
    assert out == ["True", "a new anonymous session keyring", "False"]


def test_an_unknown_architecture_runs_without_the_filter_and_says_so(monkeypatch):
    monkeypatch.setattr(sandbox_keys, "KEY_CALLS", {})
    libc = ctypes.CDLL(None, use_errno=True)
    assert sandbox_keys.deny_key_calls(libc) == f"not installed: system call numbers unknown on {MACHINE}"
    assert sandbox_keys.fresh_keyrings(libc, True).startswith("keyrings untouched")


def test_a_bpf_program_jumps_to_refuse_each_listed_call_and_unlisted_abis():
    code = sandbox_keys.program(((0xC000003E, (248, 249, 250)), (0x40000003, (286, 287, 288))))

    def run(arch, nr):  # a tiny interpreter of the instructions program() emits
        pc, acc = 0, 0
        while True:
            op, jt, jf, k = code[pc]
            if op == sandbox_keys.RET:
                return k
            if op == sandbox_keys.LD_ABS:
                acc = arch if k == 4 else nr
            elif op == sandbox_keys.AND:
                acc &= k
            elif op == sandbox_keys.JEQ:
                pc += jt if acc == k else jf
            pc += 1

    deny, allow = sandbox_keys.RET_EPERM, sandbox_keys.RET_ALLOW
    assert [run(0xC000003E, n) for n in (248, 249, 250, 250 | 0x40000000, 0, 251, 39)] == [deny] * 4 + [allow] * 3
    assert [run(0x40000003, n) for n in (286, 287, 288, 3, 250)] == [deny] * 3 + [allow] * 2
    assert run(0xC00000B7, 0) == deny


@known_arch
def test_a_run_gets_a_session_keyring_of_its_own_and_no_keyring_call(tmp_path):
    res = _run(tmp_path, """
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        libc.syscall.restype = ctypes.c_long
        r = libc.syscall(ctypes.c_long(%d), ctypes.c_long(0), ctypes.c_long(-3), ctypes.c_long(0))
        print(r, ctypes.get_errno())
    """ % sandbox_keys.KEY_CALLS[MACHINE][0])
    assert res.stdout_tail.split() == ["-1", str(errno.EPERM)], res.stderr_tail
    assert res.isolation["seccomp"] == "add_key, request_key and keyctl fail with EPERM"
    assert res.isolation["keyring"].startswith("a new anonymous session keyring")


KEY_NOTE = """
    import ctypes, sys
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    keyctl, add_key = {keyctl}, {keyctl} - 2
    if sys.argv[1] == "plant":
        print(libc.syscall(ctypes.c_long(add_key), b"user", b"hepmini-test-left", b"x", ctypes.c_size_t(1),
                           ctypes.c_long(-4)))
    elif sys.argv[1] == "find":   # KEYCTL_SEARCH
        print(libc.syscall(ctypes.c_long(keyctl), ctypes.c_long(10), ctypes.c_long(-4), b"user",
                           b"hepmini-test-left", ctypes.c_long(0)))
    else:                         # KEYCTL_CLEAR
        print(libc.syscall(ctypes.c_long(keyctl), ctypes.c_long(7), ctypes.c_long(-4)))
"""


@known_arch
@pytest.mark.skipif(os.geteuid() != 0, reason="a uid of the run's own needs root")
def test_the_user_keyring_a_run_inherits_from_its_uid_is_cleared(tmp_path, monkeypatch):
    python = next((p for p in (sys.executable, "/usr/bin/python3") if not sandbox_root.unreachable([p])), None)
    if python is None:
        pytest.skip("no Python interpreter other users may run")
    uid, lock = sandbox_proc.claim_uid()
    note = textwrap.dedent(KEY_NOTE.format(keyctl=sandbox_keys.KEY_CALLS[MACHINE][0]))

    def as_the_uid(what):
        return int(_python(note.replace("sys.argv[1]", repr(what)), python, user=uid, group=uid, extra_groups=[]))

    try:
        if as_the_uid("plant") < 0:
            pytest.skip("the kernel refuses keyrings here")
        assert as_the_uid("find") > 0              # what an earlier run of this uid would have left
        monkeypatch.setattr(sandbox, "claim_uid", lambda: (uid, lock))
        res = _run(tmp_path, "pass\n")
        assert res.isolation["uid"] == uid and "user-session keyrings cleared" in res.isolation["keyring"]
        assert as_the_uid("find") < 0
    finally:
        as_the_uid("clear")
        lock.close()


def _few_descriptors(extra: int):
    """Lower RLIMIT_NOFILE to `extra` descriptors above those open now; a callable restoring it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    highest = max(int(fd) for fd in os.listdir("/proc/self/fd"))
    resource.setrlimit(resource.RLIMIT_NOFILE, (highest + 1 + extra, hard))
    return lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_copy_out_and_removal_hold_a_few_descriptors_whatever_the_tree(tmp_path):
    outputs = tmp_path / "scratch" / "outputs"
    for i in range(400):
        (outputs / f"d{i:03d}").mkdir(parents=True)
    deep = outputs.joinpath(*["x"] * copyout.MAX_DEPTH)
    deep.mkdir(parents=True)
    (deep / "f.txt").write_text("deep\n")
    scratch = os.open(tmp_path / "scratch", copyout.DIR_FLAGS)
    restore = _few_descriptors(2 * copyout.MAX_DEPTH + 12)   # the current path's pairs, and a few to spare
    try:
        copied = copyout.copy_outputs(scratch, "outputs", tmp_path / "copy", max_bytes=2**20)
        copyout.remove_tree(tmp_path / "scratch" / "outputs")
    finally:
        restore()
        os.close(scratch)
    assert copied.files == ["outputs/" + "x/" * copyout.MAX_DEPTH + "f.txt"] and not copied.refused
    assert len(list((tmp_path / "copy").iterdir())) == 401 and not outputs.exists()


def test_an_entry_that_cannot_be_copied_is_refused_and_a_full_disk_is_the_harness(tmp_path, monkeypatch):
    outputs = tmp_path / "scratch" / "outputs"
    outputs.mkdir(parents=True)
    (outputs / "a.txt").write_text("a\n")
    (outputs / "b.txt").write_text("b\n")
    scratch = os.open(tmp_path / "scratch", copyout.DIR_FLAGS)
    real = copyout._copy

    def failing(src, dst, size, code=errno.EIO):
        if os.fstat(src).st_size == 2 and os.pread(src, 1, 0) == b"a":
            raise OSError(code, os.strerror(code))
        return real(src, dst, size)

    try:
        monkeypatch.setattr(copyout, "_copy", failing)
        copied = copyout.copy_outputs(scratch, "outputs", tmp_path / "copy", max_bytes=2**20)
        assert copied.files == ["outputs/b.txt"]
        assert copied.refused == [f"outputs/a.txt (cannot be copied: {os.strerror(errno.EIO)})"]
        assert sorted(p.name for p in (tmp_path / "copy").iterdir()) == ["b.txt"]   # no half copy left
        monkeypatch.setattr(copyout, "_copy", lambda s, d, n: failing(s, d, n, errno.ENOSPC))
        with pytest.raises(SandboxError, match="No space left"):
            copyout.copy_outputs(scratch, "outputs", tmp_path / "copy", max_bytes=2**20)
    finally:
        os.close(scratch)


@pytest.mark.parametrize("line", ["MemoryError", "OSError: [Errno 28] No space left on device",
                                  "OSError: [Errno 11] Resource temporarily unavailable"])
def test_a_limit_named_only_by_the_run_is_claimed_only_with_evidence(tmp_path, monkeypatch, line):
    code = f"import sys\nsys.stderr.write({line + chr(10)!r})\nraise SystemExit(1)\n"
    res = _run(tmp_path / "with", code)
    if res.isolation.get("cgroup") or "Errno 28" in line:
        assert res.killed_reason == "" and "did not see" in res.isolation["limit_hint"], res.killed_reason
    monkeypatch.setattr(sandbox.cgroups, "create", lambda *a: (None, {"cgroup_reason": "none in this test"}))
    res = _run(tmp_path / "without", code, namespaces="Errno 28" not in line)
    assert "per the run's own last error line" in res.killed_reason and res.returncode == 1


@pytest.mark.skipif(os.geteuid() != 0, reason="a pids cgroup per run needs root (or a delegated cgroup v2 subtree)")
def test_a_refused_fork_is_claimed_on_the_cgroups_count(tmp_path):
    res = _run(tmp_path, """
        import os, time
        while True:
            if os.fork() == 0:
                time.sleep(30)
                os._exit(0)
    """, limits=Limits(wall_seconds=10, processes=16, output_bytes=2**20))
    assert res.isolation.get("cgroup") and res.stderr_tail.strip().splitlines()[-1].startswith("BlockingIOError")
    assert res.killed_reason == "process limit"


LOCKED_TREE = """
    import json, os, sys
    from pathlib import Path
    from hepmini.agent import copyout
    root = Path(sys.argv[1])
    scratch, outside = root / "scratch", root / "outside.txt"
    outside.write_text("the harness's own file\\n")
    os.chmod(outside, 0o600)
    (scratch / "outputs/arrays/locked/deeper").mkdir(parents=True)
    (scratch / "outputs/arrays/boundaries.npy").write_bytes(b"b" * 10)
    (scratch / "outputs/arrays/locked/deeper/x.txt").write_text("x")
    (scratch / "outputs/arrays/link").symlink_to(outside)
    fd = os.open(scratch, copyout.DIR_FLAGS)          # as the sandbox hands it over: opened before the run
    for path in ("outputs/arrays/locked/deeper/x.txt", "outputs/arrays/locked/deeper", "outputs/arrays/locked",
                 "outputs/arrays/boundaries.npy"):
        os.chmod(scratch / path, 0)
    os.chmod(scratch / "outputs", 0o111)
    os.chmod(scratch, 0)
    copied = copyout.copy_outputs(fd, "outputs", root / "copy", max_bytes=2**20)
    os.close(fd)
    copyout.remove_tree(scratch)
    print(json.dumps({"files": copied.files, "tampered": copied.tampered, "refused": copied.refused,
                      "left": scratch.exists(), "outside": oct(outside.stat().st_mode & 0o777)}))
"""


@pytest.mark.skipif(os.geteuid() != 0, reason="a second uid needs root")
def test_a_normal_users_copy_gives_its_own_locked_entries_back_and_follows_no_link():
    """As a normal user the run keeps the harness's uid: modes it took away cost it nothing root's copy would take."""
    python = next((p for p in (sys.executable, "/usr/bin/python3") if not sandbox_root.unreachable([p])), None)
    if python is None or sandbox_root.unreachable([str(REPO / "hepmini")]):
        pytest.skip("no Python interpreter or hepmini checkout other users may run")
    uid, lock = sandbox_proc.claim_uid()
    root = Path(tempfile.mkdtemp(prefix="hepmini-copyout-"))   # pytest's tmp_path is root's alone (0700)
    try:
        os.chown(root, uid, uid)
        done = subprocess.run([python, "-c", textwrap.dedent(LOCKED_TREE), str(root)], capture_output=True,
                              text=True, timeout=60, cwd="/", user=uid, group=uid, extra_groups=[],
                              env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"})
    finally:
        lock.close()
        copyout.remove_tree(root)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["files"] == ["outputs/arrays/boundaries.npy", "outputs/arrays/locked/deeper/x.txt"], out
    assert out["tampered"] == [f"outputs/arrays/link (symbolic link -> {root}/outside.txt)"] and not out["refused"]
    assert out["left"] is False and out["outside"] == "0o600"    # the link's target untouched
