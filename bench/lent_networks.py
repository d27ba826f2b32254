"""Fits that are lent the network an earlier fit gave back, against fits that each build their own (issue 17).

    .venv/bin/python bench/lent_networks.py [--series air,elnino,unemp] [--folds 5] [--repeats 2] [--per-series]

Keras traces a network's training, validation and prediction steps once per model object. A backtest refits the
network at every fold and ``train --per-series`` fits one per series, each on a network of the same graph, so
every fit used to trace them again. Now a fit that is done with its network gives it back
(``LSTMForecaster.release``) and the next fit of the same graph in that process is lent it
(``models/network.lend_networks``), its variables set to a fresh build's.

This script runs ``forecast backtest SERIES --folds F --seed 1`` on each series (``bench/evidence.py``'s real
series) in fresh processes, alternating between the code as it is ("lent") and the same code with nothing
given back ("built", the reference: ``network.give_back`` replaced by a no-op in the child), and prints each
side's wall seconds (medians over ``--repeats``), their ratio, and whether ``forecasts.csv`` was byte-identical.
``--per-series`` adds ``forecast train --per-series`` on six hourly synthetic series of 1,500 rows (the file of
bench/README.md's per-series sections).
"""

from __future__ import annotations

import argparse
import filecmp
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

CHILD = """
import sys
if sys.argv.pop(1) == "built":
    import forecast.models.network as N
    N.give_back = lambda key, networks: None
from forecast.cli import main
sys.argv[0] = "forecast"
main()
"""


def run(side: str, args: list[str]) -> float:
    env = dict(os.environ, PYTHONPATH=str(ROOT), CUDA_VISIBLE_DEVICES="")
    t = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", CHILD, side, *args], env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - t
    if done.returncode != 0:
        raise SystemExit(f"{side} {' '.join(args)} failed ({done.returncode}):\n{done.stderr[-2000:]}")
    return seconds


def panel_file(work: Path) -> Path:
    import pandas as pd

    from forecast.data.load import synthetic_series

    out = work / "panel6.csv"
    frames = [synthetic_series("seasonal", n=1500, seed=i, freq="h", noise=1.0).assign(id=f"s{i}") for i in range(6)]
    pd.concat(frames)[["id", "Date", "Close"]].to_csv(out, index=False)
    return out


def main() -> None:
    from evidence import write_series

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--series", default="air,elnino,unemp")
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--per-series", action="store_true", help="also `train --per-series` on six hourly series")
    a = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="lent-"))
    jobs = []
    for name in filter(None, a.series.split(",")):
        data = write_series(name, work)
        jobs.append((f"backtest {name}, {a.folds} folds", "forecasts.csv",
                     lambda out, data=data: ["backtest", str(data), "--folds", str(a.folds), "--seed", "1",
                                             "--quiet", "--out", str(out)]))
    if a.per_series:
        data = panel_file(work)
        jobs.append(("train --per-series, 6 x 1,500 hourly", "test_predictions.csv",
                     lambda out: ["train", str(data), "--id-col", "id", "--per-series", "--seed", "1",
                                  "--charts", "none", "--quiet", "--model", str(out)]))
    print(f"{'job':<40} {'built s':>9} {'lent s':>9} {'ratio':>7}  identical")
    for j, (title, compared, argv) in enumerate(jobs):
        seconds: dict[str, list[float]] = {"built": [], "lent": []}
        for r in range(a.repeats):
            for side in (("built", "lent") if r % 2 == 0 else ("lent", "built")):
                seconds[side].append(run(side, argv(work / f"job{j}-{side}{r}")))
        same = all(filecmp.cmp(work / f"job{j}-built{r}" / compared, work / f"job{j}-lent{r}" / compared,
                               shallow=False) for r in range(a.repeats))
        built, lent = statistics.median(seconds["built"]), statistics.median(seconds["lent"])
        print(f"{title:<40} {built:9.1f} {lent:9.1f} {lent / built:7.2f}  {same}"
              f"   (built {', '.join(f'{s:.1f}' for s in seconds['built'])}; "
              f"lent {', '.join(f'{s:.1f}' for s in seconds['lent'])})", flush=True)


if __name__ == "__main__":
    main()
