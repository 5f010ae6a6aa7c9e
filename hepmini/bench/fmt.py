"""How names and numbers read in the report's page and tables: models, steps, percentages, mean ± std."""

from hepmini import layout
from hepmini.agent import models

SCRIPTED_NOTE = "scripted stand-in — not a model result"


def shown(model: str) -> str:
    """A model's name on the page; scripted stand-ins carry a dagger (explained beside each figure)."""
    return f"{model} †" if models.is_standin(model) else model


def step_label(step: str, sep: str = " ") -> str:
    """`step5 categorize`: a step's name and title (an unknown name as it is)."""
    titles = {s.NAME: s.TITLE for s in layout.steps()}
    return f"{step}{sep}{titles[step]}" if step in titles else step


def pct(value, err=None) -> str:
    if value is None:
        return "–"
    return f"{100 * value:.0f} ± {100 * err:.0f} %" if err is not None else f"{100 * value:.0f} %"


def num(value, digits=3) -> str:
    return "–" if value is None else f"{value:.{digits}g}"


def mean_std_text(ms: dict, unit="", digits=3) -> str:
    if ms.get("mean") is None:
        return "–"
    f = (lambda v: f"${v:.4f}") if unit == "$" else (lambda v: f"{v:.{digits}g}")
    return f(ms["mean"]) + (f" ± {f(ms['std'])}" if ms.get("std") is not None else "")
