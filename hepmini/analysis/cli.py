"""The commands of the reference analysis: `run`, `status`, `clean`, `validate` (and plain `all`)."""

import json
import shutil
from pathlib import Path

from hepmini import layout
from hepmini.options import add_dag, add_workflow


def add_run(parser) -> None:
    add_workflow(parser)
    add_dag(parser)
    parser.add_argument("steps", nargs="+", metavar="STEP", help="step1..step5 (or data)")


def add_status(parser) -> None:
    add_workflow(parser)
    parser.add_argument("--json", action="store_true", help="print machine-readable status")


def add_clean(parser) -> None:
    add_workflow(parser)


def add_validate(parser) -> None:
    parser.add_argument("step", help="step1..step5")
    parser.add_argument("--outputs", required=True, help="directory holding the step's outputs")
    parser.add_argument("--reference", help="reference directory (default WORKDIR/solution)")
    parser.add_argument("--log", help="write the validation log here (and a .json beside it)")
    add_workflow(parser)


def run_reference(cfg, args) -> int:
    """`python -m hepmini all` without a model: run every stale step of the reference analysis."""
    from hepmini.analysis.dag import run

    n = run(cfg, force=args.force, dry_run=args.dry_run)
    if n and not args.dry_run:
        print(f"{n} step(s) run; outputs in {cfg.solution_dir}")
    return 0


def cmd_run(cfg, args) -> int:
    """`python -m hepmini run STEP...`: bring the named steps up to date."""
    from hepmini.analysis.dag import run

    run(cfg, targets=args.steps, force=args.force, dry_run=args.dry_run)
    return 0


def cmd_status(cfg, args) -> int:
    """`python -m hepmini status`: each step's state and reasons."""
    from hepmini.analysis.dag import status_rows

    rows = status_rows(cfg)
    if args.json:
        print(json.dumps([{"step": n, "title": t, "state": s, "reasons": r} for n, t, s, r in rows],
                         indent=2))
        return 0
    width = max(len(f"{n} ({t})") for n, t, _, _ in rows)
    for n, t, state, reasons in rows:
        print(f"{f'{n} ({t})':<{width}}  {state:<10}  {'; '.join(reasons)}".rstrip())
    return 0


def cmd_clean(cfg, args) -> int:
    """`python -m hepmini clean`: remove outputs, stamps, staging and logs; keep the data."""
    from hepmini.analysis.dag import STATE_DIR, stamp_path

    state = cfg.workdir / STATE_DIR
    for path in (cfg.solution_dir, state / "staging", state / "logs"):
        shutil.rmtree(path, ignore_errors=True)
    for step in layout.steps():  # the data stamp stays with the data
        stamp_path(cfg, step.NAME).unlink(missing_ok=True)
    print(f"removed {cfg.solution_dir} and the step records (data kept)")
    return 0


def cmd_validate(cfg, args) -> int:
    """`python -m hepmini validate STEP --outputs DIR [--reference DIR] [--log FILE]`."""
    from hepmini.analysis.validate import validate_step, write_logs

    reference = Path(args.reference) if args.reference else cfg.solution_dir
    result = validate_step(args.step, Path(args.outputs), reference)
    print(result.log_text(), end="")
    if args.log:
        json_path = write_logs(result, args.log)
        print(f"log written to {args.log} (result {json_path})")
    return 0 if result.passed else 1
