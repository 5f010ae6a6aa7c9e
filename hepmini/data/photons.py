"""The photon response of the synthetic files: conversions, the Higgs mass resolution, isolation.

Numbers in hepmini/data/gamgam.py. Every function takes the generator's numpy Generator, so the files
stay a function of the seed.
"""

import numpy as np

from hepmini.data.gamgam import (CONV_TYPES, CONVERSION, ETA_REGIONS, ETCONE_WIDTH, ISO_CUT, M_H, PTCONE_ZERO,
                                 RESOLUTION, TAIL_FRAC, TAIL_MEAN)

_EDGE = 1e-5             # pass and fail stay this far (relative) from the cut: float32 rounding flips none


def conversions(rng, eta):
    """photon_convType for photons at pseudorapidity `eta`: 0 unconverted, else 1-5."""
    aeta = np.abs(eta)
    converted = rng.random(aeta.shape) < np.where(aeta < ETA_REGIONS[1], *CONVERSION)
    return np.where(converted, rng.choice(CONV_TYPES[0], aeta.shape, p=CONV_TYPES[1]), 0)


def mass_scale(rng, eta2, conv2):
    """Per event, m_reco / m_true of a Higgs decay from its two photons' (|η|, conversion), with the low tail."""
    aeta = np.abs(eta2)
    region = (aeta >= ETA_REGIONS[0]).astype(int) + (aeta >= ETA_REGIONS[1])
    r = np.asarray(RESOLUTION)[region, (conv2 != 0).astype(int)]
    sigma = 0.5 * np.sqrt((r ** 2).sum(0))               # σ_m/m for massless photons
    n = aeta.shape[1]
    tail = (rng.random(n) < TAIL_FRAC) * rng.exponential(TAIL_MEAN, n) / M_H
    return 1 + sigma * rng.standard_normal(n) - tail


def isolation(rng, pt, passing, tight, present):
    """ptcone30, etcone20 (the unit of pt) for photons that must pass (`passing`) or fail the 0.065 cuts.

    A failing photon fails ptcone30, etcone20 or both (70/60 %, overlapping). Values come from one smooth
    shape per kind (tight or not), drawn below the cut for a pass and above it for a fail; each shape's
    cumulative at the cut is the share of `present` photons of its kind that pass, so the histogram of
    every kind falls smoothly through the cut.
    """
    which = rng.random(pt.shape)
    pass_ptc = passing | (which >= 0.7)
    pass_etc = passing | (which <= 0.4)
    ptc, etc = np.empty(pt.shape), np.empty(pt.shape)
    for kind, members in enumerate((tight, ~tight)):
        for out, ok, shape in ((ptc, pass_ptc, _ptcone), (etc, pass_etc, _etcone)):
            share = ok[members & present].mean() if (members & present).any() else 0.5
            share = float(np.clip(share, 0.02, 0.98))
            u = rng.random(pt.shape)
            u = np.where(ok, u * share, share + u * (1 - share))
            x = shape(u, share, kind)
            x = np.where(ok, np.minimum(x, ISO_CUT * (1 - _EDGE)), np.maximum(x, ISO_CUT * (1 + _EDGE)))
            out[members] = x[members]
    return ptc * pt, etc * pt


def _ptcone(u, share, kind):
    """Quantile of ptcone30/pT: a point at 0, then an exponential whose cumulative at the cut is `share`."""
    zero = PTCONE_ZERO[kind] * share
    scale = -ISO_CUT / np.log1p(-(share - zero) / (1 - zero))
    return np.where(u < zero, 0.0, -scale * np.log1p(-(u - zero) / (1 - zero)))


def _etcone(u, share, kind):
    """Quantile of etcone20/pT: a Gumbel of fixed width whose cumulative at the cut is `share`."""
    width = ETCONE_WIDTH[kind]
    mode = ISO_CUT + width * np.log(-np.log(share))
    return mode - width * np.log(-np.log(np.clip(u, 1e-12, 1 - 1e-12)))
