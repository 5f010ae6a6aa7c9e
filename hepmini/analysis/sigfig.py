"""Compare generated values with the reference to 4 significant digits: numbers, arrays, JSON, summaries.

The rule (paper §V.3, App. B.2): every value agrees to 4 significant digits,

    |a - b| <= 0.5 * 10**(e - 3),   e = floor(log10(max(|a|, |b|)))

This is a relative rule (a relative error of 1e-3 always fails, one of 5e-5 always passes), not
"round both and compare", which would split 1.23449 / 1.23451 and 0.99995 / 1.00004. Exact
equality always passes (0.0 == -0.0, equal infinities), NaN matches NaN, and a value never matches
a NaN or an infinity of a different size.

Nothing here reads a file or writes a log: hepmini.analysis.validate loads both sides, calls these, and turns
the counts and differences into the validation log.
"""

import dataclasses
import functools
import json
import math
import posixpath
import re

SIG_DIGITS = 4
MAX_SHOWN = 10                  # mismatching elements listed per file (App. B.2: "first 10 indices")
CHUNK_ELEMENTS = 1 << 20        # elements compared per chunk (bounds memory on big ntuples)


_DECADE_MIN = -326


@functools.cache
def _decade_table():
    """float(f"1e{k}") for k from _DECADE_MIN to 309, the correctly rounded powers of ten."""
    import numpy as np

    # Parsed from decimal text, so each is the float nearest 10**k (np.power can be 1 ulp off,
    # and then a value written as 1e-298 would sit "below" its own decade).
    return np.array([float(f"1e{k}") for k in range(_DECADE_MIN, 310)])


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


def _json_safe(obj):
    """Replace non-finite floats by strings and tuples by lists, so the result is strict JSON."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else str(obj)
    if isinstance(obj, dict):
        return {str(k): _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_json_safe(v) for v in obj]
    return obj


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


# ---- JSON comparison --------------------------------------------------------------------------------


def _is_number(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def compare_json(gen, ref, where: str, diffs: list, numeric: list) -> int:
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
                n += compare_json(gen[key], ref[key], f"{where}{key}.", diffs, numeric)
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
        return sum(compare_json(g, r, f"{where[:-1]}[{i}].", diffs, numeric)
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


# ---- step 1 summary: compared as a structure ------------------------------------------------------


def _norm_file(path: str) -> str:
    path = posixpath.normpath(str(path).replace("\\", "/"))
    return path[2:] if path.startswith("./") else path


def _norm_tree(name: str) -> str:
    return re.sub(r";\d+$", "", str(name))    # uproot key cycles: "mini;1" is the tree "mini"


def summary_structure(obj, side: str) -> dict:
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


def compare_summary(gen: dict, ref: dict, diffs: list) -> int:
    """Compare two summary_structure results; append differences; return the number of items checked."""
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
