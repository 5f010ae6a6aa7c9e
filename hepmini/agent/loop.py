"""The supervisor-coder agent of paper Fig. 1: its loop, its trials, and the `agent` and `all --model` commands.

One trial: the supervisor turns the step's task into a worker prompt and a call record; the coder
answers with exactly one ```python block (anything else is a format error, fed back to it and
counted); the code runs in the sandbox (hepmini.agent.sandbox) on a fresh scratch as cwd; the supervisor
reviews the exit code, the truncated output and which expected outputs exist, and answers
`VERDICT: ACCEPT` or `VERDICT: REVISE` with new instructions. At most `max_iterations` coder rounds
(default 3, so at most 7 API calls). The loop ends by an exception that names why (`stop`), as in
mini-swe-agent; limits on tokens, cost and wall time end it too. Then the outputs are validated
against the reference and the trial gets its status:

    success         the supervisor accepted and the outputs validate
    failed          validation failed, the supervisor never accepted, or a limit was reached (tokens, cost,
                    time, or the model's context window once the model has spoken: its own conversation)
    format_error    the last coder reply had no usable ```python block
    infrastructure  a provider call failed after its retries (or the first prompt did not fit the model), or the
                    sandbox could not start:
                    not the model's fault, kept out of success rates
    tampered        the code changed a protected file or left an output linking outside its trial

Provider clients come from hepmini.llm (`provider:model`); `scripted:oracle` and `scripted:faults`
are the offline stand-ins of hepmini.agent.standins, labelled as such everywhere.
"""

import dataclasses

from hepmini.agent import prompts, workspace
from hepmini.agent.record import OUTPUTS, Trial
from hepmini.agent.replies import (FormatError, Refusal, call_record_files, check_refusal, extract_code, verdict,
                                   worker_prompt)
from hepmini.errors import ContextOverflow, ProviderError, SandboxError

SUPERVISOR_RETRIES = 2     # supervisor replies with no usable instructions fed back per turn, then the trial ends


class Interrupt(Exception):
    """Ends a trial's loop; `stop` names why (the trial's exit status)."""

    stop = "interrupted"
    error = None       # the error record that ended it, when one did (a context overflow)


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


class SupervisorFormat(Interrupt):
    """The supervisor gave no usable instructions, also after being told its format error."""

    stop = "format_error"


class Declined(Interrupt):
    """A model declined the request (a refusal or a content filter): the trial fails with reason refusal."""

    stop = "refusal"


class LimitsExceeded(Interrupt):
    """A token, cost, wall-time or context-window limit of the trial was reached."""

    def __init__(self, stop: str, message: str, error: dict = None):
        super().__init__(message)
        self.stop, self.error = stop, error



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
    protocol: str = "paper"             # paper (five steps) | baseline (three composite tasks), steps/protocols.py
    context: str = "paper"              # paper | rich: also the files, their contents, packages, the last error

    def params(self) -> dict:
        return {"temperature": self.temperature, "max_tokens": self.max_output_tokens}


# ---- the loop ------------------------------------------------------------------------------------


def loop(t: Trial, supervisor, coder, s: Settings, progress=None) -> None:
    """Paper Fig. 1: supervise, code, run, review, until accepted or out of iterations; records the end."""
    t.progress = progress
    try:
        extra = _context(t, s)
        sup = [_msg("system", prompts.render("supervisor_system")), _msg("user", _join(t.task, extra))]
        instructions = supervise(t, supervisor, 0, sup, s)
        coder_msgs, code, result = None, None, None
        for attempt in range(1, s.max_iterations + 1):
            t.iteration = attempt
            coder_msgs = coder_msgs or [_msg("system", prompts.render("coder_system")),
                                        _msg("user", _join(instructions, extra, _failure(s, result)))]
            reply = call(t, coder, "coder", attempt, coder_msgs, s)
            try:
                code = extract_code(reply)
            except FormatError as exc:  # fed back to the coder: the next iteration is its retry
                t.record_format_error(attempt, str(exc), reply.text)
                coder_msgs.append(_msg("user", str(exc)))
                code = None
                continue
            if t.progress:
                t.progress.run_started(attempt)
            result = execute(t, attempt, code, s)
            if t.progress:
                t.progress.run_ended(attempt, result)
            sup.append(_msg("user", review_prompt(t, attempt, s, instructions, code, result)))
            instructions = supervise(t, supervisor, attempt, sup, s)
            coder_msgs = None  # new instructions: a fresh coder conversation
        raise (GaveUp(f"no result accepted in {s.max_iterations} iteration(s)") if code is not None else
               FormatErrors(f"the last reply had no usable code block ({len(t.format_errors)} format error(s))"))
    except Interrupt as exc:
        t.end_loop(exc.stop, str(exc), error=exc.error)
    except Refusal as exc:
        t.end_loop("refusal", str(exc))
    except (ProviderError, SandboxError) as exc:  # not the model's fault: kept out of success rates
        t.end_loop("infrastructure", f"{exc.kind}: {exc}", error=exc.record())


def _context(t: Trial, s: Settings) -> str:
    """The rich execution context (--context rich), or "" (the paper's)."""
    if s.context != "rich":
        return ""
    from hepmini.agent import context

    return context.describe(t.step, t.dir, t.cfg.effective_data_dir, workspace.INPUTS, workspace.DATA)


def _failure(s: Settings, result) -> str:
    if s.context != "rich":
        return ""
    from hepmini.agent import context

    return context.failure(result)


def _join(*parts) -> str:
    return "\n\n".join(p for p in parts if p)


def supervise(t: Trial, supervisor, attempt: int, sup: list, s: Settings) -> str:
    """One supervisor turn: ACCEPT ends the loop, else its instructions; a reply with none goes back to it."""
    for retry in range(SUPERVISOR_RETRIES + 1):
        text = call(t, supervisor, "supervisor", attempt, sup, s).text
        try:
            said = verdict(text) if attempt else ""
            if said == "ACCEPT":
                t.record_verdict(attempt, True, text)
                raise Accepted("the supervisor accepted the result")
            if attempt:
                t.record_verdict(attempt, False, text, "" if said else "a review had no VERDICT line: read as REVISE")
            instructions = worker_prompt(text)
            t.command_files = call_record_files(text)   # what the script is run with (paper App. B.1)
            return instructions
        except FormatError as exc:   # never forwarded to the coder: the supervisor repairs its own reply
            t.supervisor_format_errors += 1
            t.trace("supervisor_format_error", attempt=attempt, retry=retry + 1, error=str(exc))
            t.log(t.info(f"Supervisor format error ({retry + 1}/{SUPERVISOR_RETRIES + 1}): {exc}", "WARNING"))
            sup.append(_msg("user", str(exc)))
    raise SupervisorFormat(f"the supervisor gave no usable instructions in {SUPERVISOR_RETRIES + 1} replies "
                           f"(attempt {attempt})")


def call(t: Trial, client, role: str, attempt: int, messages: list, s: Settings):
    """One API call after the limit checks; the reply is recorded and appended to `messages`."""
    check_limits(t, s)
    t.before_call(role, attempt)
    listener = t.progress.call(role, attempt) if getattr(t, "progress", None) else None
    try:
        reply = client.complete(messages, s.params(), on_event=listener)
    except ProviderError as exc:
        t.record_call_error(role, attempt, exc)
        if listener:
            listener("failed", error=str(exc))
        if isinstance(exc, ContextOverflow) and t.calls:
            # The model's own replies and runs grew the conversation past its window: a limit the agent
            # reached, like the token limit. Only a first prompt that does not fit is the setting's fault.
            raise LimitsExceeded("context_limit", f"the conversation outgrew the model's context window: {exc}",
                                 error=exc.record()) from exc
        raise
    t.record_call(role, attempt, messages, reply)
    if listener:
        listener("done", reply=reply)
    messages.append(_msg("assistant", reply.text or "(empty reply)"))  # some APIs refuse empty turns
    check_refusal(reply)
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


def execute(t: Trial, attempt: int, code: str, s: Settings):
    """Write the code into generated_code/ and run it in the sandbox on a fresh scratch; tampering ends the trial."""
    check_limits(t, s)
    wall = min(s.exec_timeout, s.time_limit - t.elapsed()) if s.time_limit > 0 else s.exec_timeout
    script = workspace.write_script(t, attempt, code)  # the harness's copy, bound read-only into the sandbox
    t.record_code(attempt, code, script)
    args = command_args(t)
    t.before_execution(attempt, script, args)
    result = workspace.run_code(t, script, wall, args)
    t.record_execution(attempt, script, result)
    if result.tampered:
        raise Tampered(f"tampering: {', '.join(result.tampered)}")
    if result.timed_out and wall < s.exec_timeout:
        raise LimitsExceeded("time_limit", f"the trial's time (limit {s.time_limit:g} s) ran out during a run")
    return result


def command_args(t: Trial) -> list:
    """--input-files and --output-files of the paper's command: the call record's, else the task's own paths."""
    inputs, outputs = getattr(t, "command_files", None) or ([], [])
    if not (inputs or outputs):
        inputs, outputs = prompts.task_files(t.step, workspace.DATA, workspace.INPUTS, workspace.OUTPUTS)
    return ["--input-files", *inputs, "--output-files", *outputs]


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
