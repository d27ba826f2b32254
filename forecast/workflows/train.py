"""Train end to end: load -> chronological split -> fit -> score on the test part -> save a bundle."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from forecast import bundle as bundle_io
from forecast.config import RunConfig
from forecast.data.load import PriceSeries, load_prices
from forecast.data.read import fingerprint
from forecast.errors import ForecastError, InputError
from forecast.evaluation.metrics import diebold_mariano, forecast_metrics, lag_diagnostic, naive_scale, skill
from forecast.data.windows import chronological_split, label_index

LAG_MAX = 5  # lags 0..5 tried by the lag diagnostic


@dataclass
class TrainOutcome:
    bundle_dir: Path
    series: PriceSeries
    metrics: dict
    history: dict
    device: str


def default_bundle_dir(data_path: Path) -> Path:
    name = Path(data_path).name
    for suffix in (".gz", ".csv", ".parquet", ".pq", ".txt"):
        name = name.removesuffix(suffix)
    return Path("models") / name


def evaluate_test(lstm, prices: np.ndarray, dates: pd.DatetimeIndex, test_origins: np.ndarray,
                  n_train: int) -> tuple[dict, pd.DataFrame]:
    """Score the LSTM and the naive forecast on every test origin, all horizon steps, in prices.

    Same metric code as the backtest: MASE is scaled by the naive one-step MAE of the training part;
    the Diebold-Mariano test compares per-origin mean absolute errors at origins ``h`` steps apart
    (counted back from the last), because neighbouring origins share ``h - 1`` targets and their loss
    differences stay correlated beyond lag h - 1 (a HAC estimate over all origins overstated significance
    on the NASDAQ test part: p = 0.03 there against 0.07-0.32 for non-overlapping subsets); the lag
    diagnostic uses the step-1 forecasts at every origin.
    """
    h = lstm.horizon
    forecast = lstm.predict_origins(prices, test_origins)  # (n, h)
    steps = label_index(test_origins, h)  # (n, h) price indices of the labels
    actual = prices[steps]
    origin = prices[test_origins][:, None]  # (n, 1)
    naive = np.repeat(origin, h, axis=1)
    scale = naive_scale(prices[:n_train])
    lstm_m, naive_m = (forecast_metrics(actual, f, origin, scale) for f in (forecast, naive))
    apart = slice(len(test_origins) - 1, None, -h)  # origins h steps apart share no target: independent-ish
    dm = diebold_mariano(np.abs(forecast - actual)[apart].mean(axis=1), np.abs(naive - actual)[apart].mean(axis=1),
                         horizon=1, loss="absolute")
    max_lag = min(LAG_MAX, int(test_origins[0]) + 1)
    lag = lag_diagnostic(forecast[:, 0], prices[test_origins[0] + 1 - max_lag: test_origins[-1] + 2], max_lag)
    metrics = {
        "lstm": lstm_m, "naive": naive_m, "skill_vs_naive": skill(lstm_m["mae"], naive_m["mae"]),
        "beats_naive": bool(lstm_m["mae"] < naive_m["mae"]), "n_origins": int(len(test_origins)), "horizon": h,
        "first_origin": str(dates[test_origins[0]].date()), "last_date": str(dates[steps[-1, -1]].date()),
        "dm_test": {**dm, "loss": "mean absolute error per origin, origins h steps apart",
                    "significant": bool(dm["p_value"] < 0.05)},
        "lag_diagnostic": lag,
    }
    frame = pd.DataFrame({
        "origin": np.repeat(dates[test_origins], h), "date": dates[steps.ravel()],
        "step": np.tile(np.arange(1, h + 1), len(test_origins)), "actual": actual.ravel(),
        "forecast": forecast.ravel(), "naive": naive.ravel(),
    })
    return metrics, frame


def calibrate_intervals(lstm, prices: np.ndarray, cal_origins: np.ndarray, test_frame: pd.DataFrame):
    """Conformal calibrator from the validation windows; its coverage measured on the held-out test part."""
    from forecast.evaluation.intervals import DEFAULT_LEVEL, ConformalCalibrator, evaluate

    h = lstm.horizon
    actual = prices[label_index(cal_origins, h)]  # (n, h), all inside the validation part
    cal = ConformalCalibrator.for_transform(lstm.cfg.window.transform)
    cal.fit(lstm.predict_origins(prices, cal_origins), actual, prices[cal_origins])
    test_f, test_a = (test_frame[c].to_numpy().reshape(-1, h) for c in ("forecast", "actual"))
    report = {"method": cal.method, "space": cal.space, "calibrated_on": "validation windows",
              "n_calibration": int(len(cal_origins)), "measured_on": "test part",
              "levels": evaluate(cal, test_f, test_a, (DEFAULT_LEVEL,))}
    return cal, report


def train(data_path: Path, cfg: RunConfig, model_dir: Path | None = None, force: bool = False,
          verbose: int = 1) -> TrainOutcome:
    from forecast.models.lstm import LSTMForecaster
    from forecast.models.fitting import configure_device
    from forecast.data.transforms import Preprocessor

    bundle_dir = Path(model_dir) if model_dir else default_bundle_dir(data_path)
    bundle_io.remove_stale_temps(bundle_dir, older_than=time.time())  # left by killed earlier runs
    bundle_io.check_writable(bundle_dir, force)  # fail before any work
    w = cfg.window
    series = load_prices(data_path, cfg.data.target, cfg.data.date_col, cfg.data.max_fill)
    offset = Preprocessor(w.transform).offset
    try:  # fail before any work, naming the file: too few rows, or e.g. a zero price under log_return
        split = chronological_split(len(series), w.window, w.horizon, w.val_frac, w.test_frac, offset)
        Preprocessor(w.transform).transform(series.values)
    except ForecastError as e:
        raise InputError(f"{data_path}: {e}") from None
    device = configure_device(cfg.train.device)
    n_fit = split.n_train + split.n_val
    lstm = LSTMForecaster(cfg, verbose=verbose).fit(series.values[:n_fit], n_val=split.n_val)
    test_metrics, test_frame = evaluate_test(lstm, series.values, series.dates, split.test_origins + offset,
                                              split.n_train)
    calibrator, interval_report = calibrate_intervals(lstm, series.values[:n_fit], split.val_origins + offset,
                                                      test_frame)
    fit = lstm.fit_result
    metrics = {
        "test": test_metrics,
        "intervals": interval_report,
        "training": {k: v for k, v in fit.to_dict().items() if k != "history"},
        "split": {"train_rows": split.n_train, "val_rows": split.n_val, "test_rows": split.n_test,
                  "train_end": str(series.dates[split.n_train - 1].date()),
                  "val_end": str(series.dates[n_fit - 1].date())},
    }
    data = {**fingerprint(data_path), "rows": len(series), "first_date": str(series.dates[0]),
            "last_date": str(series.dates[-1]), "target": series.target, "date_col": series.date_col,
            "freq": series.freq, "n_filled": series.n_filled}
    keep = w.window + offset
    last_window = pd.DataFrame({"date": series.dates[-keep:], "price": series.values[-keep:]})
    history = {"history": fit.history, "best_epoch": fit.best_epoch, "epochs_run": fit.epochs_run}
    bundle_io.save_bundle(bundle_dir, model=lstm.model, config=cfg, prep=lstm.prep, last_window=last_window,
                          data=data, metrics=metrics, history=history, test_predictions=test_frame,
                          device=device, force=force, extra_files={"intervals.json": calibrator.to_dict()},
                          interrupted=fit.interrupted)
    return TrainOutcome(bundle_dir, series, metrics, history, device)
