"""Repeated runs: trials of one cell compared reply for reply (at temperature 0 a trial can be an earlier one again)."""

import json

import pytest
from support.workdirs import REF_SETTINGS, copy_workdir, run_cli

from hepmini.bench import repeats

SETS = [a for k, v in REF_SETTINGS.items() for a in ("--set", f"{k}={v}")]


def test_a_cells_trials_are_grouped_by_their_replies():
    one, other = [("supervisor", "do A"), ("coder", "code A")], [("supervisor", "do A"), ("coder", "code B")]
    got = repeats.cell({1: one, 2: other, 3: list(one), 4: one + [("supervisor", "more")]})
    assert got == {"trials": 4, "distinct": 3, "repeats": [{"trial": 3, "of": 1}],
                   "differs_from_first": {"2": 2, "3": 0, "4": 3}}
    text = repeats.text([{"model": "local:m", "step": "step4", **got}])
    assert text.startswith("Repeated runs: 1 model × step cell(s) have 2+ trials; 4 trials, 3 distinct")
    assert "step4 of local:m: trial 3 = trial 1" in text
    assert repeats.text([]) == ""


def test_a_report_says_which_trials_repeated_an_earlier_one(reference_run, tmp_path_factory, tmp_path):
    work = copy_workdir(reference_run, tmp_path_factory, "repeats")
    out = tmp_path / "camp"
    proc = run_cli("bench", "--models", "scripted:oracle", "--steps", "step1,step3", "--trials", "3",
                   "--out", out, "--workdir", work, *SETS)
    assert proc.returncode == 0, proc.stderr[-2000:]
    # trial 3 of step 3 recorded one reply differently: a different run from then on
    path = next(out.glob("cells/*/step3/trial-3/cassette.jsonl"))
    lines = path.read_text().splitlines()
    last = json.loads(lines[-1])
    last["reply"]["text"] += "\n# one more line"
    path.write_text("\n".join(lines[:-1] + [json.dumps(last)]) + "\n")
    (next(out.glob("cells/*/step1/trial-2")) / "cassette.jsonl").write_text("{garbage\n")   # unreadable: left out
    proc = run_cli("report", out)
    assert proc.returncode == 0, proc.stderr[-2000:]
    found = {c["step"]: c for c in json.loads((out / "summary.json").read_text())["repeats"]}
    assert found["step1"]["trials"] == 2 and found["step1"]["repeats"] == [{"trial": 3, "of": 1}]
    assert found["step3"]["distinct"] == 2 and found["step3"]["repeats"] == [{"trial": 2, "of": 1}]
    assert found["step3"]["differs_from_first"] == {"2": 0, "3": len(lines)}
    md = (out / "summary.md").read_text()
    assert "2 model × step cell(s) have 2+ trials; 5 trials, 3 distinct conversations" in md
    assert "step1 of scripted:oracle †: trial 3 = trial 1; step3 of scripted:oracle †: trial 2 = trial 1" in md
    assert "2 model × step cell(s) have 2+ trials" in (out / "report.html").read_text()


@pytest.mark.parametrize("line", ["", "not json\n"])
def test_a_trial_without_a_readable_cassette_is_no_run(tmp_path, line):
    (tmp_path / "cassette.jsonl").write_text(line)
    assert repeats.conversation(tmp_path) == ([] if line == "" else None)
    assert repeats.conversation(tmp_path / "absent") is None
