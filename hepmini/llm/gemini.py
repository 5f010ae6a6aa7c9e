"""Gemini generateContent: contents/parts, systemInstruction, the key in x-goog-api-key (never the URL).

Two pure functions; hepmini.llm.transport does the HTTP. Wire format: ../shared/reference/providers.md §3.
"""

from hepmini.errors import MalformedResponse
from hepmini.llm.base import Reply, Request, Usage, token_count

FIELDS = {"temperature": "temperature", "top_p": "topP", "top_k": "topK", "max_tokens": "maxOutputTokens",
          "seed": "seed"}
_FILTERED = ("SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII", "IMAGE_SAFETY",
             "IMAGE_PROHIBITED_CONTENT", "LANGUAGE")
FINISH = {"STOP": "stop", "MAX_TOKENS": "length", None: "stop", **{r: "content_filter" for r in _FILTERED}}


def build_request(endpoint, key, model, messages, params) -> Request:
    """The POST {base}/v1beta/models/{model}:generateContent request.

    >>> from hepmini.llm.client import PROVIDERS
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
    return Request(f"{base}/models/{name}:generateContent", headers, body, sent, dropped)


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
        block = (data.get("promptFeedback") or {}).get("blockReason")
        if block:
            return Reply("", usage, "content_filter", model, data, finish_raw=f"blockReason={block}")
        if "usageMetadata" not in data:
            raise MalformedResponse("the body has neither 'candidates' nor 'promptFeedback'")
        return Reply("", usage, "error", model, data, finish_raw="no candidates")
    first = candidates[0] if isinstance(candidates, list) and isinstance(candidates[0], dict) else None
    if first is None:
        raise MalformedResponse("'candidates' is not a list of objects")
    parts = (first.get("content") or {}).get("parts") or []    # MAX_TOKENS may come without 'parts'
    text = "".join(p.get("text", "") for p in parts if isinstance(p, dict) and not p.get("thought"))
    raw = first.get("finishReason")
    return Reply(text, usage, FINISH.get(raw, "error"), model, data, finish_raw=str(raw))
