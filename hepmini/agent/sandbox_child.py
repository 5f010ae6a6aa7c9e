"""The sandbox wrapper: joins the run's cgroup, enters namespaces, builds a minimal root, drops its uid, execs.

`hepmini.agent.sandbox.run_python` starts this file as `python -I -S sandbox_child.py SPEC` (SPEC: a marshalled
dict in hex); a fresh single-threaded process, unlike a `preexec_fn`, stays safe when the harness uses
threads. Three processes:

- the wrapper: joins the cgroup(s), unshares the user (not root), mount, network, PID, IPC
  and UTS namespaces, then forks init and waits for it;
- init, PID 1 of the new PID namespace: builds the new root from the harness's plan (a tmpfs with
  read-only binds of only what the run needs, a size-capped tmpfs scratch as its cwd, a new /proc, a
  minimal /dev), sends the scratch's directory fd to the harness, pivot_roots into it, forks the
  script and reaps until it ends; when init exits the kernel kills whatever the run left behind;
- the script: drops to the run's uid (as root), a new session keyring (hepmini.agent.sandbox_keys), no_new_privs,
  rlimits, a seccomp filter that refuses the keyring calls, execs `sys.executable script`.

Each reports on the status pipe (marshalled dicts): what was applied, when the script was exec'd,
and how it ended. Without namespaces (a kernel or container that refuses them) the run gets the
harness's fallback scratch directory on disk and only what rlimits and a uid give.
"""

# Run as a script in isolated mode, this file sees neither hepmini nor site-packages, and its start-up is
# part of every run's overhead: light stdlib modules only (socket would add ~10 ms, _socket does not).
import ctypes
import io
import marshal
import os
import resource
import sys
import time

CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC = 0x00020000, 0x04000000, 0x08000000
CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET = 0x10000000, 0x20000000, 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = (
    1, 2, 4, 8, 32, 4096, 16384, 1 << 18)
# statvfs f_flag bits a read-only remount must keep: in a user namespace they are locked on the source
KEEP_FLAGS = ((8, MS_NOEXEC), (1024, 1024), (2048, 2048), (4096, 1 << 21))   # noexec, noatime, nodiratime, relatime
PR_SET_PDEATHSIG, PR_SET_DUMPABLE, PR_SET_NO_NEW_PRIVS = 1, 4, 38
MNT_DETACH, SIGKILL = 2, 9  # the signal module would pull in enum
PIVOT_ROOT = {"x86_64": 155, "aarch64": 41, "riscv64": 41, "loongarch64": 41, "ppc64le": 203, "ppc64": 203,
              "s390x": 217, "i686": 217, "armv7l": 218}
ALL_NS = CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS
NS_NAMES = ((CLONE_NEWUSER, "user"), (CLONE_NEWNS, "mount"), (CLONE_NEWNET, "net"), (CLONE_NEWPID, "pid"),
            (CLONE_NEWIPC, "ipc"), (CLONE_NEWUTS, "uts"))


def load_libc():
    """libc through ctypes, keeping errno for check_libc."""
    return ctypes.CDLL(None, use_errno=True)


def check_libc(result: int, what: str) -> None:
    """Raise OSError with errno when a libc call returned non-zero."""
    if result != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err), what)


def read_report(fd: int) -> dict:
    """The sandbox's report (marshalled dicts, later ones win); every writer has exec'd or exited by now."""
    os.set_blocking(fd, False)
    data = b""
    try:
        while chunk := os.read(fd, 65536):
            data += chunk
    except BlockingIOError:
        pass
    report, stream = {}, io.BytesIO(data)
    try:
        while stream.tell() < len(data):
            report.update(marshal.load(stream))
    except (EOFError, ValueError, TypeError):
        report["error"] = "the sandbox wrapper's report is unreadable"
    return report


def _sibling(name: str):
    """A stdlib-only module next to this file, loaded by path as this file is (isolated mode hides hepmini)."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), name + ".py")
    module = type(sys)(name)
    module.__file__ = path
    with open(path, "rb") as fh:
        exec(compile(fh.read(), path, "exec"), module.__dict__)
    return module


# ---- the wrapper --------------------------------------------------------------------------------


def _set_rlimits(rlimits: dict) -> dict:
    """Lower each limit to the requested value (never above the hard limit); return what is now set."""
    for name, value in rlimits.items():
        kind = getattr(resource, name)
        hard = resource.getrlimit(kind)[1]  # only root may raise a hard limit
        cap = (lambda v: v) if hard == resource.RLIM_INFINITY else (lambda v: min(v, hard))
        # CPU: SIGXCPU at the soft limit names the cause; SIGKILL 5 s later if it is ignored.
        resource.setrlimit(kind, (cap(value), cap(value + 5 if name == "RLIMIT_CPU" else value)))
    return {name: resource.getrlimit(getattr(resource, name)) for name in rlimits}


def _unshare(libc, spec: dict) -> dict:
    """Enter the most namespaces the kernel allows: all, then mount + network, then none."""
    user = CLONE_NEWUSER if spec["uid"] is None else 0
    tried = ["none asked for (namespaces=False)"]
    for flags in (user | ALL_NS, user | CLONE_NEWNS | CLONE_NEWNET) if spec["namespaces"] else ():
        if libc.unshare(flags) == 0:
            if user:  # an unprivileged user namespace: keep our own ids, visible as they are outside
                real_uid, real_gid = spec["caller"]
                for name, text in (("setgroups", "deny"), ("uid_map", f"{real_uid} {real_uid} 1"),
                                   ("gid_map", f"{real_gid} {real_gid} 1")):
                    with open(f"/proc/self/{name}", "w") as fh:
                        fh.write(text)
            return {"namespaces": [n for bit, n in NS_NAMES if flags & bit]}
        tried.append(f"unshare failed: {os.strerror(ctypes.get_errno())}")
    return {"namespaces": [], "namespaces_reason": tried[-1]}


def _setup_then_fork(status: int, setup) -> tuple:
    """Run `setup()` -> (report, state), send the report to the harness and fork; on any failure send why, exit 126."""
    try:
        report, state = setup()
        os.write(status, marshal.dumps(report))
        return report, state, os.fork()
    except BaseException as exc:
        os.write(status, marshal.dumps({"error": f"sandbox setup: {type(exc).__name__}: {exc}"}))
        os._exit(126)


def wrap(spec: dict) -> None:
    """The wrapper: limits and namespaces for itself and what it starts, then init; mirrors init's end."""
    report, libc, pid = _setup_then_fork(spec["status_fd"], lambda: _wrap_setup(spec))
    if pid == 0:
        init(libc, spec, report["namespaces"])
    while True:
        try:
            _, code = os.waitpid(pid, 0)
            break
        except InterruptedError:
            continue
    os._exit(os.waitstatus_to_exitcode(code) & 0xFF)


def _wrap_setup(spec: dict) -> tuple:
    """The wrapper's own measures: its cgroups, PDEATHSIG, the namespaces, not dumpable; (report, libc)."""
    for path in spec["cgroup_procs"]:  # first: every process of the run is counted from its start
        with open(path, "w") as fh:
            fh.write(str(os.getpid()))
    os.umask(0o022)
    spec["keys"] = _sibling("sandbox_keys")  # now: after pivot_root this directory may not be in the root
    report, libc = {}, load_libc()
    check_libc(libc.prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0), "prctl")  # dies with the harness
    report.update(_unshare(libc, spec))  # before the next line: it makes /proc/self/uid_map root's
    check_libc(libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0), "prctl")        # no ptrace or /proc/PID/fd from the run
    if "mount" in report["namespaces"]:
        _mount(libc, None, "/", None, MS_REC | MS_PRIVATE)  # nothing done below propagates to the host
    return report, libc


# ---- init: the new root -------------------------------------------------------------------------


def _mount(libc, source, target, fstype, flags, data=None) -> None:
    enc = [None if s is None else s.encode() for s in (source, target, fstype, data)]
    check_libc(libc.mount(enc[0], enc[1], enc[2], ctypes.c_ulong(flags), enc[3]), f"mount {target}")


def _readonly(libc, path: str) -> None:
    """Remount a bind read-only, nosuid, nodev, keeping the flags a user namespace may not drop."""
    flags = os.statvfs(path).f_flag
    kept = sum(ms for st, ms in KEEP_FLAGS if flags & st)
    _mount(libc, None, path, None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV | kept)


def _mountpoint(path: str, is_dir: bool) -> None:
    if os.path.lexists(path):
        return
    if is_dir:
        os.makedirs(path, mode=0o755)
    else:
        os.makedirs(os.path.dirname(path), mode=0o755, exist_ok=True)
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o644))


def _scratch(libc, spec: dict, path: str) -> int:
    """The run's cwd: a size-capped tmpfs owned by the run, with its HOME, TMPDIR and /dev/shm inside."""
    uid = spec["uid"]
    owner = f",uid={uid},gid={uid}" if uid is not None else ""
    _mount(libc, "tmpfs", path, "tmpfs", MS_NOSUID | MS_NODEV, spec["scratch_options"] + owner)
    for sub, mode in spec["scratch_dirs"]:
        os.makedirs(f"{path}/{sub}", mode=mode, exist_ok=True)
        os.chmod(f"{path}/{sub}", mode)  # past the umask: /dev/shm must be 1777
        if uid is not None:
            os.chown(f"{path}/{sub}", uid, uid)
    return os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)


def _build(libc, spec: dict) -> int:
    """Carry out the harness's plan under `stage`; return the scratch's directory fd."""
    stage, scratch = spec["stage"], None
    # Sources first, as O_PATH fds: the new root is mounted over `stage`, which may hold some of them.
    sources = {op[1]: os.open(op[1], os.O_PATH | os.O_CLOEXEC) for op in spec["ops"] if op[0] == "bind"}
    _mount(libc, "tmpfs", stage, "tmpfs", MS_NOSUID | MS_NODEV, "mode=755,size=16m")
    for op in spec["ops"]:
        kind, target = op[0], stage + op[-1] if op[0] in ("bind", "symlink") else stage + op[1]
        if kind == "dir":
            os.makedirs(target, mode=op[2], exist_ok=True)
        elif kind == "symlink":
            os.makedirs(os.path.dirname(target), exist_ok=True)
            os.symlink(op[1], target)
        elif kind == "bind":
            fd = sources[op[1]]
            _mountpoint(target, os.path.isdir(f"/proc/self/fd/{fd}"))
            _mount(libc, f"/proc/self/fd/{fd}", target, None, MS_BIND)
            if op[2]:
                _readonly(libc, target)
        elif kind == "tmpfs":  # an empty directory: /dev, or a hidden one (read-only)
            _mountpoint(target, True)
            _mount(libc, "tmpfs", target, "tmpfs", MS_NOSUID | MS_NODEV | (MS_RDONLY if op[2] else 0),
                   "mode=755,size=1m")
        elif kind == "proc":
            _mountpoint(target, True)
            _mount(libc, "proc", target, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
        elif kind == "scratch":
            _mountpoint(target, True)
            scratch = _scratch(libc, spec, target)
        elif kind == "inner":  # a bind of a path of the new root itself (the scratch's shm at /dev/shm)
            _mountpoint(target, True)
            _mount(libc, stage + op[2], target, None, MS_BIND)
    for fd in sources.values():
        os.close(fd)
    _mount(libc, None, stage, None, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV)
    return scratch


def _pivot(libc, stage: str) -> None:
    """Make `stage` the root and detach the old one: nothing of the host stays reachable, even by root."""
    number = PIVOT_ROOT.get(os.uname().machine)
    if number is None:
        raise OSError(0, f"pivot_root: unknown system call number on {os.uname().machine}")
    os.chdir(stage)
    check_libc(libc.syscall(number, b".", b"."), "pivot_root")
    check_libc(libc.umount2(b".", MNT_DETACH), "umount old root")
    os.chdir("/")


def _send_fd(sock: int, fd: int) -> None:
    import _socket  # the C module: the harness keeps the scratch open after the run's mounts are gone

    s = _socket.socket(fileno=sock)
    try:
        s.sendmsg([b"s"], [(_socket.SOL_SOCKET, _socket.SCM_RIGHTS, fd.to_bytes(4, sys.byteorder))])
    finally:
        s.close()


def init(libc, spec: dict, namespaces: list) -> None:
    """PID 1 of the run: the new root, the script, and the reaping; never returns."""
    status = spec["status_fd"]
    report, _, pid = _setup_then_fork(status, lambda: (_init_setup(libc, spec, namespaces), None))
    if pid == 0:
        _script(libc, spec, report["uid_dropped"])
    while True:
        try:
            done, code = os.waitpid(-1, 0)
        except InterruptedError:
            continue
        except ChildProcessError:
            os._exit(0)
        if done == pid:
            how = ["signal", -os.waitstatus_to_exitcode(code)] if os.WIFSIGNALED(code) else \
                ["exit", os.waitstatus_to_exitcode(code)]
            os.write(status, marshal.dumps({"status": how}))
            os._exit(0)  # as PID 1: the kernel now kills everything the run left in its namespace


def _init_setup(libc, spec: dict, namespaces: list) -> dict:
    """Init's measures: PDEATHSIG, not dumpable, the minimal root (its scratch's fd sent to the harness)."""
    check_libc(libc.prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0), "prctl")
    check_libc(libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0), "prctl")
    report = {"mountns": "mount" in namespaces, "netns": "net" in namespaces, "pidns": "pid" in namespaces,
              "userns": "user" in namespaces, "root": "host (no mount namespace)"}
    if report["mountns"]:
        scratch = _build(libc, spec)
        _send_fd(spec["fd_sock"], scratch)
        os.close(scratch)
        _pivot(libc, spec["stage"])
        report["root"] = "minimal (tmpfs + read-only binds, pivot_root)"
    else:
        os.close(spec["fd_sock"])
    report["uid_dropped"] = _can_drop(spec, report)
    return report


def _can_drop(spec: dict, report: dict) -> bool:
    """As root, whether the script may run as the run's uid: not when it could not reach the interpreter."""
    if spec["uid"] is None:
        report["uid_reason"] = "not running as root: the code runs as the calling user"
        return False
    if report["mountns"] or not spec["unreachable"]:
        return True
    report["uid_reason"] = (f"no mount namespace, and other users cannot traverse {', '.join(spec['unreachable'])}: "
                            "the code runs as root")
    return False


def _script(libc, spec: dict, drop: bool) -> None:
    """The run itself: the uid, no_new_privs, the cwd, no stray fds; then exec. Never returns."""
    status = spec["status_fd"]
    try:
        check_libc(libc.prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0), "prctl")
        if drop:
            os.setgroups([])
            os.setgid(spec["uid"])
            os.setuid(spec["uid"])
        keys = spec["keys"]
        keyring = keys.fresh_keyrings(libc, clear_user=drop)  # after the drop: the keyrings are the run uid's
        check_libc(libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "prctl")  # setuid binaries cannot regain root
        os.chdir(spec["cwd"])  # the scratch tmpfs in the new root, or the fallback directory on disk
        os.closerange(3, status)
        os.closerange(status + 1, 65536)
        rlimits = _set_rlimits(spec["rlimits"])  # the wrapper and init need more files than a run may open
        seccomp = keys.deny_key_calls(libc)      # last: from here on no keyring call succeeds, ours included
        os.write(status, marshal.dumps({"rlimits": rlimits, "exec_at": time.monotonic(), "no_new_privs": True,
                                        "keyring": keyring, "seccomp": seccomp}))
    except BaseException as exc:
        os.write(status, marshal.dumps({"error": f"sandbox setup: {type(exc).__name__}: {exc}"}))
        os._exit(126)
    os.set_inheritable(status, False)  # closed by a successful exec, still open to report a failed one
    try:
        os.execv(spec["argv"][0], spec["argv"])
    except OSError as exc:
        os.write(status, marshal.dumps({"error": f"cannot exec {spec['argv'][0]}: {exc.strerror}"}))
        os._exit(126)


if __name__ == "__main__":
    wrap(marshal.loads(bytes.fromhex(sys.argv[1])))  # never returns: exec or exit
