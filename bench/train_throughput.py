"""Training throughput and convergence of forecast's training path against a tutorial-style reference.

    .venv/bin/python bench/train_throughput.py [--rows 5000] [--data FILE] [--window 60] [--epochs 3] [--max-epochs 30]
                                               [--variants forecast,b64,spe16,...] [--repeats 2] [--threads INTRA,INTER]

Same machine, same run, same model size (2x LSTM(64), Dropout 0.2, Dense(horizon)), window 60 (--window), horizon 10,
Adam, MSE, on a 5,000-row random walk (or --data). Prints, for each variant:

* throughput: training windows per second over --epochs epochs after one warm-up epoch;
* convergence (unless --converge ""): seconds to early-stopped convergence (patience 5, at most
  --max-epochs) and test MAE in prices on the same test origins, with the naive MAE beside them;

and every figure as a ratio to the reference. The reference is written the way LSTM tutorials do it:
min-max scaled price levels (MinMaxScaler's arithmetic, fitted on the training part only, to compare error
fairly), numpy windows built in a Python loop, ``keras.Sequential`` and ``model.fit(x, y, batch_size=64)``.

Forecast variants (levers): ``forecast`` is the shipped path (LSTMForecaster's model, datasets and
default batch size / learning rate); ``b64``/``b256`` set the batch size, ``lrx`` sets the learning rate to
1e-3 x batch / 64 (Keras' default scaled linearly), ``spe1``/``spe16`` recompile with that
steps_per_execution, ``cache`` gathers every window once into a tensor (``nocache``: per batch from the
series, the default), ``unroll`` unrolls the LSTM recurrence (not cuDNN-eligible; CPU only). Combine with
'+': ``b64+lrx`` is the path before the levers were tried. Each throughput line also gives the seconds of
the warm-up epoch, which include tracing the training graph.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

WINDOW, HORIZON, UNITS, DROPOUT = 60, 10, 64, 0.2


def load(args):
    import numpy as np

    from forecast.data.load import load_prices, synthetic_series

    if args.data:
        return load_prices(Path(args.data)).values
    return synthetic_series("random_walk", n=args.rows, seed=0)["Close"].to_numpy(np.float64)


def base_config(epochs: int = 30):
    """forecast's shipped training defaults (batch size, learning rate) with the benchmark's model size."""
    from forecast.config import ModelConfig, RunConfig, TrainConfig, WindowConfig

    return RunConfig(window=WindowConfig(window=WINDOW, horizon=HORIZON),
                     model=ModelConfig(layers=(UNITS, UNITS), dropout=DROPOUT),
                     train=TrainConfig(epochs=epochs, patience=5, seed=0, device="cpu"))


def split_of(prices):
    from forecast.data.transforms import Preprocessor
    from forecast.data.windows import chronological_split

    return chronological_split(len(prices), WINDOW, HORIZON, 0.15, 0.15, Preprocessor("log_return").offset)


# ---------------------------------------------------------------- reference (tutorial style)

def tutorial_windows(scaled, origins):
    """The tutorial loop: one Python iteration per window, appended to lists, then np.array."""
    import numpy as np

    x, y = [], []
    for o in origins:
        x.append(scaled[o - WINDOW + 1:o + 1, 0])
        y.append(scaled[o + 1:o + 1 + HORIZON, 0])
    return np.array(x)[..., None], np.array(y)


def tutorial_model():
    import keras

    model = keras.Sequential([
        keras.Input(shape=(WINDOW, 1)),
        keras.layers.LSTM(UNITS, return_sequences=True), keras.layers.Dropout(DROPOUT),
        keras.layers.LSTM(UNITS), keras.layers.Dropout(DROPOUT),
        keras.layers.Dense(HORIZON),
    ])
    model.compile(optimizer="adam", loss="mean_squared_error")
    return model


class Reference:
    """Tutorial-style: MinMax-scaled levels; origins are price indices (same ones as forecast's split)."""

    name = "reference"

    def __init__(self, prices, split):
        import numpy as np

        self.prices = prices
        off = split.offset
        # the tutorials' MinMaxScaler, fitted on the training part: (p - min) / (max - min)
        self.low, self.span = prices[:split.n_train].min(), np.ptp(prices[:split.n_train])
        scaled = ((prices[:, None] - self.low) / self.span).astype("float32")
        self.train = tutorial_windows(scaled, split.train_origins + off)
        self.val = tutorial_windows(scaled, split.val_origins + off)
        self.test_x, _ = tutorial_windows(scaled, split.test_origins + off)

    def throughput(self, epochs: int) -> tuple[float, float]:
        import keras

        keras.utils.set_random_seed(0)
        model = tutorial_model()
        x, y = self.train
        t0 = time.perf_counter()
        model.fit(x, y, batch_size=64, epochs=1, verbose=0)  # warm-up
        t1 = time.perf_counter()
        model.fit(x, y, batch_size=64, epochs=epochs, verbose=0)
        return len(x) * epochs / (time.perf_counter() - t1), t1 - t0

    def converge(self, max_epochs: int, test_origins):
        import keras
        import numpy as np

        keras.utils.set_random_seed(0)
        t0 = time.perf_counter()
        model = tutorial_model()
        stop = keras.callbacks.EarlyStopping(patience=5, restore_best_weights=True)
        hist = model.fit(*self.train, batch_size=64, epochs=max_epochs, validation_data=self.val, verbose=0,
                         callbacks=[stop])
        pred = model.predict(self.test_x, verbose=0).reshape(-1, 1).astype(np.float64) * self.span + self.low
        seconds = time.perf_counter() - t0
        return seconds, len(hist.history["loss"]), pred.reshape(-1, HORIZON)


# ---------------------------------------------------------------- forecast's path

def parse_variant(name: str) -> dict:
    opts = {"batch": None, "lrx": False, "spe": None, "cache": None, "unroll": False}
    for part in name.split("+"):
        if part.startswith("b") and part[1:].isdigit():
            opts["batch"] = int(part[1:])
        elif part == "lrx":
            opts["lrx"] = True
        elif part.startswith("spe"):
            opts["spe"] = int(part[3:])
        elif part == "unroll":
            opts["unroll"] = True
        elif part in ("cache", "nocache"):
            opts["cache"] = part == "cache"
        elif part != "forecast":
            sys.exit(f"unknown variant part {part!r} in {name!r}")
    return opts


def forecast_config(opts: dict, epochs: int = 30):
    cfg = base_config(epochs=epochs)
    batch = opts["batch"] or cfg.train.batch_size
    lr = 1e-3 * batch / 64 if opts["lrx"] else cfg.train.learning_rate  # lrx: Keras' 1e-3 at batch 64, scaled
    return cfg.replace(train={"batch_size": batch, "learning_rate": lr})


def unrolled(model):
    """The same model with every LSTM's recurrence unrolled (a lever to measure, not forecast's model)."""
    import keras

    cfg = model.get_config()
    for layer in cfg["layers"]:
        if layer["class_name"] == "LSTM":
            layer["config"]["unroll"] = True
    out = keras.Model.from_config(cfg)
    out.compile(optimizer=keras.optimizers.Adam(learning_rate=float(model.optimizer.learning_rate)), loss=model.loss)
    return out


def forecast_throughput(prices, split, opts: dict, epochs: int) -> tuple[float, float]:
    from forecast.models.network import build_model
    from forecast.models.fitting import set_seed
    from forecast.data.transforms import Preprocessor
    from forecast.data.windows import make_dataset

    cfg = forecast_config(opts)
    prep = Preprocessor("log_return").fit(prices[:split.n_train])
    z = prep.encode(prices)
    set_seed(0)
    model = build_model(cfg)
    if opts["unroll"]:
        model = unrolled(model)
    if opts["spe"]:
        model.compile(optimizer=model.optimizer, loss=model.loss, steps_per_execution=opts["spe"])
    kw = {} if opts["cache"] is None else {"cache": opts["cache"]}
    ds = make_dataset(z, split.train_origins, WINDOW, HORIZON, cfg.train.batch_size, shuffle=True, seed=0, **kw)
    t0 = time.perf_counter()
    model.fit(ds, epochs=1, verbose=0, shuffle=False)  # warm-up; the dataset shuffles itself
    t1 = time.perf_counter()
    model.fit(ds, epochs=epochs, verbose=0, shuffle=False)
    return len(split.train_origins) * epochs / (time.perf_counter() - t1), t1 - t0


def forecast_converge(prices, split, opts: dict, max_epochs: int):
    from forecast.data.panel import panel_of
    from forecast.models.lstm import LSTMForecaster

    t0 = time.perf_counter()
    whole = panel_of(prices)
    lstm = LSTMForecaster(forecast_config(opts, max_epochs)).fit(whole.map(lambda s: s.head(split.n_train + split.n_val)),
                                                                 [split.n_val])
    pred = lstm.predict_origins(whole.series[0], split.test_origins + split.offset)
    return time.perf_counter() - t0, lstm.fit_result.epochs_run, pred


# ---------------------------------------------------------------- report

def main() -> None:
    global WINDOW
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", type=int, default=5000)
    ap.add_argument("--window", type=int, default=WINDOW, help="look-back of every model (forecast's default is 30)")
    ap.add_argument("--data", help="price file instead of the random walk, e.g. data/nasdaq_composite_daily_1999_2018.csv")
    ap.add_argument("--epochs", type=int, default=3, help="timed epochs after one warm-up epoch (0: skip)")
    ap.add_argument("--repeats", type=int, default=2, help="throughput runs per variant, order alternating")
    ap.add_argument("--max-epochs", type=int, default=30, help="ceiling for the convergence runs")
    ap.add_argument("--variants", default="forecast", help="comma-separated forecast variants (see the docstring)")
    ap.add_argument("--converge", default="forecast", help="variants also timed to convergence ('' for none)")
    ap.add_argument("--threads", help="INTRA,INTER thread-pool sizes for TensorFlow (default: TensorFlow's)")
    args = ap.parse_args()
    WINDOW = args.window

    import numpy as np
    import tensorflow as tf

    if args.threads:
        intra, inter = (int(v) for v in args.threads.split(","))
        tf.config.threading.set_intra_op_parallelism_threads(intra)
        tf.config.threading.set_inter_op_parallelism_threads(inter)
    prices = load(args)
    split = split_of(prices)
    test_origins = split.test_origins + split.offset
    actual = prices[test_origins[:, None] + np.arange(1, HORIZON + 1)]
    naive_mae = float(np.mean(np.abs(actual - prices[test_origins][:, None])))
    print(f"# {len(prices)} rows, {len(split.train_origins)} training windows, window {WINDOW}, horizon {HORIZON}, "
          f"tensorflow {tf.__version__}, {os.cpu_count()} CPUs, threads {args.threads or 'default'}")

    t0 = time.perf_counter()
    ref = Reference(prices, split)
    print(f"reference window building (Python loop): {time.perf_counter() - t0:.2f} s")
    names = ["reference", *args.variants.split(",")] if args.epochs else []
    runs = {name: [] for name in names}
    warm = {name: [] for name in names}
    for r in range(args.repeats):  # alternate the order so drift in machine load hits every variant alike
        for name in names if r % 2 == 0 else names[::-1]:
            wps, first = (ref.throughput(args.epochs) if name == "reference"
                          else forecast_throughput(prices, split, parse_variant(name), args.epochs))
            runs[name].append(wps)
            warm[name].append(first)
            print(f"  run {r + 1}: {name:<24}{wps:>8.0f} windows/s   warm-up epoch {first:5.1f} s", flush=True)
    ref_mean = float(np.mean(runs["reference"])) if names else 0.0
    if names:
        print(f"\n{'variant':<24}{'windows/s':>10}{'ratio':>8}{'median':>10}{'ratio':>8}{'warm-up s':>11}"
              f"   (mean, then median, of {args.repeats} runs; ratios to the reference's)")
    ref_median = float(np.median(runs["reference"])) if names else 0.0
    for name in names:
        mean, median = np.mean(runs[name]), np.median(runs[name])
        print(f"{name:<24}{mean:>10.0f}{mean / ref_mean:>8.2f}{median:>10.0f}{median / ref_median:>8.2f}"
              f"{np.mean(warm[name]):>11.1f}", flush=True)

    converge = [v for v in args.converge.split(",") if v]
    if not converge:
        return
    print(f"\n{'convergence':<24}{'seconds':>8}{'epochs':>7}{'test MAE':>10}{'vs naive':>9}{'time ratio':>11}"
          f"{'MAE ratio':>10}")
    r_sec, r_ep, r_pred = ref.converge(args.max_epochs, test_origins)
    r_mae = float(np.mean(np.abs(actual - r_pred)))
    print(f"{'reference':<24}{r_sec:>8.1f}{r_ep:>7}{r_mae:>10.3f}{r_mae / naive_mae:>9.3f}{1.0:>11.2f}{1.0:>10.2f}",
          flush=True)
    for name in converge:
        sec, ep, pred = forecast_converge(prices, split, parse_variant(name), args.max_epochs)
        m = float(np.mean(np.abs(actual - pred)))
        print(f"{name:<24}{sec:>8.1f}{ep:>7}{m:>10.3f}{m / naive_mae:>9.3f}{sec / r_sec:>11.2f}{m / r_mae:>10.2f}",
              flush=True)
    print(f"{'naive (last price)':<24}{'':>8}{'':>7}{naive_mae:>10.3f}{1.0:>9.3f}")


if __name__ == "__main__":
    main()
