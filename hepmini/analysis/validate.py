"""Compare a step's outputs with the reference to 4 significant digits and write the validation log.

For each file the step declares in VALIDATE (paper §V.3, App. B.2), check it exists, loads, has the
reference's shape and NaN mask, and that every value agrees to 4 significant digits; the rule and the
comparing itself are in hepmini.analysis.sigfig, this module loads the files and writes the log.

A mismatch is a FAIL result, never an exception; bad input (unreadable, pickled, truncated or huge
files) is a FAIL entry too. Only a problem on the reference side, which the agent cannot cause,
raises ValidationError. Generated .npy files are never unpickled: the magic bytes are checked and
np.load runs with allow_pickle=False and mmap_mode="r", so the data is read chunk by chunk.
"""

import dataclasses
import json
from pathlib import Path

from hepmini import layout
from hepmini.analysis.sigfig import (MAX_SHOWN, SIG_DIGITS, FileResult, compare_arrays, compare_json,
                             compare_summary, summary_structure, values_match)  # values_match re-exported
from hepmini.errors import ValidationError
from hepmini.files import atomic_write_json, atomic_write_text

MAX_DETAILS = 20                # JSON / summary differences listed per file
NPY_MAGIC = b"\x93NUMPY"
# A generated file larger than this is refused unread: a legitimate output is at most the
# reference's size with 16-byte items (float64 -> longdouble), so 4x plus slack never rejects one.
SIZE_FACTOR, SIZE_SLACK = 4, 1 << 20
JSON_MAX_BYTES = 64 << 20
OK, BAD = "✓", "✗"


@dataclasses.dataclass
class ValidationResult:
    """The validation of one step: every file it declares, and the verdict."""

    step: str
    title: str
    passed: bool
    files: list
    outputs_dir: str = ""
    reference_dir: str = ""

    @property
    def number(self) -> str:
        return self.step[4:] if self.step.startswith("step") else self.step

    def to_dict(self) -> dict:
        return {"format": "hepmini-validation-1", "step": self.step, "title": self.title,
                "passed": self.passed, "outputs_dir": self.outputs_dir,
                "reference_dir": self.reference_dir, "rule": _RULE_TEXT,
                "files": [f.to_dict() for f in self.files]}

    def log_text(self) -> str:
        """The validation log in the layout of paper App. B.2."""
        lines = [f"=== Step {self.number} Validation ({self.title}) ===",
                 f"Generated: {self.outputs_dir}", f"Reference: {self.reference_dir}"]
        for f in self.files:
            lines.append(f"Validating {f.name}...")
            if f.messages:
                lines.append(f"[{OK if f.ok else BAD}] {f.messages[0]}")
                lines.extend(f.messages[1:])
        verdict = "PASS" if self.passed else "FAIL"
        lines += ["=== VALIDATION SUMMARY ===", f"Step: {self.number} ({self.title})",
                  "Files validated:"]
        lines += [f"- {f.name} - {f.description} [{OK if f.ok else BAD}]" for f in self.files]
        lines += [f"Step {self.number} ({self.title}): {verdict}",
                  f"[{OK}] Validation passed" if self.passed else f"[{BAD}] Validation failed",
                  f"Result: {int(self.passed)}/1 step passed"]
        return "\n".join(lines) + "\n"


_RULE_TEXT = ("|gen-ref| <= 0.5*10^(e-3), e = floor(log10(max(|gen|,|ref|))); "
              "exact equality and NaN==NaN pass")


# ---- loading ----------------------------------------------------------------------------------------


def _size_limit(ref_path: Path) -> int:
    return SIZE_FACTOR * ref_path.stat().st_size + SIZE_SLACK


def _open_npy(path: Path, limit: int):
    """Memory-map a .npy file without ever unpickling; raises ValueError/OSError with a clear message."""
    import numpy as np

    if path.is_dir():
        raise ValueError("is a directory, not a file")
    size = path.stat().st_size
    if size > limit:
        raise ValueError(f"file is {size} bytes, over the limit of {limit} bytes "
                         f"({SIZE_FACTOR} x the reference + {SIZE_SLACK} bytes); not read")
    with open(path, "rb") as fh:
        magic = fh.read(len(NPY_MAGIC))
    if magic != NPY_MAGIC:
        kind = "a zip/.npz archive" if magic.startswith(b"PK") else "not a .npy file"
        raise ValueError(f"{kind} (no NumPy magic bytes); save it with numpy.save")
    try:
        array = np.load(path, mmap_mode="r", allow_pickle=False)
    except Exception as exc:  # a garbled header raises SyntaxError, TokenError, ... from numpy
        text = " ".join(str(exc).split())[:200]
        if "object" in text.lower() or "pickle" in text.lower():
            raise ValueError("holds Python objects (a pickled object array); "
                             "save a plain numeric array") from None
        if "mmap length" in text:
            raise ValueError("truncated: the file is shorter than its header says") from None
        raise ValueError(f"cannot be read as .npy ({type(exc).__name__}: {text})") from None
    if array.dtype.kind not in "biuf":
        raise ValueError(f"dtype {array.dtype} is not a real number type (bool, int or float)")
    return array


def _load_json(path: Path, limit: int):
    if path.is_dir():
        raise ValueError("is a directory, not a file")
    size = path.stat().st_size
    if size > limit:
        raise ValueError(f"file is {size} bytes, over the limit of {limit} bytes; not read")
    text = path.read_bytes().decode("utf-8")
    try:
        return json.loads(text)
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None
    except ValueError as exc:
        raise ValueError(f"not valid JSON ({exc})") from None


def _reference(path: Path, loader, *args):
    """Load a reference file; failure here is not the agent's fault, so it raises ValidationError."""
    if not path.is_file():
        raise ValidationError(f"reference file {path} is missing; build the reference first "
                              f"(python -m hepmini run STEP) or pass --reference DIR")
    try:
        return loader(path, *args)
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise ValidationError(f"reference file {path} cannot be read: {exc}") from None


# ---- .npy files ---------------------------------------------------------------------------------


def _stats(result: FileResult) -> str:
    if result.max_diff is None:
        return "diff stats: no element is finite on both sides"
    return f"diff stats: max={result.max_diff:.6g}, mean={result.mean_diff:.6g}"


def _npy_messages(result: FileResult, ref_dtype) -> list:
    shape = result.ref_shape
    note = ([f"note: dtype {result.gen_dtype} (reference {ref_dtype}); values compared at "
             f"{SIG_DIGITS} significant digits"] if result.gen_dtype != str(ref_dtype) else [])
    if result.ok:
        return [f"{result.name} matches: shape {shape}, NaN mask equal=True, "
                f"0/{result.n_total} elements differ; {_stats(result)}", *note]
    lines = [f"{result.name} differs: NaN mask equal={result.nan_mask_equal}, "
             f"mismatches={result.n_diff}/{result.n_total}", _stats(result), *note,
             f"Detailed analysis for {result.name} (using {SIG_DIGITS} significant digit tolerance):",
             f"Generated shape: {result.gen_shape}, Reference shape: {shape}",
             f"Tolerance: {_RULE_TEXT}",
             f"[{BAD}] {result.n_diff} elements differ (out of {result.n_total} total)",
             f"Sample numeric mismatches (first {MAX_SHOWN} indices):"]
    for m in result.mismatches:
        index = m["index"][0] if len(m["index"]) == 1 else tuple(m["index"])
        column = f" [{m['column']}]" if m["column"] else ""
        lines.append(f"Index {index}{column}: gen={m['gen']!r}, ref={m['ref']!r}, diff={m['diff']!r}")
    if not result.columns:
        lines.append(f"{len(shape) or 1}D array - no column-by-column analysis needed")
    else:
        lines.append("Column-by-column analysis:")
        for c in result.columns:
            if c["n_diff"]:
                name = f" ({c['name']})" if c["name"] else ""
                lines.append(f"  column {c['index']}{name}: {c['n_diff']} differ, "
                             f"max diff={c['max_diff']:.6g}")
    return lines


def _validate_npy(result: FileResult, gen_path: Path, ref_path: Path, columns) -> FileResult:
    ref = _reference(ref_path, _open_npy, float("inf"))
    result.ref_shape = tuple(ref.shape)
    try:
        gen = _open_npy(gen_path, _size_limit(ref_path))
    except (OSError, ValueError) as exc:
        return result.fail(f"{result.name} cannot be loaded: {exc}")
    result.gen_shape, result.gen_dtype = tuple(gen.shape), str(gen.dtype)
    if gen.shape != ref.shape:
        return result.fail(f"Shape mismatch: {tuple(gen.shape)} vs {tuple(ref.shape)}",
                           f"Generated shape: {tuple(gen.shape)}, Reference shape: {tuple(ref.shape)}")
    try:
        compare_arrays(gen, ref, result, columns)
    except (OSError, ValueError, MemoryError) as exc:  # e.g. the file changed while being read
        return result.fail(f"{result.name} cannot be compared: {type(exc).__name__}: {exc}")
    result.messages = _npy_messages(result, ref.dtype)
    return result


# ---- JSON files ---------------------------------------------------------------------------------


def _finish_tree(result: FileResult, diffs: list, n: int, numeric: list, what: str) -> FileResult:
    result.n_total, result.n_diff = n, len(diffs)
    if numeric:
        result.max_diff, result.mean_diff = max(numeric), sum(numeric) / len(numeric)
    result.mismatches = [{"where": d} for d in diffs[:MAX_SHOWN]]
    result.ok = not diffs
    if result.ok:
        result.messages = [f"{result.name} matches: {n} {what} equal"]
        return result
    more = [f"... and {len(diffs) - MAX_DETAILS} more"] if len(diffs) > MAX_DETAILS else []
    stats = [_stats(result)] if numeric else []
    result.messages = [f"{result.name} differs: {len(diffs)} of {n} {what} differ", *stats,
                       *diffs[:MAX_DETAILS], *more]
    return result


def _validate_json(result: FileResult, gen_path: Path, ref_path: Path) -> FileResult:
    ref = _reference(ref_path, _load_json, float("inf"))
    try:
        gen = _load_json(gen_path, max(JSON_MAX_BYTES, _size_limit(ref_path)))
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        return result.fail(f"{result.name} cannot be loaded: {exc}")
    diffs, numeric = [], []
    n = compare_json(gen, ref, "", diffs, numeric)
    return _finish_tree(result, diffs, n, numeric, "values")


# ---- step 1 summary: compared as a structure ------------------------------------------------------


def _validate_summary(result: FileResult, gen_path: Path, ref_path: Path) -> FileResult:
    try:
        ref = summary_structure(_reference(ref_path, _load_json, float("inf")), "reference")
    except ValueError as exc:
        raise ValidationError(f"reference {ref_path} is not a valid summary: {exc}") from None
    try:
        gen = summary_structure(_load_json(gen_path, max(JSON_MAX_BYTES, _size_limit(ref_path))),
                                "generated")
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        return result.fail(f"{result.name} cannot be loaded: {exc}")
    diffs = []
    n = compare_summary(gen, ref, diffs)
    return _finish_tree(result, diffs, n, [], "files/trees/entries/branch lists")


# ---- steps ----------------------------------------------------------------------------------------


def _describe(path: str) -> tuple:
    """(description, column names or None) of an output path, from steps/rules.py."""
    r = layout.rules()
    known = {
        r.SUMMARY_JSON: ("Trees, entries, branch names and types of every ROOT file", None),
        r.SIGNAL_ARRAY: ("Selected, weighted signal events", r.ARRAY_COLUMNS),
        r.BKGD_ARRAY: ("Selected, weighted background events (NTI data sidebands)", r.ARRAY_COLUMNS),
        r.BKGD_ESTIMATE: ("Background estimate: yields and scale factors", None),
        r.SIGNAL_SCORES: ("Classifier score of every signal event", None),
        r.BKGD_SCORES: ("Classifier score of every background event", None),
        r.BOUNDARIES: ("Category boundary thresholds", None),
        r.SIGNIFICANCES: ("Significance before and after each added boundary", None),
    }
    if path in known:
        return known[path]
    if path in r.NTUPLES:
        sample = path.rsplit("/", 1)[-1][: -len(".npy")]
        return (f"Ntuple of {sample}", r.NTUPLE_COLUMNS)
    return ("", None)


def validate_file(kind: str, name: str, outputs_dir, reference_dir) -> FileResult:
    """Validate one output file `name` (relative path) of kind npy | json | summary."""
    description, columns = _describe(name)
    result = FileResult(name=name, kind=kind, description=description)
    gen_path, ref_path = Path(outputs_dir) / name, Path(reference_dir) / name
    if not gen_path.exists():
        where = Path(outputs_dir)
        why = "" if where.is_dir() else f" (the outputs directory {where} does not exist)"
        return result.fail(f"{name} missing: no such file in {where}{why}")
    if kind == "npy":
        return _validate_npy(result, gen_path, ref_path, columns)
    if kind == "json":
        return _validate_json(result, gen_path, ref_path)
    if kind == "summary":
        return _validate_summary(result, gen_path, ref_path)
    raise ValidationError(f"unknown validation kind {kind!r} for {name}; use npy, json or summary")


def validate_step(step_name, outputs_dir, reference_dir) -> ValidationResult:
    """Compare every file a step (or composite task: all of its steps' files) declares in VALIDATE with the reference.

    `step_name` is a step's name or a task declaration itself (a step module or a composite).
    """
    step = layout.get(step_name) if isinstance(step_name, str) else step_name
    if not Path(reference_dir).is_dir():
        raise ValidationError(f"reference directory {reference_dir} does not exist; run "
                              f"`python -m hepmini run {step.NAME}` or pass --reference DIR")
    files = [validate_file(kind, name, outputs_dir, reference_dir)
             for name, kind in step.VALIDATE.items()]
    return ValidationResult(step=step.NAME, title=step.TITLE, passed=all(f.ok for f in files),
                            files=files, outputs_dir=str(outputs_dir),
                            reference_dir=str(reference_dir))


def result_json_path(log_path) -> Path:
    """Where write_logs puts the machine-readable result: the log path with suffix .json."""
    log_path = Path(log_path)
    if log_path.suffix == ".json":
        return log_path.with_name(log_path.name + ".result.json")
    return log_path.with_suffix(".json")


def write_logs(result: ValidationResult, log_path) -> Path:
    """Write the App. B.2 log to `log_path` and the JSON result beside it; return the JSON path."""
    atomic_write_text(log_path, result.log_text())
    json_path = result_json_path(log_path)
    atomic_write_json(json_path, result.to_dict())
    return json_path



__all__ = ["values_match", "validate_step", "validate_file", "write_logs", "result_json_path",
           "ValidationResult", "FileResult", "compare_arrays"]
