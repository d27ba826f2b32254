"""How often `--hybrid auto`'s gate takes a statistical model that is no better than the naive forecast.

    .venv/bin/python bench/auto_gate.py [--horizon 10] [--val-rows 30,60,150,300] [--draws 2000]

The null: on a Gaussian random walk, a candidate that forecasts the last price plus d, against naive forecasting
the last price minus d (d = +-0.5, so both have the same expected error), from the origins ``residual.choose``
uses (up to 50, evenly spaced over the validation rows; the gate's margin, MAE at most 0.95x naive's, applied).
For each validation length, the share of draws the gate passes, with three tests of the lead:

- ``gate``: ``residual.lead_p_value``, what auto uses: each origin's mean absolute error, autocovariances as far
  as the origins' targets overlap;
- ``flattened``: the test auto used before 2026-12-07: the origins' errors as one series, lags to h - 1;
- ``apart``: origins a horizon apart only (the verdict's test, ``scoring.dm_per_origin``).

A test of the right size passes 5% or less. (auto also takes a lead its test cannot confirm where the training
rows show a calendar season: not simulated here.) Not a test of the suite; seconds on 2 cores.
"""

from __future__ import annotations

import argparse
import math

import numpy as np

from forecast.evaluation.metrics import diebold_mariano
from forecast.models.residual import AUTO_CONFIRM_P, AUTO_MARGIN, AUTO_ORIGINS, lead_p_value

TRAIN_ROWS = 700


def one_sided(test: dict) -> float:
    return test["p_value"] / 2 if test["statistic"] < 0 else 1.0


def p_values(cand: np.ndarray, naive: np.ndarray, origins: np.ndarray, h: int) -> dict[str, float]:
    """The three tests' one-sided p-values for errors (origins, h) of the candidate and of naive."""
    step = int(np.min(np.diff(origins))) if len(origins) > 1 else 1
    a, b = np.abs(cand).mean(axis=1), np.abs(naive).mean(axis=1)
    apart = slice(len(origins) - 1, None, -math.ceil(h / step))
    return {"gate": lead_p_value(cand, naive, origins, h),
            "flattened": one_sided(diebold_mariano(cand, naive, horizon=h, loss="absolute")),
            "apart": one_sided(diebold_mariano(a[apart], b[apart], horizon=1, loss="absolute"))}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--horizon", type=int, default=10)
    ap.add_argument("--val-rows", default="30,60,150,300")
    ap.add_argument("--draws", type=int, default=2000)
    args = ap.parse_args()
    h, rng = args.horizon, np.random.default_rng(20261207)
    print(f"a candidate no better than naive on random walks, horizon {h}, {args.draws:,} draws per row: "
          f"the share the gate passes (MAE <= {AUTO_MARGIN}x naive's and p < {AUTO_CONFIRM_P})")
    print(f"{'validation rows':>15} {'origins':>7} {'gate':>6} {'flattened':>10} {'apart':>6}")
    for n_val in map(int, args.val_rows.split(",")):
        passed = {"gate": 0, "flattened": 0, "apart": 0}
        for _ in range(args.draws):
            y = np.cumsum(rng.standard_normal(TRAIN_ROWS + n_val))
            last = len(y) - 1 - h
            origins = np.unique(np.linspace(TRAIN_ROWS - 1, last, min(AUTO_ORIGINS, last - TRAIN_ROWS + 2))
                                .round().astype(int))
            actual = y[origins[:, None] + np.arange(1, h + 1)]
            d = 0.5 * rng.choice([-1.0, 1.0])
            cand, naive = y[origins][:, None] + d - actual, y[origins][:, None] - d - actual
            if np.mean(np.abs(cand)) > AUTO_MARGIN * np.mean(np.abs(naive)):
                continue
            for name, p in p_values(cand, naive, origins, h).items():
                passed[name] += p < AUTO_CONFIRM_P
        print(f"{n_val:>15} {len(origins):>7} " + " ".join(
            f"{passed[name] / args.draws:>{w}.1%}" for name, w in (("gate", 6), ("flattened", 10), ("apart", 6))))


if __name__ == "__main__":
    main()
