"""Fault patterns to script on the fakes, each one a real wire behaviour (issue 13): instant error storms, a key
echoed back, a 50 MB reply, empty 200s, random trickle/stall schedules, and the providers' quota replies."""

import functools
import math

from .bodies import (ANTHROPIC_200_EMPTY, ANTHROPIC_400_CREDIT, ANTHROPIC_400_USAGE_LIMIT, ANTHROPIC_429_SPEND_LIMIT,
                     ANTHROPIC_500, ANTHROPIC_529, DEEPSEEK_402_BALANCE, GEMINI_200_NO_CANDIDATES, GEMINI_429_PREPAY,
                     GEMINI_500, GEMINI_503, LITELLM_400_BUDGET, LITELLM_429_BUDGET, OPENAI_200_NO_CHOICES,
                     OPENAI_200_NULL_CONTENT, OPENAI_429_QUOTA, OPENAI_500, OPENROUTER_402_CREDITS, anthropic_message,
                     gemini_429, gemini_error, gemini_response, llamacpp_400_context, openai_completion)
from .server import Resp

# Every reply here means "out of quota or money: retrying will not help" (name: protocol, status, body).
# Sources are at each body in bodies.py.
QUOTA_REPLIES = {
    "openai_insufficient_quota": ("openai", 429, OPENAI_429_QUOTA),
    "litellm_budget_400": ("openai", 400, LITELLM_400_BUDGET),
    "litellm_budget_429": ("openai", 429, LITELLM_429_BUDGET),
    "deepseek_balance_402": ("openai", 402, DEEPSEEK_402_BALANCE),
    "openrouter_credits_402": ("openai", 402, OPENROUTER_402_CREDITS),
    "anthropic_credit_balance": ("anthropic", 400, ANTHROPIC_400_CREDIT),
    "anthropic_usage_limit": ("anthropic", 400, ANTHROPIC_400_USAGE_LIMIT),
    "anthropic_spend_limit_429": ("anthropic", 429, ANTHROPIC_429_SPEND_LIMIT),
    "gemini_daily_quota": ("gemini", 429, gemini_429("GenerateRequestsPerDayPerProjectPerModel-FreeTier")),
    # a model without a free tier on a free key: the per-minute quota is 0 (continuedev/continue#10062)
    "gemini_no_free_tier": ("gemini", 429, gemini_429(limit=0, model="gemini-2.5-pro")),
    "gemini_prepay_depleted": ("gemini", 429, GEMINI_429_PREPAY),
}

# Every reply here means "the prompt does not fit the model's context window" (name: protocol, status, body).
CONTEXT_REPLIES = {
    "openai_context_length_exceeded": ("openai", 400, {"error": {
        "message": "This model's maximum context length is 128000 tokens. However, your messages resulted in 130012 "
                   "tokens. Please reduce the length of the messages.", "type": "invalid_request_error",
        "param": "messages", "code": "context_length_exceeded"}}),
    # vLLM's OpenAI server: the wording alone says it (no code)
    "vllm_maximum_context": ("openai", 400, {"object": "error", "message": "This model's maximum context length is "
                             "4096 tokens. However, you requested 5000 tokens (4000 in the messages, 1000 in the "
                             "completion). Please reduce the length of the messages or completion.",
                             "type": "BadRequestError", "param": None, "code": 400}),
    "llamacpp_exceed_context_size": ("openai", 400, llamacpp_400_context(36503, 32768)),
    "anthropic_prompt_too_long": ("anthropic", 400, {"type": "error", "error": {
        "type": "invalid_request_error", "message": "prompt is too long: 210000 tokens > 200000 maximum"}}),
    # as gemini-cli users saw it (google-gemini/gemini-cli#4231, #11248)
    "gemini_input_token_count": ("gemini", 400, gemini_error(400, "INVALID_ARGUMENT", "The input token count "
                                 "(1054016) exceeds the maximum number of tokens allowed (1048576).")),
}

# 200s that carry no answer: the server's fault, never the model's (providers.md §5.2)
EMPTY_200 = {
    "openai_no_choices": ("openai", OPENAI_200_NO_CHOICES),
    "openai_null_content": ("openai", OPENAI_200_NULL_CONTENT),
    "anthropic_no_content": ("anthropic", ANTHROPIC_200_EMPTY),
    "gemini_no_candidates": ("gemini", GEMINI_200_NO_CANDIDATES),
}

_SERVER_ERRORS = {"openai": {500: OPENAI_500}, "anthropic": {500: ANTHROPIC_500, 529: ANTHROPIC_529},
                  "gemini": {500: GEMINI_500, 503: GEMINI_503}}


def server_error(style: str, status: int = 500):
    """The protocol's body for a 5xx (the 500 body when the status has none of its own)."""
    bodies = _SERVER_ERRORS[style]
    return bodies.get(status, bodies.get(500, OPENAI_500))


def error_storm(fake, status: int = 500, count=None, **knobs):
    """Instant `status` errors: `count` of them queued, or (count None) every request from now on."""
    resp = Resp(status, server_error(fake.style, status), **knobs)
    return fake.script(*[resp] * count) if count is not None else fake.always(resp)


def echo_key(status: int = 401):
    """A reply (Seen -> Resp) whose error message repeats the request's API key in full.

    OpenAI masks all but the ends of a key it rejects ("sk-...abcd", providers.md §1.5); a proxy or a home-made
    server may not, so this is the worst case a client must keep out of its logs and output.
    """
    def reply(seen):
        h = seen.headers
        key = h.get("x-api-key") or h.get("x-goog-api-key") or seen.query.get("key") or \
            h.get("authorization", "").removeprefix("Bearer ")
        if "anthropic-version" in h:
            body = {"type": "error", "error": {"type": "authentication_error", "message": f"invalid x-api-key {key}"}}
        elif ":generateContent" in seen.path or ":streamGenerateContent" in seen.path:
            body = gemini_error(400, "INVALID_ARGUMENT", f"API key not valid: {key}. Please pass a valid API key.")
        else:
            body = {"error": {"message": f"Incorrect API key provided: {key}. You can find your API key at "
                              "https://platform.openai.com/account/api-keys.", "type": "invalid_request_error",
                              "param": None, "code": "invalid_api_key"}}
        return Resp(status, body)
    return reply


@functools.lru_cache(maxsize=4)
def _huge_text(mb: int) -> str:
    line = "All work and no play makes Jack a dull boy.\n"
    return (line * (mb * 2**20 // len(line) + 1))[: mb * 2**20]


def huge_body(style: str, mb: int = 50) -> dict:
    """A success body whose answer is `mb` MiB of text (a runaway model); streams too when the request asks."""
    text, tokens = _huge_text(mb), mb * 2**18
    if style == "anthropic":
        return anthropic_message(text, stop="max_tokens", output_tokens=tokens)
    if style == "gemini":
        return gemini_response(text, finish="MAX_TOKENS", candidates=tokens, thoughts=None)
    return openai_completion(text, finish="length", completion=tokens, reasoning=0)


def random_schedule(rng, steps: int = 12, max_pause: float = 0.3, stall_chance: float = 0.25) -> list:
    """A random Resp(schedule=...): [(n_bytes, pause_s)] trickles, bursts, silences, and maybe a final stall.

    The schedule covers the reply from its status line, so a pattern may stall inside the headers, the body or
    a stream alike - the deadline property of issue 13 must hold for all of them.
    """
    schedule = []
    for _ in range(rng.randint(1, steps)):
        kind = rng.random()
        if kind < 0.4:
            schedule += [(1, rng.uniform(0, max_pause / 10))] * rng.randint(1, 20)    # trickle
        elif kind < 0.75:
            schedule.append((rng.randint(1, 400), rng.uniform(0, max_pause)))         # burst, then quiet
        else:
            schedule.append((0, rng.uniform(0, max_pause)))                            # silence
    if rng.random() < stall_chance:
        schedule.append((rng.randint(0, 100), math.inf))                               # never another byte
    return schedule
