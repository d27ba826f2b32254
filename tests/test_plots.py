"""Charts that explain themselves, checked on the returned Figure objects (ticks, labels, legends, styles)."""

from __future__ import annotations

import matplotlib.dates as mdates
import numpy as np
import pandas as pd
import pytest

from forecast.output import plots


def _history(n=600):
    dates = pd.bdate_range("2020-01-01", periods=n)
    return pd.DataFrame({"date": dates, "price": 100 + np.cumsum(np.random.default_rng(0).normal(0, 1, n))})


def _forecast(history, h=10):
    dates = pd.bdate_range(history["date"].iloc[-1] + pd.offsets.BDay(), periods=h)
    f = np.full(h, history["price"].iloc[-1])
    return pd.DataFrame({"date": dates, "forecast": f, "lower": f - 2, "upper": f + 2})


def _test_predictions(history, n=150):
    part = history.iloc[-n - 5:-5]
    return pd.DataFrame({"origin": part["date"], "date": part["date"], "step": 1, "actual": part["price"],
                         "forecast": part["price"] + 0.5, "naive": part["price"]})


def _lines(ax):
    return {line.get_label(): line for line in ax.get_lines()}


def _legend(ax_or_fig):
    legend = ax_or_fig.get_legend() if hasattr(ax_or_fig, "get_legend") else ax_or_fig.legends[0]
    return [t.get_text() for t in legend.get_texts()]


def test_forecast_chart_shows_a_year_of_history_by_default_and_honours_history_points():
    h = _history()
    ax = plots.forecast_figure(h, _forecast(h), plain_level=0.8).axes[0]
    assert len(_lines(ax)["actual"].get_xdata()) == plots.HISTORY_POINTS == 250
    ax = plots.forecast_figure(h, _forecast(h), history_points=120, ylabel="Adj Close (USD)").axes[0]
    assert len(_lines(ax)["actual"].get_xdata()) == 120
    assert ax.get_ylabel() == "Adj Close (USD)"
    assert len(_lines(plots.forecast_figure(h, _forecast(h), history_points=None).axes[0])["actual"].get_xdata()) == 600


def test_forecast_chart_fills_a_short_history_from_the_test_actuals():
    """A bundle's predict gives only the last window (31 rows) as history; the chart still shows context."""
    h = _history()
    ax = plots.forecast_figure(h.tail(31), _forecast(h), _test_predictions(h), units="Close").axes[0]
    actual = _lines(ax)["actual"]
    assert len(actual.get_xdata()) == 150 + 5  # test actuals, then the last window's newer rows, no duplicates
    assert ax.get_ylabel() == "Close"  # the target's name, not "price"
    texts = _legend(ax)
    assert texts[:2] == ["actual", "LSTM 1-step forecast (test part)"]
    assert "forecast origin" in texts and "interval" in texts


@pytest.mark.parametrize("test, label", [
    ({"hybrid": {"used": True, "part": "arima"}, "network_weight": 0.0}, "shipped model 1-step forecast (test part)"),
    ({"network_weight": 0.0}, "shipped model 1-step forecast (test part)"),
    ({"hybrid": {"used": True, "part": "arima"}, "network_weight": 0.4}, "LSTM 1-step forecast (test part)"),
    ({}, "LSTM 1-step forecast (test part)")])
def test_a_bundles_chart_names_its_test_forecasts_as_the_verdict_names_the_model(test, label):
    """With a network weight of 0 the test part's forecasts are a statistical model's or naive's: the legend does
    not call them the LSTM's."""
    from types import SimpleNamespace

    from forecast.output.console import forecast_chart

    h = _history()
    tp = _test_predictions(h).assign(id="s")
    bundle = SimpleNamespace(data={"target": "Close", "path": "f.csv"}, single=True, test_predictions=tp,
                             metrics={"test": {"series": {"s": test}}})
    fc = SimpleNamespace(of=lambda sid: _forecast(h), history={"s": h}, levels=(0.8,))
    assert _legend(forecast_chart(bundle, fc, "s").axes[0])[1] == label


def test_training_curve_has_integer_epoch_ticks_the_best_epoch_and_the_dropout_note():
    hist = {"loss": [1.0, 0.7, 0.5, 0.45, 0.44], "val_loss": [0.6, 0.4, 0.3, 0.28, 0.29]}
    fig = plots.training_curve_figure(hist, best_epoch=4)
    ax = fig.axes[0]
    fig.canvas.draw()
    ticks = [t for t in ax.get_xticks() if ax.get_xlim()[0] <= t <= ax.get_xlim()[1]]
    assert ticks and all(float(t).is_integer() for t in ticks)
    assert "best epoch 4 (lowest validation loss): its weights kept" in _legend(ax)
    stars = [line for line in ax.get_lines() if line.get_marker() == "*"]
    assert len(stars) == 1 and list(stars[0].get_xdata()) == [4] and list(stars[0].get_ydata()) == [0.28]
    notes = [t.get_text() for t in ax.texts]
    assert any("dropout" in n and "below training loss" in n for n in notes)
    assert not plots.training_curve_figure(hist, 4, dropout=0).axes[0].texts  # nothing to explain


def test_training_curve_of_one_epoch_has_the_single_tick_1_and_zero_loss_needs_no_log_scale():
    fig = plots.training_curve_figure({"loss": [1.0], "val_loss": [0.26]}, best_epoch=1)
    ax = fig.axes[0]
    fig.canvas.draw()
    ticks = [t for t in ax.get_xticks() if ax.get_xlim()[0] <= t <= ax.get_xlim()[1]]
    assert ticks == [1.0]  # before: 0.96, 0.98, 1.00, 1.02, 1.04
    ax = plots.training_curve_figure({"loss": [0.0, 0.0], "val_loss": [0.0, 0.0]}, best_epoch=1).axes[0]
    assert ax.get_yscale() == "linear"


MODELS = {
    "lstm": {"mase": 7.58, "folds": [{}] * 5, "per_horizon": [{"step": s, "mae": 100 + s, "coverage": {"0.8": 0.4}}
                                                           for s in (1, 2, 3)]},
    "naive": {"mase": 7.43, "folds": [{}] * 5, "per_horizon": [{"step": s, "mae": 99 + s, "coverage": {"0.8": 0.4}}
                                                            for s in (1, 2, 3)]},
    "drift": {"mase": None, "folds": [{}] * 5, "per_horizon": [{"step": s, "mae": None, "coverage": {"0.8": 0.6}}
                                                            for s in (1, 2, 3)]},
}


def test_mase_chart_draws_the_naive_models_own_mase_not_a_line_at_1():
    fig = plots.backtest_mase_figure(MODELS)
    ax = fig.axes[0]
    refs = [line for line in ax.get_lines() if line.get_linestyle() == "--"]
    assert len(refs) == 1 and set(refs[0].get_ydata()) == {7.43}
    assert not any(set(line.get_ydata()) == {1.0} for line in ax.get_lines())
    assert "below 1" not in ax.get_title()
    assert _legend(fig) == ["naive forecast: MASE 7.43 (a bar below this line beats naive)"]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["naive", "lstm", "drift"]  # best first, n/a last
    assert [t.get_text() for t in ax.texts] == ["7.43", "7.58", "n/a"]


def test_coverage_chart_gives_each_model_its_own_style_and_says_what_each_point_rests_on():
    fig = plots.backtest_coverage_figure(MODELS)
    ax = fig.axes[0]
    lines = _lines(ax)
    styles = {(lines[m].get_linestyle(), lines[m].get_marker()) for m in MODELS}
    assert len(styles) == len(MODELS)  # lstm and naive coincide here, yet both stay visible
    assert "nominal 80%" in _legend(ax)
    assert any("5 forecasts" in t.get_text() for t in ax.texts)
    assert any("3 forecasts" in t.get_text() for t in plots.backtest_coverage_figure(MODELS, n_forecasts=3).axes[0].texts)


def test_fold_charts_use_concise_dates_and_the_target_as_y_label():
    h = _history(300)
    rows = []
    for origin in h["date"].iloc[[-40, -25, -10]]:
        future = h[h["date"] > origin].head(5)
        for m in ("naive", "drift"):
            rows += [dict(origin=origin, date=d, step=i + 1, model=m, forecast=p, actual=p)
                     for i, (d, p) in enumerate(zip(future["date"], future["price"]))]
    fig = plots.backtest_forecasts_figure(pd.DataFrame(rows), h, ylabel="Adj Close")
    axes = [ax for ax in fig.axes if ax.get_visible()]
    assert len(axes) == 3
    for ax in axes:
        assert isinstance(ax.xaxis.get_major_formatter(), mdates.ConciseDateFormatter)
        assert isinstance(ax.xaxis.get_major_locator(), mdates.AutoDateLocator)
    assert axes[0].get_ylabel() == "Adj Close"
    styles = {line.get_linestyle() for line in axes[0].get_lines() if line.get_label() in ("naive", "drift")}
    assert len(styles) == 2


@pytest.mark.parametrize("start, freq, n", [("2024-01-01", "h", 40), ("2020-01-01", "MS", 22),
                                             ("2024-01-01", "min", 100), ("2024-01-01", "s", 110)])
def test_date_axes_over_a_span_just_short_of_the_next_unit_draw_without_a_warning(start, freq, n):
    """40 hours, 22 months, 100 minutes or 110 seconds on an axis of at most 4 ticks (the grid's, a fold's): the
    labels come without matplotlib's "unable to pick an appropriate interval" warning, at most 4 of them."""
    import warnings

    from matplotlib.figure import Figure

    ax = Figure().add_subplot()
    dates = pd.date_range(start, periods=n, freq=freq)
    ax.plot(dates, np.arange(n))
    plots.date_axis(ax, maxticks=4)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ticks = ax.xaxis.get_major_locator()()
    assert 2 <= len([t for t in ticks if mdates.date2num(dates[0]) <= t <= mdates.date2num(dates[-1])]) <= 4


@pytest.mark.parametrize("freq, titles", [("B", ["origin 2020-01-31", "origin 2020-02-07"]),
                                           ("h", ["origin 2020-01-01 22:00:00", "origin 2020-01-02 03:00:00"])])
def test_fold_titles_name_the_origins_time_where_the_data_has_one(freq, titles):
    """Hourly folds a few hours apart get titles that tell them apart; daily ones stay a plain date."""
    dates = pd.date_range("2020-01-01", periods=60, freq=freq)
    h = pd.DataFrame({"date": dates, "price": np.linspace(100, 110, 60)})
    rows = [dict(origin=dates[k], date=dates[k + 1 + i], step=i + 1, model="naive", forecast=1.0, actual=1.0)
            for k in (22, 27) for i in range(3)]
    fig = plots.backtest_forecasts_figure(pd.DataFrame(rows), h)
    assert [ax.get_title() for ax in fig.axes if ax.get_visible()] == titles


def test_horizon_chart_ylabel_and_integer_steps():
    fig = plots.backtest_horizon_figure(MODELS, ylabel="MAE (Adj Close)")
    ax = fig.axes[0]
    fig.canvas.draw()
    assert ax.get_ylabel() == "MAE (Adj Close)"
    assert all(float(t).is_integer() for t in ax.get_xticks())


@pytest.mark.parametrize("call", ["old_positional"])
def test_old_call_forms_still_work(call):
    h = _history()
    plots.forecast_figure(h, _forecast(h), None, "t", "price", 0.8)
    plots.training_curve_figure({"loss": [1.0, 0.5]}, 2, "t")
    plots.backtest_mase_figure(MODELS, "t")
    plots.backtest_coverage_figure(MODELS, "t")
    plots.backtest_horizon_figure(MODELS, "t")


def test_the_grid_shows_each_series_test_part_as_history_with_bands_and_one_legend():
    from forecast.output.plots import grid_figure
    from forecast.workflows.predict import Forecast

    dates = pd.bdate_range("2021-01-01", periods=40)
    history = {sid: pd.DataFrame({"date": dates[30:35], "price": np.arange(5.0) + k}) for k, sid in enumerate("AB")}
    frame = pd.concat([pd.DataFrame({"id": sid, "date": dates[35:], "forecast": 5.0, "lower": 4.0, "upper": 6.0})
                       for sid in "AB"], ignore_index=True)
    tests = pd.concat([pd.DataFrame({"id": sid, "origin": dates[:30], "date": dates[1:31], "step": 1,
                                     "actual": np.arange(30.0), "forecast": 0.0}) for sid in "AB"])
    fig = grid_figure(Forecast(frame, history, False, (0.8,), single=False), "Close", test_predictions=tests)
    first = fig.axes[0].get_lines()[0]
    assert len(first.get_xdata()) == 34  # 29 test-part actuals before the window + the 5 observations
    assert [ax.get_title() for ax in fig.axes] == ["A", "B"] and fig.axes[0].get_ylabel() == "Close"
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ["history", "80% interval", "forecast"]


@pytest.mark.parametrize("n", [2, 7])
def test_the_grids_fixed_margins_keep_every_label_off_the_other_axes_and_the_legend(n):
    """The grid sets its margins in inches instead of running a layout engine over every axes: each axes' title,
    tick labels and y label stay clear of every other axes and of the legend, for prices from 0.0012 to 612,345."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    from forecast.output.plots import grid_figure
    from forecast.workflows.predict import Forecast

    dates = pd.bdate_range("2015-01-01", periods=300)
    scales = [7000.0, 0.0012, 612345.0, 1.5, 25.0, 98765.4321, 0.5][:n]
    history = {f"series {k}": pd.DataFrame({"date": dates[:290], "price": s * (1 + 0.1 * np.sin(np.arange(290)))})
               for k, s in enumerate(scales)}
    frame = pd.concat([pd.DataFrame({"id": sid, "date": dates[290:], "forecast": h["price"].iloc[-1],
                                     "lower_80": 0.9 * h["price"].iloc[-1], "upper_80": 1.1 * h["price"].iloc[-1]})
                       for sid, h in history.items()], ignore_index=True)
    fig = grid_figure(Forecast(frame, history, False, (0.8,), single=False), "Adj Close")
    renderer = FigureCanvasAgg(fig).get_renderer()
    fig.draw(renderer)
    legend = fig.legends[0].get_window_extent(renderer)
    for i, ax in enumerate(fig.axes):
        assert {label.get_rotation() for label in ax.get_yticklabels()} == {0.0}  # prices upright, not at 30 degrees
        labels = ax.get_tightbbox(renderer)
        assert not labels.overlaps(legend), ax.get_title()
        assert fig.bbox.contains(labels.x0, labels.y0) and fig.bbox.contains(labels.x1, labels.y1), ax.get_title()
        for j, other in enumerate(fig.axes):
            if j != i:
                assert not labels.overlaps(other.get_window_extent(renderer)), (ax.get_title(), other.get_title())


def test_many_figures_are_drawn_in_worker_processes_with_the_same_bytes(tmp_path, monkeypatch):
    """From PARALLEL_FIGURES figures on, save_figures given workers draws them in spawned processes: the same PNG
    bytes as drawing them here, written in the order given; a figure that cannot be pickled (the training curve's
    lambda formatter) is drawn here among them. Without workers (the library's default) every figure is drawn
    here."""
    import pickle

    import forecast.io as fio

    history = _history(200)

    def figures():
        for k in range(fio.PARALLEL_FIGURES):
            yield tmp_path / f"f{k}.png", plots.forecast_figure(history, _forecast(history), title=f"series {k}")
        yield tmp_path / "curve.png", plots.training_curve_figure({"loss": [1.0, 0.5], "val_loss": [1.1, 0.7]}, 2)

    curve = plots.training_curve_figure({"loss": [1.0, 0.5], "val_loss": [1.1, 0.7]}, 2)
    with pytest.raises((pickle.PicklingError, AttributeError, TypeError)):
        pickle.dumps(curve)  # so the fallback is on trial
    submitted, submit = [], fio._submit
    monkeypatch.setattr(fio, "_submit", lambda pool, *a: (submitted.append(pool is not None), submit(pool, *a))[1])
    paths = fio.save_figures(figures(), workers=2)
    assert submitted == [True] * fio.PARALLEL_FIGURES  # the picklable ones went to the workers
    names = [f"f{k}.png" for k in range(fio.PARALLEL_FIGURES)] + ["curve.png"]
    assert [p.name for p in paths] == names
    here = [fio.figure_png(fig) for _, fig in figures()]
    assert [p.read_bytes() for p in paths] == here
    submitted.clear()
    serial = fio.save_figures((tmp_path / "serial" / p.name, fig) for p, fig in figures())
    assert submitted == [] and [p.name for p in serial] == names and [p.read_bytes() for p in serial] == here
    assert not list(tmp_path.glob("*.tmp*")) and not list(tmp_path.glob(".*"))


def test_the_lstm_has_one_colour_in_every_backtest_chart_and_the_coverage_note_its_exact_step():
    """The LSTM's bar in the MASE chart is orange; its lines in the horizon and coverage charts were the colour of
    wherever it came in the models' order. The coverage note's step is 1/8 = 0.125, not 0.12."""
    from matplotlib.colors import to_rgba

    rows = [{"step": k, "mae": float(k), "coverage": {"0.8": 0.75}} for k in (1, 2, 3)]
    models = {name: {"per_horizon": rows, "folds": [{}] * 8} for name in ("naive", "ets", "lstm", "theta")}
    for fig in (plots.backtest_horizon_figure(models), plots.backtest_coverage_figure(models)):
        lines = {line.get_label(): to_rgba(line.get_color()) for line in fig.axes[0].get_lines()}
        assert lines["lstm"] == to_rgba("tab:orange")
        others = [lines[n] for n in ("naive", "ets", "theta")]
        assert to_rgba("tab:orange") not in others and len(set(others)) == 3
    note = [t.get_text() for t in plots.backtest_coverage_figure(models).axes[0].texts]
    assert any("a share moves in steps of 0.125." in t for t in note)
