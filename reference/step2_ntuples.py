"""Reference step 2: convert each ROOT file into one float64 array with the fixed ntuple columns."""

import sys
from pathlib import Path

try:
    import hepmini  # noqa: F401
except ImportError:  # run from a checkout without installing: the package sits beside reference/
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np

from hepmini.analysis import refscript
from hepmini.data import rootio
from hepmini import layout
from hepmini.files import save_npy_atomic

rules = layout.rules()


def column_sources() -> list:
    """(column, branch, vector index or None) for every ntuple column, in column order."""
    return list(rules.NTUPLE_SOURCES)


BRANCHES = sorted({branch for _, branch, _ in column_sources()})


def vector_parts(jagged):
    """(flat values as float64, start of each event, length of each event, shortest length) of a jagged array."""
    import awkward as ak

    layout = jagged.layout
    if isinstance(layout, ak.contents.ListOffsetArray) and isinstance(layout.content, ak.contents.NumpyArray):
        # The common case for uproot: read offsets and values straight from the layout, no copies.
        offsets = np.asarray(layout.offsets)
        flat = np.asarray(layout.content.data)
    else:
        counts = ak.to_numpy(ak.num(jagged, axis=1))
        offsets = np.concatenate(([0], np.cumsum(counts, dtype=np.int64)))
        flat = ak.to_numpy(ak.flatten(jagged, axis=1))
    counts = np.diff(offsets)
    return flat.astype(np.float64), offsets[:-1], counts, int(counts.min(initial=0))


def pick_into(out: np.ndarray, parts, index: int, scratch: np.ndarray) -> None:
    """Write element `index` of every event's vector into `out`, NaN where the vector is shorter."""
    flat, starts, counts, shortest = parts
    if len(flat) == 0:
        out[:] = np.nan
        return
    np.add(starts, index, out=scratch)
    np.take(flat, scratch, mode="clip", out=out)  # clip: short vectors are overwritten below
    if index >= shortest:  # e.g. the two photons of a GamGam event are always there: no mask needed
        np.putmask(out, counts <= index, np.nan)


def fill_branch(table: np.ndarray, arrays, branch: str, columns: list) -> None:
    """Write the ntuple columns [(j, column, index)] that come from one branch into `table`."""
    import awkward as ak

    gev = set(rules.GEV_COLUMNS)
    if columns[0][2] is None:
        parts, scratch = None, None
    else:  # flatten each vector branch once, not once per element
        parts, scratch = vector_parts(arrays[branch]), np.empty(len(arrays), dtype=np.int64)
    for j, column, index in columns:
        if parts is None:
            table[:, j] = ak.to_numpy(arrays[branch])
        else:
            pick_into(table[:, j], parts, index, scratch)
        if column in gev:
            table[:, j] *= rules.MEV_TO_GEV


def convert(path: Path, threads: int = 2) -> np.ndarray:
    """Read one file and return its (events, columns) float64 ntuple in GeV."""
    from concurrent.futures import ThreadPoolExecutor

    tree = rootio.open_tree(path, rules.TREE, needed=BRANCHES)
    arrays = rootio.read_arrays(path, tree, BRANCHES)
    # Column-major, so each column is written contiguously; np.save records the order.
    table = np.empty((len(arrays), len(rules.NTUPLE_COLUMNS)), dtype=np.float64, order="F")
    by_branch = {}
    for j, (column, branch, index) in enumerate(column_sources()):
        by_branch.setdefault(branch, []).append((j, column, index))
    # numpy releases the GIL in take/putmask/multiply: branches fill their own columns in parallel.
    with ThreadPoolExecutor(max_workers=threads) as pool:
        for done in [pool.submit(fill_branch, table, arrays, b, cols) for b, cols in by_branch.items()]:
            done.result()
    return table


def run(data: Path, inputs: Path, out: Path, params: dict) -> None:
    for rel in rules.ALL_FILES:
        sample = rules.sample_name(rel)
        save_npy_atomic(out / rules.ntuple_path(sample), convert(data / rel))


if __name__ == "__main__":
    raise SystemExit(refscript.main(run, __doc__))
