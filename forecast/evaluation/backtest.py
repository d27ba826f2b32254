"""Walk-forward backtest: every model forecasts from the same origins; scores, tests and a verdict.

``backtest`` builds the folds (folds.py) of every series of a panel, turns them into ``FoldTask`` units of work, maps
``folds.run_fold`` over them with ``executor`` (default: ``executors.SEQUENTIAL``, the built-in ``map``; a
process pool or Ray from ``executors.open_executor``, with the same results; executors.py says how exactly)
and scores the forecasts with metrics.py against the naive forecast.
``workflows/backtest.py`` loads a file into a panel, runs this and writes the outputs.

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
import itertools
import math
import time
from dataclasses import dataclass, replace
from typing import Callable, Iterable, Iterator

import numpy as np
import pandas as pd

from forecast.evaluation import intervals as IV
from forecast.evaluation import metrics as M
from forecast.evaluation import verdict as V
from forecast.evaluation.scoring import beats, beats_significantly
from forecast.models.baselines import BASELINES, fit_tails, seasons_of
from forecast import config
from forecast.config import RunConfig
from forecast.data.calendar import stamp_text
from forecast.data.panel import Panel, Series
from forecast.errors import ForecastError, InputError
from forecast.executors import SEQUENTIAL, Background
from forecast.io import known, strict
from forecast.data.windows import label_index
from forecast.evaluation.folds import (CALIBRATION_ORIGINS, Fold, FoldResult, FoldTask, date_folds, fit_parts,
                                      make_folds, parts_beforehand, run_fold)

MODELS = ("lstm", *BASELINES)
DEFAULT_MODELS = config.DEFAULT_MODELS
SIGNIFICANCE = V.SIGNIFICANCE
DM_LOSS = V.DM_LOSS  # the same loss as MAE, the headline metric
BASELINE_MIN_TRAIN = 20
MAX_LAG = 5


@dataclass
class Backtest:
    report: dict  # the metrics.json object
    forecasts: pd.DataFrame  # [id,] origin, date, step, model, forecast, actual[, bounds]
    panel: Panel  # the series backtested


def parse_models(text: str | Iterable[str]) -> tuple[str, ...]:
    """'lstm,naive,gru-season' -> ('lstm', 'naive', 'gru-season'); unknown names are an error listing the choices."""
    names = [m.strip() for m in (text.split(",") if isinstance(text, str) else text) if m.strip()]
    unknown = [m for m in names if m not in MODELS and not config.is_network(m)]
    if unknown or not names:
        raise ForecastError(f"--models: unknown model {', '.join(map(repr, unknown)) or '(none given)'}; "
                            f"choose from {', '.join(MODELS)}, or {config.VARIANT_HELP}")
    return tuple(dict.fromkeys(names))


def _min_rows(models, cfg: RunConfig) -> int:
    """The fewest prices every neural model among ``models`` can train on (0: none is neural)."""
    return max([lstm_min_rows(config.neural_variant(m, cfg)) for m in models if config.is_network(m)], default=0)


def lstm_min_rows(cfg: RunConfig) -> int:
    """The fewest prices LSTMForecaster.fit can train on (8 training windows, 1 validation window)."""
    from forecast.data.transforms import Preprocessor
    from forecast.data.windows import Split
    from forecast.models.lstm import default_n_val

    w = cfg.window
    offset = Preprocessor(w.transform).offset
    n = w.window + w.horizon + offset
    while True:
        n_val = default_n_val(n, cfg)
        s = Split(n - n_val, n_val, 0, offset, w.window, w.horizon)
        if len(s.train_origins) >= 8 and len(s.val_origins) >= 1:
            return n
        n += 1


def _tasks(panel: Panel, folds: dict[str, list[Fold]], model: str, cfg: RunConfig, season: tuple[int, ...], warm: bool,
           calibrate: bool = False) -> list[list[FoldTask]]:
    """The fits of ``model``: one task per retraining fold (covering the later folds that reuse its fit), for
    all series at once (the global LSTM) or for each series; returned as chains of consecutive fits."""
    network = config.is_network(model)
    joint = network and cfg.model.fit == "global"
    units = [panel] if joint else panel.apart()
    chains = []
    for unit in units:
        groups: dict[str, list[list[Fold]]] = {}
        for s in unit:
            groups[s.id] = []
            for f in folds[s.id]:
                (groups[s.id].append([f]) if f.retrain else groups[s.id][-1].append(f))
        chain = []
        for i in range(len(next(iter(groups.values())))):
            ends, one_step = {}, None
            if model == "lstm":  # step-1 predictions until the next fit (the lag diagnostic reads only the LSTM's)
                one_step = {sid: g[i + 1][0].origin - 1 if i + 1 < len(g) else len(unit[sid]) - 2
                            for sid, g in groups.items()}
            for sid, g in groups.items():
                ends[sid] = max(g[i][-1].origin, (one_step or {}).get(sid, 0))
            cut = unit.map(lambda s: s.head(ends[s.id] + 1))
            fit_ranges = {sid: (g[i][0].train_start, g[i][0].origin) for sid, g in groups.items()}
            origins = tuple((f0.index, {sid: (groups[sid][i][k].train_start, groups[sid][i][k].origin) for sid in groups})
                            for k, f0 in enumerate(next(iter(groups.values()))[i]))
            chain.append(FoldTask(model, cut, fit_ranges, origins, cfg.window.horizon, season, cfg,
                                  keep_weights=warm and network, one_step_until=one_step, calibrate=calibrate))
        chains.append(chain)
    return chains


def _execute(tasks: list[FoldTask], chained: list[list[FoldTask]], executor, progress) -> list[FoldResult]:
    """Every task's result, in the order of ``tasks``, then of each chain of ``chained`` (warm start: each fit
    starts from the previous one's weights).

    Run one at a time here (``executor`` of width 1), the statistical work goes to processes forked before
    TensorFlow loads (``executors.Background``; where it is loaded already, it runs here as before): the network
    fits' statistical parts (``folds.fit_parts``), computed fold after fold while the network fits the one before,
    and the baselines' folds, at a lower priority, while the networks fit. The results are the same; a fit's
    seconds include its wait for its parts."""
    one_at_a_time = getattr(executor, "width", 1) == 1
    ordered = [*tasks, *itertools.chain.from_iterable(chained)]
    early = [t for t in ordered if one_at_a_time and parts_beforehand(t)]
    forked = [t for t in tasks if one_at_a_time and not config.is_network(t.model)]
    parts = Background(_parts_in_turn, early) if early else None
    baselines = Background(_run_folds, forked, nice=10) if forked else None
    wanted, elsewhere = {id(t) for t in early}, {id(t) for t in forked}

    def run(task: FoldTask, **changes) -> FoldResult:
        t0 = time.perf_counter()
        if id(task) in wanted:
            changes["choices"] = parts.result()
        waited = time.perf_counter() - t0
        r = run_fold(dataclasses.replace(task, **changes) if changes else task)
        r.seconds += waited
        return r

    try:
        here = [t for t in tasks if id(t) not in elsewhere]
        done = {}
        for task, r in zip(here, executor(run if one_at_a_time else run_fold, here)):
            done[id(task)] = r
            if progress:
                progress(r)
        for task, r in zip(forked, baselines.result() if baselines else ()):
            done[id(task)] = r
            if progress:
                progress(r)
        results = [done[id(t)] for t in tasks]
        for chain in chained:
            weights = None
            for task in chain:
                r = run(task, initial_weights=weights)
                weights = r.weights if r.weights is not None else weights
                r.weights = None
                results.append(r)
                if progress:
                    progress(r)
        return results
    finally:
        for work in (parts, baselines):
            if work is not None:
                work.close()


def _parts_in_turn(tasks: list[FoldTask]) -> Iterator[dict]:
    """``fit_parts`` of each task in turn (a stage each, for ``Background``)."""
    for task in tasks:
        yield fit_parts(task)


def _run_folds(tasks: list[FoldTask]) -> list[FoldResult]:
    return [run_fold(t) for t in tasks]


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


def coverage_ranges(levels, origins, horizon: int) -> dict:
    """Per level, the coverage a perfectly calibrated band shows in most backtests from these origins
    (intervals.calibrated_range), so a coverage off the nominal level can be told from the folds' noise."""
    out = {}
    for level in levels:
        low, high = IV.calibrated_range(level, origins, horizon)
        out[level_key(level)] = {"low": low, "high": high, "mass": IV.RANGE_MASS, "origins": len(origins),
                                 "steps": horizon, "simulated_on": "a Gaussian random walk"}
    return out


def _dm(F_lstm, A, N, overlap: int, verdict: dict | None = None, name: str = "the LSTM") -> dict:
    """LSTM vs naive (Diebold-Mariano on each origin's mean absolute error, ``verdict.dm_test``), with ``vs_best``:
    the LSTM vs the verdict's ``compared_with`` model (the best other model), when there is one. ``name``: what
    the sentence calls the lstm row (``verdict.short_name``)."""
    test = V.dm_test(F_lstm, N, A, ("lstm", "naive"), overlap)
    p, stat = test["p_value"], test["statistic"]
    if not math.isfinite(p):
        verdict_text = f"not tested: {test['origins']} origins, at least {test['needed']} needed"
    elif p < SIGNIFICANCE:
        better = name if stat < 0 else "the naive forecast"
        verdict_text = f"{better} is significantly more accurate (p = {p:.3g} < {SIGNIFICANCE})"
    else:
        verdict_text = (f"no significant difference between {name} and the naive forecast (p = {p:.3g}); "
                        "the gap may be noise")
    out = {**test, "verdict": verdict_text}
    vs_best = (verdict or {}).get("tests", {}).get("vs_best")
    if vs_best is not None:
        out["vs_best"] = vs_best
    return out


def network_weight(weights, parts=()) -> dict | None:
    """The LSTM's network weight in each fit of a backtest (``weights``, in fit order; models/lstm.py, ``--shrink``)
    and a sentence saying what it means: with weight 0 a fit forecasts its anchor, the naive forecast or, where
    the fit corrects a statistical model (``parts``: the fits' models, None where none), that model's forecasts,
    whatever the network learned. None without weights. ``part_per_fit``: each fit's statistical model ("none":
    the naive forecast or a seasonal profile), as ``--hybrid auto`` chose it on that fit's rows."""
    w = [float(x) for x in weights]
    if not w:
        return None
    zero, n, used = sum(x == 0.0 for x in w), len(w), sum(bool(p) for p in parts)
    anchor = {0: "the naive forecast's", len(w): "those of the statistical model it corrects"}.get(
        used, "its anchor's (the naive forecast, or the statistical model it corrects)")
    lo, hi = (f"{min(x for x in w if x > 0):.2f}", f"{max(w):.2f}") if zero < n else ("", "")
    spread = lo if lo == hi else f"{lo}-{hi}"
    if zero == n:
        text = (f"0 in {'the one fit' if n == 1 else f'all {n} fits'}: the validation windows confirmed nothing the "
                f"network learned, so the LSTM's forecasts are {anchor}")
    elif n == 1:
        text = f"{spread} (what the fit's validation windows confirm)"
    elif zero == 0:
        text = f"{spread} over the {n} fits (what each fit's validation windows confirm)"
    else:
        text = (f"0 in {zero} of {n} fits, {spread} in the {'other' if n - zero == 1 else 'others'}: what each "
                f"fit's validation windows confirm; "
                f"with 0 a fit's forecasts are {anchor}")
    parts = list(parts) or [None] * n
    return {"per_fit": w, "zero_in": zero, "fits": n, "message": text,
            "part_per_fit": [p or "none" for p in parts]}  # the statistical model each fit corrected


def _lag_diagnostic(results: list[FoldResult], s: Series, who: str = "the LSTM") -> dict | None:
    parts = [r.one_step[s.id] for r in results if r.model == "lstm" and s.id in r.one_step]
    if not parts:
        return None
    prices = s.values
    idx = np.concatenate([p[0] for p in parts])
    pred = np.concatenate([p[1] for p in parts])
    order = np.argsort(idx)
    idx, pred = idx[order], pred[order]
    ok = np.isfinite(pred) & (idx + 1 - MAX_LAG >= 0)
    if ok.sum() < 2 or not np.array_equal(idx[ok], np.arange(idx[ok][0], idx[ok][-1] + 1)):
        return None
    idx, pred = idx[ok], pred[ok]
    diagnostic = M.lag_diagnostic(pred, prices[idx[0] + 1 - MAX_LAG: idx[-1] + 2], MAX_LAG, who)
    return {**diagnostic,
            "method": "step-1 forecast at every origin from the first fold's origin to the end, each made by "
                      "the most recent fit (out of sample); MAE against actual_{t-k}, k = 0..5"}


# --------------------------------------------------------------------------------------- running


def backtest(panel: Panel, cfg: RunConfig, *, folds: int = 5, step: int | None = None,
             window_type: str = "expanding", train_size: int | None = None, retrain_every: int = 1,
             warm_start: bool = False, models: Iterable[str] = DEFAULT_MODELS, season: int | None = None,
             executor: Callable = SEQUENTIAL, progress: Callable[[FoldResult], None] | None = None,
             data_info: dict | None = None, levels: Iterable[float] = (IV.DEFAULT_LEVEL,)) -> Backtest:
    """Walk-forward backtest of ``models`` on every series of ``panel``; horizon and LSTM settings (including
    ``cfg.model.fit``: one global LSTM refit per fold, or one per series) come from ``cfg``.

    Fold ``k`` of a series is its ``k``-th origin counted back from its own end, so series of unequal length are
    fine; a series too short for the folds is skipped with the reason. Where one network is fitted on every series
    (``fit`` global, a network among ``models``), the folds cut every series at the same dates instead
    (``folds.date_folds``), so that no fit sees one series past the date it forecasts another from. One series: the report of that series;
    several: ``series`` (each series' report), ``pooled`` and one ``verdict``.
    """
    models = parse_models(models)
    levels = tuple(sorted(set(levels)))
    h = cfg.window.horizon
    step = h if step is None else step
    if season is not None and season < 1:
        raise ForecastError(f"--season {season}: must be at least 1")
    # every cycle of each series' calendar, primary first (MSTL uses them all; --season gives one)
    cycles = {s.id: (season,) if season else seasons_of(s) for s in panel}
    seasons = {sid: (c or (1,))[0] for sid, c in cycles.items()}  # the primary season
    folds_of, skipped = {}, dict(panel.skipped)
    min_train = {s.id: max(BASELINE_MIN_TRAIN, seasons[s.id] + 2, _min_rows(models, cfg)) for s in panel}
    together = len(panel) > 1 and cfg.model.fit == "global" and any(config.is_network(m) for m in models)
    if together:  # one network fitted on every series: each fold cuts them all at the same date
        folds_of, why = date_folds({s.id: s.dates.values for s in panel}, h, folds, step, window_type, train_size,
                                   retrain_every, min_train)
        skipped.update(why)
    for s in panel if not together else ():
        try:
            folds_of[s.id] = make_folds(len(s), h, folds, step, window_type, train_size, retrain_every,
                                        min_train[s.id])
        except ForecastError as e:
            if len(panel) == 1 or str(e).startswith("--"):  # a bad option, or the only series
                raise
            skipped[s.id] = str(e)
    if not folds_of:
        raise InputError(f"{panel.source}: no series could be backtested ("
                         + "; ".join(f"{k}: {v}" for k, v in skipped.items()) + ")")
    usable = replace(panel, series=tuple(s for s in panel if s.id in folds_of))
    tasks, chained = [], []
    for name in models:
        network = config.is_network(name)
        by_season = {}  # baselines get each series' own season
        for sid in usable.ids:
            by_season.setdefault(cycles[sid], []).append(sid)
        for m, sids in by_season.items():
            part = usable if network else replace(usable, series=tuple(usable[sid] for sid in sids))
            chains = _tasks(part, folds_of, name, cfg, m, warm_start, calibrate=bool(levels))
            for chain in chains:
                (chained.append(chain) if warm_start and network else tasks.extend(chain))
            if network:
                break  # a network's season is unused; one set of tasks covers every series
    results = _execute(tasks, chained, executor, progress)
    reports, rows = {}, []
    for s in usable:
        rep, frame = score_series(s, folds_of[s.id], [r for r in results if s.id in r.ids], models, levels, cfg,
                                  season, seasons[s.id])
        reports[s.id] = rep
        rows.append(frame.assign(id=s.id)[["id", *frame.columns]] if panel.named else frame)
    settings = _settings(cfg, models, folds, step, window_type, train_size, retrain_every, warm_start, levels,
                         folds_of, usable, data_info, skipped)
    if not panel.named:  # a single-series file: its report without the per-series level
        (rep,) = reports.values()
        rep.pop("scaled_errors"), rep.pop("naive_scaled_errors")
        report = {"settings": {**settings, "season": rep.pop("season"), "mase_scaled_by": rep.pop("mase_scaled_by"),
                               "data": {**settings["data"], **rep.pop("data")},
                               "train_end_indices": rep.pop("train_end_indices")}, **rep}
    else:
        report = {"settings": settings, "ids": list(reports), "pooled": pooled(reports), "series": reports,
                  "skipped": skipped}
        if "lstm" in models:  # the statistical parts the LSTM corrected, over every series' fits
            fits = [(r, sid) for r in results if r.model == "lstm" for sid in r.ids]
            report["pooled"]["lstm_is"] = V.lstm_label(
                (r.parts.get(sid) for r, sid in fits), unit="fits of a series",
                weights=[r.network_weights[sid] for r, sid in fits if sid in r.network_weights])
        report["verdict"] = pooled_verdict_object(report["pooled"])
        if len(reports) == 1:  # one series left of a long or wide file: its own verdict, which also tests the
            report["verdict"] = next(iter(reports.values()))["verdict"]  # LSTM against the best other model
        report["notes"] = [f"{sid}: {n}" for sid, r in reports.items() for n in r["notes"]]
        report["seconds"] = {name: sum(r.seconds for r in results if r.model == name) for name in models}
    return Backtest(strict(report), pd.concat(rows, ignore_index=True), usable)  # JSON-ready: NaN -> None


def _settings(cfg, models, folds, step, window_type, train_size, retrain_every, warm_start, levels, folds_of, panel,
              data_info, skipped) -> dict:
    networks = any(config.is_network(m) for m in models)  # lstm or a variant (gru, lstm-plain, ...)
    retraining = ("models refit at every fold" if retrain_every == 1 else
                  f"models refit every {retrain_every} folds; in the other folds they forecast from the new "
                  "origin with their last fit")
    if warm_start and "lstm" in models:
        retraining += "; the LSTM starts each fit from the previous fit's weights (warm start)"
    first = next(iter(folds_of.values()))
    return {
        "horizon": cfg.window.horizon, "folds": folds, "step": step, "window_type": window_type,
        "train_size": train_size or (first[0].origin + 1), "retrain_every": retrain_every,
        "warm_start": warm_start, "retraining": retraining, "models": list(models), "fit_tail": fit_tails(models),
        "fit": cfg.model.fit if networks else None,
        "fit_meaning": ("one network across all series, refit at each fold" if cfg.model.fit == "global"
                        else "one network per series, refit at each fold") if networks else None,
        "mase_scaling": "in-sample naive one-step MAE of each fold's training data (seasonal with --season)",
        "seed": cfg.train.seed, "lstm_config": cfg.to_dict() if "lstm" in models else None,
        "data": {**(data_info or {}), "layout": panel.layout, "n_series": len(panel), "target": panel.target},
        "intervals": {"levels": list(levels), "method": "split conformal (symmetric), per model, fit and series",
                      "calibrated_on": f"each fit's validation part (last val_frac = {cfg.window.val_frac} of its "
                                       f"prices), at most {CALIBRATION_ORIGINS} origins evenly spaced"}
                     if levels else None,
    }


def score_series(s: Series, fold_list: list[Fold], results: list[FoldResult], models, levels, cfg: RunConfig,
                 season: int | None, m: int) -> tuple[dict, pd.DataFrame]:
    """One series' report (scores, DM test, lag diagnostic, verdict) and its forecasts frame."""
    h = cfg.window.horizon
    prices = s.values
    origins = np.array([f.origin for f in fold_list])
    steps = label_index(origins, h)  # (folds, h) price indices of the targets
    A, O = prices[steps], prices[origins]
    N = np.repeat(O[:, None], h, axis=1)
    mase_season = season or 1  # seasonal naive scaling only when the user gives a season
    S = np.array([M.naive_scale(prices[f.train_start: f.origin + 1], mase_season) for f in fold_list])
    dates = [stamp_text(d) for d in s.dates[origins]]
    F = {name: np.full((len(fold_list), h), np.nan) for name in models}
    B = {name: {lv: (np.full((len(fold_list), h), np.nan), np.full((len(fold_list), h), np.nan)) for lv in levels}
         for name in models}  # model -> level -> (lower, upper)
    notes = []
    for r in results:
        cal = r.calibrators.get(s.id)
        for i, paths in r.forecasts.items():
            fc = paths[s.id]
            F[r.model][i] = fc
            if cal is not None:
                for lv, (lo, hi) in cal.intervals(fc, levels=levels, scales=cal.scales(prices, origins[i])).items():
                    B[r.model][lv][0][i], B[r.model][lv][1][i] = lo, hi
        notes += [f"{text} at origin {dates[fold]}; its forecasts there are NaN" for fold, text in r.notes]
    per_model = {name: _add_interval_scores(_model_metrics(A, F[name], O, S, N, dates), A, B[name])
                 for name in models}
    overlap = V.overlap_of(h, int(np.min(np.diff(origins))) if len(origins) > 1 else h)  # origins sharing targets
    fits = [r for r in sorted(results, key=lambda r: r.folds[0]) if r.model == "lstm" and s.id in r.network_weights]
    weights = [r.network_weights[s.id] for r in fits]
    weight = network_weight(weights, [r.parts.get(s.id) for r in fits])
    lstm_is = V.lstm_label((r.parts.get(s.id) for r in results if r.model == "lstm"), weights=weights)
    verdict = V.verdict(per_model, F, A, N, lstm_is=lstm_is, overlap=overlap)  # the LSTM vs the best model and naive
    dm = _dm(F["lstm"], A, N, overlap, verdict, V.short_name(lstm_is)) if "lstm" in models else None
    report = {"origins": dates, "models": per_model, "naive_mae": M.mae(A, N),  # naive's, whatever --models has
              "dm_test": dm, "lag_diagnostic": _lag_diagnostic(results, s, V.short_name(lstm_is)),
              "network_weight": weight,
              "verdict": verdict, "notes": notes, "coverage_range": coverage_ranges(levels, origins, h),
              "seconds": {name: sum(r.seconds for r in results if r.model == name) for name in models},
              "season": m, "mase_scaled_by": (f"the seasonal naive forecast's in-sample MAE (lag {mase_season}, "
                                              "--season)" if mase_season > 1 else
                                              "the naive forecast's in-sample MAE (lag 1; --season N: lag N)"),
              "train_end_indices": [int(f.origin) for f in fold_list],
              "data": {"rows": len(s), "freq": s.freq, "first_date": stamp_text(s.dates[0]),
                       "last_date": stamp_text(s.dates[-1])},
              **_scaled_errors(F, N, A, S)}
    frame = pd.concat([pd.DataFrame({"origin": np.repeat(s.dates[origins], h), "date": s.dates[steps.ravel()],
                                     "step": np.tile(np.arange(1, h + 1), len(origins)), "model": name,
                                     "forecast": F[name].ravel(), "actual": A.ravel(),
                                     **{col: B[name][lv][j].ravel() for lv, *cols in IV.column_names(levels)
                                        for j, col in enumerate(cols)}}) for name in models], ignore_index=True)
    return report, frame


NO_FORECAST = "a model has no forecast at some origin"  # why pooled() leaves a series out of the means
NO_MASE = "no MASE: its training prices do not move, so the scale is 0"


def _scaled_errors(F: dict, N: np.ndarray, A: np.ndarray, S: np.ndarray) -> dict:
    """Each model's errors and naive's over each fold's MASE scale ``S``, for the pooled test; NaN where the scale
    is 0 (prices that do not move in a fold's training data: no MASE there, and no warning)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return {"scaled_errors": {name: ((f - A) / S[:, None]).tolist() for name, f in F.items()},
                "naive_scaled_errors": ((N - A) / S[:, None]).tolist()}


def _scored(m: dict, mase: bool = True) -> bool:
    """Whether a model's report of a series has a forecast at every fold (and, with ``mase``, a finite MASE)."""
    folds_ok = all(f["mae"] is not None and math.isfinite(f["mae"]) for f in m["folds"])
    return folds_ok and (not mase or (m["mase"] is not None and math.isfinite(m["mase"])))


def pooled(reports: dict[str, dict]) -> dict:
    """Across series: per model the mean MASE and skill; the LSTM's wins against naive, how many are significant,
    the evidence each rests on, and one Diebold-Mariano test on the errors scaled by each series' MASE scale."""
    names = list(next(iter(reports.values()))["models"])
    # the means are over the same series for every model: those where each has a forecast at every origin and a
    # finite MASE (a model failing on the hard series must not be averaged over the easy ones only)
    common = [sid for sid, r in reports.items() if all(_scored(r["models"][n]) for n in names)]
    out = {}
    for name in names:
        rows = [reports[sid]["models"][name] for sid in common]
        sk = [x["skill_vs_naive"] for x in rows if x["skill_vs_naive"] is not None]
        out[name] = {"mean_mase": float(np.mean([x["mase"] for x in rows])) if rows else float("nan"),
                     "mean_skill_vs_naive": float(np.mean(sk)) if sk else float("nan"), "n_series": len(rows)}
    left = sorted(set(reports) - set(common))
    result = {"models": out, "evidence": {}, "series_left_out": left,
              "series_left_out_why": {sid: NO_MASE if all(_scored(reports[sid]["models"][n], mase=False) for n in names)
                                      else NO_FORECAST for sid in left}}
    if "lstm" in names:
        compared = {sid: r for sid, r in reports.items() if _scored(r["models"]["lstm"], mase=False)}
        wins = {sid: beats(r["models"]["lstm"]["mae"], r["naive_mae"]) for sid, r in compared.items()}
        p = {sid: (r["dm_test"] or {}).get("p_value") for sid, r in reports.items()}
        result["lstm_beats_naive"] = int(sum(wins.values()))
        result["lstm_beats_naive_significantly"] = sum(
            beats_significantly({"beats_naive": won, "dm_test": reports[sid]["dm_test"]}) for sid, won in wins.items())
        result["n_compared"] = len(wins)
        result["evidence"] = {sid: {"origins": len(r["origins"]), "forecasts": len(r["origins"]) * len(
            r["scaled_errors"]["lstm"][0]), "p_value": p[sid], "lstm_beats_naive": wins.get(sid)}
            for sid, r in reports.items()}
        result["dm_test"] = _pooled_test(reports)
    for r in reports.values():  # per-series working arrays, not for the report
        r.pop("scaled_errors", None)
        r.pop("naive_scaled_errors", None)
    return result


def _pooled_test(reports: dict[str, dict]) -> dict:
    """The pooled LSTM-vs-naive test: its unit is the origin date, each date's mean over the series of their
    origin losses (mean absolute error scaled by the series' MASE scale). Series forecast from one date share that
    date's news, so their errors are not independent: two copies of a series must not double the evidence. Where
    the series' origins interleave (their own folds), the dates between two origins of one series that share a
    target are counted into the overlap; series of separate periods add none."""
    by_date: dict[str, list[tuple[float, float]]] = {}
    for r in reports.values():
        lstm, naive = V.origin_losses(r["scaled_errors"]["lstm"]), V.origin_losses(r["naive_scaled_errors"])
        for date, a, b in zip(r["origins"], lstm, naive):
            if np.isfinite(a) and np.isfinite(b):
                by_date.setdefault(date, []).append((a, b))
    dates = sorted(by_date)
    losses = np.array([np.mean(by_date[d], axis=0) for d in dates]).reshape(-1, 2)
    position = {d: i for i, d in enumerate(dates)}
    overlap = 1  # in the dates' order: how far apart two dates of one series that share a target can lie
    for r in reports.values():
        shared = (r["dm_test"] or {}).get("overlap", 1)
        own = [position[d] for d in r["origins"] if d in position]
        overlap = max([overlap, *(own[j + shared - 1] - own[j] + 1 for j in range(len(own) - shared + 1))])
    return {**V.loss_test(losses[:, 0], losses[:, 1], overlap), "models": ["lstm", "naive"], "unit": "origin date",
            "errors": "scaled by each series' in-sample naive MAE, averaged over the series at each origin date"}


MIN_POOLED_ORIGINS = 10  # fewer origins than this over all series: too little to tell
NEAR_NAIVE = 0.01  # a mean MASE this close to naive's is not a reason to recommend a model over it (not tested)


def _pooled_origins(p: dict) -> int:
    """The forecast origins the pooled LSTM-vs-naive evidence rests on, over every series."""
    return sum(e["origins"] for e in p.get("evidence", {}).values())


def _tested_p(p: dict) -> float | None:
    """The pooled test's p-value where it ran over at least MIN_POOLED_ORIGINS origins, else None."""
    pv = (p.get("dm_test") or {}).get("p_value")
    enough = _pooled_origins(p) >= MIN_POOLED_ORIGINS
    return pv if enough and pv is not None and math.isfinite(pv) else None


def _mean_mase(p: dict) -> dict[str, float]:
    """Each model's mean MASE over the pooled series, where it is a number."""
    return {n: m["mean_mase"] for n, m in p["models"].items()
            if known(m["mean_mase"]) and math.isfinite(m["mean_mase"])}


def pooled_verdict_object(p: dict) -> dict:
    """The pooled verdict as an object with the keys a single series' verdict has for the ranking and the test
    against naive (``verdict.verdict``), so one reader serves both: ``text`` (``pooled_verdict``), ``best``,
    ``ranking`` and ``rank_by`` (mean MASE over the series every model forecast), ``p_value_vs_naive`` (the pooled
    Diebold-Mariano test; None without the LSTM, or over fewer than MIN_POOLED_ORIGINS origins, where the sentence
    says they are too few to tell), ``lstm_is`` and ``significance``."""
    finite = _mean_mase(p)
    ranking = V.ranked(finite)
    return {"best": ranking[0] if ranking else None, "ranking": ranking, "rank_by": "mean_mase",
            "p_value_vs_naive": _tested_p(p),
            "lstm_is": p.get("lstm_is", "the LSTM"), "significance": SIGNIFICANCE, "text": pooled_verdict(p)}


def pooled_verdict(p: dict) -> str:
    """One sentence over many series that never claims more than the evidence shows, naming the best model."""
    finite = _mean_mase(p)
    if not finite:
        return "No series has a forecast of every model at every origin; see each series' verdict."
    best = V.ranked(finite)[0]
    left = p.get("series_left_out") or []
    n = next(iter(p["models"].values())).get("n_series", 0)
    why = p.get("series_left_out_why") or {}
    shown = "; ".join(f"{sid}, {why[sid]}" if sid in why else sid for sid in left[:5])
    over = (f" over the {n} series where every model has a forecast at every origin and a MASE (left out: {shown}"
            f"{' ...' if len(left) > 5 else ''})") if left else ""
    if "lstm_beats_naive" not in p:
        where = ("" if over else " on the one series backtested" if n == 1 else f" over the {n} series" if n
                 else " over the series")  # ``over`` says it when series were left out
        return f"{best} has the lowest mean MASE{where} ({finite[best]:.3f}){over}."
    lstm = p.get("lstm_is", "the LSTM")  # names the statistical parts it corrected (verdict.lstm_label)
    short = V.short_name(lstm)  # "the LSTM", or "the lstm row" where its forecasts were other models'
    head = (f"{lstm[0].upper()}{lstm[1:]} has a lower MAE than the naive forecast on {p['lstm_beats_naive']} of "
            f"{p['n_compared']} series ({p['lstm_beats_naive_significantly']} significantly)")
    dm, pv = p.get("dm_test") or {}, _tested_p(p)
    tested = pv is not None
    naive = finite.get("naive")
    lstm_ahead = best == "lstm" and tested and pv < SIGNIFICANCE and dm["statistic"] < 0  # the test is of this lead
    near = best != "naive" and naive is not None and finite[best] > naive * (1 - NEAR_NAIVE) and not lstm_ahead
    if best == "lstm":
        rank = f"{short} has the lowest mean MASE of all models ({finite['lstm']:.3f}){over}"
    else:
        rank = (f"{best} has the lowest mean MASE ({finite[best]:.3f}, {short} "
                + (f"{finite['lstm']:.3f}" if "lstm" in finite else "none") + f"){over}"
                + ("" if near else f": use {best}"))
    if near:  # an untested lead this small is no reason to leave the simplest forecast
        rank += (f", within {NEAR_NAIVE:.0%} of the naive forecast's ({naive:.3f}): prefer the naive forecast, the "
                 "simplest")
    n_origins = _pooled_origins(p)
    if n_origins < MIN_POOLED_ORIGINS:
        return f"{head}, but {n_origins} origins in all are too few to tell; use more --folds. Meanwhile {rank}."
    if not tested:
        return (f"{head}, but the series' origins fall on {dm.get('origins', 0)} dates, too few for the pooled test "
                f"(at least {dm.get('needed', MIN_POOLED_ORIGINS)}); use more --folds. Meanwhile {rank}.")
    ptxt = f"pooled Diebold-Mariano p = {pv:.3g} over {dm.get('origins')} origin dates"
    if pv < SIGNIFICANCE:
        better = short if dm["statistic"] < 0 else "the naive forecast"
        return f"{head}; pooled over the series {better} is significantly more accurate ({ptxt}); {rank}."
    return f"{head}; pooled over the series the difference is NOT significant ({ptxt}), it may be noise; {rank}."
