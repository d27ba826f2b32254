"""Forecast from a bundle, for every series it holds (or one): each series continues from its stored last
window, or from the end of its own rows in a newer file, in prices, dated on its own calendar, with the
intervals of its own calibration."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from forecast.bundle import Bundle
from forecast.data import features as feat
from forecast.data.calendar import future_dates, stamp_text, stamps_text, stored_session
from forecast.data.panel import Panel, Series, load_configured
from forecast.data.transforms import Preprocessor
from forecast.errors import ForecastError, InputError


@dataclass
class Forecast:
    frame: pd.DataFrame  # id, date, forecast (+ interval columns, see intervals.column_names)
    history: dict[str, pd.DataFrame]  # id -> date, price: what each forecast started from
    recursive: bool  # horizon beyond the trained one, served by feeding forecasts back
    levels: tuple[float, ...] = ()  # interval levels present as lower/upper columns
    single: bool = True  # the bundle holds one series: outputs may omit the id column

    @property
    def ids(self) -> list[str]:
        return list(self.history)

    def of(self, sid: str) -> pd.DataFrame:
        """Series ``sid``'s rows: date, forecast, bounds."""
        return self.frame[self.frame["id"] == sid].drop(columns="id").reset_index(drop=True)

    def table(self) -> pd.DataFrame:
        """The frame as written (CSV) and printed (JSON): without the id column for a single-series bundle."""
        return self.frame.drop(columns="id") if self.single else self.frame

    def records(self) -> list[dict]:
        """One record per forecast step (the ``--json`` shape)."""
        frame = self.table()
        frame = frame.assign(date=stamps_text(frame["date"]))  # one format for all (no bare midnight of an hour)
        return [{k: v if isinstance(v, str) else float(v) for k, v in row.items()} for row in frame.to_dict("records")]


def pick_ids(known: list[str], wanted: str | None, skipped: dict[str, str] | None = None) -> list[str]:
    """The series to forecast: every one, or ``--id``'s, which must be one the model holds (``skipped``: the
    series training left out, id -> why, which the error then says)."""
    if wanted is None:
        return list(known)
    if wanted in (skipped or {}):
        raise ForecastError(f"--id {wanted!r}: this series was skipped when the model was trained ({skipped[wanted]}), "
                            "so the model has no network for it")
    if wanted not in known:
        if len(known) == 1:
            raise ForecastError(f"--id {wanted!r}: this model holds a single series ({known[0]}); drop --id")
        shown = ", ".join(known[:20]) + (f" (and {len(known) - 20} more)" if len(known) > 20 else "")
        raise ForecastError(f"--id {wanted!r}: no such series in this model; known ids: {shown}")
    return [wanted]


def stored_context(bundle: Bundle) -> Panel:
    """The panel of the bundle's last windows (prices and raw covariates of each series' last rows)."""
    names = feat.input_names(bundle.series["features"])
    lw, series = bundle.last_window, []
    for e in bundle.series["series"]:
        rows = lw[lw["id"].astype(str) == e["id"]]
        x = rows[names].to_numpy(np.float64) if names else np.zeros((len(rows), 0))
        series.append(Series(e["id"], rows["price"].to_numpy(np.float64), pd.DatetimeIndex(rows["date"]), x, e["freq"]))
    return Panel(tuple(series), bundle.series["layout"], bundle.series["target"], bundle.data.get("date_col", "date"),
                 tuple(bundle.series["features"]))


TRAINING_OPTIONS = ("--target", "--date-col", "--id-col", "--targets", "--features")  # what predict has not


def newer_context(bundle: Bundle, data_path: Path, ids: Sequence[str] | None = None) -> Panel:
    """The panel of ``data_path`` read as the bundle's training file was; refuse one that is older, of another
    frequency, or too short to forecast from, or that lacks one of ``ids`` (default: every series of the bundle)."""
    d, w = bundle.config.data, bundle.config.window
    if d.targets is None:  # read the columns the training file's were found to be
        d = replace(d, target=bundle.data.get("target"), date_col=bundle.data.get("date_col"))
    else:  # a wide file: the columns of the series trained ('--targets all' would take any numeric column)
        d = replace(d, targets=",".join(bundle.ids), date_col=bundle.data.get("date_col"))
    try:
        panel = load_configured(data_path, d)
    except InputError as e:  # a fix naming a training option: predict reads the columns the model was trained on
        if not any(option in str(e) for option in TRAINING_OPTIONS):
            raise
        prices = (f"prices in '{bundle.data.get('target')}'" if d.targets is None else
                  f"each series' prices in its own column ({', '.join(bundle.ids[:5])}"
                  f"{' ...' if len(bundle.ids) > 5 else ''})")
        columns = [f"dates in '{bundle.data.get('date_col')}'", prices,
                   *([f"series ids in '{d.id_col}'"] if d.id_col else []),
                   *([f"covariates {', '.join(d.features)}"] if d.features else [])]
        found = str(e).rsplit("; ", 1)[0].replace("--targets column", "column")  # predict has no --targets
        raise InputError(f"{found}; the model reads {', '.join(columns)} "
                         "(as in its training file): pass a file with those columns") from None
    need = w.window + Preprocessor(w.transform).offset
    entries = bundle.entries
    for s in panel:
        e = entries.get(s.id)
        if e is None:
            continue
        where = f"{data_path}" + ("" if bundle.single else f" [series {s.id}]")
        if len(s) < need:
            raise ForecastError(f"{where}: has {len(s)} rows but this model needs the last {need} "
                                f"(--window {w.window}); pass a longer file")
        if s.dates[-1] < pd.Timestamp(e["last_date"]):
            raise ForecastError(f"{where}: ends on {stamp_text(s.dates[-1])}, before the model's data (to "
                                f"{stamp_text(pd.Timestamp(e['last_date']))}); pass a file at least as new as the one "
                                "it was trained on")
        if s.freq != e["freq"] and "other" not in (s.freq, e["freq"]):
            raise ForecastError(f"{where}: its dates are {s.freq.replace('_', ' ')}, but the model was trained on "
                                f"{e['freq'].replace('_', ' ')} data; pass a file of the same frequency")
    if bundle.single and len(panel) == 1:  # one series: its id in the file may be named differently
        panel = panel.map(lambda s: replace(s, id=bundle.ids[0]))
    unknown = [sid for sid in panel.ids if sid not in entries]
    if unknown:
        import warnings

        from forecast.data.panel import SkippedSeriesWarning

        skipped = bundle.metrics.get("skipped") or {}
        why = [f"{sid} (skipped when the model was trained)" if sid in skipped else sid for sid in unknown[:5]]
        warnings.warn(SkippedSeriesWarning(
            f"{data_path}: not forecast: {len(unknown)} series the model has no network for: {', '.join(why)}"
            f"{' ...' if len(unknown) > 5 else ''}; train on this file to forecast them"), stacklevel=2)
    missing = [sid for sid in (ids or bundle.ids) if sid not in panel.ids]
    if missing:
        raise ForecastError(f"{data_path}: has no rows for series {', '.join(missing[:5])} of the model; "
                            "pass a file with every series, or --id for one of those it has")
    return panel


def forecasters(bundle: Bundle) -> dict[str, object]:
    """Network file -> fitted LSTMForecaster for the series that network serves."""
    from forecast.models.lstm import LSTMForecaster

    out = {}
    for name, model in bundle.networks.items():
        state = {e["id"]: e for e in bundle.series["series"] if e["network"] == name}
        out[name] = LSTMForecaster.restore(bundle.config, bundle.series["features"], model, state)
    return out


def predict(bundle: Bundle, horizon: int | None = None, data_path: Path | None = None, series_id: str | None = None,
            levels: Sequence[float] | None = ()) -> Forecast:
    """Forecasts of every series (or ``series_id``), with interval columns for ``levels`` from each series' own
    calibration (``None``: the default level; ``()``: none)."""
    from forecast.evaluation import intervals as iv

    h = horizon or bundle.config.window.horizon
    if h < 1:
        raise ForecastError(f"--horizon {h}: must be at least 1")
    levels = iv.resolve_levels(levels)
    ids = pick_ids(bundle.ids, series_id, bundle.metrics.get("skipped"))
    context = newer_context(bundle, data_path, ids) if data_path is not None else stored_context(bundle)
    models, entries = forecasters(bundle), bundle.entries
    frames, history = [], {}
    for sid in ids:
        s, e = context[sid], entries[sid]
        path = models[e["network"]].forecast(Panel((s,), features=context.features), h)[sid]
        cal = iv.ConformalCalibrator.from_dict(e["intervals"]) if levels else None
        dates = future_dates(s.dates, e["freq"], h, session=stored_session(e))
        frame = pd.DataFrame({"id": sid, "date": dates, "forecast": path})
        frames.append(iv.add_bands(frame, cal, s.values, levels))
        history[sid] = pd.DataFrame({"date": s.dates, "price": s.values})
    return Forecast(pd.concat(frames, ignore_index=True), history, h > bundle.config.window.horizon, levels,
                    bundle.single)

