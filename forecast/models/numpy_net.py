"""The saved network run in NumPy, so ``forecast predict`` (and ``plot``, ``report``) need not import TensorFlow.

TensorFlow's import is most of what ``predict`` costs (about 4 s of a 5-7 s command on 2 cores; bench/README.md),
while a forecast is a few dozen small matrix products. For the stacked LSTM and GRU networks (``--arch lstm|gru``,
no ensemble: models/network.py) this module reads ``model.keras`` itself, a zip of ``config.json`` and
``model.weights.h5``, checks that the layers are exactly the ones network.py builds for the bundle's config
(class, units, activations, return_sequences; anything else gets ``None`` and the caller loads Keras), and runs
the same arithmetic in float32:

    LSTM (Keras gate order i, f, c, o):  z = x W + h U + b;  c = f * c + i * tanh(z_c);  h = o * tanh(c)
    GRU (reset_after=True, order z, r, h): x W + b0 and h U + b1 split in three;
                                           hh = tanh(xh + r * rh);  h = z * h + (1 - z) * hh
    Dropout: the identity at inference;  Dense: x W + b

The input projections of every step are one product before the recurrence. Results equal Keras' to float32
rounding (tests/test_numpy_net.py: within 1e-5 relative), not bit for bit: the summation order differs.
No code from the file is executed; the weights are read with h5py (a TensorFlow dependency).
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from pathlib import Path

import numpy as np

from forecast.config import RunConfig
from forecast.models.network import CUDNN_SETTINGS

RECURRENT = {"lstm": "LSTM", "gru": "GRU"}
EXPECTED = dict(CUDNN_SETTINGS, go_backwards=False, stateful=False)  # what network.py builds, in config.json's terms


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _snake(name: str) -> str:
    """A class name as Keras names its group in the weights file (keras.src.utils.naming.to_snake_case)."""
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()


class NumpyNetwork:
    """A stacked LSTM/GRU forecaster's forward pass: ``net(x)`` maps (batch, window, features) to (batch, horizon)."""

    def __init__(self, kind: str, recurrent: list[tuple[np.ndarray, ...]], head: tuple[np.ndarray, np.ndarray]):
        self.kind, self.recurrent, self.head = kind, recurrent, head

    @property
    def output_shape(self) -> tuple:
        return (None, self.head[0].shape[1])

    def get_weights(self) -> list[np.ndarray]:
        """The weights in Keras' order (``keras.Model.get_weights`` of the same network)."""
        return [w for layer in self.recurrent for w in layer] + list(self.head)

    def __call__(self, x, training: bool = False) -> np.ndarray:
        h = np.asarray(x, np.float32)
        for i, weights in enumerate(self.recurrent):
            h = (self._lstm if self.kind == "lstm" else self._gru)(h, *weights, i < len(self.recurrent) - 1)
        return h @ self.head[0] + self.head[1]

    predict_on_batch = __call__

    @staticmethod
    def _lstm(x, kernel, recurrent, bias, sequences: bool):
        n, steps, _ = x.shape
        u = recurrent.shape[0]
        xw = x @ kernel + bias  # (n, steps, 4u): every step's input projection at once
        h, c, out = np.zeros((n, u), np.float32), np.zeros((n, u), np.float32), []
        for t in range(steps):
            z = xw[:, t] + h @ recurrent
            i, f, o = _sigmoid(z[:, :u]), _sigmoid(z[:, u:2 * u]), _sigmoid(z[:, 3 * u:])
            c = f * c + i * np.tanh(z[:, 2 * u:3 * u])
            h = o * np.tanh(c)
            out.append(h)
        return np.stack(out, axis=1) if sequences else h

    @staticmethod
    def _gru(x, kernel, recurrent, bias, sequences: bool):
        n, steps, _ = x.shape
        u = recurrent.shape[0]
        xw = x @ kernel + bias[0]  # (n, steps, 3u)
        h, out = np.zeros((n, u), np.float32), []
        for t in range(steps):
            hu = h @ recurrent + bias[1]
            z = _sigmoid(xw[:, t, :u] + hu[:, :u])
            r = _sigmoid(xw[:, t, u:2 * u] + hu[:, u:2 * u])
            hh = np.tanh(xw[:, t, 2 * u:] + r * hu[:, 2 * u:])
            h = z * h + (1.0 - z) * hh
            out.append(h)
        return np.stack(out, axis=1) if sequences else h


def _dtype(layer_config: dict) -> str:
    """A layer's dtype policy name ("float32" unless the config says otherwise; a policy object or a string)."""
    d = layer_config.get("dtype", "float32")
    return d.get("config", {}).get("name", "") if isinstance(d, dict) else str(d)


def supported(cfg: RunConfig) -> bool:
    """Whether ``load`` can serve networks built for ``cfg`` (else Keras must)."""
    return cfg.model.arch in RECURRENT and cfg.model.ensemble == 1


def load(path: Path, cfg: RunConfig) -> NumpyNetwork | None:
    """The network in ``path`` (a .keras file) as a NumpyNetwork, or None where its layers are not exactly the
    stacked recurrent network models/network.py builds for ``cfg``."""
    import h5py

    if not supported(cfg):
        return None
    with zipfile.ZipFile(path) as z:
        layers = json.loads(z.read("config.json"))["config"]["layers"]
        weights_file = io.BytesIO(z.read("model.weights.h5"))
    cls = RECURRENT[cfg.model.arch]
    expected = ["InputLayer"]
    for _ in cfg.model.layers:
        expected += [cls] + (["Dropout"] if cfg.model.dropout > 0 else [])
    expected.append("Dense")
    if [layer["class_name"] for layer in layers] != expected:
        return None
    seen: dict[str, int] = {}
    groups = []  # the weights file's group of each layer: snake-cased class, numbered in order of appearance
    for layer in layers:
        base = _snake(layer["class_name"])
        groups.append(base if base not in seen else f"{base}_{seen[base]}")
        seen[base] = seen.get(base, 0) + 1
    recurrent_layers = [(g, layer["config"]) for g, layer in zip(groups, layers) if layer["class_name"] == cls]
    for k, (_, c) in enumerate(recurrent_layers):
        if any(c.get(key) != value for key, value in EXPECTED.items()) or c.get("units") != cfg.model.layers[k] \
                or c.get("return_sequences") != (k < len(recurrent_layers) - 1) \
                or (cls == "GRU" and c.get("reset_after") is not True) or _dtype(c) != "float32":
            return None
    dense = layers[-1]["config"]
    if dense.get("activation") != "linear" or not dense.get("use_bias", False):
        return None
    with h5py.File(weights_file, "r") as h5:
        recurrent = [tuple(np.asarray(h5[f"layers/{g}/cell/vars/{i}"], np.float32) for i in range(3))
                     for g, _ in recurrent_layers]
        head = tuple(np.asarray(h5[f"layers/{groups[-1]}/vars/{i}"], np.float32) for i in range(2))
    return NumpyNetwork(cfg.model.arch, recurrent, head)
