"""Run a model x step x trial campaign of agent trials: parallel, resumable, under a hard budget.

`python -m hepmini bench --models M1,M2 --steps step1,...,step5 --trials N [-j K] [--budget USD]
[--max-iterations R] --out DIR [--cell I] [--list-cells] [--retry-infrastructure] [--dry-run]`

Checked before anything is written: the stand-ins' faults, that --out and --workdir are writable, that DIR
holds no other campaign. campaign.json is written only once the reference outputs are built, so a run
whose reference failed (a bad --data-dir) leaves no campaign to refuse its corrected re-run.

Each cell is one agent trial on reference inputs (per-step independence, as in the paper): the
reference outputs are brought up to date once in WORKDIR/solution, and the trial's generated code
sees neither them nor the campaign directory. The directory layout, the spec and the locks are
hepmini.bench.store's (`load_trials`, `cell_list` and `Spec` are re-exported here for bench's callers); the
provider caps, the budget and the progress line are hepmini.bench.pacing's.

- Resume: a cell with a final result.json is never run again; a cell found `running` (killed), partial,
  corrupt or with a harness error is moved aside (trial-<k>.<why>-<time>) and re-run;
  `--retry-infrastructure` does the same for cells that ended `infrastructure`. The counts are said at the
  start and in the summary, and every `infrastructure` or `skipped` trial with its reason.
- Parallel: `-j K` worker threads (a trial waits on HTTP or on the sandbox's subprocess), and at most
  `provider_concurrency` trials per provider. A trial ending `infrastructure` on a rate limit, 5xx or
  timeout halves its provider's cap and pauses it `provider_backoff` seconds (doubling while it goes on);
  each other outcome gives one slot back. An exhausted quota or a refused key stops the provider.
- Budget: a trial starts only if spend + its estimate <= --budget, where spend counts the known cost of
  every trial in DIR (finished, cleared, and the estimates of those in flight) and the estimate is the
  mean known cost of the model's finished trials (0 before its first). Unknown-priced spend is counted
  and reported, never taken as 0 silently.
"""

import os
import sys
import time
from collections import Counter
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from pathlib import Path

from hepmini import __version__
from hepmini.agent.trial import run_trial
from hepmini.bench import specs, store
from hepmini import layout
from hepmini.bench.store import Spec, cell_list
from hepmini.errors import CampaignError
from hepmini.errors import ConfigError
from hepmini.bench.pacing import Budget, Progress, Provider
from hepmini.bench.preflight import CLEARED, NOT_THE_MODEL, check_standins, disk_short, resume_line

load_trials = store.load_trials  # re-exported: a campaign's results are read back through bench too


class Campaign:
    """One run of a campaign (or of one cell) in DIR: scheduling, resumption, budget, progress."""

    def __init__(self, cfg, spec: Spec, out: Path, *, jobs: int, clients_factory=None, retry_infrastructure=False,
                 stream=None):
        self.cfg, self.spec, self.out, self.jobs = cfg, spec, out, max(1, jobs)
        self.clients_factory, self.retry_infrastructure, self.stream = clients_factory, retry_infrastructure, stream
        self.providers = {}
        self.counts, self.budget, self.progress = Counter(), None, None
        self.ran, self.busy, self.harness_errors, self.resume = 0, [], 0, Counter()
        self.replay = None        # a campaign directory whose cassettes answer every call (bench --replay)
        self.disk_note = None     # why no more cells start: the disk is (nearly) full
        from hepmini.agent.progress import Progress as TrialProgress   # calls and runs of the trials, live

        self.trials = TrialProgress(stream or sys.stderr, live=False if stream is not None else None)

    def _cassette(self, model: str, step_name: str, k: int):
        """In a replay, the recorded cassette of this cell in the campaign replayed; else None."""
        if self.replay is None:
            return None
        return store.cell_path(self.replay, model, step_name, k) / "cassette.jsonl"

    def settled(self, state: str, result) -> bool:
        """Whether a cell is finished for this run: final, unless an infrastructure end is to be retried."""
        return state == "final" and not (self.retry_infrastructure and result["status"] == "infrastructure")

    # -- one cell, in a worker thread --

    def run_cell(self, cell) -> tuple:
        """Run one cell under its own lock; ("ran", result) | ("done", result) | ("busy", pid)."""
        from hepmini.agent import loop

        i, model, step_name, k = cell
        path = store.cell_path(self.out, model, step_name, k)
        lock = store.Lock(store.lock_path(path))
        if not lock.acquire(tries=5):
            return "busy", lock.holder()
        try:
            state, detail, result = store.cell_state(path)
            if self.settled(state, result):
                return "done", result
            if state != "absent":
                why = {"running": "killed", "final": "infrastructure"}.get(state, state)
                aside = store.move_aside(path, why)
                store.event(self.out, "cleared", cell=i, model=model, step=step_name, trial=k, why=detail,
                               moved_to=str(aside.relative_to(self.out)))
            step = layout.get(step_name, self.spec.settings.get("protocol", "paper"))
            fields = {f: self.spec.settings[f] for f in store.AGENT_FIELDS if f in self.spec.settings}
            s = loop.Settings(supervisor=model, coder=model, max_iterations=self.spec.max_iterations, **fields)
            clients = self.clients_factory(model, step_name, k) if self.clients_factory else None
            return "ran", run_trial(self.cfg, step, s, path, sources={r: self.cfg.solution_dir
                                                                             for r in step.INPUTS},
                                          index=k, inputs_mode="reference", clients=clients, hide=[self.out],
                                          progress=self.trials.trial(f"{model} {step_name} trial {k}"),
                                          replay=self._cassette(model, step_name, k))
        except Exception as exc:  # a harness bug: result.json (if any) says "harness_error"; a resume re-runs the cell
            why = f"{type(exc).__name__}: {exc}"
            store.event(self.out, "harness_error", cell=i, model=model, step=step_name, trial=k, error=why)
            return "ran", {"status": "harness_error", "reason": why, "cost": None}
        finally:
            lock.release()

    # -- the scheduler, in the main thread --

    def run(self, cells: list) -> dict:
        """Run the cells not yet finished; return the summary."""
        spec, cfg = self.spec, self.cfg
        for model in spec.models:
            self.providers.setdefault(provider_of(model), Provider(cfg.provider_concurrency, cfg.provider_concurrency,
                                                                   cfg.provider_backoff))
        self.budget, asked, todo = Budget(spec.budget), set(cells), []
        for cell in cell_list(spec):  # the budget counts the whole campaign, whatever this run is asked to do
            path = store.cell_path(self.out, *cell[1:])
            state, _, result = store.cell_state(path)
            if state == "final":
                self.budget.add(cell[1], result)
            elif state != "absent":
                self.budget.add_spend(*store.trial_spend(path))
            if cell not in asked:
                continue
            if self.settled(state, result):
                self.counts[result["status"]] += 1
                self.resume["skipped"] += 1
            else:
                todo.append(cell)
                if state == "absent":
                    self.resume["new"] += 1
                else:
                    self.resume.update(["cleared", CLEARED.get(state, state)])
        for path in store.aside_dirs(self.out, spec):  # money paid by cleared trials is spent all the same
            self.budget.add_spend(*store.trial_spend(path))
        self.progress = Progress(len(cells), len(todo), self.stream)
        if self.resume["skipped"] or self.resume["cleared"]:
            self.progress.note(resume_line(self.resume))
        left = self.schedule(todo)
        return self.summary(cells, left)

    def schedule(self, todo: list) -> list:
        """Start cells as slots, providers and the budget allow; return the cells never started."""
        pending, running = list(todo), {}
        pool = ThreadPoolExecutor(max_workers=self.jobs, thread_name_prefix="bench")
        try:
            while True:
                now = time.monotonic()
                while len(running) < self.jobs:
                    cell = next((c for c in pending if self.providers[provider_of(c[1])].ready(now)
                                 and self.budget.allows(c[1])), None)
                    if cell is None or self.out_of_disk():
                        break
                    pending.remove(cell)
                    self.providers[provider_of(cell[1])].running += 1
                    self.budget.reserved[cell[0]] = cell[1]
                    running[pool.submit(self.run_cell, cell)] = cell
                wake = self.wake(pending, now)
                if not running and wake is None:
                    return pending
                if not running:
                    time.sleep(max(wake - now, 0.0))
                    continue
                done, _ = wait(running, timeout=None if wake is None else max(wake - now, 0.0),
                               return_when=FIRST_COMPLETED)
                for future in done:
                    self.finish(running.pop(future), *future.result())
        except KeyboardInterrupt:
            self.progress.note(f"interrupted: waiting for {len(running)} cell(s) in flight (Ctrl-C or SIGTERM "
                               "again abandons them; a resume re-runs them)")
            try:
                for future in list(running):
                    self.finish(running.pop(future), *future.result())
            except KeyboardInterrupt:
                self.progress.close()
                os._exit(130)  # the worker threads cannot be stopped; their cells read `running` and are re-run
            raise
        finally:
            pool.shutdown(wait=True)

    def out_of_disk(self) -> bool:
        """True once the disk is too full to start a cell (said once, and kept in campaign.jsonl)."""
        if self.disk_note is None:
            self.disk_note = disk_short(self.out)
            if self.disk_note:
                store.event(self.out, "disk_short", why=self.disk_note)
                self.progress.note(self.disk_note)
        return self.disk_note is not None

    def wake(self, pending: list, now: float):
        """When a paused provider with a startable cell resumes; None when no such pause (or no room to start)."""
        if self.disk_note:
            return None
        times = [p.paused_until for c in pending for p in [self.providers[provider_of(c[1])]]
                 if not p.stopped and p.paused_until > now and self.budget.allows(c[1])]
        return min(times) if times else None

    def finish(self, cell, outcome: str, value) -> None:
        """Account for one cell that came back from a worker."""
        i, model, step, k = cell
        provider = self.providers[provider_of(model)]
        provider.running -= 1
        self.budget.reserved.pop(i, None)
        if outcome == "busy":
            self.busy.append(cell)
            self.progress.note(f"cell {i} ({model} {step} trial {k}) is being run by pid {value}; left to it")
            return
        result = value
        if outcome == "ran":
            self.ran += 1
            self.progress.ran += 1
            if result["status"] == "harness_error":  # what it spent is in its trace
                self.harness_errors += 1
                self.budget.add_spend(*store.trial_spend(store.cell_path(self.out, model, step, k)))
            else:
                self.budget.add(model, result)
                self.counts[result["status"]] += 1
                change = provider.outcome(result, time.monotonic())
                if change:
                    store.event(self.out, "provider", provider=provider_of(model), change=change, cap=provider.cap)
                    self.progress.note(f"{provider_of(model)}: {change}")
        else:
            self.counts[result["status"]] += 1
        valid = result.get("validation") or {}
        head = f"{model} {step} trial {k}: {result['status']}"
        if result["status"] in NOT_THE_MODEL + ("harness_error",):   # not the model's doing: say why, not FAIL
            head += f" - {str(result.get('reason') or 'no reason recorded')[:300]}"
        elif valid:
            head += " (validation PASS)" if valid.get("passed") else " (validation FAIL)"
        self.progress.show(self.status_line(), head)

    def status_line(self) -> str:
        done = sum(self.counts.values())
        counted = done - self.counts["infrastructure"] - self.counts["skipped"]
        running = sum(p.running for p in self.providers.values())
        return self.progress.line(done, self.counts["success"], counted, self.budget, running)

    def summary(self, cells: list, left: list) -> dict:
        self.progress.close()
        stopped = {name: p.stopped for name, p in self.providers.items() if p.stopped}
        by_provider = [c for c in left if self.providers[provider_of(c[1])].stopped]
        by_disk = [c for c in left if c not in by_provider] if self.disk_note else []
        counts, not_model = Counter(), []  # from disk: what other processes finished meanwhile counts too
        for c in cells:
            state, _, result = store.cell_state(store.cell_path(self.out, *c[1:]))
            if state == "final":
                counts[result["status"]] += 1
                if result["status"] in NOT_THE_MODEL:
                    not_model.append(f"{c[1]} {c[2]} trial {c[3]}: {result['status']} - "
                                     f"{str(result.get('reason') or 'no reason recorded')[:300]}")
        finished = sum(counts.values())
        return {"cells": len(cells), "finished": finished, "ran": self.ran, "statuses": dict(counts),
                "passed": counts["success"], "counted": finished - counts["infrastructure"] - counts["skipped"],
                "spend_known": round(self.budget.known, 8), "unknown_priced_trials": self.budget.unknown_trials,
                "unknown_priced_calls": self.budget.unknown_calls, "budget": self.spec.budget,
                "not_started_budget": len(left) - len(by_provider) - len(by_disk),
                "not_started_provider": len(by_provider), "not_started_disk": len(by_disk), "disk": self.disk_note,
                "providers_stopped": stopped, "busy_elsewhere": len(self.busy), "harness_errors": self.harness_errors,
                "resume": dict(self.resume), "not_the_model": not_model}


def provider_of(model: str) -> str:
    return model.split(":", 1)[0]


def run_campaign(cfg, spec: Spec, out, *, jobs=None, cell=None, clients_factory=None, retry_infrastructure=False,
                 stream=None, replay=None) -> dict:
    """Run (or resume) the campaign `spec` in `out`; with `cell`, only that cell. Return the summary.

    `replay` (a campaign directory) answers every call from its cells' cassettes: no model is called.

    `clients_factory(model, step, k) -> (supervisor, coder)` replaces the clients the agent would make
    (tests pass ScriptedLLM or loopback clients). A full run holds DIR/campaign.lock; `cell` runs (Slurm
    array tasks) do not, so many can share DIR: every cell is run under its own lock.
    """
    from hepmini.analysis import dag
    from hepmini.llm.localserver import serving

    out = Path(out).absolute()
    if cfg.provider_concurrency < 1:
        raise ConfigError(f"provider_concurrency must be at least 1, not {cfg.provider_concurrency}")
    check_standins(spec)
    store.check_writable(out, "--out")          # one line each, before anything is written
    store.check_writable(cfg.workdir, "--workdir")
    lock = None if cell is not None else store.take_campaign_lock(out)
    try:
        stored = store.check_spec(out, spec)    # another campaign is refused before the reference is built
        planned = stored.widened(spec) if stored else spec
        pick_cells(planned, cell)
        jobs = cfg.jobs if jobs is None else jobs
        for name in [m for m in planned.models if m.startswith("scripted:")]:
            _say(stream, f"NOTE: {name} is an offline SCRIPTED STAND-IN, not a language model: its trials "
                 "exercise the harness, they do not measure a model.")
        # The reference inputs, once; concurrent campaigns on one workdir build them one at a time.
        with store.Lock(cfg.workdir / ".bench-reference.lock") as ref:
            ref.acquire(blocking=True)
            dag.run(cfg, targets=specs.reference_targets(planned), report=lambda line: _say(stream, f"reference: {line}"))
        # Only now the spec is written: a run whose reference failed (a bad --data-dir) leaves no campaign behind.
        spec = store.ensure_spec(out, spec)
        cells = pick_cells(spec, cell)
        store.event(out, "start", mode="campaign" if cell is None else f"cell {cell}", jobs=jobs,
                    budget=spec.budget, argv=sys.argv[1:], hepmini_version=__version__)
        run = Campaign(cfg, spec, out, jobs=jobs, clients_factory=clients_factory,
                       retry_infrastructure=retry_infrastructure, stream=stream)
        local = [] if clients_factory else spec.models       # one server for the campaign, a slot per trial at once
        run.replay = Path(replay).absolute() if replay else None
        if replay:
            local = []                                       # the replies come from the cassettes
            cells = _recorded_cells(run.replay, cells, stream)
        with serving(cfg, local, slots=jobs, say=lambda line: _say(stream, line)):
            summary = run.run(cells)
        store.event(out, "end", **summary)
        return summary
    finally:
        if lock is not None:
            lock.release()


def _recorded_cells(source: Path, cells: list, stream) -> list:
    """The cells a replayed campaign finished (an unfinished or partly kept one has no recording of the rest)."""
    # a cell killed mid-trial (`running`) or ended by a harness error has no outcome of the model's to reproduce
    found = [c for c in cells if store.cell_state(store.cell_path(source, *c[1:]))[0] == "final"]
    if len(found) < len(cells):
        _say(stream, f"replay: {len(cells) - len(found)} of {len(cells)} cell(s) have no record in {source}; "
             "only the recorded ones are replayed")
    return found


def pick_cells(spec: Spec, cell=None) -> list:
    """The cells of `spec`, or only cell number `cell`; CampaignError when it is outside the matrix."""
    cells = cell_list(spec)
    if cell is None:
        return cells
    if not 0 <= cell < len(cells):
        raise CampaignError(f"--cell {cell} is outside the matrix: cells are 0..{len(cells) - 1}")
    return [cells[cell]]


def _say(stream, text: str) -> None:
    print(f"bench: {text}", file=stream or sys.stderr, flush=True)
