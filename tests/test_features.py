import math

import numpy as np
import pandas as pd
import pytest
from conftest import shared_path

from transit.features import LHCO_COLUMNS, dijet_features, wrap_phi


def hand_features(row: pd.Series) -> dict[str, float]:
    """The formulas of method.md §2 written out for one event, with math only."""
    jets = []
    for j in ("1", "2"):
        px, py, pz, m = row[f"pxj{j}"], row[f"pyj{j}"], row[f"pzj{j}"], row[f"mj{j}"]
        pt = math.hypot(px, py)
        energy = math.sqrt(m * m + px * px + py * py + pz * pz)
        tau21 = row[f"tau2j{j}"] / row[f"tau1j{j}"] if row[f"tau1j{j}"] > 0 else math.nan
        jets.append({"px": px, "py": py, "pz": pz, "m": m, "e": energy, "eta": math.asinh(pz / pt),
                         "phi": math.atan2(py, px), "tau21": tau21})  # fmt: skip
    a, b = jets
    mjj = math.sqrt((a["e"] + b["e"]) ** 2 - (a["px"] + b["px"]) ** 2
                    - (a["py"] + b["py"]) ** 2 - (a["pz"] + b["pz"]) ** 2)  # fmt: skip
    dphi = a["phi"] - b["phi"]
    while dphi > math.pi:
        dphi -= 2 * math.pi
    while dphi <= -math.pi:
        dphi += 2 * math.pi
    light, heavy = (a, b) if a["m"] <= b["m"] else (b, a)
    return {
        "mjj": mjj,
        "mj1": light["m"],
        "delta_mj": heavy["m"] - light["m"],
        "tau21_j1": light["tau21"],
        "tau21_j2": heavy["tau21"],
        "delta_R": math.hypot(a["eta"] - b["eta"], dphi),
    }


def test_features_match_hand_computation_on_real_fixture():
    path = shared_path("lhco_format_fixture", "lhco_features_100events.h5")
    frame = pd.read_hdf(path, "df")
    derived = dijet_features({c: frame[c].to_numpy() for c in LHCO_COLUMNS})
    for i, (_, row) in enumerate(frame.iterrows()):
        expected = hand_features(row)
        for name, value in expected.items():
            assert derived[name][i] == pytest.approx(value, rel=1e-9, abs=1e-9), (i, name)
    # physical sanity on real events: dijets in the LHCO sample sit in the TeV range
    assert np.all(derived["delta_mj"] >= 0)
    assert 1000 < np.median(derived["mjj"]) < 10_000
    assert np.all((derived["delta_R"] >= 0) & (derived["delta_R"] < 10))


def test_lighter_jet_comes_first_and_tau1_zero_gives_nan():
    cols = {c: np.array([1.0, 1.0]) for c in LHCO_COLUMNS}
    cols["pxj1"] = np.array([1500.0, 1500.0])
    cols["pxj2"] = np.array([-1400.0, -1400.0])
    cols["mj1"], cols["mj2"] = np.array([300.0, 50.0]), np.array([100.0, 80.0])
    cols["tau1j1"], cols["tau2j1"] = np.array([0.0, 10.0]), np.array([0.0, 5.0])
    cols["tau1j2"], cols["tau2j2"] = np.array([20.0, 20.0]), np.array([5.0, 15.0])
    out = dijet_features(cols)
    np.testing.assert_allclose(out["mj1"], [100.0, 50.0])
    np.testing.assert_allclose(out["delta_mj"], [200.0, 30.0])
    # event 0: the lighter jet is jet 2 (tau21 = 0.25); the heavier has tau1 = 0 -> NaN
    assert out["tau21_j1"][0] == pytest.approx(0.25) and np.isnan(out["tau21_j2"][0])
    np.testing.assert_allclose([out["tau21_j1"][1], out["tau21_j2"][1]], [0.5, 0.75])


def test_wrap_phi_range():
    angles = np.array([0.0, np.pi, -np.pi, 3 * np.pi, 4.0, -4.0])
    wrapped = wrap_phi(angles)
    assert np.all((wrapped > -np.pi) & (wrapped <= np.pi))
    np.testing.assert_allclose(np.cos(wrapped), np.cos(angles), atol=1e-12)
    assert wrapped[2] == pytest.approx(np.pi)
