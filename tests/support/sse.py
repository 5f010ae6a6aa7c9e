"""Server-sent event streams as the three services send them, and a small reader for tests.

`*_events(body)` turn a non-streaming reply body into the events that stream the same reply; `encode` puts one
event on the wire; `parse` and `*_result` read a raw stream back into text, finish reason and usage, so a test
can compare a stream with its non-streaming twin without an SDK.
"""

import json
import re

OPENAI_DONE = "data: [DONE]"
PING = b":\n\n"        # an SSE comment: llama-server sends it after 30 s without a token (--sse-ping-interval)


def encode(event, style: str) -> bytes:
    """One event as wire bytes: bytes verbatim; str = the event's lines; dict = JSON data (style's framing).

    Gemini frames events with CRLF (Routstr/routstr-core#543, nyroway/nyro#265); Anthropic names each event
    after its "type"; OpenAI-compatible servers send bare `data:` lines.
    """
    if isinstance(event, bytes):
        return event
    end = "\r\n\r\n" if style == "gemini" else "\n\n"
    if isinstance(event, str):
        return (event.rstrip("\r\n") + end).encode()
    if style == "anthropic":
        return f"event: {event.get('type', 'message')}\ndata: {json.dumps(event, separators=(',', ':'))}{end}".encode()
    separators = (", ", ": ") if style == "gemini" else (",", ":")
    return f"data: {json.dumps(event, separators=separators)}{end}".encode()


def pieces(text) -> list:
    """Split a reply into token-like pieces (words and punctuation), or 64 KiB slices for a huge reply."""
    if not text:
        return []
    if len(text) > 65536:
        return [text[i:i + 65536] for i in range(0, len(text), 65536)]
    return re.findall(r"\s*\w+|\s*[^\w\s]+|\s+", text)


def openai_events(body: dict, include_usage=False, flavor="openai") -> list:
    """The chat.completion.chunk events that stream `body` (a chat.completion), ending with `data: [DONE]`.

    As the servers do: OpenAI opens with {"role","content":"","refusal":null} and, with include_usage, sends
    "usage": null on every chunk and the usage in a last chunk with "choices": []; llama-server opens with
    {"role","content":null} and puts `timings` on its last chunk (tools/server/server-task.cpp,
    to_json_oaicompat_chat_stream, and a capture of a real server); Ollama repeats the role in every delta.
    """
    head = {"id": body.get("id"), "object": "chat.completion.chunk", "created": body.get("created"),
            "model": body.get("model"), "system_fingerprint": body.get("system_fingerprint")}
    if flavor in ("openai", "litellm"):
        head["service_tier"] = body.get("service_tier", "default")
    if flavor == "openai":
        head["obfuscation"] = "Qk3x"          # OpenAI pads chunks since 2025-08; clients must ignore it

    def chunk(choices, **extra):
        out = {**head, "choices": choices, **extra}
        if include_usage and flavor in ("openai", "litellm", "vllm"):
            out.setdefault("usage", None)
        return out

    events = []
    for choice in body.get("choices") or []:
        message, index = choice.get("message") or {}, choice.get("index", 0)

        def delta(d, finish=None):
            c = {"index": index, "delta": d, "finish_reason": finish}
            if flavor not in ("llamacpp", "ollama"):
                c["logprobs"] = None
            if flavor == "vllm" and finish:
                c["stop_reason"] = None
            return chunk([c])

        role = {"role": "assistant"} if flavor == "ollama" else {}
        if flavor == "llamacpp":
            events.append(delta({"role": "assistant", "content": None}))
        elif flavor != "ollama":
            first = {"role": "assistant", "content": None if message.get("refusal") else ""}
            if flavor in ("openai", "litellm"):
                first["refusal"] = "" if message.get("refusal") else None
            events.append(delta(first))
        for key in ("reasoning_content", "reasoning", "refusal", "content"):
            events += [delta({**role, key: p}) for p in pieces(message.get(key))]
        events.append(delta({**role, "content": ""} if role else {}, choice.get("finish_reason")))
    if include_usage and body.get("usage") is not None:
        events.append(chunk([], usage=body["usage"]))
    if flavor == "llamacpp" and events and body.get("timings"):
        events[-1]["timings"] = body["timings"]
    return events + [OPENAI_DONE]


def anthropic_events(message: dict) -> list:
    """The Messages stream of `message`: message_start, a start/delta*/stop per block, message_delta, message_stop.

    A ping follows the first content_block_start as in Anthropic's documented example; message_start carries the
    input usage and output_tokens 1, message_delta the final (cumulative) output_tokens.
    """
    usage = message.get("usage") or {}
    start = {**message, "content": [], "stop_reason": None, "stop_sequence": None,
             "usage": {**usage, "output_tokens": min(1, usage.get("output_tokens", 1))}}
    events = [{"type": "message_start", "message": start}]
    for i, block in enumerate(message.get("content") or []):
        kind = block.get("type")
        if kind == "text":
            opening = {"type": "text", "text": ""}
            deltas = [{"type": "text_delta", "text": p} for p in pieces(block["text"])]
        elif kind == "thinking":
            opening = {"type": "thinking", "thinking": "", "signature": ""}
            deltas = [{"type": "thinking_delta", "thinking": p} for p in pieces(block["thinking"])] + \
                [{"type": "signature_delta", "signature": block.get("signature", "")}]
        elif kind == "tool_use":
            opening = {**block, "input": {}}
            deltas = [{"type": "input_json_delta", "partial_json": json.dumps(block.get("input", {}))}]
        else:                           # redacted_thinking and others arrive whole
            opening, deltas = block, []
        events.append({"type": "content_block_start", "index": i, "content_block": opening})
        if i == 0:
            events.append({"type": "ping"})
        events += [{"type": "content_block_delta", "index": i, "delta": d} for d in deltas]
        events.append({"type": "content_block_stop", "index": i})
    if len(events) == 1:
        events.append({"type": "ping"})
    events.append({"type": "message_delta", "delta": {"stop_reason": message.get("stop_reason"),
                                                       "stop_sequence": message.get("stop_sequence")},
                   "usage": {"output_tokens": usage.get("output_tokens", 0)}})
    return events + [{"type": "message_stop"}]


def gemini_events(response: dict) -> list:
    """The streamGenerateContent chunks of `response`: one part per chunk, finishReason on the last.

    As a real capture shows (junjihashimoto/louter test-data/gemini/streaming_long), every chunk carries
    usageMetadata with the counts so far; the last one's equal the non-streaming reply's.
    """
    candidates = response.get("candidates") or []
    parts = ((candidates[0].get("content") or {}).get("parts") if candidates else None) or []
    if not parts:
        return [response]              # no text to stream (blocked prompt, empty candidates, no parts)
    split = [{**part, "text": p} for part in parts for p in (pieces(part["text"]) if "text" in part else [None])]
    split = [{k: v for k, v in part.items() if v is not None} for part in split]
    if not split:
        return [response]              # only empty text parts
    meta, top = response.get("usageMetadata"), {k: v for k, v in response.items() if k not in ("candidates",
                                                                                                 "usageMetadata")}
    last, events = candidates[0], []
    for k, part in enumerate(split):
        candidate = {"content": {"parts": [part], "role": "model"}, "index": 0}
        if k == len(split) - 1:
            candidate.update({key: v for key, v in last.items() if key != "content"})
        chunk = {"candidates": [candidate]}
        if meta is not None:
            chunk["usageMetadata"] = meta if k == len(split) - 1 else _partial(meta, (k + 1) / len(split))
        events.append({**chunk, **top})
    return events


def _partial(meta, share):
    """usageMetadata part of the way through a stream: output so far, input and thoughts already known."""
    out = dict(meta)
    if "candidatesTokenCount" in meta:
        out["candidatesTokenCount"] = int(meta["candidatesTokenCount"] * share)
        out["totalTokenCount"] = meta.get("totalTokenCount", 0) - meta["candidatesTokenCount"] + \
            out["candidatesTokenCount"]
    return out


# --- reading a stream back ------------------------------------------------------------------------------


def parse(raw: bytes) -> list:
    """[(event name or None, data)] of an SSE byte stream, per the WHATWG rules (CR, LF or CRLF; comments)."""
    out, name, data = [], None, []
    for line in re.split(r"\r\n|\r|\n", raw.decode("utf-8")):
        if not line:
            if data:
                out.append((name, "\n".join(data)))
            name, data = None, []
        elif line.startswith(":"):
            continue
        else:
            field, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if field == "event":
                name = value
            elif field == "data":
                data.append(value)
    if data:
        out.append((name, "\n".join(data)))
    return out


def _json(data):
    return data if data == "[DONE]" else json.loads(data)


def openai_result(raw: bytes) -> dict:
    """What a stream of chat.completion.chunk says: text, reasoning, refusal, finish, usage, done, error."""
    out = {"text": "", "reasoning": "", "refusal": "", "finish": None, "usage": None, "done": False, "error": None}
    for _, data in parse(raw):
        event = _json(data)
        if event == "[DONE]":
            out["done"] = True
            continue
        out["error"] = event.get("error") or out["error"]
        out["usage"] = event.get("usage") or out["usage"]
        for choice in event.get("choices") or []:
            d = choice.get("delta") or {}
            out["text"] += d.get("content") or ""
            out["reasoning"] += d.get("reasoning_content") or d.get("reasoning") or ""
            out["refusal"] += d.get("refusal") or ""
            out["finish"] = choice.get("finish_reason") or out["finish"]
    return out


def anthropic_result(raw: bytes) -> dict:
    """What a Messages stream says: text, thinking, stop reason, usage, whether it ended, error."""
    out = {"text": "", "thinking": "", "stop": None, "usage": {}, "done": False, "error": None}
    for name, data in parse(raw):
        event = json.loads(data)
        kind = event.get("type", name)
        if kind == "message_start":
            out["usage"].update(event["message"].get("usage") or {})
        elif kind == "content_block_delta":
            out["text"] += event["delta"].get("text", "")
            out["thinking"] += event["delta"].get("thinking", "")
        elif kind == "message_delta":
            out["stop"] = event["delta"].get("stop_reason")
            out["usage"].update(event.get("usage") or {})
        elif kind == "message_stop":
            out["done"] = True
        elif kind == "error":
            out["error"] = event.get("error")
    return out


def gemini_result(raw: bytes) -> dict:
    """What a streamGenerateContent SSE stream says: text, thoughts, finish, usage (the last usageMetadata)."""
    out = {"text": "", "thoughts": "", "finish": None, "usage": None, "error": None}
    for _, data in parse(raw):
        event = json.loads(data)
        out["error"] = event.get("error") or out["error"]
        out["usage"] = event.get("usageMetadata") or out["usage"]
        for candidate in (event.get("candidates") or [])[:1]:
            for part in (candidate.get("content") or {}).get("parts") or []:
                out["thoughts" if part.get("thought") else "text"] += part.get("text", "")
            out["finish"] = candidate.get("finishReason") or out["finish"]
    return out
