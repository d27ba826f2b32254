"""Peak memory of training one epoch on a long series: proportional to the series, not to rows x window.

    .venv/bin/python bench/memory.py [--rows 1000000] [--window 60] [--layers 16] [--batch 1024]

Runs two fresh subprocesses and reads each one's peak RSS (VmHWM from /proc/self/status):

* baseline: imports TensorFlow, builds the model and allocates the series (prices and the scaled
  transform) -- the memory any training run needs;
* train: the same, then one epoch of LSTMForecaster.fit on that series (windows gathered per batch: a million
  windows are more than make_dataset copies, windows.gathers).

Goal: train peak <= 2 x baseline peak. For scale it prints the size a materialised (rows, window)
float32 window copy would take. The model is kept small (--layers 16) so an epoch of a million
windows finishes in about a minute on 2 cores; its size does not change the window memory.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

CHILD = r"""
import json, os, sys, time
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "2"
os.environ["CUDA_VISIBLE_DEVICES"] = ""
mode, rows, window, layers, batch = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], int(sys.argv[5])

def hwm_mb():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024

from forecast.config import ModelConfig, RunConfig, TrainConfig, WindowConfig, parse_layers
from forecast.data.load import synthetic_series
from forecast.models.network import build_model
from forecast.data.transforms import Preprocessor

# the network alone (no statistical part: auto would run one from every origin of the million rows)
cfg = RunConfig(window=WindowConfig(window=window, horizon=10),
                model=ModelConfig(layers=parse_layers(layers), hybrid="none"),
                train=TrainConfig(epochs=1, batch_size=batch, patience=1, seed=0, device="cpu"))
# hourly: a million business days would end past pandas' last date (2262)
frame = synthetic_series("random_walk", n=rows, seed=0, freq="h")
prices = frame["Close"].to_numpy()
z = Preprocessor("log_return").fit(prices).encode(prices)
start = time.perf_counter()
if mode == "baseline":
    model = build_model(cfg)
else:
    from forecast.data.panel import panel_of
    from forecast.models.lstm import LSTMForecaster
    LSTMForecaster(cfg).fit(panel_of(prices, frame["Date"]))
print(json.dumps({"peak_mb": hwm_mb(), "seconds": time.perf_counter() - start}))
"""


def child(mode: str, args) -> dict:
    proc = subprocess.run([sys.executable, "-c", CHILD, mode, str(args.rows), str(args.window), args.layers,
                           str(args.batch)], capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"{mode} subprocess failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--window", type=int, default=60)
    ap.add_argument("--layers", default="16")
    ap.add_argument("--batch", type=int, default=1024)
    args = ap.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

    t0 = time.perf_counter()
    base = child("baseline", args)
    train = child("train", args)
    series_mb = args.rows * (8 + 4) / 2**20  # float64 prices + float32 scaled transform
    copy_mb = args.rows * args.window * 4 / 2**20
    print(f"# {args.rows:,} rows, window {args.window}, layers {args.layers}, batch {args.batch}, "
          f"{os.cpu_count()} CPUs ({time.perf_counter() - t0:.0f} s in all)")
    print(f"series (prices + transform):            {series_mb:8.0f} MB")
    print(f"a materialised (rows, window) float32:  {copy_mb:8.0f} MB  (what the tutorial way would add)")
    print(f"baseline peak RSS (TF + model + series): {base['peak_mb']:7.0f} MB")
    print(f"train 1 epoch peak RSS:                  {train['peak_mb']:7.0f} MB  ({train['seconds']:.0f} s)")
    ratio = train["peak_mb"] / base["peak_mb"]
    print(f"ratio train / baseline:                  {ratio:7.2f}   goal <= 2.00: {'met' if ratio <= 2 else 'NOT met'}")
    print(f"extra over baseline:                     {train['peak_mb'] - base['peak_mb']:7.0f} MB "
          f"= {(train['peak_mb'] - base['peak_mb']) / copy_mb:.2f} x the window copy")


if __name__ == "__main__":
    main()
