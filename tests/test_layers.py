"""The package's plan holds: each layer imports only the layers below it, and no module imports itself back."""

import ast
import graphlib
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "hepmini"
# layer -> the layers it may import (its own included); cli and tools are the two faces over the core.
ALLOWED = {
    "core": {"core"},
    "data": {"core", "data"},
    "analysis": {"core", "data", "analysis"},
    "llm": {"core", "llm"},
    "agent": {"core", "analysis", "llm", "agent"},
    "bench": {"core", "data", "analysis", "llm", "agent", "bench"},
    "tools": {"core", "data", "analysis"},
    "entry": {"core", "data", "analysis", "llm", "agent", "bench", "tools", "entry"},
}
FACES = {"cli": "entry", "__main__": "entry", "tools": "tools"}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer_of(module: str) -> str:
    parts = module.split(".")
    if len(parts) > 2 or (len(parts) == 2 and (PACKAGE / parts[1]).is_dir()):
        return parts[1]
    return FACES.get(parts[-1], "core")


def imports_of(path: Path) -> set:
    """Every hepmini module `path` imports, at any depth of the code (function-level imports included)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] == "hepmini"}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "hepmini":
            for alias in node.names:   # `from hepmini.x import y`: y may itself be a module
                sub = f"{node.module}.{alias.name}"
                found.add(sub if (PACKAGE.parent / (sub.replace(".", "/") + ".py")).is_file()
                          or (PACKAGE.parent / sub.replace(".", "/")).is_dir() else node.module)
    return {m for m in found if m not in ("hepmini", "hepmini.steps") and not m.startswith("hepmini.steps.")}


GRAPH = {module_name(p): imports_of(p) for p in PACKAGE.rglob("*.py")}


@pytest.mark.parametrize("module", sorted(GRAPH))
def test_each_module_imports_only_the_layers_below_it(module):
    wrong = sorted(m for m in GRAPH[module] if layer_of(m) not in ALLOWED[layer_of(module)])
    assert not wrong, f"{module} ({layer_of(module)}) may not import {wrong}"


def test_no_import_cycle_anywhere():
    graph = {m: {d for d in deps if d in GRAPH and d != m and not m.startswith(d + ".")} for m, deps in GRAPH.items()}
    graphlib.TopologicalSorter(graph).prepare()   # raises CycleError naming the cycle


def test_the_layers_are_folders_and_a_cycle_would_be_caught():
    assert {layer_of(m) for m in GRAPH} == set(ALLOWED)
    with pytest.raises(graphlib.CycleError):
        graphlib.TopologicalSorter({"a": {"b"}, "b": {"a"}}).prepare()


def test_the_readme_layout_names_every_module():
    """The README's map of the package is the package: a module it does not name is a room nobody was told of."""
    import re

    readme = (PACKAGE.parent / "README.md").read_text(encoding="utf-8")
    layout = readme[readme.index("## Layout"):]
    layout = layout[:layout.index("\n```\n", layout.index("```") + 3)]
    unnamed = [module_name(p) for p in sorted(PACKAGE.rglob("*.py"))
               if p.stem not in ("__init__", "__main__") and not re.search(rf"\b{p.stem}\b", layout)]
    assert unnamed == []
