"""The sandbox's process and file helpers: a uid per run, killing by uid, output pumping, fingerprints."""

import grp
import os
import pwd
import select
import signal
import socket
import stat
import time

from hepmini.errors import SandboxError
from hepmini.files import sha256_file

UID_BASE, UID_SLOTS = 61000, 64         # one uid per concurrent run, so kill-by-uid hits only that run
HASH_LIMIT = 200 * 2**20                # larger protected files are compared by size + mtime + inode


def claim_uid() -> tuple:
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
            if not processes_of(uid):
                return uid, lock
        except OSError:
            pass
        lock.close()
    raise SandboxError(f"no free sandbox uid in {UID_BASE}..{UID_BASE + UID_SLOTS - 1}; "
                       "are other processes running as these uids?")


def processes_of(uid: int) -> list:
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


def kill_uid(uid: int, patience: float = 5.0) -> list:
    """SIGKILL every process of `uid` and reap the zombies left to us; return the pids still there."""
    end = time.monotonic() + patience
    while procs := [p for p in processes_of(uid) if p[2] != "Z" or p[1] == os.getpid()]:
        for pid, ppid, state in procs:
            try:
                if state != "Z":
                    os.kill(pid, signal.SIGKILL)
                else:
                    os.waitpid(pid, os.WNOHANG)
            except (ProcessLookupError, ChildProcessError):
                pass
        if time.monotonic() > end:
            return [pid for pid, _, _ in procs]
        time.sleep(0.005)
    return []


def killpg(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def pump(streams: dict, sizes: list, cap: int, timeout: float) -> None:
    """Move what the run wrote from its pipes into the logs (up to `cap` bytes each); drop a stream at EOF.

    `streams`: pipe fd -> (index, log fd); `sizes[index]` counts every byte received, kept or not.
    """
    if not streams:
        time.sleep(timeout)
        return
    ready, _, _ = select.select(list(streams), [], [], timeout)
    for fd in ready:
        index, log = streams[fd]
        data = os.read(fd, 1 << 16)
        if not data:
            del streams[fd]
            continue
        keep = max(0, min(len(data), cap - sizes[index]))
        if keep:
            os.write(log, data[:keep])
        sizes[index] += len(data)


def receive_fd(sock):
    """The scratch's directory fd the sandbox's init sent, or None."""
    sock.setblocking(False)
    try:
        _, fds, _, _ = socket.recv_fds(sock, 1, 1)
    except (BlockingIOError, OSError):
        return None
    return fds[0] if fds else None


def excerpt(fd: int, size: int, limits) -> str:
    """Head and tail of a log for the prompt, marking the cuts; `size` counts what was written, kept or not."""
    note = ""
    if size > limits.output_bytes:
        note = f"\n[output limit: stream cut at {limits.output_bytes} of {size}+ bytes written; process killed]"
        size = limits.output_bytes
    half = limits.prompt_chars // 2
    if size <= 2 * half:
        return os.pread(fd, size, 0).decode("utf-8", "replace") + note
    head, tail = os.pread(fd, half, 0), os.pread(fd, half, size - half)
    return (head.decode("utf-8", "replace") + f"\n[... {size - 2 * half} bytes cut ...]\n"
            + tail.decode("utf-8", "replace") + note)


def diff(before: dict, after: dict) -> list:
    """'PATH (created|deleted|modified)' for every fingerprint that differs."""
    changed = []
    for path in sorted(set(before) | set(after)):
        old, new = before.get(path, "missing"), after.get(path, "missing")
        if old != new:
            kind = "created" if old == "missing" else "deleted" if new == "missing" else "modified"
            changed.append(f"{path} ({kind})")
    return changed


def snapshot(paths, skip_pycache: bool) -> dict:
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
