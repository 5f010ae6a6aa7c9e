"""The 4-significant-digit validator: the rule, the log, bad input, no false pass and no false fail."""

import importlib.util
import json
import os
import sys
from pathlib import Path

import numpy as np
import pytest

from hepmini import cli
from hepmini import layout
from hepmini.analysis import validate
from hepmini.errors import UnknownStep, ValidationError

ROOT_DIR = Path(__file__).resolve().parent.parent
RULES = layout.rules()


def _bench():
    """perf/perf_validate.py: the mutation and equivalent catalogue shared with `make perf`."""
    if "perf_validate" not in sys.modules:
        spec = importlib.util.spec_from_file_location("perf_validate", ROOT_DIR / "perf" / "perf_validate.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules["perf_validate"] = module
        spec.loader.exec_module(module)
    return sys.modules["perf_validate"]


@pytest.fixture(scope="module")
def constructed(tmp_path_factory):
    """Outputs of every step built from arrays (NaNs, exact zeros, 1.0/0.0 columns), no pipeline."""
    return _bench().make_reference(tmp_path_factory.mktemp("constructed"))


def _pair(tmp_path, name, gen, ref):
    """Write gen and ref under the path `name` of two directories; return (gen_dir, ref_dir)."""
    gen_dir, ref_dir = tmp_path / "gen", tmp_path / "ref"
    for base, value in ((gen_dir, gen), (ref_dir, ref)):
        (base / name).parent.mkdir(parents=True, exist_ok=True)
        if isinstance(value, bytes):
            (base / name).write_bytes(value)
        elif isinstance(value, (dict, list)):
            (base / name).write_text(json.dumps(value))
        else:
            np.save(base / name, value)
    return gen_dir, ref_dir


def _npy(tmp_path, gen, ref, name=RULES.SIGNIFICANCES):
    gen_dir, ref_dir = _pair(tmp_path, name, gen, ref)
    return validate.validate_file("npy", name, gen_dir, ref_dir)


# ---- the rule --------------------------------------------------------------------------------------

PASS_PAIRS = [
    (1.23449, 1.23451),          # "round both" would give 1.234 vs 1.235
    (0.99995, 1.00004),          # across a decade
    (9.9996, 10.0004),
    (0.0, -0.0),
    (0.0, 0.0),
    (np.nan, np.nan),
    (np.inf, np.inf),
    (-np.inf, -np.inf),
    (125.0, 125.004),
    (-2.5, -2.50012),
    (1e-30, 1.00004e-30),
    (6.02214e23, 6.02236e23),
]
FAIL_PAIRS = [
    (1.0, 1.001),
    (125.0, 125.06),
    (0.0, 1e-300),              # an exact zero matches only zero
    (np.nan, 0.0),
    (np.nan, np.inf),
    (np.inf, 1e308),
    (-np.inf, np.inf),
    (1.0, -1.0),
    (999.9999999999999, 999.93),  # log10 rounds this to 3.0; the rule must still use e = 2
]


@pytest.mark.parametrize("a, b", PASS_PAIRS)
def test_values_agreeing_to_4_digits_match(a, b):
    assert validate.values_match(a, b) and validate.values_match(b, a)


@pytest.mark.parametrize("a, b", FAIL_PAIRS)
def test_values_differing_in_4_digits_do_not_match(a, b):
    assert not validate.values_match(a, b) and not validate.values_match(b, a)


def test_relative_error_1e3_always_fails_and_5e5_always_passes():
    rng = np.random.default_rng(0)
    x = 10.0 ** rng.uniform(-250, 250, 200_000) * rng.choice([-1.0, 1.0], 200_000)
    decades = np.array([float(f"1e{k}") for k in range(-300, 301)])
    # Just below a power of ten (the tolerance drops 10x there); closer than ~1e-11 relative the
    # float64 subtraction itself cannot tell 5e-5 from the 4-digit limit.
    x = np.concatenate([x, decades, -decades, decades * (1 - 1e-9), decades * 9.99949])
    for sign in (1, -1):
        assert not validate.values_match(x, x * (1 + sign * 1e-3)).any()
        assert validate.values_match(x, x * (1 + sign * 5e-5)).all()


def test_values_match_is_vectorised_and_broadcasts():
    out = validate.values_match(np.array([[1.0, 2.0], [3.0, np.nan]]), [1.00001, np.nan])
    assert out.shape == (2, 2) and out.tolist() == [[True, False], [False, True]]


# ---- constructed outputs: each step's reference passes, mutations fail, equivalents pass ----------


@pytest.mark.parametrize("step", ["step1", "step2", "step3", "step4", "step5"])
def test_reference_validates_against_itself(constructed, step):
    result = validate.validate_step(step, constructed, constructed)
    assert result.passed, result.log_text()
    assert [f.name for f in result.files] == list(layout.get(step).VALIDATE)


def test_no_false_pass_and_no_false_fail_on_constructed_outputs(constructed, tmp_path):
    bench = _bench()
    figures = bench.fidelity(constructed, tmp_path, files_per_step=2)
    assert not figures["missed"], figures["missed"]
    assert not figures["false_fails"], [c["log"] for c in figures["false_fails"]]
    # Every mutation and equivalent of the catalogue was exercised at least once.
    applied = {(c["kind"], c["change"]) for c in figures["cases"]}
    for label, catalogue in (("mutation", bench.MUTATIONS), ("equivalent", bench.EQUIVALENTS)):
        for table in catalogue.values():
            for name in table:
                assert (label, name) in applied, f"{label} {name!r} never applied"
    assert figures["caught"] == figures["mutations"] > 40
    assert figures["passed"] == figures["equivalents"] > 30


def test_one_element_off_is_reported_like_app_b2(tmp_path):
    ref = np.array([0.6859528, 0.8596105777616457, 0.898676950456262])
    gen = ref.copy()
    gen[2] *= 1 + 1e-3
    f = _npy(tmp_path, gen, ref)
    assert not f.ok and f.n_diff == 1 and f.n_total == 3 and f.nan_mask_equal
    assert f.mismatches[0]["index"] == [2]
    text = "\n".join(f.messages)
    assert "differs: NaN mask equal=True, mismatches=1/3" in text
    assert "diff stats: max=" in text and "mean=" in text
    assert f"Index 2: gen={float(gen[2])!r}, ref={float(ref[2])!r}" in text
    assert "1D array - no column-by-column analysis needed" in text


def test_equivalent_values_pass_as_float32_and_negative_zero(tmp_path):
    ref = np.array([1.23449, 0.99995, 0.0, 125.0, -3.14159265, np.nan])
    gen = np.array([1.23451, 1.00004, -0.0, 125.0, -3.14159265, np.nan], dtype=np.float32)
    f = _npy(tmp_path, gen, ref)
    assert f.ok, f.messages
    assert any("dtype float32" in m for m in f.messages)


def test_memory_order_does_not_matter(tmp_path):
    """A Fortran-ordered array (as step 2's reference writes) equals its C-ordered copy, cell by cell."""
    ref = np.asfortranarray(np.arange(1.0, 22.0).reshape(3, 7))
    assert _npy(tmp_path, np.ascontiguousarray(ref), ref, RULES.SIGNAL_ARRAY).ok
    gen = np.ascontiguousarray(ref).copy()
    gen[2, 1] *= 1 + 1e-3
    f = _npy(tmp_path, gen, ref, RULES.SIGNAL_ARRAY)
    assert not f.ok and f.n_diff == 1 and f.mismatches[0]["index"] == [2, 1]


def test_shape_mismatch_is_reported(tmp_path):
    f = _npy(tmp_path, np.array([0, 0.117, 0.864, 0.978, 1.0]), np.array([0, 0.117, 0.864, 1.0]),
             RULES.BOUNDARIES)
    assert not f.ok and f.messages[0] == "Shape mismatch: (5,) vs (4,)"


def test_moved_nan_and_swapped_columns_are_named(tmp_path):
    ref = np.arange(1.0, 22.0).reshape(3, 7)
    ref[1, 2] = np.nan
    gen = ref.copy()
    gen[1, 2], gen[0, 2] = 10.0, np.nan
    f = _npy(tmp_path, gen, ref, RULES.SIGNAL_ARRAY)
    assert not f.ok and f.nan_mask_equal is False
    gen = ref[:, [1, 0, 2, 3, 4, 5, 6]]
    f = _npy(tmp_path, gen, ref, RULES.SIGNAL_ARRAY)
    text = "\n".join(f.messages)
    assert "[m_yy]" in text and "column 1 (pt1_over_m): 3 differ" in text


def test_integer_dtype_that_changes_values_fails_and_one_that_does_not_passes(tmp_path):
    ref = np.array([0.0, 0.5, 1.0])
    assert not _npy(tmp_path, ref.astype(np.int64), ref).ok
    assert _npy(tmp_path, np.array([0, 1, 2]), np.array([0.0, 1.0, 2.0])).ok


def test_json_is_compared_key_by_key(tmp_path):
    ref = {"SF1": 0.647721454173067, "TI_sideband_yield": 1265, "nested": {"a": [1.0, 2.0]}}
    same = {"nested": {"a": [1, 2.00001]}, "TI_sideband_yield": 1265.0, "SF1": 0.64772}
    gen_dir, ref_dir = _pair(tmp_path, RULES.BKGD_ESTIMATE, same, ref)
    assert validate.validate_file("json", RULES.BKGD_ESTIMATE, gen_dir, ref_dir).ok
    bad = {"SF1": 0.6484, "TI_sideband_yield": "1265", "nested": {"a": [1.0]}, "extra": None}
    gen_dir, ref_dir = _pair(tmp_path, RULES.BKGD_ESTIMATE, bad, ref)
    f = validate.validate_file("json", RULES.BKGD_ESTIMATE, gen_dir, ref_dir)
    text = "\n".join(f.messages)
    assert not f.ok and f.n_diff == 4
    for fragment in ("Key SF1: gen=0.6484", "Key TI_sideband_yield: gen=\"1265\"", "Key nested.a",
                     "Key extra: unexpected"):
        assert fragment in text, text


def test_summary_is_compared_structurally(tmp_path):
    ref = {"files": {"GamGam/Data/data_A.GamGam.root": {"trees": {"mini": {
        "entries": 10, "branches": [["runNumber", "int32_t"], ["photon_pt", "float[]"]]}}}}}
    equivalent = {"tool": "x", "files": {"./GamGam/Data/data_A.GamGam.root": {"trees": {"mini;1": {
        "entries": 10.0, "title": "mini", "branches": [["runNumber", "int32_t"], ["photon_pt", "float[]"]]}}}}}
    gen_dir, ref_dir = _pair(tmp_path, RULES.SUMMARY_JSON, equivalent, ref)
    assert validate.validate_file("summary", RULES.SUMMARY_JSON, gen_dir, ref_dir).ok
    swapped = json.loads(json.dumps(ref))
    tree = swapped["files"]["GamGam/Data/data_A.GamGam.root"]["trees"]["mini"]
    tree["branches"].reverse()
    tree["entries"] = 11
    gen_dir, ref_dir = _pair(tmp_path, RULES.SUMMARY_JSON, swapped, ref)
    f = validate.validate_file("summary", RULES.SUMMARY_JSON, gen_dir, ref_dir)
    text = "\n".join(f.messages)
    assert not f.ok and "entries gen=11, ref=10" in text and "different order" in text


# ---- bad input: a clear FAIL entry, never a crash or a pass -------------------------------------------


class _Trap:
    """Unpickling this would create the file `marker`."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_pickled_npy_fails_without_being_unpickled(tmp_path):
    marker = tmp_path / "unpickled"
    gen_dir, ref_dir = _pair(tmp_path, RULES.BOUNDARIES, b"", np.array([0.0, 1.0]))
    with open(gen_dir / RULES.BOUNDARIES, "wb") as fh:
        np.save(fh, np.array([_Trap(str(marker)), 1.0], dtype=object), allow_pickle=True)
    f = validate.validate_file("npy", RULES.BOUNDARIES, gen_dir, ref_dir)
    assert not f.ok and "Python objects" in f.messages[0]
    assert not marker.exists()


def _npz_bytes(tmp_path):
    np.savez(tmp_path / "x.npz", a=np.zeros(2))
    return (tmp_path / "x.npz").read_bytes()


def _truncated_bytes(tmp_path):
    np.save(tmp_path / "t.npy", np.arange(100.0))
    return (tmp_path / "t.npy").read_bytes()[:300]


def _dtype_bytes(tmp_path, array):
    np.save(tmp_path / "d.npy", array)
    return (tmp_path / "d.npy").read_bytes()


BAD_NPY = {
    "zip": (_npz_bytes, "zip"),
    "text": (lambda t: b"0.0 0.5 1.0\n", "not a .npy file"),
    "empty": (lambda t: b"", "not a .npy file"),
    "truncated": (_truncated_bytes, "truncated"),
    "complex": (lambda t: _dtype_bytes(t, np.array([1 + 1j, 2.0])), "not a real number type"),
    "string": (lambda t: _dtype_bytes(t, np.array(["0.0", "1.0"])), "not a real number type"),
    "structured": (lambda t: _dtype_bytes(t, np.zeros(2, dtype=[("a", "f8"), ("b", "f8")])),
                   "not a real number type"),
    "bad header": (lambda t: b"\x93NUMPY\x01\x00\x10\x00{'descr': nonsense}", "cannot be read"),
}


@pytest.mark.parametrize("case", sorted(BAD_NPY))
def test_unreadable_npy_is_a_clear_failure(tmp_path, case):
    make, expected = BAD_NPY[case]
    gen_dir, ref_dir = _pair(tmp_path, RULES.BOUNDARIES, make(tmp_path), np.arange(100.0))
    f = validate.validate_file("npy", RULES.BOUNDARIES, gen_dir, ref_dir)
    assert not f.ok and "cannot be loaded" in f.messages[0] and expected in f.messages[0], f.messages


def test_directory_in_place_of_a_file_fails(tmp_path):
    gen_dir, ref_dir = _pair(tmp_path, RULES.BOUNDARIES, b"", np.zeros(2))
    (gen_dir / RULES.BOUNDARIES).unlink()
    (gen_dir / RULES.BOUNDARIES).mkdir()
    f = validate.validate_file("npy", RULES.BOUNDARIES, gen_dir, ref_dir)
    assert not f.ok and "directory" in f.messages[0]


def test_huge_file_is_refused_unread(tmp_path):
    gen_dir, ref_dir = _pair(tmp_path, RULES.BOUNDARIES, b"", np.zeros(2))
    with open(gen_dir / RULES.BOUNDARIES, "wb") as fh:   # sparse: 8 GB that use no disk
        fh.write(b"\x93NUMPY")
        fh.truncate(8 << 30)
    f = validate.validate_file("npy", RULES.BOUNDARIES, gen_dir, ref_dir)
    assert not f.ok and "over the limit" in f.messages[0]
    gen_dir, ref_dir = _pair(tmp_path, RULES.BKGD_ESTIMATE, b"", {"a": 1})
    with open(gen_dir / RULES.BKGD_ESTIMATE, "wb") as fh:
        fh.truncate(8 << 30)
    f = validate.validate_file("json", RULES.BKGD_ESTIMATE, gen_dir, ref_dir)
    assert not f.ok and "over the limit" in f.messages[0]


@pytest.mark.parametrize("content", [b"[" * 200_000 + b"]" * 200_000, b"\xff\xfe{}", b"{'a': 1}",
                                     b"{\"a\": 1" + b"9" * 5000 + b"}", b"NaN"])
def test_malformed_json_is_a_clear_failure(tmp_path, content):
    gen_dir, ref_dir = _pair(tmp_path, RULES.BKGD_ESTIMATE, content, {"a": 1.0})
    f = validate.validate_file("json", RULES.BKGD_ESTIMATE, gen_dir, ref_dir)
    assert not f.ok, f.messages


@pytest.mark.parametrize("content", [b"[]", b"{\"files\": []}", b"{\"files\": {\"f\": {\"trees\": {\"mini\": "
                                     b"{\"entries\": 1.5, \"branches\": []}}}}}",
                                     b"{\"files\": {\"f\": {\"trees\": {\"mini\": {\"entries\": 1, "
                                     b"\"branches\": [\"a\", \"b\"]}}}}}"])
def test_malformed_summary_is_a_clear_failure(tmp_path, content):
    ref = {"files": {"f": {"trees": {"mini": {"entries": 1, "branches": [["a", "int32_t"]]}}}}}
    gen_dir, ref_dir = _pair(tmp_path, RULES.SUMMARY_JSON, content, ref)
    f = validate.validate_file("summary", RULES.SUMMARY_JSON, gen_dir, ref_dir)
    assert not f.ok and "cannot be loaded" in f.messages[0]


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root reads any file")
def test_unreadable_file_fails(tmp_path):
    gen_dir, ref_dir = _pair(tmp_path, RULES.BOUNDARIES, np.zeros(2), np.zeros(2))
    (gen_dir / RULES.BOUNDARIES).chmod(0)
    f = validate.validate_file("npy", RULES.BOUNDARIES, gen_dir, ref_dir)
    assert not f.ok and "cannot be loaded" in f.messages[0]


def test_missing_outputs_fail_and_missing_reference_raises(constructed, tmp_path):
    result = validate.validate_step("step5", tmp_path / "nowhere", constructed)
    assert not result.passed and all("missing" in f.messages[0] for f in result.files)
    assert "does not exist" in result.files[0].messages[0]
    with pytest.raises(ValidationError, match="reference directory"):
        validate.validate_step("step5", constructed, tmp_path / "no-reference")
    (tmp_path / "partial" / "arrays").mkdir(parents=True)
    with pytest.raises(ValidationError, match="reference file .* is missing"):
        validate.validate_step("step5", constructed, tmp_path / "partial")


def test_wrong_step_name_is_a_clear_error(constructed, capsys):
    with pytest.raises(UnknownStep, match="steps are step1"):
        validate.validate_step("step9", constructed, constructed)
    assert cli.main(["validate", "step9", "--outputs", str(constructed), "--reference",
                     str(constructed)]) == 2
    assert "unknown step 'step9'" in capsys.readouterr().err


# ---- log, JSON result and CLI ----------------------------------------------------------------------


def test_log_follows_app_b2_and_json_result_is_strict(constructed, tmp_path):
    gen = tmp_path / "gen" / "arrays"
    gen.mkdir(parents=True)
    np.save(gen / "boundaries.npy", np.array([0.0, 0.117, 0.5, 0.864, 0.978, 1.0]))
    sig = np.load(constructed / RULES.SIGNIFICANCES)
    sig[1] = np.nan
    np.save(gen / "significances.npy", sig)
    result = validate.validate_step("step5", tmp_path / "gen", constructed)
    text = result.log_text()
    lines = text.splitlines()
    assert lines[0] == "=== Step 5 Validation (categorize) ==="
    for expected in ("Validating arrays/boundaries.npy...", "[✗] Shape mismatch: (6,) vs (5,)", "Generated shape: (6,), Reference shape: (5,)",
                     "Validating arrays/significances.npy...",
                     "[✗] arrays/significances.npy differs: NaN mask equal=False, mismatches=1/4",
                     "=== VALIDATION SUMMARY ===", "Step: 5 (categorize)", "Files validated:",
                     "- arrays/boundaries.npy - Category boundary thresholds [✗]",
                     "Step 5 (categorize): FAIL", "[✗] Validation failed", "Result: 0/1 step passed"):
        assert expected in lines, (expected, text)
    log = tmp_path / "logs" / "validation.log"
    json_path = validate.write_logs(result, log)
    assert log.read_text() == text and json_path == tmp_path / "logs" / "validation.json"

    def no_constants(name):
        raise AssertionError(f"non-strict JSON constant {name}")

    data = json.loads(json_path.read_text(), parse_constant=no_constants)
    assert data["passed"] is False and data["step"] == "step5"
    assert [f["ok"] for f in data["files"]] == [False, False]
    assert data["files"][1]["mismatches"][0]["gen"] == "nan"


def test_cli_exit_codes_and_log_files(constructed, tmp_path, capsys):
    args = ["validate", "step4", "--outputs", str(constructed), "--reference", str(constructed),
            "--log", str(tmp_path / "v.log")]
    assert cli.main(args) == 0
    assert "Step 4 (classify): PASS" in capsys.readouterr().out
    assert json.loads((tmp_path / "v.json").read_text())["passed"] is True
    assert cli.main(["validate", "step4", "--outputs", str(tmp_path), "--reference", str(constructed)]) == 1
    assert "Step 4 (classify): FAIL" in capsys.readouterr().out
    assert validate.result_json_path(tmp_path / "r.json") == tmp_path / "r.json.result.json"


# ---- real reference outputs (the lead's tiny reference run) --------------------------------------------


@pytest.mark.parametrize("step", ["step1", "step2", "step3", "step4", "step5"])
def test_reference_run_validates_against_itself(reference_run, step):
    assert cli.main(["validate", step, "--outputs", str(reference_run), "--reference",
                     str(reference_run)]) == 0


def test_fidelity_on_reference_run(reference_run, tmp_path):
    figures = _bench().fidelity(reference_run, tmp_path, files_per_step=2)
    assert not figures["missed"], figures["missed"]
    assert not figures["false_fails"], [c["log"] for c in figures["false_fails"]]
    assert figures["caught"] == figures["mutations"] > 40
    assert figures["passed"] == figures["equivalents"] > 30
