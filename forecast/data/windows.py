"""Sliding windows and chronological splits: the only place that knows how inputs and labels line up.

Indices refer to ``z``, the transformed series (see transforms.py). A window with origin ``j`` has

    input  z[j - window + 1 .. j]      (window values, the last one observed at the origin)
    labels z[j + 1 .. j + horizon]     (the next horizon values, none of them inside the input)

For training, make_dataset copies the windows into arrays only while they are few (``gathers``); more are
gathered batch by batch from the series, so memory stays proportional to the series.
``window_arrays`` returns strided views.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from forecast.errors import ForecastError

PREFETCH = 2  # batches prepared ahead of the step; a fixed number, as tf.data autotuning is off (make_dataset)
COPY_WINDOWS = 20_000  # make_dataset copies at most this many windows and their labels (``gathers``) ...
COPY_BYTES = 16 * 2**20  # ... taking at most this many bytes; else it gathers them from the series per batch


@dataclass(frozen=True)
class Split:
    """Chronological split of ``n`` prices into train | val | test (counts of prices)."""

    n_train: int
    n_val: int
    n_test: int
    offset: int  # len(prices) - len(z)
    window: int
    horizon: int

    def _origins(self, first_label: int, last_label: int) -> np.ndarray:
        """Origins whose labels all lie in z[first_label .. last_label] and whose input fits."""
        lo = max(first_label - 1, self.window - 1)
        hi = last_label - self.horizon
        return np.arange(lo, hi + 1, dtype=np.int64)

    @property
    def train_origins(self) -> np.ndarray:
        return self._origins(0, self.n_train - 1 - self.offset)

    @property
    def val_origins(self) -> np.ndarray:
        return self._origins(self.n_train - self.offset, self.n_train + self.n_val - 1 - self.offset)

    @property
    def test_origins(self) -> np.ndarray:
        start = self.n_train + self.n_val - self.offset
        return self._origins(start, self.n_train + self.n_val + self.n_test - 1 - self.offset)


def _split(n: int, window: int, horizon: int, val_frac: float, test_frac: float, offset: int) -> Split:
    n_test = int(round(n * test_frac))
    n_val = int(round(n * val_frac))
    return Split(n - n_val - n_test, n_val, n_test, offset, window, horizon)


def _usable(s: Split, min_train: int) -> bool:
    return (
        len(s.train_origins) >= min_train and len(s.val_origins) >= 1 and len(s.test_origins) >= 1
    )


def chronological_split(
    n: int, window: int, horizon: int, val_frac: float, test_frac: float, offset: int, min_train: int = 8
) -> Split:
    """Split ``n`` prices; raise a clear error (with the rows needed) when they are too few."""
    split = _split(n, window, horizon, val_frac, test_frac, offset)
    if _usable(split, min_train):
        return split
    raise _too_few(n, window, horizon, val_frac, test_frac, offset, min_train)


def panel_splits(dates: dict[str, np.ndarray], window: int, horizon: int, val_frac: float, test_frac: float,
                 offset: int, min_train: int = 8) -> tuple[dict[str, Split], dict[str, str]]:
    """Every series' chronological split at the same two dates, so that no series' training or validation rows
    lie after another series' validation or test part begins (a global network trains on all of them at once,
    and the test scores of all cover one period). ``dates``: id -> the series' dates, chronological.

    The cut dates split the panel's dates (every date any series has) as ``chronological_split`` splits one
    series' rows: for one series, or series on one calendar, the splits are the same. A series left with too few
    rows before a cut or after it (it starts late, or ends before the test part) is returned with the reason
    instead, and the cuts are taken again from the series that remain. Returns (id -> Split, id -> reason)."""
    from forecast.data.calendar import stamp_text

    left, why = dict(dates), {}
    while True:
        calendar = np.unique(np.concatenate([np.asarray(d) for d in left.values()]))
        n = len(calendar)
        cut = _split(n, window, horizon, val_frac, test_frac, offset)
        val_start, test_start = calendar[min(cut.n_train, n - 1)], calendar[min(cut.n_train + cut.n_val, n - 1)]
        splits, dropped = {}, {}
        for sid, d in left.items():
            d = np.asarray(d)
            n_train = int(np.searchsorted(d, val_start))
            n_val = int(np.searchsorted(d, test_start)) - n_train
            split = Split(n_train, n_val, len(d) - n_train - n_val, offset, window, horizon)
            if _usable(split, min_train):
                splits[sid] = split
            elif len(d) == n:  # on the panel's whole calendar: too short as a series
                dropped[sid] = str(_too_few(n, window, horizon, val_frac, test_frac, offset, min_train))
            else:
                short = ("the training part" if len(split.train_origins) < min_train else "the validation part"
                         if len(split.val_origins) < 1 else "the test part")  # the first part, in time, it cannot fill
                when = (f"it starts on {stamp_text(d[0])}" if short == "the training part"
                        else f"it ends on {stamp_text(d[-1])}")
                dropped[sid] = (f"too few rows in {short} for --window {window} and --horizon {horizon}: {when} "
                                f"({split.n_train} rows before the validation part from {stamp_text(val_start)}, "
                                f"{split.n_val} in it, {split.n_test} in the test part from {stamp_text(test_start)}); "
                                "the series of a file are split at the same dates, so train this one from a file of "
                                "its own")
        if not dropped or not splits:
            return splits, {**why, **dropped}
        why.update(dropped)
        left = {sid: left[sid] for sid in splits}


def _too_few(n: int, window: int, horizon: int, val_frac: float, test_frac: float, offset: int,
             min_train: int) -> ForecastError:
    needed = rows_needed(window, horizon, val_frac, test_frac, offset, min_train)
    return ForecastError(
        f"{n} rows are too few for --window {window} and --horizon {horizon} with validation and test parts: "
        f"at least {needed} rows are needed; use a longer series or a smaller --window/--horizon")


def rows_needed(window: int, horizon: int, val_frac: float, test_frac: float, offset: int, min_train: int = 8) -> int:
    """The least length from which on every length splits usably.

    Rounding the validation and test parts can take a row from training at the next length (94 rows may fail
    where 93 work), so the least usable length alone would be a false "at least": this is the start of the
    first run of usable lengths as long as the rounding pattern's period, after which the parts only grow.
    """
    period = 2 * math.ceil(1 / min(val_frac, test_frac, 1 - val_frac - test_frac)) + 2
    n = start = window + horizon
    while n - start < period:
        if not _usable(_split(n, window, horizon, val_frac, test_frac, offset), min_train):
            start = n + 1
        n += 1
    return start


def label_index(origins: np.ndarray, horizon: int) -> np.ndarray:
    """Indices (n, horizon) of the values forecast from each origin: origin + 1 .. origin + horizon."""
    return np.asarray(origins)[:, None] + np.arange(1, horizon + 1)


def window_arrays(z: np.ndarray, origins: np.ndarray, window: int, horizon: int,
                  base: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Inputs (n, window, features) and labels (n, horizon) as views into ``z`` where possible; with ``base``
    (time, horizon), a forecast made at each row, the labels are what it leaves (``make_dataset``)."""
    z2 = z[:, None] if z.ndim == 1 else z  # (time, features)
    views = np.lib.stride_tricks.sliding_window_view(z2, window + horizon, axis=0)  # (time-w-h+1, f, w+h)
    starts = origins - (window - 1)
    block = views[starts]  # (n, features, window + horizon)
    x = np.swapaxes(block[:, :, :window], 1, 2)  # (n, window, features)
    y = block[:, 0, window:]  # (n, horizon): the target is feature 0
    return x, (y if base is None else y - base[origins])


def last_input(z: np.ndarray, window: int) -> np.ndarray:
    """The most recent input window, shaped (1, window, features), for forecasting."""
    z2 = z[:, None] if z.ndim == 1 else z
    if len(z2) < window:
        raise ForecastError(f"need at least {window} observations after the transform to forecast, got {len(z2)}")
    return z2[-window:][None].astype(np.float32)


def gathers(n_windows: int, window: int, features: int, horizon: int) -> bool:
    """Whether make_dataset gathers ``n_windows`` windows from the series batch by batch instead of copying them:
    there are more than ``COPY_WINDOWS`` (tf.data's shuffle buffer holds each copied window as a tensor of its
    own: 66,000 windows of 30 values took 45 MB more than their origins and an epoch of them iterated slower), or
    their float32 inputs and labels would take more than ``COPY_BYTES``."""
    return n_windows > COPY_WINDOWS or 4 * n_windows * (window * features + horizon) > COPY_BYTES


def make_dataset(z: np.ndarray, origins: np.ndarray, window: int, horizon: int, batch_size: int,
                 shuffle: bool = False, seed: int = 0, base: np.ndarray | None = None, gather: bool | None = None):
    """A tf.data pipeline of (x, y) batches, shuffled by origin when asked.

    ``base`` (time, horizon): a forecast made at each row as an origin (a residual hybrid's statistical part,
    models/residual.py); the labels are then what it leaves, ``z[j + 1 .. j + horizon, 0] - base[j]``.

    A few windows (``gathers``: up to 20,000 taking up to 16 MB) are copied once into arrays that the pipeline
    shuffles and batches (``gather=False``); more are gathered from the series batch by batch (``gather=True``),
    so memory stays proportional to the series, not to rows x window. The batches are the same either way, in the
    same order for a seed. Without tf.data running a gather function for every batch, a 7- or 8-epoch fit of
    the default network on 3,481 windows of the S&P 500's size (0.9 MB copied) was faster in 9 of 11 paired
    runs, by 0.77 s in the median (bench/README.md).

    tf.data's autotuning is off and two batches are prefetched: with it on, the iterator Keras makes at each
    epoch often waited up to 0.6 s before its first batch, 0.6-2.2 s in all over a 9-epoch fit of the default
    network on the S&P 500's windows, against 0.1 s with it off. The batches are the same (bench/README.md).
    """
    import tensorflow as tf

    z2 = np.asarray(z[:, None] if z.ndim == 1 else z, dtype=np.float32)  # (time, features)
    origins = np.asarray(origins, dtype=np.int64)
    if gather is None:
        gather = gathers(len(origins), window, z2.shape[1], horizon)
    options = tf.data.Options()
    options.autotune.enabled = False
    if not gather:
        x, y = window_arrays(z2, origins, window, horizon, None if base is None else np.asarray(base, np.float32))
        ds = tf.data.Dataset.from_tensor_slices((np.ascontiguousarray(x), np.ascontiguousarray(y)))
        if shuffle:
            ds = ds.shuffle(len(origins), seed=seed, reshuffle_each_iteration=True)
        return ds.batch(batch_size).prefetch(PREFETCH).with_options(options)

    series = tf.constant(z2)
    in_offsets = tf.range(-window + 1, 1, dtype=tf.int64)  # (window,)
    out_offsets = tf.range(1, horizon + 1, dtype=tf.int64)  # (horizon,)
    bases = None if base is None else tf.constant(np.asarray(base, dtype=np.float32))  # (time, horizon)

    def fetch(j):  # j: (batch,) origins
        x = tf.gather(series, j[:, None] + in_offsets)  # (batch, window, features)
        y = tf.gather(series[:, 0], j[:, None] + out_offsets)  # (batch, horizon)
        if bases is not None:
            y = y - tf.gather(bases, j)
        return x, y

    ds = tf.data.Dataset.from_tensor_slices(origins)
    if shuffle:
        ds = ds.shuffle(len(origins), seed=seed, reshuffle_each_iteration=True)
    return ds.batch(batch_size).map(fetch).prefetch(PREFETCH).with_options(options)
