"""forecast.evaluation.intervals: conformal coverage, interval scores, level parsing, and --interval through a tiny model."""

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from forecast.evaluation import intervals as iv
from forecast.config import ModelConfig, RunConfig, TrainConfig, WindowConfig
from forecast.errors import ForecastError
from forecast.evaluation.intervals import ConformalCalibrator

# ---- scores against hand-computed values ----

ACTUAL, LOWER, UPPER = [1, 2, 3, 4], [0, 2.5, 2, 5], [2, 3, 4, 6]


def test_coverage_and_width_by_hand():
    assert iv.coverage(ACTUAL, LOWER, UPPER) == 0.5  # 1 and 3 inside, 2 below, 4 below
    assert iv.coverage([2, 3], [2, 1], [3, 3]) == 1.0  # bounds count as inside
    assert iv.mean_width(LOWER, UPPER) == pytest.approx((2 + 0.5 + 2 + 1) / 4)


def test_winkler_by_hand():
    # alpha 0.2 -> penalty 10 x miss: widths 2, .5, 2, 1; misses 0, .5, 0, 1
    assert iv.winkler_score(ACTUAL, LOWER, UPPER, 0.8) == pytest.approx((2 + 5.5 + 2 + 11) / 4)


def test_pinball_by_hand():
    # d = actual - pred = -1, 0, 2 -> max(.9 d, -.1 d) = .1, 0, 1.8
    assert iv.pinball_loss([1, 2, 3], [2, 2, 1], 0.9) == pytest.approx(1.9 / 3)
    assert iv.pinball_loss([1, 2, 3], [2, 2, 1], 0.5) == pytest.approx(0.5 * (1 + 0 + 2) / 3)  # half the MAE


def test_scores_reject_mismatched_shapes():
    with pytest.raises(ValueError, match="shapes differ"):
        iv.coverage([1, 2], [0, 1, 2], [3, 3])


# ---- the conformal quantile ----

def test_conformal_rank_is_finite_sample():
    assert iv.conformal_rank(9, 0.8) == 8  # ceil(10 * .8)
    assert iv.conformal_rank(10, 0.8) == 9  # ceil(8.8)
    assert iv.conformal_rank(3, 0.95) == 3  # capped at n
    cal = ConformalCalibrator("abs").fit(np.zeros((10, 1)), np.arange(1, 11, dtype=float)[:, None])
    down, up = cal.quantiles(0.8)
    assert up[0] == down[0] == 9.0


@pytest.mark.parametrize("method", iv.METHODS)
@pytest.mark.parametrize("space", iv.SPACES)
def test_coverage_of_gaussian_noise_is_nominal(space, method):
    """Fitted on 1000 draws per step, checked on 5000 new ones, each step within a stated tolerance of nominal.

    Tolerances are about 2 standard errors of the empirical coverage, sqrt(L (1 - L) (1/1000 + 1/5000)):
    0.017 at 50%, 0.014 at 80%, 0.0075 at 95%.
    """
    tolerance = {0.5: 0.04, 0.8: 0.03, 0.95: 0.015}
    rng = np.random.default_rng(0)
    sigma = np.array([0.01, 0.02, 0.03])  # spread grows with the step
    forecast = np.full((1000, 3), 100.0)
    noise = rng.normal(0, sigma, (1000, 3))
    actual = forecast * np.exp(noise) if space == "log" else forecast + 100 * noise
    cal = ConformalCalibrator(space, method).fit(forecast, actual, forecast[:, 0])
    new_f = np.full((5000, 3), 100.0)
    new_noise = rng.normal(0, sigma, (5000, 3))
    new_a = new_f * np.exp(new_noise) if space == "log" else new_f + 100 * new_noise
    for level, tol in tolerance.items():
        lo, hi = cal.intervals(new_f, levels=(level,))[level]
        for k in range(3):
            assert abs(iv.coverage(new_a[:, k], lo[:, k], hi[:, k]) - level) <= tol, (level, k)


def test_bands_ordered_nested_and_widening():
    rng = np.random.default_rng(1)
    # skewed residuals whose spread shrinks at step 3: the cumulative maximum keeps widths non-decreasing
    res = np.abs(rng.normal(0, [1.0, 2.0, 1.0], (400, 3))) + 0.5  # all positive: signed lower tail clips to 0
    for method in iv.METHODS:
        cal = ConformalCalibrator("abs", method).fit(np.zeros((400, 3)), res)
        path = np.array([10.0, 11.0, 9.0, 9.5, 12.0, 8.0])  # 6 steps: 3 beyond the calibrated horizon
        bands = cal.intervals(path, 10.0, (0.5, 0.8, 0.95))
        for lo, hi in bands.values():
            assert np.all(lo <= path) and np.all(path <= hi)
            assert np.all(np.diff(hi - lo) >= 0)
        assert all(np.all(bands[w][0] <= bands[n][0]) and np.all(bands[w][1] >= bands[n][1])
                   for w, n in ((0.95, 0.8), (0.8, 0.5)))
    down, up = ConformalCalibrator("abs").fit(np.zeros((400, 3)), res).quantiles(0.8, steps=12)
    assert up[2] == pytest.approx(up[1])  # step 3 raised to step 2's width
    assert up[11] == pytest.approx(up[2] * np.sqrt(12 / 3))  # sqrt(s/h) beyond the horizon


def test_log_space_bands_are_multiplicative_and_positive():
    rng = np.random.default_rng(2)
    f = np.full((300, 2), 50.0)
    cal = ConformalCalibrator.for_transform("log_return").fit(f, f * np.exp(rng.normal(0, 0.5, (300, 2))))
    lo, hi = cal.intervals([0.01, 1000.0], levels=(0.99,))[0.99]
    assert np.all(lo > 0)
    assert hi[1] / 1000.0 == pytest.approx(1000.0 / lo[1])  # symmetric in log units
    assert ConformalCalibrator.for_transform("diff").space == "abs"


def test_round_trip_through_json_and_thinning():
    rng = np.random.default_rng(3)
    a = rng.normal(0, 1, (5000, 2))
    cal = ConformalCalibrator("abs").fit(np.zeros_like(a), a)
    d = json.loads(json.dumps(cal.to_dict()))
    assert d["n"] == [5000, 5000] and len(d["residuals"][0]) == iv.MAX_STORED
    back = ConformalCalibrator.from_dict(d)
    exact = np.sort(np.abs(a[:, 0]))[iv.conformal_rank(5000, 0.8) - 1]
    assert back.quantiles(0.8)[1][0] == pytest.approx(exact, rel=0.01)
    assert back.intervals([1.0, 2.0], levels=(0.8,))[0.8][1] == pytest.approx(cal.intervals([1.0, 2.0])[0.8][1])


def test_unfitted_calibrator_raises():
    with pytest.raises(RuntimeError, match="not fitted"):
        ConformalCalibrator().intervals([1.0])


# ---- levels and column names ----

def test_parse_levels():
    assert iv.parse_levels("0.8") == (0.8,)
    assert iv.parse_levels(" 0.95, 0.5,0.8,0.5") == (0.5, 0.8, 0.95)
    assert iv.parse_levels("none") == ()


@pytest.mark.parametrize("bad", ["0", "1", "1.5", "abc", "", "0.8,", "nan", "-0.2"])
def test_parse_levels_rejects(bad):
    with pytest.raises(ForecastError, match="strictly between 0 and 1") as e:
        iv.parse_levels(bad)
    assert f"--interval {bad!r}" in str(e.value)


def test_column_names():
    assert iv.column_names([0.8]) == [(0.8, "lower", "upper")]
    assert [c[1:] for c in iv.column_names([0.975, 0.5])] == [("lower_50", "upper_50"), ("lower_97.5", "upper_97.5")]


def test_fan_draws_decimal_levels():
    from forecast.output.plots import forecast_figure

    dates = pd.bdate_range("2021-01-01", periods=6)
    hist = pd.DataFrame({"date": dates[:3], "price": [1.0, 2, 3]})
    fc = pd.DataFrame({"date": dates[3:], "forecast": [3.0, 3, 3], "lower_50": [2.0] * 3, "upper_50": [4.0] * 3,
                       "lower_97.5": [1.0] * 3, "upper_97.5": [5.0] * 3})
    labels = [t.get_text() for t in forecast_figure(hist, fc).axes[0].get_legend().get_texts()]
    assert labels[1:3] == ["97.5% interval", "50% interval"]


# ---- volatility scaling (daily calendars) ----

def _regime_walk(calm=0.005, wild=0.02, n_calm=600, n_wild=300, seed=5):
    rng = np.random.default_rng(seed)
    sig = np.r_[np.full(n_calm, calm), np.full(n_wild, wild)]
    return 100 * np.exp(np.cumsum(rng.normal(0, sig)))


def _naive_coverage(cal, prices, origins, h=5):
    f = np.repeat(prices[origins][:, None], h, axis=1)
    a = prices[origins[:, None] + np.arange(1, h + 1)]
    return iv.evaluate(cal, f, a, (0.8,), scales=cal.scales(prices, origins))["80"]["coverage"]


def test_volatility_scaled_bands_keep_their_coverage_when_volatility_quadruples():
    """Calibrated on a calm spell, judged after the volatility has quadrupled: the plain band covers far less than
    80%, the scaled one stays near it; in the calm spell itself both are near 80%."""
    h, p = 5, _regime_walk()
    cal_o, calm_o, wild_o = np.arange(100, 400), np.arange(400, 590), np.arange(640, 890)
    fitted = {}
    for rows in (0, iv.VOLATILITY_ROWS):
        cal = ConformalCalibrator("log", scale_rows=rows)
        f = np.repeat(p[cal_o][:, None], h, axis=1)
        fitted[rows] = cal.fit(f, p[cal_o[:, None] + np.arange(1, h + 1)], p[cal_o], scales=cal.scales(p, cal_o))
    plain, scaled = fitted[0], fitted[iv.VOLATILITY_ROWS]
    assert _naive_coverage(plain, p, wild_o) < 0.45
    assert 0.72 <= _naive_coverage(scaled, p, wild_o) <= 0.9
    assert abs(_naive_coverage(scaled, p, calm_o) - _naive_coverage(plain, p, calm_o)) < 0.08
    assert scaled.scale_ref_ == pytest.approx(np.median(scaled.scales(p, cal_o)))


def test_volatility_scale_reads_no_price_after_its_origin_and_survives_json():
    p = _regime_walk()
    cal = ConformalCalibrator("log", scale_rows=iv.VOLATILITY_ROWS)
    later = p.copy()
    later[301:] *= 1.5 + np.random.default_rng(0).uniform(0, 1, len(p) - 301)
    np.testing.assert_array_equal(cal.scales(p, [50, 300]), cal.scales(later, [50, 300]))
    assert cal.scales(p, 300)[0] == pytest.approx(np.mean(np.abs(np.diff(np.log(p[280:301])))))
    assert cal.scales(p, 5)[0] == pytest.approx(np.mean(np.abs(np.diff(np.log(p[:6])))))  # fewer rows at the start
    o = np.arange(30, 200)
    cal.fit(np.repeat(p[o][:, None], 3, axis=1), p[o[:, None] + np.arange(1, 4)], p[o], scales=cal.scales(p, o))
    back = ConformalCalibrator.from_dict(json.loads(json.dumps(cal.to_dict())))
    assert (back.scale_rows, back.scale_ref_) == (iv.VOLATILITY_ROWS, cal.scale_ref_)
    path = np.array([101.0, 102, 103])
    for origin in (300, 700):
        a = cal.intervals(path, levels=(0.8,), scales=cal.scales(p, origin))[0.8]
        b = back.intervals(path, levels=(0.8,), scales=back.scales(p, origin))[0.8]
        np.testing.assert_array_equal(a, b)
    wide = cal.intervals(path, levels=(0.8,), scales=cal.scales(p, 700))[0.8]
    calm = cal.intervals(path, levels=(0.8,), scales=cal.scales(p, 300))[0.8]
    assert np.all(wide[1] - wide[0] > 2.5 * (calm[1] - calm[0]))  # 4x the volatility: much wider
    with pytest.raises(ValueError, match="scales=cal.scales"):
        cal.intervals(path)
    old = cal.to_dict()
    del old["scale_rows"], old["scale_ref"]  # a bundle from before the scaling reads as unscaled
    assert ConformalCalibrator.from_dict(old).scales(p, [300]).tolist() == [1.0]


def test_only_daily_calendars_are_scaled():
    assert [iv.volatility_rows(f) for f in ("trading_days", "business_days", "daily")] == [iv.VOLATILITY_ROWS] * 3
    assert [iv.volatility_rows(f) for f in ("weekly", "monthly", "quarterly", "annual", "hourly")] == [0] * 5


# ---- through a real tiny model ----

@pytest.fixture(scope="module")
def bundle_dir(tmp_path_factory):
    """One tiny model (window 10, horizon 3, LSTM(8), 2 epochs) trained on a seeded random walk."""
    from forecast.data.load import synthetic_series
    from forecast.workflows.train import train

    root = tmp_path_factory.mktemp("iv")
    synthetic_series("random_walk", n=300, seed=1).to_csv(root / "walk.csv", index=False)
    cfg = RunConfig(window=WindowConfig(window=10, horizon=3), model=ModelConfig(layers=(8,), dropout=0.0),
                    train=TrainConfig(epochs=2, batch_size=32, patience=2, seed=7, device="cpu"))
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(root)  # models/LATEST lands here
        outcome = train(root / "walk.csv", cfg, root / "model", verbose=0)
    return outcome.bundle_dir


def cli(*args):
    from forecast.cli import app

    return CliRunner().invoke(app, [str(a) for a in args])


def test_train_stores_calibration_and_reports_coverage(bundle_dir):
    (metrics,) = json.loads((bundle_dir / "metrics.json").read_text())["test"]["series"].values()
    (entry,) = json.loads((bundle_dir / "series.json").read_text())["series"]
    stored = entry["intervals"]
    rep = metrics["intervals"]
    assert rep["method"] == "symmetric" and rep["space"] == "log" and rep["measured_on"] == "test part"
    assert stored["n"] == [rep["n_calibration"]] * 3
    lv = rep["levels"]["80"]
    assert lv["nominal"] == 0.8 and 0.5 < lv["coverage"] <= 1 and lv["mean_width"] > 0
    assert len(lv["coverage_per_step"]) == 3
    # what a calibrated band would show from the test part's origins (every row's, one apart)
    assert lv["calibrated_range"] == [*iv.calibrated_range(0.8, np.arange(metrics["n_origins"]), 3), iv.RANGE_MASS]
    assert stored["scale_rows"] == rep["scale_rows"] == iv.VOLATILITY_ROWS and rep["scaled_by"].startswith("volatility")


def test_cli_one_and_several_levels(bundle_dir):
    r = cli("predict", "-m", bundle_dir, "--horizon", 7, "--interval", "0.8", "--out", "one.csv")
    assert r.exit_code == 0, r.output
    one = pd.read_csv("one.csv")
    assert list(one.columns) == ["date", "forecast", "lower", "upper"]
    r = cli("predict", "-m", bundle_dir, "--horizon", 7, "--interval", "0.95,0.5,0.8", "--out", "many.csv")
    assert r.exit_code == 0, r.output
    f = pd.read_csv("many.csv")
    assert list(f.columns) == ["date", "forecast", "lower_50", "upper_50", "lower_80", "upper_80",
                               "lower_95", "upper_95"]
    assert np.allclose(f[["lower_80", "upper_80"]].to_numpy(), one[["lower", "upper"]].to_numpy())
    for lv in ("50", "80", "95"):
        lo, hi = f[f"lower_{lv}"], f[f"upper_{lv}"]
        assert (lo > 0).all() and (lo <= f.forecast).all() and (f.forecast <= hi).all()
        assert (np.diff(np.log(hi / lo)) >= -1e-12).all()  # widens with the step, also beyond horizon 3
    assert (f.lower_95 <= f.lower_80).all() and (f.lower_80 <= f.lower_50).all()
    assert (f.upper_95 >= f.upper_80).all() and (f.upper_80 >= f.upper_50).all()


def test_cli_default_json_and_none(bundle_dir):
    r = cli("predict", "-m", bundle_dir, "--json")
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert isinstance(out, list) and set(out[0]) == {"date", "forecast", "lower", "upper"}
    r = cli("predict", "-m", bundle_dir, "--json", "--interval", "none")
    assert set(json.loads(r.stdout)[0]) == {"date", "forecast"}


@pytest.mark.parametrize("bad", ["0", "1", "1.5", "abc"])
def test_cli_bad_level_exits_2(bundle_dir, bad):
    r = cli("predict", "-m", bundle_dir, "--interval", bad)
    assert r.exit_code == 2
    assert f"error: --interval '{bad}': level '{bad}' is not a number strictly between 0 and 1" in r.output
    assert "Traceback" not in r.output


def test_fan_names_the_level_of_plain_lower_upper_columns():
    from forecast.output.plots import forecast_figure

    dates = pd.bdate_range("2021-01-01", periods=6)
    hist = pd.DataFrame({"date": dates[:3], "price": [1.0, 2, 3]})
    fc = pd.DataFrame({"date": dates[3:], "forecast": [3.0] * 3, "lower": [2.0] * 3, "upper": [4.0] * 3})
    labels = [t.get_text() for t in forecast_figure(hist, fc, plain_level=0.8).axes[0].get_legend().get_texts()]
    assert "80% interval" in labels
    labels = [t.get_text() for t in forecast_figure(hist, fc).axes[0].get_legend().get_texts()]
    assert "interval" in labels


def test_a_scaled_calibrator_needs_the_scales_and_flat_prices_turn_scaling_off():
    p = _regime_walk()
    o = np.arange(30, 200)
    f, a = np.repeat(p[o][:, None], 3, axis=1), p[o[:, None] + np.arange(1, 4)]
    with pytest.raises(ValueError, match="pass scales=cal.scales"):
        ConformalCalibrator("log", scale_rows=iv.VOLATILITY_ROWS).fit(f, a, p[o])
    flat = np.full(300, 50.0)
    cal = ConformalCalibrator("abs", scale_rows=iv.VOLATILITY_ROWS)
    cal.fit(np.full((len(o), 3), 49.0), flat[o[:, None] + np.arange(1, 4)], flat[o], scales=cal.scales(flat, o))
    assert cal.scale_rows == 0 and cal.intervals(np.full(3, 49.0), levels=(0.8,))[0.8][1].tolist() == [50.0] * 3
