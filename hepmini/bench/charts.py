"""The report's charts as inline SVG strings: the success heatmap, stacked error bars, per-step series, cost vs success.

Drawn from the pieces in hepmini.bench.svg (axes, labels, markers, legends); the stdlib only.
"""

from hepmini.bench.fmt import uncertain
from hepmini.bench.svg import Axis, clip_text, esc, fmt, label, legend, marker, svg, text_width, value_axis




def _ramp(value: float) -> str:
    """Success fraction -> colour: pale red (0) through pale yellow to green-blue (1)."""
    stops = ((0.0, (215, 48, 39)), (0.5, (254, 224, 139)), (1.0, (26, 152, 80)))
    value = min(1.0, max(0.0, value))
    for (a, ca), (b, cb) in zip(stops, stops[1:]):
        if value <= b:
            f = (value - a) / (b - a)
            r, g, bl = (round(ca[i] + f * (cb[i] - ca[i])) for i in range(3))
            return f"#{r:02x}{g:02x}{bl:02x}"
    return "#1a9850"


def heatmap(rows, cols, cells, title, note="") -> str:
    """Fig. 2a: a rows × cols grid; `cells[(row, col)]` = (fraction or None, main text, sub text, tooltip[, href])."""
    label_w = min(300, max(text_width(r) for r in rows) + 16) if rows else 100
    cw, ch, top = 120, 44, 52
    left = label_w + 10
    width = left + cw * len(cols) + 110
    height = top + ch * len(rows) + 44 + (18 if note else 0)
    body = [label(left, 14, title, size=14, weight="bold")]
    for j, col in enumerate(cols):
        body.append(label(left + cw * j + cw / 2, top - 10, col, anchor="middle", weight="bold"))
    for i, row in enumerate(rows):
        y = top + ch * i
        body.append(label(left - 8, y + ch / 2, clip_text(row, label_w - 8), anchor="end",
                          title=row if clip_text(row, label_w - 8) != row else None))
        for j, col in enumerate(cols):
            x = left + cw * j
            value, main, sub, tip, *href = cells.get((row, col), (None, "", "no trials", ""))
            fill = "#eeeeee" if value is None else _ramp(value)
            dark = value is not None and (value < 0.15 or value > 0.8)
            ink = "#fff" if dark else "#222"
            cell = [f'<rect x="{x + 1:.1f}" y="{y + 1:.1f}" width="{cw - 2}" height="{ch - 2}" fill="{fill}">'
                    f"<title>{esc(tip)}</title></rect>",
                    label(x + cw / 2, y + ch / 2 - 7, main, anchor="middle", weight="bold", color=ink),
                    label(x + cw / 2, y + ch / 2 + 9, sub, size=10, anchor="middle", color=ink)]
            if href and href[0]:  # the cell opens its trials in the table below
                cell = [f'<a href="{esc(href[0])}">', *cell, "</a>"]
            body += cell
    # colour bar
    bx, by, bh = left + cw * len(cols) + 24, top, max(ch * len(rows), 80)
    for k in range(20):
        body.append(f'<rect x="{bx}" y="{by + bh * (19 - k) / 20:.1f}" width="14" height="{bh / 20 + 0.5:.1f}" '
                    f'fill="{_ramp((k + 0.5) / 20)}"/>')
    for v in (0, 0.5, 1):
        body.append(label(bx + 20, by + bh * (1 - v), f"{100 * v:.0f}%", size=10))
    body.append(label(bx + 7, by + bh + 14, "success", size=10, anchor="middle"))
    if note:
        body.append(label(left, height - 10, note, size=10, color="#555"))
    return svg(max(width, bx + 60), max(height, by + bh + 30), body, title)


def stacked_bars(rows, categories, colors, counts, title, xlabel="fraction of failed trials") -> str:
    """Fig. 2b: one horizontal bar per row, split into the categories' shares; `counts[row][cat]`."""
    label_w = min(300, max([text_width(r) for r in rows] + [60]) + 16)
    left, plot_w, bar_h, gap = label_w + 10, 560, 22, 10
    legend_items = [(c, colors[c], "box") for c in categories]
    keys, legend_h = legend(legend_items, left, 34, plot_w + 60)
    top = 34 + legend_h + 8
    height = top + (bar_h + gap) * len(rows) + 46
    body = [label(left, 14, title, size=14, weight="bold"), *keys]
    axis = Axis(0, 1, left, left + plot_w, unit="%")
    bottom = top + (bar_h + gap) * len(rows)
    for t in axis.ticks:
        x = axis(t)
        body.append(f'<line x1="{x:.1f}" y1="{top - 4}" x2="{x:.1f}" y2="{bottom:.1f}" stroke="#e3e3e3"/>')
        body.append(label(x, bottom + 12, fmt(t, "%"), anchor="middle", color="#444"))
    body.append(label(left + plot_w / 2, bottom + 32, xlabel, anchor="middle", weight="bold"))
    for i, row in enumerate(rows):
        y = top + (bar_h + gap) * i
        shown = clip_text(row, label_w - 8)
        body.append(label(left - 8, y + bar_h / 2, shown, anchor="end", title=row if shown != row else None))
        total = sum(counts[row].get(c, 0) for c in categories)
        if not total:
            body.append(label(left + 6, y + bar_h / 2, "no failures", color="#777"))
            continue
        x = left
        for c in categories:
            n = counts[row].get(c, 0)
            if not n:
                continue
            w = plot_w * n / total
            body.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" height="{bar_h}" fill="{colors[c]}" '
                        f'stroke="#fff" stroke-width="0.5"><title>{esc(f"{row}: {c}: {n} of {total}")}</title></rect>')
            if w > text_width(str(n), 11) + 6:
                body.append(label(x + w / 2, y + bar_h / 2, str(n), size=11, anchor="middle",
                                  color="#fff" if c not in ("dummy data created", "other") else "#222"))
            x += w
        body.append(label(left + plot_w + 6, y + bar_h / 2, f"n={total}", size=11, color="#444"))
    return svg(left + plot_w + 70, height, body, title)


def series_chart(xlabels, series, title, ylabel, unit="", log=None, note="", floor=None) -> str:
    """Figs. 3-5: per-step points (mean) with error bars (± std), one line per series.

    `series` = [{name, color, marker, values: [(mean, err) or None per x]}]; `log` None = automatic
    (log when the positive values span more than two decades).
    """
    values = [v for s in series for v in s["values"] if v and v[0] is not None]
    lows = [m - (e or 0) for m, e in values]
    highs = [m + (e or 0) for m, e in values] or [1]
    positive = [m for m, _ in values if m > 0]
    if log is None:
        log = bool(positive) and min(positive) > 0 and max(positive) / min(positive) > 100 and min(lows) > 0
    # wider steps for many series, so their error bars stand apart
    left, plot_h = 78, 260
    plot_w = max(120, min(220, 9 * len(series) + 30)) * max(len(xlabels), 3)
    keys, legend_h = legend([(s["name"], s["color"], s["marker"]) for s in series], left, 34, plot_w + 180)
    top = 34 + legend_h + 10
    lo = min(positive) / 2 if log and positive else min([0] + lows)
    hi = max(highs + ([floor] if floor else []))
    axis = Axis(lo, hi if hi > lo else lo + 1, top + plot_h, top, log=log, unit=unit)
    body = [label(left, 14, title, size=14, weight="bold"), *keys]
    value_axis(body, axis, left, left + plot_w, ylabel + (" (log scale)" if log else ""), 18)
    slot = plot_w / len(xlabels)
    body.append(f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" stroke="#888"/>')
    body.append(f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + plot_h}" stroke="#888"/>')
    for j, x_label in enumerate(xlabels):
        body.append(label(left + slot * (j + 0.5), top + plot_h + 14, x_label, anchor="middle", weight="bold"))
    body.append(label(left + plot_w / 2, top + plot_h + 34, "workflow step", anchor="middle", color="#444"))
    spread = min(slot * 0.6, 8 * len(series))  # series side by side within a step, so bars do not overlap
    for k, s in enumerate(series):
        dx = (k - (len(series) - 1) / 2) * (spread / max(1, len(series) - 1)) if len(series) > 1 else 0
        points = []
        for j, v in enumerate(s["values"]):
            if not v or v[0] is None:
                continue
            x = left + slot * (j + 0.5) + dx
            mean, err = v
            y = axis(mean)
            if err:
                y0 = axis(max(mean - err, axis.lo)) if log else axis(mean - err)
                y1 = axis(mean + err)
                body.append(f'<line x1="{x:.1f}" y1="{y0:.1f}" x2="{x:.1f}" y2="{y1:.1f}" stroke="{s["color"]}" '
                            'stroke-width="1.5"/>')
                for yy in (y0, y1):
                    body.append(f'<line x1="{x - 4:.1f}" y1="{yy:.1f}" x2="{x + 4:.1f}" y2="{yy:.1f}" '
                                f'stroke="{s["color"]}" stroke-width="1.5"/>')
            points.append((x, y, f"{s['name']} {xlabels[j]}: {uncertain(mean, err, unit)}"))
        if len(points) > 1:
            path = " ".join(f"{x:.1f},{y:.1f}" for x, y, _ in points)
            body.append(f'<polyline points="{path}" fill="none" stroke="{s["color"]}" stroke-width="1.5" '
                        'stroke-opacity="0.6"/>')
        body += [marker(s["marker"], x, y, s["color"], title=tip) for x, y, tip in points]
    height = top + plot_h + 48 + (16 if note else 0)
    if note:
        body.append(label(left, height - 10, note, size=10, color="#555"))
    return svg(left + plot_w + 190, height, body, title)


def pareto_front(points) -> list:
    """The names of the points no other point beats on both cost (lower) and success (higher).

    >>> pareto_front([("a", 1, .5), ("b", 2, .9), ("c", 3, .8), ("d", 1, .4)])
    ['a', 'b']
    """
    front = []
    for name, x, y in points:
        if not any((x2 <= x and y2 >= y) and (x2 < x or y2 > y) for _, x2, y2 in points):
            front.append(name)
    return front


def scatter(points, title, xlabel, ylabel, note="") -> str:
    """Cost vs success: `points` = [{name, x, y, yerr, color, marker}]; the Pareto front is drawn and listed."""
    left, plot_w, plot_h, top = 78, 560, 300, 40
    xs = [p["x"] for p in points] or [0]
    # the data start 14 px right of the y axis, so points at $0 do not sit on it
    x_axis = Axis(0, max(xs) * 1.15 if max(xs) > 0 else 1, left + 14, left + plot_w, unit="$")
    y_axis = Axis(0, 1, top + plot_h, top, unit="%")
    body = [label(left, 14, title, size=14, weight="bold")]
    value_axis(body, y_axis, left, left + plot_w, ylabel, 18)
    for t in x_axis.ticks:
        x = x_axis(t)
        body.append(f'<line x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{top + plot_h}" stroke="#f0f0f0"/>')
        body.append(label(x, top + plot_h + 14, x_axis.tick_label(t), anchor="middle", color="#444"))
    body.append(f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" stroke="#888"/>')
    body.append(f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + plot_h}" stroke="#888"/>')
    body.append(label(left + plot_w / 2, top + plot_h + 34, xlabel, anchor="middle", weight="bold"))
    front = pareto_front([(p["name"], p["x"], p["y"]) for p in points])
    on_front = sorted((p for p in points if p["name"] in front), key=lambda p: p["x"])
    if on_front:
        # the front as a staircase: each point's success holds until a cheaper-to-dearer step up
        path, (px, py) = [], (x_axis(on_front[0]["x"]), y_axis(on_front[0]["y"]))
        path.append(f"{px:.1f},{py:.1f}")
        for p in on_front[1:]:
            x, y = x_axis(p["x"]), y_axis(p["y"])
            path += [f"{x:.1f},{py:.1f}", f"{x:.1f},{y:.1f}"]
            py = y
        path.append(f"{left + plot_w:.1f},{py:.1f}")
        body.append(f'<polyline points="{" ".join(path)}" fill="none" stroke="#999" stroke-dasharray="5,4" '
                    'stroke-width="1.5"/>')
    placed = []  # label boxes already drawn, so labels of coinciding points are stacked, not overprinted
    for p in sorted(points, key=lambda p: (-p["y"], p["x"])):
        x, y = x_axis(p["x"]), y_axis(p["y"])
        if p.get("yerr"):
            y0, y1 = y_axis(max(0, p["y"] - p["yerr"])), y_axis(min(1, p["y"] + p["yerr"]))
            body.append(f'<line x1="{x:.1f}" y1="{y0:.1f}" x2="{x:.1f}" y2="{y1:.1f}" stroke="{p["color"]}" '
                        'stroke-width="1.5"/>')
        body.append(marker(p["marker"], x, y, p["color"], 5.5,
                            title=f"{p['name']}: {fmt(p['y'], '%')} success, {fmt(p['x'], '$')} per trial"))
        text = clip_text(p["name"] + (" ★" if p["name"] in front else ""), 220)
        w = text_width(text, 11)
        lx = x + 9 if x + 9 + w < left + plot_w + 180 else x - 9 - w
        ly = y
        while any(abs(ly - oy) < 14 and lx < ox + ow and ox < lx + w for ox, oy, ow in placed):
            ly += 14
        placed.append((lx, ly, w))
        body.append(label(lx, ly, text, size=11, color=p["color"] if p["color"] != "#F0E442" else "#8a7d00",
                          title=p["name"], halo=True))
    height = top + plot_h + 48 + (16 if note else 0)
    if note:
        body.append(label(left, height - 10, note, size=10, color="#555"))
    return svg(left + plot_w + 200, height, body, title)
