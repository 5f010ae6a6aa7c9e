"""How names and numbers read in the report's page and tables: models, steps, percentages, value ± uncertainty."""

import math

from hepmini import layout
from hepmini.agent import models

SCRIPTED_NOTE = "scripted stand-in — not a model result"
SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def shown(model: str) -> str:
    """A model's name on the page; scripted stand-ins carry a dagger (explained beside each figure)."""
    return f"{model} †" if models.is_standin(model) else model


def breakable(html_text: str) -> str:
    """Escaped text with line-break chances after ':' and '/' (none before a dagger), for narrow tables.

    >>> breakable("cborg:openai/gpt-5"), breakable("scripted:oracle †")
    ('cborg:<wbr>openai/<wbr>gpt-5', 'scripted:<wbr>oracle&nbsp;†')
    """
    return html_text.replace(":", ":<wbr>").replace("/", "/<wbr>").replace(" †", "&nbsp;†")


def step_label(step: str, sep: str = " ") -> str:
    """`step5 categorize`: a step's name and title (an unknown name as it is)."""
    titles = {s.NAME: s.TITLE for s in layout.steps()}
    return f"{step}{sep}{titles[step]}" if step in titles else step


def pct(value, err=None) -> str:
    """A fraction as a whole percentage, with its uncertainty when given.

    >>> pct(0.5, 0.25), pct(1.0, 0.0), pct(None)
    ('50 ± 25 %', '100 ± 0 %', '–')
    """
    if value is None:
        return "–"
    return f"{100 * value:.0f} ± {100 * err:.0f} %" if err is not None else f"{100 * value:.0f} %"


def interval(lo, hi) -> str:
    """A 95 % interval of a fraction as whole percentages: what "0 ± 0 %" of a few trials does not say.

    >>> interval(0.0, 0.7935), interval(None, None)
    ('0–79 %', '')
    """
    return "" if lo is None else f"{100 * lo:.0f}–{100 * hi:.0f} %"


def num(value, digits=3) -> str:
    return "–" if value is None else f"{value:.{digits}g}"


def plain(value: float, digits: int = 3) -> str:
    """`value` to `digits` significant digits, in positional notation (no exponent, no trailing zeros).

    >>> plain(6.4512), plain(25.0), plain(123456.0), plain(0.000123456), plain(0.5)
    ('6.45', '25', '123000', '0.000123', '0.5')
    """
    if value == 0 or not math.isfinite(value):
        return f"{value:g}"
    decimals = digits - 1 - math.floor(math.log10(abs(value)))
    if decimals <= 0:
        return f"{round(value, decimals):.0f}"
    return f"{round(value, decimals):.{decimals}f}".rstrip("0").rstrip(".")


def uncertain(value, err=None, unit: str = "") -> str:
    """`value ± err` as a measurement reads: err to 2 significant digits, value to the same decimal place.

    A zero (or round-off sized) err shows as ± 0; numbers below 0.01 or from a million up (not dollars)
    share one power of ten.

    >>> uncertain(6.45, 9.93e-16), uncertain(25.0, 12.909944), uncertain(5.5, 1.9148)
    ('6.45 ± 0', '25 ± 13', '5.5 ± 1.9')
    >>> uncertain(0.03, 0.02, "$"), uncertain(0.00165, 0.00015), uncertain(3.0), uncertain(None)
    ('$0.030 ± 0.020', '(1.65 ± 0.15) × 10⁻³', '3', '–')
    """
    if value is None:
        return "–"
    money = "$" if unit == "$" else ""
    if err is None or not math.isfinite(err):
        return money + plain(value)
    err = abs(err)
    if err <= 1e-9 * abs(value) or err == 0:
        return f"{money}{plain(value)} ± 0"
    top = max(abs(value), err)
    if not money and (top < 1e-2 or top >= 1e6):
        power = math.floor(math.log10(top))
        scale = 10.0 ** power
        return f"({_pair(value / scale, err / scale)}) × 10{str(power).translate(SUPERSCRIPT)}"
    return money + _pair(value, err)


def _pair(value: float, err: float) -> str:
    decimals = 1 - math.floor(math.log10(err))          # err to two significant digits
    if decimals > 0:
        return f"{_nozero(round(value, decimals)):.{decimals}f} ± {err:.{decimals}f}"
    return f"{_nozero(round(value, decimals)):.0f} ± {round(err, decimals):.0f}"


def _nozero(x: float) -> float:
    return 0.0 if x == 0 else x     # never "-0"


def mean_std_text(ms: dict, unit="") -> str:
    """A {mean, std} dict as `mean ± std` (uncertain's rounding)."""
    return uncertain(ms.get("mean"), ms.get("std"), unit)
