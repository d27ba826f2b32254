"""Walk-forward folds: where each fold's origin and training window lie, and the unit of work per model.

A fold's origin is the index of the last price a model may see; it forecasts prices
``origin + 1 .. origin + horizon``. Origins step back from the end of the series by ``step``; the
training window is ``prices[train_start .. origin]`` (expanding: from the first price; rolling: the
last ``train_size`` prices). ``run_fold(task)`` is a top-level function of one picklable argument, so
any ``map``-like executor (a process pool, Ray) can run the tasks.

With ``FoldTask.calibrate`` each fit is also calibrated for prediction intervals (``calibrate``): the
fitted model forecasts from ``calibration_origins`` — the origins of its own validation part, the last
``val_frac`` of the prices it was fitted on (at most ``CALIBRATION_ORIGINS`` of them, evenly spaced),
so every target lies at or before the fit's end and hence before every origin the fit forecasts from.
"""

from __future__ import annotations

import time
import traceback
from dataclasses import dataclass, field

import numpy as np

from forecast.config import RunConfig
from forecast.errors import ForecastError
from forecast.data.windows import label_index

WINDOW_TYPES = ("expanding", "rolling")
CALIBRATION_ORIGINS = 40  # most calibration forecasts per fit (ETS refits at each: ~0.3 s apiece)


@dataclass(frozen=True)
class Fold:
    index: int
    origin: int  # last price index the models may see
    train_start: int  # first price index of the training window
    retrain: bool  # models are (re)fitted at this fold; otherwise they forecast from the last fit


def rows_needed(horizon: int, folds: int, step: int, min_train: int) -> int:
    return min_train + (folds - 1) * step + horizon


def make_folds(n: int, horizon: int, folds: int, step: int, window_type: str = "expanding",
               train_size: int | None = None, retrain_every: int = 1, min_train: int = 1) -> list[Fold]:
    """The folds in time order; a clear error (with the rows needed) when the series is too short."""
    checks = [
        (folds >= 1, f"--folds {folds}: must be at least 1"),
        (step >= 1, f"--step {step}: must be at least 1"),
        (horizon >= 1, f"--horizon {horizon}: must be at least 1"),
        (retrain_every >= 1, f"--retrain-every {retrain_every}: must be at least 1"),
        (window_type in WINDOW_TYPES, f"--window-type {window_type!r}: choose expanding or rolling"),
        (train_size is None or train_size >= min_train,
         f"--train-size {train_size}: the models need at least {min_train} training rows"),
    ]
    for ok, message in checks:
        if not ok:
            raise ForecastError(message)
    needed = rows_needed(horizon, folds, step, max(min_train, train_size or 0))
    if n < needed:
        raise ForecastError(
            f"{n} rows are too few for --folds {folds} with --step {step} and --horizon {horizon}: at least "
            f"{needed} rows are needed ({max(min_train, train_size or 0)} to train on before the first origin); "
            "use a longer series, fewer --folds, a smaller --step/--horizon or a smaller model --window")
    last = n - 1 - horizon
    origins = [last - (folds - 1 - i) * step for i in range(folds)]
    size = train_size or origins[0] + 1
    return [Fold(i, o, 0 if window_type == "expanding" else o - size + 1, i % retrain_every == 0)
            for i, o in enumerate(origins)]


@dataclass
class FoldTask:
    """Fit ``model`` on ``prices[fit_start .. fit_end]``, then forecast from each of ``origins``.

    ``origins``: (fold index, history start, origin) — the first is the fit's own fold, the others are
    later folds that do not retrain. ``prices`` ends at the last index the task needs, so a task never
    holds data it must not see. ``one_step_until``: also predict one step at every origin from
    ``fit_end`` to it (models with ``predict_origins`` only; for the lag diagnostic).
    """

    model: str
    prices: np.ndarray
    fit_start: int
    fit_end: int
    origins: tuple[tuple[int, int, int], ...]
    horizon: int
    season: int
    cfg: RunConfig
    initial_weights: list | None = None
    keep_weights: bool = False
    one_step_until: int | None = None
    calibrate: bool = False


@dataclass
class FoldResult:
    model: str
    forecasts: dict[int, np.ndarray]  # fold index -> (horizon,) prices; NaN where the model failed
    notes: list[tuple[int, str]] = field(default_factory=list)  # (fold index, what went wrong)
    seconds: float = 0.0
    weights: list | None = None
    one_step: tuple[np.ndarray, np.ndarray] | None = None  # (origin indices, step-1 forecasts)
    calibrator: object | None = None  # intervals.ConformalCalibrator of this fit (FoldTask.calibrate)

    @property
    def folds(self) -> list[int]:
        return sorted(self.forecasts)


def make_model(name: str, season: int, cfg: RunConfig, initial_weights=None):
    """A fresh, unfitted model from the registry of names (the LSTM imports TensorFlow only here)."""
    from forecast.models.baselines import BASELINES

    if name == "lstm":
        from forecast.models.lstm import LSTMForecaster

        return LSTMForecaster(cfg, verbose=0, initial_weights=initial_weights)
    return BASELINES[name](season)


def _failure(model: str, fold: int, e: BaseException) -> tuple[int, str]:
    where = traceback.extract_tb(e.__traceback__)[-1].name if e.__traceback__ else "?"
    first = str(e).splitlines()[0] if str(e) else ""
    return fold, f"{model} failed in fold {fold + 1} ({type(e).__name__} in {where}: {first})"


def run_fold(task: FoldTask) -> FoldResult:
    """Fit one model for one fold and forecast; any error becomes NaN forecasts and a note, never a crash."""
    t0 = time.perf_counter()
    h, p = task.horizon, task.prices
    result = FoldResult(task.model, {f: np.full(h, np.nan) for f, _, _ in task.origins})
    try:
        model = make_model(task.model, task.season, task.cfg, task.initial_weights)
        model.fit(p[task.fit_start: task.fit_end + 1])
    except Exception as e:  # noqa: BLE001 - a failing model must not end the run
        result.notes.append(_failure(task.model, task.origins[0][0], e))
        result.seconds = time.perf_counter() - t0
        return result
    for fold, start, origin in task.origins:
        try:
            fc = np.asarray(model.forecast(h, history=p[start: origin + 1]), dtype=np.float64).ravel()
            if fc.shape != (h,) or not np.all(np.isfinite(fc)):
                raise ValueError(f"forecast has shape {fc.shape} or non-finite values")
            result.forecasts[fold] = fc
        except Exception as e:  # noqa: BLE001
            result.notes.append(_failure(task.model, fold, e))
    if task.one_step_until is not None and hasattr(model, "predict_origins"):
        idx = np.arange(task.fit_end, task.one_step_until + 1)
        result.one_step = (idx, model.predict_origins(p[: task.one_step_until + 1], idx)[:, 0])
    if task.calibrate:
        try:
            result.calibrator = calibrate(model, p, task.fit_start, task.fit_end, task.cfg)
        except Exception as e:  # noqa: BLE001 - no intervals for this fit, forecasts still count
            fold, note = _failure(task.model, task.origins[0][0], e)
            result.notes.append((fold, f"{note}; no intervals from this fit"))
    if task.keep_weights and hasattr(model, "model"):
        result.weights = model.model.get_weights()
    result.seconds = time.perf_counter() - t0
    return result


def calibration_origins(fit_start: int, fit_end: int, cfg: RunConfig) -> np.ndarray:
    """Price indices of the calibration origins of a fit on ``prices[fit_start .. fit_end]``.

    The LSTM's validation origins (``Split.val_origins`` of ``LSTMForecaster.fit`` with its default
    ``n_val``), used for every model so all are calibrated on the same origins; at most
    ``CALIBRATION_ORIGINS``, evenly spaced. Each origin's ``horizon`` targets end by ``fit_end``.
    """
    from forecast.data.transforms import Preprocessor
    from forecast.data.windows import Split

    w = cfg.window
    n = fit_end - fit_start + 1
    n_val = max(int(round(n * w.val_frac)), w.horizon)
    offset = Preprocessor(w.transform).offset
    rel = Split(n - n_val, n_val, 0, offset, w.window, w.horizon).val_origins + offset
    if len(rel) > CALIBRATION_ORIGINS:
        rel = rel[np.round(np.linspace(0, len(rel) - 1, CALIBRATION_ORIGINS)).astype(int)]
    return fit_start + rel


def calibrate(model, prices: np.ndarray, fit_start: int, fit_end: int, cfg: RunConfig):
    """A ConformalCalibrator from ``model``'s forecasts at the calibration origins of its fit.

    Residuals are log ratios when every price of the fit is positive, else differences (the bundle's
    rule). Only ``prices[fit_start .. fit_end]`` is read. Models with ``predict_origins`` (the LSTM)
    forecast all origins in one batch; the others forecast from each truncated history.
    """
    from forecast.evaluation.intervals import ConformalCalibrator

    h = cfg.window.horizon
    fit = np.asarray(prices[fit_start: fit_end + 1], dtype=np.float64)
    origins = calibration_origins(fit_start, fit_end, cfg) - fit_start  # relative to the fit window
    if len(origins) == 0:
        raise ValueError("no calibration origins in the fit's validation part")
    if hasattr(model, "predict_origins"):
        forecasts = model.predict_origins(fit, origins)
    else:
        forecasts = np.stack([model.forecast(h, history=fit[: o + 1]) for o in origins])
    actuals = fit[label_index(origins, h)]
    space = "log" if np.all(fit > 0) and np.all(forecasts > 0) else "abs"
    return ConformalCalibrator(space).fit(forecasts, actuals, fit[origins])
