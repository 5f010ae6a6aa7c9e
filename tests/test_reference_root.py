"""Real ROOT (RDataFrame) applies the step-3 selection to the ROOT files and gets hepmini's yields."""

import json
import warnings

import numpy as np
import pytest

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    ROOT = pytest.importorskip("ROOT")

from hepmini import layout  # noqa: E402

rules = layout.rules()

PRESELECTION = """
photon_n >= 2 && trigP
&& pt1 > {pt_min} && abs(eta1) < {eta_max} && !(abs(eta1) >= {c0} && abs(eta1) <= {c1})
&& pt2 > {pt_min} && abs(eta2) < {eta_max} && !(abs(eta2) >= {c0} && abs(eta2) <= {c1})
&& pt1 / m > {r1} && pt2 / m > {r2} && m > {m0} && m < {m1}
"""


def frame(path):
    df = ROOT.RDataFrame(rules.TREE, str(path))
    for i in (1, 2):
        k = i - 1
        df = (df.Define(f"pt{i}", f"photon_n > {k} ? photon_pt[{k}] * 0.001 : 0.0")
                .Define(f"eta{i}", f"photon_n > {k} ? double(photon_eta[{k}]) : 0.0")
                .Define(f"phi{i}", f"photon_n > {k} ? double(photon_phi[{k}]) : 0.0")
                .Define(f"iso{i}", f"photon_n > {k} && photon_ptcone30[{k}] * 0.001 / pt{i} < {rules.ISOLATION_MAX}"
                                   f" && photon_etcone20[{k}] * 0.001 / pt{i} < {rules.ISOLATION_MAX}")
                .Define(f"tight{i}", f"photon_n > {k} && photon_isTightID[{k}]"))
    df = df.Define("m", "sqrt(2 * pt1 * pt2 * (cosh(eta1 - eta2) - cos(phi1 - phi2)))")
    cut = PRESELECTION.format(pt_min=rules.PHOTON_PT_MIN, eta_max=rules.PHOTON_ETA_MAX,
                              c0=rules.CRACK_ETA[0], c1=rules.CRACK_ETA[1], r1=rules.PT1_OVER_M_MIN,
                              r2=rules.PT2_OVER_M_MIN, m0=rules.MASS_RANGE[0], m1=rules.MASS_RANGE[1])
    df = df.Filter(" ".join(cut.split()))
    (w0, w1), ((a0, a1), (b0, b1)) = rules.SIGNAL_WINDOW, rules.SIDEBANDS
    return (df.Define("ti", "tight1 && tight2 && iso1 && iso2").Define("nti", "!(tight1 && tight2)")
              .Define("window", f"m > {w0} && m < {w1}")
              .Define("sideband", f"(m > {a0} && m < {a1}) || (m > {b0} && m < {b1})"))


def test_rdataframe_yields_equal_hepmini(reference_run):
    if ROOT.ROOT.IsImplicitMTEnabled():
        ROOT.ROOT.DisableImplicitMT()
    data_dir = reference_run.parent / "data"
    estimate = json.loads((reference_run / rules.BKGD_ESTIMATE).read_text())
    counts = {"TI_sideband_yield": 0, "NTI_sideband_yield": 0, "NTI_window_yield": 0}
    for rel in rules.DATA_FILES:
        df = frame(data_dir / rel)
        ti_sb, nti_sb, nti_win = (df.Filter("ti && sideband").Count(), df.Filter("nti && sideband").Count(),
                                  df.Filter("nti && window").Count())
        counts["TI_sideband_yield"] += ti_sb.GetValue()
        counts["NTI_sideband_yield"] += nti_sb.GetValue()
        counts["NTI_window_yield"] += nti_win.GetValue()
    assert counts == {k: estimate[k] for k in counts}
    assert min(counts.values()) > 0

    signal = np.load(reference_run / rules.SIGNAL_ARRAY)
    n_signal = sum(frame(data_dir / rel).Filter("ti && window").Count().GetValue()
                   for rel in rules.MC_FILES)
    assert n_signal == len(signal)
