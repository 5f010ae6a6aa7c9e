"""Print the README's table rows of kept real campaigns: one row per trial, as the README's first real result shows.

    python docs/campaign_rows.py docs/bench-local/paper docs/bench-local/rich docs/bench-local/baseline
"""

import json
import re
import sys
from pathlib import Path


def _llm(answer) -> str:
    if not answer:
        return "not run"
    if answer.get("category") is None:
        return "call failed"
    flag = answer.get("flagged") or ""
    note = " (flagged: definition copied)" if "definition" in flag else f" (flagged: {flag[:40]})" if flag else ""
    return answer["category"] + note


def _rule(rule: dict) -> str:
    """The rule's name, with the exception that decided it when there was one."""
    raised = [m.group(1) for e in rule.get("evidence", []) for m in [re.match(r"(\w+(Error|Exception)):", e)] if m]
    return rule.get("rule", "?") + (f": {raised[0]}" if raised else "")


def _load(r: dict) -> str:
    """The server's mean busy slots while the trial ran, when it was recorded (trials from 2026-12-07 evening on)."""
    load = ((r.get("compute") or {}).get("local_server_load") or {}).get("mean_busy_slots")
    return "" if load is None else f" ({load:.1f} slots busy)"


def row(campaign: str, trial: Path) -> str:
    """One markdown row of a kept trial."""
    r = json.loads((trial / "result.json").read_text())
    c = json.loads((trial / "classification.json").read_text()) if (trial / "classification.json").is_file() else {}
    t = r.get("tokens") or {}
    rule = c.get("rule") or {}
    status = r["status"] + (f" ({r.get('stop')})" if r["status"] == "failed" else "")
    llm = _llm(c.get("llm")) + (f"; reversed: {_llm(c['llm_control'])}" if c.get("llm_control") else "")
    cells = [campaign, r.get("step", "?"), status, r.get("iterations"), r.get("api_calls"),
             r.get("supervisor_format_errors", 0),
             f"{t.get('input', 0):,} / {t.get('output', 0):,} ({t.get('cached_input', 0):,})",
             f"{(r.get('durations') or {}).get('total', 0) / 60:.0f} min" + _load(r),
             f"{rule.get('category')} ({_rule(rule)})", llm]
    return "| " + " | ".join(str(x) for x in cells) + " |"


def main(dirs) -> None:
    for d in map(Path, dirs):
        for result in sorted(d.glob("cells/*/*/trial-*/result.json")):
            print(row(d.name, result.parent))


if __name__ == "__main__":
    main(sys.argv[1:])
