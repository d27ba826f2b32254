"""Keras' LSTM against TensorFlow's fused CPU kernel for the whole sequence (issue 17; a lever not kept).

    .venv/bin/python bench/fused_lstm.py [--pairs 3] [--epochs 7,20]

On a CPU, Keras 3 runs an LSTM layer as a ``tf.while_loop`` over the window's steps, and the first training step
traces that loop and its gradient (most of the first epoch's extra second, bench/README.md). TensorFlow also has
a fused kernel for the whole sequence, ``BlockLSTMV2`` (the gate order i, f, c, o of Keras' weights, no peepholes,
no clipping with ``cell_clip=0``), and its gradient ``BlockLSTMGradV2``: one op each way, nothing to trace per
step. The variant ``fused`` is Keras' LSTM with its inner loop replaced by those two ops (same weights, same
forward to 1e-7).

Each child fits the default network of the S&P 500 peers job (``network.build_networks`` with window 30, 2 x 64
units, dropout 0.2, horizon 10, batch 512, learning rate 6e-3) on 3,481 random training windows and 755 validation
windows, for a fixed number of epochs (the optimizer built first, as ``fitting.fit_model`` does), and prints the first training batch's seconds (tracing included), the
first epoch's, the median of the later epochs' and the whole fit's. The sides alternate in fresh processes;
the parent prints the medians and the ratios fused / keras.

First it checks the gradient: TensorFlow 2.21 registers for ``BlockLSTMV2`` the gradient of the older
``BlockLSTM`` (``tensorflow/python/ops/rnn_grad.py``), whose gate order is i, c, f, o, so its weight gradient is
wrong for V2; the fused variant therefore calls ``BlockLSTMGradV2`` itself (``tf.custom_gradient``). The check
prints both against Keras' gradient.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def fused_lstm_class(tf, keras, registered_gradient: bool = False):
    """Keras' LSTM whose inner loop (no mask, no dropout inside the cell) is one BlockLSTMV2 op."""
    from tensorflow.python.ops import gen_rnn_ops

    def sequence(x, h0, c0, kernel, recurrent_kernel, bias, backwards):
        xt = tf.transpose(x, [1, 0, 2])  # time-major
        if backwards:
            xt = tf.reverse(xt, [0])
        w = tf.concat([tf.convert_to_tensor(kernel), tf.convert_to_tensor(recurrent_kernel)], 0)
        no_peephole = tf.zeros(tf.shape(bias)[:1] // 4, x.dtype)
        steps = tf.cast(tf.shape(xt)[0], tf.int64)
        args = dict(wci=no_peephole, wcf=no_peephole, wco=no_peephole, use_peephole=False)

        def forward(xt, h0, c0, w, b):
            return gen_rnn_ops.block_lstmv2(steps, xt, c0, h0, w, b=b, cell_clip=0.0, **args)

        @tf.custom_gradient
        def block(xt, h0, c0, w, b):
            i, cs, f, o, ci, co, h = forward(xt, h0, c0, w, b)

            def grad(dh, dcs):
                g = gen_rnn_ops.block_lstm_grad_v2(steps, xt, c0, h0, w, b=b, i=i, cs=cs, f=f, o=o, ci=ci, co=co,
                                                   h=h, cs_grad=dcs, h_grad=dh, **args)
                return g[0], g[2], g[1], g[3], g[7]  # x, h_prev, cs_prev, w, b

            return (h, cs), grad

        b = tf.convert_to_tensor(bias)
        if registered_gradient:  # the op alone: tf.GradientTape uses the gradient TensorFlow registered for it
            outputs = forward(xt, h0, c0, w, b)
            h, cs = outputs[6], outputs[1]
        else:
            h, cs = block(xt, h0, c0, w, b)
        return h[-1], tf.transpose(h, [1, 0, 2]), [h[-1], cs[-1]]

    class FusedLSTM(keras.layers.LSTM):
        def inner_loop(self, sequences, initial_state, mask, training=False):
            if mask is not None or self.cell.dropout:
                return super().inner_loop(sequences, initial_state, mask, training)
            c = self.cell
            return sequence(sequences, initial_state[0], initial_state[1], c.kernel, c.recurrent_kernel, c.bias,
                            self.go_backwards)

    return FusedLSTM


def check_gradient() -> None:
    import numpy as np
    import tensorflow as tf
    import keras

    x = tf.constant(np.random.default_rng(0).normal(size=(8, 30, 3)).astype("float32"))
    keras.utils.set_random_seed(0)
    ref = keras.layers.LSTM(16, return_sequences=True)
    ref(x)
    for label, registered in (("TensorFlow's registered gradient", True), ("BlockLSTMGradV2 (the variant)", False)):
        layer = fused_lstm_class(tf, keras, registered)(16, return_sequences=True)
        layer(x)
        layer.set_weights(ref.get_weights())
        with tf.GradientTape(persistent=True) as tape:
            tape.watch(x)
            losses = [tf.reduce_sum(tf.sin(net(x))) for net in (ref, layer)]
        grads = [tape.gradient(loss, [x, *net.trainable_variables]) for loss, net in zip(losses, (ref, layer))]
        diff = [float(tf.reduce_max(tf.abs(a - b)) / tf.reduce_max(tf.abs(a))) for a, b in zip(*grads)]
        print(f"{label}: largest gradient difference from Keras' LSTM, relative (input, kernel, recurrent kernel, "
              f"bias): " + ", ".join(f"{d:.1e}" for d in diff))


def child(side: str, epochs: int) -> None:
    import time

    import numpy as np
    import tensorflow as tf
    import keras

    sys.path.insert(0, str(ROOT))
    from forecast.config import ModelConfig, RunConfig, TrainConfig, WindowConfig
    from forecast.models import fitting, network

    if side == "fused":
        keras.layers.LSTM = fused_lstm_class(tf, keras)
    cfg = RunConfig(window=WindowConfig(window=30, horizon=10), model=ModelConfig(layers=(64, 64), dropout=0.2),
                    train=TrainConfig(batch_size=512, learning_rate=6e-3, seed=1))
    keras.utils.set_random_seed(1)
    model = network.build_networks(cfg)[0]
    fitting.build_optimizer(model)  # as forecast's fit does: the training step is then traced once
    rng = np.random.default_rng(0)

    def data(n, shuffle):
        ds = tf.data.Dataset.from_tensor_slices((rng.normal(size=(n, 30, 1)).astype("float32"),
                                                 rng.normal(size=(n, 10)).astype("float32")))
        return (ds.shuffle(n, seed=1) if shuffle else ds).batch(512)

    train, val = data(3481, True), data(755, False)
    marks: dict[str, list[float]] = {"begin": [], "batch": [], "end": []}

    class Clock(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            marks["begin"].append(time.perf_counter())

        def on_train_batch_end(self, batch, logs=None):
            marks["batch"].append(time.perf_counter())

        def on_epoch_end(self, epoch, logs=None):
            marks["end"].append(time.perf_counter())

    t = time.perf_counter()
    hist = model.fit(train, validation_data=val, epochs=epochs, verbose=0, callbacks=[Clock()])
    fit = time.perf_counter() - t
    ends, begins = marks["end"], marks["begin"]
    print(json.dumps({"first_batch": marks["batch"][0] - begins[0], "first_epoch": ends[0] - begins[0],
                      "later_epoch": statistics.median(e - b for b, e in zip(begins[1:], ends[1:])), "fit": fit,
                      "val_loss": hist.history["val_loss"][-1]}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pairs", type=int, default=3)
    ap.add_argument("--epochs", default="7,20", help="fit lengths to time, comma-separated")
    ap.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    ap.add_argument("--check-gradient", action="store_true", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        return child(a.child[0], int(a.child[1]))
    if a.check_gradient:
        return check_gradient()
    env = dict(os.environ, CUDA_VISIBLE_DEVICES="", TF_CPP_MIN_LOG_LEVEL="3")
    subprocess.run([sys.executable, __file__, "--check-gradient"], env=env, check=True)  # TensorFlow not here
    for epochs in (int(e) for e in a.epochs.split(",")):
        runs: dict[str, list[dict]] = {"keras": [], "fused": []}
        for _ in range(a.pairs):
            for side in runs:
                out = subprocess.run([sys.executable, __file__, "--child", side, str(epochs)], env=env,
                                     capture_output=True, text=True, check=True).stdout
                runs[side].append(json.loads(out.strip().splitlines()[-1]))
                print(epochs, "epochs", side, " ".join(f"{k} {v:.3f}" for k, v in runs[side][-1].items()), flush=True)
        print(f"\n{epochs} epochs, medians of {a.pairs} | keras | fused | fused / keras")
        for key in ("first_batch", "first_epoch", "later_epoch", "fit"):
            k, f = (statistics.median(r[key] for r in runs[s]) for s in ("keras", "fused"))
            print(f"{key:12s} | {k:.3f} | {f:.3f} | {f / k:.2f}")
        print()


if __name__ == "__main__":
    main()
