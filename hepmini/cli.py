"""The command line: `python -m hepmini COMMAND`; main(argv) returns the exit code.

Handlers are imported lazily from the table below, so `--help` and an up-to-date `all` never
import numpy, uproot or torch.
"""

import argparse
import importlib
import sys

from hepmini import __version__
from hepmini.errors import HepminiError

# name -> (module:function, one-line summary); the handler is called as handler(cfg, args) -> int.
COMMANDS = {
    "all": ("hepmini.dag:cli_all", "run the whole analysis (reference steps; with --model, the agent)"),
    "run": ("hepmini.dag:cli_run", "run the named steps (and whatever they need that is stale)"),
    "status": ("hepmini.dag:cli_status", "show which steps are up to date and why the others are not"),
    "data": ("hepmini.synth:cli_data", "write synthetic ROOT files in the 2020 ATLAS GamGam format"),
    "clean": ("hepmini.dag:cli_clean", "remove the outputs of the workdir (the data is kept)"),
    "agent": ("hepmini.agent:cli_agent", "run a step through the supervisor-coder agent, in trials"),
    "validate": ("hepmini.validate:cli_validate", "compare a step's outputs with the reference"),
    "models": ("hepmini.llm:cli_models", "list known models, endpoints, prices and whether a key is set"),
    "ping": ("hepmini.llm:cli_ping", "send one short request to a model and show reply, tokens, cost"),
    "fetch-data": ("hepmini.fetch:cli_fetch", "download the real 2020 ATLAS Open Data GamGam files"),
    "classify": ("hepmini.classify:cli_classify", "say why failed trials failed (rules; with --model, also the LLM)"),
    "report": ("hepmini.report:cli_report", "write a campaign's report.html and summary.csv/.json/.md"),
    "bench": ("hepmini.bench:cli_bench", "run a model x step x trial campaign of agent trials (resumable, "
              "parallel, budgeted)"),
    "export": ("hepmini.export:cli_export", "write the work out for a cluster: a Snakefile or a Slurm job array"),
}


def _workflow_options(parser):
    parser.add_argument("--workdir", help="where data, outputs and logs go (default ./work)")
    parser.add_argument("--data-dir", help="directory holding GamGam/Data and GamGam/MC "
                        "(default: synthesize into WORKDIR/data)")
    _set_option(parser)


def _set_option(parser):
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override a setting (repeatable), e.g. --set classifier=hgb")


def _dag_options(parser):
    parser.add_argument("-j", "--jobs", type=int, help="run up to N independent steps at once")
    parser.add_argument("-n", "--dry-run", action="store_true", help="say what would run, run nothing")
    parser.add_argument("-f", "--force", action="store_true", help="run the steps even if up to date")


def _model_options(parser):
    parser.add_argument("--model", help="provider:model for both roles (offline stand-ins: scripted:oracle, "
                        "scripted:faults)")
    parser.add_argument("--supervisor", help="provider:model of the supervisor (default: --model)")
    parser.add_argument("--coder", help="provider:model of the coder (default: --model)")
    parser.add_argument("--max-iterations", type=int, help="coder rounds per trial (default 3: at most 7 API calls)")


def _agent_options(parser):
    parser.add_argument("step", help="step1..step5")
    parser.add_argument("--trials", type=int, default=1, help="independent trials (default 1)")
    parser.add_argument("--inputs", choices=("reference", "chained"), default="reference",
                        help="reference: the previous step's reference outputs (default); chained: the "
                        "outputs of the latest agent trials of the previous steps in --out")
    parser.add_argument("--out", help="directory of the trials (default WORKDIR/agent/<time>-<step>-<model>)")
    parser.add_argument("--token-limit", type=int, help="stop a trial at this many tokens (default: none)")
    parser.add_argument("--cost-limit", type=float, help="stop a trial at this many dollars (default: none)")
    parser.add_argument("--time-limit", type=float, help="seconds per trial (default 3600)")
    parser.add_argument("--exec-timeout", type=float, help="seconds per run of the generated code (default 600)")
    parser.add_argument("--temperature", type=float, help="sampling temperature sent (default 0, as the paper)")
    parser.add_argument("--max-output-tokens", type=int, help="max_tokens sent per call (default 16384)")
    parser.add_argument("--fault-seed", type=int, help="scripted:faults: trial k uses seed FAULT_SEED + k - 1")


def _bench_options(parser):
    parser.add_argument("--models", help="provider:model,... each for both roles (offline: scripted:oracle,"
                        "scripted:faults); omitted: the campaign stored in --out")
    parser.add_argument("--steps", help="step1,...,step5 (default all five)")
    parser.add_argument("--trials", type=int, help="trials per model and step (default 1; may grow on a re-run)")
    parser.add_argument("-j", "--jobs", type=int, help="trials at once (threads; default 1)")
    parser.add_argument("--budget", type=float, metavar="USD", help="no trial starts once the known spend plus "
                        "its estimate would pass this many dollars")
    parser.add_argument("--max-iterations", type=int, help="coder rounds per trial (default 3)")
    parser.add_argument("--out", required=True, help="the campaign directory (re-run the command to resume)")
    parser.add_argument("--cell", type=int, metavar="I", help="run only cell I (0-based; for Slurm array tasks)")
    parser.add_argument("--list-cells", action="store_true", help="print I<TAB>model<TAB>step<TAB>k per cell, "
                        "run nothing")
    parser.add_argument("--retry-infrastructure", action="store_true", help="re-run cells that ended "
                        "infrastructure (provider or sandbox failures)")
    for flag, kind, what in (("--token-limit", int, "tokens per trial"), ("--cost-limit", float, "dollars per trial"),
                             ("--time-limit", float, "seconds per trial (default 3600)"),
                             ("--exec-timeout", float, "seconds per run of the generated code (default 600)"),
                             ("--temperature", float, "sampling temperature (default 0)"),
                             ("--max-output-tokens", int, "max_tokens per call (default 16384)"),
                             ("--fault-seed", int, "scripted:faults: trial k uses seed FAULT_SEED + k - 1")):
        parser.add_argument(flag, type=kind, help=what)


def _classify_report_options(classify, report):
    classify.add_argument("trials", nargs="+", metavar="TRIAL_DIR", help="trial directories, or directories "
                          "holding them (e.g. a campaign)")
    classify.add_argument("--model", help="also ask this provider:model, with the paper's classifier prompt")
    classify.add_argument("--force", action="store_true", help="ask the model again even if it already answered")
    _set_option(classify)
    report.add_argument("dir", metavar="DIR", help="a campaign directory (python -m hepmini bench --out DIR)")
    _set_option(report)


def build_parser() -> argparse.ArgumentParser:
    """The argparse tree of every subcommand."""
    parser = argparse.ArgumentParser(
        prog="python -m hepmini",
        description="Automate and benchmark a Higgs -> diphoton analysis with LLM agents.")
    parser.add_argument("--version", action="version", version=f"hepmini {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    add = {name: sub.add_parser(name, help=summary, description=summary)
           for name, (_, summary) in COMMANDS.items()}

    for name in ("all", "run", "status", "clean", "agent", "bench"):
        _workflow_options(add[name])
    for name in ("all", "run"):
        _dag_options(add[name])
    add["run"].add_argument("steps", nargs="+", metavar="STEP", help="step1..step5 (or data)")
    _model_options(add["all"])
    _model_options(add["agent"])
    _agent_options(add["agent"])
    _bench_options(add["bench"])
    add["status"].add_argument("--json", action="store_true", help="print machine-readable status")

    add["data"].add_argument("--out", required=True, help="output directory (gets GamGam/Data, GamGam/MC)")
    add["data"].add_argument("--scale", type=float, help="size; 1 = realistic post-selection yields")
    add["data"].add_argument("--seed", type=int, help="random seed (same seed, identical files)")
    _set_option(add["data"])

    add["validate"].add_argument("step", help="step1..step5")
    add["validate"].add_argument("--outputs", required=True, help="directory holding the step's outputs")
    add["validate"].add_argument("--reference", help="reference directory (default WORKDIR/solution)")
    add["validate"].add_argument("--log", help="write the validation log here (and a .json beside it)")
    _workflow_options(add["validate"])

    _set_option(add["models"])
    add["ping"].add_argument("model", help="provider:model, e.g. openai:gpt-5-mini")
    add["ping"].add_argument("--prompt", default="Reply with the single word: pong")
    add["ping"].add_argument("--max-tokens", type=int, default=64)
    _set_option(add["ping"])

    fetch = add["fetch-data"]
    fetch.add_argument("--out", required=True, help="directory to fill (gets GamGam/Data, GamGam/MC); "
                       "an interrupted download resumes here")
    fetch.add_argument("--files", default="data,mc", help="data, mc, or sample names such as "
                       "data_A,mc_343981.ggH125_gamgam (default data,mc: all nine)")
    fetch.add_argument("--base-url", help="where GamGam/{Data,MC}/ live (default the public ATLAS Open "
                       "Data URL, or setting fetch_base_url; a mirror is named below)")
    fetch.add_argument("--sha256", metavar="FILE", help="verify against this sha256sum manifest "
                       "(ATLAS publishes none; e.g. the GamGam.sha256 a previous fetch wrote)")
    fetch.add_argument("--retries", type=int, metavar="N", help="failed attempts in a row before a "
                       "file is given up (default 8)")
    _set_option(fetch)
    fetch.epilog = ("Files go to OUT/GamGam/{Data,MC} via a .part file and are renamed only when "
                    "complete and verified; run the same command again to resume. A mirror to pass as the base "
                    "URL: http://opendata.cern.ch/eos/opendata/atlas/OutreachDatasets/2020-01-22")
    _export_options(add["export"])
    _classify_report_options(add["classify"], add["report"])
    return parser


def _matrix_options(parser, required: bool):
    """The campaign matrix, as `bench` takes it."""
    parser.add_argument("--models", "--model", dest="models", required=required, metavar="M1,M2",
                        help="provider:model names, comma-separated" + ("" if required else
                        " (a campaign: one rule per model x step x trial cell, and the report)"))
    parser.add_argument("--steps", help="steps of the campaign, comma-separated (default all five)")
    parser.add_argument("--trials", type=int, default=1, help="trials per model and step (default 1)")
    parser.add_argument("--max-iterations", type=int, help="coder rounds per trial (default 3)")
    parser.add_argument("--budget", type=float, metavar="USD", help="hard budget of the campaign in dollars")


def _export_options(parser):
    targets = parser.add_subparsers(dest="target", metavar="TARGET", required=True)
    snake = targets.add_parser("snakefile", help="a Snakefile: the steps (and a campaign's cells) as rules",
                               description="Write DIR/Snakefile: the data synthesis and the five steps as "
                               "Snakemake rules running `python -m hepmini run STEP`; with --models, also one "
                               "rule per benchmark cell and the report.")
    snake.add_argument("--out", metavar="DIR", help="where the Snakefile goes (and, with --models, the "
                       "campaign's cells and report; default the current directory)")
    _matrix_options(snake, required=False)
    _workflow_options(snake)
    slurm = targets.add_parser("slurm", help="a Slurm job array: one task per cell, then the merge",
                               description="Write a Slurm job array (one task per model x step x trial cell), "
                               "the reference job before it, the merge after it, and DIR/submit.sh.")
    _matrix_options(slurm, required=True)
    slurm.add_argument("--out", metavar="DIR", required=True, help="the campaign directory: scripts, logs, "
                       "cells and report")
    slurm.add_argument("--partition", help="#SBATCH --partition (default: the site's)")
    slurm.add_argument("--account", help="#SBATCH --account (default: the site's)")
    slurm.add_argument("--time", default="02:00:00", help="wall time per job (default 02:00:00)")
    slurm.add_argument("--cpus-per-task", type=int, default=2, help="CPUs per job (default 2)")
    slurm.add_argument("--mem", default="8G", help="memory per job (default 8G)")
    slurm.add_argument("--array-parallel", type=int, default=8, metavar="P",
                       help="at most P cells at once, the %%P of --array (default 8)")
    slurm.add_argument("--sbatch-option", action="append", default=[], metavar="OPT",
                       help="one more #SBATCH line, e.g. --sbatch-option=--qos=long (repeatable)")
    _workflow_options(slurm)


def _config(args):
    from hepmini import config

    overrides = config.parse_set(getattr(args, "set", []))
    for key in ("workdir", "data_dir", "jobs", "scale", "seed"):  # flags named as their settings
        value = getattr(args, key, None)
        if value is not None:
            overrides[key] = value
    return config.resolve(overrides)


def main(argv=None) -> int:
    """Parse `argv`, run the command and return its exit code; user errors print one line."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.command:
        parser.print_help()
        return 2
    target, _ = COMMANDS[args.command]
    module_name, func_name = target.split(":")
    try:
        cfg = _config(args)
        handler = getattr(importlib.import_module(module_name), func_name)
        return int(handler(cfg, args) or 0)
    except HepminiError as exc:
        print(f"hepmini: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("hepmini: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 141
