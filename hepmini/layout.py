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


def protocols():
    """The protocols module (steps/protocols.py): paper and baseline, their tasks and repair rounds."""
    load()
    import importlib

    return importlib.import_module("hepmini.steps.protocols")


def tasks(protocol: str = "paper") -> list:
    """The tasks an agent is given under `protocol`, in order (the five steps, or the baseline's composites)."""
    from hepmini.files import did_you_mean

    known = protocols().PROTOCOLS
    if protocol not in known:
        raise UnknownStep(f"unknown protocol '{protocol}'" + did_you_mean(protocol, known) +
                          f"; protocols are {', '.join(known)}")
    return protocols().tasks(protocol)


def get(name: str, protocol: str = "paper"):
    """The step (step1..step5 or its title, e.g. `categorize`) or, under `baseline`, the composite task called `name`."""
    from hepmini.files import did_you_mean

    candidates = steps() + ([] if protocol == "paper" else tasks(protocol))
    for step in candidates:
        if name in (step.NAME, step.TITLE, f"{step.NAME}_{step.TITLE}"):
            return step
    names = [s.NAME for s in candidates] + [s.TITLE for s in candidates]
    listed = ", ".join(s.NAME for s in (tasks(protocol) if protocol != "paper" else steps()))
    raise UnknownStep(f"unknown {'step' if protocol == 'paper' else 'task'} '{name}'" + did_you_mean(name, names)
                      + f"; {'steps' if protocol == 'paper' else protocol + ' tasks'} are {listed}")
