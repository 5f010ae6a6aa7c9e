"""One control group per run: memory, processes and CPU counted for the whole run, not per process.

cgroup v2 is used where this process may make child groups with the memory and pids controllers;
else the v1 memory, pids, cpu and cpuacct hierarchies (as root); else none, and the sandbox keeps
to rlimits (per process). `create` says which, and why not the better one, for result.json. The
wrapper joins the run's groups itself (it writes its pid into each `cgroup.procs` before anything
else), so every process of the run is counted from its first instruction.
"""

import os
import signal
import time
from pathlib import Path

PERIOD_US = 100_000
V1 = ("memory", "pids", "cpu", "cpuacct")


def _mounts() -> list:
    """(fstype, super options, mount root, mount point) of every cgroup mount."""
    found = []
    with open("/proc/self/mountinfo", encoding="utf-8") as fh:
        for line in fh:
            parts = line.split()
            sep = parts.index("-")
            if parts[sep + 1] in ("cgroup", "cgroup2"):
                point = parts[4].encode().decode("unicode_escape")  # mountinfo escapes spaces as \040
                found.append((parts[sep + 1], set(parts[sep + 3].split(",")), parts[3], point))
    return found


def _own_paths() -> dict:
    """{controller or "" (v2): this process's cgroup path} from /proc/self/cgroup."""
    paths = {}
    with open("/proc/self/cgroup", encoding="utf-8") as fh:
        for line in fh:
            _, controllers, path = line.rstrip("\n").split(":", 2)
            for name in controllers.split(",") if controllers else [""]:
                paths[name] = path
    return paths


def _join(point: str, root: str, path: str) -> Path:
    rel = path[len(root):] if root != "/" and path.startswith(root) else path
    return Path(point + rel.rstrip("/")) if rel != "/" else Path(point)


def _write(path: Path, value) -> None:
    with open(path, "w", encoding="ascii") as fh:
        fh.write(str(value))


def _read_key(path: Path, key: str) -> int:
    """The value of `key` in a flat-keyed cgroup file (memory.events, cpu.stat, memory.oom_control)."""
    try:
        with open(path, encoding="ascii") as fh:
            for line in fh:
                name, _, value = line.partition(" ")
                if name == key:
                    return int(value)
    except OSError:
        pass
    return 0


class RunGroup:
    """The control group(s) of one run: v2 (one directory) or v1 (one per hierarchy)."""

    def __init__(self, version: int, dirs: dict):
        self.version, self.dirs = version, dirs

    def procs_files(self) -> list:
        return sorted({str(d / "cgroup.procs") for d in self.dirs.values()})

    def cpu_seconds(self) -> float:
        if self.version == 2:
            return _read_key(self.dirs[""] / "cpu.stat", "usage_usec") / 1e6
        try:
            return int((self.dirs["cpuacct"] / "cpuacct.usage").read_text()) / 1e9
        except (KeyError, OSError, ValueError):
            return 0.0

    def oom_kills(self) -> int:
        if self.version == 2:
            return _read_key(self.dirs[""] / "memory.events", "oom_kill")
        return _read_key(self.dirs["memory"] / "memory.oom_control", "oom_kill")

    def limits_met(self) -> dict:
        """The kernel's counts of this group meeting its limits: memory (at the limit, OOM kills), forks refused."""
        if self.version == 2:
            memory = _read_key(self.dirs[""] / "memory.events", "max") + self.oom_kills()
            return {"memory": memory, "processes": _read_key(self.dirs[""] / "pids.events", "max")}
        try:
            failed = int((self.dirs["memory"] / "memory.failcnt").read_text())
        except (OSError, ValueError):
            failed = 0
        return {"memory": failed + self.oom_kills(), "processes": _read_key(self.dirs["pids"] / "pids.events", "max")}

    def memory_peak(self):
        name = "memory.peak" if self.version == 2 else "memory.max_usage_in_bytes"
        try:
            return int((self.dirs["" if self.version == 2 else "memory"] / name).read_text())
        except (OSError, ValueError):
            return None

    def pids(self) -> list:
        seen = set()
        for d in self.dirs.values():
            try:
                seen.update(int(p) for p in (d / "cgroup.procs").read_text().split())
            except OSError:
                pass
        return sorted(seen)

    def kill(self, patience: float = 5.0) -> list:
        """SIGKILL every process in the group until none is left; return those that outlived `patience`."""
        if self.version == 2 and (self.dirs[""] / "cgroup.kill").exists():
            _write(self.dirs[""] / "cgroup.kill", 1)
        end = time.monotonic() + patience
        while pids := self.pids():
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            if time.monotonic() > end:
                return pids
            time.sleep(0.005)
        return []

    def remove(self) -> list:
        """Remove the group's directories (empty by now); return those that could not be removed."""
        left = []
        for d in sorted(set(self.dirs.values()), reverse=True):
            for _ in range(200):  # exiting processes leave the group a moment after their death
                try:
                    os.rmdir(d)
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.01)
            else:
                left.append(str(d))
        return left


def create(name: str, memory_bytes: int, processes: int, cpus: float) -> tuple:
    """(RunGroup or None, record): a new group limited to these values, v2 first, then v1."""
    mounts, own = _mounts(), _own_paths()
    v2 = next(((root, point) for kind, _, root, point in mounts if kind == "cgroup2"), None)
    reasons = []
    if v2 and "" in own:
        try:
            return _create_v2(_join(v2[1], v2[0], own[""]), name, memory_bytes, processes, cpus)
        except OSError as exc:
            reasons.append(f"cgroup v2: {exc.strerror or exc} ({getattr(exc, 'filename', '') or v2[1]})")
    else:
        reasons.append("cgroup v2: not mounted")
    try:
        return _create_v1(mounts, own, name, memory_bytes, processes, cpus)
    except OSError as exc:
        reasons.append(f"cgroup v1: {exc.strerror or exc} ({getattr(exc, 'filename', '') or 'no mount'})")
    return None, {"cgroup": None, "cgroup_reason": "; ".join(reasons) + ": limits are per process (rlimits); "
                  "run hepmini as root, or in a cgroup v2 subtree delegated to you with the memory and pids "
                  "controllers (systemd-run --user --scope -p Delegate=yes ...)"}


def _sweep(parent: Path) -> None:
    """Remove the empty groups of runs whose harness died before it could (named hepmini-<pid>-...)."""
    try:
        for entry in os.scandir(parent):
            pid = entry.name.split("-")[1] if entry.name.startswith("hepmini-") else ""
            if pid.isdigit() and entry.is_dir(follow_symlinks=False) and not os.path.exists(f"/proc/{pid}"):
                try:
                    os.rmdir(entry.path)
                except OSError:  # still holds a process: left alone
                    pass
    except OSError:
        pass


def _create_v2(base: Path, name: str, memory_bytes: int, processes: int, cpus: float) -> tuple:
    available = set((base / "cgroup.controllers").read_text().split())
    if not {"memory", "pids"} <= available:
        raise OSError(0, f"the memory and pids controllers are not available to {base}", str(base))
    enabled = set((base / "cgroup.subtree_control").read_text().split())
    wanted = {"memory", "pids"} | ({"cpu"} & available)
    if not wanted <= enabled:  # EBUSY when this group holds processes itself (cgroup v2's no-internal-process rule)
        _write(base / "cgroup.subtree_control", " ".join(f"+{c}" for c in sorted(wanted - enabled)))
    _sweep(base)
    group = base / name
    group.mkdir(mode=0o755)
    run = RunGroup(2, {"": group})
    try:
        _write(group / "memory.max", memory_bytes)
        if (group / "memory.swap.max").exists():
            _write(group / "memory.swap.max", 0)
        _write(group / "pids.max", processes)
        if (group / "cpu.max").exists():
            _write(group / "cpu.max", f"{int(cpus * PERIOD_US)} {PERIOD_US}" if cpus > 0 else f"max {PERIOD_US}")
    except OSError:
        run.remove()
        raise
    return run, {"cgroup": f"v2 {group}", "memory": f"{memory_bytes} bytes for the whole run (memory.max)",
                 "pids": f"{processes} processes (pids.max)",
                 "cpu": f"{cpus:g} CPUs (cpu.max)" if cpus > 0 else "all CPUs (cpu.max max)"}


def _create_v1(mounts, own: dict, name: str, memory_bytes: int, processes: int, cpus: float) -> tuple:
    dirs = {}
    for controller in V1:
        mount = next(((root, point) for kind, opts, root, point in mounts if kind == "cgroup" and controller in opts),
                     None)
        if mount and controller in own:
            dirs[controller] = _join(mount[1], mount[0], own[controller]) / name
        elif controller in ("memory", "pids"):
            raise OSError(0, f"no v1 {controller} hierarchy", "")
    run = RunGroup(1, dirs)
    try:
        for d in sorted(set(dirs.values())):
            _sweep(d.parent)
            d.mkdir(mode=0o755)
        _write(dirs["memory"] / "memory.limit_in_bytes", memory_bytes)
        if (dirs["memory"] / "memory.memsw.limit_in_bytes").exists():
            _write(dirs["memory"] / "memory.memsw.limit_in_bytes", memory_bytes)  # no way round it through swap
        _write(dirs["pids"] / "pids.max", processes)
        if "cpu" in dirs and cpus > 0:
            _write(dirs["cpu"] / "cpu.cfs_period_us", PERIOD_US)
            _write(dirs["cpu"] / "cpu.cfs_quota_us", int(cpus * PERIOD_US))
    except OSError:
        run.remove()
        raise
    return run, {"cgroup": f"v1 {dirs['memory']}",
                 "memory": f"{memory_bytes} bytes for the whole run (memory.limit_in_bytes)",
                 "pids": f"{processes} processes (pids.max)",
                 "cpu": f"{cpus:g} CPUs (cpu.cfs_quota_us)" if cpus > 0 and "cpu" in dirs else "all CPUs"}


def global_oom_kills() -> int:
    """The machine's count of out-of-memory kills (/proc/vmstat), for runs without a memory cgroup."""
    return _read_key(Path("/proc/vmstat"), "oom_kill")
