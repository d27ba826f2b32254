"""What the residual hybrid's statistical part gives up by being fitted on the training rows alone (issue 14).

    .venv/bin/python bench/hybrid_part.py [--series air,elec,...|held-out] [--models ets,arima,theta,mstl] [--folds 5]
                                          [--val-frac F] [--work DIR]

On the folds of the default backtest (5 origins, 10 steps apart, 10-step forecasts), each statistical model is
fitted twice per fold: on the rows before the origin, as the backtest's baseline row is, and on the first rows of
those only, as the hybrid fits its statistical part (the last ``default_n_val`` rows are the network's validation
part, which no statistic may see). Both forecast from the origin with their parameters over the prices up to it
(statsforecast's ``forward``: the same prices, only the parameters differ). Printed per series and model: the MAE
of each and their ratio; then the model ``--hybrid auto`` picks in each fold (``residual.choose`` on the training
and validation rows) and the MAE of that pick, fitted on the training rows, against the best of ``--models``
fitted up to the origin. With a network weight of 0 the hybrid forecasts exactly its statistical part, so that
ratio is what its network has to win back to reach parity. Last, where auto takes a model, the anchor other
rules would give (``RULES``): the median, mean, or mean of the two best on the validation rows of the candidates'
paths; auto's pick fitted on every row before the origin (validation rows included, which this project does not
do); the candidate best on the validation rows and on as many rows before them, inside the training part (these
rankings score every validation origin with the series' seasons, where auto scores at most 50 with the primary
one: the same on monthly and quarterly series). Series
from bench/evidence.py (``write_series``; ``held-out`` for its held-out set). Not a test.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from evidence import series_names, write_series  # noqa: E402 - the same series files as the evidence bench

SEASONAL = ("air", "elec", "elnino", "unemp", "sunspots", "co2")


def _relative_mae(model: str, y, first: int, end: int, h: int, seasons) -> float:
    """A model fitted on ``y[:first]``: its MAE relative to naive's from every origin whose targets lie in
    ``y[first:end]``."""
    from forecast.models import residual

    origins = np.arange(first - 1, end - 1 - h + 1)
    if first < 2 or len(origins) == 0:
        return np.inf
    try:
        part = residual.StatisticalPart(model, seasons).fit(y[:first])
    except ValueError:  # e.g. mstl without two seasons of rows: no score
        return np.inf
    actual = y[origins[:, None] + np.arange(1, h + 1)]
    naive = np.mean(np.abs(y[origins][:, None] - actual))
    return float(np.mean(np.abs(part.paths(y[:end], origins, h) - actual)) / naive) if naive > 0 else np.inf


def _validation_mae(model: str):
    """A model's MAE over the validation rows from every validation origin, fitted on the training rows."""
    return lambda y, n_train, n_fit, h, seasons: _relative_mae(model, y, n_train, n_fit, h, seasons)


def _pooled_mae(model: str):
    """The mean of the validation score and the same score one validation length earlier, inside the training
    rows (fitted on the rows before that stretch)."""
    def score(y, n_train, n_fit, h, seasons):
        inner = n_train - (n_fit - n_train)
        return float(np.mean([_relative_mae(model, y, inner, n_train, h, seasons),
                              _relative_mae(model, y, n_train, n_fit, h, seasons)]))
    return score


VALIDATION = {m: _validation_mae(m) for m in ("ets", "arima", "theta", "mstl")}
POOLED = {m: _pooled_mae(m) for m in ("ets", "arima", "theta", "mstl")}
RULES = {  # the anchor each rule gives in a fold where auto takes a model; ``c``: that fold's paths and rankings
    "pick": lambda c: c["train"][c["pick"]],  # auto's pick, fitted on the training rows: what the hybrid does
    "median": lambda c: np.median(np.stack(list(c["train"].values())), axis=0),  # of every candidate's path
    "mean": lambda c: np.mean(np.stack(list(c["train"].values())), axis=0),
    "top2": lambda c: np.mean(np.stack([c["train"][m] for m in c["by_validation"][:2]]), axis=0),
    "refit": lambda c: c["origin"][c["pick"]],  # auto's pick fitted on every row before the origin
    "pooled": lambda c: c["train"][c["by_pooled"][0]],  # chosen on the validation rows and a stretch before them
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--series", default=",".join(SEASONAL))
    ap.add_argument("--models", default="ets,arima,theta,mstl", help="auto's candidates (residual.AUTO_CANDIDATES)")
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--val-frac", type=float, default=None, help="the network's validation share [default: train's]")
    ap.add_argument("--work", type=Path, help="folder for the series files [default: a temporary one]")
    a = ap.parse_args()

    from forecast.config import RunConfig
    from forecast.data.panel import load_configured
    from forecast.data.seasonal import season_shown
    from forecast.evaluation.folds import make_folds
    from forecast.models import residual
    from forecast.models.baselines import seasons_for
    from forecast.models.lstm import default_n_val

    cfg = RunConfig().replace(data={"max_fill": 20}, train={"device": "cpu"})
    if a.val_frac is not None:
        cfg = cfg.replace(window={"val_frac": a.val_frac})
    h = cfg.window.horizon
    models = a.models.split(",")
    work = a.work or Path(tempfile.mkdtemp(prefix="hybrid-part-"))
    work.mkdir(parents=True, exist_ok=True)
    print(f"{'series':15s}{'model':7s}{'MAE fit to origin':>18s}{'MAE fit on train':>17s}{'ratio':>7s}")
    summary = []
    for name in series_names(a.series):
        s = load_configured(write_series(name, work), cfg.data).series[0]
        y, seasons = np.asarray(s.values, np.float64), seasons_for(s.freq)
        origins = [f.origin for f in make_folds(len(y), h, a.folds, h)]
        errors = {m: {"origin": [], "train": []} for m in models}
        picks, pick_errors = [], []
        rule_errors: dict[str, list[float]] = {r: [] for r in RULES}
        for o in origins:
            n_fit = o + 1
            n_train = n_fit - default_n_val(n_fit, cfg)
            actual = y[o + 1:o + 1 + h]
            paths = {"origin": {}, "train": {}}  # each model's path from the origin, by the rows it was fitted on
            for m in models:
                for key, rows in (("origin", n_fit), ("train", n_train)):
                    try:
                        path = residual.StatisticalPart(m, seasons).fit(y[:rows]).paths(y, np.array([o]), h)[0]
                    except ValueError:  # e.g. mstl on a series without a season: not a candidate there
                        path = np.full(h, np.nan)
                    errors[m][key].append(float(np.mean(np.abs(path - actual))))
                    if np.all(np.isfinite(path)):
                        paths[key][m] = path
            shown = season_shown(y[:n_train], s.dates[:n_train], s.freq)  # as LSTMForecaster.prepare asks
            part, _ = residual.choose(y[:n_train], y[n_train:n_fit], seasons, h, candidates=tuple(models),
                                      season_shown=shown)
            picks.append(part.name if part else "none")
            naive_mae = float(np.mean(np.abs(y[o] - actual)))
            pick_errors.append(errors[part.name]["train"][-1] if part else naive_mae)
            context = {**paths, "pick": part.name if part else None,
                       **{f"by_{name}": sorted(paths["train"], key=lambda m: score[m](y, n_train, n_fit, h, seasons))
                          for name, score in (("validation", VALIDATION), ("pooled", POOLED)) if part}}
            for rule, anchor in RULES.items():  # where auto takes no model, the naive forecast for every rule
                rule_errors[rule].append(float(np.mean(np.abs(anchor(context) - actual))) if part else naive_mae)
        fitted = [m for m in models if np.all(np.isfinite(errors[m]["origin"] + errors[m]["train"]))]
        for m in models:
            full, train = np.mean(errors[m]["origin"]), np.mean(errors[m]["train"])
            print(f"{name:15s}{m:7s}{full:18.4g}{train:17.4g}{train / full:7.3f}" if m in fitted
                  else f"{name:15s}{m:7s}{'cannot be fitted here':>42s}")
        best = min(fitted, key=lambda m: np.mean(errors[m]["origin"]))
        summary.append((name, best, np.mean(errors[best]["origin"]), ",".join(picks), np.mean(pick_errors),
                        {r: np.mean(e) for r, e in rule_errors.items()}))
    print(f"\n{'series':15s}{'best of models':>15s}{'its MAE':>10s}  {'auto picks (folds)':<32s}{'pick MAE':>10s}"
          f"{'/ best':>8s}")
    for name, best, full, picks, pick, _ in summary:
        print(f"{name:15s}{best:>15s}{full:10.4g}  {picks:<32s}{pick:10.4g}{pick / full:8.3f}")
    print("\nwhere auto takes a model, the anchor each rule would give instead (module doc), MAE / the best of "
          "models fitted up to the origin:")
    print(f"{'series':15s}" + "".join(f"{r:>10s}" for r in RULES))
    for name, _, full, _, _, rules in summary:
        print(f"{name:15s}" + "".join(f"{rules[r] / full:10.3f}" for r in RULES))
    print(f"{'mean':15s}" + "".join(f"{np.mean([x[5][r] / x[2] for x in summary]):10.3f}" for r in RULES))
    print("\n(none: auto uses no statistical model in that fold; its MAE there is the naive forecast's, the hybrid's"
          " anchor at a network weight of 0)")


if __name__ == "__main__":
    main()
