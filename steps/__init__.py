"""The five analysis steps, declared once: inputs, outputs, reference script, prompt, validation.

Each step module defines:
  NAME, TITLE      short id (step1..step5) and human name
  SCRIPT, PROMPT   file names in reference/ and prompts/
  DEPENDS          steps whose outputs it reads
  READS_DATA       True when it reads the ROOT files of the data directory
  INPUTS           paths (relative to the solution dir) it reads from upstream steps
  OUTPUTS          paths (relative to the solution dir) it must write
  VALIDATE         {output path: kind} compared by the validator (npy, json, summary)
  CODE             hepmini modules whose change makes the step stale
  TOOLS            hepmini.tools functions the task prompt quotes and the code must use
  PARAMS           Config fields passed to the script; a change makes the step stale
"""

from . import step1_inspect, step2_ntuples, step3_preprocess, step4_classify, step5_categorize

STEPS = [step1_inspect, step2_ntuples, step3_preprocess, step4_classify, step5_categorize]
