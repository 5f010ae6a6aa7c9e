"""Talk to LLM providers through small `requests` clients: one Reply shape, narrow retries, cost, call log.

The contract the agent code relies on::

    client = llm.client_for("openai:gpt-5-mini", cfg)      # "provider:model"; see `python -m hepmini models`
    reply = client.complete([{"role": "system", "content": "..."},
                             {"role": "user", "content": "..."}],   # roles: system | user | assistant
                            {"temperature": 0, "max_tokens": 4096})
    reply.text           # the answer only (reasoning/thinking text is never included); "" when none
    reply.finish_reason  # stop | length | content_filter | error   (reply.finish_raw: the provider's own)
    reply.usage          # Usage(input, output, reasoning, cached_input, cache_write, total, reported)
    reply.model          # the model name the provider returned (may differ from the one requested)
    reply.cost           # USD float, or None when unknown (never 0 for unknown); reply.cost_source says how
    reply.attempts       # [{"n", "status", "seconds", "error", "wait", "wait_source"}], one per HTTP attempt
    reply.latency        # seconds for the whole call, retries and waits included
    reply.params_sent    # generation parameters as sent on the wire; reply.params_dropped: what was left
                         # out and why (e.g. temperature for reasoning models)

Usage is normalised across providers: `input` counts every prompt token (cached ones included),
`cached_input` and `cache_write` are parts of it; `output` counts every generated token, reasoning
included, and `reasoning` is the part of it the provider reports as reasoning (0 when not reported;
Anthropic reports none apart). `reported` is False when the server sent no usage at all.

Params: temperature, max_tokens, top_p, top_k, stop, seed, reasoning_effort (OpenAI), thinking_budget
(Anthropic, Gemini). A parameter a model cannot take is dropped and recorded, never sent to fail.

Failures raise the ProviderError tree of hepmini.errors (AuthError, BadRequest, RateLimited,
QuotaExceeded, ServerError, ProviderTimeout, MalformedResponse): one line, the provider's own message
and what to do; `.attempts` lists every try. Only connect errors, timeouts, 408, 409, 429 and 5xx (529
included) are retried - never 400/401/403/404 or a 429 that reports exhausted quota - with capped
exponential backoff and jitter, honouring retry-after(-ms) and Gemini's RetryInfo, within one total
deadline per call (cfg.call_deadline) that also bounds a server trickling its body.

Every call, failed or not, is appended to cfg.call_log_path (JSONL). API keys never reach the log,
a message or an exception. A Client keeps one HTTP session: use one Client per thread, and close() it
(or use it as a context manager). `ScriptedLLM` is a scripted stand-in for tests: it replays given
replies and never contacts a model.
"""

import dataclasses
import difflib
import email.utils
import hashlib
import importlib
import json
import logging
import random
import re
import time
from datetime import datetime, timezone
from typing import NamedTuple, Optional

from hepmini import prices
from hepmini.config import KEY_VARIABLES
from hepmini.errors import (AuthError, BadRequest, ConfigError, MalformedResponse, ProviderError,
                            ProviderTimeout, QuotaExceeded, RateLimited, ServerError)
from hepmini.files import append_jsonl

log = logging.getLogger(__name__)

ROLES = ("system", "user", "assistant")
PARAMS = ("temperature", "max_tokens", "top_p", "top_k", "stop", "seed", "reasoning_effort",
          "thinking_budget")
FINISH_REASONS = ("stop", "length", "content_filter", "error")
INITIAL_RETRY_DELAY, MAX_RETRY_DELAY = 0.5, 8.0    # openai/anthropic SDK _constants.py
MAX_RETRY_AFTER = 120.0       # a server asking for a longer wait is not retried (openai-python 3.x)
CONNECT_TIMEOUT = 5.0


@dataclasses.dataclass(frozen=True)
class Endpoint:
    """Where and how to reach one provider; `protocol` names the llm_<protocol> module."""

    name: str
    protocol: str
    base_url: str
    key_vars: tuple = ()
    needs_key: bool = False          # refuse to call without a key (first-party APIs)
    max_tokens_field: str = "max_tokens"
    openai_api: bool = False         # api.openai.com itself: no top_k
    resold: tuple = ()               # vendors whose list prices apply through this proxy
    note: str = ""


PROTOCOLS = {"openai": "hepmini.llm_openai", "anthropic": "hepmini.llm_anthropic",
             "gemini": "hepmini.llm_gemini"}

PROVIDERS = {
    "openai": Endpoint("openai", "openai", "https://api.openai.com/v1", KEY_VARIABLES["openai"], True,
                       "max_completion_tokens", openai_api=True, note="OpenAI Chat Completions"),
    "anthropic": Endpoint("anthropic", "anthropic", "https://api.anthropic.com",
                          KEY_VARIABLES["anthropic"], True, note="Anthropic Messages"),
    "gemini": Endpoint("gemini", "gemini", "https://generativelanguage.googleapis.com",
                       KEY_VARIABLES["gemini"], True, note="Gemini generateContent"),
    "cborg": Endpoint("cborg", "openai", "https://api.cborg.lbl.gov/v1", KEY_VARIABLES["cborg"], True,
                      resold=("openai", "anthropic", "gemini"), note="LBNL CBorg (LiteLLM proxy)"),
    "ollama": Endpoint("ollama", "openai", "http://localhost:11434/v1", note="local Ollama /v1"),
}


@dataclasses.dataclass
class Usage:
    """Token counts, normalised across providers (see the module docstring)."""

    input: int = 0
    output: int = 0
    reasoning: int = 0
    cached_input: int = 0
    cache_write: int = 0
    total: int = 0
    reported: bool = False


@dataclasses.dataclass
class Reply:
    """One model answer and what it took to get it."""

    text: str
    usage: Usage
    finish_reason: str
    model: str
    raw: dict = dataclasses.field(default_factory=dict, repr=False)
    finish_raw: str = ""
    provider: str = ""
    requested_model: str = ""
    cost: Optional[float] = None
    cost_source: str = ""            # "header" (x-litellm-response-cost) | "table" | "" (unknown)
    attempts: list = dataclasses.field(default_factory=list)
    latency: float = 0.0
    params_sent: dict = dataclasses.field(default_factory=dict)
    params_dropped: dict = dataclasses.field(default_factory=dict)


class Request(NamedTuple):
    """What build_request produces: the HTTP request plus the parameters sent and dropped."""

    url: str
    headers: dict
    body: dict
    params_sent: dict
    params_dropped: dict


class HTTPResult(NamedTuple):
    status: int
    headers: dict
    data: object
    attempts: list


# --- names and endpoints -------------------------------------------------------------------------


def split_model(name: str, cfg=None) -> tuple:
    """Split 'provider:model' and check the provider exists (with a difflib hint when it does not).

    >>> split_model("ollama:qwen3:8b")
    ('ollama', 'qwen3:8b')
    """
    known = sorted(set(PROVIDERS) | set(getattr(cfg, "endpoints", {}) or {}))
    provider, sep, model = (name or "").partition(":")
    if not sep or not provider or not model:
        raise ConfigError(f"model {name!r} must be named provider:model, e.g. openai:gpt-5-mini "
                          f"(providers: {', '.join(known)})")
    if provider not in known:
        hint = difflib.get_close_matches(provider, known, n=1)
        more = f"did you mean {hint[0]}:{model}?" if hint else f"known: {', '.join(known)}"
        raise ConfigError(f"unknown provider '{provider}' in {name!r} ({more}); define other "
                          f"endpoints with [endpoint:NAME] or HEPMINI_ENDPOINT_NAME=URL")
    return provider, model


def endpoint_for(name: str, cfg) -> Endpoint:
    """The built-in endpoint `name` with the config's base-URL override and [endpoint:NAME] fields."""
    fields = dict((getattr(cfg, "endpoints", {}) or {}).get(name, {}))
    base = PROVIDERS.get(name) or Endpoint(name, fields.get("protocol", "openai"), "")
    changes = {"base_url": (getattr(cfg, "base_urls", {}) or {}).get(name) or fields.get("base_url")
               or base.base_url}
    if fields.get("protocol"):
        changes["protocol"] = fields["protocol"]
    if fields.get("key_env"):
        changes["key_vars"] = (fields["key_env"],)
    if fields.get("max_tokens_field"):
        changes["max_tokens_field"] = fields["max_tokens_field"]
    endpoint = dataclasses.replace(base, **changes)
    if not endpoint.base_url:
        raise ConfigError(f"endpoint {name} has no base_url: set it in [endpoint:{name}] or "
                          f"HEPMINI_ENDPOINT_{name.upper()}")
    return endpoint


def client_for(model_name: str, cfg, **hooks) -> "Client":
    """A Client for 'provider:model'. `hooks` (session, clock, sleep, rng, wallclock) are for tests."""
    provider, model = split_model(model_name, cfg)
    return Client(endpoint_for(provider, cfg), model, cfg, **hooks)


def complete(cfg, model_name: str, messages, params=None) -> Reply:
    """One call: client_for(model_name, cfg).complete(messages, params)."""
    return client_for(model_name, cfg).complete(messages, params)


def _check_call(messages, params):
    if not isinstance(messages, (list, tuple)) or not messages:
        raise BadRequest("messages must be a non-empty list of {'role', 'content'} dicts; nothing was sent")
    for i, m in enumerate(messages):
        if not isinstance(m, dict) or m.get("role") not in ROLES or not isinstance(m.get("content"), str):
            raise BadRequest(f"message {i} must be {{'role': one of {'/'.join(ROLES)}, 'content': str}}; "
                             "nothing was sent")
    for name in params:
        if name not in PARAMS:
            hint = difflib.get_close_matches(name, PARAMS, n=1)
            more = f"did you mean {hint[0]}?" if hint else f"supported: {', '.join(PARAMS)}"
            raise BadRequest(f"unknown parameter {name!r} ({more}); nothing was sent")


# --- the client ----------------------------------------------------------------------------------


class Client:
    """Calls one model on one endpoint; see the module docstring for the contract."""

    def __init__(self, endpoint: Endpoint, model: str, cfg, *, session=None, clock=time.monotonic,
                 sleep=time.sleep, rng=random.random, wallclock=time.time):
        self.endpoint, self.model, self.cfg = endpoint, model, cfg
        self.protocol = importlib.import_module(PROTOCOLS[endpoint.protocol])
        self._key = (cfg.keys or {}).get(endpoint.name) or None
        self._session = session
        self.clock, self.sleep, self.rng, self.wallclock = clock, sleep, rng, wallclock

    def __repr__(self):
        return f"Client({self.endpoint.name}:{self.model} at {self.endpoint.base_url})"

    @property
    def name(self) -> str:
        return f"{self.endpoint.name}:{self.model}"

    def close(self):
        """Close the kept-alive connections."""
        if self._session is not None:
            self._session.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def complete(self, messages, params=None) -> Reply:
        """Send one chat request and return the Reply; raise a ProviderError subclass on failure."""
        params = dict(params or {})
        _check_call(messages, params)
        start = self.clock()
        request, reply, error = None, None, None
        try:
            if self.endpoint.needs_key and not self._key:
                raise AuthError(f"{self.endpoint.name}: no API key; set {' or '.join(self.endpoint.key_vars)}"
                                f" (nothing was sent)", provider=self.endpoint.name)
            request = self.protocol.build_request(self.endpoint, self._key, self.model, messages, params)
            result = post_json(request.url, request.headers, request.body, endpoint=self.endpoint,
                               timeout=self.cfg.request_timeout, deadline=self.cfg.call_deadline,
                               max_retries=self.cfg.max_retries, session=self._http(), clock=self.clock,
                               sleep=self.sleep, rng=self.rng, wallclock=self.wallclock,
                               secrets=self._secrets())
            try:
                reply = self.protocol.parse_response(result.data)
            except MalformedResponse as exc:
                raise MalformedResponse(scrub(f"{self.endpoint.name}: {exc} - the server at "
                                              f"{self.endpoint.base_url} does not speak the "
                                              f"{self.endpoint.protocol} protocol as documented",
                                              self._secrets()),
                                        provider=self.endpoint.name, status=result.status,
                                        attempts=result.attempts) from None
            reply.provider, reply.requested_model = self.endpoint.name, self.model
            reply.attempts, reply.latency = result.attempts, self.clock() - start
            reply.params_sent, reply.params_dropped = request.params_sent, request.params_dropped
            reply.cost, reply.cost_source = self._cost(reply, result.headers)
            return reply
        except BaseException as exc:      # logged, then re-raised unchanged
            error = exc
            raise
        finally:
            self._log(messages, request, reply, error, self.clock() - start)

    def _http(self):
        # requests itself honours HTTPS_PROXY/NO_PROXY and REQUESTS_CA_BUNDLE, as HPC sites need.
        if self._session is None:
            import requests

            self._session = requests.Session()
        return self._session

    def _secrets(self):
        return [k for k in (self.cfg.keys or {}).values() if k]

    def _cost(self, reply, headers):
        header = headers.get("x-litellm-response-cost")
        if header not in (None, "", "None"):
            try:
                return float(header), "header"
            except ValueError:
                pass
        price = prices.lookup(self.endpoint.name, [self.model, reply.model], resold=self.endpoint.resold)
        value = prices.cost(price, reply.usage)
        return value, ("table" if value is not None else "")

    def _log(self, messages, request, reply, error, latency):
        digest = hashlib.sha256(json.dumps(list(messages), sort_keys=True).encode()).hexdigest()
        record = {
            "time": datetime.fromtimestamp(self.wallclock(), timezone.utc).isoformat(timespec="milliseconds"),
            "provider": self.endpoint.name, "protocol": self.endpoint.protocol,
            "base_url": re.sub(r"//[^/@]*@", "//", self.endpoint.base_url),
            "model_requested": self.model, "model_returned": reply.model if reply else None,
            "params_sent": request.params_sent if request else {},
            "params_dropped": request.params_dropped if request else {},
            "messages": len(messages), "messages_sha256": digest,
            "usage": dataclasses.asdict(reply.usage) if reply else None,
            "finish_reason": reply.finish_reason if reply else None,
            "cost": reply.cost if reply else None, "cost_source": reply.cost_source if reply else "",
            "latency": round(latency, 4),
            "attempts": reply.attempts if reply else getattr(error, "attempts", []),
            "status": "ok" if error is None else type(error).__name__,
            "error": str(error) if error is not None else None,
        }
        line = scrub(json.dumps(record, sort_keys=True, default=str), self._secrets())
        append_jsonl(self.cfg.call_log_path, json.loads(line))


# --- HTTP with retries ---------------------------------------------------------------------------


def scrub(text: str, secrets=()) -> str:
    """Remove API keys and bearer tokens from `text`.

    >>> scrub("Authorization: Bearer sk-abc123 key=sk-abc123", ["sk-abc123"])
    'Authorization: Bearer <redacted> key=<redacted>'
    """
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "<redacted>")
    return re.sub(r"(?i)\b(bearer)\s+(?!<redacted>)[^\s\"',]+", r"\1 <redacted>", text)


class ErrorInfo(NamedTuple):
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
    pass


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


def post_json(url, headers, body, *, endpoint: Endpoint, timeout: float, deadline: float,
              max_retries: int, session, clock=time.monotonic, sleep=time.sleep, rng=random.random,
              wallclock=time.time, secrets=()) -> HTTPResult:
    """POST `body` as JSON with narrow retries and one total deadline; return the decoded 2xx JSON.

    Every attempt is recorded (status, seconds, error, the wait that followed and where it came from);
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


# --- command line --------------------------------------------------------------------------------


def _key_state(endpoint: Endpoint, cfg) -> str:
    if (cfg.keys or {}).get(endpoint.name):
        return f"key set ({'/'.join(endpoint.key_vars)})" if endpoint.key_vars else "key set"
    if not endpoint.needs_key:
        return "no key needed" + (f" (optional {endpoint.key_vars[0]})" if endpoint.key_vars else "")
    return f"NO KEY: set {' or '.join(endpoint.key_vars)}"


def _price_text(price) -> str:
    if price is None:
        return "price unknown"
    cached = "" if price.cached_input is None else f" cached {price.cached_input:g}"
    return f"in {price.input:g} out {price.output:g}{cached} ({price.as_of})"


def cli_models(cfg, args) -> int:
    """`python -m hepmini models`: known models, endpoint, price per 1M tokens and key state."""
    rows = []
    names = list(PROVIDERS) + sorted(set(cfg.endpoints or {}) - set(PROVIDERS))
    for name in names:
        endpoint = endpoint_for(name, cfg)
        known = sorted(k.split(":", 1)[1] for k in prices.PRICES if k.startswith(f"{name}:"))
        for model in known:
            rows.append((f"{name}:{model}", endpoint.base_url, _price_text(prices.PRICES[f"{name}:{model}"]),
                         _key_state(endpoint, cfg)))
        if name == "cborg":
            other = "x-litellm-response-cost header; lbl/* free; else the vendor's list price"
        else:
            other = "other models: price unknown" if known else "price unknown"
        rows.append((f"{name}:<any model>", endpoint.base_url, other, _key_state(endpoint, cfg)))
    width = [max(len(r[i]) for r in rows) for i in range(3)]
    print(f"{'MODEL':<{width[0]}}  {'ENDPOINT':<{width[1]}}  {'USD / 1M TOKENS':<{width[2]}}  KEY")
    for row in rows:
        print(f"{row[0]:<{width[0]}}  {row[1]:<{width[1]}}  {row[2]:<{width[2]}}  {row[3]}")
    others = sorted({k.split(":", 1)[0] for k in prices.PRICES} - set(names))
    print(f"\nPrices: hepmini/prices.py (sources and dates per row). Priced hosts you can add as "
          f"[endpoint:NAME]: {', '.join(others)}.")
    return 0


def cli_ping(cfg, args) -> int:
    """`python -m hepmini ping M`: one short request; print reply, tokens, cost, latency and attempts."""
    with client_for(args.model, cfg) as client:
        reply = client.complete([{"role": "user", "content": args.prompt}], {"max_tokens": args.max_tokens})
    u = reply.usage
    cost = "unknown" if reply.cost is None else f"${reply.cost:.6f} ({reply.cost_source})"
    print(f"model:    {client.name} -> {reply.model or '?'} at {client.endpoint.base_url}")
    print(f"reply:    {reply.text.strip()!r}")
    print(f"finish:   {reply.finish_reason} ({reply.finish_raw})")
    print(f"tokens:   input {u.input} (cached {u.cached_input}), output {u.output} "
          f"(reasoning {u.reasoning}), total {u.total}" + ("" if u.reported else " - not reported"))
    print(f"cost:     {cost}")
    print(f"latency:  {reply.latency:.2f}s")
    print("attempts: " + ", ".join(f"#{a['n']} {a['status'] or a['error']}"
                                   + (f" then wait {a['wait']:.1f}s" if a["wait"] else "")
                                   for a in reply.attempts))
    if reply.params_dropped:
        print("dropped:  " + "; ".join(f"{k} ({v})" for k, v in reply.params_dropped.items()))
    if reply.finish_reason == "length" and not reply.text:
        print("note:     empty reply cut at the token limit - a reasoning model spent the budget on "
              "reasoning; raise --max-tokens")
    return 0


# --- scripted stand-in ---------------------------------------------------------------------------


class ScriptedLLM:
    """SCRIPTED stand-in for a Client (tests only): replays `replies` in order, never calls a model.

    Each reply is a str (the text), a dict of Reply fields, a Reply, or an exception to raise.
    Every call is kept in `.calls` as {"messages", "params"}.

    >>> bot = ScriptedLLM(["```python\\nprint(1)\\n```"])
    >>> bot.complete([{"role": "user", "content": "go"}]).text
    '```python\\nprint(1)\\n```'
    """

    def __init__(self, replies, model="scripted:replay"):
        self.replies, self.model, self.calls = list(replies), model, []
        self.name = model

    def complete(self, messages, params=None) -> Reply:
        params = dict(params or {})
        _check_call(messages, params)
        self.calls.append({"messages": [dict(m) for m in messages], "params": params})
        if not self.replies:
            raise RuntimeError(f"ScriptedLLM: no scripted reply left for call {len(self.calls)}")
        item = self.replies.pop(0)
        if isinstance(item, BaseException):
            raise item
        if isinstance(item, Reply):
            return item
        fields = {"text": item} if isinstance(item, str) else dict(item)
        usage = fields.pop("usage", None)
        if isinstance(usage, dict):
            usage = Usage(**{"reported": True, **usage})
        fields.setdefault("finish_reason", "stop")
        fields.setdefault("model", self.model)
        fields.setdefault("provider", "scripted")
        fields.setdefault("params_sent", params)
        return Reply(usage=usage or Usage(), raw={"scripted": True}, **fields)
