"""Time the vectorised place_boundary against a baseline that recomputes the significance per candidate.

Run: python perf/perf_categorize.py [--events N] [--bins B] [--full]
The baseline costs one full pass over the events per candidate (tens of seconds for 10^6 events
and 999 candidates), so by default it runs every 10th candidate and scales the time up to all of
them; --full runs every candidate and also checks that both give the same boundary.
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout

from hepmini.tools import get_significance, load_datasets, place_boundary  # noqa: E402

SIGNAL_FRACTION = 0.2


def make_frames(events, seed=0):
    """signal_df, bkgd_df with `events` events in all: beta-distributed scores, positive weights."""
    rng = np.random.default_rng(seed)
    n_sig = int(events * SIGNAL_FRACTION)
    n_bkg = events - n_sig
    sig, bkg = np.zeros((n_sig, 7)), np.zeros((n_bkg, 7))
    sig[:, -1] = rng.uniform(0.001, 0.003, n_sig)
    bkg[:, -1] = rng.uniform(0.5, 1.5, n_bkg)
    return load_datasets(sig, bkg, rng.beta(5, 2, n_sig), rng.beta(2, 5, n_bkg))


def baseline(signal_df, bkgd_df, boundaries, num_bins, min_events, stride=1):
    """Straightforward scan: for every candidate, count both new categories and call get_significance."""
    best = (None, -np.inf)
    for edge in np.linspace(0, 1, num_bins + 1)[1:-1][::stride]:
        if edge in boundaries:
            continue
        trial = sorted(list(boundaries) + [float(edge)])
        k = trial.index(edge)
        ok = True
        for frame in (signal_df, bkgd_df):
            cat = np.minimum(np.searchsorted(trial, frame.score, side="right") - 1, len(trial) - 2)
            counts = np.bincount(cat, minlength=len(trial) - 1)
            ok = ok and counts[k - 1] >= min_events and counts[k] >= min_events
        if ok:
            z = get_significance(signal_df, bkgd_df, trial)
            if z > best[1]:
                best = (float(edge), z)
    return best


def main(events=10**6, num_bins=1000, min_events=10, full=False, repeats=5) -> dict:
    """Run the comparison once, print it, and return the figures (seconds) as a dict."""
    boundaries = [0.0, 1.0]
    cold, warm = [], []
    for _ in range(repeats):
        signal_df, bkgd_df = make_frames(events)  # fresh objects: the first call histograms the events
        t0 = time.perf_counter()
        result = place_boundary(signal_df, bkgd_df, boundaries, num_bins, min_events)
        t1 = time.perf_counter()
        place_boundary(signal_df, bkgd_df, boundaries, num_bins, min_events)
        t2 = time.perf_counter()
        cold.append(t1 - t0)
        warm.append(t2 - t1)
    stride = 1 if full else 10
    candidates = num_bins - 1
    timed = len(range(0, candidates, stride))
    t0 = time.perf_counter()
    base = baseline(signal_df, bkgd_df, boundaries, num_bins, min_events, stride)
    base_time = (time.perf_counter() - t0) * candidates / timed
    figures = {
        "events": events, "num_bins": num_bins, "min_events": min_events,
        "vectorised_first_call_s": float(np.median(cold)),
        "vectorised_cached_call_s": float(np.median(warm)),
        "baseline_s": base_time, "baseline_candidates_timed": timed, "baseline_candidates": candidates,
        "speedup": base_time / float(np.median(cold)),
        "boundary": result[0], "significance": result[1],
    }
    if full:
        figures["baseline_agrees"] = base[0] == result[0] and abs(base[1] - result[1]) <= 1e-9 * result[1]
    scaled = "" if full else f" (timed {timed} of {candidates} candidates, scaled up)"
    print(f"place_boundary, {events:,} events, {num_bins} bins, min_events={min_events}")
    print(f"  vectorised, first call (histogramming included): {figures['vectorised_first_call_s'] * 1e3:8.1f} ms")
    print(f"  vectorised, later calls (histogram cached):      {figures['vectorised_cached_call_s'] * 1e3:8.1f} ms")
    print(f"  baseline, get_significance per candidate:        {base_time * 1e3:8.0f} ms{scaled}")
    print(f"  speed-up (first call): {figures['speedup']:.0f}x   target >= 100x and < 100 ms")
    if full:
        print(f"  same boundary and Z as the baseline: {figures['baseline_agrees']}")
    return figures


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10**6)
    parser.add_argument("--bins", type=int, default=1000)
    parser.add_argument("--full", action="store_true", help="run the baseline on every candidate")
    args = parser.parse_args()
    main(args.events, args.bins, full=args.full)
