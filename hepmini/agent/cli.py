"""The `agent` and `all` commands: trials of one step, or the five steps chained (plain `all`: the reference)."""

import dataclasses
import re
import time
from pathlib import Path

from hepmini import layout
from hepmini.agent import models
from hepmini.errors import ConfigError
from hepmini.options import add_dag, add_workflow


def add_models(parser) -> None:
    """--model, --supervisor, --coder and --max-iterations: who plays the two roles, for how long."""
    parser.add_argument("--model", help="provider:model for both roles (offline stand-ins: scripted:oracle, "
                        "scripted:faults)")
    parser.add_argument("--supervisor", help="provider:model of the supervisor (default: --model)")
    parser.add_argument("--coder", help="provider:model of the coder (default: --model)")
    add_iterations(parser)


def add_iterations(parser) -> None:
    parser.add_argument("--max-iterations", type=int, help="coder rounds per trial (default 3: at most 7 API calls)")


def add_trial_limits(parser) -> None:
    """The per-trial limits and sampling flags, shared by `agent` and `bench`."""
    parser.add_argument("--token-limit", type=int, help="stop a trial at this many tokens (default: none)")
    parser.add_argument("--cost-limit", type=float, help="stop a trial at this many dollars (default: none)")
    parser.add_argument("--time-limit", type=float, help="seconds per trial (default 3600)")
    parser.add_argument("--exec-timeout", type=float, help="seconds per run of the generated code (default 600)")
    parser.add_argument("--temperature", type=float, help="sampling temperature sent (default 0, as the paper)")
    parser.add_argument("--max-output-tokens", type=int, help="max_tokens sent per call (default 16384)")
    parser.add_argument("--fault-seed", type=int, help="scripted:faults: trial k uses seed FAULT_SEED + k - 1")
    add_method(parser)


def add_method(parser) -> None:
    """--protocol and --context: how the agent is asked (the method, not the model)."""
    parser.add_argument("--protocol", choices=("paper", "baseline"), help="paper: the five steps, 3 repair rounds "
                        "(default); baseline: paper §V.1's three composite tasks, 5 repair rounds")
    parser.add_argument("--context", choices=("paper", "rich"), help="paper: the task only (default); rich: also the "
                        "files with their contents, the installed packages and the last error (paper §V.1's fix)")


def add_all(parser) -> None:
    add_workflow(parser)
    add_dag(parser)
    add_models(parser)
    add_method(parser)


def add_agent(parser) -> None:
    add_workflow(parser)
    add_models(parser)
    parser.add_argument("step", help="step1..step5")
    parser.add_argument("--trials", type=int, default=1, help="independent trials (default 1)")
    parser.add_argument("--inputs", choices=("reference", "chained"), default="reference",
                        help="reference: the previous step's reference outputs (default); chained: the "
                        "outputs of the latest agent trials of the previous steps in --out")
    parser.add_argument("--out", help="directory of the trials (default WORKDIR/agent/<time>-<step>-<model>)")
    parser.add_argument("--replay", metavar="RUN_DIR", help="answer every call from the cassettes of the trials of "
                        "this earlier `agent` run (no model is called); their settings are used")
    add_trial_limits(parser)


def cmd_all(cfg, args) -> int:
    """`python -m hepmini all`: the reference analysis; with a model, the five steps through the agent."""
    if any(getattr(args, k, None) for k in ("model", "supervisor", "coder")):
        return _agent_all(cfg, args)
    from hepmini.analysis import cli

    return cli.run_reference(cfg, args)


def run_name(s, what: str) -> str:
    models = s.supervisor if s.supervisor == s.coder else f"{s.supervisor}+{s.coder}"
    return f"{time.strftime('%Y%m%d-%H%M%S')}-{what}-{re.sub(r'[^A-Za-z0-9.+-]+', '_', models)}"


def settings_from(cfg, args, default: str = "", check: bool = True):
    """The trial Settings from the `agent` / `all` flags; model names are checked before anything runs."""
    from hepmini.agent.loop import Settings

    model = getattr(args, "model", None) or (default if not (getattr(args, "supervisor", None) or
                                                             getattr(args, "coder", None)) else None)
    supervisor, coder = getattr(args, "supervisor", None) or model, getattr(args, "coder", None) or model
    if not supervisor or not coder:
        raise ConfigError("name the model: --model PROVIDER:MODEL, or --supervisor M and --coder M "
                          "(offline: --model scripted:oracle; the local model: --model local)")
    supervisor, coder = models.canonical(supervisor, cfg), models.canonical(coder, cfg)
    for name in (supervisor, coder) if check else ():
        models.check_model(name, cfg)
    fields = {f.name for f in dataclasses.fields(Settings)} - {"supervisor", "coder"}
    values = {k: getattr(args, k) for k in fields if getattr(args, k, None) is not None}
    protocol = values.get("protocol", "paper")
    values.setdefault("max_iterations", layout.protocols().MAX_ITERATIONS[protocol])
    s = Settings(supervisor=supervisor, coder=coder, **values)
    if s.max_iterations < 1:
        raise ConfigError(f"--max-iterations must be at least 1, not {s.max_iterations}")
    return s


def announce(s) -> None:
    for name in sorted({s.supervisor, s.coder}):
        if models.is_standin(name):
            print(f"NOTE: {name} is an offline SCRIPTED STAND-IN, not a language model: "
                  "these trials exercise the harness, they do not measure a model.")


def _reference(cfg, targets=None) -> None:
    from hepmini.analysis import dag

    print(f"reference outputs in {cfg.solution_dir}:")
    dag.run(cfg, targets=targets, report=lambda line: print(f"  {line}"))


def trial_line(r: dict) -> str:
    """One line per trial: status, validation, work, cost, time, and the reason of a failure not the model's."""
    tokens, cost = r.get("tokens", {}), (r.get("cost") or {}).get("total", None)
    valid = "-" if not r.get("validation") else "PASS" if r["validation"]["passed"] else "FAIL"
    why = f" - {r.get('reason', '')[:300]}" if r["status"] in ("infrastructure", "harness_error", "skipped") or \
        r.get("stop") == "refusal" else ""
    return (f"{r['step']} trial {r.get('trial', '-')}: {r['status']} (validation {valid}, "
            f"{r.get('iterations', 0)} iteration(s), {r.get('api_calls', 0)} API calls, "
            f"{tokens.get('input', 0)} in / {tokens.get('output', 0)} out tokens, "
            f"cost {'unknown' if cost is None else f'${cost:.4f}'}, "
            f"{(r.get('durations') or {}).get('total', 0):.1f} s) -> {r['trial_dir']}{why}")


def cmd_agent(cfg, args) -> int:
    """`python -m hepmini agent STEP [--model M] [--trials K] [--inputs reference|chained] [--out DIR]`."""
    from hepmini.agent import trial

    # a replay answers from the recording: the model it names need not be installed, keyed or reachable
    s = settings_from(cfg, args, default="local", check=not args.replay)
    step = layout.get(args.step, s.protocol)
    recorded = trial.recorded(Path(args.replay), step) if args.replay else []
    if recorded:
        s = recorded[0][1]
    announce(s)
    out = Path(args.out) if args.out else cfg.workdir / "agent" / run_name(s, step.NAME)
    _reference(cfg, getattr(step, "STEPS", [step.NAME]))  # inputs, and the answers validation compares with
    sources = ({rel: cfg.solution_dir for rel in step.INPUTS} if args.inputs == "reference"
               else trial.chained_sources(out, step, s.protocol))
    plan = [(step, sources, path) for path, _ in recorded] or [(step, sources, None)] * args.trials
    results = _trials(cfg, s, plan, out, args.inputs)
    ok = sum(r["status"] == "success" for r in results)
    print(f"{ok}/{len(results)} trial(s) succeeded; supervisor {models.label(s.supervisor)}, coder "
          f"{models.label(s.coder)}; trials in {out}")
    return 0 if ok == len(results) else 1


def _trials(cfg, s, plan, out: Path, inputs_mode: str) -> list:
    """Run the (step, sources) trials of `plan` in order, with live progress and the local server if needed.

    `sources` None means chained: the inputs come from the trials just run in `out`.
    """
    from hepmini.agent import trial
    from hepmini.agent.progress import Progress
    from hepmini.llm.localserver import serving

    progress, results = Progress(), []
    replaying = any(cassette for _, _, cassette in plan)
    with serving(cfg, [] if replaying else [s.supervisor, s.coder], say=progress.line):
        for step, sources, cassette in plan:
            n, directory = trial.new_trial_dir(out, step)
            sources = trial.chained_sources(out, step, s.protocol) if sources is None else sources
            results.append(trial.run_trial(cfg, step, s, directory, sources=sources, index=n, inputs_mode=inputs_mode,
                                           hide=[out], progress=progress.trial(f"{step.NAME} trial {n}"),
                                           replay=cassette))
            print(trial_line(results[-1]) if results[-1]["status"] != "skipped" else
                  f"{step.NAME}: skipped ({results[-1]['reason']})", flush=True)
    return results


def _agent_all(cfg, args) -> int:
    """`python -m hepmini all --model M`: the five steps through the agent, each on its own previous outputs."""
    s = settings_from(cfg, args)
    announce(s)
    _reference(cfg)
    out = cfg.workdir / "agent" / run_name(s, "chained")
    results = _trials(cfg, s, [(task, None, None) for task in layout.tasks(s.protocol)], out, "chained")
    print(f"\nChained analysis by {models.label(s.supervisor)}"
          + ("" if s.coder == s.supervisor else f" + {models.label(s.coder)}") + f" in {out}")
    print(table(results))
    ok = sum(r["status"] == "success" for r in results)
    print(f"{ok}/{len(results)} steps succeeded")
    for line in found_lines(results):
        print(f"agent's {line}")
    return 0 if ok == len(results) else 1


def found_lines(results: list) -> list:
    """The classifier and categories lines of the agent's validated outputs (as `all` prints the reference's)."""
    from hepmini.analysis.cli import results_lines

    rules = layout.rules()
    passed = [Path(r["trial_dir"]) / "outputs" for r in results if r["status"] == "success"]
    home = {rel: next((d for d in passed if (d / rel).is_file() and not (d / rel).is_symlink()), None)
            for rel in (rules.CLASSIFIER_INFO, rules.BOUNDARIES)}
    if not any(home.values()):
        return []
    missing = Path("/nonexistent")
    return results_lines(home[rules.CLASSIFIER_INFO] or missing, home[rules.BOUNDARIES] or missing)


def table(results: list) -> str:
    """The per-step table of a chained run."""
    head = ("step", "title", "status", "valid", "iter", "calls", "tokens in", "tokens out", "cost", "seconds")
    rows = [head]
    for r in results:
        cost = (r.get("cost") or {}).get("total")
        valid = "-" if not r.get("validation") else "PASS" if r["validation"]["passed"] else "FAIL"
        rows.append((r["step"], r["title"], r["status"], valid, str(r.get("iterations", 0)), str(r.get("api_calls", 0)),
                     str(r["tokens"]["input"]), str(r["tokens"]["output"]),
                     "unknown" if cost is None else f"${cost:.4f}",
                     f"{(r.get('durations') or {}).get('total', 0):.1f}"))
    widths = [max(len(row[i]) for row in rows) for i in range(len(head))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows)
