"""A conditional normalizing-flow template (CATHODE-style, arXiv:2109.00546), for comparison.

The flow learns the sideband density p(x | m) by maximum likelihood,
    L = -mean log p(t(x) | m) ,   t = the TRANSIT feature scaler (its Jacobian is constant in
the model parameters, so it does not change the optimum),
with a neural spline flow from ``zuko`` (autoregressive monotonic rational-quadratic spline
transforms, Durkan et al. arXiv:1906.04032; CATHODE used affine autoregressive transforms). The template is a sample of p(x | m) at
bootstrapped SR-data masses. Training keeps the weights of the epoch with the lowest
validation loss (a shuffled 10% of the sideband events) and stops after ``patience`` epochs
without improvement.
"""

from __future__ import annotations

import copy
import math
import time
from typing import Any

import numpy as np
import torch

from .config import FlowConfig
from .preprocessing import FeatureScaler, MassScaler
from .transport.train import torch_threads

# sampling memory grows with the batch: 65536 peaked at 2.7 GB for 400k events, 8192 at 1.0 GB
_SAMPLE_BATCH = 8192


class ConditionalFlow:
    """p(x | m) with a zuko NSF on scaled features; ``fit`` then ``sample``."""

    def __init__(self, settings: FlowConfig, random_state: int = 0, n_threads: int = 1):
        self.settings = settings
        self.random_state = random_state
        self.n_threads = n_threads

    def fit(self, x: np.ndarray, m: np.ndarray, mass_range: tuple[float, float]) -> ConditionalFlow:
        try:
            import zuko
        except ImportError as exc:  # pragma: no cover - zuko is a dependency
            raise ImportError("the flow template needs zuko: pip install zuko") from exc
        s = self.settings
        self.feature_scaler_ = FeatureScaler().fit(x)
        self.mass_scaler_ = MassScaler(*mass_range)
        xs = torch.tensor(self.feature_scaler_.transform(x), dtype=torch.float32)
        ms = torch.tensor(self.mass_scaler_.transform(m), dtype=torch.float32).unsqueeze(-1)
        gen = torch.Generator().manual_seed(self.random_state)
        order = torch.randperm(len(xs), generator=gen)
        n_val = max(1, round(s.val_fraction * len(xs)))
        val, train = order[:n_val], order[n_val:]
        with torch.random.fork_rng(devices=[]), torch_threads(self.n_threads):
            torch.manual_seed(self.random_state)
            self.flow_ = zuko.flows.NSF(
                features=xs.shape[1], context=1, transforms=s.transforms, bins=s.bins,
                hidden_features=(s.hidden, s.hidden),
            )  # fmt: skip
            optimizer = torch.optim.AdamW(self.flow_.parameters(), lr=s.lr)
            scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, s.epochs)
            best, best_state, stale = math.inf, None, 0
            self.history_: list[dict[str, float]] = []
            start = time.perf_counter()
            self.n_steps_ = 0
            for epoch in range(s.epochs):
                self.flow_.train()
                perm = train[torch.randperm(len(train), generator=gen)]
                total = 0.0
                n_batches = max(1, len(perm) // s.batch_size)
                for i in range(n_batches):
                    idx = perm[i * s.batch_size : (i + 1) * s.batch_size]
                    loss = -self.flow_(ms[idx]).log_prob(xs[idx]).mean()
                    optimizer.zero_grad(set_to_none=True)
                    loss.backward()
                    optimizer.step()
                    total += loss.item()
                    self.n_steps_ += 1
                scheduler.step()
                self.flow_.eval()
                with torch.no_grad():
                    val_loss = -self.flow_(ms[val]).log_prob(xs[val]).mean().item()
                if not math.isfinite(val_loss):
                    raise RuntimeError(f"flow training diverged in epoch {epoch + 1}")
                self.history_.append(
                    {"epoch": epoch + 1, "train_nll": total / n_batches, "val_nll": val_loss}
                )
                if val_loss < best:
                    best, best_state, stale = val_loss, copy.deepcopy(self.flow_.state_dict()), 0
                else:
                    stale += 1
                    if stale >= s.patience:
                        break
            self.train_seconds_ = time.perf_counter() - start
        assert best_state is not None
        self.flow_.load_state_dict(best_state)
        self.flow_.eval()
        return self

    def sample(self, m_target: np.ndarray) -> np.ndarray:
        """One event x ~ p(x | m) per target mass, physical units, float64 (n, f)."""
        ms = torch.tensor(self.mass_scaler_.transform(np.asarray(m_target)), dtype=torch.float32)
        parts = []
        with torch.random.fork_rng(devices=[]), torch_threads(self.n_threads), torch.no_grad():
            torch.manual_seed(self.random_state + 1)
            for i in range(0, len(ms), _SAMPLE_BATCH):
                parts.append(self.flow_(ms[i : i + _SAMPLE_BATCH].unsqueeze(-1)).sample())
        scaled = torch.cat(parts).numpy().astype(np.float64)
        return self.feature_scaler_.inverse_transform(scaled)


def summary(model: ConditionalFlow) -> dict[str, Any]:
    """Numbers of a fitted flow for result.json."""
    best = min(model.history_, key=lambda h: h["val_nll"])
    return {
        "train_steps": model.n_steps_,
        "train_seconds": round(model.train_seconds_, 2),
        "epochs_run": len(model.history_),
        "best_epoch": best["epoch"],
        "best_val_nll": best["val_nll"],
    }
