"""How classifications agree: confusion matrices (rules vs injected faults, rules vs LLM) and the LLM's position control."""

from hepmini.agent.prompts import ERROR_CATEGORIES as CATEGORIES

WEIGHTS, DUMMY, CALLING, BRANCH, MISSING, SEMANTIC, OTHER = CATEGORIES
CONTROLS = {"reversed": tuple(reversed(CATEGORIES))}   # the category orders of the LLM's position-bias control
SHORT = {WEIGHTS: "weights=0", DUMMY: "dummy", CALLING: "func-call", BRANCH: "branch", MISSING: "file-nf",
         SEMANTIC: "semantic", OTHER: "other"}   # column heads of the confusion tables


def confusion(pairs) -> dict:
    """{n, agree, rate, matrix: {truth: {predicted: count}}} of (truth, predicted) pairs."""
    matrix, n, agree = {}, 0, 0
    for truth, predicted in pairs:
        row = matrix.setdefault(truth, {})
        row[predicted] = row.get(predicted, 0) + 1
        n += 1
        agree += truth == predicted
    return {"n": n, "agree": agree, "rate": agree / n if n else None, "matrix": matrix}


def matrix_text(conf: dict, row_label="truth", col_label="rules") -> str:
    """A confusion matrix as a fixed-width text table (rows: `row_label`, columns: `col_label`)."""
    used = [c for c in CATEGORIES if c in conf["matrix"] or any(c in r for r in conf["matrix"].values())]
    corner = f"{row_label} \\ {col_label}"
    head = f"{corner:<28}" + "".join(f"{SHORT[c]:>10}" for c in used)
    lines = [head]
    for truth in used:
        if truth in conf["matrix"]:
            row = conf["matrix"][truth]
            lines.append(f"{truth:<28}" + "".join(f"{row.get(c, 0) or '.':>10}" for c in used))
    return "\n".join(lines)


def position_control(classifications) -> dict:
    """How the LLM's answers moved when its category list was reversed, over trials with both answers.

    {n, same, first: answers naming the category listed first (paper order), first_control: the same with the
    list reversed}; n is 0 when the control was not run.

    >>> position_control([{"llm": {"category": WEIGHTS}, "llm_control": {"category": OTHER, "order": "reversed"}},
    ...                   {"llm": {"category": SEMANTIC}, "llm_control": {"category": SEMANTIC, "order": "reversed"}}])
    {'n': 2, 'same': 1, 'first': 1, 'first_control': 1}
    """
    n = same = first = first_control = 0
    for c in classifications:
        main, control = (c.get("llm") or {}).get("category"), c.get("llm_control") or {}
        if not main or not control.get("category") or control.get("order") not in CONTROLS:
            continue
        n += 1
        same += main == control["category"]
        first += main == CATEGORIES[0]
        first_control += control["category"] == CONTROLS[control["order"]][0]
    return {"n": n, "same": same, "first": first, "first_control": first_control}


def position_text(pos: dict) -> str:
    """One sentence on the position-bias control."""
    return (f"position control (the category list reversed): {pos['same']}/{pos['n']} answers unchanged; the "
            f"category listed first was chosen {pos['first']}/{pos['n']} times in the paper's order and "
            f"{pos['first_control']}/{pos['n']} times reversed")
