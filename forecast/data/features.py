"""Input features beyond the target: covariate columns, derived and calendar features, and their scaler.

A feature is named by ``--features`` (comma-separated, case-insensitive):

    <column>     any other numeric column of the file, e.g. volume, high, low, open
    log_return   log(p_t / p_{t-1}) of the target; 0 at the first row
    log_volume   log1p(volume) of the column named volume
    hl_range     (high - low) / close of the columns named high, low, close (the target when no close)
    volatility   rolling 20-step standard deviation of the target's log returns (fewer steps at the start;
                 0 where fewer than 2 returns exist)
    dow, month   calendar position encoded as sin and cos (two inputs each): dow on 7 days, month on 12

Every feature is computed from the row's own past only and aligned on the target's dates, so no future
value leaks in. Features are inputs only: the direct multi-horizon head needs the last window, never a
future covariate. ``FeatureScaler`` standardises each input column with statistics of the training rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import pandas as pd

from forecast.data.transforms import standardise
from forecast.errors import InputError

VOLATILITY_WINDOW = 20
DERIVED = ("log_return", "log_volume", "hl_range", "volatility")
CALENDAR = ("dow", "month")
# columns (besides the target) each derived feature reads; "close" falls back to the target
NEEDS: dict[str, tuple[str, ...]] = {"log_return": (), "volatility": (), "log_volume": ("volume",),
                                     "hl_range": ("high", "low"), "dow": (), "month": ()}


def parse_features(text: str | None) -> tuple[str, ...]:
    """'close, Volume,dow' -> ('close', 'volume', 'dow'): lower-cased, order kept, no repeats."""
    names = [p.strip().lower() for p in (text or "").split(",") if p.strip()]
    return tuple(dict.fromkeys(names))


def available(numeric_columns) -> list[str]:
    """Every name ``--features`` accepts for a file with these numeric columns (a derived feature only where the
    file has the columns it reads)."""
    numeric = [str(c).lower() for c in numeric_columns]
    return numeric + [f for f in (*DERIVED, *CALENDAR) if all(c in numeric for c in NEEDS[f])]


def columns_needed(features, numeric_columns, source: str) -> list[str]:
    """The file columns (lower-case names) the features read; unknown names raise listing the choices."""
    numeric = {str(c).lower() for c in numeric_columns}
    needed: list[str] = []
    for f in features:
        if f in NEEDS:
            missing = [c for c in NEEDS[f] if c not in numeric]
            if missing:
                raise InputError(f"{source}: feature '{f}' needs the numeric column(s) {', '.join(missing)}, "
                                 f"which the file lacks; available features: {', '.join(available(numeric_columns))}")
            needed += list(NEEDS[f]) + (["close"] if f == "hl_range" and "close" in numeric else [])
        elif f in numeric:
            needed.append(f)
        else:
            raise InputError(f"{source}: unknown feature '{f}' in --features (no column of the file, nor a derived "
                             f"feature); available features: {', '.join(available(numeric_columns))}")
    return list(dict.fromkeys(needed))


def _log_returns(prices: np.ndarray) -> np.ndarray:
    p = np.asarray(prices, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.diff(np.log(p), prepend=np.log(p[:1]))
    return np.nan_to_num(r, nan=0.0, posinf=0.0, neginf=0.0)


def _cyclic(position: np.ndarray, period: int) -> list[np.ndarray]:
    angle = 2 * np.pi * position / period
    return [np.sin(angle), np.cos(angle)]


def _derived(name: str, prices: np.ndarray, dates: pd.DatetimeIndex, cols: dict[str, np.ndarray]) -> list[np.ndarray]:
    rules: dict[str, Callable[[], list[np.ndarray]]] = {
        "log_return": lambda: [_log_returns(prices)],
        "log_volume": lambda: [np.log1p(np.maximum(cols["volume"], 0.0))],
        "hl_range": lambda: [(cols["high"] - cols["low"]) / np.where(cols.get("close", prices) == 0, np.nan,
                                                                   cols.get("close", prices))],
        "volatility": lambda: [pd.Series(_log_returns(prices)).rolling(VOLATILITY_WINDOW, min_periods=2)
                               .std().fillna(0.0).to_numpy()],
        "dow": lambda: _cyclic(dates.day_of_week.to_numpy(), 7),
        "month": lambda: _cyclic(dates.month.to_numpy() - 1, 12),
    }
    return rules[name]() if name in rules else [cols[name]]


def input_names(features) -> list[str]:
    """Names of the model's extra input columns (calendar features give a _sin and a _cos column)."""
    return [n for f in features for n in ((f"{f}_sin", f"{f}_cos") if f in CALENDAR else (f,))]


def build(features, prices: np.ndarray, dates: pd.DatetimeIndex, cols: dict[str, np.ndarray],
          source: str) -> np.ndarray:
    """Raw (unscaled) feature matrix (time, len(input_names(features))) aligned with ``prices``."""
    parts = [np.asarray(a, dtype=np.float64) for f in features for a in _derived(f, prices, dates, cols)]
    if not parts:
        return np.zeros((len(prices), 0))
    x = np.column_stack(parts)  # (time, inputs)
    bad = ~np.isfinite(x)
    if bad.any():
        row, col = np.argwhere(bad)[0]
        raise InputError(f"{source}: feature '{input_names(features)[col]}' is not finite on "
                         f"{str(dates[row]).removesuffix(' 00:00:00')} (e.g. a zero close or a missing value); "
                         "fix the file or drop that feature")
    return x


@dataclass
class FeatureScaler:
    """Per-column standardisation fitted on the training rows only; JSON-serialisable."""

    mean_: list[float] | None = None
    scale_: list[float] | None = None
    names: list[str] = field(default_factory=list)

    def fit(self, x_train: np.ndarray) -> FeatureScaler:
        x = np.asarray(x_train, dtype=np.float64)
        if not len(x):
            self.mean_, self.scale_ = [0.0] * x.shape[1], [1.0] * x.shape[1]
            return self
        mean, scale = standardise(x)  # a constant column keeps scale 1
        self.mean_, self.scale_ = mean.tolist(), scale.tolist()
        return self

    def transform(self, x: np.ndarray) -> np.ndarray:
        if self.mean_ is None or self.scale_ is None:
            raise RuntimeError("FeatureScaler is not fitted: call fit() on the training rows first")
        return ((np.asarray(x, dtype=np.float64) - self.mean_) / np.asarray(self.scale_)).astype(np.float32)

    def to_dict(self) -> dict[str, Any]:
        return {"names": self.names, "mean": self.mean_, "scale": self.scale_, "fitted_on": "train"}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> FeatureScaler:
        return cls(mean_=[float(v) for v in d["mean"]], scale_=[float(v) for v in d["scale"]],
                   names=list(d.get("names", [])))
