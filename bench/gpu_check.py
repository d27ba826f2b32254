"""GPU path check: cuDNN LSTM, GPU training on the bundled data, and a CPU-only load of the GPU bundle.

    .venv/bin/python bench/gpu_check.py [--epochs 50] [--data FILE]

On a machine without a GPU it says so and exits 0. With a GPU it:

1. rebuilds every LSTM layer of forecast's model with ``use_cudnn=True`` (Keras raises when a layer's
   settings rule the fused cuDNN kernel out) and runs a batch through it on GPU:0;
2. times epochs of LSTMForecaster on the GPU (first epoch, with tracing, and the mean of the rest);
3. times a full ``forecast`` training run (early stopping) with ``device="gpu"`` and saves a bundle;
4. loads that bundle in a subprocess with CUDA_VISIBLE_DEVICES="" and predicts on the CPU, and checks
   that the forecast matches the one made on the GPU (relative difference below 1e-3);
5. times the same epochs on the CPU in a subprocess, for the GPU/CPU ratio.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
DATA = Path(__file__).resolve().parent.parent / "data" / "nasdaq_composite_daily_1999_2018.csv"

PREDICT_ON_CPU = r"""
import json, sys
import tensorflow as tf
from forecast.bundle import load_bundle
from forecast.workflows.predict import predict
assert not tf.config.list_physical_devices("GPU"), "the subprocess should see no GPU"
print(json.dumps(predict(load_bundle(sys.argv[1]), None, None, levels=None).frame["forecast"].tolist()))
"""

EPOCHS_ON_CPU = r"""
import json, sys
sys.path.insert(0, sys.argv[2])
from gpu_check import epoch_times
print(json.dumps(epoch_times(sys.argv[1], int(sys.argv[3]), "cpu")))
"""


def config(device: str, epochs: int):
    from forecast.config import RunConfig

    return RunConfig().replace(train={"device": device, "epochs": epochs})


def epoch_times(data: str, epochs: int, device: str) -> list[float]:
    """Seconds of each epoch of LSTMForecaster.fit on ``data`` (patience high enough to run them all)."""
    import keras

    from forecast.data.panel import load_panel
    from forecast.models.lstm import LSTMForecaster
    from forecast.models.fitting import configure_device

    class Timer(keras.callbacks.Callback):
        times: list[float] = []

        def on_epoch_begin(self, epoch, logs=None):
            self.t0 = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            Timer.times.append(time.perf_counter() - self.t0)

    configure_device(device)
    cfg = config(device, epochs).replace(train={"patience": epochs})
    LSTMForecaster(cfg, callbacks=[Timer()]).fit(load_panel(Path(data)))
    return Timer.times


def check_cudnn(cfg) -> list[str]:
    """Run every LSTM layer of the model rebuilt with use_cudnn=True on GPU:0; return the layer names."""
    import keras
    import numpy as np
    import tensorflow as tf

    from forecast.models.network import build_model

    model = build_model(cfg)
    checked = []
    x = np.random.default_rng(0).normal(size=(32, cfg.window.window, 1)).astype("float32")
    with tf.device("/GPU:0"):
        for layer in model.layers:
            if isinstance(layer, keras.layers.LSTM):  # stacked: each one feeds the next
                x = keras.layers.LSTM.from_config({**layer.get_config(), "use_cudnn": True})(x)
                checked.append(layer.name)
    return checked


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default=str(DATA))
    ap.add_argument("--epochs", type=int, default=50, help="ceiling of the full training run")
    ap.add_argument("--timed-epochs", type=int, default=4)
    args = ap.parse_args()

    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if not gpus:
        print(f"no GPU visible to TensorFlow {tf.__version__} (built with CUDA: {tf.test.is_built_with_cuda()}); "
              "nothing to check here. Run this on a machine with a GPU and `pip install \"forecast[gpu]\"`.")
        return
    from forecast.workflows.train import train
    from forecast.workflows.predict import predict
    from forecast.bundle import load_bundle
    from forecast.models.fitting import configure_device

    print(f"# {len(gpus)} GPU(s): {tf.config.experimental.get_device_details(gpus[0]).get('device_name', gpus[0].name)}; "
          f"tensorflow {tf.__version__}")
    configure_device("gpu")
    print("cuDNN LSTM (use_cudnn=True) ran on GPU:0 for layers:", ", ".join(check_cudnn(config("gpu", 1))))

    gpu_epochs = epoch_times(args.data, args.timed_epochs, "gpu")
    here = str(Path(__file__).resolve().parent)
    with tempfile.TemporaryDirectory() as d:
        t0 = time.perf_counter()
        outcome = train(Path(args.data), config("gpu", args.epochs), Path(d) / "m", verbose=0)
        full = time.perf_counter() - t0
        gpu_fc = predict(load_bundle(Path(d) / "m"), None, None, levels=None).frame["forecast"].to_numpy()
        env = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}
        cpu_fc = json.loads(subprocess.run([sys.executable, "-c", PREDICT_ON_CPU, str(Path(d) / "m")], env=env,
                                           capture_output=True, text=True, check=True).stdout.splitlines()[-1])
        cpu_epochs = json.loads(subprocess.run([sys.executable, "-c", EPOCHS_ON_CPU, args.data, here,
                                                str(args.timed_epochs)], env=env, capture_output=True, text=True,
                                               check=True).stdout.splitlines()[-1])

    import numpy as np

    rel = float(np.max(np.abs(np.asarray(cpu_fc) - gpu_fc) / np.abs(gpu_fc)))
    gpu_mean, cpu_mean = float(np.mean(gpu_epochs[1:])), float(np.mean(cpu_epochs[1:]))
    (t,) = outcome.metrics["training"].values()
    (m,) = outcome.metrics["test"]["series"].values()
    print(f"GPU epoch: first {gpu_epochs[0]:.2f} s (with tracing), then {gpu_mean:.2f} s; "
          f"CPU epoch {cpu_mean:.2f} s -> GPU is {cpu_mean / gpu_mean:.2f}x the CPU")
    print(f"full GPU training: {full:.1f} s, {t['epochs_run']} epochs (best {t['best_epoch']}), "
          f"device {outcome.device}; test MAE {m['lstm']['mae']:.2f} (naive {m['naive']['mae']:.2f})")
    print(f"bundle loaded with CUDA_VISIBLE_DEVICES='' predicts {len(cpu_fc)} steps; max relative difference "
          f"to the GPU forecast {rel:.2e}: {'OK' if rel < 1e-3 else 'MISMATCH'}")
    if rel >= 1e-3:
        sys.exit(1)


if __name__ == "__main__":
    main()
