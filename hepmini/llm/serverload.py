"""How busy a local llama-server was while a trial ran: its /slots endpoint, sampled in a background thread.

A server `hepmini serve` keeps up may also be serving other trials or a classifier; their calls share its
cores, so a trial's wall time means little without this figure. The count includes the trial's own call.
"""

import threading

from hepmini.llm.localserver import busy_slots

EVERY = 5.0   # seconds between samples; one GET of /slots costs about a millisecond


class LoadSampler:
    """Counts the server's busy slots every `every` seconds between start() and stop()."""

    def __init__(self, url: str, slots: int, every: float = EVERY):
        self.url, self.slots, self.every = url, slots, every
        self.samples = []
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._sample, name="hepmini-server-load", daemon=True)

    def start(self) -> "LoadSampler":
        self._thread.start()
        return self

    def _sample(self) -> None:
        while True:
            busy = busy_slots(self.url)
            if busy is not None:
                self.samples.append(busy)
            if self._stopped.wait(self.every):
                return

    def stop(self) -> dict:
        """The load seen: mean and most busy slots (None when /slots never answered); stopping twice is harmless."""
        self._stopped.set()
        if self._thread.is_alive():
            self._thread.join(timeout=self.every + 5)
        n = len(self.samples)
        return {"slots": self.slots, "samples": n, "every_seconds": self.every,
                "mean_busy_slots": round(sum(self.samples) / n, 2) if n else None,
                "max_busy_slots": max(self.samples) if n else None}
