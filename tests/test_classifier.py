"""Classifier backends: the HGB fallback, its warning, and the real TabPFN code path offline.

The TabPFN tests build a tiny randomly initialised v3.5 checkpoint (reference/tabpfn_offline.md
section 3.1): the architecture and loading code are real, the weights are noise.
"""

import hashlib
import shutil
import socket
import subprocess
import sys
from dataclasses import asdict

import numpy as np
import pytest

from hepmini.analysis import scoring
from hepmini.analysis.scoring import FallbackWarning, resolve_backend, score_events
from hepmini.config import Config
from hepmini.errors import ClassifierError

UPSTREAM_NAME = scoring.CHECKPOINT_NAMES[0]  # tabpfn-v3.5-20260909.safetensors


def toy(n_sig=200, n_bkg=260, seed=0):
    """Two overlapping Gaussian classes with 5 features and positive weights."""
    rng = np.random.default_rng(seed)
    sig_x = rng.normal(0.8, 1.0, (n_sig, 5))
    bkg_x = rng.normal(0.0, 1.0, (n_bkg, 5))
    return sig_x, bkg_x, rng.uniform(0.001, 0.01, n_sig), rng.uniform(1.0, 2.0, n_bkg)


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory):
    """A 0.6 MB random-init TabPFN v3.5 checkpoint; the file name keeps the version tag."""
    torch = pytest.importorskip("torch")
    from tabpfn.architectures import tabpfn_v3_5
    from tabpfn.checkpoint import save_as_safetensors
    from tabpfn.constants import ModelVersion
    from tabpfn.inference_config import InferenceConfig

    tiny = dict(embed_dim=16, nlayers=1, icl_num_heads=2, icl_num_kv_heads_test=1,
                dist_embed_num_heads=2, dist_embed_num_blocks=1, dist_embed_num_inducing_points=4,
                feat_agg_num_heads=2, feat_agg_num_blocks=1, feat_agg_num_cls_tokens=1)
    torch.manual_seed(0)
    cfg = tabpfn_v3_5.TabPFNV3p5Config(max_num_classes=10, num_buckets=5000, **tiny)
    model = tabpfn_v3_5.get_architecture(cfg).eval()
    with torch.no_grad():  # output layers start at zero: without noise every row scores the same
        for p in model.parameters():
            p.add_(0.02 * torch.randn_like(p))
    inference = InferenceConfig.get_default("multiclass", ModelVersion.V2_5)
    path = tmp_path_factory.mktemp("tabpfn") / "tabpfn-v3.5-random-init.safetensors"
    save_as_safetensors({"state_dict": model.state_dict(), "config": asdict(cfg),
                         "architecture_name": "tabpfn_v3_5", "inference_config": asdict(inference)}, path)
    return path


@pytest.fixture
def no_network(monkeypatch):
    """Any connection or DNS lookup fails loudly (and is counted)."""
    attempts = []

    def refuse(*args, **kwargs):
        attempts.append(args)
        raise OSError("network disabled in this test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    return attempts


def auc(sig, bkg):
    """Probability that a random signal event outscores a random background event."""
    return float(np.mean(sig[:, None] > bkg[None, :]) + 0.5 * np.mean(sig[:, None] == bkg[None, :]))


# ---- backend resolution ---------------------------------------------------------------------


def test_resolve_backend_choices(tmp_path):
    assert resolve_backend(Config(classifier="hgb"))[:2] == ("hgb", None)
    backend, path, reason = resolve_backend(Config(classifier="auto"))
    assert backend == "hgb" and path is None and "no TabPFN weights found" in reason
    with pytest.raises(ClassifierError, match="TABPFN_MODEL_CACHE_DIR") as info:
        resolve_backend(Config(classifier="tabpfn", tabpfn_model=str(tmp_path / "missing.ckpt")))
    assert "missing.ckpt (does not exist)" in str(info.value) and "\n" not in str(info.value)


def test_checkpoint_lookup_order(tmp_path):
    staged, cache, empty = tmp_path / "staged", tmp_path / "cache", tmp_path / "empty"
    for d in (staged, cache, empty):
        d.mkdir()
    (empty / "tabpfn-v3.5-renamed.safetensors").write_bytes(b"x")  # unknown name: not picked
    (cache / "tabpfn-v2-classifier.ckpt").write_bytes(b"x")
    (cache / UPSTREAM_NAME).write_bytes(b"x")
    own = staged / "my-tabpfn-v3.5.safetensors"
    own.write_bytes(b"x")
    # An explicit file wins; a directory is searched for upstream names, newest first.
    assert resolve_backend(Config(tabpfn_model=str(own), tabpfn_cache_dir=str(cache)))[1] == own
    assert resolve_backend(Config(tabpfn_model=str(cache)))[1] == cache / UPSTREAM_NAME
    # tabpfn_model without weights falls through to the cache dir.
    assert resolve_backend(Config(tabpfn_model=str(empty), tabpfn_cache_dir=str(cache)))[1] == cache / UPSTREAM_NAME
    backend, path, reason = resolve_backend(Config(tabpfn_model=str(empty)))
    assert backend == "hgb" and "no known checkpoint name" in reason


def test_import_is_light():
    code = ("import sys, hepmini.analysis.scoring as c; "
            "print(sorted(m for m in ('numpy', 'sklearn', 'torch', 'tabpfn') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=str(scoring.__file__).rsplit("/hepmini/", 1)[0])
    assert out.stdout.strip() == "[]"


# ---- the HGB fallback -------------------------------------------------------------------------


def test_hgb_scores_deterministic_and_in_range():
    data = toy()
    s, b, info = score_events(*data, cfg=Config(classifier="hgb"))
    s2, b2, _ = score_events(*data, cfg=Config(classifier="hgb"))
    assert s.shape == (200,) and b.shape == (260,) and s.dtype == b.dtype == np.float64
    assert 0 <= min(s.min(), b.min()) and max(s.max(), b.max()) <= 1
    np.testing.assert_array_equal(s, s2)
    np.testing.assert_array_equal(b, b2)
    assert auc(s, b) > 0.7
    assert info["backend"] == "hgb" and info["model_path"] is None and info["folds"] == 2
    assert [f["train_signal"] for f in info["train_sizes"]] == [100, 100]
    assert info["library"].startswith("scikit-learn")


def test_no_event_is_scored_by_a_model_that_trained_on_it(monkeypatch):
    # A fake that memorises its training rows: 1.0 for a row it saw, 0.25 otherwise.
    def memorising_fit(x, y, w):
        seen = {row.tobytes() for row in x}
        return lambda rows: np.array([1.0 if r.tobytes() in seen else 0.25 for r in rows])

    monkeypatch.setattr(scoring, "_fit_hgb", memorising_fit)
    for folds in (2, 3):
        s, b, _ = score_events(*toy(), cfg=Config(classifier="hgb", classifier_folds=folds))
        assert np.all(s == 0.25) and np.all(b == 0.25)  # every event scored, none by its own model


def test_out_of_fold_scores_differ_from_a_model_trained_on_all():
    from sklearn.ensemble import HistGradientBoostingClassifier
    from threadpoolctl import threadpool_limits

    sig_x, bkg_x, sig_w, bkg_w = toy()
    s, b, _ = score_events(sig_x, bkg_x, sig_w, bkg_w, cfg=Config(classifier="hgb"))
    x = np.concatenate([sig_x, bkg_x])
    y = np.r_[np.ones(len(sig_x)), np.zeros(len(bkg_x))]
    w = np.r_[sig_w / sig_w.sum(), bkg_w / bkg_w.sum()]
    with threadpool_limits(limits=1, user_api="openmp"):  # as scoring._fit_hgb: fast on a busy box
        model = HistGradientBoostingClassifier(random_state=0).fit(x, y, sample_weight=w)
        on_all = model.predict_proba(x)[:, 1]
    # A model that saw the events scores them over-confidently; the out-of-fold scores do not.
    assert not np.allclose(np.r_[s, b], on_all, atol=1e-3)
    assert auc(on_all[:200], on_all[200:]) > auc(s, b)


def test_auto_without_weights_warns_once_and_falls_back(tmp_path):
    cfg = Config(classifier="auto", tabpfn_cache_dir=str(tmp_path))
    with pytest.warns(FallbackWarning) as record:
        s, b, info = score_events(*toy(60, 60), cfg=cfg)
    assert len(record) == 1
    message = str(record[0].message)
    assert str(tmp_path) in message and "TABPFN_MODEL_CACHE_DIR" in message
    assert "--set tabpfn_model=PATH" in message and UPSTREAM_NAME in message
    assert info["backend"] == "hgb" and "using HistGradientBoostingClassifier" in info["reason"]


@pytest.mark.parametrize("args, match", [
    ((np.ones((10, 5)), np.ones((10, 4)), np.ones(10), np.ones(10)), "must match"),
    ((np.ones((10, 5)), np.ones((10, 5)), np.ones(9), np.ones(10)), "same length"),
    ((np.ones((1, 5)), np.ones((10, 5)), np.ones(1), np.ones(10)), "cannot be split into 2 folds"),
    ((np.ones((10, 5)), np.ones((10, 5)), np.zeros(10), np.ones(10)), "no positive weight"),
    ((np.ones((10, 5)), np.ones((10, 5)), np.full(10, np.nan), np.ones(10)), "NaN"),
])
def test_bad_inputs(args, match):
    with pytest.raises(ClassifierError, match=match):
        score_events(*args, cfg=Config(classifier="hgb"))


def test_one_fold_is_refused():
    with pytest.raises(ClassifierError, match="at least 2"):
        score_events(*toy(20, 20), cfg=Config(classifier="hgb", classifier_folds=1))


# ---- the real TabPFN code path, offline ---------------------------------------------------------


def test_tabpfn_with_model_file(tiny_checkpoint, no_network):
    cfg = Config(classifier="tabpfn", tabpfn_model=str(tiny_checkpoint), tabpfn_estimators=1,
                 classifier_max_train=150)
    data = toy()
    s, b, info = score_events(*data, cfg=cfg)
    s2, b2, _ = score_events(*data, cfg=cfg)
    assert s.shape == (200,) and b.shape == (260,) and s.dtype == np.float64
    assert 0 <= min(s.min(), b.min()) and max(s.max(), b.max()) <= 1
    assert np.ptp(np.r_[s, b]) > 0  # random weights, but not a constant
    np.testing.assert_array_equal(s, s2)
    np.testing.assert_array_equal(b, b2)
    assert info["backend"] == "tabpfn" and info["model_path"] == str(tiny_checkpoint)
    assert info["model_sha256"] == hashlib.sha256(tiny_checkpoint.read_bytes()).hexdigest()
    assert info["n_estimators"] == 1 and info["library"] == "tabpfn 9.2.0"
    # Balanced draws: 100 signal events train each fold, so 100 of each class.
    assert [(f["train_signal"], f["train_bkgd"]) for f in info["train_sizes"]] == [(100, 100), (100, 100)]
    assert no_network == []


def test_tabpfn_from_cache_dir_in_auto_mode(tiny_checkpoint, tmp_path, no_network):
    shutil.copy(tiny_checkpoint, tmp_path / UPSTREAM_NAME)  # staged under its upstream name
    cfg = Config(classifier="auto", tabpfn_cache_dir=str(tmp_path), tabpfn_estimators=2,
                 classifier_max_train=60)
    s, b, info = score_events(*toy(120, 300), cfg=cfg)  # no fallback warning (warnings are errors)
    assert info["backend"] == "tabpfn" and info["model_path"] == str(tmp_path / UPSTREAM_NAME)
    assert info["n_estimators"] == 2 and s.shape == (120,) and b.shape == (300,)
    assert [(f["train_signal"], f["train_bkgd"]) for f in info["train_sizes"]] == [(60, 60), (60, 60)]
    assert no_network == []


def test_tabpfn_through_train_and_score(tiny_checkpoint, no_network):
    from hepmini import tools
    from hepmini import layout

    rules = layout.rules()
    rng = np.random.default_rng(4)
    sig, bkg = rng.normal(size=(80, len(rules.ARRAY_COLUMNS))), rng.normal(size=(90, len(rules.ARRAY_COLUMNS)))
    sig[:, -1], bkg[:, -1] = 0.01, 2.0
    cfg = Config(classifier="tabpfn", tabpfn_model=str(tiny_checkpoint), tabpfn_estimators=1)
    s, b, info = tools.train_and_score(sig, bkg, cfg, return_info=True)
    assert s.shape == (80,) and b.shape == (90,) and info["backend"] == "tabpfn"
    assert no_network == []


def test_corrupt_checkpoint_is_a_classifier_error(tmp_path, no_network):
    bad = tmp_path / "tabpfn-v3.5-broken.safetensors"
    bad.write_bytes(b"not a checkpoint")
    cfg = Config(classifier="tabpfn", tabpfn_model=str(bad), tabpfn_estimators=1)
    with pytest.raises(ClassifierError, match="could not use checkpoint"):
        score_events(*toy(20, 20), cfg=cfg)
    assert no_network == []
