"""Staging directories of the DAG runner: one per running step, owned by a lock, swept when orphaned.

A step runs in WORKDIR/.hepmini/staging/<step>-<pid>-<thread>/ while its runner holds an flock on
<that name>.lock beside it. The kernel drops the lock when the runner dies (kill -9 included), so the
next run removes every directory whose lock nobody holds. A directory without a lock file (made before
the locks) is removed only when no process with the pid in its name is alive here.
"""

import fcntl
import os
import re
import shutil
import threading
from pathlib import Path

_NAME = re.compile(r".+-(\d+)-\d+")


def _lock_of(path: Path) -> Path:
    return path.with_name(path.name + ".lock")


def claim(root: Path, name: str) -> tuple:
    """(directory, lock fd): a fresh staging directory for step `name`, owned until release()."""
    root.mkdir(parents=True, exist_ok=True)
    path = root / f"{name}-{os.getpid()}-{threading.get_ident()}"
    fd = os.open(_lock_of(path), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    fcntl.flock(fd, fcntl.LOCK_EX)       # before the directory exists: a sweep never sees it unowned
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir()
    return path, fd


def release(path: Path, fd: int) -> None:
    """Remove a staging directory and its lock file, then drop the lock."""
    shutil.rmtree(path, ignore_errors=True)
    _lock_of(path).unlink(missing_ok=True)
    os.close(fd)


def sweep(root: Path) -> list:
    """Remove the staging directories no live runner owns; [(name, bytes)] of those removed."""
    removed = []
    if not root.is_dir():
        return removed
    for path in sorted(root.iterdir()):
        if path.name.endswith(".lock"):
            if not path.with_name(path.name[:-5]).exists():
                _take(path, lambda: None)            # an orphaned lock file: its directory is gone
            continue
        if not path.is_dir() or path.is_symlink():
            continue
        size = _size(path)
        lock = _lock_of(path)
        if lock.exists():
            if _take(lock, lambda: shutil.rmtree(path, ignore_errors=True)):
                removed.append((path.name, size))
        elif _dead(path.name):
            shutil.rmtree(path, ignore_errors=True)
            removed.append((path.name, size))
    return removed


def _take(lock: Path, remove) -> bool:
    """Run `remove` and delete `lock` if nobody holds it; False when a live runner does."""
    try:
        fd = os.open(lock, os.O_RDWR | os.O_CLOEXEC)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return False
    try:
        remove()
        lock.unlink(missing_ok=True)
    finally:
        os.close(fd)
    return True


def _dead(name: str) -> bool:
    match = _NAME.fullmatch(name)
    if not match or int(match.group(1)) == os.getpid():
        return False
    try:
        os.kill(int(match.group(1)), 0)
    except ProcessLookupError:
        return True
    except PermissionError:   # alive, another user's
        return False
    return False


def _size(path: Path) -> int:
    total = 0
    for base, _, names in os.walk(path):
        for n in names:
            try:
                total += os.lstat(os.path.join(base, n)).st_size
            except OSError:
                pass
    return total
