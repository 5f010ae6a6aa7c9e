"""Write synthetic ROOT files that stand in for the 2020 ATLAS Open Data GamGam files.

Format (reference/atlas_gamgam.md §1): tree `mini` (title `mini`), the 81 branches in on-disk
order, MeV, object vectors pT-ordered with lengths equal to their `<obj>_n` counter; the real file
names under GamGam/Data and GamGam/MC. The one deviation: uproot's TTree writer stores every vector
as a counted leaf-list (`photon_pt[photon_n]/F`) with an Int_t counter, where the real files have
`std::vector<float>` and UInt_t counters; uproot, awkward and ROOT's RDataFrame read the same values.

What is real (§4; numbers at scale 1 = 10 fb⁻¹): the selected yields and shapes. ≈76.4k data events pass the
standard selection in 105-160 GeV with N ∝ exp(-0.031 (m-105)); ≈60 % of the events passing trigger+ID+
isolation lie below 105 GeV; ≈388 Higgs events (ggH 347, VBF 30, WH 6, ZH 5, ttH ≈ 0 by the official
XSection bug) in data and in the weighted MC. The peak has its photons' resolution (hepmini/data/photons.py):
σ ≈ 1.83 GeV with both photons central (|η| < 0.75) and unconverted, wider for converted and end-cap photons,
the inclusive ggH shape that of the official binned spectrum. XSection and mean mcWeight per sample are the
official ones; ptcone30/pT and etcone20/pT fall smoothly through the 0.065 cuts. Photon pairs are made as a
decaying system (mass, pT, rapidity, decay angle) boosted to the lab, so m_γγ is exact and the kinematics correlate.

What is not, to keep the files small and the run within minutes:
- entries: ≈1.5 M data events, not 7.80 M: ≈4 events fail trigger, ID, isolation or acceptance for each one
  that passes (the real files: ≈20); MC: 80k ggH, 24k VBF, 10k each WH, ZH, ttH (the real ggH file: ≥684k);
- SumWeights is the sum of mcWeight over a notional generated sample of that size, 18× (ggH, 3.13 M vs
  55.9 M) to 70× (ttH) below the official sums: L·XSection/SumWeights·mcWeight gives the right yields from the
  branches, an official infofile sumw would give yields 18-70× too small;
- photon_isTightID is true for ≈69 % of data photons (real ≈30-50 %): most non-tight jet fakes are left out;
- isolation pass or fail is set per population, so a subset selected on other variables may show a kink at
  0.065; jets, leptons, taus and MET have plausible, untuned shapes.
At scale s the data stand for s × 10.064 fb⁻¹ and SumWeights carries a factor 1/s, so the normalisation
L·XSection/SumWeights with L = 10.064 fb⁻¹ predicts the signal of the luminosity present: S/B, and so the
significances, stay those of 10 fb⁻¹ at every scale.
"""

import time
from pathlib import Path

import numpy as np

from hepmini.data import photons
from hepmini.data.gamgam import (DIPHOTON, GEV, HIGGS_IN_DATA, K_HIGH, M_H, M_MAX, MC_MODES, MC_RUN, MC_WEIGHT,
                                 PERIOD_LUMI, PERIOD_RUNS, POPULATIONS, XSECTION)
from hepmini.data.rootwrite import branches, write_tree


def _segments(n_range, k_all):
    """Mass-density segments (kind, lo, hi, integral) of a population; density A at 105 GeV."""
    a = n_range * k_all / -np.expm1(-55 * k_all)
    top = a * np.exp(25 * k_all)                             # density at 80 GeV
    return [("ramp", 40.0, 80.0, top * 20.0),
            ("exp-", 80.0, 105.0, a * np.expm1(25 * k_all) / k_all),
            ("exp", 105.0, 160.0, n_range),
            ("high", 160.0, M_MAX, a * np.exp(-55 * k_all) * -np.expm1(-340 * K_HIGH) / K_HIGH)]


def _truncexp(rng, k, width, n):
    """Draw x in [0, width) from exp(-k x)."""
    return -np.log1p(rng.random(n) * np.expm1(-k * width)) / k


def _masses(rng, n, n_range, k_all):
    """Draw n diphoton masses (GeV) from a population's spectrum."""
    segs = _segments(n_range, k_all)
    w = np.array([s[3] for s in segs])
    which = rng.choice(len(segs), size=n, p=w / w.sum())
    draw = {"ramp": lambda j: 40 + 40 * np.sqrt(rng.random(j)),       # density rising linearly
            "exp-": lambda j: 105 - _truncexp(rng, -k_all, 25, j),
            "exp": lambda j: 105 + _truncexp(rng, k_all, 55, j),
            "high": lambda j: 160 + _truncexp(rng, K_HIGH, M_MAX - 160, j)}
    m = np.empty(n)
    for i, seg in enumerate(segs):
        m[which == i] = draw[seg[0]](int((which == i).sum()))
    return m


def _cos_theta(rng, n, forward):
    """Decay angle: flat for a scalar, ∝ (1+c²)/(1-c²) for the qq̄/gg→γγ continuum (|c|<0.95)."""
    if not forward:
        return rng.uniform(-1, 1, n)
    c = np.tanh(rng.uniform(-1, 1, n) * np.arctanh(0.95))           # density ∝ 1/(1-c²)
    bad = rng.random(n) * 2 > 1 + c * c
    while bad.any():                                                 # accept with (1+c²)/2
        c[bad] = np.tanh(rng.uniform(-1, 1, bad.sum()) * np.arctanh(0.95))
        bad[bad] = rng.random(bad.sum()) * 2 > 1 + c[bad] ** 2
    return c


def _diphoton(rng, m, kind):
    """Decay systems of mass m (GeV) to two photons; return (pt, eta, phi) × (leading, other) × n."""
    n = len(m)
    qt_mean, y_width, forward = DIPHOTON[kind]
    # [EST] low masses pass the pT thresholds only when boosted, as in the real skim
    qt = rng.gamma(1.5, (qt_mean + 0.8 * np.clip(90 - m, 0, None)) / 1.5, n)
    y = rng.normal(0, y_width, n)
    big_phi = rng.uniform(-np.pi, np.pi, n)
    mt = np.sqrt(m * m + qt * qt)
    e = mt * np.cosh(y)
    beta = np.array([qt * np.cos(big_phi), qt * np.sin(big_phi), mt * np.sinh(y)]) / e
    gamma = e / m
    c = _cos_theta(rng, n, forward)
    s = np.sqrt(1 - c * c)
    phi_star = rng.uniform(-np.pi, np.pi, n)
    k = 0.5 * m * np.array([s * np.cos(phi_star), s * np.sin(phi_star), c])
    out = np.empty((3, 2, n))
    for i, sign in enumerate((1.0, -1.0)):
        p = sign * k
        # Lorentz boost of a massless momentum p (energy m/2): p + β((γ²/(γ+1)) β·p + γ m/2)
        p = p + beta * (gamma ** 2 / (gamma + 1) * (beta * p).sum(0) + gamma * 0.5 * m)
        out[0, i] = np.hypot(p[0], p[1])
        out[1, i] = np.arcsinh(p[2] / out[0, i])
        out[2, i] = np.arctan2(p[1], p[0])
    swap = out[0, 1] > out[0, 0]                                     # leading photon first
    out[:, :, swap] = out[:, ::-1, swap]
    return out


def _fiducial(kin):
    """Standard-selection photon acceptance on both photons, plus the skim's 35 GeV leading pT."""
    aeta = np.abs(kin[1])
    good = (kin[0] > 25) & (aeta < 2.37) & ((aeta < 1.37) | (aeta > 1.52))
    return good.all(0) & (kin[0, 0] > 35)


def _kinematics(rng, m, kind, want):
    """Photon kinematics for masses m, redrawn until fiducial and pT/m status == want (-1: any)."""
    out = np.empty((3, 2, len(m)))
    todo = np.arange(len(m))
    for _ in range(5000):
        kin = _diphoton(rng, m[todo], kind)
        ptm = (kin[0, 0] > 0.35 * m[todo]) & (kin[0, 1] > 0.25 * m[todo])    # standard pT/m cuts
        ok = _fiducial(kin) & ((want[todo] < 0) | (ptm == (want[todo] == 1)))
        out[:, :, todo[ok]] = kin[:, :, ok]
        todo = todo[~ok]
        if todo.size == 0:
            return out
    raise RuntimeError("synthetic photon kinematics did not converge")  # pragma: no cover


def _data_population(rng, name, n):
    """Photons (dict of (n, 3) arrays, GeV), photon_n and trigP for one data population."""
    n_range, k_all, n_pass, k_pass, kind = POPULATIONS.get(name, (0, 0, 0, 0, "ggH"))
    if name == "higgs":
        m, want = np.full(n, M_H), np.ones(n, int)
    else:
        m = _masses(rng, n, n_range, k_all)
        want = np.full(n, -1)
        if n_pass:      # inside 105-160 the pT/m pass fraction bends exp(-k_all) into exp(-k_pass)
            x = m - 105
            frac = n_pass * k_pass / -np.expm1(-55 * k_pass) / (n_range * k_all / -np.expm1(-55 * k_all))
            inside = (x > 0) & (x < 55)
            want[inside] = rng.random(inside.sum()) < frac * np.exp((k_all - k_pass) * x[inside])
    pair = _kinematics(rng, m, kind, want)
    conv = _resolved(rng, pair) if name == "higgs" else None
    kin = _diphoton_with_third(rng, pair, name == "ti3", conv=conv)
    tight, iso = np.ones((n, 3), bool), np.ones((n, 3), bool)
    u = rng.random(n)
    fails = np.column_stack([u < 0.6, u >= 0.4])        # lead only, both, sub only: 40/20/40 % [EST]
    if name == "nti":
        tight[:, :2] = ~fails
    elif name == "noniso":
        iso[:, :2] = ~fails
    elif name in ("notrig", "nonfid"):
        tight[:, :2] = rng.random((n, 2)) < 0.7
    if name in ("nti", "notrig", "nonfid"):  # true photons ≈90 %, fakes ≈45 % isolated (§4.5 [EST])
        iso[:, :2] = rng.random((n, 2)) < np.where(tight[:, :2], 0.9, 0.45)
    if name == "nonfid":  # move one photon into the crack, beyond |η|=2.37, or below 25 GeV
        how, rows, who = rng.random(n), np.arange(n), rng.integers(0, 2, n)
        eta = kin["eta"][rows, who]
        eta = np.where(how < 0.35, np.sign(eta) * rng.uniform(1.37, 1.52, n),
                       np.where(how < 0.6, np.sign(eta) * rng.uniform(2.37, 2.5, n), eta))
        kin["eta"][rows, who] = eta
        soft = how >= 0.6
        kin["pt"][soft, 1] = rng.uniform(20, 25, soft.sum())
        kin["nph"][kin["pt"][:, 2] >= kin["pt"][:, 1]] = 2
    if name != "ti3":     # an extra photon is never "good": below 25 GeV or not tight
        tight[:, 2] = (kin["pt"][:, 2] < 25) & (rng.random(n) < 0.5)
        iso[:, 2] = rng.random(n) < 0.7
    if "conv" not in kin:  # Higgs photons got theirs with their resolution; the others where they ended up (§4.6)
        kin["conv"] = photons.conversions(rng, kin["eta"])
    kin.update(tight=tight, iso=iso, trig=np.full(n, name != "notrig"))
    return kin


def _resolved(rng, pair):
    """Give a (3, 2, n) Higgs pair at m_H its conversions and the detector's mass resolution; return convType.

    Both photons' pT scale by m_reco/m_H: the angles and pT/m stay, so the pT/m cuts keep their verdict.
    """
    conv = photons.conversions(rng, pair[1])
    pair[0] *= photons.mass_scale(rng, pair[1], conv)
    return conv


def _diphoton_with_third(rng, kin, good_third=False, p_third=0.08, conv=None):
    """(n, 3) photon arrays from a (3, 2, n) pair; a third, softer photon in some events; convType if given."""
    n = kin.shape[2]
    pt2 = kin[0, 1]
    lo, hi = (25.0, pt2) if good_third else (20.0, np.minimum(pt2, 25))
    pt3 = lo + (hi - lo) * rng.random(n)
    eta3 = rng.normal(0, 1.3, n).clip(-2.45, 2.45)
    if good_third:                       # a third *good* photon: fiducial and outside the crack
        eta3 = np.where((np.abs(eta3) > 1.3) & (np.abs(eta3) < 1.6), 0.5 * eta3, eta3).clip(-2.3, 2.3)
    nph = np.where(good_third | (rng.random(n) < p_third), 3, 2)
    cols = lambda a, b: np.column_stack([a[0], a[1], b])            # noqa: E731
    out = {"pt": cols(kin[0], pt3), "eta": cols(kin[1], eta3),
           "phi": cols(kin[2], rng.uniform(-np.pi, np.pi, n)), "nph": nph}
    if conv is not None:
        out["conv"] = cols(conv, photons.conversions(rng, eta3))
    return out


def _jagged(rng, counts, pt_min, pt_mean, eta_width, eta_max, mass):
    """Flat, pT-ordered kinematics (GeV) of objects with the given counts per event."""
    total = int(counts.sum())
    event = np.repeat(np.arange(len(counts)), counts)
    pt = pt_min + rng.exponential(pt_mean, total)
    order = np.lexsort((-pt, event))
    pt = pt[order]
    eta = rng.normal(0, eta_width, total).clip(-eta_max, eta_max)
    phi = rng.uniform(-np.pi, np.pi, total)
    e = np.sqrt((pt * np.cosh(eta)) ** 2 + np.square(mass))     # objects are iid: mass i ↔ object i
    return {"pt": pt, "eta": eta, "phi": phi, "E": e}


def _syst(rng, value, rel):
    """[EST] a systematic uncertainty of about `rel` of the value, in the value's unit."""
    return value * np.abs(rng.normal(rel, rel / 2, np.shape(value)))


def _objects(rng, n, jets, leps, met_mean, is_mc, ttbar=False):
    """Jets, leptons, MET, taus and large-R jets for n events (MeV), as branch arrays."""
    b = {}
    counts = {"jet": np.minimum(jets[1] + rng.poisson(jets[0], n), 10)}
    u = rng.random(n)
    counts["lep"] = (u < leps[0] + leps[1]).astype(int) + (u < leps[1])
    counts["tau"] = (rng.random(n) < 0.02).astype(int)
    counts["largeRjet"] = (rng.random(n) < 0.03).astype(int)
    # jets (pT ≥ 20 GeV stored, §1.2 #34); VBF jets forward, b-jets in ttH
    j = _jagged(rng, counts["jet"], 20, 25, 2.4 if jets[1] == 2 else 1.6, 4.5,
                rng.uniform(3, 15, counts["jet"].sum()))
    nj = len(j["pt"])
    flav = rng.choice([0, 4, 5], nj, p=[0.6, 0.1, 0.3] if ttbar else [0.88, 0.07, 0.05])
    b["jet_jvt"] = np.where((j["pt"] < 60) & (rng.random(nj) < 0.2), rng.random(nj), rng.beta(8, 1, nj))
    b["jet_MV2c10"] = np.where(flav == 5, rng.normal(0.85, 0.15, nj), rng.normal(-0.5, 0.35, nj)).clip(-1, 1)
    b["jet_trueflav"] = flav if is_mc else np.zeros(nj, int)
    b["jet_truthMatched"] = (rng.random(nj) < 0.9) & is_mc
    b["jet_pt_syst"] = _syst(rng, j["pt"] * GEV, 0.02)
    # leptons: electrons or muons with their masses; tracks near the primary vertex
    lep_type = rng.choice(np.array([11, 13], np.uint32), counts["lep"].sum())
    lp = _jagged(rng, counts["lep"], 10, 25, 1.2, 2.47, np.where(lep_type == 11, 0.000511, 0.10566))
    nl = len(lp["pt"])
    b.update(lep_type=lep_type, lep_charge=rng.choice([-1, 1], nl), lep_isTightID=rng.random(nl) < 0.9,
             lep_truthMatched=(rng.random(nl) < 0.95) & is_mc, lep_trigMatched=rng.random(nl) < 0.3,
             lep_z0=rng.normal(0, 0.3, nl), lep_trackd0pvunbiased=rng.normal(0, 0.02, nl),
             lep_tracksigd0pvunbiased=np.abs(rng.normal(0, 1.2, nl)),
             lep_ptcone30=lp["pt"] * rng.exponential(0.02, nl) * GEV,
             lep_etcone20=lp["pt"] * rng.normal(0.01, 0.03, nl) * GEV,
             lep_pt_syst=_syst(rng, lp["pt"] * GEV, 0.01))
    t = _jagged(rng, counts["tau"], 25, 20, 1.2, 2.5, 1.777)
    nt = len(t["pt"])
    b.update(tau_isTightID=rng.random(nt) < 0.5, tau_truthMatched=(rng.random(nt) < 0.5) & is_mc,
             tau_trigMatched=np.zeros(nt, bool), tau_nTracks=rng.choice([1, 3], nt),
             tau_BDTid=rng.uniform(0.3, 1, nt), tau_charge=rng.choice([-1, 1], nt),
             tau_pt_syst=_syst(rng, t["pt"] * GEV, 0.03))
    r = _jagged(rng, counts["largeRjet"], 250, 80, 1.2, 2.0, rng.uniform(30, 150, counts["largeRjet"].sum()))
    nr = len(r["pt"])
    b.update(largeRjet_m=np.sqrt(np.maximum(r["E"] ** 2 - (r["pt"] * np.cosh(r["eta"])) ** 2, 0)) * GEV,
             largeRjet_truthMatched=(rng.random(nr) < 0.5).astype(int) * is_mc,
             largeRjet_D2=rng.uniform(0.5, 3, nr), largeRjet_tau32=rng.uniform(0.3, 0.9, nr),
             largeRjet_pt_syst=_syst(rng, r["pt"] * GEV, 0.02))
    for obj, kin in (("jet", j), ("lep", lp), ("tau", t), ("largeRjet", r)):
        b[f"{obj}_n"] = counts[obj]
        b.update({f"{obj}_{v}": kin[v] * (GEV if v in ("pt", "E") else 1) for v in kin})
    met = rng.gamma(2.0, met_mean / 2, n)
    b.update(met_et=met * GEV, met_phi=rng.uniform(-np.pi, np.pi, n),
             met_et_syst=_syst(rng, met * GEV, 0.05), ditau_m=np.zeros(n))
    owner = np.repeat(np.arange(n), counts["lep"])
    has = lambda flavour: np.bincount(owner[lep_type == flavour], minlength=n) > 0  # noqa: E731
    b["trigE"] = (has(11) & (rng.random(n) < 0.6)) | (rng.random(n) < 0.01)
    b["trigM"] = (has(13) & (rng.random(n) < 0.6)) | (rng.random(n) < 0.005)
    return b


def _photon_branches(rng, ph, is_mc):
    """Photon branches (MeV, flat in event order) from (n, 3) arrays and photon_n."""
    n = len(ph["nph"])
    mask = np.arange(3) < ph["nph"][:, None]
    pt = ph["pt"] * GEV
    ptc, etc = photons.isolation(rng, pt, ph["iso"], ph["tight"], mask)
    ctype = ph["conv"]
    trig = (np.arange(3) < 2) & ph["trig"][:, None] & (rng.random((n, 3)) < 0.95)
    cols = dict(pt=pt, eta=ph["eta"], phi=ph["phi"], E=pt * np.cosh(ph["eta"]),
                isTightID=ph["tight"], ptcone30=ptc, etcone20=etc, convType=ctype, trigMatched=trig,
                truthMatched=(rng.random((n, 3)) < 0.97) & is_mc,
                pt_syst=_syst(rng, pt, 0.005))
    out = {f"photon_{k}": v[mask] for k, v in cols.items()}
    out["photon_n"] = ph["nph"]
    return out


def _data_file(rng, period, scale):
    """Branch arrays of one data period."""
    mu = scale * PERIOD_LUMI[period] / 10.0
    parts = []
    for name in list(POPULATIONS) + ["higgs"]:
        per_10fb = HIGGS_IN_DATA if name == "higgs" else sum(s[3] for s in _segments(*POPULATIONS[name][:2]))
        parts.append(_data_population(rng, name, rng.poisson(per_10fb * mu)))
    ph = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    n = len(ph["nph"])
    lo, hi = PERIOD_RUNS[period]
    runs = np.unique(np.append(lo, rng.integers(lo, hi + 1, 15)))
    run = rng.choice(runs, n)
    event = rng.integers(1, 2**31 - 1, n)
    order = np.lexsort((event, run))             # files run in run order; shuffles the populations
    ph = {k: v[order] for k, v in ph.items()}
    b = _photon_branches(rng, ph, False)
    b.update(_objects(rng, n, (0.8, 0), (0.025, 0.005), 22, False))
    b.update(runNumber=run[order], eventNumber=event[order], channelNumber=run[order], trigP=ph["trig"])
    # not filled in data: the official code forces weight 1 (§4.8)
    weights = ["mcWeight", "XSection", "SumWeights"] + [x for x, _ in branches() if x.startswith("scaleFactor")]
    b.update({name: np.zeros(n) for name in weights})
    return b


def _mc_file(rng, dsid, scale):
    """Branch arrays of one Higgs MC sample; SumWeights is the sum over the notional full sample / scale."""
    entries, kind, jets, leps, met, reco = MC_MODES[dsid]
    n = max(int(round(entries * scale)), 200)
    kept, sumw, have = [], 0.0, 0
    while have < n:     # draw the notional full sample in batches until n events survive the skim
        w = MC_WEIGHT[dsid] * rng.normal(1, 0.02, 2 * n)
        kin = _diphoton(rng, np.full(2 * n, M_H), kind)
        conv = _resolved(rng, kin)                               # reconstructed: the skim sees the smeared pT
        # skim: two reconstructed photons, |η|<2.5, pT > 35 and 20 GeV [EST, §1.3]
        keep = (kin[0, 0] > 35) & (kin[0, 1] > 20) & (np.abs(kin[1]) < 2.5).all(0)
        keep &= rng.random(2 * n) < reco
        last = np.flatnonzero(keep)[n - have - 1] + 1 if keep.sum() >= n - have else 2 * n
        sumw += w[:last].sum()
        keep[last:] = False
        kept.append((w[keep], kin[:, :, keep], conv[:, keep]))
        have += keep.sum()
    w = np.concatenate([k[0] for k in kept])
    ph = _diphoton_with_third(rng, np.concatenate([k[1] for k in kept], 2), p_third=0.03,
                              conv=np.concatenate([k[2] for k in kept], 1))
    # true photons: tight ≈ 87 %, isolated ≈ 91 %, trigger ≈ 97 % (§4.5 [EST])
    third = np.arange(3) == 2
    ph.update(tight=(rng.random((n, 3)) < 0.87) & ~(third & (ph["pt"] >= 25)),
              iso=rng.random((n, 3)) < 0.91, trig=rng.random(n) < 0.97)
    b = _photon_branches(rng, ph, True)
    b.update(_objects(rng, n, jets, leps, met, True, kind == "ttH"))
    sf = lambda width: rng.normal(1, width, n)                         # noqa: E731
    b.update(runNumber=np.full(n, MC_RUN), channelNumber=np.full(n, dsid), trigP=ph["trig"],
             eventNumber=np.cumsum(rng.integers(1, 50, n)) + 1000 * dsid % 10**8, mcWeight=w,
             scaleFactor_PILEUP=sf(0.05), scaleFactor_PHOTON=sf(0.03), scaleFactor_PhotonTRIGGER=sf(0.01),
             scaleFactor_ELE=np.ones(n), scaleFactor_MUON=np.ones(n), scaleFactor_TAU=np.ones(n),
             scaleFactor_BTAG=sf(0.01), scaleFactor_LepTRIGGER=np.ones(n),
             XSection=np.full(n, XSECTION[dsid]), SumWeights=np.full(n, sumw / scale))
    return b


def generate(out_dir, scale=1.0, seed=20200122, progress=None) -> dict:
    """Write the four data and five MC files under out_dir/GamGam; return {relative path: entries}."""
    from hepmini import layout

    rules = layout.rules()
    out_dir = Path(out_dir)
    streams = np.random.SeedSequence(seed).spawn(len(rules.ALL_FILES))   # one independent stream per file
    written = {}
    makers = [(_data_file, period) for period in PERIOD_LUMI] + [(_mc_file, d) for d, _ in rules.MC_SAMPLES]
    for rel, stream, (make, what) in zip(rules.ALL_FILES, streams, makers):
        start = time.perf_counter()
        arrays = make(np.random.default_rng(stream), what, scale)
        path = out_dir / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        write_tree(path, arrays)
        written[rel] = len(arrays["runNumber"])
        if progress:
            progress(f"{rel}: {written[rel]} entries, {path.stat().st_size / 1e6:.1f} MB, "
                     f"{time.perf_counter() - start:.1f} s")
    return written
