"""Step 1: inspect the ROOT files and summarise their trees, entries and branches."""

from . import rules

NAME = "step1"
TITLE = "inspect"
SCRIPT = "step1_inspect.py"
PROMPT = "step1_inspect.txt"
DEPENDS = []
READS_DATA = True
INPUTS = []
OUTPUTS = [rules.SUMMARY_JSON, rules.SUMMARY_TXT]
VALIDATE = {rules.SUMMARY_JSON: "summary"}
CODE = ["data/rootio.py"]
TOOLS = []
PARAMS = []
