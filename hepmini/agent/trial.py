"""One agent trial's life: its directory, the loop, validation, its status and result.json.

A trial ends with one of STATUSES; trial_status() decides which from how the loop stopped, whether
validation passed and whether the code tampered with anything. Trials live under a run directory as
stepN_title/trial-NNN; chained trials read the outputs of the latest trial of the step before.
"""

import dataclasses
import os
import time
from pathlib import Path

from hepmini import layout
from hepmini.agent import models
from hepmini.agent.loop import Settings, loop
from hepmini.agent.record import FORMAT, OUTPUTS, Trial, protected
from hepmini.errors import UsageError, ValidationError
from hepmini.files import atomic_write_json
from hepmini.layout import tree_dir

# status -> what it means; the README and report quote these
STATUSES = {
    "success": "the supervisor accepted and the outputs validate",
    "failed": "validation failed, the supervisor never accepted, or a limit was reached",
    "format_error": "the last coder reply had no usable ```python block",
    "infrastructure": "a provider call failed after its retries, or the sandbox could not start: not the "
                      "model's fault, kept out of success rates",
    "tampered": "the code changed a protected file or left an output linking outside its trial",
    "harness_error": "hepmini itself failed while running the trial (a bug: the traceback is in the evidence)",
    "skipped": "a chained step whose inputs the agent's earlier steps did not make",
    "running": "the trial has started and not ended (a crashed or live process)",
}
FINAL = tuple(s for s in STATUSES if s != "running")
COUNTED = ("success", "failed", "format_error", "tampered")       # the model's own outcomes: success rates
FAILURES = COUNTED[1:]                                             # what the error classification explains
EXCLUDED = ("infrastructure", "skipped", "harness_error")          # not the model's doing


def trial_status(stop: str, passed: bool, escaped: bool = False) -> str:
    """The trial's status from how the loop stopped, whether validation passed, and links removed.

    >>> trial_status("accepted", True), trial_status("accepted", False), trial_status("max_iterations", True)
    ('success', 'failed', 'failed')
    >>> trial_status("infrastructure", False), trial_status("accepted", True, escaped=True)
    ('infrastructure', 'tampered')
    """
    if stop == "tampered" or escaped:
        return "tampered"
    if stop in ("infrastructure", "format_error", "harness_error"):
        return stop
    return "success" if stop == "accepted" and passed else "failed"


def run_trial(cfg, step, s: Settings, directory: Path, *, sources: dict, index: int = 1,
              inputs_mode: str = "reference", clients=None, hide=()) -> dict:
    """Set up one trial, run the loop, validate, write result.json; return the result.

    `sources` maps each input path of the step to the directory holding it; `clients` (supervisor,
    coder) replaces the ones named in `s` (tests pass standins.Replay); `hide` adds directories the
    generated code must not see (the reference answers, reference/ and the workdir always are).
    """
    t = Trial(cfg, step, directory, supervisor=s.supervisor, coder=s.coder, settings=dataclasses.asdict(s),
              index=index, inputs_mode=inputs_mode)
    t.hide = [str(Path(p).absolute()) for p in (cfg.workdir, cfg.solution_dir, tree_dir("reference"), *hide)]
    t.prepare(sources)
    made = [] if clients else models.clients_for(cfg, s.supervisor, s.coder, seed=s.fault_seed + index - 1)
    supervisor, coder = clients or made
    try:
        loop(t, supervisor, coder, s)
    except BaseException as exc:  # a harness bug or Ctrl-C: the trial still says how it ended
        t.end_loop("harness_error", f"{type(exc).__name__}: {exc}")
        t.finish("harness_error")
        raise
    finally:
        for client in {id(c): c for c in made}.values():
            client.close()
    return conclude(t, supervisor, coder)


def conclude(t: Trial, supervisor, coder) -> dict:
    """Validate the outputs against the reference, decide the status and write the result."""
    from hepmini.analysis import validate

    escaped = unlink_escapes(t.dir / OUTPUTS, t.dir)
    v0, validation = time.monotonic(), None
    try:
        result = validate.validate_step(t.step.NAME, t.dir / OUTPUTS, t.cfg.solution_dir)
        validate.write_logs(result, t.dir / "validation.log")
        validation = {"passed": result.passed, "log": "validation.log", "json": "validation.json",
                      "files": [{"name": f.name, "ok": f.ok, "headline": f.messages[0] if f.messages else ""}
                                for f in result.files]}
    except ValidationError as exc:  # the reference side is broken: not the model's doing
        t.notes.append(f"validation could not run: {exc}")
        t.stop, t.reason = "infrastructure", f"validation could not run: {exc}"
    v_seconds = time.monotonic() - v0
    if escaped:
        t.notes.append(f"outputs linking outside the trial were removed before validation: {escaped}")
    passed = bool(validation and validation["passed"])
    status = trial_status(t.stop, passed, bool(escaped))
    if 0 < t.settings["cost_limit"] and t.cost()["unknown_calls"]:
        t.notes.append("the cost limit could not count calls of unknown price")
    security = {"tampered": sorted({p for e in t.executions for p in e["tampered"]}),
                "output_links_removed": escaped, "hidden_from_code": t.hide,
                "protected": [str(p) for p in protected(t)],
                "isolation": t.executions[0]["isolation"] if t.executions else None}
    # Ground truth for the error classifier: the coder stand-in's injected fault (if any).
    roles = [role for role, c in (("supervisor", supervisor), ("coder", coder)) if hasattr(c, "describe")]
    scripted = {**(coder if "coder" in roles else supervisor).describe(), "roles": roles} if roles else None
    return t.finish(status, validation=validation, scripted=scripted, security=security,
                    durations=t.durations(validation_seconds=v_seconds))


def unlink_escapes(outputs: Path, trial_dir: Path) -> list:
    """Remove symlinks under `outputs` (or `outputs` itself) that lead outside the trial; list them."""
    found, root = [], os.path.realpath(trial_dir)
    candidates = [outputs] + ([Path(d) / n for d, dirs, files in os.walk(outputs) for n in dirs + files]
                              if not outputs.is_symlink() else [])
    for path in candidates:
        target = os.path.realpath(path)
        if path.is_symlink() and not (target == root or target.startswith(root + os.sep)):
            found.append(f"{path.relative_to(trial_dir)} -> {os.readlink(path)}")
            path.unlink()
    return sorted(found)


def step_dir(root: Path, step) -> Path:
    return Path(root) / f"{step.NAME}_{step.TITLE}"


def new_trial_dir(root: Path, step) -> tuple:
    """(number, directory) of the next free trial-NNN of `step` under `root`, created here."""
    parent = step_dir(root, step)
    parent.mkdir(parents=True, exist_ok=True)
    taken = [int(p.name[6:]) for p in parent.glob("trial-*") if p.name[6:].isdigit()]
    n = max(taken, default=0) + 1
    while True:
        try:
            (parent / f"trial-{n:03d}").mkdir()  # exclusive: a parallel run takes the next number
            return n, parent / f"trial-{n:03d}"
        except FileExistsError:
            n += 1


def latest_trial(root: Path, step):
    """The highest-numbered trial directory of `step` under `root`, or None."""
    trials = sorted((p for p in step_dir(root, step).glob("trial-*") if p.name[6:].isdigit()),
                    key=lambda p: int(p.name[6:]))
    return trials[-1] if trials else None


def producer(rel: str):
    return next(s for s in layout.steps() if rel in s.OUTPUTS)


def chained_sources(root: Path, step) -> dict:
    """Each input of `step` from the outputs of the latest trial of the step that makes it, under `root`."""
    sources = {}
    for rel in step.INPUTS:
        latest = latest_trial(root, producer(rel))
        if latest is None:
            raise UsageError(f"no agent trial of {producer(rel).NAME} in {root}; run `python -m hepmini agent "
                            f"{producer(rel).NAME} --out {root}` first, or use --inputs reference")
        sources[rel] = latest / OUTPUTS
    return sources


def skip_trial(directory: Path, step, reason: str, models: dict) -> dict:
    """The result of a chained step that cannot run because an input is missing."""
    result = {"format": FORMAT, "step": step.NAME, "title": step.TITLE, "trial_dir": str(directory),
              "inputs_mode": "chained", "status": "skipped", "reason": reason, "api_calls": 0, "iterations": 0,
              "tokens": {"input": 0, "output": 0}, "cost": {"total": 0.0}, "validation": None, "models": models}
    atomic_write_json(directory / "result.json", result)
    return result
