"""Reference step 3: select diphoton events, split TI/NTI, weight signal and background, estimate the background."""

import sys
from pathlib import Path

try:
    import hepmini  # noqa: F401
except ImportError:  # run from a checkout without installing: the package sits beside reference/
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np

from hepmini.analysis import physics
from hepmini.analysis import refscript
from hepmini import layout
from hepmini.errors import MissingInput
from hepmini.files import atomic_write_json, save_npy_atomic

rules = layout.rules()
COL = {name: i for i, name in enumerate(rules.NTUPLE_COLUMNS)}


def load_ntuple(inputs: Path, sample: str) -> np.ndarray:
    """Load one step-2 ntuple, checking its width."""
    path = inputs / rules.ntuple_path(sample)
    (table,) = refscript.load_arrays(inputs, [rules.ntuple_path(sample)], "step2")
    if table.ndim != 2 or table.shape[1] != len(rules.NTUPLE_COLUMNS):
        raise MissingInput(f"{path}: shape {table.shape}, expected (N, {len(rules.NTUPLE_COLUMNS)}); "
                           "re-run step2")
    return table


def derive(nt: np.ndarray) -> dict:
    """Per-event quantities of the two leading photons and the selection masks."""
    c = {name: nt[:, i] for name, i in COL.items()}
    pt1, eta1, phi1 = c["photon1_pt"], c["photon1_eta"], c["photon1_phi"]
    pt2, eta2, phi2 = c["photon2_pt"], c["photon2_eta"], c["photon2_phi"]
    m = physics.diphoton_mass(pt1, eta1, phi1, pt2, eta2, phi2)
    with np.errstate(invalid="ignore", divide="ignore"):
        r1, r2 = pt1 / m, pt2 / m
        accepted = [physics.photon_acceptance(pt, eta, rules.PHOTON_PT_MIN, rules.PHOTON_ETA_MAX,
                                              rules.CRACK_ETA) for pt, eta in ((pt1, eta1), (pt2, eta2))]
        presel = ((c["trigP"] == 1) & accepted[0] & accepted[1]
                  & (r1 > rules.PT1_OVER_M_MIN) & (r2 > rules.PT2_OVER_M_MIN)
                  & (m > rules.MASS_RANGE[0]) & (m < rules.MASS_RANGE[1]))
        tight = (c["photon1_isTightID"] == 1) & (c["photon2_isTightID"] == 1)
        iso = (physics.isolated(c["photon1_ptcone30"], c["photon1_etcone20"], pt1, rules.ISOLATION_MAX)
               & physics.isolated(c["photon2_ptcone30"], c["photon2_etcone20"], pt2, rules.ISOLATION_MAX))
    window = (m > rules.SIGNAL_WINDOW[0]) & (m < rules.SIGNAL_WINDOW[1])
    sideband = np.zeros(len(m), dtype=bool)
    for lo, hi in rules.SIDEBANDS:
        sideband |= (m > lo) & (m < hi)
    features = np.column_stack([m, r1, eta1, r2, eta2, physics.delta_phi(phi1, phi2)])
    return {"ti": presel & tight & iso, "nti": presel & ~tight, "window": window,
            "sideband": sideband, "features": features, "c": c}


def signal_rows(inputs: Path) -> np.ndarray:
    """TI Higgs MC events in the signal window, all five production modes, with their weights."""
    parts = []
    for sample in rules.MC_SAMPLE_NAMES:
        d = derive(load_ntuple(inputs, sample))
        keep = d["ti"] & d["window"]
        c = {k: v[keep] for k, v in d["c"].items()}
        sf = [c[name] for name in rules.SIGNAL_SF_COLUMNS]
        weight = physics.mc_event_weight(c["mcWeight"], *sf, c["XSection"], c["SumWeights"],
                                         rules.LUMI_PB)
        parts.append(np.column_stack([d["features"][keep], weight]))
    return np.concatenate(parts)


def background_rows(inputs: Path):
    """NTI data events in the sidebands, weighted by SF1*SF2, and the background estimate."""
    derived = [derive(load_ntuple(inputs, s)) for s in rules.DATA_SAMPLES]
    ti_sb = sum(int(np.sum(d["ti"] & d["sideband"])) for d in derived)
    nti_sb = sum(int(np.sum(d["nti"] & d["sideband"])) for d in derived)
    nti_win = sum(int(np.sum(d["nti"] & d["window"])) for d in derived)
    est = physics.background_scale_factors(ti_sb, nti_sb, nti_win)
    rows = np.concatenate([d["features"][d["nti"] & d["sideband"]] for d in derived])
    weight = np.full(len(rows), est["SF1"] * est["SF2"])
    estimate = {"TI_sideband_yield": ti_sb, "NTI_sideband_yield": nti_sb,
                "NTI_window_yield": nti_win, "SF1": est["SF1"], "SF2": est["SF2"],
                "expected_background": est["expected_background"]}
    return np.column_stack([rows, weight]), estimate


def run(data: Path, inputs: Path, out: Path, params: dict) -> None:
    signal = signal_rows(inputs)
    bkgd, estimate = background_rows(inputs)
    estimate["signal_yield"] = float(signal[:, -1].sum())
    save_npy_atomic(out / rules.SIGNAL_ARRAY, signal)
    save_npy_atomic(out / rules.BKGD_ARRAY, bkgd)
    atomic_write_json(out / rules.BKGD_ESTIMATE, estimate)


if __name__ == "__main__":
    raise SystemExit(refscript.main(run, __doc__))
