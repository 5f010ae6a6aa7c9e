"""What a run sees: the plan of its minimal root, and the fallback scratch on disk when namespaces are refused.

The plan is a list of mount operations carried out by sandbox_child under a fresh tmpfs that becomes
the run's `/`: read-only binds of the system directories, a few files of /etc, the Python prefixes
and site-packages, the hepmini package and steps/ (never the checkout around them), the script, and
the trial's inputs; a new /proc; a /dev with five devices; the scratch tmpfs as the cwd, which also
holds HOME, TMPDIR and /dev/shm, so one size cap bounds everything the run writes. Nothing else of
the machine exists in there: no other workdir, no /root, /home, /work or /var, no /tmp content.
"""

import os
import site
import sys

from hepmini.agent.copyout import remove_tree

SYSTEM = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
ETC = ("passwd", "group", "hosts", "nsswitch.conf", "host.conf", "gai.conf", "resolv.conf", "protocols", "services",
       "localtime", "timezone", "ld.so.cache", "ld.so.conf", "ld.so.conf.d", "alternatives", "ssl", "ca-certificates",
       "pki", "mime.types", "os-release", "fonts", "matplotlibrc", "locale.alias", "debian_version")
DEVICES = ("null", "zero", "full", "random", "urandom")
DEV_LINKS = (("/proc/self/fd", "fd"), ("/proc/self/fd/0", "stdin"), ("/proc/self/fd/1", "stdout"),
             ("/proc/self/fd/2", "stderr"))
READABLE_SYS = ("/sys/devices/system/cpu",)   # thread pools size themselves from it
SANDBOX = ".sandbox"
# (path in the scratch, mode): HOME, TMPDIR and the private /dev/shm (multiprocessing needs it writable)
SCRATCH_DIRS = ((SANDBOX, 0o755), (f"{SANDBOX}/home", 0o700), (f"{SANDBOX}/tmp", 0o700), (f"{SANDBOX}/shm", 0o1777))


def under(path: str, top: str) -> bool:
    return path == top or path.startswith(top.rstrip("/") + "/")


def outermost(paths) -> list:
    """The given paths minus those lying inside another one, sorted."""
    out = []
    for path in sorted(set(map(str, paths))):  # a parent sorts before its children
        if not any(under(path, o) for o in out):
            out.append(path)
    return out


def python_paths() -> list:
    """Where this interpreter and its packages live: prefixes, site-packages, the executable's directories."""
    exe = sys.executable
    found = [sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix, os.path.dirname(exe),
             os.path.dirname(os.path.realpath(exe)), *site.getsitepackages()]
    return [p for p in found if p and os.path.isdir(p)]


def plan(cwd: str, script: str, binds: dict, readonly, hide) -> tuple:
    """(ops, record): the mount operations of the new root and what they bind, hide and protect."""
    ops, system = [], []
    for path in SYSTEM:
        if os.path.islink(path):
            ops.append(("symlink", os.readlink(path), path))
        elif os.path.isdir(path):
            ops.append(("bind", path, True, path))
            system.append(path)
    ops += [("dir", "/etc", 0o755)] + [("bind", f"/etc/{n}", True, f"/etc/{n}") for n in ETC
                                         if os.path.exists(f"/etc/{n}")]
    ops += [("tmpfs", "/dev", False)] + [("bind", f"/dev/{d}", False, f"/dev/{d}") for d in DEVICES
                                         if os.path.exists(f"/dev/{d}")]
    ops += [("symlink", target, f"/dev/{name}") for target, name in DEV_LINKS]
    ops += [("proc", "/proc"), ("dir", "/tmp", 0o755)]   # /tmp: empty and, with the whole root, read-only
    ops += [("bind", p, True, p) for p in READABLE_SYS if os.path.isdir(p)]
    wanted = [p for q in [*python_paths(), *readonly] for p in {os.path.abspath(q), os.path.realpath(q)}
              if os.path.exists(p)]
    kept = [p for p in outermost(wanted) if not any(under(p, s) for s in system)]
    hide = sorted({os.path.realpath(h) for h in hide} | {os.path.abspath(h) for h in hide})
    masks = [h for h in hide if os.path.isdir(h) and any(under(h, k) and h != k for k in kept)]
    for path in kept:
        if any(under(path, m) for m in masks):
            continue  # inside a hidden directory: hidden too
        ops.append(("bind", path, True, path))
    ops += [("tmpfs", m, True) for m in outermost(masks)]
    ops += [("bind", script, True, script), ("scratch", cwd)]
    ops += [("bind", str(src), True, f"{cwd}/{name}") for name, src in binds.items()]
    ops.append(("inner", "/dev/shm", f"{cwd}/{SANDBOX}/shm"))
    record = {"bound": kept + system, "hidden": hide, "masked": outermost(masks),
              "readonly": [f"{cwd}/{name}" for name in binds] + [p for p in outermost(readonly)]}
    return ops, record


def fallback_scratch(cwd: str, binds: dict, uid) -> None:
    """The scratch on disk for a run without a mount namespace: symlinks stand in for the binds."""
    remove_tree(cwd)
    os.mkdir(cwd, 0o700)
    os.mkdir(os.path.join(cwd, "outputs"), 0o755)
    for sub, mode in SCRATCH_DIRS:
        os.mkdir(os.path.join(cwd, sub), mode)
        os.chmod(os.path.join(cwd, sub), mode)
    for name, src in binds.items():
        os.symlink(os.path.abspath(src), os.path.join(cwd, name))
    if uid is not None:
        for sub in [".", "outputs", *(s for s, _ in SCRATCH_DIRS)]:
            os.chown(os.path.join(cwd, sub), uid, uid, follow_symlinks=False)


def unreachable(paths) -> list:
    """The first directory on the way to each path that other users cannot traverse (e.g. /root).

    A directory not made yet (a run's scratch) blocks nothing: whoever makes it decides.
    """
    blocked = set()
    for path in paths:
        parts = os.path.realpath(path).strip("/").split("/")
        for i in range(len(parts)):
            parent = "/" + "/".join(parts[:i])
            try:
                mode = os.stat(parent).st_mode
            except FileNotFoundError:
                break
            if not mode & 0o001:
                blocked.add(parent)
                break
    return sorted(blocked)
