"""One table from a scan directory, however far the scan got.

``collect(scan_dir)`` writes into the scan directory:

- ``table.csv`` and ``table.parquet`` (when pyarrow is installed): one row per point x method
  with the grid parameters, the figures of merit, the bump-hunt significances, the timings and
  the peak RSS; points without a complete result get one row with their status and error;
- ``summary.csv``: mean and standard deviation (numpy's, ddof 0) of every figure of merit over
  the seeds, grouped by all other grid parameters and the method;
- ``plots/si_vs_n*``: SI at 1/eps_b = 1000 against the injected N with the 3 and 5 sigma lines
  (``transit.plots.si_vs_injection``), one plot per combination of the other grid parameters,
  when ``injection.n_signal`` is a grid field;
- ``index.html``: the summary, the plots, every point linked to its run page, the failures,
  and the throughput of each ``transit scan`` session (``sessions.json``: points run to
  completion / wall time).
"""

from __future__ import annotations

import importlib.util
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import numpy as np
import pandas as pd

from .. import plots
from ..io import DataError
from ..report import (
    METRIC_COLUMNS,
    REPORT_FILE,
    method_cuts,
    tightest_fitted_cut,
    write_html_page,
)
from ..report import _e as escape
from ..report import _number as format_number
from ..report import _table as html_table
from .grid import params_slug
from .state import (
    STATUSES,
    point_status,
    read_error,
    read_manifest,
    read_result,
    read_sessions,
    searches_per_hour,
)

log = logging.getLogger(__name__)

METRICS = tuple(key for _, key in METRIC_COLUMNS)
#: Grid fields averaged over in the summary.
SEED_FIELDS = ("seed",)
INJECTION_FIELD = "injection.n_signal"
TABLE_FILE, SUMMARY_FILE, PARQUET_FILE = "table.csv", "summary.csv", "table.parquet"


@dataclass
class Collection:
    """What ``collect`` found and wrote."""

    table: pd.DataFrame
    summary: pd.DataFrame
    status: dict[str, int]
    incomplete: list[dict[str, Any]]
    files: list[Path]


def parquet_available() -> bool:
    """pandas writes parquet through pyarrow (the ``parquet`` extra)."""
    return importlib.util.find_spec("pyarrow") is not None


def _cell(value: Any) -> Any:
    """A grid value as a table cell: numbers and strings as they are, the rest as JSON."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return json.dumps(value)


def _bump_columns(result: dict[str, Any], method: str) -> dict[str, Any]:
    bump_hunt = result.get("bump_hunt")
    tightest = tightest_fitted_cut(method_cuts(bump_hunt, method))
    entry = bump_hunt.get(method) if isinstance(bump_hunt, dict) else None
    scan = entry.get("sliding_scan") if isinstance(entry, dict) else None
    return {
        "bump_z": None if tightest is None else tightest.get("z"),
        "bump_keep_fraction": None if tightest is None else tightest.get("keep_fraction"),
        "sliding_global_z": scan.get("global_z") if isinstance(scan, dict) else None,
    }


def point_rows(scan_dir: Path, entry: dict[str, Any], params: list[str]) -> list[dict[str, Any]]:
    """The table rows of one manifest point: one per method, or one saying why none."""
    run_dir = scan_dir / entry["dir"]
    grid_values = {p: _cell(entry["params"].get(p)) for p in params}
    head = {"index": entry["index"], "point": entry["name"]}
    result = read_result(run_dir)
    if result is None:
        error = read_error(run_dir)
        return [{**head, "status": point_status(run_dir), "method": None, **grid_values,
                 "error": None if error is None else error.get("error")}]  # fmt: skip
    common = {f"time_{stage}_s": seconds for stage, seconds in result["timings_s"].items()}
    common |= {"peak_rss_mb": result.get("peak_rss_mb"), "n_workers": result.get("n_workers")}
    rows = []
    for method, values in result["methods"].items():
        metrics = {key: values.get(key) for key in METRICS}
        rows.append({**head, "status": "complete", "method": method, **grid_values, **metrics,
                     **_bump_columns(result, method), **common})  # fmt: skip
    # a run whose methods were all skipped (e.g. supervised without signal) still has its row
    return rows or [{**head, "status": "complete", "method": None, **grid_values, **common}]


def _uniform(table: pd.DataFrame) -> pd.DataFrame:
    """Columns that mix strings with numbers become strings (parquet needs one type)."""
    for column in table.columns[table.dtypes == object]:
        kinds = {type(v) for v in table[column] if not pd.isna(v)}
        if len(kinds) > 1:
            table[column] = [None if pd.isna(v) else str(v) for v in table[column]]
    return table


def summarise(table: pd.DataFrame, params: list[str]) -> pd.DataFrame:
    """Mean and std (ddof 0) of each metric and the number of runs per method and grid
    parameters other than the seeds."""
    complete = table[table["status"] == "complete"]
    keys = [p for p in params if p not in SEED_FIELDS] + ["method"]
    if complete.empty:
        return pd.DataFrame(columns=[*keys, "n_runs"])
    values = complete[keys + list(METRICS)].astype({m: float for m in METRICS})
    grouped = values.groupby(keys, dropna=False, sort=False)
    summary = grouped.size().rename("n_runs").to_frame()
    for metric in METRICS:
        summary[f"{metric}_mean"] = grouped[metric].mean()
        summary[f"{metric}_std"] = grouped[metric].std(ddof=0)
    return summary.reset_index()


def si_vs_n_plots(scan_dir: Path, manifest: dict[str, Any], params: list[str]) -> list[Path]:
    """One SI-vs-N plot per combination of the grid parameters other than N and the seeds."""
    if INJECTION_FIELD not in params:
        return []
    others = [p for p in params if p not in (INJECTION_FIELD, *SEED_FIELDS)]
    groups: dict[str, tuple[dict[str, Any], list[dict[str, Any]]]] = {}
    for entry in manifest["points"]:
        result = read_result(scan_dir / entry["dir"])
        if result is None:
            continue
        fixed = {p: entry["params"][p] for p in others}
        key = json.dumps(fixed, sort_keys=True)
        groups.setdefault(key, (fixed, []))[1].append(result)
    written = []
    for fixed, results in groups.values():
        slug = params_slug(fixed)
        stem = scan_dir / "plots" / ("si_vs_n" + (f"-{slug}" if slug else ""))
        written += plots.si_vs_injection(results, stem)
    return written


def _link(scan_dir: Path, entry: dict[str, Any]) -> str:
    run_dir = scan_dir / entry["dir"]
    target = run_dir / REPORT_FILE if (run_dir / REPORT_FILE).is_file() else run_dir
    href = quote(target.relative_to(scan_dir).as_posix())
    return f'<a href="{escape(href)}">{escape(entry["name"])}</a>'


def _mean_std(row: pd.Series, metric: str) -> str:
    mean, std = row[f"{metric}_mean"], row[f"{metric}_std"]
    if not np.isfinite(mean):
        return "-"
    return f"{format_number(float(mean), 3)} &plusmn; {format_number(float(std), 2)}"


def write_index(scan_dir: Path, manifest: dict[str, Any], collection: Collection,
                figures: list[Path], params: list[str]) -> Path:  # fmt: skip
    """``scan_dir/index.html``: status counts, summary, plots, points and failures."""
    name = str(manifest.get("name", scan_dir.name))
    counts = ", ".join(f"{n} {status}" for status, n in collection.status.items())
    body = [f"<h1>transit scan {escape(name)}</h1>\n",
            f"<p>{len(manifest['points'])} points: {escape(counts)}.</p>\n"]  # fmt: skip

    keys = [p for p in params if p not in SEED_FIELDS]
    summary = collection.summary
    if not summary.empty:
        header = [*keys, "method", "runs", *(title for title, _ in METRIC_COLUMNS)]
        rows = [[*(escape(row[k]) for k in keys), escape(row["method"]), str(row["n_runs"]),
                 *(_mean_std(row, m) for m in METRICS)] for _, row in summary.iterrows()]  # fmt: skip
        body += ["<h2>Summary (mean &plusmn; std over seeds)</h2>\n",
                 html_table(header, rows, name_columns=len(keys) + 1)]  # fmt: skip

    pngs = [f for f in figures if f.suffix == ".png"]
    if pngs:
        body.append("<h2>SI at 1/&epsilon;<sub>b</sub> = 1000 against injected N</h2>\n")
        for png in pngs:
            src = escape(quote(png.relative_to(scan_dir).as_posix()))
            body.append(f'<figure><img src="{src}" alt="{escape(png.stem)}">'
                        f"<figcaption>{escape(png.stem)}</figcaption></figure>\n")  # fmt: skip

    table = collection.table
    methods = list(dict.fromkeys(table["method"].dropna()))
    header = ["point", "status", *params, *(f"SI@1000 {m}" for m in methods), "total [s]"]
    rows = []
    for entry in manifest["points"]:
        part = table[table["index"] == entry["index"]]
        first = part.iloc[0]
        si = {r["method"]: r.get("si_at_rej_1000") for _, r in part.iterrows()}
        total = first.get("time_total_s")
        rows.append([_link(scan_dir, entry), escape(first["status"]),
                     *(escape(_cell(entry["params"].get(p))) for p in params),
                     *(format_number(si.get(m), 3) for m in methods),
                     format_number(None if pd.isna(total) else float(total), 3)])  # fmt: skip
    body += ["<h2>Points</h2>\n", html_table(header, rows, name_columns=2 + len(params))]

    if collection.incomplete:
        body.append("<h2>Not complete</h2>\n<ul>\n")
        for item in collection.incomplete:
            error = read_error(scan_dir / item["dir"])
            detail = ""
            if error is not None:
                detail = (f": {escape(error.get('error'))}<pre>"
                          f"{escape(error.get('traceback', ''))}</pre>")  # fmt: skip
            body.append(f"<li>{_link(scan_dir, item)} ({escape(item['status'])}){detail}</li>\n")
        body.append("</ul>\n")

    sessions = read_sessions(scan_dir)
    if sessions:
        header = ["started", "finished", "executor", "at once", "n_workers", "cores", "run",
                  "failed", "wall [s]", "searches / hour"]  # fmt: skip
        rows = [[escape(s.get("started")), escape(s.get("finished") or "interrupted or running"),
                 escape(s.get("executor")), *(escape(s.get(k)) for k in
                 ("at_once", "n_workers", "cores", "done", "failed", "wall_s")),
                 format_number(searches_per_hour(s), 3)] for s in sessions]  # fmt: skip
        body += ["<h2>Scan sessions (throughput)</h2>\n", html_table(header, rows, name_columns=3)]

    title = f"transit scan {name}"
    return write_html_page(scan_dir / REPORT_FILE, title, body)


def collect(scan_dir: str | Path) -> Collection:
    """Read every point of the scan in ``scan_dir`` and write the table, summary, plots and
    index (see the module docstring). Points without a complete result are listed, not fatal."""
    scan_dir = Path(scan_dir)
    if not scan_dir.is_dir():
        raise DataError(f"scan directory {scan_dir} does not exist")
    manifest = read_manifest(scan_dir)
    params = list(dict.fromkeys(p for entry in manifest["points"] for p in entry["params"]))
    rows = [row for entry in manifest["points"] for row in point_rows(scan_dir, entry, params)]
    table = _uniform(pd.DataFrame(rows))
    if "error" not in table:
        table["error"] = None
    status_of = dict(zip(table["index"], table["status"]))
    status = {s: list(status_of.values()).count(s) for s in STATUSES}
    incomplete = [{**entry, "status": status_of[entry["index"]]} for entry in manifest["points"]
                  if status_of[entry["index"]] != "complete"]  # fmt: skip
    collection = Collection(table, summarise(table, params), status, incomplete, [])
    files = [scan_dir / TABLE_FILE, scan_dir / SUMMARY_FILE]
    table.to_csv(files[0], index=False)
    collection.summary.to_csv(files[1], index=False)
    if parquet_available():
        table.to_parquet(scan_dir / PARQUET_FILE, index=False)
        files.append(scan_dir / PARQUET_FILE)
    else:
        log.info("pyarrow is not installed: %s not written (pip install 'transit-ad[parquet]')",
                 PARQUET_FILE)  # fmt: skip
    figures = si_vs_n_plots(scan_dir, manifest, params)
    files += figures
    files.append(write_index(scan_dir, manifest, collection, figures, params))
    collection.files = files
    return collection
