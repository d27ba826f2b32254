"""Builds the Keras model from the config. The only file that creates layers.

Every LSTM layer keeps the cuDNN-eligible configuration (tanh, sigmoid, recurrent_dropout=0,
unroll=False, use_bias=True), so on a GPU Keras runs the fused cuDNN kernel; dropout sits between
layers instead of inside the recurrence.
"""

from __future__ import annotations

from forecast.config import RunConfig

CUDNN_SETTINGS = dict(activation="tanh", recurrent_activation="sigmoid", recurrent_dropout=0.0,
                      unroll=False, use_bias=True)


def build_model(cfg: RunConfig, n_features: int = 1):
    """Stacked LSTM with a direct multi-horizon head: (batch, window, features) -> (batch, horizon)."""
    import keras

    w, m, t = cfg.window, cfg.model, cfg.train
    inputs = keras.Input(shape=(w.window, n_features), name="window")  # (batch, window, features)
    x = inputs
    for i, units in enumerate(m.layers):
        last = i == len(m.layers) - 1
        x = keras.layers.LSTM(units, return_sequences=not last, name=f"lstm_{i + 1}", **CUDNN_SETTINGS)(x)
        if m.dropout > 0:
            x = keras.layers.Dropout(m.dropout, name=f"dropout_{i + 1}")(x)
    outputs = keras.layers.Dense(w.horizon, name="horizon")(x)  # (batch, horizon)
    model = keras.Model(inputs, outputs, name="stacked_lstm")
    loss = keras.losses.Huber() if t.loss == "huber" else keras.losses.MeanSquaredError()
    # No steps_per_execution: at batch 256 it showed no gain (bench/README.md), and Keras 3 fails with it
    # under MirroredStrategy ("You must feed a value for placeholder", keras-team/keras#19246).
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=t.learning_rate), loss=loss)
    return model
