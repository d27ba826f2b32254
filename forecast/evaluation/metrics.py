"""Forecast error metrics. Inputs are arrays of equal shape in price units; NaNs are not allowed."""

from __future__ import annotations

import numpy as np


def _pair(actual, pred) -> tuple[np.ndarray, np.ndarray]:
    a, p = np.asarray(actual, dtype=np.float64), np.asarray(pred, dtype=np.float64)
    if a.shape != p.shape:
        raise ValueError(f"actual {a.shape} and forecast {p.shape} differ in shape")
    return a, p


def mae(actual, pred) -> float:
    a, p = _pair(actual, pred)
    return float(np.mean(np.abs(a - p)))


def rmse(actual, pred) -> float:
    a, p = _pair(actual, pred)
    return float(np.sqrt(np.mean((a - p) ** 2)))


def mape(actual, pred) -> float:
    """Mean absolute percentage error, in percent; NaN (undefined) where an actual value is zero."""
    a, p = _pair(actual, pred)
    if np.any(a == 0):
        return float("nan")
    return float(100 * np.mean(np.abs((a - p) / a)))


def smape(actual, pred) -> float:
    """Symmetric MAPE in percent (0..200)."""
    a, p = _pair(actual, pred)
    denom = np.abs(a) + np.abs(p)
    ratio = np.divide(2 * np.abs(a - p), denom, out=np.zeros_like(denom), where=denom > 0)
    return float(100 * np.mean(ratio))


def skill(model_mae: float, naive_mae: float) -> float:
    """1 - MAE_model / MAE_naive: positive when the model beats the naive forecast."""
    return float(1 - model_mae / naive_mae) if naive_mae > 0 else float("nan")


def point_metrics(actual, pred) -> dict[str, float]:
    return {"mae": mae(actual, pred), "rmse": rmse(actual, pred), "mape": mape(actual, pred),
            "smape": smape(actual, pred)}


# ------------------------------------------------------------------ scaled and directional metrics


def naive_scale(train, season: int = 1) -> float:
    """In-sample MAE of the (seasonal) naive one-step forecast on ``train``: the MASE denominator."""
    t = np.asarray(train, dtype=np.float64)
    if len(t) <= season:
        return float("nan")
    return float(np.mean(np.abs(t[season:] - t[:-season])))


def mase(actual, pred, scale: float) -> float:
    """Mean absolute scaled error: MAE divided by the in-sample naive MAE ``scale`` (see naive_scale)."""
    return float(mae(actual, pred) / scale) if scale > 0 else float("nan")


NO_CALL = 0.05  # a forecast within this share of a typical one-step move of its origin makes no directional call


def directional_accuracy(actual, pred, origin, deadband=0.0) -> float:
    """Share of forecasts whose change from the origin price has the sign of the actual change.

    ``origin`` broadcasts against ``actual`` (e.g. shape (n, 1) for (n, h) forecasts). A forecast of no
    change makes no directional call and scores 0.5 (a coin flip), so the naive forecast scores 0.5; so does
    one within ``deadband`` (broadcasting like ``origin``) of its origin: a model that repeats the last price but
    for a nudge of 0.03 points on an index at 7,950 made no call, yet counted as ten right "up" calls.
    """
    a, p = _pair(actual, pred)
    o = np.asarray(origin, dtype=np.float64)
    band = np.nan_to_num(np.asarray(deadband, dtype=np.float64))
    move = p - o
    pred_sign, actual_sign = np.where(np.abs(move) <= band, 0.0, np.sign(move)), np.sign(a - o)
    hits = np.where(pred_sign == 0, 0.5, (pred_sign == actual_sign).astype(np.float64))
    return float(np.mean(hits))


def forecast_metrics(actual, pred, origin, scale) -> dict[str, float]:
    """point_metrics plus MASE and directional accuracy; ``scale`` may be per row (n, 1) for pooled MASE. A forecast
    within NO_CALL x ``scale`` (the in-sample naive MAE: a typical one-step move) of its origin makes no call."""
    a, p = _pair(actual, pred)
    s = np.broadcast_to(np.asarray(scale, dtype=np.float64), a.shape)
    scaled = np.divide(np.abs(a - p), s, out=np.full(a.shape, np.nan), where=s > 0)
    return {**point_metrics(a, p), "mase": float(np.mean(scaled)),
            "directional_accuracy": directional_accuracy(a, p, origin, NO_CALL * s)}


# ------------------------------------------------------------------------------ Diebold-Mariano


def diebold_mariano(errors_a, errors_b, horizon: int = 1, loss: str = "squared") -> dict[str, float]:
    """Diebold-Mariano test of equal accuracy, with the Harvey-Leybourne-Newbold correction.

    ``errors_a``/``errors_b``: forecast errors of two models on the same targets, in time order. The loss
    differential d = L(e_a) - L(e_b) (squared or absolute) has its long-run variance estimated with
    autocovariances up to lag ``horizon - 1`` (rectangular window; Bartlett weights if that is not
    positive). The statistic is scaled by sqrt((n + 1 - 2h + h(h-1)/n) / n) and compared with Student's
    t with n - 1 degrees of freedom. Negative statistic: model a has the smaller loss. Two-sided p-value.
    Not tested (NaN) where the variance cannot be estimated: fewer than two values, or no more than ``horizon``
    (every autocovariance of a centred series sums to zero, so what is left is rounding).
    """
    from scipy.special import stdtr  # Student's t as scipy.stats.t.sf computes it, without scipy.stats' import

    if loss not in ("squared", "absolute"):
        raise ValueError(f"loss must be 'squared' or 'absolute', got {loss!r}")
    ea, eb = _pair(errors_a, errors_b)
    ea, eb = ea.ravel(), eb.ravel()
    keep = np.isfinite(ea) & np.isfinite(eb)
    ea, eb = ea[keep], eb[keep]
    fn = np.square if loss == "squared" else np.abs
    d = fn(ea) - fn(eb)
    n, h = len(d), max(1, int(horizon))
    if n < 2 or (h > 1 and n <= h):
        return {"statistic": float("nan"), "p_value": float("nan"), "n": n, "mean_loss_diff": float("nan")}
    dbar = float(np.mean(d))
    dc = d - dbar
    gammas = [float(np.dot(dc[k:], dc[: n - k]) / n) for k in range(min(h, n))]
    var = gammas[0] + 2 * sum(gammas[1:])
    if var <= 1e-12 * gammas[0]:  # not positive, or rounding of a sum that cancels
        var = gammas[0] + 2 * sum((1 - k / len(gammas)) * g for k, g in enumerate(gammas) if k)
    if var <= 0:  # identical losses: no evidence of any difference
        return {"statistic": 0.0, "p_value": 1.0, "n": n, "mean_loss_diff": dbar}
    factor = (n + 1 - 2 * h + h * (h - 1) / n) / n
    if factor <= 0:  # the small-sample correction has no meaning this close to n = h
        return {"statistic": float("nan"), "p_value": float("nan"), "n": n, "mean_loss_diff": dbar}
    dm = dbar / np.sqrt(var / n)
    hln = np.sqrt(factor)
    stat = float(dm * hln)
    return {"statistic": stat, "p_value": float(2 * stdtr(n - 1, -abs(stat))), "n": n,
            "mean_loss_diff": dbar}


def lag_scores(one_step, actual, max_lag: int = 5) -> list[float]:
    """MAE of one-step forecasts f_t against the actual series shifted back by k = 0..max_lag steps.

    ``one_step[i]`` forecasts ``actual[i]``; ``actual`` must start ``max_lag`` steps earlier than the
    forecasts, i.e. ``len(actual) == len(one_step) + max_lag``. The lag with the smallest MAE is the one
    the forecast follows most closely: lag 1 means it mostly repeats the last observed value.
    """
    f, a = np.asarray(one_step, dtype=np.float64), np.asarray(actual, dtype=np.float64)
    if len(a) != len(f) + max_lag:
        raise ValueError(f"actual needs {max_lag} values before the forecasts: {len(a)} != {len(f)} + {max_lag}")
    n = len(f)
    return [mae(a[max_lag - k: max_lag - k + n], f) for k in range(max_lag + 1)]


def lag_diagnostic(one_step, actual, max_lag: int = 5, who: str = "the LSTM") -> dict:
    """Which lag of the actual series the one-step forecasts follow best, in plain words (see lag_scores).

    Best at lag 1 alone does not make a copy: a good forecast of a smooth series also sits close to
    the previous value, and a good forecast of a seasonal one to the value a season earlier. So the message
    compares the lag-0 error with the naive one-step error over the same span, and calls it a copy (or says it
    trails) only when the forecast is not clearly (10%) better than naive.
    """
    scores = lag_scores(one_step, actual, max_lag)
    a = np.asarray(actual, dtype=np.float64)
    naive = mae(a[max_lag:], a[max_lag - 1:-1]) if max_lag >= 1 else float("nan")
    best = int(np.argmin(scores))
    gain = 1 - scores[0] / naive if naive > 0 else float("nan")
    if best == 1 and not gain > 0.1:
        message = (f"{who}'s one-step forecasts match the PREVIOUS actual value best (lag 1): it essentially "
                   "repeats the last observed value, like the naive forecast")
    elif best == 1:
        message = (f"{who}'s one-step forecasts stay close to the previous actual value (best match at lag 1), "
                   f"yet their error is {gain:.0%} below the naive forecast's: they move from the last value "
                   "in the right direction, not a plain copy")
    elif best == 0:
        message = f"{who}'s one-step forecasts match the actual value best at lag 0: they are not a delayed copy"
    elif gain > 0.1:  # e.g. last season's value on a seasonal series, where naive's last value is far off
        message = (f"{who}'s one-step forecasts match the actual series {best} steps earlier best, yet their error "
                   f"is {gain:.0%} below the naive forecast's: not a delayed copy (on a series with a season of "
                   f"{best} steps, the value a season earlier)")
    else:
        message = f"{who}'s one-step forecasts match the actual series {best} steps earlier best: they trail it"
    return {"best_lag": best, "scores": {str(k): v for k, v in enumerate(scores)}, "score": "mae",
            "naive_one_step_mae": naive, "one_step_gain_vs_naive": gain, "n": int(len(one_step)),
            "message": message}
