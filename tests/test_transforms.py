"""Target transforms and the scaler: exact round trips to prices, statistics from the training part only."""

from __future__ import annotations

import json

import numpy as np
import pytest

from forecast.data.load import load_prices, synthetic_series
from forecast.errors import ForecastError
from forecast.data.transforms import Preprocessor

PRICES = synthetic_series("random_walk", n=120, seed=5)["Close"].to_numpy()


@pytest.mark.parametrize("kind, offset", [("level", 0), ("diff", 1), ("log_return", 1)])
def test_decode_of_true_next_values_reproduces_prices(kind, offset):
    prep = Preprocessor(kind).fit(PRICES[:80])
    z = prep.encode(PRICES)  # scaled, float32
    assert prep.offset == offset and len(z) == len(PRICES) - offset
    h = 5
    origins = np.arange(20, len(PRICES) - h)
    # the scaled z of the h prices after each origin i: z[i + 1 - offset .. i + h - offset]
    future = np.stack([z[i + 1 - offset: i + 1 - offset + h] for i in origins])  # (n, h)
    decoded = prep.decode(PRICES[origins], future)
    expected = np.stack([PRICES[i + 1: i + 1 + h] for i in origins])
    np.testing.assert_allclose(decoded, expected, rtol=1e-5)
    # a single origin with a flat (h,) vector works too
    np.testing.assert_allclose(prep.decode(PRICES[origins[0]], future[0]), expected[0], rtol=1e-5)


@pytest.mark.parametrize("kind", ["level", "diff", "log_return"])
def test_encode_is_standardised_on_the_fitting_part(kind):
    prep = Preprocessor(kind).fit(PRICES[:80])
    z = prep.encode(PRICES[:80]).astype(np.float64)
    assert abs(z.mean()) < 1e-5 and abs(z.std() - 1) < 1e-5
    np.testing.assert_allclose(prep.unscale(z), prep.transform(PRICES[:80]), rtol=1e-5, atol=1e-9)


def test_transform_values():
    p = np.array([100.0, 110.0, 99.0])
    np.testing.assert_allclose(Preprocessor("diff").transform(p), [10.0, -11.0])
    np.testing.assert_allclose(Preprocessor("log_return").transform(p), [np.log(1.1), np.log(0.9)])
    np.testing.assert_array_equal(Preprocessor("level").transform(p), p)


@pytest.mark.parametrize("bad, where", [(0.0, "value 3 is 0"), (-2.5, "value 3 is -2.5")])
def test_log_return_rejects_non_positive_prices(bad, where):
    p = np.array([10.0, 11.0, bad, 12.0])
    with pytest.raises(ForecastError) as e:
        Preprocessor("log_return").fit(p)
    assert str(e.value) == (f"the log-return transform needs positive prices, but {where}; "
                            "use --transform diff or --transform level")
    Preprocessor("diff").fit(p)  # the suggested alternatives accept it
    Preprocessor("level").fit(p)


def test_unknown_kind():
    with pytest.raises(ForecastError, match="unknown transform 'sqrt'; choose auto, log_return, diff or level"):
        Preprocessor("sqrt").fit(PRICES)


@pytest.mark.parametrize("use", [
    lambda p: p.encode(PRICES), lambda p: p.unscale(np.zeros(3)), lambda p: p.decode(100.0, np.zeros(3)),
    lambda p: p.to_dict(),
])
def test_unfitted_use_raises(use):
    with pytest.raises(RuntimeError, match="Preprocessor is not fitted: call fit"):
        use(Preprocessor("diff"))


def test_constant_training_part_stays_finite():
    prep = Preprocessor("diff").fit(np.full(20, 50.0))
    assert prep.scale_ == 1.0 and prep.mean_ == 0.0
    assert np.all(np.isfinite(prep.encode(np.full(20, 50.0))))


@pytest.mark.parametrize("kind", ["level", "diff", "log_return"])
def test_dict_round_trip(kind):
    prep = Preprocessor(kind).fit(PRICES[:80])
    d = json.loads(json.dumps(prep.to_dict()))
    assert d["fitted_on"] == "train" and d["kind"] == kind
    back = Preprocessor.from_dict(d)
    assert (back.kind, back.mean_, back.scale_) == (kind, prep.mean_, prep.scale_)
    np.testing.assert_array_equal(back.encode(PRICES), prep.encode(PRICES))


def test_training_statistics_come_from_the_training_part_only(walk_csv, tiny_cfg):
    """No leakage: the bundle's scaler equals one fitted on prices[:n_train], not on the whole series."""
    from forecast.workflows.train import train

    outcome = train(walk_csv, tiny_cfg, verbose=0)
    prices = load_prices(walk_csv).values
    (m,) = outcome.metrics["test"]["series"].values()
    n_train = m["split"]["train_rows"]
    assert n_train == len(prices) - 2 * round(len(prices) * 0.15)
    stored = json.loads((outcome.bundle_dir / "series.json").read_text())["series"][0]["preprocessor"]
    z_train = np.diff(np.log(prices[:n_train]))
    assert stored["mean"] == pytest.approx(z_train.mean(), rel=1e-9)
    assert stored["scale"] == pytest.approx(z_train.std(), rel=1e-9)
    z_all = np.diff(np.log(prices))
    assert stored["mean"] != pytest.approx(z_all.mean(), rel=1e-3)
    assert stored["scale"] != pytest.approx(z_all.std(), rel=1e-3)
    # nor fitted on train + validation (the part the model saw for early stopping)
    z_fit = np.diff(np.log(prices[:n_train + m["split"]["val_rows"]]))
    assert stored["mean"] != pytest.approx(z_fit.mean(), rel=1e-3)


def test_auto_decides_from_the_training_prices_only():
    """auto is a fitted statistic: log_return when every training price is positive, whatever comes later."""
    later_zero = np.r_[PRICES, 0.0]
    prep = Preprocessor("auto").fit(PRICES)
    assert (prep.kind, prep.chosen_because_) == ("log_return", "auto: every price is positive")
    assert Preprocessor("auto").fit(np.r_[PRICES[:3], 0.0, PRICES[3:]]).kind == "diff"
    with pytest.raises(ForecastError, match="the log-return transform needs positive prices"):
        prep.encode(later_zero)  # a later zero is a data problem the caller reports; the choice does not move
    assert Preprocessor.from_dict(prep.to_dict()) == prep
    with pytest.raises(RuntimeError, match="decides its transform in fit"):
        Preprocessor("auto").transform(PRICES)


def test_standardise_equals_numpy_and_keeps_constant_columns_finite():
    from forecast.data.transforms import standardise

    assert standardise(PRICES) == (PRICES.mean(), PRICES.std())
    x = np.column_stack([PRICES, np.full(len(PRICES), 1e6), 1e6 + 1e-11 * np.arange(len(PRICES))])
    mean, scale = standardise(x)
    assert (mean[0], scale[0]) == pytest.approx((PRICES.mean(), PRICES.std()), rel=1e-14)
    # constant, and constant within float64 rounding of its mean: no spread to divide by
    assert scale[1:].tolist() == [1.0, 1.0] and mean[1] == 1e6
    assert standardise(np.array([1.0, 3.0]))[1] == 1.0 and standardise(np.array([1.0, 3.0]))[0] == 2.0
