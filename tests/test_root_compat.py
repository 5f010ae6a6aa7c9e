"""Real ROOT opens the synthetic files as TTrees and its RDataFrame selects what numpy + uproot select."""

import warnings

import numpy as np
import pytest
import uproot

with warnings.catch_warnings():
    warnings.simplefilter("ignore")              # the PyPI `root` wheel warns that it is alpha
    ROOT = pytest.importorskip("ROOT")

from hepmini import layout  # noqa: E402
from test_synth import BRANCH_NAMES, standard_selection  # noqa: E402

rules = layout.rules()
pytestmark = pytest.mark.root

# §3.2 in C++: compiled once, called from RDataFrame (keeps the JIT work per file small)
CPP = r"""
#include <ROOT/RVec.hxx>
using ROOT::RVecF; using ROOT::RVecB;
ROOT::RVec<int> hepmini_good(const RVecB &tight, const RVecF &pt, const RVecF &eta) {
    ROOT::RVec<int> idx;
    for (size_t i = 0; i < pt.size(); ++i) {
        double a = std::abs(double(eta[i]));
        if (tight[i] && pt[i] > 25000. && a < 2.37 && !(a >= 1.37 && a <= 1.52)) idx.push_back(i);
    }
    return idx;
}
bool hepmini_iso(const ROOT::RVec<int> &g, const RVecF &pt, const RVecF &ptc, const RVecF &etc) {
    for (int i : g) {
        double p = pt[i] / 1000.;
        if (!(double(ptc[i]) / 1000. / p < 0.065 && double(etc[i]) / 1000. / p < 0.065)) return false;
    }
    return true;
}
double hepmini_mass(const ROOT::RVec<int> &g, const RVecF &pt, const RVecF &eta, const RVecF &phi) {
    double p1 = pt[g[0]] / 1000., p2 = pt[g[1]] / 1000.;
    return std::sqrt(2 * p1 * p2 * (std::cosh(double(eta[g[0]]) - double(eta[g[1]]))
                                    - std::cos(double(phi[g[0]]) - double(phi[g[1]]))));
}
"""


@pytest.fixture(scope="module", autouse=True)
def root_setup():
    """ROOT single-threaded, batch mode, with the selection helpers compiled."""
    if ROOT.ROOT.IsImplicitMTEnabled():
        ROOT.ROOT.DisableImplicitMT()
    ROOT.gROOT.SetBatch(True)
    if not hasattr(ROOT, "hepmini_good"):
        assert ROOT.gInterpreter.Declare(CPP)


def rdf_selection(path, weighted):
    """(events passing the full standard selection, their summed weight) from ROOT's RDataFrame."""
    df = (ROOT.RDataFrame("mini", str(path))
          .Filter("trigP")
          .Define("g", "hepmini_good(photon_isTightID, photon_pt, photon_eta)")
          .Filter("g.size() == 2")
          .Filter("hepmini_iso(g, photon_pt, photon_ptcone30, photon_etcone20)")
          .Define("m", "hepmini_mass(g, photon_pt, photon_eta, photon_phi)")
          .Filter("photon_pt[g[0]] / 1000. / m > 0.35 && photon_pt[g[1]] / 1000. / m > 0.25")
          .Filter("m > 105 && m < 160"))
    weight = ("10064. * XSection / SumWeights * mcWeight * scaleFactor_PHOTON * scaleFactor_PhotonTRIGGER"
              " * scaleFactor_PILEUP" if weighted else "1.0")
    df = df.Define("w", weight)
    count, total = df.Count(), df.Sum("w")
    return count.GetValue(), total.GetValue()


def test_files_are_ttrees_with_the_81_branches(small_data):
    for rel in rules.ALL_FILES:
        f = ROOT.TFile.Open(str(small_data / rel))
        try:
            tree = f.Get("mini")
            assert tree.InheritsFrom("TTree") and tree.GetTitle() == "mini"
            assert [b.GetName() for b in tree.GetListOfBranches()] == BRANCH_NAMES
            assert tree.GetEntries() == uproot.open(small_data / rel)["mini"].num_entries
            assert tree.GetLeaf("photon_pt").GetLeafCount().GetName() == "photon_n"
        finally:
            f.Close()


@pytest.mark.parametrize("rel", rules.ALL_FILES)
def test_rdataframe_selection_equals_numpy(small_data, rel):
    mc = rel in rules.MC_FILES
    count, total = rdf_selection(small_data / rel, mc)
    sel = standard_selection(small_data / rel, weights=mc)
    assert count == sel["full"].sum() > 0
    if mc:
        np.testing.assert_allclose(total, sel["weight"][sel["full"]].sum(), rtol=1e-9)
