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
}


def _workflow_options(parser):
    parser.add_argument("--workdir", help="where data, outputs and logs go (default ./work)")
    parser.add_argument("--data-dir", help="directory holding GamGam/Data and GamGam/MC "
                        "(default: synthesize into WORKDIR/data)")
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


def build_parser() -> argparse.ArgumentParser:
    """The argparse tree of every subcommand."""
    parser = argparse.ArgumentParser(
        prog="python -m hepmini",
        description="Automate and benchmark a Higgs -> diphoton analysis with LLM agents.")
    parser.add_argument("--version", action="version", version=f"hepmini {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    add = {name: sub.add_parser(name, help=summary, description=summary)
           for name, (_, summary) in COMMANDS.items()}

    for name in ("all", "run", "status", "clean", "agent"):
        _workflow_options(add[name])
    for name in ("all", "run"):
        _dag_options(add[name])
    add["run"].add_argument("steps", nargs="+", metavar="STEP", help="step1..step5 (or data)")
    _model_options(add["all"])
    _model_options(add["agent"])
    _agent_options(add["agent"])
    add["status"].add_argument("--json", action="store_true", help="print machine-readable status")

    add["data"].add_argument("--out", required=True, help="output directory (gets GamGam/Data, GamGam/MC)")
    add["data"].add_argument("--scale", type=float, help="size; 1 = realistic post-selection yields")
    add["data"].add_argument("--seed", type=int, help="random seed (same seed, identical files)")
    add["data"].add_argument("--set", action="append", default=[], metavar="KEY=VALUE")

    add["validate"].add_argument("step", help="step1..step5")
    add["validate"].add_argument("--outputs", required=True, help="directory holding the step's outputs")
    add["validate"].add_argument("--reference", help="reference directory (default WORKDIR/solution)")
    add["validate"].add_argument("--log", help="write the validation log here (and a .json beside it)")
    _workflow_options(add["validate"])

    add["models"].add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    add["ping"].add_argument("model", help="provider:model, e.g. openai:gpt-5-mini")
    add["ping"].add_argument("--prompt", default="Reply with the single word: pong")
    add["ping"].add_argument("--max-tokens", type=int, default=64)
    add["ping"].add_argument("--set", action="append", default=[], metavar="KEY=VALUE")

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
    fetch.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    fetch.epilog = ("Files go to OUT/GamGam/{Data,MC} via a .part file and are renamed only when "
                    "complete and verified; run the same command again to resume. A mirror to pass as the base "
                    "URL: http://opendata.cern.ch/eos/opendata/atlas/OutreachDatasets/2020-01-22")
    return parser


def _config(args):
    from hepmini import config

    overrides = config.parse_set(getattr(args, "set", []))
    for flag, key in (("workdir", "workdir"), ("data_dir", "data_dir"), ("jobs", "jobs"),
                      ("scale", "scale"), ("seed", "seed")):
        value = getattr(args, flag, None)
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
