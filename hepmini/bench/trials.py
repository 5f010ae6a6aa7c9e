"""The report's trial table: every trial with its status, error class, evidence and cost, linked to its files.

Links are relative to the report's directory, so the page works from a file, from `hepmini view`
and from a copy of the whole tree. The generated code and the run logs are found from result.json
(`executions[].script`, `stderr_log`); the logs the trial layout always writes (comprehensive.log,
validation.log, result.json) by name in the trial directory, where a link is drawn only to a log
that exists; generated_code/ is listed when a result names no script.
"""

import csv
import io
import os
import re
from urllib.parse import quote

from hepmini.agent.trial import EXCLUDED, FAILURES
from hepmini.bench import metrics
from hepmini.bench.fmt import breakable, plain, shown
from hepmini.bench.svg import esc

LOGS = (("log", "comprehensive.log"), ("validation", "validation.log"), ("result", "result.json"))
EVIDENCE_CHARS = 280          # of the rule's evidence in a row; trials.csv has all of it
_ATTEMPT = re.compile(r"attempt(\d+)\.py$")
COLUMNS = ("campaign", "model", "step", "trial", "status", "rule_category", "rule", "evidence", "llm_category",
           "iterations", "api_calls", "tokens", "cost", "seconds", "server_busy_slots", "log", "validation", "code",
           "stderr", "result")


def anchor(model_index: int, step: str) -> str:
    """The fragment of a heatmap cell's trials: `cell-<model index>-<step>`."""
    return f"cell-{model_index}-{step}"


def group(status: str) -> str:
    """s (success), f (a failure of the model's) or x (excluded: infrastructure, skipped, harness error)."""
    return "s" if status == "success" else "x" if status in EXCLUDED else "f"


def files_of(r: dict, base: str, rel_dirs=None) -> dict:
    """{link name: path relative to `base`} of the trial's logs, code and result (`rel_dirs`: a cache)."""
    # one listing of the trial directory for the logs; the code and run logs as result.json names them
    # (the harness wrote them before the result); generated_code/ listed only when it names none
    trial = r["path"]
    parent, name = os.path.split(trial)
    rel_dirs = {} if rel_dirs is None else rel_dirs
    if parent not in rel_dirs:
        rel_dirs[parent] = os.path.relpath(os.path.abspath(parent), base).replace(os.sep, "/")
    rel = f"{rel_dirs[parent]}/{name}"
    try:
        present = set(os.listdir(trial))
    except OSError:
        return {}
    out = {key: f"{rel}/{file}" for key, file in LOGS if file in present}
    runs = [e for e in r.get("executions") or [] if isinstance(e, dict)]
    scripts = [e["script"] for e in runs if e.get("script")]
    if not scripts and "generated_code" in present:
        scripts = _listed_code(trial)
    if scripts:
        out["code"] = f"{rel}/{scripts[-1]}"
        out["attempts"] = [f"{rel}/{s}" for s in scripts]
    if runs and runs[-1].get("stderr_log"):
        out["stderr"] = f"{rel}/{runs[-1]['stderr_log']}"
    return out


def _listed_code(trial: str) -> list:
    """generated_code/*.py of a trial, in attempt order (a result that names no script)."""
    try:
        names = [n for n in os.listdir(os.path.join(trial, "generated_code")) if n.endswith(".py")]
    except OSError:
        return []
    number = {n: int(m.group(1)) if (m := _ATTEMPT.search(n)) else 0 for n in names}
    return [f"generated_code/{n}" for n in sorted(names, key=lambda n: (number[n], n))]


def row_of(r: dict, base: str, rel_dirs=None, m: int = -1) -> dict:
    """One trial as a row of the table and of trials.csv (paths relative to `base`)."""
    c = r.get("classification") or {}
    rule, llm = c.get("rule") or {}, c.get("llm") or {}
    status = r.get("status")
    if status in FAILURES:
        evidence = "; ".join(str(e) for e in rule.get("evidence") or [])
    else:  # why an excluded trial was left out (e.g. the provider's error), as the loop recorded it
        evidence = "" if status == "success" else str(r.get("reason") or "")
    links = files_of(r, base, rel_dirs)
    get = links.get
    return {"campaign": r.get("campaign_label", ""), "model": r["model"], "step": r["step"], "trial": r["trial"],
            "status": status, "rule_category": rule.get("category"), "rule": rule.get("rule"),
            "evidence": evidence, "llm_category": llm.get("category"), "iterations": r.get("iterations"),
            "api_calls": r.get("api_calls"), "tokens": metrics.total_tokens(r), "cost": metrics.cost_of(r),
            "seconds": (r.get("durations") or {}).get("total"), "server_busy_slots": server_load(r),
            "links": links, "m": m, "g": group(status),
            "log": get("log"), "validation": get("validation"), "code": get("code"), "stderr": get("stderr"),
            "result": get("result")}


def rows_of(records: list, base, models: list, steps: list) -> list:
    """The rows of every record in table order (models, steps, campaign, trial), paths relative to `base`."""
    base = os.path.abspath(base)
    m_index = {m: i for i, m in enumerate(models)}
    s_index = {s: i for i, s in enumerate(steps)}
    ordered = sorted(records, key=lambda r: (m_index.get(r["model"], len(models)), s_index.get(r["step"], len(steps)),
                                             r.get("campaign", 0), r["trial"]))
    rel_dirs = {}
    return [row_of(r, base, rel_dirs, m_index.get(r["model"], -1)) for r in ordered]


def csv_text(rows: list) -> str:
    """trials.csv: one line per trial, the links as paths relative to the report."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    writer.writerows([row[k] for k in COLUMNS] for row in rows)     # csv writes None as ""
    return out.getvalue()


# ---- the HTML table --------------------------------------------------------------------------------------


def _href(path: str) -> str:
    return esc(quote(path))


LINK_TEXT = {"log": "log", "validation": "val", "code": "code", "stderr": "err", "result": "json"}


def _links(links: dict) -> str:
    parts = [f'<a href="{_href(links[k])}">{text}</a>' for k, text in LINK_TEXT.items() if k in links]
    earlier = links.get("attempts", [])[:-1]
    if earlier:   # the earlier attempts' code, by number (the last one is `code`)
        parts.append("earlier: " + " ".join(f'<a href="{_href(p)}">{i}</a>' for i, p in enumerate(earlier, 1)))
    return " ".join(parts)


def _evidence(row: dict) -> str:
    if not row["rule"] and not row["evidence"]:
        return ""
    text = (f"{row['rule']}: " if row["rule"] else "") + row["evidence"]
    return esc(text if len(text) <= EVIDENCE_CHARS else text[:EVIDENCE_CHARS - 1] + "…")


def _money(cost) -> str:
    return "unknown" if cost is None else "0" if cost == 0 else plain(cost)


def table(rows: list, merged: bool) -> str:
    """The trial table (HTML), its filter controls (shown by TRIALS_JS) and the anchors heatmap cells link to."""
    if not rows:
        return "<p class='sub'>No finished trial yet.</p>"
    first = {}     # cell -> the row its heatmap link lands on: its first failure, else its first trial
    for i, row in enumerate(rows):
        key = (row["m"], row["step"])
        if key not in first or (rows[first[key]]["g"] != "f" and row["g"] == "f"):
            first[key] = i
    landing = {i: anchor(*key) for key, i in first.items()}
    names, words, out = {}, {}, []

    def word(text):   # statuses, steps and categories repeat: escape each once
        return words.get(text) or words.setdefault(text, esc(text or ""))

    for i, row in enumerate(rows):
        name = names.get(row["model"]) or names.setdefault(row["model"], breakable(esc(shown(row["model"]))))
        ident = f' id="{landing[i]}"' if i in landing else ""
        camp = f"<td>{word(row['campaign'])}</td>" if merged else ""
        step, seconds = word(row["step"]), row["seconds"]
        out.append(
            f'<tr{ident} data-c="{row["m"]}-{step}" data-g="{row["g"]}"><td>{name}</td><td>{step}</td>'
            f'<td class="n">{row["trial"]}</td>{camp}<td>{word(row["status"])}</td>'
            f'<td>{word(row["rule_category"])}</td><td class="ev">{_evidence(row)}</td>'
            f'<td>{word(row["llm_category"])}</td><td class="n">{_int(row["iterations"])}</td>'
            f'<td class="n">{_int(row["tokens"])}</td><td class="n">{_money(row["cost"])}</td>'
            f'<td class="n"{_load_title(row)}>{"–" if seconds is None else f"{seconds:.1f}"}</td>'
            f'<td class="ln">{_links(row["links"])}</td></tr>')
    head = ("<tr><th>model</th><th>step</th><th class='n'>trial</th>" + ("<th>campaign</th>" if merged else "")
            + "<th>status</th><th>error (rules)</th><th>the rule's evidence</th><th>error (LLM)</th>"
            "<th class='n'>iter.</th><th class='n'>tokens</th><th class='n'>cost ($)</th><th class='n'>time (s)</th>"
            "<th>files</th></tr>")
    controls = ("<div id='trial-filter' hidden>Filter: <input id='tq' type='search' placeholder='words, e.g. "
                "step2 branch' aria-label='filter the trials'> <select id='tg' aria-label='status'>"
                "<option value=''>all trials</option><option value='f'>failures</option>"
                "<option value='s'>successes</option><option value='x'>excluded (infrastructure, skipped)</option>"
                "</select> <span id='tn'></span> <button id='tall' type='button' hidden>show every cell</button></div>")
    return f"{controls}<table id='trials'><thead>{head}</thead><tbody>{''.join(out)}</tbody></table>"


def server_load(r: dict):
    """The mean busy slots of the local server while the trial ran (above 1: it shared the cores), or None."""
    return ((r.get("compute") or {}).get("local_server_load") or {}).get("mean_busy_slots")


def _load_title(row: dict) -> str:
    load = row["server_busy_slots"]
    return "" if load is None else f' title="the local server had {load} slot(s) busy on average meanwhile"'


def _int(value) -> str:
    return "–" if value is None else str(value)
