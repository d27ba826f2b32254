"""The network forecaster: one network over every series of a panel (a single series is a panel of one).

The network is the stacked LSTM by default, or another ``cfg.model.arch`` or an ensemble (models/network.py);
the name stays ``lstm`` for all of them. With ``cfg.model.hybrid`` a per-series seasonal profile
(data/seasonal.py), fitted on the training rows, is taken out of the encoded target before the windows and
put back into every forecast along the calendar.

Series are encoded separately: one ``Preprocessor`` (target transform + scaler) and one ``FeatureScaler``
(covariates) per series, fitted on that series' training rows only. The encoded series are concatenated
into one array ``Z`` (total time, 1 + inputs), the target first; window origins are taken per series and
shifted by the series' start in ``Z``, so no window or label crosses a series boundary. ``make_dataset``
gathers the windows batch by batch (memory proportional to the data, not to windows x window).

Interface shared with the baselines (models/registry.py): ``fit(panel)``, ``forecast(panel, horizon)`` ->
``{id: (horizon,) prices}`` after the end of each series of ``panel``; plus ``predict_origins(series,
origins)``, batched forecasts from many origins of one series (test scoring, calibration).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from forecast.config import RunConfig
from forecast.data import features as feat
from forecast.data.panel import Panel, Series
from forecast.data.seasonal import SeasonalProfile
from forecast.data.transforms import Preprocessor
from forecast.data.windows import Split, last_input, make_dataset, window_arrays
from forecast.errors import ForecastError
from forecast.models.fitting import FitResult


def default_n_val(n: int, cfg: RunConfig) -> int:
    """Prices of a fit's end that drive early stopping only: ``val_frac`` of them, at least one horizon."""
    return max(int(round(n * cfg.window.val_frac)), cfg.window.horizon)


class LSTMForecaster:
    """Stacked LSTM with a direct multi-horizon head, trained across the series of a panel."""

    name = "lstm"
    panel_model = True  # fit(panel) / forecast(panel, h); the baselines are single-series (registry.PerSeries)

    def __init__(self, cfg: RunConfig, features: Sequence[str] = (), verbose: int = 0,
                 initial_weights: list | None = None, callbacks=()):
        self.cfg, self.features, self.verbose = cfg, tuple(features), verbose
        self.initial_weights = initial_weights  # warm start from an earlier fit
        self.callbacks = tuple(callbacks)  # extra Keras callbacks for fit (e.g. tuning reports)
        self.model = None
        self.preps: dict[str, Preprocessor] = {}
        self.scalers: dict[str, feat.FeatureScaler] = {}
        self.seasons: dict[str, SeasonalProfile] = {}  # the hybrid's seasonal part, per series (data/seasonal.py)
        self.fit_result: FitResult | None = None

    @property
    def horizon(self) -> int:
        return self.cfg.window.horizon

    def encoded(self, s: Series) -> np.ndarray:
        """Series ``s`` encoded with its own fitted statistics: (len(s) - offset, 1 + inputs) float32."""
        if s.id not in self.preps:
            raise ForecastError(f"series {s.id!r} is not one this model was trained on "
                                f"(known: {', '.join(list(self.preps)[:20])})")
        prep = self.preps[s.id]
        z = prep.encode(s.values)[:, None]  # (time - offset, 1)
        off = self.season_offsets(s)
        if off is not None:
            z = z - off[prep.offset:, None]
        return np.hstack([z, self.scalers[s.id].transform(s.features)[prep.offset:]]).astype(np.float32)

    def season_offsets(self, s: Series, extra: int = 0) -> np.ndarray | None:
        """The seasonal part (scaled z units) at every row of ``s`` and ``extra`` steps after it; None: none."""
        sp = self.seasons.get(s.id)
        if sp is None or not sp.used:
            return None
        if extra:
            from forecast.data.calendar import future_dates

            return sp.offsets(s.dates.append(future_dates(s.dates, s.freq, extra)))
        return sp.offsets(s.dates)

    def prepare(self, panel: Panel, n_val: Sequence[int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Fit each series' statistics on its training rows; return ``Z`` (total time, 1 + inputs) and the train
        and validation origins into it (every window and label inside one series)."""
        w = self.cfg.window
        blocks, train_o, val_o, start = [], [], [], 0
        for s, nv in zip(panel, n_val):
            n_train = len(s) - nv
            self.preps[s.id] = Preprocessor(w.transform).fit(s.values[:n_train])  # training rows only
            self.scalers[s.id] = feat.FeatureScaler(names=feat.input_names(self.features)).fit(s.features[:n_train])
            if self.cfg.model.hybrid != "none":
                prep = self.preps[s.id]
                self.seasons[s.id] = SeasonalProfile(s.freq).fit(prep.encode(s.values[:n_train]),
                                                                 s.dates[prep.offset:n_train], self.cfg.model.hybrid)
            z = self.encoded(s)
            split = Split(n_train, nv, 0, self.preps[s.id].offset, w.window, w.horizon)
            train_o.append(split.train_origins + start)
            val_o.append(split.val_origins + start)
            blocks.append(z)
            start += len(z)
        return np.concatenate(blocks), np.concatenate(train_o), np.concatenate(val_o)

    def fit(self, panel: Panel, n_val: Sequence[int] | None = None) -> LSTMForecaster:
        """Fit on every series of ``panel``; the last ``n_val[i]`` prices of series ``i`` only drive early stopping."""
        from forecast.models.distribute import global_batch_size, make_strategy
        from forecast.models.fitting import fit_model, set_seed
        from forecast.models.network import build_model, build_networks

        w, t = self.cfg.window, self.cfg.train
        n_val = [default_n_val(len(s), self.cfg) for s in panel] if n_val is None else list(n_val)
        big, train_o, val_o = self.prepare(panel, n_val)  # (total time, 1 + inputs)
        set_seed(t.seed)
        strategy = make_strategy(t.strategy)
        with strategy.scope():  # variables and optimizer state live on every replica
            fit_net, self.model = build_networks(self.cfg, n_features=big.shape[1])  # the same unless an ensemble
            if self.initial_weights is not None:
                self.model.set_weights(self.initial_weights)
        batch = global_batch_size(t.batch_size, strategy)
        train_ds = make_dataset(big, train_o, w.window, w.horizon, batch, shuffle=True, seed=t.seed)  # lazy
        val_ds = make_dataset(big, val_o, w.window, w.horizon, batch)
        self.fit_result = fit_model(fit_net, train_ds, val_ds, t, verbose=self.verbose,
                                    extra_callbacks=self.callbacks)
        if t.strategy != "none":  # serve and save a single-device copy (Keras' predict misbehaves under Mirrored)
            trained, self.model = self.model, build_model(self.cfg, n_features=big.shape[1])
            self.model.set_weights(trained.get_weights())
        return self

    def predict_origins(self, s: Series, price_origins: np.ndarray) -> np.ndarray:
        """Forecasts (n, horizon) in prices of series ``s`` made at each origin index of ``s.values`` (batched)."""
        z = self.encoded(s)
        pad = np.zeros((self.horizon, z.shape[1]), np.float32)  # labels past the end are never read
        x, _ = window_arrays(np.vstack([z, pad]), np.asarray(price_origins) - self.preps[s.id].offset,
                             self.cfg.window.window, self.horizon)
        scaled = predict_batches(self.model, np.ascontiguousarray(x))  # (n, horizon)
        off = self.season_offsets(s, self.horizon)
        if off is not None:  # the seasonal part of rows o+1 .. o+horizon goes back in
            scaled = scaled + off[np.asarray(price_origins)[:, None] + np.arange(1, self.horizon + 1)]
        return self.preps[s.id].decode(s.values[price_origins], scaled)

    def forecast(self, panel: Panel, horizon: int | None = None) -> dict[str, np.ndarray]:
        """``horizon`` prices after the end of every series of ``panel``; beyond the trained horizon the
        forecast is fed back in (recursive), which covariate models refuse (covariates are unknown ahead)."""
        h = horizon or self.horizon
        if self.features and h > self.horizon:
            raise ForecastError(f"--horizon {h}: this model uses covariates, which are not known beyond the last "
                                f"window, so it cannot forecast past its trained horizon of {self.horizon}; use "
                                f"--horizon {self.horizon} or less, or retrain with a longer --horizon")
        out = {}
        for s in panel:
            off = self.season_offsets(s, max(h, self.horizon))
            if self.features:
                x = self.encoded(s)[-self.cfg.window.window:][None]  # (1, window, 1 + inputs)
                scaled = self.model(x, training=False).numpy()
                if off is not None:
                    scaled = scaled + off[len(s):len(s) + self.horizon]
                out[s.id] = self.preps[s.id].decode(float(s.values[-1]), scaled)[0][:h]
            else:
                out[s.id] = forecast_path(self.model, self.preps[s.id], s.values, self.cfg.window.window,
                                          self.horizon, h, season=off)
        return out

    def state(self) -> dict:
        """Everything but the network, JSON-ready per series (the bundle and the executors carry it)."""
        return {sid: {"preprocessor": self.preps[sid].to_dict(), "feature_scaler": self.scalers[sid].to_dict(),
                      **({"season": self.seasons[sid].to_dict()} if sid in self.seasons else {})}
                for sid in self.preps}

    @classmethod
    def restore(cls, cfg: RunConfig, features: Sequence[str], model, state: dict) -> LSTMForecaster:
        """A fitted forecaster from a network and ``state()``."""
        fc = cls(cfg, features)
        fc.model = model
        for sid, st in state.items():
            fc.preps[sid] = Preprocessor.from_dict(st["preprocessor"])
            fc.scalers[sid] = feat.FeatureScaler.from_dict(st["feature_scaler"])
            if "season" in st:
                fc.seasons[sid] = SeasonalProfile.from_dict(st["season"])
        return fc


def predict_batches(model, x: np.ndarray, batch_size: int = 1024) -> np.ndarray:
    """``model.predict(x)`` without its tf.data pipeline, whose map op makes TF 2.21 log a spurious
    "NodeDef mentions attribute use_unbounded_threadpool" error. Same numbers, batch by batch."""
    if len(x) == 0:
        return np.zeros((0, *model.output_shape[1:]), np.float32)
    return np.concatenate([np.asarray(model.predict_on_batch(x[i:i + batch_size]))
                           for i in range(0, len(x), batch_size)])


def forecast_path(model, prep: Preprocessor, prices: np.ndarray, window: int, trained_h: int, h: int,
                  season: np.ndarray | None = None) -> np.ndarray:
    """``h`` future prices; beyond the trained horizon the forecast is fed back in (recursive).
    ``season``: the seasonal part at every row of ``prices`` and at least ``h`` rows after them."""
    prices = np.asarray(prices, dtype=np.float64)
    out: list[float] = []
    while len(out) < h:
        n = len(prices)
        z = prep.encode(prices)
        scaled_in = z if season is None else z - season[prep.offset:n]
        y = model(last_input(scaled_in, window), training=False).numpy()  # (1, trained_h)
        if season is not None:
            y = y + _tail(season, n, trained_h)
        step = prep.decode(prices[-1], y)[0]  # (trained_h,)
        out.extend(step.tolist())
        prices = np.concatenate([prices, step])
    return np.asarray(out[:h])


def _tail(season: np.ndarray, start: int, k: int) -> np.ndarray:
    """``season[start:start + k]``, padded with zeros past its end (steps beyond the asked horizon, which
    the last recursive step computes and drops)."""
    part = season[start:start + k]
    return np.concatenate([part, np.zeros(k - len(part), season.dtype)])
