"""Scikit-learn style front end of the TRANSIT transport network (arXiv:2503.04342).

``TransitTransport.fit`` learns E and G on sideband events; ``transport`` then maps an event x at
mass m to G(E(x, m), m_target), in physical units.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import torch

from transit.preprocessing import FEATURE_SCALERS, MassScaler, feature_scaler_from_arrays
from transit.transport.model import ConditionedResidualMLP, Discriminator
from transit.transport.train import TrainSettings, profile, torch_threads, train_transport

_FORMAT_VERSION = 1
_INFERENCE_BATCH = 65536


def _features(x: Any, name: str = "x") -> np.ndarray:
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim != 2:
        raise ValueError(f"{name} must have shape (n_events, n_features), got {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or inf values")
    return arr


def _masses(m: Any, n: int, name: str) -> np.ndarray:
    """Return ``m`` as a float64 (n,) array; a scalar is broadcast to n events."""
    arr = np.asarray(m, dtype=np.float64)
    if arr.ndim == 0:
        arr = np.full(n, float(arr))
    if arr.shape != (n,):
        raise ValueError(f"{name} must have shape ({n},), got {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or inf values")
    return arr


class TransitTransport:
    """TRANSIT: mass-conditioned transport of events x from mass m to a target mass.

    The constructor only stores its arguments. ``settings`` (a ``TrainSettings``) replaces the
    named ``profile``; ``epochs`` and ``batch_size`` override either. ``feature_transform`` is the
    feature scaling fitted on the training sample: ``logit`` (the authors' recipe,
    ``FeatureScaler``) or ``gauss`` (``GaussianQuantileScaler``). Outputs are float64 numpy
    arrays in physical units (the network itself runs in float32).
    """

    def __init__(
        self,
        latent_dim: int = 8,
        width: int = 128,
        n_blocks: int = 2,
        disc_width: int = 64,
        disc_layers: int = 4,
        feature_transform: str = "logit",
        profile: str = "paper",
        settings: TrainSettings | None = None,
        epochs: int | None = None,
        batch_size: int | None = None,
        random_state: int = 0,
        n_threads: int = 1,
        device: str = "cpu",
        progress: bool = False,
    ) -> None:
        self.latent_dim = latent_dim
        self.width = width
        self.n_blocks = n_blocks
        self.disc_width = disc_width
        self.disc_layers = disc_layers
        if feature_transform not in FEATURE_SCALERS:
            raise ValueError(
                f"feature_transform {feature_transform!r}: use one of {sorted(FEATURE_SCALERS)}"
            )
        self.feature_transform = feature_transform
        self.profile = profile
        self.settings = settings
        self.epochs = epochs
        self.batch_size = batch_size
        self.random_state = random_state
        self.n_threads = n_threads
        self.device = device
        self.progress = progress

    def resolved_settings(self) -> TrainSettings:
        """The training settings that ``fit`` uses."""
        settings = self.settings if self.settings is not None else profile(self.profile)
        overrides = {"epochs": self.epochs, "batch_size": self.batch_size}
        return dataclasses.replace(
            settings, **{k: v for k, v in overrides.items() if v is not None}
        )

    def _build(self, n_features: int, settings: TrainSettings) -> None:
        """Create E, G and D with weights drawn from ``torch.manual_seed(random_state)``."""
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.random_state)
            common = {
                "width": self.width,
                "n_blocks": self.n_blocks,
                "zero_init_scales": settings.zero_init_scales,
            }
            self.encoder_ = ConditionedResidualMLP(n_features, self.latent_dim, **common)
            self.decoder_ = ConditionedResidualMLP(self.latent_dim, n_features, **common)
            self.discriminator_ = Discriminator(
                n_features, width=self.disc_width, n_layers=self.disc_layers
            )
        for module in (self.encoder_, self.decoder_, self.discriminator_):
            module.to(self.device).eval()
        self.n_features_ = n_features
        self.settings_ = settings

    def _tensor(self, arr: np.ndarray) -> torch.Tensor:
        return torch.tensor(arr, dtype=torch.float32, device=self.device)

    def fit(
        self,
        x: Any,
        m: Any,
        m_pool: Any = None,
        mass_range: tuple[float, float] | None = None,
    ) -> TransitTransport:
        """Train on sideband features ``x`` (n, f) at masses ``m`` (n,), physical units.

        ``m_pool``: masses the consistency loss draws from (all data masses, SB and SR; default
        ``m``). ``mass_range``: (lo, hi) of the mass scaler (default min/max of ``m_pool``).
        """
        x_arr = _features(x)
        m_arr = _masses(m, x_arr.shape[0], "m")
        pool = m_arr if m_pool is None else np.asarray(m_pool, dtype=np.float64)
        if pool.ndim != 1 or pool.size == 0:
            raise ValueError(f"m_pool must be a non-empty 1-d array, got shape {pool.shape}")
        pool = _masses(pool, pool.size, "m_pool")
        lo, hi = (pool.min(), pool.max()) if mass_range is None else mass_range
        settings = self.resolved_settings()

        self.feature_scaler_ = FEATURE_SCALERS[self.feature_transform]().fit(x_arr)
        self.mass_scaler_ = MassScaler(lo, hi)
        self._build(x_arr.shape[1], settings)
        result = train_transport(
            self.encoder_,
            self.decoder_,
            self.discriminator_,
            self._tensor(self.feature_scaler_.transform(x_arr)),
            self._tensor(self.mass_scaler_.transform(m_arr)),
            self._tensor(self.mass_scaler_.transform(pool)),
            settings,
            seed=self.random_state,
            n_threads=self.n_threads,
            progress=self.progress,
        )
        for module in (self.encoder_, self.decoder_, self.discriminator_):
            module.eval()
        self.history_ = result.history
        self.n_steps_ = result.n_steps
        self.train_seconds_ = result.seconds
        return self

    def _check_fitted(self) -> None:
        if not hasattr(self, "encoder_"):
            raise ValueError("TransitTransport is not fitted; call fit() or load() first")

    def _encode(self, x: Any, m: Any) -> tuple[torch.Tensor, int]:
        """Scaled z = E(x, m) as a float32 tensor, plus the number of events."""
        self._check_fitted()
        x_arr = _features(x)
        if x_arr.shape[1] != self.n_features_:
            raise ValueError(f"x must have {self.n_features_} features, got {x_arr.shape[1]}")
        m_arr = _masses(m, x_arr.shape[0], "m")
        xs = self._tensor(self.feature_scaler_.transform(x_arr))
        ms = self._tensor(self.mass_scaler_.transform(m_arr))
        with torch.no_grad(), torch_threads(self.n_threads):
            parts = [
                self.encoder_(xs[i : i + _INFERENCE_BATCH], ms[i : i + _INFERENCE_BATCH])
                for i in range(0, xs.shape[0], _INFERENCE_BATCH)
            ]
        z = torch.cat(parts) if parts else xs.new_zeros((0, self.latent_dim))
        return z, x_arr.shape[0]

    def _decode(self, z: torch.Tensor, m_target: Any) -> np.ndarray:
        """Physical-unit G(z, m_target) as float64."""
        mt = self._tensor(self.mass_scaler_.transform(_masses(m_target, z.shape[0], "m_target")))
        with torch.no_grad(), torch_threads(self.n_threads):
            parts = [
                self.decoder_(z[i : i + _INFERENCE_BATCH], mt[i : i + _INFERENCE_BATCH])
                for i in range(0, z.shape[0], _INFERENCE_BATCH)
            ]
        if not parts:
            return np.zeros((0, self.n_features_))
        scaled = torch.cat(parts).cpu().numpy().astype(np.float64)
        return self.feature_scaler_.inverse_transform(scaled)

    def transport(self, x: Any, m: Any, m_target: Any) -> np.ndarray:
        """G(E(x, m), m_target) in physical units, float64 (n, f); ``m_target`` scalar or (n,)."""
        z, _ = self._encode(x, m)
        return self._decode(z, m_target)

    def latent(self, x: Any, m: Any) -> np.ndarray:
        """z = E(x, m) as a float64 (n, latent_dim) array."""
        z, _ = self._encode(x, m)
        return z.cpu().numpy().astype(np.float64)

    def trajectories(self, x: Any, m: Any, masses: Any) -> np.ndarray:
        """Array (n_events, n_masses, f): ``transport(x, m, mass)`` for every mass in ``masses``."""
        grid = np.asarray(masses, dtype=np.float64).ravel()
        z, n = self._encode(x, m)
        if grid.size == 0:
            return np.zeros((n, 0, self.n_features_))
        return np.stack([self._decode(z, mass) for mass in grid], axis=1)

    def save(self, path: str | Path) -> None:
        """Write one ``torch.save`` file of plain tensors, numbers, strings, lists and dicts."""
        self._check_fitted()
        params = {
            "latent_dim": self.latent_dim,
            "width": self.width,
            "n_blocks": self.n_blocks,
            "disc_width": self.disc_width,
            "disc_layers": self.disc_layers,
            "feature_transform": self.feature_transform,
            "profile": self.profile,
            "random_state": self.random_state,
            "n_threads": self.n_threads,
        }
        settings = dataclasses.asdict(self.settings_)
        settings["lr_milestones"] = list(settings["lr_milestones"])
        state = {
            "format_version": _FORMAT_VERSION,
            "params": params,
            "settings": settings,
            "n_features": self.n_features_,
            "encoder": self.encoder_.state_dict(),
            "decoder": self.decoder_.state_dict(),
            "discriminator": self.discriminator_.state_dict(),
            "feature_scaler": {
                k: torch.tensor(v) for k, v in self.feature_scaler_.to_arrays().items()
            },
            "mass_scaler": {k: torch.tensor(v) for k, v in self.mass_scaler_.to_arrays().items()},
            "history": self.history_,
            "n_steps": self.n_steps_,
            "train_seconds": self.train_seconds_,
        }
        torch.save(state, Path(path))

    @classmethod
    def load(cls, path: str | Path, device: str = "cpu") -> TransitTransport:
        """Restore a model written by ``save``; reads with ``torch.load(weights_only=True)``."""
        state = torch.load(Path(path), map_location=device, weights_only=True)
        if state.get("format_version") != _FORMAT_VERSION:
            raise ValueError(f"{path}: unsupported format version {state.get('format_version')}")
        settings = dict(state["settings"])
        settings["lr_milestones"] = tuple(settings["lr_milestones"])
        settings = TrainSettings(**settings)
        model = cls(**state["params"], settings=settings, device=device)
        model._build(state["n_features"], settings)
        model.encoder_.load_state_dict(state["encoder"])
        model.decoder_.load_state_dict(state["decoder"])
        model.discriminator_.load_state_dict(state["discriminator"])
        model.feature_scaler_ = feature_scaler_from_arrays(
            {k: v.cpu().numpy() for k, v in state["feature_scaler"].items()}
        )
        model.mass_scaler_ = MassScaler.from_arrays(
            {k: v.cpu().numpy() for k, v in state["mass_scaler"].items()}
        )
        model.history_ = state["history"]
        model.n_steps_ = state["n_steps"]
        model.train_seconds_ = state["train_seconds"]
        return model
