"""Target transforms (level, diff, log-return) and the scaler: fitted on training data only, invertible.

The model never sees prices. It sees ``z``, the transformed series, standardised with statistics of
the training part. ``decode`` takes the model's scaled output back to prices:

    level       z_t = p_t                    p_{t+k} = z_{t+k}
    diff        z_t = p_t - p_{t-1}          p_{t+k} = p_t + sum(z_{t+1..t+k})
    log_return  z_t = log(p_t / p_{t-1})     p_{t+k} = p_t * exp(sum(z_{t+1..t+k}))

For diff and log_return ``z`` is one shorter than ``p``: ``z[i]`` belongs to ``p[i + 1]`` (``offset`` = 1).
``auto`` (the default option) is decided by ``fit`` from the training prices it sees, like any statistic:
log_return when all of them are positive, else diff (``choose``); the bundle stores the decided kind.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from forecast.errors import ForecastError


def choose(kind: str, series_values) -> tuple[str, str]:
    """(transform to use, why) for the option ``kind``; ``auto`` looks at the prices (an iterable of arrays)."""
    if kind != "auto":
        return kind, "as asked"
    positive = all(np.all(np.asarray(v) > 0) for v in series_values)
    if positive:
        return "log_return", "auto: every price is positive"
    return "diff", "auto: some prices are zero or negative, so log returns are undefined"


def standardise(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(means, standard deviations) of ``x``'s columns (axis 0), as a standard scaler learns them.

    NumPy's mean and population standard deviation: the numbers scikit-learn's StandardScaler stores (equal to
    the last bit on six evidence series), without importing scikit-learn (about 1 s; bench/README.md). A column
    whose variance is within float64 rounding of zero (relative to its mean, the scaler's own test) has no
    spread: scale 1 keeps it finite.
    """
    x = np.asarray(x, dtype=np.float64)
    mean, var = x.mean(axis=0), x.var(axis=0)
    n, eps = len(x), np.finfo(np.float64).eps
    constant = var <= n * eps * var + (n * mean * eps) ** 2
    return mean, np.where(constant, 1.0, np.sqrt(var))


@dataclass
class Preprocessor:
    """Transform + standard scaler. Learned attributes end in ``_``; using it unfitted raises."""

    kind: str = "log_return"
    mean_: float | None = None
    scale_: float | None = None
    chosen_because_: str = "as asked"

    @property
    def offset(self) -> int:
        return 0 if self.kind == "level" else 1  # "auto" becomes diff or log_return: offset 1 either way

    def transform(self, prices: np.ndarray) -> np.ndarray:
        """Prices -> unscaled z (stateless)."""
        p = np.asarray(prices, dtype=np.float64)
        if self.kind == "level":
            return p.copy()
        if self.kind == "diff":
            return np.diff(p)
        if self.kind == "log_return":
            if np.any(p <= 0):
                i = int(np.argmax(p <= 0))
                raise ForecastError(
                    f"the log-return transform needs positive prices, but value {i + 1} is {p[i]:g}; "
                    "use --transform diff or --transform level"
                )
            return np.diff(np.log(p))
        if self.kind == "auto":
            raise RuntimeError("Preprocessor('auto') decides its transform in fit(); call fit() first")
        raise ForecastError(f"unknown transform {self.kind!r}; choose auto, log_return, diff or level")

    def fit(self, train_prices: np.ndarray) -> Preprocessor:
        """Learn the scaling (and, for ``auto``, the transform) from the training part only."""
        self.kind, self.chosen_because_ = choose(self.kind, [train_prices])
        z = self.transform(train_prices)
        mean, scale = standardise(z)
        self.mean_, self.scale_ = float(mean), float(scale)
        return self

    def _check_fitted(self) -> None:
        if self.mean_ is None or self.scale_ is None:
            raise RuntimeError("Preprocessor is not fitted: call fit() on the training prices first")

    def encode(self, prices: np.ndarray) -> np.ndarray:
        """Prices -> scaled z, float32, length ``len(prices) - offset``."""
        self._check_fitted()
        return ((self.transform(prices) - self.mean_) / self.scale_).astype(np.float32)

    def unscale(self, z_scaled: np.ndarray) -> np.ndarray:
        self._check_fitted()
        return np.asarray(z_scaled, dtype=np.float64) * self.scale_ + self.mean_

    def decode(self, origin_price: np.ndarray | float, z_scaled: np.ndarray) -> np.ndarray:
        """Scaled model output (..., h) and the last observed price(s) -> prices (..., h)."""
        z = self.unscale(z_scaled)
        p0 = np.asarray(origin_price, dtype=np.float64)[..., None]
        if self.kind == "level":
            return z
        if self.kind == "diff":
            return p0 + np.cumsum(z, axis=-1)
        return p0 * np.exp(np.cumsum(z, axis=-1))

    def to_dict(self) -> dict[str, Any]:
        self._check_fitted()
        return {"kind": self.kind, "mean": self.mean_, "scale": self.scale_, "fitted_on": "train",
                "chosen": self.chosen_because_}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Preprocessor:
        return cls(kind=d["kind"], mean_=float(d["mean"]), scale_=float(d["scale"]),
                   chosen_because_=d.get("chosen", "as asked"))
