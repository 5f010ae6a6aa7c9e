"""OpenAI Chat Completions, and the servers that imitate it (CBorg/LiteLLM, vLLM, Ollama /v1, llama.cpp).

Pure functions and one stream accumulator; hepmini.llm.transport does the HTTP. Wire format:
../shared/reference/providers.md §1; streaming: `stream: true` with `stream_options.include_usage`,
chat.completion.chunk events, a last chunk with empty `choices` and the usage, then `[DONE]`.
"""

import json
import re

from hepmini.errors import MalformedResponse
from hepmini.llm.base import Reply, Request, StreamError, Usage, array, empty_answer, obj, token_count

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


def build_request(endpoint, key, model, messages, params, stream: bool = False) -> Request:
    """The POST {base}/chat/completions request for `messages` and generation `params`.

    >>> from hepmini.llm.endpoints import PROVIDERS
    >>> r = build_request(PROVIDERS["openai"], "k", "gpt-5-mini", [{"role": "user", "content": "hi"}],
    ...                   {"temperature": 0, "max_tokens": 64})
    >>> r.url, r.params_sent, sorted(r.params_dropped)
    ('https://api.openai.com/v1/chat/completions', {'max_completion_tokens': 64}, ['temperature'])
    """
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    if key:
        headers["Authorization"] = f"Bearer {key}"
    headers.update(endpoint.headers)
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
    body.update(dict(endpoint.extra))       # a server's own extensions (llama.cpp: return_progress, cache_prompt)
    if stream:
        body.update(stream=True, stream_options={"include_usage": True})
        headers["Accept"] = "text/event-stream"
    return Request(endpoint.base_url.rstrip("/") + "/chat/completions", headers, body, sent, dropped)


def parse_usage(usage) -> Usage:
    """Usage from `usage`: prompt/completion/total plus the optional (possibly null) details."""
    if not isinstance(usage, dict):
        return Usage()
    prompt = obj(usage.get("prompt_tokens_details"), "prompt_tokens_details")
    completion = obj(usage.get("completion_tokens_details"), "completion_tokens_details")
    inp, out = token_count(usage.get("prompt_tokens")), token_count(usage.get("completion_tokens"))
    return Usage(input=inp, output=out, reasoning=token_count(completion.get("reasoning_tokens")),
                 cached_input=token_count(prompt.get("cached_tokens")),
                 total=token_count(usage.get("total_tokens")) or inp + out, reported=True)


def parse_response(data) -> Reply:
    """The Reply in a chat.completion body; reasoning text (reasoning_content/reasoning) is left out.

    No choice, or no text, refusal or output token at all, is the server's fault: MalformedResponse.

    >>> r = parse_response({"model": "m-1", "choices": [{"message": {"content": "Paris."},
    ...                     "finish_reason": "stop"}], "usage": {"prompt_tokens": 3, "completion_tokens": 2}})
    >>> r.text, r.finish_reason, r.usage.total
    ('Paris.', 'stop', 5)
    >>> parse_response({"choices": [{"message": {"content": None, "refusal": "I can't help with that."},
    ...                 "finish_reason": "stop"}]}).finish_reason
    'refusal'
    """
    if not isinstance(data, dict):
        raise MalformedResponse(f"the body is a {type(data).__name__}, not a chat.completion object")
    choices = data.get("choices")
    usage, model = parse_usage(data.get("usage")), str(data.get("model") or "")
    if not choices:
        # OpenRouter/LiteLLM may answer 200 with an `error` object and no usable choice (litellm#8448).
        error = data.get("error")
        detail = f": {json.dumps(error)}" if error else ""     # the transport scrubs the key, then cuts
        raise MalformedResponse(f"the answer has no choices{detail}")
    choice = choices[0] if isinstance(choices, list) and isinstance(choices[0], dict) else None
    if choice is None:
        raise MalformedResponse("'choices' is not a list of objects")
    message = obj(choice.get("message"), "message")
    content = message.get("content")
    if isinstance(content, list):   # some compatible servers return content parts
        content = "".join(p["text"] for p in content if isinstance(p, dict) and p.get("type") == "text"
                          and isinstance(p.get("text"), str))
    text, refusal = (content if isinstance(content, str) else ""), str(message.get("refusal") or "")
    raw_finish = choice.get("finish_reason")
    if not isinstance(raw_finish, (str, type(None))):
        raise MalformedResponse(f"'finish_reason' is a {type(raw_finish).__name__}, not a string")
    if (content is None and not refusal and raw_finish != "length") or \
            (empty_answer(text, refusal, usage) and raw_finish != "length"):
        raise MalformedResponse(f"the answer is empty (no text, no refusal, no output tokens; finish {raw_finish})")
    finish = "refusal" if refusal and not text else FINISH.get(raw_finish, "error")
    return Reply(text, usage, finish, model, data, finish_raw=str(raw_finish), refusal=refusal,
                 timings=data.get("timings") if isinstance(data.get("timings"), dict) else {})


class Stream:
    """Folds chat.completion.chunk events into the chat.completion body they stand for.

    >>> s = Stream()
    >>> [s.add("message", d) for d in ('{"model":"m","choices":[{"delta":{"role":"assistant","content":"Pa"}}]}',
    ...  '{"choices":[{"delta":{"content":"ris."},"finish_reason":"stop"}]}',
    ...  '{"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":2}}', '[DONE]')]
    ['Pa', 'ris.', '', '']
    >>> r = s.reply(); r.text, r.finish_reason, r.usage.total, s.done
    ('Paris.', 'stop', 5, True)
    """

    def __init__(self):
        self.text, self.refusal, self.model, self.finish = [], [], "", None
        self.usage, self.timings, self.done, self.events = None, None, False, 0
        self.prompt_progress = None   # llama.cpp with return_progress: (tokens read, of)

    def add(self, event: str, data: str) -> str:
        """Take one event; return the text it adds (for live progress)."""
        if data.strip() == "[DONE]":
            self.done = True
            return ""
        chunk = json.loads(data)
        if not isinstance(chunk, dict):
            raise MalformedResponse("a stream chunk is not an object")
        if chunk.get("error"):
            raise StreamError(json.dumps(chunk), int(_status_of(chunk["error"])))
        self.events += 1
        progress = chunk.get("prompt_progress")
        if isinstance(progress, dict):
            self.prompt_progress = (progress.get("processed"), progress.get("total"))
        self.model = self.model or str(chunk.get("model") or "")
        self.usage = obj(chunk.get("usage"), "usage") or self.usage
        self.timings = chunk.get("timings") or self.timings
        added = ""
        for choice in array(chunk.get("choices"), "choices"):
            if isinstance(choice, dict) and choice.get("index", 0) == 0:
                delta = obj(choice.get("delta"), "delta")
                added = delta.get("content") if isinstance(delta.get("content"), str) else ""
                self.text.append(added)
                refusal = delta.get("refusal")
                self.refusal.append(refusal if isinstance(refusal, str) else "")
                self.finish = choice.get("finish_reason") or self.finish
        return added

    @property
    def finished(self) -> bool:
        """The end marker, or a finish reason with the usage that follows it, has arrived."""
        return self.done or (self.finish is not None and self.usage is not None)

    @property
    def ended(self) -> bool:
        """The end marker has arrived: nothing after it belongs to the reply (usage may follow a finish)."""
        return self.done

    def body(self) -> dict:
        """The chat.completion body these chunks stand for."""
        message = {"role": "assistant", "content": "".join(self.text), "refusal": "".join(self.refusal) or None}
        body = {"object": "chat.completion", "model": self.model, "usage": self.usage,
                "choices": [{"index": 0, "message": message, "finish_reason": self.finish}] if self.events else []}
        if self.timings:
            body["timings"] = self.timings
        return body

    def reply(self) -> Reply:
        reply = parse_response(self.body())
        reply.streamed = True
        return reply


def _status_of(error) -> int:
    code = error.get("code") if isinstance(error, dict) else None
    return code if isinstance(code, int) and 400 <= code < 600 else 500
