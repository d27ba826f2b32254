"""Builds the Keras networks from the config. The only file that creates layers.

``cfg.model.arch`` picks the encoder over the look-back window; every one ends in the same direct
multi-horizon head, (batch, window, features) -> (batch, horizon):

    lstm         stacked LSTM layers (the default), dropout between them
    gru          stacked GRU layers
    bilstm       stacked bidirectional LSTM layers (each reads the window forwards and backwards)
    cnn_lstm     a causal Conv1D feature extractor (layers[0] filters, kernel 3) before the LSTM stack
    attention    the LSTM stack returns every step; dot-product attention of the last step over them all
    transformer  a Dense projection to layers[0] features, learned position embeddings, then one
                 self-attention block (4 heads, feed-forward of 2x width) per entry of ``layers``

Recurrent layers keep the cuDNN-eligible configuration (tanh, sigmoid, recurrent_dropout=0, unroll=False,
use_bias=True; GRU also reset_after=True), so on a GPU Keras runs the fused cuDNN kernel; dropout sits
between layers instead of inside the recurrence.

``cfg.model.ensemble`` = K > 1 builds K such networks side by side on the same input (no shared weights):
training fits all of them at once on the mean of their losses (models/layers.member_loss), and the served
network answers with the median of the K forecasts (models/layers.MemberMedian). One file, one fit.

A fit that is done with its networks gives them back (``give_back``), and the next fit in the process that builds
the same graph is lent them (``lend_networks``) with every variable set to what a fresh build holds: Keras traces
its training, validation and prediction steps once per model, and those traces are most of a short fit's time.
"""

from __future__ import annotations

import json

from forecast.config import RunConfig

CUDNN_SETTINGS = dict(activation="tanh", recurrent_activation="sigmoid", recurrent_dropout=0.0,
                      unroll=False, use_bias=True)
HEADS = 4  # transformer attention heads


def _recurrent(keras, arch: str, units: int, return_sequences: bool, name: str):
    if arch == "gru":
        return keras.layers.GRU(units, return_sequences=return_sequences, name=name, reset_after=True,
                                **CUDNN_SETTINGS)
    layer = keras.layers.LSTM(units, return_sequences=return_sequences, name=name, **CUDNN_SETTINGS)
    return keras.layers.Bidirectional(layer, name=f"bi_{name}") if arch == "bilstm" else layer


def _dropout(keras, x, rate: float, name: str):
    return keras.layers.Dropout(rate, name=name)(x) if rate > 0 else x


def _transformer(keras, x, cfg: RunConfig, p: str):
    from forecast.models.layers import PositionEmbedding

    m = cfg.model
    d = m.layers[0]
    x = PositionEmbedding(name=f"{p}positions")(keras.layers.Dense(d, name=f"{p}embed")(x))
    for i, _ in enumerate(m.layers):
        att = keras.layers.MultiHeadAttention(HEADS, key_dim=max(1, d // HEADS), dropout=m.dropout,
                                              name=f"{p}attention_{i + 1}")(x, x)
        x = keras.layers.LayerNormalization(name=f"{p}norm_{i + 1}a")(keras.layers.Add()([x, att]))
        ff = keras.layers.Dense(2 * d, activation="relu", name=f"{p}ff_{i + 1}")(x)
        ff = _dropout(keras, keras.layers.Dense(d, name=f"{p}ff_{i + 1}_out")(ff), m.dropout, f"{p}dropout_{i + 1}")
        x = keras.layers.LayerNormalization(name=f"{p}norm_{i + 1}b")(keras.layers.Add()([x, ff]))
    last = keras.layers.Cropping1D((cfg.window.window - 1, 0), name=f"{p}last_step")(x)  # (batch, 1, d)
    return keras.layers.Flatten(name=f"{p}last")(last)


def _encoder(keras, inputs, cfg: RunConfig, p: str = ""):
    """(batch, window, features) -> (batch, units): the architecture ``cfg.model.arch``; ``p`` prefixes names."""
    m, arch = cfg.model, cfg.model.arch
    if arch == "transformer":
        return _transformer(keras, inputs, cfg, p)
    x = inputs
    if arch == "cnn_lstm":
        x = keras.layers.Conv1D(m.layers[0], 3, padding="causal", activation="relu", name=f"{p}conv")(x)
    keep_steps = arch == "attention"
    for i, units in enumerate(m.layers):
        last = i == len(m.layers) - 1
        rnn = "gru" if arch == "gru" else "lstm"
        x = _recurrent(keras, arch, units, not last or keep_steps, f"{p}{rnn}_{i + 1}")(x)
        x = _dropout(keras, x, m.dropout, f"{p}dropout_{i + 1}")
    if keep_steps:  # the last step's state asks which steps of the window matter
        query = keras.layers.Cropping1D((cfg.window.window - 1, 0), name=f"{p}last_step")(x)  # (batch, 1, units)
        context = keras.layers.Attention(name=f"{p}attention")([query, x])  # (batch, 1, units)
        x = keras.layers.Flatten(name=f"{p}context")(keras.layers.Concatenate()([query, context]))
    return x


def _loss(keras, kind: str):
    return keras.losses.Huber() if kind == "huber" else keras.losses.MeanSquaredError()


def build_networks(cfg: RunConfig, n_features: int = 1):
    """(network to fit, network to serve and save); the same compiled model unless ``cfg.model.ensemble`` > 1."""
    import keras

    w, m, t = cfg.window, cfg.model, cfg.train
    inputs = keras.Input(shape=(w.window, n_features), name="window")  # (batch, window, features)
    # No steps_per_execution: at batch 256 it showed no gain (bench/README.md), and Keras 3 fails with it
    # under MirroredStrategy ("You must feed a value for placeholder", keras-team/keras#19246).
    if m.ensemble == 1:
        encoded = _encoder(keras, inputs, cfg)  # before the head: layers draw their seeds as they are created
        outputs = keras.layers.Dense(w.horizon, name="horizon")(encoded)  # (batch, horizon)
        model = keras.Model(inputs, outputs, name=f"{m.arch}_forecaster")
        model.compile(optimizer=keras.optimizers.Adam(learning_rate=t.learning_rate), loss=_loss(keras, t.loss))
        return model, model
    from forecast.models.layers import MemberMedian, member_loss

    heads = []
    for k in range(m.ensemble):
        encoded = _encoder(keras, inputs, cfg, f"m{k + 1}_")
        head = keras.layers.Dense(w.horizon, name=f"m{k + 1}_horizon")(encoded)
        heads.append(keras.layers.Reshape((1, w.horizon), name=f"m{k + 1}_member")(head))
    members = keras.layers.Concatenate(axis=1, name="members")(heads)  # (batch, K, horizon)
    fit_net = keras.Model(inputs, members, name=f"{m.arch}_ensemble_members")
    fit_net.compile(optimizer=keras.optimizers.Adam(learning_rate=t.learning_rate), loss=member_loss(t.loss))
    serve = keras.Model(inputs, MemberMedian(name="horizon")(members), name=f"{m.arch}_ensemble")
    return fit_net, serve


def build_model(cfg: RunConfig, n_features: int = 1):
    """The network that forecasts (and is saved): (batch, window, features) -> (batch, horizon)."""
    return build_networks(cfg, n_features)[1]


_SPARE: dict[str, list[tuple]] = {}  # the pairs given back (``give_back``), by graph (``_graph_key``), oldest first
SPARE_GRAPHS = 4  # graphs whose pairs are kept (the latest given back), each pair holding its traced steps


def _graph_key(networks, loss: str) -> str:
    """What decides the graphs Keras traces for a pair from ``build_networks``: both networks' layers, the loss and
    the optimizer's settings. Not the optimizer's name, which Keras numbers ("adam_1"), nor its learning rate, a
    variable of the optimizer (set on lending)."""
    fit_net, serve = networks
    settings = {k: v for k, v in fit_net.optimizer.get_config().items() if k not in ("name", "learning_rate")}
    return json.dumps([fit_net.get_config(), serve.get_config(), loss, settings], sort_keys=True, default=str)


def lend_networks(cfg: RunConfig, n_features: int = 1) -> tuple[tuple, str]:
    """(``build_networks``' pair, its key for ``give_back``). Where a pair of the same graph was given back, that pair
    is lent instead, its state set to the fresh pair's: every variable (weights and the dropout layers' seeds) and
    the optimizer's (step count, learning rate, moments). Its fit is then the fresh pair's to the bit
    (tests/test_model.py) without tracing Keras' steps again: 0.6-0.9 s a fit on 2 cores (bench/README.md).
    The fresh pair is built either way, so the seeds drawn for later layers do not depend on what was lent."""
    fresh = build_networks(cfg, n_features)
    key = _graph_key(fresh, cfg.train.loss)
    spares = _SPARE.get(key)
    if not spares:
        return fresh, key
    spare = spares.pop()
    if not spares:
        del _SPARE[key]
    for net in (fresh[0], spare[0]):
        if not net.optimizer.built:
            net.optimizer.build(net.trainable_variables)
    pairs = [(spare[0].variables, fresh[0].variables), (spare[0].optimizer.variables, fresh[0].optimizer.variables)]
    if any(len(mine) != len(theirs) for mine, theirs in pairs):
        return fresh, key
    for mine, theirs in pairs:
        for v, value in zip(mine, theirs):
            v.assign(value)
    return spare, key


def give_back(key: str, networks: tuple) -> None:
    """Keep a pair from ``lend_networks`` for a later fit of the same graph; its fit must be done with it. Every pair
    given back is kept, for fits that hold several of one graph at once (a PerSeries of networks, threads)."""
    _SPARE[key] = [*_SPARE.pop(key, []), networks]  # the graph given back last goes last
    for old in list(_SPARE)[:-SPARE_GRAPHS]:
        del _SPARE[old]
