"""transit generate: detector emulation and LHCO columns (numpy only), then a few hundred Pythia
events (skipped when the generate extra is not installed)."""

from __future__ import annotations

import json
import sys

import numpy as np
import pandas as pd
import pytest

from transit.features import dijet_features
from transit.generate import GenerateError, require_generator_packages
from transit.generate.detector import Particles, emulate_detector, within_acceptance
from transit.generate.jets import OUTPUT_COLUMNS, Dijets, lhco_table
from transit.generate.settings import DetectorSettings, GenerationSettings
from transit.generate.writer import parts_dir, prepare

ETA_MAX = 2.5


def particles_from(pt, eta, phi, charge, event, n_events, mass=0.0) -> Particles:
    pt, eta, phi = (np.asarray(v, dtype=float) for v in (pt, eta, phi))
    px, py, pz = pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta)
    e = np.sqrt(px**2 + py**2 + pz**2 + mass**2)
    return Particles(px, py, pz, e, np.asarray(charge, dtype=float),
                     np.asarray(event, dtype=np.int64), n_events)  # fmt: skip


NO_SMEARING = DetectorSettings(calo_stochastic=0.0, calo_constant=0.0, cell_e_min=0.0,
                               track_pt_min=1.0, cell_size=0.1)  # fmt: skip


# ------------------------------------------------------------------ numpy only


def test_acceptance_cuts_on_pseudorapidity():
    parts = particles_from([10, 10, 10, 10], [0.0, 2.49, -2.51, 3.0], [0, 0, 0, 0],
                           [0, 0, 0, 0], [0, 0, 1, 1], 2)  # fmt: skip
    kept = within_acceptance(parts, ETA_MAX)
    np.testing.assert_allclose(kept.eta, [0.0, 2.49])
    assert kept.n_events == 2 and kept.counts().tolist() == [2, 0]


def test_tracks_are_kept_and_neutrals_summed_into_cells():
    # event 0: a 5 GeV track, a 0.5 GeV charged particle (below threshold -> calorimeter),
    # two photons in the same cell; event 1: a neutral in the same (eta, phi) cell as event 0's
    parts = particles_from(
        pt=[5.0, 0.5, 20.0, 30.0, 7.0],
        eta=[0.31, 0.32, 0.33, 0.36, 0.34],
        phi=[1.08, 1.09, 1.10, 1.11, 1.09],
        charge=[1, -1, 0, 0, 0],
        event=[0, 0, 0, 0, 1],
        n_events=2,
    )
    out = emulate_detector(parts, NO_SMEARING, ETA_MAX, np.random.default_rng(0))
    assert out.counts().tolist() == [2, 1]  # track + one cell, and one cell
    track = out.charge != 0
    np.testing.assert_allclose(out.pt[track], [5.0])
    cells = out.select(~track)
    # energy is conserved without smearing; cells do not mix events
    np.testing.assert_allclose(cells.e, [parts.e[1:4].sum(), parts.e[4]])
    # a cell points at its centre: eta in [0.3, 0.4) -> 0.35; massless
    np.testing.assert_allclose(cells.eta, [0.35, 0.35], atol=1e-12)
    n_phi = round(2 * np.pi / 0.1)
    centre = -np.pi + (np.floor((1.10 + np.pi) / (2 * np.pi / n_phi)) + 0.5) * 2 * np.pi / n_phi
    np.testing.assert_allclose(cells.phi, [centre, centre], atol=1e-12)
    mass2 = cells.e**2 - cells.px**2 - cells.py**2 - cells.pz**2
    np.testing.assert_allclose(mass2, 0.0, atol=1e-9)


def test_cell_smearing_width_and_threshold():
    n = 20_000
    parts = particles_from(np.full(n, 100.0), np.zeros(n), np.zeros(n), np.zeros(n),
                           np.arange(n), n)  # fmt: skip
    settings = DetectorSettings(calo_stochastic=1.0, calo_constant=0.05, cell_e_min=0.0)
    out = emulate_detector(parts, settings, ETA_MAX, np.random.default_rng(1))
    assert len(out) == n
    expected = np.sqrt(1.0 / 100.0 + 0.05**2)  # sigma_E / E = a / sqrt(E) (+) b
    assert abs(np.std(out.e / 100.0) / expected - 1) < 0.03
    assert abs(np.mean(out.e) - 100.0) < 0.3
    high_threshold = DetectorSettings(cell_e_min=150.0)
    assert len(emulate_detector(parts, high_threshold, ETA_MAX, np.random.default_rng(1))) < 10


def test_detector_off_keeps_particles():
    parts = particles_from([5.0, 0.2], [0.0, 1.0], [0.0, 2.0], [1, 0], [0, 0], 1)
    out = emulate_detector(parts, DetectorSettings(enabled=False), ETA_MAX,
                           np.random.default_rng(0))  # fmt: skip
    np.testing.assert_array_equal(out.px, parts.px)


def test_lhco_table_columns_and_features():
    # two back-to-back 1.5 TeV jets at eta = +-0.5: m_jj = 2 pT cosh(0.5) for massless jets
    pt = 1500.0
    jets = np.array([[[pt, 0.0, pt * np.sinh(0.5), 80.0], [-pt, 0.0, -pt * np.sinh(0.5), 30.0]]])
    tau = np.array([[[60.0, 30.0, 20.0], [40.0, 10.0, 5.0]]])
    table = lhco_table(Dijets(jets, tau, np.array([0])), label=1)
    assert tuple(table) == OUTPUT_COLUMNS and len(OUTPUT_COLUMNS) == 15
    assert table["label"].tolist() == [1.0] and table["tau2j2"].tolist() == [10.0]
    features = dijet_features(table)
    e = np.sqrt(80.0**2 + (pt * np.cosh(0.5)) ** 2) + np.sqrt(30.0**2 + (pt * np.cosh(0.5)) ** 2)
    np.testing.assert_allclose(features["mjj"], np.sqrt(e**2), rtol=1e-12)
    np.testing.assert_allclose(features["mj1"], [30.0])  # the lighter jet
    np.testing.assert_allclose(features["delta_mj"], [50.0])
    np.testing.assert_allclose(features["tau21_j1"], [0.25])  # the lighter jet's tau2/tau1
    np.testing.assert_allclose(features["tau21_j2"], [0.5])
    np.testing.assert_allclose(features["delta_R"], [np.hypot(1.0, np.pi)])


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"events": 0}, "--events must be > 0"),
        ({"process": "signal", "m_b": 3000.0, "m_c": 600.0}, r"m_B \+ m_C < m_A"),
        ({"pthat_min": 1500.0}, "above the 1200 GeV jet trigger"),
        ({"detector": DetectorSettings(cell_size=0.0)}, "cell size"),
    ],
)
def test_bad_settings_are_named(changes, message):
    values = {"process": "qcd", "events": 10, **changes}
    with pytest.raises(GenerateError, match=message):
        GenerationSettings(**values).validate()


def test_missing_extra_names_the_install_command(monkeypatch):
    monkeypatch.setitem(sys.modules, "pythia8mc", None)
    with pytest.raises(GenerateError, match=r"transit-ad\[generate\]"):
        require_generator_packages()


def test_existing_output_needs_resume_or_overwrite(tmp_path):
    settings = GenerationSettings("qcd", 10)
    out = tmp_path / "qcd.h5"
    out.write_text("x")
    with pytest.raises(GenerateError, match="--overwrite"):
        prepare(out, settings, resume=False, overwrite=False)
    prepare(out, settings, resume=False, overwrite=True)
    assert not out.exists() and (parts_dir(out) / "manifest.json").is_file()
    with pytest.raises(GenerateError, match="--resume to continue"):
        prepare(out, settings, resume=False, overwrite=False)
    with pytest.raises(GenerateError, match=r"seed: 0 -> 5"):
        prepare(out, GenerationSettings("qcd", 10, seed=5), resume=True, overwrite=False)
    prepare(out, settings, resume=True, overwrite=False)


# ------------------------------------------------------------------ with Pythia and FastJet


@pytest.fixture(scope="module")
def generator():
    pytest.importorskip("pythia8mc", reason="pythia8mc not installed: pip install transit-ad[generate]")
    pytest.importorskip("fastjet", reason="fastjet not installed: pip install transit-ad[generate]")
    from transit.generate import runner

    return runner


@pytest.fixture(scope="module")
def samples(generator, tmp_path_factory):
    """300 signal events (3 chunks of 100) and 300 QCD events from Pythia."""
    base = tmp_path_factory.mktemp("gen")
    out = {}
    for process in ("signal", "qcd"):
        settings = GenerationSettings(process, 300, seed=7, chunk_events=100)
        summary = generator.run_generation(settings, base / f"{process}.h5")
        out[process] = (base / f"{process}.h5", summary)
    return out


def test_generated_file_has_official_layout(samples):
    for process, label in (("signal", 1.0), ("qcd", 0.0)):
        path, summary = samples[process]
        frame = pd.read_hdf(path, key="df")
        assert tuple(frame.columns) == OUTPUT_COLUMNS and len(frame) == 300
        assert (frame.dtypes == np.float64).all() and (frame["label"] == label).all()
        pt1 = np.hypot(frame["pxj1"], frame["pyj1"])
        pt2 = np.hypot(frame["pxj2"], frame["pyj2"])
        assert (pt1 > 1200).all() and (pt1 >= pt2).all()  # GeV, leading-pT order
        taus = frame[["tau1j1", "tau2j1", "tau3j1"]].to_numpy()
        assert (taus >= 0).all() and (np.diff(taus, axis=1) <= 1e-9).all()  # tau1 >= tau2 >= tau3
        assert summary["events"] == 300 and 0 < summary["acceptance"] < 1
        assert summary["cross_section_pb"] > 0
        assert not parts_dir(path).exists()


def test_signal_peaks_where_configured_and_is_two_pronged(samples):
    signal = dijet_features(pd.read_hdf(samples["signal"][0], key="df"))
    qcd = dijet_features(pd.read_hdf(samples["qcd"][0], key="df"))
    heavy = signal["mj1"] + signal["delta_mj"]
    assert abs(np.median(signal["mjj"]) / 3500 - 1) < 0.08
    assert abs(np.median(heavy) / 500 - 1) < 0.1
    assert 80 < np.median(signal["mj1"]) < 160  # m_C = 100 GeV plus underlying event
    for name in ("tau21_j1", "tau21_j2"):
        assert np.nanmedian(signal[name]) < np.nanmedian(qcd[name]) - 0.1


def test_same_seed_same_events_independent_of_interruption(generator, samples, tmp_path):
    reference = pd.read_hdf(samples["signal"][0], key="df")
    settings = GenerationSettings("signal", 300, seed=7, chunk_events=100)
    out = tmp_path / "again.h5"
    # an interrupted job: only chunk 2 finished; resuming makes chunks 0 and 1
    prepare(out, settings, resume=False, overwrite=False)
    generator._chunk_job(settings.physics_dict(), str(out), 2, 100)
    summary = generator.run_generation(settings, out, resume=True)
    pd.testing.assert_frame_equal(pd.read_hdf(out, key="df"), reference)
    first = json.loads(samples["signal"][0].with_name("signal.h5.json").read_text())["chunks"]
    for key in ("pythia_seed", "n_generated"):
        assert [c[key] for c in summary["chunks"]] == [c[key] for c in first]
    other = generator.run_generation(GenerationSettings("signal", 100, seed=8, chunk_events=100),
                                     tmp_path / "other.h5")  # fmt: skip
    assert other["events"] == 100
    assert not np.allclose(pd.read_hdf(tmp_path / "other.h5", key="df")["mj1"],
                           reference["mj1"][:100])  # fmt: skip


def test_cli_errors_exit_2_with_message(tmp_path, capsys):
    from transit.cli import main

    out = str(tmp_path / "x.h5")
    assert main(["generate", "signal", "--events", "0", "--out", out]) == 2
    assert "--events must be > 0" in capsys.readouterr().err
    assert main(["generate", "signal", "--events", "5", "--m-b", "3500", "--out", out]) == 2
    assert "m_B + m_C < m_A" in capsys.readouterr().err
    assert main(["generate", "qcd", "--events", "5", "--m-a", "3000", "--out", out]) == 2
    assert "--m-a: only for signal" in capsys.readouterr().err
