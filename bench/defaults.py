"""Evidence for the default target transform and window: test MAE against naive on the bundled data.

    .venv/bin/python bench/defaults.py [--epochs 30] [--seeds 1]

Trains the default model for each transform (window fixed) and each window (transform fixed) on the
chronological split of the NASDAQ file and prints test MAE, the naive MAE and the skill. Not a test.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from forecast.config import RunConfig
from forecast.pipeline import train

DATA = Path(__file__).resolve().parent.parent / "data" / "nasdaq_composite_daily_1999_2018.csv"


def run(cfg: RunConfig) -> dict:
    with tempfile.TemporaryDirectory() as d:
        t0 = time.perf_counter()
        out = train(DATA, cfg, Path(d) / "m", verbose=0)
        m = out.metrics["test"]
        return {"lstm_mae": m["lstm"]["mae"], "naive_mae": m["naive"]["mae"], "skill": m["skill_vs_naive"],
                "epochs": out.metrics["training"]["epochs_run"], "seconds": time.perf_counter() - t0}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--seeds", type=int, default=1)
    ap.add_argument("--windows", default="10,30,60")
    args = ap.parse_args()
    base = RunConfig().replace(train={"epochs": args.epochs, "device": "cpu"})
    print("setting,seed,lstm_mae,naive_mae,skill,epochs,seconds")
    grid = [("transform=" + t, {"window": {"transform": t}}) for t in ("log_return", "diff", "level")]
    grid += [(f"window={w}", {"window": {"window": int(w)}}) for w in args.windows.split(",")]
    for label, changes in grid:
        for seed in range(args.seeds):
            r = run(base.replace(train={"seed": seed}, **changes))
            print(f"{label},{seed},{r['lstm_mae']:.2f},{r['naive_mae']:.2f},{r['skill']:+.3f},{r['epochs']},"
                  f"{r['seconds']:.0f}", flush=True)


if __name__ == "__main__":
    main()
