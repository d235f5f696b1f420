"""Is the TRANSIT discriminator learning? Compare it with a boosted-tree classifier on its task.

    python benchmarks/discriminator_check.py RUN_DIR [--events 100000]

On sideband events of the run (RUN_DIR/config.json, RUN_DIR/transit_model.pt), real pairs
(x, m) are compared with transported pairs (G(E(x, m), m_t), m_t), m_t a shuffle of m -- the
discriminator's own task. Printed as JSON: the AUC of the trained D on these pairs, and the
held-out AUC of a HistGradientBoostingClassifier trained on half of them (with and without
delta_R alone). A tree AUC well above the D's means the D has not learnt what a classifier can
see, so the adversarial term cannot correct it (the reason for ``disc_lr_factor``).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import roc_auc_score

from transit.config import load_config
from transit.pipeline import load_sample
from transit.transport.estimator import TransitTransport


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run_dir")
    parser.add_argument("--events", type=int, default=100_000)
    args = parser.parse_args()
    run_dir = Path(args.run_dir)
    config = load_config(run_dir / "config.json")
    injection_seed, _ = np.random.SeedSequence(config.seed).spawn(2)  # as the pipeline does
    sample, _ = load_sample(config, np.random.default_rng(injection_seed))
    model = TransitTransport.load(run_dir / "transit_model.pt")
    rng = np.random.default_rng(0)
    pick = rng.permutation(len(sample.sb_data))[: args.events]
    x, m = sample.sb_data.features[pick], sample.sb_data.mass[pick]
    m_t = m[rng.permutation(len(m))]
    x_t = model.transport(x, m, m_t)
    pairs = np.vstack([np.column_stack([x, m]), np.column_stack([x_t, m_t])])
    labels = np.r_[np.ones(len(x)), np.zeros(len(x))]

    with torch.no_grad():
        def d_logit(xx: np.ndarray, mm: np.ndarray) -> np.ndarray:
            xs = torch.tensor(model.feature_scaler_.transform(xx), dtype=torch.float32)
            ms = torch.tensor(model.mass_scaler_.transform(mm), dtype=torch.float32)
            return model.discriminator_(xs, ms).numpy()

        d_auc = roc_auc_score(labels, np.r_[d_logit(x, m), d_logit(x_t, m_t)])

    order = rng.permutation(len(pairs))
    train, test = order[: len(order) // 2], order[len(order) // 2 :]
    names = list(config.feature_names())

    def tree_auc(columns: list[int]) -> float:
        clf = HistGradientBoostingClassifier(max_iter=300, random_state=0)
        clf.fit(pairs[train][:, columns], labels[train])
        return roc_auc_score(labels[test], clf.predict_proba(pairs[test][:, columns])[:, 1])

    report = {"run_dir": str(run_dir), "events": len(x), "trained_d_auc": d_auc,
              "tree_auc_all_features_and_mass": tree_auc(list(range(pairs.shape[1])))}  # fmt: skip
    if "delta_R" in names:
        report["tree_auc_delta_R_and_mass"] = tree_auc([names.index("delta_R"), len(names)])
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
