"""The supervisor-coder agent of paper Fig. 1: its loop, its trials, and the `agent` and `all --model` commands.

One trial: the supervisor turns the step's task into a worker prompt and a call record; the coder
answers with exactly one ```python block (anything else is a format error, fed back to it and
counted); the code runs in the sandbox (hepmini.sandbox) with the trial dir as cwd; the supervisor
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
are the offline stand-ins of hepmini.scripted, labelled as such everywhere.
"""

import dataclasses
import os
import re
import time
from pathlib import Path

from hepmini import prompts, stepdefs, trial
from hepmini.errors import ConfigError, ProviderError, ValidationError
from hepmini.files import PACKAGE_DIR, tree_dir
from hepmini.sandbox import Limits, SandboxError, run_python
from hepmini.trial import INPUTS, OUTPUTS, Trial, model_label

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
        t.end_loop("infrastructure", f"{type(exc).__name__}: {exc}")


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

    >>> from hepmini.llm import Reply, Usage
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


def protected(t: Trial) -> list:
    """Paths hashed before and after every run and mounted read-only: inputs, data, settings.

    As root the code runs as a uid that owns nothing and the reference answers are hidden, so hepmini's
    own files need no hashing (which would also flag a developer editing the checkout during a run).
    """
    paths = [t.dir / INPUTS, t.dir / "data", t.hepmini_cfg()]
    if "tabpfn_model" in t.step.PARAMS:  # staged TabPFN weights must be visible, and stay as they are
        paths += [Path(p) for p in (t.cfg.tabpfn_model, t.cfg.tabpfn_cache_dir) if p]
    if os.geteuid() != 0:  # no uid of its own and nothing hidden: the code could write what we can
        paths += [PACKAGE_DIR, tree_dir("steps"), t.cfg.solution_dir, t.cfg.effective_data_dir]
    return [p for p in paths if os.path.lexists(p)]


def _msg(role: str, content: str) -> dict:
    return {"role": role, "content": content}


# ---- trials ----------------------------------------------------------------------------------------


def run_trial(cfg, step, s: Settings, directory: Path, *, sources: dict, index: int = 1,
              inputs_mode: str = "reference", clients=None, hide=()) -> dict:
    """Set up one trial, run the loop, validate, write result.json; return the result.

    `sources` maps each input path of the step to the directory holding it; `clients` (supervisor,
    coder) replaces the ones named in `s` (tests pass ScriptedLLM); `hide` adds directories the
    generated code must not see (the reference answers, reference/ and the workdir always are).
    """
    t = Trial(cfg, step, directory, supervisor=s.supervisor, coder=s.coder, settings=dataclasses.asdict(s),
              index=index, inputs_mode=inputs_mode)
    t.hide = [str(Path(p).absolute()) for p in (cfg.workdir, cfg.solution_dir, tree_dir("reference"), *hide)]
    t.prepare(sources)
    made = [] if clients else make_clients(cfg, s, seed=s.fault_seed + index - 1)
    supervisor, coder = clients or made
    try:
        loop(t, supervisor, coder, s)
    except BaseException as exc:  # a harness bug or Ctrl-C: the trial still says how it ended
        t.end_loop("harness_error", f"{type(exc).__name__}: {exc}")
        t.finish("error")
        raise
    finally:
        for client in {id(c): c for c in made}.values():
            client.close()
    return conclude(t, supervisor, coder)


def conclude(t: Trial, supervisor, coder) -> dict:
    """Validate the outputs against the reference, decide the status and write the result."""
    from hepmini import validate

    escaped = unlink_escapes(t.dir / OUTPUTS, t.dir)
    v0, validation = time.monotonic(), None
    try:
        result = validate.validate_step(t.step.NAME, t.dir / OUTPUTS, t.cfg.solution_dir)
        validate.write_logs(result, t.dir / "validation.log")
        validation = {"passed": result.passed, "log": "validation.log", "json": "validation.json",
                      "files": [{"name": f.name, "ok": f.ok, "headline": f.messages[0] if f.messages else ""}
                                for f in result.files]}
    except ValidationError as exc:  # the reference side is broken: not the model's doing
        t.notes.append(f"validation could not run: {exc}")
        t.stop, t.reason = "infrastructure", f"validation could not run: {exc}"
    v_seconds = time.monotonic() - v0
    if escaped:
        t.notes.append(f"outputs linking outside the trial were removed before validation: {escaped}")
    passed = bool(validation and validation["passed"])
    status = ("tampered" if t.stop == "tampered" or escaped else "infrastructure" if t.stop == "infrastructure"
              else "success" if t.stop == "accepted" and passed else "format_error" if t.stop == "format_error"
              else "failed")
    if 0 < t.settings["cost_limit"] and t.cost()["unknown_calls"]:
        t.notes.append("the cost limit could not count calls of unknown price")
    security = {"tampered": sorted({p for e in t.executions for p in e["tampered"]}),
                "output_links_removed": escaped, "hidden_from_code": t.hide,
                "protected": [str(p) for p in protected(t)],
                "isolation": t.executions[0]["isolation"] if t.executions else None}
    # Ground truth for the error classifier: the coder stand-in's injected fault (if any).
    roles = [role for role, c in (("supervisor", supervisor), ("coder", coder)) if hasattr(c, "describe")]
    scripted = {**(coder if "coder" in roles else supervisor).describe(), "roles": roles} if roles else None
    return t.finish(status, validation=validation, scripted=scripted, security=security,
                    durations=t.durations(validation_seconds=v_seconds))


def unlink_escapes(outputs: Path, trial_dir: Path) -> list:
    """Remove symlinks under `outputs` (or `outputs` itself) that lead outside the trial; list them."""
    found, root = [], os.path.realpath(trial_dir)
    candidates = [outputs] + ([Path(d) / n for d, dirs, files in os.walk(outputs) for n in dirs + files]
                              if not outputs.is_symlink() else [])
    for path in candidates:
        target = os.path.realpath(path)
        if path.is_symlink() and not (target == root or target.startswith(root + os.sep)):
            found.append(f"{path.relative_to(trial_dir)} -> {os.readlink(path)}")
            path.unlink()
    return sorted(found)


def make_clients(cfg, s: Settings, seed: int) -> list:
    """[supervisor, coder] clients; one instance when both roles name the same model."""
    from hepmini import llm, scripted

    made = {}
    for name in (s.supervisor, s.coder):
        if name not in made:
            made[name] = scripted.client_for(name, seed) if name.startswith("scripted:") else llm.client_for(name, cfg)
    return [made[s.supervisor], made[s.coder]]


def run_name(s: Settings, what: str) -> str:
    models = s.supervisor if s.supervisor == s.coder else f"{s.supervisor}+{s.coder}"
    return f"{time.strftime('%Y%m%d-%H%M%S')}-{what}-{re.sub(r'[^A-Za-z0-9.+-]+', '_', models)}"


# ---- command line --------------------------------------------------------------------------------------


def settings_from(cfg, args) -> Settings:
    """Settings from the `agent` / `all` flags; model names are checked before anything runs."""
    from hepmini import llm, scripted

    model = getattr(args, "model", None)
    supervisor, coder = getattr(args, "supervisor", None) or model, getattr(args, "coder", None) or model
    if not supervisor or not coder:
        raise ConfigError("name the model: --model PROVIDER:MODEL, or --supervisor M and --coder M "
                          "(offline: --model scripted:oracle)")
    for name in (supervisor, coder):
        if name.startswith("scripted:"):
            scripted.client_for(name)
        else:
            llm.split_model(name, cfg)
    fields = {f.name for f in dataclasses.fields(Settings)} - {"supervisor", "coder"}
    values = {k: getattr(args, k) for k in fields if getattr(args, k, None) is not None}
    s = Settings(supervisor=supervisor, coder=coder, **values)
    if s.max_iterations < 1:
        raise ConfigError(f"--max-iterations must be at least 1, not {s.max_iterations}")
    return s


def announce(s: Settings) -> None:
    for name in sorted({s.supervisor, s.coder}):
        if name.startswith("scripted:"):
            print(f"NOTE: {name} is an offline SCRIPTED STAND-IN, not a language model: "
                  "these trials exercise the harness, they do not measure a model.")


def _reference(cfg, targets=None) -> None:
    from hepmini import dag

    print(f"reference outputs in {cfg.solution_dir}:")
    dag.run(cfg, targets=targets, report=lambda line: print(f"  {line}"))


def trial_line(r: dict) -> str:
    tokens, cost = r.get("tokens", {}), (r.get("cost") or {}).get("total", None)
    valid = "-" if not r.get("validation") else "PASS" if r["validation"]["passed"] else "FAIL"
    return (f"{r['step']} trial {r.get('trial', '-')}: {r['status']} (validation {valid}, "
            f"{r.get('iterations', 0)} iteration(s), {r.get('api_calls', 0)} API calls, "
            f"{tokens.get('input', 0)} in / {tokens.get('output', 0)} out tokens, "
            f"cost {'unknown' if cost is None else f'${cost:.4f}'}, "
            f"{(r.get('durations') or {}).get('total', 0):.1f} s) -> {r['trial_dir']}")


def cli_agent(cfg, args) -> int:
    """`python -m hepmini agent STEP --model M [--trials K] [--inputs reference|chained] [--out DIR]`."""
    step, s = stepdefs.get(args.step), settings_from(cfg, args)
    announce(s)
    out = Path(args.out) if args.out else cfg.workdir / "agent" / run_name(s, step.NAME)
    _reference(cfg, [step.NAME])  # inputs (reference mode) and the answers validation compares with
    sources = ({rel: cfg.solution_dir for rel in step.INPUTS} if args.inputs == "reference"
               else trial.chained_sources(out, step))
    results = []
    for _ in range(args.trials):
        n, directory = trial.new_trial_dir(out, step)
        results.append(run_trial(cfg, step, s, directory, sources=sources, index=n, inputs_mode=args.inputs,
                                 hide=[out]))
        print(trial_line(results[-1]))
    ok = sum(r["status"] == "success" for r in results)
    print(f"{ok}/{len(results)} trial(s) succeeded; supervisor {model_label(s.supervisor)}, coder "
          f"{model_label(s.coder)}; trials in {out}")
    return 0 if ok == len(results) else 1


def cli_all(cfg, args) -> int:
    """`python -m hepmini all --model M`: the five steps through the agent, each on its own previous outputs."""
    s = settings_from(cfg, args)
    announce(s)
    _reference(cfg)
    out = cfg.workdir / "agent" / run_name(s, "chained")
    results = []
    for step in stepdefs.steps():
        n, directory = trial.new_trial_dir(out, step)
        sources = trial.chained_sources(out, step)
        missing = [str(Path(d) / rel) for rel, d in sources.items() if not (Path(d) / rel).is_file()]
        if missing:
            why = f"input(s) missing from the agent's earlier steps: {', '.join(missing)}"
            results.append(trial.skip_trial(directory, step, why, {"supervisor": s.supervisor, "coder": s.coder}))
        else:
            results.append(run_trial(cfg, step, s, directory, sources=sources, index=n, inputs_mode="chained",
                                     hide=[out]))
        print(trial_line(results[-1]) if results[-1]["status"] != "skipped" else
              f"{step.NAME}: skipped ({results[-1]['reason']})")
    print(f"\nChained analysis by {model_label(s.supervisor)}"
          + ("" if s.coder == s.supervisor else f" + {model_label(s.coder)}") + f" in {out}")
    print(table(results))
    ok = sum(r["status"] == "success" for r in results)
    print(f"{ok}/{len(results)} steps succeeded")
    return 0 if ok == len(results) else 1


def table(results: list) -> str:
    """The per-step table of a chained run."""
    head = ("step", "title", "status", "valid", "iter", "calls", "tokens in", "tokens out", "cost", "seconds")
    rows = [head]
    for r in results:
        cost = (r.get("cost") or {}).get("total")
        valid = "-" if not r.get("validation") else "PASS" if r["validation"]["passed"] else "FAIL"
        rows.append((r["step"], r["title"], r["status"], valid, str(r.get("iterations", 0)), str(r.get("api_calls", 0)),
                     str(r["tokens"]["input"]), str(r["tokens"]["output"]),
                     "unknown" if cost is None else f"${cost:.4f}",
                     f"{(r.get('durations') or {}).get('total', 0):.1f}"))
    widths = [max(len(row[i]) for row in rows) for i in range(len(head))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows)
