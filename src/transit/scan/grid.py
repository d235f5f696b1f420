"""Grid expansion: the points of a scan, each a checked run config with a stable name.

```yaml
grid:
  product:                    # every combination of these values
    injection.n_signal: [0, 1000, 3000]
    seed: [0, 1, 2]
  zip:                        # fields walked in lockstep (lists of one length); one mapping or
    - {features: [lhco4, lhco5], cwola.n_members: [5, 10]}   # a list of such groups
  windows:                    # sliding signal regions with their sidebands (regions.sr, .sb)
    sr_centres: {start: 3300, stop: 4500, step: 200}   # GeV, stop included; or a list
    sr_width: 400
    sb_width: 300             # on each side; or [below, above]
```

Grid fields are dotted names of run config fields (``transit.config.RunConfig``). The axes,
outermost first: windows, the zip groups, then the product fields in the order written. A
point's name is its index and its parameters, e.g. ``0004-n_signal=1000-seed=1``.
"""

from __future__ import annotations

import itertools
import json
import math
import re
from dataclasses import dataclass
from typing import Any

from ..config import ConfigError, RunConfig, check_field, config_from_dict, set_dotted
from ..io import DataError
from ..regions import Regions

GRID_KEYS = ("product", "zip", "windows")
WINDOW_KEYS = ("sr_centres", "sr_width", "sb_width")
#: Longest parameter part of a point name (the index in front keeps names unique).
MAX_NAME_LENGTH = 80


@dataclass(frozen=True)
class Point:
    """One run of the scan: ``params`` (grid field -> value) applied to the base config."""

    index: int
    name: str
    params: dict[str, Any]
    config: RunConfig


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ConfigError(f"{where}: expected a number, got {value!r}")
    return float(value)


def _clean(value: float) -> float | int:
    """Round away float noise from adding steps; whole numbers as int (3300, not 3300.0)."""
    value = round(value, 6)
    return int(value) if value.is_integer() else value


def window_centres(spec: Any) -> list[float]:
    """A list of centres, or ``{start, stop, step}`` with ``stop`` included when on the grid."""
    where = "grid.windows.sr_centres"
    if isinstance(spec, list):
        if not spec:
            raise ConfigError(f"{where} is an empty list")
        return [_number(v, where) for v in spec]
    if not isinstance(spec, dict) or set(spec) != {"start", "stop", "step"}:
        raise ConfigError(f"{where}: give a list of GeV values or {{start, stop, step}}")
    start, stop, step = (_number(spec[k], f"{where}.{k}") for k in ("start", "stop", "step"))
    if step <= 0 or stop < start:
        raise ConfigError(f"{where}: need step > 0 and stop >= start, got {spec}")
    count = math.floor((stop - start) / step + 1e-9) + 1
    return [start + i * step for i in range(count)]


def sliding_windows(
    sr_centres: list[float], sr_width: float, sb_width: float | tuple[float, float]
) -> list[dict[str, Any]]:
    """``regions`` values for each centre c: SR ``[c - w/2, c + w/2)``, a sideband of
    ``sb_width`` GeV below and above it (``[below, above]`` for unequal sidebands)."""
    below, above = (sb_width, sb_width) if isinstance(sb_width, int | float) else sb_width
    if sr_width <= 0 or below <= 0 or above <= 0:
        raise ConfigError(f"grid.windows: sr_width and sb_width must be > 0, got sr_width "
                          f"{sr_width}, sb_width {sb_width}")  # fmt: skip
    windows = []
    for centre in sr_centres:
        lo, hi = centre - sr_width / 2, centre + sr_width / 2
        windows.append({
            "sr": [_clean(lo), _clean(hi)],
            "sb": [[_clean(lo - below), _clean(lo)], [_clean(hi), _clean(hi + above)]],
        })  # fmt: skip
    return windows


def _windows_axis(spec: Any) -> list[dict[str, Any]]:
    if not isinstance(spec, dict):
        raise ConfigError("grid.windows: expected a mapping with " + ", ".join(WINDOW_KEYS))
    unknown, missing = sorted(set(spec) - set(WINDOW_KEYS)), sorted(set(WINDOW_KEYS) - set(spec))
    if unknown or missing:
        raise ConfigError(f"grid.windows: unknown {unknown}, missing {missing}; "
                          f"keys: {', '.join(WINDOW_KEYS)}")  # fmt: skip
    sb = spec["sb_width"]
    if isinstance(sb, list):
        if len(sb) != 2:
            raise ConfigError(f"grid.windows.sb_width: one width or [below, above], got {sb}")
        sb_width: float | tuple[float, float] = tuple(
            _number(v, "grid.windows.sb_width") for v in sb
        )  # type: ignore[assignment]
    else:
        sb_width = _number(sb, "grid.windows.sb_width")
    windows = sliding_windows(window_centres(spec["sr_centres"]),
                              _number(spec["sr_width"], "grid.windows.sr_width"), sb_width)
    return [{"regions.sr": w["sr"], "regions.sb": w["sb"]} for w in windows]


def _lists(spec: Any, where: str) -> dict[str, list[Any]]:
    """A mapping of field -> non-empty list of values."""
    if not isinstance(spec, dict) or not spec:
        raise ConfigError(f"{where}: expected a mapping of field: [values, ...]")
    for name, values in spec.items():
        if not isinstance(values, list):
            raise ConfigError(f"{where}.{name}: expected a list of values, got {values!r}")
        if not values:
            raise ConfigError(f"{where}.{name} is an empty list")
    return spec


def grid_axes(grid: dict[str, Any]) -> list[list[dict[str, Any]]]:
    """The axes of the grid, outermost first; each a list of {field: value} choices."""
    if not isinstance(grid, dict) or not grid:
        raise ConfigError("grid is empty: give at least one of " + ", ".join(GRID_KEYS))
    unknown = sorted(set(grid) - set(GRID_KEYS))
    if unknown:
        raise ConfigError(f"grid: unknown key(s) {unknown}; use {', '.join(GRID_KEYS)}")
    axes: list[list[dict[str, Any]]] = []
    if "windows" in grid:
        axes.append(_windows_axis(grid["windows"]))
    groups = grid.get("zip", [])
    for i, group in enumerate(groups if isinstance(groups, list) else [groups]):
        where = f"grid.zip[{i}]"
        group = _lists(group, where)
        lengths = {name: len(values) for name, values in group.items()}
        if len(set(lengths.values())) > 1:
            raise ConfigError(f"{where}: zipped lists differ in length {lengths}")
        axes.append([dict(zip(group, row)) for row in zip(*group.values())])
    if "product" in grid:
        for name, values in _lists(grid["product"], "grid.product").items():
            axes.append([{name: value} for value in values])
    fields = [name for axis in axes for name in axis[0]]
    for name in fields:
        check_field(name)
    for a, b in itertools.permutations(fields, 2):
        if a == b or b.startswith(a + "."):
            raise ConfigError(f"grid field {b!r} is set twice (also by {a!r}): give each "
                              "field in one place")  # fmt: skip
    return axes


def expand_grid(grid: dict[str, Any]) -> list[dict[str, Any]]:
    """Every point's parameters {field: value}, in a fixed order (see the module docstring)."""
    return [{k: v for choice in combo for k, v in choice.items()}
            for combo in itertools.product(*grid_axes(grid))]  # fmt: skip


def _format_value(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, list | tuple):
        nested = any(isinstance(v, list | tuple) for v in value)
        return ("+" if nested else "-").join(_format_value(v) for v in value)
    if isinstance(value, dict):
        return "-".join(_format_value(v) for v in value.values())
    return str(value)


def params_slug(params: dict[str, Any]) -> str:
    """``key=value-key=value``: keys are the last part of the dotted field (the whole field
    where two would read alike); only ``[A-Za-z0-9._+=-]`` kept, at most MAX_NAME_LENGTH."""
    last = [field.rsplit(".", 1)[-1] for field in params]
    keys = [f if last.count(k) > 1 else k for f, k in zip(params, last)]
    text = "-".join(f"{k}={_format_value(v)}" for k, v in zip(keys, params.values()))
    return re.sub(r"[^A-Za-z0-9._+=-]", "_", text)[:MAX_NAME_LENGTH].rstrip("-_")


def point_name(index: int, params: dict[str, Any], width: int = 4) -> str:
    """``{index}-{params_slug}``, e.g. ``0004-n_signal=1000-seed=1``."""
    slug = params_slug(params)
    return f"{index:0{width}d}" + (f"-{slug}" if slug else "")


def describe(params: dict[str, Any]) -> str:
    return ", ".join(f"{k}={json.dumps(v)}" for k, v in params.items())


def build_points(base: dict[str, Any], grid: dict[str, Any]) -> list[Point]:
    """Expand the grid over ``base`` (run config values) and check every point's config and
    windows, so that a bad point fails before anything runs."""
    all_params = expand_grid(grid)
    width = max(4, len(str(len(all_params) - 1)))
    points = []
    for index, params in enumerate(all_params):
        values = json.loads(json.dumps(base))
        for field, value in params.items():
            set_dotted(values, field.split("."), value, f"grid field {field!r}")
        try:
            config = config_from_dict(values)
            Regions.from_config(config.regions)
        except (ConfigError, DataError) as exc:
            raise ConfigError(f"grid point {index} ({describe(params)}): {exc}") from None
        points.append(Point(index, point_name(index, params, width), params, config))
    return points
