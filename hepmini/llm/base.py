"""The shapes every protocol shares: Usage (normalised tokens), Reply (one answer) and Request (one HTTP call).

Usage is normalised across providers: `input` counts every prompt token (cached ones included),
`cached_input` and `cache_write` are parts of it; `output` counts every generated token, reasoning
included, and `reasoning` is the part of it the provider reports as reasoning (0 when not reported;
Anthropic reports none apart). `reported` is False when the server sent no usage at all.
"""

import dataclasses
from typing import NamedTuple, Optional

from hepmini.errors import MalformedResponse

ROLES = ("system", "user", "assistant")
FINISH_REASONS = ("stop", "length", "content_filter", "refusal", "error")
MAX_TEXT = 1_000_000          # characters of one reply kept; a chat answer is far shorter


@dataclasses.dataclass
class Usage:
    """Token counts, normalised across providers (see the module docstring)."""

    input: int = 0
    output: int = 0
    reasoning: int = 0
    cached_input: int = 0
    cache_write: int = 0
    total: int = 0
    reported: bool = False


def token_count(value) -> int:
    """A token count from a provider's usage object: `value` if it is an int, else 0 (absent or null)."""
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


@dataclasses.dataclass
class Reply:
    """One model answer and what it took to get it."""

    text: str
    usage: Usage
    finish_reason: str
    model: str
    raw: dict = dataclasses.field(default_factory=dict, repr=False)
    finish_raw: str = ""
    provider: str = ""
    requested_model: str = ""
    cost: Optional[float] = None
    cost_source: str = ""            # "header" (x-litellm-response-cost) | "table" | "" (unknown)
    attempts: list = dataclasses.field(default_factory=list)
    latency: float = 0.0
    params_sent: dict = dataclasses.field(default_factory=dict)
    params_dropped: dict = dataclasses.field(default_factory=dict)
    refusal: str = ""                # the model's own words when it declines (OpenAI message.refusal)
    streamed: bool = False           # the reply came as server-sent events
    timings: dict = dataclasses.field(default_factory=dict)   # a local server's own prompt/generation timings


class Request(NamedTuple):
    """What build_request produces: the HTTP request plus the parameters sent and dropped."""

    url: str
    headers: dict
    body: dict
    params_sent: dict
    params_dropped: dict

    def __repr__(self):
        # The headers carry the API key: a repr (traceback locals, debug prints) shows their names only.
        return (f"Request(url={self.url!r}, headers=[{', '.join(self.headers)}], "
                f"params_sent={self.params_sent!r}, params_dropped={self.params_dropped!r})")


class StreamError(Exception):
    """A stream carried an error event; `body` is its JSON text (read like an HTTP error body)."""

    def __init__(self, body: str, status: int = 500):
        # the body may echo the API key: it is shown only through the transport's scrub
        super().__init__(f"an error event in the stream (as HTTP {status})")
        self.body, self.status = body, status


def obj(value, what: str) -> dict:
    """`value` if it is a JSON object, {} if absent or null; any other shape is the server's fault.

    >>> obj(None, "usage"), obj({"a": 1}, "usage")
    ({}, {'a': 1})
    >>> obj("n/a", "message")
    Traceback (most recent call last):
    hepmini.errors.MalformedResponse: 'message' is a str, not an object
    """
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise MalformedResponse(f"'{what}' is a {type(value).__name__}, not an object")
    return value


def array(value, what: str) -> list:
    """`value` if it is a JSON array, [] if absent or null; any other shape is the server's fault."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise MalformedResponse(f"'{what}' is a {type(value).__name__}, not a list")
    return value


def empty_answer(text: str, refusal: str, usage: Usage) -> bool:
    """True when a 2xx answer carries nothing from the model: no text, no refusal, no output tokens.

    That is the server's fault (retried, then `infrastructure`), never the model's: a model that
    generated tokens but no text (reasoning only, or an immediate end) has `usage.output > 0`.

    >>> empty_answer("", "", Usage()), empty_answer("", "", Usage(output=3, reported=True))
    (True, False)
    """
    return not text and not refusal and usage.output == 0

