"""The equivalents perf/perf_validate.py writes for a reference output: the same result written differently
(float32, -0.0 for 0.0, values changed only beyond the 4th significant digit, other layouts and key
orders), each of which the validator must PASS. Each is a function of the file's path.
"""

import numpy as np

from validate_mutations import load_file, read_json_file, save_file, write_json_file

# ---- equivalents: the same result written differently ------------------------------------------


def e_float32(path):
    save_file(path, load_file(path).astype(np.float32))
    return True


def e_negative_zero(path):
    a = load_file(path).astype(np.float64)
    zero = a == 0
    if not zero.any():
        return False
    a[zero] = -a[zero]      # 0.0 <-> -0.0
    save_file(path, a)
    return True


def _scaled(path, factor):
    a = load_file(path).astype(np.float64)
    save_file(path, a * factor)
    return True


def e_plus_4e5(path):
    return _scaled(path, 1 + 4e-5)


def e_minus_4e5(path):
    return _scaled(path, 1 - 4e-5)


def _sig6(x):
    return float(f"{x:.6g}")


def e_six_digits(path):
    a = load_file(path).astype(np.float64)
    with np.errstate(all="ignore"):
        scale = np.power(10.0, 5 - np.floor(np.log10(np.abs(a))))
        rounded = np.round(a * scale) / scale
    save_file(path, np.where(np.isfinite(scale) & (a != 0), rounded, a))
    return True


def e_fortran(path):
    a = load_file(path)
    if a.ndim < 2:
        return False
    save_file(path, np.asfortranarray(a))
    return True


def e_big_endian(path):
    a = load_file(path)
    save_file(path, a.astype(a.dtype.newbyteorder(">")))
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
    obj = read_json_file(path)
    write_json_file(path, {k: float(v) if type(v) is int else v for k, v in obj.items()})
    return True


def je_order_and_layout(path):
    obj = read_json_file(path)
    write_json_file(path, dict(reversed(list(obj.items()))), separators=(",", ":"))
    return True


def je_perturbed(path):
    obj = read_json_file(path)
    write_json_file(path, {k: v * (1 + 4e-5) if type(v) is float else v for k, v in obj.items()})
    return True


def je_six_digits(path):
    obj = read_json_file(path)
    write_json_file(path, {k: _sig6(v) if type(v) is float else v for k, v in obj.items()}, indent=4)
    return True


JSON_EQUIVALENTS = {
    "integers written as floats": je_ints_as_floats,
    "other key order, compact layout": je_order_and_layout,
    "floats x (1 + 4e-5)": je_perturbed,
    "floats rounded to 6 significant digits": je_six_digits,
}


def se_layout(path):
    obj = read_json_file(path)
    files = dict(reversed(list(obj["files"].items())))
    write_json_file(path, {"generator": "equivalent", "files": files}, indent=1)
    return True


def se_cycles_and_dot_paths(path):
    obj = read_json_file(path)
    files = {}
    for fname, info in obj["files"].items():
        trees = {f"{t};1": {**v, "title": t} for t, v in info["trees"].items()}
        files["./" + fname] = {"trees": trees, "size_bytes": 123}
    write_json_file(path, {"files": files})
    return True


SUMMARY_EQUIVALENTS = {
    "other key order, extra metadata": se_layout,
    "tree keys with ;1 cycles, ./ paths, extra fields": se_cycles_and_dot_paths,
}

EQUIVALENTS = {"npy": NPY_EQUIVALENTS, "json": JSON_EQUIVALENTS, "summary": SUMMARY_EQUIVALENTS}
