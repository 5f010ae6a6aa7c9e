"""Read the evidence a trial left on disk: its last run's output and tracebacks, its code, its outputs.

hepmini.bench.diagnose decides the error category from these; nothing here decides, it only finds:
exceptions (type, message, frames) in a run's stderr, names that look like ROOT branches, random
or placeholder data in the code, whether the code reads any input, and weight columns that came out 0.
"""

import ast
import json
import re
from hepmini.files import nearest
from pathlib import Path

TAIL_BYTES = 64 * 1024     # how much of a run's stderr/stdout the rules read
_EXC_LINE = re.compile(r"^(?P<type>[A-Za-z_][\w.]*)(?::[ ]?(?P<msg>.*))?$")
_FRAME = re.compile(r'^\s*File "(?P<file>[^"]+)", line (?P<line>\d+), in (?P<func>.+)$')
# An exception line printed without a traceback header: a Python-like class name (not a bare "Error:").
_BARE_EXC = re.compile(r"^(?P<type>(?:[a-z_]\w*\.)*[A-Z]\w+(?:Error|Exception))(?::[ ]?(?P<msg>.*))?$")
_BARE_FRAME = re.compile(r'^\s*File "(?P<file>[^"]+)", line (?P<line>\d+)')
# Generating calls of numpy / random / torch; seeding, shuffling and sub-sampling are not fabrication.
_GENERATORS = {"rand", "randn", "random", "random_sample", "ranf", "sample", "normal", "uniform", "integers",
               "randint", "standard_normal", "exponential", "poisson", "binomial", "beta", "gamma",
               "lognormal", "multivariate_normal", "gauss", "randrange", "rand_like", "randn_like"}
_RNG_FACTORIES = {"default_rng", "RandomState", "Generator"}
_PLACEHOLDER = re.compile(r"\b(placeholder|dummy|fake|mock(?:ed)?|synthetic|made[- ]up|fabricated|"
                          r"hard[- ]?coded|random (?:data|values|scores|events|numbers))\b", re.IGNORECASE)
# "never create dummy data" echoes the prompts: a negation before the word is not fabrication.
_NEGATION = re.compile(r"\b(no|not|never|without|instead of|don'?t|do not|avoid|rather than|nor)\b",
                       re.IGNORECASE)
_PLACEHOLDER_NAME = re.compile(r"(?:^|_)(placeholder|dummy|fake|mock|synthetic|fabricated)(?:_|$)", re.IGNORECASE)
_READERS = re.compile(r"\b(np\.load|numpy\.load|uproot|json\.load|read_csv|read_parquet|load_arrays|"
                      r"rootio|read_text|read_bytes|genfromtxt|loadtxt|fromfile|RDataFrame|TFile)")
_WEIGHT_COLUMN = re.compile(r"(?:^|_)weight$|^mcweight$|^weight", re.IGNORECASE)


# ---- what a trial left on disk -------------------------------------------------------------------


def read_json(path: Path):
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _tail(path: Path, limit: int = TAIL_BYTES) -> str:
    try:
        with open(path, "rb") as fh:
            fh.seek(0, 2)
            size = fh.tell()
            fh.seek(max(0, size - limit))
            return fh.read().decode("utf-8", "replace")
    except OSError:
        return ""


class TrialView:
    """The parts of a trial directory the rules look at, read once."""

    def __init__(self, directory, result=None):
        self.dir = Path(directory)
        self.result = result if result is not None else (read_json(self.dir / "result.json") or {})
        runs = self.result.get("executions") or []
        self.last = runs[-1] if runs else None
        self.stderr = self.stdout = self.code = ""
        if self.last:
            self.stderr = _tail(self.dir / self.last["stderr_log"]) if self.last.get("stderr_log") else ""
            self.stdout = _tail(self.dir / self.last["stdout_log"]) if self.last.get("stdout_log") else ""
            if not (self.stderr or self.stdout):  # the logs are gone: the trace keeps the tails
                self.stderr, self.stdout = self._trace_tails(self.last.get("attempt"))
            try:
                self.code = (self.dir / self.last["script"]).read_text(encoding="utf-8", errors="replace")
            except (OSError, KeyError):
                self.code = ""
        self.validation = read_json(self.dir / "validation.json")
        if self.validation is None and self.result.get("validation"):
            self.validation = {"files": [{"name": f.get("name"), "ok": f.get("ok"),
                                          "messages": [f.get("headline", "")]}
                                         for f in self.result["validation"].get("files", [])],
                               "passed": self.result["validation"].get("passed")}

    def _trace_tails(self, attempt):
        stderr = stdout = ""
        try:
            with open(self.dir / "trace.jsonl", encoding="utf-8") as fh:
                for line in fh:
                    if '"execution"' not in line:
                        continue
                    try:
                        event = json.loads(line)
                    except ValueError:
                        continue
                    if event.get("event") == "execution" and event.get("attempt") == attempt:
                        stderr, stdout = event.get("stderr_tail", ""), event.get("stdout_tail", "")
        except OSError:
            pass
        return stderr, stdout

    @property
    def crashed(self) -> bool:
        last = self.last or {}
        return bool(last.get("returncode") not in (0, None) or last.get("killed_reason") or last.get("timed_out"))


# ---- tracebacks ------------------------------------------------------------------------------------


def parse_exceptions(text: str) -> list:
    """Every exception printed in `text` as {type, name, message, frames}, in order (the final one last).

    >>> tb = 'Traceback (most recent call last):\\n  File "x.py", line 3, in <module>\\n    f()\\nKeyError: \\'pt\\''
    >>> [(e["name"], e["message"], e["frames"][0]["file"]) for e in parse_exceptions(tb)]
    [('KeyError', "'pt'", 'x.py')]
    """
    found, lines, i = [], text.splitlines(), 0
    while i < len(lines):
        if not lines[i].startswith("Traceback (most recent call last):"):
            i += 1
            continue
        frames, i = [], i + 1
        while i < len(lines) and (lines[i].startswith(" ") or not lines[i].strip()):
            match = _FRAME.match(lines[i])
            if match:
                frames.append({"file": match["file"], "line": int(match["line"]), "func": match["func"]})
            i += 1
        if i < len(lines):
            match = _EXC_LINE.match(lines[i].strip())
            if match:
                message = [match["msg"] or ""]
                j = i + 1  # a message may run over several lines (up to the next traceback)
                while j < len(lines) and lines[j].strip() and not lines[j].startswith(("Traceback", "During handling",
                                                                                        "The above exception")):
                    message.append(lines[j])
                    j += 1
                full = "\n".join(message).strip()
                found.append({"type": match["type"], "name": match["type"].rsplit(".", 1)[-1],
                              "message": full[:1000], "frames": frames})
        i += 1
    if not found:  # a script that does not compile prints no "Traceback" header, only File/line and the error
        for k, line in enumerate(lines):
            match = _BARE_EXC.match(line)
            if match:
                frames = [{"file": m["file"], "line": int(m["line"]), "func": "<module>"}
                          for m in map(_BARE_FRAME.match, lines[max(0, k - 4):k]) if m]
                found.append({"type": match["type"], "name": match["type"].rsplit(".", 1)[-1],
                              "message": (match["msg"] or "")[:1000], "frames": frames})
    return found


def _known_names() -> list:
    """Tree, branch, column and key names a step's code may look up."""
    from hepmini import layout

    r = layout.rules()
    return sorted({r.TREE, *(b for b, _ in r.ROOT_BRANCHES), *r.NTUPLE_COLUMNS, *r.ARRAY_COLUMNS,
                   *r.BKGD_ESTIMATE_KEYS})


def looks_like_branch(message: str) -> str:
    """The quoted key of an error message that is (close to) a tree, branch or column name, else ''."""
    keys = re.findall(r"""['"]([A-Za-z_][\w.]*)['"]""", message) or [message.strip().strip("'\"")]
    known = _known_names()
    lowered = {k.lower(): k for k in known}
    for key in keys:
        if key in known or key.lower() in lowered or nearest(key, known, cutoff=0.8):
            return key
    return ""


def in_tools(frames) -> bool:
    return any(f["file"].replace("\\", "/").endswith("hepmini/tools.py") for f in frames)


def in_library(frames) -> bool:
    """The exception was raised inside an installed library (numpy, uproot, ...), not the generated code."""
    if not frames:
        return False
    last = frames[-1]["file"].replace("\\", "/")
    return "site-packages/" in last or "/lib/python3" in last


# ---- outputs and code ---------------------------------------------------------------------------


def zero_weight_outputs(view: TrialView) -> list:
    """Evidence from the outputs: an all-zero weight column, an empty selection, infinite significances."""
    import numpy as np

    evidence = []
    for f in (view.validation or {}).get("files") or []:
        name = f.get("name") or ""
        if f.get("kind", "npy") != "npy" or not name.endswith(".npy"):
            continue
        gen, ref = f.get("gen_shape"), f.get("ref_shape")
        if gen and ref and gen[0] == 0 and ref[0] > 0:
            evidence.append(f"{name} is empty ({gen[0]} rows, the reference has {ref[0]}): the selection "
                            "removed every event")
            continue
        try:
            array = np.load(view.dir / "outputs" / name, mmap_mode="r", allow_pickle=False)
        except (OSError, ValueError):
            continue
        if array.dtype.kind not in "fiub":
            continue
        if array.ndim == 1 and "signific" in name and array.size and not np.isfinite(array).any():
            evidence.append(f"{name}: every significance is infinite: the background weights are 0")
            continue
        if array.ndim != 2 or not array.shape[0]:
            continue
        columns = {c.get("index"): c for c in f.get("columns") or []}
        for index, column in _weight_columns(f, array.shape[1]):
            values = np.asarray(array[:, index])
            if not np.all(values == 0):
                continue
            if index in columns:
                legit = not columns[index].get("n_diff")  # the reference column is all zero too
            else:  # no column comparison (e.g. a shape mismatch): ask the reference itself
                legit = _reference_column_zero(view, name, index, column)
            if not legit:
                evidence.append(f"{name}: every value of the weight column {column!r} is 0 ({len(values)} events)")
    return evidence


def _reference_column_zero(view: TrialView, name: str, index: int, column: str) -> bool:
    """Whether the reference's column is all zero too; unknown counts as zero except for step-3 weights.

    Data ntuples legitimately carry mcWeight = 0, the step-3 arrays never carry a zero weight column.
    """
    import numpy as np

    from hepmini import layout

    ref_dir = (view.validation or {}).get("reference_dir")
    try:
        ref = np.load(Path(ref_dir) / name, mmap_mode="r", allow_pickle=False)
        return bool(ref.ndim == 2 and ref.shape[1] > index and np.all(np.asarray(ref[:, index]) == 0))
    except (OSError, ValueError, TypeError):
        return column != layout.rules().ARRAY_COLUMNS[-1]


def _weight_columns(file_info: dict, ncols: int) -> list:
    """(index, name) of the weight columns of an output array."""
    named = [(c.get("index", i), c.get("name")) for i, c in enumerate(file_info.get("columns") or [])]
    if not named:
        from hepmini import layout

        r = layout.rules()
        names = (list(r.ARRAY_COLUMNS) if ncols == len(r.ARRAY_COLUMNS) else
                 list(r.NTUPLE_COLUMNS) if ncols == len(r.NTUPLE_COLUMNS) else [])
        named = list(enumerate(names))
    return [(i, n) for i, n in named if n and isinstance(i, int) and i < ncols and _WEIGHT_COLUMN.search(n)]


def _dotted(node) -> str:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
    elif isinstance(node, ast.Call):
        parts.append(_dotted(node.func) + "()")
    return ".".join(reversed(parts))


def fabrication(code: str) -> list:
    """Evidence that `code` makes up data: random generators, placeholder words, or no input read at all."""
    evidence = []
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError):
        tree = None
    if tree is not None:
        rngs = set()  # names bound to a random generator object
        for node in ast.walk(tree):
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call):
                if _dotted(node.value.func).rsplit(".", 1)[-1] in _RNG_FACTORIES:
                    rngs.update(t.id for t in node.targets if isinstance(t, ast.Name))
        calls = []
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
                continue
            name = _dotted(node.func)
            owner, _, method = name.rpartition(".")
            if method not in _GENERATORS:
                continue
            if (owner.split(".")[-1] in ("random", "torch") or owner in rngs
                    or any(f"{factory}()" in owner for factory in _RNG_FACTORIES)):
                calls.append(f"{name}(...) at line {node.lineno}")
        if calls:
            evidence.append("random numbers generated: " + ", ".join(sorted(set(calls))[:3]))
        names = sorted({n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and _PLACEHOLDER_NAME.search(n.id)}
                       | {n.name for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.ClassDef))
                          and _PLACEHOLDER_NAME.search(n.name)})
        if names:
            evidence.append("placeholder names: " + ", ".join(names[:3]))
    for number, line in enumerate(code.splitlines(), 1):
        word = _PLACEHOLDER.search(line)
        if word and not _NEGATION.search(line[:word.start()]) and "SCRIPTED STAND-IN" not in line:
            evidence.append(f"line {number} says {word.group(0)!r}: {line.strip()[:120]}")
            break
    if code.strip() and not _READERS.search(code) and not _opens_for_reading(tree, code):
        evidence.append("the code reads no input file")
    return evidence


def _opens_for_reading(tree, code: str) -> bool:
    """Whether the code calls open() (or .open()) to read: no mode, or a mode without w, a or x."""
    if tree is None:
        return "open(" in code
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if not ((isinstance(func, ast.Name) and func.id == "open") or
                (isinstance(func, ast.Attribute) and func.attr == "open")):
            continue
        # open(path, mode), Path(...).open(mode), gzip.open(path, mode): a mode is a short string of "rwabxt+"
        modes = [a for a in node.args[:2] if isinstance(a, ast.Constant) and isinstance(a.value, str)
                 and 0 < len(a.value) <= 3 and set(a.value) <= set("rwabxt+")]
        mode = next((k.value for k in node.keywords if k.arg == "mode"), modes[-1] if modes else None)
        if not (isinstance(mode, ast.Constant) and isinstance(mode.value, str)) or not set("wax") & set(mode.value):
            return True
    return False


def zeroed_weights_in_code(code: str) -> str:
    """A line that sets a weight column or weight variable to 0 (when the outputs cannot show it), or ''."""
    pattern = re.compile(r"^\s*(?P<target>[\w.]*weight\w*(\[[^\]]*\])?|[\w.]+\[\s*:\s*,\s*-1\s*\]|"
                         r"[\w.]+\[[^\]]*weight[^\]]*\])\s*(\*)?=\s*0(\.0*)?\s*(#.*)?$", re.IGNORECASE)
    for number, line in enumerate(code.splitlines(), 1):
        if pattern.match(line):
            return f"line {number} sets the weights to 0: {line.strip()[:120]}"
    return ""
