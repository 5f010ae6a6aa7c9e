"""The committed real campaign (docs/bench-local/, the local model) replays exactly: no model, same outcomes."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from support.workdirs import ROOT_DIR, run_cli

DOCS = ROOT_DIR / "docs" / "bench-local"
# the campaigns committed so far: the paper protocol with each context, and the baseline protocol (§V.1)
CAMPAIGNS = sorted(d.name for d in DOCS.glob("*") if (d / "campaign.json").is_file())
SPECS = {"paper": ("paper", "paper"), "rich": ("paper", "rich"), "baseline": ("baseline", "paper")}
SAME = ("status", "stop", "tokens", "api_calls", "iterations", "format_errors", "supervisor_verdict")


def cells(directory: Path) -> dict:
    """{(model dir, step, trial): result} of a campaign directory."""
    return {tuple(p.parent.relative_to(directory / "cells").parts): json.loads(p.read_text())
            for p in (directory / "cells").glob("*/*/trial-*/result.json")}


def test_the_committed_campaign_is_real_and_says_how_complete_it_is():
    assert "paper" in CAMPAIGNS and set(CAMPAIGNS) <= set(SPECS), CAMPAIGNS
    for context in CAMPAIGNS:
        spec = json.loads((DOCS / context / "campaign.json").read_text())
        kept, found = json.loads((DOCS / context / "kept.json").read_text()), cells(DOCS / context)
        assert spec["models"] == ["local:qwen2.5-coder-1.5b"]
        assert (spec["settings"]["protocol"], spec["settings"]["context"]) == SPECS[context]
        assert kept["planned"] == len(spec["steps"]) * spec["trials"] and kept["finished"] == len(found) > 0
        assert kept["complete"] == (len(found) == kept["planned"]), context
        for key, r in found.items():
            assert r["status"] not in ("running", "harness_error"), (key, r["reason"])
            # kept infrastructure only when the model's own window ended it (a long conversation), never a fault
            assert r["status"] != "infrastructure" or "exceed_context_size_error" in r["reason"], (key, r["reason"])
            assert (DOCS / context / "cells" / Path(*key) / "cassette.jsonl").stat().st_size > 0
            assert r["provenance"]["local_server"]["model_sha256"].startswith("cc324af070c2"), key


def test_the_readme_table_says_what_the_kept_records_say():
    """Each kept trial's row (docs/campaign_rows.py reads result.json and classification.json) is in the README."""
    readme = (ROOT_DIR / "README.md").read_text()
    proc = subprocess.run([sys.executable, str(ROOT_DIR / "docs" / "campaign_rows.py"),
                           *(str(DOCS / c) for c in CAMPAIGNS)], capture_output=True, text=True, check=True)
    rows = proc.stdout.splitlines()
    assert len(rows) == sum(len(cells(DOCS / c)) for c in CAMPAIGNS)
    for row in rows:
        assert row in readme, row


@pytest.mark.slow
@pytest.mark.parametrize("context", CAMPAIGNS)
def test_the_committed_campaign_replays_with_every_outcome_unchanged(context, tmp_path):
    """CI re-checks the real campaign with no model: the same code runs, the same validation, the same record."""
    proc = run_cli("bench", "--replay", DOCS / context, "--out", tmp_path / "again", "--workdir", tmp_path / "work",
                   timeout=1800)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    first, second = cells(DOCS / context), cells(tmp_path / "again")
    assert set(first) <= set(second)
    # a cell the committed campaign has not finished has no recording: replayed, it is never answered
    assert all(r["status"] == "infrastructure" for key, r in second.items() if key not in first)
    changed = [(key, field, r[field], second[key][field]) for key, r in sorted(first.items()) for field in SAME
               if r.get(field) != second[key].get(field)]
    changed += [(key, "cost", r["cost"]["total"], second[key]["cost"]["total"]) for key, r in first.items()
                if r["cost"]["total"] != second[key]["cost"]["total"]]
    changed += [(key, "validation", (r["validation"] or {}).get("passed"), (second[key]["validation"] or {}).get("passed"))
                for key, r in first.items()
                if (r["validation"] or {}).get("passed") != (second[key]["validation"] or {}).get("passed")]
    # a changed prompt says where (the first character that differs from the recording): e.g. another
    # package version in --context rich's environment line
    assert changed == [], (changed, sorted({second[cell].get("reason") for cell, *_ in changed}))


def _campaign(root: Path, statuses: list) -> Path:
    """A campaign directory of one model and len(statuses) steps, one trial each, with outputs beside the record."""
    spec = {"models": ["local:m"], "steps": [f"step{i + 1}" for i in range(len(statuses))], "trials": 1}
    (root / "cells").mkdir(parents=True)
    (root / "campaign.json").write_text(json.dumps(spec))
    for step, status in zip(spec["steps"], statuses):
        cell = root / "cells" / "local__m" / step / "trial-1"
        (cell / "outputs").mkdir(parents=True)
        (cell / "outputs" / "big.npy").write_bytes(bytes(100))
        (cell / "result.json").write_text(json.dumps({"status": status}))
        (cell / "cassette.jsonl").write_text("{}\n")
    return root


def test_keeping_a_campaign_takes_its_record_not_its_outputs_and_never_an_unfinished_one(tmp_path):
    import subprocess
    import sys

    keep = [sys.executable, str(ROOT_DIR / "docs" / "keep_campaign.py")]
    running = _campaign(tmp_path / "running", ["failed", "running", "harness_error"])
    proc = subprocess.run(keep + [str(running), str(tmp_path / "kept")], capture_output=True, text=True)
    assert proc.returncode == 3 and "1 of 3 cells finished" in proc.stderr
    assert not list(tmp_path.glob("kept*"))
    proc = subprocess.run(keep + ["--partial", str(running), str(tmp_path / "part")], capture_output=True, text=True)
    assert proc.returncode == 0 and json.loads((tmp_path / "part" / "kept.json").read_text()) == \
        {"finished": 1, "planned": 3, "complete": False}
    assert [p.parent.name for p in (tmp_path / "part").glob("cells/*/*/trial-1")] == ["step1"]
    done = _campaign(tmp_path / "done", ["failed", "success"])
    proc = subprocess.run(keep + [str(done), str(tmp_path / "kept")], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    kept = sorted(str(p.relative_to(tmp_path / "kept")) for p in (tmp_path / "kept").rglob("*") if p.is_file())
    assert kept == ["campaign.json"] + [f"cells/local__m/step{i}/trial-1/{name}" for i in (1, 2)
                                        for name in ("cassette.jsonl", "result.json")] + ["kept.json"]


@pytest.mark.parametrize("name", CAMPAIGNS)
def test_a_kept_campaign_resumes_as_a_run_that_lacks_only_what_was_not_kept(name, tmp_path):
    """`make bench-local LOCAL_FROM=docs/bench-local`: the kept trials count as finished; only the rest would run."""
    keep = [sys.executable, str(ROOT_DIR / "docs" / "keep_campaign.py"), "--resume"]
    kept = json.loads((DOCS / name / "kept.json").read_text())
    run = tmp_path / name
    proc = subprocess.run(keep + [str(DOCS / name), str(run)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert not (run / "kept.json").exists() and cells(run) == cells(DOCS / name)
    again = subprocess.run(keep + [str(DOCS / name), str(run)], capture_output=True, text=True)
    assert again.returncode != 0 and "exists" in again.stderr            # never over a run directory
    dry = run_cli("bench", "--out", run, "-n", cwd=tmp_path, timeout=300)
    assert dry.returncode == 0, dry.stderr
    assert f"resume: {kept['finished']} cell(s) finished before (skipped)" in dry.stdout
    assert f"would run {kept['planned'] - kept['finished']} cell(s)" in dry.stdout or kept["complete"]
    assert cells(run) == cells(DOCS / name)                               # a dry run writes nothing
