"""Gemini generateContent: contents/parts, systemInstruction, the key in x-goog-api-key (never the URL).

Pure functions and one stream accumulator; hepmini.llm.transport does the HTTP. Wire format:
../shared/reference/providers.md §3; streaming: `:streamGenerateContent?alt=sse`, each event a
GenerateContentResponse chunk, the finish reason and the usage on the last.
"""

import json

from hepmini.errors import MalformedResponse
from hepmini.llm.base import Reply, Request, StreamError, Usage, array, empty_answer, obj, token_count

FIELDS = {"temperature": "temperature", "top_p": "topP", "top_k": "topK", "max_tokens": "maxOutputTokens",
          "seed": "seed"}
_FILTERED = ("SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII", "IMAGE_SAFETY",
             "IMAGE_PROHIBITED_CONTENT", "LANGUAGE")
FINISH = {"STOP": "stop", "MAX_TOKENS": "length", None: "stop", **{r: "content_filter" for r in _FILTERED}}


def build_request(endpoint, key, model, messages, params, stream: bool = False) -> Request:
    """The POST {base}/v1beta/models/{model}:generateContent request.

    >>> from hepmini.llm.endpoints import PROVIDERS
    >>> r = build_request(PROVIDERS["gemini"], "k", "gemini-2.5-flash",
    ...                   [{"role": "system", "content": "Be terse."}, {"role": "assistant", "content": "ok"}],
    ...                   {"max_tokens": 100, "thinking_budget": 0})
    >>> r.url.split("/v1beta/")[1], r.body["contents"][0]["role"]
    ('models/gemini-2.5-flash:generateContent', 'model')
    >>> r.params_sent
    {'maxOutputTokens': 100, 'thinkingConfig': {'thinkingBudget': 0}}
    """
    headers = {"Content-Type": "application/json"}
    if key:
        headers["x-goog-api-key"] = key
    headers.update(endpoint.headers)
    sent, dropped = {}, {}
    for name, value in params.items():
        if name in FIELDS:
            sent[FIELDS[name]] = value
        elif name == "stop":
            sent["stopSequences"] = [value] if isinstance(value, str) else list(value)
        elif name == "thinking_budget":
            sent["thinkingConfig"] = {"thinkingBudget": value}
        else:
            dropped[name] = "not a Gemini parameter (use thinking_budget)"
    body = {"contents": [{"role": "model" if m["role"] == "assistant" else "user",
                          "parts": [{"text": m["content"]}]} for m in messages if m["role"] != "system"]}
    system = "\n\n".join(m["content"] for m in messages if m["role"] == "system")
    if system:
        body["systemInstruction"] = {"parts": [{"text": system}]}
    if sent:
        body["generationConfig"] = sent
    base = endpoint.base_url.rstrip("/")
    if not base.endswith(("/v1beta", "/v1")):
        base += "/v1beta"
    name = model[len("models/"):] if model.startswith("models/") else model
    method = "streamGenerateContent?alt=sse" if stream else "generateContent"
    return Request(f"{base}/models/{name}:{method}", headers, body, sent, dropped)


def parse_usage(meta) -> Usage:
    """Usage from usageMetadata; candidatesTokenCount excludes thoughts, so output = candidates + thoughts."""
    if not isinstance(meta, dict):
        return Usage()
    inp = token_count(meta.get("promptTokenCount")) + token_count(meta.get("toolUsePromptTokenCount"))
    thoughts = token_count(meta.get("thoughtsTokenCount"))
    out = token_count(meta.get("candidatesTokenCount")) + thoughts
    return Usage(input=inp, output=out, reasoning=thoughts,
                 cached_input=token_count(meta.get("cachedContentTokenCount")),
                 total=token_count(meta.get("totalTokenCount")) or inp + out, reported=True)


def parse_response(data) -> Reply:
    """The Reply in a generateContent body: first candidate, parts with thought=true left out.

    A prompt blocked by safety filters is an HTTP 200 with no candidates: finish content_filter.

    >>> r = parse_response({"promptFeedback": {"blockReason": "SAFETY"}, "modelVersion": "gemini-2.5-flash",
    ...                     "usageMetadata": {"promptTokenCount": 12, "totalTokenCount": 12}})
    >>> r.text, r.finish_reason, r.finish_raw, r.usage.input
    ('', 'content_filter', 'blockReason=SAFETY', 12)
    """
    if not isinstance(data, dict):
        raise MalformedResponse(f"the body is a {type(data).__name__}, not a GenerateContentResponse")
    usage, model = parse_usage(data.get("usageMetadata")), str(data.get("modelVersion") or "")
    candidates = data.get("candidates")
    if not candidates:
        block = obj(data.get("promptFeedback"), "promptFeedback").get("blockReason")
        if block:
            return Reply("", usage, "content_filter", model, data, finish_raw=f"blockReason={block}")
        raise MalformedResponse("the answer has neither candidates nor a promptFeedback block reason")
    first = candidates[0] if isinstance(candidates, list) and isinstance(candidates[0], dict) else None
    if first is None:
        raise MalformedResponse("'candidates' is not a list of objects")
    text = "".join(p["text"] for p in _parts(first) if not p.get("thought") and isinstance(p.get("text"), str))
    raw = first.get("finishReason")
    if not isinstance(raw, (str, type(None))):
        raise MalformedResponse(f"'finishReason' is a {type(raw).__name__}, not a string")
    finish = FINISH.get(raw, "error")
    if empty_answer(text, "", usage) and finish == "stop":
        raise MalformedResponse(f"the answer is empty (no text, no output tokens; finishReason {raw})")
    return Reply(text, usage, finish, model, data, finish_raw=str(raw))


def _parts(candidate: dict) -> list:
    """The part objects of a candidate (MAX_TOKENS may come without 'parts')."""
    parts = array(obj(candidate.get("content"), "content").get("parts"), "parts")
    return [p for p in parts if isinstance(p, dict)]


class Stream:
    """Folds streamGenerateContent chunks into the GenerateContentResponse they stand for.

    >>> s = Stream()
    >>> [s.add("message", d) for d in ('{"candidates":[{"content":{"parts":[{"text":"Pa"}]}}]}',
    ...  '{"candidates":[{"content":{"parts":[{"text":"ris."}]},"finishReason":"STOP"}],'
    ...  '"usageMetadata":{"promptTokenCount":8,"candidatesTokenCount":2},"modelVersion":"gemini-2.5-flash"}')]
    ['Pa', 'ris.']
    >>> r = s.reply(); r.text, r.finish_reason, r.usage.total, s.finished
    ('Paris.', 'stop', 10, True)
    """

    def __init__(self):
        self.parts, self.finish, self.last, self.block = [], None, {}, None
        self.ended = False    # a finish reason (or block reason) came with the usage: the last chunk is in

    def add(self, event: str, data: str) -> str:
        """Take one event; return the text it adds (for live progress)."""
        chunk = json.loads(data)
        if not isinstance(chunk, dict):
            raise MalformedResponse("a stream chunk is not an object")
        if chunk.get("error"):
            error = chunk["error"]
            code = error.get("code") if isinstance(error, dict) else None
            raise StreamError(data, code if isinstance(code, int) and 400 <= code < 600 else 500)
        self.last = {**self.last, **{k: v for k, v in chunk.items() if k != "candidates"}}
        block = obj(chunk.get("promptFeedback"), "promptFeedback").get("blockReason")
        self.block = block or self.block
        added, finish = "", None
        for candidate in array(chunk.get("candidates"), "candidates")[:1]:
            candidate = obj(candidate, "candidate")
            parts = _parts(candidate)
            self.parts += parts
            added = "".join(p["text"] for p in parts if not p.get("thought") and isinstance(p.get("text"), str))
            finish = candidate.get("finishReason")
            self.finish = finish or self.finish
        self.ended = self.ended or bool((finish or block) and "usageMetadata" in chunk)
        return added

    @property
    def finished(self) -> bool:
        """A finish reason (or a blocked prompt) has arrived: Gemini sends no end marker."""
        return self.finish is not None or self.block is not None

    def body(self) -> dict:
        """The GenerateContentResponse these chunks stand for."""
        body = dict(self.last)
        if self.parts or self.finish:
            body["candidates"] = [{"content": {"role": "model", "parts": self.parts}, "finishReason": self.finish}]
        return body

    def reply(self) -> Reply:
        reply = parse_response(self.body())
        reply.streamed = True
        return reply
