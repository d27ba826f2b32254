"""Forecast from a bundle: the stored last window (or the end of a newer file) in, prices and dates out."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from forecast.bundle import Bundle
from forecast.data.calendar import future_dates
from forecast.data.load import load_prices
from forecast.errors import ForecastError


@dataclass
class Forecast:
    frame: pd.DataFrame  # date, forecast (+ interval columns when asked)
    origin_date: pd.Timestamp
    origin_price: float
    recursive: bool  # horizon beyond the trained one, served by feeding forecasts back
    history: pd.DataFrame  # date, price: what the forecast started from
    levels: tuple[float, ...] = ()  # interval levels present as lower/upper columns

    def to_json(self) -> dict:
        rows = [{k: (v.strftime("%Y-%m-%d %H:%M:%S").removesuffix(" 00:00:00") if isinstance(v, pd.Timestamp)
                     else float(v)) for k, v in row.items()} for row in self.frame.to_dict("records")]
        return {"origin_date": str(self.origin_date.date()), "origin_price": self.origin_price,
                "recursive": self.recursive, "levels": list(self.levels), "forecast": rows}


def context(bundle: Bundle, data_path: Path | None) -> pd.DataFrame:
    """The observations to forecast from: the bundle's last window, or the end of ``data_path``."""
    if data_path is None:
        return bundle.last_window
    cfg = bundle.config
    series = load_prices(data_path, bundle.data.get("target"), bundle.data.get("date_col"), cfg.data.max_fill)
    need = cfg.window.window + bundle.prep.offset
    if len(series) < need:
        raise ForecastError(f"{data_path}: has {len(series)} rows but this model needs the last {need} "
                            f"(--window {cfg.window.window}); pass a longer file")
    return pd.DataFrame({"date": series.dates, "price": series.values})


def predict(bundle: Bundle, horizon: int | None = None, data_path: Path | None = None,
            levels: Sequence[float] | None = ()) -> Forecast:
    """Point forecast plus interval columns for ``levels`` (see intervals.column_names).

    ``levels=None``: the default level if the bundle has a calibration, else none (bundles trained before
    intervals existed); explicit levels on such a bundle raise a clear error.
    """
    from forecast.evaluation import intervals as iv
    from forecast.models.lstm import forecast_path

    cal = iv.from_bundle(bundle)
    levels = iv.resolve_levels(levels, cal is not None, str(bundle.path))
    cfg = bundle.config
    h = horizon or cfg.window.horizon
    if h < 1:
        raise ForecastError(f"--horizon {h}: must be at least 1")
    hist = context(bundle, data_path)
    prices = hist["price"].to_numpy(np.float64)
    path = forecast_path(bundle.model, bundle.prep, prices, cfg.window.window, cfg.window.horizon, h)
    dates = pd.DatetimeIndex(hist["date"])
    freq = bundle.data.get("freq", "trading_days")
    frame = iv.add_bands(pd.DataFrame({"date": future_dates(dates, freq, h), "forecast": path}), cal, prices[-1],
                         levels)
    return Forecast(frame, dates[-1], float(prices[-1]), h > cfg.window.horizon, hist, levels)
