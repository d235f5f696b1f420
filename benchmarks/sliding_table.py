"""Markdown table of a sliding-window scan: one row per signal-region window and method.

    python benchmarks/sliding_table.py runs/scans/b1_sliding [--json OUT.json]

Per window: the SR, the injected signal and the background in it (truth counts, for reading
the table only), S / sqrt(B), and per method SI@1000, the closure AUC where there is one, and
the bump-hunt local Z after each score cut (keep fractions 100%, 10%, 1%, 0.1%; "fit failed"
where the sideband fit did not converge). The windows come from the scan's manifest, the
numbers from each point's result.json; points without a complete one are listed with
their status (missing, failed, ...).
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

from transit.report import method_cuts
from transit.scan.state import point_status, read_manifest, read_result

CUTS = (1.0, 0.1, 0.01, 0.001)


def _z_cell(cut: dict | None) -> str:
    if cut is None:
        return "-"
    return "fit failed" if cut.get("z") is None else f"{cut['z']:.1f}"


def window_rows(scan_dir: Path) -> list[dict]:
    """One dict per (point, method) with the window, truth counts, SI and Z per cut."""
    rows = []
    for entry in read_manifest(scan_dir)["points"]:
        sr = entry["params"].get("regions.sr")
        result = read_result(scan_dir / entry["dir"])
        if result is None:
            rows.append({"sr": sr, "method": None, "status": point_status(scan_dir / entry["dir"])})
            continue
        counts = result["n_events"]
        signal, background = counts["sr_signal"], counts["sr"] - counts["sr_signal"]
        for method, metrics in result["methods"].items():
            cuts = {c["keep_fraction"]: c for c in method_cuts(result["bump_hunt"], method)}
            rows.append({
                "sr": sr, "method": method, "status": "complete",
                "sr_signal": signal, "sr_background": background,
                "s_over_sqrt_b": signal / math.sqrt(background) if background else None,
                "si_at_rej_1000": metrics.get("si_at_rej_1000"),
                "closure_auc": metrics.get("closure_auc"),
                "z": {str(f): (cuts.get(f) or {}).get("z") for f in CUTS},
                "z_cells": [_z_cell(cuts.get(f)) for f in CUTS],
            })  # fmt: skip
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("scan_dir", type=Path)
    parser.add_argument("--json", type=Path, help="also write the rows as JSON")
    args = parser.parse_args()
    rows = window_rows(args.scan_dir)
    cut_titles = " | ".join(f"Z {100 * f:g}%" for f in CUTS)
    print(f"| SR (GeV) | S in SR | S/sqrt(B) | method | SI@1000 | closure AUC | {cut_titles} |")
    print("|" + "---|" * (6 + len(CUTS)))
    for row in rows:
        window = "-".join(f"{v:g}" for v in row["sr"]) if row["sr"] else "?"
        if row["status"] != "complete":
            print(f"| {window} | | | {row['status']} |" + " |" * (2 + len(CUTS)))
            continue
        closure = "-" if row["closure_auc"] is None else f"{row['closure_auc']:.3f}"
        print(f"| {window} | {row['sr_signal']} | {row['s_over_sqrt_b']:.2f} | {row['method']} "
              f"| {row['si_at_rej_1000']:.2f} | {closure} | {' | '.join(row['z_cells'])} |")  # fmt: skip
    if args.json:
        clean = [{k: v for k, v in row.items() if k != "z_cells"} for row in rows]
        args.json.write_text(json.dumps(clean, indent=2) + "\n")


if __name__ == "__main__":
    main()
