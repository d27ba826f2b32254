"""The statistical part of the seasonal hybrid: a seasonal profile of the encoded target, by calendar position.

ES-RNN in miniature: a statistical model takes the seasonality out, the network learns the rest, and the
seasonality goes back into the forecast. Here the statistical model is the mean of the scaled transformed
target (``z``, e.g. log returns) at each calendar position (month of the year, week of the year, day of the
week, hour of the day), estimated on the series' training rows only:

    z'_t = z_t - profile[position(t)]            what the network sees and predicts
    z_{t+k} = z'_{t+k} + profile[position(t+k)]  what is decoded into prices

Positions come from dates, so a forecast continues the real calendar (``calendar.future_dates``). ``fit``
decides whether to use the profile: always with ``season`` (given two full seasons of training rows), and with
``auto`` only when a one-way ANOVA F test on the training rows finds the positions' means differ
(p < ``ALPHA``); the decision and its reason are stored with the model.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

ALPHA = 0.01  # F test level for "auto"
MIN_SEASONS = 2  # full seasons of training rows the profile needs
PERIODS = {"monthly": 12, "quarterly": 4, "weekly": 52, "daily": 7, "trading_days": 5, "business_days": 5,
           "hourly": 24}


def period_of(freq: str) -> int | None:
    """The season length the profile uses for a calendar label, or None (no calendar season)."""
    return PERIODS.get(freq)


def positions(dates: pd.DatetimeIndex, freq: str) -> np.ndarray:
    """The calendar position of each date in [0, period_of(freq))."""
    d = pd.DatetimeIndex(dates)
    if freq == "monthly":
        return np.asarray(d.month - 1)
    if freq == "quarterly":
        return np.asarray((d.month - 1) // 3)
    if freq == "weekly":
        return np.minimum(np.asarray(d.dayofyear - 1) // 7, 51)  # the 53rd partial week joins the 52nd
    if freq == "hourly":
        return np.asarray(d.hour)
    if freq in ("trading_days", "business_days"):
        return np.minimum(np.asarray(d.dayofweek), 4)
    if freq == "daily":
        return np.asarray(d.dayofweek)
    raise ValueError(f"no seasonal positions for frequency {freq!r}")


def anova_p(groups) -> float:
    """p-value of the one-way ANOVA F test that the groups' means are equal (``scipy.stats.f_oneway``'s), with the
    F distribution from ``scipy.special``: its import takes 0.07 s against scipy.stats' 0.8 s, on the critical path
    of every ``forecast train``."""
    from scipy.special import fdtrc

    groups = [np.asarray(g, np.float64) for g in groups]
    k, n = len(groups), sum(len(g) for g in groups)
    grand = np.concatenate(groups).mean()
    between = sum(len(g) * (g.mean() - grand) ** 2 for g in groups)
    within = sum(float(np.sum((g - g.mean()) ** 2)) for g in groups)
    if within == 0:  # every group constant: the means differ for certain, or there is nothing to tell
        return 0.0 if between > 0 else float("nan")
    return float(fdtrc(k - 1, n - k, (between / (k - 1)) / (within / (n - k))))


@dataclass
class SeasonalProfile:
    """Mean scaled z per calendar position; ``used`` False means the identity (the series stays as it is)."""

    freq: str
    used: bool = False
    why: str = ""
    profile: tuple[float, ...] = ()

    def fit(self, z_train: np.ndarray, dates: pd.DatetimeIndex, mode: str) -> SeasonalProfile:
        """Decide and estimate from the training rows' scaled z and their dates (``mode``: season or auto)."""
        m = period_of(self.freq)
        if m is None:
            self.why = f"{self.freq} data has no calendar season"
            return self
        z, pos = np.asarray(z_train, np.float64), positions(dates, self.freq)
        if len(z) < MIN_SEASONS * m:
            self.why = f"{len(z)} training steps are fewer than {MIN_SEASONS} seasons of {m}"
            return self
        groups = [z[pos == k] for k in range(m)]
        if any(len(g) < 2 for g in groups):
            self.why = "some calendar positions have fewer than 2 training steps"
            return self
        if mode == "auto":
            p = anova_p(groups)
            if not p < ALPHA:
                self.why = (f"auto: the {m} positions' means do not differ significantly on the training rows "
                            f"(F test p={p:.2g}, not below {ALPHA})")
                return self
            self.why = f"auto: the {m} positions' means differ on the training rows (F test p={p:.2g} < {ALPHA})"
        else:
            self.why = "as asked"
        self.used, self.profile = True, tuple(float(g.mean()) for g in groups)
        return self

    def offsets(self, dates: pd.DatetimeIndex) -> np.ndarray:
        """The profile at each date's position, float32 (zeros when unused)."""
        if not self.used:
            return np.zeros(len(dates), np.float32)
        return np.asarray(self.profile, np.float32)[positions(dates, self.freq)]

    def to_dict(self) -> dict:
        return {"freq": self.freq, "used": self.used, "why": self.why, "profile": list(self.profile),
                "fitted_on": "train"}

    @classmethod
    def from_dict(cls, d: dict) -> SeasonalProfile:
        return cls(freq=d["freq"], used=bool(d["used"]), why=d.get("why", ""), profile=tuple(d["profile"]))


def season_shown(train_prices: np.ndarray, dates: pd.DatetimeIndex, freq: str) -> bool:
    """Whether a series' training prices change differently by calendar position: the F test ``SeasonalProfile``
    takes the profile on under ``--hybrid auto``, on their log returns (differences where a price is not positive;
    the test does not depend on the scale). ``dates``: the training prices' dates."""
    p = np.asarray(train_prices, np.float64)
    z = np.diff(np.log(p)) if (p > 0).all() else np.diff(p)
    return SeasonalProfile(freq).fit(z, pd.DatetimeIndex(dates)[1:], "auto").used
