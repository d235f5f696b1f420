"""Mix generated LHCO-layout files (e.g. QCD and signal from `transit generate`) into one
shuffled file, and count the events per region.

    python scripts/mix_samples.py qcd.h5 signal.h5 --seed 0 --out events.h5 --counts counts.json

Counts per input: events, events in the SR (3300 <= m_jj < 3700 GeV) and the sidebands
(3000-3300 and 3700-4600 GeV), and the 1/50/99% m_jj quantiles (GeV).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

from transit.features import dijet_features
from transit.generate.jets import OUTPUT_COLUMNS
from transit.generate.writer import write_table
from transit.io import write_json_atomic

SR = (3300.0, 3700.0)
SB = ((3000.0, 3300.0), (3700.0, 4600.0))


def counts(frame: pd.DataFrame) -> dict:
    mjj = dijet_features({c: frame[c].to_numpy() for c in OUTPUT_COLUMNS[:-1]})["mjj"]
    in_sb = np.zeros(len(mjj), dtype=bool)
    for low, high in SB:
        in_sb |= (mjj >= low) & (mjj < high)
    return {
        "events": len(frame),
        "sr": int(((mjj >= SR[0]) & (mjj < SR[1])).sum()),
        "sb": int(in_sb.sum()),
        "mjj_quantiles_gev": np.quantile(mjj, [0.01, 0.5, 0.99]).round(0).tolist(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("inputs", nargs="+", help="LHCO-layout .h5 files (pandas key df)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the shuffle")
    parser.add_argument("--out", required=True)
    parser.add_argument("--counts", help="write the counts per input to this JSON file")
    args = parser.parse_args()
    out = Path(args.out)
    if out.exists():
        raise SystemExit(f"{out} exists; remove it first")
    frames = {Path(p).stem: pd.read_hdf(p, key="df") for p in args.inputs}
    for name, frame in frames.items():
        if tuple(frame.columns) != OUTPUT_COLUMNS:
            raise SystemExit(f"{name}: not the official LHCO layout ({list(frame.columns)})")
    merged = pd.concat(frames.values(), ignore_index=True)
    order = np.random.default_rng(args.seed).permutation(len(merged))
    write_table(out, {c: merged[c].to_numpy()[order] for c in OUTPUT_COLUMNS})
    summary = {name: counts(frame) for name, frame in frames.items()}
    if args.counts:
        write_json_atomic(args.counts, summary)
    print(f"{len(merged)} events in {out}: {summary}")


if __name__ == "__main__":
    main()
