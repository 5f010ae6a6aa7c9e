"""Copy a finished campaign's evidence into docs/ (`make docs-local`): its records, not its data or outputs.

Kept per cell: result.json, cassette.jsonl (what `bench --replay` answers from), comprehensive.log, the
validation log, the diagnosis, the generated code and the logs of its runs; at the top: campaign.json and its
event log. Outputs, traces (the cassette and result hold what they say) and locks stay behind. An unfinished
campaign is refused (exit 3), unless --partial: then only its finished cells are kept, and kept.json says
how many of how many (a reader and the tests know the record is partial). --resume goes the other way: a
kept campaign becomes a run directory again, so `bench --out DST` runs only the cells it lacks.

    python docs/keep_campaign.py [--partial | --resume] SRC DST
"""

import json
import shutil
import sys
from pathlib import Path

UNFINISHED = 3   # exit code: the campaign still has cells to run (`make docs-local` skips it)
UNSETTLED = ("running", "harness_error")   # cells a resume runs again: no outcome of the model's

TOP = ("campaign.json", "campaign.jsonl")
CELL = ("result.json", "cassette.jsonl", "comprehensive.log", "validation.log", "validation.json",
        "classification.json", "hepmini.cfg")
CELL_DIRS = ("generated_code", "logs")


def keep(src: Path, dst: Path, partial: bool = False) -> int:
    """Copy `src`'s evidence to a fresh `dst` (replaced whole, never merged); the number of cells copied."""
    if not (src / "campaign.json").is_file():
        raise SystemExit(f"keep_campaign: {src} is not a campaign directory (no campaign.json)")
    spec = json.loads((src / "campaign.json").read_text())
    cells = [p.parent for p in sorted((src / "cells").glob("*/*/trial-*/result.json"))
             if json.loads(p.read_text()).get("status") not in UNSETTLED]
    planned = len(spec["models"]) * len(spec["steps"]) * spec["trials"]
    if len(cells) < planned and not partial:
        print(f"keep_campaign: {src} has {len(cells)} of {planned} cells finished; not kept (let it finish: "
              "`make bench-local` resumes it)", file=sys.stderr)
        raise SystemExit(UNFINISHED)
    staging = dst.with_name(dst.name + ".new")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    for name in TOP:
        if (src / name).is_file():
            shutil.copy2(src / name, staging / name)
    for cell in cells:
        _keep_cell(cell, staging / cell.relative_to(src))
    (staging / "kept.json").write_text(json.dumps({"finished": len(cells), "planned": planned,
                                                   "complete": len(cells) == planned}, indent=1) + "\n")
    shutil.rmtree(dst, ignore_errors=True)
    staging.rename(dst)
    return len(cells)


def _keep_cell(cell: Path, out: Path) -> None:
    out.mkdir(parents=True)
    for name in CELL:
        if (cell / name).is_file() and not (cell / name).is_symlink():
            shutil.copy2(cell / name, out / name)
    for name in CELL_DIRS:
        if (cell / name).is_dir() and not (cell / name).is_symlink():
            shutil.copytree(cell / name, out / name, symlinks=True)


def resume(kept: Path, dst: Path) -> int:
    """Copy the kept campaign `kept` to a new run directory `dst` (never over one); the number of cells it holds."""
    if not (kept / "kept.json").is_file():
        raise SystemExit(f"keep_campaign: {kept} is not a kept campaign (no kept.json)")
    if dst.exists() or dst.is_symlink():
        raise SystemExit(f"keep_campaign: {dst} exists; resume it with `python -m hepmini bench --out {dst}`, "
                         "or remove it first")
    staging = dst.with_name(dst.name + ".new")
    shutil.rmtree(staging, ignore_errors=True)
    shutil.copytree(kept, staging, symlinks=True, ignore=shutil.ignore_patterns("kept.json"))
    staging.rename(dst)
    return json.loads((kept / "kept.json").read_text())["finished"]


if __name__ == "__main__":
    flags = [a for a in sys.argv[1:] if a in ("--partial", "--resume")]
    paths = [a for a in sys.argv[1:] if a not in flags]
    if len(paths) != 2 or len(flags) > 1:
        raise SystemExit(__doc__.strip().splitlines()[-1].strip())
    if flags == ["--resume"]:
        n = resume(Path(paths[0]), Path(paths[1]))
        print(f"keep_campaign: {paths[1]} starts from {n} finished cell(s) of {paths[0]}; "
              f"`python -m hepmini bench --out {paths[1]}` runs the rest")
    else:
        n = keep(Path(paths[0]), Path(paths[1]), flags == ["--partial"])
        print(f"keep_campaign: {n} cell(s) of {paths[0]} kept in {paths[1]}")
