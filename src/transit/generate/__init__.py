"""LHCO-like event generation: Pythia 8 events -> detector emulation -> anti-kT jets -> the
official LHC Olympics features table.

Stages, one per module:
  settings.py       what to generate (process, masses, cuts, detector) and its validation
  pythia_source.py  Pythia 8 configuration and batches of final-state particles as flat arrays
  detector.py       acceptance and a simple detector emulation (numpy only)
  jets.py           anti-kT R = 1.0 jets, trigger, N-subjettiness, the 15 LHCO columns
  writer.py         chunk files, manifest, resume, final merge
  runner.py         chunks over worker processes with a progress bar

Pythia and FastJet are an optional extra: ``pip install transit-ad[generate]``.
"""

from __future__ import annotations

from ..io import DataError

EXTRA_HINT = "install transit-ad[generate] (pip install 'transit-ad[generate]')"


class GenerateError(DataError):
    """A generation request that cannot be run; the message names the problem and the fix."""


def require_generator_packages() -> None:
    """Raise GenerateError naming the extra when pythia8mc or fastjet is not importable."""
    missing = []
    for module in ("pythia8mc", "fastjet", "awkward"):
        try:
            __import__(module)
        except ImportError:
            missing.append(module)
    if missing:
        raise GenerateError(f"event generation needs {', '.join(missing)}: {EXTRA_HINT}")
