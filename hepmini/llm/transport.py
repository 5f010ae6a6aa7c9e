"""HTTP for the LLM clients: one JSON POST with narrow retries, one total deadline, typed errors.

Only connect errors, timeouts, 408, 409, 429 and 5xx (529 included) are retried - never
400/401/403/404 or a 429 that reports exhausted quota - with capped exponential backoff and jitter,
honouring retry-after(-ms) and Gemini's RetryInfo, within one total deadline per call
(cfg.call_deadline) that also bounds a server trickling its body. Any provider's error body is read
by describe_error, and a failure is raised as one line of the ProviderError tree of hepmini.errors:
who, what happened, the provider's own message, what to do, and `.attempts`. `scrub` keeps API keys
out of every message. `requests` is imported only when a request is sent.
"""

import email.utils
import json
import logging
import random
import re
import time
from typing import NamedTuple, Optional

from hepmini.errors import (AuthError, BadRequest, MalformedResponse, ProviderError, ProviderTimeout,
                            QuotaExceeded, RateLimited, ServerError)

log = logging.getLogger(__name__)

INITIAL_RETRY_DELAY, MAX_RETRY_DELAY = 0.5, 8.0    # openai/anthropic SDK _constants.py
MAX_RETRY_AFTER = 120.0       # a server asking for a longer wait is not retried (openai-python 3.x)
CONNECT_TIMEOUT = 5.0


class HTTPResult(NamedTuple):
    """A 2xx answer: status, lower-cased headers, the decoded JSON body and every attempt."""

    status: int
    headers: dict
    data: object
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
    quota: bool               # exhausted quota / spend limit: retrying will not help


def _duration(text) -> Optional[float]:
    match = re.fullmatch(r"\s*([0-9.]+)s\s*", str(text or ""))
    return float(match.group(1)) if match else None


def describe_error(text: str) -> ErrorInfo:
    """Read any provider's error body (OpenAI, vLLM, Ollama, llama.cpp, LiteLLM, Anthropic, Gemini, HTML).

    >>> describe_error('{"error":"Unauthorized"}').message
    'Unauthorized'
    >>> describe_error('<html><head><title>502 Bad Gateway</title></head></html>').message
    '502 Bad Gateway'
    """
    try:
        data = json.loads(text)
    except ValueError:
        data = None
    if not isinstance(data, dict):
        title = re.search(r"(?is)<title>(.*?)</title>", text or "")
        plain = title.group(1) if title else re.sub(r"<[^>]+>", " ", text or "")
        return ErrorInfo(" ".join(plain.split())[:300], "", "", "", "", None, False)
    err = data.get("error", data)          # old vLLM/FastChat errors are flat
    if isinstance(err, str):
        err = {"message": err}
    if not isinstance(err, dict):
        err = {}

    def field(key):
        value = err.get(key)
        return "" if value in (None, "None") else str(value)   # LiteLLM sends the string "None"

    reason, delay, daily = "", None, False
    for detail in err.get("details") or []:
        kind = str(detail.get("@type", "")) if isinstance(detail, dict) else ""
        if kind.endswith("ErrorInfo"):
            reason = str(detail.get("reason", ""))
        elif kind.endswith("RetryInfo"):
            delay = _duration(detail.get("retryDelay"))
        elif kind.endswith("QuotaFailure"):
            daily |= any("PerDay" in str(v.get("quotaId", "")) for v in detail.get("violations") or []
                         if isinstance(v, dict))
    message, kind, code = field("message"), field("type") or field("status"), field("code")
    quota = (daily or "insufficient_quota" in (kind, code) or "budget_exceeded" in (kind, code)
             or bool(re.search(r"(?i)reached your specified API usage limits|spend(ing)? limit"
                               r"|budget has been exceeded|exceeded your budget", message)))
    return ErrorInfo(message, kind, code, field("param"), reason, delay, quota)


def _classify(status: int, info: ErrorInfo, headers) -> tuple:
    """(error class, retryable, what to do) for an HTTP error status."""
    if status in (401, 403) or info.reason == "API_KEY_INVALID":
        return AuthError, False, "check the API key{keyvars} and that it is valid for {base_url}"
    if info.quota or status == 402:
        return QuotaExceeded, False, ("the quota or spend limit is exhausted; add credit or wait for the "
                                      "reset - retrying will not help")
    if status == 429:
        cls, retry, todo = RateLimited, True, "lower the concurrency or raise max_retries/call_deadline"
    elif status == 408:
        cls, retry, todo = ProviderTimeout, True, "the server timed out; try later"
    elif status == 409 or status >= 500:
        cls, retry, todo = ServerError, True, "the provider or a proxy failed; try again later"
    elif status == 404:
        return BadRequest, False, "check the model name and base URL (python -m hepmini models)"
    else:
        todo = "fix the request"
        if info.param:
            todo = f"change or drop the parameter '{info.param}' for this model"
        return BadRequest, False, todo
    should = str(headers.get("x-should-retry", "")).lower()
    return cls, retry and should != "false", todo


def _server_wait(headers, info: ErrorInfo, now: float) -> tuple:
    """(seconds, source) the server asks us to wait: retry-after-ms, retry-after (seconds or HTTP date),
    else Gemini's RetryInfo.retryDelay; (None, "") when it says nothing usable."""
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        raw = headers.get(name)
        if raw is None:
            continue
        try:
            return float(raw) * scale, "retry-after"
        except ValueError:
            pass
        try:
            return email.utils.parsedate_to_datetime(raw).timestamp() - now, "retry-after"
        except (TypeError, ValueError, IndexError):
            pass
    return info.retry_delay, ("retryDelay" if info.retry_delay is not None else "")


def _transport_error(exc) -> tuple:
    """(error class, description) for an exception raised while sending or reading."""
    import requests

    text = f"{type(exc).__name__}: {exc}"
    if isinstance(exc, (requests.exceptions.ConnectTimeout, requests.exceptions.ReadTimeout)) or \
            "timed out" in text.lower():
        return ProviderTimeout, "timed out"
    if any(s in text for s in ("NewConnectionError", "Failed to establish", "NameResolution", "Failed to resolve",
                               "refused")):
        return ProviderTimeout, "could not connect"
    return ServerError, "connection dropped"


class _DeadlinePassed(Exception):
    """The total deadline passed while the body was still arriving."""


def _send(session, url, headers, payload, read_timeout, end, clock):
    """POST once; read the body in small pieces so the total deadline `end` also bounds a trickle."""
    resp = session.post(url, data=payload, headers=headers, stream=True,
                        timeout=(min(CONNECT_TIMEOUT, read_timeout), read_timeout))
    try:
        raw, chunks = resp.raw, []
        while True:
            if clock() > end:
                raise _DeadlinePassed()
            chunk = raw.read1(65536, decode_content=True) if hasattr(raw, "read1") else \
                raw.read(1024, decode_content=True)
            if not chunk:
                break
            chunks.append(chunk)
        return resp.status_code, {k.lower(): v for k, v in resp.headers.items()}, b"".join(chunks)
    finally:
        resp.close()


def post_json(url, headers, body, *, endpoint, timeout: float, deadline: float,
              max_retries: int, session, clock=time.monotonic, sleep=time.sleep, rng=random.random,
              wallclock=time.time, secrets=()) -> HTTPResult:
    """POST `body` as JSON with narrow retries and one total deadline; return the decoded 2xx JSON.

    `endpoint` is the llm.Endpoint called (its name, base_url and key_vars go into messages). Every
    attempt is recorded (status, seconds, error, the wait that followed and where it came from);
    errors are raised as ProviderError subclasses carrying that list.
    """
    import requests
    import urllib3

    payload = json.dumps(body).encode("utf-8")
    start, attempts = clock(), []
    for n in range(max_retries + 1):
        t0 = clock()
        record = {"n": n + 1, "status": None, "seconds": 0.0, "error": None, "wait": 0.0, "wait_source": ""}
        attempts.append(record)
        info, status, hdrs = None, None, {}
        try:
            status, hdrs, content = _send(session, url, headers, payload,
                                          max(min(timeout, deadline - (t0 - start)), 0.001),
                                          start + deadline, clock)
        except _DeadlinePassed:
            cls, what, retry = ProviderTimeout, f"no complete answer within call_deadline={deadline:g}s", False
            todo = "the server sends too slowly; raise call_deadline or check {base_url}"
        except (requests.exceptions.InvalidURL, requests.exceptions.MissingSchema,
                requests.exceptions.InvalidSchema) as exc:
            record["error"] = scrub(str(exc), secrets)[:300]
            raise BadRequest(scrub(f"{endpoint.name}: bad base URL {endpoint.base_url!r} ({exc}); fix it "
                                   "in the config", secrets), provider=endpoint.name, attempts=attempts) from None
        except (requests.exceptions.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
            cls, kind = _transport_error(exc)
            what, retry = f"{kind} ({type(exc).__name__})", True
            todo = "check that the server at {base_url} is up and reachable (URL, network, proxy)"
            if kind == "timed out":
                todo = "raise request_timeout, or check that the server at {base_url} is healthy"
            log.debug("%s: %s", endpoint.name, scrub(str(exc), secrets))
        else:
            record["status"] = status
            text = content.decode("utf-8", errors="replace")
            if 200 <= status < 300:
                record["seconds"] = round(clock() - t0, 4)
                try:
                    return HTTPResult(status, hdrs, json.loads(text), attempts)
                except ValueError:
                    record["error"] = "body is not JSON"
                    raise MalformedResponse(scrub(f"{endpoint.name}: HTTP {status} but the body is not JSON: "
                                                  f"{' '.join(text.split())[:200]!r} - retrying will not help; "
                                                  f"check {endpoint.base_url}", secrets),
                                            provider=endpoint.name, status=status, attempts=attempts) from None
            info = describe_error(text)
            cls, retry, todo = _classify(status, info, hdrs)
            what = f"HTTP {status}"
        record["seconds"] = round(clock() - t0, 4)
        record["error"] = scrub(what + (f": {info.message}" if info and info.message else ""), secrets)[:300]
        why = ""
        if retry and clock() - start >= deadline:
            retry, why = False, f"call_deadline={deadline:g}s reached"
        elif retry and n == max_retries:
            why = f"gave up after {max_retries} retries" if max_retries else "retries are off (max_retries=0)"
        elif retry:
            asked, source = _server_wait(hdrs, info, wallclock()) if info else (None, "")
            if asked is not None and asked > MAX_RETRY_AFTER:
                retry, why = False, f"the server asks to wait {asked:.0f}s, more than {MAX_RETRY_AFTER:.0f}s"
            else:
                if asked is not None and asked > 0:
                    wait = asked
                else:   # SDK backoff: 0.5 s doubling, capped at 8 s, minus up to 25 % jitter
                    wait, source = min(INITIAL_RETRY_DELAY * 2 ** n, MAX_RETRY_DELAY) * (1 - 0.25 * rng()), \
                        "backoff"
                if clock() - start + wait >= deadline:
                    retry, why = False, f"waiting {wait:.1f}s more would pass call_deadline={deadline:g}s"
                else:
                    record["wait"], record["wait_source"] = round(wait, 3), source
                    log.info("%s: %s; retry %d/%d in %.1fs", endpoint.name, record["error"], n + 1,
                             max_retries, wait)
                    sleep(wait)
                    continue
        raise _give_up(endpoint, cls, what, info, todo, why, status, attempts, clock() - start, secrets)
    raise AssertionError("unreachable")


def _give_up(endpoint, cls, what, info, todo, why, status, attempts, elapsed, secrets) -> ProviderError:
    """The one-line error: who, what happened, the provider's own words, what to do, attempts."""
    parts = [f"{endpoint.name}: {what}"]
    if info and (info.type or info.code):
        parts.append(f"[{' '.join(dict.fromkeys(x for x in (info.type, info.code) if x))}]")
    if info and info.message:
        parts.append(repr(info.message))
    keyvars = f" ({' or '.join(endpoint.key_vars)})" if endpoint.key_vars else ""
    todo = todo.replace("{keyvars}", keyvars).replace("{base_url}", endpoint.base_url)
    todo = f"{why}; {todo}" if why else todo
    message = f"{' '.join(parts)} - {todo} ({len(attempts)} attempt(s) in {elapsed:.1f}s)"
    return cls(scrub(" ".join(message.split()), secrets), provider=endpoint.name, status=status,
               provider_message=scrub(info.message, secrets) if info else "", attempts=attempts)
