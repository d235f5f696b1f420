"""Anti-kT R = 1.0 jets, the dijet trigger and N-subjettiness, written as the 15 official LHC
Olympics columns.

Per event: anti-kT (R = 1.0, E-scheme) jets with pT > 20 GeV from the (detector-level)
particles, sorted by pT; the event is kept if it has at least two jets and pT(J1) > 1.2 TeV.
For the two leading jets, N-subjettiness (Thaler & Van Tilburg, arXiv:1011.2268) from the
fjcontrib Nsubjettiness code that FastJet's awkward interface exposes:
  tau_N = sum_i pT_i min(dR_i1, ..., dR_iN)   (unnormalised measure, beta = 1),
with one-pass-minimised exclusive-kT axes, N = 1, 2, 3. Jet mass m = sqrt(E^2 - |p|^2).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..features import LHCO_COLUMNS
from .detector import Particles
from .settings import JET_PT_MIN_GEV, JET_R, TRIGGER_PT_GEV

OUTPUT_COLUMNS = (*LHCO_COLUMNS, "label")


@dataclass
class Dijets:
    """The two leading jets of each kept event: ``jets`` (n, 2, 4) as (px, py, pz, m) in GeV,
    ``tau`` (n, 2, 3) as tau1..tau3, ``kept`` the indices of the kept events in the batch."""

    jets: np.ndarray
    tau: np.ndarray
    kept: np.ndarray


def _four_vectors(particles: Particles):
    import awkward as ak

    flat = ak.zip(
        {"px": particles.px, "py": particles.py, "pz": particles.pz, "E": particles.e},
        with_name="Momentum4D",
    )
    return ak.unflatten(flat, particles.counts())


def cluster_dijets(particles: Particles) -> Dijets:
    """Jets, trigger and N-subjettiness for every event of ``particles`` (module docstring)."""
    import awkward as ak
    import fastjet

    events = _four_vectors(particles)
    sequence = fastjet.ClusterSequence(events, fastjet.JetDefinition(fastjet.antikt_algorithm, JET_R))
    jets = sequence.inclusive_jets(min_pt=JET_PT_MIN_GEV)
    constituents = sequence.constituents(min_pt=JET_PT_MIN_GEV)
    order = ak.argsort(np.hypot(jets["px"], jets["py"]), axis=1, ascending=False)
    jets, constituents = jets[order], constituents[order]

    n_jets = ak.to_numpy(ak.num(jets))
    lead_pt = ak.to_numpy(ak.fill_none(ak.firsts(np.hypot(jets["px"], jets["py"])), 0.0))
    kept = np.flatnonzero((n_jets >= 2) & (lead_pt > TRIGGER_PT_GEV))
    if len(kept) == 0:
        return Dijets(np.empty((0, 2, 4)), np.empty((0, 2, 3)), kept)

    pair = jets[kept][:, :2]
    px, py, pz, e = (ak.to_numpy(pair[k]).astype(np.float64) for k in ("px", "py", "pz", "E"))
    mass = np.sqrt(np.clip(e**2 - px**2 - py**2 - pz**2, 0.0, None))
    four = np.stack([px, py, pz, mass], axis=-1)

    # one "event" per jet: N-subjettiness uses all of its input particles
    per_jet = ak.flatten(constituents[kept][:, :2], axis=1)
    per_jet = ak.zip({k: per_jet[k] for k in ("px", "py", "pz", "E")}, with_name="Momentum4D")
    jet_sequence = fastjet.ClusterSequence(per_jet, fastjet.JetDefinition(fastjet.kt_algorithm, JET_R))
    tau = jet_sequence.njettiness(
        measure_definition="UnnormalizedMeasure", axes_definition="OnePass_KT_Axes",
        njets=[1, 2, 3], beta=1.0,
    )  # fmt: skip
    tau = ak.to_numpy(tau).astype(np.float64).reshape(len(kept), 2, 3)
    return Dijets(four, tau, kept)


def lhco_table(dijets: Dijets, label: int) -> dict[str, np.ndarray]:
    """The 15 official LHCO columns (GeV; jet 1 = leading pT; tau unnormalised)."""
    columns: dict[str, np.ndarray] = {}
    for j, suffix in ((0, "j1"), (1, "j2")):
        for k, name in enumerate(("px", "py", "pz", "m")):
            columns[f"{name}{suffix}"] = dijets.jets[:, j, k]
        for n in range(3):
            columns[f"tau{n + 1}{suffix}"] = dijets.tau[:, j, n]
    columns["label"] = np.full(len(dijets.jets), float(label))
    return {name: columns[name] for name in OUTPUT_COLUMNS}
