"""The command line shared by the reference scripts in reference/: --data, --inputs, --out, --param."""

import argparse
import sys
from pathlib import Path

from hepmini.errors import HepminiError


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
