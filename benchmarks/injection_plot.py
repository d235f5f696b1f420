"""SI at 1/eps_b = 1000 against the injected N from a set of run directories.

    python benchmarks/injection_plot.py runs/bench/b1_*/seed* --out benchmarks/results/si_vs_n

Reads every RUN_DIR/result.json and draws the SI-vs-N plot with the 3 and 5 sigma lines
(PNG and PDF); prints the table.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from transit.plots import si_vs_injection


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run_dirs", nargs="+")
    parser.add_argument("--out", required=True, help="output path without suffix")
    args = parser.parse_args()
    results = []
    for run_dir in args.run_dirs:
        path = Path(run_dir) / "result.json"
        if path.is_file():
            results.append(json.loads(path.read_text()))
    if not results:
        raise SystemExit("no result.json found in the given directories")
    for result in sorted(results, key=lambda r: r["config"]["injection"]["n_signal"]):
        cells = {m: v.get("si_at_rej_1000") for m, v in result["methods"].items()}
        print(result["config"]["injection"]["n_signal"], result["seed"], cells)
    print(si_vs_injection(results, Path(args.out)))


if __name__ == "__main__":
    main()
