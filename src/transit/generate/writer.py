"""Chunked output that survives interruption, and the final LHCO-layout file.

``OUT.h5.parts/`` holds ``manifest.json`` (the settings, written first) and, per finished chunk,
``chunk_NNNNN.h5`` (pandas key ``df``) and then ``chunk_NNNNN.json`` (its counts; written last,
atomically: a chunk is finished exactly when its JSON exists). When every chunk is finished,
the chunks are concatenated in order into ``OUT.h5`` (pandas HDF5, key ``df``, the official 15
columns), a summary is written to ``OUT.h5.json`` and the parts directory is removed.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from ..io import atomic_path, write_json_atomic
from . import GenerateError
from .jets import OUTPUT_COLUMNS
from .settings import GenerationSettings

MANIFEST = "manifest.json"


def parts_dir(out: Path) -> Path:
    return out.with_name(out.name + ".parts")


def summary_path(out: Path) -> Path:
    return out.with_name(out.name + ".json")


def chunk_paths(out: Path, index: int) -> tuple[Path, Path]:
    stem = parts_dir(out) / f"chunk_{index:05d}"
    return stem.with_suffix(".h5"), stem.with_suffix(".json")


def write_table(path: Path, columns: dict[str, np.ndarray]) -> None:
    """Write the official layout (pandas HDF5 key ``df``) atomically."""
    import pandas as pd

    frame = pd.DataFrame({name: np.asarray(columns[name], dtype=np.float64)
                          for name in OUTPUT_COLUMNS})  # fmt: skip
    with atomic_path(path) as tmp:
        frame.to_hdf(tmp, key="df", mode="w")


def write_chunk(out: Path, index: int, columns: dict[str, np.ndarray], info: dict) -> None:
    table, done = chunk_paths(out, index)
    write_table(table, columns)
    write_json_atomic(done, info)


def finished_chunks(out: Path) -> dict[int, dict]:
    """Counts of every finished chunk, by index."""
    found = {}
    for done in sorted(parts_dir(out).glob("chunk_*.json")):
        table = done.with_suffix(".h5")
        if table.is_file():
            found[int(done.stem.split("_")[1])] = json.loads(done.read_text())
    return found


def prepare(out: Path, settings: GenerationSettings, resume: bool, overwrite: bool) -> None:
    """Check the output paths against the flags; write the manifest of a new job.

    Errors: ``out`` exists without ``overwrite``; an unfinished job exists without ``resume``
    or ``overwrite``; resuming a job made with different settings."""
    if resume and overwrite:
        raise GenerateError("--resume and --overwrite exclude each other")
    parts = parts_dir(out)
    if out.exists() and not overwrite:
        raise GenerateError(f"{out} already exists: pass --overwrite to replace it")
    if overwrite:
        shutil.rmtree(parts, ignore_errors=True)
        for path in (out, summary_path(out)):
            path.unlink(missing_ok=True)
    manifest = parts / MANIFEST
    wanted = settings.physics_dict()
    if manifest.is_file():
        if not resume:
            raise GenerateError(
                f"an unfinished job is in {parts}: pass --resume to continue it or "
                "--overwrite to start again"
            )
        stored = json.loads(manifest.read_text())["settings"]
        differing = sorted(k for k in set(stored) | set(wanted) if stored.get(k) != wanted.get(k))
        if differing:
            raise GenerateError(
                f"cannot resume {parts}: it was started with different settings ("
                + ", ".join(f"{k}: {stored.get(k)} -> {wanted.get(k)}" for k in differing)
                + "); use the same options or --overwrite"
            )
        return
    parts.mkdir(parents=True, exist_ok=True)
    write_json_atomic(manifest, {"settings": wanted, "chunk_sizes": settings.chunk_sizes()})


def merge(out: Path, settings: GenerationSettings, summary: dict[str, Any]) -> None:
    """Concatenate the finished chunks into ``out``, write the summary, remove the parts."""
    import pandas as pd

    chunks = finished_chunks(out)
    missing = [i for i in range(settings.n_chunks) if i not in chunks]
    if missing:
        raise GenerateError(f"chunks {missing[:10]} of {out} are not finished")
    frames = [pd.read_hdf(chunk_paths(out, i)[0], key="df") for i in range(settings.n_chunks)]
    merged = pd.concat(frames, ignore_index=True)
    if len(merged) != settings.events:
        raise GenerateError(f"chunks hold {len(merged)} events, expected {settings.events}")
    write_table(out, {name: merged[name].to_numpy() for name in OUTPUT_COLUMNS})
    chunk_list = [chunks[i] for i in range(settings.n_chunks)]
    generated = sum(c["n_generated"] for c in chunk_list)
    sigma = sum(c["cross_section_pb"] * c["n_generated"] for c in chunk_list) / generated
    write_json_atomic(summary_path(out), {
        **summary,
        "settings": settings.physics_dict(),
        "events": settings.events,
        "events_generated": generated,
        "acceptance": settings.events / generated,
        "cross_section_pb": sigma,
        "cross_section_accepted_pb": sigma * settings.events / generated,
        "chunks": chunk_list,
    })  # fmt: skip
    shutil.rmtree(parts_dir(out))
