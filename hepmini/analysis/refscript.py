"""The command line shared by the reference scripts in reference/: --data, --inputs, --out, --param."""

import argparse
import sys
from pathlib import Path

from hepmini.errors import HepminiError, MissingInput


def main(run, doc: str, argv=None) -> int:
    """Parse the standard reference-script arguments and call run(data, inputs, out, params)."""
    parser = argparse.ArgumentParser(description=doc)
    parser.add_argument("--data", type=Path, help="directory holding GamGam/Data and GamGam/MC")
    parser.add_argument("--inputs", type=Path, help="directory holding the previous steps' outputs")
    parser.add_argument("--out", type=Path, required=True, help="directory the outputs are written to")
    parser.add_argument("--param", action="append", default=[], metavar="KEY=VALUE",
                        help="a Config setting for this step (repeatable)")
    args = parser.parse_args(argv)
    params = dict(p.split("=", 1) for p in args.param)
    try:
        run(args.data, args.inputs, args.out, params)
    except HepminiError as exc:
        # One line on stderr: the DAG runner shows it as the step's error.
        print(f"hepmini: error: {exc}", file=sys.stderr)
        return exc.exit_code
    return 0


def load_arrays(inputs: Path, rel_paths, producer: str) -> list:
    """Load the .npy inputs of a step, or say which step to run first."""
    import numpy as np

    arrays = []
    for rel in rel_paths:
        path = Path(inputs) / rel
        if not path.is_file():
            raise MissingInput(f"{path}: missing; run {producer} first (`python -m hepmini run {producer}`)")
        arrays.append(np.load(path, allow_pickle=False))
    return arrays
