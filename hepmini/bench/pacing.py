"""Pace a campaign: per-provider concurrency caps that back off on rate limits, the hard budget, the progress line."""

import dataclasses
import sys
import time

PROVIDER_ERRORS = ("RateLimited", "ServerError", "ProviderTimeout", "MalformedResponse")  # wait, then fewer at once
STOP_ERRORS = ("QuotaExceeded", "AuthError")                         # every further trial would fail too
MAX_PAUSE = 600.0


@dataclasses.dataclass
class Provider:
    """One provider's concurrency: its current cap, what runs, and the pause after rate limits."""

    cap: int
    max_cap: int
    base_pause: float
    running: int = 0
    paused_until: float = 0.0
    pause: float = 0.0
    stopped: str = ""

    def ready(self, now: float) -> bool:
        return not self.stopped and self.running < self.cap and now >= self.paused_until

    def outcome(self, result: dict, now: float) -> str:
        """Adapt to a finished trial (AIMD); return what changed, or ""."""
        record = (result.get("error") or {}) if result.get("status") == "infrastructure" else {}
        error = record.get("kind", "")
        if error in STOP_ERRORS:
            self.stopped = str(result.get("reason") or error)
            return f"stopped: {self.stopped}"
        if error in PROVIDER_ERRORS and record.get("retryable"):
            self.pause = min(self.pause * 2 if self.pause else self.base_pause, MAX_PAUSE)
            self.cap, self.paused_until = max(1, self.cap // 2), now + self.pause
            return f"backing off: {error}; at most {self.cap} at once, paused {self.pause:g} s"
        self.cap, self.pause = min(self.cap + 1, self.max_cap), 0.0
        return ""


def spend_of(cost: dict) -> tuple:
    """(known dollars, calls of unknown price) of a trial's cost record; a partly priced trial counts its known part."""
    cost = cost or {}
    return float(cost.get("known_part", cost.get("total") or 0.0) or 0.0), int(cost.get("unknown_calls", 0) or 0)


class Budget:
    """Known spend, the estimates of trials in flight, and whether one more trial fits under the cap."""

    def __init__(self, cap, known: float = 0.0):
        self.cap, self.known, self.unknown_trials, self.unknown_calls = cap, known, 0, 0
        self.costs, self.partial, self.reserved = {}, {}, {}

    def add(self, model: str, result: dict) -> None:
        cost = result.get("cost") or {}
        known, unknown_calls = spend_of(cost)
        self.add_spend(known, unknown_calls)
        if cost.get("total") is None:
            self.unknown_trials += 1
            self.partial.setdefault(model, []).append(known)
        else:
            self.costs.setdefault(model, []).append(known)

    def add_spend(self, known: float, unknown_calls: int) -> None:
        self.known, self.unknown_calls = self.known + known, self.unknown_calls + unknown_calls

    def estimate(self, model: str) -> float:
        known = self.costs.get(model) or self.partial.get(model) or [0.0]
        return sum(known) / len(known)

    def spend(self) -> float:
        # Trials in flight count at their model's estimate as it stands now, not as it stood at their start.
        return self.known + sum(self.estimate(model) for model in self.reserved.values())

    def allows(self, model: str) -> bool:
        if self.cap is None:
            return True
        spend = self.spend()
        return spend + self.estimate(model) <= self.cap and not (0 < self.cap <= spend)


class Progress:
    """The progress line on stderr: `\\r`-updated on a terminal, one plain line per cell otherwise."""

    def __init__(self, total: int, todo: int, stream=None):
        self.stream = stream or sys.stderr
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.total, self.todo, self.ran, self.t0, self.width = total, todo, 0, time.monotonic(), 0

    def line(self, done: int, passed: int, counted: int, budget: Budget, running: int) -> str:
        eta = "?"
        if self.ran:
            left = (time.monotonic() - self.t0) / self.ran * max(self.todo - self.ran, 0)
            eta = f"{left / 60:.0f} min" if left >= 600 else f"{left:.0f} s"
        unknown = "+unknown" if budget.unknown_trials else ""
        cap = "" if budget.cap is None else f" of ${budget.cap:g}"
        return (f"{done}/{self.total} done, passed {passed}/{counted}, spend ${budget.known:.4f}{unknown}{cap}, "
                f"{running} running, ETA {eta}")

    def show(self, text: str, head: str = "") -> None:
        if self.tty:
            pad = " " * max(self.width - len(text), 0)
            self.stream.write(("\r" + " " * self.width + "\r" + head + "\n" if head else "") + "\r" + text + pad)
            self.width = len(text)
        else:
            self.stream.write(f"bench: {head + ' | ' if head else ''}{text}\n")
        self.stream.flush()

    def note(self, text: str) -> None:
        if self.tty:
            self.stream.write("\r" + " " * self.width + "\r")
            self.width = 0
        self.stream.write(f"bench: {text}\n")
        self.stream.flush()

    def close(self) -> None:
        if self.tty and self.width:
            self.stream.write("\n")
            self.stream.flush()
