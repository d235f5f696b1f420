import numpy as np
import pytest

from transit.events import Events
from transit.io import DataError
from transit.regions import Regions, assign_folds, build_sample, check_mass_scale, inject_signal

REGIONS = Regions((3300.0, 3700.0), ((3000.0, 3300.0), (3700.0, 4600.0)))


def events(mass, label=None):
    mass = np.asarray(mass, dtype=float)
    feats = np.column_stack([mass / 1000.0, np.arange(len(mass), dtype=float)])
    return Events(mass, feats, ("a", "idx"), None if label is None else np.asarray(label, np.int8))


def test_windows_are_half_open():
    mass = np.array([2999.9, 3000.0, 3299.9, 3300.0, 3699.9, 3700.0, 4599.9, 4600.0])
    np.testing.assert_array_equal(REGIONS.in_sr(mass), [0, 0, 0, 1, 1, 0, 0, 0])
    np.testing.assert_array_equal(REGIONS.in_sb(mass), [0, 1, 1, 0, 0, 1, 1, 0])
    assert REGIONS.span == (3000.0, 4600.0)


@pytest.mark.parametrize(
    ("sr", "sb", "message"),
    [
        ((3300, 3700), ((3000, 3400), (3700, 4600)), "overlap"),
        ((3300, 3700), ((3000, 3300), (3600, 4600)), "overlap"),
        ((3700, 3300), ((3000, 3300),), "empty"),
        ((3300, 3700), ((3000, 3000),), "empty"),
        ((3300, 3700), (), "sb is empty"),
    ],
)
def test_bad_windows(sr, sb, message):
    with pytest.raises(DataError, match=message):
        Regions(sr, sb)


def test_tev_where_gev_expected_is_named():
    with pytest.raises(DataError, match="masses look like TeV"):
        check_mass_scale(np.random.default_rng(0).uniform(3.0, 4.6, 1000), REGIONS, "data")
    with pytest.raises(DataError, match="move the windows"):
        check_mass_scale(np.full(10, 100.0), REGIONS, "data")
    check_mass_scale(np.array([3500.0]), REGIONS, "data")  # fine


def test_injection_bookkeeping():
    rng = np.random.default_rng(0)
    background = events(rng.uniform(3000, 4600, 1000), np.zeros(1000))
    pool = events(rng.normal(3500, 100, 300), np.ones(300))
    data, rest = inject_signal(background, pool, 120, np.random.default_rng(1))
    assert len(data) == 1120 and data.n_signal == 120 and len(rest) == 180
    # no event is both injected and kept for evaluation: the pool is split, nothing copied
    injected_ids = set(data.features[data.label == 1, 1])
    assert injected_ids.isdisjoint(set(rest.features[:, 1]))
    assert len(injected_ids | set(rest.features[:, 1])) == 300
    # same seed, same draw; another seed, another draw
    again, _ = inject_signal(background, pool, 120, np.random.default_rng(1))
    np.testing.assert_array_equal(again.mass, data.mass)
    other, _ = inject_signal(background, pool, 120, np.random.default_rng(2))
    assert set(other.features[other.label == 1, 1]) != injected_ids


def test_too_much_signal_requested():
    with pytest.raises(DataError, match="only 3 signal events"):
        inject_signal(events([3500.0] * 5), events([3500.0] * 3), 4, np.random.default_rng(0))


def test_build_sample_removes_data_signal_and_injects_before_the_cut():
    rng = np.random.default_rng(0)
    bkg_mass = rng.uniform(2800, 5000, 5000)
    sig_mass = rng.normal(3500, 300, 1000)
    data = events(np.concatenate([bkg_mass, sig_mass]), np.r_[np.zeros(5000), np.ones(1000)])
    sample = build_sample(data, REGIONS, 400, np.random.default_rng(5))
    in_sr_total = sample.sr_data.n_signal + len(sample.eval_signal)
    assert in_sr_total == REGIONS.in_sr(sig_mass).sum()  # every SR signal event is somewhere
    assert 0.3 * 400 < sample.sr_data.n_signal < 400  # part of the injected N lands in the SR
    assert sample.sr_data.n_signal + sample.sb_data.n_signal <= 400
    assert np.all(REGIONS.in_sr(sample.eval_signal.mass))
    assert len(sample.sr_data) - sample.sr_data.n_signal == REGIONS.in_sr(bkg_mass).sum()


def test_build_sample_with_extra_signal_pool_keeps_data_signal():
    rng = np.random.default_rng(0)
    data = events(rng.uniform(3000, 4600, 2000), (rng.uniform(size=2000) < 0.05).astype(int))
    pool = events(rng.normal(3500, 50, 500), np.ones(500))
    sample = build_sample(data, REGIONS, 100, rng, signal_pool=pool)
    data_sr_signal = int((REGIONS.in_sr(data.mass) & (data.label == 1)).sum())
    assert sample.sr_data.n_signal >= data_sr_signal + 90  # nearly all of the narrow pool in SR
    assert len(sample.eval_signal) + sample.sr_data.n_signal - data_sr_signal == \
        REGIONS.in_sr(pool.mass).sum()


def test_empty_region_and_unlabelled_injection_fail():
    only_sb = events(np.linspace(3000, 3299, 100), np.zeros(100))
    with pytest.raises(DataError, match="signal region holds no data"):
        build_sample(only_sb, REGIONS, 0, np.random.default_rng(0))
    with pytest.raises(DataError, match="no label column"):
        build_sample(events(np.linspace(3000, 4500, 100)), REGIONS, 5, np.random.default_rng(0))


def test_folds_are_balanced_and_seeded():
    folds = assign_folds(103, 5, np.random.default_rng(0))
    counts = np.bincount(folds)
    assert counts.sum() == 103 and counts.max() - counts.min() <= 1
    np.testing.assert_array_equal(folds, assign_folds(103, 5, np.random.default_rng(0)))
