"""The cluster exports: the Snakefile runs to hepmini's own outputs; the Slurm array runs cell by cell."""

import importlib.util
import os
import subprocess
import sys

import numpy as np
import pytest

from support.workdirs import ROOT_DIR, run_cli
from hepmini import config
from hepmini.analysis import dag
from hepmini.bench import export
from hepmini import layout
from hepmini.analysis.validate import validate_step

SETTINGS = ["--set", "scale=0.02", "--set", "classifier=hgb", "--set", "seed=11"]  # as conftest's reference_run
HAS_SNAKEMAKE = importlib.util.find_spec("snakemake") is not None
needs_snakemake = pytest.mark.skipif(not HAS_SNAKEMAKE, reason="snakemake is not installed (pip install '.[test]')")
HAS_REPORT = importlib.util.find_spec("hepmini.bench.report") is not None
needs_report = pytest.mark.skipif(not HAS_REPORT, reason="hepmini.bench.report (the merge step) is not written yet")


def snakemake(directory, *args, timeout=300):
    """Run snakemake in `directory` (where the Snakefile is) as a real subprocess."""
    return subprocess.run([sys.executable, "-m", "snakemake", *args], cwd=directory, capture_output=True,
                          text=True, timeout=timeout, env={**os.environ, "PYTHONPATH": str(ROOT_DIR)})


def test_snakefile_rules_are_the_dag(tmp_path):
    out, work = tmp_path / "flow", tmp_path / "work"
    proc = run_cli("export", "snakefile", "--out", out, "--workdir", work, *SETTINGS)
    assert proc.returncode == 0, proc.stderr
    text = (out / "Snakefile").read_text()
    cfg = config.resolve({"workdir": work, "scale": 0.02, "classifier": "hgb", "seed": 11}, environ={}, cwd=tmp_path)
    nodes = dag.build(cfg)
    assert list(nodes) == ["data"] + [s.NAME for s in layout.steps()]
    for name, node in nodes.items():
        rule = text.split(f"\nrule {name}:", 1)[1].split("\nrule ", 1)[0]
        inputs, outputs = rule.split("    output:")
        for path in node.outputs:  # written relative to the variables at the top, which name these roots
            rel = path.relative_to(work / "data" if name == "data" else work)
            assert f"'{{{'DATA' if name == 'data' else 'WORKDIR'}}}/{rel.as_posix()}'" in outputs
        assert inputs.count("\n        ") == len(node.inputs)
        assert f'"{{HEPMINI}} run {name} --force {{OPTIONS}}"' in rule
    for pinned in ("'scale=0.02'", "'classifier=hgb'", "'seed=11'", "'classifier_folds=2'"):
        assert pinned in text  # every step parameter, so the node's own hepmini.cfg cannot change it
    assert f"WORKDIR = {str(work)!r}" in text and f"PYTHON = {sys.executable!r}" in text

    (out / "Snakefile").write_text("rule mine:\n    shell: 'true'\n")  # someone else's: never overwritten
    proc = run_cli("export", "snakefile", "--out", out, "--workdir", work)
    assert proc.returncode != 0 and "was not written by hepmini export" in proc.stderr
    assert (out / "Snakefile").read_text().startswith("rule mine:")


@needs_snakemake
def test_snakemake_runs_the_exported_workflow_to_hepmini_outputs(tmp_path, reference_run):
    out, work = tmp_path / "flow", tmp_path / "work"
    assert run_cli("export", "snakefile", "--out", out, "--workdir", work, *SETTINGS).returncode == 0

    dry = snakemake(out, "-n")
    assert dry.returncode == 0, dry.stderr
    for rule in ["data"] + [s.NAME for s in layout.steps()]:
        assert f"{rule} " in dry.stdout + dry.stderr
    assert not work.exists()  # a dry run runs nothing

    real = snakemake(out, "--cores", "2")
    assert real.returncode == 0, real.stdout[-3000:] + real.stderr[-3000:]
    solution = work / "solution"
    for step in layout.steps():  # the same outputs as `python -m hepmini all` on the same settings
        assert validate_step(step.NAME, solution, reference_run).passed, step.NAME
    arrays = sorted(reference_run.rglob("*.npy"))
    assert len(arrays) > 10
    for path in arrays:
        assert np.array_equal(np.load(solution / path.relative_to(reference_run)), np.load(path), equal_nan=True), path
    assert not list((work / ".hepmini" / "staging").iterdir())  # hepmini's staging was used and cleaned up
    status = run_cli("status", "--workdir", work, *SETTINGS)  # hepmini's own records agree with Snakemake
    assert status.returncode == 0 and status.stdout.count("up to date") == 6, status.stdout


def test_slurm_array_runs_cell_by_cell(tmp_path, small_data):
    out, work = tmp_path / "campaign", tmp_path / "work"
    matrix = ["--models", "scripted:oracle", "--steps", "step3", "--trials", "2"]  # step3: a cheap reference
    proc = run_cli("export", "slurm", *matrix, "--out", out, "--workdir", work, "--data-dir", small_data,
                   "--set", "classifier=hgb", "--partition", "short", "--array-parallel", "1")
    assert proc.returncode == 0, proc.stderr
    scripts = [out / n for n in (export.REFERENCE, export.ARRAY, export.MERGE, export.SUBMIT)]
    for script in scripts:
        assert os.access(script, os.X_OK)
        assert subprocess.run(["bash", "-n", script], capture_output=True).returncode == 0, script
    array = scripts[1].read_text()
    assert "#SBATCH --array=0-1%1" in array and "#SBATCH --partition=short" in array
    assert f"#SBATCH --output={out}/logs/" in array and (out / "logs").is_dir()

    # The cell order is bench's: the array task index is the --cell index.
    listed = run_cli("bench", *matrix, "--out", out, "--list-cells").stdout.split("\n")
    assert listed[:2] == ["0\tscripted:oracle\tstep3\t1", "1\tscripted:oracle\tstep3\t2"]

    # Outside Slurm the #SBATCH lines are comments: run the jobs' payloads as the nodes would.
    def job(script, task=None):
        env = {k: v for k, v in os.environ.items() if not k.startswith("SLURM_")}
        env.update({} if task is None else {"SLURM_ARRAY_TASK_ID": str(task)})
        return subprocess.run(["bash", script], capture_output=True, text=True, env=env, timeout=300)

    assert job(scripts[0]).returncode == 0
    for task in (0, 1):
        run = job(scripts[1], task)
        assert run.returncode == 0, run.stdout + run.stderr
    results = sorted(out.glob("cells/*/*/trial-*/result.json"))
    assert [p.relative_to(out).parts[1:] for p in results] == [
        ("scripted__oracle", "step3", f"trial-{k}", "result.json") for k in (1, 2)]
    first = results[0].stat().st_mtime_ns
    again = job(scripts[1], 0)  # resubmitting is resuming: a finished cell is skipped
    assert again.returncode == 0 and "(0 run now)" in again.stdout and results[0].stat().st_mtime_ns == first
    missing = job(scripts[1])
    assert missing.returncode != 0 and "SLURM_ARRAY_TASK_ID" in missing.stderr
    if HAS_REPORT:  # the merge job
        merged = job(scripts[2])
        assert merged.returncode == 0 and (out / "report.html").is_file(), merged.stdout + merged.stderr

    # submit.sh chains reference -> array (afterok) -> merge (afterany); a fake sbatch records the calls.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "sbatch").write_text('#!/bin/bash\nn=$(( $(wc -l < "$LOG" 2>/dev/null || echo 0) + 101 ))\n'
                                    'echo "$*" >> "$LOG"\necho "$n;cluster"\n')
    (bin_dir / "sbatch").chmod(0o755)
    log = tmp_path / "sbatch.log"
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "LOG": str(log)}
    submitted = subprocess.run(["bash", scripts[3]], capture_output=True, text=True, env=env)
    assert submitted.returncode == 0, submitted.stderr
    calls = log.read_text().splitlines()
    assert calls == [f"--parsable {scripts[0]}",
                     f"--parsable --dependency=afterok:101 --kill-on-invalid-dep=yes {scripts[1]}",
                     f"--parsable --dependency=afterany:102 {scripts[2]}"]
    assert "reference 101, cells 102 (2 array tasks), merge 103" in submitted.stdout


def test_export_errors_are_one_line(tmp_path):
    proc = run_cli("export", "slurm", "--models", "scripted:oracle", "--steps", "step9", "--out", tmp_path / "c")
    assert proc.returncode != 0 and "unknown step 'step9'" in proc.stderr
    proc = run_cli("export", "slurm", "--models", "scripted:nonesuch", "--out", tmp_path / "c")
    assert proc.returncode != 0 and proc.stderr.startswith("hepmini: error: ") and len(proc.stderr.splitlines()) == 1
    assert run_cli("export", "slurm", "--out", tmp_path / "c").returncode == 2  # --models is required
    assert not (tmp_path / "c").exists()


@needs_report
@needs_snakemake
def test_campaign_snakefile_has_one_rule_per_cell(tmp_path, small_data):
    out, work = tmp_path / "campaign", tmp_path / "work"
    proc = run_cli("export", "snakefile", "--models", "scripted:oracle", "--steps", "step5", "--trials", "2",
                   "--out", out, "--workdir", work, "--data-dir", small_data, "--set", "classifier=hgb")
    assert proc.returncode == 0, proc.stderr
    text = (out / "Snakefile").read_text()
    assert "rule cell_0:" in text and "rule cell_1:" in text and "rule cell_2:" not in text
    assert "--cell 1 {OPTIONS}" in text and "rule report:" in text
    dry = snakemake(out, "-n", "-p")
    shown = dry.stdout + dry.stderr
    assert dry.returncode == 0, dry.stderr
    for rule in ("step2", "step5", "cell_0", "cell_1", "report"):
        assert f"{rule} " in shown
    assert "rule data:" not in shown  # --data-dir: nothing to synthesize
    # The cell's command is the one a Slurm array task runs: bench with the whole matrix and --cell I.
    assert (f"-m hepmini bench --models scripted:oracle --steps step5 --trials 2 --max-iterations 3 --out {out} "
            f"--cell 1 --workdir {work} --data-dir {small_data}") in shown
    assert f"-m hepmini report {out}" in shown
