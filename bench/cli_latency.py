"""Wall time of the CLI: `forecast --help`, `forecast predict --help`, and `forecast predict` on a saved bundle,
with the same prediction through the library with the network in NumPy and through Keras (the reference).

    .venv/bin/python bench/cli_latency.py [--repeats 5]

Each command runs in a fresh process (median of --repeats runs). Goals (issue 17): `forecast --help` under
0.3 s, which holds only while no command imports TensorFlow at module level (a command's own help: 0.5 s);
predict under 3 s, which holds only while it serves the network in NumPy (models/numpy_net.py) and a
statistical part from the forecasts its bundle remembers (models/residual.py). References in the same run: a
bare `python -c pass` (interpreter start), `python -c "import tensorflow"`, and the library prediction through
Keras. The bundles are tiny models trained once on a synthetic series in a temporary folder: ``m`` the default
network alone, ``h`` with ``--hybrid arima``. ``-m h --data walk.csv`` forecasts from a file whose rows the bundle
has not seen (here the training series with one more row), so the AutoARIMA part is refitted there and importing
statsforecast takes statsmodels along: seconds, the part neither NumPy nor the bundle can save.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BIN = Path(sys.executable).parent
# the same forecast with its 80% band, the network run in NumPy (what the CLI does) or through Keras (the reference)
LIBRARY_PREDICT = ("from forecast.bundle import load_bundle; from forecast.workflows.predict import predict; "
                   "print(predict(load_bundle('m', engine='{engine}'), levels=None).table())")
FORECAST = str(BIN / "forecast")


def wall(cmd: list[str], repeats: int, cwd: str) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
        times.append(time.perf_counter() - t0)
        if proc.returncode != 0:
            sys.exit(f"{' '.join(cmd)} failed:\n{proc.stderr[-2000:]}")
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

    with tempfile.TemporaryDirectory() as d:
        from forecast.data.load import synthetic_series

        full = synthetic_series("random_walk", n=401, seed=0)
        full.head(400).to_csv(Path(d) / "walk.csv", index=False)
        full.to_csv(Path(d) / "newer.csv", index=False)  # one row more
        subprocess.run([FORECAST, "train", "walk.csv", "--model", "m", "--window", "10", "--horizon", "5",
                        "--layers", "8", "--epochs", "2", "--device", "cpu", "--quiet"], cwd=d, check=True,
                       capture_output=True)
        subprocess.run([FORECAST, "train", "walk.csv", "--model", "h", "--window", "10", "--horizon", "5",
                        "--layers", "8", "--epochs", "2", "--device", "cpu", "--quiet", "--hybrid", "arima"], cwd=d,
                       check=True, capture_output=True)
        rows = [
            ("python -c pass", [sys.executable, "-c", "pass"], None),
            ("forecast --help", [FORECAST, "--help"], 0.3),
            ("forecast predict --help", [FORECAST, "predict", "--help"], 0.5),
            ('python -c "import tensorflow"', [sys.executable, "-c", "import tensorflow"], None),
            ("forecast predict -m m", [FORECAST, "predict", "-m", "m"], 3.0),
            ("forecast predict -m m --json", [FORECAST, "predict", "-m", "m", "--json"], 3.0),
            ("forecast predict -m h (AutoARIMA part)", [FORECAST, "predict", "-m", "h"], 3.0),
            ("forecast predict -m h --data newer.csv", [FORECAST, "predict", "-m", "h", "--data", "newer.csv"], None),
            ("library predict, NumPy network", [sys.executable, "-c", LIBRARY_PREDICT.format(engine="numpy")], None),
            ("library predict, Keras network", [sys.executable, "-c", LIBRARY_PREDICT.format(engine="keras")], None),
        ]
        results = {name: wall(cmd, args.repeats, d) for name, cmd, _ in rows}

    bare, tf_import = results["python -c pass"], results['python -c "import tensorflow"']
    print(f"# median of {args.repeats} runs, {os.cpu_count()} CPUs")
    print(f"{'command':<42}{'seconds':>8}{'x python':>10}{'x import tf':>12}  goal")
    for name, _, goal in rows:
        s = results[name]
        verdict = "" if goal is None else f"< {goal} s: {'met' if s < goal else 'NOT met'}"
        print(f"{name:<42}{s:>8.2f}{s / bare:>10.1f}{s / tf_import:>12.2f}  {verdict}")


if __name__ == "__main__":
    main()
