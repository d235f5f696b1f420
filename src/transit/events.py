"""The one in-memory event container every stage passes along."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Events:
    """Events as arrays: the resonant mass (GeV), the feature matrix and optional truth labels.

    ``label`` is 1 for signal and 0 for background where the truth is known, else None.
    """

    mass: np.ndarray
    features: np.ndarray
    feature_names: tuple[str, ...]
    label: np.ndarray | None = None

    def __post_init__(self) -> None:
        n = len(self.mass)
        if self.features.shape != (n, len(self.feature_names)):
            raise ValueError(
                f"features have shape {self.features.shape}, expected ({n}, "
                f"{len(self.feature_names)})"
            )
        if self.label is not None and len(self.label) != n:
            raise ValueError(f"{len(self.label)} labels for {n} events")

    def __len__(self) -> int:
        return len(self.mass)

    def select(self, mask_or_index: np.ndarray) -> Events:
        return Events(
            self.mass[mask_or_index],
            self.features[mask_or_index],
            self.feature_names,
            None if self.label is None else self.label[mask_or_index],
        )

    @property
    def n_signal(self) -> int:
        return 0 if self.label is None else int(self.label.sum())

    @staticmethod
    def concat(parts: list[Events]) -> Events:
        names = parts[0].feature_names
        if any(p.feature_names != names for p in parts):
            raise ValueError("cannot concatenate events with different features")
        labels = [p.label for p in parts]
        return Events(
            np.concatenate([p.mass for p in parts]),
            np.concatenate([p.features for p in parts]),
            names,
            None if any(lab is None for lab in labels) else np.concatenate(labels),  # type: ignore[arg-type]
        )
