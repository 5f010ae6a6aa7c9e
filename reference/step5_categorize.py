"""Reference step 5: add score boundaries one at a time while the significance improves by >= 5 %."""

import sys
from pathlib import Path

import numpy as np

try:
    import hepmini  # noqa: F401
except ImportError:  # run from a checkout without installing: the package sits beside reference/
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hepmini.analysis import refscript
from hepmini import layout
from hepmini.files import save_npy_atomic
from hepmini.tools import get_significance, load_datasets, place_boundary

rules = layout.rules()


def categorize(signal_df, bkgd_df, num_bins=1000, min_events=10, improvement=0.05):
    """Return (boundaries, significances) of the reference rule: add best boundaries until one improves Z < 5 %.

    Example usage: boundaries, significances = categorize(signal_df, bkgd_df, 1000, 10, 0.05)

    The rule, exactly: boundaries = [0.0, 1.0]; significances = [get_significance(...)] (the null
    significance is the first entry). Repeat: new_b, new_Z = place_boundary(...); if new_b is None,
    stop; insert new_b (sorted) and append new_Z; if (new_Z - previous_Z) / previous_Z < improvement,
    stop (that last boundary is kept). If previous_Z is 0 (no signal at all) the ratio is undefined:
    stop after adding that boundary.

    >>> signal_df, bkgd_df = load_datasets(np.full((5, 7), 1.0), np.full((5, 7), 10.0),
    ...                                    [0.3, 0.6, 0.7, 0.9, 0.95], [0.1, 0.2, 0.4, 0.6, 0.8])
    >>> boundaries, significances = categorize(signal_df, bkgd_df, num_bins=4, min_events=1)
    >>> boundaries                # 0.75 improved Z by 0 % < 5 %: the loop stopped and kept it
    array([0.  , 0.5 , 0.75, 1.  ])
    >>> significances.round(4)    # the null significance first, then one entry per boundary
    array([0.6958, 0.8857, 0.8857])
    """
    boundaries = [0.0, 1.0]
    significances = [get_significance(signal_df, bkgd_df, boundaries)]
    while True:
        new_b, new_z = place_boundary(signal_df, bkgd_df, boundaries, num_bins, min_events)
        if new_b is None:
            break
        boundaries = sorted(boundaries + [new_b])
        significances.append(new_z)
        previous = significances[-2]
        if previous <= 0 or (new_z - previous) / previous < improvement:
            break
    return np.array(boundaries, dtype=np.float64), np.array(significances, dtype=np.float64)


def run(data: Path, inputs: Path, out: Path, params: dict) -> None:
    arrays = refscript.load_arrays(
        inputs, [rules.SIGNAL_ARRAY, rules.BKGD_ARRAY, rules.SIGNAL_SCORES, rules.BKGD_SCORES], "step4")
    # The rule (categorize above): null significance first; add the best boundary while the last
    # addition improved Z by >= 5 %; the first addition under 5 % is kept and ends the loop.
    boundaries, significances = categorize(*load_datasets(*arrays), num_bins=rules.NUM_BINS,
                                           min_events=rules.MIN_EVENTS, improvement=rules.IMPROVEMENT_MIN)
    save_npy_atomic(out / rules.BOUNDARIES, boundaries)
    save_npy_atomic(out / rules.SIGNIFICANCES, significances)


if __name__ == "__main__":
    raise SystemExit(refscript.main(run, __doc__))
