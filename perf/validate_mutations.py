"""The mutations perf/perf_validate.py applies to a reference output, each of which the validator must FAIL:
one element off by 1e-3 relative, a NaN moved, a row dropped, columns swapped, a dtype that changes
values, and the JSON/summary analogues. Each is a function of the file's path. Also the file helpers
the equivalents share (always replace a file: never write through into a shared inode).
"""

import json
from pathlib import Path

import numpy as np

from hepmini.analysis import validate

# ---- reading and writing (always replace the file: never write through into a shared inode) ----


def load_file(path: Path):
    # C order, so ravel() below is a view: a Fortran-ordered file would otherwise mutate a copy
    return np.ascontiguousarray(np.load(path, allow_pickle=False))


def save_file(path: Path, array) -> None:
    path.unlink(missing_ok=True)
    with open(path, "wb") as fh:
        np.save(fh, array, allow_pickle=False)


def read_json_file(path: Path):
    return json.loads(path.read_text())


def write_json_file(path: Path, obj, **kw) -> None:
    path.unlink(missing_ok=True)
    path.write_text(json.dumps(obj, **kw))


def _finite_nonzero(a):
    return np.flatnonzero(np.isfinite(a.ravel()) & (a.ravel() != 0))


# ---- mutations of .npy files: each returns False when it does not apply to this array ----------


def m_rel_1e3(path):
    a = load_file(path).astype(np.float64)
    idx = _finite_nonzero(a)
    if not len(idx):
        return False
    a.ravel()[idx[len(idx) // 2]] *= 1 + 1e-3
    save_file(path, a)
    return True


def m_nan_moved(path):
    a = load_file(path).astype(np.float64)
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
    save_file(path, a)
    return True


def m_row_dropped(path):
    a = load_file(path)
    if a.ndim == 0 or len(a) == 0:
        return False
    save_file(path, a[:-1])
    return True


def m_columns_swapped(path):
    a = load_file(path)
    if a.ndim == 2:
        for i in range(a.shape[1]):
            for j in range(i + 1, a.shape[1]):
                if not np.array_equal(a[:, i], a[:, j], equal_nan=True):
                    a[:, [i, j]] = a[:, [j, i]]
                    save_file(path, a)
                    return True
        return False
    if a.ndim == 1:         # 1-D: two differing elements swap places
        diff = np.flatnonzero(~validate.values_match(a, a[0]))
        if not len(diff):
            return False
        a[[0, diff[0]]] = a[[diff[0], 0]]
        save_file(path, a)
        return True
    return False


def m_boundary_added(path):
    a = load_file(path)
    if a.ndim == 1 and len(a) >= 2:
        save_file(path, np.insert(a, 1, (a[0] + a[1]) / 2))
    elif a.ndim == 2 and len(a):
        save_file(path, np.concatenate([a, a[-1:]]))   # an extra row
    else:
        return False
    return True


def m_missing(path):
    path.unlink()
    return True


def m_dtype_int(path):
    a = load_file(path)
    with np.errstate(invalid="ignore"):
        b = a.astype(np.int64)
    if np.array_equal(b.astype(np.float64), a, equal_nan=True):
        return False        # all values are integers: the dtype change keeps them
    save_file(path, b)
    return True


def m_dtype_float16(path):
    a = load_file(path)
    with np.errstate(over="ignore"):
        b = a.astype(np.float16)
    if validate.values_match(b, a).all():
        return False        # float16 kept 4 digits of every value: an equivalent, not a mutation
    save_file(path, b)
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
    obj = read_json_file(path)
    key = _first_float_key(obj)
    if key is None:
        return False
    obj[key] *= 1 + 1e-3
    write_json_file(path, obj)
    return True


def j_key_missing(path):
    obj = read_json_file(path)
    obj.pop(next(iter(obj)))
    write_json_file(path, obj)
    return True


def j_key_renamed(path):
    obj = read_json_file(path)
    key = next(iter(obj))
    obj[key.lower() + "_x"] = obj.pop(key)
    write_json_file(path, obj)
    return True


def j_key_added(path):
    obj = read_json_file(path)
    obj["extra_key"] = 1.0
    write_json_file(path, obj)
    return True


def j_value_string(path):
    obj = read_json_file(path)
    key = next(iter(obj))
    obj[key] = str(obj[key])
    write_json_file(path, obj)
    return True


def j_int_off_by_one(path):
    obj = read_json_file(path)
    key = next((k for k, v in obj.items() if isinstance(v, int) and not isinstance(v, bool)), None)
    if key is None:
        return False
    obj[key] = obj[key] * 2 + 1      # a wrong count (off by far more than rounding)
    write_json_file(path, obj)
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
    obj = read_json_file(path)
    _, _, tree = _first_tree(obj)
    tree["entries"] += 1
    write_json_file(path, obj)
    return True


def s_type_changed(path):
    obj = read_json_file(path)
    tree = _first_tree(obj)[2]
    tree["branches"][-1][1] = "double" if tree["branches"][-1][1] != "double" else "float"
    write_json_file(path, obj)
    return True


def s_branch_dropped(path):
    obj = read_json_file(path)
    _first_tree(obj)[2]["branches"].pop(3)
    write_json_file(path, obj)
    return True


def s_branches_swapped(path):
    obj = read_json_file(path)
    b = _first_tree(obj)[2]["branches"]
    b[0], b[1] = b[1], b[0]
    write_json_file(path, obj)
    return True


def s_file_dropped(path):
    obj = read_json_file(path)
    obj["files"].pop(next(iter(obj["files"])))
    write_json_file(path, obj)
    return True


def s_tree_renamed(path):
    obj = read_json_file(path)
    fname, tname, tree = _first_tree(obj)
    obj["files"][fname]["trees"] = {tname + "_x": tree}
    write_json_file(path, obj)
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

MUTATIONS = {"npy": NPY_MUTATIONS, "json": JSON_MUTATIONS, "summary": SUMMARY_MUTATIONS}
