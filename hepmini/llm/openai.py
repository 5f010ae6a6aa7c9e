"""OpenAI Chat Completions, and the servers that imitate it (CBorg/LiteLLM, vLLM, Ollama /v1, llama.cpp).

Two pure functions; hepmini.llm.transport does the HTTP. Wire format: ../shared/reference/providers.md §1.
"""

import re

from hepmini.errors import MalformedResponse
from hepmini.llm.base import Reply, Request, Usage, token_count

# o1/o3/o4-mini and the gpt-5 family (not gpt-5-chat) reject temperature != 1, top_p and stop (§1.2).
_REASONING = re.compile(r"^(o\d|gpt-5(?!-chat))")
_NOT_FOR_REASONING = ("temperature", "top_p", "stop")
FINISH = {"stop": "stop", "length": "length", "content_filter": "content_filter",
          "tool_calls": "stop", "function_call": "stop", None: "stop"}   # vLLM defaults to "stop"


def is_reasoning_model(model: str) -> bool:
    """True for OpenAI reasoning models, also behind a proxy prefix.

    >>> [is_reasoning_model(m) for m in ("gpt-5-mini", "openai/o3", "gpt-5-chat-latest", "gpt-4.1")]
    [True, True, False, False]
    """
    return bool(_REASONING.match(model.lower().rsplit("/", 1)[-1]))


def build_request(endpoint, key, model, messages, params) -> Request:
    """The POST {base}/chat/completions request for `messages` and generation `params`.

    >>> from hepmini.llm.client import PROVIDERS
    >>> r = build_request(PROVIDERS["openai"], "k", "gpt-5-mini", [{"role": "user", "content": "hi"}],
    ...                   {"temperature": 0, "max_tokens": 64})
    >>> r.url, r.params_sent, sorted(r.params_dropped)
    ('https://api.openai.com/v1/chat/completions', {'max_completion_tokens': 64}, ['temperature'])
    """
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    if key:
        headers["Authorization"] = f"Bearer {key}"
    reasoning = is_reasoning_model(model)
    sent, dropped = {}, {}
    for name, value in params.items():
        if reasoning and name in _NOT_FOR_REASONING:
            dropped[name] = "reasoning models reject it"
        elif name == "max_tokens":
            # api.openai.com: max_completion_tokens (reasoning models reject max_tokens); the compatible
            # servers differ (Ollama honours only max_tokens), so the endpoint says which field to use.
            sent[endpoint.max_tokens_field] = value
        elif name == "stop":
            sent["stop"] = [value] if isinstance(value, str) else list(value)
        elif name == "thinking_budget":
            dropped[name] = "not an OpenAI parameter (use reasoning_effort)"
        elif name == "top_k" and endpoint.openai_api:
            dropped[name] = "api.openai.com has no top_k"
        else:
            sent[name] = value
    body = {"model": model, "messages": [{"role": m["role"], "content": m["content"]} for m in messages],
            **sent}
    return Request(endpoint.base_url.rstrip("/") + "/chat/completions", headers, body, sent, dropped)


def parse_usage(usage) -> Usage:
    """Usage from `usage`: prompt/completion/total plus the optional (possibly null) details."""
    if not isinstance(usage, dict):
        return Usage()
    prompt = usage.get("prompt_tokens_details") or {}
    completion = usage.get("completion_tokens_details") or {}
    inp, out = token_count(usage.get("prompt_tokens")), token_count(usage.get("completion_tokens"))
    return Usage(input=inp, output=out, reasoning=token_count(completion.get("reasoning_tokens")),
                 cached_input=token_count(prompt.get("cached_tokens")),
                 total=token_count(usage.get("total_tokens")) or inp + out, reported=True)


def parse_response(data) -> Reply:
    """The Reply in a chat.completion body; reasoning text (reasoning_content/reasoning) is left out.

    >>> r = parse_response({"model": "m-1", "choices": [{"message": {"content": "Paris."},
    ...                     "finish_reason": "stop"}], "usage": {"prompt_tokens": 3, "completion_tokens": 2}})
    >>> r.text, r.finish_reason, r.usage.total
    ('Paris.', 'stop', 5)
    """
    if not isinstance(data, dict):
        raise MalformedResponse(f"the body is a {type(data).__name__}, not a chat.completion object")
    choices = data.get("choices")
    usage, model = parse_usage(data.get("usage")), str(data.get("model") or "")
    if not choices:
        # OpenRouter/LiteLLM may answer 200 with an `error` object and no usable choice (litellm#8448).
        if choices is None and not isinstance(data.get("error"), (dict, str)):
            raise MalformedResponse("the body has no 'choices'")
        return Reply("", usage, "error", model, data, finish_raw="no choices")
    choice = choices[0] if isinstance(choices, list) and isinstance(choices[0], dict) else None
    if choice is None:
        raise MalformedResponse("'choices' is not a list of objects")
    message = choice.get("message") or {}
    content = message.get("content")
    if isinstance(content, list):   # some compatible servers return content parts
        content = "".join(p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text")
    text = content if isinstance(content, str) else ""
    raw_finish = choice.get("finish_reason")
    finish = FINISH.get(raw_finish, "error")
    if message.get("refusal") and not text:
        finish = "content_filter"
    if data.get("error") and finish == "stop" and not text:
        finish = "error"
    return Reply(text, usage, finish, model, data, finish_raw=str(raw_finish))
