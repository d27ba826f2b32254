"""Distribution strategies: the one place that picks a tf.distribute strategy for training.

``none`` is TensorFlow's default strategy (one device, a no-op scope). ``mirrored`` is
``tf.distribute.MirroredStrategy`` over the local devices (all GPUs, else the logical CPUs): the model is built
and compiled inside ``strategy.scope()``, and each replica sees ``batch_size`` windows, so the global
batch is ``batch_size * replicas``. MultiWorkerMirroredStrategy is not offered (Keras 3 problems).
"""

from __future__ import annotations


def make_strategy(name: str = "none"):
    """The tf.distribute strategy for ``TrainConfig.strategy``."""
    import tensorflow as tf

    if name == "mirrored":
        if tf.config.list_logical_devices("GPU"):
            return tf.distribute.MirroredStrategy()  # all visible GPUs
        cpus = [d.name for d in tf.config.list_logical_devices("CPU")]  # 1, unless split into logical CPUs
        return tf.distribute.MirroredStrategy(devices=cpus)
    return tf.distribute.get_strategy()


def global_batch_size(batch_size: int, strategy) -> int:
    """Per-replica ``batch_size`` times the replicas in sync."""
    return batch_size * strategy.num_replicas_in_sync
