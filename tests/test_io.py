import json

import h5py
import numpy as np
import pandas as pd
import pytest
from conftest import COLUMNS, shared_path

from transit.config import SourceConfig
from transit.io import DataError, atomic_path, load_events, read_columns, write_json_atomic

FEATURES = ("mj1", "delta_mj", "tau21_j1", "tau21_j2")


def table(n=50, seed=0):
    rng = np.random.default_rng(seed)
    data = {c: rng.uniform(0.1, 1.0, n) for c in COLUMNS}
    data["mjj"] = rng.uniform(3000, 4000, n)
    data["label"] = (rng.uniform(size=n) < 0.2).astype(float)
    return data


def test_official_layout_fixture_reads_in_gev():
    path = shared_path("lhco_format_fixture", "lhco_features_100events.h5")
    events, dropped = load_events(SourceConfig(str(path), format="lhco"), (*FEATURES, "delta_R"))
    assert len(events) + dropped == 100
    assert events.n_signal == 10
    assert 2000 < np.median(events.mass) < 6000  # GeV
    assert np.all(events.features[:, 1] >= 0)


def test_real_signal_region_arrays_convert_tev_to_gev():
    path = shared_path("lhco_rnd_sr", "lhco_rnd_sr.npz")
    source = SourceConfig(str(path), format="arrays", key="extra_bkg", mass_unit="TeV")
    events, dropped = load_events(source, FEATURES)
    assert dropped == 0 and len(events) == 40_000
    assert events.mass.min() >= 3300 - 1e-6 and events.mass.max() < 3700
    assert np.median(events.features[:, 0]) > 10  # mj1 in GeV, not TeV
    assert events.n_signal == 0


@pytest.mark.parametrize("suffix", [".npz", ".npy", ".parquet", ".csv", ".h5"])
def test_generic_tables_in_every_format(tmp_path, suffix):
    data = table()
    path = tmp_path / f"events{suffix}"
    if suffix == ".npz":
        np.savez(path, **data)
    elif suffix == ".npy":
        structured = np.zeros(50, dtype=[(c, "f8") for c in COLUMNS])
        for c in COLUMNS:
            structured[c] = data[c]
        np.save(path, structured)
    elif suffix == ".h5":
        with h5py.File(path, "w") as handle:
            for c in COLUMNS:
                handle[c] = data[c]
    else:
        frame = pd.DataFrame(data)
        frame.to_parquet(path) if suffix == ".parquet" else frame.to_csv(path, index=False)
    events, _ = load_events(SourceConfig(str(path), format="table"), FEATURES)
    np.testing.assert_allclose(events.mass, data["mjj"])
    np.testing.assert_allclose(events.features[:, 2], data["tau21_j1"])
    np.testing.assert_array_equal(events.label, data["label"].astype(np.int8))


def test_user_named_mass_and_feature_columns(tmp_path):
    path = tmp_path / "custom.parquet"
    pd.DataFrame({"m_ll": np.linspace(3.0, 4.0, 20), "x1": np.arange(20.0),
                  "x2": np.ones(20)}).to_parquet(path)  # fmt: skip
    source = SourceConfig(str(path), format="table", mass_column="m_ll", label_column=None,
                          mass_unit="TeV")  # fmt: skip
    events, _ = load_events(source, ("x1", "x2"))
    assert events.label is None
    np.testing.assert_allclose(events.mass, np.linspace(3000, 4000, 20))


def test_missing_column_names_it_and_lists_the_available(tmp_path):
    path = tmp_path / "t.npz"
    np.savez(path, **table())
    with pytest.raises(DataError, match=r"missing column\(s\) \['nsubjettiness'\].*available"):
        load_events(SourceConfig(str(path)), ("mj1", "nsubjettiness"))


def test_nan_rows_are_dropped_and_counted(tmp_path):
    data = table()
    data["tau21_j1"][[3, 7]] = np.nan
    data["mjj"][11] = np.inf
    path = tmp_path / "t.npz"
    np.savez(path, **data)
    events, dropped = load_events(SourceConfig(str(path)), FEATURES)
    assert dropped == 3 and len(events) == 47
    assert np.isfinite(events.features).all()


def test_all_nan_and_empty_tables_fail(tmp_path):
    data = table()
    data["mj1"][:] = np.nan
    np.savez(tmp_path / "nan.npz", **data)
    with pytest.raises(DataError, match="every row"):
        load_events(SourceConfig(str(tmp_path / "nan.npz")), FEATURES)
    np.savez(tmp_path / "empty.npz", **{c: np.empty(0) for c in COLUMNS})
    with pytest.raises(DataError, match="empty"):
        load_events(SourceConfig(str(tmp_path / "empty.npz")), FEATURES)


def test_bad_labels_fail(tmp_path):
    data = table()
    data["label"][0] = 2.0
    np.savez(tmp_path / "t.npz", **data)
    with pytest.raises(DataError, match="must be 0 or 1"):
        load_events(SourceConfig(str(tmp_path / "t.npz")), FEATURES)


def test_truncated_and_corrupt_files_fail_clearly(tmp_path):
    path = shared_path("lhco_format_fixture", "lhco_features_100events.h5")
    truncated = tmp_path / "truncated.h5"
    truncated.write_bytes(path.read_bytes()[:5000])
    with pytest.raises(DataError, match="could not read .*truncated"):
        read_columns(truncated)
    garbage = tmp_path / "garbage.npz"
    garbage.write_bytes(b"this is not a zip file at all")
    with pytest.raises(DataError, match="could not read"):
        read_columns(garbage)
    with pytest.raises(DataError, match="unknown file type"):
        read_columns(tmp_path / "events.root")


def test_missing_file_and_wrong_layout(tmp_path):
    with pytest.raises(DataError, match="not found"):
        load_events(SourceConfig(str(tmp_path / "nope.h5")), FEATURES)
    np.savez(tmp_path / "t.npz", **table())
    with pytest.raises(DataError, match="not in the official LHCO layout"):
        load_events(SourceConfig(str(tmp_path / "t.npz"), format="lhco"), FEATURES)
    np.savez(tmp_path / "a.npz", columns=np.array(["mjj", "x"]), one=np.ones((3, 2)),
             two=np.ones((3, 2)))  # fmt: skip
    with pytest.raises(DataError, match="several tables"):
        read_columns(tmp_path / "a.npz")


def test_atomic_write_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "result.json"
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("killed")
    assert list(tmp_path.iterdir()) == []
    write_json_atomic(target, {"x": np.float64(1.5), "nan": float("nan")})
    assert json.loads(target.read_text()) == {"x": 1.5, "nan": None}
