"""The network forecaster: one network over every series of a panel (a single series is a panel of one).

The network is the stacked LSTM by default, or another ``cfg.model.arch`` or an ensemble (models/network.py);
the name stays ``lstm`` for all of them. ``cfg.model.hybrid`` adds a statistical part per series, fitted on
its training rows: a seasonal profile (``season``; data/seasonal.py) taken out of the encoded target before
the windows and put back into every forecast along the calendar, or a statsforecast model (``ets``,
``arima``, ``theta``, ``mstl``; models/residual.py) whose forecast from each origin the network corrects.
``auto`` picks per series: a statistical model where one beats the naive forecast on the validation rows,
else the seasonal profile where an F test finds a season, else none.

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

import math
from typing import Sequence

import numpy as np

from forecast.config import WEIGHT_CONFIDENCE, RunConfig
from forecast.data import calendar as cal
from forecast.data import features as feat
from forecast.data.panel import Panel, Series
from forecast.data.seasonal import SeasonalProfile
from forecast.data.transforms import Preprocessor
from forecast.data.windows import Split, last_input, make_dataset, window_arrays
from forecast.errors import ForecastError
from forecast.models import residual
from forecast.models.baselines import prices_digest
from forecast.models.fitting import FitResult

MAX_SERIES_AUTO_STATISTICAL = 10  # more series: auto skips the statistical candidates (four fits per series)


def default_n_val(n: int, cfg: RunConfig) -> int:
    """Prices of a fit's end that drive early stopping only: ``val_frac`` of them, at least one horizon."""
    return max(int(round(n * cfg.window.val_frac)), cfg.window.horizon)


class LSTMForecaster:
    """Stacked LSTM with a direct multi-horizon head, trained across the series of a panel."""

    name = "lstm"
    panel_model = True  # fit(panel) / forecast(panel, h); the baselines are single-series (registry.PerSeries)

    def __init__(self, cfg: RunConfig, features: Sequence[str] = (), verbose: int = 0,
                 initial_weights: list | None = None, callbacks=(), choices: dict | None = None):
        self.cfg, self.features, self.verbose = cfg, tuple(features), verbose
        self.choices = choices  # its series' statistical parts, computed beforehand (``hybrid_parts``); None: in prepare
        self.initial_weights = initial_weights  # warm start from an earlier fit
        self.callbacks = tuple(callbacks)  # extra Keras callbacks for fit (e.g. tuning reports)
        self.model = None
        self.preps: dict[str, Preprocessor] = {}
        self.scalers: dict[str, feat.FeatureScaler] = {}
        self.seasons: dict[str, SeasonalProfile] = {}  # the hybrid's seasonal part, per series (data/seasonal.py)
        self.stats: dict[str, residual.StatisticalPart] = {}  # the residual hybrid's model, per series
        self._stat_cache: dict[tuple, tuple[np.ndarray, np.ndarray]] = {}
        self.weights: dict[str, float] = {}  # the network's weight against its anchor, per series (``shrink``)
        self.sessions: dict[str, dict | None] = {}  # a restored series' calendar session (calendar.stored_session)
        self.fit_result: FitResult | None = None
        self._networks, self._lent = None, None  # the fitted pair (network.build_networks), its key if lent

    @property
    def horizon(self) -> int:
        return self.cfg.window.horizon

    def encoded(self, s: Series) -> np.ndarray:
        """Series ``s`` encoded with its own fitted statistics: (len(s) - offset, 1 + inputs) float32; with a
        residual hybrid in the model, one more column: the statistical model's one-step errors (zeros for a
        series without one)."""
        if s.id not in self.preps:
            raise ForecastError(f"series {s.id!r} is not one this model was trained on "
                                f"(known: {', '.join(list(self.preps)[:20])})")
        prep = self.preps[s.id]
        z = prep.encode(s.values)[:, None]  # (time - offset, 1)
        off = self.season_offsets(s)
        if off is not None:
            z = z - off[prep.offset:, None]
        cols = [z, self.scalers[s.id].transform(s.features)[prep.offset:]]
        if self.stats:
            cols.append(self.stat_arrays(s.id, s.values)[0][:, None] if s.id in self.stats else np.zeros_like(z))
        return np.hstack(cols).astype(np.float32)

    def stat_arrays(self, sid: str, prices: np.ndarray, first: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """The residual hybrid's arrays of series ``sid`` with ``prices``, from price row ``first`` on: the
        statistical model's one-step errors (scaled z units) at each of those rows that has a z, and its forecast
        from each of them as an origin, as scaled z (len(prices) - first, horizon). Computed once per prices
        (a forward run per origin)."""
        key = (sid, first, prices_digest(prices))
        if key not in self._stat_cache:
            prep, part, h = self.preps[sid], self.stats[sid], self.horizon
            start = max(first - 1, 0)  # one origin earlier: the first row's one-step error
            origins = np.arange(start, len(prices))
            base = residual.encode_paths(prep, prices[origins], part.paths(prices, origins, h))  # (n, h)
            z = prep.encode(prices)
            rows = np.arange(max(first, prep.offset), len(prices))  # price rows whose z exists
            err = np.zeros(len(rows), np.float32)
            has_prev = rows - 1 >= start
            err[has_prev] = z[rows[has_prev] - prep.offset] - base[rows[has_prev] - 1 - start, 0]
            self._stat_cache = {key: (err, base[first - start:])}  # one series' arrays at a time
        return self._stat_cache[key]

    def season_offsets(self, s: Series, extra: int = 0) -> np.ndarray | None:
        """The seasonal part (scaled z units) at every row of ``s`` and ``extra`` steps after it; None: none."""
        sp = self.seasons.get(s.id)
        if sp is None or not sp.used:
            return None
        if extra:
            from forecast.data.calendar import future_dates

            after = future_dates(s.dates, s.freq, extra, session=self.sessions.get(s.id))
            return sp.offsets(s.dates.append(after))
        return sp.offsets(s.dates)

    def prepare(self, panel: Panel, n_val: Sequence[int]) -> tuple[np.ndarray, ...]:
        """Fit each series' statistics on its training rows; return ``Z`` (total time, 1 + inputs), the train
        and validation origins into it (every window and label inside one series), the statistical part's
        forecast from each row of ``Z`` as an origin (total time, horizon; zeros without a residual hybrid),
        subtracted from the labels, and each row's anchor in label units (total time, horizon): what the
        network's forecast is shrunk toward (``shrink``)."""
        w = self.cfg.window
        blocks, bases, anchors, train_o, val_o, start = [], [], [], [], [], 0
        choices = self.choices if self.choices is not None else \
            hybrid_parts(panel, n_val, w.horizon, self.cfg.model.hybrid)
        for s, nv in zip(panel, n_val):
            n_train = len(s) - nv
            self.preps[s.id] = Preprocessor(w.transform).fit(s.values[:n_train])  # training rows only
            self.scalers[s.id] = feat.FeatureScaler(names=feat.input_names(self.features)).fit(s.features[:n_train])
            self._fit_hybrid(s, n_train, choices.get(s.id, (None, "")))
        for s, nv in zip(panel, n_val):
            offset = self.preps[s.id].offset
            z = self.encoded(s)
            split = Split(len(s) - nv, nv, 0, offset, w.window, w.horizon)
            train_o.append(split.train_origins + start)
            val_o.append(split.val_origins + start)
            blocks.append(z)
            zeros = np.zeros((len(z), w.horizon), np.float32)
            bases.append(self.stat_arrays(s.id, s.values)[1][offset:] if s.id in self.stats else zeros)
            anchors.append(zeros if s.id in self.stats else self._naive_labels(s))
            start += len(z)
        return (np.concatenate(blocks), np.concatenate(train_o), np.concatenate(val_o), np.concatenate(bases),
                np.concatenate(anchors))

    def _naive_labels(self, s: Series) -> np.ndarray:
        """The naive forecast from each z row of ``s`` as an origin, in the network's label units (scaled z, less
        the seasonal profile where one is used): (len(s) - offset, horizon)."""
        prep, h = self.preps[s.id], self.horizon
        origins = np.arange(prep.offset, len(s))
        labels = naive_z(prep, s.values[origins], h)
        off = self.season_offsets(s, h)
        return labels if off is None else labels - off[origins[:, None] + np.arange(1, h + 1)]

    def _fit_hybrid(self, s: Series, n_train: int, choice: tuple) -> None:
        """The hybrid part of series ``s`` from its first ``n_train`` prices; ``choice``: its (statistical model or
        None, why) from ``hybrid_parts``; without one, the seasonal profile unless ``--hybrid none``. See the
        module doc."""
        mode, prep = self.cfg.model.hybrid, self.preps[s.id]
        part, why = choice
        if part is not None:
            self.stats[s.id] = part
        elif mode != "none":
            sp = SeasonalProfile(s.freq).fit(prep.encode(s.values[:n_train]), s.dates[prep.offset:n_train], mode)
            sp.why = "; ".join(filter(None, [why, sp.why]))
            self.seasons[s.id] = sp

    def fit(self, panel: Panel, n_val: Sequence[int] | None = None) -> LSTMForecaster:
        """Fit on every series of ``panel``; the last ``n_val[i]`` prices of series ``i`` only drive early stopping."""
        from forecast.models.distribute import global_batch_size, make_strategy
        from forecast.models.fitting import fit_model, set_seed
        from forecast.models.network import build_model, build_networks, lend_networks

        w, t = self.cfg.window, self.cfg.train
        n_val = [default_n_val(len(s), self.cfg) for s in panel] if n_val is None else list(n_val)
        big, train_o, val_o, base, anchors = self.prepare(panel, n_val)  # (time, 1 + inputs), (time, h) x 2
        set_seed(t.seed)
        strategy = make_strategy(t.strategy)
        with strategy.scope():  # variables and optimizer state live on every replica
            if t.strategy == "none":  # a network an earlier fit gave back, where one has this graph (``release``)
                networks, self._lent = lend_networks(self.cfg, n_features=big.shape[1])
            else:
                networks = build_networks(self.cfg, n_features=big.shape[1])
            fit_net, self.model = networks  # the same unless an ensemble
            if self.initial_weights is not None:
                self.model.set_weights(self.initial_weights)
        batch = global_batch_size(t.batch_size, strategy)
        base = base if self.stats else None  # labels are the statistical forecasts' errors where there are any
        train_ds = make_dataset(big, train_o, w.window, w.horizon, batch, shuffle=True, seed=t.seed, base=base)  # lazy
        val_ds = make_dataset(big, val_o, w.window, w.horizon, batch, base=base)
        self.fit_result = fit_model(fit_net, train_ds, val_ds, t, verbose=self.verbose,
                                    extra_callbacks=self.callbacks)
        if t.strategy != "none":  # serve and save a single-device copy (Keras' predict misbehaves under Mirrored)
            trained, self.model = self.model, build_model(self.cfg, n_features=big.shape[1])
            self.model.set_weights(trained.get_weights())
        self._networks = networks
        if self.cfg.model.shrink:
            self.weights = dict.fromkeys(self.preps, self._fit_weight(big, val_o, base, anchors))
        return self

    def release(self) -> None:
        """Give the fitted network back for the next fit of the same graph in this process (network.lend_networks:
        its traced steps are reused). For callers that are done with this forecaster: it cannot forecast after."""
        from forecast.models.network import give_back

        if self._lent is not None and self._networks is not None:
            give_back(self._lent, self._networks)
        self.model = self._networks = self._lent = None

    def _fit_weight(self, big: np.ndarray, val_o: np.ndarray, base: np.ndarray | None, anchors: np.ndarray) -> float:
        """The weight ``a`` in [0, 1] of the network's forecast against its anchor, ``anchor + a * (network -
        anchor)``: the one-sided 95% lower confidence bound of the least-squares weight on the validation windows
        (``confirmed_weight``). The network keeps only the weight the validation windows show it has earned; on a
        short validation part or a random walk that is often 0."""
        w = self.cfg.window
        x, y = window_arrays(big, val_o, w.window, w.horizon, base)  # (n, window, inputs), (n, horizon)
        a = anchors[val_o]
        d = predict_batches(self.model, np.ascontiguousarray(x)).astype(np.float64) - a
        return confirmed_weight(y - a, d, block_starts(val_o, w.horizon))[1]

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
        base = self.stat_arrays(s.id, s.values)[1][np.asarray(price_origins)] if s.id in self.stats else None
        if base is not None:  # the statistical forecast from each origin goes back in
            scaled = scaled + base
        return self._decode(s.id, s.values[price_origins], scaled, base)

    def _decode(self, sid: str, origin_prices: np.ndarray, scaled: np.ndarray, base: np.ndarray | None) -> np.ndarray:
        """Prices (n, horizon) from the forecasts ``scaled`` (scaled z, the hybrid's part put back) at origins of
        ``origin_prices`` (n,), shrunk toward the anchor (``base``, the statistical forecast, else the naive
        forecast) by the series' fitted weight."""
        prep, weight = self.preps[sid], self.weights.get(sid, 1.0)
        if weight == 0.0 and base is None:  # the naive forecast itself, not its encoding decoded (1e-10 off)
            return np.repeat(np.asarray(origin_prices, np.float64)[:, None], scaled.shape[1], axis=1)
        if weight != 1.0:
            anchor = base if base is not None else naive_z(prep, origin_prices, scaled.shape[1])
            scaled = anchor + weight * (scaled - anchor)
        return prep.decode(origin_prices, scaled)

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
                scaled = run_network(self.model, x)
                if off is not None:
                    scaled = scaled + off[len(s):len(s) + self.horizon]
                base = self.stat_arrays(s.id, s.values, len(s) - 1)[1] if s.id in self.stats else None
                if base is not None:
                    scaled = scaled + base
                out[s.id] = self._decode(s.id, s.values[-1:], scaled, base)[0][:h]
            else:
                out[s.id] = self._path(s, h, off)
        return out

    def _path(self, s: Series, h: int, season: np.ndarray | None) -> np.ndarray:
        """``h`` prices after the end of ``s`` without covariates; beyond the trained horizon the forecast is fed
        back in (recursive), the hybrid's part continuing over the extended prices. ``season``: the seasonal
        part at every row of ``s`` and at least ``h`` rows after them."""
        prep, w = self.preps[s.id], self.cfg.window.window
        prices, out = np.asarray(s.values, np.float64), []
        while len(out) < h:
            n = len(prices)
            cols, base = [prep.encode(prices[n - w - prep.offset:])], None  # (window,): the last input's rows
            if season is not None:
                cols[0] = cols[0] - season[n - w:n]
            if self.stats:  # the statistical part's one-step errors (zeros for a series without one)
                err, base = (self.stat_arrays(s.id, prices, n - w) if s.id in self.stats
                             else (np.zeros(w, np.float32), None))  # (window,), (window, horizon)
                cols.append(err)
            scaled = run_network(self.model, last_input(np.column_stack(cols), w))  # (1, horizon)
            if season is not None:
                scaled = scaled + _tail(season, n, self.horizon)
            if base is not None:  # the statistical forecast from the last price
                base = base[-1:]
                scaled = scaled + base
            step = self._decode(s.id, prices[-1:], scaled, base)[0]  # (horizon,)
            out.extend(step.tolist())
            prices = np.concatenate([prices, step])
        return np.asarray(out[:h])

    def state(self) -> dict:
        """Everything but the network, JSON-ready per series (the bundle and the executors carry it)."""
        return {sid: {"preprocessor": self.preps[sid].to_dict(), "feature_scaler": self.scalers[sid].to_dict(),
                      **({"season": self.seasons[sid].to_dict()} if sid in self.seasons else {}),
                      **({"statistical": self.stats[sid].to_dict()} if sid in self.stats else {}),
                      **({"network_weight": self.weights[sid]} if sid in self.weights else {})}
                for sid in self.preps}

    def context_rows(self, sid: str) -> int:
        """The most recent prices a forecast of series ``sid`` reads (``context_rows`` of this module)."""
        return context_rows(self.cfg, self.preps[sid].offset, self.stats.get(sid))

    def remember_context(self, s: Series) -> None:
        """Let series ``s``'s statistical part keep its forecasts from the origins a forecast after the end of
        ``s`` reads (``context_origins``): ``forecast predict`` from the bundle then needs no statistical fit."""
        if s.id in self.stats:
            self.stats[s.id].remember(*context_origins(s.values, self.cfg, self.preps[s.id].offset, self.stats[s.id]),
                                      self.horizon)

    def hybrid_summary(self, sid: str) -> dict | None:
        """What the hybrid does for series ``sid`` (the train summary and metrics.json): None without a hybrid."""
        if sid in self.stats:
            return {"used": True, "part": self.stats[sid].name, "why": self.stats[sid].why}
        if sid in self.seasons:
            return {"used": self.seasons[sid].used, "part": "season" if self.seasons[sid].used else "none",
                    "why": self.seasons[sid].why}
        return None

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
            if "statistical" in st:
                fc.stats[sid] = residual.StatisticalPart.from_dict(st["statistical"])
            if "network_weight" in st:
                fc.weights[sid] = float(st["network_weight"])
            fc.sessions[sid] = cal.stored_session(st)  # the forecast dates of its seasonal part, as predict's
        return fc


def context_rows(cfg: RunConfig, offset: int, part: residual.StatisticalPart | None = None) -> int:
    """The most recent prices a forecast of a series reads, which a bundle stores: the input window (and ``offset``
    rows before it, for a return), the changes its bands' volatility scale averages (evaluation/intervals.py), or
    the run of prices its statistical ``part`` is run over (FIT_TAIL) from each origin of the last input window
    (``context_origins``), the first of which lies ``window`` rows before the end."""
    from forecast.evaluation.intervals import VOLATILITY_ROWS
    from forecast.models.baselines import FIT_TAIL

    rows = max(cfg.window.window + offset, VOLATILITY_ROWS + 1)
    return max(rows, FIT_TAIL[part.name] + cfg.window.window) if part is not None else rows


def context_origins(values: np.ndarray, cfg: RunConfig, offset: int,
                    part: residual.StatisticalPart) -> tuple[np.ndarray, np.ndarray]:
    """(the prices a bundle stores of a series of ``values``, the origins among them that a forecast after the
    series' end reads its statistical ``part``'s forecasts from: the last input window and the row before it)."""
    prices = np.asarray(values, np.float64)[-context_rows(cfg, offset, part):]
    return prices, np.arange(max(len(prices) - cfg.window.window - 1, 0), len(prices))


def parts_beforehand(cfg: RunConfig) -> bool:
    """Whether the fits of ``cfg`` can be handed their statistical parts computed beforehand (``hybrid_parts`` of
    each network's series, ``network_panels``, passed as ``choices``): a statistical hybrid (auto's choice or a
    named model)."""
    return cfg.model.hybrid in ("auto", *residual.STAT_HYBRIDS)


def network_panels(panel: Panel, cfg: RunConfig) -> list[Panel]:
    """The series each network of ``cfg`` is fitted on: the whole panel for one global network, each series alone
    (a panel of one, whose ``hybrid_parts`` are its own) for a network per series."""
    return [panel] if cfg.model.fit == "global" else panel.apart()


def hybrid_parts(panel: Panel, n_val: Sequence[int], horizon: int, mode: str) -> dict[str, tuple]:
    """The statistical part of each series under ``--hybrid mode``, ``id -> (StatisticalPart or None, why)``, with
    its forecasts from every origin of the series: ``auto_choices`` for auto; for a named model, that model fitted on
    each series' training rows (the rows before its last ``n_val``); none otherwise. Needs no TensorFlow, so
    train computes it in its forked process while TensorFlow loads."""
    from forecast.models.baselines import seasons_of

    if mode == "auto":
        return auto_choices(panel, n_val, horizon)
    if mode not in residual.STAT_HYBRIDS:
        return {}
    parts = {}
    for s, nv in zip(panel, n_val):
        part = residual.StatisticalPart(mode, seasons_of(s), "as asked").fit(s.values[:len(s) - nv])
        part.paths(s.values, np.arange(len(s)), horizon)  # kept in part.computed
        parts[s.id] = (part, "as asked")
    return parts


def handed_over(choices: dict[str, tuple]) -> dict[str, tuple]:
    """``hybrid_parts``' choices as another process gets them: each part with the forecasts it has computed but not
    its statsforecast model (``StatisticalPart.without_model``), so that process need not import statsforecast."""
    return {sid: (part and part.without_model(), why) for sid, (part, why) in choices.items()}


def auto_choices(panel: Panel, n_val: Sequence[int], horizon: int) -> dict[str, tuple]:
    """``--hybrid auto``'s statistical model of each series, ``id -> (StatisticalPart or None, why)``
    (residual.choose on its training rows and the fit's validation rows after them); none beyond
    MAX_SERIES_AUTO_STATISTICAL series. Each model chosen comes with its forecasts from every origin of the
    series, which the fit's windows read (``stat_arrays``). Needs no TensorFlow: train runs it in a process forked
    before it loads, so those forecasts (14 s of a 33 s train on weekly CO2 with MSTL) are computed meanwhile."""
    from forecast.data.seasonal import season_shown
    from forecast.models.baselines import seasons_of

    if len(panel) > MAX_SERIES_AUTO_STATISTICAL:
        return {}
    choices = {}
    for s, nv in zip(panel, n_val):
        n = len(s) - nv  # the training rows
        part, why = residual.choose(s.values[:n], s.values[n:], seasons_of(s), horizon,
                                    season_shown=season_shown(s.values[:n], s.dates[:n], s.freq))
        if part is not None:
            part.paths(s.values, np.arange(len(s)), horizon)  # kept in part.computed
        choices[s.id] = (part, why)
    return choices


def block_starts(origins: np.ndarray, size: int) -> np.ndarray:
    """Positions in ``origins`` where blocks of ``size`` consecutive windows start, restarting at every gap
    in ``origins`` (where one series of a panel ends and the next begins), so no block spans two series."""
    origins = np.asarray(origins)
    bounds = np.r_[0, np.flatnonzero(np.diff(origins) != 1) + 1, len(origins)]
    return np.concatenate([np.arange(a, b, size) for a, b in zip(bounds[:-1], bounds[1:])]).astype(np.intp)


def confirmed_weight(r: np.ndarray, d: np.ndarray, starts: np.ndarray,
                     confidence: float = WEIGHT_CONFIDENCE) -> tuple[float, float]:
    """(least-squares weight, its one-sided lower confidence bound clipped to [0, 1]) of the model ``r ~ a * d``
    over windows (rows) and steps: ``r`` what the anchor left, ``d`` the network's forecast less the anchor.

    Consecutive windows share all but one label, so the windows' scores ``sum_k e_ik d_ik`` (``e``: the fit's
    residual) are summed in blocks starting at ``starts`` (``block_starts``) and the blocks are taken as
    independent: the cluster-robust standard error with the G / (G - 1) correction and Student's t with
    G - 1 degrees of freedom for G blocks, the critical value that holds with few clusters (Bester, Conley and
    Hansen 2011, J. Econometrics 165). With one block the block sum is 0 by construction (least squares makes
    the scores sum to 0), so nothing is confirmed: the bound is 0. With many blocks t is close to the normal
    quantile (1.666 against 1.645 for 75 blocks, a daily series' validation part)."""
    from scipy.special import stdtrit

    den = float(np.sum(d * d))
    if den <= 0:
        return 1.0, 1.0  # the network is its anchor: the weight changes nothing
    weight = float(np.sum(r * d)) / den
    sums = np.add.reduceat(np.sum((r - weight * d) * d, axis=1), starts)
    g = len(sums)
    if g < 2:
        return weight, 0.0
    se = math.sqrt(g / (g - 1) * float(np.sum(sums ** 2))) / den
    return weight, float(np.clip(weight - float(stdtrit(g - 1, confidence)) * se, 0.0, 1.0))


def input_width(features: Sequence[str], state: dict) -> int:
    """The network's input channels for ``features`` and a forecaster's ``state()``: the target, the covariates,
    and the statistical part's one-step errors where any series has a residual hybrid."""
    return 1 + len(feat.input_names(features)) + any("statistical" in st for st in state.values())


def run_network(model, x: np.ndarray) -> np.ndarray:
    """One batch through the network: a Keras model (eager call) or a models/numpy_net.NumpyNetwork."""
    out = model(x, training=False)
    return out if isinstance(out, np.ndarray) else out.numpy()


def predict_batches(model, x: np.ndarray, batch_size: int = 1024) -> np.ndarray:
    """``model.predict(x)`` without its tf.data pipeline, whose map op makes TF 2.21 log a spurious
    "NodeDef mentions attribute use_unbounded_threadpool" error. Same numbers, batch by batch."""
    if len(x) == 0:
        return np.zeros((0, *model.output_shape[1:]), np.float32)
    return np.concatenate([np.asarray(model.predict_on_batch(x[i:i + batch_size]))
                           for i in range(0, len(x), batch_size)])


def naive_z(prep: Preprocessor, origin_prices: np.ndarray, h: int) -> np.ndarray:
    """The naive forecast (the origin's price, repeated) from each of ``origin_prices`` as scaled z, (n, h)."""
    p = np.asarray(origin_prices, np.float64)
    return residual.encode_paths(prep, p, np.repeat(p[:, None], h, axis=1))


def _tail(season: np.ndarray, start: int, k: int) -> np.ndarray:
    """``season[start:start + k]``, padded with zeros past its end (steps beyond the asked horizon, which
    the last recursive step computes and drops)."""
    part = season[start:start + k]
    return np.concatenate([part, np.zeros(k - len(part), season.dtype)])
