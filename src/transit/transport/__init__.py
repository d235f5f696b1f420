"""TRANSIT transport network: model, training loop and estimator (arXiv:2503.04342)."""

from transit.transport.estimator import TransitTransport
from transit.transport.model import ConditionedResidualMLP, Discriminator
from transit.transport.train import TrainSettings, profile, train_transport

__all__ = [
    "ConditionedResidualMLP",
    "Discriminator",
    "TrainSettings",
    "TransitTransport",
    "profile",
    "train_transport",
]
