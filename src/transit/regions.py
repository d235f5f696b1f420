"""Signal region and sidebands, signal injection and k-fold assignment (method.md §2, §7)."""

from __future__ import annotations

import itertools
import logging
from dataclasses import dataclass

import numpy as np

from .config import RegionsConfig
from .events import Events
from .io import DataError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Regions:
    """Half-open GeV windows: the signal region ``sr`` and one or more sidebands ``sb``."""

    sr: tuple[float, float]
    sb: tuple[tuple[float, float], ...]

    def __post_init__(self) -> None:
        windows = {"sr": self.sr, **{f"sb[{i}]": w for i, w in enumerate(self.sb)}}
        for name, (lo, hi) in windows.items():
            if not lo < hi:
                raise DataError(f"regions.{name} = [{lo}, {hi}) is empty: lo must be below hi")
        if not self.sb:
            raise DataError("regions.sb is empty: give at least one sideband window")
        spans = sorted(windows.items(), key=lambda item: item[1][0])
        for (name_a, (_, hi_a)), (name_b, (lo_b, _)) in itertools.pairwise(spans):
            if lo_b < hi_a:
                raise DataError(
                    f"regions.{name_a} and regions.{name_b} overlap: windows must be disjoint"
                )

    @classmethod
    def from_config(cls, config: RegionsConfig) -> Regions:
        return cls(tuple(config.sr), tuple(tuple(w) for w in config.sb))  # type: ignore[arg-type]

    @property
    def span(self) -> tuple[float, float]:
        """The smallest window holding the SR and every sideband."""
        edges = [self.sr, *self.sb]
        return min(lo for lo, _ in edges), max(hi for _, hi in edges)

    def in_sr(self, mass: np.ndarray) -> np.ndarray:
        return (mass >= self.sr[0]) & (mass < self.sr[1])

    def in_sb(self, mass: np.ndarray) -> np.ndarray:
        mask = np.zeros(len(mass), dtype=bool)
        for lo, hi in self.sb:
            mask |= (mass >= lo) & (mass < hi)
        return mask


def check_mass_scale(mass: np.ndarray, regions: Regions, what: str) -> None:
    """Fail clearly when no event falls in the search windows, naming a unit mix-up if the
    masses would fit after a factor of 1000 (TeV given where GeV is expected, or the reverse)."""
    lo, hi = regions.span
    inside = ((mass >= lo) & (mass < hi)).sum()
    if inside:
        return
    hints = (
        (1000.0, "the masses look like TeV: set mass_unit: TeV for this source"),
        (1e-3, ("the windows look like TeV (regions are in GeV, e.g. sr: [3300, 3700]) or the "
               "masses like MeV (check mass_unit)")),
    )  # fmt: skip
    for factor, hint in hints:
        scaled = mass * factor
        if ((scaled >= lo) & (scaled < hi)).sum() > 0.01 * len(mass):
            raise DataError(
                f"{what}: no event has a mass in the search windows [{lo:g}, {hi:g}) GeV "
                f"(median {np.median(mass):.4g}); {hint}"
            )
    raise DataError(
        f"{what}: no event has a mass in the search windows [{lo:g}, {hi:g}) GeV; the data span "
        f"[{mass.min():.4g}, {mass.max():.4g}] GeV: move the windows inside the data"
    )


def inject_signal(
    background: Events, pool: Events, n_signal: int, rng: np.random.Generator
) -> tuple[Events, Events]:
    """Add ``n_signal`` events drawn at random (no replacement) from ``pool`` to
    ``background`` before any region cut. Returns (data, the pool rows not injected)."""
    if n_signal > len(pool):
        raise DataError(
            f"injection.n_signal = {n_signal} but only {len(pool)} signal events are available: "
            "lower n_signal or provide more signal"
        )
    order = rng.permutation(len(pool))
    injected, rest = pool.select(order[:n_signal]), pool.select(np.sort(order[n_signal:]))
    data = Events.concat([background, injected])
    shuffle = rng.permutation(len(data))
    return data.select(shuffle), rest


def assign_folds(n: int, n_folds: int, rng: np.random.Generator) -> np.ndarray:
    """Fold index 0..n_folds-1 for each of ``n`` events: a random, balanced assignment."""
    return rng.permutation(np.arange(n) % n_folds).astype(np.int8)


@dataclass(frozen=True)
class SearchSample:
    """The events one search works with, after injection and the region cuts.

    ``sr_data``/``sb_data``: the data in the SR/SB (truth labels kept for evaluation only).
    ``eval_signal``: SR signal that was not injected, used only to evaluate.
    ``extra_background``: independent true SR background for the idealised detector.
    ``data_masses``: every data mass in SR U SB (the pool of the TRANSIT consistency loss).
    """

    regions: Regions
    sr_data: Events
    sb_data: Events
    eval_signal: Events | None
    extra_background: Events | None

    def counts(self) -> dict[str, int]:
        counts = {
            "sr": len(self.sr_data),
            "sb": len(self.sb_data),
            "sr_signal": self.sr_data.n_signal,
            "sb_signal": self.sb_data.n_signal,
        }
        if self.eval_signal is not None:
            counts["eval_signal"] = len(self.eval_signal)
        if self.extra_background is not None:
            counts["extra_background_sr"] = len(self.extra_background)
        return counts


def build_sample(
    data: Events,
    regions: Regions,
    n_signal: int,
    rng: np.random.Generator,
    signal_pool: Events | None = None,
    extra_background: Events | None = None,
) -> SearchSample:
    """Inject signal, cut the regions and check every region has events.

    Without ``signal_pool`` the labelled signal rows of ``data`` are the pool (removed, then
    ``n_signal`` of them put back); with it the data are kept and the pool's events added.
    """
    check_mass_scale(data.mass, regions, "data")
    if signal_pool is None:
        if data.label is None:
            if n_signal:
                raise DataError(
                    "injection.n_signal > 0 but the data have no label column to draw signal from"
                )
            injected, rest = data, None
        else:
            is_signal = data.label == 1
            injected, rest = inject_signal(
                data.select(~is_signal), data.select(is_signal), n_signal, rng
            )
    else:
        injected, rest = inject_signal(data, signal_pool, n_signal, rng)

    sr_data = injected.select(regions.in_sr(injected.mass))
    sb_data = injected.select(regions.in_sb(injected.mass))
    for name, events in (("signal region", sr_data), ("sidebands", sb_data)):
        if len(events) == 0:
            raise DataError(f"the {name} holds no data events: check regions against the data")
    eval_signal = None if rest is None else rest.select(regions.in_sr(rest.mass))
    if extra_background is not None:
        check_mass_scale(extra_background.mass, regions, "extra_background")
        extra_background = extra_background.select(regions.in_sr(extra_background.mass))
        if extra_background.label is not None and extra_background.n_signal:
            log.info("extra_background: dropped %d signal rows", extra_background.n_signal)
            extra_background = extra_background.select(extra_background.label == 0)
        if len(extra_background) == 0:
            raise DataError("extra_background has no events in the signal region")
    return SearchSample(regions, sr_data, sb_data, eval_signal, extra_background)
