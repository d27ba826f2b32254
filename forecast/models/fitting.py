"""Fits a Keras model: seeds, devices, callbacks. Nothing in here is LSTM-specific."""

from __future__ import annotations

import contextlib
import math
import os
from dataclasses import dataclass, field

from forecast.config import TrainConfig
from forecast.errors import ForecastError


@dataclass
class FitResult:
    epochs_run: int
    best_epoch: int  # 1-based epoch whose weights were kept
    best_val_loss: float
    history: dict[str, list[float]] = field(default_factory=dict)
    stopped_early: bool = False
    interrupted: bool = False  # Ctrl-C during fit; the weights are those of best_epoch so far

    def to_dict(self) -> dict:
        return {"epochs_run": self.epochs_run, "best_epoch": self.best_epoch,
                "best_val_loss": self.best_val_loss, "stopped_early": self.stopped_early,
                "interrupted": self.interrupted, "history": self.history}


def configure_device(device: str) -> str:
    """Make TensorFlow use the requested device; return a description such as 'GPU:0' or 'CPU'.

    Must run before TensorFlow creates any tensor. ``cpu`` hides the GPUs; ``gpu`` fails clearly
    when none is visible; ``auto`` uses a GPU when TensorFlow sees one.
    """
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if device == "gpu" and not gpus:
        raise ForecastError("--device gpu: TensorFlow sees no GPU here; use --device cpu or auto "
                            "(run `forecast info` to see the devices)")
    if device == "cpu" or not gpus:
        if gpus:
            try:
                tf.config.set_visible_devices([], "GPU")
            except RuntimeError:  # already initialised in this process: pin ops instead
                pass
        return "CPU"
    for gpu in gpus:
        try:
            tf.config.experimental.set_memory_growth(gpu, True)
        except RuntimeError:
            pass
    return f"GPU:0 ({len(gpus)} visible)" if len(gpus) > 1 else "GPU:0"


def set_seed(seed: int) -> None:
    """Seed Python, NumPy and TensorFlow, and ask TensorFlow for deterministic kernels."""
    import keras
    import tensorflow as tf

    os.environ.setdefault("PYTHONHASHSEED", str(seed))
    keras.utils.set_random_seed(seed)
    try:
        tf.config.experimental.enable_op_determinism()
    except Exception:  # older TensorFlow: seeds alone
        pass


MIN_IMPROVEMENT = 1e-3
"""An epoch improves on the best validation loss when it is at least this fraction below it (0.1%)."""


def early_stopping(patience: int, monitor: str = "val_loss", min_improvement: float = MIN_IMPROVEMENT):
    """A Keras callback that stops after ``patience`` epochs without improvement and keeps the best weights,
    with the logs of every finished epoch.

    An improvement is a loss at least ``min_improvement`` (relative) below the best so far: Keras' EarlyStopping
    counts any decrease (or one by an absolute ``min_delta``), so a loss that wanders around its level, as on
    daily prices, restarts the patience on noise (a 0.04% dip ran the S&P 500 job of bench/peers.py to 9 epochs
    instead of 7; bench/README.md). The weights of the best epoch are put back at the end of the fit
    (``restore``), and after a Ctrl-C too, where Keras' EarlyStopping restores nothing.
    """
    import keras

    class EarlyStopping(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.best, self.best_epoch, self.weights, self.history, self.wait = float("inf"), 0, None, {}, 0

        def on_epoch_end(self, epoch, logs=None):
            for k, v in (logs or {}).items():
                self.history.setdefault(k, []).append(float(v))
            value = float((logs or {}).get(monitor, (logs or {}).get("loss", float("nan"))))
            if value < self.best - (min_improvement * abs(self.best) if math.isfinite(self.best) else 0.0):
                self.best, self.best_epoch, self.weights, self.wait = value, epoch + 1, self.model.get_weights(), 0
                return  # (NaN never improves)
            if self.weights is None:  # no finite loss yet: the first epoch's weights, as Keras' EarlyStopping
                self.best_epoch, self.weights = epoch + 1, self.model.get_weights()
            self.wait += 1
            if self.wait >= max(patience, 1):
                self.model.stop_training = True

        def restore(self) -> None:
            if self.weights is not None:
                self.model.set_weights(self.weights)

    return EarlyStopping()


def build_optimizer(model) -> None:
    """Create the optimizer's variables before ``fit``.

    Without a distribution strategy Keras creates them while tracing the first training step, and a
    ``tf.function`` that creates variables is traced twice. Creating them first traces the step once:
    the first epoch of the default network took 2.4 s instead of 3.6 s (bench/README.md).
    """
    optimizer = getattr(model, "optimizer", None)
    if optimizer is not None and not optimizer.built:
        with model.distribute_strategy.scope():
            optimizer.build(model.trainable_variables)


@contextlib.contextmanager
def ctrl_c_kept():
    """While the block runs, Ctrl-C raises KeyboardInterrupt as usual and is also noted; yields the callback that
    raises it again at the next batch's or epoch's end if it got lost.

    Python drops an exception raised while a finaliser runs ("Exception ignored in ... __del__"), and TensorFlow
    runs finalisers at every epoch's end (the epoch's dataset iterator is deleted): a Ctrl-C landing there was
    lost and the fit ran on (seen once in `tests/test_crash_safety.py`'s real SIGINT: 400 epochs, exit 0). Where
    SIGINT is not Python's default handler (ignored, or another handler) or this is not the main thread, nothing
    is changed and the callback does nothing."""
    import signal
    import threading

    import keras

    noted: list[bool] = []

    class Again(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if noted:
                noted.clear()
                raise KeyboardInterrupt

        on_test_batch_end = on_epoch_end = on_train_batch_end

    if threading.current_thread() is not threading.main_thread() or \
            signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        yield Again()
        return

    def handler(signum, frame):
        noted.append(True)
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, handler)
    try:
        yield Again()
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)


def fit_model(model, train_ds, val_ds, cfg: TrainConfig, verbose: int = 1, extra_callbacks=()) -> FitResult:
    """Fit with early stopping on validation loss (best weights restored) and LR reduction on plateau.

    On Ctrl-C the KeyboardInterrupt propagates, unless ``cfg.save_on_interrupt`` is set and an epoch has
    finished: then the best weights so far are put back and the result is marked ``interrupted``.
    """
    import keras

    early = early_stopping(cfg.patience)
    plateau = keras.callbacks.ReduceLROnPlateau(monitor="val_loss", factor=0.5,
                                                patience=max(1, cfg.patience // 2), min_lr=1e-5, verbose=0)
    build_optimizer(model)
    interrupted = False
    try:
        with ctrl_c_kept() as again:
            model.fit(train_ds, validation_data=val_ds, epochs=cfg.epochs, verbose=verbose, shuffle=False,
                      callbacks=[plateau, early, *extra_callbacks, again])  # early logs the rate plateau sets
            again.on_train_batch_end(None)  # lost after the last epoch's callbacks: raised here
    except KeyboardInterrupt:
        if not cfg.save_on_interrupt or early.weights is None:
            raise
        interrupted = True
    early.restore()
    h = early.history
    val = h.get("val_loss", h.get("loss", [float("nan")]))
    best = early.best if math.isfinite(early.best) else float("nan")
    return FitResult(epochs_run=len(val), best_epoch=early.best_epoch, best_val_loss=best, history=h,
                     stopped_early=not interrupted and len(val) < cfg.epochs, interrupted=interrupted)
