"""The two protocols of the paper, as data: which tasks an agent is given, and how many repair rounds it gets.

paper     §V.2: the five steps, each its own task (step1..step5), 3 repair rounds (at most 7 API calls).
baseline  §V.1 (the 219-trial Gemini baseline): three composite tasks, 5 repair rounds: data preparation
          (ROOT inspection, ntuple conversion and preprocessing as one task), S-B separation, categorization.
A composite task is built from the step declarations it covers, so it answers like a step module
(NAME, TITLE, PROMPT, INPUTS, OUTPUTS, VALIDATE, ...): its inputs are those its own steps do not make,
its outputs and its validated files are all of theirs, and its prompt template wraps theirs.
"""

import types

from . import STEPS

PROTOCOLS = ("paper", "baseline")
MAX_ITERATIONS = {"paper": 3, "baseline": 5}
_BASELINE = [  # (name, title, steps it covers, prompt template)
    ("dataprep", "data preparation", ("step1", "step2", "step3"), "baseline_dataprep.txt"),
    ("sbsep", "S-B separation", ("step4",), "baseline_sbsep.txt"),
    ("categorization", "categorization", ("step5",), "baseline_categorization.txt"),
]


def composite(name: str, title: str, covers, prompt: str):
    """A task made of consecutive steps, with the fields of a step module."""
    steps = [s for s in STEPS if s.NAME in covers]
    made = {rel for s in steps for rel in s.OUTPUTS}
    return types.SimpleNamespace(
        NAME=name, TITLE=title, PROMPT=prompt, STEPS=[s.NAME for s in steps], SCRIPT=None,
        DEPENDS=sorted({d for s in steps for d in s.DEPENDS if d not in covers}),
        READS_DATA=any(s.READS_DATA for s in steps),
        INPUTS=[rel for s in steps for rel in s.INPUTS if rel not in made],
        OUTPUTS=[rel for s in steps for rel in s.OUTPUTS],
        VALIDATE={rel: kind for s in steps for rel, kind in s.VALIDATE.items()},
        CODE=sorted({c for s in steps for c in s.CODE}), TOOLS=[t for s in steps for t in s.TOOLS],
        PARAMS=sorted({p for s in steps for p in s.PARAMS}))


def tasks(protocol: str) -> list:
    """The tasks of `protocol`, in order."""
    if protocol == "paper":
        return list(STEPS)
    if protocol == "baseline":
        return [composite(*entry) for entry in _BASELINE]
    raise ValueError(protocol)
