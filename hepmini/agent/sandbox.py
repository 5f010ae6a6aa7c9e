"""Run one generated Python file in a contained subprocess, and report what it did and what was applied.

`run_python` starts the wrapper in `sandbox_child.py`, which applies the in-process measures to itself and
execs `sys.executable script *args`; this module prepares the run, watches it and cleans up after it.
The measures, each recorded in `ExecResult.isolation`:

- own session and process group, SIGKILLed whole at the wall-clock limit or when a log passes
  `output_bytes`, so no child outlives the run; as root also every process of the sandbox uid, which
  catches daemons that left the group (setsid, double fork);
- rlimits: address space (a runaway allocation fails as MemoryError), CPU seconds, file size, open
  files, processes of the uid (stops fork bombs), no core dumps; no_new_privs (setuid binaries cannot
  regain root); PDEATHSIG (the wrapper dies with the harness);
- an environment from an allowlist: API keys, proxies and credentials never reach the code; HOME and
  TMPDIR lie in the trial dir;
- as root, a uid/gid of its own (61000+, in no passwd/group entry, no supplementary groups) that owns
  the trial dir during the run only: the code can write nowhere else and signal no other process;
- a network namespace with only a loopback that is down: no connection gets anywhere (not root: inside
  a user namespace, when the kernel allows one);
- as root, a mount namespace, private so nothing propagates to the host: /tmp, /var/tmp, /run/lock are
  empty and read-only and /dev/shm a private tmpfs (no files shared with other runs or the host);
  directories the sandbox uid cannot traverse (/root, when pyenv's interpreter lives there) become
  empty tmpfs with only the paths the run needs bound back in; `hide` directories (reference answers)
  become empty and read-only the same way; protected paths are bound read-only (cannot be written,
  replaced or deleted);
- protected paths are fingerprinted before and after the run; differences are reported in `tampered`.

Logs: TRIAL/logs/<script stem>.stdout.txt and .stderr.txt, owned by the caller, never by the sandbox.
Whatever a run must read outside its trial dir has to be listed in `protect` or `pythonpath`.
"""

import dataclasses
import grp
import marshal
import os
import pwd
import signal
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Mapping, Optional, Sequence

from hepmini.config import ENV_ALLOWLIST
from hepmini.errors import SandboxError
from hepmini.files import sha256_file
from hepmini.agent.sandbox_child import (PR_SET_CHILD_SUBREAPER, check_libc, hide_plan, load_libc, mount_plan,
                                   outermost, read_report)

WRAPPER = str(Path(__file__).with_name("sandbox_child.py"))  # run as a script, see its docstring
DEFAULT_PATH = "/usr/local/bin:/usr/bin:/bin"
UID_BASE, UID_SLOTS = 61000, 64         # one uid per concurrent run, so kill-by-uid hits only that run
HASH_LIMIT = 200 * 2**20                # larger protected files are compared by size + mtime + inode
POLL_SECONDS = 0.02
LIMIT_HINTS = (("MemoryError", "memory limit"), ("[Errno 27]", "file size limit"),
               ("[Errno 24]", "open files limit"))


@dataclasses.dataclass(frozen=True)
class Limits:
    """Resource limits of one run."""

    wall_seconds: float = 600.0
    cpu_seconds: int = 900              # per process (RLIMIT_CPU); the wall clock bounds the whole group
    memory_bytes: int = 8 * 2**30       # address space per process (RLIMIT_AS)
    file_bytes: int = 2 * 2**30         # largest file a process may write (RLIMIT_FSIZE)
    open_files: int = 256
    processes: int = 256                # processes of the sandbox uid (RLIMIT_NPROC): stops fork bombs
    output_bytes: int = 20 * 10**6      # kept on disk per stream; past it the run is killed and the log cut
    prompt_chars: int = 6000            # head + tail of each stream kept for the prompt


@dataclasses.dataclass
class ExecResult:
    """What one run did and which isolation was applied; `to_dict()` is JSON-ready."""

    returncode: Optional[int]           # negative: killed by that signal
    signal: Optional[str]
    timed_out: bool
    killed_reason: str                  # the limit that ended the run, e.g. "wall-clock timeout", or ""
    seconds: float                      # from the exec of the script to its end
    overhead_seconds: float             # everything else run_python spent: wrapper, hashing, chown, cleanup
    stdout_path: str
    stderr_path: str
    stdout_bytes: int                   # bytes written before any cut
    stderr_bytes: int
    stdout_tail: str                    # head ... tail, with a marker saying how much was cut
    stderr_tail: str
    tampered: list                      # "PATH (modified|created|deleted)" for protected paths
    isolation: dict
    env_keys: list                      # names only

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def run_python(script: Path, trial_dir: Path, *, limits: Limits = Limits(),
               passthrough_env: Optional[Mapping[str, str]] = None, pythonpath: Sequence[Path] = (),
               protect: Sequence[Path] = (), hide: Sequence[Path] = (), args: Sequence[str] = ()) -> ExecResult:
    """Run `sys.executable script *args` with cwd `trial_dir` in the sandbox; raises only SandboxError.

    `hide`: directories (e.g. the reference answers) that the run sees as empty and read-only; the
    trial dir and the other paths the run needs stay visible when they lie inside one.
    """
    started = time.monotonic()
    trial_dir, script = Path(trial_dir).absolute(), Path(script).absolute()
    root, passthrough_env = os.geteuid() == 0, dict(passthrough_env or {})
    # A symlinked input is protected together with its target.
    protect = sorted({str(p) for q in protect for p in (Path(q).absolute(), Path(q).resolve())})
    env = _environment(trial_dir, passthrough_env, pythonpath)
    logs = _make_dir(trial_dir / "logs")
    if os.lstat(logs).st_uid != os.geteuid():
        raise SandboxError(f"{logs} is not owned by the harness; remove it and retry")
    paths = [logs / f"{script.stem}.stdout.txt", logs / f"{script.stem}.stderr.txt"]
    before = _snapshot(protect, skip_pycache=root)
    keep = [trial_dir, script, sys.prefix, sys.base_prefix, Path(sys.executable).parent,
            Path(sys.executable).resolve().parent, *pythonpath, *protect]
    keep = [os.path.realpath(p) for p in keep if os.path.exists(p)]
    masks, unreachable = mount_plan(keep)
    hidden = hide_plan(hide, keep)
    iso = {"uid": None, "masked": sorted(masks), "readonly": outermost(p for p in protect if os.path.exists(p)),
           "hidden": [h for h, _ in hidden], "untraversable": unreachable,
           "env_dropped": sorted(set(passthrough_env) - set(ENV_ALLOWLIST))}
    uid, lock = _claim_uid() if root else (None, None)
    fds, status_r, status_w = [], None, None
    try:
        # O_NOFOLLOW: a symlink planted by an earlier run must not redirect the harness's writes.
        fds = [os.open(p, os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
               for p in paths]
        status_r, status_w = os.pipe()
        if root:
            iso.update(uid=uid, gid=uid, kill_scope=f"process group + every process of uid {uid}")
            # Orphans (double-forked daemons) then become our children and their zombies are reaped at once:
            # pid 1 reaps seconds late here (never in some containers), and zombies count against RLIMIT_NPROC.
            check_libc(load_libc().prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0), "prctl")
            iso["hardlinks_not_chowned"] = _chown_tree(trial_dir, uid, uid, owner=os.geteuid(),
                                                       skip={str(logs), *protect})
        else:
            iso["kill_scope"] = "process group only (not root: escaped daemons of the caller's uid survive)"
        rlimits = {"RLIMIT_AS": limits.memory_bytes, "RLIMIT_CPU": limits.cpu_seconds,
                   "RLIMIT_FSIZE": limits.file_bytes, "RLIMIT_NOFILE": limits.open_files,
                   # RLIMIT_NPROC counts every process of the real uid: a shared uid needs headroom.
                   "RLIMIT_NPROC": limits.processes + (0 if root else len(_processes_of(os.getuid()))),
                   "RLIMIT_CORE": 0}
        spec = {"uid": uid, "caller": [os.getuid(), os.getgid()], "rlimits": rlimits, "status_fd": status_w,
                "masks": masks, "hide": hidden, "readonly": iso["readonly"], "unreachable": unreachable,
                "cwd": str(trial_dir), "argv": [sys.executable, str(script), *map(str, args)]}
        try:
            proc = subprocess.Popen([sys.executable, "-I", "-S", WRAPPER, marshal.dumps(spec).hex()],
                                    cwd=trial_dir, env=env, stdin=subprocess.DEVNULL, stdout=fds[0],
                                    stderr=fds[1], start_new_session=True, pass_fds=(status_w,))
        except OSError as exc:
            raise SandboxError(f"cannot start the sandbox: {exc}") from None
        os.close(status_w)
        status_w = None
        reason = _supervise(proc, limits, fds)
        ended = time.monotonic()
        _killpg(proc.pid)               # group members still running after the main process ended
        iso["leftover_pids"] = _kill_uid(uid) if root else []
        iso.update(read_report(status_r))
        if not iso.get("mountns"):      # planned, but nothing was masked, hidden or bound read-only
            iso.update(masked=[], readonly=[], hidden=[])
            if hidden:
                iso["hidden_reason"] = "no mount namespace: the hidden directories stay visible"
        if root and not iso.get("uid_dropped"):
            iso["kill_scope"] = "process group only (the code ran as root: escaped daemons survive)"
        sizes = [os.fstat(fd).st_size for fd in fds]
        tails = [_excerpt(fd, size, limits) for fd, size in zip(fds, sizes)]
    finally:
        for fd in fds + [status_r, status_w]:
            if fd is not None:
                os.close(fd)
        if root:
            iso["fifos_removed"] = _chown_tree(trial_dir, os.geteuid(), os.getegid(), owner=uid, after_run=True)
            lock.close()
    if "error" in iso or "exec_at" not in iso:
        raise SandboxError(iso.get("error") or f"the sandbox wrapper failed (exit {proc.returncode}): "
                                               f"{tails[1][-800:]}")
    rc, seconds = proc.returncode, ended - iso.pop("exec_at")
    reason = reason or _limit_reason(rc, tails[1])
    tampered = _diff(before, _snapshot(protect, skip_pycache=root))
    return ExecResult(rc, _signal_name(-rc) if rc < 0 else None, reason == "wall-clock timeout",
                      reason, round(seconds, 3), round(time.monotonic() - started - seconds, 3),
                      str(paths[0]), str(paths[1]), sizes[0], sizes[1], tails[0], tails[1], tampered, iso,
                      sorted(env))


def _environment(trial_dir: Path, passthrough: Mapping, pythonpath) -> dict:
    """The child's whole environment: allowlisted variables plus HOME/TMPDIR inside the trial dir."""
    home, tmp = trial_dir / ".sandbox" / "home", trial_dir / ".sandbox" / "tmp"
    for path in (trial_dir / ".sandbox", home, tmp):
        _make_dir(path)
    env = {k: str(passthrough[k]) for k in ENV_ALLOWLIST if k in passthrough}
    env.setdefault("PATH", DEFAULT_PATH)
    env.update(HOME=str(home), TMPDIR=str(tmp), PYTHONDONTWRITEBYTECODE="1", PYTHONNOUSERSITE="1",
               PYTHONUNBUFFERED="1", MPLBACKEND="Agg")  # unbuffered: prints survive a kill at the timeout
    if pythonpath:
        env["PYTHONPATH"] = os.pathsep.join(str(Path(p).resolve()) for p in pythonpath)
    return env


def _make_dir(path: Path) -> Path:
    """mkdir that first removes a symlink an earlier run may have planted there."""
    if os.path.islink(path):
        os.unlink(path)
    path.mkdir(parents=True, exist_ok=True)
    return path


def _claim_uid() -> tuple:
    """A uid (= gid) in no passwd/group entry and with no process, held by an abstract-socket lock."""
    for uid in range(UID_BASE, UID_BASE + UID_SLOTS):
        try:
            pwd.getpwuid(uid)
            continue
        except KeyError:
            pass
        try:
            grp.getgrgid(uid)
            continue
        except KeyError:
            pass
        lock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
        try:  # machine-wide and released when its holder dies, so parallel harnesses never share a uid
            lock.bind(f"\0hepmini-sandbox-{uid}")
            if not _processes_of(uid):
                return uid, lock
        except OSError:
            pass
        lock.close()
    raise SandboxError(f"no free sandbox uid in {UID_BASE}..{UID_BASE + UID_SLOTS - 1}; "
                       "are other processes running as these uids?")


def _chown_tree(top: Path, uid: int, gid: int, *, owner: int, skip=(), after_run=False) -> list:
    """lchown everything under `top` owned by `owner` (never following links); return what was left out.

    Before a run, hard-linked files stay as they are (the other link might be a system file). After it,
    FIFOs and sockets are removed: a FIFO named like an expected output would hang whoever opens it next.
    """
    skipped, paths = [], [str(top)]
    for dirpath, dirnames, filenames in os.walk(top):
        dirnames[:] = [d for d in dirnames if os.path.join(dirpath, d) not in skip]
        paths += [os.path.join(dirpath, n) for n in dirnames + filenames]
    for path in paths:
        st = os.lstat(path)
        if path in skip or st.st_uid != owner:
            continue
        if after_run and (stat.S_ISFIFO(st.st_mode) or stat.S_ISSOCK(st.st_mode)):
            os.unlink(path)
            skipped.append(path)
        elif not after_run and stat.S_ISREG(st.st_mode) and st.st_nlink > 1:
            skipped.append(path)
        else:
            os.chown(path, uid, gid, follow_symlinks=False)
    return skipped


def _supervise(proc, limits: Limits, fds) -> str:
    """Wait for the child; SIGKILL its group at the wall-clock or output limit and return which one."""
    deadline = time.monotonic() + limits.wall_seconds
    while True:
        try:
            proc.wait(timeout=POLL_SECONDS)
            return ""
        except subprocess.TimeoutExpired:
            pass
        # Output is capped by polling the log sizes: between two polls a fast writer adds at most
        # POLL_SECONDS of disk bandwidth; the log is cut back afterwards, and RLIMIT_FSIZE is the hard cap.
        reason = ("wall-clock timeout" if time.monotonic() > deadline else "output limit"
                  if any(os.fstat(fd).st_size > limits.output_bytes for fd in fds) else "")
        if reason:
            _killpg(proc.pid)
            proc.wait()
            return reason


def _killpg(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _processes_of(uid: int) -> list:
    """(pid, ppid, state) of every process whose real uid is `uid`."""
    found = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/status", "rb") as fh:
                text = fh.read()
        except OSError:  # the process just ended
            continue
        if int(_field(text, b"Uid")) == uid:  # the real uid: the first of four
            found.append((int(entry.name), int(_field(text, b"PPid")), _field(text, b"State").decode()))
    return found


def _field(status: bytes, name: bytes) -> bytes:
    return status.split(b"\n" + name + b":", 1)[1].split(None, 1)[0]


def _kill_uid(uid: int, patience: float = 5.0) -> list:
    """SIGKILL every process of `uid` and reap the zombies left to us; return the pids still there."""
    end = time.monotonic() + patience
    while procs := _processes_of(uid):
        for pid, ppid, state in procs:
            try:
                if state != "Z":
                    os.kill(pid, signal.SIGKILL)
                elif ppid == os.getpid():
                    os.waitpid(pid, os.WNOHANG)
            except (ProcessLookupError, ChildProcessError):
                pass
        if time.monotonic() > end:
            return [pid for pid, _, _ in procs]
        time.sleep(0.005)
    return []


def _excerpt(fd: int, size: int, limits: Limits) -> str:
    """Cut the log at output_bytes and return its head and tail for the prompt, marking the cuts."""
    note = ""
    if size > limits.output_bytes:
        os.ftruncate(fd, limits.output_bytes)
        note = f"\n[output limit: stream cut at {limits.output_bytes} of {size}+ bytes written; process killed]"
        size = limits.output_bytes
    half = limits.prompt_chars // 2
    if size <= 2 * half:
        return os.pread(fd, size, 0).decode("utf-8", "replace") + note
    head, tail = os.pread(fd, half, 0), os.pread(fd, half, size - half)
    return (head.decode("utf-8", "replace") + f"\n[... {size - 2 * half} bytes cut ...]\n"
            + tail.decode("utf-8", "replace") + note)


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:  # real-time signals have no name
        return f"signal {number}"


def _limit_reason(rc: int, stderr_tail: str) -> str:
    """Name the limit that ended a run from its exit signal or its last error message."""
    if rc == -signal.SIGXCPU:
        return "cpu limit"
    if rc == -signal.SIGXFSZ:
        return "file size limit"
    if rc == -signal.SIGKILL:
        return "killed by SIGKILL from outside the sandbox (out of memory?)"
    lines = stderr_tail.strip().splitlines()
    last = lines[-1] if rc and lines else ""
    return next((reason for needle, reason in LIMIT_HINTS if needle in last), "")


def _diff(before: dict, after: dict) -> list:
    """'PATH (created|deleted|modified)' for every fingerprint that differs."""
    changed = []
    for path in sorted(set(before) | set(after)):
        old, new = before.get(path, "missing"), after.get(path, "missing")
        if old != new:
            kind = "created" if old == "missing" else "deleted" if new == "missing" else "modified"
            changed.append(f"{path} ({kind})")
    return changed


def _snapshot(paths, skip_pycache: bool) -> dict:
    """Fingerprint every entry under `paths`: sha256 up to HASH_LIMIT, else size + mtime + inode.

    `skip_pycache`: the harness itself may write bytecode there during a run; the sandbox uid cannot.
    """
    prints, stack = {}, list(paths)
    while stack:
        path = stack.pop()
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            prints[path] = "missing"
            continue
        if stat.S_ISDIR(st.st_mode):
            prints[path] = f"dir {st.st_mode:o}"
            stack += [os.path.join(path, name) for name in os.listdir(path)
                      if not (skip_pycache and name == "__pycache__")]
        elif stat.S_ISREG(st.st_mode):
            digest = sha256_file(path) if st.st_size <= HASH_LIMIT else f"{st.st_mtime_ns} {st.st_ino}"
            prints[path] = f"file {st.st_mode:o} {st.st_size} {digest}"
        else:
            prints[path] = f"link {os.readlink(path)}" if stat.S_ISLNK(st.st_mode) else f"other {st.st_mode:o}"
    return prints
