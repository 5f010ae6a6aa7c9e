"""Lay out report.html from a campaign summary: figures (hepmini.bench.charts), tables, the trial table, sections."""

from hepmini.agent.models import is_standin
from hepmini.agent.prompts import ERROR_CATEGORIES
from hepmini.bench import charts, method, repeats, svg, trials
from hepmini.bench.assets import CSS, LIVE_JS, TRIALS_JS
from hepmini.bench.fmt import SCRIPTED_NOTE, breakable, interval, mean_std_text, pct, shown, step_label
from hepmini.bench.sections import section_campaigns, section_classifier, section_provenance
from hepmini.bench.svg import esc as _e

MAX_PROBLEMS = 20   # problems listed on the page; summary.json has every one
OPEN_TABLES = 6     # per-model Table 1s shown open; with more models they start folded
CATEGORY_COLORS = {"all data weights = 0": "#D55E00", "dummy data created": "#F0E442",
                   "function-calling error": "#0072B2", "incorrect branch name": "#CC79A7",
                   "intermediate file not found": "#E69F00", "semantic error": "#009E73",
                   "other": "#8C8C8C", "unclassified": "#D9D9D9"}


def _styles(models: list) -> dict:
    """Colour and marker of each model, fixed by its position in the campaign."""
    # the marker shifts each time the palette wraps, so 48 models still get distinct colour-marker pairs
    return {m: (svg.PALETTE[i % len(svg.PALETTE)], svg.MARKERS[(i + i // len(svg.PALETTE)) % len(svg.MARKERS)])
            for i, m in enumerate(models)}


def _note(models) -> str:
    return f"† {SCRIPTED_NOTE}" if any(is_standin(m) for m in models) else ""


def _figure(chart: str, caption: str) -> str:
    return f"<figure>{chart}<figcaption>{caption}</figcaption></figure>"


def fig_heatmap(s: dict) -> str:
    cells, index = {}, {m: i for i, m in enumerate(s["models"])}
    for c in s["cells"]:
        href = "#" + trials.anchor(index[c["model"]], c["step"])
        if not c["n_counted"]:
            cells[(shown(c["model"]), step_label(c["step"]))] = (None, "–", f"{c['n_trials']} excluded", "", href)
            continue
        excluded = c["n_trials"] - c["n_counted"]
        sub = f"{c['n_success']}/{c['n_counted']} · {interval(c['wilson_lo'], c['wilson_hi'])}" + \
            (f" (+{excluded} excl.)" if excluded else "")
        tip = (f"{c['model']} {c['step']}: {c['n_success']}/{c['n_counted']}, Wilson 95% "
               f"[{100 * c['wilson_lo']:.0f}, {100 * c['wilson_hi']:.0f}] %; click for its trials")
        text = pct(c["success_rate"], c["success_err"])
        cells[(shown(c["model"]), step_label(c["step"]))] = (c["success_rate"], text, sub, tip, href)
    chart = charts.heatmap([shown(m) for m in s["models"]], [step_label(x) for x in s["steps"]], cells,
                           "Success rate per model and step", _note(s["models"]))
    return _figure(chart, "Fig. 2a. Success fraction of each model–step pair, ± sqrt(p(1−p)/n) (0 when no trial or "
                   "every trial passed, however few); below it successes/counted trials and the Wilson 95 % "
                   "interval. Infrastructure failures and skipped trials are excluded from n (shown as excl.). "
                   "Click a cell for its trials (the table at the end).")


def fig_errors_by_model(s: dict) -> str:
    cats = list(ERROR_CATEGORIES) + (["unclassified"] if any(b["unclassified"] for b in s["by_model"]) else [])
    counts = {shown(b["model"]): {**b["errors"], "unclassified": b["unclassified"]} for b in s["by_model"]}
    chart = charts.stacked_bars(list(counts), cats, CATEGORY_COLORS, counts, "Error distribution per model")
    return _figure(chart, "Fig. 2b. Share of each error category among the failed trials of each model (all steps), "
                   f"from the rule classifier; n = failed trials. {_note(s['models'])}")


def _swatch(cat: str) -> str:
    return f'<span style="display:inline-block;width:10px;height:10px;background:{CATEGORY_COLORS[cat]}"></span>'


def table_errors(s: dict, model: str) -> str:
    """Paper Table 1 for one model: failures by error category (rows) and step (columns)."""
    cells = {c["step"]: c for c in s["cells"] if c["model"] == model}
    steps = [x for x in s["steps"] if x in cells]
    cats = list(ERROR_CATEGORIES) + (["unclassified"] if any(cells[x]["unclassified"] for x in steps) else [])
    head = "".join(f"<th>{_e(step_label(x))}</th>" for x in steps)
    rows = []
    for cat in cats:
        values = [cells[x]["errors"].get(cat, 0) if cat != "unclassified" else cells[x]["unclassified"] for x in steps]
        rows.append(f"<tr><td>{_swatch(cat)} {_e(cat)}</td>" + "".join(f'<td class="n">{v}</td>' for v in values)
                    + "</tr>")
    rows.append("<tr><th>Total failures</th>" + "".join(f'<th class="n">{cells[x]["n_failures"]}</th>' for x in steps)
                + "</tr>")
    rows.append("<tr><td>counted trials</td>" + "".join(f'<td class="n">{cells[x]["n_counted"]}</td>' for x in steps)
                + "</tr>")
    return f"<table><tr><th>Error type</th>{head}</tr>{''.join(rows)}</table>"


def tables_errors(s: dict) -> str:
    """Table 1 per model (not pooled: models fail differently), folded when there are many."""
    out = []
    for i, b in enumerate(s["by_model"]):
        if not any(c["model"] == b["model"] for c in s["cells"]):
            continue
        said = f"<b>{_e(shown(b['model']))}</b>: {b['n_failures']} failure(s) of {b['n_counted']} counted trial(s)"
        if not b["n_failures"]:
            out.append(f"<p>{said}.</p>")
            continue
        state = " open" if i < OPEN_TABLES else ""
        out.append(f"<details{state}><summary>{said}</summary>{table_errors(s, b['model'])}</details>")
    return ("".join(out) + "<p class='caption'>Table 1, per model. Failures by error category and step (rule "
            "classifier); the LLM classifier's verdicts are in the trial table and the classification checks.</p>")


def fig_series(s: dict, key: str, title: str, ylabel: str, unit: str, caption: str, floor=None, log=None) -> str:
    styles, cells = _styles(s["models"]), {(c["model"], c["step"]): c for c in s["cells"]}
    series, chosen = [], s["figure_models"]["shown"]
    for m in chosen:
        values = []
        for x in s["steps"]:
            c = cells.get((m, x))
            values.append(None if not c or c[key]["mean"] is None else (c[key]["mean"], c[key]["std"]))
        if any(values):
            color, marker = styles[m]
            series.append({"name": shown(m), "color": color, "marker": marker, "values": values})
    if not series:
        return f"<p class='sub'>{_e(title)}: no data.</p>"
    chart = charts.series_chart([step_label(x) for x in s["steps"]], series, title, ylabel, unit=unit, floor=floor,
                                log=log, note=_note(chosen))
    return _figure(chart, caption)


def which_models(s: dict) -> str:
    """The sentence saying which models Figs. 3-5 plot."""
    f = s["figure_models"]
    if f["all_models"]:
        return "<p class='sub'>Every model is plotted (<code>report --all-models</code>).</p>"
    if f["fallback"]:
        return ("<p class='sub'>No model has a success in every step, so every model is plotted (the paper, §V.4, "
                "plots only those that have).</p>")
    left = (f" Left out: {_e(', '.join(shown(m) for m in f['left_out']))}; <code>report --all-models</code> plots "
            "them too.") if f["left_out"] else ""
    return (f"<p class='sub'>Plotted: the {len(f['shown'])} model(s) with at least one success in every step, as in "
            f"paper §V.4 (the others' effort is not comparable).{left}</p>")


def fig_cost_success(s: dict) -> str:
    styles, points, missing = _styles(s["models"]), [], []
    for b in s["by_model"]:
        if b["success_rate"] is None or b["cost"]["mean"] is None:
            missing.append(b["model"])
            continue
        color, marker = styles[b["model"]]
        points.append({"name": shown(b["model"]), "x": b["cost"]["mean"], "y": b["success_rate"],
                       "yerr": b["success_err"], "color": color, "marker": marker})
    if not points:
        return "<p class='sub'>Cost vs success: no model has a known cost.</p>"
    chart = charts.scatter(points, "Cost vs success", "mean cost per trial (known prices)", "success rate",
                           note=_note(s["models"]))
    front = charts.pareto_front([(p["name"], p["x"], p["y"]) for p in points])
    extra = f" Not shown (no trial of known price): {', '.join(map(_e, missing))}." if missing else ""
    return _figure(chart, "Cost vs success over all steps (every model), ± sqrt(p(1−p)/n). ★ and the dashed staircase:"
                   f" the Pareto front (no other model is both cheaper and more successful): {_e(', '.join(front))}."
                   f"{extra}")


def _ks(groups: list) -> list:
    """The k of pass@k that at least one group has, in order (a header lists exactly the columns shown)."""
    return sorted({int(k) for g in groups for k in g["pass_at_k"]})


def table_cells(s: dict) -> str:
    ks = _ks(s["cells"])
    head = ("<tr><th>model</th><th>step</th><th>success / counted</th><th>rate ± err [Wilson 95 %]</th>"
            + "".join(f"<th>pass@{k}</th>" for k in ks) + "<th>agent work</th><th>API calls</th>"
            "<th>cost per trial</th><th>cost total</th><th>wall time (s)</th></tr>")
    rows = []
    for c in s["cells"]:
        excluded = ", ".join(f"{n} {k}" for k, n in (("infra", c["n_infrastructure"]), ("skipped", c["n_skipped"]),
                                                      ("harness", c["n_harness_error"])) if n)
        counted = f"{c['n_success']}/{c['n_counted']}" + (f" (+{excluded} excl.)" if excluded else "")
        wilson = "" if c["wilson_lo"] is None else f" [{100 * c['wilson_lo']:.0f}, {100 * c['wilson_hi']:.0f}]"
        cost = c["cost"]
        unknown = f" (+{cost['n_unknown']} unknown)" if cost["n_unknown"] else ""
        rows.append(f"<tr><td class='name'>{breakable(_e(shown(c['model'])))}</td><td>{_e(c['step'])}</td>"
                    f"<td class='n'>{_e(counted)}</td>"
                    f"<td class='n'>{pct(c['success_rate'], c['success_err'])}{wilson}</td>"
                    + "".join(f"<td class='n'>{_fixed(c['pass_at_k'].get(str(k)))}</td>" for k in ks)
                    + f"<td class='n'>{mean_std_text(c['agent_work'])}</td>"
                    f"<td class='n'>{mean_std_text(c['api_calls'])}</td>"
                    f"<td class='n'>{mean_std_text(cost, '$')}{unknown}</td>"
                    f"<td class='n'>${cost['total']:.4f}</td>"
                    f"<td class='n'>{mean_std_text(c['wall_time'])}</td></tr>")
    return (f"<table class='cells'>{head}{''.join(rows)}</table><p class='caption'>Means ± std over the counted "
            "trials (a cell with fewer than k counted trials has no pass@k); the user-token ratio and every other "
            "column are in summary.csv.</p>")


def table_models(s: dict) -> str:
    ks = _ks(s["by_model"])
    head = ("<tr><th>model</th><th>success</th><th>rate ± err</th><th>every step ≥ 1 success</th>"
            + "".join(f"<th>pass@{k}</th>" for k in ks) + "<th>spend (known)</th><th>trials of unknown price</th></tr>")
    rows = []
    for b in s["by_model"]:
        rows.append(f"<tr><td class='name'>{breakable(_e(shown(b['model'])))}</td>"
                    f"<td class='n'>{b['n_success']}/{b['n_counted']}</td>"
                    f"<td class='n'>{pct(b['success_rate'], b['success_err'])}</td>"
                    f"<td>{'yes' if b['all_steps_succeeded'] else 'no'}</td>"
                    + "".join(f"<td class='n'>{_fixed(b['pass_at_k'].get(str(k)))}</td>" for k in ks)
                    + f"<td class='n'>${b['spend']['known']:.4f}</td><td class='n'>{b['spend']['n_unknown']}</td></tr>")
    return f"<table>{head}{''.join(rows)}</table>"


def _fixed(value) -> str:
    return "–" if value is None else f"{value:.2f}"


def header(s: dict, live=None) -> list:
    """The title, the counts, the live status (from `hepmini view`), the stand-in banner and the problems."""
    o, spend_unknown = s["overall"], s["overall"]["spend"]["n_unknown"]
    scripted = s["scripted_models"]
    banner = (f"<div class='banner'><b>† {_e(', '.join(scripted))}: {_e(SCRIPTED_NOTE)}.</b> These offline stand-ins "
              "exercise the harness with known answers or injected faults; their numbers measure no language model."
              "</div>") if scripted else ""
    more = len(s["problems"]) - MAX_PROBLEMS
    problems = ("<div class='problems'><b>Problems</b> (trials skipped, not counted):<ul>"
                + "".join(f"<li><code>{_e(p)}</code></li>" for p in s["problems"][:MAX_PROBLEMS])
                + (f"<li>… and {more} more (all are in summary.json)</li>" if more > 0 else "")
                + "</ul></div>") if s["problems"] else ""
    unknown = (f" {spend_unknown} trial(s) used a model of unknown price: their cost is not in the totals "
               "(never counted as $0).") if spend_unknown else ""
    box = (f"<div class='live' id='live' data-v='{_e(live['version'])}'>{_e(live['line'])}</div>") if live else ""
    return [f"<h1>hepmini campaign report</h1><p class='sub'>{len(s['models'])} model(s) × {len(s['steps'])} step(s); "
            f"{o['n_trials']} finished trial(s), {o['n_counted']} counted, {o['n_success']} succeeded; "
            f"{o['n_infrastructure']} infrastructure failure(s) and {o['n_skipped']} skipped trial(s) excluded from "
            f"the success rates. Known spend ${o['spend']['known']:.4f}.{_e(unknown)} Generated {_e(s['generated'])}."
            " <a href='#trials-section'>Every trial</a>.</p>", box, banner, problems]


def _repeats(s: dict) -> str:
    said = repeats.text(s.get("repeats") or [])
    return f"<p class='caption'>{_e(said)}</p>" if said else ""


def page(s: dict, rows=(), live=None) -> str:
    """The whole report.html; `rows` are the trial table's (trials.rows_of), `live` the view server's status."""
    merged = len((s.get("campaigns") or {}).get("campaigns") or ()) > 1
    body = [
        *header(s, live), section_campaigns(s),
        "<h2>Success</h2>", fig_heatmap(s), table_models(s), _repeats(s), method.section(s),
        "<h2>Errors</h2>", fig_errors_by_model(s), tables_errors(s),
        "<h2>Effort and cost per step</h2>", which_models(s),
        fig_series(s, "agent_work", "Agent work per step", "agent work", "",
                   "Fig. 3. Agent work = (total tokens − user tokens)/user tokens, mean ± std over the counted "
                   "trials."),
        fig_series(s, "api_calls", "API calls per step", "API calls", "",
                   "Fig. 4. API calls per trial, mean ± std (at most 1 + 2 × max-iterations: 7 with 3 iterations).",
                   floor=1, log=False),
        fig_series(s, "cost", "Cost per step", "cost per trial", "$",
                   "Fig. 5. Dollar cost per trial from the reported tokens and the price table, mean ± std over the "
                   "trials of known price.", log=False),
        fig_series(s, "user_ratio", "User-token ratio per step", "user / total tokens", "",
                   "User-prompt tokens / all tokens exchanged, mean ± std (paper §V.1: higher = more compact)."),
        fig_cost_success(s),
        "<h2>Every model × step</h2>", table_cells(s),
        "<h2 id='trials-section'>Every trial</h2><p class='caption'>Click a column head to sort, a heatmap cell "
        "to see its trials. The rule's evidence is what decided the error class. Files: <b>log</b> the "
        "comprehensive log, <b>val</b> the validation log, <b>code</b> the code of the last attempt (<b>earlier</b>: "
        "of the attempts before it), <b>err</b> the last run's stderr, <b>json</b> result.json. trials.csv has the "
        "same rows.</p>", trials.table(list(rows), merged),
        section_classifier(s), section_provenance(s),
        "<p class='sub'>Files: summary.csv (one row per model × step), trials.csv (one row per trial), summary.json "
        "(everything on this page but the trials), summary.md (tables for a paper).</p>",
    ]
    scripts = f"<script>{TRIALS_JS}</script>" + (f"<script>{LIVE_JS}</script>" if live else "")
    refresh = "<noscript><meta http-equiv='refresh' content='30'></noscript>" if live else ""
    return ("<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
            "<meta name='viewport' content='width=device-width, initial-scale=1'><title>hepmini campaign report</title>"
            f"{refresh}<style>{CSS}</style></head><body>" + "".join(body) + scripts + "</body></html>\n")
