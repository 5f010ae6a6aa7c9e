"""Evaluation fidelity of the validator: mutated outputs must all FAIL, equivalent outputs must all PASS.

    python perf/perf_validate.py                      # on constructed outputs of every step
    python perf/perf_validate.py --reference DIR      # also on a real solution directory
    python perf/perf_validate.py --run                # build a tiny reference run first (~1 min)

For every file a step validates, each mutation (one element off by 1e-3 relative, one NaN moved, a
row dropped, columns swapped, a boundary added, the file missing, a value-changing dtype, and the
JSON/summary analogues) is applied to a copy of the reference and `validate_step` must say FAIL;
each equivalent (float32, -0.0 for 0.0, values changed only beyond the 4th significant digit, other
layouts and key orders) must say PASS. Prints "mutations caught X/Y" and "equivalents passed A/B".
"""

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from hepmini.analysis import validate  # noqa: E402
from hepmini import layout
from hepmini.errors import UnknownStep  # noqa: E402

# ---- reading and writing (always replace the file: never write through into a shared inode) ----


def _load(path: Path):
    # C order, so ravel() below is a view: a Fortran-ordered file would otherwise mutate a copy
    return np.ascontiguousarray(np.load(path, allow_pickle=False))


def _save(path: Path, array) -> None:
    path.unlink(missing_ok=True)
    with open(path, "wb") as fh:
        np.save(fh, array, allow_pickle=False)


def _read_json(path: Path):
    return json.loads(path.read_text())


def _write_json(path: Path, obj, **kw) -> None:
    path.unlink(missing_ok=True)
    path.write_text(json.dumps(obj, **kw))


def _finite_nonzero(a):
    return np.flatnonzero(np.isfinite(a.ravel()) & (a.ravel() != 0))


# ---- mutations of .npy files: each returns False when it does not apply to this array ----------


def m_rel_1e3(path):
    a = _load(path).astype(np.float64)
    idx = _finite_nonzero(a)
    if not len(idx):
        return False
    a.ravel()[idx[len(idx) // 2]] *= 1 + 1e-3
    _save(path, a)
    return True


def m_nan_moved(path):
    a = _load(path).astype(np.float64)
    flat = a.ravel()
    nan, finite = np.flatnonzero(np.isnan(flat)), np.flatnonzero(np.isfinite(flat))
    if not len(finite):
        return False
    q = finite[len(finite) // 2]
    if len(nan):            # move: the NaN at p goes to q, q's value goes to p
        p = nan[0]
        flat[p], flat[q] = flat[q], np.nan
    else:                   # no NaN in this array: one appears
        flat[q] = np.nan
    _save(path, a)
    return True


def m_row_dropped(path):
    a = _load(path)
    if a.ndim == 0 or len(a) == 0:
        return False
    _save(path, a[:-1])
    return True


def m_columns_swapped(path):
    a = _load(path)
    if a.ndim == 2:
        for i in range(a.shape[1]):
            for j in range(i + 1, a.shape[1]):
                if not np.array_equal(a[:, i], a[:, j], equal_nan=True):
                    a[:, [i, j]] = a[:, [j, i]]
                    _save(path, a)
                    return True
        return False
    if a.ndim == 1:         # 1-D: two differing elements swap places
        diff = np.flatnonzero(~validate.values_match(a, a[0]))
        if not len(diff):
            return False
        a[[0, diff[0]]] = a[[diff[0], 0]]
        _save(path, a)
        return True
    return False


def m_boundary_added(path):
    a = _load(path)
    if a.ndim == 1 and len(a) >= 2:
        _save(path, np.insert(a, 1, (a[0] + a[1]) / 2))
    elif a.ndim == 2 and len(a):
        _save(path, np.concatenate([a, a[-1:]]))   # an extra row
    else:
        return False
    return True


def m_missing(path):
    path.unlink()
    return True


def m_dtype_int(path):
    a = _load(path)
    with np.errstate(invalid="ignore"):
        b = a.astype(np.int64)
    if np.array_equal(b.astype(np.float64), a, equal_nan=True):
        return False        # all values are integers: the dtype change keeps them
    _save(path, b)
    return True


def m_dtype_float16(path):
    a = _load(path)
    with np.errstate(over="ignore"):
        b = a.astype(np.float16)
    if validate.values_match(b, a).all():
        return False        # float16 kept 4 digits of every value: an equivalent, not a mutation
    _save(path, b)
    return True


NPY_MUTATIONS = {
    "one element off by 1e-3 relative": m_rel_1e3,
    "one NaN moved (or inserted)": m_nan_moved,
    "a row dropped": m_row_dropped,
    "columns swapped": m_columns_swapped,
    "a boundary (element/row) added": m_boundary_added,
    "file missing": m_missing,
    "dtype int64 (values truncated)": m_dtype_int,
    "dtype float16 (3 digits)": m_dtype_float16,
}

# ---- mutations of JSON outputs -----------------------------------------------------------------


def _first_float_key(obj):
    return next((k for k, v in obj.items() if isinstance(v, float) and v != 0), None)


def j_rel_1e3(path):
    obj = _read_json(path)
    key = _first_float_key(obj)
    if key is None:
        return False
    obj[key] *= 1 + 1e-3
    _write_json(path, obj)
    return True


def j_key_missing(path):
    obj = _read_json(path)
    obj.pop(next(iter(obj)))
    _write_json(path, obj)
    return True


def j_key_renamed(path):
    obj = _read_json(path)
    key = next(iter(obj))
    obj[key.lower() + "_x"] = obj.pop(key)
    _write_json(path, obj)
    return True


def j_key_added(path):
    obj = _read_json(path)
    obj["extra_key"] = 1.0
    _write_json(path, obj)
    return True


def j_value_string(path):
    obj = _read_json(path)
    key = next(iter(obj))
    obj[key] = str(obj[key])
    _write_json(path, obj)
    return True


def j_int_off_by_one(path):
    obj = _read_json(path)
    key = next((k for k, v in obj.items() if isinstance(v, int) and not isinstance(v, bool)), None)
    if key is None:
        return False
    obj[key] = obj[key] * 2 + 1      # a wrong count (off by far more than rounding)
    _write_json(path, obj)
    return True


def garbage(path):
    path.unlink()
    path.write_bytes(b"\x00not json {")
    return True


JSON_MUTATIONS = {
    "one value off by 1e-3 relative": j_rel_1e3,
    "a key missing": j_key_missing,
    "a key renamed": j_key_renamed,
    "an unexpected key": j_key_added,
    "a number written as a string": j_value_string,
    "a wrong count": j_int_off_by_one,
    "file missing": m_missing,
    "not JSON": garbage,
}

# ---- mutations of the step-1 summary -----------------------------------------------------------


def _first_tree(obj):
    fname = next(iter(obj["files"]))
    tname = next(iter(obj["files"][fname]["trees"]))
    return fname, tname, obj["files"][fname]["trees"][tname]


def s_entries(path):
    obj = _read_json(path)
    _, _, tree = _first_tree(obj)
    tree["entries"] += 1
    _write_json(path, obj)
    return True


def s_type_changed(path):
    obj = _read_json(path)
    tree = _first_tree(obj)[2]
    tree["branches"][-1][1] = "double" if tree["branches"][-1][1] != "double" else "float"
    _write_json(path, obj)
    return True


def s_branch_dropped(path):
    obj = _read_json(path)
    _first_tree(obj)[2]["branches"].pop(3)
    _write_json(path, obj)
    return True


def s_branches_swapped(path):
    obj = _read_json(path)
    b = _first_tree(obj)[2]["branches"]
    b[0], b[1] = b[1], b[0]
    _write_json(path, obj)
    return True


def s_file_dropped(path):
    obj = _read_json(path)
    obj["files"].pop(next(iter(obj["files"])))
    _write_json(path, obj)
    return True


def s_tree_renamed(path):
    obj = _read_json(path)
    fname, tname, tree = _first_tree(obj)
    obj["files"][fname]["trees"] = {tname + "_x": tree}
    _write_json(path, obj)
    return True


SUMMARY_MUTATIONS = {
    "entries off by one": s_entries,
    "a branch type changed": s_type_changed,
    "a branch dropped": s_branch_dropped,
    "two branches swapped": s_branches_swapped,
    "a file dropped": s_file_dropped,
    "a tree renamed": s_tree_renamed,
    "file missing": m_missing,
    "not JSON": garbage,
}

# ---- equivalents: the same result written differently ------------------------------------------


def e_float32(path):
    _save(path, _load(path).astype(np.float32))
    return True


def e_negative_zero(path):
    a = _load(path).astype(np.float64)
    zero = a == 0
    if not zero.any():
        return False
    a[zero] = -a[zero]      # 0.0 <-> -0.0
    _save(path, a)
    return True


def _scaled(path, factor):
    a = _load(path).astype(np.float64)
    _save(path, a * factor)
    return True


def e_plus_4e5(path):
    return _scaled(path, 1 + 4e-5)


def e_minus_4e5(path):
    return _scaled(path, 1 - 4e-5)


def _sig6(x):
    return float(f"{x:.6g}")


def e_six_digits(path):
    a = _load(path).astype(np.float64)
    with np.errstate(all="ignore"):
        scale = np.power(10.0, 5 - np.floor(np.log10(np.abs(a))))
        rounded = np.round(a * scale) / scale
    _save(path, np.where(np.isfinite(scale) & (a != 0), rounded, a))
    return True


def e_fortran(path):
    a = _load(path)
    if a.ndim < 2:
        return False
    _save(path, np.asfortranarray(a))
    return True


def e_big_endian(path):
    a = _load(path)
    _save(path, a.astype(a.dtype.newbyteorder(">")))
    return True


NPY_EQUIVALENTS = {
    "float32 instead of float64": e_float32,
    "-0.0 for 0.0": e_negative_zero,
    "every value x (1 + 4e-5)": e_plus_4e5,
    "every value x (1 - 4e-5)": e_minus_4e5,
    "every value rounded to 6 significant digits": e_six_digits,
    "Fortran memory order": e_fortran,
    "big-endian float64": e_big_endian,
}


def je_ints_as_floats(path):
    obj = _read_json(path)
    _write_json(path, {k: float(v) if type(v) is int else v for k, v in obj.items()})
    return True


def je_order_and_layout(path):
    obj = _read_json(path)
    _write_json(path, dict(reversed(list(obj.items()))), separators=(",", ":"))
    return True


def je_perturbed(path):
    obj = _read_json(path)
    _write_json(path, {k: v * (1 + 4e-5) if type(v) is float else v for k, v in obj.items()})
    return True


def je_six_digits(path):
    obj = _read_json(path)
    _write_json(path, {k: _sig6(v) if type(v) is float else v for k, v in obj.items()}, indent=4)
    return True


JSON_EQUIVALENTS = {
    "integers written as floats": je_ints_as_floats,
    "other key order, compact layout": je_order_and_layout,
    "floats x (1 + 4e-5)": je_perturbed,
    "floats rounded to 6 significant digits": je_six_digits,
}


def se_layout(path):
    obj = _read_json(path)
    files = dict(reversed(list(obj["files"].items())))
    _write_json(path, {"generator": "equivalent", "files": files}, indent=1)
    return True


def se_cycles_and_dot_paths(path):
    obj = _read_json(path)
    files = {}
    for fname, info in obj["files"].items():
        trees = {f"{t};1": {**v, "title": t} for t, v in info["trees"].items()}
        files["./" + fname] = {"trees": trees, "size_bytes": 123}
    _write_json(path, {"files": files})
    return True


SUMMARY_EQUIVALENTS = {
    "other key order, extra metadata": se_layout,
    "tree keys with ;1 cycles, ./ paths, extra fields": se_cycles_and_dot_paths,
}

MUTATIONS = {"npy": NPY_MUTATIONS, "json": JSON_MUTATIONS, "summary": SUMMARY_MUTATIONS}
EQUIVALENTS = {"npy": NPY_EQUIVALENTS, "json": JSON_EQUIVALENTS, "summary": SUMMARY_EQUIVALENTS}

# ---- constructed reference outputs (no pipeline needed) -----------------------------------------


def make_reference(out: Path, seed: int = 5, events: int = 60) -> Path:
    """Write outputs of every step, with plausible shapes, NaNs and zeros, into `out`."""
    r = layout.rules()
    rng = np.random.default_rng(seed)
    out = Path(out)

    def save(rel, array):
        (out / rel).parent.mkdir(parents=True, exist_ok=True)
        np.save(out / rel, array, allow_pickle=False)

    branches = [["runNumber", "int32_t"], ["photon_n", "int32_t"], ["photon_pt", "float[]"],
                ["photon_isTightID", "bool[]"], ["trigP", "bool"], ["XSection", "float"]]
    summary = {"files": {rel: {"trees": {r.TREE: {"entries": int(rng.integers(100, 5000)),
                                                  "branches": branches}}} for rel in r.ALL_FILES}}
    (out / r.SUMMARY_JSON).parent.mkdir(parents=True, exist_ok=True)
    (out / r.SUMMARY_JSON).write_text(json.dumps(summary, indent=2))
    ncol = len(r.NTUPLE_COLUMNS)
    for rel in r.NTUPLES:
        nt = rng.lognormal(3.0, 1.0, size=(events, ncol)) * rng.choice([-1.0, 1.0], size=(events, ncol))
        nt[rng.random((events, ncol)) < 0.15] = np.nan
        nt[:, -2] = rng.integers(0, 2, events)           # a 1.0/0.0 column with exact zeros
        save(rel, nt)
    for rel in (r.SIGNAL_ARRAY, r.BKGD_ARRAY):
        a = rng.normal(size=(events, len(r.ARRAY_COLUMNS)))
        a[:, 0] = rng.uniform(105, 160, events)
        a[:, -1] = rng.lognormal(-3, 1, events)
        save(rel, a)
    (out / r.BKGD_ESTIMATE).write_text(json.dumps(
        {"TI_sideband_yield": 1265, "NTI_sideband_yield": 1953, "NTI_window_yield": 213,
         "SF1": 0.647721454173067, "SF2": 0.10906298003072197,
         "expected_background": 137.96466973886328, "signal_yield": 227.3577787793003}, indent=2))
    save(r.SIGNAL_SCORES, rng.uniform(0, 1, events))
    save(r.BKGD_SCORES, np.concatenate([[0.0, 1.0], rng.uniform(0, 1, events - 2)]))
    save(r.BOUNDARIES, np.array([0.0, 0.117, 0.864, 0.978, 1.0]))
    save(r.SIGNIFICANCES, np.array([0.6859528, 0.8596105777616457, 0.898676950456262, 0.9047]))
    return out


# ---- running the catalogue ----------------------------------------------------------------------


def _copy_step(step, reference: Path, dest: Path, changed: str) -> None:
    """Copy the file to change; symlink the step's other files (changes always replace, never write through)."""
    for rel in step.VALIDATE:
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        if rel == changed:
            shutil.copyfile(reference / rel, dest / rel)
        else:
            (dest / rel).symlink_to((reference / rel).resolve())


def fidelity(reference, scratch=None, files_per_step=None) -> dict:
    """Apply every mutation and equivalent to the outputs in `reference`; return counts and misses.

    `files_per_step` limits how many files of a step are mutated (first and last kept), for speed.
    """
    reference = Path(reference)
    scratch = Path(scratch or tempfile.mkdtemp(prefix="hepmini-fidelity-"))
    caught = mutations = passed = equivalents = 0
    missed, false_fails, cases = [], [], []
    for step in layout.steps():
        items = list(step.VALIDATE.items())
        if files_per_step and len(items) > files_per_step:
            items = items[: files_per_step - 1] + items[-1:]
        for rel, kind in items:
            for label, table in (("mutation", MUTATIONS[kind]), ("equivalent", EQUIVALENTS[kind])):
                for name, change in table.items():
                    work = scratch / f"case{len(cases)}"
                    _copy_step(step, reference, work, rel)
                    applied = change(work / rel)
                    if applied:
                        result = validate.validate_step(step.NAME, work, reference)
                        case = {"step": step.NAME, "file": rel, "kind": label, "change": name,
                                "passed": result.passed}
                        cases.append(case)
                        if label == "mutation":
                            mutations += 1
                            caught += not result.passed
                            if result.passed:
                                missed.append(case)
                        else:
                            equivalents += 1
                            passed += result.passed
                            if not result.passed:
                                case["log"] = result.log_text()
                                false_fails.append(case)
                    shutil.rmtree(work, ignore_errors=True)
    return {"mutations": mutations, "caught": caught, "equivalents": equivalents, "passed": passed,
            "missed": missed, "false_fails": false_fails, "cases": cases}


class _Trap:
    """Unpickling this would create a file: proof that the validator never unpickles."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def _bad_inputs(scratch: Path) -> dict:
    """{case: writer(path)} of inputs that must give a clear FAIL entry (never a crash or a pass)."""

    def raw(data):
        return lambda p: p.write_bytes(data)

    def npy(array, **kw):
        def write(p):
            with open(p, "wb") as fh:
                np.save(fh, array, **kw)
        return write

    def npz(p):
        np.savez(scratch / "x.npz", a=np.zeros(3))
        p.write_bytes((scratch / "x.npz").read_bytes())

    def truncated(p):
        npy(np.arange(1000.0))(p)
        p.write_bytes(p.read_bytes()[:200])

    def huge(p):
        with open(p, "wb") as fh:   # sparse: no disk used
            fh.write(b"\x93NUMPY")
            fh.truncate(16 << 30)

    return {
        "pickled object array (.npy)": npy(np.array([_Trap(str(scratch / "unpickled")), 1.0],
                                                    dtype=object), allow_pickle=True),
        ".npz renamed .npy": npz,
        "text in a .npy": raw(b"0 0.5 1\n"),
        "empty file": raw(b""),
        "truncated .npy": truncated,
        "garbled .npy header": raw(b"\x93NUMPY\x01\x00\x10\x00{'descr': nonsense}"),
        "16 GB sparse file": huge,
        "complex dtype": npy(np.array([1j, 2.0])),
        "string dtype": npy(np.array(["0", "1"])),
        "structured dtype": npy(np.zeros(2, dtype=[("a", "f8"), ("b", "f8")])),
        "directory instead of file": lambda p: p.mkdir(),
    }


def bad_input(reference, scratch=None) -> dict:
    """Feed the validator broken files (and a wrong step name); count the clear FAIL entries."""
    reference = Path(reference)
    scratch = Path(scratch or tempfile.mkdtemp(prefix="hepmini-badinput-"))
    rel = layout.rules().BOUNDARIES
    handled, total, problems = 0, 0, []
    for name, write in _bad_inputs(scratch).items():
        work = scratch / f"bad{total}"
        (work / rel).parent.mkdir(parents=True, exist_ok=True)
        total += 1
        try:
            write(work / rel)
            f = validate.validate_file("npy", rel, work, reference)
            good = not f.ok and "cannot be loaded" in f.messages[0]
        except Exception as exc:  # a crash is exactly what must not happen
            good, f = False, exc
        if (scratch / "unpickled").exists():
            good = False
        handled += good
        if not good:
            problems.append((name, f))
        shutil.rmtree(work, ignore_errors=True)
    total += 1
    try:
        validate.validate_step("step9", reference, reference)
        problems.append(("wrong step name", "no error"))
    except UnknownStep:
        handled += 1
    except Exception as exc:
        problems.append(("wrong step name", exc))
    return {"handled": handled, "total": total, "problems": problems}


def _report(title: str, figures: dict, seconds: float) -> None:
    print(f"{title}: mutations caught {figures['caught']}/{figures['mutations']}, "
          f"equivalents passed {figures['passed']}/{figures['equivalents']} ({seconds:.1f} s)")
    for case in figures["missed"]:
        print(f"  MISSED   {case['step']} {case['file']}: {case['change']}")
    for case in figures["false_fails"]:
        print(f"  FALSE FAIL {case['step']} {case['file']}: {case['change']}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reference", type=Path, help="a solution directory of a reference run")
    parser.add_argument("--run", action="store_true", help="build a tiny reference run (scale 0.02) first")
    args = parser.parse_args(argv)
    ok = True
    with tempfile.TemporaryDirectory(prefix="hepmini-fidelity-") as tmp:
        tmp = Path(tmp)
        t0 = time.perf_counter()
        figures = fidelity(make_reference(tmp / "constructed"), tmp / "scratch")
        _report("constructed outputs", figures, time.perf_counter() - t0)
        ok &= not figures["missed"] and not figures["false_fails"]
        bad = bad_input(tmp / "constructed", tmp / "scratch-bad")
        print(f"bad inputs: clear FAIL (or UnknownStep) {bad['handled']}/{bad['total']}")
        for name, what in bad["problems"]:
            print(f"  NOT HANDLED {name}: {what}")
        ok &= not bad["problems"]
        reference = args.reference
        if args.run and reference is None:
            work = tmp / "work"
            proc = subprocess.run([sys.executable, "-m", "hepmini", "all", "--workdir", str(work),
                                   "--set", "scale=0.02", "--set", "classifier=hgb"],
                                  cwd=ROOT, capture_output=True, text=True)
            if proc.returncode:
                print(proc.stderr, file=sys.stderr)
                return proc.returncode
            reference = work / "solution"
        if reference is not None:
            t0 = time.perf_counter()
            figures = fidelity(reference, tmp / "scratch-ref")
            _report(f"reference outputs ({reference})", figures, time.perf_counter() - t0)
            ok &= not figures["missed"] and not figures["false_fails"]
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
