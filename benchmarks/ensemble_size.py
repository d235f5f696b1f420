"""What the CWoLa ensemble size buys: SI@1000, SI@100, max SIC and AUC vs members per fold.

    python benchmarks/ensemble_size.py configs/benchmarks/b2.yaml --members 1 5 10 50 \
        --methods iad cwola_sb --out benchmarks/results/ensemble_size_b2.json

Fits ``max(members)`` single-member k-fold classifiers with distinct seeds once; because the
soft vote is a mean, the M-member ensemble is the mean of M of them. Each M is evaluated on
every disjoint group of M members, so the spread over groups shows the member-to-member noise
that a bigger ensemble averages away (the 50-member number has one group).
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
from transit.io import write_json_atomic
from transit.pipeline import Evaluation, load_sample
from transit.regions import assign_folds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("config")
    parser.add_argument("--members", type=int, nargs="+", default=[1, 5, 10, 50])
    parser.add_argument("--methods", nargs="+", default=["iad", "cwola_sb"])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--set", action="append", default=[])
    parser.add_argument("--out", required=True)
    args = parser.parse_args()

    config = load_config(args.config, [*args.set, f"seed={args.seed}"])
    rng = np.random.default_rng(args.seed)
    sample, _ = load_sample(config, rng)
    k = config.cwola.n_folds
    fold_sr = assign_folds(len(sample.sr_data), k, rng)
    fold_eval = assign_folds(len(sample.eval_signal), k, rng)
    negatives = {
        "iad": sample.extra_background.features,
        "cwola_sb": sample.sb_data.features,
    }
    single = dataclasses.replace(config.cwola, n_members=1)
    n_total = max(args.members)
    report: dict = {"config": args.config, "seed": args.seed, "overrides": args.set,
                    "n_events": sample.counts(), "methods": {}}  # fmt: skip
    for method in args.methods:
        x_neg = negatives[method]
        fold_neg = assign_folds(len(x_neg), k, rng)
        start = time.perf_counter()
        members = [
            kfold_scores(sample.sr_data.features, fold_sr, x_neg, fold_neg, single,
                         seed=args.seed * 1000 + j, x_eval=sample.eval_signal.features,
                         fold_eval=fold_eval, n_workers=allotted_cpus(), desc=f"{method} {j}")
            for j in range(n_total)
        ]  # fmt: skip
        seconds = time.perf_counter() - start
        table = {}
        for m in args.members:
            rows = []
            for group in range(n_total // m):
                chosen = members[group * m : (group + 1) * m]
                evaluation = Evaluation(
                    np.mean([s.positive for s in chosen], axis=0),
                    np.mean([s.evaluation for s in chosen], axis=0),
                )
                rows.append(evaluation.metrics(sample))
            table[m] = {
                key: {"mean": float(np.mean([r[key] for r in rows])),
                      "std": float(np.std([r[key] for r in rows])), "groups": len(rows)}
                for key in ("si_at_rej_100", "si_at_rej_1000", "max_sic", "auc")
            }  # fmt: skip
            print(method, m, {k2: round(v["mean"], 3) for k2, v in table[m].items()})
        report["methods"][method] = {
            "by_members": table,
            "seconds_per_member_kfold": seconds / n_total,
        }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    write_json_atomic(args.out, report)
    print(json.dumps({m: v["seconds_per_member_kfold"] for m, v in report["methods"].items()}))


if __name__ == "__main__":
    main()
