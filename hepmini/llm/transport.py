"""One call to a provider: attempts with narrow retries, two clocks, typed errors, and the fix in every message.

Each attempt is bounded by `idle` (the longest silence: no new byte) and the whole call by its
deadline, from connect to last byte (hepmini.llm.wire). A stream whose bytes keep coming is never
cut by the idle clock, so a slow model that is generating is never mistaken for a dead connection.
Retried: connect errors, idle timeouts, dropped connections, 408, 409, 429, 5xx and 529, and a 2xx
whose body is empty or malformed (the server's fault, not the model's); never 400/401/403/404 or
an exhausted quota. Waits follow hepmini.retry (Retry-After first, else capped backoff); no attempt
starts that could not finish before the deadline, and a give-up names the last real cause.
A failure is raised as one line of the ProviderError tree: who, what happened, the provider's own
words, what to do, and `.attempts`. `scrub` keeps API keys out of every message.
"""

import json
import logging
import random
import re
import time
from typing import Callable, NamedTuple, Optional

from hepmini.errors import (AuthError, BadRequest, MalformedResponse, ProviderError, ProviderTimeout,
                            QuotaExceeded, RateLimited, ServerError)
from hepmini.llm import sse
from hepmini.llm.base import StreamError
from hepmini.retry import RetryPolicy, server_wait

log = logging.getLogger(__name__)

CONNECT_TIMEOUT = 5.0
MIN_ATTEMPT = 1.0                  # seconds an attempt needs at least; less left, and none is started
MAX_BODY = 16 * 2**20              # bytes; a chat answer is a few hundred KB at most
# Wordings that mean money or quota is gone for good (not a per-minute limit: Gemini says "exceeded your
# current quota" for those too, so it is read from the QuotaFailure details instead).
_QUOTA = re.compile(r"(?i)credit balance is too low|reached your specified API usage limits|spend(ing)? limit"
                    r"|budget has been exceeded|exceeded your budget|insufficient (credits|balance|funds)"
                    r"|billing (hard )?limit|credits are depleted|usage threshold|\blimit: 0\b")
_CONTEXT = re.compile(r"(?i)context[_ ]length|context window|context size|maximum context|prompt is too long|"
                      r"exceed_context_size|too many tokens|input is too long|reduce the length")


class Result(NamedTuple):
    """A successful call: status, lower-cased headers, the parsed reply and every attempt."""

    status: int
    headers: dict
    reply: object
    attempts: list


def scrub(text: str, secrets=()) -> str:
    """Remove API keys, bearer tokens and credentials in URLs (`https://user:pass@host`) from `text`.

    >>> scrub("Authorization: Bearer sk-abc123 key=sk-abc123", ["sk-abc123"])
    'Authorization: Bearer <redacted> key=<redacted>'
    >>> scrub("bad base URL http://me:pw@proxy:8000/v1")
    'bad base URL http://<redacted>@proxy:8000/v1'
    """
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "<redacted>")
    text = re.sub(r"(?<=://)[^/@\s]+@", "<redacted>@", text)
    return re.sub(r"(?i)\b(bearer)\s+(?!<redacted>)[^\s\"',]+", r"\1 <redacted>", text)


class ErrorInfo(NamedTuple):
    """What a provider's error body says, read by describe_error."""

    message: str
    type: str
    code: str
    param: str
    reason: str               # google.rpc.ErrorInfo reason, e.g. API_KEY_INVALID
    retry_delay: Optional[float]
    quota: bool               # exhausted quota, credit or spend limit: retrying will not help
    context: bool             # the prompt does not fit the model's context window


def _duration(text) -> Optional[float]:
    match = re.fullmatch(r"\s*([0-9.]+)s\s*", str(text or ""))
    return float(match.group(1)) if match else None


def _details(err: dict) -> tuple:
    """(ErrorInfo reason, RetryInfo delay, a quota that will not come back) from the error's details."""
    reason, delay, daily = "", None, False
    details = err.get("details") or []
    if isinstance(details, dict):            # Anthropic: {"error_code": "enforced_spend_limit_reached"}
        return str(details.get("error_code", "")), None, "spend_limit" in str(details.get("error_code", ""))
    for detail in details:
        kind = str(detail.get("@type", "")) if isinstance(detail, dict) else ""
        if kind.endswith("ErrorInfo"):
            reason = str(detail.get("reason", ""))
        elif kind.endswith("RetryInfo"):
            delay = _duration(detail.get("retryDelay"))
        elif kind.endswith("QuotaFailure"):
            daily |= any("PerDay" in str(v.get("quotaId", "")) for v in detail.get("violations") or []
                         if isinstance(v, dict))
    return reason, delay, daily


def describe_error(text: str) -> ErrorInfo:
    """Read any provider's error body (OpenAI, vLLM, Ollama, llama.cpp, LiteLLM, Anthropic, Gemini, HTML).

    >>> describe_error('{"error":"Unauthorized"}').message
    'Unauthorized'
    >>> describe_error('<html><head><title>502 Bad Gateway</title></head></html>').message
    '502 Bad Gateway'
    >>> describe_error('{"type":"error","error":{"type":"invalid_request_error","message":"Your credit '
    ...                'balance is too low to access the Anthropic API."}}').quota
    True
    """
    try:
        data = json.loads(text)
    except ValueError:
        data = None
    if not isinstance(data, dict):
        title = re.search(r"(?is)<title>(.*?)</title>", text or "")
        plain = " ".join((title.group(1) if title else re.sub(r"<[^>]+>", " ", text or "")).split())[:300]
        return ErrorInfo(plain, "", "", "", "", None, bool(_QUOTA.search(plain)), bool(_CONTEXT.search(plain)))
    err = data.get("error", data)          # old vLLM/FastChat errors are flat
    err = {"message": err} if isinstance(err, str) else err if isinstance(err, dict) else {}

    def field(key):
        value = err.get(key)
        return "" if value in (None, "None") else str(value)   # LiteLLM sends the string "None"

    reason, delay, daily = _details(err)
    message, kind, code = field("message"), field("type") or field("status"), field("code")
    quota = daily or bool({"insufficient_quota", "budget_exceeded", "billing_error"} & {kind, code}) \
        or bool(_QUOTA.search(message))
    context = bool({"context_length_exceeded", "exceed_context_size_error"} & {kind, code}) or \
        bool(_CONTEXT.search(message))
    return ErrorInfo(message, kind, code, field("param"), reason, delay, quota, context)


def classify(status: int, info: ErrorInfo, headers) -> tuple:
    """(error class, retryable, what to do) for an HTTP error status."""
    if 300 <= status < 400:
        where = str(headers.get("location", "an address it does not name"))[:200]
        return BadRequest, False, (f"the server redirects to {where}; hepmini follows no redirect (an API key must "
                                   "never follow one): set base_url to the address it points to")
    if status in (401, 403) or info.reason == "API_KEY_INVALID":
        return AuthError, False, "check the API key{keyvars} and that it is valid for {base_url}"
    if info.quota or status == 402:
        return QuotaExceeded, False, ("the account's quota, credit or spend limit is exhausted; add credit or "
                                      "wait for the reset - retrying will not help")
    if status == 429:
        cls, retry, todo = RateLimited, True, "lower the concurrency (-j, provider_concurrency) or try later"
    elif status == 408:
        cls, retry, todo = ProviderTimeout, True, "the server timed out; try later"
    elif status == 409 or status >= 500:
        cls, retry, todo = ServerError, True, "the provider or a proxy failed; try again later"
    elif status == 404:
        return BadRequest, False, "check the model name and base URL (python -m hepmini models)"
    elif info.context:
        return BadRequest, False, ("the prompt is longer than the model's context window; use a model with a "
                                   "longer context (for a local model: raise local_context)")
    else:
        return BadRequest, False, _fix_for_param(info)
    should = str(headers.get("x-should-retry", "")).lower()
    return cls, retry and should != "false", todo


def _fix_for_param(info: ErrorInfo) -> str:
    if info.param in ("max_tokens", "max_completion_tokens") or "max_completion_tokens" in info.message:
        return ("this model wants the other token-limit field: set max_tokens_field = max_completion_tokens "
                "(or max_tokens) under [endpoint:{name}] in hepmini.cfg")
    if info.param:
        return f"the model rejects the parameter '{info.param}'; leave it out for this model"
    return "fix the request"


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
            record["error"] = scrub(what + (f": {info.message}" if info and info.message else ""), self.secrets)[:300]
            self._wait_or_give_up(n, record, last)
        raise AssertionError("unreachable")

    def _post(self, wire, url, headers, payload, stream, record):
        decoder = sse.Decoder()

        def on_chunk(chunk):
            if stream is not None:
                for event, data in decoder.feed(chunk):
                    self._event(stream, event, data)

        answer = wire.post(self.session, url, headers, payload, idle=self.idle, deadline=self.left(),
                           connect=CONNECT_TIMEOUT, max_bytes=MAX_BODY, on_chunk=on_chunk,
                           on_status=lambda status: record.update(status=status))
        if stream is not None and 200 <= answer.status < 300:
            for event, data in decoder.flush():
                self._event(stream, event, data)
        return answer

    def _event(self, stream, event, data):
        try:
            added = stream.add(event, data)
        except ValueError:
            raise MalformedResponse(f"a {event} event of the stream is not JSON: {data[:100]!r}") from None
        if added:
            self.on_event("delta", text=added)
        read = getattr(stream, "prompt_progress", None)
        if read and read != getattr(self, "_read", None):
            self._read = read
            self.on_event("prompt", processed=read[0], total=read[1])

    def _outcome(self, answer, parse, stream, record):
        """A Result, or (class, what, info, retryable, todo, status) of a failed attempt."""
        record["status"] = answer.status
        if not 200 <= answer.status < 300:
            info = describe_error(answer.body.decode("utf-8", errors="replace"))
            cls, retry, todo = classify(answer.status, info, answer.headers)
            return cls, f"HTTP {answer.status}", info, retry, todo, answer.headers
        is_stream = stream is not None and "text/event-stream" in answer.headers.get("content-type", "")
        try:
            if is_stream and not stream.finished:
                raise MalformedResponse("the stream ended before its end event (the connection was cut)")
            reply = stream.reply() if is_stream else parse(json.loads(answer.body.decode("utf-8", errors="replace")))
        except ValueError:
            text = " ".join(answer.body.decode("utf-8", errors="replace").split())[:200]
            return MalformedResponse, f"HTTP {answer.status} but the body is not JSON: {text!r}", None, True, \
                "check that {base_url} is the model's API", None
        except MalformedResponse as exc:
            return MalformedResponse, f"HTTP {answer.status} but {exc}", None, True, \
                "the server answered without a model reply; check {base_url}", None
        return Result(answer.status, answer.headers, reply, self.attempts)

    def _transport_failure(self, exc, stream) -> tuple:
        if isinstance(exc, StreamError):
            info = describe_error(exc.body)
            cls, retry, todo = classify(exc.status, info, {})
            return cls, f"error event in the stream (as HTTP {exc.status})", info, retry, todo, None
        if isinstance(exc, MalformedResponse):
            return MalformedResponse, f"a malformed stream: {exc}", None, True, "check {base_url}", None
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
            raise self.give_up(*last, why=f"the server asks to wait {asked:.0f}s, longer than hepmini waits "
                                          f"({self.policy.max_server_wait:.0f}s)",
                               fix=f"try again in {max(asked / 60, 1):.0f} min or more")
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
            parts.append(repr(info.message[:500]))
        keyvars = f" ({' or '.join(e.key_vars)})" if e.key_vars else ""
        todo = (fix or todo).replace("{keyvars}", keyvars).replace("{base_url}", e.base_url)
        todo = todo.replace("{name}", e.name)
        todo = f"{why}; {todo}" if why else todo
        elapsed = self.clock() - self.start
        message = f"{' '.join(parts)} - {todo} ({len(self.attempts)} attempt(s) in {elapsed:.1f}s)"
        status = self.attempts[-1]["status"] if self.attempts else None
        error = cls(scrub(" ".join(message.split()), self.secrets), provider=e.name, status=status,
                    provider_message=scrub(info.message, self.secrets) if info else "", attempts=self.attempts)
        error.retryable, error.param = retry, info.param if info else ""
        return error
