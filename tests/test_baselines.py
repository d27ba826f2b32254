"""Baselines: exact on constructed series; ARIMA/ETS finite on a seeded series; failures become NaN + note."""

import numpy as np
import pytest

from forecast.models.baselines import BASELINES, Drift, MovingAverage, Naive, SeasonalNaive, season_for
from forecast.config import RunConfig, WindowConfig
from forecast.data.panel import panel_of
from forecast.data.load import synthetic_series
from forecast.evaluation.folds import FoldTask, run_fold


def test_naive_and_seasonal_naive_exact():
    y = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0])
    assert Naive().fit(y).forecast(3).tolist() == [7.0, 7.0, 7.0]
    assert SeasonalNaive(3).fit(y).forecast(5).tolist() == [5.0, 6.0, 7.0, 5.0, 6.0]
    assert SeasonalNaive(1).fit(y).forecast(2).tolist() == [7.0, 7.0]
    # history= forecasts from the end of the given history without refitting
    assert SeasonalNaive(2).fit(y).forecast(3, history=y[:4]).tolist() == [3.0, 4.0, 3.0]


def test_drift_exact_on_a_line_and_moving_average():
    line = 100 + 0.5 * np.arange(40)
    np.testing.assert_allclose(Drift().fit(line).forecast(4), 100 + 0.5 * np.arange(40, 44))
    assert MovingAverage(4).fit(np.array([9.0, 1.0, 2.0, 3.0, 6.0])).forecast(2).tolist() == [3.0, 3.0]


def test_season_for_frequency():
    assert [season_for(f) for f in ("trading_days", "daily", "hourly", "weekly", "monthly", "quarterly", "other")] \
        == [5, 7, 24, 52, 12, 4, 1]


@pytest.mark.parametrize("name", ["arima", "ets"])
def test_statistical_baselines_finite_and_right_length(name):
    y = synthetic_series("seasonal", n=160, seed=3, noise=0.5)["Close"].to_numpy()
    fc = BASELINES[name](5).fit(y).forecast(7)
    assert fc.shape == (7,) and np.all(np.isfinite(fc))
    assert abs(fc[0] - y[-1]) < 10  # close to the level, not a runaway


@pytest.mark.parametrize("name", ["arima", "ets", "drift"])
def test_pathological_history_fails_gracefully_with_nan_and_note(name):
    bad = np.array([100.0, 101.0, np.inf, 102.0, 103.0] * 6)
    end = len(bad) - 1
    task = FoldTask(name, panel_of(bad, sid="S"), {"S": (0, end)}, ((2, {"S": (0, end)}),), 4, 5,
                    RunConfig(window=WindowConfig(horizon=4)))
    result = run_fold(task)
    assert np.isnan(result.forecasts[2]["S"]).all() and result.forecasts[2]["S"].shape == (4,)
    assert len(result.notes) == 1 and result.notes[0][0] == 2
    assert result.notes[0][1].startswith(f"{name} failed in fold 3 (ValueError") and "finite" in result.notes[0][1]
