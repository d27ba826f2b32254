"""forecast against darts on the same job, each as a whole process (issue 17).

Job ``sp500`` (default): S&P 500 daily closes (5,031 rows, from the ``arch`` 8.0.0 wheel; the bundled NASDAQ file
if that cannot be had), job ``panel``: 100 seeded random walks x 1,000 rows (``synthetic_series``), one global
model. Both sides: 2 x LSTM(64), dropout 0.2, window 30, horizon 10, batch 512, Adam lr 6e-3 halved after 2 flat
epochs, early stopping with patience 5 on the validation part, at most 50 epochs, standardised log-return target,
the same chronological 70/15/15 split, every test origin scored (darts: ``historical_forecasts(retrain=False,
stride=1, forecast_horizon=10)``) against the same actual prices. Runs alternate; each side is a fresh process.

Per run it measures: wall time of the whole process; its CPU time (user + system, from the same rusage: it moves
less than wall time on a shared machine); the CPU time the hypervisor gave other guests meanwhile ("steal",
/proc/stat); peak RSS (``os.wait4``'s rusage of that child); the phases
(process start -> fit start, fit, fit end -> exit; for forecast also the TensorFlow import inside
``configure_device``); training windows x epochs / fit seconds ("windows/s", validation passes included in the
time); test MAE of the model and of the naive forecast. Then medians and the ratios forecast / darts, and the
fit's share of this CPU's float32 GEMM rate. darts (and torch) are installed into their own venv under
``--cache``; where that fails the darts side is skipped with a message. forecast runs this checkout's code (through
PYTHONPATH) with the interpreter of a venv under ``--cache`` that holds only its runtime dependencies (``pip install
.[cpu]``, what ``make demo`` installs), not the dev extras of the venv running this script: Keras imports IPython
where it is installed. ``--forecast-python`` names another interpreter (e.g. this one, ``.venv/bin/python``).

    PYTHONPATH=$PWD CUDA_VISIBLE_DEVICES= .venv/bin/python bench/peers.py --repeats 3
    PYTHONPATH=$PWD CUDA_VISIBLE_DEVICES= .venv/bin/python bench/peers.py --job panel --repeats 1
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SETTINGS = dict(window=30, horizon=10, units=64, layers=2, dropout=0.2, batch=512, lr=6e-3, patience=5, epochs=50)

# Run in the forecast process: the CLI as shipped, with the two calls of interest timed (wall clock, absolute).
FORECAST_CHILD = """
import atexit, json, os, sys, time
from pathlib import Path
import forecast.models.fitting as F
T = {}
def timed(name, f):
    def g(*a, **k):  # first start, last end and total seconds of the calls
        t = time.time(); T.setdefault(name + "_start", t); r = f(*a, **k)
        T[name + "_end"] = time.time(); T[name] = T.get(name, 0.0) + T[name + "_end"] - t; return r
    return g
def fit_then_patch(*a, **k):  # the modules used after the fit are imported by now: time them too, no import moved
    r = fit(*a, **k)
    m = sys.modules
    train = "forecast.workflows.train"
    for mod, name, key in [(train, "score_panel", "score"), (train, "evaluate_test", "test"),
                           (train, "calibrate_intervals", "intervals"), (train, "baseline_test_scores", "baselines"),
                           ("forecast.bundle", "save_bundle", "save"), ("forecast.cli", "load_bundle", "reload"),
                           ("forecast.output.console", "write_bundle_plots", "plots")]:
        if mod in m and hasattr(m[mod], name):
            setattr(m[mod], name, timed(key, getattr(m[mod], name)))
    lstm = m["forecast.models.lstm"].LSTMForecaster
    lstm.predict_origins = timed("predict", lstm.predict_origins)
    return r
fit = timed("fit", F.fit_model)
F.configure_device, F.fit_model = timed("tf_import", F.configure_device), fit_then_patch
def write_times():
    Path(os.environ["PEERS_TIMES"]).write_text(json.dumps({**T, "atexit": time.time()}))
atexit.register(write_times)
import forecast.cli as C
if hasattr(C, "_exit_now"):  # the CLI leaves without the interpreter's teardown (no atexit) once TensorFlow is loaded
    exit_now = C._exit_now
    C._exit_now = lambda code: (write_times(), exit_now(code))
import forecast.executors as E
if hasattr(E, "Background"):  # what was not hidden of the work forked before TensorFlow loaded, by function and
    result = E.Background.result  # stage (statistical_work: 1 auto's choice, 2 the baselines' forecasts)
    E.Background.result = lambda self: timed(f"{self._fn.__name__}{getattr(self, '_taken', 0) + 1}_wait",
                                             result)(self)
from forecast.cli import main
sys.argv = ["forecast", *sys.argv[1:]]
main()
"""


def darts_child(data: str, out: str, n_train: int, n_val: int, epochs: int) -> None:
    """Run inside darts' venv: fit BlockRNNModel on the CSV (columns id, Date, Close), forecast every test origin."""
    t = {"start": time.time()}
    import numpy as np
    import pandas as pd
    import torch
    from darts import TimeSeries
    from darts.models import BlockRNNModel
    from pytorch_lightning.callbacks import EarlyStopping
    t["import_end"] = time.time()
    s = {**SETTINGS, "epochs": epochs}
    df = pd.read_csv(data, parse_dates=["Date"])
    df = (df if "id" in df else df.assign(id="single")).sort_values(["id", "Date"], kind="stable")
    ids, prices, trains, vals, fulls, stats = [], [], [], [], [], []
    for sid, g in df.groupby("id", sort=False):
        p = g["Close"].to_numpy(np.float64)
        z = np.diff(np.log(p))  # z[j] = log(p[j+1] / p[j]); the training prices give z[0 .. n_train-2]
        mu, sd = z[: n_train - 1].mean(), z[: n_train - 1].std()
        zs = ((z - mu) / sd).astype(np.float32)
        ids.append((sid, g["Date"].to_numpy())); prices.append(p); stats.append((mu, sd))
        trains.append(TimeSeries.from_values(zs[: n_train - 1]))
        vals.append(TimeSeries.from_values(zs[n_train - 1 - s["window"]: n_train + n_val - 1]))  # inputs may reach back
        fulls.append(TimeSeries.from_values(zs))
    model = BlockRNNModel(
        model="LSTM", input_chunk_length=s["window"], output_chunk_length=s["horizon"], hidden_dim=s["units"],
        n_rnn_layers=s["layers"], dropout=s["dropout"], batch_size=s["batch"], n_epochs=s["epochs"],
        optimizer_kwargs={"lr": s["lr"]}, lr_scheduler_cls=torch.optim.lr_scheduler.ReduceLROnPlateau,
        lr_scheduler_kwargs={"factor": 0.5, "patience": max(1, s["patience"] // 2), "min_lr": 1e-5,
                             "monitor": "val_loss"},
        random_state=42, pl_trainer_kwargs={
            "accelerator": "cpu", "callbacks": [EarlyStopping("val_loss", patience=s["patience"])],
            "enable_progress_bar": False, "enable_model_summary": False, "logger": False,
            "enable_checkpointing": False})
    one = len(trains) == 1
    t["fit_start"] = time.time()
    model.fit(trains[0] if one else trains, val_series=vals[0] if one else vals, verbose=False)
    t["fit_end"], t["epochs"] = time.time(), int(model.epochs_trained)  # read now: predicting resets it
    origin0 = n_train + n_val - 1  # price index of the first test origin = z position of its first forecast step
    hf = model.historical_forecasts(fulls[0] if one else fulls, start=origin0, start_format="position",
                                    forecast_horizon=s["horizon"], stride=1, retrain=False, last_points_only=False,
                                    verbose=False)
    hf = [hf] if one else hf
    rows = []
    for (sid, dates), p, (mu, sd), fcs in zip(ids, prices, stats, hf):
        for fc in fcs:
            o = int(fc.time_index[0])  # z position o -> price o + 1, so the origin's price index is o
            path = p[o] * np.exp(np.cumsum(fc.values()[:, 0].astype(np.float64) * sd + mu))
            rows += [(sid, str(dates[o])[:10], k + 1, path[k]) for k in range(s["horizon"])]
    pd.DataFrame(rows, columns=["id", "origin", "step", "forecast"]).to_csv(out + ".csv", index=False)
    t["end"] = time.time()
    Path(out + ".json").write_text(json.dumps(t))


def _install(venv: Path, what: str, packages: list[str]) -> Path:
    """A new venv at ``venv`` with ``packages`` installed by pip; its python. Raises CalledProcessError or
    OSError where that fails."""
    venv.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
    print(f"installing {what} into {venv} (once) ...", flush=True)
    py = venv / "bin" / "python"
    subprocess.run([str(py), "-m", "pip", "install", "-q", *packages], check=True)
    return py


def ensure_darts(cache: Path) -> Path | None:
    """Python of a venv with darts and torch, installed by pip on first use; None (with a message) if impossible."""
    venv = cache / "darts-venv"
    py = venv / "bin" / "python"
    check = [str(py), "-c", "import darts, torch, pytorch_lightning"]
    if py.exists() and subprocess.run(check, capture_output=True).returncode == 0:
        return py
    try:
        _install(venv, "darts and torch", ["darts", "torch", "pytorch-lightning"])
        subprocess.run(check, check=True, capture_output=True)
        return py
    except (subprocess.CalledProcessError, OSError) as e:
        print(f"darts side SKIPPED: could not install darts/torch into {venv}: {e}")
        return None


def ensure_forecast(cache: Path) -> str:
    """Python of a venv with forecast's runtime dependencies alone (``pip install .[cpu]`` of this checkout),
    installed on first use and again when pyproject.toml changes; this interpreter (with a message) if impossible."""
    venv = cache / "forecast-venv"
    py = venv / "bin" / "python"
    stamp, wanted = venv / ".pyproject", (ROOT / "pyproject.toml").read_text()
    if py.exists() and stamp.exists() and stamp.read_text() == wanted:
        return str(py)
    try:
        _install(venv, "forecast's runtime dependencies", [f"{ROOT}[cpu]"])
        stamp.write_text(wanted)
        return str(py)
    except (subprocess.CalledProcessError, OSError) as e:
        print(f"forecast runs in this script's venv (dev extras and all): could not make {venv}: {e}")
        return sys.executable


def prepare_data(job: str, work: Path) -> tuple[Path, str]:
    """A CSV of [id,] Date, Close that both sides read (cleaned by forecast's own loader); and where it came from."""
    import pandas as pd
    from forecast.data.load import load_prices, synthetic_series

    out = work / f"{job}.csv"
    if job == "panel":
        frames = [synthetic_series("random_walk", n=1000, seed=i).assign(id=f"s{i:03d}") for i in range(100)]
        pd.concat(frames)[["id", "Date", "Close"]].to_csv(out, index=False)
        return out, "100 synthetic random walks x 1,000 rows (synthetic_series seeds 0-99)"
    try:
        import zipfile
        subprocess.run([sys.executable, "-m", "pip", "download", "-q", "arch==8.0.0", "--no-deps", "-d", str(work)],
                       check=True)
        wheel = next(work.glob("arch-8.0.0-*.whl"))
        with zipfile.ZipFile(wheel) as z:
            (work / "sp500.csv.gz").write_bytes(z.read("arch/data/sp500/sp500.csv.gz"))
        src, what = work / "sp500.csv.gz", "S&P 500 daily, arch 8.0.0 wheel (arch/data/sp500/sp500.csv.gz)"
    except (subprocess.CalledProcessError, StopIteration, KeyError, OSError) as e:
        src = Path("data/nasdaq_composite_daily_1999_2018.csv")
        what = f"NASDAQ Composite (bundled; the arch wheel could not be had: {e})"
    s = load_prices(src)
    pd.DataFrame({"Date": s.dates, "Close": s.values}).to_csv(out, index=False)  # one series: no id column
    return out, f"{what}, target {s.target}, {len(s)} rows"


def steal_seconds() -> float:
    """CPU seconds the hypervisor gave to other guests so far, all CPUs (Linux /proc/stat; 0 elsewhere)."""
    try:
        fields = Path("/proc/stat").read_text().splitlines()[0].split()
        return int(fields[8]) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def run_child(cmd: list[str], env: dict, log: Path) -> tuple[float, float, float, float, float]:
    """(wall s, peak RSS MB, start time, CPU s, steal s) of one child process; its output goes to ``log``.

    CPU s (the child's user + system time) moves less than wall time on a shared machine; steal s is the time
    the machine's CPUs were given to other guests meanwhile: where it is large, read wall times with care."""
    with open(log, "w") as f:
        t0, start, steal = time.perf_counter(), time.time(), steal_seconds()
        p = subprocess.Popen(cmd, env=env, stdout=f, stderr=subprocess.STDOUT)
        _, status, ru = os.wait4(p.pid, 0)  # this child's own rusage (RUSAGE_CHILDREN would be the max so far)
        wall = time.perf_counter() - t0
    p.returncode = os.waitstatus_to_exitcode(status)
    if p.returncode != 0:
        raise RuntimeError(f"{cmd[:3]} failed ({p.returncode}); its last output:\n{log.read_text()[-3000:]}")
    return wall, ru.ru_maxrss / 1024, start, ru.ru_utime + ru.ru_stime, steal_seconds() - steal


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--job", choices=["sp500", "panel"], default="sp500")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "forecast-bench")
    ap.add_argument("--no-darts", action="store_true", help="only forecast")
    ap.add_argument("--forecast-python", help="interpreter forecast runs with [default: a venv of its runtime "
                    "dependencies under --cache]")
    ap.add_argument("--gemm", type=int, default=2048, help="size of the float32 GEMM that gives the CPU's rate")
    ap.add_argument("--epochs", type=int, default=SETTINGS["epochs"], help="most epochs (a smaller one: smoke test)")
    ap.add_argument("--forecast-flags", default="", help="more `forecast train` flags, e.g. '--hybrid none --no-shrink' "
                    "(a lever's reference run)")
    ap.add_argument("--child", nargs=5, metavar=("DATA", "OUT", "N_TRAIN", "N_VAL", "EPOCHS"), help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        return darts_child(a.child[0], a.child[1], *map(int, a.child[2:]))

    import numpy as np
    import pandas as pd
    from forecast.data.windows import chronological_split

    s = SETTINGS
    work = Path(tempfile.mkdtemp(prefix="peers-"))
    data, what = prepare_data(a.job, work)
    df = pd.read_csv(data)
    panel = "id" in df
    n_rows = df.groupby("id").size() if panel else pd.Series([len(df)])
    sp = chronological_split(int(n_rows.iloc[0]), s["window"], s["horizon"], 0.15, 0.15, offset=1)
    n_windows = len(sp.train_origins) * len(n_rows)
    print(f"load average at start: {os.getloadavg()}")
    print(f"data: {what}; {len(n_rows)} series, split {sp.n_train}/{sp.n_val}/{sp.n_test} rows, "
          f"{n_windows} training windows")
    darts_py = None if a.no_darts else ensure_darts(a.cache)
    forecast_py = a.forecast_python or ensure_forecast(a.cache)
    print(f"forecast runs with {forecast_py}")
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "PYTHONPATH": str(ROOT)}
    fc_args = [str(data), *(["--id-col", "id"] if panel else []), "--target", "Close", "--date-col", "Date", "--window", "30",
               "--horizon", "10", "--layers", "64,64", "--dropout", "0.2", "--batch-size", "512",
               "--learning-rate", "0.006", "--patience", "5", "--epochs", str(a.epochs), "--transform", "log_return",
               "--val-frac", "0.15", "--test-frac", "0.15", "--seed", "42", "--quiet", "--force",
               *shlex.split(a.forecast_flags)]
    results = {"forecast": [], "darts": []}
    for r in range(a.repeats):
        order = ["forecast", "darts"] if r % 2 == 0 else ["darts", "forecast"]
        for side in order:
            if side == "darts" and darts_py is None:
                continue
            out = work / f"{side}{r}"
            times = Path(f"{out}.times.json")
            if side == "forecast":
                cmd = [forecast_py, "-c", FORECAST_CHILD, "train", *fc_args, "--model", str(out)]
                wall, rss, t0, cpu, steal = run_child(cmd, {**env, "PEERS_TIMES": str(times)}, Path(f"{out}.log"))
                T = json.loads(times.read_text())
                metrics = json.loads((out / "metrics.json").read_text())
                epochs = sum(v["epochs_run"] for v in metrics["training"].values())
                pred = pd.read_csv(out / "test_predictions.csv")
                phases = {k: T[k] for k in ("tf_import", "statistical_work1_wait", "score", "test", "intervals",
                                            "baselines", "statistical_work2_wait", "predict", "save", "reload", "plots")
                          if k in T}
                phases["exit"] = wall - (T["atexit"] - t0)
            else:
                cmd = [str(darts_py), os.path.abspath(__file__), "--child", str(data), str(out),
                       str(sp.n_train), str(sp.n_val), str(a.epochs)]
                wall, rss, t0, cpu, steal = run_child(cmd, env, Path(f"{out}.log"))
                T = json.loads(Path(f"{out}.json").read_text())
                epochs = T["epochs"]
                pred = pd.read_csv(f"{out}.csv")
                phases = {"import": T["import_end"] - T["start"], "predict": T["end"] - T["fit_end"]}
            ref = pd.read_csv(work / "forecast0" / "test_predictions.csv") if (work / "forecast0").exists() else None
            if side == "darts":  # scored against forecast's actuals and naive at the same (id, origin, step)
                if ref is None:
                    raise RuntimeError("run forecast first: its test_predictions.csv gives the actuals")
                m = ref[["id", "origin", "step", "actual", "naive"]].assign(origin=lambda d: d.origin.str[:10],
                                                                          id=lambda d: d.id.astype(str))
                pred = pred.assign(id=pred.id.astype(str) if panel else ref.id.iloc[0])
                pred = m.merge(pred.assign(id=pred.id.astype(str)), on=["id", "origin", "step"], how="left")
                if pred.forecast.isna().any() or len(pred) != len(ref):
                    raise RuntimeError(f"darts' forecasts miss {int(pred.forecast.isna().sum())} test points")
            fit = T["fit_end"] - T["fit_start"]
            row = dict(wall=wall, cpu=cpu, steal=steal, rss=rss, to_fit=T["fit_start"] - t0, fit=fit, after_fit=wall - (T["fit_end"] - t0),
                       epochs=epochs, wps=n_windows * epochs / fit, n_test=len(pred),
                       mae=float((pred.forecast - pred.actual).abs().mean()),
                       naive=float((pred.naive - pred.actual).abs().mean()), **phases)
            results[side].append(row)
            print(f"run {r + 1} {side:8s} " + " ".join(f"{k} {v:.4g}" for k, v in row.items()), flush=True)

    # The CPU's float32 GEMM rate (numpy's BLAS, all cores) and the fit's share of it.
    n = a.gemm
    x, y = (np.random.default_rng(0).standard_normal((n, n), dtype=np.float32) for _ in range(2))
    x @ y
    best = min(_timeit(lambda: x @ y) for _ in range(5))
    gemm = 2 * n ** 3 / best
    inp = 1  # the default model's input: the target alone
    per_step = sum(4 * (i + s["units"] + 1) * s["units"] * 2 for i in [inp] + [s["units"]] * (s["layers"] - 1))
    flops = 3 * (per_step * s["window"] + 2 * s["units"] * s["horizon"])  # forward + backward; head included

    print(f"\nmachine: {os.cpu_count()} CPUs, load average {os.getloadavg()}")
    print(f"FLOPs per training window (forward+backward): {flops:,} = {flops / 1e6:.2f} MFLOP")
    print(f"float32 GEMM {n}x{n}: {gemm / 1e9:.1f} GFLOP/s (best of 5)")
    keys = ["wall", "cpu", "steal", "rss", "to_fit", "fit", "after_fit", "epochs", "wps", "mae", "naive"]
    med = {side: {k: statistics.median(r[k] for r in rows) for k in keys} for side, rows in results.items() if rows}
    print(f"\nmedians of {a.repeats} ({a.job}):\n{'':10s}" + "".join(f"{k:>10s}" for k in keys))
    for side, m in med.items():
        print(f"{side:10s}" + "".join(f"{m[k]:10.4g}" for k in keys))
    if len(med) == 2:
        print(f"{'ratio f/d':10s}" + "".join(f"{med['forecast'][k] / med['darts'][k] if med['darts'][k] else float('nan'):10.3g}" for k in keys))
    for side, m in med.items():
        print(f"{side}: fit at {m['wps'] * flops / 1e9:.3f} GFLOP/s = {m['wps'] * flops / gemm:.2%} of the GEMM rate")
    print(f"(outputs kept in {work})")


def _timeit(f) -> float:
    t = time.perf_counter()
    f()
    return time.perf_counter() - t


if __name__ == "__main__":
    main()
