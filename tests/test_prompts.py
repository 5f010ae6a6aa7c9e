"""Prompts: templates load and fill, quote every rule the reference uses, and are enough to reproduce it."""

import importlib.util
import inspect
import json
import re
from pathlib import Path

import numpy as np
import pytest

from hepmini import tools
from hepmini.agent import prompts
from hepmini import layout
from hepmini.analysis import validate
from hepmini.layout import tree_dir

RULES = layout.rules()
STEPS = ["step1", "step2", "step3", "step4", "step5"]
STANDING = ["supervisor_system", "coder_system", "supervisor_review", "error_classifier"]
DIRS = {"data_dir": "/trial/data", "inputs_dir": "/trial/inputs", "outputs_dir": "/trial/out"}


def rendered(step):
    return prompts.task_prompt(step, **DIRS)


def contains_number(text, x) -> bool:
    """`x` written as in the prompts (25.0 -> 25), not as part of a longer number."""
    return re.search(rf"(?<![\d.]){re.escape(prompts.num(x))}(?![\d]|\.\d)", text) is not None


# ---- templates -----------------------------------------------------------------------------------


def test_every_step_prompt_and_standing_prompt_exists():
    names = set(prompts.names())
    for step in STEPS:
        assert Path(layout.get(step).PROMPT).stem in names
    assert set(STANDING) <= names
    assert (tree_dir("prompts") / layout.get("step5").PROMPT).is_file()


@pytest.mark.parametrize("step", STEPS)
def test_task_prompts_render_completely(step):
    text = rendered(step)
    assert "$" not in text, "an unfilled placeholder or stray dollar sign"
    assert len(text) > 800


def test_missing_variable_is_an_error_naming_it():
    with pytest.raises(prompts.PromptError, match=r"needs \$inputs_dir, \$outputs_dir"):
        prompts.render("step3_preprocess")
    with pytest.raises(prompts.PromptError, match=r"\$validation_log"):
        prompts.render("error_classifier", comprehensive_log="...")
    with pytest.raises(prompts.PromptError, match="no prompt"):
        prompts.render("step9_nothing")


def test_extra_values_are_ignored_and_caller_values_win():
    text = prompts.render("step4_classify.txt", inputs_dir="I", outputs_dir="O", unused="x",
                          tools_import="from utils import *")
    assert "from utils import *" in text and "I/arrays/signal.npy" in text


def test_standing_prompts_render_with_their_values():
    values = {k: f"<{k}>" for k in ("task", "instructions", "code", "exit_code", "output",
                                    "output_files", "attempt", "max_attempts",
                                    "comprehensive_log", "validation_log")}
    for name in STANDING:
        text = prompts.render(name, **values)
        assert "$" not in text
        filled_by_render = {"category_list"}     # the classifier's categories, in the paper's order by default
        assert prompts.placeholders(name) <= set(values) | set(prompts.rule_values()) | filled_by_render
    review = prompts.render("supervisor_review", **values)
    assert prompts.VERDICT_ACCEPT in review and prompts.VERDICT_REVISE in review
    assert "<code>" in review and "<output>" in review and "## Worker Prompt" in review
    supervisor = prompts.render("supervisor_system")
    assert "## Worker Prompt" in supervisor and "## Call record:" in supervisor
    assert "```python" in prompts.render("coder_system")


def test_error_classifier_prompt_follows_paper_section_v3():
    text = prompts.render("error_classifier", comprehensive_log="<LOG>", validation_log="<VAL>")
    assert "expert on failures of artificial-intelligence workflows in high energy physics" in text
    for category in prompts.ERROR_CATEGORIES:
        assert f"- {category}:" in text
    assert len(prompts.ERROR_CATEGORIES) == 7
    assert "root cause" in text.lower() and "***semantic error***" in text
    assert "<LOG>" in text and "<VAL>" in text
    assert text.rstrip().endswith("no explanation, no other text.")
    listed = [line[2:].split(":")[0] for line in text.splitlines() if line.startswith("- ") and ":" in line]
    assert listed == list(prompts.ERROR_CATEGORIES)                     # the paper's order by default


def test_the_category_list_takes_any_order_of_all_seven_and_only_that():
    reverse = tuple(reversed(prompts.ERROR_CATEGORIES))
    text = prompts.render("error_classifier", comprehensive_log="L", validation_log="V",
                          category_list=prompts.category_list(reverse))
    listed = [line[2:].split(":")[0] for line in text.splitlines() if line.startswith("- ") and ":" in line]
    assert listed == list(reverse)
    assert sorted(prompts.category_list(reverse).splitlines()) == sorted(prompts.category_list().splitlines())
    for bad in (prompts.ERROR_CATEGORIES[:6], prompts.ERROR_CATEGORIES + ("other",), ("x",) * 7):
        with pytest.raises(prompts.PromptError, match="each of the seven categories once"):
            prompts.category_list(bad)


# ---- sufficiency: every path and number the reference uses is in the prompt ---------------------


def _paths(step):
    s = layout.get(step)
    out = [f"{DIRS['outputs_dir']}/{p}" for p in s.OUTPUTS if p != RULES.CLASSIFIER_INFO]
    out += [f"{DIRS['inputs_dir']}/{p}" for p in s.INPUTS]
    if s.READS_DATA:
        out += [f"{DIRS['data_dir']}/{p}" for p in RULES.ALL_FILES]
    return out


NUMBERS = {
    "step1": [],
    "step2": [RULES.MEV_TO_GEV, len(RULES.NTUPLE_COLUMNS)],
    "step3": [RULES.LUMI_PB, RULES.LUMI_PB / 1000, RULES.PHOTON_PT_MIN, RULES.PHOTON_ETA_MAX,
              *RULES.CRACK_ETA, RULES.PT1_OVER_M_MIN, RULES.PT2_OVER_M_MIN, *RULES.MASS_RANGE,
              RULES.ISOLATION_MAX, *RULES.SIGNAL_WINDOW, *[x for sb in RULES.SIDEBANDS for x in sb],
              len(RULES.ARRAY_COLUMNS)],
    "step4": [len(RULES.ARRAY_COLUMNS)],
    "step5": [RULES.NUM_BINS, RULES.MIN_EVENTS, RULES.IMPROVEMENT_MIN, 100 * RULES.IMPROVEMENT_MIN],
}
WORDS = {
    "step1": [RULES.TREE, "num_entries", "typename", '"files"', '"trees"', '"entries"', '"branches"'],
    "step2": [RULES.TREE, RULES.NTUPLE_DTYPE, "NaN", "1.0 for true", *RULES.NTUPLE_COLUMNS,
              *RULES.GEV_COLUMNS],
    "step3": [*RULES.NTUPLE_COLUMNS, *RULES.ARRAY_COLUMNS, *RULES.BKGD_ESTIMATE_KEYS,
              *RULES.SIGNAL_SF_COLUMNS, ", ".join(RULES.DATA_SAMPLES), ", ".join(RULES.MC_SAMPLE_NAMES),
              "sqrt(2 * pt1 * pt2 * (cosh(eta1 - eta2) - cos(phi1 - phi2)))",
              "(phi1 - phi2 + np.pi) % (2 * np.pi) - np.pi", "SF1 * SF2", "at least one"],
    "step4": ["train_and_score(signal, bkgd)", prompts.TOOLS_IMPORT, *RULES.FEATURE_COLUMNS],
    "step5": [prompts.TOOLS_IMPORT, "boundaries = [0.0, 1.0]", "FIRST entry", "significances[-2]",
              "KEPT", "is None", "old_significance == 0", *RULES.ARRAY_COLUMNS],
}


@pytest.mark.parametrize("step", STEPS)
def test_prompt_quotes_every_path_number_and_rule(step):
    text = rendered(step)
    for path in _paths(step):
        assert path in text, path
    for x in NUMBERS[step]:
        assert contains_number(text, x), x
    for word in WORDS[step]:
        assert word in text, word


def test_prompt_numbers_follow_rules_py(monkeypatch):
    """The numbers come from steps/rules.py, not from the template text."""
    monkeypatch.setattr(RULES, "PHOTON_PT_MIN", 27.5)
    monkeypatch.setattr(RULES, "NUM_BINS", 500)
    assert "pt > 27.5 GeV" in rendered("step3")
    assert "num_bins = 500" in rendered("step5")


@pytest.mark.parametrize("step", ["step4", "step5"])
def test_tool_headers_are_read_from_the_code(step):
    text = rendered(step)
    for name in layout.get(step).TOOLS:
        func = getattr(tools, name)
        assert f"def {name}{inspect.signature(func)}:" in text
        doc = inspect.getdoc(func).splitlines()
        assert doc[0] in text
        example = next(line for line in doc if line.startswith("Example usage"))
        assert example in text


def test_tool_headers_reject_unknown_names():
    with pytest.raises(prompts.PromptError, match="has no function 'fit_everything'"):
        prompts.tool_headers(["fit_everything"])


def test_ntuple_column_sources_agree_with_the_reference_script():
    spec = importlib.util.spec_from_file_location("ref_step2", tree_dir("reference") / "step2_ntuples.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert prompts.ntuple_column_sources() == module.column_sources()


def test_number_formatting():
    assert [prompts.num(x) for x in (25.0, 2.37, 10064.0, 0.001, 0.05, 5.0)] == \
        ["25", "2.37", "10064", "0.001", "0.05", "5"]


# ---- a careful programmer, reading only the prompt, reproduces the reference ---------------------
# Each solve_* below is written from the rendered prompt text alone (not from reference/), so a
# passing validation shows the prompt pins down every convention the reference relies on.


def solve_step1(data_dir: Path, out: Path):
    import uproot

    summary = {"files": {}}
    for rel in RULES.ALL_FILES:
        with uproot.open(data_dir / rel) as f:
            trees = {}
            for name, cls in f.classnames(cycle=False).items():
                if cls.startswith("TTree"):
                    tree = f[name]
                    trees[name] = {"entries": int(tree.num_entries),
                                   "branches": [[b.name, b.typename] for b in tree.branches]}
        summary["files"][rel] = {"trees": trees}
    (out / "inspect").mkdir(parents=True, exist_ok=True)
    (out / "inspect" / "summary.json").write_text(json.dumps(summary))
    (out / "inspect" / "summary.txt").write_text(str(summary))


def solve_step2(data_dir: Path, out: Path):
    import awkward as ak
    import uproot

    (out / "ntuples").mkdir(parents=True, exist_ok=True)
    for rel in RULES.ALL_FILES:
        tree = uproot.open(data_dir / rel)["mini"]
        columns = []
        for column, branch, index in prompts.ntuple_column_sources():
            values = tree[branch].array(library="ak")
            if index is None:
                col = ak.to_numpy(values).astype(np.float64)
            else:
                padded = ak.pad_none(values, index + 1, axis=1, clip=True)[:, index]
                col = ak.to_numpy(ak.fill_none(ak.values_astype(padded, np.float64), np.nan))
            if column in RULES.GEV_COLUMNS:
                col = col * 0.001
            columns.append(col)
        np.save(out / "ntuples" / (Path(rel).name[: -len(".GamGam.root")] + ".npy"),
                np.column_stack(columns).astype(np.float64))


def _select(nt):
    c = {name: nt[:, i] for i, name in enumerate(RULES.NTUPLE_COLUMNS)}
    pt1, eta1, phi1 = c["photon1_pt"], c["photon1_eta"], c["photon1_phi"]
    pt2, eta2, phi2 = c["photon2_pt"], c["photon2_eta"], c["photon2_phi"]
    with np.errstate(invalid="ignore", divide="ignore"):
        m = np.sqrt(np.clip(2 * pt1 * pt2 * (np.cosh(eta1 - eta2) - np.cos(phi1 - phi2)), 0, None))

        def acc(pt, eta):
            a = np.abs(eta)
            return (pt > 25) & (a < 2.37) & ~((a >= 1.37) & (a <= 1.52))

        pre = ((c["trigP"] == 1) & acc(pt1, eta1) & acc(pt2, eta2) & (pt1 / m > 0.35)
               & (pt2 / m > 0.25) & (m > 105) & (m < 160))
        tight1, tight2 = c["photon1_isTightID"] == 1, c["photon2_isTightID"] == 1
        iso1 = (c["photon1_ptcone30"] / pt1 < 0.065) & (c["photon1_etcone20"] / pt1 < 0.065)
        iso2 = (c["photon2_ptcone30"] / pt2 < 0.065) & (c["photon2_etcone20"] / pt2 < 0.065)
        rows = np.column_stack([m, pt1 / m, eta1, pt2 / m, eta2,
                                (phi1 - phi2 + np.pi) % (2 * np.pi) - np.pi])
    ti = pre & tight1 & tight2 & iso1 & iso2
    nti = pre & ~(tight1 & tight2)
    window = (m > 123) & (m < 127)
    side = ((m > 105) & (m < 120)) | ((m > 130) & (m < 160))
    return c, rows, ti, nti, window, side


def solve_step3(inputs: Path, out: Path):
    sig = []
    for s in RULES.MC_SAMPLE_NAMES:
        c, rows, ti, nti, window, side = _select(np.load(inputs / "ntuples" / f"{s}.npy"))
        k = ti & window
        w = (10064 * c["XSection"] / c["SumWeights"] * c["mcWeight"] * c["scaleFactor_PHOTON"]
             * c["scaleFactor_PhotonTRIGGER"] * c["scaleFactor_PILEUP"])[k]
        sig.append(np.column_stack([rows[k], w]))
    bkg, ti_sb, nti_sb, nti_win = [], 0, 0, 0
    for s in RULES.DATA_SAMPLES:
        c, rows, ti, nti, window, side = _select(np.load(inputs / "ntuples" / f"{s}.npy"))
        ti_sb += int((ti & side).sum())
        nti_sb += int((nti & side).sum())
        nti_win += int((nti & window).sum())
        bkg.append(rows[nti & side])
    sf1, sf2 = ti_sb / nti_sb, nti_win / nti_sb
    bkg = np.concatenate(bkg)
    bkg = np.column_stack([bkg, np.full(len(bkg), sf1 * sf2)])
    sig = np.concatenate(sig)
    (out / "arrays").mkdir(parents=True, exist_ok=True)
    np.save(out / "arrays" / "signal.npy", sig)
    np.save(out / "arrays" / "bkgd.npy", bkg)
    (out / "arrays" / "bkgd_estimate.json").write_text(json.dumps({
        "TI_sideband_yield": ti_sb, "NTI_sideband_yield": nti_sb, "NTI_window_yield": nti_win,
        "SF1": sf1, "SF2": sf2, "expected_background": sf1 * sf2 * nti_sb,
        "signal_yield": float(sig[:, -1].sum())}))


def solve_step4(inputs: Path, out: Path):
    signal, bkgd = np.load(inputs / "arrays" / "signal.npy"), np.load(inputs / "arrays" / "bkgd.npy")
    signal_scores, bkgd_scores = tools.train_and_score(signal, bkgd)
    (out / "arrays").mkdir(parents=True, exist_ok=True)
    np.save(out / "arrays" / "signal_scores.npy", signal_scores)
    np.save(out / "arrays" / "bkgd_scores.npy", bkgd_scores)


def solve_step5(inputs: Path, out: Path):
    arrays = [np.load(inputs / "arrays" / f"{n}.npy") for n in ("signal", "bkgd", "signal_scores",
                                                                "bkgd_scores")]
    signal_df, bkgd_df = tools.load_datasets(*arrays)
    boundaries, num_bins, min_events = [0.0, 1.0], 1000, 10
    significances = [tools.get_significance(signal_df, bkgd_df, boundaries)]
    while True:
        new_boundary, new_significance = tools.place_boundary(signal_df, bkgd_df, boundaries,
                                                              num_bins, min_events)
        if new_boundary is None:
            break
        boundaries = sorted(boundaries + [new_boundary])
        significances.append(new_significance)
        old = significances[-2]
        if old == 0 or (new_significance - old) / old < 0.05:
            break
    (out / "arrays").mkdir(parents=True, exist_ok=True)
    np.save(out / "arrays" / "boundaries.npy", np.array(boundaries, dtype=np.float64))
    np.save(out / "arrays" / "significances.npy", np.array(significances, dtype=np.float64))


SOLVERS = {"step1": solve_step1, "step2": solve_step2, "step3": solve_step3, "step4": solve_step4,
           "step5": solve_step5}


@pytest.mark.parametrize("step", STEPS)
def test_solution_written_from_the_prompt_validates(reference_run, tmp_path, monkeypatch, step):
    # The agent's sandbox must hand train_and_score the reference run's classifier settings.
    monkeypatch.setenv("HEPMINI_CLASSIFIER", "hgb")
    source = reference_run.parent / "data" if layout.get(step).READS_DATA else reference_run
    SOLVERS[step](source, tmp_path)
    result = validate.validate_step(step, tmp_path, reference_run)
    assert result.passed, result.log_text()
