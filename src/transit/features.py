"""Dijet features from the official LHCO jet columns (method.md §2).

From each jet's 3-momentum and mass: pT = hypot(px, py), eta = asinh(pz / pT),
phi = atan2(py, px), E = sqrt(m^2 + |p|^2). Then
  m_jj      = sqrt((E1 + E2)^2 - |p1 + p2|^2)
  mj1       = mass of the LIGHTER jet, delta_mj = m_heavy - m_light >= 0
  tau21_jX  = tau2 / tau1 of that jet (NaN when tau1 = 0: a one-constituent jet)
  delta_R   = sqrt(d_eta^2 + d_phi^2), d_phi wrapped to (-pi, pi].
All masses in GeV.
"""

from __future__ import annotations

import numpy as np

LHCO_COLUMNS = (
    "pxj1", "pyj1", "pzj1", "mj1", "tau1j1", "tau2j1", "tau3j1",
    "pxj2", "pyj2", "pzj2", "mj2", "tau1j2", "tau2j2", "tau3j2",
)  # fmt: skip

DERIVED_COLUMNS = ("mjj", "mj1", "delta_mj", "tau21_j1", "tau21_j2", "delta_R")


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    out = np.full(num.shape, np.nan)
    np.divide(num, den, out=out, where=den > 0)
    return out


def wrap_phi(dphi: np.ndarray) -> np.ndarray:
    """Wrap an angle difference to (-pi, pi]."""
    wrapped = np.mod(dphi + np.pi, 2 * np.pi) - np.pi
    return np.where(wrapped == -np.pi, np.pi, wrapped)


def dijet_features(columns: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Derived features (see module docstring) from the 14 official LHCO jet columns."""
    c = {k: np.asarray(columns[k], dtype=np.float64) for k in LHCO_COLUMNS}
    p1 = np.stack([c["pxj1"], c["pyj1"], c["pzj1"]])
    p2 = np.stack([c["pxj2"], c["pyj2"], c["pzj2"]])
    e1 = np.sqrt(c["mj1"] ** 2 + (p1**2).sum(0))
    e2 = np.sqrt(c["mj2"] ** 2 + (p2**2).sum(0))
    mjj = np.sqrt(np.clip((e1 + e2) ** 2 - ((p1 + p2) ** 2).sum(0), 0.0, None))

    pt1, pt2 = np.hypot(p1[0], p1[1]), np.hypot(p2[0], p2[1])
    eta1, eta2 = np.arcsinh(_ratio(p1[2], pt1)), np.arcsinh(_ratio(p2[2], pt2))
    dphi = wrap_phi(np.arctan2(p1[1], p1[0]) - np.arctan2(p2[1], p2[0]))
    delta_r = np.hypot(eta1 - eta2, dphi)

    tau21_a = _ratio(c["tau2j1"], c["tau1j1"])
    tau21_b = _ratio(c["tau2j2"], c["tau1j2"])
    first_lighter = c["mj1"] <= c["mj2"]
    return {
        "mjj": mjj,
        "mj1": np.minimum(c["mj1"], c["mj2"]),
        "delta_mj": np.abs(c["mj2"] - c["mj1"]),
        "tau21_j1": np.where(first_lighter, tau21_a, tau21_b),
        "tau21_j2": np.where(first_lighter, tau21_b, tau21_a),
        "delta_R": delta_r,
    }
