"""Scans: grid expansion, executors (in-process, process pool, Dask), resumption, failures,
run-task and collect, on the tiny synthetic data set (each point takes seconds)."""

import json
import logging
import shutil
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml
from conftest import shared_path, synthetic_config_dict

from transit.cli import main
from transit.config import ConfigError
from transit.cwola import allotted_cpus
from transit.io import DataError
from transit.scan.collect import collect, point_rows
from transit.scan.config import ClusterConfig, ExecutorConfig, load_scan_config
from transit.scan.config import scan_config_from_dict as scan_config
from transit.scan.executors import make_cluster, plan, run_scan
from transit.scan.grid import build_points, expand_grid, sliding_windows
from transit.scan.state import read_result, read_sessions, record_session, searches_per_hour

REPO = Path(__file__).resolve().parents[1]
NO_EVENTS = {"sr": [20000, 20400], "sb": [[19700, 20000], [20400, 21300]]}


@pytest.fixture(scope="module")
def base(synthetic_npz):
    """One cheap method (3 folds x 1 member, 40 iterations); n_workers left to the scan."""
    return synthetic_config_dict(synthetic_npz, methods=["cwola_sb"], profile="test", n_workers=0)


def write_scan(path, base, grid, executor, out, name="tiny"):
    path.write_text(yaml.safe_dump({"name": name, "base": base, "grid": grid,
                                    "executor": executor, "out": str(out)}, sort_keys=False))
    return path


# ------------------------------------------------------------------------------- grid


def test_product_expands_outer_to_inner_with_readable_names(base):
    points = build_points(base, {"product": {"injection.n_signal": [0, 500], "seed": [0, 1, 2]}})
    assert [p.params for p in points[:4]] == [
        {"injection.n_signal": 0, "seed": 0}, {"injection.n_signal": 0, "seed": 1},
        {"injection.n_signal": 0, "seed": 2}, {"injection.n_signal": 500, "seed": 0},
    ]  # fmt: skip
    assert points[4].name == "0004-n_signal=500-seed=1"
    assert points[4].config.injection.n_signal == 500 and points[4].config.seed == 1
    assert points[4].config.cwola.n_folds == 3  # the base is kept


def test_zip_walks_fields_together_and_multiplies_with_product(base):
    grid = {"zip": [{"features": ["lhco4", "lhco5"], "cwola.n_members": [1, 2]}],
            "product": {"seed": [0, 1]}}  # fmt: skip
    params = expand_grid(grid)
    assert params == [
        {"features": "lhco4", "cwola.n_members": 1, "seed": 0},
        {"features": "lhco4", "cwola.n_members": 1, "seed": 1},
        {"features": "lhco5", "cwola.n_members": 2, "seed": 0},
        {"features": "lhco5", "cwola.n_members": 2, "seed": 1},
    ]
    # a single mapping is one zip group; explicit values may be whole sub-configs
    grid = {"zip": {"regions": [NO_EVENTS], "name": ["far"]}}
    (point,) = build_points(base, grid)
    assert point.config.regions.sr == (20000.0, 20400.0) and point.config.name == "far"


def test_sliding_windows_put_sidebands_on_each_side(base):
    grid = {"windows": {"sr_centres": {"start": 3300, "stop": 3700, "step": 200},
                        "sr_width": 400, "sb_width": 300}}  # fmt: skip
    points = build_points(base, grid)
    assert [p.config.regions.sr for p in points] == [(3100, 3500), (3300, 3700), (3500, 3900)]
    assert points[1].config.regions.sb == ((3000, 3300), (3700, 4000))
    assert points[1].name == "0001-sr=3300-3700-sb=3000-3300+3700-4000"
    # unequal sidebands (the B1 windows) and an explicit list of centres
    (window,) = sliding_windows([3500.0], 400.0, (300.0, 900.0))
    assert window == {"sr": [3300, 3700], "sb": [[3000, 3300], [3700, 4600]]}
    grid = {"windows": {"sr_centres": [3500], "sr_width": 400, "sb_width": [300, 900]}}
    assert build_points(base, grid)[0].config.regions.sb == ((3000, 3300), (3700, 4600))


@pytest.mark.parametrize("grid, message", [
    ({"product": {"injection.nsignal": [1]}}, "'injection.nsignal' is not a run config field"),
    ({"product": {"seeds": [1]}}, "'seeds' is not a run config field"),
    ({}, "grid is empty"),
    ({"product": {"seed": []}}, "grid.product.seed is an empty list"),
    ({"product": {"seed": 3}}, "grid.product.seed: expected a list"),
    ({"cartesian": {"seed": [1]}}, "unknown key(s) ['cartesian']"),
    ({"zip": {"seed": [1, 2], "name": ["a"]}}, "zipped lists differ in length"),
    ({"windows": {"sr_centres": [3500], "sr_width": 400, "sb_width": 300},
      "product": {"regions.sr": [[3300, 3700]]}}, "'regions.sr' is set twice"),
    ({"windows": {"sr_centres": [3500], "sr_width": 0, "sb_width": 300}}, "must be > 0"),
    ({"product": {"regions.sb": [[[3000, 3400], [3700, 4600]]]}},
     "grid point 0 (regions.sb=[[3000, 3400], [3700, 4600]]): regions.sb[0] and regions.sr"),
    ({"product": {"injection.n_signal": [100, "many"]}},
     "grid point 1 (injection.n_signal=\"many\"): injection.n_signal: expected an integer"),
])  # fmt: skip
def test_bad_grids_fail_before_running_with_the_problem_named(base, grid, message):
    with pytest.raises(ConfigError) as error:
        build_points(base, grid)
    assert message in str(error.value)


def test_scan_config_file_base_path_and_overrides(base, tmp_path):
    run_config = tmp_path / "run.yaml"
    run_config.write_text(yaml.safe_dump(base))
    path = tmp_path / "my_scan.yaml"
    path.write_text(yaml.safe_dump({"base": str(run_config), "set": ["profile=fast"],
                                    "grid": {"product": {"seed": [0, 1]}}}))  # fmt: skip
    scan = load_scan_config(path)
    assert scan.name == "my_scan" and scan.base["profile"] == "fast"
    assert str(scan.out_dir) == "runs/scans/my_scan"
    assert scan.executor == ExecutorConfig(kind="processes", tasks=0, retries=1)
    bad = {"base": base, "grid": {"product": {"seed": [0]}}}
    with pytest.raises(ConfigError, match="unknown key.*executor.task"):
        scan_config({**bad, "executor": {"task": 2}})
    with pytest.raises(ConfigError, match="executor.cluster is for kind: dask"):
        scan_config({**bad, "executor": {"kind": "processes", "cluster": {"kind": "local"}}})
    with pytest.raises(ConfigError, match="needs the cores of one job"):
        scan_config({**bad, "executor": {"kind": "dask", "cluster": {"kind": "slurm"}}})
    with pytest.raises(ConfigError, match="'base' is missing"):
        scan_config({"grid": {"product": {"seed": [0]}}})


def test_points_share_the_cores_without_oversubscribing():
    cores = allotted_cpus()
    assert plan(ExecutorConfig(kind="inline")) == (1, cores)
    assert plan(ExecutorConfig(kind="processes", tasks=2)) == (2, max(1, cores // 2))
    assert plan(ExecutorConfig(kind="dask")) == (cores, 1)
    slurm = ClusterConfig(kind="slurm", jobs=4, options={"cores": 8, "processes": 2})
    assert plan(ExecutorConfig(kind="dask", cluster=slurm)) == (2, 4)


def test_slurm_cluster_is_configured_from_the_scan_config(monkeypatch):
    pytest.importorskip("dask_jobqueue")
    settings = ClusterConfig(kind="slurm", jobs=2, options={
        "cores": 8, "processes": 2, "memory": "16GB", "walltime": "02:00:00",
        "queue": "short", "scheduler_options": {"dashboard_address": None},
    })  # fmt: skip
    cluster = make_cluster(settings, tasks=2)
    try:
        script = cluster.job_script()
    finally:
        cluster.close()
    for line in ("#SBATCH --cpus-per-task=8", "#SBATCH -p short", "#SBATCH -t 02:00:00",
                 "--nworkers 2", "--resources point=1"):  # fmt: skip
        assert line in script
    monkeypatch.setitem(sys.modules, "dask_jobqueue", None)  # not installed
    with pytest.raises(ConfigError, match=r"needs dask-jobqueue: pip install 'transit-ad\[cluster"):
        make_cluster(settings, tasks=2)


# ------------------------------------------------------------------------- running scans


@pytest.fixture(scope="module")
def dask_scan(base, tmp_path_factory):
    """Four points (N x seed) through `transit scan` on a 2-worker Dask LocalCluster."""
    root = tmp_path_factory.mktemp("scan")
    grid = {"product": {"injection.n_signal": [300, 600], "seed": [0, 1]}}
    config = write_scan(root / "scan.yaml", base, grid, {"kind": "dask", "tasks": 2},
                        root / "out")  # fmt: skip
    assert main(["scan", str(config)]) == 0
    return config, root / "out"


def results(scan_dir):
    return {d.name: read_result(d) for d in sorted((scan_dir / "runs").iterdir())}


def test_dask_scan_runs_every_point_into_its_own_directory(dask_scan):
    _, out = dask_scan
    done = results(out)
    assert list(done) == ["0000-n_signal=300-seed=0", "0001-n_signal=300-seed=1",
                          "0002-n_signal=600-seed=0", "0003-n_signal=600-seed=1"]  # fmt: skip
    for name, result in done.items():
        assert result is not None, name
        assert result["n_workers"] == max(1, allotted_cpus() // 2)  # 2 points at once
        assert result["config"]["injection"]["n_signal"] == int(name.split("=")[1][:3])
        assert (out / "runs" / name / "index.html").is_file()
    manifest = json.loads((out / "manifest.json").read_text())
    assert [p["dir"] for p in manifest["points"]] == [f"runs/{n}" for n in done]
    assert manifest["points"][3]["params"] == {"injection.n_signal": 600, "seed": 1}
    assert json.loads((out / "failures.json").read_text()) == []


def test_each_scan_session_records_its_throughput(dask_scan, tmp_path, capsys):
    config, out = dask_scan
    (session,) = read_sessions(out)
    assert (session["executor"], session["at_once"], session["to_run"]) == ("dask", 2, 4)
    assert (session["done"], session["failed"]) == (4, 0) and session["finished"]
    assert session["n_workers"] == max(1, allotted_cpus() // 2)
    rate = searches_per_hour(session)
    assert rate == pytest.approx(3600 * 4 / session["wall_s"])
    scan_dir = tmp_path / "copy"
    shutil.copytree(out, scan_dir)
    assert main(["scan", str(config), "--out", str(scan_dir)]) == 0  # nothing left to run
    assert len(read_sessions(scan_dir)) == 1
    assert main(["collect", str(scan_dir)]) == 0
    assert "4 run, 0 failed" in capsys.readouterr().out
    assert "Scan sessions (throughput)" in (scan_dir / "index.html").read_text()
    # a killed scan leaves its entry unfinished; a throughput needs finished points
    record_session(scan_dir, {"started": "later", "finished": None, "wall_s": 9.0, "done": 0})
    assert [s["started"] for s in read_sessions(scan_dir)] == [session["started"], "later"]
    assert searches_per_hour(read_sessions(scan_dir)[1]) is None


def test_rerun_after_a_kill_redoes_only_the_unfinished_point(dask_scan, tmp_path):
    config, out = dask_scan
    scan_dir = tmp_path / "copy"
    shutil.copytree(out, scan_dir)
    before = results(scan_dir)
    killed = scan_dir / "runs" / "0001-n_signal=300-seed=1"
    (killed / "result.json").unlink()  # killed mid-run: a partial directory, no result
    stamps = {d.name: (d / "result.json").stat().st_mtime_ns
              for d in (scan_dir / "runs").iterdir() if d != killed}  # fmt: skip
    scan = load_scan_config(config)
    outcome = run_scan(scan_config({**yaml.safe_load(config.read_text()),
                                    "executor": {"kind": "processes", "tasks": 2}}), scan_dir)
    assert (outcome.finished_before, outcome.done, outcome.failures) == (3, 1, [])
    after = results(scan_dir)
    for name, stamp in stamps.items():
        assert (scan_dir / "runs" / name / "result.json").stat().st_mtime_ns == stamp
    assert after[killed.name]["methods"] == before[killed.name]["methods"]  # same seed, same run
    # a result.json that is not a complete result of this schema does not count as finished
    (killed / "result.json").write_text(json.dumps({**after[killed.name], "schema_version": 0}))
    assert read_result(killed) is None
    (killed / "result.json").write_text("{\"status\": \"compl")
    assert read_result(killed) is None
    assert scan.name == "tiny"


def test_run_task_gives_the_directory_and_numbers_the_scan_gives(dask_scan, tmp_path, capsys,
                                                                  monkeypatch):  # fmt: skip
    config, out = dask_scan
    other = tmp_path / "array"
    assert main(["run-task", str(config), "--index", "2", "--out", str(other)]) == 0
    assert "0002-n_signal=600-seed=0: done" in capsys.readouterr().out
    (name,) = [d.name for d in (other / "runs").iterdir()]
    assert name == "0002-n_signal=600-seed=0"
    mine, theirs = read_result(other / "runs" / name), read_result(out / "runs" / name)
    assert mine["methods"] == theirs["methods"] and mine["n_events"] == theirs["n_events"]
    assert mine["n_workers"] == allotted_cpus()  # one point per job: every allotted CPU
    # a job array task takes its index from SLURM; a finished point is not run again
    monkeypatch.setenv("SLURM_ARRAY_TASK_ID", "2")
    assert main(["run-task", str(config), "--out", str(other)]) == 0
    assert ": skipped" in capsys.readouterr().out
    monkeypatch.setenv("SLURM_ARRAY_TASK_ID", "7")
    assert main(["run-task", str(config), "--out", str(other)]) == 2
    assert "point index 7 is out of range: the scan has 4 points" in capsys.readouterr().err


def test_collect_gives_one_table_summary_plot_and_index(dask_scan, tmp_path):
    _, out = dask_scan
    scan_dir = tmp_path / "copy"
    shutil.copytree(out, scan_dir)
    collection = collect(scan_dir)
    table = pd.read_csv(scan_dir / "table.csv")
    assert len(table) == 4 and set(table["method"]) == {"cwola_sb"}
    assert {"injection.n_signal", "seed", "si_at_rej_100", "si_at_rej_1000", "max_sic", "auc",
            "closure_auc", "bump_z", "time_total_s", "peak_rss_mb"} <= set(table.columns)
    assert pd.read_parquet(scan_dir / "table.parquet").shape == table.shape
    summary = pd.read_csv(scan_dir / "summary.csv")
    assert list(summary["injection.n_signal"]) == [300, 600] and "seed" not in summary
    assert list(summary["n_runs"]) == [2, 2]
    seeds = table[table["injection.n_signal"] == 600]["si_at_rej_1000"]
    assert summary["si_at_rej_1000_mean"][1] == pytest.approx(seeds.mean())
    assert summary["si_at_rej_1000_std"][1] == pytest.approx(seeds.std(ddof=0))
    assert (scan_dir / "plots" / "si_vs_n.png").is_file()
    page = (scan_dir / "index.html").read_text()
    assert 'href="runs/0003-n_signal%3D600-seed%3D1/index.html"' in page
    assert "plots/si_vs_n.png" in page and collection.status == {"complete": 4, "failed": 0, "incomplete": 0,
                                                         "missing": 0}


def test_collect_lists_missing_and_interrupted_points(dask_scan, tmp_path, capsys, caplog,
                                                      monkeypatch):  # fmt: skip
    _, out = dask_scan
    scan_dir = tmp_path / "copy"
    shutil.copytree(out, scan_dir)
    shutil.rmtree(scan_dir / "runs" / "0000-n_signal=300-seed=0")
    (scan_dir / "runs" / "0003-n_signal=600-seed=1" / "result.json").unlink()
    monkeypatch.setattr("transit.scan.collect.parquet_available", lambda: False)
    with caplog.at_level(logging.INFO, logger="transit.scan"):
        assert main(["collect", str(scan_dir)]) == 0
    assert "pyarrow is not installed: table.parquet not written" in caplog.text
    assert not (scan_dir / "table.parquet").exists()
    printed = capsys.readouterr().out
    assert "4 points: 2 complete, 0 failed, 1 incomplete, 1 missing" in printed
    assert "missing    0000-n_signal=300-seed=0" in printed
    summary = pd.read_csv(scan_dir / "summary.csv")
    assert list(summary["n_runs"]) == [1, 1]
    table = pd.read_csv(scan_dir / "table.csv")
    assert table.set_index("index")["status"].to_dict() == {
        0: "missing", 1: "complete", 2: "complete", 3: "incomplete"}
    assert "incomplete" in (scan_dir / "index.html").read_text()
    assert main(["collect", str(tmp_path / "nothing")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_a_run_whose_methods_were_all_skipped_keeps_its_row(dask_scan, tmp_path):
    _, out = dask_scan
    entry = json.loads((out / "manifest.json").read_text())["points"][0]
    result = read_result(out / entry["dir"])
    (tmp_path / entry["dir"]).mkdir(parents=True)
    (tmp_path / entry["dir"] / "result.json").write_text(json.dumps({**result, "methods": {}}))
    (row,) = point_rows(tmp_path, entry, ["injection.n_signal", "seed"])
    assert row["status"] == "complete" and row["method"] is None and row["seed"] == 0


def test_a_failing_point_is_reported_and_the_others_finish(base, tmp_path, caplog):
    grid = {"zip": {"name": ["ok", "empty"], "regions": [base["regions"], NO_EVENTS]}}
    config = write_scan(tmp_path / "scan.yaml", base, grid, {"kind": "inline", "retries": 2},
                        tmp_path / "out")  # fmt: skip
    assert main(["scan", str(config)]) == 1
    failures = json.loads((tmp_path / "out" / "failures.json").read_text())
    (failure,) = failures
    assert failure["name"] == "0001-name=empty-regions=20000-20400-19700-20000+20400-21300"
    assert failure["error"].startswith("DataError: ") and "move the windows" in failure["error"]
    assert failure["attempts"] == 1  # an input error would fail again: not retried
    assert "check_mass_scale" in failure["traceback"]
    assert read_result(tmp_path / "out" / "runs" / "0000-name=ok-regions=3300-3700-3000-3300+"
                                                     "3700-4600") is not None  # fmt: skip
    collection = collect(tmp_path / "out")
    assert collection.status == {"complete": 1, "failed": 1, "incomplete": 0, "missing": 0}
    table = pd.read_csv(tmp_path / "out" / "table.csv")
    assert table["error"][1] == failure["error"]
    assert "move the windows" in (tmp_path / "out" / "index.html").read_text()


def test_a_crashed_worker_is_retried_and_a_hopeless_point_reported(base, tmp_path, caplog):
    from crashing_task import crash_first_attempt

    grid = {"product": {"name": ["fine", "crash-once", "crash-always"]}}
    scan = scan_config({"name": "crashes", "base": base, "grid": grid,
                        "executor": {"kind": "processes", "tasks": 1, "retries": 1}})  # fmt: skip
    with caplog.at_level(logging.INFO, logger="transit.scan"):
        outcome = run_scan(scan, tmp_path, task=crash_first_attempt)
    assert outcome.done == 2
    (failure,) = outcome.failures
    assert failure["name"] == "0002-name=crash-always" and failure["attempts"] == 2
    assert "worker running this point died" in failure["error"]
    attempts = {d.name: int((d / "attempts.txt").read_text()) for d in (tmp_path / "runs").iterdir()}
    assert attempts == {"0000-name=fine": 1, "0001-name=crash-once": 2,
                        "0002-name=crash-always": 2}  # fmt: skip
    assert "3/3 done" not in caplog.text and "2/3 done, 1 failed, 0 remaining" in caplog.text
    error = json.loads((tmp_path / "runs" / "0002-name=crash-always" / "error.json").read_text())
    assert error["attempts"] == 2


def test_dry_run_lists_points_and_a_different_scan_is_refused(base, tmp_path, capsys):
    grid = {"product": {"seed": [0, 1]}}
    config = write_scan(tmp_path / "scan.yaml", base, grid, {"kind": "inline"}, tmp_path / "o")
    assert main(["scan", str(config), "--dry-run"]) == 0
    printed = capsys.readouterr().out
    assert "missing    0001-seed=1" in printed and "2 points" in printed
    config = write_scan(tmp_path / "scan.yaml", base, {"product": {"seed": [5]}},
                        {"kind": "inline"}, tmp_path / "o")  # fmt: skip
    assert main(["scan", str(config)]) == 2
    assert "holds a different scan (points differ: 2 points there, 1 now)" in (
        capsys.readouterr().err)
    with pytest.raises(DataError, match="is not a scan directory"):
        collect(tmp_path)


def test_shipped_smoke_scan_is_at_most_four_points_on_b2(monkeypatch):
    shared_path("lhco_rnd_sr", "lhco_rnd_sr.npz")  # skips, naming the file, without ../shared
    monkeypatch.chdir(REPO)
    scan = load_scan_config(REPO / "configs" / "scans" / "smoke.yaml")
    points = build_points(scan.base, scan.grid)
    assert 1 <= len(points) <= 4
    for point in points:
        assert point.config.data.path.endswith("lhco_rnd_sr/lhco_rnd_sr.npz")
        assert point.config.regions.sr == (3450.0, 3550.0)
