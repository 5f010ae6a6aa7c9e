"""The command line: `python -m hepmini COMMAND`; main(argv) returns the exit code.

Each command belongs to one layer, whose `cli.py` declares its options (`add_<command>`) and runs it
(`cmd_<command>`). Those modules import only argparse-level code at the top, so `--help` and an
up-to-date `all` never import numpy, uproot or torch. Exit codes: 0 success, 1 a run that failed,
2 a usage error (a bad flag, setting, name or path), 130 interrupted (Ctrl-C), 143 terminated (SIGTERM:
the trial in progress still records how it ended).
"""

import argparse
import importlib
import signal
import sys
import threading

from hepmini import __version__
from hepmini.errors import HepminiError, Terminated

# name -> (layer whose cli.py runs it, one-line summary)
COMMANDS = {
    "all": ("agent", "run the whole analysis (reference steps; with --model, the agent, chained)"),
    "run": ("analysis", "run the named steps (and whatever they need that is stale)"),
    "status": ("analysis", "show which steps are up to date and why the others are not"),
    "clean": ("analysis", "remove the outputs of the workdir (the data is kept)"),
    "validate": ("analysis", "compare a step's outputs with the reference"),
    "data": ("data", "write synthetic ROOT files in the 2020 ATLAS GamGam format"),
    "fetch-data": ("data", "download the real 2020 ATLAS Open Data GamGam files"),
    "models": ("llm", "list known models, endpoints, prices and whether a key is set"),
    "ping": ("llm", "send one short request to a model and show reply, tokens, cost"),
    "serve": ("llm", "run the local model's llama-server in the foreground (other commands then use it)"),
    "local-model": ("llm", "install the local model (llama-server and Qwen2.5-Coder-1.5B) or show its state"),
    "agent": ("agent", "run a step through the supervisor-coder agent, in trials"),
    "bench": ("bench", "run a model x step x trial campaign of agent trials (resumable, parallel, budgeted)"),
    "diagnose": ("bench", "say why failed trials failed (rules; with --model, also the paper's LLM classifier)"),
    "report": ("bench", "write the report of one or more campaigns: report.html and summary.csv/.json/.md"),
    "view": ("bench", "serve a campaign directory on 127.0.0.1: the report, every trial, live while it runs"),
    "export": ("bench", "write the work out for a cluster: a Snakefile or a Slurm job array"),
}
ALIASES = {"classify": "diagnose"}   # the command's name before 0.2


def _layer_cli(layer: str):
    return importlib.import_module(f"hepmini.{layer}.cli")


def _function(prefix: str, command: str):
    return getattr(_layer_cli(COMMANDS[command][0]), f"{prefix}_{command.replace('-', '_')}")


def build_parser() -> argparse.ArgumentParser:
    """The argparse tree of every subcommand."""
    parser = argparse.ArgumentParser(
        prog="python -m hepmini",
        description="Automate and benchmark a Higgs -> diphoton analysis with LLM agents.")
    parser.add_argument("--version", action="version", version=f"hepmini {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (_, summary) in COMMANDS.items():
        aliases = [a for a, target in ALIASES.items() if target == name]
        _function("add", name)(sub.add_parser(name, help=summary, description=summary, aliases=aliases))
    return parser


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
    command = ALIASES.get(args.command, args.command)
    previous = _stop_on_sigterm()
    try:
        cfg = _config(args)
        return int(_function("cmd", command)(cfg, args) or 0)
    except HepminiError as exc:
        print(f"hepmini: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except Terminated:
        print("hepmini: terminated by SIGTERM", file=sys.stderr)
        return 143
    except KeyboardInterrupt:
        print("hepmini: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 141
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _stop_on_sigterm():
    """Make SIGTERM stop a command as Ctrl-C does, so a trial killed by `kill` still records how it ended.

    The first SIGTERM raises Terminated; the default action is back for a second one (a process that must
    die now). Returns the handler to restore, None when not in the main thread (signals are main-thread only).
    """
    if threading.current_thread() is not threading.main_thread():
        return None

    def terminate(signum, frame):
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        raise Terminated("stopped by SIGTERM")

    return signal.signal(signal.SIGTERM, terminate)
