"""How close `transit generate` comes to the real LHCO R&D events in the signal region.

    python benchmarks/validate_generator.py --qcd-events 6000 --signal-events 2000 --seed 1 \
        [--mpi] --detector default --detector cell_e_min=4 \
        --out benchmarks/results/generator_validation_mpi_off.json

Generates Pythia events once (particle level, |eta| < 2.5; QCD with mHatMin to enrich the
signal region, see --mhat-min) and runs every requested detector emulation + jets on the same
events. For each, in the signal region 3300 <= m_jj < 3700 GeV, compares the four features the
real file has (m_j1 lighter-jet mass, delta_m, tau21_j1, tau21_j2; the real arrays carry no
delta_R) with the real events (../shared/data/lhco_rnd_sr: extra_bkg for QCD, extra_sig for
signal): quantiles of each feature and the AUC of a classifier trained to tell real from
generated (HistGradientBoostingClassifier, 5-fold out-of-fold scores, 1 thread; 0.5 = the
classifier cannot tell). As the floor set by the sample size, the same AUC between two disjoint
real subsamples of the generated sample's size is reported too.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold
from threadpoolctl import threadpool_limits

from transit.features import dijet_features
from transit.generate.detector import emulate_detector, within_acceptance
from transit.generate.jets import cluster_dijets, lhco_table
from transit.generate.pythia_source import PythiaSource
from transit.generate.runner import chunk_seeds
from transit.generate.settings import ETA_MAX, DetectorSettings, GenerationSettings
from transit.io import write_json_atomic

REAL = Path(__file__).resolve().parents[2] / "shared" / "data" / "lhco_rnd_sr" / "lhco_rnd_sr.npz"
FEATURES = ("mj1", "delta_mj", "tau21_j1", "tau21_j2")
REAL_COLUMNS = {"mj1": "mj1", "delta_mj": "delta_mj", "tau21_j1": "tau21_j1",
                "tau21_j2": "tau21_j2"}  # fmt: skip
SR = (3300.0, 3700.0)
QUANTILES = (0.1, 0.25, 0.5, 0.75, 0.9)


def parse_detector(text: str) -> tuple[str, DetectorSettings]:
    if text == "off":
        return text, DetectorSettings(enabled=False)
    if text == "default":
        return text, DetectorSettings()
    values = {}
    for item in text.split(","):
        key, value = item.split("=")
        values[key.strip()] = float(value)
    return text, DetectorSettings(**values)


def real_features(key: str) -> np.ndarray:
    with np.load(REAL) as archive:
        columns = [str(c) for c in archive["columns"]]
        table = archive[key]
    out = np.column_stack([table[:, columns.index(REAL_COLUMNS[f])] for f in FEATURES])
    mass = np.array([f in ("mj1", "delta_mj") for f in FEATURES])
    out[:, mass] *= 1000.0  # TeV -> GeV
    return out[np.isfinite(out).all(axis=1)]


def generate_particles(settings: GenerationSettings, n_events: int, batch: int = 200):
    """Particle-level events (within the acceptance) in batches, and the generation time."""
    pythia_seed, _ = chunk_seeds(settings, 0)
    source = PythiaSource(settings, pythia_seed)
    start = time.perf_counter()
    batches = []
    for _ in range(-(-n_events // batch)):
        batches.append(within_acceptance(source.next_batch(batch).particles, ETA_MAX))
    return batches, time.perf_counter() - start


def sr_features(batches, detector: DetectorSettings, seed: int) -> tuple[np.ndarray, float, int]:
    """Signal-region features after detector + jets; seconds spent; events passing the trigger."""
    rng = np.random.default_rng(seed)
    start = time.perf_counter()
    rows, n_trigger = [], 0
    for particles in batches:
        dijets = cluster_dijets(emulate_detector(particles, detector, ETA_MAX, rng))
        n_trigger += len(dijets.kept)
        feats = dijet_features(lhco_table(dijets, 0))
        in_sr = (feats["mjj"] >= SR[0]) & (feats["mjj"] < SR[1])
        rows.append(np.column_stack([feats[f][in_sr] for f in FEATURES]))
    table = np.concatenate(rows)
    return table[np.isfinite(table).all(axis=1)], time.perf_counter() - start, n_trigger


def real_vs_generated_auc(real: np.ndarray, generated: np.ndarray, seed: int) -> float:
    x = np.concatenate([real, generated])
    y = np.concatenate([np.zeros(len(real)), np.ones(len(generated))])
    scores = np.zeros(len(y))
    folds = StratifiedKFold(5, shuffle=True, random_state=seed)
    with threadpool_limits(limits=1):
        for train, test in folds.split(x, y):
            model = HistGradientBoostingClassifier(max_iter=200, learning_rate=0.1,
                                                   class_weight="balanced", random_state=seed)
            model.fit(x[train], y[train])
            scores[test] = model.predict_proba(x[test])[:, 1]
    return float(roc_auc_score(y, scores))


def quantiles(table: np.ndarray) -> dict[str, list[float]]:
    return {f: np.quantile(table[:, i], QUANTILES).round(4).tolist()
            for i, f in enumerate(FEATURES)}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--qcd-events", type=int, default=6000, help="QCD events to generate")
    parser.add_argument("--signal-events", type=int, default=2500)
    parser.add_argument("--mhat-min", type=float, default=2800.0,
                        help="QCD mHatMin (GeV) to enrich the SR; 500 GeV below its lower edge")
    parser.add_argument("--mpi", action=argparse.BooleanOptionalAction, default=False,
                        help="Pythia multiparton interactions (default off, as transit generate)")
    parser.add_argument("--detector", action="append", default=[],
                        help="'off', 'default' or key=value,... of DetectorSettings (repeatable)")
    parser.add_argument("--n-real", type=int, default=10_000,
                        help="real events per comparison (random subsample)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    detectors = [parse_detector(t) for t in (args.detector or ["off", "default"])]
    rng = np.random.default_rng(args.seed)

    result: dict = {"sr_gev": SR, "features": FEATURES, "quantile_levels": QUANTILES,
                    "args": vars(args), "processes": {}}  # fmt: skip
    for process, n_events, real_key in (("qcd", args.qcd_events, "extra_bkg"),
                                         ("signal", args.signal_events, "extra_sig")):  # fmt: skip
        real_all = real_features(real_key)
        real = real_all[rng.permutation(len(real_all))[: args.n_real]]
        settings = GenerationSettings(process, n_events, seed=args.seed, mpi=args.mpi,
                                      mhat_min=args.mhat_min if process == "qcd" else 0.0)
        batches, gen_seconds = generate_particles(settings, n_events)
        entry: dict = {"real": {"n": len(real), "quantiles": quantiles(real)},
                       "pythia_events": n_events, "pythia_seconds": gen_seconds,
                       "detectors": {}}  # fmt: skip
        n_floor = None
        for name, detector in detectors:
            table, seconds, n_trigger = sr_features(batches, detector, args.seed)
            n_floor = len(table)
            auc = real_vs_generated_auc(real, table, args.seed)
            entry["detectors"][name] = {
                "settings": detector.__dict__, "n_sr": len(table), "n_trigger": n_trigger,
                "detector_and_jets_seconds": seconds, "auc_real_vs_generated": auc,
                "quantiles": quantiles(table),
            }  # fmt: skip
            print(f"{process:6s} {name:45s} n_SR={len(table):5d} AUC={auc:.3f}", flush=True)
        # the AUC two real samples of this size give (statistical floor)
        others = real_all[rng.permutation(len(real_all))]
        floor_a, floor_b = others[: args.n_real], others[args.n_real : args.n_real + n_floor]
        entry["auc_real_vs_real_floor"] = real_vs_generated_auc(floor_a, floor_b, args.seed)
        print(f"{process:6s} {'real vs real (floor)':45s} n={n_floor:5d} "
              f"AUC={entry['auc_real_vs_real_floor']:.3f}", flush=True)  # fmt: skip
        result["processes"][process] = entry
        for feature in FEATURES:
            cells = [f"real {entry['real']['quantiles'][feature]}"]
            cells += [f"{n}: {d['quantiles'][feature]}" for n, d in entry["detectors"].items()]
            print(f"  {feature:9s} " + " | ".join(cells))
    write_json_atomic(args.out, result)


if __name__ == "__main__":
    main()
