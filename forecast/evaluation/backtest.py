"""Walk-forward backtest: every model forecasts from the same origins; scores, tests and a verdict.

``backtest_series`` builds the folds (folds.py), turns them into ``FoldTask`` units of work, maps
``folds.run_fold`` over them with ``executor`` (default: ``executors.SEQUENTIAL``, the built-in ``map``; a
process pool or Ray from ``executors.open_executor``, with the same results; executors.py says how exactly)
and scores the forecasts with metrics.py against the naive forecast.
``run_backtest`` does the same for a file;
``write_outputs`` writes metrics.json, forecasts.csv and the PNGs into a folder, atomically.

Prediction intervals (``levels``, e.g. ``(0.8,)``; ``()`` for none) are made the same way for every
model, LSTM and baselines, so their coverage can be compared: each fit is calibrated with split
conformal (intervals.ConformalCalibrator, symmetric) on that model's own residuals at the origins of
the fit's validation part — the last ``val_frac`` of the prices it was fitted on, at most
``folds.CALIBRATION_ORIGINS`` of them evenly spaced (folds.calibration_origins). The LSTM forecasts
them with ``predict_origins``; baselines forecast from each truncated history (the statistical ones
refit on it). Every calibration target lies at or before the fit's end, so nothing after a fold's
origin is used; folds that reuse an earlier fit reuse its calibration. Residuals are log ratios when
all the fit's prices are positive, else differences. Each model's entry in the report gains
``coverage``, ``width``, ``winkler`` and ``pinball`` (the mean of the pinball losses of the lower bound
at ``(1 - L) / 2`` and the upper bound at ``(1 + L) / 2``), keyed by level (``"0.8"``), and each
``per_horizon`` entry a ``coverage``; forecasts.csv gains the bounds (intervals.column_names).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

import numpy as np
import pandas as pd

from forecast.evaluation import intervals as IV
from forecast.evaluation import metrics as M
from forecast.evaluation import verdict as V
from forecast.models.baselines import BASELINES, fit_tails, season_for
from forecast.config import RunConfig
from forecast.data.load import PriceSeries, load_prices
from forecast.data.read import fingerprint
from forecast.errors import ForecastError
from forecast.executors import SEQUENTIAL
from forecast.data.windows import label_index
from forecast.evaluation.folds import CALIBRATION_ORIGINS, Fold, FoldResult, FoldTask, make_folds, run_fold

MODELS = ("lstm", *BASELINES)
DEFAULT_MODELS = ("lstm", "naive", "seasonal_naive", "drift", "arima", "ets", "theta", "mstl", "comb")
SIGNIFICANCE = V.SIGNIFICANCE
DM_LOSS = V.DM_LOSS  # the same loss as MAE, the headline metric
BASELINE_MIN_TRAIN = 20
MAX_LAG = 5


@dataclass
class Backtest:
    report: dict  # the metrics.json object
    forecasts: pd.DataFrame  # origin, date, step, model, forecast, actual
    series: PriceSeries


def parse_models(text: str | Iterable[str]) -> tuple[str, ...]:
    """'lstm,naive' -> ('lstm', 'naive'); unknown names are an error listing the known ones."""
    names = [m.strip() for m in (text.split(",") if isinstance(text, str) else text) if m.strip()]
    unknown = [m for m in names if m not in MODELS]
    if unknown or not names:
        raise ForecastError(f"--models: unknown model {', '.join(map(repr, unknown)) or '(none given)'}; "
                            f"choose from {', '.join(MODELS)}")
    return tuple(dict.fromkeys(names))


def lstm_min_rows(cfg: RunConfig) -> int:
    """The fewest prices LSTMForecaster.fit can train on (8 training windows, 1 validation window)."""
    from forecast.data.transforms import Preprocessor
    from forecast.data.windows import Split

    w = cfg.window
    offset = Preprocessor(w.transform).offset
    n = w.window + w.horizon + offset
    while True:
        n_val = max(int(round(n * w.val_frac)), w.horizon)
        s = Split(n - n_val, n_val, 0, offset, w.window, w.horizon)
        if len(s.train_origins) >= 8 and len(s.val_origins) >= 1:
            return n
        n += 1


def _tasks(prices, folds: list[Fold], model: str, cfg, season: int, warm: bool,
           calibrate: bool = False) -> list[FoldTask]:
    """One task per retraining fold, covering the later folds that reuse its fit."""
    groups = [[f] for f in folds if f.retrain]
    for f in folds:
        if not f.retrain:
            groups[-1].append(f)
    n, tasks = len(prices), []
    for i, g in enumerate(groups):
        one_step = None
        if model == "lstm":  # step-1 predictions until the next fit (or the last possible origin)
            one_step = groups[i + 1][0].origin - 1 if i + 1 < len(groups) else n - 2
        end = max(g[-1].origin, one_step or 0)
        tasks.append(FoldTask(model, prices[: end + 1], g[0].train_start, g[0].origin,
                              tuple((f.index, f.train_start, f.origin) for f in g), cfg.window.horizon,
                              season, cfg, keep_weights=warm and model == "lstm", one_step_until=one_step,
                              calibrate=calibrate))
    return tasks


def _execute(tasks: list[FoldTask], chained: list[list[FoldTask]], executor, progress) -> list[FoldResult]:
    results = []
    for r in executor(run_fold, tasks):
        results.append(r)
        if progress:
            progress(r)
    for chain in chained:  # warm start: each fit starts from the previous one's weights
        weights = None
        for task in chain:
            r = run_fold(dataclasses.replace(task, initial_weights=weights))
            weights = r.weights if r.weights is not None else weights
            r.weights = None
            results.append(r)
            if progress:
                progress(r)
    return results


# ---------------------------------------------------------------------------------------- scores


def _scores(actual, pred, origin, scale, naive) -> dict:
    """Metrics of one model on rows (forecast origins) where its forecasts are finite."""
    a, p = np.atleast_2d(actual), np.atleast_2d(pred)
    o, s, nv = (np.atleast_2d(x) for x in (origin, scale, naive))
    ok = np.all(np.isfinite(p), axis=1)
    if not ok.any():
        keys = ("mae", "rmse", "mape", "smape", "mase", "directional_accuracy", "skill_vs_naive")
        return dict.fromkeys(keys, float("nan"))
    m = M.forecast_metrics(a[ok], p[ok], o[ok], s[ok])
    m["skill_vs_naive"] = M.skill(m["mae"], M.mae(a[ok], nv[ok]))
    return m


def _model_metrics(A, F, O, S, N, dates) -> dict:
    overall = _scores(A, F, O[:, None], S[:, None], N)
    per_h = [{"step": k + 1, **_scores(A[:, k:k + 1], F[:, k:k + 1], O[:, None], S[:, None], N[:, k:k + 1])}
             for k in range(A.shape[1])]
    per_fold = [{"fold": i + 1, "origin": dates[i], **_scores(A[i], F[i], O[i:i + 1, None], S[i:i + 1, None], N[i])}
                for i in range(A.shape[0])]
    return {**overall, "per_horizon": per_h, "folds": per_fold}


def level_key(level: float) -> str:
    """The report's key of an interval level: 0.8 -> '0.8'."""
    return f"{level:g}"


def _interval_scores(A, lo, hi, level: float) -> dict:
    """Coverage, width, Winkler and pinball of the bounds on rows (origins) where they are finite."""
    ok = np.all(np.isfinite(lo) & np.isfinite(hi), axis=1)
    if not ok.any():
        return dict.fromkeys(("coverage", "width", "winkler", "pinball"), float("nan"))
    a, l, u = A[ok], lo[ok], hi[ok]
    pinball = (IV.pinball_loss(a, l, (1 - level) / 2) + IV.pinball_loss(a, u, (1 + level) / 2)) / 2
    return {"coverage": IV.coverage(a, l, u), "width": IV.mean_width(l, u),
            "winkler": IV.winkler_score(a, l, u, level), "pinball": pinball}


def _add_interval_scores(m: dict, A, bounds: dict) -> dict:
    """Add ``{score: {level: value}}`` to a model's metrics and per-step coverage to its per_horizon rows."""
    for level, (lo, hi) in bounds.items():
        key = level_key(level)
        for score, v in _interval_scores(A, lo, hi, level).items():
            m.setdefault(score, {})[key] = v
        for k, row in enumerate(m["per_horizon"]):
            row.setdefault("coverage", {})[key] = _interval_scores(A[:, k:k + 1], lo[:, k:k + 1], hi[:, k:k + 1],
                                                                   level)["coverage"]
    return m


def _dm(F_lstm, A, N, horizon, verdict: dict | None = None) -> dict:
    """LSTM vs naive (Diebold-Mariano, absolute errors), with ``vs_best``: the LSTM vs the verdict's
    ``compared_with`` model (the best other model), when there is one."""
    test = M.diebold_mariano((F_lstm - A).ravel(), (N - A).ravel(), horizon=horizon, loss=DM_LOSS)
    p, stat = test["p_value"], test["statistic"]
    if not math.isfinite(p):
        verdict_text = "not enough forecasts to test"
    elif p < SIGNIFICANCE:
        better = "the LSTM" if stat < 0 else "the naive forecast"
        verdict_text = f"{better} is significantly more accurate (p = {p:.3g} < {SIGNIFICANCE})"
    else:
        verdict_text = (f"no significant difference between the LSTM and the naive forecast (p = {p:.3g}); "
                        "the gap may be noise")
    out = {**test, "loss": DM_LOSS, "models": ["lstm", "naive"], "verdict": verdict_text}
    vs_best = (verdict or {}).get("tests", {}).get("vs_best")
    if vs_best is not None:
        out["vs_best"] = vs_best
    return out


def _lag_diagnostic(results: list[FoldResult], prices: np.ndarray) -> dict | None:
    parts = [r.one_step for r in results if r.model == "lstm" and r.one_step is not None]
    if not parts:
        return None
    idx = np.concatenate([p[0] for p in parts])
    pred = np.concatenate([p[1] for p in parts])
    order = np.argsort(idx)
    idx, pred = idx[order], pred[order]
    ok = np.isfinite(pred) & (idx + 1 - MAX_LAG >= 0)
    if ok.sum() < 2 or not np.array_equal(idx[ok], np.arange(idx[ok][0], idx[ok][-1] + 1)):
        return None
    idx, pred = idx[ok], pred[ok]
    diagnostic = M.lag_diagnostic(pred, prices[idx[0] + 1 - MAX_LAG: idx[-1] + 2], MAX_LAG)
    return {**diagnostic,
            "method": "step-1 forecast at every origin from the first fold's origin to the end, each made by "
                      "the most recent fit (out of sample); MAE against actual_{t-k}, k = 0..5"}


def _verdict(models: dict, F: dict, A, N) -> dict:
    """verdict.verdict: the LSTM against the best model (lowest MAE) and naive on the same origins."""
    return V.verdict(models, F, A, N)


# --------------------------------------------------------------------------------------- running


def backtest_series(series: PriceSeries, cfg: RunConfig, *, folds: int = 5, step: int | None = None,
                    window_type: str = "expanding", train_size: int | None = None, retrain_every: int = 1,
                    warm_start: bool = False, models: Iterable[str] = DEFAULT_MODELS, season: int | None = None,
                    executor: Callable = SEQUENTIAL, progress: Callable[[FoldResult], None] | None = None,
                    data_info: dict | None = None, levels: Iterable[float] = (IV.DEFAULT_LEVEL,)) -> Backtest:
    """Walk-forward backtest of ``models`` on ``series``; horizon and LSTM settings come from ``cfg``."""
    models = parse_models(models)
    levels = tuple(sorted(set(levels)))
    h = cfg.window.horizon
    step = step or h
    if season is not None and season < 1:
        raise ForecastError(f"--season {season}: must be at least 1")
    m = season or season_for(series.freq)
    min_train = max(BASELINE_MIN_TRAIN, m + 2, lstm_min_rows(cfg) if "lstm" in models else 0)
    fold_list = make_folds(len(series), h, folds, step, window_type, train_size, retrain_every, min_train)
    prices = series.values
    tasks, chained = [], []
    for name in models:
        ts = _tasks(prices, fold_list, name, cfg, m, warm_start, calibrate=bool(levels))
        (chained.append(ts) if warm_start and name == "lstm" else tasks.extend(ts))
    results = _execute(tasks, chained, executor, progress)

    origins = np.array([f.origin for f in fold_list])
    steps = label_index(origins, h)  # (folds, h) price indices of the targets
    A, O = prices[steps], prices[origins]
    N = np.repeat(O[:, None], h, axis=1)
    mase_season = season or 1  # seasonal naive scaling only when the user gives a season
    S = np.array([M.naive_scale(prices[f.train_start: f.origin + 1], mase_season) for f in fold_list])
    dates = [str(d.date()) if d == d.normalize() else str(d) for d in series.dates[origins]]
    F = {name: np.full((len(fold_list), h), np.nan) for name in models}
    B = {name: {lv: (np.full((len(fold_list), h), np.nan), np.full((len(fold_list), h), np.nan)) for lv in levels}
         for name in models}  # model -> level -> (lower, upper)
    notes = []
    for r in results:
        for i, fc in r.forecasts.items():
            F[r.model][i] = fc
            if r.calibrator is not None:
                for lv, (lo, hi) in r.calibrator.intervals(fc, levels=levels).items():
                    B[r.model][lv][0][i], B[r.model][lv][1][i] = lo, hi
        notes += [f"{text} at origin {dates[fold]}; its forecasts there are NaN" for fold, text in r.notes]
    per_model = {name: _add_interval_scores(_model_metrics(A, F[name], O, S, N, dates), A, B[name])
                 for name in models}
    verdict = _verdict(per_model, F, A, N)
    dm = _dm(F["lstm"], A, N, h, verdict) if "lstm" in models else None
    lag = _lag_diagnostic(results, prices)
    seconds = {name: sum(r.seconds for r in results if r.model == name) for name in models}
    retraining = ("models refit at every fold" if retrain_every == 1 else
                  f"models refit every {retrain_every} folds; in the other folds they forecast from the new "
                  "origin with their last fit")
    if warm_start and "lstm" in models:
        retraining += "; the LSTM starts each fit from the previous fit's weights (warm start)"
    settings = {
        "horizon": h, "folds": folds, "step": step, "window_type": window_type,
        "train_size": train_size or (fold_list[0].origin + 1), "retrain_every": retrain_every,
        "warm_start": warm_start, "retraining": retraining, "models": list(models), "season": m,
        "mase_scaling": f"in-sample {'seasonal (m=' + str(season) + ') ' if season else ''}naive one-step MAE "
                        "of each fold's training data",
        "seed": cfg.train.seed, "lstm_config": cfg.to_dict() if "lstm" in models else None,
        "data": {**(data_info or {}), "rows": len(series), "target": series.target, "freq": series.freq,
                 "first_date": str(series.dates[0]), "last_date": str(series.dates[-1])},
        "train_end_indices": [int(f.origin) for f in fold_list],
        "intervals": {"levels": list(levels), "method": "split conformal (symmetric), per model and fit",
                      "calibrated_on": f"each fit's validation part (last val_frac = {cfg.window.val_frac} of its "
                                       f"prices), at most {CALIBRATION_ORIGINS} origins evenly spaced"}
                     if levels else None,
    }
    report = {"settings": settings, "origins": dates, "models": per_model, "dm_test": dm, "lag_diagnostic": lag,
              "verdict": verdict, "notes": notes, "seconds": seconds, "fit_tail": fit_tails(models)}
    rows = [pd.DataFrame({"origin": np.repeat(series.dates[origins], h), "date": series.dates[steps.ravel()],
                          "step": np.tile(np.arange(1, h + 1), len(origins)), "model": name,
                          "forecast": F[name].ravel(), "actual": A.ravel(),
                          **{col: B[name][lv][j].ravel() for lv, *cols in IV.column_names(levels)
                             for j, col in enumerate(cols)}}) for name in models]
    return Backtest(_clean(report), pd.concat(rows, ignore_index=True), series)


def run_backtest(data_path: Path, cfg: RunConfig, **kwargs) -> Backtest:
    """Load ``data_path`` with the data settings of ``cfg`` and backtest it (see backtest_series)."""
    series = load_prices(data_path, cfg.data.target, cfg.data.date_col, cfg.data.max_fill)
    return backtest_series(series, cfg, data_info=fingerprint(data_path), **kwargs)


def _clean(obj):
    """JSON-ready: NaN/inf -> None, numpy scalars -> Python numbers."""
    if isinstance(obj, dict):
        return {k: _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    if isinstance(obj, (np.floating, float)):
        return float(obj) if math.isfinite(obj) else None
    if isinstance(obj, np.integer):
        return int(obj)
    return obj


# --------------------------------------------------------------------------------------- outputs


def default_out_dir(data_path: Path) -> Path:
    from forecast.workflows.train import default_bundle_dir

    return Path("backtest") / default_bundle_dir(data_path).name


def is_backtest_dir(path: Path) -> bool:
    return (Path(path) / "metrics.json").is_file()


BACKTEST_DIR = "backtest folder (no metrics.json)"


def check_out_dir(path: Path, force: bool) -> None:
    """Fail before any work unless ``path`` is new, empty, or (with ``force``) an earlier backtest's folder."""
    from forecast.bundle import check_writable

    path = Path(path)
    if path.exists() and not path.is_dir():
        raise ForecastError(f"--out {path}: exists and is not a folder; choose another --out folder")
    if path.is_dir() and any(path.iterdir()) and not force:
        raise ForecastError(f"--out {path}: folder exists and is not empty; pass --force to replace it "
                            "or choose another --out folder")
    if path.is_dir() and any(path.iterdir()):
        check_writable(path, force, is_backtest_dir, BACKTEST_DIR)


def write_outputs(bt: Backtest, out_dir: Path, force: bool = False) -> list[Path]:
    """metrics.json, forecasts.csv and the PNGs (with intervals also coverage_by_horizon.png), atomically."""
    from forecast.output import plots as plot
    from forecast.bundle import atomic_dir
    from forecast.io import save_figure, write_csv, write_json

    check_out_dir(out_dir, force)
    names = ["metrics.json", "forecasts.csv", "forecasts_by_fold.png", "mae_by_horizon.png", "mase_by_model.png"]
    history = pd.DataFrame({"date": bt.series.dates, "price": bt.series.values})
    with atomic_dir(Path(out_dir), force=True, replaceable=is_backtest_dir, what=BACKTEST_DIR) as tmp:
        write_json(tmp / names[0], bt.report)
        write_csv(tmp / names[1], bt.forecasts)
        save_figure(plot.backtest_forecasts_figure(bt.forecasts, history), tmp / names[2])
        save_figure(plot.backtest_horizon_figure(bt.report["models"]), tmp / names[3])
        save_figure(plot.backtest_mase_figure(bt.report["models"]), tmp / names[4])
        if any(m.get("coverage") for m in bt.report["models"].values()):
            names.append("coverage_by_horizon.png")
            save_figure(plot.backtest_coverage_figure(bt.report["models"]), tmp / names[5])
    return [Path(out_dir) / n for n in names]
