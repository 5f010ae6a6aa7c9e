"""Offline SCRIPTED stand-ins for a model: `scripted:oracle` and `scripted:faults[:FAULT[:repair|stubborn]]`.

They are not language models. They answer the agent's calls through the same `complete(messages,
params) -> Reply` contract as hepmini.llm clients, so the whole harness (loop, sandbox, logs,
validation) runs with no network, and every reply says what it is (model "scripted:...", provider
"scripted", raw["scripted"] True, cost 0.0 with cost_source "scripted", tokens estimated as
characters / 4).

As supervisor, both pass the user's task to the coder verbatim, accept a run that exited 0 and
wrote every expected output, and otherwise ask for a fix quoting the last error line.
As coder, `oracle` answers with the step's reference solution (reference/<step>.py) adapted to the
directories named in the task. `faults` answers first with that code plus one known fault of a
paper error category (Table 1), chosen from the trial's seed (fault = applicable[seed % n], repaired
on even rounds: (seed // n) % 2 == 0) unless named in the model; asked again, it repairs the fault
(answers like the oracle) or repeats it. `describe()` is the ground truth for the error classifier.
"""

import dataclasses
import math
import re
import time
from typing import Optional

from hepmini.agent import prompts
from hepmini import layout
from hepmini.errors import ConfigError
from hepmini.layout import tree_dir
from hepmini.llm.base import Reply, Usage
from hepmini.llm.client import check_messages

NOTE = "SCRIPTED STAND-IN (offline, not a language model)"
KINDS = ("oracle", "faults")


@dataclasses.dataclass(frozen=True)
class Fault:
    """One injectable mistake: its paper category and, per step, the code that commits it."""

    id: str
    category: str            # one of prompts.ERROR_CATEGORIES
    crashes: bool            # the run exits non-zero, so the supervisor sees it and asks for a fix
    what: str                # the ground truth in one sentence
    code: dict               # step name -> lines inserted before the entry point ("" = paths only)
    dirs: dict = dataclasses.field(default_factory=dict)  # step name -> wrong directory overrides


# Slips are written the way a model writes them: plausible comment, wrong code.
FAULTS = [
    Fault("wrong_branch", "incorrect branch name", True,
          "reads the branch photon_pT, which does not exist (the branch is photon_pt)",
          {"step2": 'BRANCHES[BRANCHES.index("photon_pt")] = "photon_pT"  # transverse momentum branch'}),
    Fault("missing_file", "intermediate file not found", True,
          "reads its inputs from a directory that does not exist",
          {s: "" for s in ("step1", "step2", "step3", "step4", "step5")},
          {"step1": {"data": "data/GamGam"}, "step2": {"data": "data/GamGam"},
           "step3": {"inputs": "solution"}, "step4": {"inputs": "solution"}, "step5": {"inputs": "solution"}}),
    Fault("dummy_data", "dummy data created", False,
          "writes placeholder (made-up or random) data instead of the real result",
          {"step1": ('def inspect_file(path):  # placeholder summary: reading every file is slow\n'
                     '    return {"trees": {"mini": {"entries": 1000, "branches": [["photon_pt", "float[]"]]}}}'),
           "step2": ('def convert(path):  # placeholder events until the ROOT reading works\n'
                     '    return np.random.default_rng(0).normal(size=(1000, len(rules.NTUPLE_COLUMNS)))'),
           "step3": ('def signal_rows(inputs):  # placeholder signal sample\n'
                     '    return np.random.default_rng(0).random((500, len(rules.ARRAY_COLUMNS)))'),
           "step4": ('def _placeholder_scores(signal, bkgd, cfg=None, return_info=False):  # quick stand-in\n'
                     '    rng = np.random.default_rng(0)\n'
                     '    return rng.random(len(signal)), rng.random(len(bkgd)), {"backend": "placeholder"}\n'
                     'tools.train_and_score = _placeholder_scores'),
           "step5": ('_load_datasets = load_datasets\n'
                     'def load_datasets(signal, bkgd, signal_scores, bkgd_scores):  # placeholder scores\n'
                     '    rng = np.random.default_rng(0)\n'
                     '    return _load_datasets(signal, bkgd, rng.random(len(signal)), rng.random(len(bkgd)))')}),
    Fault("zero_weights", "all data weights = 0", False,
          "sets the weight of every data (background) event to 0",
          {"step3": ('_background_rows = background_rows\n'
                     'def background_rows(inputs):  # data events carry no MC weight\n'
                     '    rows, estimate = _background_rows(inputs)\n'
                     '    rows[:, -1] = 0.0\n'
                     '    return rows, estimate'),
           "step5": ('_load_datasets = load_datasets\n'
                     'def load_datasets(signal, bkgd, signal_scores, bkgd_scores):  # data carry no weight\n'
                     '    bkgd = bkgd.copy()\n'
                     '    bkgd[:, -1] = 0.0\n'
                     '    return _load_datasets(signal, bkgd, signal_scores, bkgd_scores)')}),
    Fault("function_call", "function-calling error", True,
          "calls a provided function with the wrong arguments",
          {"step4": ('_train_and_score = tools.train_and_score\n'
                     'def _features_only(signal, bkgd, **kwargs):  # the classifier needs the features only\n'
                     '    return _train_and_score(signal[:, 1:6], bkgd[:, 1:6], **kwargs)\n'
                     'tools.train_and_score = _features_only'),
           "step5": ('_load_datasets = load_datasets\n'
                     'def load_datasets(signal, bkgd, signal_scores, bkgd_scores):\n'
                     '    return _load_datasets(signal_scores, bkgd_scores, signal, bkgd)  # scores first')}),
    Fault("semantic", "semantic error", False,
          "runs but deviates from the task's rule (the paper's semantic slip)",
          {"step1": ('_inspect_file = inspect_file\n'
                     'def inspect_file(path):  # list the branches alphabetically\n'
                     '    info = _inspect_file(path)\n'
                     '    for tree in info["trees"].values():\n'
                     '        tree["branches"].sort()\n'
                     '    return info'),
           "step2": 'rules.MEV_TO_GEV = 1.0  # keep the units as stored',
           "step3": 'rules.SIGNAL_WINDOW = (120.0, 130.0)  # signal window 125 +- 5 GeV',
           "step4": ('_train_and_score = tools.train_and_score\n'
                     'def _sorted_scores(*args, **kwargs):  # order the scores for easier inspection\n'
                     '    signal_scores, bkgd_scores, *info = _train_and_score(*args, **kwargs)\n'
                     '    return (np.sort(signal_scores), np.sort(bkgd_scores), *info)\n'
                     'tools.train_and_score = _sorted_scores'),
           # paper App. B.3: the null significance is not recorded, so one boundary too many is added
           "step5": ('from hepmini.tools import place_boundary\n'
                     'def categorize(signal_df, bkgd_df, num_bins, min_events, improvement):\n'
                     '    boundaries, significances = [0.0, 1.0], []\n'
                     '    while True:\n'
                     '        new_b, new_z = place_boundary(signal_df, bkgd_df, boundaries, num_bins, min_events)\n'
                     '        if new_b is None:\n'
                     '            break\n'
                     '        boundaries = sorted(boundaries + [new_b])\n'
                     '        significances.append(new_z)\n'
                     '        if len(significances) > 1 and '
                     '(new_z - significances[-2]) / significances[-2] < improvement:\n'
                     '            break\n'
                     '    return np.array(boundaries), np.array(significances)')}),
]
FAULTS_BY_ID = {f.id: f for f in FAULTS}


def applicable(step_name: str) -> list:
    """The faults that can be injected into `step_name`, in table order."""
    return [f for f in FAULTS if step_name in f.code]


def choose(step_name: str, seed: int) -> tuple:
    """(fault, repairs) for a seed: fault = applicable[seed % n], repaired when (seed // n) is even.

    >>> [(f.id, repairs) for f, repairs in (choose("step4", k) for k in (0, 1, 4, 9))]
    [('missing_file', True), ('dummy_data', True), ('missing_file', False), ('dummy_data', True)]
    """
    faults = applicable(step_name)
    return faults[seed % len(faults)], (seed // len(faults)) % 2 == 0


# ---- reading the task ---------------------------------------------------------------------------

_SENTINEL = {"data": "QQDATADIRQQ", "inputs": "QQINPUTSDIRQQ", "outputs": "QQOUTPUTSDIRQQ"}


@dataclasses.dataclass
class Task:
    """What the stand-in read from a task prompt: which step, and its directories (parts: a composite's steps)."""

    step: str
    dirs: dict               # data / inputs / outputs -> directory as written in the task
    parts: list = dataclasses.field(default_factory=list)


def parse_task(text: str) -> Optional[Task]:
    """The step (or, for a composite task, the steps) whose task `text` quotes verbatim, with their directories."""
    sections = re.split(r"(?m)^=== PART \d+ OF \d+: .*===$", text)
    if len(sections) > 2:    # a composite (paper §V.1): its parts in order, each with the directories it names
        found = [task for task in map(_parse_part, sections[1:]) if task is not None]
        return Task(found[0].step, found[0].dirs, parts=found) if found else None
    return _parse_part(text)


def _parse_part(text: str) -> Optional[Task]:
    for step in layout.steps():
        template = prompts.task_prompt(step.NAME, data_dir=_SENTINEL["data"],
                                       inputs_dir=_SENTINEL["inputs"], outputs_dir=_SENTINEL["outputs"])
        if template.splitlines()[0] not in text:
            continue
        dirs = {}
        for key, sentinel in _SENTINEL.items():
            line = next((ln for ln in template.splitlines() if sentinel in ln), None)
            if line is None:
                continue
            # The template line as a regex: the directory is whatever stands where the sentinel stood.
            pattern = re.escape(line).replace(sentinel, f"(?P<{key}>[^\\n]*?)", 1).replace(sentinel, f"(?P={key})")
            for other, value in _SENTINEL.items():
                pattern = pattern.replace(value, r"[^\n]*?")
            match = re.search(f"^{pattern}$", text, re.MULTILINE)
            if match:
                dirs[key] = match.group(key)
        return Task(step.NAME, dirs)
    return None


# ---- the code it writes -------------------------------------------------------------------------


def oracle_code(task: Task, fault: Optional[Fault] = None) -> str:
    """The step's reference solution as one script, run on the task's directories (with `fault` injected).

    A composite task gets each part's script run in turn, each in a namespace of its own.
    """
    if task.parts:
        runs = [f"exec(compile({oracle_code(p, fault)!r}, {p.step!r}, 'exec'), {{'__name__': '__main__'}})"
                for p in task.parts]
        return f"# {NOTE}: the reference solutions of {', '.join(p.step for p in task.parts)}, in turn.\n" + \
            "\n".join(runs) + "\n"
    step = layout.get(task.step)
    source = (tree_dir("reference") / step.SCRIPT).read_text(encoding="utf-8")
    body = source.split('\nif __name__ == "__main__":', 1)[0].rstrip()
    dirs = {**task.dirs, **(fault.dirs.get(task.step, {}) if fault else {})}

    def arg(key):
        return f"Path({dirs[key]!r})" if dirs.get(key) else "None"

    slip = fault.code.get(task.step, "") if fault else ""
    if "np." in slip:  # not every reference script imports numpy itself
        slip = "import numpy as np\n" + slip
    header = (f"# {NOTE}: the reference solution of {step.NAME} ({step.TITLE}),\n"
              f"# {step.SCRIPT}, run on the directories named in the task.\n")
    main = (f'\n\nif __name__ == "__main__":\n'
            f'    run({arg("data")}, {arg("inputs")}, {arg("outputs")}, {{}})\n'
            f'    for written in sorted(Path({dirs.get("outputs", ".")!r}).rglob("*")):\n'
            f'        if written.is_file():\n'
            f'            print(f"wrote {{written}} ({{written.stat().st_size}} bytes)")\n')
    return header + body + ("\n\n" + slip if slip else "") + main


# ---- the client ---------------------------------------------------------------------------------


def _tokens(text: str) -> int:
    return math.ceil(len(text) / 4)


def _section(text: str, start: str, end: str) -> str:
    head = text.split(start, 1)
    return head[1].split(end, 1)[0].strip() if len(head) == 2 else ""


class ScriptedModel:
    """A scripted stand-in with the Client contract; one instance serves a trial (both roles)."""

    def __init__(self, name: str, seed: int = 0):
        provider, _, spec = name.partition(":")
        kind, _, rest = spec.partition(":")
        fault_id, _, mode = rest.partition(":")
        if provider != "scripted" or kind not in KINDS or (kind == "oracle" and rest):
            raise ConfigError(f"unknown stand-in {name!r}; use scripted:oracle or "
                              f"scripted:faults[:FAULT[:repair|stubborn]]")
        if fault_id and fault_id not in FAULTS_BY_ID:
            raise ConfigError(f"unknown fault {fault_id!r} in {name!r}; faults: {', '.join(FAULTS_BY_ID)}")
        if mode not in ("", "repair", "stubborn"):
            raise ConfigError(f"{name!r}: the last part must be repair or stubborn, not {mode!r}")
        self.name, self.model, self.kind, self.seed = name, name, kind, seed
        self.forced, self.mode = fault_id or None, mode
        self.fault, self.repairs, self.step, self.coder_calls, self.calls = None, None, None, 0, 0

    def close(self):
        pass

    def complete(self, messages, params=None, on_event=None) -> Reply:
        """Answer as supervisor (initial or review) or coder, judged by the system prompt."""
        start = time.monotonic()
        self.calls += 1
        system, last = messages[0]["content"], messages[-1]["content"]
        if system.startswith(prompts.load("coder_system")[:40]):
            text = self._code(messages[1]["content"])  # the instructions; later turns are format feedback
        elif last.startswith(prompts.load("supervisor_review").split("$", 1)[0]):
            text = self._review(messages[1]["content"], last)
        else:
            text = self._instruct(last)
        usage = Usage(input=sum(_tokens(m["content"]) for m in messages), output=_tokens(text), reported=True)
        usage.total = usage.input + usage.output
        return Reply(text=text, usage=usage, finish_reason="stop", model=self.name, provider="scripted",
                     requested_model=self.name, cost=0.0, cost_source="scripted", finish_raw="stop",
                     params_sent=dict(params or {}), latency=time.monotonic() - start,
                     raw={"scripted": True, "stand_in": self.name, "note": f"{NOTE}; tokens are "
                          "estimated as characters / 4"})

    def describe(self) -> dict:
        """What this stand-in is and, for faults, the injected fault: the classifier's ground truth."""
        out = {"stand_in": self.name, "note": NOTE, "seed": self.seed, "injected_fault": None}
        if self.fault is not None:
            out.update(injected_fault=self.fault.category, fault=self.fault.id, fault_description=self.fault.what,
                       crashes=self.fault.crashes, repairs=self.repairs)
        return out

    # -- roles --

    def _instruct(self, task_text: str) -> str:
        task = parse_task(task_text)
        return ("## Worker Prompt\n" + task_text.strip() + "\nReturn complete, executable Python code.\n"
                f"## Call record:\n{NOTE}: passed the user's task to the coder verbatim.\n" + _files(task))

    def _review(self, task_text: str, review: str) -> str:
        exit_code = re.search(r"^Exit code: (\S+)", review, re.MULTILINE)
        expected = _section(review, "=== EXPECTED OUTPUT FILES ===", "\nThis was attempt")
        missing = [ln.strip("- ").split(":")[0] for ln in expected.splitlines() if ln.rstrip().endswith("MISSING")]
        if exit_code and exit_code.group(1) == "0" and not missing:
            return prompts.VERDICT_ACCEPT
        output = _section(review, "=== EXECUTION RESULT ===", "=== EXPECTED OUTPUT FILES ===")
        lines = [ln.strip() for ln in output.splitlines() if ln.strip() and not ln.startswith(("---", "Exit code"))]
        error = lines[-1] if lines else "no output"
        why = f"exit code {exit_code.group(1) if exit_code else '?'}" + (f"; missing {', '.join(missing)}"
                                                                       if missing else "")
        return (f"{prompts.VERDICT_REVISE}\n## Worker Prompt\n{task_text.strip()}\n\n"
                f"The previous script failed ({why}). Its last error line was:\n{error}\n"
                "Find the root cause, fix it and follow the task exactly.\n"
                "Return complete, executable Python code.\n"
                f"## Call record:\n{NOTE}: the run failed ({why}); asked the coder for a fix.\n"
                + _files(parse_task(task_text)))

    def _code(self, instructions: str) -> str:
        task = parse_task(instructions)
        if task is None:
            return f"{NOTE}: I cannot find one of the five task prompts, verbatim, in these instructions."
        self.coder_calls += 1
        fault = None
        if self.kind == "faults":
            if self.fault is None:
                self.step = task.step
                chosen, repairs = choose(task.step, self.seed)
                if self.forced:
                    chosen = FAULTS_BY_ID[self.forced]
                    if task.step not in chosen.code:
                        raise ConfigError(f"fault {chosen.id} cannot be injected into {task.step}; there use "
                                          f"{', '.join(f.id for f in applicable(task.step))}")
                self.fault, self.repairs = chosen, (self.mode == "repair") if self.mode else repairs
            fault = None if (self.coder_calls > 1 and self.repairs) else self.fault
        what = "the reference solution" if fault is None else "my script"
        return f"{NOTE}: {what}.\n```python\n{oracle_code(task, fault)}```\n"


def _files(task: Optional[Task]) -> str:
    if task is None:
        return "Input files:\nOutput files:\n"
    step = layout.get(task.step)
    inputs = ([f"{task.dirs['inputs']}/{p}" for p in step.INPUTS] if task.dirs.get("inputs")
              else [f"{task.dirs.get('data', '')}/{p}" for p in layout.rules().ALL_FILES])
    outputs = [f"{task.dirs.get('outputs', '.')}/{p}" for p in step.OUTPUTS]
    return "Input files:\n" + "\n".join(inputs) + "\nOutput files:\n" + "\n".join(outputs) + "\n"


def check_name(name: str) -> None:
    """Raise ConfigError unless `name` is a stand-in (scripted:oracle, scripted:faults[:FAULT[:repair|stubborn]])."""
    ScriptedModel(name)


class Replay:
    """SCRIPTED stand-in for a Client (tests only): replays `replies` in order, never calls a model.

    Each reply is a str (the text), a dict of Reply fields, a Reply, or an exception to raise.
    Every call is kept in `.calls` as {"messages", "params"}.

    >>> bot = Replay(["```python\\nprint(1)\\n```"])
    >>> bot.complete([{"role": "user", "content": "go"}]).text
    '```python\\nprint(1)\\n```'
    """

    def __init__(self, replies, model="scripted:replay"):
        self.replies, self.model, self.calls = list(replies), model, []
        self.name = model

    def complete(self, messages, params=None, on_event=None) -> Reply:
        params = dict(params or {})
        check_messages(messages, params)
        self.calls.append({"messages": [dict(m) for m in messages], "params": params})
        if not self.replies:
            raise RuntimeError(f"Replay: no scripted reply left for call {len(self.calls)}")
        item = self.replies.pop(0)
        if isinstance(item, BaseException):
            raise item
        if isinstance(item, Reply):
            return item
        fields = {"text": item} if isinstance(item, str) else dict(item)
        usage = fields.pop("usage", None)
        if isinstance(usage, dict):
            usage = Usage(**{"reported": True, **usage})
        fields.setdefault("finish_reason", "stop")
        fields.setdefault("model", self.model)
        fields.setdefault("provider", "scripted")
        fields.setdefault("params_sent", params)
        return Reply(usage=usage or Usage(), raw={"scripted": True}, **fields)
