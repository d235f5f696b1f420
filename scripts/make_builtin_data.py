"""Build the built-in default data set shipped in the package from our generated sample.

    python scripts/make_builtin_data.py ../shared/data/pythia_lhco_like src/transit/data

Keeps QCD events with m_jj >= 3000 GeV (the generator's m_hat cut shapes the spectrum below
about 2.8 TeV) and every signal event (signal is injected over the whole m_jj range), stores the derived dijet features as float32 in an npz with a ``columns`` array:
``events`` (QCD + signal, with label) and ``extra_qcd`` (independent QCD).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

from transit.features import DERIVED_COLUMNS, dijet_features

MIN_MJJ_GEV = 3000.0


def compact(path: Path) -> np.ndarray:
    frame = pd.read_hdf(path, key="df")
    derived = dijet_features({c: frame[c].to_numpy() for c in frame.columns})
    table = np.column_stack([derived[c] for c in DERIVED_COLUMNS] + [frame["label"].to_numpy()])
    keep = (table[:, 0] >= MIN_MJJ_GEV) | (table[:, -1] == 1)
    return table[keep].astype(np.float32)


def main(source: str, target: str) -> None:
    src, dst = Path(source), Path(target)
    np.savez_compressed(
        dst / "pythia_lhco_like.npz",
        columns=np.array([*DERIVED_COLUMNS, "label"]),
        events=compact(src / "events.h5"),
        extra_qcd=compact(src / "extra_qcd.h5"),
    )


if __name__ == "__main__":
    main(*sys.argv[1:3])
