"""models/numpy_net.py: the saved stacked LSTM/GRU run in NumPy gives Keras' forecasts (to float32 rounding) from the
same weights, refuses anything it does not know (Keras serves that), and spares `forecast predict` the TensorFlow
import."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile

import numpy as np
import pytest

from forecast.config import ModelConfig, RunConfig, TrainConfig, WindowConfig
from forecast.models import numpy_net


def _cfg(**model) -> RunConfig:
    return RunConfig(window=WindowConfig(window=12, horizon=4), model=ModelConfig(**model),
                     train=TrainConfig(seed=3, device="cpu"))


def _saved(tmp_path, cfg, n_features):
    """A network built for ``cfg`` with random (not initial) weights, saved as Keras saves bundles."""
    from forecast.models.network import build_model

    model = build_model(cfg, n_features=n_features)
    rng = np.random.default_rng(0)
    model.set_weights([rng.normal(0, 0.4, w.shape).astype(np.float32) for w in model.get_weights()])
    path = tmp_path / "model.keras"
    model.save(path)
    return model, path


@pytest.mark.parametrize("model_opts, n_features", [
    (dict(arch="lstm", layers=(16, 8), dropout=0.2), 1),
    (dict(arch="lstm", layers=(8,), dropout=0.0), 3),  # covariates or the hybrid's error channel
    (dict(arch="gru", layers=(8, 8, 4), dropout=0.1), 2),
])
def test_numpy_forward_pass_equals_keras(tmp_path, model_opts, n_features):
    cfg = _cfg(**model_opts)
    model, path = _saved(tmp_path, cfg, n_features)
    net = numpy_net.load(path, cfg)
    assert isinstance(net, numpy_net.NumpyNetwork) and net.output_shape == (None, 4)
    for a, b in zip(model.get_weights(), net.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    x = np.random.default_rng(1).normal(0, 1, (64, 12, n_features)).astype(np.float32)
    expected = model.predict_on_batch(x)
    got = net(x)
    assert got.dtype == np.float32 and got.shape == (64, 4)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    assert np.std(expected) > 0.05  # the comparison is not between two near-constant outputs


@pytest.mark.parametrize("model_opts", [dict(arch="bilstm"), dict(arch="attention"), dict(ensemble=2)])
def test_architectures_numpy_does_not_serve_are_left_to_keras(tmp_path, model_opts):
    cfg = _cfg(layers=(8,), **model_opts)
    _, path = _saved(tmp_path, cfg, 1)
    assert numpy_net.load(path, cfg) is None


def test_a_network_unlike_the_one_its_config_builds_is_left_to_keras(tmp_path):
    cfg = _cfg(arch="lstm", layers=(8,), dropout=0.0)
    _, path = _saved(tmp_path, cfg, 1)
    assert numpy_net.load(path, cfg.replace(model={"layers": (16,)})) is None  # other units
    assert numpy_net.load(path, cfg.replace(model={"layers": (8, 8)})) is None  # other depth
    with zipfile.ZipFile(path) as z:
        files = {n: z.read(n) for n in z.namelist()}
    conf = json.loads(files["config.json"])
    conf["config"]["layers"][1]["config"]["activation"] = "relu"
    files["config.json"] = json.dumps(conf).encode()
    changed = tmp_path / "relu.keras"
    with zipfile.ZipFile(changed, "w") as z:
        for n, data in files.items():
            z.writestr(n, data)
    assert numpy_net.load(changed, cfg) is None


def test_cli_predict_skips_tensorflow_and_matches_the_keras_forecast(tmp_path):
    from forecast.bundle import load_bundle
    from forecast.data.load import synthetic_series
    from forecast.workflows.predict import predict
    from forecast.workflows.train import train

    synthetic_series("random_walk", n=300, seed=1).to_csv(tmp_path / "walk.csv", index=False)
    cfg = RunConfig(window=WindowConfig(window=10, horizon=3), model=ModelConfig(layers=(8, 8), dropout=0.1),
                    train=TrainConfig(epochs=2, batch_size=32, patience=2, seed=7, device="cpu"))
    bundle_dir = train(tmp_path / "walk.csv", cfg, tmp_path / "m", verbose=0).bundle_dir
    keras_fc = predict(load_bundle(bundle_dir), horizon=7, levels=(0.8,)).table()
    numpy_bundle = load_bundle(bundle_dir, engine="numpy")
    assert isinstance(numpy_bundle.networks["model.keras"], numpy_net.NumpyNetwork)
    script = ("import sys; from forecast.cli import app\n"
              f"sys.argv = ['forecast', 'predict', '-m', {str(bundle_dir)!r}, '--horizon', '7', '--json']\n"
              "try:\n    app()\nexcept SystemExit as e:\n    assert not e.code, e.code\n"
              "print('TF-LOADED' if 'tensorflow' in sys.modules else 'TF-NOT-LOADED')\n")
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=tmp_path,
                          env={"CUDA_VISIBLE_DEVICES": "", "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 0, proc.stderr[-2000:]
    out, flag = proc.stdout.rstrip("\n").rsplit("\n", 1)
    assert flag == "TF-NOT-LOADED"
    records = json.loads(out)
    got = np.array([r["forecast"] for r in records])
    np.testing.assert_allclose(got, keras_fc["forecast"].to_numpy(), rtol=1e-6)
    np.testing.assert_allclose([r["lower"] for r in records], keras_fc["lower"].to_numpy(), rtol=1e-6)
