"""What one generation job makes: the process, its physics cuts and the detector emulation.

Fixed by the LHC Olympics layout (not options): pp at 13 TeV, final-state particles within
|eta| < 2.5, anti-kT R = 1.0 jets with pT > 20 GeV, at least two of them, trigger
pT(J1) > 1.2 TeV, N-subjettiness with beta = 1.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from . import GenerateError

PROCESSES = ("qcd", "signal")
#: Label written in the ``label`` column.
PROCESS_LABEL = {"qcd": 0, "signal": 1}

ECM_GEV = 13000.0
ETA_MAX = 2.5
JET_R = 1.0
JET_PT_MIN_GEV = 20.0
TRIGGER_PT_GEV = 1200.0


@dataclass(frozen=True)
class DetectorSettings:
    """The detector emulation (detector.py). ``enabled = False`` keeps every visible particle
    within the acceptance as it is (particle level)."""

    enabled: bool = True
    track_pt_min: float = 0.5       # GeV: charged particles above it are tracks
    cell_size: float = 0.087        # eta and phi size of a calorimeter cell
    calo_stochastic: float = 1.0    # a in sigma_E / E = a / sqrt(E / GeV) (+) b
    calo_constant: float = 0.05     # b
    cell_e_min: float = 1.0         # GeV: smeared cells below it are dropped

    def validate(self) -> None:
        if self.track_pt_min < 0:
            raise GenerateError(f"track pT threshold must be >= 0 GeV, got {self.track_pt_min}")
        if not 0 < self.cell_size <= 1.0:
            raise GenerateError(f"cell size must be in (0, 1], got {self.cell_size}")
        if self.calo_stochastic < 0 or self.calo_constant < 0:
            raise GenerateError("calorimeter resolution terms must be >= 0")
        if self.cell_e_min < 0:
            raise GenerateError(f"cell energy threshold must be >= 0 GeV, got {self.cell_e_min}")


@dataclass(frozen=True)
class GenerationSettings:
    """One sample. ``pthat_min`` / ``mhat_min`` (GeV) cut the QCD hard process: pTHatMin must
    stay well below the 1.2 TeV trigger or the jet pT spectrum near the trigger is lost (ISR and
    out-of-cone radiation move jets by O(100 GeV)); mHatMin sculpts the m_jj spectrum below
    about mhat_min + 300 GeV, so use the sample only above that. ``m_a``, ``m_b``, ``m_c``:
    signal masses A -> B C (GeV). ``mpi``: Pythia's multiparton interactions (underlying event),
    off by default: the real LHCO R&D features are matched much better without them (the
    lighter-jet mass runs ~20 GeV high with them; benchmarks/validate_generator.py)."""

    process: str
    events: int
    seed: int = 0
    chunk_events: int = 2000
    pthat_min: float = 1000.0
    mhat_min: float = 0.0
    m_a: float = 3500.0
    m_b: float = 500.0
    m_c: float = 100.0
    mpi: bool = False
    detector: DetectorSettings = field(default_factory=DetectorSettings)

    def validate(self) -> None:
        if self.process not in PROCESSES:
            raise GenerateError(f"unknown process {self.process!r}; choose from {PROCESSES}")
        if self.events <= 0:
            raise GenerateError(f"--events must be > 0, got {self.events}")
        if self.chunk_events <= 0:
            raise GenerateError(f"--chunk-events must be > 0, got {self.chunk_events}")
        if self.seed < 0:
            raise GenerateError(f"--seed must be >= 0, got {self.seed}")
        if self.process == "qcd":
            if self.pthat_min <= 0:
                raise GenerateError(f"--pthat-min must be > 0 GeV, got {self.pthat_min}")
            if self.pthat_min > TRIGGER_PT_GEV:
                raise GenerateError(
                    f"--pthat-min {self.pthat_min} GeV is above the {TRIGGER_PT_GEV:.0f} GeV "
                    "jet trigger: the jet pT spectrum near the trigger would be cut away"
                )
            if not 0 <= self.mhat_min < ECM_GEV:
                raise GenerateError(f"--mhat-min must be in [0, {ECM_GEV:.0f}) GeV")
        else:
            if min(self.m_a, self.m_b, self.m_c) <= 0:
                raise GenerateError("signal masses --m-a, --m-b, --m-c must be > 0 GeV")
            if self.m_b + self.m_c >= self.m_a:
                raise GenerateError(
                    f"A -> B C needs m_B + m_C < m_A; got {self.m_b} + {self.m_c} >= {self.m_a}"
                )
            if self.m_a >= ECM_GEV:
                raise GenerateError(f"--m-a must be below {ECM_GEV:.0f} GeV")
        self.detector.validate()

    @property
    def n_chunks(self) -> int:
        return -(-self.events // self.chunk_events)

    def chunk_sizes(self) -> list[int]:
        """Events per chunk: all ``chunk_events`` but the last."""
        sizes = [self.chunk_events] * self.n_chunks
        sizes[-1] = self.events - self.chunk_events * (self.n_chunks - 1)
        return sizes

    def physics_dict(self) -> dict[str, Any]:
        """The settings that determine the events (everything but irrelevant process cuts)."""
        values = dataclasses.asdict(self)
        drop = ("m_a", "m_b", "m_c") if self.process == "qcd" else ("pthat_min", "mhat_min")
        for key in drop:
            values.pop(key)
        return values

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> GenerationSettings:
        values = dict(values)
        values["detector"] = DetectorSettings(**values.get("detector", {}))
        return cls(**values)
