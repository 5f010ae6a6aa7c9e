"""Protocol-faithful fake LLM servers on 127.0.0.1 (stdlib ThreadingHTTPServer), one per protocol.

By default a fake answers like the real service (bodies in bodies.py, from ../shared/reference/providers.md): it
checks the path, the auth header and required fields, returns the exact 400 bodies for parameters a model rejects,
and streams (SSE, sse.py) when the request asks to. A test scripts anything else with `fake.script(Resp(...))`:
scripted responses are used once each, in order, then `fake.always(...)` or the default behaviour. Every request
is recorded in `fake.requests`. The Resp knobs reproduce real wire faults (providers.md §5.10, issue 13).

    with OpenAIFake(key="sk-test") as fake:
        fake.script(Resp(429, OPENAI_429_TPM, headers={"retry-after-ms": "84"}))
        ...  # point OPENAI_BASE_URL at fake.url + "/v1"
"""

import json
import re

from hepmini import config

from . import sse
from .bodies import *  # noqa: F401,F403 - the bodies are part of this module's interface (tests import them here)
from .bodies import (ANTHROPIC_401, ANTHROPIC_400_TEMP_TOP_P, ANTHROPIC_529, GEMINI_400_EMPTY_PARTS, GEMINI_400_KEY,
                     GEMINI_503, LITELLM_401, LLAMACPP_401, OPENAI_400_MAX_TOKENS, OPENAI_400_STOP,
                     OPENAI_400_TEMPERATURE, OPENAI_400_TOP_P, OPENAI_401, OPENAI_401_ORG, OPENAI_500, VLLM_401,
                     anthropic_message, gemini_error, gemini_response, llamacpp_completion, openai_completion)
from .server import DEFAULT, FakeServer, Resp, Seen  # noqa: F401 - re-exported for the tests

_REASONING = re.compile(r"^(o\d|gpt-5(?!-chat))")


class OpenAIFake(FakeServer):
    """api.openai.com, or a compatible server: flavor openai | vllm | ollama | llamacpp | litellm.

    Options: flavor, returned_model (default: a snapshot name for openai, the request's otherwise),
    cost_header (LiteLLM's x-litellm-response-cost), text, org (a 401 mismatched_organization when the request's
    OpenAI-Organization header names another; the header is recorded in seen.headers either way).
    """

    @property
    def stream_headers(self):
        if self.options.get("flavor") == "llamacpp":     # as a real llama-server sends them
            return (("Server", "llama.cpp"), ("X-Accel-Buffering", "no"))
        return ()

    @property
    def stream_error(self):
        if self.options.get("flavor") == "llamacpp":     # tools/server/server-context.cpp, format_error
            return {"error": {"code": 500, "message": "Internal server error", "type": "server_error"}}
        return {"error": OPENAI_500["error"]}

    def stream_events(self, seen, body):
        usage = ((seen.body or {}).get("stream_options") or {}).get("include_usage") is True
        return sse.openai_events(body, include_usage=usage, flavor=self.options.get("flavor", "openai"))

    def stream_content_type(self, seen):
        return "text/event-stream" if self.options.get("flavor") == "llamacpp" else super().stream_content_type(seen)

    def default(self, seen):
        flavor, body = self.options.get("flavor", "openai"), seen.body if isinstance(seen.body, dict) else {}
        if not seen.route.endswith("/chat/completions"):
            return Resp(404, {"error": {"message": f"Invalid URL (POST {seen.path})", "type": "invalid_request_error",
                                        "param": None, "code": None}})
        if self.key and flavor != "ollama" and seen.headers.get("authorization") != f"Bearer {self.key}":
            return Resp(401, {"openai": OPENAI_401, "vllm": VLLM_401, "llamacpp": LLAMACPP_401,
                              "litellm": LITELLM_401}[flavor])
        org = seen.headers.get("openai-organization")
        if self.options.get("org") and org and org != self.options["org"]:
            return Resp(401, OPENAI_401_ORG)
        model = str(body.get("model", ""))
        if flavor == "openai" and _REASONING.match(model):
            if body.get("temperature", 1) != 1:
                return Resp(400, OPENAI_400_TEMPERATURE)
            for name, error in (("max_tokens", OPENAI_400_MAX_TOKENS), ("stop", OPENAI_400_STOP),
                                ("top_p", OPENAI_400_TOP_P)):
                if name in body:
                    return Resp(400, error)
        limit = body.get("max_tokens") if flavor == "ollama" else \
            body.get("max_completion_tokens", body.get("max_tokens"))   # Ollama ignores max_completion_tokens
        returned = self.options.get("returned_model") or (f"{model}-2025-08-07" if flavor == "openai" else model)
        headers = {"x-request-id": "req_7f9c0a"}
        if self.options.get("cost_header") is not None:
            headers["x-litellm-response-cost"] = self.options["cost_header"]
        text = self.options.get("text", "Paris.")
        if _REASONING.match(model.rsplit("/", 1)[-1]) and limit is not None and limit < 100:
            # reasoning exhaustion (§1.3): 200, empty content, finish length, all tokens spent reasoning
            return Resp(200, openai_completion("", returned, "length", completion=limit, reasoning=limit),
                        headers=headers)
        if flavor == "llamacpp":
            return Resp(200, llamacpp_completion(text, "The user wants the capital.", model=returned),
                        content_type="application/json; charset=utf-8", headers={"Server": "llama.cpp"})
        extra = {"reasoning_content": "The user wants the capital."} if flavor == "vllm" else None
        top = {"system_fingerprint": "fp_ollama"} if flavor == "ollama" else {}
        return Resp(200, openai_completion(text, returned, prompt=21, completion=11, reasoning=0,
                                           details=flavor in ("openai", "litellm", "vllm"),
                                           extra_message=extra, **top), headers=headers)


class AnthropicFake(FakeServer):
    """api.anthropic.com /v1/messages: x-api-key or Authorization: Bearer, any anthropic-version, max_tokens
    required, no system role; `"stream": true` gets the message_* event stream."""

    style = "anthropic"
    stream_error = {"type": "error", "error": ANTHROPIC_529["error"]}

    def stream_events(self, seen, body):
        return sse.anthropic_events(body)

    def default(self, seen):
        body = seen.body if isinstance(seen.body, dict) else {}
        if seen.route != "/v1/messages":
            return Resp(404, {"type": "error", "error": {"type": "not_found_error", "message": "Not Found"}})
        if self.key and self.key not in (seen.headers.get("x-api-key"),
                                         seen.headers.get("authorization", "").removeprefix("Bearer ")):
            return Resp(401, ANTHROPIC_401)
        if not seen.headers.get("anthropic-version"):
            return Resp(400, {"type": "error", "error": {"type": "invalid_request_error",
                                                         "message": "anthropic-version: header is required"}})
        if "max_tokens" not in body:
            return Resp(400, {"type": "error", "error": {"type": "invalid_request_error",
                                                         "message": "max_tokens: Field required"}})
        for i, m in enumerate(body.get("messages", [])):
            if m.get("role") not in ("user", "assistant"):
                return Resp(400, {"type": "error", "error": {
                    "type": "invalid_request_error", "message": f"messages.{i}.role: Input should be 'user' or "
                                                                 "'assistant'"}})
        if "temperature" in body and "top_p" in body:
            return Resp(400, ANTHROPIC_400_TEMP_TOP_P)
        if "thinking" in body and body.get("temperature", 1) != 1:
            return Resp(400, {"type": "error", "error": {"type": "invalid_request_error", "message": "`temperature` "
                              "may only be set to 1 when thinking is enabled. Please consult our documentation at "
                              "https://docs.anthropic.com/en/docs/build-with-claude/extended-thinking"}})
        return Resp(200, anthropic_message(self.options.get("text", "Paris."),
                                           model=self.options.get("returned_model", "claude-sonnet-4-5-20250929"),
                                           thinking="The user asks..." if "thinking" in body else None),
                    headers={"request-id": "req_011CTfrnTsra8hsUuM24BzEC"})


_GEMINI_PATH = re.compile(r"/(v1beta|v1)/models/([^/:?]+):(generateContent|streamGenerateContent)")


class GeminiFake(FakeServer):
    """generativelanguage.googleapis.com, /v1beta and /v1: generateContent and streamGenerateContent (SSE with
    ?alt=sse, else a streamed JSON array); key in x-goog-api-key or ?key=; user/model roles only."""

    style = "gemini"
    stream_error = GEMINI_503       # [unverified] shape of a mid-stream error: the Status body as one data event

    def wants_stream(self, seen):
        return seen.route.endswith(":streamGenerateContent")

    def stream_events(self, seen, body):
        events = sse.gemini_events(body)
        if seen.query.get("alt") == "sse":
            return events
        # without alt=sse the API streams one JSON array, element by element
        framed = [(b"[" if i == 0 else b",\r\n") + json.dumps(e, indent=2).encode() for i, e in enumerate(events)]
        return framed + [b"]"]

    def stream_content_type(self, seen):
        return "text/event-stream" if seen.query.get("alt") == "sse" else "application/json; charset=UTF-8"

    def default(self, seen):
        body = seen.body if isinstance(seen.body, dict) else {}
        match = _GEMINI_PATH.fullmatch(seen.route)
        if not match:
            return Resp(404, gemini_error(404, "NOT_FOUND", f"The requested URL {seen.path} was not found."))
        if self.key and self.key not in (seen.headers.get("x-goog-api-key"), seen.query.get("key")):
            return Resp(400, GEMINI_400_KEY)
        for i, content in enumerate(body.get("contents", [])):
            if content.get("role") not in ("user", "model"):
                return Resp(400, gemini_error(400, "INVALID_ARGUMENT", "Please use a valid role: user, model."))
            if not content.get("parts"):
                return Resp(400, GEMINI_400_EMPTY_PARTS)
        return Resp(200, gemini_response(self.options.get("text", "Paris."), model=match.group(2)))


# --- test helpers --------------------------------------------------------------------------------


class FakeClock:
    """An injectable clock: sleep() records the wait and advances time, instantly."""

    def __init__(self, start=1000.0):
        self.now, self.sleeps = start, []

    def time(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds


def loopback_session():
    """A requests Session that ignores proxy variables, so the 127.0.0.1 fakes work behind any proxy."""
    import requests

    session = requests.Session()
    session.trust_env = False
    return session


def make_config(tmp_path, env=None, **settings):
    """A Config resolved from `env` only (never the real environment), logging to tmp_path/calls.jsonl."""
    settings.setdefault("workdir", tmp_path)
    settings.setdefault("call_log", str(tmp_path / "calls.jsonl"))
    return config.resolve(settings, environ=dict(env or {}), cwd=tmp_path)
