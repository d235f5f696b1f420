import json
from pathlib import Path

import pytest

from transit.config import (
    ConfigError,
    RunConfig,
    apply_overrides,
    config_from_dict,
    default_config_path,
    load_config,
)

REPO = Path(__file__).resolve().parents[1]


def minimal(**extra):
    return {"data": {"path": "x.h5"}, **extra}


def test_json_round_trip_gives_equal_config():
    config = config_from_dict(minimal(methods=["cwola_sb"], features=["a", "b"], seed=7))
    again = config_from_dict(json.loads(config.to_json()))
    assert again == config
    assert again.feature_names() == ("a", "b")


def test_unknown_key_is_an_error_naming_it():
    with pytest.raises(ConfigError, match="regions.sideband"):
        config_from_dict(minimal(regions={"sideband": [[1, 2]]}))
    with pytest.raises(ConfigError, match="unknown key.*colour"):
        config_from_dict(minimal(colour="red"))


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"methods": ["magic"]}, "unknown method"),
        ({"methods": []}, "empty"),
        ({"features": "lhco7"}, "lhco4"),
        ({"profile": "turbo"}, "profile"),
        ({"injection": {"n_signal": -1}}, "n_signal"),
        ({"injection": {"pool": "extra_signal"}}, "no extra_signal"),
        ({"methods": ["iad"]}, "extra_background"),
        ({"seed": "zero"}, "integer"),
        ({"cwola": {"n_folds": 1}}, "n_folds"),
        ({"regions": {"sr": [1, 2, 3]}}, "expected 2 values"),
    ],
)
def test_invalid_values_are_rejected(changes, message):
    with pytest.raises(ConfigError, match=message):
        config_from_dict(minimal(**changes))


def test_overrides_apply_dotted_keys_and_parse_yaml_values():
    values = apply_overrides(minimal(), ["injection.n_signal=1000", "regions.sr=[3400, 3600]",
                                         "profile=fast"])  # fmt: skip
    config = config_from_dict(values)
    assert config.injection.n_signal == 1000
    assert config.regions.sr == (3400.0, 3600.0)
    assert config.profile == "fast"
    with pytest.raises(ConfigError, match="dotted.key=value"):
        apply_overrides(minimal(), ["no_equals_sign"])


def test_shipped_configs_load():
    assert isinstance(load_config(None), RunConfig)
    assert default_config_path().is_file()
    b1 = load_config(REPO / "configs" / "benchmarks" / "b1.yaml")
    b2 = load_config(REPO / "configs" / "benchmarks" / "b2.yaml", ["injection.n_signal=0"])
    assert b1.injection.n_signal == 3000 and b1.feature_names()[-1] == "delta_R"
    assert b2.injection.n_signal == 0 and len(b2.feature_names()) == 4


def test_missing_or_broken_config_file(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("data: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(bad)


def test_transit_overrides_replace_only_what_is_set():
    config = config_from_dict(minimal(profile="fast", transit={"epochs": 7,
                                                               "zero_init_scales": False}))
    assert config.transit.training_overrides() == {"epochs": 7, "zero_init_scales": False}
    from transit.transport.train import profile

    assert profile(config.profile).epochs != 7  # the profile itself is untouched


def test_methods_named_twice_or_latransit_alone_are_errors():
    with pytest.raises(ConfigError, match="twice"):
        config_from_dict(minimal(methods=["transit", "transit"]))
    with pytest.raises(ConfigError, match="add 'transit'"):
        config_from_dict(minimal(methods=["latransit"]))
