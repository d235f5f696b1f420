import json

from conftest import synthetic_config_dict

from transit.cli import main


def test_run_prints_summary_and_writes_result(synthetic_npz, tmp_path, capsys):
    import yaml

    config = tmp_path / "c.yaml"
    config.write_text(yaml.safe_dump(synthetic_config_dict(synthetic_npz, methods=["iad"])))
    out = tmp_path / "run"
    code = main(["run", str(config), "--out", str(out), "--seed", "11",
                 "--set", "injection.n_signal=500"])  # fmt: skip
    assert code == 0
    printed = capsys.readouterr().out
    assert "SI@1000" in printed and "iad" in printed
    result = json.loads((out / "result.json").read_text())
    assert result["seed"] == 11 and result["config"]["injection"]["n_signal"] == 500
    # a second run into the same directory is refused with a clear message and exit code 2
    assert main(["run", str(config), "--out", str(out)]) == 2
    assert "already exists" in capsys.readouterr().err


def test_config_and_data_errors_exit_2_with_message(synthetic_npz, tmp_path, capsys):
    assert main(["run", str(tmp_path / "missing.yaml")]) == 2
    assert "does not exist" in capsys.readouterr().err
    import yaml

    config = tmp_path / "c.yaml"
    values = synthetic_config_dict(synthetic_npz)
    values["regions"] = {"sr": [3.3, 3.7], "sb": [[3.0, 3.3], [3.7, 4.6]]}  # TeV by mistake
    config.write_text(yaml.safe_dump(values))
    assert main(["run", str(config), "--out", str(tmp_path / "o")]) == 2
    assert "windows look like TeV" in capsys.readouterr().err
    assert main(["run", str(config), "--set", "methods=[nope]"]) == 2
    assert "unknown method" in capsys.readouterr().err
