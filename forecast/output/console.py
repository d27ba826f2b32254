"""What the CLI shows: rich tables in the terminal and the standard PNG charts of a bundle."""

from __future__ import annotations

import sys
from pathlib import Path

from rich.console import Console
from rich.table import Table

# Lines wrap in the terminal, not mid-phrase; piped into a file, tables get room for every column
# instead of rich's default 80 (which truncated the backtest scoreboard to "1.2…").
PIPED_WIDTH = 160
err = Console(stderr=True, soft_wrap=True, width=None if sys.stderr.isatty() else PIPED_WIDTH)
out = Console(soft_wrap=True, width=None if sys.stdout.isatty() else PIPED_WIDTH)


def _fmt(v: float, pct: bool = False) -> str:
    return f"{v:,.2f}%" if pct else f"{v:,.2f}"


def print_train_summary(outcome) -> None:
    """Test-part scores of the LSTM next to the naive forecast, and whether the difference is real."""
    m, t = outcome.metrics["test"], outcome.metrics["training"]
    out.print(f"Test part {m['first_origin']} .. {m['last_date']}: {m['n_origins']} origins x {m['horizon']} "
              "steps, errors in price units")
    table = Table()
    for col in ("model", "MAE", "RMSE", "MAPE", "MASE", "direction"):
        table.add_column(col, justify="right" if col != "model" else "left")
    for name in ("lstm", "naive"):
        r = m[name]
        table.add_row(name, _fmt(r["mae"]), _fmt(r["rmse"]), _fmt(r["mape"], pct=True), f"{r['mase']:.3f}",
                      f"{r['directional_accuracy']:.1%}")
    out.print(table)
    out.print(f"epochs run: {t['epochs_run']} (best {t['best_epoch']}, "
              f"{'early-stopped' if t['stopped_early'] else 'hit --epochs'}); best validation loss "
              f"{t['best_val_loss']:.4g}; device {outcome.device}")
    ivs = outcome.metrics.get("intervals", {})
    for label, iv in ivs.get("levels", {}).items():
        out.print(f"{label}% interval ({ivs['method']} conformal, {ivs['n_calibration']} validation windows): "
                  f"covers {iv['coverage']:.1%} of test actuals (nominal {iv['nominal']:.0%}), "
                  f"mean width {_fmt(iv['mean_width'])}")
    if m.get("lag_diagnostic"):
        out.print(f"lag diagnostic: {m['lag_diagnostic']['message']}")
    out.print(f"verdict: {train_verdict(m)}")


def train_verdict(m: dict) -> str:
    """One sentence: does the LSTM beat naive on the test part, by how much, and is it more than noise."""
    dm = m.get("dm_test") or {}
    p = dm.get("p_value", float("nan"))
    sig = "" if p != p else (f" (Diebold-Mariano p = {p:.3f}: " +
                             ("significant)" if p < 0.05 else "not significant, could be noise)"))
    head = f"skill vs naive {m['skill_vs_naive']:+.1%} in MAE{sig} -> "
    if m["beats_naive"]:
        return head + "the LSTM beats the naive last-value forecast on the test part"
    return head + ("the LSTM does NOT beat the naive last-value forecast; use the naive forecast, or run "
                   "`forecast backtest` before trusting the LSTM")


def print_forecast(bundle, fc, written: Path | None) -> None:
    out.print(f"Forecast from {fc.origin_date.date()} (last price {fc.origin_price:,.2f})"
              + (" — recursive beyond the trained horizon" if fc.recursive else ""))
    table = Table()
    for col in fc.frame.columns:
        table.add_column(col, justify="left" if col == "date" else "right")
    for row in fc.frame.itertuples(index=False):
        table.add_row(str(row[0].date()) if row[0].hour == 0 and row[0].minute == 0 else str(row[0]),
                      *(_fmt(v) for v in row[1:]))
    out.print(table)
    if written:
        out.print(f"written: {written}")


def forecast_chart(bundle, fc):
    from forecast.output.plots import forecast_figure

    target = bundle.data.get("target", "price")
    return forecast_figure(fc.history, fc.frame, bundle.test_predictions,
                           title=f"{Path(bundle.data.get('path', 'series')).name}: {target} forecast "
                                 f"({len(fc.frame)} steps from {fc.origin_date.date()})",
                           units=target, plain_level=fc.levels[0] if len(fc.levels) == 1 else None)


def write_bundle_plots(bundle_dir: Path, out_dir: Path) -> list[Path]:
    """forecast.png and training_curve.png for a bundle, saved in ``out_dir``."""
    from forecast.bundle import load_bundle
    from forecast.io import save_figure
    from forecast.output.plots import training_curve_figure
    from forecast.workflows.predict import predict

    bundle = load_bundle(bundle_dir)
    out_dir = Path(out_dir)
    fc = predict(bundle, levels=None)  # with the default interval when the bundle has a calibration
    paths = [save_figure(forecast_chart(bundle, fc), out_dir / "forecast.png"),
             save_figure(training_curve_figure(bundle.history["history"], bundle.history.get("best_epoch")),
                         out_dir / "training_curve.png")]
    return paths


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
    from forecast.evaluation.intervals import level_label
    from forecast.evaluation.verdict import display_name, text_of

    s = report["settings"]
    verdict = report.get("verdict")
    best = verdict.get("best") if isinstance(verdict, dict) else None
    tails = report.get("fit_tail") or {}
    caption = f"origins {report['origins'][0]} .. {report['origins'][-1]}; {s['retraining']}"
    if tails:
        by_tail: dict[int, list[str]] = {}
        for name, n in tails.items():
            by_tail.setdefault(n, []).append(name)
        caption += "; fitted on at most the last " + ", ".join(
            f"{n:,} prices ({', '.join(names)})" for n, names in sorted(by_tail.items()))
    table = Table(title=f"Walk-forward backtest: {s['folds']} folds x {s['horizon']} steps "
                        f"({s['window_type']} window, step {s['step']}); lowest MAE first",
                  caption=caption)
    cols = [("model", None), ("MAE", "mae"), ("MASE", "mase"), ("RMSE", "rmse"), ("MAPE", "mape"),
            ("sMAPE", "smape"), ("direction", "directional_accuracy"), ("skill vs naive", "skill_vs_naive")]
    models = report["models"]
    level = next((lv for m in models.values() for lv in m.get("coverage") or {}), None)  # the first level
    if level is not None:
        pct = f"{level_label(float(level))}%"
        cols += [(f"{pct} coverage", "coverage"), (f"{pct} width", "width")]
    for label, _ in cols:
        table.add_column(label, justify="left" if label == "model" else "right", no_wrap=label == "model")
    ranked = sorted(models, key=lambda n: float("inf") if models[n]["mae"] is None else models[n]["mae"])

    def cell(key, v):
        if isinstance(v, dict):  # interval scores by level
            v = v.get(level)
        if key == "coverage" and v is not None:
            return f"{v:.1%}"
        if v is None:
            return "n/a"
        if key in ("directional_accuracy", "skill_vs_naive"):
            return f"{v:+.1%}" if key == "skill_vs_naive" else f"{v:.1%}"
        return _fmt(v, pct=key in ("mape", "smape")) if key != "mase" else f"{v:.3f}"

    for name in ranked:
        label = f"{name} (best)" if name == best else name
        table.add_row(label, *(cell(key, models[name].get(key)) for _, key in cols[1:]))
    out.print(table)
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
            out.print(f"Diebold-Mariano (LSTM vs {other}, {test['loss']} errors, n = {test['n']}): "
                      f"statistic {stat}: {text}")
    if report.get("lag_diagnostic"):
        out.print(f"lag diagnostic: {report['lag_diagnostic']['message']}")
    for note in report.get("notes", []):
        out.print(f"[yellow]note:[/yellow] {note}")
    if written:
        out.print(f"written: {', '.join(map(str, written))}")
