"""Covariate, derived and calendar features: definitions, train-only scaling, JSON round trip, errors."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from forecast.data import features as feat
from forecast.errors import InputError
from forecast.data.load import FilledValuesWarning
from forecast.data.panel import TrimmedRowsWarning, load_panel


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
    with pytest.warns(TrimmedRowsWarning) as caught:
        s = load_panel(tmp_path / "p.csv", features=("volume", "log_volume")).series[0]
    # the first row, before the first volume, is left out (never filled from a later value); the gap carried forward
    trimmed, filled = ([str(w.message) for w in caught if w.category is c] for c in (TrimmedRowsWarning,
                                                                                     FilledValuesWarning))
    assert trimmed == [f"{tmp_path / 'p.csv'}: the first 1 rows (to 2024-01-01) are left out: covariate 'volume' "
                       "starts on 2024-01-02, and a covariate is not filled from later rows"]
    assert filled == [f"{tmp_path / 'p.csv'}: 1 missing value in 'VOLUME' (row 5) filled with the value before it"]
    assert list(s.values) == [11, 12, 13, 14, 15] and s.dates[0] == pd.Timestamp("2024-01-02")
    np.testing.assert_array_equal(s.features[:, 0], [5, 6, 6, 8, 9])
    np.testing.assert_allclose(s.features[:, 1], np.log1p([5, 6, 6, 8, 9]))


def test_a_covariate_starting_late_never_carries_a_later_value_back(tmp_path):
    """Volume known from row 6 on: the first five rows are left out, so a changed later volume moves no earlier
    input of the series."""
    df = pd.DataFrame({"Date": pd.date_range("2024-01-01", periods=12, freq="D"), "Close": np.arange(12) + 10.0,
                       "Volume": [None] * 5 + [7.0, 8, 9, 10, 11, 12, 13]})
    df.to_csv(tmp_path / "a.csv", index=False)
    df.assign(Volume=df["Volume"] * np.r_[[1] * 6, [5] * 6]).to_csv(tmp_path / "b.csv", index=False)
    with pytest.warns(TrimmedRowsWarning):
        a, b = (load_panel(tmp_path / f, features=("volume",)).series[0] for f in ("a.csv", "b.csv"))
    assert len(a) == 7 and a.features[0, 0] == b.features[0, 0] == 7.0
    late = df.assign(Volume=[None] * 10 + [5.0, 6.0], Close=list(df["Close"][:10]) + [None, None])  # after the prices
    late.to_csv(tmp_path / "none.csv", index=False)
    with pytest.raises(InputError, match="covariate 'volume' has no value on or before the last date of 'Close'"):
        load_panel(tmp_path / "none.csv", features=("volume",))


def test_feature_errors_name_the_choices(tmp_path):
    df = pd.DataFrame({"Date": pd.date_range("2024-01-01", periods=6, freq="D"), "Close": np.arange(6) + 1.0,
                       "High": 2.0})
    df.to_csv(tmp_path / "p.csv", index=False)
    with pytest.raises(InputError, match="feature 'hl_range' needs the numeric column.s. low, which the file lacks"):
        load_panel(tmp_path / "p.csv", features=("hl_range",))
    with pytest.raises(InputError, match="unknown feature 'rsi' in --features \\(no column of the file, nor a "
                                         "derived feature\\); available features: close, high, "
                                         "log_return, volatility, dow, month$"):  # none whose columns it lacks
        load_panel(tmp_path / "p.csv", features=("rsi",))
    with pytest.raises(InputError, match=r"feature 'hl_range' is not finite on 2024-01-01"):
        feat.build(("hl_range",), np.array([0.0]), pd.DatetimeIndex(["2024-01-01"]),
                   {"high": np.array([1.0]), "low": np.array([0.5])}, "p.csv")
