"""The HTTP machinery under the fakes: a loopback ThreadingHTTPServer, the scripted `Resp` and how its bytes
reach the wire (trickles, stalls, resets, schedules, SSE streams), and the `FakeServer` base class."""

import dataclasses
import json
import math
import select
import socket
import struct
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable, Optional, Sequence, Union

from . import sse

DEFAULT = object()   # Resp(body=DEFAULT): the fake's own default answer, sent with this Resp's transport knobs


@dataclasses.dataclass
class Resp:
    """One scripted response: what to send, and how its bytes reach the wire (a pause of math.inf lasts until the
    client hangs up or the fake closes)."""

    status: int = 200
    body: Union[dict, list, str, bytes, None, object] = None    # or DEFAULT
    headers: dict = dataclasses.field(default_factory=dict)
    content_type: str = "application/json"
    # --- transport, any reply
    delay: float = 0.0          # seconds of silence before the status line
    head_trickle: float = 0.0   # seconds per byte of the status line and headers
    trickle: float = 0.0        # seconds per body byte (per byte of the chunked body of a stream)
    # [(n_bytes, pause_s), ...]: the whole reply (status line, headers, body, chunk framing) n bytes at a time, a
    # pause after each, the rest at once when the list ends; replaces delay, trickles and pace
    schedule: Optional[Sequence[tuple]] = None
    reset: str = ""             # "before": RST instead of an answer; "body": headers, half the body, RST
    bad_length: bool = False    # announce a longer Content-Length than sent, then close (truncated JSON)
    # --- streams
    # None: stream when the request asks to and this is a 200 with a dict body (or events); False: plain JSON
    # anyway (a server without streaming); True: always stream
    stream: Optional[bool] = None
    events: Optional[list] = None   # instead of events made from body: dict (encoded for the protocol), str (one
    #                                 event's lines, blank line added), bytes (verbatim, e.g. sse.PING)
    pace: float = 0.0               # seconds before each event
    stall_after: Optional[int] = None     # send N events, then silence with the socket open
    truncate_after: Optional[int] = None  # send N events, then close: no [DONE]/message_stop, no final chunk
    error_after: Optional[int] = None     # send N events, then error_event, then end the stream cleanly
    error_event: Union[dict, str, bytes, None] = None   # default: the protocol's mid-stream error (fake.stream_error)


@dataclasses.dataclass
class Seen:
    """One request as the fake received it (headers lower-cased; query parsed)."""

    method: str
    path: str
    headers: dict
    body: Optional[dict]
    raw: bytes
    query: dict = dataclasses.field(default_factory=dict)
    peer: int = 0                   # the client's port: the same on a kept-alive connection, new on a new one

    @property
    def route(self) -> str:
        """The path without the query string."""
        return self.path.split("?", 1)[0]


def _trickled(data: bytes, pause: float) -> list:
    return [(data[i:i + 1], pause) for i in range(len(data))] if pause else [(data, 0.0)]


def _scheduled(data: bytes, schedule) -> list:
    pieces, at = [], 0
    for size, pause in schedule:
        pieces.append((data[at:at + int(size)], float(pause)))
        at += int(size)
    return pieces + [(data[at:], 0.0)]


def _chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data) if data else b""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"   # keep-alive, like the real services

    def setup(self):
        super().setup()
        # small writes (trickles, events) leave at once, as from a real server; no Nagle/delayed-ACK stalls
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        # option keep_alive=N: like llama-server (Keep-Alive: timeout=5), close a connection idle N seconds
        self.keep_alive = self.server.fake.options.get("keep_alive")
        if self.keep_alive:
            self.connection.settimeout(self.keep_alive)

    def log_message(self, *args):   # keep test output clean
        pass

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length)
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(self.path).query))
        seen = Seen("POST", self.path, {k.lower(): v for k, v in self.headers.items()}, body, raw, query,
                    peer=self.client_address[1])
        fake = self.server.fake
        with fake.lock:
            fake.requests.append(seen)
            item = fake.scripted.pop(0) if fake.scripted else fake.persistent
        resp = item(seen) if callable(item) else item or fake.default(seen)
        if resp.body is DEFAULT:
            base = fake.default(seen)
            resp = dataclasses.replace(resp, status=base.status, body=base.body, content_type=base.content_type,
                                       headers={**base.headers, **resp.headers})
        self._run(*self._plan(fake, seen, resp))

    def _plan(self, fake, seen, resp):
        """The reply as [(bytes, pause after)] and how it ends: keep (alive), close, stall or rst."""
        streamed = resp.stream if resp.stream is not None else fake.wants_stream(seen) and (
            resp.events is not None or (resp.status == 200 and isinstance(resp.body, dict)))
        body_pieces, end = (self._stream(fake, seen, resp) if streamed else self._plain(resp))
        pieces = [(b"", resp.delay)] if resp.delay else []
        if resp.reset == "before":
            return pieces, "rst"
        pieces += _trickled(self._head(resp.status, self._headers), resp.head_trickle) + body_pieces
        if resp.schedule is not None:
            pieces = _scheduled(b"".join(data for data, _ in pieces), resp.schedule)
        return pieces, end

    def _plain(self, resp):
        body = resp.body
        if isinstance(body, (dict, list)) or body is None:
            data = json.dumps(body if body is not None else {}).encode()
        else:
            data = body.encode() if isinstance(body, str) else body
        self._headers = [("Content-Type", resp.content_type),
                         ("Content-Length", str(len(data) + (50 if resp.bad_length else 0))), *resp.headers.items()]
        if resp.reset == "body":
            return [(data[: len(data) // 2], 0.0)], "rst"
        return _trickled(data, resp.trickle), "close" if resp.bad_length else "keep"

    def _stream(self, fake, seen, resp):
        events = list(resp.events) if resp.events is not None else \
            fake.stream_events(seen, resp.body if isinstance(resp.body, dict) else {})
        end = "keep"
        if resp.truncate_after is not None:
            events, end = events[:resp.truncate_after], "close"
        elif resp.stall_after is not None:
            events, end = events[:resp.stall_after], "stall"
        elif resp.error_after is not None:
            events = events[:resp.error_after] + [fake.stream_error if resp.error_event is None else resp.error_event]
        elif resp.reset == "body":
            events, end = events[: len(events) // 2], "rst"
        self._headers = [("Content-Type", fake.stream_content_type(seen)), ("Transfer-Encoding", "chunked"),
                         ("Cache-Control", "no-cache"), *fake.stream_headers, *resp.headers.items()]
        pieces = []
        for event in events:
            pieces += [(b"", resp.pace)] if resp.pace else []
            pieces += _trickled(_chunk(sse.encode(event, fake.style)), resp.trickle)
        return pieces + ([(b"0\r\n\r\n", 0.0)] if end == "keep" else []), end

    def _head(self, status, headers) -> bytes:
        self.send_response_only(status)
        names = {name.lower() for name, _ in headers}
        sent = set()
        announced = [("Keep-Alive", f"timeout={self.keep_alive}, max=100")] if self.keep_alive else []
        for name, value in [("Server", self.version_string())] * ("server" not in names) + \
                [("Date", self.date_time_string())] + announced + list(headers):
            if (name.lower(), value) not in sent:    # a header named by both the fake and the Resp goes once
                sent.add((name.lower(), value))
                self.send_header(name, value)
        head, self._headers_buffer = b"".join(self._headers_buffer) + b"\r\n", []
        return head

    def _run(self, pieces, end):
        pending = []
        try:
            for data, pause in pieces:
                pending.append(data)
                if pause:
                    # bytes up to a pause go in one write, as real servers do (no delayed-ACK stalls)
                    self.wfile.write(b"".join(pending))
                    pending = []
                    if self._pause(pause):
                        self.close_connection = True
                        return
            self.wfile.write(b"".join(pending))
            if end == "rst":
                return self._rst()
            if end == "stall":
                self._pause(math.inf)
            self.close_connection = self.close_connection or end != "keep"
        except OSError:               # the client hung up (deadline, reset): fine
            self.close_connection = True

    def _pause(self, seconds) -> bool:
        """Wait `seconds`; True (stop sending) as soon as the client hangs up or the fake closes."""
        until, closing = time.monotonic() + seconds, self.server.fake.closing
        while (left := until - time.monotonic()) > 0:
            if closing.is_set():
                return True
            try:
                ready, _, _ = select.select([self.connection], [], [], min(left, 0.05))
                if ready and not self.connection.recv(1, socket.MSG_PEEK):
                    return True
            except (OSError, ValueError):
                return True
            if ready:                 # the client sent more (a new request): keep to the schedule
                time.sleep(min(left, 0.05))
        return False

    def _rst(self):
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.close_connection = True
        self.connection.close()

    def finish(self):
        try:
            super().finish()
        except OSError:
            pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True           # a trickling handler must not block shutdown

    def handle_error(self, request, client_address):
        pass


class FakeServer:
    """Base fake: records requests, replays scripted responses, else answers via `default`."""

    style = "openai"                # SSE framing (sse.encode)
    stream_headers: tuple = ()
    stream_error: dict = {}

    def __init__(self, key: Optional[str] = "test-key-0000", **options):
        self.key, self.options = key, options
        self.requests, self.scripted, self.lock = [], [], threading.Lock()
        self.persistent = None
        self.closing = threading.Event()
        self._server = self._thread = None

    def __enter__(self):
        self.closing.clear()
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.fake = self
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.01},
                                        daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self.closing.set()          # ends every stall and pause at once
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def script(self, *responses: Union[Resp, Callable]):
        """Queue responses (or callables Seen -> Resp) to be used once each, in order."""
        with self.lock:
            self.scripted.extend(responses)
        return self

    def always(self, response: Union[Resp, Callable, None]):
        """Answer every request after the scripted ones with `response` (a storm); None restores the default."""
        with self.lock:
            self.persistent = response
        return self

    def default(self, seen: Seen) -> Resp:
        raise NotImplementedError

    def wants_stream(self, seen: Seen) -> bool:
        """Whether the request asks for a stream (`"stream": true` in the body, for two of the three)."""
        return isinstance(seen.body, dict) and seen.body.get("stream") is True

    def stream_events(self, seen: Seen, body: dict) -> list:
        raise NotImplementedError

    def stream_content_type(self, seen: Seen) -> str:
        return "text/event-stream; charset=utf-8"
