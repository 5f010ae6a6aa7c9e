"""Decide which steps are stale, explain why, and run them with atomic outputs.

A step is stale when an output is missing, when its newest input (data files, upstream outputs,
its reference script, prompt, step declaration and the hepmini modules it uses) is newer than its
oldest output (st_mtime_ns, strict >), when its parameters changed since its last successful run,
or when a step it depends on will run (a status line keeps the first three reasons and counts the
rest). Each step runs as a subprocess writing into a private staging directory (hepmini.analysis.
staging: owned by a lock, so the next run removes those of killed runs); only after it exits 0 and
wrote every declared output are the outputs moved into place with os.replace, so an interrupted or
failed step never leaves a fresh-looking output.
"""

import dataclasses
import graphlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from pathlib import Path

from hepmini import layout
from hepmini.analysis import staging as staging_dirs
from hepmini.errors import CycleError, MissingData, MissingInput, StepFailed, WorkdirError
from hepmini.files import atomic_write_json, mtime_ns
from hepmini.layout import PACKAGE_DIR, tree_dir

STATE_DIR = ".hepmini"  # inside the workdir: stamps, staging, logs


@dataclasses.dataclass
class Node:
    """One runnable step: what it reads, what it writes, how to run it."""

    name: str
    title: str
    inputs: list          # absolute Paths the step reads
    outputs: list         # absolute Paths the step must write
    out_root: Path        # outputs are relative to this directory (solution or data dir)
    command: list         # argv; the token "{staging}" is replaced by the staging directory
    params: dict
    after: list           # names of nodes that must finish first

    def rel(self, path: Path) -> str:
        return str(path.relative_to(self.out_root))


def _display(path: Path, workdir: Path) -> str:
    try:
        return str(path.relative_to(workdir))
    except ValueError:
        return str(path)


def build(cfg) -> dict:
    """Return {name: Node} for the data synthesis (when no --data-dir) and the five steps."""
    rules = layout.rules()
    data = cfg.effective_data_dir
    solution = cfg.solution_dir
    nodes = {}
    data_files = [data / rel for rel in rules.ALL_FILES]
    if cfg.data_dir is None:
        nodes["data"] = Node(
            name="data", title="synthesize", inputs=[PACKAGE_DIR / "data" / "synth.py"], outputs=data_files,
            out_root=data, params={"scale": cfg.scale, "seed": cfg.seed}, after=[],
            command=[sys.executable, "-m", "hepmini", "data", "--out", "{staging}",
                     "--scale", repr(cfg.scale), "--seed", str(cfg.seed)])
    steps_dir, ref_dir, prompt_dir = tree_dir("steps"), tree_dir("reference"), tree_dir("prompts")
    for step in layout.steps():
        code = [ref_dir / step.SCRIPT, prompt_dir / step.PROMPT, Path(step.__file__),
                steps_dir / "rules.py"] + [PACKAGE_DIR / m for m in step.CODE]
        inputs = (data_files if step.READS_DATA else []) + [solution / p for p in step.INPUTS] + code
        params = {k: getattr(cfg, k) for k in step.PARAMS}
        command = [sys.executable, str(ref_dir / step.SCRIPT), "--data", str(data),
                   "--inputs", str(solution), "--out", "{staging}"]
        command += [arg for k, v in params.items() for arg in ("--param", f"{k}={v}")]
        after = list(step.DEPENDS) + (["data"] if step.READS_DATA and "data" in nodes else [])
        nodes[step.NAME] = Node(step.NAME, step.TITLE, inputs, [solution / p for p in step.OUTPUTS],
                                solution, command, params, after)
    return nodes


def order(nodes: dict) -> list:
    """Names in a dependency-respecting order; a cycle is a clear error."""
    try:
        return list(graphlib.TopologicalSorter({n: node.after for n, node in nodes.items()}).static_order())
    except graphlib.CycleError as exc:
        raise CycleError(f"steps depend on each other in a cycle: {' -> '.join(exc.args[1])}; "
                         "fix DEPENDS in steps/") from None


def stamp_path(cfg, name: str) -> Path:
    return cfg.workdir / STATE_DIR / "stamps" / f"{name}.json"


def _read_stamp(cfg, name: str):
    try:
        return json.loads(stamp_path(cfg, name).read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def _producers(nodes: dict) -> dict:
    return {out: name for name, node in nodes.items() for out in node.outputs}


def own_reasons(cfg, node: Node, producers: dict) -> list:
    """Why this node is stale judged from its own files and stamp (not its upstream)."""
    workdir = cfg.workdir
    in_times = []
    for path in node.inputs:  # inputs first: a missing source is an error even before a first run
        t = mtime_ns(path)
        if t is None and path not in producers:
            raise _missing_input(cfg, node, path)
        in_times.append((t, path))
    out_times = [(mtime_ns(p), p) for p in node.outputs]
    missing = [p for t, p in out_times if t is None]
    if missing:
        more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
        return [f"missing output {_display(missing[0], workdir)}{more}"]
    oldest, oldest_path = min(out_times, key=lambda tp: tp[0])
    reasons = []
    for t, path in in_times:
        if t is None:
            reasons.append(f"input {_display(path, workdir)} is missing (made by {producers[path]})")
        elif t > oldest:
            reasons.append(f"input {_display(path, workdir)} is newer than output "
                           f"{_display(oldest_path, workdir)}")
    stamp = _read_stamp(cfg, node.name)
    if stamp is None:
        reasons.append("no record of a successful run")
    elif stamp.get("params") != _stamped(node.params):
        old = stamp.get("params") or {}
        changed = sorted(k for k in set(node.params) | set(old)
                         if str(node.params.get(k)) != str(old.get(k)))
        reasons.append("parameters changed: " + ", ".join(
            f"{k} {old.get(k)!r} -> {node.params.get(k)!r}" for k in changed))
    return brief(reasons)


def brief(reasons: list, keep: int = 3) -> list:
    """The first `keep` reasons and a count of the rest: one status line stays readable."""
    return reasons if len(reasons) <= keep + 1 else reasons[:keep] + [f"and {len(reasons) - keep} more"]


def _stamped(params: dict) -> dict:
    # As a stamp stores them (JSON, paths as text), so a fresh run compares equal to its stamp.
    return json.loads(json.dumps(params, default=str))


def _missing_input(cfg, node: Node, path: Path):
    rules = layout.rules()
    data = cfg.effective_data_dir
    if any(path == data / rel for rel in rules.ALL_FILES):
        if not data.is_dir():
            return MissingData(f"data directory {data} does not exist; pass the directory holding "
                               "GamGam/Data and GamGam/MC, or omit --data-dir to synthesize data")
        absent = [rel for rel in rules.ALL_FILES if not (data / rel).is_file()]
        if len(absent) == len(rules.ALL_FILES):
            return MissingData(f"data directory {data} holds none of the GamGam files (expected e.g. "
                               f"{data / rules.ALL_FILES[0]}); write them with "
                               f"`python -m hepmini data --out {data}`")
        return MissingData(f"{path}: missing from the data directory ({len(absent)} of "
                           f"{len(rules.ALL_FILES)} files absent); copy it there or re-create the set")
    return MissingInput(f"{node.name} needs {path}, which does not exist and no step makes it; "
                        "reinstall hepmini or restore the file")


def plan(cfg, targets=None, force=False, nodes=None) -> list:
    """Return [(name, reasons)] for the selected nodes in order; empty reasons = up to date."""
    nodes = build(cfg) if nodes is None else nodes
    names = order(nodes)
    if targets:
        unknown = [t for t in targets if t not in nodes]
        if unknown:
            if unknown[0] == "data" and cfg.data_dir is not None:
                raise MissingInput("the data step exists only without --data-dir (it synthesizes data)")
            layout.get(unknown[0])  # raises UnknownStep with a suggestion (titles map to names)
            targets = [layout.get(t).NAME if t not in nodes else t for t in targets]
        wanted = set()
        stack = list(targets)
        while stack:
            n = stack.pop()
            if n not in wanted:
                wanted.add(n)
                stack.extend(nodes[n].after)
        names = [n for n in names if n in wanted]
    producers = _producers(nodes)
    result, will_run = [], set()
    for n in names:
        reasons = own_reasons(cfg, nodes[n], producers)
        if force and (not targets or n in targets):
            reasons = ["forced"] + reasons
        upstream = [u for u in nodes[n].after if u in will_run]
        if upstream:
            reasons.append("upstream " + ", ".join(upstream) + " will run")
        if reasons:
            will_run.add(n)
        result.append((n, reasons))
    return result


def check_workdir(cfg) -> None:
    """Create the workdir and prove it is writable, or raise a one-line WorkdirError."""
    probe = cfg.workdir / STATE_DIR / f".probe-{os.getpid()}"
    try:
        probe.parent.mkdir(parents=True, exist_ok=True)
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise WorkdirError(f"work directory {cfg.workdir} is not writable ({exc.strerror}); "
                           "pass --workdir DIR with a directory you can write") from None


class _Runner:
    """Runs nodes as subprocesses in staging directories and publishes their outputs."""

    def __init__(self, cfg, report):
        self.cfg, self.report = cfg, report
        self.procs = {}
        self.lock = threading.Lock()
        self.cancelled = False

    def env(self) -> dict:
        env = dict(self.cfg.user_env)  # the reference scripts run as the user, like make would
        env["PYTHONPATH"] = str(PACKAGE_DIR.parent) + os.pathsep + env.get("PYTHONPATH", "")
        return env

    def run_node(self, node: Node) -> float:
        cfg = self.cfg
        state = cfg.workdir / STATE_DIR
        staging, owner = staging_dirs.claim(state / "staging", node.name)
        log_path = state / "logs" / f"{node.name}.log"
        log_path.parent.mkdir(parents=True, exist_ok=True)
        argv = [str(staging) if a == "{staging}" else a for a in node.command]
        self.report(f"running {node.name} ({node.title})")
        start = time.monotonic()
        try:
            with open(log_path, "w") as log:
                proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.PIPE, text=True,
                                        env=self.env(), start_new_session=True)
                with self.lock:
                    if self.cancelled:
                        _kill(proc)
                    self.procs[node.name] = proc
                try:
                    _, err = proc.communicate(timeout=cfg.step_timeout)
                except subprocess.TimeoutExpired:
                    _kill(proc)
                    raise StepFailed(f"{node.name} ({node.title}) ran longer than {cfg.step_timeout:.0f} s "
                                     "and was killed; raise --set step_timeout=SECONDS") from None
                finally:
                    with self.lock:
                        self.procs.pop(node.name, None)
                log.write(err)
            if proc.returncode != 0:
                raise StepFailed(f"{node.name} ({node.title}) failed: {_last_line(err, proc.returncode)} "
                                 f"(log: {_display(log_path, cfg.workdir)})")
            staged = [staging / node.rel(p) for p in node.outputs]
            absent = [s for s in staged if not s.is_file()]
            if absent:
                raise StepFailed(f"{node.name} ({node.title}) did not write "
                                 f"{absent[0].relative_to(staging)}; see {_display(log_path, cfg.workdir)}")
            for src, dst in zip(staged, node.outputs):
                dst.parent.mkdir(parents=True, exist_ok=True)
                os.replace(src, dst)
            atomic_write_json(stamp_path(cfg, node.name),
                              {"params": _stamped(node.params),
                               "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                               "seconds": round(time.monotonic() - start, 3)})
        finally:
            staging_dirs.release(staging, owner)
        seconds = time.monotonic() - start
        self.report(f"done {node.name} in {seconds:.1f} s")
        return seconds

    def cancel(self):
        with self.lock:
            self.cancelled = True
            for proc in self.procs.values():
                _kill(proc)


def _kill(proc):
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # the whole group: grandchildren too
    except (ProcessLookupError, PermissionError):
        pass
    proc.wait()


def _last_line(err: str, code: int) -> str:
    lines = [ln.strip() for ln in (err or "").splitlines() if ln.strip()]
    if not lines:
        return f"exit code {code}"
    text = lines[-1].removeprefix("hepmini: error: ")
    return text if len(text) < 400 else text[:397] + "..."


def run(cfg, targets=None, force=False, dry_run=False, report=print, nodes=None) -> int:
    """Bring the selected steps up to date; returns the number of steps run."""
    nodes = build(cfg) if nodes is None else nodes
    steps = plan(cfg, targets, force, nodes)
    todo = [n for n, reasons in steps if reasons]
    if not dry_run:
        sweep_staging(cfg, report)
    if not todo:
        report("all steps up to date; nothing to do")
        return 0
    if dry_run:
        for n, reasons in steps:
            if reasons:
                report(f"would run {n}: {'; '.join(reasons)}")
        return 0
    check_workdir(cfg)
    runner = _Runner(cfg, report)
    sorter = graphlib.TopologicalSorter({n: [a for a in nodes[n].after if a in todo] for n in todo})
    sorter.prepare()
    failure = None
    with ThreadPoolExecutor(max_workers=cfg.jobs) as pool:
        running = {}
        try:
            while sorter.is_active() and failure is None:
                for n in sorter.get_ready():
                    running[pool.submit(runner.run_node, nodes[n])] = n
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                for fut in done:
                    n = running.pop(fut)
                    try:
                        fut.result()
                        sorter.done(n)
                    except StepFailed as exc:
                        failure = failure or exc
            wait(running)  # let independent steps already running finish cleanly
            for fut in running:
                if fut.exception() is not None:
                    failure = failure or fut.exception()
        except BaseException:
            runner.cancel()
            raise
    if failure is not None:
        raise failure
    return len(todo)


def sweep_staging(cfg, report) -> None:
    """Remove the staging directories of runs that died (kill -9, power loss), saying what was freed."""
    try:
        removed = staging_dirs.sweep(cfg.workdir / STATE_DIR / "staging")
    except OSError:  # a read-only workdir: nothing of ours to remove there
        return
    for name, size in removed:
        report(f"removed stale staging {name} ({size / 1e6:.1f} MB), left by a run that was killed")


def status_rows(cfg, nodes=None) -> list:
    """[(name, title, state, reasons)] for every node."""
    nodes = build(cfg) if nodes is None else nodes
    return [(n, nodes[n].title, "stale" if r else "up to date", r) for n, r in plan(cfg, nodes=nodes)]


# ---- CLI handlers ---------------------------------------------------------------------------------
