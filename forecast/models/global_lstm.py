"""One LSTM over many series and/or covariates: fit, forecast, train end to end, predict from its bundle.

All series are encoded separately (one ``Preprocessor`` and one ``FeatureScaler`` per series, fitted on that
series' training rows) and concatenated into one array ``Z`` (time, 1 + inputs), the target first. Window
origins are taken per series and shifted by the series' start in ``Z``, so no window or label crosses a
series boundary; ``windows.make_dataset`` gathers them batch by batch (memory proportional to the data).

The bundle is an ordinary bundle (model, config, first series' preprocessor, ...) plus ``series.json``:
ids, per-series preprocessors and feature scalers, the feature spec and each series' last window.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from forecast import bundle as bundle_io
from forecast.data import features as feat
from forecast.config import RunConfig
from forecast.errors import ForecastError, InputError
from forecast.executors import SEQUENTIAL
from forecast.data.panel import Panel, SeriesData, load_panel
from forecast.data.transforms import Preprocessor

SERIES_FILE = "series.json"


def recursion_refused(h: int, trained: int) -> ForecastError:
    return ForecastError(f"--horizon {h}: this model uses covariates, which are not known beyond the last "
                         f"window, so it cannot forecast past its trained horizon of {trained}; use --horizon "
                         f"{trained} or less, or retrain with a longer --horizon")


def forecast_series(model, prep: Preprocessor, prices: np.ndarray, last_input: np.ndarray | None, window: int,
                    trained_h: int, h: int) -> np.ndarray:
    """``h`` future prices of one series: direct from ``last_input`` (covariate models) or recursive."""
    from forecast.models.lstm import forecast_path

    if last_input is None:
        return forecast_path(model, prep, prices, window, trained_h, h)
    if h > trained_h:
        raise recursion_refused(h, trained_h)
    scaled = model(np.asarray(last_input, np.float32)[None], training=False).numpy()  # (1, trained_h)
    return prep.decode(float(prices[-1]), scaled)[0][:h]


class GlobalForecaster:
    """A stacked LSTM trained across series; series ``i`` keeps its own scalers."""

    name = "global_lstm"

    def __init__(self, cfg: RunConfig, features=(), verbose: int = 0):
        self.cfg, self.features, self.verbose = cfg, tuple(features), verbose
        self.model, self.preps, self.scalers, self.fit_result = None, [], [], None

    @property
    def horizon(self) -> int:
        return self.cfg.window.horizon

    def inputs(self, i: int, prices: np.ndarray, x_raw: np.ndarray) -> np.ndarray:
        """Series ``i`` encoded: (len(prices) - offset, 1 + inputs) float32, the scaled target first."""
        prep = self.preps[i]
        z = prep.encode(prices)[:, None]  # (time - offset, 1)
        return np.hstack([z, self.scalers[i].transform(x_raw)[prep.offset:]]).astype(np.float32)

    def prepare(self, series: list[SeriesData], n_vals: list[int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Fit the per-series scalers; return ``Z`` (total time, 1 + inputs) and its train and val origins."""
        from forecast.data.windows import Split

        w = self.cfg.window
        self.preps, self.scalers = [], []
        blocks, train_o, val_o, start = [], [], [], 0
        for i, (s, n_val) in enumerate(zip(series, n_vals)):
            n_train = len(s.prices) - n_val
            self.preps.append(Preprocessor(w.transform).fit(s.prices[:n_train]))  # training rows only
            self.scalers.append(feat.FeatureScaler(names=feat.input_names(self.features)).fit(s.features[:n_train]))
            z = self.inputs(i, s.prices, s.features)
            split = Split(n_train, n_val, 0, self.preps[i].offset, w.window, w.horizon)
            train_o.append(split.train_origins + start)
            val_o.append(split.val_origins + start)
            blocks.append(z)
            start += len(z)
        return np.concatenate(blocks), np.concatenate(train_o), np.concatenate(val_o)

    def fit(self, series: list[SeriesData], n_vals: list[int]) -> GlobalForecaster:
        """Fit on every series; the last ``n_vals[i]`` prices of series ``i`` only drive early stopping."""
        from forecast.models.distribute import global_batch_size, make_strategy
        from forecast.models.network import build_model
        from forecast.models.fitting import fit_model, set_seed
        from forecast.data.windows import make_dataset

        w, t = self.cfg.window, self.cfg.train
        big, train_o, val_o = self.prepare(series, n_vals)  # (total time, 1 + inputs)
        set_seed(t.seed)
        strategy = make_strategy(t.strategy)
        with strategy.scope():
            self.model = build_model(self.cfg, n_features=big.shape[1])
        batch = global_batch_size(t.batch_size, strategy)
        train_ds = make_dataset(big, train_o, w.window, w.horizon, batch, shuffle=True,
                                seed=t.seed, cache=False)  # lazy: batches gathered from ``big``
        val_ds = make_dataset(big, val_o, w.window, w.horizon, batch, cache=False)
        self.fit_result = fit_model(self.model, train_ds, val_ds, t, verbose=self.verbose)
        return self

    def last_input(self, i: int, s: SeriesData) -> np.ndarray | None:
        """The (window, 1 + inputs) input a covariate model forecasts from; None without covariates."""
        return self.inputs(i, s.prices, s.features)[-self.cfg.window.window:] if self.features else None

    def forecast(self, i: int, s: SeriesData, horizon: int | None = None) -> np.ndarray:
        h = horizon or self.horizon
        return forecast_series(self.model, self.preps[i], s.prices, self.last_input(i, s), self.cfg.window.window,
                               self.horizon, h)

    def predict_origins(self, i: int, s: SeriesData, price_origins: np.ndarray) -> np.ndarray:
        """Forecasts (n, horizon) in prices of series ``i`` made at each origin index of ``s.prices``."""
        from forecast.data.windows import window_arrays

        z = self.inputs(i, s.prices, s.features)
        pad = np.zeros((self.horizon, z.shape[1]), np.float32)
        x, _ = window_arrays(np.vstack([z, pad]), np.asarray(price_origins) - self.preps[i].offset,
                             self.cfg.window.window, self.horizon)
        scaled = self.model.predict(np.ascontiguousarray(x), verbose=0, batch_size=1024)  # (n, horizon)
        return self.preps[i].decode(s.prices[price_origins], scaled)


@dataclass
class _SeriesView:
    """Series ``i`` of a global model, with the interface pipeline.evaluate_test scores."""

    gm: GlobalForecaster
    i: int
    s: SeriesData

    @property
    def horizon(self) -> int:
        return self.gm.horizon

    @property
    def cfg(self) -> RunConfig:
        return self.gm.cfg

    def predict_origins(self, prices, price_origins):
        return self.gm.predict_origins(self.i, self.s, price_origins)


@dataclass
class PanelOutcome:
    bundle_dir: Path
    panel: Panel
    metrics: dict
    device: str


def pooled(per_series: dict[str, dict]) -> dict:
    """Across series: how many beat naive, mean skill and mean relative MAE (LSTM MAE / naive MAE)."""
    rel = [m["lstm"]["mae"] / m["naive"]["mae"] for m in per_series.values() if m["naive"]["mae"] > 0]
    return {"n_series": len(per_series), "n_beats_naive": sum(m["beats_naive"] for m in per_series.values()),
            "mean_skill_vs_naive": float(np.mean([m["skill_vs_naive"] for m in per_series.values()])),
            "mean_relative_mae": float(np.mean(rel)) if rel else float("nan")}


def _check_transform(panel: Panel, transform: str, source) -> None:
    for s in panel.series:
        try:
            Preprocessor(transform).transform(s.prices)
        except ForecastError as e:
            raise InputError(f"{source} [series {s.id}]: {e}") from None


def train_panel(data_path: Path, cfg: RunConfig, *, features=(), id_col: str | None = None,
                targets: str | None = None, per_series: bool = False, model_dir: Path | None = None,
                force: bool = False, verbose: int = 1, executor=SEQUENTIAL) -> PanelOutcome:
    """Load many series (or one with covariates), train one global LSTM (or one per series), save a bundle.

    ``executor`` (``executors.open_executor``) runs the per-series fits; the global model ignores it.
    """
    from forecast.workflows.train import calibrate_intervals, default_bundle_dir, evaluate_test
    from forecast.models.fitting import configure_device
    from forecast.data.windows import chronological_split, rows_needed

    bundle_dir = Path(model_dir) if model_dir else default_bundle_dir(data_path)
    bundle_io.remove_stale_temps(bundle_dir, older_than=time.time())
    bundle_io.check_writable(bundle_dir, force)
    started = time.perf_counter()
    w = cfg.window
    offset = Preprocessor(w.transform).offset
    need = rows_needed(w.window, w.horizon, w.val_frac, w.test_frac, offset)
    panel = load_panel(data_path, target=cfg.data.target, date_col=cfg.data.date_col, max_fill=cfg.data.max_fill,
                       features=features, id_col=id_col, targets=targets, min_rows=need)
    _check_transform(panel, w.transform, data_path)
    if per_series:
        from forecast.workflows.per_series import train_each

        return train_each(panel, data_path, cfg, bundle_dir, force, verbose, executor)
    device = configure_device(cfg.train.device)
    splits = [chronological_split(len(s.prices), w.window, w.horizon, w.val_frac, w.test_frac, offset)
              for s in panel.series]
    fitted = [_head(s, sp.n_train + sp.n_val) for s, sp in zip(panel.series, splits)]
    loaded = time.perf_counter()
    gm = GlobalForecaster(cfg, panel.features, verbose).fit(fitted, [sp.n_val for sp in splits])
    seconds = {"load": round(loaded - started, 2), "fit": round(time.perf_counter() - loaded, 2)}
    per, frames, cals = {}, [], []
    for i, (s, sp) in enumerate(zip(panel.series, splits)):
        view = _SeriesView(gm, i, s)
        m, frame = evaluate_test(view, s.prices, s.dates, sp.test_origins + offset, sp.n_train)
        cal, m["intervals"] = calibrate_intervals(view, s.prices, sp.val_origins + offset, frame)  # per series
        per[s.id] = m
        cals.append(cal.to_dict())
        frames.append(frame.assign(id=s.id)[["id", *frame.columns]])
    fit = gm.fit_result
    metrics = {"test": {"pooled": pooled(per), "series": per},
               "training": {**{k: v for k, v in fit.to_dict().items() if k != "history"}, "seconds": seconds},
               "skipped": panel.skipped}
    _save(bundle_dir, gm, panel, data_path, metrics, pd.concat(frames, ignore_index=True), cals, device, force)
    return PanelOutcome(bundle_dir, panel, metrics, device)


def _head(s: SeriesData, n: int) -> SeriesData:
    return replace(s, prices=s.prices[:n], dates=s.dates[:n], features=s.features[:n])


def _save(bundle_dir, gm: GlobalForecaster, panel: Panel, data_path, metrics, test_frame, cals, device,
          force) -> None:
    from forecast.data.read import fingerprint

    keep = gm.cfg.window.window + gm.preps[0].offset
    entries, last = [], []
    for i, s in enumerate(panel.series):
        li = gm.last_input(i, s)
        entries.append({"id": s.id, "freq": s.freq, "rows": len(s.prices), "first_date": str(s.dates[0]),
                        "last_date": str(s.dates[-1]), "preprocessor": gm.preps[i].to_dict(),
                        "feature_scaler": gm.scalers[i].to_dict(),
                        "last_input": None if li is None else li.tolist(), "intervals": cals[i]})
        last.append(pd.DataFrame({"id": s.id, "date": s.dates[-keep:], "price": s.prices[-keep:]}))
    spec = {"layout": panel.layout, "target": panel.target, "features": list(panel.features),
            "inputs": ["target", *feat.input_names(panel.features)], "ids": panel.ids, "skipped": panel.skipped,
            "series": entries}
    data = {**fingerprint(data_path), "layout": panel.layout, "target": panel.target, "date_col": panel.date_col,
            "n_series": len(panel.series), "freq": panel.series[0].freq}
    fit = gm.fit_result
    history = {"history": fit.history, "best_epoch": fit.best_epoch, "epochs_run": fit.epochs_run}
    bundle_io.save_bundle(bundle_dir, model=gm.model, config=gm.cfg, prep=gm.preps[0],
                          last_window=pd.concat(last, ignore_index=True), data=data, metrics=metrics,
                          history=history, test_predictions=test_frame, device=device, force=force,
                          extra_files={SERIES_FILE: spec}, interrupted=fit.interrupted)


@dataclass
class PanelForecast:
    frame: pd.DataFrame  # id, date, forecast (+ interval columns, see intervals.column_names)
    history: dict[str, pd.DataFrame]  # id -> date, price: what each forecast started from
    recursive: bool
    levels: tuple[float, ...] = ()


def pick_ids(known: list[str], wanted: str | None) -> list[str]:
    if wanted is None:
        return list(known)
    if wanted not in known:
        shown = ", ".join(known[:20]) + (f" (and {len(known) - 20} more)" if len(known) > 20 else "")
        raise ForecastError(f"--id {wanted!r}: no such series in this model; known ids: {shown}")
    return [wanted]


def predict_panel(bundle, horizon: int | None = None, series_id: str | None = None,
                  levels: Sequence[float] | None = ()) -> PanelForecast:
    """Forecasts of every series (or ``series_id``) of a global bundle: frame id, date, forecast, and the
    intervals of ``levels`` from each series' own calibration (``None``: the default level when calibrated).
    """
    from forecast.evaluation import intervals as iv
    from forecast.data.calendar import future_dates

    spec = bundle_io.read_extra(bundle, SERIES_FILE)
    cfg = bundle.config
    h = horizon or cfg.window.horizon
    if h < 1:
        raise ForecastError(f"--horizon {h}: must be at least 1")
    entries = {e["id"]: e for e in spec["series"]}
    ids = pick_ids(spec["ids"], series_id)
    levels = iv.resolve_levels(levels, all(entries[sid].get("intervals") for sid in ids), str(bundle.path),
                               missing=f"calibration in {SERIES_FILE}")
    frames, history = [], {}
    for sid in ids:
        e = entries[sid]
        hist = bundle.last_window[bundle.last_window["id"].astype(str) == sid][["date", "price"]]
        prices = hist["price"].to_numpy(np.float64)
        li = None if e["last_input"] is None else np.asarray(e["last_input"], np.float32)
        path = forecast_series(bundle.model, Preprocessor.from_dict(e["preprocessor"]), prices, li,
                               cfg.window.window, cfg.window.horizon, h)
        dates = future_dates(pd.DatetimeIndex(hist["date"]), e["freq"], h)
        cal = iv.ConformalCalibrator.from_dict(e["intervals"]) if levels else None
        frames.append(iv.add_bands(pd.DataFrame({"id": sid, "date": dates, "forecast": path}), cal, prices[-1], levels))
        history[sid] = hist.reset_index(drop=True)
    return PanelForecast(pd.concat(frames, ignore_index=True), history, h > cfg.window.horizon, levels)
