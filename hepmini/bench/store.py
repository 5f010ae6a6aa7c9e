"""A campaign directory on disk: its spec, its cells and their locks, and reading the results back.

Layout of a campaign directory DIR (`python -m hepmini bench ... --out DIR`):

    campaign.json          the Spec: models, steps, trials, max_iterations, budget, the settings that
                           affect results, hepmini version, created time. Written atomically once;
                           rewritten (atomically) only when --trials grows, --budget changes or models
                           or steps are added (after the stored ones; no cell is touched)
    campaign.lock          flock held by the one full campaign running on DIR; holds its pid
    campaign.jsonl         append-only events: run start/end, cells cleared, provider backoffs, models
                           or steps added (widened)
    .spec.lock             flock held for a moment while campaign.json is checked or written
    cells/<model_slug>/<step>/trial-<k>/        one agent trial (hepmini.agent.trial layout, result.json)
    cells/<model_slug>/<step>/.trial-<k>.lock   the cell's own flock, held by whoever runs the cell
    cells/<model_slug>/<step>/trial-<k>.<why>-<time>/   a cleared cell, kept for inspection
                           (why: killed, partial, corrupt, error, infrastructure)

model_slug is the model name with ':' replaced by '__' and '/' by '_' (scripted:oracle ->
scripted__oracle, cborg:openai/gpt-5 -> cborg__openai_gpt-5). The matrix is models (as given) x
steps (as given) x trial k = 1..N; a cell's index is its 0-based position in that order.
"""

import dataclasses
import datetime
import fcntl
import json
import os
import re
import threading
import time
from pathlib import Path
from typing import Optional

from hepmini.agent.trial import FINAL
from hepmini import __version__
from hepmini.errors import CampaignBusy, CampaignError, WorkdirError
from hepmini.files import append_jsonl, atomic_write_json, read_jsonl
from hepmini.bench.pacing import spend_of

FORMAT = "hepmini-campaign-1"
# Settings that change what a trial does, so a campaign fixes them (max_iterations is a field of its own).
AGENT_FIELDS = ("token_limit", "cost_limit", "time_limit", "exec_timeout", "temperature", "max_output_tokens",
                "fault_seed", "protocol", "context")
METHOD_DEFAULTS = {"protocol": "paper", "context": "paper"}   # what a campaign stored before they existed used
CONFIG_FIELDS = ("scale", "seed", "classifier", "data_dir", "tabpfn_model", "tabpfn_estimators",
                 "classifier_max_train", "classifier_folds")
TRIAL_DIR = re.compile(r"trial-(\d+)")


def slug(model: str) -> str:
    """A model name as a directory name.

    >>> slug("scripted:oracle"), slug("cborg:openai/gpt-5")
    ('scripted__oracle', 'cborg__openai_gpt-5')
    """
    return model.replace(":", "__").replace("/", "_")


@dataclasses.dataclass(frozen=True)
class Spec:
    """What a campaign is: the matrix, the per-trial settings and where it came from."""

    models: tuple
    steps: tuple
    trials: int
    max_iterations: int = 3
    budget: Optional[float] = None       # dollars; None = no cap
    settings: dict = dataclasses.field(default_factory=dict)
    inputs_mode: str = "reference"       # per-step independence, as in the paper
    hepmini_version: str = __version__
    created: str = ""
    workdir: str = ""                    # where the reference inputs were built (not compared)
    format: str = FORMAT

    @classmethod
    def load(cls, directory) -> "Spec":
        """The spec in DIR/campaign.json; CampaignError when it is missing or unreadable."""
        path = Path(directory) / "campaign.json"
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            fields = {f.name for f in dataclasses.fields(cls)}
            spec = cls(**{k: v for k, v in data.items() if k in fields})
            spec = dataclasses.replace(spec, settings={**METHOD_DEFAULTS, **(spec.settings or {})})
            return dataclasses.replace(spec, models=tuple(spec.models), steps=tuple(spec.steps))
        except FileNotFoundError:
            raise CampaignError(f"{directory} is not a campaign directory (no campaign.json); start one with "
                                "python -m hepmini bench --models M --out DIR") from None
        except (OSError, ValueError, TypeError) as exc:
            raise CampaignError(f"{path} is unreadable ({type(exc).__name__}: {exc}); fix or remove it") from None

    def to_json(self) -> dict:
        return {**dataclasses.asdict(self), "models": list(self.models), "steps": list(self.steps)}

    def differences(self, other: "Spec") -> list:
        """What makes `other` a different campaign (trials and budget aside)."""
        out = [f"{name} {_show(getattr(self, name))} here, {_show(getattr(other, name))} asked"
               for name in ("models", "steps") if getattr(self, name) != getattr(other, name)]
        return out + self.result_differences(other)

    def result_differences(self, other: "Spec") -> list:
        """The settings that change results (result_settings) and differ between the two, one line each."""
        mine, theirs = result_settings(self), result_settings(other)
        return [f"{key} {_show(mine.get(key))} here, {_show(theirs.get(key))} asked"
                for key in sorted(set(mine) | set(theirs), key=_setting_order) if mine.get(key) != theirs.get(key)]

    def mismatch(self, other: "Spec") -> list:
        """What `other` may not change: a result-changing setting, a model or step removed, fewer trials."""
        # models and steps may be added: widened() keeps every cell already run, under its own name
        diffs = [f"{name} {_show(getattr(self, name))} here, {_show(getattr(other, name))} asked (models and "
                 "steps may be added, not removed)" for name in ("models", "steps")
                 if not set(getattr(self, name)) <= set(getattr(other, name))]
        diffs += self.result_differences(other)
        if other.trials < self.trials:
            diffs.append(f"trials {self.trials} here, {other.trials} asked")
        return diffs

    def widened(self, other: "Spec") -> "Spec":
        """This spec with `other`'s new models and steps appended, and its trials and budget."""
        return dataclasses.replace(self, models=self.models + tuple(m for m in other.models if m not in self.models),
                                   steps=self.steps + tuple(s for s in other.steps if s not in self.steps),
                                   trials=other.trials, budget=other.budget)


def result_settings(spec: Spec) -> dict:
    """Everything in a spec that changes what its trials do: two campaigns' cells pool only when these agree."""
    return {"max_iterations": spec.max_iterations, "inputs_mode": spec.inputs_mode, **spec.settings}


def _setting_order(key: str):
    return (key not in ("max_iterations", "inputs_mode"), key)


def _show(value) -> str:
    return ",".join(value) if isinstance(value, (tuple, list)) else repr(value)


def cell_list(spec: Spec) -> list:
    """[(index, model, step, k)] in matrix order: models x steps x trials k = 1..N."""
    cells = [(model, step, k) for model in spec.models for step in spec.steps for k in range(1, spec.trials + 1)]
    return [(i, *cell) for i, cell in enumerate(cells)]


def cell_path(directory, model: str, step: str, k: int) -> Path:
    return Path(directory) / "cells" / slug(model) / step / f"trial-{k}"


def lock_path(trial_dir: Path) -> Path:
    # Beside the trial dir, not in it: a killed cell's dir is moved aside, its lock must stay put.
    return trial_dir.parent / f".{trial_dir.name}.lock"


def ensure_spec(directory: Path, spec: Spec) -> Spec:
    """Write DIR/campaign.json, or check `spec` against it; return the stored spec (updated if need be).

    More trials than stored may be asked, and more models and steps (appended after the stored ones);
    never fewer, and never another result-changing setting. campaign.json is then rewritten. Cell
    indices follow the matrix, but the cells on disk are named by (model, step, k): none is touched.
    """
    path = directory / "campaign.json"
    with Lock(directory / ".spec.lock") as lock:
        lock.acquire(blocking=True)
        if not path.exists():
            atomic_write_json(path, spec.to_json())
            return spec
        stored = check_spec(directory, spec)
        wider = stored.widened(spec)
        if wider != stored:
            added = {"models": list(wider.models[len(stored.models):]), "steps": list(wider.steps[len(stored.steps):])}
            atomic_write_json(path, wider.to_json())
            if added["models"] or added["steps"]:   # the cells already run stay as they are, under their names
                event(directory, "widened", **added)
        return wider


def check_spec(directory: Path, spec: Spec):
    """The spec stored in DIR (None when there is none); CampaignError when `spec` is another campaign."""
    if not (Path(directory) / "campaign.json").exists():
        return None
    stored = Spec.load(directory)
    diffs = stored.mismatch(spec)
    if diffs:
        raise CampaignError(f"{directory} holds a different campaign ({'; '.join(diffs)}): use another --out, "
                            f"or resume it with its own options (python -m hepmini bench --out {directory})")
    return stored


def check_writable(directory: Path, flag: str) -> None:
    """WorkdirError (one line, the flag to change) unless `directory` can be created and written to.

    Probed by a file made and removed in it, or in its nearest existing parent: nothing is left behind.
    """
    directory = Path(directory).absolute()
    existing = next(p for p in (directory, *directory.parents) if p.exists())
    probe = existing / f".probe-{os.getpid()}-{threading.get_ident()}"
    try:
        if not existing.is_dir():
            raise NotADirectoryError(20, "Not a directory", str(existing))
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise WorkdirError(f"{directory} is not writable ({exc.strerror or exc}); pass {flag} with a directory "
                           "you can write") from None


def event(directory: Path, name: str, **fields) -> None:
    """Append one event to DIR/campaign.jsonl."""
    now = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="milliseconds")
    append_jsonl(directory / "campaign.jsonl", {"time": now, "pid": os.getpid(), "event": name, **fields})


# ---- locks -------------------------------------------------------------------------------------


class Lock:
    """An flock on a file that holds the holder's pid; the kernel drops it when the holder dies (kill -9)."""

    def __init__(self, path: Path):
        self.path, self.fd = Path(path), None

    def acquire(self, blocking: bool = False, tries: int = 1) -> bool:
        """Take the lock; False when another holder has it (after `tries` attempts 50 ms apart)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        for attempt in range(tries):
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
                break
            except BlockingIOError:
                if attempt + 1 == tries:
                    os.close(fd)
                    return False
                time.sleep(0.05)  # load_trials may be peeking at it for a microsecond
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self.fd = fd
        return True

    def held_elsewhere(self) -> bool:
        """Whether another open of the file holds the lock now (a shared probe, released at once)."""
        try:
            fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            return False
        except BlockingIOError:
            return True
        finally:
            os.close(fd)

    def holder(self) -> str:
        try:
            return self.path.read_text().strip() or "unknown"
        except OSError:
            return "unknown"

    def release(self) -> None:
        if self.fd is not None:
            os.close(self.fd)  # closing drops the flock; the file stays for the next holder
            self.fd = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.release()


def take_campaign_lock(directory: Path) -> Lock:
    """The exclusive lock of a full campaign on DIR; CampaignBusy naming the holder when taken."""
    lock = Lock(directory / "campaign.lock")
    if not lock.acquire():
        raise CampaignBusy(f"{directory} is in use by another campaign (pid {lock.holder()}, "
                           f"{lock.path}); wait for it to end or stop it, then re-run to resume")
    return lock


# ---- cells on disk -----------------------------------------------------------------------------


def cell_state(path: Path) -> tuple:
    """(state, detail, result) of a trial dir; state: absent | final | running | partial | corrupt | error."""
    if not path.exists():
        return "absent", "not run", None
    try:
        result = json.loads((path / "result.json").read_text(encoding="utf-8"))
    except FileNotFoundError:
        return "partial", "no result.json (killed while the trial was being set up)", None
    except (OSError, ValueError) as exc:
        return "corrupt", f"unreadable result.json ({type(exc).__name__})", None
    status = result.get("status") if isinstance(result, dict) else None
    if status == "running":
        return "running", "status running (killed mid-run, or in flight)", result
    if status == "harness_error":
        return "error", f"harness error: {result.get('reason', '')}", result
    if status not in FINAL or result.get("step") != path.parent.name:
        return "corrupt", f"result.json is not a trial result of {path.parent.name} (status {status!r})", None
    return "final", status, result


def move_aside(path: Path, why: str) -> Path:
    """Rename a trial dir to trial-<k>.<why>-<time> (kept for inspection, never deleted); return it."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    target, n = path.with_name(f"{path.name}.{why}-{stamp}"), 1
    while target.exists():
        n += 1
        target = path.with_name(f"{path.name}.{why}-{stamp}-{n}")
    os.rename(path, target)
    return target


def trial_spend(path: Path) -> tuple:
    """(known dollars, calls of unknown price) a trial dir spent: from result.json, else from its trace."""
    state, _, result = cell_state(path)
    if state in ("final", "error") and isinstance(result.get("cost"), dict):
        return spend_of(result["cost"])
    calls = [e for e in read_jsonl(path / "trace.jsonl") if e.get("event") == "call"]
    return sum(c["cost"] for c in calls if c.get("cost") is not None), sum(c.get("cost") is None for c in calls)


def aside_dirs(directory: Path, spec: Spec) -> list:
    """Every cleared trial dir (trial-<k>.<why>-<time>) of the campaign's models and steps."""
    found = []
    for model in spec.models:
        for step in spec.steps:
            parent = Path(directory) / "cells" / slug(model) / step
            if parent.is_dir():
                found += [p for p in parent.iterdir() if p.is_dir() and "." in p.name
                          and TRIAL_DIR.fullmatch(p.name.split(".", 1)[0])]
    return sorted(found)


def load_trials(directory) -> tuple:
    """(records, problems): every finished cell's result.json plus model, step, trial, cell, path.

    Cells still `running` (killed, or in flight), partial, corrupt or harness-error directories are
    reported in `problems`, one line each, and skipped; never fatal. Cells never run are absent.
    """
    directory = Path(directory)
    spec = Spec.load(directory)
    index = {(model, step, k): i for i, model, step, k in cell_list(spec)}
    models = {slug(m): m for m in spec.models}
    records, problems = [], []
    root = directory / "cells"
    for model_dir in sorted(root.iterdir()) if root.is_dir() else []:
        if model_dir.name not in models:
            if not model_dir.name.startswith("."):
                problems.append(f"{_rel(model_dir, directory)}: not a model of this campaign; skipped")
            continue
        model = models[model_dir.name]
        for step_dir in sorted(model_dir.iterdir()):
            if step_dir.name not in spec.steps:
                problems.append(f"{_rel(step_dir, directory)}: not a step of this campaign; skipped")
                continue
            for path in sorted(step_dir.iterdir()):
                match = TRIAL_DIR.fullmatch(path.name)
                if not match:
                    continue  # cell locks and cleared cells kept aside
                key = (model, step_dir.name, int(match.group(1)))
                if key not in index:
                    problems.append(f"{_rel(path, directory)}: outside the matrix (trials = {spec.trials}); skipped")
                    continue
                state, detail, result = cell_state(path)
                if state == "final":
                    records.append({**result, "model": model, "step": key[1], "trial": key[2], "cell": index[key],
                                    "path": str(path)})
                    continue
                if state == "running":
                    detail = ("status running: in flight (its lock is held)" if Lock(lock_path(path)).held_elsewhere()
                              else "status running but no process holds its lock: killed mid-run")
                problems.append(f"{_rel(path, directory)}: {detail}; skipped (a resume re-runs it)")
    records.sort(key=lambda r: r["cell"])
    return records, problems


def _rel(path: Path, directory: Path) -> str:
    return str(path.relative_to(directory))
