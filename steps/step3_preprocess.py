"""Step 3: select events, split TI/NTI, weight signal and background, estimate the background."""

from . import rules

NAME = "step3"
TITLE = "preprocess"
SCRIPT = "step3_preprocess.py"
PROMPT = "step3_preprocess.txt"
DEPENDS = ["step2"]
READS_DATA = False
INPUTS = list(rules.NTUPLES)
OUTPUTS = [rules.SIGNAL_ARRAY, rules.BKGD_ARRAY, rules.BKGD_ESTIMATE]
VALIDATE = {rules.SIGNAL_ARRAY: "npy", rules.BKGD_ARRAY: "npy", rules.BKGD_ESTIMATE: "json"}
CODE = ["analysis/physics.py"]
TOOLS = []
PARAMS = []
