"""The functions handed to generated code (`from hepmini.tools import *`) and used by the reference.

Step 4 uses `train_and_score`; step 5 uses `load_datasets`, `get_significance`, `place_boundary`.
The step-5 rule built from them is the task itself, so it lives with the reference solution
(reference/step5_categorize.py), which the sandbox never shows. Categories on the classifier score are the half-open
intervals [b_k, b_k+1) of the sorted boundaries, the last one closed at 1.0; the significance is
the Asimov Z of each category combined as sqrt(sum Z_i^2) (hepmini.analysis.physics).
"""

import numpy as np

from hepmini.analysis import physics
from hepmini.errors import ToolInputError

__all__ = ["load_datasets", "get_significance", "place_boundary", "train_and_score"]

GRID_TOLERANCE = 1e-9  # how far an existing boundary may sit from a grid edge in place_boundary


def _rules():
    from hepmini import layout  # steps/rules.py holds the column layouts, written once

    return layout.rules()


# ---- datasets --------------------------------------------------------------------------------


class Dataset:
    """Read-only events of one sample: `.score`, `.weight`, `.m_yy` numpy arrays and `len()`."""

    __slots__ = ("_name", "_columns", "_grids")

    def __init__(self, name, score, weight, m_yy):
        columns = {}
        for key, values in (("score", score), ("weight", weight), ("m_yy", m_yy)):
            array = np.array(values, dtype=np.float64)  # a private copy, so caches cannot go stale
            array.flags.writeable = False
            columns[key] = array
        object.__setattr__(self, "_name", name)
        object.__setattr__(self, "_columns", columns)
        object.__setattr__(self, "_grids", {})

    def __setattr__(self, key, value):
        raise AttributeError(f"{self._name}_df is read-only; build a new one with load_datasets(...)")

    @property
    def score(self):
        """Classifier score of each event, in [0, 1]."""
        return self._columns["score"]

    @property
    def weight(self):
        """Event weight (expected events per event)."""
        return self._columns["weight"]

    @property
    def m_yy(self):
        """Diphoton invariant mass of each event, GeV."""
        return self._columns["m_yy"]

    def __len__(self):
        return len(self._columns["score"])

    def __getitem__(self, key):
        if key not in self._columns:
            raise KeyError(f"{self._name}_df has columns {sorted(self._columns)}, not {key!r}")
        return self._columns[key]

    def __repr__(self):
        return (f"<{self._name}_df: {len(self)} events, sum of weights {self.weight.sum():.6g}; "
                f"columns score, weight, m_yy>")

    def grid(self, num_bins):
        """Cumulative (weights, counts) over `num_bins` equal score bins, each of length num_bins+1."""
        if num_bins not in self._grids:
            index = _bin_index(self.score, _edges(num_bins))
            weights = np.bincount(index, weights=self.weight, minlength=num_bins)
            counts = np.bincount(index, minlength=num_bins)
            self._grids[num_bins] = (np.concatenate(([0.0], np.cumsum(weights))),
                                     np.concatenate(([0], np.cumsum(counts))))
        return self._grids[num_bins]


def _edges(num_bins):
    # The one grid: place_boundary returns exactly these values.
    return np.linspace(0.0, 1.0, num_bins + 1)


def _bin_index(score, edges):
    """Bin k of each score with edges[k] <= score < edges[k+1], the last bin closed (as np.histogram)."""
    n = len(edges) - 1
    index = (score * n).astype(np.intp)
    np.clip(index, 0, n - 1, out=index)
    # The product can land one bin off the linspace edges; correct against the edges themselves.
    index[score < edges[index]] -= 1
    index[(score >= edges[index + 1]) & (index != n - 1)] += 1
    return index


def _as_float_array(value, name, shape_words):
    """`value` as a float64 array, refusing file paths and non-numbers with a message that says why."""
    if isinstance(value, (str, bytes)) or hasattr(value, "__fspath__"):
        raise ToolInputError(f"{name} must be a numpy array, not the path {value!r}; "
                             f"load it first: {name} = np.load({str(value)!r})")
    try:
        return np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise ToolInputError(f"{name} must be a {shape_words} numpy array of numbers, "
                             f"got {type(value).__name__}") from None


def _as_matrix(value, name, ncols, columns):
    array = _as_float_array(value, name, "2-D")
    if array.ndim != 2 or array.shape[1] != ncols:
        raise ToolInputError(f"{name} must be a 2-D array with {ncols} columns {columns} (a step-3 array), "
                             f"got shape {array.shape}")
    return array


def _as_scores(value, name, rows, array_name):
    array = _as_float_array(value, name, "1-D")
    if array.ndim != 1:
        raise ToolInputError(f"{name} must be 1-D (one score per event), got shape {array.shape}"
                             + ("; for predict_proba output pass column [:, 1]" if array.ndim == 2 else ""))
    if len(array) != rows:
        raise ToolInputError(f"{name} has {len(array)} entries but {array_name} has {rows} events; "
                             "they must match one to one")
    bad = ~np.isfinite(array) | (array < 0.0) | (array > 1.0)
    if bad.any():
        raise ToolInputError(f"{name} must be probabilities in [0, 1]; {int(bad.sum())} values are not "
                             f"(first: {array[bad][0]!r})")
    return array


def load_datasets(signal, bkgd, signal_scores, bkgd_scores):
    """Return signal_df and bkgd_df (read-only; .score, .weight, .m_yy arrays) from numpy arrays: np.load files first.

    Example usage: signal_df, bkgd_df = load_datasets(signal, bkgd, signal_scores, bkgd_scores)

    The inputs are numpy arrays (np.load them first): the step-3 arrays, whose columns are
    rules.ARRAY_COLUMNS with `weight` last, and one score in [0, 1] per event.

    >>> sig = np.array([[125.0, 0.4, 0.1, 0.3, -0.2, 3.0, 0.01]] * 3)
    >>> bkg = np.array([[110.0, 0.5, 1.0, 0.3, 0.2, 2.0, 5.0]] * 2)
    >>> signal_df, bkgd_df = load_datasets(sig, bkg, [0.9, 0.8, 0.7], [0.1, 0.2])
    >>> len(signal_df), float(bkgd_df.weight.sum()), float(signal_df.m_yy[0])
    (3, 10.0, 125.0)
    """
    columns = list(_rules().ARRAY_COLUMNS)
    frames = []
    for name, array, scores in (("signal", signal, signal_scores), ("bkgd", bkgd, bkgd_scores)):
        matrix = _as_matrix(array, name, len(columns), columns)
        score = _as_scores(scores, f"{name}_scores", len(matrix), name)
        weight = matrix[:, columns.index("weight")]
        if not np.isfinite(weight).all():
            raise ToolInputError(f"{name}: {int((~np.isfinite(weight)).sum())} weights are NaN or infinite")
        frames.append(Dataset(name, score, weight, matrix[:, columns.index("m_yy")]))
    return frames[0], frames[1]


# ---- significance and boundaries -----------------------------------------------------------


def _check_frames(signal_df, bkgd_df):
    for name, frame in (("signal_df", signal_df), ("bkgd_df", bkgd_df)):
        if not isinstance(frame, Dataset):
            raise ToolInputError(f"{name} must come from load_datasets(signal, bkgd, signal_scores, "
                                 f"bkgd_scores), got {type(frame).__name__}")


def _as_boundaries(boundaries):
    if isinstance(boundaries, (list, tuple)) and any(v is None for v in boundaries):
        raise ToolInputError("boundaries contain None: place_boundary returns None when no allowed "
                             "boundary is left; stop adding boundaries then")
    if isinstance(boundaries, (str, bytes)):
        raise ToolInputError(f"boundaries must be a list or array of numbers, got the string {boundaries!r}")
    try:
        array = np.unique(np.asarray(boundaries, dtype=np.float64))  # sorted, flat, duplicates dropped
    except (TypeError, ValueError):
        raise ToolInputError(f"boundaries must be a list or array of numbers, got {boundaries!r}") from None
    if array.ndim != 1 or len(array) < 2 or not np.isfinite(array).all():
        raise ToolInputError(f"boundaries must be at least two finite numbers, got {boundaries!r}; "
                             "start from boundaries = [0.0, 1.0]")
    if array[0] != 0.0 or array[-1] != 1.0:
        raise ToolInputError(f"boundaries must start at 0.0 and end at 1.0 (scores are in [0, 1]), got "
                             f"{array.tolist()}; start from boundaries = [0.0, 1.0]")
    return array


def get_significance(signal_df, bkgd_df, boundaries):
    """Return significance under current categorization.

    Example usage: Z = get_significance(signal_df, bkgd_df, boundaries)

    Categories are [b_k, b_k+1) of the sorted boundaries (which must include 0 and 1), the last one
    closed at 1.0; s_i, b_i are the summed signal and background weights in category i and
    Z = sqrt(sum_i Z_i^2) with Z_i = sqrt(2((s_i+b_i) ln(1+s_i/b_i) - s_i)).

    >>> signal_df, bkgd_df = load_datasets(np.full((2, 7), 0.5), np.full((2, 7), 50.0),
    ...                                    [0.25, 0.75], [0.25, 0.75])
    >>> round(get_significance(signal_df, bkgd_df, [0.0, 1.0]), 6)     # s = 1, b = 100
    0.099834
    >>> round(get_significance(signal_df, bkgd_df, [0.0, 0.5, 1.0]), 6)  # 2 x (s = 0.5, b = 50)
    0.099834
    """
    _check_frames(signal_df, bkgd_df)
    edges = _as_boundaries(boundaries)
    ncat = len(edges) - 1
    sums = []
    for frame in (signal_df, bkgd_df):
        # side="right": an event exactly on a boundary belongs to the category above it.
        category = np.minimum(np.searchsorted(edges, frame.score, side="right") - 1, ncat - 1)
        sums.append(np.bincount(category, weights=frame.weight, minlength=ncat))
    return float(physics.combined_z(physics.asimov_z(sums[0], sums[1])))


def _check_count(value, name, minimum):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer, float, np.floating)) \
            or not np.isfinite(value) or value != int(value) or value < minimum:
        raise ToolInputError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _grid_index(current, num_bins: int):
    """The boundaries as indices of the grid's edges (0 and num_bins always among them); off the grid: an error."""
    index = np.rint(current * num_bins).astype(np.intp)
    off = np.abs(_edges(num_bins)[index] - current) > GRID_TOLERANCE
    if off.any():
        raise ToolInputError(f"boundary {current[off][0]!r} is not on the grid of num_bins={num_bins} "
                             f"(np.linspace(0, 1, {num_bins + 1})); use boundaries returned by "
                             "place_boundary with the same num_bins")
    return np.unique(index)


def place_boundary(signal_df, bkgd_df, boundaries, num_bins, min_events):
    """Return optimal location to place next boundary based on current boundaries, and resulting significance.

    Example usage: new_boundary, new_Z = place_boundary(signal_df, bkgd_df, boundaries, num_bins, min_events)

    Candidates are the interior edges of num_bins equal bins on [0, 1] (np.linspace(0, 1,
    num_bins + 1)[1:-1]) that are not already boundaries; each existing boundary must be one of
    those edges. A candidate is allowed when both categories it creates keep at least min_events
    unweighted signal events and min_events unweighted background events. The best allowed
    candidate maximises the total Z after the split (ties: the lowest); with none allowed the
    result is (None, current Z).

    >>> signal_df, bkgd_df = load_datasets(np.full((5, 7), 1.0), np.full((5, 7), 10.0),
    ...                                    [0.3, 0.6, 0.7, 0.9, 0.95], [0.1, 0.2, 0.4, 0.6, 0.8])
    >>> b, z = place_boundary(signal_df, bkgd_df, [0.0, 1.0], 4, 1)
    >>> b, round(z, 4)
    (0.5, 0.8857)
    >>> b, z = place_boundary(signal_df, bkgd_df, [0.0, 1.0], 4, 0)   # [0, 0.25) has no signal event
    >>> b, round(z, 4)
    (0.25, 0.8891)
    >>> b, z = place_boundary(signal_df, bkgd_df, [0.0, 0.5, 0.75, 1.0], 4, 1)
    >>> b, round(z, 4)
    (None, 0.8857)
    """
    _check_frames(signal_df, bkgd_df)
    num_bins = _check_count(num_bins, "num_bins", 2)
    min_events = _check_count(min_events, "min_events", 0)
    current = _as_boundaries(boundaries)
    edges, index = _edges(num_bins), _grid_index(current, num_bins)
    cand = np.setdiff1d(np.arange(1, num_bins), index, assume_unique=True)
    sig_w, sig_n = signal_df.grid(num_bins)
    bkg_w, bkg_n = bkgd_df.grid(num_bins)

    # The current categories and their Z^2; "others" = sum of Z^2 over all categories but one,
    # from exclusive prefix + suffix sums so an infinite Z^2 never meets inf - inf.
    cat_z2 = physics.asimov_z2(np.diff(sig_w[index]), np.diff(bkg_w[index]))
    prefix = np.concatenate(([0.0], np.cumsum(cat_z2)[:-1]))
    suffix = np.concatenate((np.cumsum(cat_z2[::-1])[::-1][1:], [0.0]))
    others = prefix + suffix

    # Each candidate k splits its category [lo, hi) into [lo, k) and [k, hi).
    cat = np.searchsorted(index, cand, side="right") - 1
    lo, hi = index[cat], index[cat + 1]
    left = physics.asimov_z2(sig_w[cand] - sig_w[lo], bkg_w[cand] - bkg_w[lo])
    right = physics.asimov_z2(sig_w[hi] - sig_w[cand], bkg_w[hi] - bkg_w[cand])
    new_z2 = others[cat] + left + right
    allowed = ((sig_n[cand] - sig_n[lo] >= min_events) & (sig_n[hi] - sig_n[cand] >= min_events)
               & (bkg_n[cand] - bkg_n[lo] >= min_events) & (bkg_n[hi] - bkg_n[cand] >= min_events)
               & ~np.isnan(new_z2))
    if not allowed.any():
        return None, get_significance(signal_df, bkgd_df, current)
    best = int(np.argmax(np.where(allowed, new_z2, -np.inf)))  # argmax takes the first (lowest) of ties
    return float(edges[cand[best]]), float(np.sqrt(new_z2[best]))


# ---- step 4 ------------------------------------------------------------------------------------


def train_and_score(signal, bkgd, cfg=None, *, return_info=False):
    """Return (signal_scores, bkgd_scores): each event's signal probability from a classifier not trained on it.

    Example usage: signal_scores, bkgd_scores = train_and_score(signal, bkgd)

    Features are the columns rules.FEATURE_COLUMNS of the step-3 arrays, the training classes
    are rescaled to equal total weight, and events are split into folds so every event is scored
    by a model that did not see it. TabPFN is used when its weights are staged, otherwise a
    HistGradientBoostingClassifier (with a warning). With return_info=True a third item, the
    classifier record (backend, checkpoint, SHA-256, folds, sizes), is returned too.
    """
    from hepmini import config
    from hepmini.analysis import scoring

    rules = _rules()
    columns = list(rules.ARRAY_COLUMNS)
    feature_index = [columns.index(c) for c in rules.FEATURE_COLUMNS]
    parts = []
    for name, array in (("signal", signal), ("bkgd", bkgd)):
        matrix = _as_matrix(array, name, len(columns), columns)
        features, weight = matrix[:, feature_index], matrix[:, columns.index("weight")]
        if not (np.isfinite(features).all() and np.isfinite(weight).all()):
            raise ToolInputError(f"{name} has NaN or infinite feature or weight values; the step-3 "
                                 "arrays must be finite")
        parts.append((features, weight))
    cfg = config.resolve() if cfg is None else cfg
    sig_scores, bkg_scores, info = scoring.score_events(parts[0][0], parts[1][0], parts[0][1],
                                                           parts[1][1], cfg=cfg)
    if return_info:
        return sig_scores, bkg_scores, info
    return sig_scores, bkg_scores
