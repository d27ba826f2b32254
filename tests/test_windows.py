"""Windows and splits: inputs and labels line up exactly, and no label crosses its part's boundary."""

from __future__ import annotations

import re

import numpy as np
import pytest

from forecast.errors import ForecastError
from forecast.data.windows import Split, chronological_split, last_input, make_dataset, rows_needed, window_arrays

W, H = 10, 3


@pytest.mark.parametrize("offset", [0, 1])
def test_window_arrays_line_up_with_origins(offset):
    n = 200
    z = np.arange(n - offset, dtype=np.float64)  # value == index, so every element names its own position
    split = chronological_split(n, W, H, 0.15, 0.15, offset)
    for origins in (split.train_origins, split.val_origins, split.test_origins):
        x, y = window_arrays(z, origins, W, H)
        assert x.shape == (len(origins), W, 1) and y.shape == (len(origins), H)
        for j, xi, yi in zip(origins, x, y):
            np.testing.assert_array_equal(xi[:, 0], np.arange(j - W + 1, j + 1))  # z[j-w+1 .. j]
            np.testing.assert_array_equal(yi, np.arange(j + 1, j + H + 1))  # z[j+1 .. j+h]
            assert not set(yi.tolist()) & set(xi[:, 0].tolist())  # no label inside its own input


def test_window_arrays_multifeature_labels_are_feature_zero():
    z = np.stack([np.arange(50.0), -np.arange(50.0)], axis=1)  # (time, 2)
    x, y = window_arrays(z, np.array([9, 20]), W, H)
    assert x.shape == (2, W, 2)
    np.testing.assert_array_equal(x[1, :, 1], -np.arange(11, 21))
    np.testing.assert_array_equal(y[1], [21, 22, 23])


@pytest.mark.parametrize("n, offset", [(120, 0), (120, 1), (333, 1), (1000, 0)])
def test_split_labels_stay_inside_their_part(n, offset):
    s = chronological_split(n, W, H, 0.15, 0.15, offset)
    assert s.n_train + s.n_val + s.n_test == n
    assert s.n_val == round(n * 0.15) and s.n_test == round(n * 0.15)

    def labels(origins):
        return origins[:, None] + np.arange(1, H + 1)

    tr, va, te = labels(s.train_origins), labels(s.val_origins), labels(s.test_origins)
    val_lo, test_lo = s.n_train - offset, s.n_train + s.n_val - offset  # first z index of each part
    assert tr.min() >= 0 and tr.max() == val_lo - 1  # the last train window ends exactly at the boundary
    assert va.min() == val_lo and va.max() == test_lo - 1
    assert te.min() == test_lo and te.max() == n - offset - 1
    assert (s.train_origins - W + 1).min() == 0  # the first window starts at the series' start
    # chronological and disjoint: every train label precedes every val label precedes every test label
    assert tr.max() < va.min() and va.max() < te.min()
    for origins in (s.train_origins, s.val_origins, s.test_origins):
        assert np.all(np.diff(origins) == 1)


def test_split_origins_with_fixed_counts():
    s = Split(n_train=30, n_val=10, n_test=10, offset=1, window=5, horizon=2)
    np.testing.assert_array_equal(s.train_origins, np.arange(4, 27))  # labels up to z[28] = p[29]
    np.testing.assert_array_equal(s.val_origins, np.arange(28, 37))  # labels z[29..38]
    np.testing.assert_array_equal(s.test_origins, np.arange(38, 47))  # labels z[39..48]


@pytest.mark.parametrize("window, horizon, offset", [(10, 3, 1), (30, 10, 1), (5, 1, 0), (60, 20, 0)])
def test_too_few_rows_message_gives_the_true_minimum(window, horizon, offset):
    needed = rows_needed(window, horizon, 0.15, 0.15, offset)
    chronological_split(needed, window, horizon, 0.15, 0.15, offset)  # the minimum itself is accepted
    with pytest.raises(ForecastError) as e:
        chronological_split(needed - 1, window, horizon, 0.15, 0.15, offset)
    msg = str(e.value)
    assert msg.startswith(f"{needed - 1} rows are too few for --window {window} and --horizon {horizon}")
    assert int(re.search(r"at least (\d+) rows are needed", msg).group(1)) == needed
    assert "use a longer series or a smaller --window/--horizon" in msg


def test_last_input_is_the_latest_window():
    z = np.arange(40, dtype=np.float64)
    x = last_input(z, W)
    assert x.shape == (1, W, 1) and x.dtype == np.float32
    np.testing.assert_array_equal(x[0, :, 0], np.arange(30, 40))
    with pytest.raises(ForecastError, match="need at least 10 observations after the transform to forecast, got 9"):
        last_input(z[:9], W)


def _collect(ds):
    xs, ys = zip(*[(x.numpy(), y.numpy()) for x, y in ds])
    return xs, np.concatenate(xs), np.concatenate(ys)


@pytest.mark.parametrize("gather", [True, False])
def test_make_dataset_yields_the_window_arrays(gather):
    z = np.arange(150, dtype=np.float32)
    origins = chronological_split(151, W, H, 0.15, 0.15, 1).train_origins
    x_ref, y_ref = window_arrays(z, origins, W, H)
    batches, x, y = _collect(make_dataset(z, origins, W, H, batch_size=16, gather=gather))
    assert [b.shape for b in batches[:-1]] == [(16, W, 1)] * (len(origins) // 16)
    assert batches[-1].shape == (len(origins) - 16 * (len(origins) // 16) or 16, W, 1)
    np.testing.assert_array_equal(x, x_ref)
    np.testing.assert_array_equal(y, y_ref)

    _, xs, ys = _collect(make_dataset(z, origins, W, H, batch_size=16, shuffle=True, seed=3, gather=gather))
    order = np.argsort(xs[:, -1, 0])  # the last input value is the origin
    assert not np.array_equal(xs[:, -1, 0], x_ref[:, -1, 0])  # shuffled...
    np.testing.assert_array_equal(xs[order], x_ref)  # ...but the same windows, each with its own labels
    np.testing.assert_array_equal(ys[order], y_ref)


def test_copied_and_gathered_windows_give_the_same_batches_in_the_same_order_every_epoch():
    """Training is the same whichever way make_dataset takes: batch for batch, epoch after epoch (reshuffled
    with the seed), with several input channels and a hybrid's statistical forecasts taken off the labels."""
    rng = np.random.default_rng(5)
    z = rng.normal(size=(300, 3)).astype(np.float32)
    base = rng.normal(size=(300, H)).astype(np.float32)
    origins = np.arange(W - 1, 250)
    copied = make_dataset(z, origins, W, H, batch_size=32, shuffle=True, seed=11, base=base, gather=False)
    gathered = make_dataset(z, origins, W, H, batch_size=32, shuffle=True, seed=11, base=base, gather=True)
    epochs = []
    for _ in range(3):
        a, b = list(copied), list(gathered)
        assert len(a) == len(b) == -(-len(origins) // 32)
        for (xa, ya), (xb, yb) in zip(a, b):
            np.testing.assert_array_equal(xa.numpy(), xb.numpy())
            np.testing.assert_array_equal(ya.numpy(), yb.numpy())
        epochs.append(np.concatenate([x.numpy()[:, -1, 0] for x, _ in a]))
    assert not np.array_equal(epochs[0], epochs[1])  # reshuffled each epoch, the same way on both paths
    x, y = window_arrays(z, origins, W, H)
    labels = np.concatenate([yb.numpy() for _, yb in a])  # the last epoch's, in its order
    order = [int(np.flatnonzero(x[:, -1, 0] == v)[0]) for v in epochs[-1]]
    np.testing.assert_array_equal(labels, y[order] - base[origins[order]])  # what the base leaves


def test_up_to_20000_windows_of_up_to_16_mb_are_copied_and_more_are_gathered():
    from forecast.data.windows import COPY_BYTES, COPY_WINDOWS, gathers

    assert (COPY_WINDOWS, COPY_BYTES) == (20_000, 16 * 2**20)
    assert not gathers(3_481, 30, 2, 10)  # the S&P 500's training windows with a hybrid's channel: 0.9 MB
    assert not gathers(20_000, 30, 2, 10) and gathers(20_001, 30, 1, 10)  # more windows than that: gathered
    assert gathers(66_000, 30, 1, 10)  # 100 series x 1,000 rows: gathered, as the copy took 45 MB more
    assert gathers(1_000_000, 60, 1, 10)  # a million rows, window 60
    per_window = 4 * (250 * 4 + 10)  # long windows of several channels: the bytes decide
    assert not gathers(COPY_BYTES // per_window, 250, 4, 10) and gathers(COPY_BYTES // per_window + 1, 250, 4, 10)


DAYS = np.arange(np.datetime64("2020-01-01"), np.datetime64("2020-01-01") + 300)  # 300 days


@pytest.mark.parametrize("n", [68, 100, 201, 300])
def test_a_panel_of_one_is_split_as_one_series(n):
    from forecast.data.windows import panel_splits

    splits, why = panel_splits({"only": DAYS[:n]}, 10, 3, 0.15, 0.15, 1)
    assert why == {} and splits == {"only": chronological_split(n, 10, 3, 0.15, 0.15, 1)}


def test_a_panel_is_split_at_the_same_dates_and_a_series_without_a_part_is_left_out():
    """LONG has every day, LATE starts on day 150, GONE ends on day 220: the validation part begins on day 210 and
    the test part on day 255 for every series (the panel's days split as one series' rows), so no series trains
    past another's validation start; GONE has no test rows and is left out with the reason."""
    from forecast.data.windows import panel_splits

    splits, why = panel_splits({"LONG": DAYS, "LATE": DAYS[150:], "GONE": DAYS[:220]}, 10, 3, 0.15, 0.15, 1)
    assert splits["LONG"] == Split(210, 45, 45, 1, 10, 3) and splits["LATE"] == Split(60, 45, 45, 1, 10, 3)
    assert why == {"GONE": "too few rows in the test part for --window 10 and --horizon 3: it ends on 2020-08-07 "
                           "(210 rows before the validation part from 2020-07-29, 10 in it, 0 in the test part from "
                           "2020-09-12); the series of a file are split at the same dates, so train this one from a "
                           "file of its own"}
    _, late = panel_splits({"LONG": DAYS, "NEW": DAYS[205:], "TEST": DAYS[260:]}, 10, 3, 0.15, 0.15, 1)
    assert late["NEW"].startswith("too few rows in the training part for --window 10 and --horizon 3: it starts on "
                                  "2020-07-24 (5 rows before the validation part from 2020-07-29, 45 in it, 45 in")
    assert late["TEST"].startswith("too few rows in the training part for --window 10 and --horizon 3: it starts on "
                                   "2020-09-17 (0 rows before")  # inside the test part: it starts late, not ends
    for sid, start in (("LONG", 0), ("LATE", 150)):  # the same two dates begin each series' parts
        assert DAYS[start + splits[sid].n_train] == DAYS[210] and DAYS[start + splits[sid].n_train
                                                                      + splits[sid].n_val] == DAYS[255]


def test_folds_of_series_fitted_together_cut_them_at_the_same_dates():
    """For one series, date_folds are make_folds; for a panel, each fold's origin is the same date in every series
    (LATE's index 150 lower), and a series that ends before the last fold's forecasts is left out."""
    from forecast.evaluation.folds import date_folds, make_folds

    alone, why = date_folds({"only": DAYS}, 3, 4, 5, "rolling", 100, 2)
    assert why == {} and alone["only"] == make_folds(300, 3, 4, 5, "rolling", 100, 2)
    folds, why = date_folds({"LONG": DAYS, "LATE": DAYS[150:], "GONE": DAYS[:290]}, 3, 4, 5, min_train={"LATE": 20})
    assert [f.origin for f in folds["LONG"]] == [281, 286, 291, 296]
    assert [f.origin - 150 for f in folds["LONG"]] == [f.origin for f in folds["LATE"]]
    assert why == {"GONE": "0 of its rows lie after the last fold's origin (2020-10-23), fewer than --horizon 3: "
                           "series fitted together are cut at the same dates; backtest it alone or with --per-series"}
