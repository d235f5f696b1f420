"""What a scan directory holds and how far each point got.

```
SCAN_DIR/manifest.json       base config, grid and every point: index, name, dir, params
SCAN_DIR/failures.json       points that failed for good: error, traceback tail, attempts
SCAN_DIR/sessions.json       one entry per `transit scan` of this directory: start, end, wall
                             time, points run, points at once (the measured throughput)
SCAN_DIR/runs/NAME/          one run directory per point (transit.pipeline.run_one)
SCAN_DIR/runs/NAME/error.json   the last error of a point that failed
```

A point is finished only when its ``result.json`` parses, has the current schema_version and
status "complete" (a marker file alone proves nothing).
"""

from __future__ import annotations

import json
import traceback
from pathlib import Path
from typing import Any

from ..config import ConfigError
from ..io import DataError, write_json_atomic
from ..pipeline import RESULT_FILE, SCHEMA_VERSION
from .grid import Point

MANIFEST_FILE = "manifest.json"
FAILURES_FILE = "failures.json"
SESSIONS_FILE = "sessions.json"
ERROR_FILE = "error.json"
RUNS_DIR = "runs"
MANIFEST_VERSION = 1
#: Lines of a traceback kept in error records.
TRACEBACK_LINES = 30


def run_dir(scan_dir: Path, point: Point) -> Path:
    return scan_dir / RUNS_DIR / point.name


def read_result(run_dir: Path) -> dict[str, Any] | None:
    """The run's result if it is complete and of the current schema, else None."""
    try:
        result = json.loads((run_dir / RESULT_FILE).read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    if not isinstance(result, dict) or result.get("schema_version") != SCHEMA_VERSION:
        return None
    return result if result.get("status") == "complete" else None


def read_error(run_dir: Path) -> dict[str, Any] | None:
    try:
        error = json.loads((run_dir / ERROR_FILE).read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    return error if isinstance(error, dict) else None


#: Every point is in one of these states (see point_status).
STATUSES = ("complete", "failed", "incomplete", "missing")


def point_status(run_dir: Path) -> str:
    """``complete``, ``failed`` (error.json, no result), ``incomplete`` (started, no result:
    interrupted or still running) or ``missing`` (never started)."""
    if read_result(run_dir) is not None:
        return "complete"
    if read_error(run_dir) is not None:
        return "failed"
    return "incomplete" if run_dir.is_dir() and any(run_dir.iterdir()) else "missing"


def error_record(exc: BaseException) -> dict[str, Any]:
    """The error as text and the tail of its traceback; ``retry`` is False for errors of the
    input, which would fail again."""
    lines = "".join(traceback.format_exception(exc)).rstrip().splitlines()
    return {
        "error": f"{type(exc).__name__}: {exc}",
        "traceback": "\n".join(lines[-TRACEBACK_LINES:]),
        "retry": not isinstance(exc, ConfigError | DataError),
    }


def manifest(name: str, base: dict[str, Any], grid: dict[str, Any],
             points: list[Point]) -> dict[str, Any]:  # fmt: skip
    entries = [{"index": p.index, "name": p.name, "dir": f"{RUNS_DIR}/{p.name}",
                "params": p.params} for p in points]  # fmt: skip
    return {"manifest_version": MANIFEST_VERSION, "name": name, "base": base, "grid": grid,
            "points": entries}  # fmt: skip


def write_manifest(scan_dir: Path, content: dict[str, Any]) -> None:
    """Write the manifest, or check that the one there describes the same points: a scan
    directory never mixes two scans (the executor may change, the points may not)."""
    path = scan_dir / MANIFEST_FILE
    content = json.loads(json.dumps(content))
    if path.is_file():
        old = read_manifest(scan_dir)
        for key in ("base", "points"):
            if old.get(key) != content[key]:
                detail = _first_difference(key, old.get(key), content[key])
                raise DataError(f"{scan_dir} holds a different scan ({key} differ{detail}): "
                                "choose another output directory, or delete it to start over")
        if old == content:
            return
    write_json_atomic(path, content)


def _first_difference(key: str, old: Any, new: Any) -> str:
    if key == "points" and isinstance(old, list):
        if len(old) != len(new):
            return f": {len(old)} points there, {len(new)} now"
        for a, b in zip(old, new):
            if a != b:
                return f": point {b['index']} was {a.get('name')}, now {b['name']}"
    return ""


def read_manifest(scan_dir: Path) -> dict[str, Any]:
    path = scan_dir / MANIFEST_FILE
    if not path.is_file():
        raise DataError(f"{scan_dir} is not a scan directory: {MANIFEST_FILE} is missing")
    try:
        content = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataError(f"{path} could not be read: {exc}") from None
    if not isinstance(content, dict) or content.get("manifest_version") != MANIFEST_VERSION:
        raise DataError(f"{path} is not a scan manifest of version {MANIFEST_VERSION}")
    return content


def read_sessions(scan_dir: Path) -> list[dict[str, Any]]:
    """The ``sessions.json`` entries (oldest first); none for an unreadable or missing file."""
    try:
        sessions = json.loads((scan_dir / SESSIONS_FILE).read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return []
    return [s for s in sessions if isinstance(s, dict)] if isinstance(sessions, list) else []


def record_session(scan_dir: Path, session: dict[str, Any]) -> None:
    """Add or update (same ``started``) one entry of ``sessions.json``, atomically."""
    sessions = [s for s in read_sessions(scan_dir) if s.get("started") != session["started"]]
    write_json_atomic(scan_dir / SESSIONS_FILE, [*sessions, session])


def searches_per_hour(session: dict[str, Any]) -> float | None:
    """Throughput of one scan session: points run to completion / wall time, per hour."""
    wall, done = session.get("wall_s"), session.get("done")
    if not isinstance(wall, int | float) or not isinstance(done, int) or wall <= 0 or not done:
        return None
    return 3600.0 * done / wall
