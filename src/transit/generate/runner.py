"""Generate a sample chunk by chunk, on one or several processes, with a progress bar.

Reproducibility: chunk i of a sample is generated from its own seeds, derived with
``numpy.random.SeedSequence(seed, spawn_key=(process, i))`` (one child for Pythia's
``Random:seed``, one for the detector smearing), and always holds the first ``chunk_events``
accepted events of its own stream. So the output depends on (settings, seed, chunk_events)
only, not on the number of workers nor on interruptions and resumes.
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import queue
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from pathlib import Path
from typing import Any

import numpy as np

from . import GenerateError, require_generator_packages
from .detector import emulate_detector, within_acceptance
from .jets import OUTPUT_COLUMNS, cluster_dijets, lhco_table
from .pythia_source import PYTHIA_SEED_MAX, PythiaSource
from .settings import ETA_MAX, PROCESS_LABEL, PROCESSES, GenerationSettings
from .writer import finished_chunks, merge, prepare, summary_path, write_chunk

log = logging.getLogger(__name__)

#: Events generated per Pythia batch inside a chunk.
BATCH_EVENTS = 200


def chunk_seeds(settings: GenerationSettings, index: int) -> tuple[int, np.random.SeedSequence]:
    """(Pythia Random:seed, SeedSequence for the detector) of chunk ``index``."""
    root = np.random.SeedSequence(settings.seed,
                                  spawn_key=(PROCESSES.index(settings.process), index))
    pythia_child, detector_child = root.spawn(2)
    pythia_seed = int(pythia_child.generate_state(1)[0]) % PYTHIA_SEED_MAX + 1
    return pythia_seed, detector_child


def generate_events(
    settings: GenerationSettings,
    index: int,
    n_events: int,
    progress: Callable[[int], None] | None = None,
) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """The first ``n_events`` accepted events of chunk ``index``: LHCO columns and counts."""
    start = time.perf_counter()
    pythia_seed, detector_seq = chunk_seeds(settings, index)
    rng = np.random.default_rng(detector_seq)
    source = PythiaSource(settings, pythia_seed)
    tables: list[dict[str, np.ndarray]] = []
    n_accepted = n_generated = n_failed = 0
    while n_accepted < n_events:
        batch = source.next_batch(BATCH_EVENTS)
        n_failed += batch.n_failed
        particles = emulate_detector(
            within_acceptance(batch.particles, ETA_MAX), settings.detector, ETA_MAX, rng
        )
        dijets = cluster_dijets(particles)
        table = lhco_table(dijets, PROCESS_LABEL[settings.process])
        take = min(len(dijets.kept), n_events - n_accepted)
        if take < len(dijets.kept):  # count generated events up to the last one kept
            n_generated += int(dijets.kept[take - 1]) + 1
            table = {k: v[:take] for k, v in table.items()}
        else:
            n_generated += batch.particles.n_events
        tables.append(table)
        n_accepted += take
        if progress is not None and take:
            progress(take)
    columns = {k: np.concatenate([t[k] for t in tables]) for k in OUTPUT_COLUMNS}
    info = {
        "index": index,
        "pythia_seed": pythia_seed,
        "n_accepted": n_accepted,
        "n_generated": n_generated,
        "n_failed": n_failed,
        "cross_section_pb": source.cross_section_pb(),
        "seconds": time.perf_counter() - start,
    }
    return columns, info


_progress_queue: Any = None  # set in pool workers: where they report accepted events


def _init_worker(progress_queue: Any) -> None:
    global _progress_queue
    _progress_queue = progress_queue


def _chunk_job(settings_dict: dict, out: str, index: int, n_events: int,
               progress: Callable[[int], None] | None = None) -> dict:  # fmt: skip
    """Generate chunk ``index`` and write it; ``progress`` defaults to the worker's queue."""
    settings = GenerationSettings.from_dict(settings_dict)
    if progress is None and _progress_queue is not None:
        progress = _progress_queue.put
    columns, info = generate_events(settings, index, n_events, progress)
    write_chunk(Path(out), index, columns, info)
    return info


def run_generation(
    settings: GenerationSettings,
    out: str | Path,
    workers: int = 1,
    resume: bool = False,
    overwrite: bool = False,
) -> dict[str, Any]:
    """Generate (or finish) the sample in ``out``; returns the summary written beside it."""
    from tqdm import tqdm

    settings.validate()
    if workers < 1:
        raise GenerateError(f"--workers must be >= 1, got {workers}")
    require_generator_packages()
    out = Path(out)
    prepare(out, settings, resume=resume, overwrite=overwrite)
    sizes = settings.chunk_sizes()
    done = finished_chunks(out)
    pending = [i for i in range(len(sizes)) if i not in done]
    if done:
        log.info("resuming %s: %d of %d chunks already finished", out, len(done), len(sizes))
    start = time.perf_counter()
    bar = tqdm(total=settings.events, initial=sum(sizes[i] for i in done), unit="ev",
               desc=settings.process, smoothing=0.1, disable=None)  # fmt: skip

    def finished(info: dict) -> None:
        log.info("chunk %d: %d events (%.1f events/s)", info["index"], info["n_accepted"],
                 info["n_accepted"] / info["seconds"])  # fmt: skip

    settings_dict = settings.physics_dict()
    try:
        if min(workers, len(pending)) <= 1:
            for index in pending:
                finished(_chunk_job(settings_dict, str(out), index, sizes[index], bar.update))
        else:
            _run_pool(settings_dict, out, pending, sizes, min(workers, len(pending)),
                      bar.update, finished)  # fmt: skip
    except KeyboardInterrupt:
        log.warning("interrupted: finished chunks are kept; rerun with --resume to continue")
        raise
    finally:
        bar.close()
    summary = {"workers": workers, "wall_seconds_last_session": time.perf_counter() - start,
               "versions": _versions()}  # fmt: skip
    merge(out, settings, summary)
    return json.loads(summary_path(out).read_text())


def _run_pool(settings_dict: dict, out: Path, pending: list[int], sizes: list[int],
              n_workers: int, update: Callable[[int], None],
              finished: Callable[[dict], None]) -> None:  # fmt: skip
    context = multiprocessing.get_context("spawn")
    progress_queue = context.Queue()
    with ProcessPoolExecutor(n_workers, mp_context=context, initializer=_init_worker,
                             initargs=(progress_queue,)) as pool:  # fmt: skip
        futures = {pool.submit(_chunk_job, settings_dict, str(out), i, sizes[i]) for i in pending}
        try:
            while futures:
                _drain(progress_queue, update, timeout=0.5)
                done, futures = wait(futures, timeout=0, return_when=FIRST_COMPLETED)
                for future in done:
                    finished(future.result())
        except BaseException:
            for future in futures:
                future.cancel()
            raise
        _drain(progress_queue, update, timeout=0.0)


def _drain(progress_queue: Any, update: Callable[[int], None], timeout: float) -> None:
    try:
        update(progress_queue.get(timeout=timeout))
        while True:
            update(progress_queue.get_nowait())
    except queue.Empty:
        pass


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    found = {}
    for name in ("transit-ad", "pythia8mc", "fastjet", "awkward", "numpy"):
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = "not installed"
    return found
