"""Target transforms (level, diff, log-return) and the scaler: fitted on training data only, invertible.

The model never sees prices. It sees ``z``, the transformed series, standardised with statistics of
the training part. ``decode`` takes the model's scaled output back to prices:

    level       z_t = p_t                    p_{t+k} = z_{t+k}
    diff        z_t = p_t - p_{t-1}          p_{t+k} = p_t + sum(z_{t+1..t+k})
    log_return  z_t = log(p_t / p_{t-1})     p_{t+k} = p_t * exp(sum(z_{t+1..t+k}))

For diff and log_return ``z`` is one shorter than ``p``: ``z[i]`` belongs to ``p[i + 1]`` (``offset`` = 1).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.preprocessing import StandardScaler

from forecast.errors import ForecastError


@dataclass
class Preprocessor:
    """Transform + standard scaler. Learned attributes end in ``_``; using it unfitted raises."""

    kind: str = "log_return"
    mean_: float | None = None
    scale_: float | None = None

    @property
    def offset(self) -> int:
        return 0 if self.kind == "level" else 1

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
        raise ForecastError(f"unknown transform {self.kind!r}; choose log_return, diff or level")

    def fit(self, train_prices: np.ndarray) -> Preprocessor:
        """Learn the scaling from the training part only."""
        z = self.transform(train_prices)
        scaler = StandardScaler().fit(z.reshape(-1, 1))
        self.mean_ = float(scaler.mean_[0])
        # A constant training part has no spread; scale 1 keeps it finite (sklearn does the same).
        self.scale_ = float(scaler.scale_[0])
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
        return {"kind": self.kind, "mean": self.mean_, "scale": self.scale_, "fitted_on": "train"}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Preprocessor:
        return cls(kind=d["kind"], mean_=float(d["mean"]), scale_=float(d["scale"]))
