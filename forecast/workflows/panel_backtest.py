"""``backtest --id-col``: the walk-forward backtest of every series of a long file, plus pooled metrics.

Each series is backtested on its own by ``backtest.backtest_series`` (the LSTM refit per series and fold,
and the baselines, on the same origins); a series too short for the folds is skipped with a note. Pooled
over the series: per model the mean MASE and MAE skill, and on how many series the LSTM beats the naive
forecast (lower MAE). Written: ``<out>/<series>/`` (the usual backtest files) and ``<out>/metrics.json``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from forecast.evaluation.backtest import Backtest, backtest_series, check_out_dir, parse_models, write_outputs
from forecast.data.load import PriceSeries
from forecast.data.read import fingerprint
from forecast.errors import ForecastError, InputError
from forecast.data.panel import load_panel
from forecast.workflows.per_series import slug


@dataclass
class PanelBacktest:
    report: dict  # pooled and per-series metrics (the metrics.json object)
    series: dict[str, Backtest]


def pooled(per_series: dict[str, dict]) -> dict:
    """Mean MASE and skill per model over the series, and how many series the LSTM wins against naive."""
    names = sorted({m for models in per_series.values() for m in models})
    out = {}
    for name in names:
        rows = [models[name] for models in per_series.values() if name in models]
        finite = [r["mase"] for r in rows if math.isfinite(r["mase"])]
        out[name] = {"mean_mase": float(np.mean(finite)) if finite else float("nan"), "n_series": len(rows)}
    wins = [m["lstm"]["mae"] < m["naive"]["mae"] for m in per_series.values() if "lstm" in m and "naive" in m]
    return {"models": out, "lstm_beats_naive": int(sum(wins)), "n_compared": len(wins)}


def backtest_panel(data_path: Path, cfg, *, id_col: str, **kwargs) -> PanelBacktest:
    panel = load_panel(data_path, target=cfg.data.target, date_col=cfg.data.date_col, max_fill=cfg.data.max_fill,
                       id_col=id_col)
    results, skipped = {}, dict(panel.skipped)
    for s in panel.series:
        ps = PriceSeries(s.prices, s.dates, panel.target, panel.date_col, s.freq, f"{data_path} [series {s.id}]", 0)
        try:
            results[s.id] = backtest_series(ps, cfg, data_info={**fingerprint(data_path), "id": s.id}, **kwargs)
        except InputError as e:
            skipped[s.id] = str(e)
        except ForecastError as e:  # e.g. too short for the folds
            skipped[s.id] = str(e)
    if not results:
        raise InputError(f"{data_path}: no series could be backtested ({'; '.join(f'{k}: {v}' for k, v in skipped.items())})")
    per = {sid: {name: {k: m[k] for k in ("mae", "mase", "skill_vs_naive") if k in m}
                 for name, m in bt.report["models"].items()} for sid, bt in results.items()}
    report = {"pooled": pooled(per), "series": per, "verdicts": {sid: bt.report["verdict"] for sid, bt in results.items()},
              "skipped": skipped, "ids": list(results)}
    return PanelBacktest(report, results)


def write_panel_outputs(result: PanelBacktest, out_dir: Path, force: bool = False) -> list[Path]:
    from forecast.io import write_json

    check_out_dir(out_dir, force)
    written = [p for sid, bt in result.series.items() for p in write_outputs(bt, Path(out_dir) / slug(sid), force)]
    return [write_json(Path(out_dir) / "metrics.json", result.report), *written]


def print_summary(report: dict, written: list[Path]) -> None:
    from rich.table import Table

    from forecast.output.console import out

    p = report["pooled"]
    table = Table(title=f"Backtest over {len(report['ids'])} series: mean MASE per model (below 1 beats in-sample naive)")
    table.add_column("model")
    table.add_column("mean MASE", justify="right")
    for name, m in sorted(p["models"].items(), key=lambda kv: kv[1]["mean_mase"]):
        table.add_row(name, f"{m['mean_mase']:.3f}")
    out.print(table)
    if p["n_compared"]:
        out.print(f"the LSTM beats the naive forecast on {p['lstm_beats_naive']} of {p['n_compared']} series (MAE)")
    if report["skipped"]:
        out.print(f"[yellow]skipped: {', '.join(report['skipped'])}[/yellow]")
    out.print(f"written: {written[0]} and one folder per series")


@dataclass(frozen=True)
class Runner:
    """Stands in for the backtest module in the CLI when ``--id-col`` is given (same call shapes)."""

    id_col: str

    def run_backtest(self, data_path: Path, cfg, **kwargs) -> PanelBacktest:
        return backtest_panel(data_path, cfg, id_col=self.id_col, **kwargs)

    parse_models = staticmethod(parse_models)
    write_outputs = staticmethod(write_panel_outputs)
    print_summary = staticmethod(print_summary)
