"""Particles of many events as flat arrays, the |eta| acceptance and a simple detector emulation.

Numpy only (no Pythia, no FastJet), so it is tested on its own.

Detector emulation, applied per event to the visible final-state particles within |eta| < 2.5:
  - charged particles with pT > ``track_pt_min`` are tracks, kept with their true momentum;
  - every other particle (photons, neutral hadrons, and charged particles below the track
    threshold, which in a real detector reach the calorimeter without a track) deposits its
    energy in a calorimeter cell of ``cell_size`` x ``cell_size`` in (eta, phi), with
    2 pi / cell_size rounded to a whole number of cells in phi;
  - each cell's summed energy E is smeared with a Gaussian of relative width
    sigma_E / E = a / sqrt(E / GeV) (+) b (added in quadrature; a = ``calo_stochastic``,
    b = ``calo_constant``), clipped at 0; cells below ``cell_e_min`` are dropped;
  - a kept cell is a massless 4-vector pointing at the cell centre.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .settings import DetectorSettings


@dataclass
class Particles:
    """Particles of ``n_events`` events, flat: ``event`` is each particle's event index
    (non-decreasing). Momenta and energy in GeV; ``charge`` in units of e."""

    px: np.ndarray
    py: np.ndarray
    pz: np.ndarray
    e: np.ndarray
    charge: np.ndarray
    event: np.ndarray
    n_events: int

    def __len__(self) -> int:
        return len(self.px)

    def select(self, mask: np.ndarray) -> Particles:
        return Particles(
            self.px[mask], self.py[mask], self.pz[mask], self.e[mask], self.charge[mask],
            self.event[mask], self.n_events,
        )  # fmt: skip

    @property
    def pt(self) -> np.ndarray:
        return np.hypot(self.px, self.py)

    @property
    def eta(self) -> np.ndarray:
        """Pseudorapidity asinh(pz / pT); +-inf along the beam (pT = 0)."""
        ratio = np.copysign(np.inf, self.pz)
        pt = self.pt
        np.divide(self.pz, pt, out=ratio, where=pt > 0)
        return np.arcsinh(ratio)

    @property
    def phi(self) -> np.ndarray:
        return np.arctan2(self.py, self.px)

    def counts(self) -> np.ndarray:
        """Particles per event (length ``n_events``)."""
        return np.bincount(self.event, minlength=self.n_events)


def within_acceptance(particles: Particles, eta_max: float) -> Particles:
    """Keep particles with |eta| < eta_max (and pT > 0)."""
    return particles.select(np.abs(particles.eta) < eta_max)


def emulate_detector(
    particles: Particles, settings: DetectorSettings, eta_max: float, rng: np.random.Generator
) -> Particles:
    """Tracks plus smeared calorimeter cells (module docstring). ``particles`` must already be
    within |eta| < eta_max. Output ordered by event; cells carry charge 0."""
    if not settings.enabled:
        return particles
    pt = particles.pt
    is_track = (particles.charge != 0) & (pt > settings.track_pt_min)
    tracks = particles.select(is_track)
    calo = particles.select(~is_track)

    n_eta = int(np.ceil(2 * eta_max / settings.cell_size))
    n_phi = max(1, round(2 * np.pi / settings.cell_size))
    phi_size = 2 * np.pi / n_phi
    i_eta = np.clip(((calo.eta + eta_max) / settings.cell_size).astype(np.int64), 0, n_eta - 1)
    i_phi = np.clip(((calo.phi + np.pi) / phi_size).astype(np.int64), 0, n_phi - 1)
    key = (calo.event.astype(np.int64) * n_eta + i_eta) * n_phi + i_phi
    cells, inverse = np.unique(key, return_inverse=True)
    energy = np.bincount(inverse, weights=calo.e, minlength=len(cells))

    rel_sigma = np.sqrt(
        settings.calo_stochastic**2 / np.maximum(energy, 1e-12) + settings.calo_constant**2
    )
    energy = np.clip(energy * (1.0 + rel_sigma * rng.standard_normal(len(energy))), 0.0, None)
    keep = energy > settings.cell_e_min
    cells, energy = cells[keep], energy[keep]

    cell_event = cells // (n_eta * n_phi)
    cell_eta = -eta_max + ((cells // n_phi) % n_eta + 0.5) * settings.cell_size
    cell_phi = -np.pi + (cells % n_phi + 0.5) * phi_size
    cell_pt = energy / np.cosh(cell_eta)
    cell_particles = Particles(
        cell_pt * np.cos(cell_phi), cell_pt * np.sin(cell_phi), cell_pt * np.sinh(cell_eta),
        energy, np.zeros(len(cells)), cell_event, particles.n_events,
    )  # fmt: skip
    return concatenate_by_event([tracks, cell_particles])


def concatenate_by_event(parts: list[Particles]) -> Particles:
    """Merge particle sets of the same events, ordered by event (stable)."""
    n_events = parts[0].n_events
    event = np.concatenate([p.event for p in parts])
    order = np.argsort(event, kind="stable")

    def cat(name: str) -> np.ndarray:
        return np.concatenate([getattr(p, name) for p in parts])[order]

    return Particles(cat("px"), cat("py"), cat("pz"), cat("e"), cat("charge"), event[order],
                     n_events)  # fmt: skip
