"""Step 4: score every signal and background event with a classifier that did not train on it."""

from . import rules

NAME = "step4"
TITLE = "classify"
SCRIPT = "step4_classify.py"
PROMPT = "step4_classify.txt"
DEPENDS = ["step3"]
READS_DATA = False
INPUTS = [rules.SIGNAL_ARRAY, rules.BKGD_ARRAY]
OUTPUTS = [rules.SIGNAL_SCORES, rules.BKGD_SCORES, rules.CLASSIFIER_INFO]
VALIDATE = {rules.SIGNAL_SCORES: "npy", rules.BKGD_SCORES: "npy"}
CODE = ["analysis/scoring.py", "tools.py"]
TOOLS = ["train_and_score"]
PARAMS = ["classifier", "tabpfn_model", "tabpfn_estimators", "classifier_max_train", "classifier_folds"]
