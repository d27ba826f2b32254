"""Hypothesis properties of the window builder (forecast/data/windows.py) over random lengths, windows, horizons, fractions.

The series used is ``z = arange``, so every value is its own index and a window shows exactly where it reads.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from forecast.errors import ForecastError
from forecast.data.windows import chronological_split, last_input, make_dataset, rows_needed, window_arrays

FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
TF = settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])

split_args = st.fixed_dictionaries({
    "n": st.integers(2, 400),
    "window": st.integers(2, 40),
    "horizon": st.integers(1, 15),
    "val_frac": st.floats(0.05, 0.45),
    "test_frac": st.floats(0.05, 0.45),
    "offset": st.sampled_from([0, 1]),
})


def labels_of(origins: np.ndarray, horizon: int) -> np.ndarray:
    return origins[:, None] + np.arange(1, horizon + 1)  # (n, horizon) indices into z


@FAST
@given(split_args)
@example({"n": 94, "window": 8, "horizon": 15, "val_frac": 0.3359375, "test_frac": 0.3359375, "offset": 1})
def test_split_parts_never_leak_labels_forward(a):
    assume(a["val_frac"] + a["test_frac"] < 0.8)
    try:
        s = chronological_split(**a)
    except ForecastError as e:
        needed = rows_needed(a["window"], a["horizon"], a["val_frac"], a["test_frac"], a["offset"])
        assert a["n"] < needed and f"at least {needed} rows are needed" in str(e)
        return
    n, w, h, off = a["n"], a["window"], a["horizon"], a["offset"]
    assert s.n_train + s.n_val + s.n_test == n and min(s.n_val, s.n_test) >= 0
    train_end, val_end, z_len = s.n_train - off, s.n_train + s.n_val - off, n - off  # exclusive ends in z
    parts = {"train": (s.train_origins, 0, train_end), "val": (s.val_origins, train_end, val_end),
             "test": (s.test_origins, val_end, z_len)}
    assert len(s.train_origins) >= 8 and len(s.val_origins) >= 1 and len(s.test_origins) >= 1
    for name, (origins, start, end) in parts.items():
        assert np.all(np.diff(origins) == 1), name  # consecutive, in time order
        assert origins[0] - w + 1 >= 0, name  # the input fits in the series
        labels = labels_of(origins, h)
        assert labels.min() >= start and labels.max() < end, name  # labels stay inside their own part
    # train labels never reach val/test; val labels never reach test
    assert labels_of(s.train_origins, h).max() < train_end <= labels_of(s.val_origins, h).min()
    assert labels_of(s.val_origins, h).max() < val_end <= labels_of(s.test_origins, h).min()


@FAST
@given(split_args)
def test_rows_needed_is_the_least_usable_length(a):
    assume(a["val_frac"] + a["test_frac"] < 0.8)
    args = {k: v for k, v in a.items() if k != "n"}
    needed = rows_needed(**args)
    for n in range(needed, needed + 40):  # "at least" holds: every longer series splits too
        chronological_split(n, **args)
    with pytest.raises(ForecastError, match=f"{needed - 1} rows are too few"):
        chronological_split(needed - 1, **args)


@FAST
@given(st.integers(2, 30), st.integers(1, 12), st.integers(0, 80), st.integers(1, 3), st.data())
def test_window_arrays_shapes_and_labels_strictly_after_inputs(window, horizon, extra, features, data):
    length = window + horizon + extra
    z = np.arange(length, dtype=np.float64)
    z2 = np.stack([z] + [z * 10 + k for k in range(1, features)], axis=1) if features > 1 else z
    all_origins = np.arange(window - 1, length - horizon)
    origins = np.sort(data.draw(st.lists(st.sampled_from(all_origins.tolist()), min_size=1, max_size=20)))
    x, y = window_arrays(z2, np.asarray(origins), window, horizon)
    assert x.shape == (len(origins), window, features) and y.shape == (len(origins), horizon)
    for i, o in enumerate(origins):
        assert np.array_equal(x[i, :, 0], np.arange(o - window + 1, o + 1))  # the input ends at the origin
        assert np.array_equal(y[i], np.arange(o + 1, o + horizon + 1))  # labels are the next horizon values
        if features > 1:
            assert np.array_equal(x[i, :, 1], x[i, :, 0] * 10 + 1)
    assert np.all(y.min(axis=1) > x[:, :, 0].max(axis=1))  # every label strictly after its input


@FAST
@given(st.integers(2, 30), st.integers(0, 50))
def test_last_input_is_the_final_window(window, extra):
    z = np.arange(window + extra, dtype=np.float64)
    x = last_input(z, window)
    assert x.shape == (1, window, 1) and x.dtype == np.float32
    assert np.array_equal(x[0, :, 0], z[-window:])
    with pytest.raises(ForecastError, match=f"need at least {window} observations .* got {window - 1}"):
        last_input(z[: window - 1], window)


@TF
@given(st.integers(2, 12), st.integers(1, 5), st.integers(0, 40), st.integers(1, 9), st.booleans(), st.booleans())
def test_make_dataset_equals_window_arrays(window, horizon, extra, batch, gather, shuffle):
    length = window + horizon + extra
    z = np.arange(length, dtype=np.float32) / 7
    origins = np.arange(window - 1, length - horizon)
    x_ref, y_ref = window_arrays(z, origins, window, horizon)
    batches = list(make_dataset(z, origins, window, horizon, batch, shuffle=shuffle, seed=3, gather=gather))
    assert all(len(bx) <= batch for bx, _ in batches)
    x = np.concatenate([bx.numpy() for bx, _ in batches])
    y = np.concatenate([by.numpy() for _, by in batches])
    assert x.shape == x_ref.shape and y.shape == y_ref.shape
    if shuffle:  # same windows, other order: match them up by their last input value (unique)
        order = np.argsort(x[:, -1, 0])
        x, y = x[order], y[order]
    assert np.array_equal(x, x_ref.astype(np.float32)) and np.array_equal(y, y_ref.astype(np.float32))
