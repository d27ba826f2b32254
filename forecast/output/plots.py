"""Functions that return matplotlib figures; they never show or save (the caller saves)."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
from matplotlib.dates import HOURLY, MINUTELY, MONTHLY, SECONDLY, AutoDateLocator, ConciseDateFormatter
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator

from forecast.data.calendar import stamp_text

HISTORY_POINTS = 250  # observations before the forecast origin on the forecast chart: about a year of trading days
LINESTYLES = ("-", "--", "-.", ":")
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
DROPOUT_NOTE = ("Validation loss can sit below training loss: dropout is active while training "
                "and off when validating.")


OTHER_COLORS = tuple(f"C{k}" for k in range(10) if k != 1)  # matplotlib's default cycle without the LSTM's orange


def model_colors(names) -> dict[str, str]:
    """One colour per model, the same in every backtest chart: the LSTM orange (as its MASE bar and its test-part
    line in the forecast chart), the others the default colour cycle in order, without orange."""
    names = list(names)
    others = iter(OTHER_COLORS * (1 + len(names) // len(OTHER_COLORS)))
    return {n: "tab:orange" if n == "lstm" else next(others) for n in names}


def line_style(i: int) -> dict:
    """The i-th of distinct (line style, marker) pairs: lines that coincide stay distinguishable."""
    return {"ls": LINESTYLES[i % len(LINESTYLES)], "marker": MARKERS[i % len(MARKERS)]}


def _note(ax, text: str) -> None:
    """A grey note under the axes' x label (inside the layout, so nothing overlaps it)."""
    ax.annotate(text, xy=(0, 0), xycoords="axes fraction", xytext=(0, -34), textcoords="offset points",
                ha="left", va="top", fontsize="small", color="0.35")


def date_axis(ax, maxticks: int = 6) -> None:
    """Readable, non-overlapping date labels: at most ``maxticks`` ticks, labels as short as the span allows."""
    locator = AutoDateLocator(minticks=2, maxticks=maxticks)
    # the locator counts a span in the largest unit that gives 2 ticks (so hours for a span under 2 days, months
    # under 2 years) and warns, a UserWarning on the terminal, where its longest step in that unit (12 hours,
    # 6 months, 30 minutes or seconds) still gives more than ``maxticks``: one step of the next unit never does
    for freq, longest in ((HOURLY, 24), (MONTHLY, 12), (MINUTELY, 60), (SECONDLY, 60)):
        locator.intervald[freq] = [*locator.intervald[freq], longest]
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(ConciseDateFormatter(locator))


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
                    title: str = "Forecast", units: str = "price", plain_level: float | None = None, *,
                    history_points: int | None = HISTORY_POINTS, ylabel: str | None = None,
                    model: str = "LSTM") -> Figure:
    """Recent history, 1-step test predictions against actuals, and the forecast with its interval fan.

    ``history``: date, price. ``forecast``: date, forecast [, lower_XX, upper_XX | lower, upper].
    ``test_predictions``: the bundle's long frame (origin, date, step, actual, forecast, naive); its actuals
    are observations too and fill in the history where ``history`` is short (e.g. only the last window).
    ``plain_level``: the level (e.g. 0.8) of unsuffixed lower/upper columns, for the legend.
    ``history_points``: observations shown before the forecast origin (None: all given); ``ylabel``:
    the y-axis label (default ``units``, e.g. the target column's name); ``model``: what the test predictions'
    legend calls the forecaster ("shipped model" where the network's weight is 0: ``verdict.shipped_name``).
    """
    fig = Figure(figsize=(11, 5.5), layout="constrained")
    ax = fig.add_subplot()
    one = None
    if test_predictions is not None and len(test_predictions):
        one = test_predictions[test_predictions["step"] == 1]
    observed = observations(history, test_predictions, history_points)
    start = observed["date"].iloc[0] if len(observed) else None
    ax.plot(observed["date"], observed["price"], color="black", lw=1.2, label="actual")
    if one is not None and start is not None and len(one := one[one["date"] >= start]):
        ax.plot(one["date"], one["forecast"], color="tab:orange", lw=1, alpha=0.85,
                label=f"{model} 1-step forecast (test part)")
    alphas = np.linspace(0.15, 0.35, max(1, len(_interval_levels(forecast.columns))))
    for level, alpha in zip(_interval_levels(forecast.columns), alphas):
        sfx = f"_{level}" if level else ""
        ax.fill_between(forecast["date"], forecast[f"lower{sfx}"], forecast[f"upper{sfx}"], color="tab:blue",
                        alpha=alpha, lw=0, label=_band_label(level, plain_level))
    last = history.tail(1)
    joined_dates = pd.concat([last["date"], forecast["date"]])
    joined = np.concatenate([last["price"].to_numpy(), forecast["forecast"].to_numpy()])
    ax.plot(joined_dates, joined, color="tab:blue", lw=2, marker="o", ms=3, label="forecast")
    if len(last):
        ax.axvline(last["date"].iloc[0], color="0.6", ls=":", lw=1, label="forecast origin")
    date_axis(ax, maxticks=8)
    ax.set_xlabel("date")
    _style(ax, title, ylabel or units)
    return fig


def training_curve_figure(history: dict, best_epoch: int | None = None, title: str = "Training curve", *,
                          dropout: float | None = None, ylabel: str = "loss (scaled units)") -> Figure:
    """Train and validation loss per epoch (integer ticks), the early-stopping (best) epoch marked.

    A note under the axes says why validation loss can sit below training loss (dropout), unless
    ``dropout`` is given as 0 (then there is nothing to explain).
    """
    fig = Figure(figsize=(8, 4.5), layout="constrained")
    ax = fig.add_subplot()
    n = 0
    for i, (key, label) in enumerate((("loss", "train loss"), ("val_loss", "validation loss"))):
        if key in history and len(history[key]):
            values = history[key]
            n = max(n, len(values))
            ax.plot(range(1, len(values) + 1), values, ms=4, label=label, **line_style(i))
    if best_epoch:
        ax.axvline(best_epoch, color="tab:red", ls="--", lw=1,
                   label=f"best epoch {best_epoch} (lowest validation loss): its weights kept")
        val = history.get("val_loss") or []
        if 0 < best_epoch <= len(val):
            ax.plot([best_epoch], [val[best_epoch - 1]], marker="*", ms=14, color="tab:red", ls="none")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))
    if n <= 1:
        ax.set_xlim(0.5, 1.5)
    ax.set_xlabel("epoch")
    values = [v for key in ("loss", "val_loss") for v in history.get(key, []) if v is not None]
    if values and min(values) > 0:  # a log scale needs positive losses (a constant series can give 0)
        ax.set_yscale("log")
        plain = FuncFormatter(lambda v, _: f"{v:.3g}")  # 0.4, not 4 x 10^-1
        ax.yaxis.set_major_formatter(plain)
        ax.yaxis.set_minor_formatter(plain)
    _style(ax, title, ylabel)
    if "val_loss" in history and dropout != 0:
        _note(ax, DROPOUT_NOTE)
    return fig


def observations(history: pd.DataFrame, test_predictions: pd.DataFrame | None, points: int | None) -> pd.DataFrame:
    """date, price of every observation known: the test part's actuals (step 1) and ``history``, the last
    ``points`` of them (None: all)."""
    observed = history[["date", "price"]]
    if test_predictions is not None and len(test_predictions):
        one = test_predictions[test_predictions["step"] == 1]
        observed = pd.concat([one[["date", "actual"]].rename(columns={"actual": "price"}), observed])
    observed = observed.drop_duplicates("date", keep="last").sort_values("date")
    return observed.tail(points) if points else observed


def grid_figure(fc, target: str | None = None, cols: int = 4, history: int = HISTORY_POINTS,
                test_predictions: pd.DataFrame | None = None) -> Figure:
    """Small multiples: each series' recent history, forecast and widest interval band, with one legend.
    ``test_predictions`` (id, origin, date, step, actual, ...): their actuals extend each series' history."""
    import math

    ids = fc.ids
    rows, width = math.ceil(len(ids) / cols), min(cols, len(ids))
    # no layout engine: over 100 axes constrained layout took about half of drawing the grid (_grid_margins)
    fig = Figure(figsize=(3.4 * width, 2.6 * rows + 0.6))
    levels = _interval_levels(fc.frame.columns)
    # split once: selecting each series' rows by comparing ids took 1 s of the grid's 4 for 100 series
    tests_of = {} if test_predictions is None else dict(tuple(test_predictions.groupby("id", sort=False)))
    for k, sid in enumerate(ids):
        ax = fig.add_subplot(rows, width, k + 1)
        tests = None if test_predictions is None else tests_of.get(sid, test_predictions.iloc[:0])
        h, f = observations(fc.history[sid], tests, history), fc.of(sid)
        ax.plot(h["date"], h["price"], color="black", lw=1, label="history")
        if levels:
            sfx = f"_{levels[0]}" if levels[0] else ""
            ax.fill_between(f["date"], f[f"lower{sfx}"], f[f"upper{sfx}"], color="tab:blue", alpha=0.25, lw=0,
                            label=_band_label(levels[0], fc.levels[0] if len(fc.levels) == 1 else None))
        ax.plot(pd.concat([h["date"].tail(1), f["date"]]), [h["price"].iloc[-1], *f["forecast"]], color="tab:blue",
                label="forecast")
        # y given: no search for ticks above the axes (there are none), which took 30% of drawing 100 axes
        ax.set_title(str(sid), fontsize="small", y=1.0)
        ax.set_ylabel(target or "value", fontsize="x-small")
        # few ticks on a small axes: each tick is an object matplotlib builds at every draw
        date_axis(ax, maxticks=4)
        ax.yaxis.set_major_locator(MaxNLocator(4))
        ax.tick_params(labelsize="x-small")
        ax.xaxis.get_offset_text().set_fontsize("x-small")  # the year under the concise dates
    handles, labels = fig.axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncols=len(labels), fontsize="small")
    _grid_margins(fig, rows, width)
    return fig


def _grid_margins(fig: Figure, rows: int, cols: int, left: float = 0.75, right: float = 0.15, top: float = 0.3,
                  bottom: float = 0.95, gap_w: float = 0.85, gap_h: float = 0.8) -> None:
    """Fixed margins in inches around and between equal small multiples: room for each axes' y tick labels and
    label on the left, its title above and its rotated date labels below, and the figure legend at the bottom."""
    w, h = fig.get_size_inches()
    aw = (w - left - right - (cols - 1) * gap_w) / cols
    ah = (h - top - bottom - (rows - 1) * gap_h) / rows
    fig.subplots_adjust(left=left / w, right=1 - right / w, top=1 - top / h, bottom=bottom / h,
                        wspace=gap_w / aw, hspace=gap_h / ah)


# ------------------------------------------------------------------------------------ backtest


def backtest_forecasts_figure(forecasts: pd.DataFrame, history: pd.DataFrame, context: int | None = None,
                              title: str = "Backtest: forecasts against actuals per fold", *,
                              ylabel: str | None = None) -> Figure:
    """One panel per fold: recent history, the actual path and every model's forecast from the origin.

    ``forecasts``: the backtest's long frame (origin, date, step, model, forecast, actual);
    ``history``: date, price of the whole series; ``context``: history points before each origin;
    ``ylabel``: the y-axis label of the first panel in each row (e.g. the target column's name).
    """
    origins = sorted(forecasts["origin"].unique())
    h = int(forecasts["step"].max())
    context = context or 3 * h
    cols = min(4, len(origins))
    rows = -(-len(origins) // cols)
    fig = Figure(figsize=(4.2 * cols, 3.2 * rows), layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    models = list(dict.fromkeys(forecasts["model"]))
    colors = model_colors(models)
    for k, (ax, origin) in enumerate(zip(axes, origins)):
        part = forecasts[forecasts["origin"] == origin]
        past = history[history["date"] <= origin].tail(context)
        first = part[part["model"] == models[0]]
        ax.plot(pd.concat([past["date"], first["date"]]), np.concatenate([past["price"], first["actual"]]),
                color="black", lw=1.2, label="actual")
        for i, m in enumerate(models):
            rows_m = part[part["model"] == m]
            ax.plot(pd.concat([past["date"].tail(1), rows_m["date"]]),
                    np.concatenate([past["price"].tail(1), rows_m["forecast"]]), color=colors[m], lw=1, label=m,
                    ls=LINESTYLES[i % len(LINESTYLES)])
        ax.axvline(origin, color="0.6", ls=":", lw=1)
        ax.set_title(f"origin {stamp_text(pd.Timestamp(origin))}", fontsize="medium")
        date_axis(ax, maxticks=4)
        ax.tick_params(axis="x", labelsize="small")
        if ylabel and k % cols == 0:
            ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
    for ax in axes[len(origins):]:
        ax.set_visible(False)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncols=min(len(labels), 8), fontsize="small")
    fig.suptitle(title)
    return fig


def backtest_horizon_figure(models: dict, title: str = "Backtest: MAE by forecast step", *,
                            ylabel: str = "MAE (price units)") -> Figure:
    """MAE at each horizon step per model, from the report's ``models`` -> ``per_horizon`` lists."""
    fig = Figure(figsize=(8, 4.5), layout="constrained")
    ax = fig.add_subplot()
    colors = model_colors(list(models))
    for i, (name, m) in enumerate(models.items()):
        steps = [r["step"] for r in m["per_horizon"]]
        ax.plot(steps, [np.nan if r["mae"] is None else r["mae"] for r in m["per_horizon"]], ms=4, color=colors[name],
                label=name, lw=2 if name in ("lstm", "naive") else 1, **line_style(i))
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("steps ahead")
    _style(ax, title, ylabel)
    return fig


def backtest_mase_figure(models: dict, title: str = "Backtest: MASE per model (lower is better)", *,
                         reference: str = "naive") -> Figure:
    """Bar chart of each model's overall MASE, best first, with the ``reference`` model's own MASE as a line.

    Multi-step MASE is scaled by the in-sample one-step naive error, so even the naive forecast scores
    well above 1 at longer horizons: "below 1" is no benchmark there; beating the naive bar is.
    """
    from forecast.evaluation.verdict import display_order

    ranked = display_order({n: models[n]["mase"] for n in models})  # a tie: the simpler model first
    values = [np.nan if models[n]["mase"] is None else models[n]["mase"] for n in ranked]
    fig = Figure(figsize=(8, 4.5), layout="constrained")
    ax = fig.add_subplot()
    bars = ax.bar(ranked, values, color=["tab:orange" if n == "lstm" else "0.55" if n == reference else "tab:blue"
                                         for n in ranked])
    for bar, v in zip(bars, values):  # the value on each bar; n/a where MASE is undefined
        ax.annotate("n/a" if np.isnan(v) else f"{v:.3g}", (bar.get_x() + bar.get_width() / 2, 0 if np.isnan(v) else v),
                    xytext=(0, 2), textcoords="offset points", ha="center", va="bottom", fontsize="small")
    ref = models.get(reference, {}).get("mase")
    if ref is not None and np.isfinite(ref):
        ax.axhline(ref, color="0.3", ls="--", lw=1,
                   label=f"{reference} forecast: MASE {ref:.3g} (a bar below this line beats {reference})")
        fig.legend(loc="outside lower center", fontsize="small")
    ax.set_ylabel("MASE (MAE / in-sample one-step naive MAE)")
    ax.set_title(title)
    if len(ranked) > 6:  # nine models' names side by side ran into each other
        ax.tick_params(axis="x", labelrotation=30)
        for label in ax.get_xticklabels():
            label.set_horizontalalignment("right")
    ax.grid(alpha=0.3, axis="y")
    return fig


def backtest_coverage_figure(models: dict, title: str = "Backtest: interval coverage by forecast step", *,
                             n_forecasts: int | None = None) -> Figure:
    """Empirical coverage at each horizon step per model against the nominal level, one panel per level.

    ``models``: the report's ``models``; levels are the keys of each ``per_horizon`` row's ``coverage``.
    Each model gets its own line style and marker (coinciding lines stay visible). ``n_forecasts``: the
    forecasts each step's share rests on (default: the folds in the report), said in a note.
    """
    from forecast.evaluation.intervals import level_label

    levels = sorted({lv for m in models.values() for r in m["per_horizon"] for lv in r.get("coverage") or {}},
                    key=float)
    pct = {lv: f"{level_label(float(lv))}%" for lv in levels}
    if n_forecasts is None:
        folds = [len(m["folds"]) for m in models.values() if isinstance(m.get("folds"), list)]
        n_forecasts = max(folds) if folds else None
    fig = Figure(figsize=(6 * max(1, len(levels)), 4.8), layout="constrained")
    axes = fig.subplots(1, max(1, len(levels)), squeeze=False).ravel()
    colors = model_colors(list(models))
    for ax, level in zip(axes, levels):
        for i, (name, m) in enumerate(models.items()):
            cov = [(r.get("coverage") or {}).get(level) for r in m["per_horizon"]]
            ax.plot([r["step"] for r in m["per_horizon"]], [np.nan if c is None else c for c in cov], ms=5,
                    color=colors[name], label=name, lw=2 if name in ("lstm", "naive") else 1.2, alpha=0.85, mfc="none",
                    **line_style(i))
        ax.axhline(float(level), color="0.4", ls=(0, (1, 3)), lw=1.5, label=f"nominal {pct[level]}")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("steps ahead")
        ax.set_ylim(0, 1.02)
        _style(ax, f"{pct[level]} interval", "share of actuals inside")
        if n_forecasts:
            _note(ax, f"Each point rests on {n_forecasts} forecast{'s' if n_forecasts != 1 else ''} (one per fold): "
                      f"a share moves in steps of {1 / n_forecasts:.3g}.")
    fig.suptitle(title)
    return fig
