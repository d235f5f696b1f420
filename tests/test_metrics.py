import numpy as np
import pytest

from transit import metrics


def test_auc_known_cases():
    assert metrics.auc(np.array([2.0, 3.0]), np.array([0.0, 1.0])) == 1.0
    assert metrics.auc(np.array([0.0, 1.0]), np.array([2.0, 3.0])) == 0.0
    assert metrics.auc(np.ones(10), np.ones(10)) == 0.5  # ties count one half


def test_si_at_rejection_on_a_known_roc():
    # background uniform on [0, 1); signal: 30% at score 2 (above every background), 70% at -1
    bkg = np.linspace(0, 1, 10_000, endpoint=False)
    sig = np.r_[np.full(300, 2.0), np.full(700, -1.0)]
    eps_s, eps_b = metrics.roc_curve(sig, bkg)
    # any cut between 1 and 2 keeps eps_s = 0.3 while eps_b -> 0; at eps_b = 1e-2, eps_s = 0.3
    assert metrics.si_at_rejection(eps_s, eps_b, 100, len(bkg)) == pytest.approx(0.3 * 10)
    assert metrics.si_at_rejection(eps_s, eps_b, 1000, len(bkg)) == pytest.approx(0.3 * 1000**0.5)
    # 1/eps_b beyond the number of background events is undefined
    assert np.isnan(metrics.si_at_rejection(eps_s, eps_b, 20_000, len(bkg)))


def test_max_sic_ignores_cuts_with_few_background_events():
    bkg = np.linspace(0, 1, 1000, endpoint=False)
    sig = np.full(100, 0.9995)  # above all but the top background event
    eps_s, eps_b = metrics.roc_curve(sig, bkg)
    # unrestricted max would be 1/sqrt(1/1000) ~ 31.6 with one background event passing;
    # with >= 20 background events the best cut passes 20 of them: SIC = 1/sqrt(0.02)
    assert metrics.max_sic(eps_s, eps_b, len(bkg)) == pytest.approx(1 / np.sqrt(0.02))
    assert metrics.max_sic(eps_s, eps_b, len(bkg), min_background=1) == pytest.approx(1000**0.5)


def test_random_scores_give_si_of_a_random_cut():
    # a score that knows nothing passes eps_s = eps_b = 1/R: SI = sqrt(1/R)
    rng = np.random.default_rng(0)
    result = metrics.selection_metrics(rng.uniform(size=200_000), rng.uniform(size=200_000))
    assert result["auc"] == pytest.approx(0.5, abs=0.005)
    assert result["si_at_rej_100"] == pytest.approx(0.1, rel=0.15)
    assert result["si_at_rej_1000"] == pytest.approx(1000**-0.5, rel=0.3)
    assert result["max_sic"] < 1.5


def test_closure_auc_is_half_for_identical_distributions():
    rng = np.random.default_rng(1)
    assert metrics.closure_auc(rng.normal(size=50_000), rng.normal(size=50_000)) == \
        pytest.approx(0.5, abs=0.01)
    assert metrics.closure_auc(rng.normal(1, 1, 50_000), rng.normal(size=50_000)) > 0.7


def test_sculpting_chi2_near_one_for_mass_blind_scores_and_large_when_sculpted():
    rng = np.random.default_rng(2)
    mass = 3000 + rng.exponential(500, 400_000)
    mass = mass[mass < 4600]
    blind = metrics.sculpting_chi2(mass, rng.uniform(size=len(mass)))
    for rejection, value in blind.items():  # a subset: expectation (1 - p) / (1 + p), p = 1/R
        p = 1 / float(rejection)
        assert value == pytest.approx((1 - p) / (1 + p), abs=0.5), blind
    sculpted = metrics.sculpting_chi2(mass, mass + rng.normal(0, 200, len(mass)))
    assert all(v > 10 for v in sculpted.values()), sculpted


def test_feature_closure_aucs_find_the_shifted_feature():
    rng = np.random.default_rng(0)
    background = rng.normal(0, 1, (20000, 2))
    template = rng.normal(0, 1, (40000, 2))
    template[:, 1] += 0.3
    same, shifted = metrics.feature_closure_aucs(background, template)
    assert same == pytest.approx(0.5, abs=0.01)  # cross-fitting removes the bin-noise bias
    assert shifted > 0.55
