"""The CATHODE-style flow template used as the speed/quality comparison for TRANSIT."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import synthetic_config_dict

from transit.config import ConfigError, FlowConfig, RunConfig, load_config
from transit.flow import ConditionalFlow
from transit.pipeline import run_one

TINY = FlowConfig(transforms=2, hidden=32, bins=4, epochs=6, batch_size=256, patience=3)


def mass_shifted_sample(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Two features; the first has mean m / 1000, the second does not depend on m."""
    rng = np.random.default_rng(seed)
    m = rng.uniform(3000.0, 4600.0, n)
    x = np.column_stack([m / 1000.0 + rng.normal(0, 0.2, n), rng.normal(0, 1, n)])
    return x, m


def test_samples_follow_the_mass_dependence():
    x, m = mass_shifted_sample(6000, 0)
    model = ConditionalFlow(TINY, random_state=1).fit(x, m, mass_range=(3000.0, 4600.0))
    low, high = model.sample(np.full(3000, 3100.0)), model.sample(np.full(3000, 4500.0))
    assert low.shape == (3000, 2)
    assert np.isfinite(low).all()
    # the mean of feature 0 moves by (4500 - 3100) / 1000 = 1.4; feature 1 stays put
    assert high[:, 0].mean() - low[:, 0].mean() == pytest.approx(1.4, abs=0.3)
    assert abs(high[:, 1].mean() - low[:, 1].mean()) < 0.2
    assert model.history_[0]["val_nll"] > min(h["val_nll"] for h in model.history_)


def test_same_seed_same_samples():
    x, m = mass_shifted_sample(2000, 1)
    settings = FlowConfig(transforms=1, hidden=16, bins=4, epochs=2, batch_size=256)
    target = np.full(100, 3500.0)
    a = ConditionalFlow(settings, random_state=5).fit(x, m, (3000.0, 4600.0)).sample(target)
    b = ConditionalFlow(settings, random_state=5).fit(x, m, (3000.0, 4600.0)).sample(target)
    np.testing.assert_array_equal(a, b)


def test_bad_flow_settings_are_named():
    with pytest.raises(ConfigError, match="flow.transforms"):
        FlowConfig(transforms=0)


def test_flow_template_in_a_run(synthetic_npz, tmp_path):
    values = synthetic_config_dict(synthetic_npz, methods=["flow", "iad"],
                                   flow={"transforms": 2, "hidden": 32, "epochs": 3})  # fmt: skip
    config_path = tmp_path / "config.json"
    config_path.write_text(json.dumps(values))
    config: RunConfig = load_config(config_path)
    result = run_one(config, tmp_path / "run")
    flow = result["methods"]["flow"]
    assert flow["epochs_run"] <= 3 and flow["train_steps"] > 0
    assert 0.4 < flow["closure_auc"] < 0.75
    assert flow["auc"] > 0.5
