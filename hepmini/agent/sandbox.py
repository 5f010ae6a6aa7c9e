"""Run one generated Python file in a contained subprocess, and report what it did and what was applied.

`run_python` plans a run, starts the wrapper in `sandbox_child.py` (which applies the measures to
itself and execs `sys.executable script`), supervises it, and finishes: it kills what is left,
copies the outputs out and cleans up. The measures, each recorded in `ExecResult.isolation`:

- two territories: the run writes only its scratch, a size-capped tmpfs that is its cwd (HOME,
  TMPDIR and /dev/shm inside it); the harness's files (script, logs, evidence) live where the run
  cannot write, and the run's stdout/stderr reach the logs through pipes the harness reads. The
  outputs come out only through hepmini.agent.copyout (no link ever followed; links, devices, FIFOs,
  sockets and hard links are tampering);
- a minimal root (hepmini.agent.sandbox_root): only the system directories, the Python runtime, the
  hepmini package and the trial's inputs, read-only; no checkout, no other workdir, nothing of /tmp;
- new user (not root), mount, network (only a loopback that is down), PID (the run sees only its
  own processes, and all die with its init), IPC and UTS namespaces, when the kernel allows them;
- a cgroup per run (hepmini.agent.cgroups): memory, processes and CPU for the whole run; a run's
  CPU time is also polled and cut at `cpu_seconds`; out-of-memory kills are told from other SIGKILLs;
- rlimits per process: address space, CPU, file size, open files, processes, no core dumps;
  no_new_privs; PDEATHSIG (the wrapper dies with the harness);
- an environment from an allowlist: API keys, proxies and credentials never reach the code;
- no kernel keyrings (hepmini.agent.sandbox_keys): a new session keyring, the run uid's keyrings
  cleared, and a seccomp filter that makes the keyring system calls fail;
- as root, a uid/gid of its own (61000+, in no passwd entry, no groups) that owns nothing but the scratch;
- a wall-clock limit and an output limit that kill the whole run; protected paths fingerprinted
  before and after (differences are reported in `tampered`).
"""

import dataclasses
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Mapping, Optional, Sequence

from hepmini.agent import cgroups, copyout, sandbox_root
from hepmini.agent.sandbox_child import read_report
from hepmini.agent.sandbox_proc import (claim_uid, excerpt, kill_uid, killpg, processes_of, pump, receive_fd,
                                        snapshot, diff)
from hepmini.config import ENV_ALLOWLIST
from hepmini.errors import SandboxError

WRAPPER = str(Path(__file__).with_name("sandbox_child.py"))  # run as a script, see its docstring
DEFAULT_PATH = "/usr/local/bin:/usr/bin:/bin"
POLL_SECONDS = 0.02
# a run's last error line -> the limit it suggests, and the harness's own evidence that can confirm it
# (None: RLIMIT_FSIZE and RLIMIT_NOFILE refusals leave none, and the line is taken as it is)
LIMIT_HINTS = (("MemoryError", "memory limit", "memory"), ("[Errno 27]", "file size limit", None),
               ("[Errno 24]", "open files limit", None), ("[Errno 28]", "disk limit (the scratch is full)", "disk"),
               ("[Errno 11] Resource temporarily unavailable", "process limit", "processes"))
UNTRACED = {"memory": " (a per-process RLIMIT_AS refusal leaves it no trace)",
            "processes": " (a per-uid RLIMIT_NPROC refusal leaves it no trace)"}
SCRATCH_FULL_BYTES = 2**20          # free space below which a scratch counts as full (a write larger than it failed)


@dataclasses.dataclass(frozen=True)
class Limits:
    """Resource limits of one run."""

    wall_seconds: float = 600.0
    cpu_seconds: int = 900              # per process (RLIMIT_CPU), and for the whole run where a cgroup counts it
    memory_bytes: int = 8 * 2**30       # per process (RLIMIT_AS), and the whole run with its scratch (cgroup)
    file_bytes: int = 2 * 2**30         # largest file a process may write (RLIMIT_FSIZE)
    scratch_bytes: int = 4 * 2**30      # everything the run writes (its tmpfs); also the most copied out
    scratch_files: int = 200_000        # files and directories in the scratch (tmpfs inodes)
    open_files: int = 256
    processes: int = 256                # processes of the run (pids.max) and of its uid (RLIMIT_NPROC)
    cpus: float = 0.0                   # CPUs at once (cgroup cpu.max); 0 = all
    output_bytes: int = 20 * 10**6      # kept per stream; past it the run is killed and the log cut
    prompt_chars: int = 6000            # head + tail of each stream kept for the prompt


@dataclasses.dataclass
class ExecResult:
    """What one run did and which isolation was applied; `to_dict()` is JSON-ready."""

    returncode: Optional[int]           # negative: killed by that signal
    signal: Optional[str]
    timed_out: bool
    killed_reason: str                  # the limit that ended the run, e.g. "wall-clock timeout", or ""
    seconds: float                      # from the exec of the script to its end
    overhead_seconds: float             # everything else run_python spent: wrapper, hashing, copying, cleanup
    stdout_path: str
    stderr_path: str
    stdout_bytes: int                   # bytes written before any cut
    stderr_bytes: int
    stdout_tail: str                    # head ... tail, with a marker saying how much was cut
    stderr_tail: str
    tampered: list                      # "PATH (modified|created|deleted)", "outputs/x (symbolic link -> y)"
    isolation: dict
    env_keys: list                      # names only
    outputs: list = dataclasses.field(default_factory=list)   # files copied out, relative to the scratch
    refused: list = dataclasses.field(default_factory=list)   # outputs not copied: over a cap

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


class _Run:
    """The state of one run between its phases."""

    def __init__(self, script, cwd, logs, limits):
        self.t0, self.script, self.cwd, self.logs, self.limits = time.monotonic(), script, cwd, logs, limits
        self.root, self.uid, self.lock, self.group, self.proc = os.geteuid() == 0, None, None, None, None
        self.fds, self.iso, self.sizes, self.ended, self.sock = {}, {}, [0, 0], None, None
        self.paths, self.protect, self.oom_before, self.met_before, self.scratch_full = [], [], 0, {}, None


def run_python(script: Path, cwd: Path, *, logs: Path, binds: Optional[Mapping[str, Path]] = None,
               readonly: Sequence[Path] = (), collect: Optional[tuple] = None, limits: Limits = Limits(),
               passthrough_env: Optional[Mapping[str, str]] = None, pythonpath: Sequence[Path] = (),
               protect: Sequence[Path] = (), hide: Sequence[Path] = (), args: Sequence[str] = (),
               namespaces: bool = True) -> ExecResult:
    """Run `sys.executable script *args` in the sandbox with `cwd` (its scratch) as working directory.

    `binds`: name in the scratch -> path bound there read-only (inputs, data, settings); `readonly`:
    paths visible read-only at their own place (the package); `collect`: (directory in the scratch,
    destination) copied out after the run; `hide`: directories never visible, even inside a bound one;
    `logs`: the harness's directory for the stdout/stderr logs; `namespaces=False` runs as a kernel that
    refuses them would (the fallback, for tests). Raises only SandboxError.
    """
    run = _Run(Path(script).absolute(), Path(cwd).absolute(), Path(logs).absolute(), limits)
    try:
        try:
            spec, env, before = _plan(run, dict(binds or {}), readonly, passthrough_env, pythonpath, protect, hide,
                                      args)
            spec["namespaces"] = namespaces
        except OSError as exc:  # the harness's side of the sandbox: a full disk, a missing directory
            raise SandboxError(f"cannot prepare the sandbox: {exc}") from None
        _start(run, spec, env)
        reason = _supervise(run)
        return _finish(run, reason, collect, before, env)
    finally:
        _cleanup(run)


def _plan(run: _Run, binds, readonly, passthrough, pythonpath, protect, hide, args) -> tuple:
    """Logs, the fallback scratch, uid, cgroup, environment and the wrapper's spec; nothing started yet."""
    limits, passthrough = run.limits, dict(passthrough or {})
    run.protect = sorted({str(p) for q in protect for p in (Path(q).absolute(), Path(q).resolve())})
    before = snapshot(run.protect, skip_pycache=run.root)
    _make_dir(run.logs)
    if os.lstat(run.logs).st_uid != os.geteuid():
        raise SandboxError(f"{run.logs} is not owned by the harness; remove it and retry")
    run.paths = [run.logs / f"{run.script.stem}.stdout.txt", run.logs / f"{run.script.stem}.stderr.txt"]
    for i, path in enumerate(run.paths):  # O_NOFOLLOW: nothing planted there may redirect the harness
        run.fds[f"log{i}"] = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
    if run.root:
        run.uid, run.lock = claim_uid()
    sandbox_root.fallback_scratch(str(run.cwd), binds, run.uid)
    run.group, record = cgroups.create(f"hepmini-{os.getpid()}-{run.uid or 0}-{time.monotonic_ns()}",
                                       limits.memory_bytes, limits.processes, limits.cpus)
    ops, root = sandbox_root.plan(str(run.cwd), str(run.script), binds, [str(p) for p in readonly], hide)
    run.iso.update(root, uid=run.uid, gid=run.uid, cgroup=record.get("cgroup"), limits=_limit_record(limits, record),
                   env_dropped=sorted(set(passthrough) - set(ENV_ALLOWLIST)))
    if record.get("cgroup_reason"):
        run.iso["cgroup_reason"] = record["cgroup_reason"]
    run.oom_before = cgroups.global_oom_kills()
    run.met_before = run.group.limits_met() if run.group else {}
    env = _environment(run.cwd, passthrough, pythonpath)
    rlimits = {"RLIMIT_AS": limits.memory_bytes, "RLIMIT_CPU": limits.cpu_seconds, "RLIMIT_FSIZE": limits.file_bytes,
               "RLIMIT_NOFILE": limits.open_files, "RLIMIT_CORE": 0,
               # RLIMIT_NPROC counts every process of the real uid: a shared uid needs headroom.
               "RLIMIT_NPROC": limits.processes + (0 if run.root else len(processes_of(os.getuid())))}
    scratch = (f"size={limits.scratch_bytes},nr_inodes={limits.scratch_files},mode=0700")
    spec = {"uid": run.uid, "caller": [os.getuid(), os.getgid()], "rlimits": rlimits, "ops": ops,
            "cgroup_procs": run.group.procs_files() if run.group else [], "stage": os.path.realpath("/tmp"),
            "scratch_options": scratch, "scratch_dirs": [["outputs", 0o755], *map(list, sandbox_root.SCRATCH_DIRS)],
            # without a mount namespace the run's uid must reach these where they are, or the code stays root
            "unreachable": sandbox_root.unreachable([sys.executable, *sandbox_root.python_paths(), str(run.cwd),
                                                     str(run.script), *(os.path.join(run.cwd, str(a)) for a in args)]),
            "cwd": str(run.cwd), "argv": [sys.executable, str(run.script), *map(str, args)]}
    return spec, env, before


def _limit_record(limits: Limits, cgroup: dict) -> dict:
    """Which mechanism bounds what, for result.json."""
    return {"memory": cgroup.get("memory", f"{limits.memory_bytes} bytes per process (RLIMIT_AS): no cgroup"),
            "processes": cgroup.get("pids", f"{limits.processes} processes of the uid (RLIMIT_NPROC): no cgroup"),
            "cpu": cgroup.get("cpu", "no cgroup") + f"; {limits.cpu_seconds} CPU seconds per process (RLIMIT_CPU)"
                   + (" and for the whole run (cgroup usage)" if cgroup.get("cgroup") else ""),
            "disk": f"{limits.scratch_bytes} bytes and {limits.scratch_files} files in the scratch (tmpfs); "
                    f"{limits.file_bytes} bytes per file (RLIMIT_FSIZE)"}


def _start(run: _Run, spec: dict, env: dict) -> None:
    """Start the wrapper with pipes for its output and status, and a socket for the scratch's fd."""
    import socket

    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    status_r, status_w = os.pipe()
    mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    run.fds.update(out=out_r, err=err_r, status=status_r)
    run.sock = mine
    spec.update(status_fd=status_w, fd_sock=theirs.fileno())
    import marshal

    try:
        run.proc = subprocess.Popen([sys.executable, "-I", "-S", WRAPPER, marshal.dumps(spec).hex()],
                                    cwd="/", env=env, stdin=subprocess.DEVNULL, stdout=out_w, stderr=err_w,
                                    start_new_session=True, pass_fds=(status_w, theirs.fileno()))
    except OSError as exc:
        raise SandboxError(f"cannot start the sandbox: {exc}") from None
    finally:
        for fd in (out_w, err_w, status_w):
            os.close(fd)
        theirs.close()


def _supervise(run: _Run) -> str:
    """Pump the output into the logs until the run ends; kill it at a limit and return which one, or ''."""
    limits, reason, grace, next_cpu = run.limits, "", None, 0.0
    deadline = run.t0 + limits.wall_seconds
    streams = {run.fds["out"]: (0, run.fds["log0"]), run.fds["err"]: (1, run.fds["log1"])}
    while True:
        pump(streams, run.sizes, limits.output_bytes, POLL_SECONDS)
        now = time.monotonic()
        if run.ended is None and run.proc.poll() is not None:
            run.ended, grace = now, now + 1.0
            _kill_run(run)      # whatever still holds the pipes (a daemon without a PID namespace) ends with it
        if run.ended is not None and (not streams or now > grace):
            return reason
        if reason:
            continue
        if now > deadline:
            reason = "wall-clock timeout"
        elif max(run.sizes) > limits.output_bytes:
            reason = "output limit"
        elif run.group and now > next_cpu:  # the CPU time of every process of the run, read 5 times a second
            next_cpu = now + 0.2
            reason = "cpu limit" if run.group.cpu_seconds() > limits.cpu_seconds else ""
        if reason:
            _kill_run(run)
            run.proc.wait()
            run.ended = time.monotonic()
            grace = run.ended + 1.0


def _kill_run(run: _Run) -> None:
    """SIGKILL the whole run: its process group, its cgroup, and (as root) every process of its uid."""
    killpg(run.proc.pid)
    left = run.group.kill() if run.group else []   # with a PID namespace the kernel has killed the rest already
    run.iso["leftover_pids"] = sorted(set(left) | set(kill_uid(run.uid) if run.root else []))


def _finish(run: _Run, reason: str, collect, before, env) -> ExecResult:
    """Read the report, copy the outputs out, name the end of the run, and build the result."""
    _kill_run(run)
    iso = run.iso
    iso.update(read_report(run.fds["status"]))
    if "error" in iso or "exec_at" not in iso:
        tails = [excerpt(run.fds[f"log{i}"], run.sizes[i], run.limits) for i in (0, 1)]
        raise SandboxError(iso.get("error") or f"the sandbox wrapper failed (exit {run.proc.returncode}): "
                                               f"{tails[1][-800:]}")
    scratch = receive_fd(run.sock) if iso.get("mountns") else None
    if iso.get("mountns") and scratch is None:  # init sends it before the script starts: cannot happen
        iso["scratch_lost"] = "the sandbox did not hand the scratch over: no outputs were copied"
    copied = copyout.Copied()
    try:
        if not iso.get("mountns"):
            scratch = copyout.open_dir(run.cwd)
            iso.update(hidden=[], masked=[], readonly=[], bound=[], root="host (no mount namespace)",
                       hidden_reason="no mount namespace: the run saw the machine's files as its uid may")
            iso["limits"]["disk"] = f"{run.limits.file_bytes} bytes per file (RLIMIT_FSIZE) only: no scratch tmpfs"
        if iso.get("mountns") and scratch is not None:  # the run's tmpfs, as the run left it
            st = os.fstatvfs(scratch)
            run.scratch_full = st.f_bavail * st.f_frsize < SCRATCH_FULL_BYTES or st.f_favail == 0
        if collect and scratch is not None:
            copied = copyout.copy_outputs(scratch, collect[0], Path(collect[1]), max_bytes=run.limits.scratch_bytes)
    finally:
        if scratch is not None:
            os.close(scratch)
    iso["kill_scope"] = _kill_scope(run, iso)
    status = iso.pop("status", None)
    rc = (-status[1] if status[0] == "signal" else status[1]) if status else -signal.SIGKILL
    tails = [excerpt(run.fds[f"log{i}"], run.sizes[i], run.limits) for i in (0, 1)]
    reason = reason or _limit_reason(run, rc, tails[1])
    seconds = run.ended - iso.pop("exec_at")
    return ExecResult(rc, _signal_name(-rc) if rc < 0 else None, reason == "wall-clock timeout", reason,
                      round(seconds, 3), round(time.monotonic() - run.t0 - seconds, 3), str(run.paths[0]),
                      str(run.paths[1]), run.sizes[0], run.sizes[1], tails[0], tails[1],
                      diff(before, snapshot(run.protect, skip_pycache=run.root)) + copied.tampered, iso,
                      sorted(env), copied.files, copied.refused)


def _kill_scope(run: _Run, iso: dict) -> str:
    scope = ["process group"] + (["PID namespace"] if iso.get("pidns") else []) + (["cgroup"] if run.group else [])
    if run.root and iso.get("uid_dropped"):
        scope.append(f"every process of uid {run.uid}")
    elif run.root:
        scope.append("(the code ran as root: escaped daemons of root survive)")
    elif not iso.get("pidns") and not run.group:
        scope.append("(not root, no PID namespace: escaped daemons of the caller's uid survive)")
    return " + ".join(scope)


def _cleanup(run: _Run) -> None:
    """Close everything, release the uid, remove the cgroup and the fallback scratch; never raises."""
    if run.proc is not None and run.proc.poll() is None:
        killpg(run.proc.pid)
        run.proc.wait()
    for fd in run.fds.values():
        os.close(fd)
    if run.sock is not None:
        run.sock.close()
    if run.group:
        run.iso["cgroup_left"] = run.group.remove()
    try:
        copyout.remove_tree(run.cwd)
    except OSError as exc:  # e.g. a mount still busy: the next run of this trial clears it first
        run.iso["scratch_left"] = f"{run.cwd}: {exc}"
    if run.lock is not None:
        run.lock.close()


def _environment(cwd: Path, passthrough: Mapping, pythonpath) -> dict:
    """The child's whole environment: allowlisted variables plus HOME/TMPDIR inside the scratch."""
    env = {k: str(passthrough[k]) for k in ENV_ALLOWLIST if k in passthrough}
    env.setdefault("PATH", DEFAULT_PATH)
    env.update(HOME=str(cwd / sandbox_root.SANDBOX / "home"), TMPDIR=str(cwd / sandbox_root.SANDBOX / "tmp"),
               PYTHONDONTWRITEBYTECODE="1", PYTHONNOUSERSITE="1", PYTHONUNBUFFERED="1",  # prints survive a kill
               MPLBACKEND="Agg")
    if pythonpath:
        env["PYTHONPATH"] = os.pathsep.join(str(Path(p).absolute()) for p in pythonpath)
    return env


def _make_dir(path: Path) -> Path:
    """mkdir that first removes a symlink planted there."""
    if os.path.islink(path):
        os.unlink(path)
    path.mkdir(parents=True, exist_ok=True)
    return path


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:  # real-time signals have no name
        return f"signal {number}"


def _limit_reason(run: _Run, rc: int, stderr_tail: str) -> str:
    """Name the limit that ended a run: the cgroup's OOM count, its exit signal, or its last error line if confirmed."""
    ooms = run.group.oom_kills() if run.group else 0
    run.iso["oom_kills"] = ooms
    if ooms and rc != 0:
        return "out of memory: the run passed its memory limit and the kernel killed a process"
    if rc == -signal.SIGXCPU:
        return "cpu limit"
    if rc == -signal.SIGXFSZ:
        return "file size limit"
    if rc == -signal.SIGKILL:
        if cgroups.global_oom_kills() > run.oom_before:
            return "killed by SIGKILL while the kernel's OOM killer ran (out of memory?)"
        return "killed by SIGKILL, not by a limit of hepmini's and not for memory (the code itself, or the machine)"
    lines = stderr_tail.strip().splitlines()
    last = lines[-1] if rc and lines else ""
    reason, kind = next(((reason, kind) for needle, reason, kind in LIMIT_HINTS if needle in last), ("", None))
    seen = _limit_seen(run, kind) if reason and kind else True
    if seen is None:  # nothing of the harness's could confirm it here: the claim is the run's
        return f"{reason} (per the run's own last error line: {_limit_unseen(kind)})"
    if not seen:
        run.iso["limit_hint"] = (f"the run's last error line suggests the {reason}, which the harness did not see "
                                 f"reached{UNTRACED.get(kind, '')}")
        return ""
    return reason


def _limit_seen(run: _Run, kind: str):
    """Whether the harness saw the run meet its `kind` limit: True, False, or None when it cannot know."""
    if kind == "disk":
        return run.scratch_full
    if run.group is None:
        return None
    return run.group.limits_met()[kind] > run.met_before.get(kind, 0)


def _limit_unseen(kind: str) -> str:
    return "no scratch tmpfs to check" if kind == "disk" else "no cgroup to count it"
