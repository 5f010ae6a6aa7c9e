"""Anthropic Messages API: system outside the messages, max_tokens required, text blocks only.

Pure functions and one stream accumulator; hepmini.llm.transport does the HTTP. Wire format:
../shared/reference/providers.md §2; streaming: message_start, content_block_start/delta/stop,
message_delta (stop_reason, output tokens), message_stop; ping and error events.
"""

import json

from hepmini.errors import MalformedResponse
from hepmini.llm.base import Reply, Request, StreamError, Usage, empty_answer, obj, token_count

VERSION = "2023-06-01"
DEFAULT_MAX_TOKENS = 8192     # required by the API; 8192 is the SDK's non-streaming limit for Opus 4.x
FINISH = {"end_turn": "stop", "stop_sequence": "stop", "tool_use": "stop", "max_tokens": "length",
          "model_context_window_exceeded": "length", "refusal": "refusal"}


def build_request(endpoint, key, model, messages, params, stream: bool = False) -> Request:
    """The POST {base}/v1/messages request; system messages are joined into the top-level `system`.

    >>> from hepmini.llm.endpoints import PROVIDERS
    >>> r = build_request(PROVIDERS["anthropic"], "k", "claude-haiku-4-5",
    ...                   [{"role": "system", "content": "Be terse."}, {"role": "user", "content": "hi"}],
    ...                   {"temperature": 0, "seed": 1})
    >>> r.body["system"], r.params_sent, list(r.params_dropped)
    ('Be terse.', {'max_tokens': 8192, 'temperature': 0}, ['seed'])
    """
    headers = {"content-type": "application/json", "anthropic-version": VERSION}
    if key:
        headers["x-api-key"] = key
    headers.update(endpoint.headers)
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
    if stream:
        body["stream"] = True
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
    if not data["content"]:
        raise MalformedResponse(f"the answer has no content blocks (stop_reason {data.get('stop_reason')})")
    text = "".join(b["text"] for b in data["content"] if isinstance(b, dict) and b.get("type") == "text"
                   and isinstance(b.get("text"), str))
    usage = _usage(data.get("usage"))
    stop = data.get("stop_reason")
    if not isinstance(stop, (str, type(None))):
        raise MalformedResponse(f"'stop_reason' is a {type(stop).__name__}, not a string")
    if empty_answer(text, "", usage) and stop != "max_tokens":
        raise MalformedResponse(f"the answer is empty (no text, no output tokens; stop_reason {stop})")
    finish = FINISH.get(stop, "error")
    return Reply(text, usage, finish, str(data.get("model") or ""), data, finish_raw=str(stop),
                 refusal=text if finish == "refusal" else "")


def _usage(raw) -> Usage:
    if not isinstance(raw, dict):
        return Usage()
    write = token_count(raw.get("cache_creation_input_tokens"))
    read = token_count(raw.get("cache_read_input_tokens"))
    inp, out = token_count(raw.get("input_tokens")) + write + read, token_count(raw.get("output_tokens"))
    return Usage(input=inp, output=out, cached_input=read, cache_write=write, total=inp + out, reported=True)


class Stream:
    """Folds Messages stream events into the Messages body they stand for.

    >>> s = Stream()
    >>> events = [("message_start", '{"message":{"model":"claude-x","usage":{"input_tokens":9,"output_tokens":1}}}'),
    ...   ("content_block_start", '{"index":0,"content_block":{"type":"text","text":""}}'), ("ping", "{}"),
    ...   ("content_block_delta", '{"index":0,"delta":{"type":"text_delta","text":"Paris."}}'),
    ...   ("content_block_stop", '{"index":0}'),
    ...   ("message_delta", '{"delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":3}}'),
    ...   ("message_stop", "{}")]
    >>> [s.add(e, d) for e, d in events][3]
    'Paris.'
    >>> r = s.reply(); r.text, r.finish_reason, r.usage.input, r.usage.output, s.finished
    ('Paris.', 'stop', 9, 3, True)
    """

    def __init__(self):
        self.message, self.blocks, self.finished = None, {}, False

    @property
    def ended(self) -> bool:
        """message_stop has arrived: nothing after it belongs to the reply."""
        return self.finished

    def add(self, event: str, data: str) -> str:
        """Take one event; return the text it adds (for live progress)."""
        item = json.loads(data) if data.strip() else {}
        kind = item.get("type", event) if isinstance(item, dict) else event
        if kind == "error" or event == "error":
            status = 529 if "overloaded" in data else 500
            raise StreamError(data if isinstance(item, dict) and "error" in item else json.dumps({"error": item}),
                              status)
        item = obj(item, f"the data of a {kind} event")
        if kind == "message_start":
            self.message = dict(obj(item.get("message"), "message"))
        elif kind == "content_block_start":
            self.blocks[_index(item, len(self.blocks))] = dict(obj(item.get("content_block"), "content_block"))
        elif kind == "content_block_delta":
            return self._delta(_index(item, 0), obj(item.get("delta"), "delta"))
        elif kind == "message_delta" and self.message is not None:
            self.message.update({k: v for k, v in obj(item.get("delta"), "delta").items() if v is not None})
            self.message["usage"] = {**obj(self.message.get("usage"), "usage"), **obj(item.get("usage"), "usage")}
        elif kind == "message_stop":
            self.finished = True
        return ""

    def _delta(self, index, delta: dict) -> str:
        block = self.blocks.setdefault(index, {"type": "text", "text": ""})
        kind = delta.get("type")
        field = {"text_delta": "text", "thinking_delta": "thinking", "signature_delta": "signature",
                 "input_json_delta": "partial_json"}.get(kind, "") if isinstance(kind, str) else ""
        key = "text" if field == "text" else field
        piece = delta.get(key, "") if key else ""
        if field:
            prior = block.get(field, "")
            block[field] = (prior if isinstance(prior, str) else "") + (piece if isinstance(piece, str) else "")
        return piece if field == "text" and isinstance(piece, str) else ""

    def body(self) -> dict:
        """The Messages body these events stand for."""
        if self.message is None:
            raise MalformedResponse("the stream has no message_start event")
        return {**self.message, "content": [self.blocks[i] for i in sorted(self.blocks)]}

    def reply(self) -> Reply:
        reply = parse_response(self.body())
        reply.streamed = True
        return reply


def _index(item: dict, default: int) -> int:
    """The content block an event is about: an integer, or the server's fault."""
    index = item.get("index", default)
    if not isinstance(index, int) or isinstance(index, bool):
        raise MalformedResponse(f"a content block index is a {type(index).__name__}, not an integer")
    return index
