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

from . import __version__, plots
from .bumphunt import bump_hunt_detail, plot_bump_hunt, sliding_window_scan
from .config import KNOWN_METHODS, TEMPLATE_METHODS, RunConfig
from .cwola import KFoldScores, allotted_cpus, kfold_scores
from .diagnostics import transit_diagnostics
from .events import Events
from .io import load_events, write_arrays_hdf5, write_json_atomic
from .metrics import closure_auc, roc_curve, sculpting_chi2, selection_metrics
from .regions import Regions, SearchSample, assign_folds, build_sample
from .report import write_report
from .templates import build_template

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
RESULT_FILE = "result.json"
SCORES_FILE = "scores.h5"
CONFIG_FILE = "config.json"
LOG_FILE = "run.log"
TRANSIT_MODEL_FILE = "transit_model.pt"


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
    """Scores of one method: SR data (out-of-fold), held-out SR signal and, where the method
    can score them, the sideband data (for the sculpting check)."""

    sr_data: np.ndarray
    eval_signal: np.ndarray
    sb_data: np.ndarray | None = None

    def signal_and_background(
        self, sample: SearchSample
    ) -> tuple[np.ndarray, np.ndarray] | None:
        """Scores of the evaluation signal (SR-data signal out-of-fold + held-out SR signal) and
        of the SR-data background (out-of-fold). None when the data carry no truth labels."""
        label = sample.sr_data.label
        if label is None:
            return None
        signal = np.concatenate([self.sr_data[label == 1], self.eval_signal])
        return signal, self.sr_data[label == 0]

    def metrics(self, sample: SearchSample) -> dict[str, float] | None:
        """SI, max SIC and AUC of :meth:`signal_and_background`; None without truth or signal."""
        scores = self.signal_and_background(sample)
        if scores is None or len(scores[0]) == 0:
            return None
        return selection_metrics(*scores)

    def roc(self, sample: SearchSample) -> tuple[np.ndarray, np.ndarray]:
        scores = self.signal_and_background(sample)
        assert scores is not None
        return roc_curve(*scores)

    def sculpting(self, sample: SearchSample) -> dict[str, float] | None:
        """chi2/n of the true-background m_jj shape (SR and SB) after cuts on this score."""
        sr, sb = sample.sr_data, sample.sb_data
        if self.sb_data is None or sr.label is None or sb.label is None:
            return None
        mass = np.concatenate([sr.mass[sr.label == 0], sb.mass[sb.label == 0]])
        scores = np.concatenate([self.sr_data[sr.label == 0], self.sb_data[sb.label == 0]])
        return sculpting_chi2(mass, scores, mass_range=sample.regions.span)


@dataclass
class Folds:
    """The fold of every event, fixed once per run so that all methods share it."""

    sr: np.ndarray
    sb: np.ndarray
    eval_signal: np.ndarray


def run_one(
    config: RunConfig, out_dir: str | Path, overwrite: bool = False
) -> dict[str, Any]:
    """Run one search and write ``config.json``, ``run.log``, ``scores.h5``, plots and, last,
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
    injection_seed, fold_seed = np.random.SeedSequence(config.seed).spawn(2)
    log.info("run %s, seed %d, %d worker process(es)", config.name, config.seed, n_workers)

    with timer.stage("load"):
        sample, dropped = load_sample(config, np.random.default_rng(injection_seed))
    counts = sample.counts()
    log.info("events: %s", counts)

    fold_rng = np.random.default_rng(fold_seed)
    k = config.cwola.n_folds
    n_eval = 0 if sample.eval_signal is None else len(sample.eval_signal)
    folds = Folds(
        sr=assign_folds(len(sample.sr_data), k, fold_rng),
        sb=assign_folds(len(sample.sb_data), k, fold_rng),
        eval_signal=assign_folds(n_eval, k, fold_rng),
    )
    n_features = len(config.feature_names())
    x_eval_signal = (
        np.empty((0, n_features)) if sample.eval_signal is None else sample.eval_signal.features
    )

    def classify(
        name: str, x_sr: np.ndarray, x_neg: np.ndarray | None, x_eval: np.ndarray,
        x_sb: np.ndarray, rng: np.random.Generator, neg_source: np.ndarray | None = None,
    ) -> Evaluation:
        """CWoLa: SR data ``x_sr`` (positives) against ``x_neg``; ``x_neg=None`` means the
        sideband data ``x_sb`` themselves are the negatives (scored out-of-fold). Negatives
        made from sideband events (``neg_source``: their indices) take their source's fold,
        so each sideband event is scored by models that never saw a copy of it."""
        sb_negative = x_neg is None
        if sb_negative:
            fold_neg = folds.sb
        elif neg_source is not None:
            fold_neg = folds.sb[neg_source]
        else:
            fold_neg = assign_folds(len(x_neg), k, rng)
        extra = np.concatenate([x_eval, *([] if sb_negative else [x_sb])])
        fold_extra = np.concatenate([folds.eval_signal, *([] if sb_negative else [folds.sb])])
        with timer.stage(f"{name}_classifier"):
            result = kfold_scores(
                x_sr, folds.sr, x_sb if sb_negative else x_neg, fold_neg, config.cwola,
                seed=int(rng.integers(2**31)), x_eval=extra, fold_eval=fold_extra,
                n_workers=n_workers, desc=name,
            )  # fmt: skip
        n = len(x_eval)
        sb_scores = result.negative if sb_negative else result.evaluation[n:]
        return Evaluation(result.positive, result.evaluation[:n], sb_scores)

    methods: dict[str, dict[str, Any]] = {}
    evaluations: dict[str, Evaluation] = {}
    transit_model = None
    sr, sb = sample.sr_data, sample.sb_data
    for name in sorted(config.methods, key=KNOWN_METHODS.index):  # templates before latents
        # each method draws from its own stream: its numbers do not depend on the others run
        rng = np.random.default_rng([config.seed, 1 + KNOWN_METHODS.index(name)])
        info: dict[str, Any] = {}
        if name in TEMPLATE_METHODS:
            with timer.stage(f"{name}_template"):
                template = build_template(name, sample, config, rng, n_workers)
            info.update(template.info)
            if sr.label is not None:
                with timer.stage(f"{name}_closure"):
                    info["closure_auc"] = template_closure(
                        sample, template.features, config, rng, n_workers
                    )
            if name == "cwola_sb":
                evaluation = classify(name, sr.features, None, x_eval_signal, sb.features, rng)
            else:
                evaluation = classify(name, sr.features, template.features, x_eval_signal,
                                      sb.features, rng, template.source_index)  # fmt: skip
            if name == "transit":
                transit_model = template.model
                transit_model.save(out_dir / TRANSIT_MODEL_FILE)
                with timer.stage("transit_diagnostics"):
                    info.update(transit_diagnostics(
                        transit_model, sample, template.features, config, rng, n_workers, out_dir,
                    ))  # fmt: skip
        elif name == "latransit":
            assert transit_model is not None  # config validation orders transit first
            with timer.stage("latransit_latents"):
                z_sr = transit_model.latent(sr.features, sr.mass)
                z_sb = transit_model.latent(sb.features, sb.mass)
                z_eval = (
                    np.empty((0, z_sr.shape[1])) if sample.eval_signal is None
                    else transit_model.latent(sample.eval_signal.features, sample.eval_signal.mass)
                )  # fmt: skip
            evaluation = classify(name, z_sr, None, z_eval, z_sb, rng)
        elif name == "iad":
            assert sample.extra_background is not None
            evaluation = classify(name, sr.features, sample.extra_background.features,
                                  x_eval_signal, sb.features, rng)  # fmt: skip
        elif name == "supervised":
            supervised = supervised_scores(sample, folds, config, rng, n_workers, timer)
            if supervised is None:
                log.warning("supervised: no signal in the SR to train on; skipped")
                continue
            evaluation = supervised
        else:  # pragma: no cover - config validation lists every method
            raise ValueError(f"method {name!r} is not implemented")
        metrics = evaluation.metrics(sample)
        sculpting = evaluation.sculpting(sample)
        methods[name] = {**(metrics or {}), **info}
        if sculpting is not None:
            methods[name]["sculpting_chi2_per_bin"] = sculpting
        evaluations[name] = evaluation

    with timer.stage("bump_hunt"):
        bump = run_bump_hunts(out_dir, sample, evaluations)
    with timer.stage("write"):
        write_scores(out_dir / SCORES_FILE, sample, folds, evaluations)
        write_summary_plots(out_dir, sample, evaluations, methods)
    timer.seconds["total"] = round(time.perf_counter() - total_start, 3)
    result = {
        "schema_version": SCHEMA_VERSION,
        "name": config.name,
        "seed": config.seed,
        "status": "complete",
        "methods": methods,
        "bump_hunt": bump,
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
    write_report(out_dir)
    return result


#: The sliding-window scan runs on the events kept by this cut (top fraction by score).
SCAN_KEEP_FRACTION = 0.01
SCAN_TOYS = 200


def sliding_scan(
    mass: np.ndarray, scores: np.ndarray, sample: SearchSample, name: str
) -> dict[str, Any]:
    """Slide an SR-wide window over the span on the events passing the 1% cut; local Z per
    window and the global significance from background-only toys (look-elsewhere effect)."""
    keep = scores >= np.quantile(scores, 1.0 - SCAN_KEEP_FRACTION)
    lo, hi = sample.regions.sr
    width = hi - lo
    step = width / 4
    rng = np.random.default_rng([len(mass), 1 + KNOWN_METHODS.index(name)])
    try:
        scan = sliding_window_scan(mass[keep], sample.regions.span, width, step,
                                   n_toys=SCAN_TOYS, rng=rng)  # fmt: skip
    except ValueError as exc:  # windows that do not fit the span: say so, no number
        return {"status": f"not run: {exc}"}
    return {"status": "ok", "keep_fraction": SCAN_KEEP_FRACTION, **scan}


def run_bump_hunts(
    out_dir: Path, sample: SearchSample, evaluations: dict[str, Evaluation]
) -> dict[str, Any]:
    """Bump hunt on the data (SR and SB) after cuts on each method's score: sideband fit of
    m_jj, predicted SR background, local significance (``transit.bumphunt``). Needs no truth."""
    sr, sb = sample.sr_data, sample.sb_data
    mass = np.concatenate([sr.mass, sb.mass])
    results: dict[str, Any] = {}
    for name, evaluation in evaluations.items():
        if evaluation.sb_data is None:
            continue
        scores = np.concatenate([evaluation.sr_data, evaluation.sb_data])
        detail = bump_hunt_detail(mass, scores, sample.regions.sr, sample.regions.span)
        results[name] = {"cuts": detail.records,
                         "sliding_scan": sliding_scan(mass, scores, sample, name)}  # fmt: skip
        z_by_cut = {r["keep_fraction"]: r["z"] for r in detail.records}
        plot_bump_hunt(detail.counts, detail.edges, detail.fits, sample.regions.sr,
                       out_dir / "plots" / f"bump_hunt_{name}", z_by_cut)  # fmt: skip
    return results


def write_summary_plots(
    out_dir: Path,
    sample: SearchSample,
    evaluations: dict[str, Evaluation],
    methods: dict[str, dict[str, Any]],
) -> None:
    """SI and rejection curves of every method; sculpting chi2/n vs rejection."""
    if sample.sr_data.label is None or not evaluations:
        return
    curves = {name: ev.roc(sample) for name, ev in evaluations.items()}
    plots.si_curves(curves, out_dir / "plots" / "si_curves")
    chi2 = {n: m["sculpting_chi2_per_bin"] for n, m in methods.items()
            if "sculpting_chi2_per_bin" in m}  # fmt: skip
    if chi2:
        plots.sculpting(chi2, out_dir / "plots" / "sculpting")


def template_closure(
    sample: SearchSample,
    template: np.ndarray,
    config: RunConfig,
    rng: np.random.Generator,
    n_workers: int,
) -> float:
    """Closure AUC: k-fold classifier of true SR background (SR data with label 0) against the
    template, with ``cwola.closure_members`` members per fold; 0.5 = perfect template."""
    assert sample.sr_data.label is not None
    background = sample.sr_data.features[sample.sr_data.label == 0]
    k = config.cwola.n_folds
    result: KFoldScores = kfold_scores(
        background, assign_folds(len(background), k, rng),
        template, assign_folds(len(template), k, rng),
        config.cwola, seed=int(rng.integers(2**31)),
        n_members=config.cwola.closure_members, n_workers=n_workers, desc="closure",
    )  # fmt: skip
    return closure_auc(result.positive, result.negative)


def supervised_scores(
    sample: SearchSample,
    folds: Folds,
    config: RunConfig,
    rng: np.random.Generator,
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
    f_sig = [folds.sr[is_sig]]
    if sample.eval_signal is not None:
        x_sig.append(sample.eval_signal.features)
        f_sig.append(folds.eval_signal)
    x_pos, fold_pos = np.concatenate(x_sig), np.concatenate(f_sig)
    if len(x_pos) < config.cwola.n_folds:
        return None
    with timer.stage("supervised_classifier"):
        result = kfold_scores(
            x_pos, fold_pos, sample.sr_data.features[~is_sig], folds.sr[~is_sig], config.cwola,
            seed=int(rng.integers(2**31)), n_workers=n_workers, desc="supervised",
        )  # fmt: skip
    sr_scores = np.empty(len(label))
    n_data_sig = int(is_sig.sum())
    sr_scores[is_sig] = result.positive[:n_data_sig]
    sr_scores[~is_sig] = result.negative
    return Evaluation(sr_scores, result.positive[n_data_sig:])


def write_scores(
    path: Path, sample: SearchSample, folds: Folds, evaluations: dict[str, Evaluation]
) -> None:
    """HDF5: ``sr_data/{mass,label,fold}``, ``sb_data/{mass,label,fold}``,
    ``eval_signal/{mass,fold}`` and ``scores/<method>/{sr_data,eval_signal,sb_data}``."""
    groups: dict[str, dict[str, np.ndarray]] = {}
    for group, events, fold in (("sr_data", sample.sr_data, folds.sr),
                                ("sb_data", sample.sb_data, folds.sb),
                                ("eval_signal", sample.eval_signal, folds.eval_signal)):  # fmt: skip
        if events is None:
            continue
        groups[group] = {"mass": events.mass, "fold": fold}
        if events.label is not None and group != "eval_signal":
            groups[group]["label"] = events.label
    for name, evaluation in evaluations.items():
        arrays = {"sr_data": evaluation.sr_data, "eval_signal": evaluation.eval_signal}
        if evaluation.sb_data is not None:
            arrays["sb_data"] = evaluation.sb_data
        groups[f"scores/{name}"] = arrays
    write_arrays_hdf5(path, groups)
