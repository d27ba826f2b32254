"""Wall time of `forecast backtest` with each executor: sequential, a process pool and local Ray.

    .venv/bin/python bench/backtest_parallel.py [--rows 5000] [--folds 8] [--epochs 3] [--layers 32,32]
                                                [--workers 2] [--executors sequential,process,ray]

Writes a seeded random walk of --rows rows, then runs the CLI once per executor in a fresh process, as a
user would (each run pays its own imports and worker start-up: spawned workers import TensorFlow):

    forecast backtest walk.csv --models lstm --folds 8 --horizon 10 --window 30 --layers 32,32 --epochs 3
                               --patience 2 --interval none --executor X [--workers 2] --json --quiet

8 folds with a refit at every fold. Prints each wall time, its speedup over sequential, whether the
forecasts are identical to the sequential ones, and the load average before and after (the machine may be
shared, which slows the parallel runs most). Not a test.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

FORECAST = Path(sys.executable).with_name("forecast")


def run(csv: Path, out: Path, args, executor: str) -> float:
    cmd = [str(FORECAST), "backtest", str(csv), "--models", "lstm", "--folds", str(args.folds), "--horizon", "10",
           "--window", "30", "--layers", args.layers, "--dropout", "0.1", "--epochs", str(args.epochs),
           "--patience", "2", "--seed", "0", "--interval", "none", "--executor", executor, "--out", str(out),
           "--json", "--quiet"]
    if executor != "sequential":
        cmd += ["--workers", str(args.workers)]
    t0 = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "CUDA_VISIBLE_DEVICES": ""})
    seconds = time.perf_counter() - t0
    if done.returncode:
        sys.exit(f"{executor} failed ({done.returncode}): {done.stderr.strip().splitlines()[-1:]}")
    return seconds


def main() -> None:
    import numpy as np
    import pandas as pd

    from forecast.data.load import synthetic_series

    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=5000)
    ap.add_argument("--folds", type=int, default=8)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--layers", default="32,32")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--executors", default="sequential,process,ray")
    args = ap.parse_args()
    names = args.executors.split(",")
    print(f"cores {os.cpu_count()}, load average before {' '.join(f'{x:.2f}' for x in os.getloadavg())}; "
          f"{args.rows} rows, {args.folds} folds (refit each), LSTM {args.layers}, {args.epochs} epochs, "
          f"--workers {args.workers}")
    with tempfile.TemporaryDirectory() as d:
        csv = Path(d) / "walk.csv"
        synthetic_series("random_walk", n=args.rows, seed=0).to_csv(csv, index=False)
        seconds, forecasts = {}, {}
        for name in names:
            seconds[name] = run(csv, Path(d) / name, args, name)
            forecasts[name] = pd.read_csv(Path(d) / name / "forecasts.csv")["forecast"].to_numpy()
            print(f"{name:>10}: {seconds[name]:6.1f} s, load average now {os.getloadavg()[0]:.2f}", flush=True)
    base = names[0]
    print("executor,seconds,speedup_vs_" + base + ",identical_forecasts,max_relative_difference,nan_forecasts")
    for name in names:
        a, b = forecasts[name], forecasts[base]
        same = bool(np.array_equal(a, b, equal_nan=True))
        print(f"{name},{seconds[name]:.1f},{seconds[base] / seconds[name]:.2f},{same},"
              f"{np.nanmax(np.abs(a - b) / np.abs(b)):.2g},{int(np.isnan(a).sum())}")
    print(f"load average after {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
