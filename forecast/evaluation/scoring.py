"""Score a trained model on one series' held-out test part, calibrate its intervals, pool over series.

The same metric code as the backtest: MASE is scaled by the naive one-step MAE of the training part; the
Diebold-Mariano test compares per-origin mean absolute errors at origins ``h`` steps apart (counted back
from the last), because neighbouring origins share ``h - 1`` targets and their loss differences stay
correlated beyond lag h - 1 (a HAC estimate over all origins overstated significance on the NASDAQ test
part: p = 0.03 there against 0.07-0.32 for non-overlapping subsets); the lag diagnostic uses the step-1
forecasts at every origin.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from forecast.data.calendar import stamp_text
from forecast.data.panel import Series
from forecast.data.windows import label_index
from forecast.evaluation.metrics import diebold_mariano, forecast_metrics, lag_diagnostic, naive_scale, skill
from forecast.evaluation.verdict import TIE, origin_losses, statistical_part
from forecast.io import known

LAG_MAX = 5  # lags 0..5 tried by the lag diagnostic
SIGNIFICANCE = 0.05
MIN_DM_ORIGINS = 10  # fewer independent origins than this: too little evidence to test


def beats(mae: float, naive_mae: float) -> bool:
    """Whether an MAE beats naive's: lower by more than float noise (``TIE``)."""
    return bool(mae < naive_mae * (1 - TIE))


def beats_significantly(m: dict) -> bool:
    """Whether a series' scores ``m`` (a test part's, ``evaluate_test``, or a backtest's; from metrics.json, NaN as
    None) show the LSTM beating naive significantly: ``beats_naive``, and a Diebold-Mariano test significant in the
    LSTM's favour."""
    dm = m.get("dm_test") or {}
    p, stat = dm.get("p_value"), dm.get("statistic")
    return bool(m.get("beats_naive")) and p is not None and p < SIGNIFICANCE and stat is not None and stat < 0


def evaluate_test(forecast: np.ndarray, s: Series, test_origins: np.ndarray, n_train: int,
                  who: str = "the LSTM") -> tuple[dict, pd.DataFrame]:
    """Metrics of ``forecast`` (n, h), made at ``test_origins`` of ``s``, and of the naive forecast; the frame
    origin, date, step, actual, forecast, naive. ``who`` is what the lag diagnostic calls the forecaster
    (``verdict.shipped_name``)."""
    prices, dates = s.values, s.dates
    h = forecast.shape[1]
    steps = label_index(test_origins, h)  # (n, h) price indices of the labels
    actual = prices[steps]
    origin = prices[test_origins][:, None]  # (n, 1)
    naive = np.repeat(origin, h, axis=1)
    scale = naive_scale(prices[:n_train])
    lstm_m, naive_m = (forecast_metrics(actual, f, origin, scale) for f in (forecast, naive))
    dm = dm_per_origin(forecast, naive, actual, h)  # origins h steps apart share no target: independent-ish
    max_lag = min(LAG_MAX, int(test_origins[0]) + 1)
    lag = lag_diagnostic(forecast[:, 0], prices[test_origins[0] + 1 - max_lag: test_origins[-1] + 2], max_lag, who)
    metrics = {
        "lstm": lstm_m, "naive": naive_m, "skill_vs_naive": skill(lstm_m["mae"], naive_m["mae"]),
        "beats_naive": beats(lstm_m["mae"], naive_m["mae"]), "n_origins": int(len(test_origins)), "horizon": h,
        "first_origin": stamp_text(dates[test_origins[0]]), "first_date": stamp_text(dates[steps[0, 0]]),
        "last_date": stamp_text(dates[steps[-1, -1]]),  # the test part's prices: first_date .. last_date
        "dm_test": {**dm, "loss": "mean absolute error per origin, origins h steps apart",
                    "n_independent": int(dm["n"]),  # origins h steps apart, as tested
                    "significant": bool(dm["p_value"] < SIGNIFICANCE)},
        "lag_diagnostic": lag,
    }
    frame = pd.DataFrame({
        "origin": np.repeat(dates[test_origins], h), "date": dates[steps.ravel()],
        "step": np.tile(np.arange(1, h + 1), len(test_origins)), "actual": actual.ravel(),
        "forecast": forecast.ravel(), "naive": naive.ravel(),
    })
    return metrics, frame


def calibrate_intervals(cal_forecast: np.ndarray, s: Series, cal_origins: np.ndarray, transform: str,
                        test_frame: pd.DataFrame, test_origins: np.ndarray):
    """Conformal calibrator from the forecasts at the validation origins; its coverage measured on the test part
    (``test_frame``'s forecasts from ``test_origins``)."""
    from forecast.evaluation.intervals import (DEFAULT_LEVEL, RANGE_MASS, ConformalCalibrator, calibrated_range,
                                               evaluate, volatility_rows)

    h = cal_forecast.shape[1]
    actual = s.values[label_index(cal_origins, h)]  # (n, h), all inside the validation part
    cal = ConformalCalibrator.for_transform(transform, scale_rows=volatility_rows(s.freq))
    cal.fit(cal_forecast, actual, s.values[cal_origins], scales=cal.scales(s.values, cal_origins))
    test_f, test_a = (test_frame[c].to_numpy().reshape(-1, h) for c in ("forecast", "actual"))
    report = {"method": cal.method, "space": cal.space, "calibrated_on": "validation windows",
              "n_calibration": int(len(cal_origins)), "measured_on": "test part",
              "scale_rows": cal.scale_rows,  # 0: not scaled by volatility (evaluation/intervals.py, item 5)
              "scaled_by": (f"volatility (mean absolute one-step change over the last {cal.scale_rows} rows)"
                            if cal.scale_rows else None),
              "levels": evaluate(cal, test_f, test_a, (DEFAULT_LEVEL,), scales=cal.scales(s.values, test_origins))}
    for iv in report["levels"].values():  # what a calibrated band would show from these origins
        iv["calibrated_range"] = [*calibrated_range(iv["nominal"], test_origins, h), RANGE_MASS]
    return cal, report


def pooled(per_series: dict[str, dict]) -> dict:
    """Across series: how many beat naive (and how many significantly), mean skill, mean relative MAE, and how
    much evidence each comparison rests on."""
    rel = [m["lstm"]["mae"] / m["naive"]["mae"] for m in per_series.values() if m["naive"]["mae"] > 0]
    p = {sid: m["dm_test"]["p_value"] for sid, m in per_series.items()}
    significant = [sid for sid, m in per_series.items() if beats_significantly(m)]
    parts = [m for m in per_series.values()
             if statistical_part(m.get("hybrid")) is not None and m.get("network_weight") != 0]
    return {"n_series": len(per_series), "n_beats_naive": sum(m["beats_naive"] for m in per_series.values()),
            "n_beats_naive_significantly": len(significant),
            "n_statistical_part": len(parts),  # series whose network corrects a statistical model's (weight > 0)
            "n_weight_zero": sum(m.get("network_weight") == 0 for m in per_series.values()),  # forecasts unchanged
            "n_beats_naive_with_network": sum(m["beats_naive"] for m in per_series.values()
                                              if m.get("network_weight") != 0),  # the wins a network took part in
            "mean_skill_vs_naive": float(np.mean([m["skill_vs_naive"] for m in per_series.values()])),
            "mean_relative_mae": float(np.mean(rel)) if rel else float("nan"),
            "evidence": {sid: {"test_origins": m["n_origins"], "independent_origins": m["dm_test"]["n_independent"],
                               "p_value": p[sid]} for sid, m in per_series.items()}}


def pooled_sentence(p: dict) -> str:
    """One line for many series: wins, significant wins, and whether there is enough evidence at all."""
    few = [sid for sid, e in p["evidence"].items() if e["independent_origins"] < MIN_DM_ORIGINS]
    shipped = [f"on {p[k]} the network corrects a statistical model's forecasts" if k == "n_statistical_part" else
               f"on {p[k]} the network's weight is 0: those forecasts are the statistical model's or the naive "
               "forecast's unchanged" for k in ("n_statistical_part", "n_weight_zero") if p.get(k)]
    zero = p.get("n_weight_zero") or 0
    if zero and p["n_beats_naive"] and "n_beats_naive_with_network" in p:  # (a bundle before it lacks the count)
        shipped.append(f"a network's weight was above 0 in {p['n_beats_naive_with_network']} of the "
                       f"{p['n_beats_naive']} wins" if p["n_series"] > zero else "no network's weight was above 0")
    text = (f"{'the shipped models have' if zero else 'the LSTM has'} a lower test MAE than the naive forecast on "
            f"{p['n_beats_naive']} of {p['n_series']} "
            f"series, significantly (Diebold-Mariano p < {SIGNIFICANCE}) on {p['n_beats_naive_significantly']}"
            + (f" ({'; '.join(shipped)})" if shipped else "") + "; "
            "mean relative MAE " + (f"{p['mean_relative_mae']:.3f}" if known(p["mean_relative_mae"]) else "n/a")
            + " (below 1: lower error than naive)")
    if few:
        text += (f"; {len(few)} series {'has' if len(few) == 1 else 'have'} fewer than {MIN_DM_ORIGINS} independent "
                 "test origins: a test there can miss a real difference, and a significant one rests on few "
                 "forecasts (run `forecast backtest`)")
    return text


CANDIDATES = ("arima", "ets", "theta", "mstl")  # the statistical model shown beside the LSTM: best on validation
MAX_SERIES_WITH_CANDIDATES = 10  # beyond this many series the test summary shows seasonal naive only


def seasonal_naive_paths(prices: np.ndarray, origins: np.ndarray, h: int, m: int) -> np.ndarray:
    """(n, h) forecasts repeating the last season before each origin: y[o + k - m * ceil(k / m)]."""
    k = np.arange(1, h + 1)
    return prices[np.asarray(origins)[:, None] + k - m * np.ceil(k / m).astype(int)]


def dm_per_origin(a: np.ndarray, b: np.ndarray, actual: np.ndarray, h: int) -> dict:
    """Diebold-Mariano on the per-origin MAE of forecasts ``a`` and ``b`` (n, h) at origins ``h`` steps apart
    (counted back from the last): the test ``evaluate_test`` uses."""
    apart = slice(len(actual) - 1, None, -h)
    return diebold_mariano(origin_losses((a - actual)[apart]), origin_losses((b - actual)[apart]), horizon=1,
                           loss="absolute")


def baseline_paths(s: Series, n_train: int, val_origins: np.ndarray, test_origins: np.ndarray, h: int,
                   seasons: tuple[int, ...], candidates=CANDIDATES) -> dict:
    """The baselines' forecasts at the test origins: seasonal naive, and the statistical model of ``candidates``
    with the lowest validation MAE (at the origins ``--hybrid auto`` scores them at, ``residual.spread_origins``:
    where auto takes a model, this is the one), fitted on the training part only (forecasts at later origins reuse
    the fit through statsforecast's forward: same parameters, updated states; spread over the cores by
    ``forked_map``).
    Each candidate models the primary season only, as ``--hybrid auto`` fits them (the same fits, ``shared_fits``):
    ARIMA, ETS and Theta take no other, and MSTL with a daily calendar's two (7, 365) took about 0.5 s a forecast
    against 3-4 ms with one (the backtest's ``mstl`` row takes every season). Needs no LSTM: it can run while the
    network trains (workflows/train.py)."""
    from forecast.executors import forked_map
    from forecast.models.baselines import BASELINES
    from forecast.models.residual import spread_origins

    prices = s.values
    m = (seasons or (1,))[0]
    paths = {"seasonal_naive": seasonal_naive_paths(prices, test_origins, h, m)}
    val, fitted = {}, {}
    chosen_on = spread_origins(int(val_origins[0]), int(val_origins[-1]))  # as --hybrid auto scores them
    for name in candidates:
        try:
            model = BASELINES[name](seasons[:1]).fit(prices[:n_train])
            f = np.stack([model.forecast(h, history=prices[:o + 1]) for o in chosen_on])
            val[name], fitted[name] = float(np.mean(np.abs(f - prices[label_index(chosen_on, h)]))), model
        except Exception:  # noqa: BLE001 - a model that cannot fit this series is simply not a candidate
            continue
    info = {"fitted_on": "training part", "season": m}
    if val:
        best = min(val, key=val.get)
        paths[best] = np.stack(forked_map(lambda o: fitted[best].forecast(h, history=prices[:o + 1]), test_origins))
        info.update(chosen=best, chosen_by="lowest MAE on the validation part", validation_mae=val)
    return {"info": info, "paths": paths}


def baseline_test_scores(s: Series, n_train: int, test_origins: np.ndarray, h: int, found: dict,
                         lstm_forecast: np.ndarray) -> dict:
    """The metrics of ``baseline_paths``' forecasts, each with the Diebold-Mariano p-value of its difference to
    ``lstm_forecast`` (the same test origins)."""
    prices = s.values
    actual, origin = prices[label_index(test_origins, h)], prices[test_origins][:, None]
    scale = naive_scale(prices[:n_train])
    return {**found["info"], "models": {name: {**forecast_metrics(actual, f, origin, scale),
                                               "p_value_vs_lstm": dm_per_origin(f, lstm_forecast, actual, h)["p_value"]}
                                        for name, f in found["paths"].items()}}
