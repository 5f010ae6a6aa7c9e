"""The numbers the synthetic GamGam files are made from: samples, cross sections, populations, photon response.

Sources are the sections of ../shared/reference/atlas_gamgam.md (cited as §); [EST] marks an estimate.
What these numbers reproduce, and what they do not, is said in hepmini/data/synth.py.
"""

GEV = 1000.0             # the files are in MeV

# ---- samples ------------------------------------------------------------------------------------
PERIOD_LUMI = {"A": 0.5, "B": 1.9, "C": 2.9, "D": 4.7}   # fb⁻¹ per data file (§2.2); sum 10
PERIOD_RUNS = {"A": (297730, 300287), "B": (300345, 300908),  # [EST] 2016 run ranges; A starts
               "C": (301912, 302393), "D": (302737, 303560)}  # at 297730 as the real data_A (§1.2)
MC_RUN = 284500                                               # [EST] mc16a run number (§4.8)
# XSection (pb, σ×BR) and mcWeight ≈ pre-BR σ in pb (§2.3). ttH keeps the official value, which has
# BR(γγ) multiplied in twice (≈440× too small): fidelity to the real files, and a trap for agents.
XSECTION = {343981: 0.102, 345041: 0.008518764, 345318: 0.0019654512, 345319: 0.0017347836,
            341081: 0.0000026433864}
MC_WEIGHT = {343981: 28.30, 345041: 3.737, 345318: 0.8621, 345319: 0.7609, 341081: 0.5234}
# Per mode [EST, §4.6-4.7]: entries at scale 1 (≳20k selected ggH in 123-127 GeV), diphoton kinematics
# (DIPHOTON), jets (Poisson mean, minimum), leptons (P(1), P(2)), mean MET (GeV) and a reconstruction
# efficiency tuned so the weighted selected yields are ≈347/30/6/5 (§4.4; sum 388 with ttH ≈ 0).
MC_MODES = {343981: (80000, "ggH", (0.8, 0), (0.005, 0.001), 20, 0.936),
            345041: (24000, "VBF", (0.6, 2), (0.005, 0.001), 22, 0.958),
            345318: (10000, "VH", (1.2, 0), (0.25, 0.02), 45, 0.800),
            345319: (10000, "VH", (1.2, 0), (0.05, 0.07), 40, 0.752),
            341081: (10000, "ttH", (2.0, 3), (0.30, 0.05), 50, 0.9)}
# mean pT_γγ (GeV), rapidity width, forward-peaked decay angle (continuum) or isotropic (Higgs) [EST]
DIPHOTON = {"bkg": (20.0, 1.45, True), "fake": (24.0, 1.6, True), "ggH": (30.0, 1.2, False),
            "VBF": (55.0, 1.1, False), "VH": (50.0, 1.0, False), "ttH": (80.0, 0.9, False)}

# ---- data populations (§4.1-4.3, §4.5 [EST]) ----------------------------------------------------
# name: (N_range, k_all, N_pass, k_pass, kinematics) per 10 fb⁻¹. N_range events lie in 105-160 GeV
# with density ∝ exp(-k_all x), x = m - 105; N_pass of them also pass the pT/m cuts, with density
# ∝ exp(-k_pass x) (None: left to the kinematics). Below 105 GeV the density rises as exp(k_all·|x|)
# to 80 GeV, then falls linearly to 0 at 40 GeV; above 160 it falls as exp(-0.0170 (m-160)). For TI
# this gives the 218.7k / 94.9k / 49.4k steps-1-4 events below / in / above 105-160 GeV of §4.1.
POPULATIONS = {
    "ti": (94862, 0.02374, 76394, 0.03105, "bkg"),      # passes steps 1-4 (§4.2, §4.3 fits)
    "nti": (151779, 0.0218, 122230, 0.0290, "fake"),    # ≥1 leading photon not tight, ×1.6 TI
    "noniso": (47431, 0.022, None, None, "fake"),       # both tight, ≥1 fails isolation
    "notrig": (37945, 0.023, None, None, "bkg"),        # trigP false
    "nonfid": (75890, 0.023, None, None, "bkg"),        # one photon in the crack, |η|>2.37 or pT<25
    "ti3": (1300, 0.023, None, None, "bkg"),            # three good photons: fails "exactly two"
}
HIGGS_IN_DATA = 388.0    # selected signal events per 10 fb⁻¹ (§4.4)
K_HIGH, M_MAX = 0.0170, 500.0

# ---- the Higgs peak and the photon response -----------------------------------------------------
M_H = 125.0
# A low-mass tail (§4.4: 2.5 % of the signal below 119.7 GeV): this fraction of events loses an
# exponentially distributed mass of this mean (GeV), on top of the resolution below.
TAIL_FRAC, TAIL_MEAN = 0.03, 3.0
# Photon energy resolution σ_E/E [EST] by |η| region (< 0.75, 0.75-1.37, 1.52-2.37) and conversion
# (unconverted, converted): the mass resolution is (m/2)·sqrt(r1² + r2²). Tuned so that a Gaussian fit
# with the mean fixed at 125 GeV on 30 bins of 105-160 GeV (the official fit, §3.3) gives σ ≈ 1.83 GeV for
# the central-unconverted category (both |η| < 0.75, convType 0), and so that the inclusive ggH shape follows
# the binned ggH spectrum of §4.4 (a narrower core, wider tails than one Gaussian of 2.4 GeV).
ETA_REGIONS = (0.75, 1.37)
RESOLUTION = ((0.0192, 0.0263), (0.0273, 0.0369), (0.0332, 0.0448))
# P(converted) in the barrel (|η| < 1.37) and the end-caps: ≈ 26 % of signal photons, more in the end-caps
# (§4.6: 25-35 %); conversion types 1-5 (the CPP header comment) with these probabilities [EST].
CONVERSION = (0.22, 0.45)
CONV_TYPES = ((1, 2, 3, 4, 5), (0.35, 0.1, 0.35, 0.05, 0.15))

# ---- isolation [EST] ------------------------------------------------------------------------------
ISO_CUT = 0.065          # ptcone30/pT and etcone20/pT of the standard selection (§3.2)
# ptcone30/pT: exactly 0 (no track in the cone) for this share of the photons that pass, else an
# exponential tail; etcone20/pT: a Gumbel (right-skewed, may be negative) of this width. Index 0: tight
# (mostly true) photons, 1: non-tight (mostly jet fakes, broader). Each shape is placed so that its
# cumulative at the cut equals the share of photons of that kind that pass: the histograms fall smoothly
# across 0.065 (no step) while every photon keeps the pass or fail its population gives it.
PTCONE_ZERO = (0.6, 0.6)
ETCONE_WIDTH = (0.02, 0.04)
