"""The record of one agent trial: the comprehensive log, trace, provenance and result of its directory.

Layout of a trial directory, all of it the harness's (the generated code never sees it):

    inputs/              copies of the step's input files (steps 3-5)
    hepmini.cfg          the settings the provided functions use (e.g. the step-4 classifier)
    generated_code/      <step>_<title>_attempt<N>.py, one read-only file per attempt, exactly as run
    outputs/             the harness's copy of what the last run left in its scratch's outputs/ (validated)
    logs/                the stdout/stderr of every run, as the harness received them
    comprehensive.log    paper App. B.1 layout, written as the trial happens
    validation.log/.json paper App. B.2 layout, from hepmini.analysis.validate
    trace.jsonl          every call, format error, execution and verdict, appended as it happens
    result.json          status, counts, tokens by role, cost, durations, validation, security, provenance

The run's own territory is `scratch/`, its cwd (see hepmini.agent.workspace). Every text written
here passes through transport.scrub with the configured API keys, and never through a symlink.
"""

import dataclasses
import datetime
import json
import os
import time
from pathlib import Path

from hepmini.agent import models
from hepmini.agent.workspace import OUTPUTS
from hepmini.files import append_bytes, append_jsonl, atomic_write_json
from hepmini.llm.transport import scrub

FORMAT = "hepmini-trial-1"
TRACE_FORMAT = "hepmini-trace-1"
# Paper App. B.1 banners: '=' * left, name, '=' * right.
BANNERS = {"INITIALIZATION": 9, "LOOP START": 9, "SUPERVISOR CALL": 9, "TOKEN STATS": 9,
           "SUPERVISOR RESPONSE": 9, "CODER CALL": 25, "CODER RESPONSE": 22, "CODE EXECUTION": (19, 20),
           "EXECUTION RESULT": 21, "SUPERVISOR FEEDBACK CALL": 17, "SUPERVISOR FEEDBACK RESPONSE": 16,
           "FINAL STATISTICS": 19, "PROCESS COMPLETED": 16, "END OF LOG": 25}
OUTCOME_BANNERS = {"accepted": "SUCCESS", "max_iterations": "MAX ITERATIONS REACHED",
                   "format_error": "FORMAT ERROR", "token_limit": "TOKEN LIMIT REACHED",
                   "context_limit": "CONTEXT WINDOW FULL",
                   "cost_limit": "COST LIMIT REACHED", "time_limit": "TIME LIMIT REACHED",
                   "infrastructure": "INFRASTRUCTURE ERROR", "tampered": "TAMPERING DETECTED",
                   "harness_error": "HARNESS ERROR"}


def banner(name: str, number=None) -> str:
    """A section banner exactly as in paper App. B.1.

    >>> banner("CODE EXECUTION", 1)
    '=================== CODE EXECUTION #1 ===================='
    >>> banner("TOKEN STATS")
    '========= TOKEN STATS ========='
    """
    left = BANNERS.get(name, 25)
    left, right = left if isinstance(left, tuple) else (left, left)
    return f"{'=' * left} {name}{'' if number is None else f' #{number}'} {'=' * right}"


def _now() -> str:
    return datetime.datetime.now().strftime("%Y-%m-%d %H:%M:%S")


def _utc() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="milliseconds")



class Trial:
    """One trial directory and everything recorded about it."""

    def __init__(self, cfg, step, directory: Path, *, supervisor: str, coder: str, settings: dict,
                 index: int = 1, inputs_mode: str = "reference"):
        self.cfg, self.step, self.dir = cfg, step, Path(directory).absolute()
        self.supervisor, self.coder, self.settings = supervisor, coder, settings
        self.index, self.inputs_mode = index, inputs_mode
        self.secrets = [k for k in (cfg.keys or {}).values() if k]
        self.calls, self.executions, self.format_errors, self.notes = [], [], [], []
        self.supervisor_format_errors, self.iteration, self.verdict = 0, 0, None
        self.stop, self.reason, self.task, self.error = None, "", "", None
        self.started, self.t0 = datetime.datetime.now(), time.monotonic()
        self.provenance, self.hide = {}, []   # hide: directories the generated code must not see
        self.limits = None                    # the sandbox's Limits (None: its defaults)

    def started_record(self) -> None:
        """The log header, the trace's start event and a result.json saying "running"."""
        self._log_header()
        self.trace("start", format=TRACE_FORMAT, step=self.step.NAME, trial=self.index, supervisor=self.supervisor,
                   coder=self.coder, settings=self.settings, task=self.task)
        self.write_result(status="running")

    # ---- records -----------------------------------------------------------------------------

    def trace(self, event: str, **fields) -> None:
        """Append one event to trace.jsonl, now."""
        record = {"time": _utc(), "elapsed": round(time.monotonic() - self.t0, 4), "event": event, **fields}
        append_jsonl(self.dir / "trace.jsonl", json.loads(self._scrub(json.dumps(record, default=str))))

    def log(self, *lines) -> None:
        """Append lines to comprehensive.log, now."""
        append_bytes(self.dir / "comprehensive.log", (self._scrub("\n".join(lines)) + "\n").encode("utf-8"))

    def info(self, message: str, level: str = "INFO") -> str:
        return f"[{_now()}] {level}: {message}"

    def before_call(self, role: str, attempt: int) -> None:
        """The banner and line that open a call, written before it is made."""
        if role == "coder":
            self.log(banner("CODER CALL", attempt), self.info(
                f"Calling coder {self.coder} (attempt {attempt}/{self.settings['max_iterations']})"))
        elif attempt == 0:
            self.log(banner("SUPERVISOR CALL"), self.info(f"Calling supervisor {self.supervisor} with initial prompt"))
        else:
            self.log(banner("SUPERVISOR FEEDBACK CALL", attempt),
                     self.info(f"Calling supervisor {self.supervisor} for feedback (iteration {attempt})"))

    def record_call(self, role: str, attempt: int, messages, reply) -> dict:
        """Count, trace and log one answered call."""
        u = reply.usage
        kind = "code" if role == "coder" else "initial" if attempt == 0 else "review"
        call = {"n": len(self.calls) + 1, "role": role, "kind": kind, "attempt": attempt,
                "model_requested": self.coder if role == "coder" else self.supervisor,
                "model_returned": reply.model, "provider": reply.provider,
                "usage": dataclasses.asdict(u), "cost": reply.cost, "cost_source": reply.cost_source,
                "latency": round(reply.latency, 4), "finish_reason": reply.finish_reason,
                "params_sent": reply.params_sent, "params_dropped": reply.params_dropped,
                "http_attempts": len(reply.attempts)}
        self.calls.append(call)
        self.trace("call", **call, messages=messages, reply=reply.text,
                   scripted=bool((reply.raw or {}).get("scripted")))
        received = f"({u.input} input tokens, {u.output} output tokens)"
        if kind == "initial":
            self.log(banner("TOKEN STATS"), self.info(f"Initial supervisor prompt tokens: {u.input}"),
                     banner("SUPERVISOR RESPONSE"), self.info(f"Supervisor response received {received}"),
                     reply.text.rstrip())
        elif kind == "code":
            self.log(banner("CODER RESPONSE", attempt), self.info(f"Coder response received {received}"))
        else:
            self.log(banner("SUPERVISOR FEEDBACK RESPONSE", attempt),
                     self.info(f"Supervisor feedback received {received}"))
        return call

    def record_call_error(self, role: str, attempt: int, exc: BaseException) -> None:
        attempts = getattr(exc, "attempts", []) or []
        self.trace("call_error", role=role, attempt=attempt, error=type(exc).__name__, message=str(exc),
                   http_attempts=attempts)
        self.log(self.info(f"{role.capitalize()} call failed: {type(exc).__name__}: {exc}", "ERROR"))

    def record_code(self, attempt: int, code: str, script: Path) -> None:
        self.log("Generated Code:", "```python", code.rstrip(), "```")
        self.trace("code", attempt=attempt, script=str(script.relative_to(self.dir)), chars=len(code))

    def record_format_error(self, attempt: int, message: str, reply_text: str) -> None:
        self.format_errors.append({"attempt": attempt, "error": message})
        self.trace("format_error", attempt=attempt, error=message)
        why = message.removeprefix("Format error: ")
        self.log(self.info(f"Format error (attempt {attempt}): {why}", "WARNING"), "Coder reply:",
                 reply_text.rstrip() or "<empty reply>")

    def before_execution(self, attempt: int, script: Path, args=()) -> None:
        command = " ".join(["python", str(script.relative_to(self.dir)), *args])
        self.log(banner("CODE EXECUTION", attempt), self.info("Executing generated code."),
                 self.info(f"Command: {command}", "DEBUG"))

    def record_execution(self, attempt: int, script: Path, result) -> dict:
        """Count, trace and log one sandbox run."""
        run = {"attempt": attempt, "script": str(script.relative_to(self.dir)), "returncode": result.returncode,
               "signal": result.signal, "killed_reason": result.killed_reason, "timed_out": result.timed_out,
               "seconds": result.seconds, "overhead_seconds": result.overhead_seconds,
               "stdout_bytes": result.stdout_bytes, "stderr_bytes": result.stderr_bytes,
               "stdout_log": os.path.relpath(result.stdout_path, self.dir),
               "stderr_log": os.path.relpath(result.stderr_path, self.dir),
               "tampered": result.tampered, "outputs": result.outputs, "outputs_refused": result.refused,
               "isolation": result.isolation, "env_keys": result.env_keys}
        self.executions.append(run)
        self.trace("execution", **run, stdout_tail=result.stdout_tail, stderr_tail=result.stderr_tail)
        how = f" (killed: {result.killed_reason})" if result.killed_reason else ""
        self.log(banner("EXECUTION RESULT", attempt),
                 self.info(f"Execution completed with exit code {result.returncode}{how}"))
        if result.returncode == 0 and not result.killed_reason:
            self.log(self.info("Execution successful. Output:"), result.stdout_tail.rstrip())
            if result.stderr_tail.strip():
                self.log("Standard error:", result.stderr_tail.rstrip())
        else:
            self.log(self.info("Execution failed. Output:", "ERROR"), result.stdout_tail.rstrip(),
                     "Error output:", result.stderr_tail.rstrip())
        if result.tampered:
            self.log(self.info(f"Tampering: {', '.join(result.tampered)}", "ERROR"))
        if result.refused:
            self.log(self.info(f"Outputs not copied (over the limits): {', '.join(result.refused)}", "WARNING"))
        return run

    def record_verdict(self, attempt: int, accepted: bool, text: str, note: str = "") -> None:
        self.verdict = "accept" if accepted else "revise"
        self.trace("verdict", attempt=attempt, verdict=self.verdict, note=note)
        self.log("Supervisor Feedback:", "Supervisor is satisfied with current results" if accepted else text.rstrip())
        if note:
            self.log(self.info(note, "WARNING"))

    def end_loop(self, stop: str, reason: str, error: dict = None) -> None:
        """Record why the loop ended (and the error that ended it) and close the comprehensive log's process part."""
        self.stop, self.reason, self.error = stop, reason, error
        self.trace("stop", stop=stop, reason=reason, iterations=self.iteration)
        title = OUTCOME_BANNERS.get(stop, stop.upper())
        line = (f"SUCCESS: Supervisor satisfied after {self.iteration} iterations!" if stop == "accepted"
                else f"{title}: {reason}")
        tokens = self.tokens()
        self.log(banner(title), self.info(line, "INFO" if stop == "accepted" else "WARNING"),
                 banner("FINAL STATISTICS"), self.info(f"Total API calls made: {len(self.calls)}"),
                 self.info(f"Final token counts: {tokens['input']} input, {tokens['output']} output"),
                 banner("PROCESS COMPLETED"), self.info(f"Interaction completed in {self._duration()}"),
                 banner("END OF LOG"), self.info("=== END OF COMPREHENSIVE LOG ==="))

    # ---- totals ------------------------------------------------------------------------------

    def tokens(self) -> dict:
        """Token totals, and the paper's breakdown by role (App. B.1 FINAL SUMMARY)."""
        def total(field, role=None, kind=None):
            return sum(c["usage"][field] for c in self.calls
                       if (role is None or c["role"] == role) and (kind is None or c["kind"] == kind))

        return {"input": total("input"), "output": total("output"), "total": total("input") + total("output"),
                "reasoning": total("reasoning"), "cached_input": total("cached_input"),
                "user_prompt": total("input", kind="initial"),
                "supervisor_to_coder": total("input", role="coder"),
                "coder_output": total("output", role="coder"),
                "feedback_to_supervisor": total("input", kind="review"),
                "supervisor_output": total("output", role="supervisor"),
                "unreported_calls": sum(1 for c in self.calls if not c["usage"]["reported"])}

    def cost(self) -> dict:
        """Dollars: total None when any call's price is unknown (never 0 for unknown); known part kept."""
        def part(role=None):
            calls = [c for c in self.calls if role is None or c["role"] == role]
            known = sum(c["cost"] for c in calls if c["cost"] is not None)
            unknown = sum(1 for c in calls if c["cost"] is None)
            return {"total": None if unknown else round(known, 8), "known_part": round(known, 8),
                    "unknown_calls": unknown, "sources": sorted({c["cost_source"] or "unknown" for c in calls})}

        return {**part(), "by_role": {"supervisor": part("supervisor"), "coder": part("coder")}}

    def durations(self, validation_seconds: float = 0.0) -> dict:
        """Seconds: in total, waiting for models, running the generated code, and everything else."""
        total, llm_s = self.elapsed(), sum(c["latency"] for c in self.calls)
        code_s = sum(e["seconds"] for e in self.executions)
        return {"total": round(total, 4), "llm_calls": round(llm_s, 4), "code_runs": round(code_s, 4),
                "sandbox_overhead": round(sum(e["overhead_seconds"] for e in self.executions), 4),
                "validation": round(validation_seconds, 4),
                "except_code_runs": round(total - code_s, 4),     # the harness overhead of perf/perf_agent.py
                "harness": round(total - code_s - llm_s, 4)}

    def elapsed(self) -> float:
        return time.monotonic() - self.t0

    def _duration(self) -> str:
        return str(datetime.timedelta(seconds=self.elapsed()))

    # ---- the end -----------------------------------------------------------------------------

    def finish(self, status: str, validation=None, scripted=None, security=None, durations=None) -> dict:
        """Write the FINAL SUMMARY and result.json; return the result."""
        ended = datetime.datetime.now()
        tokens, cost = self.tokens(), self.cost()
        passed = None if validation is None else validation["passed"]
        self.log("=" * 42, "FINAL SUMMARY", "=" * 42,
                 f"Task: {self.step.TITLE} ({self.step.NAME})", f"Supervisor: {models.label(self.supervisor)}",
                 f"Coder: {models.label(self.coder)}", f"Total Iterations: {self.iteration}",
                 f"Start Time: {self.started}", f"End Time: {ended}", f"Duration: {ended - self.started}",
                 f"Total API Calls: {len(self.calls)}", f"Total Input Tokens: {tokens['input']}",
                 f"Total Output Tokens: {tokens['output']}", f"User Prompt Tokens: {tokens['user_prompt']}",
                 f"Supervisor to Coder Tokens: {tokens['supervisor_to_coder']}",
                 f"Coder Output Tokens: {tokens['coder_output']}",
                 f"Feedback to Supervisor Tokens: {tokens['feedback_to_supervisor']}",
                 f"Final Status: {status.upper()}",
                 f"Loop Ended: {self.stop} ({self.reason})" if self.reason else f"Loop Ended: {self.stop}",
                 f"Validation: {'not run' if passed is None else 'PASS' if passed else 'FAIL'}",
                 f"Cost: {_money(cost['total'])}", "=" * 42)
        result = self.write_result(status=status, validation=validation, scripted=scripted, security=security,
                                   durations=durations, ended=ended)
        self.trace("end", status=status, stop=self.stop)
        return result

    def write_result(self, status: str, validation=None, scripted=None, security=None, durations=None,
                     ended=None) -> dict:
        """result.json, written atomically (a running trial says status "running")."""
        result = {
            "format": FORMAT, "step": self.step.NAME, "title": self.step.TITLE, "trial": self.index,
            "trial_dir": str(self.dir), "inputs_mode": self.inputs_mode, "status": status, "stop": self.stop,
            "reason": self.reason, "error": self.error, "supervisor_verdict": self.verdict,
            "iterations": self.iteration,
            "api_calls": len(self.calls), "format_errors": len(self.format_errors),
            "supervisor_format_errors": self.supervisor_format_errors, "tokens": self.tokens(),
            "cost": self.cost(), "durations": durations or self.durations(), "compute": getattr(self, "compute", None),
            "validation": validation, "executions": [_brief(e) for e in self.executions],
            "security": security, "scripted": scripted, "notes": self.notes,
            "models": {"supervisor": self.supervisor, "coder": self.coder},
            "settings": self.settings, "started": self.started.isoformat(),
            "ended": ended.isoformat() if ended else None,
            "provenance": {**self.provenance, **self._sampling()},
        }
        atomic_write_json(self.dir / "result.json", json.loads(self._scrub(json.dumps(result, default=str))))
        return result

    def _sampling(self) -> dict:
        """Model names requested and returned, and the parameters actually sent, per role."""
        out = {"models": {}, "params_sent": {}, "params_dropped": {}}
        for role, requested in (("supervisor", self.supervisor), ("coder", self.coder)):
            calls = [c for c in self.calls if c["role"] == role]
            out["models"][role] = {"requested": requested,
                                   "returned": sorted({c["model_returned"] or "?" for c in calls})}
            out["params_sent"][role] = _unique(c["params_sent"] for c in calls)
            out["params_dropped"][role] = _unique(c["params_dropped"] for c in calls if c["params_dropped"])
        return out

    def _scrub(self, text: str) -> str:
        return scrub(text, self.secrets)  # always: bearer tokens and URL credentials even with no keys

    def _log_header(self) -> None:
        self.log("=" * 46, "COMPREHENSIVE SUPERVISOR-CODER LOG", "=" * 46,
                 f"Task: {self.step.TITLE} ({self.step.NAME})", f"Supervisor: {models.label(self.supervisor)}",
                 f"Coder: {models.label(self.coder)}", f"Start Time: {self.started}",
                 f"Working Directory: {self.dir}", f"Output Directory: {self.dir / OUTPUTS}",
                 "ORIGINAL USER PROMPT", "-" * 50, self.task.rstrip(), "PROCESS START", "-" * 50,
                 banner("INITIALIZATION"), self.info("Starting supervisor-coder interaction"),
                 banner("LOOP START"), self.info("=== MAIN LOOP STARTED ==="))


def _brief(run: dict) -> dict:
    """An execution as result.json keeps it (the trace has the output tails)."""
    iso = run["isolation"]
    keep = ("uid_dropped", "namespaces", "namespaces_reason", "netns", "mountns", "pidns", "userns", "root",
            "cgroup", "cgroup_reason", "limits", "kill_scope", "hidden", "readonly", "env_dropped", "leftover_pids",
            "oom_kills", "limit_hint", "keyring", "seccomp")
    return {**{k: v for k, v in run.items() if k != "isolation"}, "isolation": {k: iso.get(k) for k in keep}}


def _unique(dicts) -> list:
    seen = []
    for d in dicts:
        if d not in seen:
            seen.append(d)
    return seen


def _money(value) -> str:
    return "unknown (a price is missing)" if value is None else f"${value:.6f}"
