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
and what to do; `.attempts` lists every try. hepmini.llm.transport sends the request: only connect errors,
timeouts, 408, 409, 429 and 5xx are retried, within one total deadline per call (cfg.call_deadline).

Every call, failed or not, is appended to cfg.call_log_path (JSONL). API keys never reach the log,
a message or an exception. A Client keeps one HTTP session: use one Client per thread, and close() it
(or use it as a context manager).
"""

import dataclasses
import hashlib
import json
import random
import re
import time
from datetime import datetime, timezone

from hepmini.llm import anthropic, gemini, openai, prices
from hepmini.config import KEY_VARIABLES
from hepmini.llm.base import ROLES, Reply
from hepmini.errors import AuthError, BadRequest, ConfigError, MalformedResponse
from hepmini.files import append_jsonl
from hepmini.llm.transport import post_json, scrub
from hepmini.files import did_you_mean, nearest

PARAMS = ("temperature", "max_tokens", "top_p", "top_k", "stop", "seed", "reasoning_effort",
          "thinking_budget")


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


PROTOCOLS = {"openai": openai, "anthropic": anthropic, "gemini": gemini}

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
        hint = nearest(provider, known)
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


def check_key(model_name: str, cfg, what: str = "nothing was sent") -> Endpoint:
    """The endpoint of 'provider:model'; ConfigError (one line, the variable to set) when it needs a key and has none."""
    endpoint = endpoint_for(split_model(model_name, cfg)[0], cfg)
    if endpoint.needs_key and not (cfg.keys or {}).get(endpoint.name):
        raise ConfigError(f"{model_name}: no API key; set {' or '.join(endpoint.key_vars)} ({what})")
    return endpoint


def client_for(model_name: str, cfg, **hooks) -> "Client":
    """A Client for 'provider:model'. `hooks` (session, clock, sleep, rng, wallclock) are for tests."""
    provider, model = split_model(model_name, cfg)
    return Client(endpoint_for(provider, cfg), model, cfg, **hooks)


def complete(cfg, model_name: str, messages, params=None) -> Reply:
    """One call: client_for(model_name, cfg).complete(messages, params)."""
    return client_for(model_name, cfg).complete(messages, params)


def check_messages(messages, params):
    if not isinstance(messages, (list, tuple)) or not messages:
        raise BadRequest("messages must be a non-empty list of {'role', 'content'} dicts; nothing was sent")
    for i, m in enumerate(messages):
        if not isinstance(m, dict) or m.get("role") not in ROLES or not isinstance(m.get("content"), str):
            raise BadRequest(f"message {i} must be {{'role': one of {'/'.join(ROLES)}, 'content': str}}; "
                             "nothing was sent")
    for name in params:
        if name not in PARAMS:
            more = did_you_mean(name, PARAMS, f" (supported: {', '.join(PARAMS)})")
            raise BadRequest(f"unknown parameter {name!r}{more}; nothing was sent")


# --- the client ----------------------------------------------------------------------------------


class Client:
    """Calls one model on one endpoint; see the module docstring for the contract."""

    def __init__(self, endpoint: Endpoint, model: str, cfg, *, session=None, clock=time.monotonic,
                 sleep=time.sleep, rng=random.random, wallclock=time.time):
        self.endpoint, self.model, self.cfg = endpoint, model, cfg
        self.protocol = PROTOCOLS[endpoint.protocol]
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
        check_messages(messages, params)
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


# --- command line --------------------------------------------------------------------------------



# --- scripted stand-in ---------------------------------------------------------------------------
