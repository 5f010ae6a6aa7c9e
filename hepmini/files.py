"""Atomic file writes, no-follow reads, JSONL appends, hashing and did-you-mean hints."""

import contextlib
import errno
import hashlib
import json
import os
import shutil
import stat
import tempfile
from pathlib import Path

def _tmp_path(path: Path) -> Path:
    # Same directory as the target, so os.replace is an atomic rename on one filesystem.
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.fchmod(fd, 0o644)  # mkstemp makes 0600; outputs are ordinary readable files
    os.close(fd)
    return Path(tmp)


@contextlib.contextmanager
def atomic_target(path):
    """Yield an open binary file that becomes `path` only if the block finishes without error."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _tmp_path(path)
    try:
        with open(tmp, "wb") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write_bytes(path, data: bytes) -> Path:
    """Write bytes to `path` via a temporary file and rename, so readers never see a partial file."""
    with atomic_target(path) as fh:
        fh.write(data)
    return Path(path)


def atomic_write_text(path, text: str) -> Path:
    """Write text (UTF-8) atomically."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path, obj) -> Path:
    """Write an object as indented, key-sorted JSON atomically."""
    return atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True) + "\n")


def save_npy_atomic(path, array) -> Path:
    """Save a numpy array as .npy atomically (never with pickled objects)."""
    import numpy as np

    with atomic_target(path) as fh:
        np.save(fh, np.asarray(array), allow_pickle=False)
    return Path(path)


def open_nofollow(path, flags: int, mode: int = 0o644) -> int:
    """os.open that refuses a symlink as the last component and anything but a regular file; returns the fd.

    O_NONBLOCK while opening: a FIFO planted under the name must not block the harness (it is refused).
    """
    fd = os.open(path, flags | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK, mode)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(errno.EINVAL, "not a regular file", str(path))
        os.set_blocking(fd, True)
        return fd
    except BaseException:
        os.close(fd)
        raise


def append_bytes(path, data: bytes, mode: int = 0o644) -> None:
    """Append `data` with one write call, never through a symlink or into anything but a regular file."""
    fd = open_nofollow(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, mode)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)


def write_new(path, data: bytes, mode: int = 0o444) -> Path:
    """Create `path` (which must not exist: O_EXCL never follows a link) holding `data`."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, mode)
    try:
        with open(fd, "wb", closefd=False) as fh:
            fh.write(data)
    finally:
        os.close(fd)
    return Path(path)


def copy_nofollow(src, dst, mode: int = 0o644) -> Path:
    """Copy the regular file `src` (never through a link at its last component) to a new file `dst`."""
    fd = open_nofollow(src, os.O_RDONLY)
    try:
        with open(fd, "rb", closefd=False) as fin, \
                open(os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, mode),
                     "wb") as fout:
            shutil.copyfileobj(fin, fout, 1 << 20)
    finally:
        os.close(fd)
    return Path(dst)


def append_jsonl(path, record: dict) -> None:
    """Append one JSON record as a single line; one write call, so concurrent appenders do not interleave.

    Never through a symlink: a file the harness appends to must not be redirectable by anyone else.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    append_bytes(path, (json.dumps(record, sort_keys=True, default=str) + "\n").encode("utf-8"))


def read_jsonl(path) -> list:
    """Read a JSONL file, skipping a torn last line left by a killed writer."""
    records = []
    try:
        with open(path, encoding="utf-8") as fh:
            for line in fh:
                try:
                    records.append(json.loads(line))
                except json.JSONDecodeError:
                    continue
    except FileNotFoundError:
        pass
    return records


def sha256_file(path, chunk=1 << 20) -> str:
    """Return the hex SHA-256 of a file's content."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def mtime_ns(path):
    """Return a file's st_mtime_ns, or None when it does not exist."""
    try:
        return os.stat(path).st_mtime_ns
    except (FileNotFoundError, NotADirectoryError):
        return None


def nearest(name: str, known, n: int = 1, cutoff: float = 0.6) -> list:
    """The names in `known` closest to `name` (difflib), best first.

    >>> nearest("clasifier", ["classifier", "scale", "seed"])
    ['classifier']
    """
    import difflib

    return difflib.get_close_matches(str(name), list(known), n=n, cutoff=cutoff)


def did_you_mean(name: str, known, otherwise: str = "") -> str:
    """' (did you mean X?)' for the closest known name, else `otherwise`.

    >>> did_you_mean("categorise", ["categorize", "classify"]), did_you_mean("zz", ["a"], "; known: a")
    (' (did you mean categorize?)', '; known: a')
    """
    close = nearest(name, known)
    return f" (did you mean {close[0]}?)" if close else otherwise
