"""(g) The attack suite as one figure: how many attacks on the sandbox were tried here, and how many were blocked.

Runs tests/attacks (every attack is the coder's reply of a real trial, from a loopback fake model) and
prints one line: `attacks: N tried, M blocked`, with the attacks this machine cannot try (a measure
that needs root or a cgroup) and why, on the same line. The attacks not blocked are named on stderr.
Exit 0 when every attack tried was blocked, 1 otherwise, 2 when the suite could not run.

Run: python perf/perf_attacks.py [pytest arguments, e.g. -k memory]
"""

import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def outcomes(report: Path) -> tuple:
    """(tried, blocked, not-blocked names, skipped count, skip reasons) of the attack cases in a JUnit report."""
    cases = [c for c in ET.parse(report).getroot().iter("testcase") if c.get("name", "").startswith("test_attack_")]
    skipped = [c for c in cases if c.find("skipped") is not None]
    failed = [c.get("name") for c in cases if c.find("failure") is not None or c.find("error") is not None]
    reasons = sorted({(c.find("skipped").get("message") or "").removeprefix("Skipped: ")[:100] for c in skipped})
    tried = len(cases) - len(skipped)
    return tried, tried - len(failed), failed, len(skipped), reasons


def main(argv=None) -> int:
    with tempfile.TemporaryDirectory(prefix="hepmini-attacks-") as tmp:
        report = Path(tmp) / "attacks.xml"
        proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/attacks",
                               f"--junitxml={report}", "-o", "junit_family=xunit2", *(argv or [])],
                              cwd=ROOT, capture_output=True, text=True)
        if not report.exists():
            print(f"attacks: the suite did not run (pytest exit {proc.returncode}); see below", file=sys.stderr)
            print(proc.stdout[-3000:] + proc.stderr[-3000:], file=sys.stderr)
            return 2
        tried, blocked, failed, skipped, reasons = outcomes(report)
    untried = f" ({skipped} not tried here: {'; '.join(reasons)})" if skipped else ""
    print(f"attacks: {tried} tried, {blocked} blocked{untried}")
    for name in failed:
        print(f"NOT BLOCKED: {name}", file=sys.stderr)
    return 0 if blocked == tried else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
