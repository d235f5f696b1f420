"""CWoLa classifiers: k folds x an ensemble of boosted trees (method.md §7).

A classifier learns "positive" (e.g. SR data) against "negative" (e.g. a background template).
Both samples are split into k folds; for fold i an ensemble of HistGradientBoostingClassifiers is
trained on the other folds (each member with early stopping on its own random 10% validation
split and balanced class weights) and its averaged probability (soft vote) scores the events of
fold i. So every event gets exactly one out-of-fold score from models that never saw it.
Evaluation events (e.g. held-out signal) carry a fold too and are scored by that fold's models,
so they are treated exactly like the data events they are compared with.

Each tree fit uses ONE thread; fits run in parallel processes (``n_workers``).
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass

import numpy as np
from joblib import Parallel, delayed
from threadpoolctl import threadpool_limits
from tqdm.auto import tqdm

from .config import CwolaConfig


def allotted_cpus() -> int:
    """CPUs this process may use: the affinity mask, capped by SLURM_CPUS_PER_TASK if set
    (never ``os.cpu_count()``, which counts the whole machine)."""
    try:
        n = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        n = os.cpu_count() or 1
    slurm = os.environ.get("SLURM_CPUS_PER_TASK", "")
    if slurm.isdigit() and int(slurm) > 0:
        n = min(n, int(slurm))
    return max(n, 1)


@dataclass(frozen=True)
class KFoldScores:
    """Scores in (0, 1): out-of-fold for the positives and negatives, by-fold for evaluation."""

    positive: np.ndarray
    negative: np.ndarray
    evaluation: np.ndarray


def _fit_member(
    x_pos: np.ndarray,
    fold_pos: np.ndarray,
    x_neg: np.ndarray,
    fold_neg: np.ndarray,
    x_eval: np.ndarray,
    fold_eval: np.ndarray,
    fold: int,
    seed: int,
    settings: CwolaConfig,
) -> tuple[int, np.ndarray, np.ndarray, np.ndarray]:
    from sklearn.ensemble import HistGradientBoostingClassifier

    train_pos, train_neg = fold_pos != fold, fold_neg != fold
    x_train = np.concatenate([x_pos[train_pos], x_neg[train_neg]])
    y_train = np.concatenate([np.ones(train_pos.sum()), np.zeros(train_neg.sum())])
    model = HistGradientBoostingClassifier(
        max_iter=settings.max_iter,
        learning_rate=settings.learning_rate,
        max_leaf_nodes=settings.max_leaf_nodes,
        early_stopping=True,
        validation_fraction=settings.validation_fraction,
        class_weight="balanced",
        random_state=seed,
    )
    with threadpool_limits(limits=1):
        model.fit(x_train, y_train)
        scores = [
            model.predict_proba(x[f == fold])[:, 1] if (f == fold).any() else np.empty(0)
            for x, f in ((x_pos, fold_pos), (x_neg, fold_neg), (x_eval, fold_eval))
        ]
    return fold, scores[0], scores[1], scores[2]


def kfold_scores(
    x_pos: np.ndarray,
    fold_pos: np.ndarray,
    x_neg: np.ndarray,
    fold_neg: np.ndarray,
    settings: CwolaConfig,
    seed: int,
    n_members: int | None = None,
    x_eval: np.ndarray | None = None,
    fold_eval: np.ndarray | None = None,
    n_workers: int = 1,
    desc: str = "cwola",
) -> KFoldScores:
    """Train ``n_folds x n_members`` boosted trees (positives = 1, negatives = 0) and return
    each event's score from the fold ensemble that did not train on it (see module docstring).
    """
    n_folds = settings.n_folds
    n_members = settings.n_members if n_members is None else n_members
    if x_eval is None:
        x_eval = np.empty((0, x_pos.shape[1]))
        fold_eval = np.empty(0, dtype=np.int8)
    assert fold_eval is not None
    for name, folds in (("positive", fold_pos), ("negative", fold_neg)):
        counts = np.bincount(folds, minlength=n_folds)
        if (counts == 0).any():
            raise ValueError(f"the {name} sample has an empty fold ({counts.tolist()} per fold)")

    member_seeds = np.random.default_rng(seed).integers(0, 2**31 - 1, size=(n_folds, n_members))
    tasks = [
        delayed(_fit_member)(
            x_pos, fold_pos, x_neg, fold_neg, x_eval, fold_eval, k, int(member_seeds[k, j]),
            settings,
        )
        for k in range(n_folds)
        for j in range(n_members)
    ]  # fmt: skip
    sums = {
        "pos": np.zeros(len(x_pos)),
        "neg": np.zeros(len(x_neg)),
        "eval": np.zeros(len(x_eval)),
    }
    folds = {"pos": fold_pos, "neg": fold_neg, "eval": fold_eval}
    workers = max(1, min(n_workers, len(tasks)))
    runner = Parallel(n_jobs=workers, return_as="generator_unordered")
    bar = tqdm(total=len(tasks), desc=desc, unit="fit", disable=not sys.stderr.isatty(),
               leave=False)  # fmt: skip
    for fold, s_pos, s_neg, s_eval in runner(tasks):
        for key, scores in (("pos", s_pos), ("neg", s_neg), ("eval", s_eval)):
            sums[key][folds[key] == fold] += scores
        bar.update()
    bar.close()
    return KFoldScores(sums["pos"] / n_members, sums["neg"] / n_members, sums["eval"] / n_members)
