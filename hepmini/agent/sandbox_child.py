"""The sandbox wrapper: a process that applies rlimits, namespaces, mounts and the uid drop to itself, then execs.

`hepmini.agent.sandbox.run_python` starts this file as `python -I -S sandbox_child.py SPEC` (SPEC: a marshalled
dict in hex); a fresh single-threaded process, unlike a `preexec_fn`, stays safe when the harness uses
threads. The harness also calls the two ends of that contract kept here: `mount_plan` and `hide_plan`
build what SPEC asks to mask, and `read_report` decodes what the wrapper writes back on its status pipe.
"""

# Run as a script in isolated mode, this file sees neither hepmini nor site-packages, and its start-up is
# part of every run's overhead: light stdlib modules only (pathlib alone would add ~20 ms).
import ctypes
import io
import marshal
import os
import resource
import stat
import sys
import time

CLONE_NEWNS, CLONE_NEWUSER, CLONE_NEWNET = 0x00020000, 0x10000000, 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 1, 2, 4, 32, 4096, 16384, 1 << 18
PR_SET_PDEATHSIG, PR_SET_CHILD_SUBREAPER, PR_SET_NO_NEW_PRIVS = 1, 36, 38
SIGKILL = 9  # the signal module would pull in enum
SCRATCH_DIRS = ("/tmp", "/var/tmp", "/run/lock", "/dev/shm")  # world-writable: replaced in the mount ns
WRITABLE_SCRATCH = ("/dev/shm",)        # multiprocessing keeps semaphores there; private and size-capped


def load_libc():
    """libc through ctypes, keeping errno for check_libc."""
    return ctypes.CDLL(None, use_errno=True)


def check_libc(result: int, what: str) -> None:
    """Raise OSError with errno when a libc call returned non-zero."""
    if result != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err), what)


# ---- planned by the harness -------------------------------------------------------------------


def mount_plan(keep: list) -> tuple:
    """Directories to replace by a tmpfs, each with the kept paths to bind back; and the blocked ones."""
    keep = outermost(keep)
    blocked = set()
    for path in keep:
        parents = ["/" + "/".join(path.strip("/").split("/")[:i]) for i in range(path.count("/"))]
        for parent in parents:  # from "/" down: the first one others cannot traverse
            if not os.stat(parent).st_mode & stat.S_IXOTH:
                blocked.add(parent)
                break
    masks = outermost({os.path.realpath(d) for d in SCRATCH_DIRS if os.path.isdir(d)} | blocked)
    return {m: [p for p in keep if _under(p, m)] for m in masks}, sorted(blocked)


def hide_plan(hide, keep: list) -> list:
    """[[directory to hide, [kept paths inside it to bind back]]], parents first.

    A directory the run itself needs (one of `keep`) is not hidden: keeping wins.
    """
    return [[path, outermost(k for k in keep if _under(k, path))]
            for path in sorted({os.path.realpath(h) for h in hide if os.path.isdir(h)}) if path not in keep]


def _under(path: str, top: str) -> bool:
    return path == top or path.startswith(top.rstrip("/") + "/")


def outermost(paths) -> list:
    """The given paths minus those lying inside another one, sorted."""
    out = []
    for path in sorted(set(map(str, paths))):  # a parent sorts before its children
        if not any(_under(path, o) for o in out):
            out.append(path)
    return out


def read_report(fd: int) -> dict:
    """The wrapper's report (marshalled dicts); every writer has exec'd or exited by now."""
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


# ---- applied by the wrapper -------------------------------------------------------------------


def _mount(libc, source, target, fstype, flags, data=None) -> None:
    enc = [None if s is None else s.encode() for s in (source, target, fstype, data)]
    check_libc(libc.mount(enc[0], enc[1], enc[2], ctypes.c_ulong(flags), enc[3]), f"mount {target}")


def _mask(libc, mask: str, keep, writable: bool) -> None:
    """Cover directory `mask` with an empty tmpfs and bind the `keep` paths under it back in."""
    fds = [(path, os.open(path, os.O_PATH | os.O_CLOEXEC)) for path in keep]  # before the tmpfs hides them
    _mount(libc, "tmpfs", mask, "tmpfs", MS_NOSUID | MS_NODEV, "mode=755,size=64m")
    for path, fd in fds:
        if stat.S_ISDIR(os.fstat(fd).st_mode):
            os.makedirs(path, exist_ok=True)
        else:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            open(path, "a").close()
        _mount(libc, f"/proc/self/fd/{fd}", path, None, MS_BIND | MS_REC)
        os.close(fd)
    if not writable:
        _mount(libc, None, mask, None, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV)


def _mount_namespace(libc, spec: dict) -> None:
    """Mask scratch and untraversable directories, bind back what the run needs, protect read-only."""
    _mount(libc, None, "/", None, MS_REC | MS_PRIVATE)  # nothing done below propagates to the host
    for mask, keep in spec["masks"].items():
        _mask(libc, mask, keep, writable=mask in WRITABLE_SCRATCH)
    for hidden, keep in spec["hide"]:  # parents first; one already covered by a mask above is skipped
        if os.path.isdir(hidden):
            _mask(libc, hidden, keep, writable=False)
    for path in spec["readonly"]:  # a mount point can be neither written, replaced nor deleted
        _mount(libc, path, path, None, MS_BIND | MS_REC)
        _mount(libc, None, path, None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV)


def _set_rlimits(rlimits: dict) -> dict:
    """Lower each limit to the requested value (never above the hard limit); return what is now set."""
    for name, value in rlimits.items():
        kind = getattr(resource, name)
        hard = resource.getrlimit(kind)[1]  # only root may raise a hard limit
        cap = (lambda v: v) if hard == resource.RLIM_INFINITY else (lambda v: min(v, hard))
        # CPU: SIGXCPU at the soft limit names the cause; SIGKILL 5 s later if it is ignored.
        resource.setrlimit(kind, (cap(value), cap(value + 5 if name == "RLIMIT_CPU" else value)))
    return {name: resource.getrlimit(getattr(resource, name)) for name in rlimits}


def wrap(spec: dict) -> None:
    """Apply rlimits, namespaces and the uid drop to this process, report them, then exec the script."""
    status, uid = spec["status_fd"], spec["uid"]
    report = {"netns": False, "mountns": False, "uid_dropped": False}
    try:
        os.umask(0o022)
        report["rlimits"] = _set_rlimits(spec["rlimits"])
        libc = load_libc()
        try:  # a new network namespace holds only a loopback that is down: no connection gets anywhere
            check_libc(libc.unshare(CLONE_NEWNET | (CLONE_NEWNS if uid is not None else CLONE_NEWUSER)), "unshare")
            report["netns"] = True
        except OSError as exc:
            report["netns_reason"] = f"unshare failed: {exc.strerror}"
        if report["netns"] and uid is None:  # unprivileged user namespace: keep our own ids visible
            real_uid, real_gid = spec["caller"]
            for name, text in (("setgroups", "deny"), ("uid_map", f"{real_uid} {real_uid} 1"),
                               ("gid_map", f"{real_gid} {real_gid} 1")):
                with open(f"/proc/self/{name}", "w") as fh:
                    fh.write(text)
        elif report["netns"]:
            _mount_namespace(libc, spec)
            report["mountns"] = True
        if uid is None:
            report["uid_reason"] = "not running as root: the code runs as the calling user"
        elif report["mountns"] or not spec["unreachable"]:
            os.setgroups([])
            os.setgid(uid)
            os.setuid(uid)
            report["uid_dropped"] = True
        else:
            report["uid_reason"] = (f"no mount namespace, and other users cannot traverse "
                                    f"{', '.join(spec['unreachable'])}: the code runs as root")
        check_libc(libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "prctl")  # setuid binaries cannot regain root
        check_libc(libc.prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0), "prctl")  # dies with the harness
        report["no_new_privs"] = True
        os.chdir(spec["cwd"])  # re-enter the trial dir through the new mount tree
    except BaseException as exc:
        os.write(status, marshal.dumps({**report, "error": f"sandbox setup: {type(exc).__name__}: {exc}"}))
        os._exit(126)
    os.write(status, marshal.dumps({**report, "exec_at": time.monotonic()}))
    os.set_inheritable(status, False)  # closed by a successful exec, still open to report a failed one
    try:
        os.execv(spec["argv"][0], spec["argv"])
    except OSError as exc:
        os.write(status, marshal.dumps({"error": f"cannot exec {spec['argv'][0]}: {exc.strerror}"}))
        os._exit(126)


if __name__ == "__main__":
    wrap(marshal.loads(bytes.fromhex(sys.argv[1])))  # never returns: exec or exit
