"""Markdown table comparing benchmark summaries (the JSON files run_benchmark.py writes).

    python benchmarks/profile_table.py --method transit \
        paper=benchmarks/results/b1_paper_n3000.json fast=benchmarks/results/b1_fast_n3000.json \
        --closure paper=benchmarks/results/b1_paper_n0.json fast=benchmarks/results/b1_fast_n0.json

One row per label: the template stage in minutes (training + generation, median over seeds),
the whole search in minutes and the peak RSS (median of the GNU time measurements), SI@100 and
SI@1000 (mean ± std over seeds) of ``--method`` and, from the ``--closure`` summaries (run at
zero injection), the closure AUC. The last column is the template-time ratio to the first row.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np


def _load(spec: str) -> tuple[str, dict]:
    label, _, path = spec.partition("=")
    return label, json.loads(Path(path).read_text())


def _mean_std(report: dict, method: str, key: str) -> str:
    entry = report["summary"].get(method, {}).get(key)
    if not entry:
        return "-"
    return f"{entry['mean']:.3f} ± {entry['std']:.3f} (n={entry['n']})"


def template_minutes(report: dict, method: str) -> float:
    """Median over seeds of the template stage (training + generation) in minutes."""
    stage = f"{method}_template"
    values = [r["timings_s"][stage] for r in report["runs"] if stage in r["timings_s"]]
    return float(np.median(values)) / 60 if values else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("summaries", nargs="+", metavar="LABEL=JSON")
    parser.add_argument("--closure", nargs="*", default=[], metavar="LABEL=JSON")
    parser.add_argument("--method", default="transit")
    args = parser.parse_args()
    closures = dict(_load(spec) for spec in args.closure)
    print("| profile | template min | search min | peak RSS MB | SI@100 | SI@1000 "
          "| closure AUC (N=0) | template time ratio |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|")
    first = None
    for spec in args.summaries:
        label, report = _load(spec)
        method = label.split(":")[-1] if ":" in label else args.method
        minutes = template_minutes(report, method)
        first = minutes if first is None else first
        process = report["summary"].get("process_median", {})
        closure = closures.get(label)
        cells = [
            label,
            f"{minutes:.1f}",
            f"{process['wall_s'] / 60:.1f}" if process else "-",
            f"{process['peak_rss_mb']:.0f}" if process else "-",
            _mean_std(report, method, "si_at_rej_100"),
            _mean_std(report, method, "si_at_rej_1000"),
            _mean_std(closure, method, "closure_auc") if closure else "-",
            f"{minutes / first:.2f}",
        ]
        print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
