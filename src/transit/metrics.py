"""Figures of merit of a selection on a classifier score (method.md §1, §7).

For a cut on the score, eps_s and eps_b are the fractions of signal and background events
passing. The significance improvement is SI = eps_s / sqrt(eps_b): the factor by which the cut
multiplies S / sqrt(B) (arXiv:0708.2878 for the weakly-supervised use; CWoLa arXiv:1708.02949).

Example
-------
>>> import numpy as np
>>> sig, bkg = np.array([0.9, 0.8, 0.3]), np.array([0.1, 0.2, 0.85, 0.4])
>>> round(auc(sig, bkg), 4)
0.75
"""

from __future__ import annotations

import numpy as np

#: Points of the SIC curve with fewer background events passing are ignored by max SIC.
MIN_BACKGROUND_FOR_SIC = 20


def roc_curve(scores_signal: np.ndarray, scores_background: np.ndarray) -> tuple[
    np.ndarray, np.ndarray
]:
    """(eps_s, eps_b) for every distinct threshold, from (0, 0) to (1, 1), eps_b increasing."""
    from sklearn.metrics import roc_curve as sk_roc_curve

    y = np.concatenate([np.ones(len(scores_signal)), np.zeros(len(scores_background))])
    s = np.concatenate([scores_signal, scores_background])
    eps_b, eps_s, _ = sk_roc_curve(y, s, drop_intermediate=False)
    return eps_s, eps_b


def auc(scores_signal: np.ndarray, scores_background: np.ndarray) -> float:
    """Area under the ROC curve: the probability that a random signal event scores above a
    random background event (ties count one half). 0.5 means no separation."""
    from sklearn.metrics import roc_auc_score

    y = np.concatenate([np.ones(len(scores_signal)), np.zeros(len(scores_background))])
    return float(roc_auc_score(y, np.concatenate([scores_signal, scores_background])))


def si_curve(eps_s: np.ndarray, eps_b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(1 / eps_b, SI = eps_s / sqrt(eps_b)) at every ROC point with eps_b > 0."""
    keep = eps_b > 0
    return 1.0 / eps_b[keep], eps_s[keep] / np.sqrt(eps_b[keep])


def si_at_rejection(
    eps_s: np.ndarray, eps_b: np.ndarray, rejection: float, n_background: int
) -> float:
    """SI at background rejection 1/eps_b = ``rejection``: eps_s is linearly interpolated on
    the ROC curve at eps_b = 1/rejection, then SI = eps_s * sqrt(rejection).

    NaN when fewer than one background event would pass (rejection > n_background): the
    number would be set by a single event and means nothing.
    """
    if rejection > n_background:
        return float("nan")
    target = 1.0 / rejection
    return float(np.interp(target, eps_b, eps_s) * np.sqrt(rejection))


def max_sic(
    eps_s: np.ndarray,
    eps_b: np.ndarray,
    n_background: int,
    min_background: int = MIN_BACKGROUND_FOR_SIC,
) -> float:
    """Maximum of SI = eps_s / sqrt(eps_b) over the cuts that keep at least ``min_background``
    background events (eps_b * n_background >= min_background), so a statistical fluctuation
    of a handful of events cannot set it."""
    keep = eps_b * n_background >= min_background
    if not keep.any():
        return float("nan")
    return float(np.max(eps_s[keep] / np.sqrt(eps_b[keep])))


def selection_metrics(scores_signal: np.ndarray, scores_background: np.ndarray) -> dict[str, float]:
    """SI at 1/eps_b = 100 and 1000, max SIC and AUC for one method."""
    eps_s, eps_b = roc_curve(scores_signal, scores_background)
    n_b = len(scores_background)
    return {
        "si_at_rej_100": si_at_rejection(eps_s, eps_b, 100, n_b),
        "si_at_rej_1000": si_at_rejection(eps_s, eps_b, 1000, n_b),
        "max_sic": max_sic(eps_s, eps_b, n_b),
        "auc": auc(scores_signal, scores_background),
        "n_signal": len(scores_signal),
        "n_background": n_b,
    }


def closure_auc(scores_true_background: np.ndarray, scores_template: np.ndarray) -> float:
    """AUC of a classifier trained to tell true SR background (positives) from the template.

    0.5 is a perfect template: nothing separates it from the background it models. Unlike the
    SI it needs no signal, so it is the template-quality number to tune on.
    """
    return auc(scores_true_background, scores_template)


def feature_closure_aucs(
    true_background: np.ndarray, template: np.ndarray, bins: int = 50
) -> list[float]:
    """One closure AUC per feature: the AUC of the binned likelihood ratio h_bkg / h_template of
    that feature alone (``bins`` quantile bins), i.e. about the best a 1-D classifier can do.
    Cross-fitted: the ratio is estimated on one half of each sample and the AUC measured on the
    other, then the halves swap and the two AUCs are averaged (no optimistic bias from bin
    noise). Shows which feature a template gets wrong; 0.5 = same marginal."""
    halves_b = (true_background[::2], true_background[1::2])
    halves_t = (template[::2], template[1::2])
    values = []
    for j in range(true_background.shape[1]):
        aucs = []
        for fit, test in ((0, 1), (1, 0)):
            b, t = halves_b[fit][:, j], halves_t[fit][:, j]
            edges = np.unique(np.quantile(b, np.linspace(0, 1, bins + 1)))[1:-1]
            h_b = np.bincount(np.searchsorted(edges, b), minlength=len(edges) + 1) / len(b)
            h_t = np.bincount(np.searchsorted(edges, t), minlength=len(edges) + 1) / len(t)
            ratio = h_b / np.maximum(h_t, 1e-12)
            aucs.append(auc(ratio[np.searchsorted(edges, halves_b[test][:, j])],
                            ratio[np.searchsorted(edges, halves_t[test][:, j])]))  # fmt: skip
        values.append(float(np.mean(aucs)))
    return values


def sculpting_chi2(
    mass: np.ndarray,
    scores: np.ndarray,
    rejections: tuple[float, ...] = (2.0, 5.0, 10.0, 20.0, 50.0, 100.0),
    bins: int = 40,
    mass_range: tuple[float, float] = (3000.0, 4600.0),
) -> dict[str, float]:
    """Background sculpting (method.md §8): does a cut on the score change the m_jj shape?

    ``mass`` and ``scores`` are BACKGROUND events over the whole search range (SR and SB). For
    each rejection R the cut keeps the top 1/R of them; with N0 the uncut and Nc the cut
    histogram (``bins`` bins over ``mass_range``) and f = sum N0 / sum Nc,
        chi2/n = mean over bins of (N0 - f Nc)^2 / (N0 + f^2 Nc).
    The cut events are a subset of the uncut ones, so a mass-blind cut keeping a fraction
    p = 1/R gives chi2/n of about (1 - p) / (1 + p) (below 1); values well above 1 mean the cut
    sculpts the mass spectrum. Bins empty in both are skipped.
    Returns ``{"R": chi2/n}`` (keys are strings for JSON).
    """
    edges = np.linspace(*mass_range, bins + 1)
    n0, _ = np.histogram(mass, edges)
    result = {}
    for rejection in rejections:
        threshold = np.quantile(scores, 1.0 - 1.0 / rejection)
        nc, _ = np.histogram(mass[scores > threshold], edges)
        if nc.sum() == 0:
            result[f"{rejection:g}"] = float("nan")
            continue
        f = n0.sum() / nc.sum()
        variance = n0 + f**2 * nc
        used = variance > 0
        result[f"{rejection:g}"] = float(np.mean((n0 - f * nc)[used] ** 2 / variance[used]))
    return result
