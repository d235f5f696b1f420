"""Pythia 8 (pythia8mc) set up for LHCO-like QCD dijets or an A -> B C, B, C -> q qbar signal,
read in batches as flat numpy arrays of the visible final-state particles.

pp at 13 TeV with Pythia's defaults otherwise (Monash tune, hadronisation, decays; multiparton
interactions unless switched off).

QCD: ``HardQCD:all`` (all 2 -> 2 QCD processes) with ``PhaseSpace:pTHatMin`` and, optionally,
``PhaseSpace:mHatMin`` (see GenerationSettings for the bias of each cut).

Signal: Pythia's W' (id 34, ``NewGaugeBoson:ffbar2Wprime``) at m_A, allowed to decay only to
W Z (``Wprime:coup2WZ = 1``); the W (24) is re-massed to m_B and the Z (23) to m_C, and both are forced to light
quarks (d, u, s, c). Pythia's production classes accept only the decay channels they know (a
Z' decaying to the neutral Higgs-like states 35 36 initialises with a vanishing cross
section), hence W' -> W Z with re-massed W and Z. Pythia recomputes the widths at the new
masses (at 3500 / 500 / 100 GeV: W' 182 GeV, of which W Z 31%; W 13 GeV; Z 2.7 GeV). This is the
LHCO R&D topology W'(3500) -> X(500) Y(100), X, Y -> q q.

Batches come from ``Pythia.nextBatch`` (an awkward array of whole event records), so no
per-particle Python loop: charge and visibility are looked up once per distinct particle id.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import GenerateError
from .detector import Particles
from .settings import ECM_GEV, GenerationSettings

#: Pythia's Random:seed range is 1 ... 900 000 000.
PYTHIA_SEED_MAX = 900_000_000
LIGHT_QUARKS = "1 2 3 4"


def pythia_settings(settings: GenerationSettings, pythia_seed: int) -> list[str]:
    """The Pythia ``readString`` lines for one chunk."""
    lines = [
        f"Beams:eCM = {ECM_GEV:.1f}",
        "Random:setSeed = on",
        f"Random:seed = {pythia_seed}",
        "Print:quiet = on",
    ]
    if not settings.mpi:
        lines.append("PartonLevel:MPI = off")
    if settings.process == "qcd":
        lines += ["HardQCD:all = on", f"PhaseSpace:pTHatMin = {settings.pthat_min:g}"]
        if settings.mhat_min > 0:
            lines.append(f"PhaseSpace:mHatMin = {settings.mhat_min:g}")
    else:
        lines += [
            "NewGaugeBoson:ffbar2Wprime = on",
            "Wprime:coup2WZ = 1",  # Pythia's default 0 closes W' -> W Z
            f"34:m0 = {settings.m_a:g}",
            "34:onMode = off",
            "34:onIfMatch = 24 23",
            f"24:m0 = {settings.m_b:g}",
            "24:onMode = off",
            f"24:onIfAny = {LIGHT_QUARKS}",
            f"23:m0 = {settings.m_c:g}",
            "23:onMode = off",
            f"23:onIfAny = {LIGHT_QUARKS}",
        ]
    return lines


@dataclass
class Batch:
    """The visible final-state particles of ``particles.n_events`` generated events."""

    particles: Particles
    n_failed: int


class PythiaSource:
    """One initialised Pythia instance for one chunk."""

    def __init__(self, settings: GenerationSettings, pythia_seed: int):
        import pythia8mc

        if not 1 <= pythia_seed <= PYTHIA_SEED_MAX:
            raise GenerateError(f"Pythia seed must be in [1, {PYTHIA_SEED_MAX}]")
        self._pythia = pythia8mc.Pythia("", False)
        for line in pythia_settings(settings, pythia_seed):
            if not self._pythia.readString(line):
                raise GenerateError(f"Pythia rejected the setting {line!r}")
        if not self._pythia.init():
            raise GenerateError(
                "Pythia failed to initialise with " + "; ".join(pythia_settings(settings, 1))
            )
        self._charge: dict[int, float] = {}
        self._visible: dict[int, bool] = {}

    def _lookup(self, unique_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        data = self._pythia.particleData
        for pid in unique_ids.tolist():
            if pid not in self._charge:
                self._charge[pid] = float(data.charge(pid))
                self._visible[pid] = bool(data.isVisible(pid))
        return (
            np.array([self._charge[p] for p in unique_ids.tolist()]),
            np.array([self._visible[p] for p in unique_ids.tolist()], dtype=bool),
        )

    def next_batch(self, n_events: int) -> Batch:
        """Generate ``n_events`` events (failed ones are skipped and counted)."""
        import awkward as ak

        record = self._pythia.nextBatch(n_events, "skip")
        prt = record["prt"]
        n_done = len(prt)
        final = prt[prt["status"] > 0]
        counts = ak.to_numpy(ak.num(final["id"]))
        ids = ak.to_numpy(ak.flatten(final["id"]))
        mom = final["p"]
        unique_ids, inverse = np.unique(ids, return_inverse=True)
        charge, visible = self._lookup(unique_ids)
        keep = visible[inverse]
        particles = Particles(
            px=ak.to_numpy(ak.flatten(mom["px"]))[keep],
            py=ak.to_numpy(ak.flatten(mom["py"]))[keep],
            pz=ak.to_numpy(ak.flatten(mom["pz"]))[keep],
            e=ak.to_numpy(ak.flatten(mom["e"]))[keep],
            charge=charge[inverse][keep],
            event=np.repeat(np.arange(n_done), counts)[keep],
            n_events=n_done,
        )
        return Batch(particles, n_events - n_done)

    def cross_section_pb(self) -> float:
        """Pythia's estimate of the generated cross section so far (pb)."""
        return float(self._pythia.infoPython().sigmaGen()) * 1e9
