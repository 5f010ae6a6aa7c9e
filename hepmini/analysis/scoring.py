"""Score events with TabPFN from staged weights (never downloaded) or a gradient-boosting fallback.

Heavy libraries (numpy, scikit-learn, torch, tabpfn) are imported inside the functions that use
them, so resolve_backend can run without any of them.
tabpfn downloads licence-gated weights whenever its checkpoint file is missing, so hepmini looks
for the file itself and only ever hands tabpfn a path that exists.
"""

import warnings
from pathlib import Path

from hepmini.errors import ClassifierError
from hepmini.files import sha256_file

# Classifier checkpoints tabpfn 9.2.0 knows by file name (tabpfn.model_loading.ModelSource),
# the newest default first; a directory is searched for them in this order.
CHECKPOINT_NAMES = (
    "tabpfn-v3.5-20260909.safetensors",
    "tabpfn-v3.5-20260909_multiclass.safetensors",
    "tabpfn-v3.5-fast-20260909.safetensors",
    "tabpfn-v3-classifier-v3_default.ckpt",
    "tabpfn-v2.6-classifier-v2.6_default.ckpt",
    "tabpfn-v2.5-classifier-v2.5_default.ckpt",
    "tabpfn-v2-classifier-finetuned-zk73skhh.ckpt",
    "tabpfn-v2-classifier.ckpt",
)
STAGING_HINT = ("copy the checkpoint, keeping its exact upstream file name (e.g. "
                f"{CHECKPOINT_NAMES[0]}), into a directory and set TABPFN_MODEL_CACHE_DIR to it, "
                "or pass --set tabpfn_model=PATH")
SAMPLING_SEED = 0  # seed of the weighted TabPFN training subsample (one stream per fold)


class FallbackWarning(UserWarning):
    """classifier=auto found no TabPFN weights and uses HistGradientBoostingClassifier instead."""


def _search(location: str, origin: str, searched: list):
    """The checkpoint at `location` (a file, or a directory holding a known file name), or None."""
    path = Path(location).expanduser()
    if path.is_file():
        return path
    if path.is_dir():
        for name in CHECKPOINT_NAMES:
            if (path / name).is_file():
                return path / name
        searched.append(f"{origin} directory {path} (no known checkpoint name)")
    else:
        searched.append(f"{origin} {path} (does not exist)")
    return None


def find_checkpoint(cfg):
    """Return (checkpoint Path or None, list of places searched): cfg.tabpfn_model, then the tabpfn cache dir."""
    searched = []
    for location, origin in ((cfg.tabpfn_model, "tabpfn_model"),
                             (cfg.tabpfn_cache_dir, "TABPFN_MODEL_CACHE_DIR")):
        if location:
            found = _search(location, origin, searched)
            if found is not None:
                return found, searched
    if not searched:
        searched.append("nowhere: tabpfn_model and TABPFN_MODEL_CACHE_DIR are not set")
    return None, searched


def resolve_backend(cfg):
    """Return (backend "tabpfn" or "hgb", checkpoint path or None, reason) for cfg.classifier."""
    if cfg.classifier == "hgb":
        return "hgb", None, "classifier=hgb requested; using HistGradientBoostingClassifier"
    path, searched = find_checkpoint(cfg)
    if path is not None:
        return "tabpfn", path, f"TabPFN checkpoint {path}"
    where = "; ".join(searched)
    if cfg.classifier == "tabpfn":
        raise ClassifierError(f"classifier=tabpfn but no TabPFN weights found (looked in {where}); "
                              f"{STAGING_HINT}")
    return "hgb", None, f"no TabPFN weights found (looked in {where}); using HistGradientBoostingClassifier"


# ---- the two backends: fit on (x, y, w), return a function x -> P(signal) ------------------------


def _fit_hgb(x, y, w):
    try:
        from sklearn.ensemble import HistGradientBoostingClassifier
    except ImportError as exc:
        raise ClassifierError(f"scikit-learn is needed for the fallback classifier ({exc}); "
                              "pip install scikit-learn") from exc
    from threadpoolctl import threadpool_limits  # a scikit-learn dependency

    # One OpenMP thread: on a small, busy machine HGB's thread pool was measured 10x slower
    # (0.15 s vs 1.8 s for 500 events), and these fits are small.
    with threadpool_limits(limits=1, user_api="openmp"):
        model = HistGradientBoostingClassifier(random_state=0).fit(x, y, sample_weight=w)
    signal_column = list(model.classes_).index(1)

    def predict(rows):
        with threadpool_limits(limits=1, user_api="openmp"):
            return model.predict_proba(rows)[:, signal_column]

    return predict


def _fit_tabpfn(x, y, path, n_estimators):
    try:
        from tabpfn import TabPFNClassifier
    except ImportError as exc:
        raise ClassifierError(f"tabpfn is not importable ({exc}); pip install tabpfn==9.2.0, "
                              "or use --set classifier=hgb") from exc
    if not Path(path).is_file():  # never let tabpfn see a missing file: it would start downloading
        raise ClassifierError(f"TabPFN checkpoint {path} disappeared; {STAGING_HINT}")
    model = TabPFNClassifier(model_path=str(path), device="cpu", n_estimators=n_estimators,
                             random_state=0, ignore_pretraining_limits=True)
    try:
        model.fit(x, y)
    except Exception as exc:  # a corrupt or foreign checkpoint fails deep inside tabpfn
        raise ClassifierError(f"TabPFN could not use checkpoint {path}: {exc.__class__.__name__}: "
                              f"{exc}") from exc
    signal_column = list(model.classes_).index(1)
    return lambda rows: model.predict_proba(rows)[:, signal_column]


# ---- K-fold scoring ----------------------------------------------------------------------------


def _check_inputs(sig_x, bkg_x, sig_w, bkg_w, folds):
    import numpy as np

    arrays = []
    for name, x, w in (("signal", sig_x, sig_w), ("background", bkg_x, bkg_w)):
        x = np.asarray(x, dtype=np.float64)
        w = np.asarray(w, dtype=np.float64)
        if x.ndim != 2 or w.ndim != 1 or len(x) != len(w):
            raise ClassifierError(f"{name}: features must be 2-D (events x features) and weights 1-D of "
                                  f"the same length, got shapes {x.shape} and {w.shape}")
        if len(x) < folds:
            raise ClassifierError(f"{name}: {len(x)} events cannot be split into {folds} folds")
        if not np.isfinite(w).all():
            raise ClassifierError(f"{name}: weights contain NaN or infinite values")
        arrays.append((x, w))
    if arrays[0][0].shape[1] != arrays[1][0].shape[1]:
        raise ClassifierError(f"signal has {arrays[0][0].shape[1]} features, background "
                              f"{arrays[1][0].shape[1]}; they must match")
    return arrays


def _balanced(w_s, w_b):
    """Training weights with each class summing to half the events (negative weights -> 0)."""
    import numpy as np

    w_s, w_b = np.clip(w_s, 0.0, None), np.clip(w_b, 0.0, None)
    if not (w_s.sum() > 0 and w_b.sum() > 0):
        raise ClassifierError("a training class has no positive weight; check the step-3 weight column")
    half = 0.5 * (len(w_s) + len(w_b))
    return w_s * (half / w_s.sum()), w_b * (half / w_b.sum())


def _subsample(w, size, rng):
    """Indices of `size` events drawn without replacement with probability proportional to weight."""
    import numpy as np

    p = np.clip(w, 0.0, None)
    return np.sort(rng.choice(len(w), size=size, replace=False, p=p / p.sum()))


def score_events(sig_x, bkg_x, sig_w, bkg_w, *, cfg):
    """Return (sig_scores, bkg_scores, info): K-fold P(signal) per event, never from a model trained on it."""
    import numpy as np

    folds = int(cfg.classifier_folds)
    if folds < 2:
        raise ClassifierError(f"classifier_folds must be at least 2 (got {folds}): every event must be "
                              "scored by a model that did not train on it")
    (sig_x, sig_w), (bkg_x, bkg_w) = _check_inputs(sig_x, bkg_x, sig_w, bkg_w, folds)
    backend, path, reason = resolve_backend(cfg)
    if backend == "hgb" and cfg.classifier == "auto":
        warnings.warn(f"{reason}. To use TabPFN, {STAGING_HINT}", FallbackWarning, stacklevel=2)

    # Deterministic folds: event i of a class belongs to fold i % K.
    sig_fold, bkg_fold = np.arange(len(sig_x)) % folds, np.arange(len(bkg_x)) % folds
    sig_scores, bkg_scores = np.empty(len(sig_x)), np.empty(len(bkg_x))
    sizes = []
    for fold in range(folds):
        s_train, b_train = sig_fold != fold, bkg_fold != fold
        ws, wb = _balanced(sig_w[s_train], bkg_w[b_train])
        xs, xb = sig_x[s_train], bkg_x[b_train]
        if backend == "tabpfn":
            # TabPFN takes no sample weights: equal-size draws with probability ~ weight balance
            # the classes, capped because its cost grows fast with the training size on CPU.
            size = min(int(cfg.classifier_max_train), int((ws > 0).sum()), int((wb > 0).sum()))
            rng = np.random.default_rng([SAMPLING_SEED, fold])
            xs, xb = xs[_subsample(ws, size, rng)], xb[_subsample(wb, size, rng)]
        x = np.concatenate([xs, xb])
        y = np.concatenate([np.ones(len(xs), int), np.zeros(len(xb), int)])
        if backend == "tabpfn":
            predict = _fit_tabpfn(x, y, path, int(cfg.tabpfn_estimators))
        else:
            predict = _fit_hgb(x, y, np.concatenate([ws, wb]))
        sizes.append({"fold": fold, "train_signal": len(xs), "train_bkgd": len(xb),
                      "scored_signal": int((~s_train).sum()), "scored_bkgd": int((~b_train).sum())})
        sig_scores[~s_train] = predict(sig_x[~s_train])
        bkg_scores[~b_train] = predict(bkg_x[~b_train])

    info = {"backend": backend, "model_path": str(path) if path else None,
            "model_sha256": sha256_file(path) if path else None,
            "n_estimators": int(cfg.tabpfn_estimators) if backend == "tabpfn" else None,
            "folds": folds, "fold_rule": "event index modulo folds, within each class",
            "max_train_per_class": int(cfg.classifier_max_train) if backend == "tabpfn" else None,
            "train_sizes": sizes, "library": _library_version(backend), "reason": reason}
    return np.clip(sig_scores, 0.0, 1.0), np.clip(bkg_scores, 0.0, 1.0), info


def _library_version(backend):
    from importlib import metadata

    name = "tabpfn" if backend == "tabpfn" else "scikit-learn"
    try:
        return f"{name} {metadata.version(name)}"
    except metadata.PackageNotFoundError:
        return f"{name} (version unknown)"
