"""The statistical models' work that `forecast train` hands to its forked process, on one core and on all of them.

    .venv/bin/python bench/statistical_work.py [--rows 5000] [--freq h] [--hybrid auto] [--workers N]

On a long seasonal series the hybrid's statistical part forecasts from every row (statsforecast's ``forward``
over up to FIT_TAIL prices per origin: 14-18 ms each for a seasonal ARIMA on hourly prices, measured on 2 cores),
and the baselines' chosen model from every test origin. `train` computes both in the process it forks before
TensorFlow loads (``workflows.train.statistical_work``: stage 1 before the fit can start, stage 2 beside and
after it), and ``executors.forked_map`` spreads those forward runs over forked workers.

This script runs both stages on a synthetic seasonal series (``synthetic_series("seasonal", noise=1.0)``), first
with the workers (``--workers``, default: the usable cores), then on one core (the plain loop, the reference), and
prints each stage's seconds, their ratio and whether every forecast is bit-identical. No TensorFlow is loaded.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from forecast import executors  # noqa: E402
from forecast.config import RunConfig  # noqa: E402
from forecast.data.load import synthetic_series  # noqa: E402
from forecast.workflows import train as T  # noqa: E402


def run_stages(path: Path, cfg: RunConfig) -> tuple[list[float], tuple]:
    """Seconds of each stage and what they handed over (the parts' forecasts, the baselines' paths)."""
    panel = T.load_training_panel(path, cfg)
    splits = T.splits_of(panel, cfg)
    heads = panel.map(lambda s: s.head(splits[s.id].n_train + splits[s.id].n_val))
    stages, seconds = T.statistical_work(panel, heads, splits, cfg), []
    t = time.perf_counter()
    choices = next(stages)
    seconds.append(time.perf_counter() - t)
    t = time.perf_counter()
    found, known = next(stages)
    seconds.append(time.perf_counter() - t)
    computed = {sid: {**part.computed, **known.get(sid, {})} for sid, part in T.chosen_parts(choices).items()}
    return seconds, (choices, computed, found)


def same(a: tuple, b: tuple) -> bool:
    (ca, ka, fa), (cb, kb, fb) = a, b
    parts = {k: (p.name if p else None, why) for k, (p, why) in (ca or {}).items()} == \
        {k: (p.name if p else None, why) for k, (p, why) in (cb or {}).items()}
    paths = ka.keys() == kb.keys() and all(ka[s].keys() == kb[s].keys() and all(
        np.array_equal(ka[s][k], kb[s][k]) for k in ka[s]) for s in ka)
    base = fa.keys() == fb.keys() and all(fa[s]["paths"].keys() == fb[s]["paths"].keys() and all(
        np.array_equal(fa[s]["paths"][m], fb[s]["paths"][m]) for m in fa[s]["paths"]) for s in fa)
    return parts and paths and base


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=5000)
    ap.add_argument("--freq", default="h", help="pandas frequency of the synthetic dates (default: hourly)")
    ap.add_argument("--hybrid", default="auto", help="--hybrid of the run: auto, or a statistical model")
    ap.add_argument("--workers", type=int, default=None, help="forked workers (default: the usable cores)")
    args = ap.parse_args()
    cores = executors.usable_cores()
    workers = args.workers or cores
    cfg = RunConfig().replace(model={"hybrid": args.hybrid})
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "seasonal.csv"
        synthetic_series("seasonal", n=args.rows, freq=args.freq, noise=1.0).to_csv(path, index=False)
        executors.usable_cores = lambda: workers
        fast, got = run_stages(path, cfg)
        executors.usable_cores = lambda: 1  # forked_map runs the plain loop
        slow, want = run_stages(path, cfg)
    parts = {k: (p.name if p else None) for k, (p, _) in (got[0] or {}).items()}
    print(f"{args.rows:,} rows, freq {args.freq}, --hybrid {args.hybrid} (parts: {parts}); {cores} usable cores, "
          f"pid {os.getpid()}")
    for name, a, b in (("stage 1 (the hybrid's parts)", fast[0], slow[0]),
                       ("stage 2 (baselines, parts' test origins)", fast[1], slow[1]),
                       ("both", sum(fast), sum(slow))):
        print(f"  {name:42s} {workers} workers {a:7.1f} s   1 core {b:7.1f} s   ratio {a / b:.2f}")
    print(f"  every forecast bit-identical: {same(got, want)}")


if __name__ == "__main__":
    main()
