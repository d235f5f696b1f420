"""Static HTML summary of a run directory: ``run_dir/index.html``.

One self-contained page (inline CSS, no JavaScript, no external resources) that opens from the
file system: run name and seed, completeness, configuration, the per-method figures of merit,
bump-hunt significances, event counts, timings and every plot under ``plots/``. All text taken
from the run is escaped with :func:`html.escape`.
"""

from __future__ import annotations

import html
import json
import math
from pathlib import Path
from typing import Any
from urllib.parse import quote

#: Version of the result.json layout this page understands.
SCHEMA_VERSION = 1
RESULT_FILE = "result.json"
CONFIG_FILE = "config.json"
REPORT_FILE = "index.html"
#: Top-level keys of a complete result.json.
EXPECTED_SECTIONS = ("name", "seed", "methods", "n_events", "timings_s", "config")
#: (column header, key in result["methods"][name]).
METRIC_COLUMNS = (
    ("SI@100", "si_at_rej_100"),
    ("SI@1000", "si_at_rej_1000"),
    ("max SIC", "max_sic"),
    ("AUC", "auc"),
    ("closure AUC", "closure_auc"),
)

CSS = """
body { font-family: sans-serif; max-width: 1200px; margin: 1em auto; padding: 0 1em;
       color: #222; }
h1 { font-size: 1.6em; } h2 { border-bottom: 1px solid #ccc; margin-top: 1.5em; }
table { border-collapse: collapse; margin: 0.5em 0; }
th, td { border: 1px solid #bbb; padding: 0.25em 0.6em; text-align: right; }
th { background: #eee; } td.name { text-align: left; font-family: monospace; }
pre { background: #f6f6f6; padding: 0.6em; overflow-x: auto; font-size: 0.9em; }
.status { padding: 0.4em 0.8em; display: inline-block; font-weight: bold; }
.ok { background: #d8f0d8; } .partial { background: #f8e0c0; }
figure { display: inline-block; margin: 0.5em; vertical-align: top; }
figure img { max-width: 560px; border: 1px solid #ddd; }
figcaption { font-size: 0.95em; }
"""


def _e(value: Any) -> str:
    """Escaped text of any value."""
    return html.escape(str(value), quote=True)


def _number(value: Any, digits: int = 4) -> str:
    """Numbers to ``digits`` significant figures; missing or non-finite values as "-"."""
    if value is None or isinstance(value, bool):
        return "-" if value is None else _e(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return f"{value:.{digits}g}" if math.isfinite(value) else "-"
    return _e(value)


def _table(header: list[str], rows: list[list[str]], name_columns: int = 1) -> str:
    """HTML table; cells are already escaped; the first ``name_columns`` are left-aligned."""
    head = "".join(f"<th>{_e(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(
            f'<td class="name">{cell}</td>' if i < name_columns else f"<td>{cell}</td>"
            for i, cell in enumerate(row)
        ) + "</tr>\n"
        for row in rows
    )  # fmt: skip
    return f"<table>\n<tr>{head}</tr>\n{body}</table>\n"


# ---------------------------------------------------------------------------------------------
# Reading the run


def _read_json(path: Path) -> tuple[Any, str | None]:
    """(content, None) or (None, reason it could not be read)."""
    if not path.is_file():
        return None, f"{path.name} is missing"
    try:
        return json.loads(path.read_text()), None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        return None, f"{path.name} could not be read ({exc})"


def _problems(result: Any, reason: str | None) -> list[str]:
    """Why the run is partial; empty for a complete run of the current schema."""
    if reason is not None:
        return [f"{reason}: the run did not finish or failed"]
    if not isinstance(result, dict):
        return [f"{RESULT_FILE} is not a JSON object"]
    problems = []
    version = result.get("schema_version")
    if version is None:
        problems.append(f"{RESULT_FILE} has no schema_version: it is from an older version of "
                        "transit and may lack sections shown here")  # fmt: skip
    elif version != SCHEMA_VERSION:
        problems.append(f"{RESULT_FILE} has schema_version {version!r}, unknown to this report "
                        f"(current {SCHEMA_VERSION})")  # fmt: skip
    missing = [key for key in EXPECTED_SECTIONS if key not in result]
    if missing:
        problems.append(f"{RESULT_FILE} lacks {', '.join(missing)}")
    status = result.get("status", "complete")
    if status != "complete":
        problems.append(f"run status is {status!r}")
    return problems


# ---------------------------------------------------------------------------------------------
# Sections


def _status_section(problems: list[str]) -> str:
    if not problems:
        return '<p class="status ok">Status: complete</p>\n'
    items = "".join(f"<li>{_e(p)}</li>" for p in problems[1:])
    if not items:
        return f'<p class="status partial">Status: PARTIAL: {_e(problems[0])}</p>\n'
    return (f'<p class="status partial">Status: PARTIAL: {_e(problems[0])}</p>\n'
            f"<ul>{items}</ul>\n")  # fmt: skip


def _load_config(result: dict[str, Any], run_dir: Path) -> tuple[Any, str | None]:
    """(configuration, where it came from): result["config"], else config.json, else None."""
    if "config" in result:
        return result["config"], f"{RESULT_FILE}[config]"
    config, reason = _read_json(run_dir / CONFIG_FILE)
    return (config, CONFIG_FILE) if reason is None else (None, None)


def _config_section(config: Any, source: str | None) -> str:
    if source is None:
        return "<h2>Configuration</h2>\n<p>No configuration found.</p>\n"
    text = json.dumps(config, indent=2, sort_keys=True, default=str)
    return f"<h2>Configuration</h2>\n<p>From {_e(source)}:</p>\n<pre>{_e(text)}</pre>\n"


def method_cuts(bump_hunt: Any, method: str) -> list[dict[str, Any]]:
    """The bump-hunt cut records of one method from result["bump_hunt"] ([] if absent)."""
    entry = bump_hunt.get(method) if isinstance(bump_hunt, dict) else None
    cuts = entry.get("cuts") if isinstance(entry, dict) else None
    return [c for c in cuts if isinstance(c, dict)] if isinstance(cuts, list) else []


def _fit_ok(cut: dict[str, Any]) -> bool:
    return cut.get("fit_status") == "ok" and isinstance(cut.get("z"), int | float)


def tightest_fitted_cut(cuts: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The cut with the smallest keep fraction whose sideband fit succeeded, or None."""
    good = [c for c in cuts if _fit_ok(c) and isinstance(c.get("keep_fraction"), int | float)]
    return min(good, key=lambda c: c["keep_fraction"]) if good else None


def best_bump_z(cuts: list[dict[str, Any]]) -> str:
    """Z of the tightest cut (smallest keep fraction) whose fit succeeded, as "Z (top f%)"."""
    tightest = tightest_fitted_cut(cuts)
    if tightest is None:
        return "-"
    return f"{_number(tightest['z'], 3)} (top {100 * tightest['keep_fraction']:g}%)"


def _results_section(result: dict[str, Any]) -> str:
    methods = result.get("methods")
    if not isinstance(methods, dict) or not methods:
        return "<h2>Results</h2>\n<p>No per-method results.</p>\n"
    bump_hunt = result.get("bump_hunt")
    header = ["method", *(title for title, _ in METRIC_COLUMNS), "bump-hunt Z"]
    rows = []
    for name, values in methods.items():
        values = values if isinstance(values, dict) else {}
        cells = [_number(values.get(key)) for _, key in METRIC_COLUMNS]
        rows.append([_e(name), *cells, _e(best_bump_z(method_cuts(bump_hunt, name)))])
    note = ("<p>Bump-hunt Z: local significance of the SR excess after the tightest score cut "
            "whose sideband fit succeeded.</p>\n")  # fmt: skip
    return "<h2>Results</h2>\n" + _table(header, rows) + note


def _bump_hunt_section(result: dict[str, Any]) -> str:
    bump_hunt = result.get("bump_hunt")
    if not isinstance(bump_hunt, dict) or not bump_hunt:
        return ""
    header = ["method", "fit status", "keep fraction", "observed", "expected", "Z", "p-value"]
    rows = []
    for method in bump_hunt:
        for cut in method_cuts(bump_hunt, method):
            expected = _number(cut.get("n_expected"))
            if cut.get("n_expected_err") is not None and expected != "-":
                expected += " &plusmn; " + _number(cut.get("n_expected_err"), 3)
            rows.append([_e(method), _e(cut.get("fit_status", "-")),
                         _number(cut.get("keep_fraction")), _number(cut.get("n_observed")),
                         expected, _number(cut.get("z"), 3),
                         _number(cut.get("p_value"), 3)])  # fmt: skip
    return "<h2>Bump hunt per cut</h2>\n" + _table(header, rows, name_columns=2)


def _mapping_section(title: str, values: Any) -> str:
    """A two-column table of a flat mapping; nested values as compact JSON."""
    if not isinstance(values, dict) or not values:
        return ""
    rows = []
    for key, value in values.items():
        shown = _number(value) if not isinstance(value, dict | list) else _e(json.dumps(value))
        rows.append([_e(key), shown])
    return f"<h2>{_e(title)}</h2>\n" + _table(["", "value"], rows)


def caption(path: Path) -> str:
    """Figure caption from a file name: ``bump_hunt-iad.png`` -> "bump hunt iad"."""
    return path.stem.replace("_", " ").replace("-", " ").strip()


def _plots_section(run_dir: Path) -> str:
    plots = sorted((run_dir / "plots").rglob("*.png")) if (run_dir / "plots").is_dir() else []
    if not plots:
        return "<h2>Plots</h2>\n<p>No plots.</p>\n"
    figures = []
    for png in plots:
        src = quote(png.relative_to(run_dir).as_posix())
        pdf = png.with_suffix(".pdf")
        link = ""
        if pdf.is_file():
            link = f' (<a href="{_e(quote(pdf.relative_to(run_dir).as_posix()))}">PDF</a>)'
        figures.append(f'<figure><img src="{_e(src)}" alt="{_e(caption(png))}">'
                       f"<figcaption>{_e(caption(png))}{link}</figcaption></figure>")  # fmt: skip
    return "<h2>Plots</h2>\n" + "\n".join(figures) + "\n"


def write_report(run_dir: str | Path) -> Path:
    """Write ``run_dir/index.html`` from ``result.json`` (or whatever part of the run exists)
    and the plots under ``run_dir/plots``; return its path. A missing or unreadable result, a
    missing or unknown ``schema_version`` (current: 1) or missing sections mark the page
    "PARTIAL" with the reasons."""
    run_dir = Path(run_dir)
    loaded, reason = _read_json(run_dir / RESULT_FILE)
    problems = _problems(loaded, reason)
    result: dict[str, Any] = loaded if isinstance(loaded, dict) else {}
    config, config_source = _load_config(result, run_dir)
    known = config if isinstance(config, dict) else {}
    name = result.get("name", known.get("name", run_dir.name))
    seed = result.get("seed", known.get("seed", "?"))
    title = f"transit run {name} (seed {seed})"
    body = [
        f"<h1>{_e(title)}</h1>\n",
        _status_section(problems),
        _results_section(result),
        _bump_hunt_section(result),
        _mapping_section("Event counts", result.get("n_events")),
        _mapping_section("Timings [s]", result.get("timings_s")),
        _plots_section(run_dir),
        _config_section(config, config_source),
    ]
    return write_html_page(run_dir / REPORT_FILE, title, body)


def write_html_page(path: Path, title: str, body: list[str]) -> Path:
    """Write a self-contained page (this module's CSS) with ``title`` and the ``body`` parts."""
    page = (f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            f"<title>{_e(title)}</title>\n<style>{CSS}</style>\n</head>\n<body>\n"
            + "".join(body) + "</body>\n</html>\n")  # fmt: skip
    path.write_text(page, encoding="utf-8")
    return path
