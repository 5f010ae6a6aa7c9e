"""Where steps/, prompts/ and reference/ live (checkout or installed), and the step declarations of steps/."""

import importlib
import importlib.util
import sys

from pathlib import Path

from hepmini.errors import UnknownStep

PACKAGE_DIR = Path(__file__).resolve().parent


def tree_dir(name: str) -> Path:
    """Return the directory `steps`, `prompts` or `reference`, from a checkout or a pip install.

    A checkout has them beside the package; a non-editable install places them inside it
    (setup.cfg maps them to hepmini.steps, hepmini.prompts and hepmini.reference).
    """
    for candidate in (PACKAGE_DIR / name, PACKAGE_DIR.parent / name):
        if (candidate / "__init__.py").is_file():
            return candidate
    raise FileNotFoundError(f"cannot find the {name}/ directory next to {PACKAGE_DIR}; reinstall hepmini")




def load():
    """Return the steps package (importing it once under the name `hepmini.steps`)."""
    if "hepmini.steps" in sys.modules:
        return sys.modules["hepmini.steps"]
    directory = tree_dir("steps")
    if directory.parent == PACKAGE_DIR:  # installed: a real subpackage
        return importlib.import_module("hepmini.steps")
    spec = importlib.util.spec_from_file_location(
        "hepmini.steps", directory / "__init__.py", submodule_search_locations=[str(directory)])
    module = importlib.util.module_from_spec(spec)
    sys.modules["hepmini.steps"] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules["hepmini.steps"]
        raise
    return module


def steps() -> list:
    """The step modules in workflow order."""
    return list(load().STEPS)


def rules():
    """The analysis rules module (steps/rules.py)."""
    load()
    return sys.modules["hepmini.steps.rules"]


def get(name: str):
    """Return the step module called `name` (step1..step5 or its title, e.g. `categorize`)."""
    from hepmini.files import did_you_mean

    for step in steps():
        if name in (step.NAME, step.TITLE, f"{step.NAME}_{step.TITLE}"):
            return step
    names = [s.NAME for s in steps()] + [s.TITLE for s in steps()]
    raise UnknownStep(f"unknown step '{name}'" + did_you_mean(name, names) + f"; steps are {', '.join(s.NAME for s in steps())}")
