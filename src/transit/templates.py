"""Background templates for the signal region, looked up by name.

A template is a set of feature vectors that should follow the SR background. CWoLa then
learns SR data against it. ``cwola_sb`` uses the raw sideband events (CWoLa hunting,
arXiv:1805.02664): cheap, but biased wherever a feature depends on the mass. ``transit``
transports sideband events to SR masses (method.md §6).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .config import RunConfig
from .regions import SearchSample


@dataclass
class Template:
    """Template features ``(n, f)`` plus anything the method wants to keep (e.g. a model)."""

    features: np.ndarray
    info: dict[str, Any] = field(default_factory=dict)
    model: Any = None


def sideband_template(
    sample: SearchSample, config: RunConfig, rng: np.random.Generator, n_workers: int
) -> Template:
    """CWoLa hunting: the sideband events as they are."""
    return Template(sample.sb_data.features.copy(), {"size": len(sample.sb_data)})


TemplateBuilder = Callable[[SearchSample, RunConfig, np.random.Generator, int], Template]

TEMPLATE_BUILDERS: dict[str, TemplateBuilder] = {
    "cwola_sb": sideband_template,
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
