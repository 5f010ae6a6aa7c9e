"""Reference step 4: score every signal and background event with the provided classifier function."""

import sys
from pathlib import Path

try:
    import hepmini  # noqa: F401
except ImportError:  # run from a checkout without installing: the package sits beside reference/
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hepmini import config, tools
from hepmini.analysis import refscript
from hepmini import layout
from hepmini.files import atomic_write_json, save_npy_atomic

rules = layout.rules()


def run(data: Path, inputs: Path, out: Path, params: dict) -> None:
    arrays = refscript.load_arrays(inputs, [rules.SIGNAL_ARRAY, rules.BKGD_ARRAY], "step3")
    cfg = config.resolve(params)
    signal_scores, bkgd_scores, info = tools.train_and_score(*arrays, cfg=cfg, return_info=True)
    save_npy_atomic(out / rules.SIGNAL_SCORES, signal_scores)
    save_npy_atomic(out / rules.BKGD_SCORES, bkgd_scores)
    atomic_write_json(out / rules.CLASSIFIER_INFO, info)


if __name__ == "__main__":
    raise SystemExit(refscript.main(run, __doc__))
