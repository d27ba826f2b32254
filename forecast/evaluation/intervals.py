"""Prediction intervals by split conformal calibration, and the scores that judge intervals.

How an interval is made (works for any forecaster, LSTM or baseline, so comparisons are fair):

1. Calibrate on held-out windows: for every origin ``i`` and horizon step ``k`` take the residual
   ``r[i, k] = log(actual / forecast)`` (space ``"log"``: for the log_return transform, so bands are
   multiplicative and stay positive) or ``actual - forecast`` (space ``"abs"``: diff and level).
   ``ConformalCalibrator.fit`` keeps the sorted residuals of every step (at most ``MAX_STORED`` order
   statistics per step; above that, evenly spaced ones) so predicting needs no training data.
2. The conformal quantile of ``n`` scores at level ``L`` is the ``ceil((n + 1) L)``-th smallest, i.e. the
   empirical quantile at ``ceil((n + 1) L) / n``. It covers at least ``L`` of new exchangeable draws. When
   ``n`` is too small for that rank (``ceil((n + 1) L) > n``) the largest score is used (coverage may then fall
   short of ``L``; ``n`` is stored so this can be seen).
3. Method ``"symmetric"`` (the default): scores ``|r|``, band ``forecast * exp(+-q)`` or ``forecast +- q``.
   Method ``"signed"``: separate quantiles of ``r`` for each tail (``(1 - L) / 2`` and ``(1 + L) / 2``, each
   with the finite-sample rank), clipped so that ``lower <= forecast <= upper``.
4. Widths grow with the step: the per-step quantiles are made non-decreasing by a cumulative maximum across
   steps (so a step never gets a narrower band than the one before it). In space ``"abs"`` this is the price
   width; in space ``"log"`` it is the width in log units, ``log(upper / lower)``, so the price width is
   ``forecast * 2 sinh(q)``: it can only shrink where the forecast itself falls.
5. Volatility scaling (daily calendars: ``VOLATILITY_CALENDARS``): daily prices cluster their volatility, so a
   band calibrated in a calm spell is far too narrow in a sell-off. There each residual is divided by the
   series' recent volatility at its origin (``scales``: the mean absolute one-step change, log ratio or
   difference by space, over the ``VOLATILITY_ROWS`` changes up to and including the origin; no later price),
   relative to the calibration origins' median (``scale_ref_``), and a new band's quantile is multiplied by
   the same ratio at its own origin (normalised split conformal, Lei et al. 2018). Measured with
   bench/evidence.py (5 folds x 10 steps, the default network's 80% bands; bench/results/evidence-2026-12-0*):
   NASDAQ 0.32 -> 0.72, S&P 500 0.28 -> 0.66, VIX 0.58 -> 0.68, WTI 0.52 -> 0.54. A one-off check with
   naive forecasts on the same folds found the scaling lowering weekly CO2 from 0.78 to 0.72 and widening
   monthly and yearly bands that already covered 86-94%, so other calendars are not scaled.
6. Beyond the calibrated horizon ``h`` (recursive forecasts) step ``s`` gets the last step's quantiles
   scaled by ``sqrt(s / h)``, the random-walk growth of the spread; it is an extrapolation, not calibrated.

A wider level always contains a narrower one (quantiles are monotone in the level, and the cumulative
maximum and the scaling preserve that order).

Choice of the default, measured: calibrated on the validation windows of a default-config bundle (h = 10),
scored on its held-out test part (coverage / mean width in price units)::

    NASDAQ sample, LSTM        50%             80%             95%
      symmetric            0.512 / 146.7   0.787 / 296.8   0.928 / 484.8
      signed               0.521 / 144.0   0.794 / 295.0   0.929 / 494.7
    random walk (5000, seed 11), LSTM
      symmetric            0.473 / 18.89   0.767 / 34.74   0.935 / 51.48
      signed               0.473 / 19.01   0.767 / 34.93   0.938 / 51.84

The two differ by at most a point of coverage and 2% of width. Signed did better on NASDAQ at 80%;
symmetric was narrower in 4 of the 6 cases and closer to nominal or tied in 3, and it estimates one
quantile per step instead of two tails from the same residuals, so ``"symmetric"`` is the default and
``"signed"`` stays available. MC dropout and quantile heads are not implemented.

``forecast predict`` shows the 80% interval by default when the bundle has a calibration (so a user always
sees the uncertainty); ``--interval none`` turns it off. Column names: one level -> ``lower``, ``upper``; several -> ``lower_<pct>``, ``upper_<pct>`` where
``<pct>`` is the level in percent without trailing zeros (0.8 -> 80, 0.975 -> 97.5).
"""

from __future__ import annotations

import functools
import math
from typing import Any, Sequence

import numpy as np

from forecast.errors import ForecastError

DEFAULT_LEVEL = 0.8
MAX_STORED = 2000  # order statistics kept per step in intervals.json
VOLATILITY_ROWS = 20  # one-step changes the volatility scale averages (about a trading month)
VOLATILITY_CALENDARS = ("trading_days", "business_days", "daily")  # bands scaled by recent volatility (item 5)
NEEDS_SCALES = "this calibrator scales its bands by volatility: pass scales=cal.scales(prices, origins)"
METHODS = ("symmetric", "signed")
SPACES = ("log", "abs")


# ---- scores for intervals and quantiles (used by training and by the backtest) ----

def _arrays(*xs) -> list[np.ndarray]:
    arrs = [np.asarray(x, dtype=np.float64) for x in xs]
    if any(a.shape != arrs[0].shape for a in arrs):
        raise ValueError(f"shapes differ: {[a.shape for a in arrs]}")
    return arrs


def coverage(actual, lower, upper) -> float:
    """Share of actual values inside [lower, upper] (bounds included)."""
    a, lo, hi = _arrays(actual, lower, upper)
    return float(np.mean((a >= lo) & (a <= hi)))


def mean_width(lower, upper) -> float:
    """Mean of upper - lower."""
    lo, hi = _arrays(lower, upper)
    return float(np.mean(hi - lo))


def winkler_score(actual, lower, upper, level: float) -> float:
    """Mean Winkler (interval) score: width plus 2/alpha times the miss distance; lower is better."""
    a, lo, hi = _arrays(actual, lower, upper)
    alpha = 1.0 - level
    penalty = np.where(a < lo, lo - a, 0.0) + np.where(a > hi, a - hi, 0.0)
    return float(np.mean(hi - lo + 2.0 / alpha * penalty))


def pinball_loss(actual, quantile_pred, q: float) -> float:
    """Mean pinball (quantile) loss of a ``q``-quantile forecast."""
    a, p = _arrays(actual, quantile_pred)
    d = a - p
    return float(np.mean(np.maximum(q * d, (q - 1.0) * d)))


# ---- how far a calibrated band's measured coverage strays ----

RANGE_MASS = 0.9  # share of backtests the calibrated range holds
RANGE_DRAWS = (1000, 20000)  # simulated random walks, fewest and most (fixed seed: the same range every time)
RANGE_BUDGET = 5_000_000  # forecasts simulated in all: many draws for few origins, whose coverage is coarse


def calibrated_range(level: float, origins, horizon: int, *, mass: float = RANGE_MASS, draws: int | None = None,
                     seed: int = 0) -> tuple[float, float]:
    """The coverage that a perfectly calibrated ``level`` band shows in the middle ``mass`` of backtests with
    forecasts from ``origins`` (row indices) 1..``horizon`` steps ahead, simulated on a Gaussian random walk.

    The errors of one origin's steps move together (each adds a step to the one before), and overlapping origins
    share steps, so a few origins measure coverage far less precisely than their count of forecasts suggests:
    with 5 origins x 10 steps a calibrated 80% band lands between 72% and 88% in only about half of backtests.
    Prices' errors move together as a random walk's do; a stationary series' errors less, so its range is
    narrower and a coverage outside this one is off on either. ``draws`` defaults to RANGE_BUDGET forecasts'
    worth within RANGE_DRAWS (about 0.1 s).
    """
    off = np.asarray(origins, dtype=np.int64)
    if draws is None:
        draws = int(np.clip(RANGE_BUDGET // (off.size * horizon), *RANGE_DRAWS))
    return _simulated_range(level, tuple((off - off.min()).tolist()), horizon, mass, draws, seed)


@functools.lru_cache(maxsize=64)  # the series of a panel mostly share their origins' spacing
def _simulated_range(level: float, offsets: tuple[int, ...], horizon: int, mass: float, draws: int,
                     seed: int) -> tuple[float, float]:
    cov = simulated_coverages(level, offsets, horizon, draws, seed)  # the bounds are coverages a backtest can show,
    return float(np.quantile(cov, (1 - mass) / 2, method="lower")), float(np.quantile(cov, (1 + mass) / 2,
                                                                                       method="higher"))  # so wide


def simulated_coverages(level: float, origins, horizon: int, draws: int, seed: int = 0) -> np.ndarray:
    """The coverage of the exact ``level`` band (each step's spread known) on ``draws`` Gaussian random walks,
    forecast from ``origins`` 1..``horizon`` steps ahead: (draws,) shares."""
    from statistics import NormalDist

    off = np.asarray(origins, dtype=np.int64)
    off = off - off.min()
    steps = np.arange(1, horizon + 1)
    z = NormalDist().inv_cdf((1 + level) / 2) * np.sqrt(steps)  # the calibrated half-width of each step
    rng = np.random.default_rng(seed)
    length = int(off.max()) + horizon + 1
    chunk = max(1, 2_000_000 // (length + off.size * horizon))
    cov = []
    for start in range(0, draws, chunk):
        walk = np.cumsum(rng.standard_normal((min(chunk, draws - start), length)), axis=1)
        err = walk[:, off[:, None] + steps] - walk[:, off][:, :, None]  # (draws, origins, horizon)
        cov.append(np.mean(np.abs(err) <= z, axis=(1, 2)))
    return np.concatenate(cov)


def calibrated_text(entry: Sequence[float] | None, coverage: float | None = None) -> str:
    """'; a calibrated band would show 76.6%-84.3% from these origins ...' for a ``[low, high, mass]`` range, or ''
    without one; with the ``coverage`` measured, whether it falls below (bands too narrow) or above (too wide)."""
    if not entry:
        return ""
    low, high, mass = entry
    side = ("" if coverage is None or low <= coverage <= high else
            "; below that range: the bands are too narrow here" if coverage < low else
            "; above that range: the bands are wider than needed here")
    return (f"; a calibrated band would show {low:.1%}-{high:.1%} from these origins in {mass:.0%} of simulated "
            f"random walks{side}")


def range_sentence(level: float, entry: dict, coverages: dict[str, float | None]) -> str:
    """One line for a table of coverages: the calibrated range of ``entry`` (a report's ``coverage_range`` value)
    and which models fall outside it."""
    pct = f"{level_label(level)}%"
    low, high = entry["low"], entry["high"]
    outside = [f"{name} {v:.1%} ({'too narrow' if v < low else 'wider than needed'})"
               for name, v in coverages.items() if v is not None and not low <= v <= high]
    head = (f"{pct} coverage from {entry['origins']} origins x {entry['steps']} steps: a calibrated {pct} band "
            f"shows {low:.1%}-{high:.1%} in {entry['mass']:.0%} of such backtests (simulated on a random walk; "
            "more folds narrow the range)")
    if not outside:
        return f"{head}; every model is inside it, so these folds cannot tell its bands from calibrated ones."
    return f"{head}; outside it: {', '.join(outside)}."


# ---- levels and column names ----

def level_label(level: float) -> str:
    """0.8 -> '80', 0.975 -> '97.5' (percent, no trailing zeros)."""
    return f"{round(level * 100, 6):g}"


def parse_levels(text: str) -> tuple[float, ...]:
    """'0.5,0.8' -> (0.5, 0.8) sorted and de-duplicated; 'none' -> (); anything else -> a clear error."""
    t = text.strip()
    if t.lower() in ("none", "off"):
        return ()
    parts = [p.strip() for p in t.split(",")]
    levels = []
    for p in parts:
        try:
            v = float(p)
        except ValueError:
            v = float("nan")
        if not 0 < v < 1:  # NaN fails too
            raise ForecastError(f"--interval {text!r}: level {p!r} is not a number strictly between 0 and 1; "
                                "give levels like 0.8 or 0.5,0.8,0.95, or none")
        levels.append(v)
    return tuple(sorted(set(levels)))


def column_names(levels: Sequence[float]) -> list[tuple[float, str, str]]:
    """(level, lower column, upper column) per level, narrowest first."""
    if len(levels) == 1:
        return [(levels[0], "lower", "upper")]
    return [(lv, f"lower_{level_label(lv)}", f"upper_{level_label(lv)}") for lv in sorted(levels)]


def add_bands(frame, cal: ConformalCalibrator | None, history, levels: Sequence[float]):
    """``frame`` (date, forecast, ...) with lower/upper columns per level (see column_names) around its forecast
    from the end of ``history`` (the prices up to the origin)."""
    if levels:
        history = np.asarray(history, dtype=np.float64)
        bands = cal.intervals(frame["forecast"].to_numpy(np.float64), float(history[-1]), levels,
                              scales=cal.scales(history, len(history) - 1))
        for level, lower, upper in column_names(levels):
            frame[lower], frame[upper] = bands[level]
    return frame


def resolve_levels(levels: Sequence[float] | None) -> tuple[float, ...]:
    """``None`` -> the default level; ``()`` -> no intervals; else the levels, narrowest first."""
    return tuple(sorted(levels if levels is not None else (DEFAULT_LEVEL,)))


# ---- the calibrator ----

def volatility_rows(freq: str) -> int:
    """Changes the bands' volatility scale averages for a series of calendar ``freq``; 0: no scaling."""
    return VOLATILITY_ROWS if freq in VOLATILITY_CALENDARS else 0


def conformal_rank(n: int, level: float) -> int:
    """1-based rank of the finite-sample conformal quantile, capped at ``n``."""
    return min(n, max(1, math.ceil((n + 1) * level - 1e-9)))


def _order_stat(stored: np.ndarray, n: int, rank: int) -> float:
    """The ``rank``-th smallest of ``n`` values, from ``stored`` (all of them, or evenly spaced ones)."""
    if len(stored) == n:
        return float(stored[rank - 1])
    return float(np.interp(rank - 1, np.linspace(0, n - 1, len(stored)), stored))


def _thin(sorted_values: np.ndarray) -> np.ndarray:
    if len(sorted_values) <= MAX_STORED:
        return sorted_values
    return sorted_values[np.round(np.linspace(0, len(sorted_values) - 1, MAX_STORED)).astype(int)]


class ConformalCalibrator:
    """Split conformal intervals from held-out residuals per horizon step; learned attributes end in ``_``.

    ``fit(forecasts (n, h), actuals (n, h), origin_prices (n,) = None)`` then
    ``intervals(path (..., H), levels=(0.8,))`` -> ``{level: (lower, upper)}`` in price units. ``origin_prices``
    is accepted so every forecaster is calibrated through one call; the residual spaces here do not need it.
    With ``scale_rows`` > 0 (module doc, item 5) ``fit`` and ``intervals`` take ``scales``, the series'
    volatility at each origin from ``scales(prices, origins)``.
    """

    def __init__(self, space: str = "log", method: str = "symmetric", scale_rows: int = 0):
        if space not in SPACES:
            raise ValueError(f"space {space!r}: choose one of {', '.join(SPACES)}")
        if method not in METHODS:
            raise ValueError(f"method {method!r}: choose one of {', '.join(METHODS)}")
        self.space, self.method, self.scale_rows = space, method, int(scale_rows)
        self.scale_ref_: float = 1.0  # the calibration origins' median volatility (scale_rows > 0)
        self.residuals_: list[np.ndarray] | None = None  # per step: sorted signed residuals (maybe thinned)
        self.n_: list[int] | None = None

    @classmethod
    def for_transform(cls, transform: str, method: str = "symmetric", scale_rows: int = 0) -> ConformalCalibrator:
        return cls("log" if transform == "log_return" else "abs", method, scale_rows)

    @property
    def horizon(self) -> int:
        self._check_fitted()
        return len(self.n_)

    def _check_fitted(self) -> None:
        if self.residuals_ is None:
            raise RuntimeError("ConformalCalibrator is not fitted: call fit() on held-out forecasts first")

    def residuals(self, forecasts, actuals) -> np.ndarray:
        f, a = _arrays(forecasts, actuals)
        if self.space == "abs":
            return a - f
        if np.any(f <= 0) or np.any(a <= 0):
            raise ForecastError("log-ratio intervals need positive forecasts and prices; use space 'abs'")
        return np.log(a / f)

    def scales(self, prices, origins) -> np.ndarray:
        """The volatility at each origin index of ``prices`` (n,): the mean absolute one-step change over the
        ``scale_rows`` changes up to the origin (fewer where the prices begin later); ones without scaling."""
        o = np.atleast_1d(np.asarray(origins, dtype=np.int64))
        if not self.scale_rows:
            return np.ones(len(o))
        p = np.asarray(prices, dtype=np.float64)
        with np.errstate(all="ignore"):
            d = np.abs(np.diff(np.log(p)) if self.space == "log" else np.diff(p))  # d[t - 1]: the change into t
            c = np.concatenate([[0.0], np.cumsum(np.where(np.isfinite(d), d, 0.0))])
            lo = np.maximum(o - self.scale_rows, 0)
            return (c[o] - c[lo]) / (o - lo)  # NaN at origin 0: no change yet

    def _ratio(self, scales, n: int) -> np.ndarray:
        """Each origin's volatility relative to the calibration's (1 where unknown or not scaling), (n,)."""
        if not self.scale_rows:
            return np.ones(n)
        if scales is None:
            raise ValueError(NEEDS_SCALES)
        r = np.broadcast_to(np.asarray(scales, dtype=np.float64), (n,)) / self.scale_ref_
        return np.where(np.isfinite(r) & (r > 0), r, 1.0)

    def fit(self, forecasts, actuals, origin_prices=None, scales=None) -> ConformalCalibrator:
        r = self.residuals(forecasts, actuals)
        if r.ndim != 2 or r.shape[0] < 1:
            raise ValueError(f"forecasts and actuals must be (n_origins, horizon) with n >= 1, got {r.shape}")
        if origin_prices is not None and np.shape(origin_prices) != (r.shape[0],):
            raise ValueError(f"origin_prices must be ({r.shape[0]},), got {np.shape(origin_prices)}")
        if self.scale_rows:
            if scales is None:
                raise ValueError(NEEDS_SCALES)
            s = np.broadcast_to(np.asarray(scales, dtype=np.float64), (len(r),))
            good = s[np.isfinite(s) & (s > 0)]
            if len(good) == 0:  # flat prices: nothing to scale by
                self.scale_rows = 0
            else:
                self.scale_ref_ = float(np.median(good))
                r = r / self._ratio(s, len(r))[:, None]
        r = r[np.isfinite(r).all(axis=1)]
        if len(r) == 0:
            raise ValueError("no finite residuals to calibrate on")
        self.residuals_ = [_thin(np.sort(r[:, k])) for k in range(r.shape[1])]
        self.n_ = [len(r)] * r.shape[1]
        return self

    def _step_quantiles(self, level: float) -> tuple[np.ndarray, np.ndarray]:
        """(down, up) >= 0 per calibrated step, made non-decreasing across steps by a cumulative maximum."""
        down, up = [], []
        for stored, n in zip(self.residuals_, self.n_):
            if self.method == "symmetric":
                scores = np.sort(np.abs(stored))
                q = _order_stat(scores, len(scores), conformal_rank(len(scores), level))
                down.append(q)
                up.append(q)
            else:
                tail = (1 + level) / 2
                up.append(max(0.0, _order_stat(stored, n, conformal_rank(n, tail))))
                down.append(max(0.0, -_order_stat(stored, n, n + 1 - conformal_rank(n, tail))))
        return np.maximum.accumulate(down), np.maximum.accumulate(up)

    def quantiles(self, level: float, steps: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(down, up) residual quantiles for steps 1..steps; beyond the calibrated horizon sqrt(s/h) growth."""
        self._check_fitted()
        h, steps = self.horizon, steps or self.horizon
        down, up = self._step_quantiles(level)
        s = np.arange(1, steps + 1)
        grow = np.sqrt(np.maximum(s, h) / h)  # 1 within the calibrated horizon
        idx = np.minimum(s, h) - 1
        return down[idx] * grow, up[idx] * grow

    def intervals(self, path, origin_price=None, levels: Sequence[float] = (DEFAULT_LEVEL,), scales=None
                  ) -> dict[float, tuple[np.ndarray, np.ndarray]]:
        """{level: (lower, upper)} around ``path`` (..., steps) in price units; lower <= path <= upper.
        ``scales``: the volatility at each path's origin (``scales()``), where the calibrator scales."""
        p = np.asarray(path, dtype=np.float64)
        ratio = self._ratio(scales, int(np.prod(p.shape[:-1]))).reshape(p.shape[:-1] + (1,))
        out = {}
        for level in levels:
            down, up = (q * ratio for q in self.quantiles(level, p.shape[-1]))
            if self.space == "log":
                out[level] = (p * np.exp(-down), p * np.exp(up))
            else:
                out[level] = (p - down, p + up)
        return out

    def to_dict(self) -> dict[str, Any]:
        self._check_fitted()
        return {"format": 1, "kind": "split_conformal", "space": self.space, "method": self.method,
                "scale_rows": self.scale_rows, "scale_ref": self.scale_ref_,
                "n": self.n_, "residuals": [r.tolist() for r in self.residuals_]}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ConformalCalibrator:
        cal = cls(d["space"], d["method"], d.get("scale_rows", 0))  # bundles before the scaling: none
        cal.scale_ref_ = float(d.get("scale_ref", 1.0))
        cal.residuals_ = [np.asarray(r, dtype=np.float64) for r in d["residuals"]]
        cal.n_ = [int(n) for n in d["n"]]
        return cal


def evaluate(cal: ConformalCalibrator, forecasts, actuals, levels: Sequence[float] = (DEFAULT_LEVEL,),
             scales=None) -> dict:
    """Nominal vs empirical coverage, mean width and Winkler score of held-out forecasts (n, h) (``scales``: the
    volatility at their origins, where ``cal`` scales)."""
    a = np.asarray(actuals, dtype=np.float64)
    result = {}
    for level, (lo, hi) in cal.intervals(forecasts, levels=levels, scales=scales).items():
        result[level_label(level)] = {
            "nominal": level, "coverage": coverage(a, lo, hi), "mean_width": mean_width(lo, hi),
            "winkler": winkler_score(a, lo, hi, level),
            "coverage_per_step": [coverage(a[:, k], lo[:, k], hi[:, k]) for k in range(a.shape[1])],
        }
    return result


def compare_methods(forecasts_cal, actuals_cal, forecasts_test, actuals_test, space: str,
                    levels: Sequence[float] = (0.5, 0.8, 0.95)) -> dict:
    """Test-part coverage and width of each method calibrated on the same residuals (the default's evidence)."""
    return {m: evaluate(ConformalCalibrator(space, m).fit(forecasts_cal, actuals_cal), forecasts_test,
                        actuals_test, levels) for m in METHODS}
