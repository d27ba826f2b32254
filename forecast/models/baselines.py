"""Baseline forecasters with the LSTM's interface: ``fit(history)``, ``forecast(horizon, history=None)``.

Every baseline has a ``name``; ``forecast(h, history=...)`` forecasts from the end of ``history``
(the statistical models refit on it, which is cheap). ``BASELINES`` maps names to factories taking the
season length; ``season_for(freq)`` infers that length from a series' frequency.
"""

from __future__ import annotations

import warnings
from typing import Callable

import numpy as np

SEASONS = {"trading_days": 5, "business_days": 5, "daily": 7, "hourly": 24, "weekly": 52, "monthly": 12,
           "quarterly": 4}
STAT_POINTS = 500  # ARIMA/ETS are fitted on the most recent points only, to stay fast


def season_for(freq: str) -> int:
    """Season length for a calendar label of calendar.FREQUENCIES (1: no season known)."""
    return SEASONS.get(freq, 1)


def _finite(history) -> np.ndarray:
    h = np.asarray(history, dtype=np.float64).ravel()
    if len(h) == 0 or not np.all(np.isfinite(h)):
        raise ValueError("history must be non-empty and finite")
    return h


class _Baseline:
    """fit() remembers the history; forecast() calls ``_predict(history, horizon)``."""

    name = "baseline"

    def fit(self, history) -> _Baseline:
        self._history = _finite(history)
        self._fit(self._history)
        return self

    def _fit(self, history: np.ndarray) -> None:
        pass

    def forecast(self, horizon: int, history=None) -> np.ndarray:
        h = self._history if history is None else _finite(history)
        return np.asarray(self._predict(h, int(horizon)), dtype=np.float64)

    def _predict(self, history: np.ndarray, horizon: int) -> np.ndarray:
        raise NotImplementedError


class Naive(_Baseline):
    """Tomorrow equals today: the last observed value, repeated."""

    name = "naive"

    def _predict(self, history, horizon):
        return np.full(horizon, history[-1])


class SeasonalNaive(_Baseline):
    """The value one season earlier: y_{T+k} = y_{T+k-m*ceil(k/m)}; with season 1 it is the naive forecast."""

    name = "seasonal_naive"

    def __init__(self, season: int = 1):
        self.season = max(1, int(season))

    def _predict(self, history, horizon):
        m = min(self.season, len(history))
        last = history[-m:]
        return np.array([last[k % m] for k in range(horizon)])


class Drift(_Baseline):
    """Random walk with drift: the line through the first and the last observation, extended."""

    name = "drift"

    def _predict(self, history, horizon):
        slope = (history[-1] - history[0]) / (len(history) - 1) if len(history) > 1 else 0.0
        return history[-1] + slope * np.arange(1, horizon + 1)


class MovingAverage(_Baseline):
    """Mean of the last ``window`` values (default: one season, which averages the seasonal pattern out)."""

    name = "moving_average"

    def __init__(self, window: int = 5):
        self.window = max(1, int(window))

    def _predict(self, history, horizon):
        return np.full(horizon, np.mean(history[-self.window:]))


class Arima(_Baseline):
    """ARIMA(p,1,q) with p + q <= 2, chosen by AIC on the last STAT_POINTS values; refitted on new history.

    Estimated with the fast Hannan-Rissanen method (a full maximum-likelihood grid takes seconds per
    order); orders that cannot be estimated are skipped.
    """

    name = "arima"
    grid = [(p, 1, q) for p in range(3) for q in range(3) if p + q <= 2]

    def _fit(self, history):
        scores = []
        for order in self.grid:
            try:
                scores.append((self._model(history, order).aic, order))
            except Exception:  # e.g. non-stationary AR estimates for this order
                continue
        scores = [s for s in scores if np.isfinite(s[0])]
        if not scores:
            raise ValueError("no ARIMA order could be fitted")
        self.order_ = min(scores)[1]

    @staticmethod
    def _model(history, order):
        from statsmodels.tsa.arima.model import ARIMA

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return ARIMA(history[-STAT_POINTS:], order=order, enforce_stationarity=False,
                         enforce_invertibility=False).fit(method="hannan_rissanen")

    def _predict(self, history, horizon):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return self._model(history, self.order_).forecast(horizon)


class Ets(_Baseline):
    """Exponential smoothing with an additive damped trend, on log prices when all are positive."""

    name = "ets"

    def _predict(self, history, horizon):
        from statsmodels.tsa.holtwinters import ExponentialSmoothing

        y = history[-STAT_POINTS:]
        log = bool(np.all(y > 0))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit = ExponentialSmoothing(np.log(y) if log else y, trend="add", damped_trend=True).fit()
            out = np.asarray(fit.forecast(horizon), dtype=np.float64)
        return np.exp(out) if log else out

    def _fit(self, history):
        self._predict(history, 1)  # fail here, in fit, if the model cannot be estimated


BASELINES: dict[str, Callable[[int], _Baseline]] = {
    "naive": lambda season: Naive(),
    "seasonal_naive": lambda season: SeasonalNaive(season),
    "drift": lambda season: Drift(),
    "moving_average": lambda season: MovingAverage(season),
    "arima": lambda season: Arima(),
    "ets": lambda season: Ets(),
}
