"""Anthropic Messages API: system outside the messages, max_tokens required, text blocks only.

Two pure functions; hepmini.llm.transport does the HTTP. Wire format: ../shared/reference/providers.md §2.
"""

from hepmini.errors import MalformedResponse
from hepmini.llm.base import Reply, Request, Usage, token_count

VERSION = "2023-06-01"
DEFAULT_MAX_TOKENS = 8192     # required by the API; 8192 is the SDK's non-streaming limit for Opus 4.x
FINISH = {"end_turn": "stop", "stop_sequence": "stop", "tool_use": "stop", "max_tokens": "length",
          "model_context_window_exceeded": "length", "refusal": "content_filter"}


def build_request(endpoint, key, model, messages, params) -> Request:
    """The POST {base}/v1/messages request; system messages are joined into the top-level `system`.

    >>> from hepmini.llm.client import PROVIDERS
    >>> r = build_request(PROVIDERS["anthropic"], "k", "claude-haiku-4-5",
    ...                   [{"role": "system", "content": "Be terse."}, {"role": "user", "content": "hi"}],
    ...                   {"temperature": 0, "seed": 1})
    >>> r.body["system"], r.params_sent, list(r.params_dropped)
    ('Be terse.', {'max_tokens': 8192, 'temperature': 0}, ['seed'])
    """
    headers = {"content-type": "application/json", "anthropic-version": VERSION}
    if key:
        headers["x-api-key"] = key
    thinking = params.get("thinking_budget")
    sent, dropped = {"max_tokens": params.get("max_tokens", DEFAULT_MAX_TOKENS)}, {}
    for name, value in params.items():
        if name == "max_tokens":
            continue
        if name in ("seed", "reasoning_effort"):
            dropped[name] = "the Messages API has no such parameter"
        elif thinking and name in ("temperature", "top_k"):
            dropped[name] = "not allowed with extended thinking"
        elif name == "thinking_budget":
            sent["thinking"] = {"type": "enabled", "budget_tokens": value}
        elif name == "stop":
            sent["stop_sequences"] = [value] if isinstance(value, str) else list(value)
        else:
            sent[name] = value
    body = {"model": model, **sent,
            "messages": [{"role": m["role"], "content": m["content"]} for m in messages
                         if m["role"] != "system"]}
    system = "\n\n".join(m["content"] for m in messages if m["role"] == "system")
    if system:
        body["system"] = system
    return Request(endpoint.base_url.rstrip("/") + "/v1/messages", headers, body, sent, dropped)


def parse_response(data) -> Reply:
    """The Reply in a Messages body: text blocks joined; thinking blocks left out of the text.

    Anthropic's input_tokens excludes cache reads and writes, so input = all three; output_tokens
    already includes the (billed, unreported-apart) thinking tokens.

    >>> r = parse_response({"type": "message", "model": "claude-x", "stop_reason": "max_tokens",
    ...     "content": [{"type": "thinking", "thinking": "hm"}, {"type": "text", "text": "Par"}],
    ...     "usage": {"input_tokens": 10, "cache_read_input_tokens": 5, "output_tokens": 7}})
    >>> r.text, r.finish_reason, r.usage.input, r.usage.cached_input, r.usage.total
    ('Par', 'length', 15, 5, 22)
    """
    if not isinstance(data, dict) or not isinstance(data.get("content"), list):
        raise MalformedResponse("the body is not a Messages object with a 'content' list")
    text = "".join(b.get("text", "") for b in data["content"] if isinstance(b, dict) and b.get("type") == "text")
    raw = data.get("usage")
    if isinstance(raw, dict):
        write = token_count(raw.get("cache_creation_input_tokens"))
        read = token_count(raw.get("cache_read_input_tokens"))
        inp, out = token_count(raw.get("input_tokens")) + write + read, token_count(raw.get("output_tokens"))
        usage = Usage(input=inp, output=out, cached_input=read, cache_write=write, total=inp + out,
                      reported=True)
    else:
        usage = Usage()
    stop = data.get("stop_reason")
    return Reply(text, usage, FINISH.get(stop, "error"), str(data.get("model") or ""), data,
                 finish_raw=str(stop))
