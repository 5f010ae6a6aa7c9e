"""Cassettes: every model call of a trial recorded, content-addressed by its request, and replayed with no model.

A Recorder wraps a client and appends each call (the request's key and parts, the reply, its usage
and cost) to a JSONL cassette. A Player answers from a cassette: the same request gets the same
reply, in the order recorded; a request the cassette does not hold is a ReplayMismatch (never a
reply to another request, never a call to a live model). Keys hash (provider, model, messages,
parameters), so a changed prompt shows as a mismatch at the first call it changes. A call that failed
(the server's context overflow, a 5xx after its retries) is recorded as its error and replayed as the
same error, so a trial the infrastructure ended replays to the same end.
"""

import dataclasses
import functools
import hashlib
import json
import re
from pathlib import Path

from hepmini import __version__
from hepmini import errors
from hepmini.errors import CassetteError, ProviderError, ReplayMismatch
from hepmini.files import append_jsonl
from hepmini.llm import errorbody
from hepmini.llm.base import Reply, Usage

FORMAT = "hepmini-cassette-1"


def request_key(model: str, messages, params, home: str = "") -> str:
    """The content address of a request: sha256 of its canonical JSON, the trial's directory and the venv read as tags.

    A run's output may name the trial directory (a traceback's path), and a model's reply may quote it back;
    another run of the same trial lives elsewhere, so any absolute path that ends in this trial's own last two
    parts (`step1/trial-1`) is not part of what the request asks, wherever it was recorded.

    >>> request_key("local:m", [{"role": "user", "content": "hi"}], {"temperature": 0})[:12]
    'ec397836530c'
    >>> a = [{"role": "user", "content": 'File "/a/cells/m/step1/trial-1/x.py", line 3 (trial-10 stays)'}]
    >>> b = [{"role": "user", "content": 'File "/tmp/b/cells/m/step1/trial-1/x.py", line 3 (trial-10 stays)'}]
    >>> request_key("m", a, {}, "/a/cells/m/step1/trial-1") == request_key("m", b, {}, "/tmp/b/cells/m/step1/trial-1")
    True
    >>> venv = [{"role": "user", "content": 'File "/a/.venv/lib/python3.11/site-packages/numpy/x.py"'}]
    >>> other = [{"role": "user", "content": 'File "/b/env/lib/python3.11/site-packages/numpy/x.py"'}]
    >>> request_key("m", venv, {}) == request_key("m", other, {})
    True
    >>> tools = [{"role": "user", "content": 'File "/work/run/hepmini/tools.py", line 153, in load_datasets'}]
    >>> vendored = [{"role": "user", "content": 'File "/site/tree/hepmini/tools.py", line 153, in load_datasets'}]
    >>> request_key("m", tools, {}) == request_key("m", vendored, {})
    True
    """
    canonical = json.dumps({"model": model, "messages": [{"role": m["role"], "content": normalised(m["content"], home)}
                                                         for m in messages],
                            "params": params or {}}, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


# an interpreter's prefix, whatever machine recorded it: /any/venv in "/any/venv/lib/python3.11/site-packages/..."
_PYTHON = re.compile(r"(?:/[^/\s\"'`<>]+)+(?=/lib/python\d+\.\d+/)")
# hepmini's own modules (the provided functions a traceback passes through), wherever the tree or package lives
_HEPMINI = re.compile(r"(?:/[^/\s\"'`<>]+)*/hepmini/(?=[\w/]+\.py\b)")


def normalised(text: str, home: str = "") -> str:
    """A message as its cassette key reads it: this trial's directory, hepmini's and the venv's paths as tags."""
    own = _trial_paths(home)
    text = own.sub("<trial>", text) if own else text
    return _PYTHON.sub("<python>", _HEPMINI.sub("<hepmini>/", text))


@functools.lru_cache(maxsize=64)
def _trial_paths(home: str):
    """A pattern for the absolute paths of this trial's directory, wherever the trial ran ('' : None)."""
    if not home:
        return None
    tail = "/".join(Path(home).parts[-2:])
    return re.compile(r"(?:/[^/\s\"'`<>]+)*/" + re.escape(tail) + r"(?![\w.-])")


_KEPT = ("text", "finish_reason", "model", "finish_raw", "provider", "requested_model", "cost", "cost_source",
         "latency", "params_sent", "params_dropped", "refusal", "streamed", "timings")


def reply_record(reply: Reply) -> dict:
    """What a cassette keeps of a reply (everything the harness reads of it; not the raw body)."""
    record = {k: getattr(reply, k) for k in _KEPT}
    record["usage"] = dataclasses.asdict(reply.usage)
    record["http_attempts"] = len(reply.attempts)
    return record


def error_record(exc: ProviderError) -> dict:
    """What a cassette keeps of a failed call: the error's class and what the provider said."""
    return {"error": {"kind": exc.kind, "message": str(exc), "provider": exc.provider, "status": exc.status,
                      "provider_message": exc.provider_message}}


def error_from(record: dict) -> ProviderError:
    """The recorded error, raised again (a kind this hepmini does not know is a CassetteError)."""
    e = record["error"]
    kind = getattr(errors, str(e.get("kind")), None)
    if not (isinstance(kind, type) and issubclass(kind, ProviderError)) or kind is ReplayMismatch:
        raise CassetteError(f"a cassette records an error of kind {e.get('kind')!r}, which this hepmini does not "
                            f"know; re-record the trial")
    if kind is errors.BadRequest and errorbody.describe_error(e.get("provider_message", "")).context:
        kind = errors.ContextOverflow   # recorded before the context overflow had a class of its own
    return kind(e["message"], provider=e.get("provider", ""), status=e.get("status"),
                provider_message=e.get("provider_message", ""))


def reply_from(record: dict) -> Reply:
    if "error" in record:
        raise error_from(record)
    fields = {k: record[k] for k in _KEPT if k in record}
    reply = Reply(usage=Usage(**record["usage"]), raw={"replayed": True}, **fields)
    reply.attempts = [{"n": 1, "status": "replayed", "seconds": 0.0, "error": None, "wait": 0.0, "wait_source": ""}]
    return reply


class Recorder:
    """A client that records every call it passes on into `path` (JSONL, appended as calls end)."""

    def __init__(self, client, path: Path, role: str = ""):
        self.client, self.path, self.role = client, Path(path), role
        self.home = str(self.path.parent.absolute())
        self.name = getattr(client, "name", getattr(client, "model", "?"))

    def __getattr__(self, attr):
        return getattr(self.client, attr)

    def complete(self, messages, params=None, on_event=None) -> Reply:
        try:
            reply = self.client.complete(messages, params, on_event=on_event)
        except ReplayMismatch:
            raise
        except ProviderError as exc:
            self._append(messages, params, error_record(exc))
            raise
        self._append(messages, params, reply_record(reply))
        return reply

    def _append(self, messages, params, reply: dict) -> None:
        key = request_key(self.name, messages, params, self.home)
        append_jsonl(self.path, {"format": FORMAT, "hepmini": __version__, "key": key, "model": self.name,
                                 "role": self.role, "messages": messages, "params": params or {}, "reply": reply})

    def close(self):
        self.client.close()


class Player:
    """A client that answers from a cassette; `describe()` of the recorded stand-in is kept, if any."""

    def __init__(self, path: Path, name: str, home: str = ""):
        self.path, self.name, self.model, self.home = Path(path), name, name, home
        self.records = records(self.path)
        self.replies, self.used = _replies(self.path, self.records, home), 0

    def complete(self, messages, params=None, on_event=None) -> Reply:
        key = request_key(self.name, messages, params, self.home)
        queue = self.replies.get(key)
        if not queue:
            raise ReplayMismatch(f"replay: call {self.used + 1} of {self.name} asks what the cassette {self.path} "
                                 f"never recorded (the prompt, the model or a parameter changed; "
                                 f"{self._difference(messages, params)}); nothing was answered")
        self.used += 1
        return reply_from(queue.pop(0))

    def _difference(self, messages, params) -> str:
        """Where this request first departs from the one the cassette recorded at the same place."""
        recorded = [r for r in self.records if r.get("model") == self.name]
        if self.used >= len(recorded):
            return f"the cassette holds {len(recorded)} call(s) of this model"
        return first_difference(recorded[self.used], messages, params or {}, self.home)

    def close(self):
        pass


def first_difference(record: dict, messages, params: dict, home: str = "") -> str:
    """The first place a request departs from a recorded one, quoted from both sides (paths read as the key does).

    >>> rec = {"messages": [{"role": "user", "content": "numpy 2.1.0, scipy 1.14"}], "params": {"temperature": 0}}
    >>> first_difference(rec, [{"role": "user", "content": "numpy 2.1.0, torch 2.13"}], {"temperature": 0})
    "message 1 (user), character 14: recorded '…umpy 2.1.0, scipy 1.14', now '…umpy 2.1.0, torch 2.13'"
    >>> first_difference(rec, rec["messages"], {"temperature": 0.2})
    'parameters: recorded {"temperature": 0}, now {"temperature": 0.2}'
    >>> moved = {"messages": [{"role": "user", "content": "File /a/hepmini/tools.py: exit 1"}], "params": {}}
    >>> print(first_difference(moved, [{"role": "user", "content": "File /tmp/b/hepmini/tools.py: exit 2"}], {}))
    message 1 (user), character 31: recorded '…ls.py: exit 1', now '…ls.py: exit 2'
    """
    old = record.get("messages") or []
    for n, (a, b) in enumerate(zip(old, messages), 1):
        x, y = normalised(str(a.get("content", "")), home), normalised(str(b.get("content", "")), home)
        if x != y or a.get("role") != b.get("role"):
            at = next((i for i, (c, d) in enumerate(zip(x, y)) if c != d), min(len(x), len(y)))
            return (f"message {n} ({b.get('role')}), character {at + 1}: recorded {_around(x, at)!r}, "
                    f"now {_around(y, at)!r}")
    if len(old) != len(messages):
        return f"recorded {len(old)} message(s), now {len(messages)}"
    if (record.get("params") or {}) != params:
        return f"parameters: recorded {json.dumps(record.get('params'), sort_keys=True)}, now {json.dumps(params, sort_keys=True)}"
    return "the same text: the trial directory's path or the model's name differs"


def _around(text: str, at: int, width: int = 12) -> str:
    return ("…" if at > width else "") + text[max(0, at - width):at + width]


def load(path: Path, home: str = "") -> dict:
    """key -> [reply records] in recorded order; CassetteError (one line) for a missing, corrupt or foreign one."""
    return _replies(path, records(path), home)


def records(path: Path) -> list:
    """The cassette's lines as records in recorded order, each checked for this hepmini's format (CassetteError)."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise CassetteError(f"no cassette at {path} ({exc.strerror}); replay needs a campaign recorded by hepmini "
                            f"{__version__.split('.')[0]}.x") from None
    records = []
    for n, line in enumerate(lines, 1):
        try:
            record = json.loads(line)
            if record.get("format") != FORMAT:
                raise CassetteError(f"{path}:{n}: a cassette of format {record.get('format')!r} (hepmini "
                                    f"{record.get('hepmini', '?')}); this hepmini reads {FORMAT}: re-record it")
            records.append(record)
        except (ValueError, AttributeError):
            raise CassetteError(f"{path}:{n}: a corrupt cassette line; re-record the trial") from None
    return records


def _replies(path: Path, records: list, home: str) -> dict:
    replies = {}
    for n, record in enumerate(records, 1):
        try:
            # the key again from what was asked: today's normalisation (paths of the trial, of the venv)
            key = (request_key(record["model"], record["messages"], record["params"], home)
                   if home and "messages" in record else record["key"])
            replies.setdefault(key, []).append(record["reply"])
        except (KeyError, TypeError, AttributeError):
            raise CassetteError(f"{path}:{n}: a corrupt cassette line; re-record the trial") from None
    return replies


def recorders(clients, path: Path) -> list:
    """[supervisor, coder] wrapped to record into `path`, each call under its role (also when one client serves both)."""
    return [Recorder(client, path, role) for client, role in zip(clients, ("supervisor", "coder"))]


def players(path: Path, supervisor: str, coder: str, home: Path) -> list:
    """[supervisor, coder] answering from the cassette at `path` for a trial in `home` (one Player per model)."""
    first = Player(path, supervisor, str(Path(home).absolute()))
    return [first, first if coder == supervisor else Player(path, coder, str(Path(home).absolute()))]

