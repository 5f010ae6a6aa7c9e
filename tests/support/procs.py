"""What a run left behind, seen from the host: processes found by a marker in their command line."""

import os
from pathlib import Path


def processes_with(marker: str) -> list:
    """Pids of processes whose command line holds `marker`."""
    found = []
    for entry in os.scandir("/proc"):
        try:
            if entry.name.isdigit() and marker.encode() in Path(entry.path, "cmdline").read_bytes():
                found.append(int(entry.name))
        except OSError:
            pass
    return found
