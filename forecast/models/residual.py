"""The statistical part of the residual hybrid: a statsforecast model the network corrects (Zhang's ARIMA-ANN).

With ``--hybrid ets|arima|theta|mstl`` each series gets a statistical model (models/baselines.py) fitted on
its training rows only. From every origin ``o`` it forecasts the next ``h`` prices with those parameters
(statsforecast's ``forward`` over the prices up to ``o``, never a refit), and the network learns, in the
encoded space of the target transform (data/transforms.py), what that forecast leaves:

    base_o  = encode(y_o, S_o(1..h))             the statistical forecast as scaled returns, (h,)
    label_o = z[o+1 .. o+h] - base_o             what the network is trained on
    forecast = decode(y_o, base_o + network(x_o))

The network's input gains one channel, the statistical model's one-step error at each row of the window
(``z_t - base_{t-1}[0]``), as in Zhang's hybrid, whose network reads the residuals' lags.

``--hybrid auto`` asks ``choose`` on each series: the candidates (``AUTO_CANDIDATES``, with the calendar's primary
season) are fitted on the training rows and forecast the fit's validation rows from at most ``AUTO_ORIGINS``
origins; the most accurate is used when its MAE there is at most ``AUTO_MARGIN`` times the naive forecast's and the
validation rows confirm it: a one-sided Diebold-Mariano test of its errors against naive's with p below
``AUTO_CONFIRM_P`` (``lead_p_value``), or, where those rows hold too few origins to test, a calendar season the
training rows show (``seasonal.season_shown``). A statistical model that cannot beat the last price has nothing to
hand the network; one that beat it by chance on a calm stretch hands it a wrong anchor, as the network's own
weight is the lower confidence bound of what those rows show. Otherwise auto falls back to the seasonal profile
(data/seasonal.py). The decision and its figures are stored with the model.

The bundle keeps the prices the model was fitted on and refits it when first asked for a forecast it has not
seen: the searches are deterministic, so the parameters are the same, and nothing is pickled. It also keeps the
forecasts from the origins of its stored last rows (``remember``; ``served``, keyed by a digest of the prices each
one is run over), so ``forecast predict`` from the bundle refits nothing and never imports statsforecast (the
import alone took 2.2-2.7 s); a newer file, or a horizon served recursively, asks for other origins and refits.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np

from forecast.data.transforms import Preprocessor
from forecast.executors import forked_map
from forecast.models.baselines import BASELINES, FIT_TAIL, prices_digest

STAT_HYBRIDS = ("ets", "arima", "theta", "mstl")
AUTO_CANDIDATES = ("ets", "arima", "theta", "mstl")  # mstl: where a season holds two cycles of the training rows
AUTO_ORIGINS = 50  # most validation origins auto scores the candidates on
AUTO_MARGIN = 0.95  # a candidate is used when its validation MAE is at most this times the naive forecast's
AUTO_CONFIRM_P = 0.05  # ... and a one-sided Diebold-Mariano test against naive there gives p below this
MIN_HISTORY = 3  # origins with fewer prices get the naive path (nothing to run a model over)


@dataclass
class StatisticalPart:
    """A statistical model fitted on one series' training rows; ``paths`` forecasts from any origin."""

    name: str
    seasons: tuple[int, ...]
    why: str = ""
    y_fit_: np.ndarray | None = field(default=None, repr=False)  # the prices it was fitted on
    model_: object = field(default=None, repr=False)  # the fitted baseline (models/baselines.py); None: not yet
    served: dict[str, list[float]] = field(default_factory=dict, repr=False)  # remembered forecasts (``remember``)
    # every forecast computed since the fit, by the same key: the fit's windows, its validation and test scoring
    # and the bundle's context ask for the same origins over the same prices (not saved; ``served`` is)
    computed: dict[str, np.ndarray] = field(default_factory=dict, repr=False, compare=False)

    def fit(self, train_prices: np.ndarray) -> StatisticalPart:
        """Fit on the training prices (at most the model's FIT_TAIL most recent ones)."""
        self.y_fit_ = np.asarray(train_prices, np.float64)[-FIT_TAIL[self.name]:]
        self.model_ = BASELINES[self.name](self.seasons or 1).fit(self.y_fit_)
        self.computed = {}
        return self

    def paths(self, prices: np.ndarray, origins: np.ndarray, h: int) -> np.ndarray:
        """Forecasts (n, h) in prices from each origin index of ``prices``, with the fitted parameters over at
        most FIT_TAIL prices up to the origin; the naive path where there is too little history or the model
        fails there. A remembered forecast is returned as it was computed; the others fit the model first if
        it was restored without (``from_dict``); one computed before from the same prices is returned again.
        The forward runs are spread over this process's cores where it may fork (``executors.forked_map``)."""
        if self.model_ is None and self.y_fit_ is None:
            raise RuntimeError("StatisticalPart is not fitted: call fit() on the training prices first")
        y = np.asarray(prices, np.float64)
        out = np.repeat(y[np.asarray(origins)][:, None], h, axis=1)  # (n, h) naive paths, replaced below
        todo: dict[str, tuple[np.ndarray, list[int]]] = {}  # key -> (the prices run over, rows of out)
        for i, o in enumerate(np.asarray(origins)):
            if o + 1 < MIN_HISTORY:
                continue
            history = self._run_over(y, o)
            key = _served_key(history, h)
            known = self.served.get(key)
            if known is None:
                known = self.computed.get(key)
            if known is not None:
                out[i] = known
            else:
                todo.setdefault(key, (history, []))[1].append(i)
        if todo:
            if self.model_ is None:
                self.fit(self.y_fit_)
            model = self.model_.fitted_model  # the statsforecast model of the fit on the training rows

            def run(history: np.ndarray) -> np.ndarray | None:
                try:
                    with np.errstate(all="ignore"):
                        return np.asarray(model.forward(y=history, h=h)["mean"], np.float64)
                except Exception:  # noqa: BLE001 - e.g. too short for the season: the naive path stays
                    return None

            for (key, (_, rows)), path in zip(todo.items(), forked_map(run, [v[0] for v in todo.values()])):
                if path is not None and np.all(np.isfinite(path)):
                    out[rows] = path
                self.computed[key] = out[rows[0]].copy()
        return out

    def remember(self, prices: np.ndarray, origins: np.ndarray, h: int) -> None:
        """Keep the forecasts from ``origins`` of ``prices`` (the rows a bundle stores), so that asking for them
        again, in this process or after ``from_dict``, needs no fit."""
        y = np.asarray(prices, np.float64)
        for o, path in zip(np.asarray(origins), self.paths(y, origins, h)):
            if o + 1 >= MIN_HISTORY:
                self.served[_served_key(self._run_over(y, o), h)] = path.tolist()

    def without_model(self) -> StatisticalPart:
        """This part with its forecasts computed so far but not the fitted statsforecast model, to hand to another
        process: unpickling the model imports statsforecast there (0.8-1.3 s on 2 cores), which a receiver that
        asks only for computed forecasts does not need; asked for another, it refits first (``paths``)."""
        return replace(self, model_=None)

    def _run_over(self, y: np.ndarray, o: int) -> np.ndarray:
        """The prices a forecast from origin ``o`` of ``y`` is run over: at most FIT_TAIL of them, up to ``o``."""
        return y[max(0, o + 1 - FIT_TAIL[self.name]):o + 1]

    def to_dict(self) -> dict:
        return {"model": self.name, "seasons": list(self.seasons), "why": self.why, "fitted_on": "train",
                "prices": self.y_fit_.tolist(), **({"served": self.served} if self.served else {})}

    @classmethod
    def from_dict(cls, d: dict) -> StatisticalPart:
        """The part fitted on the stored training prices, refitted when first needed (the same deterministic
        search, the same parameters), with its remembered forecasts."""
        return cls(d["model"], tuple(int(m) for m in d["seasons"]), d.get("why", ""),
                   y_fit_=np.asarray(d["prices"], np.float64), served=dict(d.get("served", {})))


def _served_key(history: np.ndarray, h: int) -> str:
    """The key of the forecast of ``h`` steps run over the prices ``history`` (float64)."""
    return f"{prices_digest(history)}:{h}"


def encode_paths(prep: Preprocessor, origin_prices: np.ndarray, paths: np.ndarray) -> np.ndarray:
    """Price paths (n, h) from origins at ``origin_prices`` (n,) as the scaled z the network predicts, (n, h).

    A log-return target needs positive prices: a path that reaches zero or below is floored at a thousandth of
    its origin price (its log returns stay finite; such a statistical forecast is wrong either way)."""
    full = np.hstack([np.asarray(origin_prices, np.float64)[:, None], paths])  # (n, h + 1)
    if prep.kind == "log_return":
        full = np.maximum(full, 1e-3 * full[:, :1])
    return prep.encode(full)[:, -paths.shape[1]:]


def lead_p_value(errors: np.ndarray, naive_errors: np.ndarray, origins: np.ndarray, h: int) -> float:
    """The one-sided p-value ``choose`` confirms a candidate's lead with: the Diebold-Mariano test of each origin's
    mean absolute error (errors: origins x steps) against the naive forecast's, with autocovariances as far as
    the origins' targets overlap (origins one row apart share h - 1 of them). On random walks it passes a
    candidate no better than naive in 15% of draws with 30 validation rows (21 origins, too few for the overlap's
    variance), 10% with 60 and 6% with 150 or 300 (``bench/auto_gate.py``). The verdicts test other origins:
    train's test part origins a horizon apart (``scoring.dm_per_origin``), the backtest its folds' origins
    (``verdict.dm_test``, the same per-origin losses)."""
    from forecast.evaluation.metrics import diebold_mariano

    spacing = int(np.min(np.diff(origins))) if len(origins) > 1 else h
    test = diebold_mariano(np.abs(errors).mean(axis=1), np.abs(naive_errors).mean(axis=1),
                           horizon=math.ceil(h / spacing), loss="absolute")
    return test["p_value"] / 2 if test["statistic"] < 0 else 1.0  # one-sided: the candidate's errors are smaller


def spread_origins(first: int, last: int, most: int = AUTO_ORIGINS) -> np.ndarray:
    """The validation origins the statistical candidates are scored on: every one from ``first`` to ``last``, or
    ``most`` of them evenly spaced. ``choose`` and the test table's candidate (``scoring.baseline_paths``) use the
    same, so both name the same model."""
    return np.unique(np.linspace(first, last, min(most, last - first + 1)).round().astype(int))


def choose(train_prices: np.ndarray, val_prices: np.ndarray, seasons: tuple[int, ...], h: int,
           candidates=AUTO_CANDIDATES, season_shown: bool = False) -> tuple[StatisticalPart | None, str]:
    """The fitted candidate most accurate on the validation rows if it beats the naive forecast there by the
    margin, and significantly or (``season_shown``) on a series whose training rows show a calendar season
    (module doc), else None; and why, with the figures."""
    y = np.concatenate([train_prices, val_prices]).astype(np.float64)
    n_train = len(train_prices)
    last = len(y) - 1 - h
    if last < n_train - 1:
        return None, f"auto: {len(val_prices)} validation rows are fewer than a horizon of {h}"
    origins = spread_origins(n_train - 1, last)
    actual = y[origins[:, None] + np.arange(1, h + 1)]  # (n, h), inside the validation rows
    naive = float(np.mean(np.abs(actual - y[origins][:, None])))
    scores: dict[str, float] = {}
    parts: dict[str, StatisticalPart] = {}
    errors: dict[str, np.ndarray] = {}
    for name in candidates:
        try:  # the primary season only: the others use no more, and MSTL with (7, 365) took 0.5 s a forecast
            part = StatisticalPart(name, seasons[:1]).fit(train_prices)
        except Exception:  # noqa: BLE001 - a candidate that cannot be fitted here is not a candidate
            continue
        parts[name], errors[name] = part, part.paths(y, origins, h) - actual
        scores[name] = float(np.mean(np.abs(errors[name])))
    if not scores:
        return None, "auto: no statistical candidate could be fitted on the training rows"
    best = min(scores, key=scores.get)
    ratio = scores[best] / naive if naive > 0 else np.inf
    figures = ", ".join(f"{n} {scores[n] / naive:.3f}" for n in scores) if naive > 0 else "naive MAE 0"
    if ratio > AUTO_MARGIN:
        return None, (f"auto: no statistical model beats the naive forecast by {1 - AUTO_MARGIN:.0%} on the "
                      f"validation rows (MAE relative to naive: {figures})")
    p = lead_p_value(errors[best], y[origins][:, None] - actual, origins, h)
    shown = f"one-sided Diebold-Mariano p={p:.2g} over {len(origins)} origins"
    if not p < AUTO_CONFIRM_P and not season_shown:  # too few origins to test (p 1) confirm nothing either
        return None, (f"auto: {best} beats the naive forecast on the validation rows, but not significantly "
                      f"({shown}; MAE relative to naive: {figures})")
    if not p < AUTO_CONFIRM_P:
        shown += ", not significant, but the training rows show a calendar season"
    parts[best].why = (f"auto: {best} is the most accurate statistical model on the validation rows "
                       f"(MAE relative to naive: {figures}; {shown})")
    return parts[best], parts[best].why
