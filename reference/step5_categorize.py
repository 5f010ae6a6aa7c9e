"""Reference step 5: add score boundaries one at a time while the significance improves by >= 5 %."""

import sys
from pathlib import Path

try:
    import hepmini  # noqa: F401
except ImportError:  # run from a checkout without installing: the package sits beside reference/
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np

from hepmini import refscript, stepdefs
from hepmini.errors import MissingInput
from hepmini.files import save_npy_atomic
from hepmini.tools import get_significance, load_datasets, place_boundary

rules = stepdefs.rules()


def categorize(signal_df, bkgd_df):
    """The reference rule: null significance first; stop after the first addition under 5 %, keeping it."""
    boundaries = [0.0, 1.0]
    significances = [get_significance(signal_df, bkgd_df, boundaries)]
    while True:
        new_boundary, new_z = place_boundary(signal_df, bkgd_df, boundaries, rules.NUM_BINS,
                                             rules.MIN_EVENTS)
        if new_boundary is None:  # no split keeps min_events on both sides
            break
        boundaries = sorted(boundaries + [new_boundary])
        significances.append(new_z)
        old_z = significances[-2]
        if old_z == 0 or (new_z - old_z) / old_z < rules.IMPROVEMENT_MIN:
            break
    return np.array(boundaries, dtype=np.float64), np.array(significances, dtype=np.float64)


def run(data: Path, inputs: Path, out: Path, params: dict) -> None:
    arrays = []
    for rel in (rules.SIGNAL_ARRAY, rules.BKGD_ARRAY, rules.SIGNAL_SCORES, rules.BKGD_SCORES):
        if not (inputs / rel).is_file():
            raise MissingInput(f"{inputs / rel}: missing; run the steps before step5 first")
        arrays.append(np.load(inputs / rel, allow_pickle=False))
    boundaries, significances = categorize(*load_datasets(*arrays))
    save_npy_atomic(out / rules.BOUNDARIES, boundaries)
    save_npy_atomic(out / rules.SIGNIFICANCES, significances)


if __name__ == "__main__":
    raise SystemExit(refscript.main(run, __doc__))
