"""The project's own Keras layers and losses, registered for saving (``package="forecast"``).

Importing this module registers them; loading passes ``CUSTOM_OBJECTS``, so a bundle's ``model.keras`` that
uses them loads with ``safe_mode=True`` (no lambdas are serialised). Keras is imported at module level: import this only where
TensorFlow is needed anyway (models/network.py, bundle loading).
"""

from __future__ import annotations

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="forecast")
class PositionEmbedding(keras.layers.Layer):
    """Adds a learned vector per position of the window: (batch, window, d) -> same shape."""

    def build(self, input_shape):
        self.positions = self.add_weight(name="positions", shape=tuple(input_shape[1:]), initializer="zeros")

    def call(self, x):
        return x + self.positions


@keras.saving.register_keras_serializable(package="forecast")
class MemberMedian(keras.layers.Layer):
    """The median over the members of an ensemble: (batch, members, horizon) -> (batch, horizon)."""

    def call(self, x):
        k = x.shape[1]
        s = ops.sort(x, axis=1)
        if k % 2:
            return s[:, k // 2, :]
        return 0.5 * (s[:, k // 2 - 1, :] + s[:, k // 2, :])

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[2])


CUSTOM_OBJECTS = {"PositionEmbedding": PositionEmbedding, "MemberMedian": MemberMedian}
"""For ``keras.models.load_model(..., custom_objects=CUSTOM_OBJECTS)``."""


def member_loss(kind: str):
    """A loss averaging each member's own loss against the one label: y_true (batch, h), y_pred (batch, K, h).

    The members share no weights, so its gradient for each member is that member's own loss's gradient:
    K independent networks trained on the same batches from different initial weights."""
    base = keras.losses.Huber(reduction=None) if kind == "huber" else keras.losses.MeanSquaredError(reduction=None)

    def loss(y_true, y_pred):
        y = ops.broadcast_to(ops.expand_dims(y_true, 1), ops.shape(y_pred))
        return ops.mean(base(y, y_pred), axis=-1)  # (batch,) mean over members

    return loss
