"""What the CLI shows: rich tables in the terminal and the standard PNG charts of a bundle."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.table import Table

err = Console(stderr=True)
out = Console()


def _fmt(v: float, pct: bool = False) -> str:
    return f"{v:,.2f}%" if pct else f"{v:,.2f}"


def print_train_summary(outcome) -> None:
    """Epochs run, best validation loss, and test MAE/RMSE/MAPE of the LSTM next to the naive forecast."""
    m, t = outcome.metrics["test"], outcome.metrics["training"]
    table = Table(title="Test part, price units",
                  caption=f"{m['first_origin']} .. {m['last_date']}: {m['n_origins']} origins x {m['horizon']} steps")
    for col in ("model", "MAE", "RMSE", "MAPE"):
        table.add_column(col, justify="right" if col != "model" else "left")
    for name in ("lstm", "naive"):
        table.add_row(name, _fmt(m[name]["mae"]), _fmt(m[name]["rmse"]), _fmt(m[name]["mape"], pct=True))
    out.print(table)
    out.print(f"epochs run: {t['epochs_run']} (best {t['best_epoch']}, "
              f"{'early-stopped' if t['stopped_early'] else 'hit --epochs'}); best validation loss "
              f"{t['best_val_loss']:.4g}; device {outcome.device}")
    ivs = outcome.metrics.get("intervals", {})
    for label, iv in ivs.get("levels", {}).items():
        out.print(f"{label}% interval ({ivs['method']} conformal, {ivs['n_calibration']} validation windows): "
                  f"covers {iv['coverage']:.1%} of test actuals (nominal {iv['nominal']:.0%}), "
                  f"mean width {_fmt(iv['mean_width'])}")
    verdict = "beats" if m["beats_naive"] else "does NOT beat"
    out.print(f"skill vs naive: {m['skill_vs_naive']:+.1%} -> the LSTM {verdict} the naive last-value "
              "forecast on the test part" + ("" if m["beats_naive"] else "; use the naive forecast or retrain"))


def print_forecast(bundle, fc, written: Path | None) -> None:
    table = Table(title=f"Forecast from {fc.origin_date.date()} (last price {fc.origin_price:,.2f})"
                  + (" — recursive beyond the trained horizon" if fc.recursive else ""))
    for col in fc.frame.columns:
        table.add_column(col, justify="left" if col == "date" else "right")
    for row in fc.frame.itertuples(index=False):
        table.add_row(str(row[0].date()) if row[0].hour == 0 and row[0].minute == 0 else str(row[0]),
                      *(_fmt(v) for v in row[1:]))
    out.print(table)
    if written:
        out.print(f"written: {written}")


def forecast_chart(bundle, fc):
    from forecast.plot import forecast_figure

    target = bundle.data.get("target", "price")
    return forecast_figure(fc.history, fc.frame, bundle.test_predictions,
                           title=f"{Path(bundle.data.get('path', 'series')).name}: {target} forecast "
                                 f"({len(fc.frame)} steps from {fc.origin_date.date()})",
                           units=target)


def write_bundle_plots(bundle_dir: Path, out_dir: Path) -> list[Path]:
    """forecast.png and training_curve.png for a bundle, saved in ``out_dir``."""
    from forecast.bundle import load_bundle
    from forecast.io import save_figure
    from forecast.plot import training_curve_figure
    from forecast.predict import predict

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
    """The backtest table (best MASE first), the verdict, the DM test, the lag diagnostic and any notes."""
    from forecast.intervals import level_label

    s = report["settings"]
    table = Table(title=f"Walk-forward backtest: {s['folds']} folds x {s['horizon']} steps "
                        f"({s['window_type']} window, step {s['step']})",
                  caption=f"origins {report['origins'][0]} .. {report['origins'][-1]}; {s['retraining']}")
    cols = [("model", None), ("MASE", "mase"), ("MAE", "mae"), ("RMSE", "rmse"), ("MAPE", "mape"),
            ("sMAPE", "smape"), ("direction", "directional_accuracy"), ("skill vs naive", "skill_vs_naive")]
    models = report["models"]
    level = next((lv for m in models.values() for lv in m.get("coverage") or {}), None)  # the first level
    if level is not None:
        pct = f"{level_label(float(level))}%"
        cols += [(f"{pct} coverage", "coverage"), (f"{pct} width", "width")]
    for label, _ in cols:
        table.add_column(label, justify="left" if label == "model" else "right", no_wrap=label == "model")
    ranked = sorted(models, key=lambda n: float("inf") if models[n]["mase"] is None else models[n]["mase"])

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
        table.add_row(name, *(cell(key, models[name].get(key)) for _, key in cols[1:]))
    out.print(table)
    out.print(f"[bold]verdict:[/bold] {report['verdict']}")
    if report.get("dm_test"):
        dm = report["dm_test"]
        stat = "n/a" if dm["statistic"] is None else f"{dm['statistic']:+.2f}"
        out.print(f"Diebold-Mariano (LSTM vs naive, {dm['loss']} errors, n = {dm['n']}): statistic {stat}: "
                  f"{dm['verdict']}")
    if report.get("lag_diagnostic"):
        out.print(f"lag diagnostic: {report['lag_diagnostic']['message']}")
    for note in report.get("notes", []):
        out.print(f"[yellow]note:[/yellow] {note}")
    if written:
        out.print(f"written: {', '.join(map(str, written))}")
