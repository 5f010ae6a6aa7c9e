"""Copy a finished campaign's evidence into docs/ (`make docs-local`): its records, not its data or outputs.

Kept per cell: result.json, cassette.jsonl (what `bench --replay` answers from), comprehensive.log, the
validation log, the diagnosis, the generated code and the logs of its runs; at the top: campaign.json and its
event log. Outputs, traces (the cassette and result hold what they say) and locks stay behind.

    python docs/keep_campaign.py SRC DST
"""

import json
import shutil
import sys
from pathlib import Path

UNFINISHED = 3   # exit code: the campaign still has cells to run (`make docs-local` skips it)

TOP = ("campaign.json", "campaign.jsonl")
CELL = ("result.json", "cassette.jsonl", "comprehensive.log", "validation.log", "validation.json",
        "classification.json", "hepmini.cfg")
CELL_DIRS = ("generated_code", "logs")


def keep(src: Path, dst: Path) -> int:
    """Copy `src`'s evidence to a fresh `dst` (replaced whole, never merged); the number of cells copied."""
    if not (src / "campaign.json").is_file():
        raise SystemExit(f"keep_campaign: {src} is not a campaign directory (no campaign.json)")
    staging = dst.with_name(dst.name + ".new")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    for name in TOP:
        if (src / name).is_file():
            shutil.copy2(src / name, staging / name)
    cells = sorted(p.parent for p in (src / "cells").glob("*/*/trial-*/result.json"))
    spec = json.loads((src / "campaign.json").read_text())
    done = [c for c in cells if json.loads((c / "result.json").read_text()).get("status") != "running"]
    planned = len(spec["models"]) * len(spec["steps"]) * spec["trials"]
    if len(done) < planned:
        print(f"keep_campaign: {src} has {len(done)} of {planned} cells finished; not kept (let it finish: "
              "`make bench-local` resumes it)", file=sys.stderr)
        raise SystemExit(UNFINISHED)
    for cell in cells:
        out = staging / cell.relative_to(src)
        out.mkdir(parents=True)
        for name in CELL:
            if (cell / name).is_file() and not (cell / name).is_symlink():
                shutil.copy2(cell / name, out / name)
        for name in CELL_DIRS:
            if (cell / name).is_dir() and not (cell / name).is_symlink():
                shutil.copytree(cell / name, out / name, symlinks=True)
    shutil.rmtree(dst, ignore_errors=True)
    staging.rename(dst)
    return len(cells)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        raise SystemExit(__doc__.strip().splitlines()[-1].strip())
    n = keep(Path(sys.argv[1]), Path(sys.argv[2]))
    print(f"keep_campaign: {n} cell(s) of {sys.argv[1]} kept in {sys.argv[2]}")
