"""The LSTM forecaster: prices in, prices out, with the same fit/forecast interface as the baselines."""

from __future__ import annotations

import numpy as np

from forecast.config import RunConfig
from forecast.models.distribute import global_batch_size, make_strategy
from forecast.models.network import build_model
from forecast.models.fitting import FitResult, fit_model, set_seed
from forecast.data.transforms import Preprocessor
from forecast.data.windows import Split, last_input, make_dataset, window_arrays


class LSTMForecaster:
    """Stacked LSTM over the transformed, train-scaled series; forecasts all horizon steps at once.

    ``fit(prices)`` uses the last ``n_val`` prices (default: ``val_frac`` of them) for early stopping
    only; the scaler is fitted on the part before them. Nothing after ``prices[-1]`` is ever seen.
    """

    name = "lstm"

    def __init__(self, cfg: RunConfig, verbose: int = 0, initial_weights: list | None = None, callbacks=()):
        self.cfg = cfg
        self.callbacks = tuple(callbacks)  # extra Keras callbacks for fit (e.g. tuning reports)
        self.verbose = verbose
        self.initial_weights = initial_weights
        self.model = None
        self.prep: Preprocessor | None = None
        self.fit_result: FitResult | None = None
        self._history: np.ndarray | None = None

    @property
    def horizon(self) -> int:
        return self.cfg.window.horizon

    def fit(self, prices: np.ndarray, n_val: int | None = None) -> LSTMForecaster:
        w = self.cfg.window
        prices = np.asarray(prices, dtype=np.float64)
        if n_val is None:
            n_val = max(int(round(len(prices) * w.val_frac)), w.horizon)
        self.prep = Preprocessor(w.transform)
        split = Split(len(prices) - n_val, n_val, 0, self.prep.offset, w.window, w.horizon)
        self.prep.fit(prices[: split.n_train])  # statistics from the training part only
        z = self.prep.encode(prices)
        t = self.cfg.train
        set_seed(t.seed)
        strategy = make_strategy(t.strategy)
        with strategy.scope():  # variables and optimizer state live on every replica
            self.model = build_model(self.cfg, n_features=1)
            if self.initial_weights is not None:  # warm start from an earlier fold
                self.model.set_weights(self.initial_weights)
        batch = global_batch_size(t.batch_size, strategy)
        train_ds = make_dataset(z, split.train_origins, w.window, w.horizon, batch, shuffle=True, seed=t.seed)
        val_ds = make_dataset(z, split.val_origins, w.window, w.horizon, batch)
        self.fit_result = fit_model(self.model, train_ds, val_ds, t, verbose=self.verbose,
                                    extra_callbacks=self.callbacks)
        if t.strategy != "none":  # serve and save a single-device copy (Keras' predict misbehaves under Mirrored)
            trained, self.model = self.model, build_model(self.cfg, n_features=1)
            self.model.set_weights(trained.get_weights())
        self._history = prices
        return self

    def forecast(self, horizon: int | None = None, history: np.ndarray | None = None) -> np.ndarray:
        """Forecast ``horizon`` prices after ``history`` (default: the fitted series) without refitting."""
        h = horizon or self.horizon
        hist = np.asarray(self._history if history is None else history, dtype=np.float64)
        return forecast_path(self.model, self.prep, hist, self.cfg.window.window, self.horizon, h)

    def predict_origins(self, prices: np.ndarray, price_origins: np.ndarray) -> np.ndarray:
        """Forecasts (n, horizon) in prices made at each origin index of ``prices`` (batched)."""
        prices = np.asarray(prices, dtype=np.float64)
        z = self.prep.encode(prices)
        z_origins = np.asarray(price_origins) - self.prep.offset
        x, _ = window_arrays(np.concatenate([z, np.zeros(self.horizon, np.float32)]), z_origins,
                             self.cfg.window.window, self.horizon)
        scaled = predict_batches(self.model, np.ascontiguousarray(x))  # (n, horizon)
        return self.prep.decode(prices[price_origins], scaled)


def predict_batches(model, x: np.ndarray, batch_size: int = 1024) -> np.ndarray:
    """``model.predict(x)`` without its tf.data pipeline, whose map op makes TF 2.21 log a spurious
    "NodeDef mentions attribute use_unbounded_threadpool" error. Same numbers, batch by batch."""
    if len(x) == 0:
        return np.zeros((0, *model.output_shape[1:]), np.float32)
    return np.concatenate([np.asarray(model.predict_on_batch(x[i:i + batch_size]))
                           for i in range(0, len(x), batch_size)])


def forecast_path(model, prep: Preprocessor, prices: np.ndarray, window: int, trained_h: int, h: int) -> np.ndarray:
    """``h`` future prices; beyond the trained horizon the forecast is fed back in (recursive)."""
    prices = np.asarray(prices, dtype=np.float64)
    out: list[float] = []
    while len(out) < h:
        x = last_input(prep.encode(prices), window)  # (1, window, 1)
        step = prep.decode(prices[-1], model(x, training=False).numpy())[0]  # (trained_h,)
        out.extend(step.tolist())
        prices = np.concatenate([prices, step])
    return np.asarray(out[:h])
