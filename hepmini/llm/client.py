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

from hepmini.errors import AuthError, BadRequest, MalformedResponse, ProviderError, ProviderTimeout, ServerError
from hepmini.files import append_jsonl, did_you_mean
from hepmini.llm import anthropic, gemini, openai, prices
from hepmini.llm.base import MAX_TEXT, ROLES, Reply
from hepmini.llm.endpoints import Endpoint, endpoint_for, split_model
from hepmini.llm.transport import Call, scrub
from hepmini.retry import RetryPolicy

PARAMS = ("temperature", "max_tokens", "top_p", "top_k", "stop", "seed", "reasoning_effort",
          "thinking_budget")
PROTOCOLS = {"openai": openai, "anthropic": anthropic, "gemini": gemini}
# Sampling parameters a model may reject with a 400 naming them; hepmini then leaves them out (once each).
DROPPABLE = ("temperature", "top_p", "top_k", "stop", "seed")


def client_for(model_name: str, cfg, **hooks) -> "Client":
    """A Client for 'provider:model'. `hooks` (session, clock, sleep, rng, wallclock) are for tests."""
    provider, model = split_model(model_name, cfg)
    return Client(endpoint_for(provider, cfg), model, cfg, **hooks)


def complete(cfg, model_name: str, messages, params=None) -> Reply:
    """One call: client_for(model_name, cfg).complete(messages, params)."""
    with client_for(model_name, cfg) as client:
        return client.complete(messages, params)


def check_messages(messages, params):
    """Refuse, before anything is sent, messages that are not role/content dicts and unknown parameters."""
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


class Client:
    """Calls one model on one endpoint; see the module docstring for the contract."""

    def __init__(self, endpoint: Endpoint, model: str, cfg, *, session=None, clock=time.monotonic,
                 sleep=time.sleep, rng=random.random, wallclock=time.time):
        self.endpoint, self.model, self.cfg = endpoint, model, cfg
        self.protocol = PROTOCOLS[endpoint.protocol]
        self._key = (cfg.keys or {}).get(endpoint.name) or None
        self._session = session
        self.clock, self.sleep, self.rng, self.wallclock = clock, sleep, rng, wallclock
        self.rejected = {}            # parameters the server refused, left out of every later call
        self.trial = ""               # the trial directory its calls serve (set by the trial): named in the call log

    def __repr__(self):
        return f"Client({self.endpoint.name}:{self.model} at {self.endpoint.base_url})"

    @property
    def name(self) -> str:
        return f"{self.endpoint.name}:{self.model}"

    @property
    def streams(self) -> bool:
        return self.endpoint.stream and self.cfg.stream

    def close(self):
        """Close the kept-alive connections."""
        if self._session is not None:
            self._session.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def complete(self, messages, params=None, on_event=None) -> Reply:
        """Send one chat request and return the Reply; raise a ProviderError subclass on failure.

        `on_event(kind, **info)` hears the call as it goes: attempt (n), delta (text), retry (error, wait).
        """
        params = dict(params or {})
        check_messages(messages, params)
        start = self.clock()
        request, reply, error = None, None, None
        try:
            if self.endpoint.needs_key and not self._key:
                raise AuthError(f"{self.endpoint.name}: no API key; set {' or '.join(self.endpoint.key_vars)}"
                                f" (nothing was sent)", provider=self.endpoint.name)
            request, result = self._send(messages, params, on_event)
            reply = self._finish(result, request, start)
            return reply
        except BaseException as exc:      # logged, then re-raised (explained when the local server died)
            error = self._explained(exc)
            if error is not exc:
                raise error from None
            raise
        finally:
            self._log(messages, request, reply, error, self.clock() - start)

    def _explained(self, exc: BaseException) -> BaseException:
        """A failed call to the local model whose llama-server has stopped says so, with the server's log."""
        from hepmini.llm import localserver

        server = localserver.current() if self.endpoint.name == localserver.PROVIDER else None
        if server is None or not isinstance(exc, (ProviderTimeout, ServerError, MalformedResponse)):
            return exc
        how = server.stopped()
        if not how:
            return exc
        return ServerError(f"local: llama-server stopped during the call ({how}); its log: {server.log}; a new "
                           f"command starts a new one", provider=self.endpoint.name, attempts=exc.attempts)

    def _send(self, messages, params, on_event):
        """(request, transport Result); a 400 naming a droppable parameter drops it and sends again."""
        while True:
            wanted = {k: v for k, v in params.items() if k not in self.rejected}
            request = self.protocol.build_request(self.endpoint, self._key, self.model, messages, wanted,
                                                  stream=self.streams)
            call = Call(self.endpoint, policy=RetryPolicy(max_retries=self.cfg.max_retries),
                        idle=self.endpoint.request_timeout or self.cfg.request_timeout,
                        deadline=self.endpoint.call_deadline or self.cfg.call_deadline, session=self._http(),
                        secrets=self._secrets(), clock=self.clock, sleep=self.sleep, rng=self.rng,
                        wallclock=self.wallclock, on_event=on_event)
            try:
                return request, call.run(request.url, request.headers, request.body, self.protocol.parse_response,
                                         self.protocol.Stream if self.streams else None)
            except BadRequest as exc:
                name = self._refused_parameter(exc, wanted)
                if not name:
                    raise
                self.rejected[name] = f"the server rejected it ({scrub(exc.provider_message, self._secrets())[:160]})"

    @staticmethod
    def _refused_parameter(exc: ProviderError, sent: dict) -> str:
        """The sampling parameter a 400 says the model does not take (so it can be left out), or ""."""
        text = f"{exc.provider_message} {getattr(exc, 'param', '')}"
        named = [p for p in DROPPABLE if p in sent and re.search(rf"\b{p}\b", text)]
        if "top_p" in named and "temperature" in named:   # Anthropic: "cannot both be specified": keep temperature
            named.remove("temperature")
        return named[0] if named else ""

    def _finish(self, result, request, start) -> Reply:
        reply = result.reply
        reply.provider, reply.requested_model = self.endpoint.name, self.model
        reply.attempts, reply.latency = result.attempts, self.clock() - start
        reply.params_sent = request.params_sent
        reply.params_dropped = {**request.params_dropped, **self.rejected}
        if len(reply.text) > MAX_TEXT:
            reply.text = reply.text[:MAX_TEXT]
            reply.params_dropped["text"] = f"the reply was cut to its first {MAX_TEXT} characters"
        reply.cost, reply.cost_source = self._cost(reply, result.headers)
        return reply

    def _http(self):
        # requests itself honours HTTPS_PROXY/NO_PROXY and REQUESTS_CA_BUNDLE, as HPC sites need.
        if self._session is None:
            from hepmini.llm import wire

            self._session = wire.new_session()
        return self._session

    def _secrets(self):
        return [k for k in (self.cfg.keys or {}).values() if k]

    def _cost(self, reply, headers):
        if self.endpoint.free:
            return 0.0, "local"
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
            "status": "ok" if error is None else type(error).__name__, "trial": self.trial or None,
            "error": str(error) if error is not None else None,
        }
        line = scrub(json.dumps(record, sort_keys=True, default=str), self._secrets())
        append_jsonl(self.cfg.call_log_path, json.loads(line))


# --- command line --------------------------------------------------------------------------------



# --- scripted stand-in ---------------------------------------------------------------------------
