"""Take a run's outputs out of its scratch without ever following a link, and remove a hostile tree.

The harness reads the run's territory only here. Every entry is opened relative to a directory fd
(openat) with O_NOFOLLOW, lstat'ed first and checked again after opening (same inode, a regular
file with one link), so no name the run chose can make the harness read or write anywhere else.
A symlink, device, FIFO, socket or hard link among the outputs is tampering; more bytes, entries,
depth or path length than the caps is refused (not copied), and so is an entry that cannot be read: a
hostile tree costs the run its outputs, never an error of the harness's. The walk keeps open only the
directories on its current path, so no shape of tree can exhaust the harness's descriptors. The copy is
written the same way into a directory the harness has just made, so what validation and chained steps
read is the harness's. A normal user's run keeps the harness's uid: an entry it made unreadable to its
owner gets its owner's permission back (through an O_PATH descriptor, never a name) before it is
opened, so a mode costs the run nothing that root's copy would not also take.
"""

import dataclasses
import errno
import os
import stat
from pathlib import Path

from hepmini.errors import SandboxError

MAX_DEPTH = 16              # directory levels below outputs/
MAX_REL_CHARS = 1024        # length of a copied path relative to the scratch: the copy stays far below PATH_MAX
MAX_ENTRIES = 10000         # files and directories examined
# the harness's machine, not the run's tree: a full disk, or descriptors used up by other trials (bench -j)
MACHINE_ERRNOS = (errno.ENOSPC, errno.EDQUOT, errno.EMFILE, errno.ENFILE)
MAX_LISTED = 50             # tampered or refused entries named one by one; the rest are counted
DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
KINDS = ((stat.S_ISLNK, "symbolic link"), (stat.S_ISFIFO, "FIFO"), (stat.S_ISSOCK, "socket"),
         (stat.S_ISCHR, "character device"), (stat.S_ISBLK, "block device"))


@dataclasses.dataclass
class Copied:
    """What a copy took (relative paths), what it found planted (tampered) and what it left (refused)."""

    files: list = dataclasses.field(default_factory=list)
    tampered: list = dataclasses.field(default_factory=list)
    refused: list = dataclasses.field(default_factory=list)
    bytes: int = 0
    unlisted: dict = dataclasses.field(default_factory=dict)

    def add(self, kind: str, what: str) -> None:
        """Name a tampered or refused entry, up to MAX_LISTED of each; count the others."""
        listed = getattr(self, kind)
        if len(listed) < MAX_LISTED:
            listed.append(what)
        else:
            self.unlisted[kind] = self.unlisted.get(kind, 0) + 1

    def close(self) -> "Copied":
        for kind, n in self.unlisted.items():
            getattr(self, kind).append(f"... and {n} more")
        return self


def copy_outputs(scratch_fd: int, name: str, dest: Path, *, max_bytes: int) -> Copied:
    """Copy the tree `name` under directory fd `scratch_fd` into `dest` (made anew); nothing in that tree raises."""
    out = Copied()
    remove_tree(dest)
    os.mkdir(dest, 0o755)
    _give_back(scratch_fd)
    try:
        st = os.stat(name, dir_fd=scratch_fd, follow_symlinks=False)
        if not stat.S_ISDIR(st.st_mode):
            _flag(out, name, st, scratch_fd)
            return out.close()
        top = _open(name, DIR_FLAGS, scratch_fd)
    except FileNotFoundError:
        return out
    except OSError as exc:
        out.add("refused", f"{_show(name)} (cannot be read: {exc.strerror})")
        return out.close()
    try:
        into = os.open(dest, DIR_FLAGS)
    except BaseException:
        os.close(top)
        raise
    _walk(out, top, into, name, max_bytes)
    return out.close()


def _walk(out: Copied, src: int, dst: int, name: str, max_bytes: int) -> None:
    """Depth first, with the fds of only the directories on the current path open (at most MAX_DEPTH + 1 pairs)."""
    path, seen = [], 0
    try:
        path.append((src, dst, name, 0, iter(_names(out, src, name))))
        while path:
            src, dst, rel, depth, names = path[-1]
            entry = next(names, None)
            if entry is None:
                path.pop()
                os.close(src)
                os.close(dst)
                continue
            seen += 1
            child = f"{rel}/{entry}"
            if seen > MAX_ENTRIES or len(child) > MAX_REL_CHARS:
                out.add("refused", f"{_show(child)} (over {MAX_ENTRIES} entries or {MAX_REL_CHARS} characters)")
                continue
            try:
                below = _one(out, src, dst, entry, child, depth, max_bytes)
            except OSError as exc:  # the run's tree (a mode, a name, a race of its own): its outputs, its loss
                if exc.errno in MACHINE_ERRNOS:
                    raise SandboxError(f"cannot copy the outputs out: {exc.strerror}") from None
                out.add("refused", f"{_show(child)} (cannot be copied: {exc.strerror})")
                continue
            if below is not None:
                path.append((*below, iter(_names(out, below[0], child))))
    finally:
        for src, dst, *_ in path:
            os.close(src)
            os.close(dst)


def _names(out: Copied, fd: int, rel: str) -> list:
    """The sorted names in directory `fd` (an unreadable directory is refused: no names)."""
    try:
        with os.scandir(fd) as entries:
            return sorted(e.name for e in entries)
    except OSError as exc:
        if exc.errno in MACHINE_ERRNOS:
            raise SandboxError(f"cannot copy the outputs out: {exc.strerror}") from None
        out.add("refused", f"{_show(rel)} (cannot be listed: {exc.strerror})")
        return []


def _one(out: Copied, src: int, dst: int, name: str, rel: str, depth: int, max_bytes: int):
    """Copy one entry; return (src fd, dst fd, rel, depth) for a directory to descend into."""
    st = os.stat(name, dir_fd=src, follow_symlinks=False)
    if stat.S_ISDIR(st.st_mode):
        if depth + 1 > MAX_DEPTH:
            out.add("refused", f"{_show(rel)} (deeper than {MAX_DEPTH} levels)")
            return None
        fd = _open(name, DIR_FLAGS, src)
        try:
            if os.fstat(fd).st_ino != st.st_ino:  # swapped between the lstat and the open: a live attacker
                os.close(fd)
                out.add("tampered", f"{_show(rel)} (replaced while being copied)")
                return None
            os.mkdir(name, 0o755, dir_fd=dst)
            return fd, os.open(name, DIR_FLAGS, dir_fd=dst), rel, depth + 1
        except BaseException:
            os.close(fd)
            raise
    if not stat.S_ISREG(st.st_mode) or st.st_nlink > 1:
        _flag(out, rel, st, src, name)
        return None
    if out.bytes + st.st_size > max_bytes:
        out.add("refused", f"{_show(rel)} ({st.st_size} bytes: the outputs would pass {max_bytes} bytes)")
        return None
    fd = _open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, src)
    try:
        now = os.fstat(fd)
        if (now.st_ino, now.st_dev) != (st.st_ino, st.st_dev) or not stat.S_ISREG(now.st_mode) or now.st_nlink > 1:
            out.add("tampered", f"{_show(rel)} (replaced while being copied)")
            return None
        target = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644, dir_fd=dst)
        try:
            _copy(fd, target, now.st_size)
        except BaseException:
            os.unlink(name, dir_fd=dst)  # no half copy among the outputs
            raise
        finally:
            os.close(target)
    finally:
        os.close(fd)
    out.files.append(rel)
    out.bytes += st.st_size
    return None


def _open(name: str, flags: int, dir_fd: int) -> int:
    """os.open relative to `dir_fd`; an entry the harness's uid owns but may not open gets its owner's bits back."""
    try:
        return os.open(name, flags, dir_fd=dir_fd)
    except PermissionError:
        if not _give_back_entry(name, dir_fd):
            raise
    return os.open(name, flags, dir_fd=dir_fd)


def _give_back_entry(name: str, dir_fd: int) -> bool:
    """_give_back on the entry `name` itself, held by an O_PATH descriptor (a link stays a link)."""
    try:
        path = os.open(name, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dir_fd)
    except OSError:
        return False
    try:
        return _give_back(path)
    finally:
        os.close(path)


def _give_back(fd: int) -> bool:
    """u+rwx on a directory, u+rw on a file, that the harness's uid owns (never root's case); True if changed.

    Through /proc/self/fd, as glibc's lchmod does: `fd` may be an O_PATH descriptor of the entry itself,
    so no name is followed. Only a finished run's tree comes here: nothing changes it meanwhile.
    """
    try:
        st = os.fstat(fd)
        need = 0o700 if stat.S_ISDIR(st.st_mode) else 0o600 if stat.S_ISREG(st.st_mode) else 0
        if not need or os.geteuid() == 0 or st.st_uid != os.geteuid() or st.st_mode & need == need:
            return False
        os.chmod(f"/proc/self/fd/{fd}", stat.S_IMODE(st.st_mode) | need)
        return True
    except OSError:
        return False


def _copy(src: int, dst: int, size: int) -> None:
    """Copy `size` bytes, holes kept as holes: a sparse output costs the harness no more disk than the run."""
    os.ftruncate(dst, size)
    offset = 0
    while offset < size:
        try:
            start = os.lseek(src, offset, os.SEEK_DATA)
        except OSError:  # ENXIO: only a hole is left
            return
        end = min(os.lseek(src, start, os.SEEK_HOLE), size)
        os.lseek(dst, start, os.SEEK_SET)
        while start < end:
            sent = os.sendfile(dst, src, start, min(end - start, 1 << 24))
            if sent == 0:  # the file shrank: keep what there was
                return
            start += sent
        offset = end


def _flag(out: Copied, rel: str, st, dir_fd: int, name: str = None) -> None:
    """Record a planted entry: a link (with its target), a FIFO, socket, device, hard link or a non-directory."""
    kind = next((k for test, k in KINDS if test(st.st_mode)), None)
    if kind == "symbolic link":
        kind += f" -> {_show(os.readlink(name or rel, dir_fd=dir_fd))}"
    elif kind is None and stat.S_ISREG(st.st_mode) and st.st_nlink > 1:
        kind = f"hard link: {st.st_nlink} names for one file"
    elif kind is None:
        out.add("refused", f"{_show(rel)} (a file where the outputs directory belongs)")
        return
    out.add("tampered", f"{_show(rel)} ({kind})")


def _show(text: str) -> str:
    """A name as evidence shows it: control characters escaped, long names shortened."""
    text = text.encode("unicode_escape", "backslashreplace").decode("ascii")
    return text if len(text) <= 300 else f"{text[:140]}...[{len(text) - 280} characters]...{text[-140:]}"


def open_dir(path) -> int:
    """A directory fd of `path` (its last name not followed), given back its owner's bits if the run took them."""
    parent, name = os.path.split(os.path.abspath(path))
    top = os.open(parent, DIR_FLAGS)
    try:
        return _open(name, DIR_FLAGS, top)
    finally:
        os.close(top)


def remove_tree(path: Path) -> None:
    """Delete `path` and everything under it however deep, never following a link (no recursion, no long paths)."""
    parent, name = os.path.split(os.path.abspath(path))
    try:
        st = os.stat(path, follow_symlinks=False)
    except FileNotFoundError:
        return
    if not stat.S_ISDIR(st.st_mode):
        os.unlink(path)
        return
    top = os.open(parent, DIR_FLAGS)
    try:
        _empty(top, name)
        os.rmdir(name, dir_fd=top)
    finally:
        os.close(top)


def _empty(top: int, name: str) -> None:
    """Empty directory `name` under fd `top`, walking down by openat and back up by '..' checked by inode."""
    fd = _open(name, DIR_FLAGS, top)
    trail = [os.fstat(top).st_ino]   # inodes of the directories above the current one
    try:
        while True:
            with os.scandir(fd) as entries:
                child = None
                for entry in entries:
                    if entry.is_dir(follow_symlinks=False):
                        child = entry.name
                        break
                    os.unlink(entry.name, dir_fd=fd)
            if child is not None:
                below = _open(child, DIR_FLAGS, fd)
                trail.append(os.fstat(fd).st_ino)
                os.close(fd)
                fd = below
                continue
            if len(trail) == 1:
                return
            up = os.open("..", DIR_FLAGS, dir_fd=fd)
            if os.fstat(up).st_ino != trail.pop():
                os.close(up)
                raise OSError(f"a directory under {name} moved while it was being removed")
            here = os.fstat(fd).st_ino
            os.close(fd)
            fd = up
            _rmdir_inode(fd, here)
    finally:
        os.close(fd)


def _rmdir_inode(fd: int, ino: int) -> None:
    """Remove the (now empty) subdirectory of `fd` whose inode is `ino`."""
    with os.scandir(fd) as entries:
        for entry in entries:
            if entry.is_dir(follow_symlinks=False) and entry.inode() == ino:
                os.rmdir(entry.name, dir_fd=fd)
                return
