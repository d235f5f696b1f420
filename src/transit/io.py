"""Reading event tables and writing results atomically.

Readers accept the official LHC Olympics features file (pandas HDF5 key ``df``, 15 columns,
GeV), the real signal-region arrays (npz with a ``columns`` array), and any table with named
columns (HDF5 via pandas or h5py, npy structured arrays, npz, parquet, csv). Everything is
converted to :class:`~transit.events.Events` with masses in GeV.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from .config import BUILTIN_PREFIX, SourceConfig
from .events import Events
from .features import DERIVED_COLUMNS, LHCO_COLUMNS, dijet_features

log = logging.getLogger(__name__)

#: Columns whose values are masses and are converted with the file's ``mass_unit``.
MASS_LIKE_COLUMNS = ("mjj", "mj1", "mj2", "delta_mj")
UNIT_TO_GEV = {"GeV": 1.0, "TeV": 1000.0}


class DataError(ValueError):
    """Input data that cannot be used; the message names the file, the problem and the fix."""


def resolve_path(path: str) -> Path:
    """A config path: ``builtin:NAME`` is a data set shipped in the package, else a file path
    (relative paths are taken from the current directory)."""
    if path.startswith(BUILTIN_PREFIX):
        name = path[len(BUILTIN_PREFIX) :]
        resolved = Path(__file__).parent / "data" / f"{name}.npz"
        if not resolved.is_file():
            raise DataError(f"no built-in data set named {name!r}")
        return resolved
    resolved = Path(path).expanduser()
    if not resolved.exists():
        raise DataError(
            f"data file {path} not found (relative paths are read from the current directory, "
            f"{Path.cwd()})"
        )
    return resolved


def _read_npz(path: Path, key: str | None) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as archive:
        names = list(archive.files)
        if "columns" in names:
            arrays = [n for n in names if n != "columns"]
            if key is None:
                if len(arrays) != 1:
                    raise DataError(f"{path} holds several tables {arrays}: set key to one of them")
                key = arrays[0]
            if key not in arrays:
                raise DataError(f"{path} has no array {key!r}; it holds {arrays}")
            columns = [str(c) for c in archive["columns"]]
            table = archive[key]
            if table.ndim != 2 or table.shape[1] != len(columns):
                raise DataError(
                    f"{path}[{key}] has shape {table.shape}, not (n, {len(columns)}) as its "
                    "columns array says"
                )
            return {c: table[:, i] for i, c in enumerate(columns)}
        if key is not None:
            raise DataError(f"{path} is a table of named arrays; key {key!r} does not apply")
        return {n: archive[n] for n in names}


def _read_hdf5(path: Path, key: str | None) -> dict[str, np.ndarray]:
    import pandas as pd

    try:
        frame = pd.read_hdf(path, key=key)
    except (TypeError, ValueError, KeyError) as exc:
        # not a pandas-written file (or no such key): read plain h5py datasets as columns
        import h5py

        with h5py.File(path, "r") as handle:
            group = handle[key] if key is not None and key in handle else handle
            if key is not None and key not in handle:
                raise DataError(f"{path} has no key {key!r} ({exc})") from None
            columns = {
                name: np.asarray(ds[()]) for name, ds in group.items()
                if isinstance(ds, h5py.Dataset) and ds.ndim == 1
            }  # fmt: skip
        if not columns:
            raise DataError(f"{path} holds no pandas table and no 1-D datasets: {exc}") from None
        return columns
    return {str(c): frame[c].to_numpy() for c in frame.columns}


def read_columns(path: Path, key: str | None = None) -> dict[str, np.ndarray]:
    """Read a file into a dict of equally long 1-D column arrays."""
    suffix = path.suffix.lower()
    try:
        if suffix == ".npz":
            columns = _read_npz(path, key)
        elif suffix == ".npy":
            table = np.load(path, allow_pickle=False)
            if table.dtype.names is None:
                raise DataError(
                    f"{path} is a plain array without column names: save a structured array "
                    "or use npz/HDF5/parquet with named columns"
                )
            columns = {n: table[n] for n in table.dtype.names}
        elif suffix in (".h5", ".hdf5", ".hdf"):
            columns = _read_hdf5(path, key)
        elif suffix in (".parquet", ".pq"):
            import pandas as pd

            frame = pd.read_parquet(path)
            columns = {str(c): frame[c].to_numpy() for c in frame.columns}
        elif suffix == ".csv":
            import pandas as pd

            frame = pd.read_csv(path)
            columns = {str(c): frame[c].to_numpy() for c in frame.columns}
        else:
            raise DataError(
                f"{path}: unknown file type {suffix!r}; use .h5/.hdf5, .npz, .npy, .parquet or .csv"
            )
    except DataError:
        raise
    except Exception as exc:  # noqa: BLE001 - corrupt or truncated: name the file and cause
        raise DataError(
            f"could not read {path} ({type(exc).__name__}: {exc}); the file may be truncated or "
            "not of the type its name says"
        ) from None
    lengths = {len(v) for v in columns.values()}
    if len(lengths) > 1:
        raise DataError(f"{path}: columns have different lengths {sorted(lengths)}")
    return columns


def _layout_columns(
    columns: dict[str, np.ndarray], source: SourceConfig, path: Path
) -> dict[str, np.ndarray]:
    """Turn raw columns into usable ones: LHCO jet columns become the dijet features."""
    has_jets = all(c in columns for c in LHCO_COLUMNS)
    if source.format == "lhco" and not has_jets:
        missing = [c for c in LHCO_COLUMNS if c not in columns]
        raise DataError(
            f"{path} is not in the official LHCO layout: missing column(s) {missing}"
        )
    if source.format in ("lhco", "auto") and has_jets:
        derived = dijet_features(columns)
        if source.label_column and source.label_column in columns:
            derived[source.label_column] = columns[source.label_column]
        return derived
    return columns


def load_events(source: SourceConfig, feature_names: tuple[str, ...]) -> tuple[Events, int]:
    """Read one source into Events (masses in GeV) and drop rows with NaN/inf values.

    Returns the events and the number of rows dropped as not finite (logged; a jet with a
    single constituent has tau1 = 0 and so no tau21).
    """
    path = resolve_path(source.path)
    columns = _layout_columns(read_columns(path, source.key), source, path)
    needed = (source.mass_column, *feature_names)
    missing = [c for c in needed if c not in columns]
    if missing:
        hint = ""
        if any(c in DERIVED_COLUMNS for c in missing) and source.format == "table":
            hint = " (derived LHCO features need format lhco or auto on the official layout)"
        raise DataError(
            f"{path}: missing column(s) {missing}; available: {sorted(columns)}{hint}"
        )
    factor = UNIT_TO_GEV[source.mass_unit]

    def as_gev(name: str) -> np.ndarray:
        values = np.asarray(columns[name], dtype=np.float64)
        is_mass = name == source.mass_column or name in MASS_LIKE_COLUMNS
        return values * factor if is_mass else values

    mass = as_gev(source.mass_column)
    features = np.column_stack([as_gev(n) for n in feature_names]) if len(mass) else np.empty(
        (0, len(feature_names))
    )
    label = None
    if source.label_column and source.label_column in columns:
        label = np.asarray(columns[source.label_column], dtype=np.float64)
        bad = ~np.isin(label, (0.0, 1.0))
        if bad.any():
            raise DataError(
                f"{path}: label column {source.label_column!r} must be 0 or 1; found "
                f"{np.unique(label[bad])[:5].tolist()}"
            )
        label = label.astype(np.int8)
    if len(mass) == 0:
        raise DataError(f"{path}: the table is empty")

    finite = np.isfinite(mass) & np.isfinite(features).all(axis=1)
    n_dropped = int((~finite).sum())
    if n_dropped:
        bad_cols = [
            n for n, col in zip((source.mass_column, *feature_names), [mass, *features.T])
            if not np.isfinite(col).all()
        ]  # fmt: skip
        log.warning(
            "%s: dropped %d of %d rows with NaN/inf values (columns %s)",
            path.name, n_dropped, len(mass), ", ".join(bad_cols),
        )  # fmt: skip
        if n_dropped == len(mass):
            raise DataError(f"{path}: every row has a NaN/inf value (columns {bad_cols})")
    events = Events(mass, features, tuple(feature_names), label)
    return (events.select(finite) if n_dropped else events), n_dropped


# ---------------------------------------------------------------------------- results


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` only on success."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def _finite_or_none(obj: Any) -> Any:
    """JSON has no NaN: write undefined numbers as null."""
    if isinstance(obj, dict):
        return {k: _finite_or_none(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite_or_none(v) for v in obj]
    if isinstance(obj, (float, np.floating)) and not math.isfinite(obj):
        return None
    return obj


def write_json_atomic(path: str | Path, obj: Any) -> None:
    text = json.dumps(_finite_or_none(obj), indent=2, default=_json_default, allow_nan=False)
    with atomic_path(path) as tmp:
        tmp.write_text(text + "\n")


def write_arrays_hdf5(path: str | Path, groups: dict[str, dict[str, np.ndarray]]) -> None:
    """Write ``{group: {name: array}}`` to an HDF5 file atomically."""
    import h5py

    with atomic_path(path) as tmp, h5py.File(tmp, "w") as handle:
        for group_name, arrays in groups.items():
            group = handle.require_group(group_name)
            for name, array in arrays.items():
                group.create_dataset(name, data=np.asarray(array), compression="gzip")
