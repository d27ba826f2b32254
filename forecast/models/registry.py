"""Model names -> forecasters with one interface: ``fit(panel)``, ``forecast(panel, horizon) -> {id: path}``.

The LSTM is a panel model (models/lstm.py); the baselines are single-series models (models/baselines.py)
served on a panel by ``PerSeries``, which fits one model per series. "One LSTM per series" is the same
``PerSeries`` loop over ``panel.select(id)``, not a second implementation.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from forecast.config import RunConfig, neural_variant
from forecast.data.panel import Panel, Series


class PerSeries:
    """A panel forecaster made of one model per series, each from ``factory()``."""

    def __init__(self, name: str, factory: Callable[[], object], horizon: int):
        self.name, self.factory, self.horizon, self.models = name, factory, horizon, {}

    def fit(self, panel: Panel) -> PerSeries:
        for s in panel:
            self.models[s.id] = fit_one(self.factory(), panel.select(s.id))
        return self

    def forecast(self, panel: Panel, horizon: int) -> dict[str, np.ndarray]:
        return {s.id: _forecast_one(self.models[s.id], panel.select(s.id), horizon) for s in panel}

    def hybrid_summary(self, sid: str) -> dict | None:
        """What series ``sid``'s network does with a hybrid (LSTMForecaster.hybrid_summary); None for a baseline."""
        summary = getattr(self.models[sid], "hybrid_summary", None)
        return summary(sid) if summary else None

    @property
    def weights(self) -> dict[str, float]:
        """Each series' network weight against its anchor (LSTMForecaster.weights), as one network's are read."""
        return {sid: w for model in self.models.values() for sid, w in (getattr(model, "weights", None) or {}).items()}

    def release(self) -> None:
        """Give each series' network back for later fits (LSTMForecaster.release); nothing for a baseline."""
        for model in self.models.values():
            release(model)

    def predict_origins(self, s: Series, price_origins: np.ndarray) -> np.ndarray:
        """Forecasts (n, horizon) from each origin of ``s``: batched where the model can, else one by one."""
        model = self.models[s.id]
        if hasattr(model, "predict_origins"):
            return model.predict_origins(s, price_origins)
        return np.stack([_forecast_one(model, Panel((s.head(int(o) + 1),)), self.horizon) for o in price_origins])


def fit_one(model, panel: Panel):
    """Fit a panel model on ``panel``, or a single-series model on its only series' prices."""
    return model.fit(panel) if getattr(model, "panel_model", False) else model.fit(panel.series[0].values)


def release(model) -> None:
    """Tell a fitted forecaster its caller is done with it: a network is given back for the next fit of the same
    graph in this process (models/network.lend_networks); other models keep nothing to give."""
    if hasattr(model, "release"):
        model.release()


def _forecast_one(model, panel: Panel, horizon: int) -> np.ndarray:
    if getattr(model, "panel_model", False):
        return model.forecast(panel, horizon)[panel.series[0].id]
    return model.forecast(horizon, history=panel.series[0].values)


def make_model(name: str, cfg: RunConfig, *, season: int | tuple[int, ...] = 1, features=(), fit: str = "global",
               initial_weights=None, verbose: int = 0, callbacks=(), choices: dict | None = None):
    """A fresh, unfitted panel forecaster by name: a baseline, ``lstm`` (the network ``cfg`` describes) or a
    network variant of it such as ``gru-season`` (config.neural_variant); TensorFlow is imported only here.
    ``choices``: the network's statistical parts, computed beforehand (``lstm.hybrid_parts`` of the series it is
    fitted on: all of them, or with ``fit="per_series"`` each series' network those of its own)."""
    from forecast.models.baselines import BASELINES

    net_cfg = neural_variant(name, cfg)
    if net_cfg is not None:
        from forecast.models.lstm import LSTMForecaster

        def lstm():
            return LSTMForecaster(net_cfg, features, verbose=verbose, initial_weights=initial_weights,
                                  callbacks=callbacks, choices=choices)

        return lstm() if fit == "global" else PerSeries(name, lstm, cfg.window.horizon)
    return PerSeries(name, lambda: BASELINES[name](season), cfg.window.horizon)
