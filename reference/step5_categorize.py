"""Reference step 5: add score boundaries one at a time while the significance improves by >= 5 %."""

import sys
from pathlib import Path

try:
    import hepmini  # noqa: F401
except ImportError:  # run from a checkout without installing: the package sits beside reference/
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hepmini.analysis import refscript
from hepmini import layout
from hepmini.files import save_npy_atomic
from hepmini.tools import categorize, load_datasets

rules = layout.rules()


def run(data: Path, inputs: Path, out: Path, params: dict) -> None:
    arrays = refscript.load_arrays(
        inputs, [rules.SIGNAL_ARRAY, rules.BKGD_ARRAY, rules.SIGNAL_SCORES, rules.BKGD_SCORES], "step4")
    # The rule (tools.categorize): null significance first; add the best boundary while the last
    # addition improved Z by >= 5 %; the first addition under 5 % is kept and ends the loop.
    boundaries, significances = categorize(*load_datasets(*arrays), num_bins=rules.NUM_BINS,
                                           min_events=rules.MIN_EVENTS, improvement=rules.IMPROVEMENT_MIN)
    save_npy_atomic(out / rules.BOUNDARIES, boundaries)
    save_npy_atomic(out / rules.SIGNIFICANCES, significances)


if __name__ == "__main__":
    raise SystemExit(refscript.main(run, __doc__))
