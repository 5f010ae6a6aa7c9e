"""Read the two roles' replies: the coder's one ```python block, the supervisor's worker prompt and verdict.

A reply that cannot be used is a FormatError whose message goes back to the model that wrote it
(the coder's to the coder, the supervisor's to the supervisor); it is never forwarded to the other
role. A declined request (a refusal, or an answer stopped by a content filter) is a Refusal.
"""

import re

ASK = "Reply with exactly one fenced code block that starts with ```python and holds the whole script."
FENCE = re.compile(r"^```[ \t]*([\w+.-]*)[^\n]*\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)
PYTHON_TAGS = ("python", "py", "python3")
VERDICT = re.compile(r"^\W*VERDICT\W*(ACCEPT|REVISE)\b", re.IGNORECASE | re.MULTILINE)
WORKER = re.compile(r"^\W*Worker Prompt\W*$(.*?)(?=^\W*Call record\W*$|\Z)", re.IGNORECASE | re.MULTILINE | re.DOTALL)
# A placeholder of the reply format, e.g. "<the complete revised instructions for the coder: ...>".
PLACEHOLDER = re.compile(r"<(the|a) [^<>\n]{12,}>", re.IGNORECASE)
SUPERVISOR_FORMAT = ("Reply in the format you were given: a line '## Worker Prompt', then the complete instructions "
                     "for the coder in your own words (not the placeholder in angle brackets), then a line "
                     "'## Call record:' and your record.")


class FormatError(Exception):
    """A reply the harness cannot use; the message is fed back to the model that wrote it."""


class Refusal(Exception):
    """The model declined (a refusal, or an answer stopped by a content filter); its words are kept."""


def check_refusal(reply) -> None:
    """Raise Refusal when the reply declines instead of answering."""
    if reply.finish_reason in ("refusal", "content_filter") and not FENCE.search(reply.text or ""):
        words = (getattr(reply, "refusal", "") or reply.text or "").strip()
        raise Refusal(f"the model declined ({reply.finish_reason}): {words[:300] or '(no words given)'}")


def extract_code(reply) -> str:
    r"""The one ```python block of a coder reply; anything else raises FormatError.

    >>> from hepmini.llm.base import Reply, Usage
    >>> extract_code(Reply("Here:\n```python\nprint(42)\n```\n", Usage(), "stop", "m"))
    'print(42)\n'
    """
    text, cut = reply.text or "", reply.finish_reason == "length"
    if not text.strip():
        raise FormatError(f"Format error: your reply was empty{' (cut at the output token limit)' if cut else ''}. "
                          + ASK)
    blocks = FENCE.findall(text)
    if not blocks:
        raise FormatError("Format error: your reply has no complete fenced code block"
                          f"{' (it was cut at the output token limit)' if cut else ''}. " + ASK)
    if len(blocks) > 1:
        raise FormatError(f"Format error: your reply has {len(blocks)} code blocks; exactly one is allowed. " + ASK)
    tag, code = blocks[0]
    if tag.lower() not in PYTHON_TAGS:
        raise FormatError(f"Format error: the code block is marked {tag or 'with no language'}, not python. " + ASK)
    if not code.strip():
        raise FormatError("Format error: the python block is empty. " + ASK)
    return code


def worker_prompt(text: str) -> str:
    """The instructions in a supervisor reply ("## Worker Prompt ... ## Call record:"), or FormatError.

    >>> worker_prompt("## Worker Prompt\\nLoad a.npy and save b.npy with its sum.\\n## Call record:\\nasked")
    'Load a.npy and save b.npy with its sum.'
    >>> echo = "## Worker Prompt\\n<the complete revised instructions for the coder: ...>\\n## Call record:\\nx"
    >>> try:
    ...     worker_prompt(echo)
    ... except FormatError as exc:
    ...     print(str(exc)[:68])
    Format error: your '## Worker Prompt' repeats the placeholder '<the
    """
    match = WORKER.search(text or "")
    body = match.group(1).strip() if match else ""
    if not match:
        raise FormatError(f"Format error: your reply has no '## Worker Prompt' section. {SUPERVISOR_FORMAT}")
    if not body:
        raise FormatError(f"Format error: your '## Worker Prompt' section is empty. {SUPERVISOR_FORMAT}")
    echo = PLACEHOLDER.search(body)
    if echo and len(body) < len(echo.group(0)) + 200:
        raise FormatError(f"Format error: your '## Worker Prompt' repeats the placeholder {echo.group(0)[:60]!r} "
                          f"instead of instructions. {SUPERVISOR_FORMAT}")
    return body


def verdict(text: str) -> str:
    """ACCEPT or REVISE from a review's first VERDICT line; a review with none reads as REVISE ("" is returned).

    An ACCEPT followed by a REVISE line (seen: a 1.5B supervisor echoing the review prompt, whose format
    names both) is a FormatError, never an acceptance; a REVISE that quotes ACCEPT later is a REVISE.

    >>> verdict("VERDICT: ACCEPT"), verdict("## verdict: revise\\n..."), verdict("looks fine")
    ('ACCEPT', 'REVISE', '')
    >>> verdict("VERDICT: REVISE\\n## Worker Prompt\\nDo not reply\\nVERDICT: ACCEPT\\nuntil it runs.")
    'REVISE'
    >>> try:
    ...     verdict("reply with exactly this one line:\\nVERDICT: ACCEPT\\nOtherwise:\\nVERDICT: REVISE\\n## Worker Prompt")
    ... except FormatError as exc:
    ...     print(str(exc).split(". ")[0])
    Format error: your review has a 'VERDICT: ACCEPT' and then a 'VERDICT: REVISE' line
    """
    said = [m.upper() for m in VERDICT.findall(text or "")]
    if said[:1] == ["ACCEPT"] and "REVISE" in said:
        raise FormatError("Format error: your review has a 'VERDICT: ACCEPT' and then a 'VERDICT: REVISE' line. If "
                          "the result is correct, reply with the single line 'VERDICT: ACCEPT'; otherwise start with "
                          f"'VERDICT: REVISE'. {SUPERVISOR_FORMAT}")
    return said[0] if said else ""


MAX_FILES, MAX_PATH = 64, 512       # what a call record may pass to the script: bounded


def call_record_files(text: str) -> tuple:
    r"""(input paths, output paths) listed under "Input files:" and "Output files:" in a supervisor's call record.

    A list ends at the first blank line after it, or at the first line that is not only paths (prose, code, a
    heading): what a model writes after its record is never read as a path.

    >>> call_record_files("## Call record:\nasked\nInput files:\n- inputs/a.npy\nOutput files:\nout/b.npy, out/c.npy")
    (['inputs/a.npy'], ['out/b.npy', 'out/c.npy'])
    >>> call_record_files("Call record:\nOutput files: `o/s.json` o/s.txt\n\nIt writes `o/s.json` and `o/x.txt`.")
    ([], ['o/s.json', 'o/s.txt'])
    """
    lines = re.split(r"(?im)^\W*call record\W*$", text or "", maxsplit=1)[-1].splitlines()
    found = {}
    for i, line in enumerate(lines):
        label = _FILES_LABEL.match(line)
        if not label or label.group(1).lower() in found:
            continue
        paths = [p for p in _tokens(label.group(2)) if "/" in p]
        for following in lines[i + 1:]:
            tokens = _tokens(following)
            if not following.strip() and paths or _FILES_LABEL.match(following) or not all(map(_is_path, tokens)):
                break
            paths += tokens
        kept = [p for p in dict.fromkeys(paths) if "/" in p and not p.endswith("/") and len(p) <= MAX_PATH]
        found[label.group(1).lower()] = kept[:MAX_FILES]
    return found.get("input", []), found.get("output", [])


_FILES_LABEL = re.compile(r"(?i)^\W*(input|output) files\s*:(.*)$")


def _tokens(line: str) -> list:
    """The words of one line of a file list, without list markers, quotes and trailing punctuation."""
    line = re.sub(r"^\s*(?:[-*+\u2022]|\d+[.)])\s+", "", line)
    return [w for w in (t.strip("`'\"*()[]").rstrip(".,;:").strip("`'\"") for t in re.split(r"[,\s]+", line)) if w]


def _is_path(word: str) -> bool:
    """A word that names a file (a/b.c, a/b, b.npy), not prose."""
    return "/" in word or bool(re.fullmatch(r"[\w.-]+\.\w{1,8}", word))

