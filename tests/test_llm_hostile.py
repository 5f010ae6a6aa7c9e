"""Hostile servers against the LLM clients, all three protocols: clocks, framing, shapes, Retry-After, the key."""

import gzip
import json
import socket
import threading
import time

import pytest
from support.fakes import (ANTHROPIC_529, DEFAULT, AnthropicFake, GeminiFake, OpenAIFake, Resp, anthropic_message,
                           gemini_response, loopback_session, make_config, openai_completion, sse)

from hepmini.errors import (AuthError, BadRequest, ContextOverflow, ProviderError, ProviderTimeout, QuotaExceeded,
                            ServerError)
from hepmini.llm.client import client_for

KEY = "sk-probe-ZYXW9876vuts5432RQPO1098nmlk"
HELLO = [{"role": "user", "content": "Capital of France?"}]
FAKES = {"openai": OpenAIFake, "anthropic": AnthropicFake, "gemini": GeminiFake}
MODELS = {"openai": "openai:gpt-4.1", "anthropic": "anthropic:claude-haiku-4-5", "gemini": "gemini:gemini-2.5-flash"}
ENV = {"openai": ("OPENAI_API_KEY", "OPENAI_BASE_URL", "/v1"),
       "anthropic": ("ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL", ""),
       "gemini": ("GEMINI_API_KEY", "GEMINI_BASE_URL", "")}
PROTOCOLS = sorted(FAKES)


def connect(protocol, url, tmp_path, sleep=lambda s: None, **settings):
    key_var, url_var, suffix = ENV[protocol]
    cfg = make_config(tmp_path, {key_var: KEY, url_var: url + suffix}, **settings)
    return client_for(MODELS[protocol], cfg, session=loopback_session(), sleep=sleep)


def run(client, messages=HELLO, params=None):
    """(reply or None, exception or None, elapsed seconds)."""
    start = time.monotonic()
    try:
        return client.complete(messages, params), None, time.monotonic() - start
    except Exception as exc:   # noqa: BLE001 - whatever escapes is the evidence
        return None, exc, time.monotonic() - start


def evidence(reply, exc, elapsed, nreq):
    """What a call did, for a failure message: what it raised or returned, its attempts, time and requests."""
    if exc is not None:
        return (f"raised {type(exc).__name__}: {str(exc)[:400]!r}; attempts={len(getattr(exc, 'attempts', []) or [])}"
                f" elapsed={elapsed:.2f}s requests={nreq}")
    return (f"returned text={reply.text[:60]!r} finish={reply.finish_reason} usage={reply.usage} "
            f"attempts={[(a['status'], a['error']) for a in reply.attempts]} elapsed={elapsed:.2f}s requests={nreq}")


def plain_body(protocol, **kw):
    if protocol == "openai":
        return openai_completion(kw.get("text", "Paris."), model="gpt-4.1", finish=kw.get("finish", "stop"),
                                 completion=kw.get("out", 11), reasoning=0)
    if protocol == "anthropic":
        return anthropic_message(kw.get("text", "Paris."), stop=kw.get("stop", "end_turn"),
                                 output_tokens=kw.get("out", 5))
    return gemini_response(kw.get("text", "Paris."), finish=kw.get("gfinish", "STOP"), thoughts=None)


def stream_events(protocol, body):
    if protocol == "openai":
        return sse.openai_events(body, include_usage=True)
    if protocol == "anthropic":
        return sse.anthropic_events(body)
    return sse.gemini_events(body)


def wire(protocol, events, sep=b"\n\n", colon_space=True):
    """Events as verbatim SSE bytes with the given line/event separators."""
    out = []
    for event in events:
        raw = sse.encode(event, protocol).decode()
        lines = [ln for ln in raw.replace("\r\n", "\n").split("\n") if ln]
        if not colon_space:
            lines = [ln.replace(": ", ":", 1) for ln in lines]
        line_end = sep[: len(sep) // 2]
        out.append((line_end.join(ln.encode() for ln in lines) + sep))
    return out


# --- a raw TCP server for what the fakes cannot send ------------------------------------------------


class Raw:
    """127.0.0.1 server: reads each HTTP request, then `handler(conn, n, stop)` writes whatever it likes."""

    def __init__(self, handler, accept=True):
        self.handler, self.accept, self.count, self.stop = handler, accept, 0, threading.Event()
        self.conns = []

    def __enter__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        if self.accept:
            threading.Thread(target=self._loop, daemon=True).start()
        return self

    @property
    def url(self):
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}"

    def _loop(self):
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn):
        try:
            while not self.stop.is_set():
                data = b""
                while b"\r\n\r\n" not in data:
                    more = conn.recv(65536)
                    if not more:
                        return
                    data += more
                head, _, rest = data.partition(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                while len(rest) < length:
                    rest += conn.recv(65536)
                self.count += 1
                if self.handler(conn, self.count, self.stop) != "keep":
                    return
        except OSError:
            return
        finally:
            try:
                conn.close()
            except OSError:
                pass

    def __exit__(self, *exc):
        self.stop.set()
        for c in self.conns:
            try:
                c.close()
            except OSError:
                pass
        self.sock.close()


def wait(stop, seconds):
    return stop.wait(seconds)


def chunked(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


# === 1. idle clock vs non-token bytes, and the deadline =============================================


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_keepalive_comments_forever_end_at_call_deadline(protocol, tmp_path):
    """README: comments count for the idle clock, so only call_deadline ends the call; one attempt, not re-sent."""
    with FAKES[protocol](key=KEY) as fake:
        fake.always(Resp(body=DEFAULT, pace=0.1, events=[sse.PING] * 500))
        with connect(protocol, fake.url, tmp_path, request_timeout=0.5, call_deadline=1.2) as client:
            reply, exc, t = run(client)
        n = len(fake.requests)
    assert isinstance(exc, ProviderTimeout) and "call_deadline" in str(exc) and t < 2.2 and n == 1, \
        evidence(reply, exc, t, n)


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_empty_data_lines_forever_end_at_call_deadline(protocol, tmp_path):
    """`data:` with nothing after it, every 0.2 s: by WHATWG no event is dispatched; the deadline ends it."""
    with FAKES[protocol](key=KEY) as fake:
        fake.always(Resp(body=DEFAULT, pace=0.1, events=[b"data:\n\n"] * 500))
        with connect(protocol, fake.url, tmp_path, request_timeout=0.5, call_deadline=1.2) as client:
            reply, exc, t = run(client)
        n = len(fake.requests)
    assert isinstance(exc, ProviderTimeout) and t < 2.2 and n == 1, evidence(reply, exc, t, n)


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_empty_data_keepalive_between_tokens_is_ignored(protocol, tmp_path):
    """An empty `data:` event (a keep-alive some proxies send) must not fail the attempt nor re-send it."""
    body = plain_body(protocol)
    events = stream_events(protocol, body)
    mixed = [events[0], b"data:\n\n", *events[1:2], b"data: \n\n", *events[2:]]
    with FAKES[protocol](key=KEY) as fake:
        fake.script(Resp(body=DEFAULT, events=mixed))
        with connect(protocol, fake.url, tmp_path, request_timeout=2, call_deadline=10) as client:
            reply, exc, t = run(client)
        n = len(fake.requests)
    assert exc is None and reply.text == "Paris." and n == 1 and len(reply.attempts) == 1, evidence(reply, exc, t, n)


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_a_byte_every_idle_minus_margin_ends_at_call_deadline(protocol, tmp_path):
    with FAKES[protocol](key=KEY) as fake:
        fake.always(Resp(body=DEFAULT, schedule=[(1, 0.3)] * 400))
        with connect(protocol, fake.url, tmp_path, request_timeout=0.5, call_deadline=1.2) as client:
            reply, exc, t = run(client)
        n = len(fake.requests)
    assert isinstance(exc, ProviderTimeout) and "call_deadline" in str(exc) and t < 2.2 and n == 1, \
        evidence(reply, exc, t, n)


def _close_delimited_trickle(conn, n, stop):
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n{")
    while not wait(stop, 0.2):
        conn.sendall(b" ")


def _close_delimited_sse_trickle(conn, n, stop):
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n")
    while not wait(stop, 0.2):
        conn.sendall(b":\n\n")


@pytest.mark.parametrize("handler", [_close_delimited_trickle, _close_delimited_sse_trickle])
def test_deadline_on_a_close_delimited_body_is_reported_as_the_deadline(handler, tmp_path):
    """A body without Content-Length/chunked ends at EOF: the watchdog's shutdown looks like a clean end."""
    with Raw(handler) as srv:
        with connect("openai", srv.url, tmp_path, request_timeout=0.5, call_deadline=1.2) as client:
            reply, exc, t = run(client)
        n = srv.count
    assert isinstance(exc, ProviderTimeout) and "call_deadline" in str(exc) and t < 2.2, evidence(reply, exc, t, n)


def test_a_listener_that_never_accepts_is_bounded_by_the_deadline(tmp_path):
    """TCP connect succeeds (kernel backlog), the request sits unread, no byte ever comes back."""
    with Raw(None, accept=False) as srv:
        with connect("openai", srv.url, tmp_path, request_timeout=0.5, call_deadline=2.5) as client:
            reply, exc, t = run(client)
    assert isinstance(exc, ProviderTimeout) and t < 3.5, evidence(reply, exc, t, -1)


def _headers_then_stall(conn, n, stop):
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n")
    wait(stop, 60)


def test_headers_then_stall_is_cut_by_idle_and_bounded(tmp_path):
    with Raw(_headers_then_stall) as srv:
        with connect("openai", srv.url, tmp_path, request_timeout=0.5, call_deadline=2.5) as client:
            reply, exc, t = run(client)
        n = srv.count
    assert isinstance(exc, ProviderTimeout) and t < 3.5 and n >= 2, evidence(reply, exc, t, n)


# === 2. a stream that is complete but whose body never ends ===========================================


@pytest.mark.parametrize("after", ["held open", "closed without the last chunk"])
@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_a_complete_stream_is_not_re_sent_whatever_its_connection_does_next(protocol, after, tmp_path):
    """[DONE] / message_stop / finishReason arrived, then the server keeps the chunked body open (a proxy that
    buffers the terminator) or closes it without the final 0-length chunk: re-sending bills it twice."""
    with FAKES[protocol](key=KEY) as fake:
        n_events = len(stream_events(protocol, plain_body(protocol))) + 5
        held = after == "held open"
        fake.script(Resp(body=DEFAULT, **({"stall_after": n_events} if held else {"truncate_after": n_events})))
        with connect(protocol, fake.url, tmp_path, request_timeout=0.6 if held else 2, call_deadline=20) as client:
            reply, exc, t = run(client)
        n = len(fake.requests)
    assert exc is None and n == 1 and len(reply.attempts) == 1, evidence(reply, exc, t, n)


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_a_stream_read_to_its_end_event_leaves_its_connection_reusable(protocol, tmp_path):
    """Reading stops at the end event, but the body's terminator that follows at once is still read."""
    with FAKES[protocol](key=KEY) as fake:
        with connect(protocol, fake.url, tmp_path) as client:
            replies = [run(client), run(client)]
        peers = [seen.peer for seen in fake.requests]
    assert all(exc is None for _, exc, _ in replies) and len(peers) == 2 and peers[0] == peers[1], (replies, peers)


# === 3. framing: chunked, Content-Length, gzip, content types ============================================


def _bad_chunk_size(conn, n, stop):
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
                 + chunked(b'data: {"choices":[{"delta":{"content":"Pa"}}]}\n\n') + b"zz\r\nxyz\r\n")


def test_bad_chunk_size_is_a_retried_transport_fault(tmp_path):
    with Raw(_bad_chunk_size) as srv:
        with connect("openai", srv.url, tmp_path, max_retries=2, request_timeout=2, call_deadline=20) as client:
            reply, exc, t = run(client)
        n = srv.count
    assert isinstance(exc, ProviderError) and exc.retryable and n == 3 and t < 5, evidence(reply, exc, t, n)


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_corrupt_gzip_body_is_a_provider_error(protocol, tmp_path):
    with FAKES[protocol](key=KEY) as fake:
        fake.always(Resp(200, b"\x1f\x8b\x08\x00garbage-not-deflate" * 4, headers={"Content-Encoding": "gzip"},
                         stream=False))
        with connect(protocol, fake.url, tmp_path, max_retries=1, stream=False) as client:
            reply, exc, t = run(client)
        n = len(fake.requests)
    assert isinstance(exc, ProviderError) and n == 2, evidence(reply, exc, t, n)


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_gzip_encoded_stream_is_read(protocol, tmp_path):
    raw = b"".join(sse.encode(e, protocol) for e in stream_events(protocol, plain_body(protocol)))
    with FAKES[protocol](key=KEY) as fake:
        fake.script(Resp(body=DEFAULT, events=[gzip.compress(raw)], headers={"Content-Encoding": "gzip"}))
        with connect(protocol, fake.url, tmp_path) as client:
            reply, exc, t = run(client)
        n = len(fake.requests)
    assert exc is None and reply.text == "Paris." and n == 1, evidence(reply, exc, t, n)


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_content_length_longer_than_a_complete_stream(protocol, tmp_path):
    """An SSE body framed by Content-Length that overstates it, closed after the end event."""
    raw = b"".join(sse.encode(e, protocol) for e in stream_events(protocol, plain_body(protocol)))

    def handler(conn, n, stop):
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nContent-Length: %d\r\n\r\n%s"
                     % (len(raw) + 100, raw))

    with Raw(handler) as srv:
        with connect(protocol, srv.url, tmp_path, max_retries=2, request_timeout=1, call_deadline=20) as client:
            reply, exc, t = run(client)
        n = srv.count
    # A short body is a transport fault (retried), or the complete events are used; either way it must end typed.
    assert (exc is None and reply.text == "Paris.") or isinstance(exc, ProviderError), evidence(reply, exc, t, n)


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_event_stream_content_type_in_other_case_is_a_stream(protocol, tmp_path):
    """Media types are case-insensitive (RFC 9110 8.3.1)."""
    with FAKES[protocol](key=KEY) as fake:
        fake.script(Resp(body=DEFAULT))
        fake.stream_content_type = lambda seen: "Text/Event-Stream"
        with connect(protocol, fake.url, tmp_path, max_retries=1) as client:
            reply, exc, t = run(client)
        n = len(fake.requests)
    assert exc is None and reply.text == "Paris." and n == 1, evidence(reply, exc, t, n)


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_200_html_page_for_a_stream_request(protocol, tmp_path):
    with FAKES[protocol](key=KEY) as fake:
        fake.always(Resp(200, "<html><head><title>Captive portal login</title></head></html>",
                         content_type="text/html", stream=False))
        with connect(protocol, fake.url, tmp_path, max_retries=1) as client:
            reply, exc, t = run(client)
        n = len(fake.requests)
    assert isinstance(exc, ProviderError) and n == 2 and "Captive portal" in str(exc), evidence(reply, exc, t, n)


# === 4. a 200 carrying an error object =================================================================

ERR200 = {
    "openai": {"error": {"message": "You exceeded your current quota, please check your plan and billing details.",
                         "type": "insufficient_quota", "code": "insufficient_quota"}},
    "anthropic": {"type": "error", "error": {"type": "invalid_request_error",
                                             "message": "Your credit balance is too low to access the Anthropic API."}},
    "gemini": {"error": {"code": 429, "status": "RESOURCE_EXHAUSTED",
                         "message": "Your prepayment credits are depleted. Please go to AI Studio."}},
}


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_200_whose_json_is_a_quota_error_stops_at_once(protocol, stream, tmp_path):
    with FAKES[protocol](key=KEY) as fake:
        fake.always(Resp(200, ERR200[protocol], stream=False))
        with connect(protocol, fake.url, tmp_path, stream=stream) as client:
            reply, exc, t = run(client)
        n = len(fake.requests)
    assert isinstance(exc, QuotaExceeded) and n == 1, evidence(reply, exc, t, n)


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_200_stream_whose_only_event_is_a_quota_error_stops_at_once(protocol, tmp_path):
    with FAKES[protocol](key=KEY) as fake:
        fake.always(Resp(body=DEFAULT, events=[ERR200[protocol]]))
        with connect(protocol, fake.url, tmp_path) as client:
            reply, exc, t = run(client)
        n = len(fake.requests)
    assert isinstance(exc, QuotaExceeded) and n == 1, evidence(reply, exc, t, n)


@pytest.mark.parametrize("body, cls", [({"error": {"message": "upstream failed", "code": 502}}, ServerError),
                                       ({"object": "chat.completion", "choices": []}, ProviderError)],
                         ids=["error-object-502", "no-choices"])
def test_200_without_an_answer_and_no_lasting_error_is_retried(body, cls, tmp_path):
    """A 2xx error that names a passing fault, or a body with no answer at all, is retried as the server's fault."""
    with OpenAIFake(key=KEY) as fake:
        fake.always(Resp(200, body, stream=False))
        with connect("openai", fake.url, tmp_path, max_retries=2, stream=False) as client:
            reply, exc, t = run(client)
        n = len(fake.requests)
    assert isinstance(exc, cls) and exc.retryable and n == 3, evidence(reply, exc, t, n)


# === 5. mid-stream errors ==============================================================================


def test_anthropic_overloaded_after_tokens_is_retried_and_the_text_not_doubled(tmp_path):
    """README: Anthropic error events are retried. The retried reply must not carry the first attempt's text."""
    with AnthropicFake(key=KEY) as fake:
        fake.script(Resp(body=DEFAULT, error_after=4, error_event={"type": "error", "error": ANTHROPIC_529["error"]}))
        heard = []
        with connect("anthropic", fake.url, tmp_path) as client:
            start = time.monotonic()
            try:
                reply, exc = client.complete(HELLO, on_event=lambda k, **i: heard.append((k, i))), None
            except Exception as e:   # noqa: BLE001
                reply, exc = None, e
            t = time.monotonic() - start
        n = len(fake.requests)
    assert exc is None and reply.text == "Paris." and n == 2, evidence(reply, exc, t, n)
    assert reply.usage.output == 5 and reply.finish_reason == "stop", evidence(reply, exc, t, n)


def test_anthropic_context_overflow_error_event_is_not_retried(tmp_path):
    event = {"type": "error", "error": {"type": "invalid_request_error",
                                        "message": "prompt is too long: 210000 tokens > 200000 maximum"}}
    with AnthropicFake(key=KEY) as fake:
        fake.always(Resp(body=DEFAULT, error_after=1, error_event=event))
        with connect("anthropic", fake.url, tmp_path) as client:
            reply, exc, t = run(client)
        n = len(fake.requests)
    assert isinstance(exc, ContextOverflow) and n == 1 and "context window" in str(exc), evidence(reply, exc, t, n)


@pytest.mark.parametrize("kind, cls", [("invalid_request_error", BadRequest), ("authentication_error", AuthError),
                                       ("permission_error", AuthError), ("not_found_error", BadRequest)])
def test_anthropic_error_events_that_a_retry_cannot_mend_end_at_once(kind, cls, tmp_path):
    event = {"type": "error", "error": {"type": kind, "message": f"a {kind} mid-stream"}}
    with AnthropicFake(key=KEY) as fake:
        fake.always(Resp(body=DEFAULT, error_after=1, error_event=event))
        with connect("anthropic", fake.url, tmp_path) as client:
            reply, exc, t = run(client)
        n = len(fake.requests)
    assert type(exc) is cls and n == 1 and not exc.retryable, evidence(reply, exc, t, n)


# === 6. usage / finish equality ========================================================================


def test_openai_usage_duplicated_and_in_a_non_final_chunk_equals_json(tmp_path):
    body = plain_body("openai")
    events = sse.openai_events(body, include_usage=True)
    early = {"prompt_tokens": 21, "completion_tokens": 1, "total_tokens": 22}
    # usage early (continuous usage stats), then duplicated in the finish chunk and the final chunk
    events[1] = {**events[1], "usage": early}
    events[-3] = {**events[-3], "usage": body["usage"]}
    with OpenAIFake(key=KEY) as fake:
        fake.script(Resp(body=DEFAULT, events=events), Resp(body, stream=False))
        with connect("openai", fake.url, tmp_path) as client:
            s, exc, t = run(client)
        with connect("openai", fake.url, tmp_path, stream=False) as client:
            p, _, _ = run(client)
    assert exc is None and (s.text, s.finish_reason, s.usage) == (p.text, p.finish_reason, p.usage), \
        evidence(s, exc, t, 1) + f" vs json usage {p.usage}"


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_length_finish_with_no_text_streams_like_json(protocol, tmp_path):
    body = {"openai": openai_completion("", model="gpt-4.1", finish="length", completion=64, reasoning=64),
            "anthropic": anthropic_message("", stop="max_tokens", output_tokens=64),
            "gemini": gemini_response(None, finish="MAX_TOKENS", candidates=0, thoughts=64)}[protocol]
    with FAKES[protocol](key=KEY) as fake:
        fake.always(Resp(200, body))
        with connect(protocol, fake.url, tmp_path, max_retries=0, stream=False) as client:
            p, pe, _ = run(client)
        with connect(protocol, fake.url, tmp_path, max_retries=0) as client:
            s, se, t = run(client)
    got_p = (p.text, p.finish_reason, p.usage) if p else type(pe).__name__
    got_s = (s.text, s.finish_reason, s.usage) if s else type(se).__name__
    assert got_p == got_s and p is not None and p.finish_reason == "length", f"json={got_p} stream={got_s} {se}"


# === 7. SSE byte-level variants ========================================================================

UNICODE = "Ünïcødé 日本語 — 🎉🚀 ĸ"


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_multibyte_text_split_at_every_byte(protocol, tmp_path):
    with FAKES[protocol](key=KEY, text=UNICODE) as fake:
        fake.script(Resp(body=DEFAULT, trickle=0.0003))
        with connect(protocol, fake.url, tmp_path, request_timeout=2, call_deadline=60) as client:
            reply, exc, t = run(client)
        n = len(fake.requests)
    assert exc is None and reply.text == UNICODE and n == 1, evidence(reply, exc, t, n)


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_whole_reply_one_byte_per_write(protocol, tmp_path):
    """Status line, headers, chunk framing and SSE all one byte per TCP segment."""
    with FAKES[protocol](key=KEY, text=UNICODE) as fake:
        fake.script(Resp(body=DEFAULT, schedule=[(1, 0.0002)] * 6000))
        with connect(protocol, fake.url, tmp_path, request_timeout=2, call_deadline=60) as client:
            reply, exc, t = run(client)
        n = len(fake.requests)
    assert exc is None and reply.text == UNICODE and n == 1, evidence(reply, exc, t, n)


@pytest.mark.parametrize("sep", [b"\r\r", b"\r\n\r\n", b"\n\n"], ids=["cr", "crlf", "lf"])
@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_line_endings_and_no_space_after_colon(protocol, sep, tmp_path):
    events = wire(protocol, stream_events(protocol, plain_body(protocol, text=UNICODE)), sep=sep, colon_space=False)
    with FAKES[protocol](key=KEY) as fake:
        fake.script(Resp(body=DEFAULT, events=events))
        with connect(protocol, fake.url, tmp_path) as client:
            reply, exc, t = run(client)
        n = len(fake.requests)
    assert exc is None and reply.text == UNICODE and n == 1, evidence(reply, exc, t, n)


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_a_data_line_over_1_mb(protocol, tmp_path):
    big = ("éa" * 600_000)   # 1.8 MB of UTF-8 in one data line
    events = stream_events(protocol, plain_body(protocol, text="X"))
    # replace the single text piece with the huge one
    events = [json.loads(json.dumps(e).replace('"X"', json.dumps(big))) if isinstance(e, dict) else e
              for e in events]
    with FAKES[protocol](key=KEY) as fake:
        fake.script(Resp(body=DEFAULT, events=events))
        with connect(protocol, fake.url, tmp_path, request_timeout=5, call_deadline=60) as client:
            reply, exc, t = run(client)
        n = len(fake.requests)
    assert exc is None and reply.text == big[:1_000_000] and n == 1 and t < 10, evidence(reply, exc, t, n)


# === 8. Retry-After forms ==============================================================================


@pytest.mark.parametrize("value", ["nan", "inf", "1e9", "-5", "Fri, 31 Dec 9999 23:59:59 GMT", "in a while",
                                   "0x10", "1_0"])
def test_hostile_retry_after_values(value, tmp_path):
    with OpenAIFake(key=KEY) as fake:
        fake.always(Resp(429, {"error": {"message": "slow down", "type": "requests", "code": "rate_limit_exceeded"}},
                         headers={"retry-after": value}))
        sleeps = []

        def sleep(s):
            sleeps.append(s)
            time.sleep(min(s, 0.01))      # real sleep semantics (a NaN raises) but short

        with connect("openai", fake.url, tmp_path, sleep=sleep, max_retries=3, stream=False) as client:
            reply, exc, t = run(client)
        n = len(fake.requests)
    msg = str(exc)
    assert isinstance(exc, ProviderError), evidence(reply, exc, t, n) + f" sleeps={sleeps}"
    assert all(0 <= s <= 120 for s in sleeps) and "inf" not in msg.replace("info", "") and "nan" not in msg, \
        evidence(reply, exc, t, n) + f" sleeps={sleeps}"


@pytest.mark.parametrize("header", ["retry-after-ms"])
def test_retry_after_ms_nan(header, tmp_path):
    with OpenAIFake(key=KEY) as fake:
        fake.always(Resp(503, {"error": {"message": "busy"}}, headers={header: "NaN"}))
        with connect("openai", fake.url, tmp_path, sleep=time.sleep, max_retries=2, stream=False) as client:
            reply, exc, t = run(client)
        n = len(fake.requests)
    assert isinstance(exc, ProviderError), evidence(reply, exc, t, n)


# === 9. hostile JSON shapes: every failure must stay in the ProviderError tree ==========================

SHAPES = {
    "openai-message-is-string": ("openai", False, {"choices": [{"message": "Paris.", "finish_reason": "stop"}]}),
    "openai-usage-details-string": ("openai", False, {**openai_completion(model="gpt-4.1"),
                                                      "usage": {"prompt_tokens": 1, "completion_tokens": 1,
                                                                "prompt_tokens_details": "n/a"}}),
    "openai-choices-int": ("openai", False, {"choices": 5}),
    "gemini-promptfeedback-string": ("gemini", False, {"promptFeedback": "blocked"}),
    "gemini-content-string": ("gemini", False, {"candidates": [{"content": "Paris.", "finishReason": "STOP"}]}),
    "anthropic-content-items-strings": ("anthropic", False, {"type": "message", "content": ["Paris."],
                                                             "stop_reason": "end_turn", "usage": []}),
    "openai-stream-delta-string": ("openai", True, [{"choices": [{"delta": "Paris.", "finish_reason": "stop"}]},
                                                    "data: [DONE]"]),
    "openai-stream-choices-int": ("openai", True, [{"choices": 7}, "data: [DONE]"]),
    "anthropic-stream-data-list": ("anthropic", True, [b"event: message_start\ndata: [1, 2]\n\n"]),
    "anthropic-stream-delta-string": ("anthropic", True, [
        {"type": "message_start", "message": {"model": "m", "usage": {"input_tokens": 1}}},
        {"type": "content_block_delta", "index": 0, "delta": "Paris."}]),
    "anthropic-stream-message-delta-list": ("anthropic", True, [
        {"type": "message_start", "message": {"model": "m", "usage": {"input_tokens": 1}}},
        {"type": "message_delta", "delta": ["end_turn"], "usage": {"output_tokens": 1}}]),
    "gemini-stream-candidate-string": ("gemini", True, [{"candidates": ["Paris."]}]),
}


@pytest.mark.parametrize("name", sorted(SHAPES))
def test_hostile_json_shapes_stay_provider_errors(name, tmp_path):
    protocol, streamed, payload = SHAPES[name]
    with FAKES[protocol](key=KEY) as fake:
        if streamed:
            fake.always(Resp(body=DEFAULT, events=payload))
        else:
            fake.always(Resp(200, payload, stream=False))
        with connect(protocol, fake.url, tmp_path, max_retries=1, stream=streamed) as client:
            reply, exc, t = run(client)
        n = len(fake.requests)
    assert isinstance(exc, ProviderError), evidence(reply, exc, t, n)


ERROR_SHAPES = {
    "details-int": (429, {"error": {"code": 429, "message": "slow", "status": "RESOURCE_EXHAUSTED", "details": 5}}),
    "retrydelay-dots": (429, {"error": {"code": 429, "message": "slow", "status": "RESOURCE_EXHAUSTED", "details": [
        {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "..s"}]}}),
    "violations-string": (429, {"error": {"code": 429, "message": "slow", "details": [
        {"@type": "type.googleapis.com/google.rpc.QuotaFailure", "violations": 3}]}}),
    "detail-not-dict-values": (429, {"error": {"code": 429, "message": "slow", "details": [
        {"@type": "type.googleapis.com/google.rpc.QuotaFailure", "violations": ["x"]}]}}),
}


@pytest.mark.parametrize("name", sorted(ERROR_SHAPES))
def test_hostile_error_bodies_stay_provider_errors(name, tmp_path):
    status, body = ERROR_SHAPES[name]
    with GeminiFake(key=KEY) as fake:
        fake.always(Resp(status, body))
        with connect("gemini", fake.url, tmp_path, max_retries=1, stream=False) as client:
            reply, exc, t = run(client)
        n = len(fake.requests)
    assert isinstance(exc, ProviderError), evidence(reply, exc, t, n)


# === 10. redirects and the key ==========================================================================


@pytest.mark.parametrize("status", [301, 303])
@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_301_303_to_another_port_not_followed(protocol, status, tmp_path):
    with FAKES[protocol](key=KEY) as elsewhere, FAKES[protocol](key=KEY) as fake:
        fake.always(Resp(status, {}, headers={"Location": elsewhere.url + "/v1/x"}))
        with connect(protocol, fake.url, tmp_path) as client:
            reply, exc, t = run(client)
        n = len(fake.requests)
        assert elsewhere.requests == [] and n == 1 and isinstance(exc, BadRequest), evidence(reply, exc, t, n)


def leaked(text):
    """The longest piece of KEY (>= 8 characters) found in `text`, or ''."""
    for size in range(len(KEY), 7, -1):
        for i in range(len(KEY) - size + 1):
            if KEY[i:i + size] in text:
                return KEY[i:i + size]
    return ""


def _padded(n):
    return "x" * n + " key=" + KEY + " rest"


KEY_ECHOES = {
    # the provider's message, shown up to 500 characters: the key straddles the cut
    "401-message-at-500": ("openai", False, Resp(401, {"error": {"message": _padded(480), "type": "auth"}})),
    "anthropic-401-at-500": ("anthropic", False, Resp(401, {"type": "error", "error": {
        "type": "authentication_error", "message": _padded(480)}})),
    "gemini-400-at-500": ("gemini", False, Resp(400, {"error": {"code": 400, "status": "INVALID_ARGUMENT",
                                                                "message": _padded(480)}})),
    # an HTML error page, read up to 300 characters
    "html-502-at-300": ("openai", False, Resp(502, "<html><body>" + _padded(280) + "</body></html>",
                                              content_type="text/html")),
    # a 200 that is not JSON, quoted up to 200 characters
    "200-not-json-at-200": ("openai", False, Resp(200, _padded(180), content_type="text/plain", stream=False)),
    # a 200 whose JSON is an error object
    "200-error-object-at-200": ("openai", False, Resp(200, {"error": {"message": _padded(150)}}, stream=False)),
    # a stream event that is not JSON, quoted up to 100 characters
    "stream-not-json-at-100": ("openai", True, Resp(body=DEFAULT, events=[b"data: " + _padded(80).encode()
                                                                         + b"\n\n"])),
    # the Location of a redirect, named up to 200 characters
    "redirect-location-at-200": ("openai", False, Resp(307, {}, headers={
        "Location": "http://127.0.0.1:9/" + "p" * 170 + "?key=" + KEY})),
    # a mid-stream error event carrying the key
    "stream-error-event": ("anthropic", True, Resp(body=DEFAULT, error_after=1, error_event={
        "type": "error", "error": {"type": "overloaded_error", "message": "overloaded for " + KEY}})),
}


@pytest.mark.parametrize("name", sorted(KEY_ECHOES))
def test_a_key_echoed_anywhere_never_reaches_the_exception_or_log(name, tmp_path, caplog):
    protocol, streamed, resp = KEY_ECHOES[name]
    caplog.set_level("DEBUG")
    with FAKES[protocol](key=KEY) as fake:
        fake.always(resp)
        with connect(protocol, fake.url, tmp_path, max_retries=1, stream=streamed) as client:
            reply, exc, t = run(client)
        n = len(fake.requests)
    log = (tmp_path / "calls.jsonl").read_text()
    where = {"exception": leaked(str(exc)), "provider_message": leaked(getattr(exc, "provider_message", "") or ""),
             "calls.jsonl": leaked(log), "logging": leaked(caplog.text)}
    assert exc is not None and not any(where.values()), f"{where} {evidence(reply, exc, t, n)}"


# === 11. more: a server that never reads a big request ===================================================


def test_a_listener_that_never_reads_a_large_request_is_bounded(tmp_path):
    big = [{"role": "user", "content": "x" * (8 * 2**20)}]
    with Raw(None, accept=False) as srv:
        with connect("openai", srv.url, tmp_path, request_timeout=0.5, call_deadline=2.5) as client:
            reply, exc, t = run(client, big)
    assert isinstance(exc, ProviderTimeout) and t < 3.5, evidence(reply, exc, t, -1)
