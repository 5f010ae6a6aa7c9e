"""Lay out report.html from a campaign summary: figures (hepmini.bench.svg), tables, classifier checks, provenance."""

import json

from hepmini.bench import svg
from hepmini.bench.metrics import PASS_K
from hepmini.agent.prompts import ERROR_CATEGORIES
from hepmini.agent.models import is_standin
from hepmini.bench.fmt import SCRIPTED_NOTE, mean_std_text, pct, shown, step_label
from hepmini.bench.svg import esc as _e

MAX_PROBLEMS = 20   # problems listed on the page; summary.json has every one
CATEGORY_COLORS = {"all data weights = 0": "#D55E00", "dummy data created": "#F0E442",
                   "function-calling error": "#0072B2", "incorrect branch name": "#CC79A7",
                   "intermediate file not found": "#E69F00", "semantic error": "#009E73",
                   "other": "#8C8C8C", "unclassified": "#D9D9D9"}
CSS = """
body{font-family:-apple-system,'Segoe UI',Roboto,'DejaVu Sans',Arial,sans-serif;margin:24px auto;max-width:1240px;
color:#222;padding:0 16px;line-height:1.4}
h1{font-size:24px;margin-bottom:4px}h2{font-size:18px;margin-top:34px;border-bottom:1px solid #ddd;padding-bottom:4px}
.sub{color:#555}.banner{background:#fff3cd;border:1px solid #e0c36c;padding:8px 12px;margin:12px 0;border-radius:4px}
.problems{background:#fdecea;border:1px solid #e5a39c;padding:8px 12px;border-radius:4px}
table{border-collapse:collapse;margin:10px 0;font-size:13px}th,td{border:1px solid #ddd;padding:3px 8px}
th{background:#f4f4f4;text-align:left}.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.wide{overflow-x:auto}td.name{white-space:nowrap}
td.diag{background:#e4f3e4;font-weight:bold}figure{margin:18px 0}
figure{overflow-x:auto}figcaption,p.caption{color:#555;font-size:13px;max-width:900px}
code,pre{font-size:12px}pre{background:#f7f7f7;padding:8px;overflow-x:auto}
"""


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
    cells = {}
    for c in s["cells"]:
        if not c["n_counted"]:
            cells[(shown(c["model"]), step_label(c["step"]))] = (None, "–", f"{c['n_trials']} excluded", "")
            continue
        excluded = c["n_trials"] - c["n_counted"]
        sub = f"{c['n_success']}/{c['n_counted']}" + (f" (+{excluded} excl.)" if excluded else "")
        tip = (f"{c['model']} {c['step']}: {c['n_success']}/{c['n_counted']}, Wilson 95% "
               f"[{100 * c['wilson_lo']:.0f}, {100 * c['wilson_hi']:.0f}] %")
        text = pct(c["success_rate"], c["success_err"])
        cells[(shown(c["model"]), step_label(c["step"]))] = (c["success_rate"], text, sub, tip)
    chart = svg.heatmap([shown(m) for m in s["models"]], [step_label(x) for x in s["steps"]], cells,
                        "Success rate per model and step", _note(s["models"]))
    return _figure(chart, "Fig. 2a. Success fraction of each model–step pair, ± sqrt(p(1−p)/n); below it successes/"
                   "counted trials. Infrastructure failures and skipped trials are excluded from n (shown as excl.). "
                   "Hover a cell for its Wilson 95 % interval.")


def fig_errors_by_model(s: dict) -> str:
    cats = list(ERROR_CATEGORIES) + (["unclassified"] if any(b["unclassified"] for b in s["by_model"]) else [])
    counts = {shown(b["model"]): {**b["errors"], "unclassified": b["unclassified"]} for b in s["by_model"]}
    chart = svg.stacked_bars(list(counts), cats, CATEGORY_COLORS, counts, "Error distribution per model")
    return _figure(chart, "Fig. 2b. Share of each error category among the failed trials of each model (all steps), "
                   f"from the rule classifier; n = failed trials. {_note(s['models'])}")


def table_errors_by_step(s: dict) -> str:
    head = "".join(f"<th>{_e(step_label(x))}</th>" for x in s["steps"])
    by = {b["step"]: b for b in s["by_step"]}
    rows = []
    cats = list(ERROR_CATEGORIES) + (["unclassified"] if any(b["unclassified"] for b in s["by_step"]) else [])
    for cat in cats:
        values = [by[x]["errors"].get(cat, 0) if cat != "unclassified" else by[x]["unclassified"] for x in s["steps"]]
        swatch = f'<span style="display:inline-block;width:10px;height:10px;background:{CATEGORY_COLORS[cat]}"></span>'
        rows.append(f"<tr><td>{swatch} {_e(cat)}</td>" + "".join(f'<td class="n">{v}</td>' for v in values) + "</tr>")
    rows.append("<tr><th>Total failures</th>" + "".join(f'<th class="n">{by[x]["n_failures"]}</th>' for x in s["steps"])
                + "</tr>")
    rows.append("<tr><td>counted trials</td>" + "".join(f'<td class="n">{by[x]["n_counted"]}</td>' for x in s["steps"])
                + "</tr>")
    return (f"<table><tr><th>Error type</th>{head}</tr>{''.join(rows)}</table>"
            "<p class='caption'>Table 1. Failures by error category and step, all models together (rule classifier)."
            "</p>")


def fig_series(s: dict, key: str, title: str, ylabel: str, unit: str, caption: str, floor=None, log=None) -> str:
    styles, cells = _styles(s["models"]), {(c["model"], c["step"]): c for c in s["cells"]}
    series = []
    for m in s["models"]:
        values = []
        for x in s["steps"]:
            c = cells.get((m, x))
            values.append(None if not c or c[key]["mean"] is None else (c[key]["mean"], c[key]["std"]))
        if any(values):
            color, marker = styles[m]
            series.append({"name": shown(m), "color": color, "marker": marker, "values": values})
    if not series:
        return f"<p class='sub'>{_e(title)}: no data.</p>"
    chart = svg.series_chart([step_label(x) for x in s["steps"]], series, title, ylabel, unit=unit, floor=floor,
                             log=log, note=_note(s["models"]))
    return _figure(chart, caption)


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
    chart = svg.scatter(points, "Cost vs success", "mean cost per trial (known prices)", "success rate",
                        note=_note(s["models"]))
    front = svg.pareto_front([(p["name"], p["x"], p["y"]) for p in points])
    extra = f" Not shown (no trial of known price): {', '.join(map(_e, missing))}." if missing else ""
    return _figure(chart, "Cost vs success over all steps, ± sqrt(p(1−p)/n). ★ and the dashed staircase: the Pareto "
                   f"front (no other model is both cheaper and more successful): {_e(', '.join(front))}.{extra}")


def table_cells(s: dict) -> str:
    head = ("<tr><th>model</th><th>step</th><th>trials</th><th>success</th><th>rate ± err [Wilson 95 %]</th>"
            f"<th>pass@k (k = {', '.join(map(str, PASS_K))})</th><th>agent work</th><th>API calls</th>"
            "<th>cost per trial ($)</th><th>cost total</th><th>wall time (s)</th></tr>")
    rows = []
    for c in s["cells"]:
        excluded = ", ".join(f"{n} {k}" for k, n in (("infra", c["n_infrastructure"]), ("skipped", c["n_skipped"]),
                                                      ("harness", c["n_harness_error"])) if n)
        trials = f"{c['n_trials']}" + (f" ({excluded} excl.)" if excluded else "")
        wilson = "" if c["wilson_lo"] is None else f" [{100 * c['wilson_lo']:.0f}, {100 * c['wilson_hi']:.0f}]"
        ks = " / ".join(f"{v:.2f}" for v in c["pass_at_k"].values()) or "–"
        cost = c["cost"]
        per_trial = "–" if cost["mean"] is None else f"{cost['mean']:.4f}" + (
            f" ± {cost['std']:.4f}" if cost["std"] is not None else "")
        unknown = f" (+{cost['n_unknown']} unknown)" if cost["n_unknown"] else ""
        rows.append(f"<tr><td class='name'>{_e(shown(c['model']))}</td><td>{_e(c['step'])}</td>"
                    f"<td class='n'>{_e(trials)}</td><td class='n'>{c['n_success']}/{c['n_counted']}</td>"
                    f"<td class='n'>{pct(c['success_rate'], c['success_err'])}{wilson}</td><td class='n'>{ks}</td>"
                    f"<td class='n'>{mean_std_text(c['agent_work'])}</td>"
                    f"<td class='n'>{mean_std_text(c['api_calls'])}</td>"
                    f"<td class='n'>{per_trial}{unknown}</td><td class='n'>${cost['total']:.4f}</td>"
                    f"<td class='n'>{mean_std_text(c['wall_time'])}</td></tr>")
    return (f"<div class='wide'><table>{head}{''.join(rows)}</table></div><p class='caption'>Means ± std over the "
            "counted trials; the user-token ratio and every other column are in summary.csv.</p>")


def table_models(s: dict) -> str:
    ks = [k for k in PASS_K if any(str(k) in b["pass_at_k"] for b in s["by_model"])]
    head = ("<tr><th>model</th><th>success</th><th>rate ± err</th><th>every step ≥ 1 success</th>"
            + "".join(f"<th>pass@{k}</th>" for k in ks) + "<th>spend (known)</th><th>trials of unknown price</th></tr>")
    rows = []
    for b in s["by_model"]:
        rows.append(f"<tr><td class='name'>{_e(shown(b['model']))}</td>"
                    f"<td class='n'>{b['n_success']}/{b['n_counted']}</td>"
                    f"<td class='n'>{pct(b['success_rate'], b['success_err'])}</td>"
                    f"<td>{'yes' if b['all_steps_succeeded'] else 'no'}</td>"
                    + "".join(f"<td class='n'>{_fixed(b['pass_at_k'].get(str(k)))}</td>" for k in ks)
                    + f"<td class='n'>${b['spend']['known']:.4f}</td><td class='n'>{b['spend']['n_unknown']}</td></tr>")
    return f"<table>{head}{''.join(rows)}</table>"


def confusion_table(conf: dict, rows_are: str, cols_are: str) -> str:
    used = [c for c in ERROR_CATEGORIES if c in conf["matrix"] or any(c in r for r in conf["matrix"].values())]
    head = f"<tr><th>{_e(rows_are)} ↓ / {_e(cols_are)} →</th>" + "".join(f"<th>{_e(c)}</th>" for c in used) + "</tr>"
    rows = []
    for truth in used:
        if truth not in conf["matrix"]:
            continue
        row = conf["matrix"][truth]
        rows.append(f"<tr><th>{_e(truth)}</th>" + "".join(
            f"<td class='n{' diag' if c == truth else ''}'>{row.get(c, 0) or ''}</td>" for c in used) + "</tr>")
    return f"<table>{head}{''.join(rows)}</table>"


def section_classifier(s: dict) -> str:
    c = s["classifier"]
    out = ["<h2>Error classification</h2>",
           "<p>Failures are classified by deterministic rules (exception types, missing files, branch-name errors, "
           "zero weights in the outputs, fabricated data, bad calls of provided functions, ran-but-wrong = "
           "semantic). The optional LLM classifier of paper §V.3 reads the comprehensive and validation logs "
           "(<code>python -m hepmini classify DIR --model M</code>).</p>"]
    truth = c.get("rules_vs_truth")
    if truth:
        out.append(f"<p><b>Rule accuracy against the injected faults</b> (the ground truth scripted:faults records "
                   f"with each trial; a check of the rules, not a model result): {truth['agree']}/{truth['n']} = "
                   f"{100 * truth['rate']:.1f} %.</p>")
        out.append(confusion_table(truth, "injected", "rules"))
    llm = c.get("rules_vs_llm")
    if llm:
        out.append(f"<p><b>Rules vs LLM</b> ({_e(', '.join(c['llm_models']))}): agree on {llm['agree']}/{llm['n']} = "
                   f"{100 * llm['rate']:.1f} %; {c['llm_flagged']} LLM answer(s) flagged (unparsable or "
                   "ambiguous, counted as other)"
                   + (f"; {c['llm_failed']} call(s) failed and are not counted" if c.get("llm_failed") else "")
                   + ".</p>")
        out.append(confusion_table(llm, "rules", "LLM"))
    else:
        out.append("<p class='sub'>The LLM classifier was not run on this campaign, so there is no rules-vs-LLM "
                   "agreement to show.</p>")
    return "".join(out)


def section_provenance(s: dict) -> str:
    p = s["provenance"]
    out = ["<h2>Provenance</h2>"]
    if p.get("spec"):
        rows = []
        for key, value in p["spec"].items():
            if isinstance(value, dict):
                value = ", ".join(f"{k}={json.dumps(v)}" for k, v in sorted(value.items()))
            elif isinstance(value, list):
                value = ", ".join(map(str, value))
            rows.append(f"<tr><th>{_e(key)}</th><td>{_e(value)}</td></tr>")
        out.append("<p>Campaign specification (campaign.json):</p><table>" + "".join(rows) + "</table>")
    out.append(f"<p>hepmini version(s) of the trials: {_e(_counts(p['hepmini_versions']))}; Python: "
               f"{_e(_counts(p['python']))}; distinct raw-data sets (hashes): {p['data_sets']}; "
               f"classifier: {_e(_counts(p['classifier']) or 'none')}.</p>")
    rows = [f"<tr><td>{_e(name)}</td><td><code>{_e(', '.join(f'{h[:16]}… ×{n}' for h, n in digests.items()))}"
            "</code></td></tr>"
            for group in ("prompts", "task_prompts", "reference_scripts") for name, digests in
            ((f"{group[:-1].replace('_', ' ')}: {k}", v) for k, v in p[group].items())]
    out.append("<table><tr><th>prompt / script</th><th>sha256 (trials)</th></tr>" + "".join(rows) + "</table>")
    rows = []
    for m, e in p["models"].items():
        label = f"{m} — {SCRIPTED_NOTE}" if e["scripted"] else m
        rows.append(f"<tr><td>{_e(label)}</td><td>{_e('; '.join(e['requested']))}</td>"
                    f"<td>{_e('; '.join(e['returned']))}</td>"
                    f"<td><code>{_e('; '.join(e['params_sent']))}</code></td></tr>")
    out.append("<table><tr><th>model</th><th>requested</th><th>returned by the server</th><th>parameters sent</th></tr>"
               + "".join(rows) + "</table>")
    return "".join(out)


def _fixed(value) -> str:
    return "–" if value is None else f"{value:.2f}"


def _counts(d: dict) -> str:
    return ", ".join(f"{k} ({v})" for k, v in d.items())


def page(s: dict) -> str:
    """The whole report.html."""
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
    body = [
        f"<h1>hepmini campaign report</h1><p class='sub'>{len(s['models'])} model(s) × {len(s['steps'])} step(s); "
        f"{o['n_trials']} finished trial(s), {o['n_counted']} counted, {o['n_success']} succeeded; "
        f"{o['n_infrastructure']} infrastructure failure(s) and {o['n_skipped']} skipped trial(s) excluded from the "
        f"success rates. Known spend ${o['spend']['known']:.4f}.{_e(unknown)} Generated {_e(s['generated'])}.</p>",
        banner, problems,
        "<h2>Success</h2>", fig_heatmap(s), table_models(s),
        "<h2>Errors</h2>", fig_errors_by_model(s), table_errors_by_step(s),
        "<h2>Effort and cost per step</h2>",
        fig_series(s, "agent_work", "Agent work per step", "agent work", "",
                   "Fig. 3. Agent work = (total tokens − user tokens)/user tokens, mean ± std over the counted trials. "
                   "(The paper shows only models with ≥ 1 success in every step; see the table above.)"),
        fig_series(s, "api_calls", "API calls per step", "API calls", "",
                   "Fig. 4. API calls per trial, mean ± std (at most 1 + 2 × max-iterations: 7 with 3 iterations).",
                   floor=1, log=False),
        fig_series(s, "cost", "Cost per step", "cost per trial", "$",
                   "Fig. 5. Dollar cost per trial from the reported tokens and the price table, mean ± std over the "
                   "trials of known price." + unknown, log=False),
        fig_series(s, "user_ratio", "User-token ratio per step", "user / total tokens", "",
                   "User-prompt tokens / all tokens exchanged, mean ± std (paper §V.1: higher = more compact)."),
        fig_cost_success(s),
        "<h2>Every model × step</h2>", table_cells(s),
        section_classifier(s), section_provenance(s),
        "<p class='sub'>Files: summary.csv (one row per model × step), summary.json (everything on this page), "
        "summary.md (tables for a paper).</p>",
    ]
    return ("<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>hepmini campaign report</title>"
            f"<style>{CSS}</style></head><body>" + "".join(body) + "</body></html>\n")
