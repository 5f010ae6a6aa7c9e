"""The supervisor-coder agent of paper Fig. 1: its loop, its trials, and the `agent` and `all --model` commands.

One trial: the supervisor turns the step's task into a worker prompt and a call record; the coder
answers with exactly one ```python block (anything else is a format error, fed back to it and
counted); the code runs in the sandbox (hepmini.agent.sandbox) with the trial dir as cwd; the supervisor
reviews the exit code, the truncated output and which expected outputs exist, and answers
`VERDICT: ACCEPT` or `VERDICT: REVISE` with new instructions. At most `max_iterations` coder rounds
(default 3, so at most 7 API calls). The loop ends by an exception that names why (`stop`), as in
mini-swe-agent; limits on tokens, cost and wall time end it too. Then the outputs are validated
against the reference and the trial gets its status:

    success         the supervisor accepted and the outputs validate
    failed          validation failed, the supervisor never accepted, or a limit was reached
    format_error    the last coder reply had no usable ```python block
    infrastructure  a provider call failed after its retries, or the sandbox could not start:
                    not the model's fault, kept out of success rates
    tampered        the code changed a protected file or left an output linking outside its trial

Provider clients come from hepmini.llm (`provider:model`); `scripted:oracle` and `scripted:faults`
are the offline stand-ins of hepmini.agent.standins, labelled as such everywhere.
"""

import dataclasses
import re

from hepmini.agent import prompts
from hepmini.agent.record import OUTPUTS, Trial, protected
from hepmini.layout import PACKAGE_DIR
from hepmini.agent.sandbox import Limits, run_python
from hepmini.errors import ProviderError, SandboxError

ASK = "Reply with exactly one fenced code block that starts with ```python and holds the whole script."
FENCE = re.compile(r"^```[ \t]*([\w+.-]*)[^\n]*\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)
PYTHON_TAGS = ("python", "py", "python3")
VERDICT = re.compile(r"^\W*VERDICT\W*(ACCEPT|REVISE)\b", re.IGNORECASE | re.MULTILINE)
WORKER = re.compile(r"^\W*Worker Prompt\W*$(.*?)(?=^\W*Call record\W*$|\Z)", re.IGNORECASE | re.MULTILINE | re.DOTALL)


class Interrupt(Exception):
    """Ends a trial's loop; `stop` names why (the trial's exit status)."""

    stop = "interrupted"


class Accepted(Interrupt):
    """The supervisor accepted the result."""

    stop = "accepted"


class GaveUp(Interrupt):
    """Every iteration was used and the supervisor accepted none."""

    stop = "max_iterations"


class FormatErrors(Interrupt):
    """The iterations ran out on a coder reply that was not exactly one python block."""

    stop = "format_error"


class Tampered(Interrupt):
    """The generated code changed a protected file."""

    stop = "tampered"


class LimitsExceeded(Interrupt):
    """A token, cost or wall-time limit of the trial was reached."""

    def __init__(self, stop: str, message: str):
        super().__init__(message)
        self.stop = stop


class FormatError(Exception):
    """A coder reply is not exactly one ```python block; the message is fed back to the coder."""



@dataclasses.dataclass(frozen=True)
class Settings:
    """How a trial runs: the models, the sampling parameters sent, and its limits (0 = none)."""

    supervisor: str
    coder: str
    max_iterations: int = 3
    token_limit: int = 0
    cost_limit: float = 0.0
    time_limit: float = 3600.0          # seconds per trial, calls and executions included
    exec_timeout: float = 600.0         # seconds per execution of the generated code
    temperature: float = 0.0            # as in the paper
    max_output_tokens: int = 16384
    fault_seed: int = 0                 # scripted:faults picks its fault from fault_seed + trial - 1

    def params(self) -> dict:
        return {"temperature": self.temperature, "max_tokens": self.max_output_tokens}


# ---- the loop ------------------------------------------------------------------------------------


def loop(t: Trial, supervisor, coder, s: Settings) -> None:
    """Paper Fig. 1: supervise, code, run, review, until accepted or out of iterations; records the end."""
    try:
        sup = [_msg("system", prompts.render("supervisor_system")), _msg("user", t.task)]
        instructions = instruct(t, call(t, supervisor, "supervisor", 0, sup, s).text, t.task)
        coder_msgs, code = None, None
        for attempt in range(1, s.max_iterations + 1):
            t.iteration = attempt
            coder_msgs = coder_msgs or [_msg("system", prompts.render("coder_system")), _msg("user", instructions)]
            reply = call(t, coder, "coder", attempt, coder_msgs, s)
            try:
                code = extract_code(reply)
            except FormatError as exc:  # fed back to the coder: the next iteration is its retry
                t.record_format_error(attempt, str(exc), reply.text)
                coder_msgs.append(_msg("user", str(exc)))
                code = None
                continue
            result = execute(t, attempt, code, s)
            sup.append(_msg("user", review_prompt(t, attempt, s, instructions, code, result)))
            instructions = review(t, attempt, call(t, supervisor, "supervisor", attempt, sup, s).text, instructions)
            coder_msgs = None  # new instructions: a fresh coder conversation
        raise (GaveUp(f"no result accepted in {s.max_iterations} iteration(s)") if code is not None else
               FormatErrors(f"the last reply had no usable code block ({len(t.format_errors)} format error(s))"))
    except Interrupt as exc:
        t.end_loop(exc.stop, str(exc))
    except (ProviderError, SandboxError) as exc:  # not the model's fault: kept out of success rates
        t.end_loop("infrastructure", f"{exc.kind}: {exc}", error=exc.record())


def call(t: Trial, client, role: str, attempt: int, messages: list, s: Settings):
    """One API call after the limit checks; the reply is recorded and appended to `messages`."""
    check_limits(t, s)
    t.before_call(role, attempt)
    try:
        reply = client.complete(messages, s.params())
    except ProviderError as exc:
        t.record_call_error(role, attempt, exc)
        raise
    t.record_call(role, attempt, messages, reply)
    messages.append(_msg("assistant", reply.text or "(empty reply)"))  # some APIs refuse empty turns
    return reply


def check_limits(t: Trial, s: Settings) -> None:
    """Raise LimitsExceeded when a limit is used up (checked before every call and run)."""
    if 0 < s.time_limit <= t.elapsed():
        raise LimitsExceeded("time_limit", f"the trial ran {t.elapsed():.1f} s, limit {s.time_limit:g} s")
    tokens = t.tokens()["total"]
    if 0 < s.token_limit <= tokens:
        raise LimitsExceeded("token_limit", f"{tokens} tokens used, limit {s.token_limit}")
    cost = t.cost()["known_part"]  # calls of unknown price cannot count: noted in the result
    if 0 < s.cost_limit <= cost:
        raise LimitsExceeded("cost_limit", f"${cost:.4f} spent, limit ${s.cost_limit:g}")


def extract_code(reply) -> str:
    r"""The one ```python block of a coder reply; anything else raises FormatError.

    >>> from hepmini.llm.base import Reply, Usage
    >>> extract_code(Reply("Here:\n```python\nprint(42)\n```\n", Usage(), "stop", "m"))
    'print(42)\n'
    """
    text, cut = reply.text or "", reply.finish_reason == "length"
    if not text.strip():
        raise FormatError(f"Format error: your reply was empty{' (cut at the output token limit)' if cut else ''}. "
                          + ASK)
    blocks = FENCE.findall(text)
    if not blocks:
        raise FormatError("Format error: your reply has no complete fenced code block"
                          f"{' (it was cut at the output token limit)' if cut else ''}. " + ASK)
    if len(blocks) > 1:
        raise FormatError(f"Format error: your reply has {len(blocks)} code blocks; exactly one is allowed. " + ASK)
    tag, code = blocks[0]
    if tag.lower() not in PYTHON_TAGS:
        raise FormatError(f"Format error: the code block is marked {tag or 'with no language'}, not python. " + ASK)
    if not code.strip():
        raise FormatError("Format error: the python block is empty. " + ASK)
    return code


def instruct(t: Trial, text: str, fallback: str, slip: str = "") -> str:
    """The worker prompt of a supervisor reply ("## Worker Prompt ... ## Call record:"); slips are counted."""
    match = WORKER.search(text)
    found = bool(match and match.group(1).strip())
    if slip or not found:
        t.supervisor_format_errors += 1
        t.notes.append(slip or "a supervisor reply had no '## Worker Prompt' section: the whole reply was used")
    return match.group(1).strip() if found else VERDICT.sub("", text).strip() or fallback


def review(t: Trial, attempt: int, text: str, previous: str) -> str:
    """The supervisor's verdict: raise Accepted, or return the revised instructions."""
    match = VERDICT.search(text)
    if match and match.group(1).upper() == "ACCEPT":
        t.record_verdict(attempt, True, text)
        raise Accepted("the supervisor accepted the result")
    slip = "" if match else "a review had no VERDICT line: read as REVISE"
    t.record_verdict(attempt, False, text, slip)
    return instruct(t, text, previous, slip)


def execute(t: Trial, attempt: int, code: str, s: Settings):
    """Write the code into generated_code/ and run it in the sandbox; tampering ends the trial."""
    check_limits(t, s)
    wall = min(s.exec_timeout, s.time_limit - t.elapsed()) if s.time_limit > 0 else s.exec_timeout
    script = t.dir / "generated_code" / f"{t.step.NAME}_{t.step.TITLE}_attempt{attempt}.py"
    script.write_text(code, encoding="utf-8")
    t.record_code(attempt, code, script)
    t.before_execution(attempt, script)
    result = run_python(script, t.dir, limits=Limits(wall_seconds=wall), passthrough_env=t.cfg.passthrough_env,
                        pythonpath=[PACKAGE_DIR.parent], protect=protected(t), hide=t.hide)
    t.record_execution(attempt, script, result)
    if result.tampered:
        raise Tampered(f"protected files changed: {', '.join(result.tampered)}")
    if result.timed_out and wall < s.exec_timeout:
        raise LimitsExceeded("time_limit", f"the trial's time (limit {s.time_limit:g} s) ran out during a run")
    return result


def review_prompt(t: Trial, attempt: int, s: Settings, instructions: str, code: str, result) -> str:
    """What the supervisor sees of a run: exit code, output head and tail, which outputs exist."""
    files = []
    for rel in t.step.OUTPUTS:
        path = t.dir / OUTPUTS / rel
        state = ("a symbolic link (not accepted)" if path.is_symlink() else
                 f"exists ({path.stat().st_size} bytes)" if path.is_file() else "MISSING")
        files.append(f"- {OUTPUTS}/{rel}: {state}")
    killed = f" (killed: {result.killed_reason})" if result.killed_reason else ""
    output = f"--- stdout ---\n{result.stdout_tail.rstrip()}\n--- stderr ---\n{result.stderr_tail.rstrip()}"
    return prompts.render("supervisor_review", attempt=str(attempt), max_attempts=str(s.max_iterations),
                          task=t.task, instructions=instructions, code=code.rstrip(),
                          exit_code=f"{result.returncode}{killed}", output=output, output_files="\n".join(files))



def _msg(role: str, content: str) -> dict:
    return {"role": role, "content": content}


# ---- trials ----------------------------------------------------------------------------------------



# ---- command line --------------------------------------------------------------------------------------
