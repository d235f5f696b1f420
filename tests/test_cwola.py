import numpy as np
import pytest

from transit import cwola
from transit.config import CwolaConfig
from transit.metrics import auc
from transit.regions import assign_folds

SETTINGS = CwolaConfig(n_folds=4, n_members=2, max_iter=30)


def folds(n, seed):
    return assign_folds(n, SETTINGS.n_folds, np.random.default_rng(seed))


def test_every_event_scored_once_by_the_fold_that_did_not_train_on_it(monkeypatch):
    calls = []

    def fake_member(x_pos, fold_pos, x_neg, fold_neg, x_eval, fold_eval, fold, seed, settings):
        # the "model" of this fold: trained on the other folds only; it scores its own fold
        calls.append((fold, seed))
        return tuple([fold] + [np.full((f == fold).sum(), 0.1 * (fold + 1))
                               for f in (fold_pos, fold_neg, fold_eval)])  # fmt: skip

    monkeypatch.setattr(cwola, "_fit_member", fake_member)
    f_pos, f_neg, f_eval = folds(101, 0), folds(57, 1), folds(13, 2)
    x = np.zeros((200, 2))
    result = cwola.kfold_scores(x[:101], f_pos, x[:57], f_neg, SETTINGS, seed=0,
                                x_eval=x[:13], fold_eval=f_eval)  # fmt: skip
    assert len(calls) == SETTINGS.n_folds * SETTINGS.n_members
    assert len({seed for _, seed in calls}) == len(calls)  # every member its own seed
    for scores, fold in ((result.positive, f_pos), (result.negative, f_neg),
                         (result.evaluation, f_eval)):  # fmt: skip
        np.testing.assert_allclose(scores, 0.1 * (fold + 1))  # once, and from its own fold


def test_out_of_fold_scores_do_not_memorise_noise():
    # identical noise on both sides: in-sample scoring would separate them, out-of-fold cannot
    rng = np.random.default_rng(0)
    x_pos, x_neg = rng.normal(size=(3000, 3)), rng.normal(size=(3000, 3))
    settings = CwolaConfig(n_folds=3, n_members=1, max_iter=100, max_leaf_nodes=63)
    result = cwola.kfold_scores(x_pos, folds(3000, 1) % 3, x_neg, folds(3000, 2) % 3,
                                settings, seed=0)  # fmt: skip
    assert auc(result.positive, result.negative) == pytest.approx(0.5, abs=0.03)


def test_separable_samples_are_learned_and_runs_are_reproducible_in_parallel():
    rng = np.random.default_rng(1)
    x_pos, x_neg = rng.normal(0.7, 1, (2000, 2)), rng.normal(0, 1, (2000, 2))
    f_pos, f_neg = folds(2000, 3), folds(2000, 4)
    a = cwola.kfold_scores(x_pos, f_pos, x_neg, f_neg, SETTINGS, seed=5, n_workers=2)
    b = cwola.kfold_scores(x_pos, f_pos, x_neg, f_neg, SETTINGS, seed=5, n_workers=1)
    assert auc(a.positive, a.negative) > 0.65
    np.testing.assert_array_equal(a.positive, b.positive)
    np.testing.assert_array_equal(a.negative, b.negative)
    assert np.all((a.positive > 0) & (a.positive < 1))


def test_empty_fold_is_an_error():
    with pytest.raises(ValueError, match="empty fold"):
        cwola.kfold_scores(np.zeros((3, 1)), np.array([0, 1, 2], np.int8), np.zeros((8, 1)),
                           folds(8, 0), SETTINGS, seed=0)  # fmt: skip


def test_allotted_cpus_respects_slurm(monkeypatch):
    monkeypatch.setenv("SLURM_CPUS_PER_TASK", "1")
    assert cwola.allotted_cpus() == 1
    monkeypatch.delenv("SLURM_CPUS_PER_TASK")
    assert 1 <= cwola.allotted_cpus()
