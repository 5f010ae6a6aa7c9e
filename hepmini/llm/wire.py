"""One HTTP attempt under two clocks: idle (no new byte for `idle` seconds) and the call's deadline.

requests' read timeout is per socket read, so it is the idle clock. The deadline must hold from the
connect to the last byte, status line and headers included, which a per-read timeout cannot do
against a server that trickles them. So every socket an attempt uses is registered with a watchdog,
which shuts it down when the deadline passes; the blocked read then fails at once. This module
imports requests and urllib3: the transport imports it only when a request is sent.

A kept-alive connection is not reused once it has been idle for nearly the `Keep-Alive: timeout=N`
its server announced (llama-server: 5 s): the server closes it then, and a request sent as it does
is lost ("connection dropped", a retry) although the server was never down.

A stream is read up to its end event only: what a server or proxy does after it (holds the body
open, closes it without the last chunk) cannot cost a re-send of a reply that is complete.
"""

import dataclasses
import re
import socket
import threading
import time
from typing import Callable, Optional

import requests
import urllib3
from requests.adapters import HTTPAdapter
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

CHUNK = 65536
END_GRACE = 0.5                     # seconds to wait, after the end event, for the body's end (keeps the connection)
TRANSPORT_ERRORS = (requests.exceptions.RequestException, urllib3.exceptions.HTTPError, OSError)
_CURRENT = threading.local()        # the Watch of the attempt this thread is making


class DeadlinePassed(Exception):
    """The call's deadline passed before the last byte arrived."""


class TooLarge(Exception):
    """The answer is larger than any chat reply can be."""


class Watch:
    """Shuts down every socket registered during the attempt when `seconds` have passed."""

    def __init__(self, seconds: float):
        self.sockets, self.fired, self.lock = [], False, threading.Lock()
        self.timer = threading.Timer(max(seconds, 0.0), self._fire)
        self.timer.daemon = True

    def add(self, sock) -> None:
        with self.lock:
            self.sockets.append(sock)
            fired = self.fired
        if fired:
            _shutdown(sock)

    def _fire(self) -> None:
        with self.lock:
            self.fired = True
            sockets = list(self.sockets)
        for sock in sockets:
            _shutdown(sock)

    def __enter__(self):
        _CURRENT.watch = self
        self.timer.start()
        return self

    def __exit__(self, *exc):
        self.timer.cancel()
        _CURRENT.watch = None


def _shutdown(sock) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)   # the kernel socket: a read blocked in another thread returns
    except OSError:
        pass


def _register(sock) -> None:
    watch = getattr(_CURRENT, "watch", None)
    if watch is not None and sock is not None:
        watch.add(sock)


class _Watched:
    """A urllib3 connection whose raw socket the current attempt's watchdog can shut down."""

    def _new_conn(self):
        sock = super()._new_conn()
        self._raw_sock = sock             # before TLS wraps it: shutting this down ends any read
        _register(sock)
        return sock

    def getresponse(self, *args, **kwargs):
        _register(getattr(self, "_raw_sock", None))   # a kept-alive connection, reused by a later call
        response = super().getresponse(*args, **kwargs)
        self.keep_alive = keep_alive_seconds(response.headers.get("Keep-Alive", ""))
        return response


def keep_alive_seconds(header: str):
    """The idle timeout a `Keep-Alive` response header announces (None when it names none).

    >>> keep_alive_seconds("timeout=5, max=100"), keep_alive_seconds(""), keep_alive_seconds("timeout=x")
    (5.0, None, None)
    """
    found = re.search(r"(?:^|[,;\s])timeout\s*=\s*(\d+(?:\.\d+)?)", header or "")
    return float(found.group(1)) if found else None


def stale(conn, now: float) -> bool:
    """True when `conn` has been idle so near its server's keep-alive timeout that the server may close it now."""
    timeout, since = getattr(conn, "keep_alive", None), getattr(conn, "idle_since", None)
    if timeout is None or since is None:
        return False
    return now - since >= max(timeout - 1.0, timeout / 2)


class _Pooled:
    """A urllib3 pool that closes (so reopens) a connection its server is about to close for idleness."""

    def _put_conn(self, conn):
        if conn is not None:
            conn.idle_since = time.monotonic()
        super()._put_conn(conn)

    def _get_conn(self, timeout=None):
        conn = super()._get_conn(timeout)
        if stale(conn, time.monotonic()):
            conn.close()                  # reconnects on its next request, as urllib3 does for a dropped one
        conn.idle_since = None
        return conn


class _HTTPConnection(_Watched, urllib3.connection.HTTPConnection):
    pass


class _HTTPSConnection(_Watched, urllib3.connection.HTTPSConnection):
    pass


class _HTTPPool(_Pooled, HTTPConnectionPool):
    ConnectionCls = _HTTPConnection


class _HTTPSPool(_Pooled, HTTPSConnectionPool):
    ConnectionCls = _HTTPSConnection


POOLS = {"http": _HTTPPool, "https": _HTTPSPool}


class Adapter(HTTPAdapter):
    """requests' adapter with watched connections, also through a proxy (HTTPS_PROXY is honoured)."""

    def init_poolmanager(self, *args, **kwargs):
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = POOLS

    def proxy_manager_for(self, proxy, **kwargs):
        manager = super().proxy_manager_for(proxy, **kwargs)
        manager.pool_classes_by_scheme = POOLS
        return manager


def watched(session) -> requests.Session:
    """`session` with the watched adapter mounted for http and https (once)."""
    for prefix in ("http://", "https://"):
        if not isinstance(session.adapters.get(prefix), Adapter):
            session.mount(prefix, Adapter())
    return session


def new_session() -> requests.Session:
    """A requests Session (proxies and CA bundle from the usual variables) with watched connections."""
    return watched(requests.Session())


@dataclasses.dataclass
class Answer:
    """What one attempt got: status, lower-cased headers, the body (or what arrived of a stream)."""

    status: int
    headers: dict
    body: bytes


def _never() -> bool:
    return False


def post(session, url: str, headers: dict, payload: bytes, *, idle: float, deadline: float, connect: float,
         max_bytes: int, on_chunk: Optional[Callable[[bytes], None]] = None,
         on_status: Optional[Callable[[int], None]] = None, ended: Callable[[], bool] = _never,
         complete: Callable[[], bool] = _never) -> Answer:
    """POST once; the status goes to `on_status` and every chunk of a 2xx body to `on_chunk` as they arrive.

    A 2xx body is read until `ended()` (its end event is in); once `complete()` (the reply is whole),
    a transport failure ends the read instead of failing the attempt. Raises DeadlinePassed (the
    watchdog fired), TooLarge, or what requests raises (idle timeouts, refused or dropped connections).
    """
    watched(session)
    with Watch(deadline) as watch:
        try:
            # never follow a redirect: requests would resend x-api-key / x-goog-api-key to whatever host it names
            resp = session.post(url, data=payload, headers=headers, stream=True, timeout=(min(connect, idle), idle),
                                allow_redirects=False)
            with resp:
                status = resp.status_code
                if on_status is not None:
                    on_status(status)
                lower = {k.lower(): v for k, v in resp.headers.items()}
                hooks = (on_chunk, ended, complete) if 200 <= status < 300 else (None, _never, _never)
                body = _read(resp.raw, max_bytes, *hooks, grace=min(idle, END_GRACE))
                if watch.fired and not hooks[2]():
                    raise DeadlinePassed()    # the watchdog's shutdown ends a body framed by the close like EOF
                return Answer(status, lower, body)
        except TRANSPORT_ERRORS:
            if watch.fired:
                raise DeadlinePassed() from None
            raise


def _read(raw, max_bytes: int, on_chunk, ended, complete, grace: float) -> bytes:
    """The body, up to its end event when `ended()` says it is in; a failure once `complete()` ends it."""
    chunks, size = [], 0
    while True:
        try:
            chunk = raw.read1(CHUNK, decode_content=True) if hasattr(raw, "read1") else raw.read(CHUNK)
        except TRANSPORT_ERRORS:
            if complete():
                return b"".join(chunks)
            raise
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > max_bytes:
            raise TooLarge(f"more than {max_bytes // 2**20} MiB")
        chunks.append(chunk)
        if on_chunk is not None:
            on_chunk(chunk)
        if ended():
            _drain(raw, grace)
            return b"".join(chunks)


def _drain(raw, grace: float) -> None:
    """Read what follows the end event (the last chunk's terminator), waiting `grace` seconds at most a read.

    Read to its end, the body leaves the connection reusable; a server that holds it open or closes
    it uncleanly only costs the connection (closed when the response is).
    """
    sock = getattr(getattr(raw, "connection", None), "sock", None)
    if sock is None or not hasattr(raw, "read1"):
        return
    try:
        sock.settimeout(grace)          # urllib3 sets the timeout again on the connection's next request
        for _ in range(4):              # a terminator comes at once; bytes that keep coming are not waited for
            if not raw.read1(CHUNK, decode_content=True):
                return
    except TRANSPORT_ERRORS:
        pass
