"""Load the prompt templates of prompts/ and fill their $placeholders from steps/rules.py and the caller.

Templates are plain text read with string.Template: `render(name, **values)` substitutes every
$placeholder and a missing one is an error (PromptError), never a silent blank. The analysis
numbers (cuts, windows, columns, bins, luminosity) are never typed into a template: render fills
them from steps/rules.py (see rule_values), so the prompts and the reference cannot drift apart.
The headers of the provided functions are read from hepmini/tools.py itself (tool_headers).

Task prompts take the directories from the caller: data_dir (steps 1-2), inputs_dir (steps 3-5)
and outputs_dir; `task_prompt(step, ...)` renders a step's prompt with them.
"""

import ast
import string
from pathlib import Path

from hepmini import layout
from hepmini.errors import PromptError
from hepmini.layout import PACKAGE_DIR, tree_dir

TOOLS_IMPORT = "from hepmini.tools import *"
# The paper's seven error categories (Table 1, §V.3); the classifier answers ***<one of these>***.
ERROR_CATEGORIES = ("all data weights = 0", "dummy data created", "function-calling error",
                    "incorrect branch name", "intermediate file not found", "semantic error", "other")
VERDICT_ACCEPT = "VERDICT: ACCEPT"     # the supervisor review's machine-readable answers
VERDICT_REVISE = "VERDICT: REVISE"


# ---- templates ---------------------------------------------------------------------------------------


def template_path(name: str) -> Path:
    """The file of prompt `name` (with or without .txt)."""
    name = name if name.endswith(".txt") else name + ".txt"
    return tree_dir("prompts") / name


def names() -> list:
    """Every prompt name (file stem) in prompts/."""
    return sorted(p.stem for p in tree_dir("prompts").glob("*.txt"))


def load(name: str) -> str:
    """The raw template text of prompt `name`."""
    path = template_path(name)
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PromptError(f"no prompt {path.name} in {path.parent}; prompts are {', '.join(names())}") from None


def placeholders(name: str) -> set:
    """The $placeholder names a template uses."""
    found = set()
    for match in string.Template.pattern.finditer(load(name)):
        key = match.group("named") or match.group("braced")
        if key:
            found.add(key)
    return found


def render(name: str, **values) -> str:
    """Fill template `name`: rule values from steps/rules.py, then `values` (which win).

    Extra values are ignored; a placeholder with no value raises PromptError.
    """
    stem = Path(name).stem if name.endswith(".txt") else name
    filled, wanted = rule_values(), placeholders(stem)
    if "category_list" in wanted:
        filled["category_list"] = category_list()
    filled.update(_path_values(values))
    tools = [name for step in layout.steps() if Path(step.PROMPT).stem == stem for name in step.TOOLS]
    if tools:   # the provided functions the task quotes ($tool_headers), in the step's order
        filled["tool_headers"] = tool_headers(tools)
    filled.update(values)
    template = load(stem)
    missing = sorted(wanted - set(filled))
    if missing:
        # A file list built from a directory is missing because the directory was not given.
        needed = sorted({d for key in missing for d in _PATH_NEEDS.get(key, (key,)) if d not in values})
        args = ", ".join(f"{k}=..." for k in needed)
        raise PromptError(f"prompt {stem}.txt needs {', '.join('$' + k for k in needed)}; "
                          f"pass render({stem!r}, {args})")
    try:
        return string.Template(template).substitute(filled)
    except ValueError as exc:
        raise PromptError(f"prompt {stem}.txt has a bad placeholder ({exc}); write $$ for a dollar sign") from None


def task_prompt(task, *, data_dir, inputs_dir, outputs_dir, **values) -> str:
    """The task prompt of a step or composite task (a name or its declaration), directories filled in.

    It ends with how the script is run (the paper's command, App. B.1): with --input-files and
    --output-files. A composite's parts are its steps' own prompts; a part reads what an earlier one wrote.
    """
    task = layout.get(task) if isinstance(task, str) else task
    dirs = {"data_dir": str(data_dir), "inputs_dir": str(inputs_dir), "outputs_dir": str(outputs_dir)}
    if getattr(task, "STEPS", None):
        parts, made = {}, set()
        for name in task.STEPS:
            step = layout.get(name)
            own = {**dirs, "inputs_dir": dirs["outputs_dir"]} if made & set(step.INPUTS) else dirs
            parts[f"{name}_task"] = render(step.PROMPT, **own, **values)
            made |= set(step.OUTPUTS)
        text = render(task.PROMPT, **parts)
    else:
        text = render(task.PROMPT, **dirs, **values)
    inputs, outputs = task_files(task, data_dir, inputs_dir, outputs_dir)
    return text.rstrip("\n") + "\n\n" + render("run_command", input_files=" ".join(inputs),
                                                 output_files=" ".join(outputs))


def task_files(task, data_dir, inputs_dir, outputs_dir) -> tuple:
    """(input paths, output paths) of a task, as its script sees them from its working directory."""
    inputs = [f"{inputs_dir}/{rel}" for rel in task.INPUTS]
    if task.READS_DATA:
        inputs = [f"{data_dir}/{rel}" for rel in layout.rules().ALL_FILES] + inputs
    return inputs, [f"{outputs_dir}/{rel}" for rel in task.OUTPUTS]


# ---- values from steps/rules.py ---------------------------------------------------------------------


def num(x) -> str:
    """A rule number as written in a prompt: 25.0 -> '25', 2.37 -> '2.37', 10064.0 -> '10064'."""
    x = float(x)
    return str(int(x)) if x.is_integer() else repr(x)


def ntuple_column_sources() -> list:
    """(column, ROOT branch, vector index or None) of each ntuple column, as the reference reads it."""
    return list(layout.rules().NTUPLE_SOURCES)


_BOOLEAN_BRANCHES = ("photon_isTightID", "trigP")
_ARRAY_MEANING = {
    "m_yy": "diphoton invariant mass m_yy, GeV",
    "pt1_over_m": "photon1_pt / m_yy",
    "eta1": "photon1_eta",
    "pt2_over_m": "photon2_pt / m_yy",
    "eta2": "photon2_eta",
    "dphi": "(photon1_phi - photon2_phi + pi) mod 2*pi - pi, i.e. numpy "
            "(phi1 - phi2 + np.pi) % (2 * np.pi) - np.pi, in [-pi, pi)",
    "weight": "event weight (see above)",
}


def _ntuple_table(r) -> str:
    gev = set(r.GEV_COLUMNS)
    lines = []
    for i, (column, branch, index) in enumerate(ntuple_column_sources()):
        source = f"{branch}[{index}]" if index is not None else branch
        if column in gev:
            note = f"x {num(r.MEV_TO_GEV)} (MeV -> GeV)"
        elif branch in _BOOLEAN_BRANCHES:
            note = "1.0 if true, 0.0 if false"
        else:
            note = "unchanged"
        lines.append(f"  {i:2d}  {column:<26} <- {source:<26} {note}")
    return "\n".join(lines)


def _array_table(r) -> str:
    missing = [c for c in r.ARRAY_COLUMNS if c not in _ARRAY_MEANING]
    if missing:  # a new column in rules.py needs its definition written here
        raise PromptError(f"prompts.py has no definition for array column(s) {missing}")
    return "\n".join(f"  {i}  {c:<11} {_ARRAY_MEANING[c]}" for i, c in enumerate(r.ARRAY_COLUMNS))


def category_list(order=ERROR_CATEGORIES) -> str:
    """The classifier prompt's `- category: definition` lines (prompts/error_categories.txt) in `order`.

    The paper's order is the default; another order is the position-bias control of `diagnose --control`.
    """
    lines = {}
    for line in load("error_categories").splitlines():
        name = line[2:].split(":", 1)[0]
        if name in ERROR_CATEGORIES:
            lines[name] = line
    if sorted(order) != sorted(ERROR_CATEGORIES) or len(lines) != len(ERROR_CATEGORIES):
        raise PromptError("the classifier's category list must name each of the seven categories once "
                          f"(prompts/error_categories.txt; order given: {list(order)})")
    return "\n".join(lines[name] for name in order)


def rule_values() -> dict:
    """Every $placeholder that steps/rules.py fills (numbers as text, lists joined)."""
    r = layout.rules()
    (crack_lo, crack_hi), (mass_lo, mass_hi) = r.CRACK_ETA, r.MASS_RANGE
    (window_lo, window_hi) = r.SIGNAL_WINDOW
    values = {
        "tree": r.TREE,
        "n_files": str(len(r.ALL_FILES)),
        "data_samples": ", ".join(r.DATA_SAMPLES),
        "mc_samples": ", ".join(r.MC_SAMPLE_NAMES),
        "all_samples": ", ".join(r.SAMPLES),
        "summary_json": r.SUMMARY_JSON, "summary_txt": r.SUMMARY_TXT,
        "ntuple_dtype": r.NTUPLE_DTYPE,
        "ntuple_n_columns": str(len(r.NTUPLE_COLUMNS)),
        "ntuple_columns_list": ", ".join(r.NTUPLE_COLUMNS),
        "ntuple_columns_table": _ntuple_table(r),
        "gev_columns": ", ".join(r.GEV_COLUMNS),
        "mev_to_gev": num(r.MEV_TO_GEV),
        "lumi_pb": num(r.LUMI_PB), "lumi_fb": num(r.LUMI_PB / 1000.0),
        "photon_pt_min": num(r.PHOTON_PT_MIN), "photon_eta_max": num(r.PHOTON_ETA_MAX),
        "crack_lo": num(crack_lo), "crack_hi": num(crack_hi),
        "pt1_over_m_min": num(r.PT1_OVER_M_MIN), "pt2_over_m_min": num(r.PT2_OVER_M_MIN),
        "mass_lo": num(mass_lo), "mass_hi": num(mass_hi),
        "isolation_max": num(r.ISOLATION_MAX),
        "window_lo": num(window_lo), "window_hi": num(window_hi),
        "sidebands_text": " or ".join(f"{num(lo)} < m_yy < {num(hi)}" for lo, hi in r.SIDEBANDS),
        "signal_weight_formula": (f"{num(r.LUMI_PB)} * XSection / SumWeights * mcWeight * "
                                  + " * ".join(r.SIGNAL_SF_COLUMNS)),
        "array_n_columns": str(len(r.ARRAY_COLUMNS)),
        "array_columns_list": ", ".join(r.ARRAY_COLUMNS),
        "array_columns_table": _array_table(r),
        "feature_columns": ", ".join(r.FEATURE_COLUMNS),
        "signal_array": r.SIGNAL_ARRAY, "bkgd_array": r.BKGD_ARRAY,
        "bkgd_estimate": r.BKGD_ESTIMATE,
        "bkgd_estimate_keys": ", ".join(r.BKGD_ESTIMATE_KEYS),
        "signal_scores": r.SIGNAL_SCORES, "bkgd_scores": r.BKGD_SCORES,
        "num_bins": str(r.NUM_BINS), "min_events": str(r.MIN_EVENTS),
        "improvement_min": num(r.IMPROVEMENT_MIN), "improvement_pct": num(100 * r.IMPROVEMENT_MIN),
        "boundaries": r.BOUNDARIES, "significances": r.SIGNIFICANCES,
        "tools_import": TOOLS_IMPORT,
        "verdict_accept": VERDICT_ACCEPT, "verdict_revise": VERDICT_REVISE,
    }
    return values


# Placeholders built by _path_values, and the caller's directories each one needs.
_PATH_NEEDS = {"root_files": ("data_dir",), "ntuple_files": ("data_dir", "outputs_dir"),
               "ntuple_inputs": ("inputs_dir",)}


def _path_values(values: dict) -> dict:
    """File lists that depend on the caller's directories (only those whose directory is given)."""
    r = layout.rules()
    out = {}
    data, inputs, outputs = (values.get(k) for k in ("data_dir", "inputs_dir", "outputs_dir"))
    if data is not None:
        out["root_files"] = "\n".join(f"- {data}/{rel}" for rel in r.ALL_FILES)
    if data is not None and outputs is not None:
        out["ntuple_files"] = "\n".join(
            f"- {data}/{rel}  ->  {outputs}/{r.ntuple_path(r.sample_name(rel))}" for rel in r.ALL_FILES)
    if inputs is not None:
        out["ntuple_inputs"] = "\n".join(f"- {inputs}/{r.ntuple_path(s)}" for s in r.SAMPLES)
    return out


# ---- headers of the provided functions ------------------------------------------------------------


def _tools_tree():
    source = (PACKAGE_DIR / "tools.py").read_text(encoding="utf-8")
    return {node.name: node for node in ast.parse(source).body if isinstance(node, ast.FunctionDef)}


def tool_headers(names) -> str:
    """Signature, one-line docstring and "Example usage" of each hepmini.tools function, read from its source.

    Reads tools.py with ast (no import, so no numpy or torch), in the layout of paper App. B.1.
    """
    functions = _tools_tree()
    blocks = []
    for name in names:
        node = functions.get(name)
        if node is None or name.startswith("_"):
            public = ", ".join(n for n in functions if not n.startswith("_"))
            raise PromptError(f"hepmini.tools has no function {name!r}; it has {public}")
        doc = ast.get_docstring(node) or ""
        lines = [line.strip() for line in doc.splitlines()]
        block = [f"def {name}({ast.unparse(node.args)}):"]
        if lines and lines[0]:
            block.append(f"    {lines[0]}")
        block += [f"    {line}" for line in lines if line.startswith("Example usage")]
        blocks.append("\n".join(block))
    return "\n".join(blocks)


__all__ = ["render", "task_prompt", "tool_headers", "rule_values", "load", "names", "placeholders",
           "template_path", "num", "ntuple_column_sources", "PromptError",
           "ERROR_CATEGORIES", "VERDICT_ACCEPT", "VERDICT_REVISE", "TOOLS_IMPORT"]
