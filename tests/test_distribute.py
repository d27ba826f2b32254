"""MirroredStrategy on CPU: two logical CPU devices stand in for two GPUs (set up in a fresh process)."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import pytest

from forecast.config import RunConfig
from forecast.errors import ForecastError

# Runs in a subprocess: logical devices must be configured before TensorFlow initialises.
SCRIPT = r"""
import json, sys
import tensorflow as tf

cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

import keras
import forecast.models.fitting
import forecast.models.lstm
from forecast.cli import app
from forecast.bundle import load_bundle
from forecast.workflows.predict import predict

class Seen(keras.callbacks.Callback):
    batch_sizes = []
    def on_train_begin(self, logs=None):
        Seen.replicas = self.model.distribute_strategy.num_replicas_in_sync

fit_model, make_dataset = forecast.models.fitting.fit_model, forecast.models.lstm.make_dataset
def recording_fit_model(*args, extra_callbacks=(), **kw):
    Seen.result = fit_model(*args, extra_callbacks=(*extra_callbacks, Seen()), **kw)
    return Seen.result
def recording_make_dataset(z, origins, window, horizon, batch_size, **kw):
    Seen.batch_sizes.append(batch_size)
    return make_dataset(z, origins, window, horizon, batch_size, **kw)
forecast.models.fitting.fit_model, forecast.models.lstm.make_dataset = recording_fit_model, recording_make_dataset

csv, cfg_path = sys.argv[1], sys.argv[2]
app(["train", csv, "--config", cfg_path, "--strategy", "mirrored", "--model", "m", "--quiet"], standalone_mode=False)
bundle = load_bundle("m")
fc = predict(bundle, None, None)
print(json.dumps({"replicas": Seen.replicas, "batch_sizes": Seen.batch_sizes, "loss": Seen.result.history["loss"],
                  "strategy": bundle.config.train.strategy, "forecast": fc.frame["forecast"].tolist()}))
"""


def test_mirrored_two_replicas_trains_and_saves_a_loadable_bundle(walk_csv, tiny_cfg, tmp_path):
    cfg = tiny_cfg.replace(train={"epochs": 1, "batch_size": 16})  # --strategy mirrored on the command line
    cfg.to_json(tmp_path / "cfg.json")
    proc = subprocess.run([sys.executable, "-c", SCRIPT, str(walk_csv), str(tmp_path / "cfg.json")],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["replicas"] == 2
    assert out["batch_sizes"] == [32, 32]  # train and validation: 16 per replica x 2 replicas
    assert len(out["loss"]) == 1 and math.isfinite(out["loss"][0])
    assert out["strategy"] == "mirrored"
    assert len(out["forecast"]) == 3 and all(math.isfinite(v) and v > 0 for v in out["forecast"])


def test_strategy_is_validated():
    with pytest.raises(ForecastError, match="--strategy 'multiworker': choose one of none, mirrored"):
        RunConfig().replace(train={"strategy": "multiworker"})
