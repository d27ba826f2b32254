"""What the CLI shows: rich tables in the terminal and the standard PNG charts of a bundle."""

from __future__ import annotations

import contextlib
import math
import sys
import warnings
from pathlib import Path
from typing import Iterator

from rich.console import Console
from rich.table import Table

from forecast.config import SERIES_CHARTS_MAX, WEIGHT_CONFIDENCE
from forecast.io import known, shell_path

HISTORY_POINTS = 250  # observations shown before the forecast origin: about a year of trading days

# Lines wrap in the terminal, not mid-phrase; piped into a file, tables get room for every column
# instead of rich's default 80 (which truncated the backtest scoreboard to "1.2…").
PIPED_WIDTH = 160
err = Console(stderr=True, soft_wrap=True, width=None if sys.stderr.isatty() else PIPED_WIDTH)
out = Console(soft_wrap=True, width=None if sys.stdout.isatty() else PIPED_WIDTH)


def note(line: str) -> None:
    """A dim progress line on stderr (what a long command is doing or waiting for); --quiet callers skip it."""
    err.print(f"[dim]{line}[/dim]", highlight=False)


def _num(v: float | None, spec: str) -> str:
    """``v`` in the format ``spec``; n/a where it is undefined (None or NaN: a constant series' MASE or skill)."""
    return format(v, spec) if known(v) else "n/a"


def _fmt(v: float | None, pct: bool = False) -> str:
    if not known(v):  # e.g. MAPE where an actual price is zero
        return "n/a"
    if pct:
        return f"{v:,.2f}%"
    return f"{v:.4g}" if 0 < abs(v) < 1 else f"{v:,.2f}"  # a price of 0.00001234 is not 0.00


def print_train_summary(outcome) -> None:
    """One series: its test-part scores next to the naive forecast and whether the difference is real. Many:
    a table per series, then the pooled verdict with the evidence it rests on."""
    per, training = outcome.metrics["test"]["series"], outcome.metrics["training"]
    out.print(data_line(outcome.panel), highlight=False)
    if len(per) == 1:
        ((sid, m),) = per.items()
        print_series_summary(m, next(iter(training.values())), outcome.device, outcome.panel.target,
                             series=sid if outcome.panel.named else None)
    else:
        print_panel_summary(outcome.metrics, outcome.panel.layout, outcome.device)
    for sid, why in outcome.metrics.get("skipped", {}).items():
        out.print(f"[yellow]skipped {sid}:[/yellow] {why}", highlight=False)


def data_line(panel) -> str:
    """What train read: the file, its series (long or wide format), rows, dates, calendar and columns, so a
    misread file (a European date order, 5-minute bars taken as irregular) shows before the scores."""
    from forecast.data.calendar import infer_frequency, stamps_text

    first, last = stamps_text([min(s.dates[0] for s in panel), max(s.dates[-1] for s in panel)])
    freq = panel.series[0].freq
    if freq == "other":  # the finer label (annual, intraday) where there is one
        freq = infer_frequency(panel.series[0].dates, detailed=True)
    series = f"{len(panel)} series ({panel.layout} format), " if panel.named else ""
    return (f"data: {panel.source}: {series}{sum(len(s) for s in panel):,} rows {first} .. {last}, "
            f"{freq.replace('_', ' ')}; target '{panel.target}', dates in '{panel.date_col}'")


def print_series_summary(m: dict, t: dict, device: str, target: str = "price", series: str | None = None) -> None:
    """One series' summary; ``series``: its id, where the file named its series (long or wide format)."""
    from forecast.evaluation.intervals import calibrated_text
    from forecast.evaluation.scoring import beats
    from forecast.evaluation.verdict import display_name, display_order

    head = "Test part" if series is None else f"Series {series}: test part"
    out.print(f"{head} {m.get('first_date', m['first_origin'])} .. {m['last_date']} ({m['n_origins']} origins "
              f"from {m['first_origin']} x {m['horizon']} steps), errors in units of {target!r} (the target column)",
              highlight=False)
    table = Table()
    for col in ("model", "MAE", "RMSE", "MAPE", "MASE", "direction"):
        table.add_column(col, justify="right" if col != "model" else "left")
    rows = {"lstm": m["lstm"], "naive": m["naive"], **m.get("baselines", {}).get("models", {})}
    finite = [r["mae"] for r in rows.values() if known(r["mae"]) and math.isfinite(r["mae"])]
    lowest = min(finite) if finite else None
    for name in display_order({n: r["mae"] for n, r in rows.items()}):  # a tie: the simpler model first
        r = rows[name]
        label = name + (" (best on validation)" if name == m.get("baselines", {}).get("chosen") else "")
        tied = lowest is not None and r["mae"] in finite and not beats(lowest, r["mae"])  # the lowest, to noise
        table.add_row(label + (" *" if tied else ""), _fmt(r["mae"]), _fmt(r["rmse"]),
                      _fmt(r["mape"], pct=True), _num(r["mase"], ".3f"), _num(r["directional_accuracy"], ".1%"))
    table.caption = ("lowest MAE first; * the lowest (equal ones all marked). Statistical models fitted on the "
                     "training part; `forecast backtest` refits all")
    out.print(table)
    if m.get("transform"):
        out.print(f"transform: {m['transform']['used']} ({m['transform']['why']})", highlight=False)
    if m.get("hybrid"):
        part = m["hybrid"].get("part", "season" if m["hybrid"]["used"] else "none")  # bundles before the residual hybrid
        used = {"none": "none", "season": "a seasonal profile takes out the season"}.get(
            part, f"the network corrects the forecasts of {display_name(part)}")
        out.print(f"hybrid: {used} ({m['hybrid']['why']})", highlight=False)
    if m.get("network_weight") is not None:
        anchor = ("the forecasts of " + display_name(m["hybrid"]["part"])
                  if m.get("hybrid", {}).get("part") not in (None, "none", "season") else "the naive forecast")
        out.print(f"network weight: {m['network_weight']:.2f} against {anchor} (what the validation windows "
                  f"confirm: the least-squares weight's one-sided {WEIGHT_CONFIDENCE:.0%} lower bound; 0: the "
                  "network adds nothing)", highlight=False)
    out.print(f"epochs run: {t['epochs_run']} (best {t['best_epoch']}, "
              f"{'early-stopped' if t['stopped_early'] else 'hit --epochs'}); best validation loss "
              f"{t['best_val_loss']:.4g}; device {device}")
    ivs = m.get("intervals", {})
    for label, iv in ivs.get("levels", {}).items():
        scaled = f", scaled by the volatility of the last {ivs['scale_rows']} rows" if ivs.get("scale_rows") else ""
        calibrated = calibrated_text(iv.get("calibrated_range"), iv["coverage"])  # '' for bundles before the range
        out.print(f"{label}% interval ({ivs['method']} conformal, {ivs['n_calibration']} validation windows{scaled}): "
                  f"covers {iv['coverage']:.1%} of test actuals (nominal {iv['nominal']:.0%}{calibrated}), "
                  f"mean width {_fmt(iv['mean_width'])}")
    if m.get("lag_diagnostic"):
        out.print(f"lag diagnostic: {m['lag_diagnostic']['message']}")
    out.print(f"verdict: {train_verdict(m)}")


def print_panel_summary(metrics: dict, layout: str, device: str) -> None:
    from forecast.evaluation.scoring import pooled_sentence

    per, fit = metrics["test"]["series"], metrics.get("fit", "global")
    table = Table(title=f"Test part per series ({layout} format, {fit.replace('_', ' ')} model), errors in each "
                        "series' own units")
    for col in ("series", "forecasts", "test origins", "LSTM MAE", "naive MAE", "skill", "DM p", "80% coverage"):
        table.add_column(col, justify="left" if col in ("series", "forecasts") else "right")
    for sid, m in per.items():
        cov = next(iter(m.get("intervals", {}).get("levels", {}).values()), {}).get("coverage")
        table.add_row(sid, _shipped_short(m.get("hybrid"), m.get("network_weight")), str(m["n_origins"]),
                      f"{m['lstm']['mae']:,.4g}", f"{m['naive']['mae']:,.4g}",
                      _num(m["skill_vs_naive"], "+.1%"), _num(m["dm_test"]["p_value"], ".3g"),
                      "n/a" if cov is None else f"{cov:.1%}")
    out.print(table)
    out.print(f"{pooled_sentence(metrics['test']['pooled'])}; device {device}")


def _shipped_short(hybrid: dict | None, weight: float | None) -> str:
    """A table cell for what a series' forecasts are: "AutoARIMA + network x0.43", "AutoARIMA (weight 0)",
    "naive (weight 0)", "season + network x0.2", "network" (``verdict.shipped_label`` in a sentence)."""
    from forecast.evaluation.verdict import display_name, used_part

    part = used_part(hybrid)
    anchor = display_name(part) if part not in (None, "none") else "naive"
    if weight == 0:
        return f"{'naive' if part == 'season' else anchor} (weight 0)"
    if weight is None:
        return "network" if anchor == "naive" else f"{anchor} + network"
    return f"{anchor} + network x{weight:.2g}" if anchor != "naive" else f"network x{weight:.2g}"


def train_verdict(m: dict) -> str:
    """One sentence: does the LSTM beat naive on the test part, by how much, is it more than noise, and is a
    statistical baseline better still. "Not significant" is never followed by "beats"."""
    p = (m.get("dm_test") or {}).get("p_value")
    sig = "" if not known(p) else (f" (Diebold-Mariano p = {p:.3f}: " +
                                   ("significant)" if p < 0.05 else "not significant, could be noise)"))
    return f"skill vs naive {_num(m['skill_vs_naive'], '+.1%')} in MAE{sig} -> " + test_judgement(m)


def test_judgement(m: dict) -> str:
    """What a test part's metrics ``m`` say about the LSTM: against naive (a win only when the Diebold-Mariano
    test finds it significant) and, where a statistical baseline is more accurate, that one with its p-value.
    The train summary and the report both say it in these words."""
    from forecast.evaluation.scoring import beats_significantly
    from forecast.evaluation.verdict import shipped_label, shipped_name

    subject = shipped_label(m.get("hybrid"), m.get("network_weight"))
    short = shipped_name(m.get("hybrid"), m.get("network_weight"))  # said again after the subject
    if beats_significantly(m):
        text = f"{subject} beats the naive last-value forecast on the test part"
    elif m["beats_naive"]:
        error = f"the error of {subject}" if subject.endswith(")") else f"{subject}'s error"
        text = (f"{error} is lower than the naive forecast's, but not by more than noise; run "
                "`forecast backtest` before trusting it")
    else:
        text = (f"{subject} does NOT beat the naive last-value forecast; use the naive forecast, or run "
                f"`forecast backtest` before trusting {short}")
    name = better_baseline(m)
    if name is not None:
        from forecast.evaluation.verdict import apart

        r = m["baselines"]["models"][name]
        p_b = r.get("p_value_vs_lstm")
        theirs, lstm = apart(r["mae"], m["lstm"]["mae"])
        tested = ("Diebold-Mariano not tested: too few origins" if not known(p_b)
                  else f"Diebold-Mariano p = {p_b:.3g}" + (": significant" if p_b < 0.05 else ": not significant"))
        text += f"; {name} is more accurate on the same test part (MAE {theirs} against {short}'s {lstm}, {tested})"
    return text


def better_baseline(m: dict) -> str | None:
    """The test part's baseline with the lowest MAE, if that is below the LSTM's by more than float noise (with a
    network weight of 0 the shipped model's forecasts are its statistical part's, the same model)."""
    from forecast.evaluation.scoring import beats

    better = {n: r["mae"] for n, r in (m.get("baselines") or {}).get("models", {}).items()
              if beats(r["mae"], m["lstm"]["mae"])}
    return min(better, key=better.get) if better else None


def print_forecast(fc, written: Path | None = None) -> None:
    """The forecast table: one series with its origin in the title; many with an id column."""
    from forecast.data.calendar import stamp_text, stamps_text

    single = len(fc.ids) == 1
    start = next(iter(fc.history.values()))
    frame = fc.table()
    title = (f"Forecast{'' if fc.single else ' of ' + fc.ids[0]} from {stamp_text(start['date'].iloc[-1])} (last price "
             f"{_fmt(start['price'].iloc[-1])})" if single else f"Forecast of {len(fc.ids)} series")
    table = Table(title=title + (" — recursive beyond the trained horizon" if fc.recursive else ""))
    values = [c for c in frame.columns if c not in ("id", "date")]  # forecast, then interval bounds
    for col in frame.columns:
        table.add_column(col, justify="left" if col in ("id", "date") else "right")
    for d, when in zip(frame.to_dict("records"), stamps_text(frame["date"])):
        table.add_row(*([str(d["id"])] if "id" in d else []), when, *(_fmt(d[c]) for c in values))
    out.print(table)
    if written:
        out.print(f"written: {shell_path(written)}", highlight=False)


def forecast_chart(bundle, fc, sid: str, history: int | None = None):
    """One series' forecast chart: its history, its test-part 1-step forecasts (named as the verdict names the
    model: "shipped model" where the network's weight is 0), the forecast and its bands."""
    from forecast.data.calendar import stamp_text
    from forecast.evaluation.verdict import shipped_name
    from forecast.output.plots import forecast_figure

    target = bundle.data.get("target", "price")
    name = Path(bundle.data.get("path", "series")).name + ("" if bundle.single else f" [{sid}]")
    tp = bundle.test_predictions
    tests = None if tp is None else tp[tp["id"] == sid].drop(columns="id")
    frame = fc.of(sid)
    test = ((bundle.metrics or {}).get("test") or {}).get("series", {}).get(sid) or {}
    model = shipped_name(test.get("hybrid"), test.get("network_weight")).removeprefix("the ")
    return forecast_figure(fc.history[sid], frame, tests, model=model,
                           title=f"{name}: {target} forecast ({len(frame)} steps from "
                                 f"{stamp_text(fc.history[sid]['date'].iloc[-1])})",
                           units=target, plain_level=fc.levels[0] if len(fc.levels) == 1 else None,
                           history_points=history or HISTORY_POINTS, ylabel=target)


def forecast_charts(bundle, fc, history: int | None = None):
    """The chart ``predict --plot`` writes: the series' forecast chart, or for many series the grid of all."""
    from forecast.output.plots import grid_figure

    if len(fc.ids) == 1:
        return forecast_chart(bundle, fc, fc.ids[0], history)
    return grid_figure(fc, bundle.data.get("target"), history=history or HISTORY_POINTS,
                       test_predictions=bundle.test_predictions)


def each_series_charted(charts: str, n_series: int) -> bool:
    """Whether ``train --charts`` (auto, all or summary) draws every series' chart besides the grid."""
    return charts == "all" or (charts == "auto" and n_series <= SERIES_CHARTS_MAX)


def write_bundle_plots(bundle, out_dir: Path, history: int | None = None, workers: int = 1,
                       each_series: bool = True) -> list[Path]:
    """``forecast plot``: for a single-series file forecast.png and training_curve.png; for many, forecast_grid.png,
    forecast_<id>.png per series and one training curve per network (with ``each_series`` False, neither chart
    of each series: no forecast_<id>.png, and the curves only of a global model's one network); a long or wide
    file with one series left: forecast_<id>.png and its curve; ``workers``: see ``io.save_figures``."""
    from forecast.bundle import chart_file
    from forecast.io import save_figures
    from forecast.output.plots import training_curve_figure
    from forecast.workflows.predict import predict

    out_dir = Path(out_dir)
    fc = predict(bundle, levels=None)  # with the default interval

    def figures():  # built one at a time as save_figures asks for them
        if bundle.single:
            yield out_dir / chart_file(fc.ids[0], False), forecast_chart(bundle, fc, fc.ids[0], history)
        else:  # the grid first: the slowest to draw (5 s for 100 series), it starts while the others are built
            if len(fc.ids) > 1:  # a file's ids with one series left: its chart alone, named by its id
                yield out_dir / "forecast_grid.png", forecast_charts(bundle, fc, history)
            for sid in fc.ids if each_series or len(fc.ids) == 1 else ():
                yield out_dir / chart_file(sid, True), forecast_chart(bundle, fc, sid, history)
        for name, h in bundle.history.items() if each_series or len(bundle.history) == 1 else ():
            stem = "training_curve" if len(bundle.history) == 1 else f"training_curve_{name.removesuffix('.keras')}"
            title = "Training curve" + ("" if len(bundle.history) == 1 else f" ({name.removesuffix('.keras')})")
            yield out_dir / f"{stem}.png", training_curve_figure(h["history"], h.get("best_epoch"), title=title,
                                                                 dropout=bundle.config.model.dropout)

    return save_figures(figures(), workers=workers)


@contextlib.contextmanager
def warnings_on_stderr() -> Iterator[None]:
    """The tool's own warnings about the user's data (skipped series or rows, a guessed day/month order, missing
    values, weeks, months or quarters filled) become one ``warning:`` line each on stderr, repeats once; other
    warnings pass through unchanged."""
    from forecast.data.load import FilledValuesWarning, MissingPeriodsWarning
    from forecast.data.panel import SkippedSeriesWarning, TrimmedRowsWarning
    from forecast.data.read import DateOrderWarning, TitleLinesWarning
    from forecast.errors import DifferentDataWarning

    ours = (SkippedSeriesWarning, TrimmedRowsWarning, DateOrderWarning, MissingPeriodsWarning, FilledValuesWarning,
            DifferentDataWarning, TitleLinesWarning)
    with warnings.catch_warnings(record=True) as caught:
        for category in ours:
            warnings.simplefilter("always", category)
        yield
    shown = set()
    for w in caught:
        if issubclass(w.category, ours):
            if str(w.message) not in shown:
                shown.add(str(w.message))
                err.print(f"warning: {w.message}", markup=False, highlight=False)
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)


def trial_progress(total: int):
    """An Optuna callback printing one line per finished tuning trial on stderr: its number, validation loss (or
    why it has none), its settings, and the best loss so far."""
    def report(study, trial) -> None:
        done = [t for t in study.trials if t.state.name == "COMPLETE"]
        best = f"; best so far {min(t.value for t in done):.4g}" if done else ""
        what = f"validation loss {trial.value:.4g}" if trial.state.name == "COMPLETE" else trial.state.name.lower()
        settings = ", ".join(f"{k} {v:.3g}" if isinstance(v, float) else f"{k} {v}" for k, v in trial.params.items())
        seconds = (trial.datetime_complete - trial.datetime_start).total_seconds() if trial.datetime_complete else 0
        note(f"trial {trial.number} ({len(study.trials)} of {total}): {what} ({settings}) in {seconds:.1f} s{best}")
    return report


def print_trials(trials, top: int = 10) -> None:
    """The best completed tuning trials (lowest validation loss first), with how many were pruned or failed."""
    done = trials[trials["state"] == "COMPLETE"].sort_values("value").head(top)
    table = Table(title=f"Top {len(done)} of {len(trials)} trials (validation loss, lower is better)")
    columns = [c for c in trials.columns if c not in ("state",)]
    for col in columns:
        table.add_column(col, justify="right")
    for row in done[columns].itertuples(index=False):
        table.add_row(*(f"{v:.4g}" if isinstance(v, float) else str(v) for v in row))
    out.print(table)
    other = trials["state"].value_counts().drop("COMPLETE", errors="ignore")
    if len(other):
        out.print(", ".join(f"{n} {state.lower()}" for state, n in other.items()))


def print_backtest(report: dict, written: list | None = None) -> None:
    """The backtest table (every model, lowest MAE first, the verdict's best marked), the verdict, the
    Diebold-Mariano tests (LSTM vs naive, LSTM vs the best other model), the lag diagnostic and any notes."""
    from forecast.evaluation.intervals import level_label, range_sentence
    from forecast.evaluation.verdict import display_name, display_order, heading_name, ranking_of, text_of

    s = report["settings"]
    verdict = report.get("verdict")
    best = verdict.get("best") if isinstance(verdict, dict) else None
    tails = s.get("fit_tail") or {}  # settings: what each statistical model was fitted on
    caption = f"origins {report['origins'][0]} .. {report['origins'][-1]}; {s['retraining']}"
    if tails:
        by_tail: dict[int, list[str]] = {}
        for name, n in tails.items():
            by_tail.setdefault(n, []).append(name)
        caption += "; fitted on at most the last " + ", ".join(
            f"{n:,} prices ({', '.join(names)})" for n, names in sorted(by_tail.items()))
    of = f" of series {report['series_id']}" if report.get("series_id") else ""
    table = Table(title=f"Walk-forward backtest{of}: {s['folds']} folds x {s['horizon']} steps "
                        f"({s['window_type']} window, step {s['step']}); lowest MAE first",
                  caption=caption)
    cols = [("model", None, None), ("MAE", "mae", None), ("MASE", "mase", None), ("RMSE", "rmse", None),
            ("MAPE", "mape", None), ("sMAPE", "smape", None), ("direction", "directional_accuracy", None),
            ("skill vs naive", "skill_vs_naive", None)]
    models = report["models"]
    levels = list(dict.fromkeys(lv for m in models.values() for lv in m.get("coverage") or {}))  # --interval's
    for level in levels:
        pct = f"{level_label(float(level))}%"
        cols += [(f"{pct} coverage", "coverage", level), (f"{pct} width", "width", level)]
    for label, _, _ in cols:
        table.add_column(label, justify="left" if label == "model" else "right", no_wrap=label == "model")
    order = ranking_of(verdict) or []  # complete models, finite MAE
    ranked = display_order({n: models[n]["mae"] for n in models}, order)

    def cell(key, v, level):
        if isinstance(v, dict):  # interval scores by level
            v = v.get(level)
        if key == "coverage" and v is not None:
            return f"{v:.1%}"
        if v is None:
            return "n/a"
        if key in ("directional_accuracy", "skill_vs_naive"):
            return f"{v:+.1%}" if key == "skill_vs_naive" else f"{v:.1%}"
        return _fmt(v, pct=key in ("mape", "smape")) if key != "mase" else f"{v:.3f}"

    from forecast.evaluation.scoring import beats

    lowest = models[best]["mae"] if best in models and models[best]["mae"] is not None else None
    for name in ranked:
        mae = models[name]["mae"]
        tied = name != best and name in order and lowest is not None and not beats(lowest, mae)
        label = f"{name} (lowest MAE)" if name == best else f"{name} (tied, to rounding)" if tied else name
        table.add_row(label, *(cell(key, models[name].get(key), level) for _, key, level in cols[1:]))
    out.print(table)
    for level in (lv for lv in levels if lv in (report.get("coverage_range") or {})):
        out.print(range_sentence(float(level), report["coverage_range"][level],
                                 {n: (models[n].get("coverage") or {}).get(level) for n in ranked}), highlight=False)
    out.print(f"[bold]verdict:[/bold] {text_of(verdict)}")
    if report.get("dm_test"):
        dm = report["dm_test"]
        for test, text in ((dm, dm.get("verdict")), (dm.get("vs_best"), None)):
            if not test or (text is None and test["models"] == dm["models"]):  # best other model: naive
                continue
            other = display_name(test["models"][1])
            stat = "n/a" if test["statistic"] is None else f"{test['statistic']:+.2f}"
            p = test["p_value"]
            text = text or ("not tested: too few forecast origins" if p is None else
                            f"{'significant' if p < 0.05 else 'not significant'} (p = {p:.3g})")
            out.print(f"Diebold-Mariano ({heading_name(verdict)} vs {other}, {test['loss']} errors, {test['n']} "
                      f"origins): statistic {stat}: {text}")
    if report.get("network_weight"):
        out.print(f"network weight: {report['network_weight']['message']}", highlight=False)
    if report.get("lag_diagnostic"):
        out.print(f"lag diagnostic: {report['lag_diagnostic']['message']}")
    for note in report.get("notes", []):
        out.print(f"[yellow]note:[/yellow] {note}")
    for sid, why in (report.get("skipped") or {}).items():
        out.print(f"[yellow]skipped {sid}:[/yellow] {why}", highlight=False)
    if written:
        out.print(f"written: {', '.join(map(str, written))}")


def one_series_view(report: dict) -> dict:
    """A backtest report as ``print_backtest`` reads it: a single-series file's as it is; a long or wide file's
    with one series left, that series' report with the run's settings and its skipped series (its verdict tests
    the LSTM against the best model too, which the pooled one does not)."""
    if "series" not in report:
        return report
    ((sid, r),) = report["series"].items()
    return {**r, "settings": report["settings"], "skipped": report.get("skipped"), "series_id": sid}


def print_panel_backtest(report: dict, written: list | None = None) -> None:
    """Many series: mean MASE and skill per model, each series' LSTM-vs-naive evidence, the pooled verdict."""
    from forecast.evaluation.verdict import display_order, ranking_of, same_score, text_of

    p, s = report["pooled"], report["settings"]
    table = Table(title=f"Backtest over {len(report['ids'])} series ({s['fit'] or 'no network'} fit, "
                        f"{s['folds']} folds x {s['horizon']} steps): mean MASE per model")
    for col in ("model", "mean MASE", "mean skill vs naive", "series"):
        table.add_column(col, justify="left" if col == "model" else "right")
    for name in display_order({n: m["mean_mase"] for n, m in p["models"].items()}, ranking_of(report["verdict"])):
        m = p["models"][name]
        table.add_row(name, "n/a" if m["mean_mase"] is None else f"{m['mean_mase']:.3f}",
                      "n/a" if m["mean_skill_vs_naive"] is None else f"{m['mean_skill_vs_naive']:+.1%}",
                      str(m["n_series"]))
    out.print(table)
    if p.get("evidence"):
        ev = Table(title="LSTM vs naive per series")
        for col in ("series", "origins", "forecasts", "LSTM MAE", "naive MAE", "DM p", "lower MAE"):
            ev.add_column(col, justify="left" if col == "series" else "right")
        for sid, e in p["evidence"].items():
            r = report["series"][sid]
            mae, naive = r["models"]["lstm"]["mae"], r["naive_mae"]
            tie = e["lstm_beats_naive"] is False and known(mae) and known(naive) and same_score(mae, naive)
            ev.add_row(sid, str(e["origins"]), str(e["forecasts"]), _fmt(mae), _fmt(naive),
                       "n/a" if e["p_value"] is None else f"{e['p_value']:.3g}",
                       "the same" if tie else {True: "LSTM", False: "naive", None: "n/a (a fold failed)"}[
                           e["lstm_beats_naive"]])
        out.print(ev)
    out.print(f"[bold]verdict:[/bold] {text_of(report['verdict'])}", highlight=False)
    for sid, why in report.get("skipped", {}).items():
        out.print(f"[yellow]skipped {sid}:[/yellow] {why}", highlight=False)
    for note in report.get("notes", []):
        out.print(f"[yellow]note:[/yellow] {note}", highlight=False)
    if written:
        out.print(f"written: {shell_path(written[0])} and {len(written) - 1} more files", highlight=False)
