"""What the CLI shows and writes for many series: summary tables, forecast CSV, one PNG per series and a grid."""

from __future__ import annotations

import contextlib
import math
import warnings
from pathlib import Path
from typing import Iterator

import pandas as pd
from matplotlib.figure import Figure
from rich.table import Table

from forecast.output.console import err, out
from forecast.executors import SEQUENTIAL
from forecast.models.global_lstm import SERIES_FILE, PanelForecast, predict_panel
from forecast.data.panel import SkippedSeriesWarning
from forecast.workflows.per_series import is_set, predict_each, slug


@contextlib.contextmanager
def skipped_series_on_stderr() -> Iterator[None]:
    """Skipped-series warnings become one ``warning:`` line each on stderr; other warnings pass through."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", SkippedSeriesWarning)
        yield
    for w in caught:
        if issubclass(w.category, SkippedSeriesWarning):
            err.print(f"warning: {w.message}", markup=False, highlight=False)
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)


def is_panel(path: Path) -> bool:
    """Is ``path`` a global (series.json) or per-series bundle?"""
    return (Path(path) / SERIES_FILE).is_file() or is_set(path)


def predict_any(path: Path, horizon: int | None, series_id: str | None, levels=None) -> PanelForecast:
    """Forecasts of a multi-series bundle (global or per-series); ``levels=None``: the default interval."""
    from forecast.bundle import load_bundle

    if is_set(path):
        return predict_each(path, horizon, series_id, levels)
    return predict_panel(load_bundle(path), horizon, series_id, levels)


def print_train_summary(outcome) -> None:
    """Per-series test MAE of the LSTM and naive, then the pooled verdict."""
    test = outcome.metrics["test"]
    table = Table(title=f"Test part per series ({outcome.panel.layout} format), price units")
    for col in ("series", "LSTM MAE", "naive MAE", "skill"):
        table.add_column(col, justify="left" if col == "series" else "right")
    for sid, m in test["series"].items():
        table.add_row(sid, f"{m['lstm']['mae']:,.4g}", f"{m['naive']['mae']:,.4g}", f"{m['skill_vs_naive']:+.1%}")
    out.print(table)
    p = test["pooled"]
    out.print(f"the LSTM beats the naive forecast on {p['n_beats_naive']} of {p['n_series']} series; mean "
              f"relative MAE {p['mean_relative_mae']:.3f} (below 1 beats naive); device {outcome.device}")
    if outcome.panel.skipped:
        out.print(f"[yellow]skipped: {', '.join(outcome.panel.skipped)}[/yellow]")


def print_forecast(fc: PanelForecast) -> None:
    table = Table(title="Forecast" + (" (recursive beyond the trained horizon)" if fc.recursive else ""))
    values = [c for c in fc.frame.columns if c not in ("id", "date")]  # forecast, then interval bounds
    for col in ("id", "date", *values):
        table.add_column(col, justify="left" if col in ("id", "date") else "right")
    for d in fc.frame.to_dict("records"):
        table.add_row(str(d["id"]), str(d["date"].date()), *(f"{d[c]:,.2f}" for c in values))
    out.print(table)


def grid_figure(fc: PanelForecast, cols: int = 4) -> Figure:
    """Small multiples: each series' recent history and forecast."""
    ids = list(fc.history)
    rows = math.ceil(len(ids) / cols)
    fig = Figure(figsize=(3.2 * min(cols, len(ids)), 2.4 * rows), layout="constrained")
    for k, sid in enumerate(ids):
        ax = fig.add_subplot(rows, min(cols, len(ids)), k + 1)
        h, f = fc.history[sid], fc.frame[fc.frame["id"] == sid]
        ax.plot(h["date"], h["price"], color="black", lw=1)
        ax.plot(pd.concat([h["date"].tail(1), f["date"]]), [h["price"].iloc[-1], *f["forecast"]], color="tab:blue")
        ax.set_title(str(sid), fontsize="small")
        ax.tick_params(labelsize="x-small", labelrotation=30)
    return fig


def write_plots(fc: PanelForecast, out_dir: Path) -> list[Path]:
    """forecast_<id>.png for every series and forecast_grid.png, saved in ``out_dir``."""
    from forecast.io import save_figure
    from forecast.output.plots import forecast_figure

    paths = []
    for sid, hist in fc.history.items():
        frame = fc.frame[fc.frame["id"] == sid].drop(columns="id")
        figure = forecast_figure(hist, frame, title=f"{sid}: forecast ({len(frame)} steps)",
                                 plain_level=fc.levels[0] if len(fc.levels) == 1 else None)
        paths.append(save_figure(figure, Path(out_dir) / f"forecast_{slug(sid)}.png"))
    paths.append(save_figure(grid_figure(fc), Path(out_dir) / "forecast_grid.png"))
    return paths


def write_bundle_plots(path: Path, out_dir: Path) -> list[Path]:
    """``forecast plot`` for a multi-series bundle: each series' forecast and the grid."""
    return write_plots(predict_any(path, None, None), out_dir)


def train_and_report(data: Path, cfg, *, features: str | None, id_col: str | None, targets: str | None,
                     per_series: bool, model_dir: Path | None, force: bool, verbose: int, plots: Path | None,
                     executor=SEQUENTIAL) -> None:
    """``forecast train`` for many series and/or covariates: train, print the summary, write the PNGs."""
    from forecast.errors import ForecastError
    from forecast.data.features import parse_features
    from forecast.models.global_lstm import train_panel

    if per_series and not (id_col or targets):
        raise ForecastError("--per-series needs several series: add --id-col COLUMN or --targets A,B")
    with skipped_series_on_stderr():
        result = train_panel(data, cfg, features=parse_features(features), id_col=id_col, targets=targets,
                             per_series=per_series, model_dir=model_dir, force=force, verbose=verbose,
                             executor=executor)
    print_train_summary(result)
    written = write_plots(predict_any(result.bundle_dir, None, None), plots or result.bundle_dir)
    out.print(f"bundle: {result.bundle_dir}\nplots: {len(written)} PNG files in {written[-1].parent}",
              markup=False, highlight=False)

