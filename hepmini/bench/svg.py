"""The pieces of the report's inline SVG charts: text, axes, ticks, markers, legends; the stdlib only.

Text widths are estimated (CHAR_W × font size per character) since no browser measures them
here; margins are sized from those estimates so long model names never run into the plot.
"""

import math
from html import escape

FONT = 12
CHAR_W = 0.6                      # average glyph width / font size of the sans-serif stack below
STYLE = ("font-family:-apple-system,'Segoe UI',Roboto,'DejaVu Sans',Arial,sans-serif;"
         "font-size:12px")
# Colour-blind-safe qualitative palette (Okabe-Ito, then Tableau) for models.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000",
           "#8C564B", "#7F7F7F", "#BCBD22", "#17BECF")
MARKERS = ("circle", "square", "diamond", "triangle")


def esc(text) -> str:
    return escape(str(text), quote=True)


def text_width(text, size: float = FONT) -> float:
    return len(str(text)) * size * CHAR_W


def clip_text(text: str, max_px: float, size: float = FONT) -> str:
    """`text`, cut in the middle with an ellipsis to fit `max_px` (estimated).

    The end stays: model names differ in their dates and `[campaign]` tags as often as in their start.

    >>> clip_text("cborg:openai/gpt-oss-20b-long-name [paper-models]", 260)
    'cborg:openai/gpt-oss-…[paper-models]'
    """
    chars = max(3, int(max_px / (size * CHAR_W)))
    if len(text) <= chars:
        return text
    tail = (chars - 1) * 2 // 5
    return text[:chars - 1 - tail] + "…" + text[len(text) - tail:]


def label(x, y, text, size=FONT, anchor="start", weight="normal", color="#222", rotate=None, title=None,
          baseline="middle", halo=False) -> str:
    """One text element; `title` adds a hover tooltip (the full text of a clipped label), `halo` a white outline
    that keeps it legible over lines."""
    turn = f' transform="rotate({rotate} {x:.1f} {y:.1f})"' if rotate else ""
    tip = f"<title>{esc(title)}</title>" if title else ""
    outline = ' stroke="#fff" stroke-width="3" paint-order="stroke" stroke-linejoin="round"' if halo else ""
    return (f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}" font-weight="{weight}" '
            f'fill="{color}" dominant-baseline="{baseline}"{turn}{outline}>{tip}{esc(text)}</text>')


def svg(width, height, body, title="") -> str:
    """The svg element around `body` (a list of element strings)."""
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" '
            f'viewBox="0 0 {width:.0f} {height:.0f}" role="img" aria-label="{esc(title)}" style="{STYLE}">'
            + "".join(body) + "</svg>")


# ---- numbers on axes -------------------------------------------------------------------------------------


def nice_ticks(lo: float, hi: float, count: int = 5) -> list:
    """Round tick values covering [lo, hi] (1, 2, 2.5 or 5 × 10^k steps).

    >>> nice_ticks(0, 7)
    [0, 2, 4, 6, 8]
    >>> nice_ticks(0, 1)
    [0, 0.2, 0.4, 0.6, 0.8, 1]
    """
    if hi <= lo:
        hi = lo + 1
    raw = (hi - lo) / max(1, count)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    first = math.floor(lo / step + 1e-9) * step
    ticks, value = [], first
    while value < hi + step * 0.999:
        ticks.append(_round(value, step))
        value += step
        if ticks[-1] >= hi - 1e-12 * max(1, abs(hi)):
            break
    return ticks


def log_ticks(lo: float, hi: float) -> list:
    """Powers of ten covering [lo, hi] (lo > 0)."""
    a, b = math.floor(math.log10(lo)), math.ceil(math.log10(hi))
    return [10.0 ** e for e in range(a, max(b, a + 1) + 1)]


def _round(value, step):
    digits = max(0, -math.floor(math.log10(step)) + 1)
    value = round(value, digits)
    return int(value) if float(value).is_integer() else value


def fmt(value, unit="") -> str:
    """A tick or value label: compact, with `unit` ($ before, % and others after)."""
    if value is None:
        return "–"
    if unit == "$":
        return f"${value:,.2f}" if abs(value) >= 1 or value == 0 else f"${value:.2g}"
    if unit == "%":
        return f"{100 * value:.0f}%"
    if abs(value) >= 1e6:
        return f"{value / 1e6:.3g}M"
    if abs(value) >= 1e4:
        return f"{value / 1e3:.3g}k"
    if value and abs(value) < 1e-3:
        return f"{value:.2g}"
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:.3g}"


class Axis:
    """A linear or log value axis mapping data to pixels."""

    def __init__(self, lo, hi, p0, p1, log=False, unit=""):
        self.log, self.unit, self.p0, self.p1 = log, unit, p0, p1
        if log:
            lo = max(lo, 1e-12)
            self.ticks = log_ticks(lo, max(hi, lo * 10))
        else:
            self.ticks = nice_ticks(lo, hi)
        self.lo, self.hi = self.ticks[0], self.ticks[-1]

    def tick_label(self, value) -> str:
        """A tick's text, with as many decimals as the tick step needs (the same for every tick)."""
        if self.log or self.unit == "%" or len(self.ticks) < 2:
            return fmt(value, self.unit)
        step = abs(self.ticks[1] - self.ticks[0])
        if step >= 1e4 or step < 1e-3:
            return fmt(value, self.unit)
        decimals = len(f"{step:.10g}".partition(".")[2])     # 0.25 -> 2, 0.5 -> 1, 5 -> 0
        if self.unit == "$":
            return f"${value:,.{max(2, decimals)}f}"
        return f"{value:,.{decimals}f}"

    def __call__(self, value) -> float:
        if self.log:
            value = max(value, self.lo)
            f = (math.log10(value) - math.log10(self.lo)) / (math.log10(self.hi) - math.log10(self.lo))
        else:
            f = (value - self.lo) / ((self.hi - self.lo) or 1)
        return self.p0 + f * (self.p1 - self.p0)


def marker(kind, x, y, color, size=4.5, title=None) -> str:
    tip = f"<title>{esc(title)}</title>" if title else ""
    if kind == "square":
        return (f'<rect x="{x - size:.1f}" y="{y - size:.1f}" width="{2 * size:.1f}" height="{2 * size:.1f}" '
                f'fill="{color}" stroke="#fff" stroke-width="1">{tip}</rect>')
    if kind == "diamond":
        s = size * 1.3
        return (f'<polygon points="{x:.1f},{y - s:.1f} {x + s:.1f},{y:.1f} {x:.1f},{y + s:.1f} {x - s:.1f},{y:.1f}" '
                f'fill="{color}" stroke="#fff" stroke-width="1">{tip}</polygon>')
    if kind == "triangle":
        s = size * 1.3
        return (f'<polygon points="{x:.1f},{y - s:.1f} {x + s:.1f},{y + s * 0.8:.1f} {x - s:.1f},{y + s * 0.8:.1f}" '
                f'fill="{color}" stroke="#fff" stroke-width="1">{tip}</polygon>')
    return (f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{size:.1f}" fill="{color}" stroke="#fff" stroke-width="1">'
            f"{tip}</circle>")


def legend(items, x, y, max_w) -> tuple:
    """Legend entries [(label, color, marker or 'box')] in rows from (x, y); returns (elements, height)."""
    body, cx, cy, row_h = [], x, y, 18
    for name, color, kind in items:
        shown = clip_text(name, max_w - 24)
        w = 22 + text_width(shown) + 16
        if cx + w > x + max_w and cx > x:
            cx, cy = x, cy + row_h
        if kind == "box":
            body.append(f'<rect x="{cx:.1f}" y="{cy - 6:.1f}" width="12" height="12" fill="{color}"/>')
        else:
            body.append(f'<line x1="{cx - 2:.1f}" y1="{cy:.1f}" x2="{cx + 14:.1f}" y2="{cy:.1f}" stroke="{color}" '
                        'stroke-width="2"/>')
            body.append(marker(kind, cx + 6, cy, color, 4))
        body.append(label(cx + 20, cy, shown, title=name if shown != name else None))
        cx += w
    return body, cy - y + row_h


def value_axis(body, axis: Axis, x0, x1, label_text=None, label_x=None):
    """Horizontal grid lines and tick labels of a vertical value axis (left side)."""
    for t in axis.ticks:
        y = axis(t)
        body.append(f'<line x1="{x0:.1f}" y1="{y:.1f}" x2="{x1:.1f}" y2="{y:.1f}" stroke="#e3e3e3"/>')
        body.append(label(x0 - 6, y, axis.tick_label(t), anchor="end", color="#444"))
    if label_text:
        mid = (axis.p0 + axis.p1) / 2
        body.append(label(label_x, mid, label_text, anchor="middle", rotate=-90, weight="bold"))
