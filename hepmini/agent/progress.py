"""Live progress of agent trials: which trial, which call, tokens so far and tokens/s, each run's outcome.

On a terminal the call under way is one line rewritten in place (at most twice a second); anywhere
else (a pipe, a log file, CI) every event is one plain line, and a call under way says where it is once a
minute (a local model's call takes many minutes: a log must not look hung). It all goes to stderr, so stdout keeps
only the commands' results. Several trials may report at once (bench -j): lines are written whole.
"""

import sys
import threading
import time


class Progress:
    """Where progress goes, and whether a line may be rewritten in place."""

    def __init__(self, stream=None, live=None, clock=time.monotonic, interval: float = 0.5, heartbeat: float = 60.0):
        self.stream = stream or sys.stderr
        self.live = self.stream.isatty() if live is None else live
        self.clock, self.interval, self.lock = clock, interval, threading.Lock()
        self.heartbeat = heartbeat      # seconds between the plain "still at it" lines of one call
        self._open = False              # a live line is on screen, not yet ended

    def trial(self, label: str) -> "TrialProgress":
        """The reporter of one trial, its lines prefixed with `label` (e.g. "step1 trial 1")."""
        return TrialProgress(self, label)

    def line(self, text: str) -> None:
        """One finished line (ends a live line first)."""
        with self.lock:
            self._write(("\r\033[K" if self._open else "") + text + "\n")
            self._open = False

    def status(self, text: str) -> None:
        """The live line: rewritten in place on a terminal, never printed elsewhere."""
        if self.live:
            with self.lock:
                self._write("\r\033[K" + text[:200])
                self._open = True

    def _write(self, text: str) -> None:
        try:
            self.stream.write(text)
            self.stream.flush()
        except (OSError, ValueError):   # a closed pipe must not end a trial
            pass


class TrialProgress:
    """The events of one trial: calls (with streamed tokens), retries, runs, the end."""

    def __init__(self, sink: Progress, label: str):
        self.sink, self.label = sink, label

    def say(self, text: str) -> None:
        self.sink.line(f"[{self.label}] {text}")

    def call(self, role: str, attempt: int):
        """A listener for one model call: client.complete(..., on_event=listener)."""
        return _CallListener(self, f"{role} call {attempt}")

    def run_started(self, attempt: int) -> None:
        self.sink.status(f"[{self.label}] run {attempt}: running the generated code ...")

    def run_ended(self, attempt: int, result) -> None:
        killed = f", killed: {result.killed_reason}" if getattr(result, "killed_reason", "") else ""
        seconds = getattr(result, "seconds", None)
        took = f" in {seconds:.1f} s" if isinstance(seconds, (int, float)) else ""
        self.say(f"run {attempt}: exit {result.returncode}{killed}{took}")


class _CallListener:
    """Counts streamed pieces (about one token each) and reports the call's pace and its end."""

    def __init__(self, trial: TrialProgress, what: str):
        self.trial, self.what, self.sink = trial, what, trial.sink
        self.start = self.first = self.shown = self.beat = None
        self.pieces, self.attempt = 0, 1

    def __call__(self, kind: str, **info) -> None:
        now = self.sink.clock()
        if self.start is None:
            self.start = self.beat = now
        if kind == "attempt":
            self.attempt = info.get("n", 1)
            self._show(now, f"{self.what}: sent (attempt {self.attempt}), reading the prompt ...")
        elif kind == "delta":
            self._delta(now)
        elif kind == "prompt":
            self._show(now, f"{self.what}: read {info.get('processed')}/{info.get('total')} prompt tokens, "
                            f"{now - self.start:.0f} s")
        elif kind == "retry":
            self.trial.say(f"{self.what}: {info.get('error')}; retry {info.get('n')}/{info.get('of')} in "
                           f"{info.get('wait', 0):.1f} s")
        elif kind == "done":
            self._done(info["reply"], now)
        elif kind == "failed":
            self.trial.say(f"{self.what}: failed: {str(info.get('error'))[:300]}")

    def _delta(self, now: float) -> None:
        self.pieces += 1
        self.first = self.first if self.first is not None else now
        if self.shown is None or now - self.shown >= self.sink.interval:
            self.shown = now
            pace = self.pieces / (now - self.first) if now > self.first else 0.0
            self._show(now, f"{self.what}: {self.pieces} tokens, {pace:.1f} tok/s, {now - self.start:.0f} s")

    def _show(self, now: float, text: str) -> None:
        """Where the call is: the live line on a terminal; elsewhere a plain line once per heartbeat."""
        if self.sink.live:
            self.sink.status(f"[{self.trial.label}] {text}")
        elif now - self.beat >= self.sink.heartbeat:
            self.beat = now
            self.trial.say(text)

    def _done(self, reply, now: float) -> None:
        u = reply.usage
        pace = f", {u.output / (now - self.first):.1f} tok/s" if self.first is not None and now > self.first else ""
        waited = f" (first token after {self.first - self.start:.0f} s)" if self.first is not None else ""
        retries = f", {len(reply.attempts)} attempts" if len(reply.attempts) > 1 else ""
        self.trial.say(f"{self.what}: {u.input} in / {u.output} out tokens in {now - self.start:.1f} s{pace}"
                       f"{waited}{retries}, finish {reply.finish_reason}")
