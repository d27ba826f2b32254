"""Config: parsing --layers, validation messages that name the option, JSON round trips and errors."""

from __future__ import annotations

import pytest

from forecast.config import RunConfig, parse_layers
from forecast.errors import ForecastError


@pytest.mark.parametrize("text, expected", [("64,32", (64, 32)), ("8", (8,)), (" 16 , 4 ", (16, 4)), ("5,", (5,))])
def test_parse_layers_good(text, expected):
    assert parse_layers(text) == expected


@pytest.mark.parametrize("text", ["", "abc", "64,x", "0", "64,-1", "1.5", ","])
def test_parse_layers_bad_names_option_and_example(text):
    with pytest.raises(ForecastError) as e:
        parse_layers(text)
    assert str(e.value) == f"--layers {text!r}: give positive units per LSTM layer separated by commas, e.g. 64,64"


@pytest.mark.parametrize("section, changes, message", [
    ("window", {"window": 1}, "--window 1: the look-back must be at least 2 steps"),
    ("window", {"horizon": 0}, "--horizon 0: the horizon must be at least 1 step"),
    ("window", {"transform": "sqrt"}, "--transform 'sqrt': choose one of auto, log_return, diff, level"),
    ("window", {"val_frac": 0.0}, "--val-frac 0.0: must be between 0 and 0.5"),
    ("window", {"test_frac": 0.5}, "--test-frac 0.5: must be between 0 and 0.5"),
    ("window", {"val_frac": 0.45, "test_frac": 0.4}, "--val-frac plus --test-frac must leave most data for training"),
    ("model", {"layers": ()}, "--layers: give positive units, e.g. 64,64"),
    ("model", {"layers": (8, 0)}, "--layers: give positive units, e.g. 64,64"),
    ("model", {"dropout": 1.0}, "--dropout 1.0: must be in [0, 1)"),
    ("train", {"epochs": 0}, "--epochs 0: must be at least 1"),
    ("train", {"batch_size": 0}, "--batch-size 0: must be at least 1"),
    ("train", {"patience": -1}, "--patience -1: must be 0 or more"),
    ("train", {"learning_rate": 0.0}, "--learning-rate 0.0: must be positive"),
    ("train", {"loss": "mae"}, "--loss 'mae': choose one of mse, huber"),
    ("train", {"device": "tpu"}, "--device 'tpu': choose one of auto, cpu, gpu"),
    ("data", {"max_fill": -1}, "--max-fill -1: must be 0 or more"),
])
def test_validate_messages(section, changes, message):
    with pytest.raises(ForecastError) as e:
        RunConfig().replace(**{section: changes})
    assert str(e.value) == message


def test_defaults_are_valid_and_replace_keeps_other_fields():
    cfg = RunConfig().replace(train={"epochs": 2}, window={"horizon": 4})
    assert (cfg.train.epochs, cfg.window.horizon) == (2, 4)
    assert cfg.train.batch_size == RunConfig().train.batch_size
    assert cfg.model == RunConfig().model


def test_dict_and_json_round_trip(tmp_path, tiny_cfg):
    cfg = tiny_cfg.replace(model={"layers": (16, 8)}, window={"transform": "diff"}, data={"target": "Close"})
    assert RunConfig.from_dict(cfg.to_dict()) == cfg
    cfg.to_json(tmp_path / "c.json")
    back = RunConfig.from_json(tmp_path / "c.json")
    assert back == cfg
    assert back.model.layers == (16, 8) and isinstance(back.model.layers, tuple)


def test_from_dict_unknown_setting():
    with pytest.raises(ForecastError, match="config has an unknown or missing setting: .*colour"):
        RunConfig.from_dict({"model": {"colour": "red"}})


def test_from_dict_validates_values():
    with pytest.raises(ForecastError, match=r"^--epochs 0: must be at least 1$"):
        RunConfig.from_dict({"train": {"epochs": 0}})


def test_from_json_bad_json(tmp_path):
    f = tmp_path / "bad.json"
    f.write_text('{"train": {"epochs": 3,}}\n')
    with pytest.raises(ForecastError) as e:
        RunConfig.from_json(f)
    assert str(e.value).startswith(f"{f}: not valid JSON (")
    assert "at line 1" in str(e.value) and str(e.value).endswith("; fix or regenerate it")


def test_from_json_missing_file(tmp_path):
    with pytest.raises(ForecastError, match=r"nope\.json: config file not found$"):
        RunConfig.from_json(tmp_path / "nope.json")


@pytest.mark.parametrize("d", [[1, 2], {"model": [8]}, {"train": "fast"}])
def test_from_dict_not_an_object(d):
    with pytest.raises(ForecastError, match="^config must be a JSON object with data, window, model and train objects"):
        RunConfig.from_dict(d)


def test_from_dict_bad_layers_value():
    with pytest.raises(ForecastError, match="^config has a bad value: .*'abc'.*; model.layers must be whole numbers$"):
        RunConfig.from_dict({"model": {"layers": ["abc"]}})
