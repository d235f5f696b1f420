"""Bump hunt on the m_jj spectrum after a cut on the classifier score.

The background m_jj spectrum is modelled by the smooth dijet function (e.g. CMS,
arXiv:1911.03947; ATLAS, arXiv:1910.08447), fitted by a binned Poisson likelihood to the sidebands
only and interpolated into the signal region (SR). The observed SR count is compared with the
prediction by a profile likelihood with a Gaussian constraint on the background (Cowan, Cranmer,
Gross, Vitells, arXiv:1007.1727). A sliding-window scan with background-only toys gives the
global significance (look-elsewhere effect, Gross & Vitells arXiv:1005.1891 for the idea; here
estimated by brute-force toys).

Conventions: masses in GeV; windows are half-open [lo, hi); the dijet function is a density in
events per GeV, so the expected count in a bin is its integral over the bin (Simpson's rule).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from scipy import stats

#: Centre-of-mass energy that sets x = m_jj / sqrt(s) in the dijet function.
SQRT_S_GEV = 13000.0
#: Fewer sideband events than this: no fit is attempted.
MIN_SIDEBAND_EVENTS = 10
#: Migrad call limit; a fit that needs more is reported as not converged.
MAX_CALLS = 5000


# ---------------------------------------------------------------------------------------------
# The dijet function and its bin integrals


def _basis(mass: np.ndarray, n_params: int) -> np.ndarray:
    """Columns of ln f = ln p0 + p1 ln(1-x) - p2 ln x - p3 (ln x)^2, one per parameter."""
    x = np.asarray(mass, dtype=float) / SQRT_S_GEV
    log_x = np.log(x)
    columns = [np.ones_like(x), np.log1p(-x), -log_x, -(log_x**2)]
    return np.stack(columns[:n_params], axis=-1)


def _check_n_params(n_params: int) -> None:
    if n_params not in (3, 4):
        raise ValueError(f"n_params = {n_params}: the dijet function has 3 or 4 parameters")


def dijet_function(mass: np.ndarray | float, params: Sequence[float]) -> np.ndarray:
    """Dijet background density (events per GeV) at ``mass`` (GeV):

        f(x) = p0 (1 - x)^p1 / x^(p2 + p3 ln x),   x = m_jj / 13000 GeV,

    the standard smooth function of the CMS and ATLAS dijet resonance searches (e.g. CMS,
    arXiv:1911.03947; ATLAS, arXiv:1910.08447). Three parameters mean p3 = 0.
    """
    _check_n_params(len(params))
    p0, shape = float(params[0]), np.asarray(params[1:], dtype=float)
    if p0 == 0:
        return np.zeros(np.shape(mass))
    # evaluated as exp(ln|p0| + p1 ln(1-x) - p2 ln x - p3 ln^2 x) so that large parameters of
    # opposite effect do not overflow separately
    log_f = _basis(mass, len(params)) @ np.concatenate([[math.log(abs(p0))], shape])
    return math.copysign(1.0, p0) * np.exp(log_f)


def _simpson_nodes(edges: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Nodes (n_bins, 3) at (lo, mid, hi) of each bin and Simpson weights (n_bins, 3):
    integral over a bin of width w ~ w/6 (f(lo) + 4 f(mid) + f(hi))."""
    lo, hi = edges[:-1], edges[1:]
    nodes = np.stack([lo, 0.5 * (lo + hi), hi], axis=1)
    weights = (hi - lo)[:, None] / 6.0 * np.array([1.0, 4.0, 1.0])
    return nodes, weights


def bin_integrals(params: Sequence[float], edges: np.ndarray) -> np.ndarray:
    """Expected count per bin: the dijet function integrated over each bin by Simpson's rule
    (relative error ~ (w/m)^4 / 2880 per bin of width w, negligible for 50 GeV bins)."""
    nodes, weights = _simpson_nodes(np.asarray(edges, dtype=float))
    return np.sum(weights * dijet_function(nodes, params), axis=1)


# ---------------------------------------------------------------------------------------------
# Binning


def _to_milli(value: float) -> int | None:
    """``value`` GeV in integer MeV, or None if it is not a whole number of MeV."""
    scaled = round(value * 1000.0)
    return scaled if abs(value * 1000.0 - scaled) < 1e-6 else None


def common_width(lengths: Sequence[float], target_width: float) -> float | None:
    """The largest width <= ``target_width`` that divides every length exactly: with g the
    greatest common divisor of the lengths (in MeV), w = g / ceil(g / target). None when w
    would be below half the target (the lengths share no reasonable divisor)."""
    milli = [_to_milli(length) for length in lengths]
    if any(m is None or m <= 0 for m in milli):
        return None
    g = math.gcd(*milli) / 1000.0  # type: ignore[arg-type]
    width = g / math.ceil(g / target_width - 1e-9)
    return width if width >= 0.5 * target_width else None


def bin_edges(
    regions_sr: tuple[float, float], span: tuple[float, float], target_width: float = 50.0
) -> np.ndarray:
    """Bin edges over ``span`` with both SR edges among them.

    Uniform bins of the largest width <= ``target_width`` that divides the lower sideband, the
    SR and the upper sideband (50 GeV for SR [3300, 3700) in [3000, 4600)). If no such width is
    at least half the target, each of the three segments gets its own uniform bins of width
    close to the target (variable-width bins that still contain the SR edges).
    """
    (sr_lo, sr_hi), (lo, hi) = regions_sr, span
    if not lo <= sr_lo < sr_hi <= hi:
        raise ValueError(f"SR [{sr_lo:g}, {sr_hi:g}) must lie inside the span [{lo:g}, {hi:g})")
    if target_width <= 0:
        raise ValueError(f"target_width = {target_width}: must be positive")
    segments = [(a, b) for a, b in ((lo, sr_lo), (sr_lo, sr_hi), (sr_hi, hi)) if b > a]
    width = common_width([b - a for a, b in segments], target_width)
    pieces = []
    for a, b in segments:
        n = round((b - a) / width) if width else max(1, round((b - a) / target_width))
        pieces.append(np.linspace(a, b, n + 1)[:-1])
    return np.append(np.concatenate(pieces), hi)


def _sr_bins(edges: np.ndarray, sr: tuple[float, float]) -> np.ndarray:
    """Boolean mask of the bins inside the SR; the SR edges must be bin edges."""
    for edge in sr:
        if not np.any(np.isclose(edges, edge, rtol=0, atol=1e-6)):
            raise ValueError(f"SR edge {edge:g} GeV is not a bin edge: make edges with bin_edges")
    centres = 0.5 * (edges[1:] + edges[:-1])
    return (centres >= sr[0]) & (centres < sr[1])


# ---------------------------------------------------------------------------------------------
# Sideband fit


@dataclass(frozen=True, eq=False)
class FitResult:
    """Result of a dijet-function fit. ``params`` are (p0, p1[, p2, p3]) of
    :func:`dijet_function`; ``covariance`` is their covariance matrix and ``log_covariance``
    that of (ln p0, p1, ...), the parametrisation used for error propagation (it stays finite
    when p0 is huge, as in loosely constrained fits, where ``covariance`` can overflow to inf).
    Parameters and covariances are NaN and ``valid`` is False unless ``status`` is "ok".
    ``chi2_ndf`` is the Poisson deviance (Baker-Cousins likelihood chi2) of the fitted bins over
    (bins - parameters), None when ndf <= 0."""

    params: np.ndarray
    covariance: np.ndarray
    log_covariance: np.ndarray
    valid: bool
    n_params: int
    chi2_ndf: float | None
    status: str

    @property
    def ok(self) -> bool:
        return self.status == "ok"


def _failed(n_params: int, status: str, chi2_ndf: float | None = None) -> FitResult:
    nan, nan_cov = np.full(n_params, np.nan), np.full((n_params, n_params), np.nan)
    return FitResult(nan, nan_cov, nan_cov, False, n_params, chi2_ndf, status)


def _deviance(counts: np.ndarray, mu: np.ndarray) -> float:
    """-2 ln(L / L_saturated) = 2 sum(mu - n + n ln(n / mu)) for Poisson bins (Baker & Cousins,
    NIM 221 (1984) 437); the n ln(n/mu) term is 0 for n = 0."""
    log_term = np.where(counts > 0, counts * np.log(np.where(counts > 0, counts, 1.0) / mu), 0.0)
    return float(2.0 * np.sum(mu - counts + log_term))


def _log_linear_start(
    counts: np.ndarray, nodes: np.ndarray, weights: np.ndarray, n_params: int
) -> tuple[np.ndarray, np.ndarray] | None:
    """Starting values from a weighted least-squares fit of ln(n / w) = B(x_mid) beta over the
    non-empty bins (weights n, since var(ln n) ~ 1/n), and a whitening matrix M: in
    beta = beta0 + M c the Poisson likelihood has a Hessian close to the identity in c, which
    removes the strong correlations of the dijet parameters from the minimisation."""
    filled = counts > 0
    widths = weights.sum(axis=1)
    design = _basis(nodes[filled, 1], n_params) * np.sqrt(counts[filled])[:, None]
    target = np.log(counts[filled] / widths[filled]) * np.sqrt(counts[filled])
    u, s, vt = np.linalg.svd(design, full_matrices=False)
    if s[-1] <= 1e-12 * s[0]:
        return None
    beta0 = vt.T @ ((u.T @ target) / s)
    return beta0, vt.T / s


def _fit_bins(counts: np.ndarray, edges: np.ndarray, used: np.ndarray, n_params: int) -> FitResult:
    """Binned Poisson maximum-likelihood fit of the dijet function to the bins in ``used``:
    Migrad minimises the deviance (-2 ln L up to a constant, errordef 1)."""
    from iminuit import Minuit

    n, (nodes, weights) = counts[used].astype(float), _simpson_nodes(edges)
    nodes, weights = nodes[used], weights[used]
    if n.sum() < MIN_SIDEBAND_EVENTS:
        return _failed(n_params, f"too few events: {n.sum():g} in the sidebands")
    if np.count_nonzero(n) < n_params:
        return _failed(n_params, f"too few events: {np.count_nonzero(n)} non-empty sideband "
                                 f"bins for {n_params} parameters")  # fmt: skip
    start = _log_linear_start(n, nodes, weights, n_params)
    if start is None:
        return _failed(n_params, "fit did not converge: degenerate sideband bins")
    beta0, whiten = start
    basis = _basis(nodes, n_params)  # (bins, 3, params)

    def expected(c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        density = np.exp(basis @ (beta0 + whiten @ c))
        return np.sum(weights * density, axis=1), weights * density

    def cost(c: np.ndarray) -> float:
        with np.errstate(all="ignore"):
            value = _deviance(n, expected(c)[0])
        return value if np.isfinite(value) else 1e300

    def grad(c: np.ndarray) -> np.ndarray:
        with np.errstate(all="ignore"):
            mu, parts = expected(c)
            d_beta = np.einsum("b,bk,bkp->p", 2.0 * (1.0 - n / mu), parts, basis)
        g = whiten.T @ d_beta
        return g if np.all(np.isfinite(g)) else np.zeros_like(g)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        minuit = Minuit(cost, np.zeros(n_params), grad=grad)
        minuit.errordef = Minuit.LEAST_SQUARES
        minuit.migrad(ncall=MAX_CALLS)
        if minuit.valid and not minuit.fmin.has_accurate_covar:
            minuit.hesse()
    return _fit_result(minuit, n, beta0, whiten, n_params)


def _fit_result(
    minuit: Any, counts: np.ndarray, beta0: np.ndarray, whiten: np.ndarray, n_params: int
) -> FitResult:
    """Map the whitened fit back to (p0, ..., p3): beta = beta0 + M c = (ln p0, p1, ...), so
    cov(beta) = M cov(c) M^T and cov(p) = J cov(beta) J^T with J = diag(p0, 1, ..., 1)."""
    ndf = len(counts) - n_params
    chi2_ndf = float(minuit.fval) / ndf if ndf > 0 else None
    valid = bool(minuit.valid and minuit.fmin.has_accurate_covar)
    if not valid or minuit.covariance is None:
        return _failed(n_params, "fit did not converge", chi2_ndf)
    beta = beta0 + whiten @ np.array(minuit.values)
    if not (np.all(np.isfinite(beta)) and -700 < beta[0] < 700):
        return _failed(n_params, "fit did not converge: parameters ran away", chi2_ndf)
    log_cov = whiten @ np.array(minuit.covariance) @ whiten.T
    if not np.all(np.isfinite(log_cov)):
        return _failed(n_params, "fit did not converge: non-finite covariance", chi2_ndf)
    jac = np.eye(n_params)
    jac[0, 0] = math.exp(beta[0])
    with np.errstate(over="ignore", invalid="ignore"):
        cov = jac @ log_cov @ jac.T
    params = np.concatenate([[jac[0, 0]], beta[1:]])
    return FitResult(params, cov, log_cov, True, n_params, chi2_ndf, "ok")


def fit_sidebands(
    counts: np.ndarray, edges: np.ndarray, sr: tuple[float, float], n_params: int = 4
) -> FitResult:
    """Fit the dijet function to the bins outside the SR by a binned Poisson likelihood,

        -2 ln L = 2 sum_i [mu_i - n_i + n_i ln(n_i / mu_i)],  mu_i = int_bin_i f(m) dm,

    (bin integrals by Simpson's rule), minimised with iminuit's Migrad after a log-linear
    least-squares start. Never raises for data problems: too few events or a failed fit are
    reported in ``status`` with NaN parameters.
    """
    _check_n_params(n_params)
    counts, edges = np.asarray(counts), np.asarray(edges, dtype=float)
    if counts.shape != (len(edges) - 1,):
        raise ValueError(f"{len(counts)} counts for {len(edges) - 1} bins")
    return _fit_bins(counts, edges, ~_sr_bins(edges, sr), n_params)


def fit_all_bins(counts: np.ndarray, edges: np.ndarray, n_params: int = 4) -> FitResult:
    """Same Poisson fit as :func:`fit_sidebands` over every bin (the background-only model of
    the whole spectrum used to draw toys)."""
    _check_n_params(n_params)
    counts = np.asarray(counts)
    return _fit_bins(counts, np.asarray(edges, dtype=float), np.ones(len(counts), bool), n_params)


def predict_sr(fit: FitResult, edges: np.ndarray, sr: tuple[float, float]) -> tuple[float, float]:
    """Expected background B in the SR (sum of the SR bin integrals) and its uncertainty by
    linear error propagation, sigma_B^2 = J C J^T, with C the covariance of
    beta = (ln p0, p1, p2, p3) and the ANALYTIC Jacobian
    J_k = dB/dbeta_k = int_SR f(m) d ln f / dbeta_k dm, d ln f / dbeta = (1, ln(1-x), -ln x,
    -ln^2 x), integrated by the same Simpson rule. (NaN, NaN) for a failed fit."""
    if not fit.ok:
        return math.nan, math.nan
    edges = np.asarray(edges, dtype=float)
    nodes, weights = _simpson_nodes(edges)
    in_sr = _sr_bins(edges, sr)
    nodes, weights = nodes[in_sr], weights[in_sr]
    density = weights * dijet_function(nodes, fit.params)
    jac = np.einsum("bk,bkp->p", density, _basis(nodes, fit.n_params))
    variance = float(jac @ fit.log_covariance @ jac)
    return float(density.sum()), math.sqrt(max(variance, 0.0))


# ---------------------------------------------------------------------------------------------
# Significance


def _conditional_background(n_obs: float, b: float, sigma_b: float) -> float:
    """b maximising Pois(n | b) Gauss(b0 | b, sigma) (signal fixed to 0): the positive root of
    b^2 + (sigma^2 - b0) b - n sigma^2 = 0."""
    var = sigma_b**2
    return 0.5 * ((b - var) + math.sqrt((b - var) ** 2 + 4.0 * n_obs * var))


def local_significance(n_obs: float, b: float, sigma_b: float) -> tuple[float, float]:
    """Signed significance Z and one-sided p-value of ``n_obs`` events over a background
    ``b`` +- ``sigma_b`` (Gaussian constraint), by the profile likelihood ratio of
    Cowan et al. (arXiv:1007.1727: the discovery statistic q0, here with a Gaussian constraint
    term for the background):

        L(s, b') = Pois(n | s + b') exp(-(b' - b)^2 / (2 sigma_b^2)),
        q0 = 2 [n ln(n / b'') - (n - b'')] + (b'' - b)^2 / sigma_b^2,

    b'' the conditional estimate at s = 0 (b'' = b when sigma_b = 0, the pure Poisson case
    q0 = 2 [n ln(n/b) - n + b]). s may be negative, so Z = sign(n - b) sqrt(q0) is negative for
    deficits and ~ N(0, 1) without signal; p = 1 - Phi(Z).
    """
    if b <= 0 or n_obs < 0 or sigma_b < 0 or not math.isfinite(b + sigma_b + n_obs):
        raise ValueError(f"need n_obs >= 0, b > 0, sigma_b >= 0 (got {n_obs}, {b}, {sigma_b})")
    b_cond = _conditional_background(n_obs, b, sigma_b) if sigma_b > 0 else b
    q0 = 2.0 * (n_obs * math.log(n_obs / b_cond) if n_obs > 0 else 0.0) - 2.0 * (n_obs - b_cond)
    if sigma_b > 0:
        q0 += (b_cond - b) ** 2 / sigma_b**2
    z = math.copysign(math.sqrt(max(q0, 0.0)), n_obs - b)
    return z, float(stats.norm.sf(z))


# ---------------------------------------------------------------------------------------------
# Bump hunt after score cuts


@dataclass(frozen=True, eq=False)
class BumpHuntDetail:
    """Everything :func:`bump_hunt` computes, for plots: per cut (keyed by keep fraction) the
    m_jj counts and the sideband fit, and the records returned by :func:`bump_hunt`."""

    edges: np.ndarray
    counts: dict[float, np.ndarray]
    fits: dict[float, FitResult]
    records: list[dict[str, Any]]


def _cut_record(
    keep_fraction: float, threshold: float, counts: np.ndarray, edges: np.ndarray,
    sr: tuple[float, float], fit: FitResult,
) -> dict[str, Any]:  # fmt: skip
    """One row of the bump-hunt table; Z, p and the prediction are None unless the fit is ok."""
    n_obs = int(counts[_sr_bins(edges, sr)].sum())
    record: dict[str, Any] = {
        "keep_fraction": keep_fraction, "threshold": threshold, "n_observed": n_obs,
        "n_expected": None, "n_expected_err": None, "z": None, "p_value": None,
        "fit_status": fit.status, "chi2_ndf": fit.chi2_ndf, "n_params": fit.n_params,
    }  # fmt: skip
    if fit.ok:
        b, sigma_b = predict_sr(fit, edges, sr)
        z, p = local_significance(n_obs, b, sigma_b)
        record.update(n_expected=b, n_expected_err=sigma_b, z=z, p_value=p)
    return record


def bump_hunt_detail(
    mass: np.ndarray,
    scores: np.ndarray,
    sr: tuple[float, float],
    span: tuple[float, float],
    keep_fractions: Sequence[float] = (1.0, 0.1, 0.01, 0.001),
    n_params: int = 4,
) -> BumpHuntDetail:
    """:func:`bump_hunt` with the histograms and fits kept (see there)."""
    mass, scores = np.asarray(mass, dtype=float), np.asarray(scores, dtype=float)
    if mass.shape != scores.shape:
        raise ValueError(f"{len(mass)} masses for {len(scores)} scores")
    edges = bin_edges(sr, span)
    inside = (mass >= span[0]) & (mass < span[1])
    counts, fits, records = {}, {}, []
    for fraction in keep_fractions:
        if not 0 < fraction <= 1:
            raise ValueError(f"keep fraction {fraction}: must be in (0, 1]")
        threshold = float(np.quantile(scores, 1.0 - fraction)) if len(scores) else math.nan
        counts[fraction] = np.histogram(mass[inside & (scores >= threshold)], edges)[0]
        fits[fraction] = fit_sidebands(counts[fraction], edges, sr, n_params)
        records.append(_cut_record(fraction, threshold, counts[fraction], edges, sr,
                                   fits[fraction]))  # fmt: skip
    return BumpHuntDetail(edges, counts, fits, records)


def bump_hunt(
    mass: np.ndarray,
    scores: np.ndarray,
    sr: tuple[float, float],
    span: tuple[float, float],
    keep_fractions: Sequence[float] = (1.0, 0.1, 0.01, 0.001),
    n_params: int = 4,
) -> list[dict[str, Any]]:
    """For each keep fraction f: keep the events with score >= the (1 - f) quantile of all
    given scores, histogram m_jj over ``span`` (:func:`bin_edges`), fit the sidebands
    (:func:`fit_sidebands`), predict the SR and compute the local Z (:func:`local_significance`).

    Returns one dict per cut: keep_fraction, threshold, n_observed, n_expected, n_expected_err,
    z, p_value, fit_status, chi2_ndf, n_params. When the fit failed or had too few events,
    n_expected, z and p_value are None and fit_status says why.
    """
    return bump_hunt_detail(mass, scores, sr, span, keep_fractions, n_params).records


# ---------------------------------------------------------------------------------------------
# Sliding-window scan and look-elsewhere effect


def _windows(span: tuple[float, float], width: float, step: float, margin: float) -> np.ndarray:
    """Window lower edges lo = span_lo + margin + k step with lo + width <= span_hi - margin."""
    lows = np.arange(span[0] + margin, span[1] - margin - width + 1e-6, step)
    return np.round(lows, 6)


def _scan_counts(
    counts: np.ndarray, edges: np.ndarray, lows: np.ndarray, width: float, n_params: int
) -> list[dict[str, Any]]:
    """Local fit and Z of every window (sidebands = the rest of the span)."""
    rows = []
    for lo in lows:
        window = (float(lo), float(lo + width))
        fit = fit_sidebands(counts, edges, window, n_params)
        record = _cut_record(1.0, math.nan, counts, edges, window, fit)
        del record["keep_fraction"], record["threshold"]
        rows.append({"window": window, **record})
    return rows


def _max_z(rows: list[dict[str, Any]]) -> float:
    zs = [row["z"] for row in rows if row["z"] is not None]
    return max(zs) if zs else -math.inf


def sliding_window_scan(
    mass: np.ndarray,
    span: tuple[float, float],
    window_width: float,
    step: float,
    n_params: int = 4,
    n_toys: int = 100,
    rng: np.random.Generator | None = None,
    *,
    margin: float | None = None,
    target_width: float = 50.0,
) -> dict[str, Any]:
    """Local Z in every window [lo, lo + window_width), lo stepping by ``step`` and leaving at
    least ``margin`` (default ``step``) of sideband on both sides, then the global p-value:
    fit all bins with the dijet function, draw ``n_toys`` Poisson toys of that fit, rerun the
    scan on each, global p = fraction of toys with max local Z >= the observed max local Z and
    global Z = Phi^-1(1 - p) (None when p is 0 or 1). Windows whose fit fails have z None and
    are left out of the maximum.

    Returns {"windows": [per-window dicts: "window" and the :func:`bump_hunt` keys but
    keep_fraction and threshold],
    "max_local_z", "global_p", "global_z", "n_toys", "n_toys_failed" (toys with no valid
    window)}.
    """
    rng = rng if rng is not None else np.random.default_rng()
    margin = step if margin is None else margin
    width = common_width([span[1] - span[0], window_width, step, margin or step], target_width)
    if width is None:
        raise ValueError(f"no bin width near {target_width} GeV divides the span, window "
                         f"width {window_width:g}, step {step:g} and margin {margin:g}")  # fmt: skip
    edges = np.linspace(*span, round((span[1] - span[0]) / width) + 1)
    lows = _windows(span, window_width, step, margin)
    if len(lows) == 0:
        raise ValueError(f"no window of {window_width:g} GeV fits in {span} with margin {margin:g}")
    mass = np.asarray(mass, dtype=float)
    counts = np.histogram(mass[(mass >= span[0]) & (mass < span[1])], edges)[0]
    rows = _scan_counts(counts, edges, lows, window_width, n_params)
    observed = _max_z(rows)
    toy_max = _toy_max_z(counts, edges, lows, window_width, n_params, n_toys, rng)
    return {"windows": rows, **_global_summary(observed, toy_max)}


def _toy_max_z(
    counts: np.ndarray, edges: np.ndarray, lows: np.ndarray, width: float, n_params: int,
    n_toys: int, rng: np.random.Generator,
) -> np.ndarray:  # fmt: skip
    """Max local Z of each background-only toy (NaN array if the background fit fails)."""
    background = fit_all_bins(counts, edges, n_params)
    if not background.ok or n_toys <= 0:
        return np.full(max(n_toys, 0), np.nan)
    toys = rng.poisson(bin_integrals(background.params, edges), size=(n_toys, len(counts)))
    return np.array([_max_z(_scan_counts(toy, edges, lows, width, n_params)) for toy in toys])


def _global_summary(observed: float, toy_max: np.ndarray) -> dict[str, Any]:
    n_toys = len(toy_max)
    usable = np.isfinite(toy_max)
    if n_toys == 0 or not usable.any() or not math.isfinite(observed):
        return {"max_local_z": observed if math.isfinite(observed) else None, "global_p": None,
                "global_z": None, "n_toys": n_toys,
                "n_toys_failed": int(n_toys - usable.sum())}  # fmt: skip
    p = float(np.mean(toy_max >= observed))
    z = float(stats.norm.isf(p)) if 0 < p < 1 else None
    return {"max_local_z": observed, "global_p": p, "global_z": z, "n_toys": n_toys,
            "n_toys_failed": int(n_toys - usable.sum())}  # fmt: skip


# ---------------------------------------------------------------------------------------------
# Plot


def _plot_cut(
    top: Any, bottom: Any, counts: np.ndarray, edges: np.ndarray, fit: FitResult | None,
    sr: tuple[float, float], label: str,
) -> None:  # fmt: skip
    """One column: data points, fit (bin-integrated stairs), SR band; pulls below."""
    centres, widths = 0.5 * (edges[1:] + edges[:-1]), np.diff(edges)
    top.errorbar(centres, counts, np.sqrt(counts), xerr=widths / 2, fmt="k.", ms=5,
                 label="data")  # fmt: skip
    top.axvspan(*sr, color="C1", alpha=0.15, lw=0, label="SR")
    bottom.axvspan(*sr, color="C1", alpha=0.15, lw=0)
    if fit is not None and fit.ok:
        mu = bin_integrals(fit.params, edges)
        top.stairs(mu, edges, color="C0", lw=2, baseline=None, label="sideband fit")
        pull = (counts - mu) / np.sqrt(mu)
        bottom.bar(centres, pull, width=widths, color="C0", alpha=0.7)
    else:
        reason = fit.status if fit is not None else "no fit"
        top.text(0.5, 0.5, reason, transform=top.transAxes, ha="center", fontsize=11, wrap=True)
    top.set_yscale("log")
    top.set_title(label, fontsize=13)
    bottom.axhline(0, color="k", lw=0.8)
    bottom.set_ylim(-5, 5)
    bottom.set_xlabel(r"$m_{jj}$ [GeV]", fontsize=13)
    for ax in (top, bottom):
        ax.tick_params(labelsize=11)


def plot_bump_hunt(
    counts_by_cut: Mapping[float, np.ndarray],
    edges: np.ndarray,
    fits: Mapping[float, FitResult],
    sr: tuple[float, float],
    stem: Path,
    z_by_cut: Mapping[float, float | None] | None = None,
) -> list[Path]:
    """m_jj histogram after each cut (one column per keep fraction, log y) with the sideband
    fit, the SR shaded, and a pull panel (n - mu) / sqrt(mu) below. Keys of ``counts_by_cut``
    and ``fits`` are the keep fractions (as in :class:`BumpHuntDetail`); the optional local Z
    per cut goes in the titles. Writes ``stem.png`` and ``stem.pdf``."""
    from .plots import _pyplot, save

    plt = _pyplot()
    edges = np.asarray(edges, dtype=float)
    cuts = list(counts_by_cut)
    fig, axes = plt.subplots(2, len(cuts), figsize=(5.0 * len(cuts), 6.0), sharex="col",
                             gridspec_kw={"height_ratios": [3, 1], "hspace": 0.05},
                             squeeze=False)  # fmt: skip
    for i, cut in enumerate(cuts):
        z = (z_by_cut or {}).get(cut)
        label = f"top {100 * cut:g}%" + (f", Z = {z:.1f}" if z is not None else "")
        _plot_cut(axes[0, i], axes[1, i], np.asarray(counts_by_cut[cut]), edges, fits.get(cut),
                  sr, label)  # fmt: skip
    axes[0, 0].set_ylabel("events / bin", fontsize=13)
    axes[1, 0].set_ylabel("pull", fontsize=13)
    axes[0, 0].legend(fontsize=11)
    return save(fig, stem)
