"""Tests of the invertible feature and mass scalers."""

import numpy as np
import pytest

from transit.preprocessing import (
    FeatureScaler,
    GaussianQuantileScaler,
    MassScaler,
    feature_scaler_from_arrays,
)


@pytest.fixture()
def sample() -> np.ndarray:
    rng = np.random.default_rng(0)
    n = 5000
    return np.column_stack(
        [
            rng.exponential(80.0, n) + 10.0,  # a mass-like, skewed feature in GeV
            rng.beta(2.0, 5.0, n),  # a tau21-like ratio in (0, 1)
            rng.normal(3.0, 0.5, n),
        ]
    )


def test_round_trip_is_exact(sample: np.ndarray) -> None:
    scaler = FeatureScaler().fit(sample)
    scaled = scaler.transform(sample)
    assert np.all(np.isfinite(scaled))
    np.testing.assert_allclose(scaler.inverse_transform(scaled), sample, rtol=1e-9, atol=1e-9)


def test_quantiles_land_on_plus_minus_two(sample: np.ndarray) -> None:
    scaled = FeatureScaler().fit(sample).transform(sample)
    q01, q99 = np.quantile(scaled, [0.01, 0.99], axis=0)
    np.testing.assert_allclose(q01, -2.0, atol=1e-9)
    np.testing.assert_allclose(q99, 2.0, atol=1e-9)


def test_any_network_output_maps_back_inside_the_fit_range(sample: np.ndarray) -> None:
    scaler = FeatureScaler().fit(sample)
    wild = np.array([[-50.0, 0.0, 50.0], [1e3, -1e3, 0.5]])
    back = scaler.inverse_transform(wild)
    assert np.all(np.isfinite(back))
    span = sample.max(axis=0) - sample.min(axis=0)
    assert np.all(back >= sample.min(axis=0) - 2e-3 * span)
    assert np.all(back <= sample.max(axis=0) + 2e-3 * span)


def test_feature_scaler_arrays_round_trip(sample: np.ndarray) -> None:
    scaler = FeatureScaler().fit(sample)
    arrays = scaler.to_arrays()
    assert all(isinstance(v, np.ndarray) for v in arrays.values())
    restored = FeatureScaler.from_arrays(arrays)
    np.testing.assert_array_equal(restored.transform(sample), scaler.transform(sample))


def test_nan_and_inf_rejected(sample: np.ndarray) -> None:
    bad = sample.copy()
    bad[3, 1] = np.nan
    with pytest.raises(ValueError, match="NaN or inf"):
        FeatureScaler().fit(bad)
    scaler = FeatureScaler().fit(sample)
    bad[3, 1] = np.inf
    with pytest.raises(ValueError, match="NaN or inf"):
        scaler.transform(bad)


def test_constant_feature_rejected(sample: np.ndarray) -> None:
    sample[:, 2] = 1.5
    with pytest.raises(ValueError, match=r"feature\(s\) \[2\] are constant"):
        FeatureScaler().fit(sample)


def test_transform_before_fit_rejected(sample: np.ndarray) -> None:
    with pytest.raises(ValueError, match="not fitted"):
        FeatureScaler().transform(sample)


def test_wrong_feature_count_rejected(sample: np.ndarray) -> None:
    scaler = FeatureScaler().fit(sample)
    with pytest.raises(ValueError, match="expected 3 features, got 2"):
        scaler.transform(sample[:, :2])


def test_mass_signal_region_mapping() -> None:
    scaler = MassScaler(3000.0, 4600.0)
    np.testing.assert_allclose(
        scaler.transform([3000.0, 3300.0, 3700.0, 4600.0]), [-2.0, -1.25, -0.25, 2.0]
    )
    masses = np.linspace(2900.0, 4800.0, 7)
    np.testing.assert_allclose(scaler.inverse_transform(scaler.transform(masses)), masses)


def test_mass_scaler_arrays_round_trip() -> None:
    scaler = MassScaler(3000.0, 4600.0)
    restored = MassScaler.from_arrays(scaler.to_arrays())
    assert (restored.lo, restored.hi) == (3000.0, 4600.0)


def test_mass_scaler_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="lo < hi"):
        MassScaler(4600.0, 3000.0)
    with pytest.raises(ValueError, match="NaN or inf"):
        MassScaler(3000.0, 4600.0).transform([3500.0, np.nan])


def test_gauss_scaler_round_trip_and_normal_marginals(sample: np.ndarray) -> None:
    scaler = GaussianQuantileScaler().fit(sample)
    scaled = scaler.transform(sample)
    np.testing.assert_allclose(scaled.mean(axis=0), 0.0, atol=0.02)
    np.testing.assert_allclose(scaled.std(axis=0), 1.0, atol=0.03)
    np.testing.assert_allclose(scaler.inverse_transform(scaled), sample, rtol=1e-7, atol=1e-7)
    restored = feature_scaler_from_arrays(scaler.to_arrays())
    assert isinstance(restored, GaussianQuantileScaler)
    np.testing.assert_array_equal(restored.transform(sample), scaled)


def test_gauss_scaler_keeps_a_spike_and_bounds_the_inverse() -> None:
    rng = np.random.default_rng(1)
    x = np.where(rng.random(20000) < 0.3, np.pi, rng.normal(3.3, 0.2, 20000))[:, None]
    scaler = GaussianQuantileScaler().fit(x)
    back = scaler.inverse_transform(np.array([[-40.0], [40.0], [0.0]]))
    assert x.min() - 1e-2 <= back.min() and back.max() <= x.max() + 1e-2
    spike = scaler.transform(np.array([[np.pi]]))[0, 0]
    assert np.isfinite(spike)
    np.testing.assert_allclose(scaler.inverse_transform(np.array([[spike]])), np.pi, atol=1e-6)


def test_logit_arrays_still_load_as_logit(sample: np.ndarray) -> None:
    scaler = FeatureScaler().fit(sample)
    assert isinstance(feature_scaler_from_arrays(scaler.to_arrays()), FeatureScaler)
