"""Shared fixtures: a tiny synthetic dijet-like data set made in well under a second.

Background: a falling m_jj spectrum (exponential above 2.8 TeV) and five features of which two
shift mildly with m_jj (as mj1 and delta_R do in real dijets). Signal: m_jj Gaussian at 3.5 TeV
with distinctive jet masses and low tau21 (two-prong jets).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

COLUMNS = ("mjj", "mj1", "delta_mj", "tau21_j1", "tau21_j2", "delta_R", "label")
SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


def make_background(n: int, rng: np.random.Generator) -> np.ndarray:
    mjj = 2800.0 + rng.exponential(600.0, n)
    shift = (mjj - 3500.0) / 1000.0
    mj1 = rng.gamma(2.0, 50.0, n) * (1 + 0.2 * shift).clip(0.5)
    delta_mj = rng.gamma(1.5, 80.0, n)
    tau21_j1 = rng.beta(5, 3, n)
    tau21_j2 = rng.beta(5, 3, n)
    delta_r = 3.0 + 0.3 * shift + rng.normal(0, 0.25, n)
    return np.column_stack([mjj, mj1, delta_mj, tau21_j1, tau21_j2, delta_r, np.zeros(n)])


def make_signal(n: int, rng: np.random.Generator) -> np.ndarray:
    mjj = rng.normal(3500.0, 120.0, n)
    mj1 = rng.normal(100.0, 10.0, n)
    delta_mj = rng.normal(400.0, 30.0, n)
    tau21_j1 = rng.beta(2, 5, n)
    tau21_j2 = rng.beta(2, 5, n)
    delta_r = 3.0 + rng.normal(0, 0.25, n)
    return np.column_stack([mjj, mj1, delta_mj, tau21_j1, tau21_j2, delta_r, np.ones(n)])


@pytest.fixture(scope="session")
def synthetic_npz(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """npz with a ``columns`` array: ``events`` (20k background + 2k signal, shuffled) and
    ``extra_bkg`` (independent background). Masses in GeV."""
    rng = np.random.default_rng(1234)
    events = np.concatenate([make_background(20_000, rng), make_signal(2_000, rng)])
    events = events[rng.permutation(len(events))]
    path = tmp_path_factory.mktemp("data") / "synthetic.npz"
    np.savez(path, columns=np.array(COLUMNS), events=events,
             extra_bkg=make_background(20_000, rng))  # fmt: skip
    return path


def synthetic_config_dict(path: Path, **changes: object) -> dict:
    """A fast config on the synthetic set (small classifiers, one worker)."""
    values: dict = {
        "name": "synthetic",
        "seed": 3,
        "data": {"path": str(path), "format": "arrays", "key": "events"},
        "extra_background": {"path": str(path), "format": "arrays", "key": "extra_bkg"},
        "features": "lhco5",
        "regions": {"sr": [3300, 3700], "sb": [[3000, 3300], [3700, 4600]]},
        "injection": {"n_signal": 600, "pool": "data"},
        "methods": ["cwola_sb", "iad", "supervised"],
        "cwola": {"n_folds": 3, "n_members": 1, "max_iter": 40},
        "n_workers": 1,
    }
    values.update(changes)
    return values


def shared_path(*parts: str) -> Path:
    """A file in ../shared/data, or skip the test with the reason."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} not present (the shared data sets live beside the repository)")
    return path
