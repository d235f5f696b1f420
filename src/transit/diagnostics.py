"""Checks of a trained TRANSIT model that need no signal truth (method.md §7-§9).

- Sideband closure: transport the events of one sideband to the masses of the other and ask a
  k-fold classifier to tell them from the real events there. AUC 0.5 = perfect transport.
  No truth labels are needed, so these are the numbers to choose hyperparameters on.
- Latent-mass decorrelation: |Pearson correlation| of every latent dimension with m_jj.
- Figures: template vs SR background vs SB per feature with pulls, trajectories x_hat(m_hat),
  latent profiles against m_jj.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from . import plots
from .config import RunConfig
from .cwola import kfold_scores
from .events import Events
from .metrics import closure_auc
from .regions import SearchSample, assign_folds

log = logging.getLogger(__name__)

N_TRAJECTORIES = 20
N_TRAJECTORY_MASSES = 33


def transport_closure(
    model: Any,
    source: Events,
    target: Events,
    config: RunConfig,
    rng: np.random.Generator,
    n_workers: int,
) -> float:
    """AUC of real ``target`` events (positives) against ``source`` events transported to
    bootstrapped ``target`` masses (as many as the target holds); 0.5 = indistinguishable."""
    pick = rng.integers(len(source), size=len(target))
    moved = model.transport(
        source.features[pick], source.mass[pick], rng.choice(target.mass, size=len(target))
    )
    k = config.cwola.n_folds
    scores = kfold_scores(
        target.features, assign_folds(len(target), k, rng), moved, assign_folds(len(moved), k, rng),
        config.cwola, seed=int(rng.integers(2**31)), n_members=config.cwola.closure_members,
        n_workers=n_workers, desc="sb closure",
    )  # fmt: skip
    return closure_auc(scores.positive, scores.negative)


def sideband_closures(
    model: Any, sample: SearchSample, config: RunConfig, rng: np.random.Generator, n_workers: int
) -> dict[str, float]:
    """SB1 -> SB2 and SB2 -> SB1 closure AUCs (the first two sideband windows)."""
    windows = sample.regions.sb
    if len(windows) < 2:
        return {}
    sb = sample.sb_data
    parts = [sb.select((sb.mass >= lo) & (sb.mass < hi)) for lo, hi in windows[:2]]
    if min(len(p) for p in parts) < 10 * config.cwola.n_folds:
        log.warning("sideband closure skipped: too few events in a sideband window")
        return {}
    return {
        "sb1_to_sb2_auc": transport_closure(model, parts[0], parts[1], config, rng, n_workers),
        "sb2_to_sb1_auc": transport_closure(model, parts[1], parts[0], config, rng, n_workers),
    }


def latent_mass_correlation(latent: np.ndarray, mass: np.ndarray) -> list[float]:
    """|Pearson correlation| between each latent dimension and the mass."""
    return [abs(float(np.corrcoef(latent[:, j], mass)[0, 1])) for j in range(latent.shape[1])]


def transit_diagnostics(
    model: Any,
    sample: SearchSample,
    template: np.ndarray,
    config: RunConfig,
    rng: np.random.Generator,
    n_workers: int,
    out_dir: Path,
) -> dict[str, Any]:
    """Write the TRANSIT figures into ``out_dir/plots`` and return the numbers."""
    names = sample.sr_data.feature_names
    plot_dir = out_dir / "plots"
    sr = sample.sr_data
    sr_background = sr.features if sr.label is None else sr.features[sr.label == 0]
    plots.feature_comparison(template, sr_background, sample.sb_data.features, names,
                             plot_dir / "transit_template_features", "TRANSIT template")  # fmt: skip

    lo, hi = sample.regions.span
    masses = np.linspace(lo, hi, N_TRAJECTORY_MASSES)
    pick = rng.choice(len(sample.sb_data), size=min(N_TRAJECTORIES, len(sample.sb_data)),
                      replace=False)  # fmt: skip
    paths = model.trajectories(sample.sb_data.features[pick], sample.sb_data.mass[pick], masses)
    data = Events.concat([sample.sb_data, sr])
    window = masses[1] - masses[0]  # events within one grid step of each mass
    quantiles = np.full((3, len(masses), len(names)), np.nan)
    for i, m in enumerate(masses):
        near = np.abs(data.mass - m) < window
        if near.sum() >= 50:
            quantiles[:, i] = np.quantile(data.features[near], [0.16, 0.5, 0.84], axis=0)
    plots.trajectories(masses, paths, names, plot_dir / "transit_trajectories", quantiles)
    # smoothness: largest second difference along the mass grid, in units of the data spread
    spread = np.std(data.features, axis=0)
    roughness = float(np.max(np.abs(np.diff(paths, n=2, axis=1)) / spread))

    latent = model.latent(data.features, data.mass)
    plots.latent_mass_correlation(latent, data.mass, plot_dir / "transit_latent_vs_mass")
    return {
        **sideband_closures(model, sample, config, rng, n_workers),
        "latent_mass_abs_corr": latent_mass_correlation(latent, data.mass),
        "trajectory_max_second_difference": roughness,
    }
