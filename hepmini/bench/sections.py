"""The report's reference sections: the classifier checks, the campaigns merged, and the provenance."""

import json

from hepmini.agent.prompts import ERROR_CATEGORIES
from hepmini.bench.agreement import position_text
from hepmini.bench.fmt import SCRIPTED_NOTE
from hepmini.bench.svg import esc as _e


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
        position = c.get("llm_position") or {}
        out.append(f"<p>The LLM's {_e(position_text(position))}.</p>" if position.get("n") else
                   "<p class='sub'>No position control was run (<code>classify --model M --control reversed</code> "
                   "asks again with the category list reversed: answers that follow the list's order move).</p>")
    else:
        out.append("<p class='sub'>The LLM classifier was not run on this campaign, so there is no rules-vs-LLM "
                   "agreement to show.</p>")
    return "".join(out)


def section_provenance(s: dict) -> str:
    p = s["provenance"]
    out = ["<h2>Provenance</h2>"]
    if p.get("spec") and len((s.get("campaigns") or {}).get("campaigns") or ()) < 2:  # several: in Campaigns
        rows = []
        for key, value in p["spec"].items():
            if isinstance(value, dict):
                value = ", ".join(f"{k}={json.dumps(v)}" for k, v in sorted(value.items()))
            elif isinstance(value, list):
                value = ", ".join(map(str, value))
            rows.append(f"<tr><th>{_e(key)}</th><td>{_e(value)}</td></tr>")
        out.append("<p>Campaign specification (campaign.json):</p><table>" + "".join(rows) + "</table>")
    out.append(f"<p>hepmini version(s) of the trials: {_e(_counts(p['hepmini_versions']))}; Python: "
               f"{_e(_counts(p['python']))}; processors: {_e(_counts(p.get('cpus') or {}))}; "
               f"distinct raw-data sets (hashes): {p['data_sets']}; "
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


def _counts(d: dict) -> str:
    return ", ".join(f"{k} ({v})" for k, v in d.items())




def section_campaigns(s: dict) -> str:
    """The campaigns merged into this report, side by side, with the result-changing settings that differ."""
    info = s.get("campaigns") or {}
    camps = info.get("campaigns") or []
    if len(camps) < 2:
        return ""
    differing = info["differing"]
    apart = [name for names in info["apart"].values() for name in names]
    if differing:
        said = "; ".join(f"{_e(k)} (" + ", ".join(f"{_e(label)}: {_e(json.dumps(v))}" for label, v in values.items())
                         + ")" for k, values in differing.items())
        text = (f"<p><b>Settings that change results differ:</b> {said}. A model's cells are pooled only over "
                "campaigns that agree on all of them" + (f"; kept apart: {_e(', '.join(apart))}" if apart else "")
                + ".</p>")
    else:
        text = ("<p>The campaigns agree on every setting that changes results, so a model's cells from several of "
                "them are pooled.</p>")
    rows = [("directory", [c["dir"] for c in camps]), ("finished trials", [c["n_trials"] for c in camps])]
    specs = [c["spec"] for c in camps]
    for key in ("models", "steps", "trials", "max_iterations", "inputs_mode", "budget"):
        rows.append((key, [spec.get(key) for spec in specs]))
    for key in sorted({k for spec in specs for k in spec.get("settings") or {}}):
        rows.append((key, [(spec.get("settings") or {}).get(key) for spec in specs]))
    rows += [(key, [spec.get(key) for spec in specs]) for key in ("hepmini_version", "created")]
    head = "<tr><th>setting</th>" + "".join(f"<th>{_e(c['label'])}</th>" for c in camps) + "</tr>"
    body = "".join(f"<tr><th>{'⚠ ' if key in differing else ''}{_e(key)}</th>"
                   + "".join(f"<td>{_e(_value(v))}</td>" for v in values) + "</tr>" for key, values in rows)
    return (f"<h2>Campaigns</h2><p>{len(camps)} campaigns in one report.</p>{text}<table>{head}{body}</table>")


def _value(v) -> str:
    if isinstance(v, (list, tuple)):
        return ", ".join(map(str, v))
    return "–" if v is None else str(v)
