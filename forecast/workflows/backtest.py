"""Backtest a file: load it as ``cfg.data`` describes (one series or many), run the walk-forward backtest
(evaluation/backtest.py), and write metrics.json, forecasts.csv and the PNGs into a folder, atomically."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import pandas as pd

from forecast.bundle import default_dir
from forecast.config import RunConfig
from forecast.data.panel import Series, load_configured
from forecast.data.read import fingerprint
from forecast.errors import ForecastError
from forecast.io import check_can_write
from forecast.evaluation.backtest import Backtest, backtest


def run_backtest(data_path: Path, cfg: RunConfig, **kwargs) -> Backtest:
    """Load ``data_path`` as ``cfg.data`` describes (one series or many) and backtest it (see ``backtest``)."""
    return backtest(load_configured(data_path, cfg.data), cfg, data_info=fingerprint(data_path), **kwargs)


def default_out_dir(data_path: Path) -> Path:
    return Path("backtest") / default_dir(data_path).name


def is_backtest_dir(path: Path) -> bool:
    """A folder ``write_outputs`` wrote: metrics.json and forecasts.csv, and no bundle's manifest.json (a bundle
    has a metrics.json too)."""
    path = Path(path)
    return ((path / "metrics.json").is_file() and (path / "forecasts.csv").is_file()
            and not (path / "manifest.json").exists())


BACKTEST_DIR = "backtest folder (metrics.json and forecasts.csv, no manifest.json)"


def check_out_dir(path: Path, force: bool, replaceable: Callable[[Path], bool] = is_backtest_dir,
                  what: str = BACKTEST_DIR) -> None:
    """Fail before any work unless ``path`` is new, empty, or (with ``force``) a folder ``replaceable`` recognises
    as an earlier run's (a backtest's, or tune's)."""
    from forecast.bundle import check_writable

    path = Path(path)
    if path.exists() and not path.is_dir():
        raise ForecastError(f"--out {path}: exists and is not a folder; choose another --out folder")
    check_can_write(path, "--out")
    if path.is_dir() and any(path.iterdir()) and not force:
        raise ForecastError(f"--out {path}: folder exists and is not empty; pass --force to replace it "
                            "or choose another --out folder")
    if path.is_dir() and any(path.iterdir()):
        check_writable(path, force, replaceable, what)


def write_outputs(bt: Backtest, out_dir: Path, force: bool = False, workers: int = 1) -> list[Path]:
    """metrics.json, forecasts.csv and the PNGs (with intervals also coverage_by_horizon.png), atomically; for a
    long or wide file the PNGs of each series in the sub-folder metrics.json names (``charts_folder``, its id's
    slug). ``workers``: see ``io.save_figures``."""
    from forecast.bundle import atomic_dir, slug
    from forecast.io import save_figures, write_csv, write_json

    check_out_dir(out_dir, force)
    out_dir = Path(out_dir)
    single = "series" not in bt.report
    report = bt.report if single else {  # each series' charts folder named, so a reader need not know the slug rule
        **bt.report, "series": {sid: {**r, "charts_folder": slug(sid)} for sid, r in bt.report["series"].items()}}
    with atomic_dir(out_dir, force=True, replaceable=is_backtest_dir, what=BACKTEST_DIR) as tmp:
        written = [write_json(tmp / "metrics.json", report), write_csv(tmp / "forecasts.csv", bt.forecasts)]

        def charts():  # every series' charts, built one at a time as save_figures draws them (in parallel)
            for s in bt.panel:
                own = report if single else report["series"][s.id]
                folder = tmp if single else tmp / own["charts_folder"]
                frame = bt.forecasts if single else bt.forecasts[bt.forecasts["id"] == s.id].drop(columns="id")
                yield from _series_charts(s, own, frame, folder, bt.panel.target)

        written += save_figures(charts(), workers=workers)
    return [out_dir / p.relative_to(tmp) for p in written]


def _series_charts(s: Series, report: dict, frame: pd.DataFrame, folder: Path, target: str):
    """(path, figure) of each chart of one series' backtest."""
    from forecast.output import plots

    history = pd.DataFrame({"date": s.dates, "price": s.values})
    yield folder / "forecasts_by_fold.png", plots.backtest_forecasts_figure(frame, history, ylabel=target)
    yield folder / "mae_by_horizon.png", plots.backtest_horizon_figure(report["models"], ylabel=f"MAE ({target})")
    yield folder / "mase_by_model.png", plots.backtest_mase_figure(report["models"])
    if any(m.get("coverage") for m in report["models"].values()):
        yield folder / "coverage_by_horizon.png", plots.backtest_coverage_figure(report["models"])
