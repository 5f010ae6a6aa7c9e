"""The command line on real subprocesses: start-up cost, one-line errors for bad input, the main job."""

import json
import os
import shutil
import struct
import subprocess
import sys

import numpy as np
import pytest

from support.workdirs import ROOT_DIR, copy_workdir, run_cli


def one_line_error(proc, *needles):
    """Assert a failed command printed exactly one error line containing every needle."""
    assert proc.returncode != 0
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("hepmini: error: ")
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


def test_help_and_startup_import_nothing_heavy():
    code = ("import sys; from hepmini import cli\n"
            "try:\n    cli.main(['--help'])\nexcept SystemExit:\n    pass\n"
            "print(sorted(m for m in ('numpy', 'uproot', 'torch', 'requests', 'awkward') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT_DIR, capture_output=True, text=True)
    assert out.stdout.strip().splitlines()[-1] == "[]"
    assert "hepmini" in run_cli("--help").stdout


def test_import_does_nothing(tmp_path):
    code = ("import hepmini, hepmini.cli, hepmini.config, hepmini.analysis.dag, hepmini.files, hepmini.errors, "
            "hepmini.llm.client, hepmini.agent.loop, hepmini.bench.campaign, hepmini.data.synth")
    subprocess.run([sys.executable, "-c", code], cwd=tmp_path, check=True,
                   env={**os.environ, "PYTHONPATH": str(ROOT_DIR)})
    assert list(tmp_path.iterdir()) == []


def test_unknown_step_and_setting(tmp_path):
    one_line_error(run_cli("run", "step9", "--workdir", tmp_path / "w"), "unknown step 'step9'")
    one_line_error(run_cli("run", "categorise", "--workdir", tmp_path / "w"), "did you mean categorize")
    one_line_error(run_cli("status", "--set", "scael=1", "--workdir", tmp_path / "w"),
                   "unknown setting 'scael'", "did you mean scale")


def test_missing_and_empty_data_dir(tmp_path):
    one_line_error(run_cli("all", "--workdir", tmp_path / "w", "--data-dir", tmp_path / "nope"),
                   "does not exist")
    (tmp_path / "empty").mkdir()
    one_line_error(run_cli("all", "--workdir", tmp_path / "w", "--data-dir", tmp_path / "empty"),
                   "holds none of the GamGam files", "hepmini data --out")
    assert not (tmp_path / "w" / "solution").exists()


def test_unwritable_workdir(tmp_path, small_data):
    (tmp_path / "file").write_text("x")
    one_line_error(run_cli("all", "--workdir", tmp_path / "file" / "w", "--data-dir", small_data),
                   "not writable", "--workdir")


def copy_data(src, dst):
    shutil.copytree(src, dst)
    return dst


def test_a_truncated_file_fails_step1_in_one_line_naming_it(tmp_path, small_data):
    data = copy_data(small_data, tmp_path / "data")
    victim = data / "GamGam/MC/mc_345041.VBFH125_gamgam.GamGam.root"
    raw = victim.read_bytes()
    victim.write_bytes(raw[: int(len(raw) * 0.99)])     # the header and the tree still read fine
    proc = run_cli("run", "step1", "--workdir", tmp_path / "w", "--data-dir", data)
    one_line_error(proc, "mc_345041.VBFH125_gamgam.GamGam.root: truncated ROOT file", f"of the {len(raw)} its header")
    assert not (tmp_path / "w/solution/inspect").exists() and not (tmp_path / "w/.hepmini/stamps/step1.json").exists()
    # a copy whose header was made to agree with the cut: its baskets still end beyond the file
    header = bytearray(raw[: int(len(raw) * 0.6)])
    wide = struct.unpack(">i", header[4:8])[0] >= 1000000          # fEND is 8 bytes in large files
    header[12:20 if wide else 16] = struct.pack(">q" if wide else ">i", len(header))
    victim.write_bytes(bytes(header))
    proc = run_cli("run", "step1", "--workdir", tmp_path / "w", "--data-dir", data)
    one_line_error(proc, "mc_345041.VBFH125_gamgam.GamGam.root: truncated ROOT file (branch")


def test_an_rntuple_named_mini_is_named_as_such(tmp_path, small_data):
    import uproot

    data = copy_data(small_data, tmp_path / "data")
    victim = data / "GamGam/Data/data_A.GamGam.root"
    with uproot.recreate(victim) as f:
        f["mini"] = {"photon_pt": np.zeros(3, np.float32)}          # uproot 5's default: an RNTuple
    proc = run_cli("run", "step1", "--workdir", tmp_path / "w", "--data-dir", data)
    one_line_error(proc, "data_A.GamGam.root: 'mini' is an RNTuple", "not the TTree of the 2020 release")


@pytest.mark.parametrize("damage", ["truncate", "garbage"])
def test_corrupt_root_file(tmp_path, small_data, damage):
    data = copy_data(small_data, tmp_path / "data")
    victim = data / "GamGam/Data/data_B.GamGam.root"
    raw = victim.read_bytes()
    victim.write_bytes(raw[: len(raw) // 2] if damage == "truncate" else b"not a root file" * 100)
    proc = run_cli("run", "step2", "--workdir", tmp_path / "w", "--data-dir", data)
    one_line_error(proc, "data_B.GamGam.root", "re-create")
    assert not (tmp_path / "w/solution/ntuples").exists()


NEEDED = ["jet_eta", "jet_phi", "jet_pt", "lep_eta", "lep_phi", "lep_pt", "met_et", "met_phi", "mcWeight",
          "photon_eta", "photon_etcone20", "photon_isTightID", "photon_n", "photon_phi", "photon_pt",
          "photon_ptcone30", "scaleFactor_PHOTON", "scaleFactor_PILEUP", "scaleFactor_PhotonTRIGGER",
          "SumWeights", "trigP", "XSection"]


def write_tree(path, tree, branches):
    import uproot

    path.parent.mkdir(parents=True, exist_ok=True)
    with uproot.recreate(path) as f:
        f.mktree(tree, {name: np.float32 for name in branches})
        f[tree].extend({name: np.zeros(3, np.float32) for name in branches})


def test_2025_release_is_refused_by_name(tmp_path, small_data):
    data = copy_data(small_data, tmp_path / "data")
    write_tree(data / "GamGam/MC/mc_345041.VBFH125_gamgam.GamGam.root", "analysis",
               ["photon_pt", "photon_e"])
    proc = run_cli("run", "step1", "--workdir", tmp_path / "w", "--data-dir", data)
    one_line_error(proc, "mc_345041.VBFH125_gamgam.GamGam.root", "tree 'analysis'", "2025")


def test_missing_branch_names_nearest(tmp_path, small_data):
    data = copy_data(small_data, tmp_path / "data")
    write_tree(data / "GamGam/Data/data_C.GamGam.root", "mini",
               ["SumWeights", "XSection", "photon_ptt", "photon_eta", "trigP"])
    proc = run_cli("run", "step2", "--workdir", tmp_path / "w", "--data-dir", data)
    one_line_error(proc, "data_C.GamGam.root", "has no branch 'jet_eta'", "more needed branches")
    write_tree(data / "GamGam/Data/data_C.GamGam.root", "mini",
               ["photon_ptt"] + [b for b in NEEDED if b != "photon_pt"])
    proc = run_cli("run", "step2", "--workdir", tmp_path / "w", "--data-dir", data)
    one_line_error(proc, "data_C.GamGam.root", "no branch 'photon_pt' (nearest: photon_ptt")


def test_reference_run_outputs(reference_run):
    import hepmini.layout as sd

    for step in sd.steps():
        for rel in step.OUTPUTS:
            assert (reference_run / rel).is_file(), rel
    sig = np.load(reference_run / "arrays/significances.npy")
    bnd = np.load(reference_run / "arrays/boundaries.npy")
    assert len(bnd) == len(sig) + 1  # [0, 1] plus one boundary per added category
    assert np.all(np.diff(sig) > 0), sig  # each added category raises the significance
    assert bnd[0] == 0.0 and bnd[-1] == 1.0 and np.all(np.diff(bnd) > 0)
    info = json.loads((reference_run / "arrays/classifier.json").read_text())
    assert info["backend"] == "hgb"


def test_rerun_status_and_dry_run(reference_run):
    work = reference_run.parent
    common = ["--workdir", work, "--set", "scale=0.02", "--set", "classifier=hgb", "--set", "seed=11"]
    again = run_cli("all", *common)
    assert again.returncode == 0 and "nothing to do" in again.stdout
    # what the analysis found, even when nothing ran: the classifier used and the categories
    bnd, sig = (np.load(reference_run / f"arrays/{n}.npy") for n in ("boundaries", "significances"))
    assert "classifier (step4): HistGradientBoostingClassifier (classifier=hgb requested)" in again.stdout
    assert (f"categories (step5): boundaries {', '.join(f'{b:.4g}' for b in bnd)}; significance "
            f"{' -> '.join(f'{z:.4g}' for z in sig)} (null first; final Z = {sig[-1]:.4g})") in again.stdout
    status = run_cli("status", *common)
    assert status.returncode == 0
    assert all("up to date" in ln for ln in status.stdout.splitlines()), status.stdout
    changed = run_cli("status", "--workdir", work, "--set", "scale=0.02", "--set", "classifier=auto",
                      "--set", "seed=11")
    assert changed.returncode == 1              # anything stale: exit 1, like `make -q`
    assert "parameters changed: classifier 'hgb' -> 'auto'" in changed.stdout
    assert run_cli("status", "--json", "--workdir", work, "--set", "classifier=auto", "--set", "scale=0.02",
                   "--set", "seed=11").returncode == 1
    dry = run_cli("all", "--dry-run", "--workdir", work, "--set", "scale=0.03",
                  "--set", "classifier=hgb", "--set", "seed=11")
    assert dry.returncode == 0
    assert "would run data: parameters changed: scale 0.02 -> 0.03" in dry.stdout
    assert "would run step5: upstream step3, step4 will run" in dry.stdout


def test_non_editable_install_finds_its_trees(tmp_path):
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
                    "--no-compile", "--target", str(target), str(ROOT_DIR)],
                   check=True, capture_output=True, cwd=tmp_path)
    code = ("import hepmini.layout as f, hepmini.layout as s\n"
            "print(f.tree_dir('steps').parent == f.PACKAGE_DIR, f.tree_dir('prompts').parent == f.PACKAGE_DIR)\n"
            "print([x.NAME for x in s.steps()], (f.tree_dir('reference') / 'step5_categorize.py').is_file())\n"
            "print(len(list(f.tree_dir('prompts').glob('*.txt'))) >= 5)")
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": str(target)})
    assert out.stdout.split("\n")[:3] == ["True True", "['step1', 'step2', 'step3', 'step4', 'step5'] True",
                                          "True"], out.stderr


def test_all_says_once_on_the_console_that_the_classifier_fell_back(reference_run, tmp_path_factory, tmp_path):
    work = copy_workdir(reference_run, tmp_path_factory, "fallback")
    proc = run_cli("all", "--workdir", work, "--set", "scale=0.02", "--set", "seed=11", "--set", "classifier=auto",
                   env={"TABPFN_MODEL_CACHE_DIR": str(tmp_path / "no-weights")})
    assert proc.returncode == 0, proc.stderr
    assert "running step4" in proc.stdout and "running step5" in proc.stdout
    said = [ln for ln in (proc.stdout + proc.stderr).splitlines() if "TabPFN" in ln]
    assert len(said) == 1 and said[0].startswith("classifier (step4): HistGradientBoostingClassifier, the fallback: "
                                                 "no TabPFN weights found"), said
    assert "TABPFN_MODEL_CACHE_DIR" in said[0] and "categories (step5): boundaries 0, " in proc.stdout
