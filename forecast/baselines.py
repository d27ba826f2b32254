"""Baseline forecasters with the LSTM's interface: ``fit(history)``, ``forecast(horizon, history=None)``."""

from __future__ import annotations

import numpy as np


class Naive:
    """Tomorrow equals today: the last observed value, repeated."""

    name = "naive"

    def fit(self, history: np.ndarray) -> "Naive":
        self._history = np.asarray(history, dtype=np.float64)
        return self

    def forecast(self, horizon: int, history: np.ndarray | None = None) -> np.ndarray:
        h = self._history if history is None else np.asarray(history, dtype=np.float64)
        return np.full(horizon, h[-1])
