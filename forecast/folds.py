"""Walk-forward folds: where each fold's origin and training window lie, and the unit of work per model.

A fold's origin is the index of the last price a model may see; it forecasts prices
``origin + 1 .. origin + horizon``. Origins step back from the end of the series by ``step``; the
training window is ``prices[train_start .. origin]`` (expanding: from the first price; rolling: the
last ``train_size`` prices). ``run_fold(task)`` is a top-level function of one picklable argument, so
any ``map``-like executor (a process pool, Ray) can run the tasks.
"""

from __future__ import annotations

import time
import traceback
from dataclasses import dataclass, field

import numpy as np

from forecast.config import RunConfig
from forecast.errors import ForecastError

WINDOW_TYPES = ("expanding", "rolling")


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


@dataclass
class FoldResult:
    model: str
    forecasts: dict[int, np.ndarray]  # fold index -> (horizon,) prices; NaN where the model failed
    notes: list[tuple[int, str]] = field(default_factory=list)  # (fold index, what went wrong)
    seconds: float = 0.0
    weights: list | None = None
    one_step: tuple[np.ndarray, np.ndarray] | None = None  # (origin indices, step-1 forecasts)

    @property
    def folds(self) -> list[int]:
        return sorted(self.forecasts)


def make_model(name: str, season: int, cfg: RunConfig, initial_weights=None):
    """A fresh, unfitted model from the registry of names (the LSTM imports TensorFlow only here)."""
    from forecast.baselines import BASELINES

    if name == "lstm":
        from forecast.lstm import LSTMForecaster

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
    if task.keep_weights and hasattr(model, "model"):
        result.weights = model.model.get_weights()
    result.seconds = time.perf_counter() - t0
    return result
