"""One search, end to end: data -> regions -> templates -> CWoLa -> metrics -> result files.

``run_one(config, out_dir)`` is pure in the sense that matters for scans: everything it does is
fixed by the config (seed included) and everything it produces lands in ``out_dir``;
``result.json`` is written last and atomically, so its presence means the run is complete.
"""

from __future__ import annotations

import logging
import platform
import resource
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from . import __version__
from .config import TEMPLATE_METHODS, RunConfig
from .cwola import KFoldScores, allotted_cpus, kfold_scores
from .events import Events
from .io import load_events, write_arrays_hdf5, write_json_atomic
from .metrics import closure_auc, selection_metrics
from .regions import Regions, SearchSample, assign_folds, build_sample
from .templates import build_template

log = logging.getLogger(__name__)

RESULT_FILE = "result.json"
SCORES_FILE = "scores.h5"
CONFIG_FILE = "config.json"
LOG_FILE = "run.log"


class OutputExistsError(FileExistsError):
    """The output directory already holds a run."""


@dataclass
class Timer:
    """Wall-clock seconds per named stage."""

    seconds: dict[str, float] = field(default_factory=dict)

    @contextmanager
    def stage(self, name: str):  # type: ignore[no-untyped-def]
        start = time.perf_counter()
        log.info("stage %s ...", name)
        try:
            yield
        finally:
            self.seconds[name] = round(time.perf_counter() - start, 3)
            log.info("stage %s done in %.1f s", name, self.seconds[name])


def package_versions() -> dict[str, str]:
    versions = {"transit-ad": __version__, "python": platform.python_version()}
    for dist in ("numpy", "scikit-learn", "torch", "pandas", "h5py"):
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:  # pragma: no cover
            versions[dist] = "not installed"
    return versions


def prepare_output(out_dir: Path, overwrite: bool) -> None:
    """Refuse to mix two runs in one directory unless asked; never leave a stale result."""
    if out_dir.exists() and any(out_dir.iterdir()):
        if not overwrite:
            raise OutputExistsError(
                f"output directory {out_dir} already exists and is not empty: choose another "
                "--out, or pass --overwrite to replace the run in it"
            )
        (out_dir / RESULT_FILE).unlink(missing_ok=True)
    out_dir.mkdir(parents=True, exist_ok=True)


def load_sample(config: RunConfig, rng: np.random.Generator) -> tuple[SearchSample, dict[str, int]]:
    """Read every source, inject the signal and cut the regions."""
    names = config.feature_names()
    data, dropped_data = load_events(config.data, names)
    dropped = {"data": dropped_data}
    pool = extra_bkg = None
    if config.injection.pool == "extra_signal":
        assert config.extra_signal is not None
        pool, dropped["extra_signal"] = load_events(config.extra_signal, names)
        if pool.label is not None:
            pool = pool.select(pool.label == 1)
        else:
            pool = Events(pool.mass, pool.features, names, np.ones(len(pool), dtype=np.int8))
    if config.extra_background is not None:
        extra_bkg, dropped["extra_background"] = load_events(config.extra_background, names)
    sample = build_sample(
        data,
        Regions.from_config(config.regions),
        config.injection.n_signal,
        rng,
        signal_pool=pool,
        extra_background=extra_bkg,
    )
    return sample, dropped


@dataclass(frozen=True)
class Evaluation:
    """Scores of one method on the events it is judged on."""

    sr_data: np.ndarray
    eval_signal: np.ndarray

    def metrics(self, sample: SearchSample) -> dict[str, float] | None:
        """Signal = SR-data signal (out-of-fold) + held-out SR signal; background = SR-data
        background (out-of-fold). None when the data carry no truth labels."""
        label = sample.sr_data.label
        if label is None:
            return None
        signal = np.concatenate([self.sr_data[label == 1], self.eval_signal])
        if len(signal) == 0:
            return None
        return selection_metrics(signal, self.sr_data[label == 0])


def _eval_features(sample: SearchSample) -> np.ndarray | None:
    return None if sample.eval_signal is None else sample.eval_signal.features


def run_one(
    config: RunConfig, out_dir: str | Path, overwrite: bool = False
) -> dict[str, Any]:
    """Run one search and write ``config.json``, ``run.log``, ``scores.h5`` and, last,
    ``result.json`` into ``out_dir``. Returns the result dictionary."""
    out_dir = Path(out_dir)
    prepare_output(out_dir, overwrite)
    handler = logging.FileHandler(out_dir / LOG_FILE, mode="w")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    package_logger = logging.getLogger("transit")
    package_logger.addHandler(handler)
    try:
        write_json_atomic(out_dir / CONFIG_FILE, config.to_dict())
        return _run(config, out_dir)
    finally:
        package_logger.removeHandler(handler)
        handler.close()


def _run(config: RunConfig, out_dir: Path) -> dict[str, Any]:
    timer = Timer()
    total_start = time.perf_counter()
    n_workers = config.n_workers or allotted_cpus()
    injection_seed, fold_seed, template_seed, classifier_seed = np.random.SeedSequence(
        config.seed
    ).spawn(4)
    log.info("run %s, seed %d, %d worker process(es)", config.name, config.seed, n_workers)

    with timer.stage("load"):
        sample, dropped = load_sample(config, np.random.default_rng(injection_seed))
    counts = sample.counts()
    log.info("events: %s", counts)

    fold_rng = np.random.default_rng(fold_seed)
    k = config.cwola.n_folds
    fold_sr = assign_folds(len(sample.sr_data), k, fold_rng)
    n_eval = 0 if sample.eval_signal is None else len(sample.eval_signal)
    fold_eval = assign_folds(n_eval, k, fold_rng)
    x_eval = _eval_features(sample)
    classifier_rng = np.random.default_rng(classifier_seed)
    template_rng = np.random.default_rng(template_seed)

    methods: dict[str, dict[str, Any]] = {}
    scores: dict[str, dict[str, np.ndarray]] = {}
    sr_label = sample.sr_data.label

    def cwola_against(name: str, x_neg: np.ndarray) -> Evaluation:
        """SR data (positives) against a background sample (negatives)."""
        fold_neg = assign_folds(len(x_neg), k, fold_rng)
        with timer.stage(f"{name}_classifier"):
            result = kfold_scores(
                sample.sr_data.features, fold_sr, x_neg, fold_neg, config.cwola,
                seed=int(classifier_rng.integers(2**31)), x_eval=x_eval, fold_eval=fold_eval,
                n_workers=n_workers, desc=name,
            )  # fmt: skip
        return Evaluation(result.positive, result.evaluation)

    for name in config.methods:
        info: dict[str, Any] = {}
        if name in TEMPLATE_METHODS:
            with timer.stage(f"{name}_template"):
                template = build_template(name, sample, config, template_rng, n_workers)
            info.update(template.info)
            if sr_label is not None:
                with timer.stage(f"{name}_closure"):
                    info["closure_auc"] = template_closure(
                        sample, template.features, config, classifier_rng, fold_rng, n_workers
                    )
            evaluation = cwola_against(name, template.features)
        elif name == "iad":
            assert sample.extra_background is not None
            evaluation = cwola_against(name, sample.extra_background.features)
        elif name == "supervised":
            evaluation = supervised_scores(
                sample, fold_sr, fold_eval, config, classifier_rng, n_workers, timer
            )
            if evaluation is None:
                log.warning("supervised: no signal in the SR to train on; skipped")
                continue
        else:  # pragma: no cover - config validation lists every method
            raise ValueError(f"method {name!r} is not implemented")
        metrics = evaluation.metrics(sample)
        methods[name] = {**(metrics or {}), **info}
        scores[name] = {"sr_data": evaluation.sr_data, "eval_signal": evaluation.eval_signal}

    with timer.stage("write"):
        write_scores(out_dir / SCORES_FILE, sample, fold_sr, fold_eval, scores)
    timer.seconds["total"] = round(time.perf_counter() - total_start, 3)
    result = {
        "name": config.name,
        "seed": config.seed,
        "status": "complete",
        "methods": methods,
        "n_events": counts,
        "n_dropped_nonfinite": dropped,
        "timings_s": timer.seconds,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "n_workers": n_workers,
        "versions": package_versions(),
        "command": " ".join(sys.argv),
        "config": config.to_dict(),
    }
    write_json_atomic(out_dir / RESULT_FILE, result)
    log.info("wrote %s", out_dir / RESULT_FILE)
    return result


def template_closure(
    sample: SearchSample,
    template: np.ndarray,
    config: RunConfig,
    classifier_rng: np.random.Generator,
    fold_rng: np.random.Generator,
    n_workers: int,
) -> float:
    """Closure AUC: k-fold classifier of true SR background (SR data with label 0) against the
    template, with ``cwola.closure_members`` members per fold; 0.5 = perfect template."""
    assert sample.sr_data.label is not None
    background = sample.sr_data.features[sample.sr_data.label == 0]
    k = config.cwola.n_folds
    result: KFoldScores = kfold_scores(
        background, assign_folds(len(background), k, fold_rng),
        template, assign_folds(len(template), k, fold_rng),
        config.cwola, seed=int(classifier_rng.integers(2**31)),
        n_members=config.cwola.closure_members, n_workers=n_workers, desc="closure",
    )  # fmt: skip
    return closure_auc(result.positive, result.negative)


def supervised_scores(
    sample: SearchSample,
    fold_sr: np.ndarray,
    fold_eval: np.ndarray,
    config: RunConfig,
    classifier_rng: np.random.Generator,
    n_workers: int,
    timer: Timer,
) -> Evaluation | None:
    """Fully supervised reference: SR signal (injected + held-out) against SR-data background,
    k-fold with the same fold of every event as the other methods."""
    label = sample.sr_data.label
    if label is None:
        return None
    is_sig = label == 1
    x_sig = [sample.sr_data.features[is_sig]]
    f_sig = [fold_sr[is_sig]]
    if sample.eval_signal is not None:
        x_sig.append(sample.eval_signal.features)
        f_sig.append(fold_eval)
    x_pos, fold_pos = np.concatenate(x_sig), np.concatenate(f_sig)
    if len(x_pos) < config.cwola.n_folds:
        return None
    with timer.stage("supervised_classifier"):
        result = kfold_scores(
            x_pos, fold_pos, sample.sr_data.features[~is_sig], fold_sr[~is_sig], config.cwola,
            seed=int(classifier_rng.integers(2**31)), n_workers=n_workers, desc="supervised",
        )  # fmt: skip
    sr_scores = np.empty(len(label))
    n_data_sig = int(is_sig.sum())
    sr_scores[is_sig] = result.positive[:n_data_sig]
    sr_scores[~is_sig] = result.negative
    return Evaluation(sr_scores, result.positive[n_data_sig:])


def write_scores(
    path: Path,
    sample: SearchSample,
    fold_sr: np.ndarray,
    fold_eval: np.ndarray,
    scores: dict[str, dict[str, np.ndarray]],
) -> None:
    """HDF5: ``sr_data/{mass,label,fold}``, ``eval_signal/{mass,fold}``,
    ``scores/<method>/{sr_data,eval_signal}`` (out-of-fold scores)."""
    groups: dict[str, dict[str, np.ndarray]] = {
        "sr_data": {"mass": sample.sr_data.mass, "fold": fold_sr},
    }
    if sample.sr_data.label is not None:
        groups["sr_data"]["label"] = sample.sr_data.label
    if sample.eval_signal is not None:
        groups["eval_signal"] = {"mass": sample.eval_signal.mass, "fold": fold_eval}
    for name, arrays in scores.items():
        groups[f"scores/{name}"] = arrays
    write_arrays_hdf5(path, groups)
