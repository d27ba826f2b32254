"""Evidence for the defaults: test MAE against naive (and train time) per setting, on a real series.

    .venv/bin/python bench/defaults.py [--data FILE] [--max-fill N] [--epochs 30] [--seeds 1]
                                       [--grid transform,window,batch] [--windows 10,30,60]
                                       [--batches 256:0.004,512:0.006,512:0.008]

Trains the default model for each transform (window fixed), each window (transform fixed) and each
batch size with its learning rate (BATCH:LR) on the chronological split of the file (default: the bundled
NASDAQ file) and prints test MAE, the naive MAE, the skill, epochs and seconds. Not a test.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from forecast.config import RunConfig
from forecast.workflows.train import train

DATA = Path(__file__).resolve().parent.parent / "data" / "nasdaq_composite_daily_1999_2018.csv"


def run(data: Path, cfg: RunConfig) -> dict:
    with tempfile.TemporaryDirectory() as d:
        t0 = time.perf_counter()
        out = train(data, cfg, Path(d) / "m", verbose=0)
        (m,) = out.metrics["test"]["series"].values()
        (t,) = out.metrics["training"].values()
        return {"lstm_mae": m["lstm"]["mae"], "naive_mae": m["naive"]["mae"], "skill": m["skill_vs_naive"],
                "epochs": t["epochs_run"], "seconds": time.perf_counter() - t0}


def grid(args) -> list[tuple[str, dict]]:
    axes = set(args.grid.split(","))
    out = []
    if "transform" in axes:
        out += [("transform=" + t, {"window": {"transform": t}}) for t in ("log_return", "diff", "level")]
    if "window" in axes:
        out += [(f"window={w}", {"window": {"window": int(w)}}) for w in args.windows.split(",")]
    if "batch" in axes:
        for pair in args.batches.split(","):
            b, lr = pair.split(":")
            out.append((f"batch={b} lr={lr}", {"train": {"batch_size": int(b), "learning_rate": float(lr)}}))
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--max-fill", type=int, default=5, help="as forecast train --max-fill")
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--seeds", type=int, default=1)
    ap.add_argument("--grid", default="transform,window", help="axes to vary: transform, window, batch")
    ap.add_argument("--windows", default="10,30,60")
    ap.add_argument("--batches", default="256:0.004,512:0.006,512:0.008", help="BATCH:LEARNING_RATE pairs")
    args = ap.parse_args()
    base = RunConfig().replace(data={"max_fill": args.max_fill}, train={"epochs": args.epochs, "device": "cpu"})
    print(f"# {args.data.name}\nsetting,seed,lstm_mae,naive_mae,skill,epochs,seconds")
    for label, changes in grid(args):
        for seed in range(args.seeds):
            train_changes = {**changes.get("train", {}), "seed": seed}
            cfg = base.replace(**{**changes, "train": train_changes})
            r = run(args.data, cfg)
            print(f"{label},{seed},{r['lstm_mae']:.2f},{r['naive_mae']:.2f},{r['skill']:+.3f},{r['epochs']},"
                  f"{r['seconds']:.0f}", flush=True)


if __name__ == "__main__":
    main()
