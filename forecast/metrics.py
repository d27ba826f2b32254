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
    """Mean absolute percentage error, in percent."""
    a, p = _pair(actual, pred)
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
