"""One call to a provider: attempts with narrow retries, two clocks, typed errors, and the fix in every message.

Each attempt is bounded by `idle` (the longest silence: no new byte) and the whole call by its
deadline, from connect to last byte (hepmini.llm.wire). A stream whose bytes keep coming is never
cut by the idle clock, so a slow model that is generating is never mistaken for a dead connection.
Retried: connect errors, idle timeouts, dropped connections, 408, 409, 429, 5xx and 529, and a 2xx
whose body is empty or malformed (the server's fault, not the model's); never 400/401/403/404 or
an exhausted quota. An error inside a 2xx (its JSON body, a stream's error event) is the error it
names. Waits follow hepmini.retry (Retry-After first, else capped backoff); no attempt starts that
could not finish before the deadline, and a give-up names the last real cause.
A failure is raised as one line of the ProviderError tree: who, what happened, the provider's own
words, what to do, and `.attempts`. Every text from the server passes `clip` (scrub the API keys,
then cut) before it reaches a message, the attempt record or the log.
"""

import json
import logging
import random
import time
from typing import Callable, NamedTuple, Optional

from hepmini.errors import BadRequest, MalformedResponse, ProviderError, ProviderTimeout, ServerError
from hepmini.llm import sse
from hepmini.llm.base import StreamError
from hepmini.llm.errorbody import classify, clip, describe_error, error_status, is_error_object, scrub
from hepmini.retry import YEAR, RetryPolicy, server_wait, wait_text

log = logging.getLogger(__name__)

CONNECT_TIMEOUT = 5.0
MIN_ATTEMPT = 1.0                  # seconds an attempt needs at least; less left, and none is started
MAX_BODY = 16 * 2**20              # bytes; a chat answer is a few hundred KB at most


class Result(NamedTuple):
    """A successful call: status, lower-cased headers, the parsed reply and every attempt."""

    status: int
    headers: dict
    reply: object
    attempts: list


class Call:
    """One call's attempts: the clocks, the policy, the hooks, and the record of every attempt."""

    def __init__(self, endpoint, *, policy: RetryPolicy, idle: float, deadline: float, session, secrets=(),
                 clock=time.monotonic, sleep=time.sleep, rng=random.random, wallclock=time.time,
                 on_event: Optional[Callable] = None):
        self.endpoint, self.policy, self.idle, self.deadline = endpoint, policy, idle, deadline
        self.session, self.secrets, self.on_event = session, secrets, on_event or (lambda kind, **info: None)
        self.clock, self.sleep, self.rng, self.wallclock = clock, sleep, rng, wallclock
        self.start, self.attempts = clock(), []

    def left(self) -> float:
        return self.deadline - (self.clock() - self.start)

    def run(self, url: str, headers: dict, body: dict, parse: Callable, stream_factory=None) -> Result:
        """POST `body` until a parsed reply or a give-up; `stream_factory` makes the accumulator of a stream."""
        from hepmini.llm import wire

        payload = json.dumps(body).encode("utf-8")
        last = None
        for n in range(self.policy.max_retries + 1):
            if n and self.left() < MIN_ATTEMPT:
                raise self.give_up(*last, why=f"no time left for another attempt within call_deadline="
                                              f"{self.deadline:g}s")
            record = {"n": n + 1, "status": None, "seconds": 0.0, "error": None, "wait": 0.0, "wait_source": ""}
            self.attempts.append(record)
            self.on_event("attempt", n=n + 1)
            t0, stream = self.clock(), stream_factory() if stream_factory else None
            try:
                answer = self._post(wire, url, headers, payload, stream, record)
                outcome = self._outcome(answer, parse, stream, record)
            except wire.DeadlinePassed:
                outcome = (ProviderTimeout, f"no complete answer within call_deadline={self.deadline:g}s",
                           None, False, "the server is too slow for call_deadline; raise call_deadline or check "
                                        "{base_url}", None)
            except wire.TooLarge as exc:
                outcome = (MalformedResponse, f"the answer is {exc}: not a chat reply", None, False,
                           "check that {base_url} is the model's API", None)
            except (*wire.TRANSPORT_ERRORS, StreamError, MalformedResponse) as exc:
                outcome = self._transport_failure(exc, stream)
            record["seconds"] = round(self.clock() - t0, 4)
            if isinstance(outcome, Result):
                return outcome
            last = outcome
            _, what, info, *_ = outcome
            record["error"] = clip(what + (f": {info.message}" if info and info.message else ""), 300, self.secrets)
            self._wait_or_give_up(n, record, last)
        raise AssertionError("unreachable")

    def _post(self, wire, url, headers, payload, stream, record):
        decoder = sse.Decoder()

        def on_chunk(chunk):
            for event, data in decoder.feed(chunk) if stream is not None else ():
                if stream.ended:          # what follows the end event is not part of the reply
                    return
                self._event(stream, event, data)

        # Once the end event is in, the reply is complete: reading stops, and a connection that then
        # stalls or drops is no fault (re-sending would pay for the same reply twice).
        answer = wire.post(self.session, url, headers, payload, idle=self.idle, deadline=self.left(),
                           connect=CONNECT_TIMEOUT, max_bytes=MAX_BODY, on_chunk=on_chunk,
                           on_status=lambda status: record.update(status=status),
                           ended=lambda: stream is not None and stream.ended,
                           complete=lambda: stream is not None and stream.finished)
        if stream is not None and 200 <= answer.status < 300 and not stream.ended:
            for event, data in decoder.flush():
                self._event(stream, event, data)
        return answer

    def _event(self, stream, event, data):
        try:
            added = stream.add(event, data)
        except ValueError:
            raise MalformedResponse(f"a {event} event of the stream is not JSON: "
                                    f"{clip(data, 100, self.secrets)!r}") from None
        if added:
            self.on_event("delta", text=added)
        read = getattr(stream, "prompt_progress", None)
        if read and read != getattr(self, "_read", None):
            self._read = read
            self.on_event("prompt", processed=read[0], total=read[1])

    def _outcome(self, answer, parse, stream, record):
        """A Result, or (class, what, info, retryable, todo, status) of a failed attempt."""
        record["status"] = answer.status
        text = answer.body.decode("utf-8", errors="replace")
        if not 200 <= answer.status < 300:
            info = describe_error(text, self.secrets)
            cls, retry, todo = classify(answer.status, info, answer.headers, self.secrets)
            return cls, f"HTTP {answer.status}", info, retry, todo, answer.headers
        # media types are case-insensitive (RFC 9110 8.3.1)
        is_stream = stream is not None and "text/event-stream" in answer.headers.get("content-type", "").lower()
        try:
            if is_stream and not stream.finished:
                raise MalformedResponse("the stream ended before its end event (the connection was cut)")
            if is_stream:
                return Result(answer.status, answer.headers, stream.reply(), self.attempts)
            try:
                data = json.loads(text)
            except ValueError:
                return MalformedResponse, f"HTTP {answer.status} but the body is not JSON: " \
                    f"{clip(' '.join(text.split()), 200, self.secrets)!r}", None, True, \
                    "check that {base_url} is the model's API", None
            if is_error_object(data):     # an error sent with a 2xx status is that error (a quota ends at once)
                return self._error_body(text, answer)
            return Result(answer.status, answer.headers, parse(data), self.attempts)
        except MalformedResponse as exc:
            return MalformedResponse, clip(f"HTTP {answer.status} but {exc}", 300, self.secrets), None, True, \
                "the server answered without a model reply; check {base_url}", None

    def _error_body(self, text, answer) -> tuple:
        """A 2xx whose body is an error object, classified as the status the error names (else a 500)."""
        info = describe_error(text, self.secrets)
        cls, retry, todo = classify(error_status(info, 500), info, answer.headers, self.secrets)
        return cls, f"HTTP {answer.status} with an error body", info, retry, todo, answer.headers

    def _transport_failure(self, exc, stream) -> tuple:
        if isinstance(exc, StreamError):
            info = describe_error(exc.body, self.secrets)
            # what the error says it is comes first: a prompt too long is no server fault, whatever the status
            status = error_status(info, exc.status) if exc.status >= 500 else exc.status
            cls, retry, todo = classify(status, info, {}, self.secrets)
            return cls, f"error event in the stream (as HTTP {status})", info, retry, todo, None
        if isinstance(exc, MalformedResponse):
            return MalformedResponse, clip(f"a malformed stream: {exc}", 300, self.secrets), None, True, \
                "check {base_url}", None
        text = f"{type(exc).__name__}: {exc}"
        log.debug("%s: %s", self.endpoint.name, scrub(text, self.secrets))
        if "timed out" in text.lower() or "Timeout" in type(exc).__name__:
            return ProviderTimeout, f"timed out: no byte for {self.idle:g}s (request_timeout)", None, True, \
                "raise request_timeout, or check that the server at {base_url} is healthy", None
        if any(s in text for s in ("NewConnectionError", "Failed to establish", "NameResolution", "refused",
                                   "Failed to resolve")):
            return ProviderTimeout, f"could not connect ({type(exc).__name__})", None, True, \
                "check that the server at {base_url} is up and reachable (URL, network, proxy)", None
        if any(s in text for s in ("InvalidURL", "MissingSchema", "InvalidSchema", "No connection adapters")):
            return BadRequest, f"bad base URL {self.endpoint.base_url!r}", None, False, "fix it in the config", None
        return ServerError, f"connection dropped ({type(exc).__name__})", None, True, \
            "check that the server at {base_url} is healthy", None

    def _wait_or_give_up(self, n: int, record: dict, last: tuple) -> None:
        cls, what, info, retry, todo, headers = last
        if not retry:
            raise self.give_up(*last)
        if n == self.policy.max_retries:
            raise self.give_up(*last, why=f"gave up after {n} retries" if n else "retries are off (max_retries=0)")
        asked = server_wait(headers or {}, self.wallclock()) if headers is not None else None
        source = "retry-after" if asked is not None else ""
        if asked is None and info is not None and info.retry_delay is not None:
            asked, source = info.retry_delay, "retryDelay"
        if asked is not None and asked > self.policy.max_server_wait:
            raise self.give_up(*last, why=f"the server asks to wait {wait_text(asked)}, longer than hepmini "
                                          f"waits ({wait_text(self.policy.max_server_wait)})",
                               fix="try again later" if asked >= YEAR else f"try again in {wait_text(asked)}")
        wait = asked if asked else self.policy.backoff(n + 1, self.rng)
        source = source if asked else "backoff"
        if self.left() - wait < MIN_ATTEMPT:
            raise self.give_up(*last, why=f"waiting {wait:.1f}s more would pass call_deadline={self.deadline:g}s")
        record["wait"], record["wait_source"] = round(wait, 3), source
        self.on_event("retry", error=record["error"], wait=wait, n=n + 1, of=self.policy.max_retries)
        log.info("%s: %s; retry %d/%d in %.1fs", self.endpoint.name, record["error"], n + 1,
                 self.policy.max_retries, wait)
        self.sleep(wait)

    def give_up(self, cls, what, info, retry, todo, headers, why="", fix="") -> ProviderError:
        """The one-line error: who, what happened, the provider's own words, what to do, attempts."""
        e = self.endpoint
        parts = [f"{e.name}: {what}"]
        if info and (info.type or info.code):
            parts.append(f"[{' '.join(dict.fromkeys(x for x in (info.type, info.code) if x))}]")
        if info and info.message:
            parts.append(repr(clip(info.message, 500, self.secrets)))
        keyvars = f" ({' or '.join(e.key_vars)})" if e.key_vars else ""
        todo = (fix or todo).replace("{keyvars}", keyvars).replace("{base_url}", e.base_url)
        todo = todo.replace("{name}", e.name)
        todo = f"{why}; {todo}" if why else todo
        elapsed = self.clock() - self.start
        message = f"{' '.join(parts)} - {todo} ({len(self.attempts)} attempt(s) in {elapsed:.1f}s)"
        status = self.attempts[-1]["status"] if self.attempts else None
        error = cls(scrub(" ".join(message.split()), self.secrets), provider=e.name, status=status,
                    provider_message=clip(info.message, 2000, self.secrets) if info else "", attempts=self.attempts)
        error.retryable, error.param = retry, info.param if info else ""
        return error
