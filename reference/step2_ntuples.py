"""Reference step 2: convert each ROOT file into one float64 array with the fixed ntuple columns."""

import sys
from pathlib import Path

try:
    import hepmini  # noqa: F401
except ImportError:  # run from a checkout without installing: the package sits beside reference/
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np

from hepmini import refscript, rootio, stepdefs
from hepmini.files import save_npy_atomic

rules = stepdefs.rules()

# ROOT branch behind each ntuple column: (branch, index into the vector or None for a scalar).
_OBJECTS = {"photon": "photon", "lep": "lep", "jet": "jet"}


def column_sources() -> list:
    """(column, branch, vector index or None) for every ntuple column, in column order."""
    sources = []
    for column in rules.NTUPLE_COLUMNS:
        head, _, var = column.partition("_")
        obj = head.rstrip("0123456789")
        if obj in _OBJECTS and head != obj:  # e.g. photon1_pt -> photon_pt[0]
            sources.append((column, f"{_OBJECTS[obj]}_{var}", int(head[len(obj):]) - 1))
        else:
            sources.append((column, column, None))
    return sources


BRANCHES = sorted({branch for _, branch, _ in column_sources()})


def pad(jagged, index: int) -> np.ndarray:
    """Element `index` of every event's vector as float64, NaN where the vector is shorter."""
    import awkward as ak

    counts = ak.to_numpy(ak.num(jagged, axis=1))
    flat = ak.to_numpy(ak.flatten(jagged, axis=1)).astype(np.float64)
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    out = np.full(len(counts), np.nan)
    has = counts > index
    out[has] = flat[starts[has] + index]
    return out


def convert(path: Path) -> np.ndarray:
    """Read one file and return its (events, columns) float64 ntuple in GeV."""
    import awkward as ak

    tree = rootio.open_tree(path, rules.TREE, needed=BRANCHES)
    arrays = rootio.read_arrays(path, tree, BRANCHES)
    table = np.empty((len(arrays), len(rules.NTUPLE_COLUMNS)), dtype=np.float64)
    gev = set(rules.GEV_COLUMNS)
    for j, (column, branch, index) in enumerate(column_sources()):
        values = arrays[branch]
        col = pad(values, index) if index is not None else ak.to_numpy(values).astype(np.float64)
        table[:, j] = col * rules.MEV_TO_GEV if column in gev else col
    return table


def run(data: Path, inputs: Path, out: Path, params: dict) -> None:
    for rel in rules.ALL_FILES:
        sample = rules.sample_name(rel)
        save_npy_atomic(out / rules.ntuple_path(sample), convert(data / rel))


if __name__ == "__main__":
    raise SystemExit(refscript.main(run, __doc__))
