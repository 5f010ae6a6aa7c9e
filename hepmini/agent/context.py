"""The richer execution context the paper proposes as a fix (§V.1): the files, what they hold, the packages, the last error.

`--context rich` gives it to both roles: the supervisor with the task, the coder with its instructions,
and, after a failed run, the coder the failed command's error. `--context paper` gives none of it.
Everything here is read by the harness (never by generated code) and kept short.
"""

import json
from pathlib import Path

from hepmini import layout

CONTEXTS = ("paper", "rich")
PACKAGES = ("numpy", "uproot", "awkward", "scikit-learn", "scipy", "tabpfn", "torch")
MAX_ERROR = 2000


def describe(task, trial_dir: Path, data_dir: Path, inputs: str, data: str) -> str:
    """The execution context of a task: its input files with sizes and contents, and the installed packages."""
    lines = ["=== EXECUTION CONTEXT (read by the harness) ===",
             "The script runs in a working directory holding these files (read-only):"]
    columns = {}
    for rel in task.INPUTS:
        path = Path(trial_dir) / inputs / rel
        lines.append(f"- {inputs}/{rel}: {_size(path)}; {_npy(path) if rel.endswith('.npy') else _json(path)}")
        if _columns(rel):
            columns.setdefault(tuple(_columns(rel)), []).append(rel.rsplit("/", 1)[-1])
    for names, files in columns.items():   # each column layout once, with the arrays it describes
        lines.append(f"Columns of {', '.join(files)}, in order: {', '.join(names)}")
    if task.READS_DATA:
        lines += _root_files(Path(data_dir), data)
    lines.append("Installed packages: " + ", ".join(_versions()))
    return "\n".join(lines)


def failure(result) -> str:
    """The previous run's failed command, trimmed to its error (the last traceback, or the output's end)."""
    if result is None or result.returncode == 0:
        return ""
    text = (result.stderr_tail or "").strip() or (result.stdout_tail or "").strip()
    start = text.rfind("Traceback (most recent call last)")
    error = text[start:] if start >= 0 else text
    return (f"=== THE PREVIOUS ATTEMPT FAILED (exit code {result.returncode}) ===\n"
            + (error[-MAX_ERROR:] or "(no output)"))


def _size(path: Path) -> str:
    try:
        return f"{path.stat().st_size:,} bytes"
    except OSError:
        return "missing"


def _npy(path: Path) -> str:
    import numpy as np

    try:
        with open(path, "rb") as fh:
            version = np.lib.format.read_magic(fh)
            read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
            shape, fortran, dtype = read(fh)
    except (OSError, ValueError):
        return "not a readable .npy file"
    return f"numpy array, shape {shape}, dtype {dtype}{', Fortran order' if fortran else ''}"


def _columns(rel: str) -> list:
    r = layout.rules()
    if rel.startswith("ntuples/"):
        return list(r.NTUPLE_COLUMNS)
    if rel in (r.SIGNAL_ARRAY, r.BKGD_ARRAY):
        return list(r.ARRAY_COLUMNS)
    return []


def _json(path: Path) -> str:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return "not readable JSON"
    return f"JSON with keys {', '.join(map(str, data))[:400]}" if isinstance(data, dict) else "JSON"


def _root_files(data_dir: Path, data: str) -> list:
    """One line per ROOT file (size, trees, entries), and each distinct branch list once."""
    lines, branch_lists = [], {}
    for rel in layout.rules().ALL_FILES:
        trees, branches = _root(data_dir / rel)
        lines.append(f"- {data}/{rel}: {_size(data_dir / rel)}; {trees}")
        if branches:
            branch_lists.setdefault(branches, []).append(rel.rsplit("/", 1)[-1])
    for branches, files in branch_lists.items():
        which = "every file" if len(files) == len(layout.rules().ALL_FILES) else ", ".join(files)
        lines.append(f"Branches (name and type) of the tree in {which}: {branches}")
    return lines


def _root(path: Path) -> tuple:
    """(the file's objects with entries, its tree's branches as text) as uproot reads them."""
    try:
        import uproot

        with uproot.open(path) as f:
            parts, branches = [], ""
            for name, cls in f.classnames(cycle=False).items():
                if cls.startswith("TTree"):
                    tree = f[name]
                    parts.append(f"{cls} '{name}' with {tree.num_entries} entries")
                    branches = ", ".join(f"{b.name} ({b.typename})" for b in tree.branches)
                else:
                    parts.append(f"{cls} '{name}'")
            return "; ".join(parts) or "no objects", branches
    except Exception as exc:   # whatever uproot raises on a bad file: say so, the trial goes on
        return f"not readable by uproot ({type(exc).__name__})", ""


def _versions() -> list:
    from importlib import metadata

    found = []
    for name in PACKAGES:
        try:
            found.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            continue
    return found
