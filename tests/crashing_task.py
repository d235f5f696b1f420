"""Stand-ins for ``transit.scan.executors.run_point`` whose worker process dies, for the process
pool tests. Kept apart from the test module so that a spawned worker imports nothing heavy."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any


def crash_first_attempt(config: Any, directory: str) -> dict[str, Any]:
    """Kill the worker process on the first attempt at a point named ``*crash-once*`` and on
    every attempt at a point named ``*crash-always*``; count the attempts in ``attempts.txt``."""
    path = Path(directory)
    path.mkdir(parents=True, exist_ok=True)
    counter = path / "attempts.txt"
    attempts = int(counter.read_text()) + 1 if counter.exists() else 1
    counter.write_text(str(attempts))
    if "crash-always" in path.name or ("crash-once" in path.name and attempts == 1):
        os._exit(3)
    return {"status": "done", "seconds": 0.0}
