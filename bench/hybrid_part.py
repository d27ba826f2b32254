"""What the residual hybrid's statistical part gives up by being fitted on the training rows alone (issue 14).

    .venv/bin/python bench/hybrid_part.py [--series air,elec,...] [--models ets,arima,theta] [--folds 5]
                                          [--val-frac F] [--work DIR]

On the folds of the default backtest (5 origins, 10 steps apart, 10-step forecasts), each statistical model is
fitted twice per fold: on the rows before the origin, as the backtest's baseline row is, and on the first rows of
those only, as the hybrid fits its statistical part (the last ``default_n_val`` rows are the network's validation
part, which no statistic may see). Both forecast from the origin with their parameters over the prices up to it
(statsforecast's ``forward``: the same prices, only the parameters differ). Printed per series and model: the MAE
of each and their ratio; then the model ``--hybrid auto`` picks in each fold (``residual.choose`` on the training
and validation rows) and the MAE of that pick, fitted on the training rows, against the best of ``--models``
fitted up to the origin. With a network weight of 0 the hybrid forecasts exactly its statistical part, so that
ratio is what its network has to win back to reach parity. Series from bench/evidence.py (``write_series``).
Not a test.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from evidence import write_series  # noqa: E402 - the same series files as the evidence bench

SEASONAL = ("air", "elec", "elnino", "unemp", "sunspots", "co2")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--series", default=",".join(SEASONAL))
    ap.add_argument("--models", default="ets,arima,theta")
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--val-frac", type=float, default=None, help="the network's validation share [default: train's]")
    ap.add_argument("--work", type=Path, help="folder for the series files [default: a temporary one]")
    a = ap.parse_args()

    from forecast.config import RunConfig
    from forecast.data.panel import load_configured
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
    print(f"{'series':9s}{'model':7s}{'MAE fit to origin':>18s}{'MAE fit on train':>17s}{'ratio':>7s}")
    summary = []
    for name in a.series.split(","):
        s = load_configured(write_series(name, work), cfg.data).series[0]
        y, seasons = np.asarray(s.values, np.float64), seasons_for(s.freq)
        origins = [f.origin for f in make_folds(len(y), h, a.folds, h)]
        errors = {m: {"origin": [], "train": []} for m in models}
        picks, pick_errors = [], []
        for o in origins:
            n_fit = o + 1
            n_train = n_fit - default_n_val(n_fit, cfg)
            actual = y[o + 1:o + 1 + h]
            for m in models:
                for key, rows in (("origin", n_fit), ("train", n_train)):
                    try:
                        path = residual.StatisticalPart(m, seasons).fit(y[:rows]).paths(y, np.array([o]), h)[0]
                    except ValueError:  # e.g. mstl on a series without a season: not a candidate there
                        path = np.full(h, np.nan)
                    errors[m][key].append(float(np.mean(np.abs(path - actual))))
            part, _ = residual.choose(y[:n_train], y[n_train:n_fit], seasons, h, candidates=tuple(models))
            picks.append(part.name if part else "none")
            pick_errors.append(errors[part.name]["train"][-1] if part else float(np.mean(np.abs(y[o] - actual))))
        fitted = [m for m in models if np.all(np.isfinite(errors[m]["origin"] + errors[m]["train"]))]
        for m in models:
            full, train = np.mean(errors[m]["origin"]), np.mean(errors[m]["train"])
            print(f"{name:9s}{m:7s}{full:18.4g}{train:17.4g}{train / full:7.3f}" if m in fitted
                  else f"{name:9s}{m:7s}{'cannot be fitted here':>42s}")
        best = min(fitted, key=lambda m: np.mean(errors[m]["origin"]))
        summary.append((name, best, np.mean(errors[best]["origin"]), ",".join(picks), np.mean(pick_errors)))
    print(f"\n{'series':9s}{'best of models':>15s}{'its MAE':>10s}  {'auto picks (folds)':<32s}{'pick MAE':>10s}"
          f"{'/ best':>8s}")
    for name, best, full, picks, pick in summary:
        print(f"{name:9s}{best:>15s}{full:10.4g}  {picks:<32s}{pick:10.4g}{pick / full:8.3f}")
    print("\n(none: auto uses no statistical model in that fold; its MAE there is the naive forecast's, the hybrid's"
          " anchor at a network weight of 0)")


if __name__ == "__main__":
    main()
