"""Are a cell's trials separate runs, or one run repeated? Their conversations, compared reply for reply.

At temperature 0 a deterministic server answers the same prompt with the same reply, so trial 2 of a cell
can be trial 1 again, call for call. A success rate then counts one outcome twice, and its interval,
which assumes independent trials, is too narrow. Each trial's cassette holds its replies in order; two
trials are one run when every reply (role, text, or the error) is the same.
"""

from pathlib import Path

from hepmini.agent.trial import CASSETTE, COUNTED
from hepmini.bench.fmt import shown
from hepmini.errors import CassetteError
from hepmini.llm import cassette


def conversation(trial_dir) -> list:
    """The trial's replies in order as (role, text or error kind); None when it has no readable cassette."""
    try:
        records = cassette.records(Path(trial_dir) / CASSETTE)
    except CassetteError:
        return None
    out = []
    for record in records:
        reply = record.get("reply") if isinstance(record.get("reply"), dict) else {}
        said = reply.get("text") if "error" not in reply else f"error: {(reply['error'] or {}).get('kind')}"
        out.append((record.get("role", ""), said))
    return out


def first_difference(a: list, b: list) -> int:
    """The 1-based number of the first call whose reply differs (0: none does).

    >>> first_difference([("s", "x"), ("c", "y")], [("s", "x"), ("c", "z")]), first_difference([1, 2], [1, 2])
    (2, 0)
    >>> first_difference([("s", "x")], [("s", "x"), ("c", "y")])   # one went on longer
    2
    """
    for n, (x, y) in enumerate(zip(a, b), 1):
        if x != y:
            return n
    return 0 if len(a) == len(b) else min(len(a), len(b)) + 1


def cell(trials: dict) -> dict:
    """{trials, distinct, repeats: [{trial, of}], differs_from_first: {trial: call}} of one cell's {k: conversation}."""
    seen, repeats, differs = {}, [], {}
    ks = sorted(trials)
    for k in ks:
        calls = tuple(trials[k])
        if calls in seen:
            repeats.append({"trial": k, "of": seen[calls]})
        else:
            seen[calls] = k
        if k != ks[0]:
            differs[str(k)] = first_difference(trials[ks[0]], trials[k])
    return {"trials": len(ks), "distinct": len(seen), "repeats": repeats, "differs_from_first": differs}


def of(records: list) -> list:
    """Per model × step with 2+ counted trials that have cassettes: how many distinct runs they were."""
    by_cell = {}
    for r in records:
        if r.get("status") in COUNTED and r.get("path"):
            by_cell.setdefault((r["model"], r["step"]), []).append(r)
    out = []
    for (model, step), rs in by_cell.items():
        if len(rs) < 2:   # a lone trial repeats nothing: its cassette is not read
            continue
        trials = {r["trial"]: calls for r in rs for calls in [conversation(r["path"])] if calls is not None}
        if len(trials) > 1:
            out.append({"model": model, "step": step, **cell(trials)})
    return out


def text(cells: list) -> str:
    """One sentence for summary.md and the page ('' when no cell has two trials)."""
    if not cells:
        return ""
    copies = [f"{c['step']} of {shown(c['model'])}: " + ", ".join(f"trial {r['trial']} = trial {r['of']}"
                                                             for r in c["repeats"]) for c in cells if c["repeats"]]
    distinct = sum(c["distinct"] for c in cells)
    trials = sum(c["trials"] for c in cells)
    head = (f"Repeated runs: {len(cells)} model × step cell(s) have 2+ trials; {trials} trials, {distinct} distinct "
            "conversations (reply for reply).")
    if not copies:
        return head + " No trial repeated another."
    return (head + " Repeats (one outcome counted again; a success rate's interval assumes independent trials): "
            + "; ".join(copies) + ".")
