"""Compare a step's outputs with the reference to 4 significant digits and write the validation log.

The rule (paper §V.3, App. B.2): for each file the step declares in VALIDATE, check it exists, loads,
has the reference's shape and NaN mask, and that every value agrees to 4 significant digits:

    |a - b| <= 0.5 * 10**(e - 3),   e = floor(log10(max(|a|, |b|)))

This is a relative rule (a relative error of 1e-3 always fails, one of 5e-5 always passes), not
"round both and compare", which would split 1.23449 / 1.23451 and 0.99995 / 1.00004. Exact
equality always passes (0.0 == -0.0, equal infinities), NaN matches NaN, and a value never matches
a NaN or an infinity of a different size.

A mismatch is a FAIL result, never an exception; bad input (unreadable, pickled, truncated or huge
files) is a FAIL entry too. Only a problem on the reference side, which the agent cannot cause,
raises ValidationError. Generated .npy files are never unpickled: the magic bytes are checked and
np.load runs with allow_pickle=False and mmap_mode="r", so the data is read chunk by chunk.
"""

import dataclasses
import json
import math
import posixpath
import re
from pathlib import Path

from hepmini import stepdefs
from hepmini.errors import ValidationError
from hepmini.files import atomic_write_json, atomic_write_text

SIG_DIGITS = 4
MAX_SHOWN = 10                  # mismatching elements listed per file (App. B.2: "first 10 indices")
MAX_DETAILS = 20                # JSON / summary differences listed per file
CHUNK_ELEMENTS = 1 << 20        # elements compared per chunk (bounds memory on big ntuples)
NPY_MAGIC = b"\x93NUMPY"
# A generated file larger than this is refused unread: a legitimate output is at most the
# reference's size with 16-byte items (float64 -> longdouble), so 4x plus slack never rejects one.
SIZE_FACTOR, SIZE_SLACK = 4, 1 << 20
JSON_MAX_BYTES = 64 << 20
OK, BAD = "✓", "✗"


_DECADE_MIN = -326
_DECADES = []   # filled on first use: float(f"1e{k}"), the correctly rounded powers of ten


def _decade_table():
    import numpy as np

    if not _DECADES:
        # Parsed from decimal text, so each is the float nearest 10**k (np.power can be 1 ulp off,
        # and then a value written as 1e-298 would sit "below" its own decade).
        _DECADES.append(np.array([float(f"1e{k}") for k in range(_DECADE_MIN, 310)]))
    return _DECADES[0]


def values_match(a, b):
    """Elementwise: do `a` and `b` agree to 4 significant digits? (vectorised; NaN matches NaN)

    >>> values_match([1.23449, 0.99995, 0.0, 1.0, 5.0], [1.23451, 1.00004, -0.0, 1.001, 5.003]).tolist()
    [True, True, True, False, False]
    """
    import numpy as np

    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    table = _decade_table()
    with np.errstate(all="ignore"):
        m = np.maximum(np.abs(a), np.abs(b))
        usable = np.isfinite(m) & (m > 0)
        m = np.where(usable, m, 1.0)
        # e = floor(log10(m)) as an index into the table; log10 may round across a decade for
        # values a hair below a power of ten, so e is corrected against the table itself.
        e = np.floor(np.log10(m)).astype(np.intp) - _DECADE_MIN
        e -= (table[e] > m).astype(np.intp)
        e += (table[e + 1] <= m).astype(np.intp)
        tol = table[e] * (0.5 * 10.0 ** (1 - SIG_DIGITS))      # 0.5 * 10**(e - 3)
        ok = (np.abs(a - b) <= tol) & usable & np.isfinite(a) & np.isfinite(b)
    return ok | (a == b) | (np.isnan(a) & np.isnan(b))


# ---- per-file results -----------------------------------------------------------------------------


@dataclasses.dataclass
class FileResult:
    """The comparison of one output file with its reference."""

    name: str                       # path relative to the outputs directory
    kind: str                       # npy | json | summary
    description: str = ""
    ok: bool = False
    messages: list = dataclasses.field(default_factory=list)   # log lines; the first is the verdict
    gen_shape: tuple = None
    ref_shape: tuple = None
    gen_dtype: str = None
    nan_mask_equal: bool = None
    n_total: int = 0
    n_diff: int = 0
    max_diff: float = None          # over elements finite on both sides (App. B.2 "diff stats")
    mean_diff: float = None
    mismatches: list = dataclasses.field(default_factory=list)  # first few: index, column, gen, ref, diff
    columns: list = dataclasses.field(default_factory=list)     # 2-D arrays: per-column counts

    def fail(self, headline: str, *details) -> "FileResult":
        self.ok = False
        self.messages = [headline, *details]
        return self

    def to_dict(self) -> dict:
        out = dataclasses.asdict(self)
        for key in ("gen_shape", "ref_shape"):
            out[key] = None if out[key] is None else list(out[key])
        return _json_safe(out)


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


def _json_safe(obj):
    """Replace non-finite floats by strings and tuples by lists, so the result is strict JSON."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else str(obj)
    if isinstance(obj, dict):
        return {str(k): _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_json_safe(v) for v in obj]
    return obj


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


# ---- array comparison ----------------------------------------------------------------------------


def compare_arrays(gen, ref, result: FileResult, columns=None) -> FileResult:
    """Fill `result` with the comparison of two arrays of the same shape, chunk by chunk."""
    import numpy as np

    if gen.ndim == 0:
        gen, ref = gen.reshape(1), ref.reshape(1)
    n0 = gen.shape[0]
    row = int(np.prod(gen.shape[1:], dtype=np.int64))
    step = max(1, CHUNK_ELEMENTS // max(1, row))
    ncol = gen.shape[1] if gen.ndim == 2 else 0
    col_diff = np.zeros(ncol, dtype=np.int64)
    col_max = np.zeros(ncol)
    n_diff = nan_diff = n_finite = 0
    sum_diff = max_diff = 0.0
    mismatches = []
    for start in range(0, n0, step):
        g = np.asarray(gen[start:start + step], dtype=np.float64)
        r = np.asarray(ref[start:start + step], dtype=np.float64)
        # Exact equality (and NaN == NaN) needs no tolerance; the log10 rule runs on the rest only.
        ok = (g == r) | (np.isnan(g) & np.isnan(r))
        rest = ~ok
        if rest.any():
            ok[rest] = values_match(g[rest], r[rest])
        nan_diff += int(np.count_nonzero(np.isnan(g) != np.isnan(r)))
        finite = np.isfinite(g) & np.isfinite(r)
        with np.errstate(all="ignore"):
            d = np.where(finite, np.abs(g - r), 0.0)
        n_finite += int(np.count_nonzero(finite))
        sum_diff += float(d.sum())
        max_diff = max(max_diff, float(d.max(initial=0.0)))
        bad = ~ok
        n_bad = int(np.count_nonzero(bad))
        n_diff += n_bad
        if ncol:
            col_diff += np.count_nonzero(bad, axis=0)
            col_max = np.maximum(col_max, d.max(axis=0, initial=0.0))
        if n_bad and len(mismatches) < MAX_SHOWN:
            for idx in np.argwhere(bad)[: MAX_SHOWN - len(mismatches)]:
                local = tuple(int(i) for i in idx)
                index = (local[0] + start,) + local[1:]
                gv, rv = float(g[local]), float(r[local])
                name = columns[local[1]] if ncol and columns and len(local) == 2 else None
                mismatches.append({"index": list(index), "column": name, "gen": gv, "ref": rv,
                                   "diff": abs(gv - rv)})
    total = n0 * row
    result.n_total, result.n_diff = total, n_diff
    result.nan_mask_equal = nan_diff == 0
    result.max_diff = max_diff if n_finite else None
    result.mean_diff = sum_diff / n_finite if n_finite else None
    result.mismatches = mismatches
    if ncol:
        names = columns if columns and len(columns) == ncol else [None] * ncol
        result.columns = [{"index": i, "name": names[i], "n_diff": int(col_diff[i]),
                           "max_diff": float(col_max[i])} for i in range(ncol)]
    result.ok = n_diff == 0
    return result


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


# ---- JSON comparison --------------------------------------------------------------------------------


def _is_number(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def _compare_json(gen, ref, where: str, diffs: list, numeric: list) -> int:
    """Compare two JSON values key by key; append differences; return the number of leaves checked."""
    if isinstance(ref, dict):
        if not isinstance(gen, dict):
            diffs.append(f"{where or '(top level)'}: expected an object, got {type(gen).__name__}")
            return 1
        n = 0
        for key in ref:
            if key not in gen:
                diffs.append(f"Key {where}{key}: missing (reference {_short(ref[key])})")
                n += 1
            else:
                n += _compare_json(gen[key], ref[key], f"{where}{key}.", diffs, numeric)
        for key in gen:
            if key not in ref:
                diffs.append(f"Key {where}{key}: unexpected (not in the reference)")
                n += 1
        return n
    label = f"Key {where[:-1]}" if where else "Value"
    if isinstance(ref, list):
        if not isinstance(gen, list) or len(gen) != len(ref):
            got = f"length {len(gen)}" if isinstance(gen, list) else type(gen).__name__
            diffs.append(f"{label}: expected a list of length {len(ref)}, got {got}")
            return 1
        return sum(_compare_json(g, r, f"{where[:-1]}[{i}].", diffs, numeric)
                   for i, (g, r) in enumerate(zip(gen, ref))) or 1
    if _is_number(ref) and _is_number(gen):
        try:
            g, r = float(gen), float(ref)
        except OverflowError:
            g, r = math.inf, float(ref)
        if math.isfinite(g) and math.isfinite(r):
            numeric.append(abs(g - r))
        if not bool(values_match(g, r)):
            diffs.append(f"{label}: gen={gen!r}, ref={ref!r}, diff={abs(g - r)!r}")
        return 1
    if type(gen) is not type(ref) or gen != ref:
        diffs.append(f"{label}: gen={_short(gen)}, ref={_short(ref)}")
    return 1


def _short(x) -> str:
    try:
        text = json.dumps(x) if not isinstance(x, float) else repr(x)
    except (RecursionError, ValueError):
        text = f"<{type(x).__name__}>"
    return text if len(text) <= 80 else text[:77] + "..."


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
    n = _compare_json(gen, ref, "", diffs, numeric)
    return _finish_tree(result, diffs, n, numeric, "values")


# ---- step 1 summary: compared as a structure ------------------------------------------------------


def _norm_file(path: str) -> str:
    path = posixpath.normpath(str(path).replace("\\", "/"))
    return path[2:] if path.startswith("./") else path


def _norm_tree(name: str) -> str:
    return re.sub(r";\d+$", "", str(name))    # uproot key cycles: "mini;1" is the tree "mini"


def _summary_structure(obj, side: str) -> dict:
    """{file: {tree: (entries, [(branch, type), ...])}} from a summary; ValueError on bad layout."""
    if not isinstance(obj, dict) or not isinstance(obj.get("files"), dict):
        raise ValueError(f"{side}: expected an object with a 'files' object")
    out = {}
    for fname, finfo in obj["files"].items():
        if not isinstance(finfo, dict) or not isinstance(finfo.get("trees"), dict):
            raise ValueError(f"{side}: files[{fname!r}] needs a 'trees' object")
        trees = {}
        for tname, tinfo in finfo["trees"].items():
            where = f"{side}: files[{fname!r}].trees[{tname!r}]"
            if not isinstance(tinfo, dict):
                raise ValueError(f"{where} is not an object")
            entries = tinfo.get("entries")
            if not _is_number(entries) or not float(entries).is_integer():
                raise ValueError(f"{where}.entries must be an integer, got {_short(entries)}")
            branches = tinfo.get("branches")
            if not isinstance(branches, list) or not all(
                    isinstance(b, list) and len(b) == 2 and all(isinstance(s, str) for s in b)
                    for b in branches):
                raise ValueError(f"{where}.branches must be a list of [name, type] pairs")
            trees[_norm_tree(tname)] = (int(entries), [(n.strip(), t.strip()) for n, t in branches])
        out[_norm_file(fname)] = trees
    return out


def _compare_summary(gen: dict, ref: dict, diffs: list) -> int:
    n = 0
    for fname, rtrees in ref.items():
        n += 1
        if fname not in gen:
            diffs.append(f"{fname}: file missing from the summary")
            continue
        gtrees = gen[fname]
        for tname, (rentries, rbranches) in rtrees.items():
            n += 2
            where = f"{fname}: tree {tname}"
            if tname not in gtrees:
                diffs.append(f"{where}: missing")
                continue
            gentries, gbranches = gtrees[tname]
            if gentries != rentries:
                diffs.append(f"{where}: entries gen={gentries}, ref={rentries}")
            if gbranches != rbranches:
                diffs.append(f"{where}: branches differ: {_branch_diff(gbranches, rbranches)}")
        for tname in gtrees:
            if tname not in rtrees:
                diffs.append(f"{fname}: tree {tname} unexpected (not in the reference)")
    for fname in gen:
        if fname not in ref:
            diffs.append(f"{fname}: file unexpected (not in the reference)")
    return n


def _branch_diff(gen: list, ref: list) -> str:
    gnames, rnames = [b[0] for b in gen], [b[0] for b in ref]
    missing = [b for b in rnames if b not in gnames]
    extra = [b for b in gnames if b not in rnames]
    if missing or extra:
        parts = ([f"missing {missing[:5]}"] if missing else []) + ([f"unexpected {extra[:5]}"]
                                                                  if extra else [])
        return f"{len(gnames)} vs {len(rnames)} branches; " + ", ".join(parts)
    if gnames != rnames:
        i = next(i for i, (g, r) in enumerate(zip(gnames, rnames)) if g != r)
        return f"same names, different order (position {i}: gen {gnames[i]}, ref {rnames[i]})"
    types = [(n, g, r) for (n, g), (_, r) in zip(gen, ref) if g != r]
    return "; ".join(f"{n} type gen={g!r} ref={r!r}" for n, g, r in types[:5]) + (
        f" (and {len(types) - 5} more)" if len(types) > 5 else "")


def _validate_summary(result: FileResult, gen_path: Path, ref_path: Path) -> FileResult:
    try:
        ref = _summary_structure(_reference(ref_path, _load_json, float("inf")), "reference")
    except ValueError as exc:
        raise ValidationError(f"reference {ref_path} is not a valid summary: {exc}") from None
    try:
        gen = _summary_structure(_load_json(gen_path, max(JSON_MAX_BYTES, _size_limit(ref_path))),
                                 "generated")
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        return result.fail(f"{result.name} cannot be loaded: {exc}")
    diffs = []
    n = _compare_summary(gen, ref, diffs)
    return _finish_tree(result, diffs, n, [], "files/trees/entries/branch lists")


# ---- steps ----------------------------------------------------------------------------------------


def _describe(path: str) -> tuple:
    """(description, column names or None) of an output path, from steps/rules.py."""
    r = stepdefs.rules()
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


def validate_step(step_name: str, outputs_dir, reference_dir) -> ValidationResult:
    """Compare every file that step `step_name` declares in VALIDATE with the reference."""
    step = stepdefs.get(step_name)
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


def cli_validate(cfg, args) -> int:
    """`python -m hepmini validate STEP --outputs DIR [--reference DIR] [--log FILE]`."""
    reference = Path(args.reference) if args.reference else cfg.solution_dir
    result = validate_step(args.step, Path(args.outputs), reference)
    print(result.log_text(), end="")
    if args.log:
        json_path = write_logs(result, args.log)
        print(f"log written to {args.log} (result {json_path})")
    return 0 if result.passed else 1


__all__ = ["values_match", "validate_step", "validate_file", "write_logs", "result_json_path",
           "ValidationResult", "FileResult", "compare_arrays", "cli_validate"]
