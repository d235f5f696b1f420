"""SI at 1/eps_b = 1000 against the injected N from run directories and benchmark JSON files.

    python benchmarks/injection_plot.py runs/scans/b1_injection_mid/runs/* \
        benchmarks/results/b1_fast_n0.json benchmarks/results/b1_fast_n3000.json \
        --out benchmarks/results/b1_fast_si_vs_n

Each argument is a run directory (its result.json) or a ``run_benchmark.py`` JSON file, whose
runs take their N from the ``injection.n_signal=`` override or else from the base config.
Draws the SI-vs-N plot with the 3 and 5 sigma lines (PNG and PDF) and prints a markdown table
of SI@1000 (mean ± std over the runs of each N, numpy's std) per method, and the JSON of it
with ``--table``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import yaml

from transit.plots import si_vs_injection

KEY = "si_at_rej_1000"
#: Column order of the table; other methods follow.
ORDER = ("transit", "latransit", "cwola_sb", "flow", "iad", "supervised")


def benchmark_runs(path: Path) -> list[dict]:
    """The runs of a run_benchmark.py summary, each with ``config.injection.n_signal``."""
    report = json.loads(path.read_text())
    n_signal = None
    for text in report.get("overrides", []):
        key, _, value = text.partition("=")
        if key == "injection.n_signal":
            n_signal = int(value)
    if n_signal is None:
        n_signal = int(yaml.safe_load(Path(report["config"]).read_text())["injection"]["n_signal"])
    return [{**run, "config": {"injection": {"n_signal": n_signal}}} for run in report["runs"]]


def read_results(paths: list[str]) -> list[dict]:
    results = []
    for name in paths:
        path = Path(name)
        if path.is_file() and path.suffix == ".json":
            results += benchmark_runs(path)
        elif (path / "result.json").is_file():
            results.append(json.loads((path / "result.json").read_text()))
    return results


def table(results: list[dict]) -> dict[str, dict[str, dict[str, float]]]:
    """{method: {N: {mean, std, n}}} of SI@1000."""
    by_n: dict[int, list[dict]] = {}
    for result in results:
        by_n.setdefault(int(result["config"]["injection"]["n_signal"]), []).append(result)
    found = {m for r in results for m in r["methods"]}
    methods = [m for m in ORDER if m in found] + sorted(found - set(ORDER))
    out: dict[str, dict[str, dict[str, float]]] = {}
    for method in methods:
        out[method] = {}
        for n in sorted(by_n):
            values = [r["methods"][method].get(KEY) for r in by_n[n] if method in r["methods"]]
            values = [v for v in values if v is not None]
            if values:
                out[method][str(n)] = {"mean": float(np.mean(values)),
                                       "std": float(np.std(values)), "n": len(values)}  # fmt: skip
    return out


def markdown(rows: dict[str, dict[str, dict[str, float]]]) -> str:
    ns = sorted({int(n) for cells in rows.values() for n in cells})
    lines = ["| method | " + " | ".join(f"N = {n}" for n in ns) + " |",
             "|---|" + "---|" * len(ns)]  # fmt: skip
    for method, cells in rows.items():
        texts = [f"{cells[str(n)]['mean']:.2f} ± {cells[str(n)]['std']:.2f}" if str(n) in cells
                 else "-" for n in ns]  # fmt: skip
        lines.append(f"| {method} | " + " | ".join(texts) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("sources", nargs="+", help="run directories or run_benchmark JSON files")
    parser.add_argument("--out", required=True, help="plot path without suffix")
    parser.add_argument("--table", help="also write the table as JSON here")
    args = parser.parse_args()
    results = read_results(args.sources)
    if not results:
        raise SystemExit("no result.json or benchmark JSON found in the given paths")
    rows = table(results)
    print(markdown(rows))
    counts = sorted({(int(r["config"]["injection"]["n_signal"])) for r in results})
    print(f"{len(results)} runs; N = {counts}")
    if args.table:
        Path(args.table).write_text(json.dumps(rows, indent=2) + "\n")
    print(si_vs_injection(results, Path(args.out)))


if __name__ == "__main__":
    main()
