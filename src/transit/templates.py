"""Background templates for the signal region, looked up by name.

A template is a set of feature vectors that should follow the SR background. CWoLa then
learns SR data against it. ``cwola_sb`` uses the raw sideband events (CWoLa hunting,
arXiv:1805.02664): cheap, but biased wherever a feature depends on the mass. ``transit``
transports sideband events to SR masses (method.md §6). ``flow`` samples a conditional density
learnt on the sidebands at SR masses (CATHODE-style), the slow method TRANSIT is measured against.
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .config import RunConfig
from .regions import SearchSample


@dataclass
class Template:
    """Template features ``(n, f)`` plus anything the method wants to keep (e.g. a model).

    ``source_index`` (transported templates): the sideband event each template event was made
    from. CWoLa gives a template event the fold of its source, so that a sideband event is
    scored by models that never trained on a transported copy of it (the bump hunt fits the
    sidebands' scores; a copy in training would lower them and fake an SR excess).
    """

    features: np.ndarray
    info: dict[str, Any] = field(default_factory=dict)
    model: Any = None
    source_index: np.ndarray | None = None


def sideband_template(
    sample: SearchSample, config: RunConfig, rng: np.random.Generator, n_workers: int
) -> Template:
    """CWoLa hunting: the sideband events as they are."""
    return Template(sample.sb_data.features.copy(), {"size": len(sample.sb_data)})


def transit_template(
    sample: SearchSample, config: RunConfig, rng: np.random.Generator, n_workers: int
) -> Template:
    """TRANSIT (method.md §6): train the transport on the sidebands, then for each template
    event draw a sideband event and an SR-data mass (both bootstrapped; the classifier never
    sees the mass) and output G(E(x, m), m_SR). Size ``transit.template_factor`` x N_SR."""
    from .transport.estimator import TransitTransport
    from .transport.train import profile

    settings = config.transit
    train_settings = dataclasses.replace(profile(config.profile), **settings.training_overrides())
    model = TransitTransport(
        latent_dim=settings.latent_dim,
        width=settings.width,
        n_blocks=settings.n_blocks,
        feature_transform=settings.feature_transform,
        settings=train_settings,
        random_state=int(rng.integers(2**31)),
        n_threads=n_workers,
        progress=sys.stderr.isatty(),
    )
    sb, sr = sample.sb_data, sample.sr_data
    all_masses = np.concatenate([sb.mass, sr.mass])
    model.fit(sb.features, sb.mass, m_pool=all_masses, mass_range=sample.regions.span)
    size = round(settings.template_factor * len(sr))
    source = rng.integers(len(sb), size=size)
    target_mass = rng.choice(sr.mass, size=size, replace=True)
    features = model.transport(sb.features[source], sb.mass[source], target_mass)
    if not np.isfinite(features).all():
        raise RuntimeError("the TRANSIT template holds NaN/inf values: the training diverged")
    info = {"size": size, "train_steps": model.n_steps_,
            "train_seconds": round(model.train_seconds_, 2),
            "train_settings": dataclasses.asdict(train_settings),
            "final_val_losses": {k: v for k, v in model.history_[-1].items()
                                 if k.startswith("val_")}}  # fmt: skip
    return Template(features, info, model, source_index=source)


def flow_template(
    sample: SearchSample, config: RunConfig, rng: np.random.Generator, n_workers: int
) -> Template:
    """CATHODE-style flow (``transit.flow``): learn p(x | m) on the sidebands and sample it at
    ``transit.template_factor`` x N_SR bootstrapped SR-data masses."""
    from .flow import ConditionalFlow, summary

    sb, sr = sample.sb_data, sample.sr_data
    model = ConditionalFlow(config.flow, random_state=int(rng.integers(2**31)), n_threads=n_workers)
    model.fit(sb.features, sb.mass, mass_range=sample.regions.span)
    size = round(config.transit.template_factor * len(sr))
    features = model.sample(rng.choice(sr.mass, size=size, replace=True))
    return Template(features, {"size": size, **summary(model)}, model)


TemplateBuilder = Callable[[SearchSample, RunConfig, np.random.Generator, int], Template]

TEMPLATE_BUILDERS: dict[str, TemplateBuilder] = {
    "cwola_sb": sideband_template,
    "transit": transit_template,
    "flow": flow_template,
}


def build_template(
    name: str, sample: SearchSample, config: RunConfig, rng: np.random.Generator, n_workers: int
) -> Template:
    try:
        builder = TEMPLATE_BUILDERS[name]
    except KeyError:
        raise ValueError(
            f"no template method {name!r}; available: {', '.join(TEMPLATE_BUILDERS)}"
        ) from None
    return builder(sample, config, rng, n_workers)
