"""Signal-free closure of TRANSIT training variants: the numbers hyperparameters are chosen on.

    python benchmarks/closure_tuning.py configs/benchmarks/b1.yaml --set injection.n_signal=0 \
        --variant base='{}' --variant wadv1='{"w_adv": 1.0}' \
        --out benchmarks/results/closure_tuning_b1.json

Each variant is a JSON object of ``TrainSettings`` fields (applied on top of the run's
``profile``) and/or ``TransitTransport`` constructor arguments (``latent_dim``, ``width``,
``n_blocks``, ``disc_width``, ``disc_layers``, ``feature_transform``). For each variant and seed the script trains the
transport on the sidebands and reports, with no signal truth used:
- ``closure_auc``: k-fold classifier AUC of the SR data against a 4 x N_SR transported template
  (at ``injection.n_signal=0`` the SR data is pure background, so 0.5 = perfect template);
- ``feature_closure_aucs``: the same, one feature at a time (binned likelihood ratio), to see
  which feature the template gets wrong;
- ``sb1_to_sb2_auc`` / ``sb2_to_sb1_auc``: the sideband transport closures;
- training time, steps and the last epoch's validation losses.
Results are appended to ``--out`` after every variant, so a killed run keeps what it finished.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path

import numpy as np

from transit.config import load_config
from transit.cwola import allotted_cpus, kfold_scores
from transit.diagnostics import sideband_closures
from transit.io import write_json_atomic
from transit.metrics import closure_auc, feature_closure_aucs
from transit.pipeline import load_sample
from transit.regions import assign_folds
from transit.transport.estimator import TransitTransport
from transit.transport.train import profile

MODEL_ARGS = ("latent_dim", "width", "n_blocks", "disc_width", "disc_layers", "feature_transform")


def evaluate_variant(config, sample, overrides: dict, seed: int, n_workers: int) -> dict:
    model_args = {k: v for k, v in overrides.items() if k in MODEL_ARGS}
    train_args = {k: v for k, v in overrides.items() if k not in MODEL_ARGS}
    if "lr_milestones" in train_args:
        train_args["lr_milestones"] = tuple(train_args["lr_milestones"])
    settings = dataclasses.replace(profile(config.profile), **train_args)
    rng = np.random.default_rng([seed, 99])
    model = TransitTransport(settings=settings, random_state=seed, n_threads=n_workers,
                             **model_args)  # fmt: skip
    sb, sr = sample.sb_data, sample.sr_data
    start = time.perf_counter()
    model.fit(sb.features, sb.mass, m_pool=np.concatenate([sb.mass, sr.mass]),
              mass_range=sample.regions.span)  # fmt: skip
    size = round(config.transit.template_factor * len(sr))
    source = rng.integers(len(sb), size=size)
    template = model.transport(sb.features[source], sb.mass[source],
                               rng.choice(sr.mass, size=size))  # fmt: skip
    template_seconds = time.perf_counter() - start
    k = config.cwola.n_folds
    truth = sr.label == 0 if sr.label is not None else np.ones(len(sr), bool)
    scores = kfold_scores(
        sr.features[truth], assign_folds(int(truth.sum()), k, rng), template,
        assign_folds(size, k, rng), config.cwola, seed=seed,
        n_members=config.cwola.closure_members, n_workers=n_workers, desc="closure",
    )  # fmt: skip
    result = {
        "seed": seed,
        "settings": {**dataclasses.asdict(settings), **model_args},
        "closure_auc": closure_auc(scores.positive, scores.negative),
        "feature_closure_aucs": dict(zip(
            config.feature_names(), feature_closure_aucs(sr.features[truth], template)
        )),
        **sideband_closures(model, sample, config, rng, n_workers),
        "template_seconds": round(template_seconds, 1),
        "train_seconds": round(model.train_seconds_, 1),
        "train_steps": model.n_steps_,
        "final": {k: v for k, v in model.history_[-1].items() if k.startswith(("val_", "g_"))},
        "g_step_fraction": float(
            np.mean([h["g_steps"] / max(1, h["d_steps"]) for h in model.history_ if h["d_steps"]])
        ),
    }
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("config")
    parser.add_argument("--variant", action="append", required=True, metavar="NAME=JSON")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--set", action="append", default=[])
    parser.add_argument("--out", required=True)
    args = parser.parse_args()

    config = load_config(args.config, args.set)
    sample, _ = load_sample(config, np.random.default_rng(config.seed))
    n_workers = config.n_workers or allotted_cpus()
    out = Path(args.out)
    report = json.loads(out.read_text()) if out.exists() else {"variants": {}}
    report.update({"config": args.config, "overrides": args.set, "profile": config.profile,
                   "n_events": sample.counts()})  # fmt: skip
    for spec in args.variant:
        name, _, text = spec.partition("=")
        overrides = json.loads(text or "{}")
        entry = report["variants"].setdefault(name, {"overrides": overrides, "runs": []})
        done = {run["seed"] for run in entry["runs"]}
        for seed in args.seeds:
            if seed in done:
                continue
            run = evaluate_variant(config, sample, overrides, seed, n_workers)
            print(name, json.dumps(run), flush=True)
            entry["runs"].append(run)
            write_json_atomic(out, report)


if __name__ == "__main__":
    main()
