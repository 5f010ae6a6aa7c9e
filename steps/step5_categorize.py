"""Step 5: place category boundaries on the score to maximise the expected significance."""

from . import rules

NAME = "step5"
TITLE = "categorize"
SCRIPT = "step5_categorize.py"
PROMPT = "step5_categorize.txt"
DEPENDS = ["step3", "step4"]
READS_DATA = False
INPUTS = [rules.SIGNAL_ARRAY, rules.BKGD_ARRAY, rules.SIGNAL_SCORES, rules.BKGD_SCORES]
OUTPUTS = [rules.BOUNDARIES, rules.SIGNIFICANCES]
VALIDATE = {rules.BOUNDARIES: "npy", rules.SIGNIFICANCES: "npy"}
CODE = ["analysis/physics.py", "tools.py"]
TOOLS = ["load_datasets", "get_significance", "place_boundary"]
PARAMS = []
