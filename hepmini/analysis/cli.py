"""The commands of the reference analysis: `run`, `status`, `clean`, `validate` (and plain `all`)."""

import ast
import json
import shutil
import struct
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
    if not args.dry_run:
        for line in results_lines(cfg.solution_dir):
            print(line)
    return 0


def results_lines(solution: Path, categories: Path = None) -> list:
    """What the analysis found, in two lines: the classifier used (step 4) and the categories (step 5)."""
    rules = layout.rules()
    categories = categories or solution
    lines = []
    try:
        lines.append(f"classifier (step4): {_backend(json.loads((solution / rules.CLASSIFIER_INFO).read_text()))}")
    except (OSError, ValueError, AttributeError, TypeError):
        pass
    try:
        bounds, sig = (_floats(categories / rel) for rel in (rules.BOUNDARIES, rules.SIGNIFICANCES))
        lines.append(f"categories (step5): boundaries {', '.join(f'{b:.4g}' for b in bounds)}; significance "
                     f"{' -> '.join(f'{z:.4g}' for z in sig)} (null first; final Z = {sig[-1]:.4g})")
    except (OSError, ValueError, KeyError, IndexError, TypeError, SyntaxError, struct.error):
        pass
    return lines


def _backend(info: dict) -> str:
    """The backend step 4 used and why, as classifier.json records it."""
    from hepmini.analysis.scoring import STAGING_HINT

    reason = (info.get("reason") or "").removesuffix("; using HistGradientBoostingClassifier")
    if info.get("backend") == "tabpfn":
        return f"TabPFN ({reason})"
    if reason.startswith("no TabPFN"):
        return f"HistGradientBoostingClassifier, the fallback: {reason}; to use TabPFN, {STAGING_HINT}"
    return f"HistGradientBoostingClassifier ({reason})"


def _floats(path: Path) -> list:
    """A 1-D float64 .npy file as a list, read without numpy (an up-to-date `all` stays light)."""
    raw = path.read_bytes()
    if raw[:6] != b"\x93NUMPY":
        raise ValueError(f"{path} is not a .npy file")
    size, fmt = (2, "<H") if raw[6] == 1 else (4, "<I")
    start = 8 + size + struct.unpack(fmt, raw[8:8 + size])[0]
    header = ast.literal_eval(raw[8 + size:start].decode("latin1"))
    if header["descr"] != "<f8" or header["fortran_order"] or len(header["shape"]) != 1:
        raise ValueError(f"{path}: not a 1-D float64 array")
    n = header["shape"][0]
    return list(struct.unpack(f"<{n}d", raw[start:start + 8 * n]))


def cmd_run(cfg, args) -> int:
    """`python -m hepmini run STEP...`: bring the named steps up to date."""
    from hepmini.analysis.dag import run

    run(cfg, targets=args.steps, force=args.force, dry_run=args.dry_run)
    return 0


def cmd_status(cfg, args) -> int:
    """`python -m hepmini status`: each step's state and reasons; exit 1 when any step is stale."""
    from hepmini.analysis.dag import status_rows

    rows = status_rows(cfg)
    stale = sum(state != "up to date" for _, _, state, _ in rows)
    if args.json:
        print(json.dumps([{"step": n, "title": t, "state": s, "reasons": r} for n, t, s, r in rows],
                         indent=2))
        return 1 if stale else 0
    width = max(len(f"{n} ({t})") for n, t, _, _ in rows)
    for n, t, state, reasons in rows:
        print(f"{f'{n} ({t})':<{width}}  {state:<10}  {'; '.join(reasons)}".rstrip())
    return 1 if stale else 0   # like `make -q`: a script can ask whether anything would run


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
