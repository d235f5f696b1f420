"""Running the points of a scan: in this process, in a local process pool, or on Dask.

Every point is one :func:`run_point` call: ``transit.pipeline.run_one`` into the point's own
directory, skipped when its result is already complete, so a re-run of a scan only runs the
points that are not finished (an interrupted scan loses at most the points in flight). A point
that raises or whose worker dies is retried ``executor.retries`` times (input errors are not
retried), then recorded in ``failures.json`` and its ``error.json``; the other points go on.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import dataclasses
import datetime
import logging
import multiprocessing
import time
import uuid
from collections import Counter, deque
from collections.abc import Callable, Iterator
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from threadpoolctl import threadpool_limits

from ..config import ConfigError, RunConfig
from ..cwola import allotted_cpus
from ..io import write_json_atomic
from ..pipeline import run_one
from .config import JOBQUEUE_CLUSTERS, ClusterConfig, ExecutorConfig, ScanConfig
from .grid import Point, build_points
from .state import (
    ERROR_FILE,
    FAILURES_FILE,
    error_record,
    manifest,
    read_result,
    record_session,
    run_dir,
    searches_per_hour,
    write_manifest,
)

log = logging.getLogger(__name__)

#: The Dask worker resource that lets each worker process run one point at a time.
POINT_RESOURCE = "point"


def run_point(config: RunConfig, directory: str) -> dict[str, Any]:
    """Run one point into ``directory`` unless its result there is complete. Never raises:
    an error comes back as ``{"status": "failed", "error", "traceback", "retry"}`` and is
    written to ``directory/error.json``."""
    path = Path(directory)
    if read_result(path) is not None:
        return {"status": "skipped"}
    (path / ERROR_FILE).unlink(missing_ok=True)
    package_logger = logging.getLogger("transit")
    level = package_logger.level
    if package_logger.getEffectiveLevel() > logging.INFO:  # run.log records INFO in workers too
        package_logger.setLevel(logging.INFO)
    start = time.perf_counter()
    try:
        with threadpool_limits(limits=config.n_workers or allotted_cpus()):
            run_one(config, path, overwrite=True)  # a partial directory is redone
    except Exception as exc:  # noqa: BLE001 - whatever a point raises is reported, not fatal
        record = error_record(exc)
        write_json_atomic(path / ERROR_FILE, record)
        return {"status": "failed", **record}
    finally:
        package_logger.setLevel(level)
    return {"status": "done", "seconds": round(time.perf_counter() - start, 3)}


def plan(executor: ExecutorConfig) -> tuple[int, int]:
    """(points run at once on one machine, ``n_workers`` of each point): the cores of a machine
    (or batch job) shared out so that points never oversubscribe them."""
    cluster = executor.cluster
    if cluster is not None and cluster.batch:
        processes = int(cluster.options.get("processes", 1))
        return processes, max(1, int(cluster.options["cores"]) // processes)
    cores = allotted_cpus()
    tasks = 1 if executor.kind == "inline" else (executor.tasks or cores)
    return tasks, max(1, cores // tasks)


def with_workers(config: RunConfig, n_workers: int) -> RunConfig:
    """The point's config with ``n_workers`` set, unless the run config fixes it already."""
    return config if config.n_workers else dataclasses.replace(config, n_workers=n_workers)


# ---------------------------------------------------------------------------------------------
# Backends: submit(fn, args, key) -> future; wait_any(futures) -> the finished ones


class InlineBackend:
    """One point after another in this process."""

    window = 1

    def submit(self, fn: Callable[..., Any], args: tuple[Any, ...], key: str) -> Any:
        future: concurrent.futures.Future[Any] = concurrent.futures.Future()
        try:
            future.set_result(fn(*args))
        except Exception as exc:  # noqa: BLE001 - handed on, as a pool's future would
            future.set_exception(exc)
        return future

    def wait_any(self, futures: list[Any]) -> set[Any]:
        return set(futures)


class PoolBackend:
    """A local pool of ``tasks`` spawned processes. Only as many points as processes are
    submitted at a time, because a worker that dies breaks the pool and every point in it."""

    def __init__(self, tasks: int) -> None:
        self.window = tasks
        self._pool = self._new_pool()

    def _new_pool(self) -> concurrent.futures.ProcessPoolExecutor:
        return concurrent.futures.ProcessPoolExecutor(
            max_workers=self.window, mp_context=multiprocessing.get_context("spawn")
        )

    def submit(self, fn: Callable[..., Any], args: tuple[Any, ...], key: str) -> Any:
        try:
            return self._pool.submit(fn, *args)
        except BrokenProcessPool:  # a worker died: the failed points were reported, start anew
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = self._new_pool()
            return self._pool.submit(fn, *args)

    def wait_any(self, futures: list[Any]) -> set[Any]:
        done, _ = concurrent.futures.wait(futures, return_when=concurrent.futures.FIRST_COMPLETED)
        return done

    def close(self, interrupted: bool) -> None:
        self._pool.shutdown(wait=not interrupted, cancel_futures=True)


class DaskBackend:
    """A Dask client; each worker process runs one point at a time (resource ``point=1``)."""

    window = None

    def __init__(self, client: Any) -> None:
        self.client = client

    def submit(self, fn: Callable[..., Any], args: tuple[Any, ...], key: str) -> Any:
        return self.client.submit(fn, *args, key=f"{key}-{uuid.uuid4().hex[:8]}", pure=False,
                                  resources={POINT_RESOURCE: 1})  # fmt: skip

    def wait_any(self, futures: list[Any]) -> set[Any]:
        from distributed import wait

        return set(wait(futures, return_when="FIRST_COMPLETED").done)


def make_cluster(cluster: ClusterConfig, tasks: int) -> Any:
    """A ``distributed.LocalCluster`` of ``tasks`` single-threaded workers, or the dask-jobqueue
    cluster named by ``cluster.kind`` with ``cluster.options`` (no job submitted yet)."""
    if not cluster.batch:
        from distributed import LocalCluster

        options = {"dashboard_address": None, **cluster.options}
        return LocalCluster(n_workers=tasks, threads_per_worker=1, processes=True,
                            resources={POINT_RESOURCE: 1}, **options)  # fmt: skip
    try:
        import dask_jobqueue
    except ImportError:
        raise ConfigError(f"executor.cluster.kind {cluster.kind} needs dask-jobqueue: "
                          "pip install 'transit-ad[cluster]'") from None  # fmt: skip
    options = {"processes": 1, **cluster.options}
    extra = [*options.pop("worker_extra_args", []), "--resources", f"{POINT_RESOURCE}=1"]
    return getattr(dask_jobqueue, JOBQUEUE_CLUSTERS[cluster.kind])(
        worker_extra_args=extra, **options
    )


@contextlib.contextmanager
def open_backend(executor: ExecutorConfig, tasks: int) -> Iterator[Any]:
    if executor.kind == "inline":
        yield InlineBackend()
        return
    if executor.kind == "processes":
        pool = PoolBackend(tasks)
        interrupted = True
        try:
            yield pool
            interrupted = False
        finally:
            pool.close(interrupted)
        return
    try:
        import dask
        from distributed import Client
    except ImportError:
        raise ConfigError("executor.kind dask needs dask[distributed]: "
                          "pip install 'dask[distributed]'") from None  # fmt: skip
    # the scan counts attempts itself (executor.retries): a task on a dying worker fails at
    # once; workers are not daemons so that a point may start its own worker processes
    settings = {"distributed.scheduler.allowed-failures": 0, "distributed.worker.daemon": False}
    with dask.config.set(settings):
        settings = executor.cluster or ClusterConfig()
        cluster = make_cluster(settings, tasks)
        if settings.batch:
            cluster.scale(jobs=settings.jobs)
        with cluster, Client(cluster) as client:
            yield DaskBackend(client)


# ---------------------------------------------------------------------------------------------
# The scan


@dataclass
class Progress:
    """Done / failed / remaining points and the time still needed at the rate so far."""

    name: str
    total: int
    finished_before: int
    started: float = field(default_factory=time.monotonic)
    done: int = 0
    failed: int = 0

    @property
    def remaining(self) -> int:
        return self.total - self.finished_before - self.done - self.failed

    def line(self) -> str:
        handled = self.done + self.failed
        eta = "unknown"
        if handled:
            seconds = round((time.monotonic() - self.started) / handled * self.remaining)
            eta = f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"
        return (f"scan {self.name}: {self.finished_before + self.done}/{self.total} done, "
                f"{self.failed} failed, {self.remaining} remaining, ETA {eta}")  # fmt: skip


@dataclass
class ScanOutcome:
    scan_dir: Path
    total: int
    finished_before: int
    done: int
    failures: list[dict[str, Any]]


def prepare_scan(scan: ScanConfig, out: str | Path | None = None) -> tuple[Path, list[Point]]:
    """Expand and check every point, then write (or check) the scan directory's manifest."""
    scan_dir = Path(out) if out is not None else scan.out_dir
    points = build_points(scan.base, scan.grid)
    scan_dir.mkdir(parents=True, exist_ok=True)
    write_manifest(scan_dir, manifest(scan.name, scan.base, scan.grid, points))
    return scan_dir, points


def _outcome(future: Any) -> dict[str, Any]:
    """What a finished future says; a worker that died or a lost task is a retryable failure."""
    try:
        return future.result()
    except Exception as exc:  # noqa: BLE001 - BrokenProcessPool, distributed.KilledWorker, ...
        record = error_record(exc)
        record["error"] = f"the worker running this point died or was lost ({record['error']})"
        return {"status": "failed", **record, "retry": True}


def failure_entry(point: Point, scan_dir: Path, attempts: int,
                  outcome: dict[str, Any]) -> dict[str, Any]:  # fmt: skip
    return {
        "index": point.index,
        "name": point.name,
        "dir": str(run_dir(scan_dir, point).relative_to(scan_dir)),
        "params": point.params,
        "attempts": attempts,
        "error": outcome["error"],
        "traceback": outcome["traceback"],
    }


def _write_failures(scan_dir: Path, failures: dict[int, dict[str, Any]]) -> None:
    write_json_atomic(scan_dir / FAILURES_FILE, [failures[i] for i in sorted(failures)])


def run_scan(
    scan: ScanConfig,
    out: str | Path | None = None,
    task: Callable[[RunConfig, str], dict[str, Any]] = run_point,
) -> ScanOutcome:
    """Run every point not finished yet with ``scan.executor``; ``task`` runs one point."""
    scan_dir, points = prepare_scan(scan, out)
    tasks, n_workers = plan(scan.executor)
    todo = deque(p for p in points if read_result(run_dir(scan_dir, p)) is None)
    progress = Progress(scan.name, len(points), len(points) - len(todo))
    log.info("scan %s: %d points, %d finished before, %d to run (%s, %d at once, n_workers %d)"
             " in %s", scan.name, len(points), progress.finished_before, len(todo),
             scan.executor.kind, tasks, n_workers, scan_dir)  # fmt: skip
    failures: dict[int, dict[str, Any]] = {}
    attempts: Counter[int] = Counter()
    session = {"started": _utc_now(), "finished": None, "wall_s": None,
               "executor": scan.executor.kind, "at_once": tasks, "n_workers": n_workers,
               "cores": allotted_cpus(), "to_run": len(todo), "done": 0, "failed": 0}  # fmt: skip
    if todo:
        record_session(scan_dir, session)  # a killed scan keeps its entry, finished null
        with open_backend(scan.executor, tasks) as backend:
            pending: dict[Any, Point] = {}
            while todo or pending:
                while todo and (backend.window is None or len(pending) < backend.window):
                    point = todo.popleft()
                    attempts[point.index] += 1
                    args = (with_workers(point.config, n_workers), str(run_dir(scan_dir, point)))
                    key = f"{point.name}-attempt{attempts[point.index]}"
                    pending[backend.submit(task, args, key)] = point
                for future in backend.wait_any(list(pending)):
                    point = pending.pop(future)
                    outcome = _outcome(future)
                    tries = attempts[point.index]
                    if outcome["status"] != "failed":
                        progress.done += 1
                    elif outcome["retry"] and tries <= scan.executor.retries:
                        log.warning("point %s failed (attempt %d of %d), retrying: %s",
                                    point.name, tries, scan.executor.retries + 1,
                                    outcome["error"])  # fmt: skip
                        todo.append(point)
                        continue
                    else:
                        progress.failed += 1
                        entry = failure_entry(point, scan_dir, tries, outcome)
                        failures[point.index] = entry
                        write_json_atomic(run_dir(scan_dir, point) / ERROR_FILE, entry)
                        _write_failures(scan_dir, failures)
                        log.error("point %s failed: %s", point.name, outcome["error"])
                    log.info("%s", progress.line())
                    session |= {"done": progress.done, "failed": progress.failed,
                                "wall_s": round(time.monotonic() - progress.started, 1)}
                    record_session(scan_dir, session)
        session |= {"finished": _utc_now(),
                    "wall_s": round(time.monotonic() - progress.started, 1)}
        record_session(scan_dir, session)
        rate = searches_per_hour(session)
        log.info("scan %s: %d points run in %.0f s%s", scan.name, progress.done,
                 session["wall_s"] or 0.0,
                 "" if rate is None else f", {rate:.1f} searches per hour")  # fmt: skip
    _write_failures(scan_dir, failures)
    return ScanOutcome(scan_dir, len(points), progress.finished_before, progress.done,
                       [failures[i] for i in sorted(failures)])  # fmt: skip


def _utc_now() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")


def run_task(scan: ScanConfig, index: int, out: str | Path | None = None) -> dict[str, Any]:
    """Run point ``index`` of the scan in this process with every allotted CPU, as one task of
    a batch job array would (retrying as the scan would); returns its outcome."""
    scan_dir, points = prepare_scan(scan, out)
    if not 0 <= index < len(points):
        raise ConfigError(f"point index {index} is out of range: the scan has {len(points)} "
                          f"points (0 to {len(points) - 1})")  # fmt: skip
    point = points[index]
    config = with_workers(point.config, allotted_cpus())
    directory = run_dir(scan_dir, point)
    for attempt in range(1, scan.executor.retries + 2):
        outcome = run_point(config, str(directory))
        if outcome["status"] != "failed" or not outcome["retry"]:
            break
        log.warning("point %s failed (attempt %d): %s", point.name, attempt, outcome["error"])
    if outcome["status"] == "failed":
        entry = failure_entry(point, scan_dir, attempt, outcome)
        write_json_atomic(directory / ERROR_FILE, entry)
        outcome = {**outcome, **entry}
    return {**outcome, "name": point.name, "dir": str(directory)}
