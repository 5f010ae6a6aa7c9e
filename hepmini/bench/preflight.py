"""What `bench` checks and says around a run: stand-in faults up front, free disk, the resume line, `--dry-run`.

`--dry-run` runs and writes nothing: it lists the cells a run would start (with why: never run, or to be
cleared and re-run), whether the reference outputs would be rebuilt first, and a cost estimate per model:
the mean known cost of the model's finished trials in DIR (of the same step when there are some), else
its known price times the tokens of its finished trials; a model with neither is "unknown", never $0.
"""

import shutil
from collections import Counter, defaultdict
from types import SimpleNamespace
from typing import Optional

from hepmini.bench import store
from hepmini.errors import ConfigError

NOT_THE_MODEL = ("infrastructure", "skipped")     # outcomes that say nothing about the model: always with a reason
CLEARED = {"running": "killed", "final": "infrastructure"}   # a cell's state -> why a run moves it aside
# Free bytes a cell is started with: its records, and the outputs copied out of its run. A trial that finds the
# disk full ends `infrastructure` after its calls were paid for; better not to start it.
DISK_NEEDED = 2**30


def disk_short(out, needed: int = DISK_NEEDED) -> Optional[str]:
    """Why no more cells may start (too little free space on `out`'s disk), or None when there is room."""
    free = shutil.disk_usage(out).free
    if free >= needed:
        return None
    return (f"only {free / 2**30:.2f} GiB free on the disk of {out} (a cell starts with {needed / 2**30:g} GiB); "
            "no more cells started: free space, then run the same command again to resume")


def check_standins(spec) -> None:
    """Refuse a stand-in name, or a forced scripted fault that cannot be injected into a step of the campaign."""
    from hepmini.agent import standins

    for model in [m for m in spec.models if m.startswith("scripted:")]:
        standins.check_name(model)
        fault = (model.split(":") + ["", ""])[2]
        wrong = [s for s in spec.steps if fault and s not in standins.FAULTS_BY_ID[fault].code]
        if wrong:
            fits = ", ".join(sorted(standins.FAULTS_BY_ID[fault].code))
            raise ConfigError(f"{model}: fault {fault} cannot be injected into {', '.join(wrong)} (only into {fits}); "
                              f"name another fault or leave {'those steps' if len(wrong) > 1 else wrong[0]} out of "
                              "--steps")


def resume_line(resume: dict, done: bool = False) -> str:
    """How a run meets the cells already on disk: finished ones skipped, broken ones cleared and re-run."""
    why = ", ".join(f"{resume[w]} {w}" for w in ("killed", "partial", "corrupt", "error", "infrastructure")
                    if resume.get(w))
    return (f"resume: {resume.get('skipped', 0)} cell(s) finished before (skipped), {resume.get('cleared', 0)} "
            + ("cleared and re-run" if done else "to clear and re-run") + (f" ({why})" if why else "")
            + f", {resume.get('new', 0)} " + ("new" if done else "never run"))


def dry_run(cfg, spec, out, cells, retry_infrastructure=False) -> list:
    """The lines of `bench --dry-run`: the cells a run would start, the reference it needs, the cost estimate."""
    from hepmini.analysis import dag
    from hepmini.bench import specs

    finished, todo, resume = defaultdict(list), [], Counter()
    for i, model, step, k in store.cell_list(spec):
        state, _, result = store.cell_state(store.cell_path(out, model, step, k))
        if state == "final":
            finished[model].append(result)
        if (i, model, step, k) not in cells:
            continue
        if state == "final" and not (retry_infrastructure and result["status"] == "infrastructure"):
            resume["skipped"] += 1
            continue
        if state == "absent":
            resume["new"] += 1
        else:
            resume.update(["cleared", CLEARED.get(state, state)])
        why = "never run" if state == "absent" else f"to clear ({CLEARED.get(state, state)}) and re-run"
        todo.append((i, model, step, k, why))
    stale = [n for n, reasons in dag.plan(cfg, targets=specs.reference_targets(spec)) if reasons]
    lines = [f"dry run: nothing is run or written; campaign in {out} "
             f"({'stored' if (out / 'campaign.json').exists() else 'new'}, {len(cells)} cell(s) asked)",
             "reference outputs in " + str(cfg.solution_dir) + (": up to date" if not stale else
                                                                ": would first run " + ", ".join(stale)),
             resume_line(resume), f"would run {len(todo)} cell(s):"]
    lines += [f"  {i}\t{model}\t{step}\ttrial {k}\t({why})" for i, model, step, k, why in todo]
    return lines + cost_lines(cfg, todo, finished)


def cost_lines(cfg, todo: list, finished: dict) -> list:
    """The estimated cost of the cells in `todo`, per model and in total; unknown stays unknown."""
    per_model, total, unknown = {}, 0.0, 0
    for _, model, step, _, _ in todo:
        dollars, how = estimate(cfg, model, step, finished.get(model, []))
        n, sum_, hows = per_model.get(model, (0, 0.0, set()))
        per_model[model] = (n + 1, None if dollars is None or sum_ is None else sum_ + dollars, hows | {how})
        total, unknown = (total, unknown + 1) if dollars is None else (total + dollars, unknown)
    lines = [f"  {model}: {n} cell(s), {_usd(dollars)} ({'; '.join(sorted(hows))})"
             for model, (n, dollars, hows) in per_model.items()]
    head = (f"estimated cost: {_usd(total)}" + (f" + unknown for {unknown} cell(s)" if unknown else "")
            if todo else "estimated cost: $0 (nothing to run)")
    return [head] + lines


def _usd(dollars) -> str:
    return "unknown" if dollars is None else "$0" if dollars == 0 else f"~${dollars:.4f}"


def estimate(cfg, model: str, step: str, finished: list) -> tuple:
    """(dollars per trial or None when unknown, how it was estimated) for one cell of `model` on `step`."""
    from hepmini.agent import models
    from hepmini.llm import prices

    if models.is_standin(model):
        return 0.0, "scripted stand-in, no cost"
    same_step = [r for r in finished if r.get("step") == step]
    same, where = (same_step, f"{step} trials") if same_step else (finished, "trials of other steps")
    costs = [r["cost"]["total"] for r in same if (r.get("cost") or {}).get("total") is not None]
    if costs:
        return sum(costs) / len(costs), f"mean cost of {len(costs)} finished {where}"
    price = _price(cfg, model)
    if price is None:
        return None, "no known price and no priced trial"
    if price.input == price.output == 0:
        return 0.0, f"free ({price.source or 'price table'})"
    tokens = [r.get("tokens") or {} for r in same if (r.get("tokens") or {}).get("input") is not None]
    if not tokens:
        return None, "price known, no finished trial to estimate its tokens from"
    usage = SimpleNamespace(input=sum(t["input"] for t in tokens) / len(tokens), output=sum(
        t.get("output", 0) for t in tokens) / len(tokens), cached_input=0, cache_write=0, reported=True)
    return prices.cost(price, usage), f"price x mean tokens of {len(tokens)} finished {where}"


def _price(cfg, model: str):
    """The model's Price as the clients would find it, or None; a free endpoint (the local server) costs $0."""
    from hepmini.llm import endpoints, prices

    try:
        provider, name = endpoints.split_model(model, cfg)
    except ConfigError:
        return None
    endpoint = endpoints.PROVIDERS.get(provider)
    if endpoint is not None and endpoint.free:
        return prices.Price(0.0, 0.0, source=f"{provider} server")
    return prices.lookup(provider, [name], resold=endpoint.resold if endpoint else ())
