"""Bring one URL into a `.part` file: resumable with Range requests, size-checked, retried, with progress.

An interrupted transfer resumes with `Range: bytes=N-`. The size the server announces (Content-Length,
or the total in Content-Range) must not change between attempts, and the file must reach exactly that
size. Connect errors, dropped connections, 429 and 5xx are retried with capped exponential backoff (or
the server's Retry-After); other statuses are final. Until the host has answered once, a connect
failure means this machine is offline, and that is raised at once instead of retried.

Nothing here knows what the file is: naming, checksums and content checks belong to the caller.
`requests` is imported only when a download starts.
"""

import errno
import socket
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

from hepmini.retry import RetryPolicy, server_wait
from hepmini.errors import BadStatus, FetchError, MissingData, Offline, WorkdirError

PART = ".part"
CHUNK = 1 << 20
TIMEOUT = (10.0, 60.0)            # seconds to connect, and of silence while reading
RETRIES = 8                       # failed attempts in a row (no new bytes) before a file is given up
BACKOFF_START, BACKOFF_CAP = 1.0, 60.0
MAX_RETRY_AFTER = 300.0     # a longer Retry-After is shortened to this: a download is worth the wait
POLICY = RetryPolicy(max_retries=RETRIES, initial=BACKOFF_START, cap=BACKOFF_CAP, jitter=0.0,
                     max_server_wait=MAX_RETRY_AFTER)


class _Retry(Exception):
    """A failed attempt worth repeating: `wait` overrides the backoff, `progressed` = bytes arrived."""

    def __init__(self, reason, wait=None, progressed=False):
        super().__init__(reason)
        self.wait, self.progressed = wait, progressed


class Downloader:
    """Resumable, retrying GETs through one requests session (closed on exit if it was opened here)."""

    def __init__(self, session=None, *, user_agent="hepmini", retries=RETRIES, sleep=time.sleep,
                 clock=time.monotonic, stream=None, chunk=CHUNK, timeout=TIMEOUT, interval=10.0):
        self.own = session is None
        self.session = _requests().Session() if self.own else session
        self.retries, self.sleep, self.clock, self.stream = retries, sleep, clock, stream or sys.stderr
        self.chunk, self.timeout, self.interval = chunk, timeout, interval
        # identity: byte ranges and sizes must be of the file itself, not of a gzip of it
        self.headers = {"User-Agent": user_agent, "Accept-Encoding": "identity"}
        self.reached = False   # has the host answered anything yet? Until it has, a connect failure = offline
        self.unreachable = ""  # why a size check (remote_size) could not reach the host
        self.total = None      # size announced for the current file; must not change between attempts

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.own:
            self.session.close()

    def remote_size(self, url):
        """The size a HEAD of `url` announces, or None (no size, an error, or the host unreachable)."""
        requests = _requests()
        try:
            with self.session.head(url, headers=self.headers, allow_redirects=True,
                                   timeout=self.timeout) as resp:
                self.reached = True
                length = resp.headers.get("Content-Length")
                return int(length) if resp.status_code == 200 and length and length.isdigit() else None
        except requests.exceptions.RequestException as exc:
            why = _connect_failure(exc)
            if why and not self.reached:
                self.unreachable = why
            return None

    def get(self, url: str, part: Path):
        """Bring `part` to the complete file and return the announced size (None if none); else raise."""
        self.total, failures = None, 0
        while True:
            try:
                self._attempt(url, part)
                return self.total
            except _Retry as exc:
                if exc.progressed:  # bytes arrived: the connection works, so start counting afresh
                    failures = 0
                if failures >= self.retries:
                    have = part.stat().st_size if part.exists() else 0
                    raise FetchError(f"gave up after {self.retries} retries ({exc}); run the same "
                                     f"command again to resume from byte {have}") from None
                wait = exc.wait if exc.wait is not None else POLICY.backoff(failures + 1)
                failures += 1
                self.note(f"{part.name.removesuffix(PART)}: {exc}; retry {failures}/{self.retries}"
                          + (f" in {wait:.0f} s" if wait else ""))
                if wait:
                    self.sleep(wait)

    def note(self, text):
        """Print one line of news to the progress stream."""
        print(text, file=self.stream, flush=True)

    def _attempt(self, url: str, part: Path) -> None:
        requests = _requests()
        have = part.stat().st_size if part.exists() else 0
        headers = dict(self.headers, Range=f"bytes={have}-") if have else self.headers
        try:
            resp = self.session.get(url, headers=headers, stream=True, timeout=self.timeout)
        except requests.exceptions.RequestException as exc:
            why = _connect_failure(exc)
            if why and not self.reached:
                raise Offline(f"cannot reach {urlsplit(url).hostname} ({why})") from None
            raise _Retry(_short(exc)) from None
        with resp:
            self.reached = True
            status = resp.status_code
            if status == 429 or status >= 500:
                asked = server_wait({k.lower(): v for k, v in resp.headers.items()})
                raise _Retry(f"HTTP {status} {resp.reason}", None if asked is None else min(asked, MAX_RETRY_AFTER))
            if status == 416 and have:
                total = _content_range(resp.headers.get("Content-Range", ""))[2]
                self._announce(total, part)
                if total == have:
                    return  # the part was already complete
                part.unlink()
                raise _Retry(f"the partial file ({have} bytes) does not fit the server's "
                             f"({total} bytes); starting over", wait=0)
            if status == 404:
                raise BadStatus(f"{url}: not found (HTTP 404)", status)
            if status not in (200, 206):
                raise BadStatus(f"{url}: HTTP {status} {resp.reason}", status)
            if status == 206:
                start, _, total = _content_range(resp.headers.get("Content-Range", ""))
                if start != have:
                    part.unlink()
                    raise _Retry(f"the server sent bytes {start}- for a request of bytes {have}-; "
                                 "starting over", wait=0)
                mode = "ab"
            else:
                if have:
                    self.note(f"{part.name.removesuffix(PART)}: the server ignored the byte range; "
                              f"restarting from 0 (the {have} bytes kept are discarded)")
                have, mode = 0, "wb"
                length = resp.headers.get("Content-Length", "")
                total = int(length) if length.isdigit() else None
            self._announce(total, part)
            self._stream(resp, part, mode, have)

    def _announce(self, total, part):
        if total is None:
            return
        if self.total is not None and total != self.total:
            part.unlink(missing_ok=True)
            raise FetchError(f"the server announced {self.total} bytes, then {total}: the file changed "
                             "or the server is faulty; the partial file was removed, run again")
        self.total = total

    def _stream(self, resp, part: Path, mode: str, have: int) -> None:
        import urllib3.exceptions

        try:
            fh = open(part, mode)
        except OSError as exc:
            raise WorkdirError(f"cannot write {part} ({exc.strerror or exc}); choose a writable --out") \
                from None
        name = part.name.removesuffix(PART)
        bar = _Progress(self.stream, name, have, self.total, self.clock, self.interval)
        done, too_long = have, False
        with fh:
            try:
                for block in resp.iter_content(self.chunk):
                    try:
                        fh.write(block)
                    except OSError as exc:
                        raise WorkdirError(f"cannot write {part} ({exc.strerror or exc}); free space or "
                                           "choose another --out") from None
                    done += len(block)
                    if self.total is not None and done > self.total:
                        too_long = True
                        break
                    bar.update(done)
            except (OSError, urllib3.exceptions.HTTPError) as exc:  # requests' own errors are OSErrors
                raise _Retry(f"connection dropped after {done} bytes ({_short(exc)})",
                             progressed=done > have) from None
            finally:
                bar.close(done)
        if too_long:
            part.unlink()
            raise FetchError(f"the server sent more than the {self.total} bytes it announced; the partial "
                             "file was removed")
        if self.total is not None and done < self.total:
            raise _Retry(f"the transfer stopped at {done} of {self.total} bytes", progressed=done > have)


# ---- progress ---------------------------------------------------------------------------------------


class _Progress:
    """One line per file: bytes, %, rate, ETA; redrawn with \\r on a terminal, else every `interval` s."""

    def __init__(self, stream, name, start, total, clock, interval):
        self.stream, self.name, self.start, self.total, self.clock = stream, name, start, total, clock
        self.tty = bool(getattr(stream, "isatty", lambda: False)())
        self.interval = 0.2 if self.tty else interval
        self.t0 = self.last = clock()

    def line(self, done) -> str:
        elapsed = max(self.clock() - self.t0, 1e-9)
        rate = (done - self.start) / elapsed
        text = f"{self.name}  {human_size(done)}"
        if self.total:
            text += f" of {human_size(self.total)}  {100.0 * done / self.total:5.1f}%"
        text += f"  {human_size(rate)}/s"
        if self.total and rate > 0 and done < self.total:
            text += f"  ETA {_duration((self.total - done) / rate)}"
        return text

    def update(self, done):
        now = self.clock()
        if now - self.last >= self.interval:
            self.last = now
            self._write(self.line(done))

    def close(self, done):
        self._write(self.line(done))
        if self.tty:
            self.stream.write("\n")
            self.stream.flush()

    def _write(self, text):
        if self.tty:
            self.stream.write("\r" + text.ljust(78))
        else:
            self.stream.write(text + "\n")
        self.stream.flush()


def human_size(n) -> str:
    """Human-readable byte count.

    >>> human_size(999), human_size(123456), human_size(1.5e9)
    ('999 B', '123.5 kB', '1.50 GB')
    """
    for unit, scale, fmt in (("GB", 1e9, "{:.2f}"), ("MB", 1e6, "{:.1f}"), ("kB", 1e3, "{:.1f}")):
        if n >= scale:
            return fmt.format(n / scale) + " " + unit
    return f"{int(n)} B"


def _duration(seconds) -> str:
    """h:mm:ss or m:ss.

    >>> _duration(75), _duration(3725.2)
    ('1:15', '1:02:05')
    """
    s = int(round(seconds))
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"


# ---- HTTP details -----------------------------------------------------------------------------------
def _content_range(value: str):
    """(start, end, total) of a Content-Range header; None where it says '*' or is absent.

    >>> _content_range("bytes 100-199/1000"), _content_range("bytes */1000"), _content_range("")
    ((100, 199, 1000), (None, None, 1000), (None, None, None))
    """
    unit, _, spec = value.strip().partition(" ")
    if unit.lower() != "bytes" or "/" not in spec:
        return None, None, None
    span, _, total = spec.partition("/")
    start = end = None
    if "-" in span:
        a, _, b = span.partition("-")
        if a.strip().isdigit() and b.strip().isdigit():
            start, end = int(a), int(b)
    return start, end, int(total) if total.strip().isdigit() else None


def _connect_failure(exc):
    """Why a request never got a connection (DNS, refused, unreachable, timeout), or None."""
    requests = _requests()
    seen, todo = set(), [exc]
    kinds = []
    while todo:
        e = todo.pop()
        if e is None or id(e) in seen or not isinstance(e, BaseException):
            continue
        seen.add(id(e))
        kinds.append(e)
        todo += [e.__cause__, e.__context__, getattr(e, "reason", None)]
        todo += [a for a in e.args if isinstance(a, BaseException)]
    names = {type(e).__name__ for e in kinds}
    if isinstance(exc, requests.exceptions.ProxyError):
        return "the proxy cannot be reached"
    if any(isinstance(e, socket.gaierror) for e in kinds) or "NameResolutionError" in names:
        return "DNS lookup failed"
    if any(isinstance(e, ConnectionRefusedError) for e in kinds):
        return "connection refused"
    if any(isinstance(e, OSError) and e.errno in (errno.ENETUNREACH, errno.EHOSTUNREACH) for e in kinds):
        return "network unreachable"
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return "connection timed out"
    if "NewConnectionError" in names:
        return "cannot connect"
    return None


def _short(exc) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text[:157] + '...' if len(text) > 160 else text}"


def _requests():
    try:
        import requests
    except ImportError:  # pragma: no cover - a broken environment
        raise MissingData("requests is not installed; run `make venv` or `pip install requests`") from None
    return requests
