"""Covariate, derived and calendar features: definitions, train-only scaling, JSON round trip, errors."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from forecast.data import features as feat
from forecast.errors import InputError
from forecast.data.panel import load_panel


def test_parse_features_is_case_insensitive_ordered_and_unique():
    assert feat.parse_features(" Volume,high, VOLUME ,dow") == ("volume", "high", "dow")
    assert feat.parse_features(None) == ()


def test_derived_features_follow_their_definitions():
    prices = np.array([100.0, 110.0, 99.0, 99.0])
    dates = pd.DatetimeIndex(["2024-01-01", "2024-01-02", "2024-01-03", "2024-02-05"])  # Mon Tue Wed Mon
    cols = {"volume": np.array([0.0, 9.0, 99.0, 999.0]), "high": np.array([101.0, 112.0, 100.0, 100.0]),
            "low": np.array([99.0, 108.0, 98.0, 97.0]), "close": prices}
    names = ("log_return", "log_volume", "hl_range", "volatility", "dow", "month")
    x = feat.build(names, prices, dates, cols, "f.csv")
    assert feat.input_names(names) == ["log_return", "log_volume", "hl_range", "volatility",
                                       "dow_sin", "dow_cos", "month_sin", "month_cos"]
    r = [0.0, np.log(1.1), np.log(0.9), 0.0]
    np.testing.assert_allclose(x[:, 0], r)
    np.testing.assert_allclose(x[:, 1], np.log1p([0.0, 9.0, 99.0, 999.0]))
    np.testing.assert_allclose(x[:, 2], [2 / 100, 4 / 110, 2 / 99, 3 / 99])
    np.testing.assert_allclose(x[:, 3], [0.0, np.std(r[:2], ddof=1), np.std(r[:3], ddof=1), np.std(r, ddof=1)])
    np.testing.assert_allclose(x[:, 4:6], [[0, 1], [np.sin(2 * np.pi / 7), np.cos(2 * np.pi / 7)],
                                           [np.sin(4 * np.pi / 7), np.cos(4 * np.pi / 7)], [0, 1]], atol=1e-12)
    np.testing.assert_allclose(x[:, 6:8], [[0, 1]] * 3 + [[np.sin(np.pi / 6), np.cos(np.pi / 6)]], atol=1e-12)


def test_scaler_uses_training_rows_only_and_round_trips_through_json():
    x = np.array([[1.0, 5.0], [3.0, 5.0], [100.0, -7.0]])
    sc = feat.FeatureScaler(names=["a", "b"]).fit(x[:2])
    assert sc.mean_ == [2.0, 5.0] and sc.scale_ == [1.0, 1.0]  # constant column keeps scale 1
    back = feat.FeatureScaler.from_dict(json.loads(json.dumps(sc.to_dict())))
    np.testing.assert_array_equal(back.transform(x), np.array([[-1, 0], [1, 0], [98, -12]], np.float32))
    assert sc.to_dict()["fitted_on"] == "train"
    with pytest.raises(RuntimeError, match="not fitted"):
        feat.FeatureScaler().transform(x)


def test_covariates_align_on_the_target_dates_by_case_insensitive_name(tmp_path):
    df = pd.DataFrame({"Date": pd.date_range("2024-01-01", periods=6, freq="D"),
                       "Close": [10, 11, 12, 13, 14, 15], "VOLUME": ["", 5, 6, "", 8, 9]})
    df.to_csv(tmp_path / "p.csv", index=False)
    s = load_panel(tmp_path / "p.csv", features=("volume", "log_volume")).series[0]
    np.testing.assert_array_equal(s.features[:, 0], [5, 5, 6, 6, 8, 9])  # back-filled start, forward-filled gap
    np.testing.assert_allclose(s.features[:, 1], np.log1p([5, 5, 6, 6, 8, 9]))


def test_feature_errors_name_the_choices(tmp_path):
    df = pd.DataFrame({"Date": pd.date_range("2024-01-01", periods=6, freq="D"), "Close": np.arange(6) + 1.0,
                       "High": 2.0})
    df.to_csv(tmp_path / "p.csv", index=False)
    with pytest.raises(InputError, match="feature 'hl_range' needs the numeric column.s. low, which the file lacks"):
        load_panel(tmp_path / "p.csv", features=("hl_range",))
    with pytest.raises(InputError, match="unknown feature 'rsi' in --features; available features: close, high, "
                                         "log_return, log_volume, hl_range, volatility, dow, month"):
        load_panel(tmp_path / "p.csv", features=("rsi",))
    with pytest.raises(InputError, match=r"feature 'hl_range' is not finite on 2024-01-01"):
        feat.build(("hl_range",), np.array([0.0]), pd.DatetimeIndex(["2024-01-01"]),
                   {"high": np.array([1.0]), "low": np.array([0.5])}, "p.csv")
