"""Functions that return matplotlib figures; they never show or save (the caller saves)."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

HISTORY_POINTS = 250


def _style(ax, title: str, ylabel: str) -> None:
    ax.set_title(title)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    ax.legend(loc="best", fontsize="small")


def _interval_levels(columns) -> list[str]:
    """Interval levels present as lower_XX/upper_XX (or lower/upper) columns, widest first."""
    levels = sorted({m.group(1) for c in columns if (m := re.fullmatch(r"lower_(\d+(?:\.\d+)?)", c))},
                    key=float, reverse=True)
    return levels or (["" ] if "lower" in columns and "upper" in columns else [])


def _band_label(suffix: str, plain_level: float | None) -> str:
    if suffix:
        return f"{suffix}% interval"
    return f"{plain_level * 100:g}% interval" if plain_level else "interval"


def forecast_figure(history: pd.DataFrame, forecast: pd.DataFrame, test_predictions: pd.DataFrame | None = None,
                    title: str = "Forecast", units: str = "price", plain_level: float | None = None) -> Figure:
    """Recent history, 1-step test predictions against actuals, and the forecast with its interval fan.

    ``history``: date, price. ``forecast``: date, forecast [, lower_XX, upper_XX | lower, upper].
    ``test_predictions``: the bundle's long frame (origin, date, step, actual, forecast, naive).
    ``plain_level``: the level (e.g. 0.8) of unsuffixed lower/upper columns, for the legend.
    """
    fig = Figure(figsize=(11, 5.5), layout="constrained")
    ax = fig.add_subplot()
    recent = history.tail(HISTORY_POINTS)
    if test_predictions is not None and len(test_predictions):
        one = test_predictions[test_predictions["step"] == 1].tail(HISTORY_POINTS)
        ax.plot(one["date"], one["actual"], color="0.55", lw=1, label="actual (test part)")
        ax.plot(one["date"], one["forecast"], color="tab:orange", lw=1, alpha=0.85,
                label="LSTM 1-step forecast (test part)")
    ax.plot(recent["date"], recent["price"], color="black", lw=1.2, label="history")
    alphas = np.linspace(0.15, 0.35, max(1, len(_interval_levels(forecast.columns))))
    for level, alpha in zip(_interval_levels(forecast.columns), alphas):
        sfx = f"_{level}" if level else ""
        ax.fill_between(forecast["date"], forecast[f"lower{sfx}"], forecast[f"upper{sfx}"], color="tab:blue",
                        alpha=alpha, lw=0, label=_band_label(level, plain_level))
    joined_dates = pd.concat([recent["date"].tail(1), forecast["date"]])
    joined = np.concatenate([recent["price"].tail(1).to_numpy(), forecast["forecast"].to_numpy()])
    ax.plot(joined_dates, joined, color="tab:blue", lw=2, marker="o", ms=3, label="forecast")
    ax.set_xlabel("date")
    _style(ax, title, units)
    return fig


def training_curve_figure(history: dict, best_epoch: int | None = None, title: str = "Training curve") -> Figure:
    """Train and validation loss per epoch, the early-stopping (best) epoch marked."""
    fig = Figure(figsize=(8, 4.5), layout="constrained")
    ax = fig.add_subplot()
    for key, label in (("loss", "train loss"), ("val_loss", "validation loss")):
        if key in history:
            ax.plot(range(1, len(history[key]) + 1), history[key], marker="o", ms=3, label=label)
    if best_epoch:
        ax.axvline(best_epoch, color="tab:red", ls="--", lw=1, label=f"best epoch ({best_epoch}), weights kept")
    ax.set_xlabel("epoch")
    ax.set_yscale("log")
    _style(ax, title, "loss (scaled units)")
    return fig



def grid_figure(fc, target: str | None = None, cols: int = 4) -> Figure:
    """Small multiples: each series' recent history, forecast and widest interval band, with one legend."""
    import math

    ids = fc.ids
    rows, width = math.ceil(len(ids) / cols), min(cols, len(ids))
    fig = Figure(figsize=(3.4 * width, 2.6 * rows + 0.6), layout="constrained")
    levels = _interval_levels(fc.frame.columns)
    for k, sid in enumerate(ids):
        ax = fig.add_subplot(rows, width, k + 1)
        h, f = fc.history[sid].tail(HISTORY_POINTS), fc.of(sid)
        ax.plot(h["date"], h["price"], color="black", lw=1, label="history")
        if levels:
            sfx = f"_{levels[0]}" if levels[0] else ""
            ax.fill_between(f["date"], f[f"lower{sfx}"], f[f"upper{sfx}"], color="tab:blue", alpha=0.25, lw=0,
                            label=_band_label(levels[0], fc.levels[0] if len(fc.levels) == 1 else None))
        ax.plot(pd.concat([h["date"].tail(1), f["date"]]), [h["price"].iloc[-1], *f["forecast"]], color="tab:blue",
                label="forecast")
        ax.set_title(str(sid), fontsize="small")
        ax.set_ylabel(target or "value", fontsize="x-small")
        ax.tick_params(labelsize="x-small", labelrotation=30)
    handles, labels = fig.axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncols=len(labels), fontsize="small")
    return fig


# ------------------------------------------------------------------------------------ backtest


def backtest_forecasts_figure(forecasts: pd.DataFrame, history: pd.DataFrame, context: int | None = None,
                              title: str = "Backtest: forecasts against actuals per fold") -> Figure:
    """One panel per fold: recent history, the actual path and every model's forecast from the origin.

    ``forecasts``: the backtest's long frame (origin, date, step, model, forecast, actual);
    ``history``: date, price of the whole series; ``context``: history points before each origin.
    """
    origins = sorted(forecasts["origin"].unique())
    h = int(forecasts["step"].max())
    context = context or 3 * h
    cols = min(4, len(origins))
    rows = -(-len(origins) // cols)
    fig = Figure(figsize=(4.2 * cols, 3.2 * rows), layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    models = list(dict.fromkeys(forecasts["model"]))
    colors = {m: f"C{i}" for i, m in enumerate(models)}
    for ax, origin in zip(axes, origins):
        part = forecasts[forecasts["origin"] == origin]
        past = history[history["date"] <= origin].tail(context)
        first = part[part["model"] == models[0]]
        ax.plot(pd.concat([past["date"], first["date"]]), np.concatenate([past["price"], first["actual"]]),
                color="black", lw=1.2, label="actual")
        for m in models:
            rows_m = part[part["model"] == m]
            ax.plot(pd.concat([past["date"].tail(1), rows_m["date"]]),
                    np.concatenate([past["price"].tail(1), rows_m["forecast"]]), color=colors[m], lw=1, label=m)
        ax.axvline(origin, color="0.6", ls=":", lw=1)
        ax.set_title(f"origin {pd.Timestamp(origin).date()}", fontsize="medium")
        ax.tick_params(axis="x", labelrotation=30, labelsize="small")
        ax.grid(alpha=0.3)
    for ax in axes[len(origins):]:
        ax.set_visible(False)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncols=min(len(labels), 8), fontsize="small")
    fig.suptitle(title)
    return fig


def backtest_horizon_figure(models: dict, title: str = "Backtest: MAE by forecast step") -> Figure:
    """MAE at each horizon step per model, from the report's ``models`` -> ``per_horizon`` lists."""
    fig = Figure(figsize=(8, 4.5), layout="constrained")
    ax = fig.add_subplot()
    for name, m in models.items():
        steps = [r["step"] for r in m["per_horizon"]]
        ax.plot(steps, [np.nan if r["mae"] is None else r["mae"] for r in m["per_horizon"]], marker="o", ms=3,
                label=name, lw=2 if name in ("lstm", "naive") else 1)
    ax.set_xlabel("steps ahead")
    _style(ax, title, "MAE (price units)")
    return fig


def backtest_mase_figure(models: dict, title: str = "Backtest: MASE per model (below 1 beats in-sample naive)") -> Figure:
    """Bar chart of each model's overall MASE, best first; a line at 1."""
    ranked = sorted(models, key=lambda n: np.inf if models[n]["mase"] is None else models[n]["mase"])
    values = [np.nan if models[n]["mase"] is None else models[n]["mase"] for n in ranked]
    fig = Figure(figsize=(8, 4.5), layout="constrained")
    ax = fig.add_subplot()
    ax.bar(ranked, values, color=["tab:orange" if n == "lstm" else "tab:blue" for n in ranked])
    ax.axhline(1.0, color="0.4", ls="--", lw=1)
    ax.set_ylabel("MASE")
    ax.set_title(title)
    ax.grid(alpha=0.3, axis="y")
    return fig


def backtest_coverage_figure(models: dict, title: str = "Backtest: interval coverage by forecast step") -> Figure:
    """Empirical coverage at each horizon step per model against the nominal level, one panel per level.

    ``models``: the report's ``models``; levels are the keys of each ``per_horizon`` row's ``coverage``.
    """
    from forecast.evaluation.intervals import level_label

    levels = sorted({lv for m in models.values() for r in m["per_horizon"] for lv in r.get("coverage") or {}},
                    key=float)
    pct = {lv: f"{level_label(float(lv))}%" for lv in levels}
    fig = Figure(figsize=(6 * max(1, len(levels)), 4.5), layout="constrained")
    axes = fig.subplots(1, max(1, len(levels)), squeeze=False).ravel()
    for ax, level in zip(axes, levels):
        for name, m in models.items():
            cov = [(r.get("coverage") or {}).get(level) for r in m["per_horizon"]]
            ax.plot([r["step"] for r in m["per_horizon"]], [np.nan if c is None else c for c in cov], marker="o",
                    ms=3, label=name, lw=2 if name in ("lstm", "naive") else 1)
        ax.axhline(float(level), color="0.4", ls="--", lw=1, label=f"nominal {pct[level]}")
        ax.set_xlabel("steps ahead")
        ax.set_ylim(0, 1.02)
        _style(ax, f"{pct[level]} interval", "share of actuals inside")
    fig.suptitle(title)
    return fig
