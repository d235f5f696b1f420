"""Bump hunt: dijet function, binning, sideband fit, SR prediction, significance, scans."""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import numpy as np
import pytest
from scipy import integrate, stats

from transit import bumphunt as bh

SPAN = (3000.0, 4600.0)
SR = (3300.0, 3700.0)
SHAPE = (10.0, 5.0, 0.5)  # p1, p2, p3 of the generating dijet function


def true_params(n_events: float, shape: tuple[float, ...] = SHAPE) -> list[float]:
    """Dijet parameters with p0 set so that ``n_events`` are expected over SPAN."""
    unit = integrate.quad(lambda m: bh.dijet_function(m, [1.0, *shape]), *SPAN)[0]
    return [n_events / unit, *shape]


def true_bin_counts(params: list[float], edges: np.ndarray) -> np.ndarray:
    """Exact (adaptive quadrature) bin integrals, independent of the Simpson rule."""
    return np.array([integrate.quad(lambda m: bh.dijet_function(m, params), a, b)[0]
                     for a, b in itertools.pairwise(edges)])  # fmt: skip


def sample_masses(params: list[float], n: int, rng: np.random.Generator) -> np.ndarray:
    """Unbinned masses from the dijet density over SPAN by inverse CDF on a fine grid."""
    grid = np.linspace(*SPAN, 4001)
    cdf = np.concatenate([[0], np.cumsum(bh.bin_integrals(params, grid))])
    return np.interp(rng.uniform(0, cdf[-1], n), cdf, grid)


@pytest.fixture(scope="module")
def edges() -> np.ndarray:
    return bh.bin_edges(SR, SPAN)


def sr_count(counts: np.ndarray, edges: np.ndarray) -> int:
    return int(counts[(edges[:-1] >= SR[0]) & (edges[:-1] < SR[1])].sum())


def test_dijet_function_matches_hand_computation() -> None:
    x = 3500.0 / 13000.0
    expected = 2.0 * (1 - x) ** 10.0 / x ** (5.0 + 0.5 * math.log(x))
    assert bh.dijet_function(3500.0, [2.0, 10.0, 5.0, 0.5]) == pytest.approx(expected, rel=1e-12)
    three = 2.0 * (1 - x) ** 10.0 / x**5.0
    assert bh.dijet_function(3500.0, [2.0, 10.0, 5.0]) == pytest.approx(three, rel=1e-12)
    with pytest.raises(ValueError, match="3 or 4"):
        bh.dijet_function(3500.0, [1.0, 2.0])


def test_bin_integrals_match_quadrature(edges: np.ndarray) -> None:
    params = true_params(1e5)
    assert bh.bin_integrals(params, edges) == pytest.approx(true_bin_counts(params, edges),
                                                            rel=1e-6)  # fmt: skip


def test_bin_edges_contain_sr_edges() -> None:
    edges = bh.bin_edges(SR, SPAN)
    assert np.allclose(np.diff(edges), 50.0)
    assert edges[0] == SPAN[0] and edges[-1] == SPAN[1]
    for edge in SR:
        assert np.any(np.isclose(edges, edge))
    odd = bh.bin_edges((3310.0, 3707.0), SPAN)  # no common width near 50 GeV
    assert odd[0] == SPAN[0] and odd[-1] == SPAN[1]
    assert np.any(np.isclose(odd, 3310.0)) and np.any(np.isclose(odd, 3707.0))
    assert np.all(np.diff(odd) > 30) and np.all(np.diff(odd) < 70)
    with pytest.raises(ValueError, match="inside the span"):
        bh.bin_edges((2900.0, 3300.0), SPAN)


def test_fit_recovers_generating_parameters(edges: np.ndarray) -> None:
    rng = np.random.default_rng(1)
    params = true_params(1e6)
    counts = rng.poisson(true_bin_counts(params, edges))
    fit = bh.fit_sidebands(counts, edges, SR)
    assert fit.status == "ok" and fit.valid and fit.n_params == 4
    pulls = (fit.params - params) / np.sqrt(np.diag(fit.covariance))
    assert np.all(np.abs(pulls) < 4), pulls
    assert 0.4 < fit.chi2_ndf < 2.0
    b, sigma_b = bh.predict_sr(fit, edges, SR)
    truth = sum(true_bin_counts(params, np.array(SR)))
    assert abs(b - truth) < 4 * sigma_b
    assert 0 < sigma_b < 0.02 * truth


def test_three_parameter_fit(edges: np.ndarray) -> None:
    rng = np.random.default_rng(2)
    params = true_params(1e5, (10.0, 5.0))
    counts = rng.poisson(true_bin_counts(params, edges))
    fit = bh.fit_sidebands(counts, edges, SR, n_params=3)
    assert fit.ok and fit.params.shape == (3,) and fit.covariance.shape == (3, 3)
    assert 0.3 < fit.chi2_ndf < 2.5
    b, sigma_b = bh.predict_sr(fit, edges, SR)
    assert abs(b - sum(true_bin_counts(params, np.array(SR)))) < 4 * sigma_b


def test_predict_sr_of_the_truth_without_uncertainty(edges: np.ndarray) -> None:
    params = np.array(true_params(1e5))
    exact = bh.FitResult(params, np.zeros((4, 4)), np.zeros((4, 4)), True, 4, None, "ok")
    b, sigma_b = bh.predict_sr(exact, edges, SR)
    assert b == pytest.approx(sum(true_bin_counts(list(params), np.array(SR))), rel=1e-7)
    assert sigma_b == 0.0


def test_local_significance_known_cases() -> None:
    assert bh.local_significance(100, 100.0, 5.0)[0] == pytest.approx(0.0, abs=1e-12)
    assert bh.local_significance(100, 100.0, 5.0)[1] == pytest.approx(0.5)
    z_big, p_big = bh.local_significance(200, 100.0, 5.0)
    assert z_big > 5 and p_big < 1e-6
    assert bh.local_significance(60, 100.0, 5.0)[0] < -3
    # sigma_b -> 0: the pure Poisson likelihood ratio sqrt(2 (n ln(n/b) - n + b))
    hand = math.sqrt(2 * (130 * math.log(130 / 100) - 130 + 100))
    assert bh.local_significance(130, 100.0, 0.0)[0] == pytest.approx(hand, rel=1e-12)
    assert bh.local_significance(130, 100.0, 1e-4)[0] == pytest.approx(hand, rel=1e-6)
    # a background uncertainty dilutes the excess
    assert bh.local_significance(130, 100.0, 10.0)[0] < hand
    # n = 0: Z = -sqrt(2 b)
    assert bh.local_significance(0, 8.0, 0.0)[0] == pytest.approx(-4.0)
    assert bh.local_significance(0, 8.0, 1.0)[0] < 0
    # large counts: Z ~ (n - b) / sqrt(b + sigma_b^2)
    z, p = bh.local_significance(10_300, 10_000.0, 100.0)
    assert z == pytest.approx(300 / math.sqrt(10_000 + 100**2), rel=0.02)
    assert p == pytest.approx(stats.norm.sf(z))


def test_injected_bump_is_significant_and_background_is_not() -> None:
    rng = np.random.default_rng(3)
    params = true_params(1e5)
    background = sample_masses(params, 100_000, rng)
    bump = rng.normal(3500.0, 100.0, 1500)
    mass = np.concatenate([background, bump])
    scores = np.concatenate([rng.uniform(size=len(background)), rng.uniform(size=len(bump))])
    z_sig = bh.bump_hunt(mass, scores, SR, SPAN, keep_fractions=(1.0,))[0]
    z_bkg = bh.bump_hunt(background, scores[: len(background)], SR, SPAN, keep_fractions=(1.0,))
    assert z_sig["fit_status"] == "ok" and z_sig["z"] > 3
    assert z_bkg[0]["fit_status"] == "ok" and abs(z_bkg[0]["z"]) < 3
    # A score that tags the bump raises its significance after the cut.
    tagged = np.concatenate([rng.uniform(size=len(background)), rng.uniform(0.9, 1, len(bump))])
    rows = bh.bump_hunt(mass, tagged, SR, SPAN, keep_fractions=(1.0, 0.1))
    assert rows[1]["z"] > rows[0]["z"] > 3
    assert set(rows[0]) >= {"keep_fraction", "threshold", "n_observed", "n_expected",
                            "n_expected_err", "z", "p_value", "fit_status", "chi2_ndf",
                            "n_params"}  # fmt: skip


def test_bump_hunt_on_tiny_sample_reports_too_few_events() -> None:
    rng = np.random.default_rng(4)
    mass = sample_masses(true_params(1.0), 300, rng)
    rows = bh.bump_hunt(mass, rng.uniform(size=300), SR, SPAN)
    assert rows[0]["fit_status"] == "ok"
    for row in rows[2:]:  # 3 and 0-1 events left
        assert row["fit_status"].startswith("too few events")
        assert row["z"] is None and row["p_value"] is None and row["n_expected"] is None
    empty = bh.bump_hunt(np.array([]), np.array([]), SR, SPAN, keep_fractions=(1.0,))
    assert empty[0]["fit_status"].startswith("too few events")


def test_non_converging_fit_is_reported(edges: np.ndarray) -> None:
    # all sideband events below the SR, none above: the likelihood has no finite maximum
    counts = np.where(edges[:-1] < SR[0], 1000, 0)
    fit = bh.fit_sidebands(counts, edges, SR)
    assert fit.status.startswith("fit did not converge") and not fit.valid
    assert np.all(np.isnan(fit.params))
    assert all(map(math.isnan, bh.predict_sr(fit, edges, SR)))
    mass = np.repeat(0.5 * (edges[:-1] + edges[1:]), counts)
    row = bh.bump_hunt(mass, np.ones(len(mass)), SR, SPAN, keep_fractions=(1.0,))[0]
    assert row["fit_status"].startswith("fit did not converge")
    assert row["z"] is None and row["p_value"] is None


def test_sliding_window_scan_with_few_toys() -> None:
    rng = np.random.default_rng(5)
    mass = sample_masses(true_params(1e4), 10_000, rng)
    scan = bh.sliding_window_scan(mass, SPAN, 400.0, 200.0, n_params=4, n_toys=4, rng=rng)
    windows = [row["window"] for row in scan["windows"]]
    assert windows[0] == (3200.0, 3600.0) and windows[-1] == (4000.0, 4400.0)
    assert all(row["fit_status"] == "ok" for row in scan["windows"])
    assert scan["n_toys"] == 4 and 0 <= scan["global_p"] <= 1
    assert scan["max_local_z"] == max(row["z"] for row in scan["windows"])


def test_plot_bump_hunt(tmp_path: Path, edges: np.ndarray) -> None:
    rng = np.random.default_rng(6)
    mass = sample_masses(true_params(1.0), 20_000, rng)
    detail = bh.bump_hunt_detail(mass, rng.uniform(size=20_000), SR, SPAN, (1.0, 0.001))
    z = {r["keep_fraction"]: r["z"] for r in detail.records}
    paths = bh.plot_bump_hunt(detail.counts, detail.edges, detail.fits, SR, tmp_path / "bh", z)
    assert [p.name for p in paths] == ["bh.png", "bh.pdf"]
    assert all(p.stat().st_size > 0 for p in paths)


@pytest.mark.slow
def test_background_only_toys_give_unit_normal_z(edges: np.ndarray) -> None:
    rng = np.random.default_rng(7)
    expected = true_bin_counts(true_params(1e5), edges)
    zs = []
    for counts in rng.poisson(expected, size=(600, len(expected))):
        fit = bh.fit_sidebands(counts, edges, SR)
        assert fit.ok, fit.status
        zs.append(bh.local_significance(sr_count(counts, edges), *bh.predict_sr(fit, edges, SR))[0])
    assert abs(np.mean(zs)) < 0.1
    assert abs(np.std(zs) - 1) < 0.1
