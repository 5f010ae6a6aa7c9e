"""The analysis rules, written once: the reference scripts use them and the task prompts quote them."""

# ---- samples (ATLAS Open Data 2020, 13 TeV, GamGam collection) ---------------------------------
TREE = "mini"
DATA_FILES = [f"GamGam/Data/data_{p}.GamGam.root" for p in "ABCD"]
MC_SAMPLES = [  # (DSID, short name); files GamGam/MC/mc_<DSID>.<name>.GamGam.root
    (343981, "ggH125_gamgam"),
    (345041, "VBFH125_gamgam"),
    (345318, "WpH125J_Wincl_gamgam"),
    (345319, "ZH125J_Zincl_gamgam"),
    (341081, "ttH125_gamgam"),
]
MC_FILES = [f"GamGam/MC/mc_{dsid}.{name}.GamGam.root" for dsid, name in MC_SAMPLES]
ALL_FILES = DATA_FILES + MC_FILES


def sample_name(root_file: str) -> str:
    """Ntuple name of a ROOT file: its base name without `.GamGam.root` (e.g. `data_A`)."""
    base = root_file.rsplit("/", 1)[-1]
    return base[: -len(".GamGam.root")]


SAMPLES = [sample_name(f) for f in ALL_FILES]
DATA_SAMPLES = [sample_name(f) for f in DATA_FILES]
MC_SAMPLE_NAMES = [sample_name(f) for f in MC_FILES]

# The 81 branches of tree `mini`, in file order, with their type: I int32, U uint32, F float32, O bool;
# a "v" prefix is a vector of it (atlas_gamgam.md §3).
_ROOT_BRANCHES = """runNumber:I eventNumber:I channelNumber:I mcWeight:F scaleFactor_PILEUP:F
scaleFactor_ELE:F scaleFactor_MUON:F scaleFactor_PHOTON:F scaleFactor_TAU:F scaleFactor_BTAG:F
scaleFactor_LepTRIGGER:F scaleFactor_PhotonTRIGGER:F trigE:O trigM:O trigP:O lep_n:U
lep_truthMatched:vO lep_trigMatched:vO lep_pt:vF lep_eta:vF lep_phi:vF lep_E:vF lep_z0:vF
lep_charge:vI lep_type:vU lep_isTightID:vO lep_ptcone30:vF lep_etcone20:vF
lep_trackd0pvunbiased:vF lep_tracksigd0pvunbiased:vF met_et:F met_phi:F jet_n:U jet_pt:vF
jet_eta:vF jet_phi:vF jet_E:vF jet_jvt:vF jet_trueflav:vI jet_truthMatched:vO jet_MV2c10:vF
photon_n:U photon_truthMatched:vO photon_trigMatched:vO photon_pt:vF photon_eta:vF photon_phi:vF
photon_E:vF photon_isTightID:vO photon_ptcone30:vF photon_etcone20:vF photon_convType:vI tau_n:U
tau_pt:vF tau_eta:vF tau_phi:vF tau_E:vF tau_isTightID:vO tau_truthMatched:vO tau_trigMatched:vO
tau_nTracks:vI tau_BDTid:vF ditau_m:F lep_pt_syst:vF met_et_syst:F jet_pt_syst:vF
photon_pt_syst:vF tau_pt_syst:vF XSection:F SumWeights:F largeRjet_n:U largeRjet_pt:vF
largeRjet_eta:vF largeRjet_phi:vF largeRjet_E:vF largeRjet_m:vF largeRjet_truthMatched:vI
largeRjet_D2:vF largeRjet_tau32:vF largeRjet_pt_syst:vF tau_charge:vI"""
ROOT_BRANCHES = [tuple(item.split(":")) for item in _ROOT_BRANCHES.split()]

# ---- step 1: inspection --------------------------------------------------------------------------
SUMMARY_JSON = "inspect/summary.json"
SUMMARY_TXT = "inspect/summary.txt"

# ---- step 2: ntuple columns (units GeV; NaN where the object is absent) -------------------------
N_PHOTONS, N_LEPTONS, N_JETS = 2, 2, 6
MEV_TO_GEV = 0.001


def _kinematics(prefix: str, count: int) -> list:
    return [f"{prefix}{i}_{v}" for i in range(1, count + 1) for v in ("pt", "eta", "phi")]


NTUPLE_COLUMNS = (
    _kinematics("photon", N_PHOTONS)          # photon_pt/eta/phi[0..1]
    + _kinematics("lep", N_LEPTONS)           # lep_pt/eta/phi[0..1]
    + _kinematics("jet", N_JETS)              # jet_pt/eta/phi[0..5]
    + ["met_et", "met_phi",                   # met_et, met_phi
       "mcWeight",                            # mcWeight (as stored; not converted)
       "scaleFactor_PHOTON", "scaleFactor_PhotonTRIGGER", "scaleFactor_PILEUP",
       "XSection", "SumWeights",              # as stored (pb, generated sum of weights)
       "photon1_isTightID", "photon2_isTightID",   # 1.0 / 0.0
       "photon1_ptcone30", "photon2_ptcone30",     # GeV
       "photon1_etcone20", "photon2_etcone20",     # GeV
       "trigP",                               # 1.0 / 0.0
       "photon_n"]                            # number of stored photons
)
# Which columns are energies/momenta in MeV in the ROOT files (converted to GeV by x 0.001).
GEV_COLUMNS = [c for c in NTUPLE_COLUMNS
               if c.endswith("_pt") or c in ("met_et",) or "cone" in c]
NTUPLE_DTYPE = "float64"


def _source(column: str) -> tuple:
    """(column, ROOT branch, vector index or None): photon1_pt -> photon_pt[0], met_et -> met_et."""
    head, _, var = column.partition("_")
    obj = head.rstrip("0123456789")
    if obj in ("photon", "lep", "jet") and head != obj:
        return column, f"{obj}_{var}", int(head[len(obj):]) - 1
    return column, column, None


NTUPLE_SOURCES = [_source(c) for c in NTUPLE_COLUMNS]  # read by the reference, quoted by the prompt


def ntuple_path(sample: str) -> str:
    """Relative path of a sample's ntuple."""
    return f"ntuples/{sample}.npy"


NTUPLES = [ntuple_path(s) for s in SAMPLES]

# ---- step 3: selection, TI/NTI, weights, background estimate ------------------------------------
LUMI_PB = 10064.0                 # integrated luminosity, pb^-1 (10.064 fb^-1)
PHOTON_PT_MIN = 25.0              # GeV, both photons
PHOTON_ETA_MAX = 2.37             # |eta| < 2.37
CRACK_ETA = (1.37, 1.52)          # excluded: 1.37 <= |eta| <= 1.52
PT1_OVER_M_MIN = 0.35             # leading photon pT / m_yy >
PT2_OVER_M_MIN = 0.25             # subleading photon pT / m_yy >
MASS_RANGE = (105.0, 160.0)       # 105 < m_yy < 160 GeV
ISOLATION_MAX = 0.065             # ptcone30/pT < 0.065 and etcone20/pT < 0.065, both photons
SIGNAL_WINDOW = (123.0, 127.0)    # 123 < m_yy < 127 GeV (125 +- 2)
SIDEBANDS = ((105.0, 120.0), (130.0, 160.0))  # 105 < m < 120 or 130 < m < 160 GeV
SIGNAL_SF_COLUMNS = ("scaleFactor_PHOTON", "scaleFactor_PhotonTRIGGER", "scaleFactor_PILEUP")

ARRAY_COLUMNS = ["m_yy", "pt1_over_m", "eta1", "pt2_over_m", "eta2", "dphi", "weight"]
FEATURE_COLUMNS = ["pt1_over_m", "eta1", "pt2_over_m", "eta2", "dphi"]  # classifier inputs
SIGNAL_ARRAY = "arrays/signal.npy"
BKGD_ARRAY = "arrays/bkgd.npy"
BKGD_ESTIMATE = "arrays/bkgd_estimate.json"
BKGD_ESTIMATE_KEYS = ["TI_sideband_yield", "NTI_sideband_yield", "NTI_window_yield",
                      "SF1", "SF2", "expected_background", "signal_yield"]

# ---- step 4: classifier ----------------------------------------------------------------------------
SIGNAL_SCORES = "arrays/signal_scores.npy"
BKGD_SCORES = "arrays/bkgd_scores.npy"
CLASSIFIER_INFO = "arrays/classifier.json"

# ---- step 5: categorization ------------------------------------------------------------------------
NUM_BINS = 1000                   # candidate boundaries on a grid of 1000 bins in [0, 1]
MIN_EVENTS = 10                   # every category keeps >= 10 signal and >= 10 background MC/data events
IMPROVEMENT_MIN = 0.05            # stop once the last boundary improved Z by less than 5 % (keep it)
BOUNDARIES = "arrays/boundaries.npy"
SIGNIFICANCES = "arrays/significances.npy"
