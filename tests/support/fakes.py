"""Protocol-faithful fake LLM servers on 127.0.0.1 (stdlib ThreadingHTTPServer), one per protocol.

Bodies and status codes are copied from ../shared/reference/providers.md (section numbers below).
By default a fake answers like the real service: it checks the path, the auth header and required
fields, and returns the exact 400 bodies for parameters a model rejects. A test scripts anything else
with `fake.script(Resp(...), ...)`: scripted responses are used once each, in order, before the
default behaviour resumes. Every request is recorded in `fake.requests`.

    with OpenAIFake(key="sk-test") as fake:
        fake.script(Resp(429, OPENAI_429_TPM, headers={"retry-after-ms": "84"}))
        ...  # point OPENAI_BASE_URL at fake.url + "/v1"
"""

import dataclasses
import json
import re
import socket
import struct
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable, Optional, Union

from hepmini import config

# --- bodies, verbatim from providers.md ----------------------------------------------------------
# §1.2 OpenAI 400s for parameters reasoning models reject
OPENAI_400_TEMPERATURE = {"error": {"message": "Unsupported value: 'temperature' does not support 0.2 with this "
                                    "model. Only the default (1) value is supported.",
                                    "type": "invalid_request_error", "param": "temperature",
                                    "code": "unsupported_value"}}
OPENAI_400_MAX_TOKENS = {"error": {"message": "Unsupported parameter: 'max_tokens' is not supported with this "
                                   "model. Use 'max_completion_tokens' instead.",
                                   "type": "invalid_request_error", "param": "max_tokens",
                                   "code": "unsupported_parameter"}}
OPENAI_400_STOP = {"error": {"message": "Unsupported parameter: 'stop' is not supported with this model.",
                             "type": "invalid_request_error", "param": "stop", "code": "unsupported_parameter"}}
OPENAI_400_TOP_P = {"error": {"message": "Unsupported parameter: 'top_p' is not supported with this model.",
                              "type": "invalid_request_error", "param": "top_p", "code": "unsupported_parameter"}}
# §1.5
OPENAI_401 = {"error": {"message": "Incorrect API key provided: sk-...abcd. You can find your API key at "
                        "https://platform.openai.com/account/api-keys.", "type": "invalid_request_error",
                        "param": None, "code": "invalid_api_key"}}
OPENAI_429_TPM = {"error": {"message": "Rate limit reached for gpt-4o-mini in organization org-xxx on tokens per "
                            "min (TPM): Limit 200000, Used 195869, Requested 4412. Please try again in 84ms. "
                            "Visit https://platform.openai.com/account/rate-limits to learn more.",
                            "type": "tokens", "param": None, "code": "rate_limit_exceeded"}}
OPENAI_429_QUOTA = {"error": {"message": "You exceeded your current quota, please check your plan and billing "
                              "details. ...", "type": "insufficient_quota", "param": None,
                              "code": "insufficient_quota"}}
OPENAI_500 = {"error": {"message": "The server had an error while processing your request. Sorry about that!",
                        "type": "server_error", "param": None, "code": None}}
# §1.4 compatible servers
VLLM_401 = {"error": "Unauthorized"}
VLLM_400 = {"error": {"message": "This model's maximum context length is 4096 tokens.",
                      "type": "BadRequestError", "param": None, "code": 400}}
VLLM_OLD_FLAT = {"object": "error", "message": "The model `gpt-x` does not exist.", "type": "NotFoundError",
                 "param": None, "code": 404}
OLLAMA_404 = {"error": {"message": "model \"llama9\" not found, try pulling it first",
                        "type": "not_found_error", "param": None, "code": None}}
LLAMACPP_401 = {"error": {"code": 401, "message": "Invalid API Key", "type": "authentication_error"}}
LLAMACPP_503_LOADING = {"error": {"code": 503, "message": "Loading model", "type": "unavailable_error"}}
LITELLM_429 = {"error": {"message": "No deployments available for selected model.", "type": "None",
                         "param": "None", "code": "429"}}
LITELLM_401 = {"error": {"message": "Authentication Error, Invalid proxy server token passed.",
                         "type": "token_not_found_in_db", "param": "key", "code": "401"}}
LITELLM_400_WRAPPED = {"error": {"message": "litellm.BadRequestError: AnthropicException - b'{\"type\":\"error\","
                                 "\"error\":{\"type\":\"invalid_request_error\",\"message\":\"`temperature` and "
                                 "`top_p` cannot both be specified for this model. Please use only one.\"}}'",
                                 "type": None, "param": None, "code": "400"}}
LITELLM_400_BUDGET = {"error": {"message": "Budget has been exceeded! Current cost: 10.02, Max budget: 10.0",
                                "type": "budget_exceeded", "param": "None", "code": "400"}}
# §2.4 Anthropic
ANTHROPIC_401 = {"type": "error", "error": {"type": "authentication_error", "message": "invalid x-api-key"},
                 "request_id": "req_011CTfrnTsra8hsUuM24Bz01"}
ANTHROPIC_529 = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
ANTHROPIC_429 = {"type": "error", "error": {"type": "rate_limit_error", "message": "Number of request tokens has "
                 "exceeded your per-minute rate limit"}, "request_id": "req_011CTfrnTsra8hsUuM24Bz02"}
ANTHROPIC_400_TEMP_TOP_P = {"type": "error", "error": {"type": "invalid_request_error", "message": "`temperature` "
                            "and `top_p` cannot both be specified for this model. Please use only one."},
                            "request_id": "req_011CTfrnTsra8hsUuM24BzEC"}
ANTHROPIC_400_USAGE_LIMIT = {"type": "error", "error": {"type": "invalid_request_error", "message": "You have "
                             "reached your specified API usage limits. You will regain access on 2025-12-01 at "
                             "00:00 UTC."}, "request_id": "req_011CTfrnTsra8hsUuM24Bz03"}
ANTHROPIC_404 = {"type": "error", "error": {"type": "not_found_error", "message": "model: claude-nope"},
                 "request_id": "req_011CTfrnTsra8hsUuM24Bz04"}
# §3.4 Gemini
GEMINI_400_KEY = {"error": {"code": 400, "message": "API key not valid. Please pass a valid API key.",
                            "status": "INVALID_ARGUMENT", "details": [
                                {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID",
                                 "domain": "googleapis.com",
                                 "metadata": {"service": "generativelanguage.googleapis.com"}},
                                {"@type": "type.googleapis.com/google.rpc.LocalizedMessage", "locale": "en-US",
                                 "message": "API key not valid. Please pass a valid API key."}]}}


def gemini_429(quota_id="GenerateRequestsPerMinutePerProjectPerModel-FreeTier", delay="20s"):
    """The Gemini 429 of §3.4 (wait in the body's RetryInfo); a quotaId with PerDay is a daily quota."""
    return {"error": {"code": 429, "message": "You exceeded your current quota, please check your plan and billing "
                      "details. For more information on this error, head to: https://ai.google.dev/gemini-api/docs/"
                      "rate-limits. ...\n* Quota exceeded for metric: generativelanguage.googleapis.com/generate_"
                      "content_free_tier_requests, limit: 5, model: gemini-2.5-flash\nPlease retry in 20.70617005s.",
                      "status": "RESOURCE_EXHAUSTED", "details": [
                          {"@type": "type.googleapis.com/google.rpc.Help", "links": [
                              {"description": "Learn more about Gemini API quotas",
                               "url": "https://ai.google.dev/gemini-api/docs/rate-limits"}]},
                          {"@type": "type.googleapis.com/google.rpc.QuotaFailure", "violations": [
                              {"quotaMetric": "generativelanguage.googleapis.com/generate_content_free_tier_requests",
                               "quotaId": quota_id, "quotaDimensions": {"model": "gemini-2.5-flash",
                                                                        "location": "global"},
                               "quotaValue": "5"}]},
                          {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": delay}]}}


def gemini_error(code, status, message):
    return {"error": {"code": code, "message": message, "status": status}}


GEMINI_403 = gemini_error(403, "PERMISSION_DENIED", "Your API key doesn't have the required permissions.")
GEMINI_404 = gemini_error(404, "NOT_FOUND", "models/gemini-nope is not found for API version v1beta, or is not "
                          "supported for generateContent. Call ListModels to see the list of available models "
                          "and their supported methods.")
GEMINI_503 = gemini_error(503, "UNAVAILABLE", "The model is overloaded. Please try again later.")
GEMINI_400_EMPTY_PARTS = gemini_error(400, "INVALID_ARGUMENT", "* GenerateContentRequest.contents[1].parts: "
                                      "contents.parts must not be empty.\n")
# §5.8 proxies
CLOUDFLARE_524 = ("<!DOCTYPE html>\n<html lang=\"en-US\"><head><title>api.cborg.lbl.gov | 524: A timeout "
                  "occurred</title></head><body><div id=\"cf-wrapper\"><h1>A timeout occurred</h1><span>Error "
                  "code 524</span></div></body></html>")
NGINX_502 = ("<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway"
             "</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n")


# --- success bodies ------------------------------------------------------------------------------


def openai_completion(content="Paris.", model="gpt-5-mini-2025-08-07", finish="stop", prompt=21, completion=75,
                      reasoning=64, cached=0, details=True, usage=True, extra_message=None, **top):
    """A chat.completion body (§1.3); details=False gives the 3 basic counts only (Ollama)."""
    body = {"id": "chatcmpl-CZ1xq7lS8wWfq0nq3Wf2bYk3mAbcd", "object": "chat.completion", "created": 1762300000,
            "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content, "refusal": None,
                                                 "annotations": [], **(extra_message or {})},
                         "logprobs": None, "finish_reason": finish}],
            "service_tier": "default", "system_fingerprint": None, **top}
    if usage:
        body["usage"] = {"prompt_tokens": prompt, "completion_tokens": completion,
                         "total_tokens": prompt + completion}
        if details:
            body["usage"]["prompt_tokens_details"] = {"cached_tokens": cached, "audio_tokens": 0}
            body["usage"]["completion_tokens_details"] = {"reasoning_tokens": reasoning, "audio_tokens": 0,
                                                          "accepted_prediction_tokens": 0,
                                                          "rejected_prediction_tokens": 0}
    return body


def anthropic_message(text="Paris.", model="claude-sonnet-4-5-20250929", stop="end_turn", thinking=None,
                      redacted=False, input_tokens=14, output_tokens=5, cache_read=0, cache_write=0):
    """A Messages body (§2.3), optionally with thinking / redacted_thinking blocks before the text."""
    content = []
    if thinking is not None:
        content.append({"type": "thinking", "thinking": thinking, "signature": "EqQBCkgIBxAC"})
    if redacted:
        content.append({"type": "redacted_thinking", "data": "EmwKAhgBEgy"})
    if text is not None:
        content.append({"type": "text", "text": text})
    return {"id": "msg_01XFDUDYJgAACzvnptvVoYEL", "type": "message", "role": "assistant", "model": model,
            "content": content, "stop_reason": stop, "stop_sequence": None,
            "usage": {"input_tokens": input_tokens, "cache_creation_input_tokens": cache_write,
                      "cache_read_input_tokens": cache_read,
                      "cache_creation": {"ephemeral_5m_input_tokens": cache_write, "ephemeral_1h_input_tokens": 0},
                      "output_tokens": output_tokens, "service_tier": "standard"}}


def gemini_response(text="Paris.", thought=None, finish="STOP", model="gemini-2.5-flash", prompt=8, candidates=2,
                    thoughts=57, cached=None, parts=True):
    """A GenerateContentResponse (§3.3); thought adds a thought=true part; parts=False drops 'parts'."""
    content = {"role": "model"}
    if parts:
        content["parts"] = ([{"text": thought, "thought": True}] if thought else []) + \
            ([{"text": text}] if text is not None else [])
    meta = {"promptTokenCount": prompt, "candidatesTokenCount": candidates,
            "totalTokenCount": prompt + candidates + (thoughts or 0),
            "promptTokensDetails": [{"modality": "TEXT", "tokenCount": prompt}]}
    if thoughts is not None:
        meta["thoughtsTokenCount"] = thoughts
    if cached is not None:
        meta["cachedContentTokenCount"] = cached
    return {"candidates": [{"content": content, "finishReason": finish, "index": 0}], "usageMetadata": meta,
            "modelVersion": model, "responseId": "3w4Vad6yF-y1vdIP_q_zgAw"}


# --- the server ----------------------------------------------------------------------------------


@dataclasses.dataclass
class Resp:
    """One scripted response; the transport knobs reproduce §5.10."""

    status: int = 200
    body: Union[dict, list, str, bytes, None] = None
    headers: dict = dataclasses.field(default_factory=dict)
    content_type: str = "application/json"
    delay: float = 0.0          # seconds before the status line (slow first byte)
    trickle: float = 0.0        # seconds between body bytes (a slow trickle)
    reset: str = ""             # "before": RST instead of an answer; "body": headers, half the body, RST
    bad_length: bool = False    # announce a longer Content-Length than sent, then close (truncated JSON)


@dataclasses.dataclass
class Seen:
    """One request as the fake received it."""

    method: str
    path: str
    headers: dict
    body: Optional[dict]
    raw: bytes


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"   # keep-alive, like the real services

    def log_message(self, *args):   # keep test output clean
        pass

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length)
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        seen = Seen("POST", self.path, {k.lower(): v for k, v in self.headers.items()}, body, raw)
        fake = self.server.fake
        with fake.lock:
            fake.requests.append(seen)
            item = fake.scripted.pop(0) if fake.scripted else None
        resp = item(seen) if callable(item) else item or fake.default(seen)
        self._answer(resp)

    def _rst(self):
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.close_connection = True
        self.connection.close()

    def _answer(self, resp: Resp):
        if resp.delay:
            time.sleep(resp.delay)
        if resp.reset == "before":
            return self._rst()
        body = resp.body
        if isinstance(body, (dict, list)) or body is None:
            data = json.dumps(body if body is not None else {}).encode()
        else:
            data = body.encode() if isinstance(body, str) else body
        self.send_response(resp.status)
        self.send_header("Content-Type", resp.content_type)
        self.send_header("Content-Length", str(len(data) + (50 if resp.bad_length else 0)))
        for name, value in resp.headers.items():
            self.send_header(name, value)
        if not (resp.reset or resp.trickle or resp.bad_length):
            # headers and body in one write, as real servers do (avoids delayed-ACK stalls)
            self._headers_buffer.append(b"\r\n")
            self.wfile.write(b"".join(self._headers_buffer) + data)
            self._headers_buffer = []
            return
        self.end_headers()
        try:
            if resp.reset == "body":
                self.wfile.write(data[: len(data) // 2])
                self.wfile.flush()
                return self._rst()
            if resp.trickle:
                for i in range(len(data)):
                    self.wfile.write(data[i:i + 1])
                    self.wfile.flush()
                    time.sleep(resp.trickle)
            else:                     # bad_length: fewer bytes than announced, then close
                self.wfile.write(data)
                self.wfile.flush()
                self.close_connection = True
        except OSError:               # the client hung up (deadline, reset): fine
            self.close_connection = True

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

    def __init__(self, key: Optional[str] = "test-key-0000", **options):
        self.key, self.options = key, options
        self.requests, self.scripted, self.lock = [], [], threading.Lock()
        self._server = self._thread = None

    def __enter__(self):
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.fake = self
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.01},
                                        daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
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

    def default(self, seen: Seen) -> Resp:
        raise NotImplementedError


_REASONING = re.compile(r"^(o\d|gpt-5(?!-chat))")


class OpenAIFake(FakeServer):
    """api.openai.com, or a compatible server: flavor openai | vllm | ollama | llamacpp | litellm.

    Options: flavor, returned_model (default: a snapshot name for openai, the request's otherwise),
    cost_header (LiteLLM's x-litellm-response-cost), text.
    """

    def default(self, seen):
        flavor, body = self.options.get("flavor", "openai"), seen.body or {}
        if not seen.path.endswith("/chat/completions"):
            return Resp(404, {"error": {"message": f"Invalid URL (POST {seen.path})", "type": "invalid_request_error",
                                        "param": None, "code": None}})
        if self.key and flavor != "ollama" and seen.headers.get("authorization") != f"Bearer {self.key}":
            return Resp(401, {"openai": OPENAI_401, "vllm": VLLM_401, "llamacpp": LLAMACPP_401,
                              "litellm": LITELLM_401}[flavor])
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
        extra = {"reasoning_content": "The user wants the capital."} if flavor in ("vllm", "llamacpp") else None
        top = {"timings": {"prompt_n": 21, "predicted_n": 3}} if flavor == "llamacpp" else {}
        if flavor == "ollama":
            top["system_fingerprint"] = "fp_ollama"
        return Resp(200, openai_completion(text, returned, prompt=21, completion=11, reasoning=0,
                                           details=flavor in ("openai", "litellm", "vllm"),
                                           extra_message=extra, **top), headers=headers)


class AnthropicFake(FakeServer):
    """api.anthropic.com /v1/messages: x-api-key, anthropic-version, max_tokens required, no system role."""

    def default(self, seen):
        body = seen.body or {}
        if seen.path != "/v1/messages":
            return Resp(404, {"type": "error", "error": {"type": "not_found_error", "message": "Not Found"}})
        if self.key and seen.headers.get("x-api-key") != self.key:
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


class GeminiFake(FakeServer):
    """generativelanguage.googleapis.com v1beta generateContent: x-goog-api-key, user/model roles only."""

    def default(self, seen):
        body = seen.body or {}
        match = re.fullmatch(r"/v1beta/models/([^/:?]+):generateContent", seen.path)
        if not match:
            return Resp(404, gemini_error(404, "NOT_FOUND", f"The requested URL {seen.path} was not found."))
        if self.key and seen.headers.get("x-goog-api-key") != self.key:
            return Resp(400, GEMINI_400_KEY)
        for i, content in enumerate(body.get("contents", [])):
            if content.get("role") not in ("user", "model"):
                return Resp(400, gemini_error(400, "INVALID_ARGUMENT", "Please use a valid role: user, model."))
            if not content.get("parts"):
                return Resp(400, GEMINI_400_EMPTY_PARTS)
        return Resp(200, gemini_response(self.options.get("text", "Paris."), model=match.group(1)))


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
