"""Step 2: convert the needed branches of every ROOT file into one fixed-column numpy array."""

from . import rules

NAME = "step2"
TITLE = "ntuples"
SCRIPT = "step2_ntuples.py"
PROMPT = "step2_ntuples.txt"
DEPENDS = []
READS_DATA = True
INPUTS = []
OUTPUTS = list(rules.NTUPLES)
VALIDATE = {path: "npy" for path in rules.NTUPLES}
CODE = ["data/rootio.py"]
TOOLS = []
PARAMS = []
