"""Diagnostic figures (PNG and PDF). matplotlib is imported only when a plot is made."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    try:
        import mplhep

        plt.style.use(mplhep.style.ROOT)
    except ImportError:  # pragma: no cover - mplhep is a dependency, but plots work without it
        pass
    return plt


def save(fig: Any, stem: Path) -> list[Path]:
    """Write ``stem.png`` and ``stem.pdf`` and close the figure."""
    stem.parent.mkdir(parents=True, exist_ok=True)
    paths = [stem.with_suffix(".png"), stem.with_suffix(".pdf")]
    for path in paths:
        fig.savefig(path, dpi=110, bbox_inches="tight")
    fig.clf()
    _pyplot().close(fig)
    return paths


def _density(values: np.ndarray, edges: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    counts, _ = np.histogram(values, edges)
    norm = max(counts.sum(), 1) * np.diff(edges)
    return counts / norm, np.sqrt(counts) / norm


def feature_comparison(
    template: np.ndarray,
    sr_background: np.ndarray,
    sideband: np.ndarray,
    names: tuple[str, ...],
    stem: Path,
    template_label: str = "template",
) -> list[Path]:
    """Per feature: normalised template, true SR background and SB histograms, with a pull
    panel (template - SR background) / sqrt(sigma_t^2 + sigma_b^2) per bin."""
    plt = _pyplot()
    n = len(names)
    fig, axes = plt.subplots(2, n, figsize=(4.2 * n, 5.2), sharex="col",
                             gridspec_kw={"height_ratios": [3, 1], "hspace": 0.05})  # fmt: skip
    axes = np.asarray(axes).reshape(2, n)
    for i, name in enumerate(names):
        lo, hi = np.quantile(sr_background[:, i], [0.001, 0.999])
        edges = np.linspace(lo, hi, 41)
        centres = 0.5 * (edges[1:] + edges[:-1])
        d_bkg, e_bkg = _density(sr_background[:, i], edges)
        d_tpl, e_tpl = _density(template[:, i], edges)
        d_sb, _ = _density(sideband[:, i], edges)
        top, bottom = axes[0, i], axes[1, i]
        top.stairs(d_sb, edges, color="grey", ls="--", label="sidebands")
        top.stairs(d_tpl, edges, color="C0", lw=1.8, label=template_label)
        top.errorbar(centres, d_bkg, e_bkg, fmt="k.", ms=4, label="SR background")
        top.set_yscale("log")
        top.tick_params(labelsize=9)
        if i == 0:
            top.legend(fontsize=9)
            top.set_ylabel("density", fontsize=11)
        sigma = np.sqrt(e_bkg**2 + e_tpl**2)
        pull = np.divide(d_tpl - d_bkg, sigma, out=np.zeros_like(sigma), where=sigma > 0)
        bottom.bar(centres, pull, width=np.diff(edges), color="C0", alpha=0.7)
        bottom.axhline(0, color="k", lw=0.8)
        bottom.set_ylim(-5, 5)
        bottom.set_xlabel(name, fontsize=11)
        bottom.tick_params(labelsize=9)
        if i == 0:
            bottom.set_ylabel("pull", fontsize=11)
    return save(fig, stem)


def trajectories(
    masses: np.ndarray,
    paths: np.ndarray,
    names: tuple[str, ...],
    stem: Path,
    quantiles: np.ndarray | None = None,
) -> list[Path]:
    """Transported features x_hat(m_hat) of a few events against the target mass
    (``paths``: (n_events, n_masses, n_features)); optional feature quantiles per mass bin
    (``quantiles``: (n_q, n_masses, n_features)) drawn as dashed lines."""
    plt = _pyplot()
    n = len(names)
    fig, axes = plt.subplots(1, n, figsize=(4.2 * n, 3.8))
    axes = np.atleast_1d(axes)
    for i, name in enumerate(names):
        ax = axes[i]
        for path in paths:
            ax.plot(masses, path[:, i], lw=1, alpha=0.8)
        if quantiles is not None:
            for q in quantiles:
                ax.plot(masses, q[:, i], "k--", lw=1)
        ax.set_xlabel(r"target $m_{jj}$ [GeV]", fontsize=11)
        ax.set_ylabel(name, fontsize=11)
        ax.tick_params(labelsize=9)
    fig.tight_layout()
    return save(fig, stem)


def latent_mass_correlation(latent: np.ndarray, mass: np.ndarray, stem: Path) -> list[Path]:
    """Profile of each latent dimension against m_jj (mean and 16-84% band per mass bin)."""
    plt = _pyplot()
    edges = np.quantile(mass, np.linspace(0, 1, 21))
    centres = 0.5 * (edges[1:] + edges[:-1])
    index = np.clip(np.digitize(mass, edges[1:-1]), 0, len(centres) - 1)
    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    for j in range(latent.shape[1]):
        per_bin = [latent[index == b, j] for b in range(len(centres))]
        mean = np.array([v.mean() if len(v) else np.nan for v in per_bin])
        ax.plot(centres, mean, marker=".", label=f"z{j}")
    ax.set_xlabel(r"$m_{jj}$ [GeV]", fontsize=11)
    ax.set_ylabel("mean latent value", fontsize=11)
    ax.legend(fontsize=8, ncol=4)
    return save(fig, stem)


def si_curves(curves: dict[str, tuple[np.ndarray, np.ndarray]], stem: Path) -> list[Path]:
    """SI = eps_s/sqrt(eps_b) vs 1/eps_b, and 1/eps_b vs eps_s, for every method."""
    plt = _pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.5))
    for name, (eps_s, eps_b) in curves.items():
        keep = eps_b > 0
        left.plot(1 / eps_b[keep], eps_s[keep] / np.sqrt(eps_b[keep]), label=name)
        right.plot(eps_s[keep], 1 / eps_b[keep], label=name)
    left.set_xscale("log")
    left.set_xlabel(r"background rejection $1/\epsilon_b$", fontsize=11)
    left.set_ylabel("SI = ε_s / √ε_b", fontsize=11)
    right.set_yscale("log")
    right.set_xlabel(r"signal efficiency $\epsilon_s$", fontsize=11)
    right.set_ylabel(r"$1/\epsilon_b$", fontsize=11)
    left.legend(fontsize=9)
    fig.tight_layout()
    return save(fig, stem)


def sculpting(chi2: dict[str, dict[str, float]], stem: Path) -> list[Path]:
    """chi2/n of the background m_jj shape after a cut vs the cut's rejection, per method."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    for name, values in chi2.items():
        rej = np.array([float(r) for r in values])
        ax.plot(rej, list(values.values()), marker="o", label=name)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(r"background rejection of the cut $1/\epsilon_b$", fontsize=11)
    ax.set_ylabel(r"$\chi^2/n$ of the $m_{jj}$ shape", fontsize=11)
    ax.legend(fontsize=9)
    return save(fig, stem)


def si_vs_injection(results: list[dict[str, Any]], stem: Path, rejection: int = 1000) -> list[Path]:
    """SI at 1/eps_b = ``rejection`` against the injected signal N, one line per method (mean and
    std over the runs sharing N), from several ``result.json`` dictionaries.

    The dashed lines mark the SI a cut needs for a 3 and 5 sigma excess: with S signal and B
    background events in the SR, S eps_s / sqrt(B eps_b) = SI S / sqrt(B), so SI_Z = Z sqrt(B) / S.
    """
    plt = _pyplot()
    key = f"si_at_rej_{rejection}"
    by_n: dict[int, list[dict[str, Any]]] = {}
    for result in results:
        by_n.setdefault(int(result["config"]["injection"]["n_signal"]), []).append(result)
    ns = sorted(by_n)
    methods = sorted({m for r in results for m in r["methods"] if key in r["methods"][m]})
    fig, ax = plt.subplots(figsize=(7, 5))
    for name in methods:
        values = [[r["methods"][name][key] for r in by_n[n]
                   if name in r["methods"] and r["methods"][name].get(key) is not None]
                  for n in ns]  # fmt: skip
        mean = [np.mean(v) if v else np.nan for v in values]
        std = [np.std(v) if v else np.nan for v in values]
        ax.errorbar(ns, mean, std, marker="o", capsize=3, label=name)
    for z, style in ((3, "--"), (5, ":")):
        needed = []
        for n in ns:
            counts = by_n[n][0]["n_events"]
            s, b = counts.get("sr_signal", 0), counts["sr"] - counts.get("sr_signal", 0)
            needed.append(z * np.sqrt(b) / s if s > 0 else np.nan)
        ax.plot(ns, needed, "k" + style, lw=1, label=f"{z}σ needs")
    ax.set_yscale("log")
    ax.set_xlabel("injected signal events N", fontsize=11)
    ax.set_ylabel(f"SI at 1/ε_b = {rejection}", fontsize=11)
    ax.legend(fontsize=9)
    return save(fig, stem)
