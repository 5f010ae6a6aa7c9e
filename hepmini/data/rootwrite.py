"""Write the tree `mini` of one GamGam file in the 2020 format (81 branches, in order and type), atomically.

uproot's TTree writer stores each vector branch as a counted leaf-list (`photon_pt[photon_n]/F`) with
an Int_t counter where the real files have std::vector<float> and UInt_t: every reader sees the same arrays.
"""

import os
import tempfile
from pathlib import Path

import numpy as np

_TYPES = {"I": "int32", "U": "uint32", "F": "float32", "O": "bool"}    # "v" prefix: a vector of it



CHUNK = 400_000          # entries per basket: few, large writes


def branches() -> list:
    """[(name, type code)] of the 81 branches, in file order (steps/rules.py)."""
    from hepmini import layout

    return layout.rules().ROOT_BRANCHES


def write_tree(path, arrays):
    """Write the tree `mini` atomically (written in a temporary directory beside it under its own name, then renamed)."""
    import awkward as ak
    import uproot

    n = len(arrays["runNumber"])
    counters = {name: name.split("_")[0] + "_n" for name, code in branches() if code.startswith("v")}
    # awkward types, not "var * float32" strings: uproot would parse each string (~20 ms apiece)
    types = {name: ak.types.ListType(ak.types.NumpyType(_TYPES[code[1:]])) if name in counters
             else np.dtype(_TYPES[code]) for name, code in branches()}
    offsets = {c: np.append(0, np.cumsum(arrays[c])) for c in set(counters.values())}
    # the file stores its own name: written as `.x.root.<pid>.tmp` its bytes and size would depend on the
    # writer's pid (and the rich context, which quotes sizes, on the machine); a directory keeps the name
    scratch = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    tmp = scratch / path.name
    try:
        with uproot.recreate(tmp, compression=uproot.ZSTD(1)) as f:
            tree = f.mktree("mini", types, title="mini", counter_name=counters.__getitem__)
            for a in range(0, max(n, 1), CHUNK):
                z = min(a + CHUNK, n)
                chunk = {}
                for name, code in branches():
                    dtype = np.dtype(_TYPES[code.lstrip("v")])
                    if name in counters:
                        off = offsets[counters[name]]
                        flat = np.asarray(arrays[name][off[a]:off[z]], dtype)
                        listed = ak.contents.ListOffsetArray(ak.index.Index64(off[a:z + 1] - off[a]),
                                                             ak.contents.NumpyArray(flat))
                        chunk[name] = ak.Array(listed)
                    else:
                        chunk[name] = np.asarray(arrays[name][a:z], dtype)
                tree.extend(chunk)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
        scratch.rmdir()
