"""What a provider's error says and what it means: describe_error reads it, classify sorts it, clip scrubs it.

Every text a provider or a proxy sends can echo the API key, so none is shown, logged or recorded but
through `clip`: the key is scrubbed from the whole text first, then the text is cut (a key cut in two
is no longer found by the scrub).
"""

import json
import math
import re
from typing import NamedTuple, Optional

from hepmini.errors import (AuthError, BadRequest, ContextOverflow, ProviderTimeout, QuotaExceeded, RateLimited,
                            ServerError)

# Wordings that mean money or quota is gone for good (not a per-minute limit: Gemini says "exceeded your
# current quota" for those too, so it is read from the QuotaFailure details instead).
_QUOTA = re.compile(r"(?i)credit balance is too low|reached your specified API usage limits|spend(ing)? limit"
                    r"|budget has been exceeded|exceeded your budget|insufficient (credits|balance|funds)"
                    r"|billing (hard )?limit|credits are depleted|usage threshold|\blimit: 0\b")
# Wordings of a prompt longer than the model's window (Gemini: "The input token count (N) exceeds the maximum
# number of tokens allowed (M)."); a trial reads it as a limit it reached (agent.loop), so it has a class.
_CONTEXT = re.compile(r"(?i)context[_ ]length|context window|context size|maximum context|prompt is too long|"
                      r"exceed_context_size|too many tokens|input is too long|reduce the length|"
                      r"input token count|maximum number of tokens allowed")
# The HTTP status an error names by its type alone (an error event, or an error object in a 2xx body):
# Anthropic's error types and Google's status names.
TYPE_STATUS = {"invalid_request_error": 400, "authentication_error": 401, "permission_error": 403,
               "not_found_error": 404, "request_too_large": 413, "rate_limit_error": 429, "billing_error": 402,
               "api_error": 500, "overloaded_error": 529, "INVALID_ARGUMENT": 400, "UNAUTHENTICATED": 401,
               "PERMISSION_DENIED": 403, "NOT_FOUND": 404, "RESOURCE_EXHAUSTED": 429}


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


def clip(text, limit: int, secrets=()) -> str:
    """`text` scrubbed of `secrets`, then cut to `limit` characters: the one way a provider's words are shown.

    >>> clip("x" * 8 + " key=sk-abc123", 14, ["sk-abc123"])
    'xxxxxxxx key=<'
    """
    return scrub(str(text), secrets)[:limit]


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
    match = re.fullmatch(r"\s*(\d+(?:\.\d*)?|\.\d+)s\s*", str(text or ""))
    seconds = float(match.group(1)) if match else None
    return seconds if seconds is not None and math.isfinite(seconds) else None


def _details(err: dict) -> tuple:
    """(ErrorInfo reason, RetryInfo delay, a quota that will not come back) from the error's details.

    Details of another shape than documented are ignored: they only refine what the status says.
    """
    reason, delay, daily = "", None, False
    details = err.get("details")
    if isinstance(details, dict):            # Anthropic: {"error_code": "enforced_spend_limit_reached"}
        return str(details.get("error_code", "")), None, "spend_limit" in str(details.get("error_code", ""))
    for detail in details if isinstance(details, list) else []:
        kind = str(detail.get("@type", "")) if isinstance(detail, dict) else ""
        if kind.endswith("ErrorInfo"):
            reason = str(detail.get("reason", ""))
        elif kind.endswith("RetryInfo"):
            delay = _duration(detail.get("retryDelay"))
        elif kind.endswith("QuotaFailure"):
            violations = detail.get("violations")
            daily |= any("PerDay" in str(v.get("quotaId", "")) for v in
                         (violations if isinstance(violations, list) else []) if isinstance(v, dict))
    return reason, delay, daily


def describe_error(text: str, secrets=()) -> ErrorInfo:
    """Read any provider's error body (OpenAI, vLLM, Ollama, llama.cpp, LiteLLM, Anthropic, Gemini, HTML), scrubbed.

    >>> describe_error('{"error":"Unauthorized"}').message
    'Unauthorized'
    >>> describe_error('<html><head><title>502 Bad Gateway</title></head></html>').message
    '502 Bad Gateway'
    >>> describe_error('{"type":"error","error":{"type":"invalid_request_error","message":"Your credit '
    ...                'balance is too low to access the Anthropic API."}}').quota
    True
    """
    text = scrub(text or "", secrets)     # first: every field read from it is then free of the key
    try:
        data = json.loads(text)
    except ValueError:
        data = None
    if not isinstance(data, dict):
        title = re.search(r"(?is)<title>(.*?)</title>", text)
        plain = " ".join((title.group(1) if title else re.sub(r"<[^>]+>", " ", text)).split())[:300]
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


def is_error_object(data) -> bool:
    """True for a body that is an error object and no answer (OpenRouter, LiteLLM, proxies send them with a 200).

    >>> is_error_object({"error": {"type": "insufficient_quota"}}), is_error_object({"choices": [{}], "error": "x"})
    (True, False)
    """
    return isinstance(data, dict) and isinstance(data.get("error"), (dict, str)) and bool(data["error"]) and \
        not any(data.get(k) for k in ("choices", "candidates", "content"))


def error_status(info: ErrorInfo, status: int) -> int:
    """The HTTP status an error stands for when it came without one of its own (`status`: the fallback).

    Its own numeric code first, then its type; a prompt too long for the context window is a 400.

    >>> error_status(describe_error('{"error":{"type":"invalid_request_error","message":"x"}}'), 500)
    400
    """
    if info.code.isdigit() and 400 <= int(info.code) < 600:
        return int(info.code)
    return TYPE_STATUS.get(info.type) or (400 if info.context else status)


def classify(status: int, info: ErrorInfo, headers, secrets=()) -> tuple:
    """(error class, retryable, what to do) for an HTTP error status."""
    if 300 <= status < 400:
        where = clip(headers.get("location", "an address it does not name"), 200, secrets)
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
        return ContextOverflow, False, ("the prompt is longer than the model's context window; use a model with a "
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
