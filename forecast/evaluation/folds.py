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
from dataclasses import dataclass, field, replace

import numpy as np

from forecast.config import RunConfig, neural_variant
from forecast.data.panel import Panel, Series
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


def date_folds(dates: dict[str, np.ndarray], horizon: int, folds: int, step: int, window_type: str = "expanding",
               train_size: int | None = None, retrain_every: int = 1,
               min_train: dict[str, int] | None = None) -> tuple[dict[str, list[Fold]], dict[str, str]]:
    """The folds of series fitted together (a global network): ``make_folds`` on the panel's dates (every date
    any series has), each origin then the last row of each series at or before that date, so that a fold's fit
    sees no series past the date it forecasts any series from. For one series, or series on one calendar, these
    are each series' ``make_folds``. A series with fewer than ``horizon`` rows after the last origin (it ends
    early) or fewer than ``min_train[id]`` before the first is returned with the reason instead.
    Returns (id -> folds, id -> reason)."""
    from forecast.data.calendar import stamp_text

    calendar = np.unique(np.concatenate([np.asarray(d) for d in dates.values()]))
    on_calendar = make_folds(len(calendar), horizon, folds, step, window_type, train_size, retrain_every)
    cuts = calendar[[f.origin for f in on_calendar]]
    out, why = {}, {}
    for sid, d in dates.items():
        d = np.asarray(d)
        origins = np.searchsorted(d, cuts, side="right") - 1
        need = max((min_train or {}).get(sid, 1), train_size or 0)
        if len(d) - 1 - origins[-1] < horizon:
            why[sid] = (f"{len(d) - 1 - origins[-1]} of its rows lie after the last fold's origin "
                        f"({stamp_text(cuts[-1])}), fewer than --horizon {horizon}: series fitted together are cut at "
                        "the same dates; backtest it alone or with --per-series")
        elif origins[0] + 1 < need:
            why[sid] = (f"{origins[0] + 1} rows up to the first fold's origin ({stamp_text(cuts[0])}), fewer than "
                        f"the {need} the models need: series fitted together are cut at the same dates; backtest it "
                        "alone or with --per-series")
        else:
            size = train_size or int(origins[0]) + 1
            out[sid] = [replace(f, origin=int(o), train_start=0 if window_type == "expanding" else int(o) - size + 1)
                        for f, o in zip(on_calendar, origins)]
    return out, why


@dataclass
class FoldTask:
    """Fit ``model`` on each series' ``fit_ranges[id]`` rows of ``panel``, then forecast from each origin.

    ``panel``: the series the fit sees (all of them for the global LSTM, one otherwise), each cut at the last
    index the task needs, so a task never holds data it must not see. ``fit_ranges``: id -> (first, last)
    index fitted on. ``origins``: (fold index, {id: (history start, origin)}) — the first is the fit's own
    fold, the others are later folds that do not retrain. ``one_step_until``: id -> last origin; also predict
    one step at every origin from the fit's end to it (models with ``predict_origins``; the lag diagnostic).
    """

    model: str
    panel: Panel
    fit_ranges: dict[str, tuple[int, int]]
    origins: tuple[tuple[int, dict[str, tuple[int, int]]], ...]
    horizon: int
    season: tuple[int, ...]  # season lengths of the series, primary first (() for none)
    cfg: RunConfig
    initial_weights: list | None = None
    keep_weights: bool = False
    one_step_until: dict[str, int] | None = None
    calibrate: bool = False
    choices: dict | None = None  # a network's statistical parts, computed beforehand (``fit_parts``); None: by the fit


@dataclass
class FoldResult:
    model: str
    forecasts: dict[int, dict[str, np.ndarray]]  # fold index -> id -> (horizon,) prices; NaN where the model failed
    notes: list[tuple[int, str]] = field(default_factory=list)  # (fold index, what went wrong)
    seconds: float = 0.0
    weights: list | None = None
    one_step: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)  # id -> (origins, step-1)
    calibrators: dict[str, object] = field(default_factory=dict)  # id -> ConformalCalibrator of this fit
    ids: tuple[str, ...] = ()
    parts: dict[str, str] = field(default_factory=dict)  # id -> the statistical model a residual hybrid corrects
    network_weights: dict[str, float] = field(default_factory=dict)  # id -> the network's weight against its anchor

    @property
    def folds(self) -> list[int]:
        return sorted(self.forecasts)


def _failure(model: str, fold: int, e: BaseException) -> tuple[int, str]:
    where = traceback.extract_tb(e.__traceback__)[-1].name if e.__traceback__ else "?"
    first = str(e).splitlines()[0] if str(e) else ""
    return fold, f"{model} failed in fold {fold + 1} ({type(e).__name__} in {where}: {first})"


def parts_beforehand(task: FoldTask) -> bool:
    """Whether ``task`` is a network fit whose statistical parts can be computed beforehand (``fit_parts``)."""
    from forecast.models.lstm import parts_beforehand as network_parts

    cfg = neural_variant(task.model, task.cfg)
    return cfg is not None and network_parts(cfg)


def fit_parts(task: FoldTask) -> dict:
    """The statistical parts ``task``'s network fit computes (``lstm.hybrid_parts`` on its fit rows, with the fit's
    validation rows), for ``FoldTask.choices``: computed before TensorFlow loads, in another process, they are the
    same, and the fit does not compute them again. Each comes with its forecasts from every row of the task's series
    too (the one-step and calibration origins after the fit's end read them) and without its statsforecast model
    (``lstm.handed_over``), so the process that fits the network need not import statsforecast."""
    from forecast.models.lstm import default_n_val, handed_over, hybrid_parts

    cfg = neural_variant(task.model, task.cfg)
    h, panel = cfg.window.horizon, _cut(task.panel, task.fit_ranges)
    choices = hybrid_parts(panel, [default_n_val(len(s), cfg) for s in panel], h, cfg.model.hybrid)
    for s in task.panel:
        part = choices.get(s.id, (None, ""))[0]
        if part is not None:
            part.paths(s.values, np.arange(len(s)), h)  # kept in part.computed
    return handed_over(choices)


def _cut(panel: Panel, ranges: dict[str, tuple[int, int]]) -> Panel:
    """Each series' rows ``first .. last`` (inclusive)."""
    return panel.map(lambda s: s.slice(ranges[s.id][0], ranges[s.id][1] + 1))


def statistical_parts(model, ids) -> dict[str, str]:
    """id -> the statistical model whose forecasts a fitted network corrects (residual hybrid), where one does."""
    summary = getattr(model, "hybrid_summary", None)
    found = {sid: (summary(sid) or {}).get("part") for sid in ids} if summary else {}
    return {sid: part for sid, part in found.items() if part not in (None, "none", "season")}


def run_fold(task: FoldTask) -> FoldResult:
    """Fit one model for one fold and forecast; any error becomes NaN forecasts and a note, never a crash."""
    from forecast.models.registry import make_model, release

    t0 = time.perf_counter()
    h, panel = task.horizon, task.panel
    ids = tuple(panel.ids)
    result = FoldResult(task.model, {f: {sid: np.full(h, np.nan) for sid in ids} for f, _ in task.origins}, ids=ids)
    try:
        model = make_model(task.model, task.cfg, season=task.season, features=panel.features, fit=task.cfg.model.fit,
                           initial_weights=task.initial_weights, choices=task.choices)
        model.fit(_cut(panel, task.fit_ranges))
        result.parts = statistical_parts(model, ids)
        result.network_weights = {sid: float(w) for sid, w in (getattr(model, "weights", None) or {}).items()
                                  if sid in ids}  # a network fitted with --shrink (models/lstm.py)
    except Exception as e:  # noqa: BLE001 - a failing model must not end the run
        result.notes.append(_failure(task.model, task.origins[0][0], e))
        result.seconds = time.perf_counter() - t0
        return result
    for fold, ranges in task.origins:
        try:
            paths = model.forecast(_cut(panel, ranges), h)
            for sid in ids:
                fc = np.asarray(paths[sid], dtype=np.float64).ravel()
                if fc.shape != (h,) or not np.all(np.isfinite(fc)):
                    raise ValueError(f"forecast has shape {fc.shape} or non-finite values")
            result.forecasts[fold] = {sid: np.asarray(paths[sid], dtype=np.float64).ravel() for sid in ids}
        except Exception as e:  # noqa: BLE001
            result.notes.append(_failure(task.model, fold, e))
    if task.one_step_until is not None and hasattr(model, "predict_origins"):
        for s in panel:
            idx = np.arange(task.fit_ranges[s.id][1], task.one_step_until[s.id] + 1)
            try:
                result.one_step[s.id] = (idx, model.predict_origins(s.head(task.one_step_until[s.id] + 1), idx)[:, 0])
            except Exception as e:  # noqa: BLE001 - no lag diagnostic from this fit, forecasts still count
                fold, note = _failure(task.model, task.origins[0][0], e)
                result.notes.append((fold, f"{note}; no one-step forecasts for the lag diagnostic from this fit"))
    if task.calibrate:
        for s in panel:
            try:
                result.calibrators[s.id] = calibrate(model, s, *task.fit_ranges[s.id], task.cfg)
            except Exception as e:  # noqa: BLE001 - no intervals for this fit, forecasts still count
                fold, note = _failure(task.model, task.origins[0][0], e)
                result.notes.append((fold, f"{note}; no intervals from this fit"))
    if task.keep_weights and hasattr(model, "model"):
        result.weights = model.model.get_weights()
    release(model)  # the fold is done with it: a network goes to the next fold's fit
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
    from forecast.models.lstm import default_n_val

    w = cfg.window
    n = fit_end - fit_start + 1
    offset = Preprocessor(w.transform).offset
    rel = Split(n - default_n_val(n, cfg), default_n_val(n, cfg), 0, offset, w.window, w.horizon).val_origins + offset
    if len(rel) > CALIBRATION_ORIGINS:
        rel = rel[np.round(np.linspace(0, len(rel) - 1, CALIBRATION_ORIGINS)).astype(int)]
    return fit_start + rel


def calibrate(model, s: Series, fit_start: int, fit_end: int, cfg: RunConfig):
    """A ConformalCalibrator from ``model``'s forecasts at the calibration origins of its fit on series ``s``.

    Residuals are log ratios when every price of the fit is positive, else differences (the bundle's
    rule). Only rows ``fit_start .. fit_end`` of ``s`` are read.
    """
    from forecast.evaluation.intervals import ConformalCalibrator, volatility_rows

    h = cfg.window.horizon
    fit = s.slice(fit_start, fit_end + 1)
    origins = calibration_origins(fit_start, fit_end, cfg) - fit_start  # relative to the fit window
    if len(origins) == 0:
        raise ValueError("no calibration origins in the fit's validation part")
    forecasts = model.predict_origins(fit, origins)
    actuals = fit.values[label_index(origins, h)]
    space = "log" if np.all(fit.values > 0) and np.all(forecasts > 0) else "abs"
    cal = ConformalCalibrator(space, scale_rows=volatility_rows(s.freq))
    return cal.fit(forecasts, actuals, fit.values[origins], scales=cal.scales(fit.values, origins))
