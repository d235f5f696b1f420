"""Invertible scalers for the features x and the resonant mass m (arXiv:2503.04342, sec. 3).

Both scalers serialise to a dict of plain numpy arrays (``to_arrays``/``from_arrays``), so they can
be stored next to model weights without pickling Python objects.
"""

from __future__ import annotations

import numpy as np

# Extra room beyond the fit sample's min and max, as a fraction of its range.
MARGIN = 1e-3
# Quantiles of the fit sample that are mapped onto -2 and +2 after the logit.
QUANTILES = (0.01, 0.99)
# Transformed values are kept this far inside (0, 1) before the logit.
_CLIP = 1e-7


def _finite_array(values: np.ndarray, name: str, ndim: int) -> np.ndarray:
    """Return ``values`` as float64 with ``ndim`` dimensions; raise on NaN/inf or a bad shape."""
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim != ndim:
        raise ValueError(f"{name} must be a {ndim}-d array, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or inf values")
    return arr


def _logit(u: np.ndarray) -> np.ndarray:
    return np.log(u) - np.log1p(-u)


def _sigmoid(y: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * y))


def _fit_range(arr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-feature (min - margin, max + margin) of a fit sample, the margin MARGIN x the range;
    raise if there are fewer than 2 events or a feature is constant."""
    if arr.shape[0] < 2:
        raise ValueError(f"need at least 2 events to fit the feature scaler, got {arr.shape[0]}")
    lo, hi = arr.min(axis=0), arr.max(axis=0)
    width = hi - lo
    constant = np.flatnonzero(width <= 0)
    if constant.size:
        raise ValueError(f"feature(s) {constant.tolist()} are constant; cannot scale them")
    return lo - MARGIN * width, hi + MARGIN * width


class FeatureScaler:
    """Per-feature min-max (with margin) -> logit -> affine map of the 1%/99% quantiles to -2/+2.

    With a = min - eps, b = max + eps (eps = 1e-3 of the range) of the fit sample:
        u = (x - a) / (b - a),   y = log(u / (1 - u)),   t = 4 (y - q01) / (q99 - q01) - 2,
    where q01, q99 are the 1% and 99% quantiles of y on the fit sample (arXiv:2503.04342, sec. 3).
    The inverse is x = a + (b - a) sigmoid(y); any real t maps back inside [a, b]. Inputs outside
    [a, b] are clipped to it by ``transform``.
    """

    def __init__(self) -> None:
        self.lower: np.ndarray | None = None
        self.upper: np.ndarray | None = None
        self.q_low: np.ndarray | None = None
        self.q_high: np.ndarray | None = None

    def fit(self, x: np.ndarray) -> FeatureScaler:
        """Fit on an (n, f) array of finite values; every feature must vary."""
        arr = _finite_array(x, "x", 2)
        self.lower, self.upper = _fit_range(arr)
        y = self._logit_space(arr)
        self.q_low, self.q_high = np.quantile(y, QUANTILES, axis=0)
        degenerate = np.flatnonzero(self.q_high <= self.q_low)
        if degenerate.size:
            raise ValueError(
                f"feature(s) {degenerate.tolist()} have equal 1% and 99% quantiles; "
                "cannot scale them"
            )
        return self

    def _check_fitted(self, n_features: int) -> None:
        if self.lower is None:
            raise ValueError("FeatureScaler is not fitted; call fit() first")
        if n_features != self.lower.shape[0]:
            raise ValueError(f"expected {self.lower.shape[0]} features, got {n_features}")

    def _logit_space(self, arr: np.ndarray) -> np.ndarray:
        u = (arr - self.lower) / (self.upper - self.lower)
        return _logit(np.clip(u, _CLIP, 1.0 - _CLIP))

    def transform(self, x: np.ndarray) -> np.ndarray:
        """Physical units -> scaled space (float64)."""
        arr = _finite_array(x, "x", 2)
        self._check_fitted(arr.shape[1])
        y = self._logit_space(arr)
        return 4.0 * (y - self.q_low) / (self.q_high - self.q_low) - 2.0

    def inverse_transform(self, t: np.ndarray) -> np.ndarray:
        """Scaled space -> physical units (float64)."""
        arr = _finite_array(t, "scaled x", 2)
        self._check_fitted(arr.shape[1])
        y = (arr + 2.0) * (self.q_high - self.q_low) / 4.0 + self.q_low
        return self.lower + (self.upper - self.lower) * _sigmoid(y)

    def to_arrays(self) -> dict[str, np.ndarray]:
        """The fitted parameters as plain float64 arrays."""
        if self.lower is None:
            raise ValueError("FeatureScaler is not fitted; nothing to save")
        return {
            "lower": self.lower.copy(),
            "upper": self.upper.copy(),
            "q_low": self.q_low.copy(),
            "q_high": self.q_high.copy(),
        }

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> FeatureScaler:
        """Rebuild a fitted scaler from ``to_arrays`` output."""
        scaler = cls()
        for key in ("lower", "upper", "q_low", "q_high"):
            setattr(scaler, key, _finite_array(arrays[key], key, 1))
        return scaler


class GaussianQuantileScaler:
    """Per-feature map of the fit sample's empirical CDF onto a standard normal: t = Phi^-1(F(x)).

    F is the piecewise-linear interpolation through ``N_KNOTS`` quantiles of the fit sample at
    probabilities p_i (from P_TAIL to 1 - P_TAIL, plus the sample's min and max, widened by the
    margin, at probabilities P_EDGE and 1 - P_EDGE), so the map and its inverse are monotone and
    piecewise linear in x; outside [min, max] ``transform`` clips. Every marginal becomes a smooth
    bell, so sharp features (e.g. the delta_R peak at pi) no longer need a sharp transport map.
    An alternative to the authors' logit scaling (``FeatureScaler``), chosen by measurement.
    """

    N_KNOTS = 2001
    P_TAIL = 1e-4
    P_EDGE = 1e-6

    def __init__(self) -> None:
        self.knots: np.ndarray | None = None  # (N_KNOTS + 2, f) feature values
        self.normal: np.ndarray | None = None  # (N_KNOTS + 2,) Phi^-1(p)

    def fit(self, x: np.ndarray) -> GaussianQuantileScaler:
        from scipy.special import ndtri

        arr = _finite_array(x, "x", 2)
        lower, upper = _fit_range(arr)
        probs = np.linspace(self.P_TAIL, 1.0 - self.P_TAIL, self.N_KNOTS)
        knots = np.vstack([lower, np.quantile(arr, probs, axis=0), upper])
        # strictly increasing knots (ties at a spike are spread by a negligible amount)
        spread = 1e-9 * (upper - lower) / (1.0 + 2.0 * MARGIN)  # 1e-9 x the sample's range
        knots = np.maximum.accumulate(knots + spread * np.arange(len(knots))[:, None])
        self.knots = knots
        self.normal = ndtri(np.concatenate([[self.P_EDGE], probs, [1.0 - self.P_EDGE]]))
        return self

    def _check_fitted(self, n_features: int) -> None:
        if self.knots is None:
            raise ValueError("GaussianQuantileScaler is not fitted; call fit() first")
        if n_features != self.knots.shape[1]:
            raise ValueError(f"expected {self.knots.shape[1]} features, got {n_features}")

    def transform(self, x: np.ndarray) -> np.ndarray:
        """Physical units -> scaled space (float64)."""
        arr = _finite_array(x, "x", 2)
        self._check_fitted(arr.shape[1])
        return np.column_stack(
            [np.interp(arr[:, j], self.knots[:, j], self.normal) for j in range(arr.shape[1])]
        )

    def inverse_transform(self, t: np.ndarray) -> np.ndarray:
        """Scaled space -> physical units (float64); values beyond the end knots are clipped."""
        arr = _finite_array(t, "scaled x", 2)
        self._check_fitted(arr.shape[1])
        return np.column_stack(
            [np.interp(arr[:, j], self.normal, self.knots[:, j]) for j in range(arr.shape[1])]
        )

    def to_arrays(self) -> dict[str, np.ndarray]:
        """The fitted knots as plain float64 arrays."""
        if self.knots is None:
            raise ValueError("GaussianQuantileScaler is not fitted; nothing to save")
        return {"knots": self.knots.copy(), "normal": self.normal.copy()}

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> GaussianQuantileScaler:
        """Rebuild a fitted scaler from ``to_arrays`` output."""
        scaler = cls()
        scaler.knots = _finite_array(arrays["knots"], "knots", 2)
        scaler.normal = _finite_array(arrays["normal"], "normal", 1)
        return scaler


#: Feature scalings by name: ``logit`` (the authors' recipe) and ``gauss`` (quantile -> normal).
FEATURE_SCALERS = {"logit": FeatureScaler, "gauss": GaussianQuantileScaler}


def feature_scaler_from_arrays(arrays: dict[str, np.ndarray]):
    """Rebuild whichever feature scaler wrote ``arrays``."""
    cls = GaussianQuantileScaler if "knots" in arrays else FeatureScaler
    return cls.from_arrays(arrays)


class MassScaler:
    """Affine map of the mass window [lo, hi] onto [-2, 2]: m' = 4 (m - lo) / (hi - lo) - 2.

    With lo = 3000 and hi = 4600 GeV the signal region [3300, 3700) lands on [-1.25, -0.25)
    (arXiv:2503.04342, sec. 3). No logarithm of the mass is taken.
    """

    def __init__(self, lo: float, hi: float) -> None:
        lo, hi = float(lo), float(hi)
        if not (np.isfinite(lo) and np.isfinite(hi)):
            raise ValueError(f"mass range must be finite, got ({lo}, {hi})")
        if hi <= lo:
            raise ValueError(f"mass range needs lo < hi, got ({lo}, {hi})")
        self.lo = lo
        self.hi = hi

    def transform(self, m: np.ndarray) -> np.ndarray:
        """Physical mass -> scaled mass (float64, same shape)."""
        arr = np.asarray(m, dtype=np.float64)
        if not np.all(np.isfinite(arr)):
            raise ValueError("m contains NaN or inf values")
        return 4.0 * (arr - self.lo) / (self.hi - self.lo) - 2.0

    def inverse_transform(self, m_scaled: np.ndarray) -> np.ndarray:
        """Scaled mass -> physical mass (float64, same shape)."""
        arr = np.asarray(m_scaled, dtype=np.float64)
        return (arr + 2.0) * (self.hi - self.lo) / 4.0 + self.lo

    def to_arrays(self) -> dict[str, np.ndarray]:
        """The range as plain float64 arrays."""
        return {"lo": np.array(self.lo), "hi": np.array(self.hi)}

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> MassScaler:
        """Rebuild from ``to_arrays`` output."""
        return cls(float(arrays["lo"]), float(arrays["hi"]))
