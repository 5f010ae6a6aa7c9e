"""Write hepmini's work out for an existing engine: a Snakefile for Snakemake, or a Slurm job array.

hepmini's own DAG runner serves one machine. Beyond that it hands the same work to an engine people
already run (DESIGN "Scale": never a home-made distributed system). Both exports are generated from
the same sources as the runner itself: the steps from `dag.build(cfg)`, the benchmark matrix from
`bench` and `campaign`; nothing here restates the step list, the cell order or the campaign layout.

Every exported command is a hepmini command (`run STEP`, `bench --cell I`, `report DIR`), run with the
interpreter and hepmini tree the export was made with, so an exported job does exactly what the same
command does on one machine: staging, atomic outputs, stamps, idempotent cells.
"""

import dataclasses
import shlex
import string
import sys
import time
from pathlib import Path
from typing import Optional

from hepmini import __version__, config
from hepmini.errors import ConfigError
from hepmini.files import atomic_write_text
from hepmini.layout import PACKAGE_DIR

MARK = "# Written by `python -m hepmini export"  # an exported file starts with this; others are not overwritten
SNAKEFILE = "Snakefile"
REFERENCE, ARRAY, MERGE = "hepmini-reference.sbatch", "hepmini-array.sbatch", "hepmini-merge.sbatch"
SUBMIT = "submit.sh"
# Settings that are flags of their own rather than --set pairs.
FLAG_SETTINGS = ("workdir", "data_dir")


@dataclasses.dataclass(frozen=True)
class Cell:
    """One model × step × trial of a campaign, and the result file that marks it finished."""

    index: int
    model: str
    step: str
    k: int
    result: Path


# ---- what the exports share -----------------------------------------------------------------------


def absolute(cfg):
    """The config with every path absolute, so exported jobs run from any directory."""
    def fix(value):
        return str(Path(value).expanduser().absolute()) if value else value

    return dataclasses.replace(cfg, workdir=cfg.workdir.expanduser().absolute(),
                               data_dir=None if cfg.data_dir is None else cfg.data_dir.expanduser().absolute(),
                               tabpfn_model=fix(cfg.tabpfn_model), call_log=fix(cfg.call_log))


def workflow_args(cfg, nodes, spec=None) -> list:
    """--workdir, --data-dir and the --set pairs of `settings_args`."""
    args = ["--workdir", str(cfg.workdir)]
    if cfg.data_dir is not None:
        args += ["--data-dir", str(cfg.data_dir)]
    return args + settings_args(cfg, nodes, spec)


def settings_args(cfg, nodes, spec=None) -> list:
    """The --set pairs that pin every setting the steps depend on.

    Every step parameter is written out, even at its default, and so is every setting that differs
    from hepmini's default (whether it came from --set, hepmini.cfg or a HEPMINI_* variable): a job
    on another host reads that host's hepmini.cfg and environment, which must not change the outputs
    or make hepmini judge an upstream step stale because its parameters seem to have changed. For a
    campaign (`spec`), the settings bench stores in campaign.json too: every cell must agree with them.
    """
    defaults = config.Config()
    keys = {k for node in nodes.values() for k in node.params}
    keys |= {k for k in (spec.settings if spec else ()) if k in config.SETTABLE}  # not its agent fields
    keys |= {k for k in config.SETTABLE if getattr(cfg, k) != getattr(defaults, k)}
    args = []
    for key in sorted(keys - set(FLAG_SETTINGS)):
        args += ["--set", f"{key}={_setting(getattr(cfg, key))}"]
    return args


def _setting(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value) if isinstance(value, float) else str(value)


def campaign_from(cfg, args, out: Path):
    """The bench Spec named by --models/--steps/--trials/--max-iterations/--budget, checked as bench checks it."""
    from hepmini.agent.models import check_name
    from hepmini.bench import specs

    _, spec = specs.spec_from_args(cfg, args, out)
    for name in spec.models:  # a typo should fail here, not after the jobs waited in the queue
        check_name(name, cfg)
    return spec


def bench_args(spec, out: Path) -> list:
    """The matrix options of `python -m hepmini bench`, identical for every cell of the campaign."""
    args = ["--models", ",".join(spec.models), "--steps", ",".join(spec.steps), "--trials", str(spec.trials),
            "--max-iterations", str(spec.max_iterations)]
    if spec.budget is not None:
        args += ["--budget", repr(spec.budget)]
    return args + ["--out", str(out)]


def cells(spec, out: Path) -> list:
    """Every cell in bench's order (index I = position in models × steps × trials) and its result.json."""
    from hepmini.bench import store  # it owns the matrix order and the layout of a campaign directory

    return [Cell(i, model, step, k, store.cell_path(out, model, step, k) / "result.json")
            for i, model, step, k in store.cell_list(spec)]


def report_outputs(out: Path) -> list:
    """The merge step's output as Snakemake sees it."""
    # `report DIR` writes summary.json, .csv, .md and then report.html, each atomically: the page,
    # written last, stands for the set (declaring all four would restate report.py's file list).
    return [out / "report.html"]


def _home() -> Path:
    """The directory to put on PYTHONPATH so `python -m hepmini` finds this very hepmini."""
    return PACKAGE_DIR.parent


def write_script(path: Path, text: str, mode: int = 0o644) -> Path:
    if path.is_file() and MARK not in path.read_text(errors="replace")[:1000]:
        raise ConfigError(f"{path} exists and was not written by hepmini export; move it away or choose "
                          "another --out")
    atomic_write_text(path, text)
    path.chmod(mode)
    return path


def _header(what: str) -> str:
    return f"{MARK} {what}` (hepmini {__version__}, {time.strftime('%Y-%m-%d %H:%M')})."


def _check_path(path: Path) -> None:
    # Snakemake reads {...} in a file name as a wildcard; a newline would end a generated line.
    if any(c in str(path) for c in "{}\n"):
        raise ConfigError(f"{path}: a path with braces or newlines cannot be exported; choose another directory")


# ---- Snakefile --------------------------------------------------------------------------------------


class _Paths:
    """Renders absolute paths in the Snakefile relative to the variables defined at its top."""

    def __init__(self, roots):
        # Most specific root first, so WORKDIR/data is written DATA/..., not WORKDIR/data/...
        self.roots = sorted(roots, key=lambda vr: len(str(vr[1])), reverse=True)

    def __call__(self, path: Path) -> str:
        _check_path(path)
        for var, root in self.roots:
            try:
                rel = path.relative_to(root)
            except ValueError:
                continue
            return "f" + repr("{" + var + "}/" + rel.as_posix())
        return repr(str(path))


def _files(render, paths, indent="        ") -> str:
    return "\n".join(f"{indent}{render(p)}," for p in paths)


CAMPAIGN_COMMENT = """#
# The campaign: one rule per model x step x trial cell, each `python -m hepmini bench ... --cell I`
# (the same cell index as `bench --list-cells` and the Slurm export), output its result.json; a
# finished cell is skipped by bench, and Snakemake runs no cell before the reference outputs it
# reads and is validated against. Then `report`. Use --keep-going so one failed cell does not stop
# the others; run `python -m hepmini report CAMPAIGN` by hand for a report on what finished.
"""


def _rule(name: str, comment: str, render, inputs, outputs, command: str) -> str:
    return (f"rule {name}:  # {comment}\n    input:\n{_files(render, inputs)}\n    output:\n"
            f"{_files(render, outputs)}\n    shell:\n        \"{command}\"\n")


def _rules(nodes, names, render, spec, out) -> list:
    """The step rules, then (for a campaign) one rule per cell and the report rule."""
    rules = [_rule(n, nodes[n].title, render, nodes[n].inputs, nodes[n].outputs,
                   f"{{HEPMINI}} run {n} --force {{OPTIONS}}") for n in names]
    if spec is None:
        return rules
    all_cells = cells(spec, out)
    # Bench exits 0 once the cell has a final result (success or not) and non-zero otherwise
    # (a harness error, or the cell held by another process), so its exit code is the job's.
    rules += [_rule(f"cell_{c.index}", f"{c.model} {c.step} trial {c.k}", render,
                    nodes[c.step].inputs + nodes[c.step].outputs, [c.result],
                    f"{{HEPMINI}} bench {{MATRIX}} --cell {c.index} {{OPTIONS}}") for c in all_cells]
    rules.append(_rule("report", "the merge of every cell", render, [c.result for c in all_cells],
                       report_outputs(out), "{HEPMINI} report {CAMPAIGN:q}"))
    return rules


def snakefile(cfg, spec=None, out: Optional[Path] = None) -> str:
    """The Snakefile (snakefile.tmpl): data synthesis and the five steps, plus the cells and report of `spec`."""
    from hepmini.analysis import dag

    cfg = absolute(cfg)
    nodes = dag.build(cfg)
    names = dag.order(nodes)
    data = cfg.effective_data_dir
    for path in (_home(), Path(sys.executable), cfg.workdir, data) + (() if spec is None else (out,)):
        _check_path(path)
    roots = [("HEPMINI_HOME", _home()), ("WORKDIR", cfg.workdir), ("DATA", data)]
    render = _Paths(roots + ([] if spec is None else [("CAMPAIGN", out)]))
    options = ["'--workdir'", "WORKDIR"] + ([] if cfg.data_dir is None else ["'--data-dir'", "DATA"])
    targets = ([p for n in names if n != "data" for p in nodes[n].outputs] if spec is None
               else report_outputs(out))
    matrix = "" if spec is None else ("MATRIX = ' '.join(shlex.quote(arg) for arg in ["
                                      + "".join(f"{a!r}, " for a in bench_args(spec, out)[:-2]) + "'--out', CAMPAIGN])")
    template = string.Template((Path(__file__).with_name("snakefile.tmpl")).read_text(encoding="utf-8"))
    return template.substitute(
        header=_header("snakefile"), campaign_comment="" if spec is None else CAMPAIGN_COMMENT,
        python=repr(str(Path(sys.executable).absolute())), home=repr(str(_home())), workdir=repr(str(cfg.workdir)),
        data_line="DATA = f'{WORKDIR}/data'" if cfg.data_dir is None else f"DATA = {str(data)!r}",
        campaign_line="" if spec is None else f"CAMPAIGN = {str(out)!r}",
        options=", ".join(options + [repr(a) for a in settings_args(cfg, nodes, spec)]), matrix_line=matrix,
        localrules="all" + ("" if spec is None else ", report"), targets=_files(render, targets),
        rules="\n".join(rules for rules in _rules(nodes, names, render, spec, out)))


# ---- Slurm ------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class SlurmOptions:
    """The #SBATCH resources of every job of the campaign."""

    partition: Optional[str] = None
    account: Optional[str] = None
    time: str = "02:00:00"
    cpus_per_task: int = 2
    mem: str = "8G"
    array_parallel: int = 8
    extra: tuple = ()

    def lines(self) -> list:
        out = [f"#SBATCH --time={self.time}", f"#SBATCH --cpus-per-task={self.cpus_per_task}",
               f"#SBATCH --mem={self.mem}"]
        out += [f"#SBATCH --partition={self.partition}"] if self.partition else []
        out += [f"#SBATCH --account={self.account}"] if self.account else []
        return out + [f"#SBATCH {opt}" for opt in self.extra]


def _preamble() -> str:
    return "\n".join([
        "set -euo pipefail",
        "# hepmini runs with the interpreter and tree it was exported from; edit these two lines to use",
        "# another installation (both must be visible on the compute nodes, as must the workdir).",
        f"PYTHON={shlex.quote(str(Path(sys.executable).absolute()))}",
        f"HEPMINI_HOME={shlex.quote(str(_home()))}",
        'export PYTHONPATH="$HEPMINI_HOME${PYTHONPATH:+:$PYTHONPATH}"',
    ])


def slurm_scripts(cfg, spec, out: Path, opts: SlurmOptions) -> dict:
    """{file name: text}: the reference job, the cell array, the merge job and submit.sh."""
    from hepmini.analysis import dag

    cfg = absolute(cfg)
    nodes = dag.build(cfg)
    logs = out / "logs"
    if any(c.isspace() for c in str(logs)):  # #SBATCH lines are split at blanks
        raise ConfigError(f"{out}: the campaign directory of a Slurm export cannot contain blanks")
    n = len(cells(spec, out))
    parallel = max(1, min(opts.array_parallel, n))
    options = _quoted(workflow_args(cfg, nodes, spec))

    def job(name: str, why: list, command: str, array: str = "") -> str:
        head = ["#!/bin/bash", f"#SBATCH --job-name={name}",
                f"#SBATCH --output={logs}/{name}-%A{'_%a' if array else ''}.out"]
        head += [f"#SBATCH --array={array}"] if array else []
        return "\n".join(head + opts.lines() + [_header("slurm"), *why, _preamble(), command]) + "\n"

    scripts = {
        REFERENCE: job("hepmini-reference", [
            "# Bring the reference outputs of the campaign's steps up to date once, before any cell runs,",
            "# so the array tasks find them ready rather than queueing on bench's reference lock."],
            f'exec "$PYTHON" -m hepmini run {_quoted(spec.steps)} {options}'),
        ARRAY: job("hepmini-cells", [
            f"# One array task per cell: task I runs cell I of {n} (models x steps x trials, the order of",
            "# `python -m hepmini bench ... --list-cells`). bench skips a finished cell and re-runs a killed one,",
            "# so resubmitting this script resumes the campaign; `sbatch --array=3,7 <this>` runs chosen cells.",
            f"# At most {parallel} at once (%{parallel}): that bounds the concurrent calls to the model APIs."],
            ': "${SLURM_ARRAY_TASK_ID:?submit with sbatch, or set SLURM_ARRAY_TASK_ID=I to run cell I here}"\n'
            f'exec "$PYTHON" -m hepmini bench {_quoted(bench_args(spec, out))} --cell "$SLURM_ARRAY_TASK_ID" '
            f'{options}', array=f"0-{n - 1}%{parallel}"),
        MERGE: job("hepmini-merge", [
            "# The merge: one report over every cell that finished. Submitted with --dependency=afterany on",
            "# the array, so it runs even when some cells failed; run it again any time for a fresh report."],
            f'exec "$PYTHON" -m hepmini report {shlex.quote(str(out))}'),
    }
    scripts[SUBMIT] = "\n".join([
        "#!/bin/bash",
        _header("slurm"),
        f"# Submit the campaign: the reference job, then the {n} cells as one job array once the reference",
        "# succeeded, then the merge once every cell ended (however it ended). Run it again to resume:",
        "# finished cells are skipped.",
        "set -euo pipefail",
        'here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"',
        'mkdir -p "$here/logs"  # Slurm does not create the directory of --output',
        'submit() { local id; id=$(sbatch --parsable "$@"); echo "${id%%;*}"; }  # the job id without ";cluster"',
        f'ref=$(submit "$here/{REFERENCE}")',
        f'cells=$(submit --dependency=afterok:"$ref" --kill-on-invalid-dep=yes "$here/{ARRAY}")',
        f'merge=$(submit --dependency=afterany:"$cells" "$here/{MERGE}")',
        f'echo "submitted: reference $ref, cells $cells ({n} array tasks), merge $merge"',
        'echo "follow: squeue -j $ref,$cells,$merge   logs: $here/logs"',
    ]) + "\n"
    return scripts


def _quoted(args) -> str:
    return " ".join(shlex.quote(str(a)) for a in args)


# ---- CLI --------------------------------------------------------------------------------------------
