"""Say why a failed agent trial failed: deterministic rules first, then optionally the LLM classifier of paper §V.3.

The rules read what a trial left on disk (result.json, the generated code, the stdout/stderr of its
last run, validation.json and the produced outputs) and pick one of the paper's seven categories
(prompts.ERROR_CATEGORIES), with the evidence that decided it. The last run decides: a trial ends
with the error its last attempt made, earlier attempts were already answered by the supervisor.

    crashed run     file-not-found errors            -> intermediate file not found
                    missing ROOT branch / column key -> incorrect branch name
                    bad arguments to a provided or library function
                                                     -> function-calling error
                    timeouts, kills, missing modules -> other
                    any other exception (logic, syntax) -> semantic error
    ran, but wrong  expected outputs missing          -> intermediate file not found
                    a weight column all 0, an empty selection or an infinite significance
                                                     -> all data weights = 0
                    random or placeholder data in the code, or no input read at all
                                                     -> dummy data created
                    anything else                     -> semantic error

The LLM classifier (optional) renders prompts/error_classifier.txt with the comprehensive and
validation logs and parses `***Category***`; an answer naming no category is `other`, flagged.
Its control (`--control reversed`) asks again with the category list reversed: an answer that follows
the list's order rather than the logs moves (a small model may pick whatever is listed first).
All verdicts go to classification.json in the trial directory.
"""

import datetime
import re
from pathlib import Path

from hepmini.agent.trial import FAILURES
from hepmini import __version__
from hepmini.agent import prompts
from hepmini.bench import evidence
from hepmini.bench.agreement import CONTROLS
from hepmini.files import atomic_write_json

FORMAT = "hepmini-classification-1"
RULES_VERSION = 3          # bump when a rule changes: cached classifications are then redone
CATEGORIES = prompts.ERROR_CATEGORIES
WEIGHTS, DUMMY, CALLING, BRANCH, MISSING, SEMANTIC, OTHER = CATEGORIES
LIMITS = ("token_limit", "cost_limit", "time_limit", "context_limit")   # loop ends that are limits
LLM_LOG_CHARS = 120_000    # each log is cut to this (head and tail) in the classifier prompt
LLM_LOG_CHARS_LEAST = 7_500   # halved (120,000 -> 7,500) while the prompt overflows the model's window
LLM_PARAMS = {"temperature": 0.0, "max_tokens": 8192}

_ANSWER = re.compile(r"\*\*\*\s*(.+?)\s*\*\*\*", re.DOTALL)

_MISSING_TYPES = {"FileNotFoundError", "MissingData", "MissingInput", "NotADirectoryError", "IsADirectoryError"}
_MISSING_TEXT = re.compile(r"No such file or directory|does not exist|cannot find (the )?(file|path)|"
                           r"file not found|no such file|"
                           r"[\w./-]+\.(npy|npz|json|root|txt|csv|h5|parquet)\b[^\n]*\b(not found|missing)",
                           re.IGNORECASE)
_BRANCH_TYPES = {"MissingBranch", "KeyInFileError", "WrongTree", "FieldNotFoundError"}
_BRANCH_TEXT = re.compile(r"has no branch|no field named|not found: '|KeyInFileError|"
                          r"not in index|are in the \[columns\]", re.IGNORECASE)
_CALLING_TEXT = re.compile(r"positional argument|keyword argument|required argument|takes \d+ |"
                           r"takes (no|exactly|at (most|least))|multiple values for argument|"
                           r"object is not callable|unexpected keyword|argument must be", re.IGNORECASE)
_UNDEFINED_TEXT = re.compile(r"\bname '\w+' is not defined")     # a NameError's words, printed by the code
# I/O on a file the code itself closed (uproot: "OSError: file '...' is closed" after its `with` block): the code's
# logic, not the machine, though the exception's type is an environment one.
_CLOSED_TEXT = re.compile(r"\bis closed\b|closed file", re.IGNORECASE)
_ENVIRONMENT_TYPES = {"ModuleNotFoundError", "MemoryError", "KeyboardInterrupt", "SystemError",
                      "RecursionError", "OSError", "BrokenPipeError", "TimeoutError", "PermissionError"}


# ---- the rules --------------------------------------------------------------------------------------


def _verdict(category: str, rule: str, *facts) -> dict:
    return {"category": category, "rule": rule, "evidence": [f for f in facts if f]}


def classify_rules(directory, result=None) -> dict:
    """The rule verdict of one trial: {category, rule, evidence}; category None when there is no failure."""
    view = evidence.TrialView(directory, result)
    r, status = view.result, view.result.get("status")
    if status not in FAILURES:
        return _verdict(None, "not-a-failure", f"status {status!r}: only failed trials are classified")
    if status == "tampered":
        return _verdict(OTHER, "tampered", "the generated code changed protected files: "
                        + ", ".join((r.get("security") or {}).get("tampered") or ["?"]))
    if status == "format_error":
        # the coder's reply or the supervisor's instructions: the trial's own reason says which
        return _verdict(OTHER, "format-error", f"the loop ended on a format error: {r.get('reason') or '?'} "
                        f"({r.get('format_errors', 0)} coder and {r.get('supervisor_format_errors', 0)} "
                        f"supervisor format error(s))")
    if view.last is None:
        return _verdict(OTHER, "no-run", f"no code was run (loop ended: {r.get('stop')}: {r.get('reason', '')})")
    where = f"last run (attempt {view.last.get('attempt')}) "
    if r.get("stop") in LIMITS and not view.crashed and (view.validation or {}).get("passed"):
        return _verdict(OTHER, "limit", f"the trial's {r['stop'].replace('_', ' ')} ended it: {r.get('reason', '')}",
                        "the outputs validate; only the limit stopped the supervisor from accepting them")
    if view.crashed:
        return _crash_rules(view, where)
    return _ran_rules(view, where)


def _crash_rules(view: evidence.TrialView, where: str) -> dict:
    last = view.last
    code = f"{where}exited {last.get('returncode')}"
    if last.get("timed_out") or last.get("killed_reason"):
        return _verdict(OTHER, "killed", f"{where}was killed: {last.get('killed_reason') or 'timed out'}")
    text = view.stderr + "\n" + view.stdout
    chain = evidence.parse_exceptions(text)
    if not chain:
        return _text_rules(text, code)
    # The root cause first: an exception re-raised as another (or printed before the crash) decides when
    # it is specific; the generic fall-backs (logic error, environment) only speak for the final one.
    for exc in chain[:-1]:
        verdict = _exception_rules(exc, code)
        if verdict["category"] not in (SEMANTIC, OTHER):
            verdict["evidence"].append(f"the root cause of the final {chain[-1]['name']}")
            return verdict
    return _exception_rules(chain[-1], code)


def _exception_rules(exc: dict, code: str) -> dict:
    """The category one exception points to."""
    said = f"{exc['name']}: {exc['message'].splitlines()[0] if exc['message'] else ''}"[:300]
    site = f"raised in {exc['frames'][-1]['file']}" if exc["frames"] else ""
    name, message = exc["name"], exc["message"]
    in_tools = evidence.in_tools(exc["frames"]) and name in ("TypeError", "ValueError", "KeyError", "IndexError")
    if name == "ToolInputError" or in_tools:
        return _verdict(CALLING, "provided-function", code, said, "a provided function (hepmini.tools) "
                        "rejected its arguments")
    if name in _MISSING_TYPES or (name in ("OSError", "IOError", "PermissionError") and _MISSING_TEXT.search(message)):
        return _verdict(MISSING, "missing-file", code, said, site)
    if name in _BRANCH_TYPES or _BRANCH_TEXT.search(message):
        return _verdict(BRANCH, "missing-branch", code, said, site)
    if name == "KeyError":
        key = evidence.looks_like_branch(message)
        if key:
            return _verdict(BRANCH, "branch-keyerror", code, said, f"{key!r} is (close to) a tree, branch or "
                            "column name")
    if name == "ImportError" and "hepmini.tools" in message:
        return _verdict(CALLING, "missing-function", code, said, "imported a function hepmini.tools does not provide")
    if name == "AttributeError" and re.search(r"module '[\w.]+' has no attribute", message):
        return _verdict(CALLING, "missing-function", code, said, "called a function the module does not have")
    if name == "TypeError" and (_CALLING_TEXT.search(message) or evidence.in_library(exc["frames"])):
        return _verdict(CALLING, "bad-arguments", code, said, site)
    if name in _ENVIRONMENT_TYPES and _CLOSED_TEXT.search(message):
        return _verdict(SEMANTIC, "closed-file", code, said, "read a file after the code closed it")
    if name in _ENVIRONMENT_TYPES or name == "ImportError":
        return _verdict(OTHER, "environment", code, said, "an environment problem, not the analysis code")
    if _MISSING_TEXT.search(message):
        return _verdict(MISSING, "missing-file-text", code, said, site)
    return _verdict(SEMANTIC, "logic-error", code, said, "an error in the code's own logic or syntax")


def _text_rules(text: str, code: str) -> dict:
    """A crash that printed no traceback (the code caught the error and exited): match the output."""
    line = next((ln.strip() for ln in reversed(text.splitlines()) if ln.strip()), "")[:300]
    if _MISSING_TEXT.search(text):
        return _verdict(MISSING, "missing-file-text", code, line)
    if _BRANCH_TEXT.search(text):
        return _verdict(BRANCH, "missing-branch-text", code, line)
    if _CALLING_TEXT.search(text):
        return _verdict(CALLING, "bad-arguments-text", code, line)
    if _UNDEFINED_TEXT.search(text):    # a NameError the code caught and printed: its own logic
        return _verdict(SEMANTIC, "logic-error-text", code, line, "a name the code never defined")
    return _verdict(OTHER, "unrecognised-crash", code, line or "no output", "no recognisable error in the output")


def _ran_rules(view: evidence.TrialView, where: str) -> dict:
    code = f"{where}exited 0"
    files = (view.validation or {}).get("files") or []
    if view.validation and view.validation.get("passed"):
        return _verdict(SEMANTIC, "never-accepted", code, "the outputs validate but the supervisor never accepted "
                        "them: user, supervisor and coder misunderstood each other")
    missing = [f["name"] for f in files if any("missing" in m and "no such file" in m for m in f.get("messages", []))]
    if missing:
        return _verdict(MISSING, "output-missing", code, f"expected output(s) not written: {', '.join(missing)}")
    zero = evidence.zero_weight_outputs(view)
    if zero:
        return _verdict(WEIGHTS, "zero-weights", code, *zero)
    fabricated = evidence.fabrication(view.code)
    if fabricated:
        return _verdict(DUMMY, "fabricated-data", code, *fabricated)
    zeroed = evidence.zeroed_weights_in_code(view.code)
    if zeroed:
        return _verdict(WEIGHTS, "zero-weights-code", code, zeroed)
    wrong = [f"{f['name']}: {(f.get('messages') or ['differs'])[0]}" for f in files if not f.get("ok")]
    return _verdict(SEMANTIC, "ran-but-wrong", code, "the code runs but its outputs differ from the reference",
                    *wrong[:3])


# ---- the LLM classifier (paper §V.3) ----------------------------------------------------------------


def parse_answer(text: str) -> tuple:
    """(category, flag) from a classifier reply: `***Category***`, case-insensitive; unparsable -> other, flagged.

    A starred answer that copies the category's definition after its name (`***name: definition***`,
    seen from a 1.5B model) names that category, flagged so.

    >>> parse_answer("***Semantic Error***")
    ('semantic error', '')
    >>> parse_answer("***all data weights = 0: the event weights ... come out all zero***")
    ('all data weights = 0', "the answer copies the category's definition after its name")
    >>> parse_answer("I think it is a weights problem")
    ('other', 'unparsable: no ***category*** naming one of the seven categories')
    """
    def norm(s):
        return re.sub(r"\s+", " ", s.strip().strip(".*:`'\"").lower().replace("_", " "))

    wanted = {norm(c): c for c in CATEGORIES}
    named, defined = [], False
    for match in _ANSWER.findall(text or ""):
        category = wanted.get(norm(match))
        if category is None and ":" in match:
            category = wanted.get(norm(match.split(":", 1)[0]))
            defined = defined or category is not None
        if category and category not in named:
            named.append(category)
    if not named:
        return OTHER, "unparsable: no ***category*** naming one of the seven categories"
    if len(named) > 1:
        return named[0], f"ambiguous: the reply names {len(named)} categories ({'; '.join(named)}); the first is used"
    return named[0], "the answer copies the category's definition after its name" if defined else ""


def reparsed(llm):
    """A stored LLM verdict with its category read again from its raw answer by today's parser."""
    if not llm or not llm.get("raw"):
        return llm
    category, flag = parse_answer(llm["raw"])
    return {**llm, "category": category, "flagged": flag}


def stored_answers(old: dict) -> dict:
    """The LLM answers (paper order, control) of an earlier classification.json, re-read by today's parser."""
    return {"llm": reparsed(old.get("llm")), "llm_control": reparsed(old.get("llm_control"))}


def _clip(text: str, limit: int = LLM_LOG_CHARS) -> str:
    if len(text) <= limit:
        return text
    half = limit // 2
    return f"{text[:half]}\n[... {len(text) - limit} characters cut by hepmini ...]\n{text[-half:]}"


def classifier_prompt(directory, order=CATEGORIES, log_chars: int = LLM_LOG_CHARS) -> str:
    """The §V.3 classifier prompt of a trial: prompts/error_classifier.txt with both logs, categories in `order`."""
    d = Path(directory)
    logs = {}
    for key, name in (("comprehensive_log", "comprehensive.log"), ("validation_log", "validation.log")):
        try:
            logs[key] = _clip(d.joinpath(name).read_text(encoding="utf-8", errors="replace"), log_chars)
        except OSError:
            logs[key] = f"({name} was not written: the outputs were not validated)"
    return prompts.render("error_classifier", category_list=prompts.category_list(order), **logs)


def _client_name(client) -> str:
    # the name an answer is cached under: a cached answer is reused only for the same model
    return getattr(client, "name", None) or getattr(client, "model", "?")


def _prompts(directory, order, log_chars: int = LLM_LOG_CHARS):
    """The classifier prompt, then with each log cut ever shorter (halved, distinct prompts only): for small windows."""
    last = None
    while True:
        prompt = classifier_prompt(directory, order, log_chars)
        if prompt != last:
            yield prompt, log_chars
        last, log_chars = prompt, log_chars // 2
        if log_chars < LLM_LOG_CHARS_LEAST:
            return


def classify_llm(directory, client, params=None, on_event=None, control=None, log_chars: int = LLM_LOG_CHARS) -> dict:
    """Ask `client` (an hepmini.llm Client) the §V.3 question about one trial; errors are recorded, not raised.

    `on_event` hears the call as an agent's progress does (a long prompt on a local model takes minutes);
    `control` names an order of CONTROLS for the category list (None: the paper's). A prompt longer than
    the model's window is sent again with the logs' middles cut (`logs_cut_to_chars` says how far);
    `log_chars` cuts them from the first call (a slow local model: a long prompt takes many minutes).
    """
    from hepmini.errors import ContextOverflow, ProviderError

    name, order = _client_name(client), ({"order": control} if control else {})
    on_event = on_event or (lambda kind, **info: None)
    reply = failed = None
    listed = CONTROLS[control] if control else CATEGORIES
    for prompt, log_chars in _prompts(directory, listed, log_chars):
        try:
            reply = client.complete([{"role": "user", "content": prompt}], dict(params or LLM_PARAMS),
                                    on_event=on_event)
            break
        except ProviderError as exc:
            failed = exc
            if not isinstance(exc, ContextOverflow):
                break
    if reply is None:
        on_event("failed", error=str(failed))
        return {"model": name, "category": None, "raw": None, "prompt_chars": len(prompt), **order,
                "flagged": f"call failed: {type(failed).__name__}: {failed}"}
    on_event("done", reply=reply)
    category, flag = parse_answer(reply.text)
    cut = {"logs_cut_to_chars": log_chars} if prompt != classifier_prompt(directory, listed) else {}
    return {"model": name, "model_returned": reply.model, "category": category, "raw": reply.text,
            "flagged": flag, "prompt_chars": len(prompt), "tokens": {"input": reply.usage.input,
                                                                     "output": reply.usage.output},
            "cost": reply.cost, **cut, **order}


# ---- classification.json -----------------------------------------------------------------------------


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def classify_trial(directory, result=None, client=None, force=False, on_event=None, control=None,
                   on_control_event=None, log_chars: int = LLM_LOG_CHARS) -> dict:
    """Classify one trial (rules; the LLM too when `client` is given), write classification.json, return it.

    With `control` (a name in CONTROLS) the LLM is also asked with its category list in that order.
    A cached LLM answer from the same model is kept unless `force`: a second run pays nothing.
    `log_chars` cuts each log in the LLM's prompt to that many characters (head and tail) from the start.
    """
    d = Path(directory)
    result = result if result is not None else (evidence.read_json(d / "result.json") or {})
    old = evidence.read_json(d / "classification.json") or {}
    rule = classify_rules(d, result)
    out = {"format": FORMAT, "rules_version": RULES_VERSION, "hepmini_version": __version__, "classified": _now(),
           "status": result.get("status"), "step": result.get("step"), "rule": rule, **stored_answers(old),
           "ground_truth": (result.get("scripted") or {}).get("injected_fault")}
    if client is not None and rule["category"] is not None:
        if force or _must_ask(old.get("llm"), client):
            out["llm"] = classify_llm(d, client, on_event=on_event, log_chars=log_chars)
        if control and (force or _must_ask(old.get("llm_control"), client, control)):
            out["llm_control"] = classify_llm(d, client, on_event=on_control_event, control=control,
                                              log_chars=log_chars)
    out["agree"] = (None if not out["llm"] or out["llm"].get("category") is None or rule["category"] is None
                    else out["llm"]["category"] == rule["category"])
    if _undated(out) == _undated(old):   # nothing changed: the file and its date stay as they were
        return old
    atomic_write_json(d / "classification.json", out)
    return out


def _undated(classification: dict) -> dict:
    """A classification without the moment it was written: what decides whether a rewrite changes anything."""
    return {k: v for k, v in classification.items() if k != "classified"}


def _must_ask(cached, client, control=None) -> bool:
    """Whether a stored answer cannot serve: none, another model or order, or a call that failed."""
    cached = cached or {}
    return (cached.get("model") != _client_name(client) or cached.get("order") != control
            or cached.get("category") is None)


def is_current(old, result: dict) -> bool:
    """Whether a stored classification still speaks for the trial: today's rules, and the trial's status then.

    A trial classified while it ran (`classify` on a campaign in flight) has ended since: classified again.
    """
    return bool(old) and old.get("format") == FORMAT and old.get("rules_version") == RULES_VERSION \
        and old.get("status") == result.get("status")


def cached(directory, result=None) -> dict:
    """classification.json when it is current, else a fresh rule classification (written, LLM part kept)."""
    d = Path(directory)
    old = evidence.read_json(d / "classification.json")
    result = result if result is not None else (evidence.read_json(d / "result.json") or {})
    if is_current(old, result):
        return old
    try:
        return classify_trial(d, result)
    except OSError:  # a read-only campaign: classify without writing
        rule = classify_rules(d, result)
        return {"format": FORMAT, "rules_version": RULES_VERSION, "rule": rule, **stored_answers(old or {}),
                "ground_truth": ((result or {}).get("scripted") or {}).get("injected_fault"), "agree": None}


# ---- command line ---------------------------------------------------------------------------------------


def trial_dirs(paths) -> list:
    """Trial directories named by `paths`: each one with a result.json, or found under it."""
    found = []
    for p in map(Path, paths):
        if (p / "result.json").is_file():
            found.append(p)
        elif p.is_dir():
            found += sorted(q.parent for q in p.rglob("result.json")
                            if not {"outputs", "inputs", "generated_code"} & set(q.relative_to(p).parts))
    return list(dict.fromkeys(found))
