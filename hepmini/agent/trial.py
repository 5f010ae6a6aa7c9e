"""One agent trial's life: its directory, the loop, validation, its status and result.json.

A trial ends with one of STATUSES; trial_status() decides which from how the loop stopped, whether
validation passed and whether the code tampered with anything. Trials live under a run directory as
stepN_title/trial-NNN; chained trials read the outputs of the latest trial of the step before.
"""

import dataclasses
import datetime
import time
import traceback
from pathlib import Path

from hepmini import layout
from hepmini.agent import models, workspace
from hepmini.agent.loop import Settings, loop
from hepmini.agent.record import FORMAT, OUTPUTS, Trial
from hepmini.errors import UsageError, ValidationError
from hepmini.files import atomic_write_json
from hepmini.layout import tree_dir
from hepmini.llm import cassette

CASSETTE = "cassette.jsonl"          # every model call of the trial, replayable (hepmini.llm.cassette)
# status -> what it means; the README and report quote these
STATUSES = {
    "success": "the supervisor accepted and the outputs validate",
    "failed": "validation failed, the supervisor never accepted, or a limit was reached (tokens, cost, time, "
              "or the model's context window outgrown by the trial's own conversation)",
    "format_error": "the last coder reply had no usable ```python block",
    "infrastructure": "a provider call failed after its retries, or the sandbox could not start: not the "
                      "model's fault, kept out of success rates",
    "tampered": "the code changed a protected file, or left a link, device, FIFO, socket or hard link among its "
                "outputs",
    "harness_error": "hepmini itself failed while running the trial (a bug: the traceback is in the evidence)",
    "skipped": "a chained step whose inputs the agent's earlier steps did not make",
    "running": "the trial has started and not ended (a crashed or live process)",
}
FINAL = tuple(s for s in STATUSES if s != "running")
COUNTED = ("success", "failed", "format_error", "tampered")       # the model's own outcomes: success rates
FAILURES = COUNTED[1:]                                             # what the error classification explains
EXCLUDED = ("infrastructure", "skipped", "harness_error")          # not the model's doing


def trial_status(stop: str, passed: bool) -> str:
    """The trial's status from how the loop stopped and whether validation passed.

    >>> trial_status("accepted", True), trial_status("accepted", False), trial_status("max_iterations", True)
    ('success', 'failed', 'failed')
    >>> trial_status("infrastructure", False), trial_status("tampered", True)
    ('infrastructure', 'tampered')
    """
    if stop == "tampered":
        return "tampered"
    if stop in ("infrastructure", "format_error", "harness_error"):
        return stop
    return "success" if stop == "accepted" and passed else "failed"


def run_trial(cfg, step, s: Settings, directory: Path, *, sources: dict, index: int = 1,
              inputs_mode: str = "reference", clients=None, hide=(), limits=None, progress=None,
              replay=None) -> dict:
    """Set up one trial, run the loop, validate, write result.json; return the result. Never raises for a run.

    `sources` maps each input path of the step to the directory holding it; `clients` (supervisor,
    coder) replaces the ones named in `s` (tests pass standins.Replay); `hide` adds directories the
    generated code must not see (the reference answers, reference/ and the workdir always are);
    `limits` replaces the sandbox's default Limits; `progress` (agent.progress) hears the trial live;
    `replay` (a cassette) answers the calls instead of a model. Every call is recorded in cassette.jsonl.
    Whatever goes wrong while handling a run ends this trial with a status (a harness bug: harness_error,
    with the traceback in its evidence) and returns, so the trials after it still run; only Ctrl-C and
    SystemExit pass on, after the trial is recorded.
    """
    missing = workspace.missing_inputs(step, sources)
    if missing:  # e.g. chained on a trial whose outputs were refused: nothing for this one to work on
        where = "the agent's earlier steps" if inputs_mode == "chained" else "the reference outputs"
        why = f"input(s) missing from {where}: {', '.join(missing)}"  # a link counts as missing
        return skip_trial(directory, step, why, {"supervisor": s.supervisor, "coder": s.coder})
    t = Trial(cfg, step, directory, supervisor=s.supervisor, coder=s.coder, settings=dataclasses.asdict(s),
              index=index, inputs_mode=inputs_mode)
    t.hide = [str(Path(p).absolute()) for p in (cfg.workdir, cfg.solution_dir, tree_dir("reference"), *hide)]
    t.limits = limits
    if replay is not None:
        clients = cassette.players(replay, s.supervisor, s.coder, directory)
    made = [] if clients else models.clients_for(cfg, s.supervisor, s.coder, seed=s.fault_seed + index - 1)
    for client in clients or made:    # campaigns running at once share one call log: each call names its trial
        if hasattr(client, "trial"):
            client.trial = str(Path(directory).absolute())
    supervisor, coder = cassette.recorders(clients or made, Path(directory) / CASSETTE)
    meter = None
    try:
        workspace.prepare(t, sources)
        meter = Compute(t)
        loop(t, supervisor, coder, s, progress=progress)
        t.compute = meter.total()
        return conclude(t, supervisor, coder)
    except Exception as exc:  # a bug of hepmini's: this trial says so, the campaign goes on
        return harness_error(t, exc)
    except BaseException as exc:  # Ctrl-C, SystemExit: the trial still says how it ended
        harness_error(t, exc)
        raise
    finally:
        if meter is not None:
            meter.close()
        for client in {id(c): c for c in made}.values():
            client.close()


class Compute:
    """What a trial cost in compute: wall seconds, and CPU seconds of the harness and of a local model's server.

    With a local model there is no bill, so this is its real cost. The server is shared by the trials
    running at once (bench -j) and by other commands, so its CPU seconds are those it used while this trial
    ran, and its load (busy slots, sampled) says how much of that was others' work.
    """

    def __init__(self, t: Trial):
        from hepmini.llm import localserver, serverload

        self.server = localserver.current() if any(m.startswith("local:") for m in (t.supervisor, t.coder)) else None
        self.load = None
        if self.server is not None:
            t.provenance["local_server"] = self.server.describe()
            self.load = serverload.LoadSampler(self.server.url, self.server.slots).start()
        self.start, self.cpu, self.server_cpu = time.monotonic(), time.process_time(), self._server_cpu()

    def _server_cpu(self) -> float:
        return self.server.cpu_seconds() if self.server is not None else 0.0

    def total(self) -> dict:
        return {"wall_seconds": round(time.monotonic() - self.start, 3),
                "harness_cpu_seconds": round(time.process_time() - self.cpu, 3),
                "local_server_cpu_seconds": round(self._server_cpu() - self.server_cpu, 3) if self.server else None,
                "local_server_load": self.close()}

    def close(self):
        """Stop sampling the server's load; what was seen (None without a local server)."""
        return self.load.stop() if self.load is not None else None


def harness_error(t: Trial, exc: BaseException) -> dict:
    """End a trial on an exception of the harness's own: the traceback in the log, trace and result."""
    tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    error = {"kind": type(exc).__name__, "message": str(exc), "traceback": tb}
    reason = f"{type(exc).__name__}: {exc}"
    try:
        if t.stop is None:
            t.end_loop("harness_error", reason, error=error)
        else:  # the loop had ended: validation or the record itself failed
            t.stop, t.reason, t.error = "harness_error", reason, error
        t.log(t.info(f"Harness error: {reason}", "ERROR"), tb.rstrip())
        t.trace("harness_error", error=error)
        return t.finish("harness_error")
    except Exception as again:  # the evidence itself cannot be written: keep the result at least
        t.stop, t.reason, t.error = "harness_error", reason, {**error, "recording": f"{type(again).__name__}: {again}"}
        try:
            return t.write_result("harness_error", ended=datetime.datetime.now())
        except Exception:
            return {"status": "harness_error", "reason": reason, "trial_dir": str(t.dir), "step": t.step.NAME,
                    "cost": None, "error": error}


def conclude(t: Trial, supervisor, coder) -> dict:
    """Validate the harness's copy of the outputs against the reference, decide the status, write the result."""
    from hepmini.analysis import validate

    v0, validation = time.monotonic(), None
    try:
        result = validate.validate_step(t.step, t.dir / OUTPUTS, t.cfg.solution_dir)
        validate.write_logs(result, t.dir / "validation.log")
        validation = {"passed": result.passed, "log": "validation.log", "json": "validation.json",
                      "files": [{"name": f.name, "ok": f.ok, "headline": f.messages[0] if f.messages else ""}
                                for f in result.files]}
    except ValidationError as exc:  # the reference side is broken: not the model's doing
        t.notes.append(f"validation could not run: {exc}")
        t.stop, t.reason = "infrastructure", f"validation could not run: {exc}"
    v_seconds = time.monotonic() - v0
    refused = t.executions[-1]["outputs_refused"] if t.executions else []
    if refused:
        t.notes.append(f"outputs over the limits were not copied, so the trial cannot pass: {', '.join(refused)}")
    passed = bool(validation and validation["passed"]) and not refused
    status = trial_status(t.stop, passed)
    if 0 < t.settings["cost_limit"] and t.cost()["unknown_calls"]:
        t.notes.append("the cost limit could not count calls of unknown price")
    security = {"tampered": sorted({p for e in t.executions for p in e["tampered"]}), "outputs_refused": refused,
                "hidden_from_code": t.hide, "protected": [str(p) for p in workspace.protected(t)],
                "isolation": t.executions[0]["isolation"] if t.executions else None}
    # Ground truth for the error classifier: the coder stand-in's injected fault (if any).
    roles = [role for role, c in (("supervisor", supervisor), ("coder", coder)) if hasattr(c, "describe")]
    scripted = {**(coder if "coder" in roles else supervisor).describe(), "roles": roles} if roles else None
    return t.finish(status, validation=validation, scripted=scripted, security=security,
                    durations=t.durations(validation_seconds=v_seconds))


def step_dir(root: Path, step) -> Path:
    """Where the trials of a step (or composite task) live under a run directory: NAME_title."""
    return Path(root) / f"{step.NAME}_{step.TITLE.replace(' ', '-')}"


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


def producer(rel: str, protocol: str = "paper"):
    """The task of `protocol` that writes `rel`."""
    return next(s for s in layout.tasks(protocol) if rel in s.OUTPUTS)


def chained_sources(root: Path, step, protocol: str = "paper") -> dict:
    """Each input of `step` from the outputs of the latest trial of the task that makes it, under `root`."""
    sources = {}
    for rel in step.INPUTS:
        maker = producer(rel, protocol)
        latest = latest_trial(root, maker)
        if latest is None:
            raise UsageError(f"no agent trial of {maker.NAME} in {root}; run `python -m hepmini agent "
                             f"{maker.NAME} --out {root}` first, or use --inputs reference")
        sources[rel] = latest / OUTPUTS
    return sources


def recorded(run_dir: Path, step) -> list:
    """(cassette, Settings) of every recorded trial of `step` in an earlier `agent` run directory, in order."""
    import json

    names = {f.name for f in dataclasses.fields(Settings)}
    found = []
    for directory in sorted(step_dir(run_dir, step).glob("trial-[0-9]*"), key=lambda p: p.name):
        try:
            settings = json.loads((directory / "result.json").read_text(encoding="utf-8"))["settings"]
        except (OSError, ValueError, KeyError, TypeError):
            continue
        found.append((directory / CASSETTE, Settings(**{k: v for k, v in settings.items() if k in names})))
    if not found:
        raise UsageError(f"no recorded trial of {step.NAME} in {step_dir(run_dir, step)}; name the directory of an "
                         "earlier `agent` run (its --out)")
    return found


def skip_trial(directory: Path, step, reason: str, models: dict) -> dict:
    """The result of a chained step that cannot run because an input is missing."""
    result = {"format": FORMAT, "step": step.NAME, "title": step.TITLE, "trial_dir": str(directory),
              "inputs_mode": "chained", "status": "skipped", "reason": reason, "api_calls": 0, "iterations": 0,
              "tokens": {"input": 0, "output": 0}, "cost": {"total": 0.0}, "validation": None, "models": models}
    atomic_write_json(directory / "result.json", result)
    return result
