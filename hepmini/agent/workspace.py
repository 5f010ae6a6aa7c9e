"""A trial's two territories: the harness's directory (evidence) and the run's scratch; setting up and running code.

Everything in the trial directory is written by the harness and kept as evidence; the generated code
never sees it. Each run gets `scratch/` as its cwd, inside the sandbox a fresh size-capped tmpfs
holding read-only binds of the trial's `inputs/`, the ROOT files (`data`, steps 1-2) and
`hepmini.cfg`, and an empty `outputs/`; after the run the harness copies `outputs/` out into the
trial's own `outputs/` (regular files only, never following a link), which is what validation, the
supervisor's review and the next chained step read. The script the harness runs is written here
first (generated_code/, read-only, never overwritten) and bound read-only into the sandbox.
"""

import dataclasses
import os
import platform
import site
import sys
from pathlib import Path

from hepmini import __version__, layout
from hepmini.agent import prompts
from hepmini.agent.sandbox import Limits, run_python
from hepmini.files import atomic_write_text, copy_nofollow, sha256_file, write_new
from hepmini.layout import PACKAGE_DIR, tree_dir

SCRATCH = "scratch"
# Dirs as the task prompt names them: relative to the run's cwd (its scratch).
DATA, INPUTS, OUTPUTS = "data", "inputs", "outputs"
STANDING_PROMPTS = ("supervisor_system", "coder_system", "supervisor_review")
_DATA_HASHES = {}   # (path, size, mtime_ns) -> sha256: raw data is hashed once per process


def data_hash(path: Path) -> str:
    """sha256 of a raw data file, computed once per process for an unchanged file."""
    st = os.stat(path)
    key = (str(path), st.st_size, st.st_mtime_ns)
    if key not in _DATA_HASHES:
        _DATA_HASHES[key] = sha256_file(path)
    return _DATA_HASHES[key]


def missing_inputs(step, sources: dict) -> list:
    """The inputs of `step` that are not regular files where `sources` says (never following a link)."""
    missing = []
    for rel in step.INPUTS:
        path = Path(sources[rel]) / rel
        if not (path.is_file() and not path.is_symlink()):
            missing.append(str(path))
    return missing


def prepare(t, sources: dict) -> None:
    """Make the trial directory: inputs copied from `sources` (input path -> dir holding it), settings, task, logs."""
    step, rules = t.step, layout.rules()
    for name in ("generated_code", OUTPUTS, "logs"):
        (t.dir / name).mkdir(parents=True, exist_ok=True)
    inputs = {}
    for rel in step.INPUTS:
        dst = t.dir / INPUTS / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        copy_nofollow(Path(sources[rel]) / rel, dst, 0o444)
        inputs[rel] = sha256_file(dst)
    data = {}
    if step.READS_DATA:
        data = {rel: data_hash(t.cfg.effective_data_dir / rel) for rel in rules.ALL_FILES}
    # The provided functions (hepmini.tools) read their settings from the cwd, like the reference.
    values = {k: getattr(t.cfg, k) for k in step.PARAMS}
    if "tabpfn_model" in values and not values["tabpfn_model"]:
        values["tabpfn_model"] = t.cfg.tabpfn_cache_dir  # that variable does not reach the sandbox
    atomic_write_text(t.dir / "hepmini.cfg", "[hepmini]\n" + "".join(f"{k} = {v}\n" for k, v in values.items()))
    t.task = prompts.task_prompt(step, data_dir=DATA, inputs_dir=INPUTS, outputs_dir=OUTPUTS)
    parts = [layout.get(name) for name in getattr(step, "STEPS", [step.NAME])]
    names = [Path(step.PROMPT).stem, *(Path(p.PROMPT).stem for p in parts if p is not step), "run_command",
             *STANDING_PROMPTS]
    t.provenance = {
        "hepmini_version": __version__, "python": sys.version.split()[0], "platform": platform.platform(),
        "cpu": cpu_model(), "cpus": os.cpu_count(),
        "prompts": {n: sha256_file(prompts.template_path(n)) for n in names},
        "task_prompt_sha256": _sha256_text(t.task),
        "reference_script_sha256": {p.NAME: sha256_file(tree_dir("reference") / p.SCRIPT) for p in parts},
        "data": data, "inputs": inputs,
        "inputs_from": sorted({str(Path(s).absolute()) for s in sources.values()}),
        "reference_dir": str(t.cfg.solution_dir.absolute()),
    }
    t.started_record()


def cpu_model() -> str:
    """The processor's name (a local model's speed depends on it): /proc/cpuinfo on Linux, else platform's guess."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def write_script(t, attempt: int, code: str) -> Path:
    """The code of one attempt, in the harness's generated_code/: created once, read-only, never through a link."""
    script = t.dir / "generated_code" / f"{t.step.NAME}_{t.step.TITLE}_attempt{attempt}.py"
    return write_new(script, code.encode("utf-8"), 0o444)


def run_code(t, script: Path, wall_seconds: float, args=()):
    """Run one script (with `args`) in the sandbox on the trial's scratch; its outputs land in the trial's outputs/."""
    limits = dataclasses.replace(t.limits or Limits(), wall_seconds=wall_seconds)
    # An installed copy of hepmini beside the one in use carries reference/ too: hidden wherever it lies.
    installed = [Path(p) / "hepmini" / "reference" for p in site.getsitepackages()]
    hide = [*t.hide, *installed]
    extra = import_paths([*hide, t.dir])
    return run_python(script, t.dir / SCRATCH, logs=t.dir / "logs", binds=binds(t), readonly=readonly(t) + extra,
                      args=args, collect=(OUTPUTS, t.dir / OUTPUTS), limits=limits,
                      passthrough_env=t.cfg.passthrough_env, pythonpath=[PACKAGE_DIR.parent, *extra],
                      protect=protected(t), hide=hide)


def import_paths(private) -> list:
    """The harness's import directories outside the Python prefixes, for the run to import from as well.

    A site's packages may come from PYTHONPATH or a .pth file (an LCG view on /cvmfs, a module tree):
    without them numpy would be missing in the run and the model blamed for it. Never the current
    directory, the checkout, the user's site-packages (the run has none), or a directory that holds or
    lies in one of `private` (the reference answers, the workdir, the trial's own directory).
    """
    from hepmini.agent.sandbox_root import SYSTEM, python_paths, under

    seen = [os.path.realpath(p) for p in (*python_paths(), *SYSTEM)]
    never = [os.path.realpath(p) for p in (os.getcwd(), PACKAGE_DIR.parent, site.getusersitepackages())]
    hidden = [os.path.realpath(h) for h in private]
    found = []
    for entry in sys.path:
        path = os.path.realpath(entry) if entry and os.path.isdir(entry) else ""
        if (not path or path in found or any(under(path, s) for s in seen) or path == never[0]
                or any(under(path, n) for n in never[1:]) or any(under(h, path) or under(path, h) for h in hidden)):
            continue
        found.append(path)
    return [Path(p) for p in found]


def binds(t) -> dict:
    """What the run finds in its cwd, read-only: the inputs, the ROOT files (steps 1-2), the settings."""
    found = {INPUTS: t.dir / INPUTS} if t.step.INPUTS else {}
    if t.step.READS_DATA:
        found[DATA] = t.cfg.effective_data_dir.absolute()
    found["hepmini.cfg"] = t.dir / "hepmini.cfg"
    return found


def readonly(t) -> list:
    """What the run sees at its own place, read-only: the package, steps/ (the rules it imports), TabPFN weights.

    ROOT files the data directory only links to are bound where they lie, so the links work in the sandbox.
    """
    paths = [PACKAGE_DIR, tree_dir("steps")]
    if "tabpfn_model" in t.step.PARAMS:  # staged TabPFN weights must be visible, and stay as they are
        paths += [Path(p) for p in (t.cfg.tabpfn_model, t.cfg.tabpfn_cache_dir) if p]
    if t.step.READS_DATA:
        data = os.path.realpath(t.cfg.effective_data_dir)
        targets = {os.path.realpath(t.cfg.effective_data_dir / rel) for rel in layout.rules().ALL_FILES}
        paths += sorted(Path(p) for p in targets if not p.startswith(data + os.sep))
    return [p for p in paths if os.path.exists(p)]


def protected(t) -> list:
    """Paths hashed before and after every run: inputs, data, settings (bound read-only besides).

    As root the code runs as a uid that owns nothing and the reference answers are out of its sight, so
    hepmini's own files need no hashing (which would also flag a developer editing the checkout during a run).
    """
    paths = [t.dir / INPUTS, t.dir / "hepmini.cfg"]
    if t.step.READS_DATA:
        paths.append(t.cfg.effective_data_dir)
    if "tabpfn_model" in t.step.PARAMS:
        paths += [Path(p) for p in (t.cfg.tabpfn_model, t.cfg.tabpfn_cache_dir) if p]
    if os.geteuid() != 0:  # no uid of its own: without namespaces the code could write what we can
        paths += [PACKAGE_DIR, tree_dir("steps"), t.cfg.solution_dir, t.cfg.effective_data_dir]
    return sorted({p for p in paths if os.path.lexists(p)}, key=str)


def _sha256_text(text: str) -> str:
    import hashlib

    return hashlib.sha256(text.encode("utf-8")).hexdigest()
