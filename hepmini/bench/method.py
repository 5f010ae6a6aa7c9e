"""The method measured, not only the models: the paired comparison of two contexts, and the paper's quoted figures.

A paired comparison needs two arms that differ only in the context (paper vs rich): same model,
protocol, steps and settings. Trial k of one arm is paired with trial k of the other (they share
the fault seed and the data); a pair counts when neither trial is excluded (infrastructure,
skipped, harness error). Per step: both success rates, their difference with a 95 % interval
(Newcombe's paired score interval), and McNemar's exact test on the discordant pairs.
"""

import math

from hepmini.agent.trial import COUNTED
from hepmini.bench.metrics import wilson

# Paper §V.1 and Table 1 (gemini-pro-2.5, 219 trials per composite step): QUOTED, never measured here.
PAPER_SOURCE = "paper §V.1 and Table 1: gemini-pro-2.5, 219 trials per step, three composite steps, 5 repair rounds"
PAPER_RATES = {"dataprep": (0.58, 0.03), "sbsep": (0.88, 0.02), "categorization": (0.74, 0.03)}
PAPER_TABLE1 = {  # category: (data-prep, S-B separation, categorization) failure counts
    "all data weights = 0": (41, 0, 0), "dummy data created": (15, 4, 4), "function-calling error": (1, 3, 26),
    "incorrect branch name": (9, 0, 0), "intermediate file not found": (17, 13, 6), "semantic error": (6, 5, 17),
    "other": (4, 0, 4)}
PAPER_FAILURES = (93, 25, 57)


def arms(records: list) -> dict:
    """{(model, protocol, context): {step: {k: record}}} of the records (a model's campaign label kept)."""
    found = {}
    for r in records:
        settings = r.get("settings") or {}
        key = (r.get("model_name", r["model"]), settings.get("protocol", "paper"), settings.get("context", "paper"))
        found.setdefault(key, {}).setdefault(r["step"], {})[r.get("trial")] = r
    return found


def mcnemar(b01: int, b10: int) -> float:
    """Two-sided exact McNemar p-value from the discordant pairs (a binomial test at 1/2).

    >>> round(mcnemar(0, 6), 4), mcnemar(3, 3)
    (0.0312, 1.0)
    """
    n = b01 + b10
    if n == 0:
        return 1.0
    k = min(b01, b10)
    tail = sum(math.comb(n, i) for i in range(k + 1)) / 2 ** n
    return min(1.0, 2 * tail)


def paired_step(a: dict, b: dict) -> dict:
    """The comparison of arm b against arm a on one step (pairs by trial number)."""
    pairs = [(a[k]["status"] == "success", b[k]["status"] == "success") for k in sorted(set(a) & set(b), key=str)
             if a[k]["status"] in COUNTED and b[k]["status"] in COUNTED]
    n = len(pairs)
    b01 = sum(1 for x, y in pairs if not x and y)      # rich succeeded where paper failed
    b10 = sum(1 for x, y in pairs if x and not y)
    if not n:
        return {"n": 0}
    both = sum(1 for x, y in pairs if x and y)
    low, high = paired_interval(both, b01, b10, n - both - b01 - b10)
    pa, pb = sum(x for x, _ in pairs) / n, sum(y for _, y in pairs) / n
    return {"n": n, "a": pa, "b": pb, "difference": (b01 - b10) / n, "low": low, "high": high,
            "b_only": b01, "a_only": b10, "p_mcnemar": mcnemar(b01, b10)}


def paired_interval(both: int, b_only: int, a_only: int, neither: int) -> tuple:
    """95 % interval of p(b) - p(a) from paired successes: Newcombe's hybrid score method (1998, method 10).

    Built from each arm's Wilson interval and the pairs' correlation, it stays honest where Wald's
    collapses: with no discordant pair it is not [0, 0] (two failed pairs: about ±0.66).

    >>> [round(x, 4) for x in paired_interval(12, 9, 2, 21)]     # Newcombe's example, arms as (b, a)
    [0.0112, 0.2954]
    >>> [round(x, 4) for x in paired_interval(0, 0, 0, 2)]
    [-0.6576, 0.6576]
    """
    n = both + b_only + a_only + neither
    pb, pa = (both + b_only) / n, (both + a_only) / n
    lb, ub = wilson(both + b_only, n)
    la, ua = wilson(both + a_only, n)
    margins = (both + b_only) * (a_only + neither) * (both + a_only) * (b_only + neither)
    cross = both * neither - b_only * a_only
    # the continuity-corrected correlation of the pairs: 0 unless clearly positive, kept when negative
    phi = (cross - n / 2 if cross > n / 2 else min(cross, 0)) / math.sqrt(margins) if margins else 0.0
    d = pb - pa
    down = math.sqrt(max((pb - lb) ** 2 - 2 * phi * (pb - lb) * (ua - pa) + (ua - pa) ** 2, 0.0))
    up = math.sqrt(max((pa - la) ** 2 - 2 * phi * (pa - la) * (ub - pb) + (ub - pb) ** 2, 0.0))
    return max(d - down, -1.0), min(d + up, 1.0)


def paired(records: list) -> list:
    """Every paper-vs-rich pair of arms of one model and protocol, step by step."""
    found, out = arms(records), []
    for (model, protocol, context), steps in sorted(found.items()):
        if context != "paper" or (model, protocol, "rich") not in found:
            continue
        rich = found[(model, protocol, "rich")]
        rows = {step: paired_step(steps[step], rich[step]) for step in steps if step in rich}
        out.append({"model": model, "protocol": protocol, "a": "paper", "b": "rich", "steps": rows})
    return out


def quoted(records: list) -> dict:
    """The paper's baseline figures beside this campaign's baseline arms, when it has any."""
    measured = {}
    for (model, protocol, context), steps in arms(records).items():
        if protocol != "baseline":
            continue
        for step, trials in steps.items():
            counted = [r for r in trials.values() if r["status"] in COUNTED]
            if counted:
                c = sum(r["status"] == "success" for r in counted)
                measured.setdefault(f"{model} (baseline protocol, {context} context)", {})[step] = (c / len(counted), len(counted))
    return {"source": PAPER_SOURCE, "rates": PAPER_RATES, "table1": PAPER_TABLE1, "failures": PAPER_FAILURES,
            "measured": measured}


# ---- on the page ------------------------------------------------------------------------------------


def section(s: dict) -> str:
    """The report's method section: the paired comparison of contexts, and the paper's quoted baseline."""
    from hepmini.bench.svg import esc

    parts = []
    for pair in s.get("paired") or []:
        rows = "".join(
            f"<tr><td>{esc(step)}</td><td>{r['n']}</td><td>{_pct(r.get('a'))}</td><td>{_pct(r.get('b'))}</td>"
            f"<td>{_signed(r)}</td><td>{r.get('b_only', '–')} / {r.get('a_only', '–')}</td>"
            f"<td>{_p(r)}</td></tr>"
            for step, r in pair["steps"].items())
        parts.append(f"<h3>Context: paper vs rich — {esc(pair['model'])} ({esc(pair['protocol'])} protocol)</h3>"
                     "<p class='caption'>Trial k of one arm paired with trial k of the other (same data and seed); "
                     "a pair counts when neither trial is excluded. Difference = rich − paper with its 95 % interval; "
                     "McNemar's exact test on the discordant pairs.</p><table><tr><th>step</th><th>pairs</th>"
                     "<th>paper</th><th>rich</th><th>difference (95 %)</th><th>rich only / paper only</th>"
                     f"<th>p (McNemar)</th></tr>{rows}</table>")
    q = s.get("quoted") or {}
    if q.get("measured"):
        parts.append(_quoted(q, esc))
    return ("<h2>The method</h2>" + "".join(parts)) if parts else ""


def _quoted(q: dict, esc) -> str:
    names = ["dataprep", "sbsep", "categorization"]
    head = "<tr><th></th>" + "".join(f"<th>{n}</th>" for n in names) + "</tr>"
    paper = ("<tr><td><i>paper (quoted, not measured)</i></td>"
             + "".join(f"<td><i>{100 * q['rates'][n][0]:.0f} ± {100 * q['rates'][n][1]:.0f} %</i></td>" for n in names)
             + "</tr>")
    mine = "".join(f"<tr><td>{esc(arm)}</td>" + "".join(
        f"<td>{100 * rates[n][0]:.0f} % of {rates[n][1]}</td>" if n in rates else "<td>–</td>" for n in names)
        + "</tr>" for arm, rates in q["measured"].items())
    table1 = "".join(f"<tr><td><i>{esc(cat)}</i></td>" + "".join(f"<td><i>{c}</i></td>" for c in counts) + "</tr>"
                     for cat, counts in q["table1"].items())
    return (f"<h3>Beside the paper's baseline</h3><p class='caption'>Quoted from {esc(q['source'])}: "
            "figures in italics are the paper's, not measured here.</p>"
            f"<table>{head}{paper}{mine}</table><table>{head.replace('<th></th>', '<th>paper Table 1</th>')}"
            f"{table1}</table>")


def _p(r: dict) -> str:
    return "–" if not r.get("n") else f"{r['p_mcnemar']:.3g}"


def _pct(value) -> str:
    return "–" if value is None else f"{100 * value:.0f} %"


def _signed(r: dict) -> str:
    if not r.get("n"):
        return "–"
    return f"{100 * r['difference']:+.0f} % ({100 * r['low']:+.0f}, {100 * r['high']:+.0f})"
