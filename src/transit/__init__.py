"""TRANSIT: weakly-supervised resonant anomaly searches with transported background templates."""

__version__ = "0.1.0"
