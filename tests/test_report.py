"""Static HTML report of a run directory."""

from __future__ import annotations

import json
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest

from transit.report import write_report

EVIL = "<script>alert(1)</script>"


class PageParser(HTMLParser):
    """Collects image sources, links, table rows (as lists of cell texts) and all text."""

    def __init__(self) -> None:
        super().__init__()
        self.images: list[str] = []
        self.links: list[str] = []
        self.tables: list[list[list[str]]] = []
        self.text: list[str] = []
        self.tags: list[str] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        values = dict(attrs)
        if tag == "img":
            self.images.append(values["src"] or "")
        elif tag == "a":
            self.links.append(values["href"] or "")
        elif tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self.tables[-1].append([])
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None:
            self.tables[-1][-1].append("".join(self._cell).strip())
            self._cell = None

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self._cell is not None:
            self._cell.append(data)


def make_png(path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(2, 2))
    ax.plot([0, 1], [0, 1])
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=30)
    plt.close(fig)


def make_result(bump_hunt: bool, schema: bool) -> dict[str, Any]:
    methods = {
        "transit_iad": {"si_at_rej_100": 6.25, "si_at_rej_1000": 12.5, "max_sic": 14.75,
                        "auc": 0.8123, "closure_auc": 0.5012},
        EVIL: {"si_at_rej_100": 1.5, "si_at_rej_1000": None, "max_sic": 2.0, "auc": 0.6},
    }  # fmt: skip
    result: dict[str, Any] = {
        "name": "demo_run", "seed": 42, "status": "complete", "methods": methods,
        "n_events": {"sr": 12345, "sb": 67890}, "timings_s": {"train": 12.5, "total": 99.0},
        "config": {"name": "demo_run", "seed": 42, "note": EVIL},
    }  # fmt: skip
    if schema:
        result["schema_version"] = 1
    if bump_hunt:
        cut = {"n_observed": 10, "n_expected": 8.0, "n_expected_err": 1.0, "p_value": 0.2}
        result["bump_hunt"] = {
            "transit_iad": {"cuts": [
                {**cut, "keep_fraction": 1.0, "z": 0.5, "fit_status": "ok"},
                {**cut, "keep_fraction": 0.1, "z": 3.21, "fit_status": "ok"},
                {**cut, "keep_fraction": 0.01, "z": None, "p_value": None,
                 "fit_status": "too few events: 4 in the sidebands"},
            ]},
            EVIL: {"cuts": [{**cut, "keep_fraction": 1.0, "z": None, "p_value": None,
                             "fit_status": "fit did not converge"}]},
        }  # fmt: skip
    return result


def make_run(tmp_path: Path, result: dict[str, Any] | None) -> Path:
    run_dir = tmp_path / "run"
    make_png(run_dir / "plots" / "si_curves.png")
    make_png(run_dir / "plots" / "bump_hunt_transit_iad.png")
    (run_dir / "plots" / "si_curves.pdf").write_bytes(b"%PDF-1.4\n")
    if result is not None:
        (run_dir / "result.json").write_text(json.dumps(result))
    return run_dir


def parse(path: Path) -> tuple[PageParser, str]:
    page = path.read_text()
    parser = PageParser()
    parser.feed(page)
    return parser, page


@pytest.mark.parametrize("bump_hunt", [True, False])
def test_complete_run(tmp_path: Path, bump_hunt: bool) -> None:
    run_dir = make_run(tmp_path, make_result(bump_hunt, schema=True))
    path = write_report(run_dir)
    assert path == run_dir / "index.html"
    parser, page = parse(path)
    text = "".join(parser.text)

    assert "demo_run" in text and "seed 42" in text
    assert "Status: complete" in text and "PARTIAL" not in text
    assert len(parser.images) == 2
    for src in parser.images:
        assert not src.startswith(("/", "http")) and (run_dir / unquote(src)).is_file()
    assert "plots/si_curves.pdf" in parser.links
    assert "si curves" in text and "bump hunt transit iad" in text

    results = parser.tables[0]
    assert results[0][:6] == ["method", "SI@100", "SI@1000", "max SIC", "AUC", "closure AUC"]
    assert len(results) == 1 + 2  # header + one row per method
    rows = {row[0]: row for row in results[1:]}
    assert rows["transit_iad"][1:6] == ["6.25", "12.5", "14.75", "0.8123", "0.5012"]
    assert rows[EVIL][2] == "-" and rows[EVIL][5] == "-"
    if bump_hunt:
        assert rows["transit_iad"][6] == "3.21 (top 10%)"  # tightest cut with a good fit
        assert rows[EVIL][6] == "-"
        per_cut = parser.tables[1]
        assert len(per_cut) == 1 + 4
        assert "too few events: 4 in the sidebands" in text
    else:
        assert all(row[6] == "-" for row in results[1:])
    assert "12345" in text and "67890" in text and "99" in text

    assert EVIL not in page and "script" not in parser.tags
    assert EVIL in text  # shown, escaped
    assert "style" in parser.tags and "http" not in page


def test_result_without_schema_version_is_partial(tmp_path: Path) -> None:
    run_dir = make_run(tmp_path, make_result(bump_hunt=True, schema=False))
    parser, _ = parse(write_report(run_dir))
    text = "".join(parser.text)
    assert "PARTIAL" in text and "older version" in text
    assert len(parser.tables[0]) == 3  # still shows what is there


def test_unknown_schema_version_is_partial(tmp_path: Path) -> None:
    result = {**make_result(bump_hunt=False, schema=True), "schema_version": 7}
    parser, _ = parse(write_report(make_run(tmp_path, result)))
    assert "PARTIAL" in "".join(parser.text) and "schema_version 7" in "".join(parser.text)


def test_missing_sections_are_partial(tmp_path: Path) -> None:
    result = make_result(bump_hunt=False, schema=True)
    del result["timings_s"], result["n_events"]
    parser, _ = parse(write_report(make_run(tmp_path, result)))
    assert "PARTIAL" in "".join(parser.text) and "n_events, timings_s" in "".join(parser.text)


def test_missing_result_is_partial_and_uses_config_json(tmp_path: Path) -> None:
    run_dir = make_run(tmp_path, None)
    (run_dir / "config.json").write_text(json.dumps({"name": "from_config", "seed": 3,
                                                     "note": EVIL}))  # fmt: skip
    parser, page = parse(write_report(run_dir))
    text = "".join(parser.text)
    assert "PARTIAL" in text and "result.json is missing" in text
    assert "from_config" in text and "seed 3" in text
    assert EVIL not in page and len(parser.images) == 2


def test_unreadable_result_is_partial(tmp_path: Path) -> None:
    run_dir = make_run(tmp_path, None)
    (run_dir / "result.json").write_text("{not json")
    parser, _ = parse(write_report(run_dir))
    assert "PARTIAL" in "".join(parser.text) and "could not be read" in "".join(parser.text)
