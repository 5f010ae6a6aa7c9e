"""The campaign commands: `bench` (run or resume), `diagnose` (why trials failed), `report`, `view`, `export`."""

import argparse
import shlex
import sys
import time
from pathlib import Path

from hepmini.agent import models
from hepmini.agent.cli import add_iterations, add_trial_limits
from hepmini.errors import ConfigError
from hepmini.options import add_set, add_workflow


def add_bench(parser) -> None:
    add_workflow(parser)
    parser.add_argument("--models", help="provider:model,... each for both roles (offline: scripted:oracle,"
                        "scripted:faults); on an existing campaign, its models and those to add; omitted: the "
                        "campaign stored in --out")
    parser.add_argument("--steps", help="step1,...,step5 (default all five); on an existing campaign, its steps and "
                        "those to add")
    parser.add_argument("--trials", type=int, help="trials per model and step (default 1; may grow on a re-run)")
    parser.add_argument("-j", "--jobs", type=int, help="trials at once (threads; default 1)")
    parser.add_argument("--budget", type=float, metavar="USD", help="no trial starts once the known spend plus "
                        "its estimate would pass this many dollars")
    add_iterations(parser)
    parser.add_argument("--out", required=True, help="the campaign directory (re-run the command to resume)")
    parser.add_argument("--cell", type=int, metavar="I", help="run only cell I (0-based; for Slurm array tasks)")
    parser.add_argument("--list-cells", action="store_true", help="print I<TAB>model<TAB>step<TAB>k per cell, "
                        "run nothing")
    parser.add_argument("--retry-infrastructure", action="store_true", help="re-run cells that ended "
                        "infrastructure (provider or sandbox failures)")
    parser.add_argument("-n", "--dry-run", action="store_true", help="list the cells a run would start and "
                        "estimate their cost; run and write nothing")
    parser.add_argument("--replay", metavar="DIR", help="re-run campaign DIR's trials into --out with the replies "
                        "its cassettes recorded: no model is called; its spec and settings are used")
    add_trial_limits(parser)


def add_diagnose(parser) -> None:
    parser.add_argument("trials", nargs="+", metavar="TRIAL_DIR", help="trial directories, or directories "
                        "holding them (e.g. a campaign)")
    parser.add_argument("--model", help="also ask this provider:model, with the paper's classifier prompt")
    parser.add_argument("--force", action="store_true", help="ask the model again even if it already answered")
    parser.add_argument("--control", choices=["reversed"], help="with --model: ask once more with the category list "
                        "reversed, a control for answers that follow the list's order (one more call per failure)")
    parser.add_argument("--log-chars", type=_log_chars, metavar="N", help="with --model: cut each log in the "
                        "classifier's prompt to N characters (head and tail; default 120000) from the first call, "
                        "for a slow local model (recorded as logs_cut_to_chars)")
    add_set(parser)


def _log_chars(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1000:
        raise argparse.ArgumentTypeError(f"{text!r}: give a whole number of characters, at least 1000")
    return value


def add_report(parser) -> None:
    parser.add_argument("dirs", nargs="+", metavar="DIR", help="campaign directories (python -m hepmini bench --out "
                        "DIR); several are merged into one report")
    parser.add_argument("--out", metavar="OUT", help="where the report goes (default: DIR itself; needed for "
                        "several campaigns); its links to the trials are relative to it")
    _add_all_models(parser)
    add_set(parser)


def _add_all_models(parser) -> None:
    parser.add_argument("--all-models", action="store_true", help="plot every model in Figs. 3-5 (default: the "
                        "models with at least one success in every step, as in paper §V.4)")


def _add_matrix(parser, required: bool) -> None:
    """The campaign matrix, as `bench` takes it."""
    parser.add_argument("--models", "--model", dest="models", required=required, metavar="M1,M2",
                        help="provider:model names, comma-separated" + ("" if required else
                        " (a campaign: one rule per model x step x trial cell, and the report)"))
    parser.add_argument("--steps", help="steps of the campaign, comma-separated (default all five)")
    parser.add_argument("--trials", type=int, default=1, help="trials per model and step (default 1)")
    add_iterations(parser)
    parser.add_argument("--budget", type=float, metavar="USD", help="hard budget of the campaign in dollars")


def add_export(parser) -> None:
    targets = parser.add_subparsers(dest="target", metavar="TARGET", required=True)
    snake = targets.add_parser("snakefile", help="a Snakefile: the steps (and a campaign's cells) as rules",
                               description="Write DIR/Snakefile: the data synthesis and the five steps as "
                               "Snakemake rules running `python -m hepmini run STEP`; with --models, also one "
                               "rule per benchmark cell and the report.")
    snake.add_argument("--out", metavar="DIR", help="where the Snakefile goes (and, with --models, the "
                       "campaign's cells and report; default the current directory)")
    _add_matrix(snake, required=False)
    add_workflow(snake)
    slurm = targets.add_parser("slurm", help="a Slurm job array: one task per cell, then the merge",
                               description="Write a Slurm job array (one task per model x step x trial cell), "
                               "the reference job before it, the merge after it, and DIR/submit.sh.")
    _add_matrix(slurm, required=True)
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
    add_workflow(slurm)



def _replay(cfg, args, out: Path) -> int:
    """`bench --replay SRC --out DIR`: SRC's campaign again, every call answered by its cassettes."""
    from hepmini.bench.campaign import run_campaign
    from hepmini.bench.specs import spec_from_args
    from hepmini.bench.store import check_spec
    from hepmini.errors import CampaignError

    source = Path(args.replay).absolute()
    if source == out:
        raise CampaignError(f"--replay {source} and --out name the same directory; replay into another one")
    args.models = args.steps = None
    cfg, spec = spec_from_args(cfg, args, source)
    check_spec(out, spec)
    s = run_campaign(cfg, spec, out, cell=args.cell, replay=source)
    print(f"replayed {s['finished']}/{s['cells']} cell(s) of {source} into {out}: "
          + (", ".join(f"{k} {v}" for k, v in sorted(s["statuses"].items())) or "none"))
    return 0 if s["finished"] == s["cells"] else 1


def cmd_bench(cfg, args) -> int:
    """`python -m hepmini bench ...`: run, resume or list a campaign; 0 when every cell asked for has finished."""
    from hepmini.bench.campaign import pick_cells, run_campaign
    from hepmini.bench.specs import spec_from_args
    from hepmini.bench.preflight import check_standins, dry_run, resume_line
    from hepmini.bench.store import cell_list, check_spec

    out = Path(args.out).absolute()
    if getattr(args, "replay", None):
        return _replay(cfg, args, out)
    if not args.models and not (out / "campaign.json").exists():
        args.models = "local"       # no model named and no campaign to resume: the local model
        print(f"bench: no --models and no campaign in {out}: using the local model (--models local)", file=sys.stderr)
    if args.models:
        args.models = ",".join(models.canonical(m.strip(), cfg) for m in args.models.split(",") if m.strip())
    cfg, spec = spec_from_args(cfg, args, out)
    check_spec(out, spec)
    pick_cells(spec, args.cell)  # a wrong --cell fails before anything is listed or run
    if args.list_cells:
        for i, model, step, k in cell_list(spec):
            print(f"{i}\t{model}\t{step}\t{k}")
        return 0
    check_standins(spec)
    if args.dry_run:
        for line in dry_run(cfg, spec, out, pick_cells(spec, args.cell), args.retry_infrastructure):
            print(line)
        return 0
    for name in spec.models:
        models.check_model(name, cfg)
    s = run_campaign(cfg, spec, out, cell=args.cell, retry_infrastructure=args.retry_infrastructure)
    statuses = ", ".join(f"{k} {v}" for k, v in sorted(s["statuses"].items())) or "none"
    rate = f" ({100 * s['passed'] / s['counted']:.1f} %)" if s["counted"] else ""
    print(f"{s['finished']}/{s['cells']} cell(s) finished ({s['ran']} run now): {statuses}; passed "
          f"{s['passed']}/{s['counted']}{rate}, infrastructure excluded; in {out}")
    if s["resume"].get("skipped") or s["resume"].get("cleared"):
        print(resume_line(s["resume"], done=True))
    for line in s["not_the_model"][:20]:
        print(f"  {line}")
    if len(s["not_the_model"]) > 20:
        print(f"  and {len(s['not_the_model']) - 20} more (python -m hepmini report {out} lists them all)")
    unknown = (f" + {s['unknown_priced_trials']} trial(s) of unknown price ({s['unknown_priced_calls']} call(s))"
               if s["unknown_priced_trials"] or s["unknown_priced_calls"] else "")
    budget = "no budget" if s["budget"] is None else f"budget ${s['budget']:g}"
    print(f"spend ${s['spend_known']:.4f} known{unknown}; {budget}"
          + (f"; {s['not_started_budget']} cell(s) not started: budget" if s["not_started_budget"] else ""))
    for name, why in s["providers_stopped"].items():
        print(f"{name}: stopped ({why}); {s['not_started_provider']} cell(s) not started - fix it and re-run")
    if s["not_started_disk"]:
        print(f"{s['not_started_disk']} cell(s) not started: {s['disk']}")
    if s["busy_elsewhere"]:
        print(f"{s['busy_elsewhere']} cell(s) were being run by another process")
    if s["harness_errors"]:
        print(f"{s['harness_errors']} cell(s) ended in a harness error (see campaign.jsonl); a re-run retries them")
    return 0 if s["finished"] == s["cells"] else 1


def _diagnose_each(dirs, client, force: bool, control=None, log_chars=None) -> tuple:
    """Classify every trial (one line each); (truth pairs, rules-vs-LLM pairs, counts, failed LLM calls, failures)."""
    from hepmini.agent.progress import Progress
    from hepmini.bench.diagnose import LLM_LOG_CHARS, classify_trial

    truth, llm_pairs, counts, failed_calls, progress, failures = [], [], {}, 0, Progress(), []
    for n, d in enumerate(dirs, 1):
        reporter = progress.trial(f"classify {n}/{len(dirs)}")
        listen = reporter.call("classifier", 1) if client else None
        control_listen = reporter.call(f"classifier (list {control})", 2) if client and control else None
        c = classify_trial(d, client=client, force=force, control=control, on_event=listen,
                           on_control_event=control_listen, log_chars=log_chars or LLM_LOG_CHARS)
        category = c["rule"]["category"]
        if category is None:
            continue
        failures.append(c)
        counts[category] = counts.get(category, 0) + 1
        llm_part, extra = c.get("llm") or {}, ""
        if llm_part:
            extra = f" | llm {llm_part.get('model')}: {llm_part.get('category')}"
            extra += f" (FLAGGED: {llm_part['flagged']})" if llm_part.get("flagged") else ""
            if llm_part.get("category"):
                llm_pairs.append((category, llm_part["category"]))
            else:
                failed_calls += 1
        if control and c.get("llm_control"):
            extra += f" | list {control}: {c['llm_control'].get('category')}"
            failed_calls += c["llm_control"].get("category") is None
        if c["ground_truth"]:
            truth.append((c["ground_truth"], category))
            extra += f" | injected: {c['ground_truth']}{'' if c['ground_truth'] == category else '  <-- MISS'}"
        why = "; ".join(c["rule"]["evidence"][1:2] or c["rule"]["evidence"][:1])
        print(f"{c['step'] or '?'} {d}: {c['status']} -> {category} [{c['rule']['rule']}: {why[:160]}]{extra}")
    return truth, llm_pairs, counts, failed_calls, failures


def cmd_diagnose(cfg, args) -> int:
    """`python -m hepmini diagnose TRIAL_DIR... [--model M] [--force]`."""
    from hepmini.bench.agreement import confusion, matrix_text, position_control, position_text
    from hepmini.bench.diagnose import CATEGORIES, RULES_VERSION, trial_dirs

    dirs = trial_dirs(args.trials)
    if not dirs:
        raise ConfigError(f"no trial directory (one holding result.json) in {' '.join(args.trials)}")
    if args.log_chars and not args.model:
        raise ConfigError("--log-chars cuts the LLM classifier's prompt: name its model with --model (e.g. --model local)")
    if args.control and not args.model:
        raise ConfigError("--control asks the LLM classifier again: name its model with --model (e.g. --model local)")
    if args.model:
        if models.is_standin(args.model):
            raise ConfigError("the scripted stand-ins cannot classify errors; name a model (e.g. "
                              "--model cborg:gpt-oss-120b, the paper's classifier) or leave --model out for the rules")
        args.model = models.canonical(args.model, cfg)
        models.check_model(args.model, cfg, what="nothing was sent")
    from hepmini.llm.localserver import serving

    with serving(cfg, [args.model] if args.model else [], say=lambda line: print(line, file=sys.stderr)):
        client = models.client_for(args.model, cfg) if args.model else None
        try:
            each = _diagnose_each(dirs, client, args.force, args.control, args.log_chars)
            truth, llm_pairs, counts, failed_calls, failures = each
        finally:
            if client is not None:
                client.close()
    total = sum(counts.values())
    print(f"\n{len(dirs)} trial(s), {total} failure(s) classified by the rules (v{RULES_VERSION}):")
    for category in CATEGORIES:
        if counts.get(category):
            print(f"  {category:<28} {counts[category]}")
    if truth:
        conf = confusion(truth)
        print(f"\nrule classifier accuracy against the injected faults (scripted stand-in ground truth): "
              f"{conf['agree']}/{conf['n']} = {100 * conf['rate']:.1f} %")
        print(matrix_text(conf, "injected", "rules"))
    if llm_pairs:
        conf = confusion(llm_pairs)
        print(f"\nrules vs LLM agreement: {conf['agree']}/{conf['n']} = {100 * conf['rate']:.1f} %")
        print(matrix_text(conf, "rules", "llm"))
    position = position_control(failures)
    if position["n"]:
        print(f"\n{position_text(position)}")
    if failed_calls:
        print(f"\n{failed_calls} LLM call(s) failed (see classification.json); run the command again to retry them")
    return 1 if failed_calls else 0


def cmd_report(cfg, args) -> int:
    """`python -m hepmini report DIR... [--out OUT] [--all-models]`: 0 when the report holds a finished trial."""
    from hepmini.bench import merge
    from hepmini.bench.fmt import SCRIPTED_NOTE
    from hepmini.bench.report import summary_of

    merge.check_dirs(args.dirs, args.out)
    out = Path(args.out if args.out else args.dirs[0])
    t0 = time.monotonic()
    records, problems, info = merge.collect(args.dirs)
    if not records and not problems:
        raise ConfigError(f"{' '.join(args.dirs)}: no trials under cells/ yet; is it a campaign directory?")
    spec = info["campaigns"][0]["spec"] if len(args.dirs) == 1 else {"models": info["models"], "steps": info["steps"]}
    summary = summary_of(records, problems, spec, all_models=args.all_models, campaigns=info)
    paths = _write_report(out, summary, records)
    for line in merge.describe(info):
        print(line)
    o = summary["overall"]
    print(f"{len(records)} trial(s): {o['n_success']}/{o['n_counted']} succeeded"
          f" ({o['n_infrastructure']} infrastructure, {o['n_skipped']} skipped, excluded); "
          f"{len(problems)} problem(s)")
    for p in problems[:20]:
        print(f"  problem: {p}")
    truth = summary["classifier"]["rules_vs_truth"]
    if truth:
        print(f"rule classifier accuracy against the injected faults: {truth['agree']}/{truth['n']} = "
              f"{100 * truth['rate']:.1f} %")
    if summary["scripted_models"]:
        print(f"NOTE: {', '.join(summary['scripted_models'])}: {SCRIPTED_NOTE}")
    print(f"report: {paths['html']} (also {paths['csv'].name}, {paths['trials'].name}, {paths['json'].name}, "
          f"{paths['md'].name}) in {time.monotonic() - t0:.1f} s")
    if not records:
        print(f"no finished trial in {' '.join(args.dirs)}: every cell is a problem (listed above)", file=sys.stderr)
        return 1
    return 0


def _write_report(out: Path, summary: dict, records: list) -> dict:
    """The report files in `out`; one line (ConfigError) when `out` cannot be written."""
    from hepmini.bench.report import write

    try:
        out.mkdir(parents=True, exist_ok=True)
        return write(out, summary, records)
    except OSError as exc:
        raise ConfigError(f"cannot write the report into {out} ({exc.strerror or exc}): give --out DIR somewhere "
                          "writable") from None


def cmd_export(cfg, args) -> int:
    """`python -m hepmini export snakefile|slurm ...`: write the work out for Snakemake or Slurm."""
    from hepmini.bench.export import (SNAKEFILE, SUBMIT, SlurmOptions, campaign_from, slurm_scripts, snakefile,
                                      write_script)

    out = Path(args.out or ".").expanduser().absolute()
    if args.target == "snakefile":
        spec = campaign_from(cfg, args, out) if args.models else None
        text = snakefile(cfg, spec, out)
        out.mkdir(parents=True, exist_ok=True)
        path = write_script(out / SNAKEFILE, text)
        rules = text.count("\nrule ") - 1
        print(f"wrote {path} ({rules} rules besides `all`); run it with: cd {shlex.quote(str(out))} && "
              "snakemake --cores N" + (" --keep-going" if spec else "")
              + "   (dry run: -n; on Slurm: --executor slurm)")
        return 0
    if args.array_parallel < 1 or args.cpus_per_task < 1:
        raise ConfigError("--array-parallel and --cpus-per-task must be at least 1")
    spec = campaign_from(cfg, args, out)
    opts = SlurmOptions(partition=args.partition, account=args.account, time=args.time,
                        cpus_per_task=args.cpus_per_task, mem=args.mem, array_parallel=args.array_parallel,
                        extra=tuple(args.sbatch_option))
    scripts = slurm_scripts(cfg, spec, out, opts)
    (out / "logs").mkdir(parents=True, exist_ok=True)
    for name, text in scripts.items():
        write_script(out / name, text, 0o755)
    print(f"wrote {', '.join(scripts)} in {out}; submit with: bash {shlex.quote(str(out / SUBMIT))}")
    return 0


def add_view(parser) -> None:
    parser.add_argument("dir", metavar="DIR", help="a campaign directory")
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: a free one)")
    _add_all_models(parser)
    add_set(parser)


def cmd_view(cfg, args) -> int:
    """`python -m hepmini view DIR [--port P]`: serve DIR on 127.0.0.1 until Ctrl-C; 0 when stopped so."""
    from hepmini.bench.view import serve

    return serve(Path(args.dir), port=args.port, all_models=args.all_models)
