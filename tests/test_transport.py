"""Tests of the TRANSIT transport network, its training loop and the estimator."""

import dataclasses
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from transit.transport import (
    ConditionedResidualMLP,
    Discriminator,
    TrainSettings,
    TransitTransport,
    profile,
)

N_EVENTS = 4000
SLOPE = 0.1  # feature 0 grows by 0.1 GeV per GeV of m; features 1 and 2 do not depend on m
SMALL = {"width": 32, "disc_width": 32, "profile": "test"}


def make_data(seed: int = 0, n: int = N_EVENTS) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    m = rng.uniform(3000.0, 4600.0, n)
    x = np.column_stack(
        [
            SLOPE * (m - 3000.0) + rng.normal(0.0, 30.0, n),
            rng.gamma(4.0, 15.0, n),
            rng.normal(0.0, 1.0, n),
        ]
    )
    return x, m


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray]:
    return make_data()


@pytest.fixture(scope="module")
def fitted(data: tuple[np.ndarray, np.ndarray]) -> TransitTransport:
    x, m = data
    return TransitTransport(**SMALL, random_state=0).fit(x, m)


def n_params(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def test_default_encoder_decoder_size() -> None:
    encoder = ConditionedResidualMLP(5, 8)
    decoder = ConditionedResidualMLP(8, 5)
    assert n_params(encoder) == 68488
    assert n_params(decoder) == 68485
    assert 10_000 < n_params(Discriminator(5)) < 20_000


def test_zero_init_blocks_are_identity() -> None:
    torch.manual_seed(0)
    h, m = torch.randn(64, 128), torch.randn(64, 1)
    for block in ConditionedResidualMLP(5, 8).blocks:
        torch.testing.assert_close(block(h, m), h, rtol=0.0, atol=0.0)
    for block in ConditionedResidualMLP(5, 8, zero_init_scales=False).blocks:
        assert not torch.allclose(block(h, m), h)


def test_networks_accept_flat_and_column_masses() -> None:
    torch.manual_seed(0)
    x, m = torch.randn(10, 5), torch.randn(10)
    disc = Discriminator(5)
    assert disc(x, m).shape == (10,)
    torch.testing.assert_close(disc(x, m), disc(x, m[:, None]))
    assert ConditionedResidualMLP(5, 8)(x, m).shape == (10, 8)


def test_profiles() -> None:
    paper = profile("paper")
    assert (paper.epochs, paper.batch_size, paper.lr, paper.grad_clip) == (200, 2048, 2e-4, 0.1)
    assert (paper.w_rec, paper.w_con, paper.w_adv, paper.warmup_epochs) == (1.0, 0.1, 0.2, 5)
    assert [paper.lr_at(e) for e in (0, 29, 30, 99, 100, 199)] == [
        2e-4,
        2e-4,
        1e-4,
        1e-4,
        5e-5,
        2e-4 / 16,
    ]
    exact = profile("paper_exact")
    assert exact.adv_form == "saturating" and exact.skip_test == "before"
    assert exact.adv_in_warmup and exact.lr_step_early and not exact.zero_init_scales
    assert exact.lr_at(29) == 1e-4
    defaults = dataclasses.replace(
        exact,
        zero_init_scales=True,
        adv_form="non_saturating",
        adv_in_warmup=False,
        skip_test="after",
        lr_step_early=False,
    )
    assert defaults == paper
    with pytest.raises(ValueError, match="unknown training profile"):
        profile("slow")


def test_fit_records_history(fitted: TransitTransport) -> None:
    settings = profile("test")
    assert len(fitted.history_) == settings.epochs
    last = fitted.history_[-1]
    assert all(math.isfinite(last[k]) for k in ("val_rec", "val_con", "val_d", "train_d"))
    assert fitted.history_[0]["d_steps"] == 0  # warm-up: D is not trained
    assert last["d_steps"] > 0
    steps_per_epoch = round(0.9 * N_EVENTS) // settings.batch_size
    assert fitted.n_steps_ == settings.epochs * steps_per_epoch
    assert fitted.train_seconds_ > 0


def test_same_mass_transport_is_close_to_identity(fitted, data) -> None:
    # Measured on 5 seeds: 2e-5 .. 7e-5 after the "test" profile.
    x, m = data
    scale = fitted.feature_scaler_
    back = fitted.transport(x, m, m)
    assert back.dtype == np.float64 and back.shape == x.shape
    assert np.mean((scale.transform(back) - scale.transform(x)) ** 2) < 1e-3


def test_latent_unchanged_by_transport(fitted, data) -> None:
    # Measured relative MSE on 5 seeds: 6e-5 .. 3e-4.
    x, m = data
    z = fitted.latent(x, m)
    assert z.shape == (N_EVENTS, 8)
    target = np.full(N_EVENTS, 4000.0)
    z_moved = fitted.latent(fitted.transport(x, m, target), target)
    assert np.mean((z_moved - z) ** 2) / z.var() < 5e-3


def test_mass_dependent_feature_follows_the_mass(fitted, data) -> None:
    # Measured on 5 seeds: feature 0 moves 0.83-1.13 x the true shift; others < 0.18 std.
    x, m = data
    low = m < 3400.0
    moved = fitted.transport(x[low], m[low], m[low] + 800.0)
    shift = (moved - x[low]).mean(axis=0) / x.std(axis=0)
    expected = SLOPE * 800.0 / x[:, 0].std()
    assert 0.6 * expected < shift[0] < 1.4 * expected
    assert np.all(np.abs(shift[1:]) < 0.4)


def test_trajectories_are_smooth(fitted, data) -> None:
    # Measured max |second difference| / std on 5 seeds: below 0.0035.
    x, m = data
    grid = np.linspace(3000.0, 4600.0, 33)
    paths = fitted.trajectories(x[:200], m[:200], grid)
    assert paths.shape == (200, 33, 3)
    np.testing.assert_allclose(paths[:, 5], fitted.transport(x[:200], m[:200], grid[5]))
    second = np.abs(np.diff(paths, n=2, axis=1)).max(axis=(0, 1)) / x.std(axis=0)
    assert np.all(second < 0.02)


def test_same_seed_gives_identical_weights() -> None:
    x, m = make_data(1, n=1000)
    fits = [
        TransitTransport(width=16, disc_width=16, profile="test", epochs=3, random_state=seed).fit(
            x, m
        )
        for seed in (7, 7, 8)
    ]
    for model in ("encoder_", "decoder_", "discriminator_"):
        same = getattr(fits[0], model).state_dict()
        twin = getattr(fits[1], model).state_dict()
        assert all(torch.equal(same[k], twin[k]) for k in same)
    other = fits[2].encoder_.state_dict()
    assert not all(torch.equal(v, other[k]) for k, v in fits[0].encoder_.state_dict().items())
    assert fits[0].history_[-1]["val_rec"] == fits[1].history_[-1]["val_rec"]


def test_save_load_round_trip(fitted, data, tmp_path: Path) -> None:
    x, m = data
    path = tmp_path / "transit.pt"
    fitted.save(path)
    raw = torch.load(path, weights_only=True)
    assert raw["params"]["latent_dim"] == 8
    loaded = TransitTransport.load(path)
    np.testing.assert_array_equal(loaded.transport(x, m, 3500.0), fitted.transport(x, m, 3500.0))
    np.testing.assert_array_equal(loaded.latent(x, m), fitted.latent(x, m))
    assert loaded.settings_ == fitted.settings_
    assert loaded.history_ == fitted.history_


def test_author_quirks_train(data) -> None:
    x, m = data
    settings = dataclasses.replace(profile("paper_exact"), epochs=3, batch_size=256, lr=1e-3)
    model = TransitTransport(width=16, disc_width=16, settings=settings).fit(x[:1000], m[:1000])
    assert model.history_[0]["train_adv"] is not None  # adversarial term active in warm-up
    assert all(math.isfinite(h["val_rec"]) for h in model.history_)


def test_bad_inputs_rejected(data) -> None:
    x, m = data
    model = TransitTransport(**SMALL)
    bad = x.copy()
    bad[10, 0] = np.nan
    with pytest.raises(ValueError, match="x contains NaN"):
        model.fit(bad, m)
    with pytest.raises(ValueError, match=r"m must have shape \(4000,\)"):
        model.fit(x, m[:-1])
    with pytest.raises(ValueError, match="m_pool contains NaN"):
        model.fit(x, m, m_pool=np.array([3000.0, np.inf]))
    with pytest.raises(ValueError, match="not fitted"):
        model.transport(x, m, 3500.0)


def test_divergence_is_reported(data) -> None:
    x, m = data
    settings: TrainSettings = dataclasses.replace(profile("test"), lr=1e3, epochs=2)
    model = TransitTransport(width=16, disc_width=16, settings=settings)
    with pytest.raises(RuntimeError, match=r"diverged.*epoch 1.*lower learning rate"):
        model.fit(x[:1000], m[:1000])


def test_gauss_feature_transform_trains_and_round_trips(data, tmp_path: Path) -> None:
    x, m = data
    model = TransitTransport(**SMALL, feature_transform="gauss", epochs=4, random_state=0)
    model.fit(x, m)
    moved = model.transport(x[:500], m[:500], 4500.0)
    assert np.isfinite(moved).all()
    path = tmp_path / "gauss.pt"
    model.save(path)
    loaded = TransitTransport.load(path)
    assert loaded.feature_transform == "gauss"
    np.testing.assert_array_equal(loaded.transport(x[:50], m[:50], 3500.0),
                                  model.transport(x[:50], m[:50], 3500.0))  # fmt: skip
    with pytest.raises(ValueError, match="feature_transform"):
        TransitTransport(feature_transform="log")


def test_stronger_discriminator_options(data, monkeypatch) -> None:
    """disc_lr_factor scales the D learning rate; disc_steps runs several D updates a batch."""
    from transit.transport import train as train_module

    x, m = data
    seen_lr: list[tuple[float, float]] = []
    d_updates = 0
    original_set_lr, original_step = train_module._Networks.set_lr, train_module._step

    def record_lr(self, lr, factor):
        original_set_lr(self, lr, factor)
        seen_lr.append((self.opt_g.param_groups[0]["lr"], self.opt_d.param_groups[0]["lr"]))

    def count_step(optimizer, loss, clip):
        nonlocal d_updates
        if any(p is q for p in optimizer.param_groups[0]["params"][:1]
               for q in list(discriminator.parameters())[:1]):  # fmt: skip
            d_updates += 1
        original_step(optimizer, loss, clip)

    monkeypatch.setattr(train_module._Networks, "set_lr", record_lr)
    monkeypatch.setattr(train_module, "_step", count_step)
    settings = dataclasses.replace(profile("test"), epochs=3, warmup_epochs=1, batch_size=500,
                                   lr_milestones=(), disc_lr_factor=4.0, disc_steps=3)  # fmt: skip
    model = TransitTransport(width=16, disc_width=16, settings=settings)
    model._build(x.shape[1], settings)
    discriminator = model.discriminator_
    xs = torch.tensor(x[:2000], dtype=torch.float32)
    ms = torch.tensor((m[:2000] - 3800.0) / 400.0, dtype=torch.float32)
    train_module.train_transport(model.encoder_, model.decoder_, discriminator, xs, ms, ms,
                                 settings)  # fmt: skip
    assert seen_lr == [(settings.lr, 4.0 * settings.lr)] * 3
    n_batches = 1800 // 500
    assert d_updates == 3 * n_batches * 2  # 3 D updates per batch in the 2 epochs after warm-up
