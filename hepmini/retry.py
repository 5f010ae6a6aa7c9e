"""When to try an HTTP request again: one RetryPolicy (capped exponential backoff with jitter) and Retry-After.

Shared by the LLM transport and the data downloader, so both read a server's wait the same way:
`retry-after-ms` (milliseconds), `retry-after` as seconds or as an HTTP date.
"""

import dataclasses
import email.utils
import math
import random
import time
from typing import Callable, Optional


@dataclasses.dataclass(frozen=True)
class RetryPolicy:
    """How many retries, how long between them, and the longest wait a server may ask for."""

    max_retries: int = 6
    initial: float = 0.5          # first backoff, seconds (openai/anthropic SDK _constants.py)
    cap: float = 8.0              # longest backoff
    jitter: float = 0.25          # the backoff is shortened by up to this fraction, at random
    max_server_wait: float = 120.0   # a longer Retry-After is not waited for (openai-python 3.x)

    def backoff(self, failures: int, rng: Callable[[], float] = random.random) -> float:
        """Seconds to wait after `failures` failed attempts (1 = the first), before jitter is taken off.

        >>> p = RetryPolicy()
        >>> [p.backoff(n, rng=lambda: 0.0) for n in (1, 2, 3, 4, 5, 6)]
        [0.5, 1.0, 2.0, 4.0, 8.0, 8.0]
        """
        return min(self.initial * 2 ** (failures - 1), self.cap) * (1 - self.jitter * rng())


YEAR = 365 * 86400   # seconds; a server asking for longer names no real time


def wait_text(seconds: float) -> str:
    """A server's asked-for wait in the unit a person reads it in; beyond a year it is no real time.

    >>> [wait_text(s) for s in (42, 150, 7200, 200000, 1e9)]
    ['42 s', '3 min', '2 h', '2.3 days', 'more than a year']
    """
    if seconds >= YEAR:
        return "more than a year"
    for unit, size in (("days", 86400), ("h", 3600), ("min", 60)):
        if seconds >= 2 * size:
            value = seconds / size
            return f"{value:.1f} {unit}" if unit == "days" else f"{math.ceil(value):.0f} {unit}"
    return f"{seconds:.0f} s"


def server_wait(headers, now: Optional[float] = None) -> Optional[float]:
    """Seconds the server asks to wait (retry-after-ms, retry-after seconds or HTTP date), or None.

    `headers` maps lower-case names to values. A date in the past is 0; a value that is no number or
    date, or not finite ("inf", "nan"), is unusable and read as absent.

    >>> server_wait({"retry-after-ms": "84"}), server_wait({"retry-after": "7"}), server_wait({})
    (0.084, 7.0, None)
    >>> server_wait({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}, now=1445412470.0)
    10.0
    >>> [server_wait({"retry-after": v}) for v in ("soon", "inf")], server_wait({"retry-after-ms": "NaN"})
    ([None, None], None)
    """
    now = time.time() if now is None else now
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        raw = headers.get(name)
        if raw is None:
            continue
        try:
            seconds = float(raw) * scale
        except ValueError:
            seconds = None
        if seconds is not None:
            if math.isfinite(seconds):
                return max(seconds, 0.0)
            continue          # "inf" or "nan": no wait can be read from it, nor a date
        try:
            return max(email.utils.parsedate_to_datetime(raw).timestamp() - now, 0.0)
        except (TypeError, ValueError, IndexError):
            pass
    return None
