"""Metric functions against hand-computed values; the Diebold-Mariano test on constructed losses."""

import numpy as np
import pytest

from forecast.evaluation import metrics as M


def test_point_metrics_hand_computed():
    a, p = np.array([100.0, 110.0]), np.array([90.0, 121.0])
    assert M.mae(a, p) == pytest.approx(10.5)  # (10 + 11) / 2
    assert M.rmse(a, p) == pytest.approx(np.sqrt((100 + 121) / 2))
    assert M.mape(a, p) == pytest.approx(10.0)  # (10% + 10%) / 2
    assert M.smape(a, p) == pytest.approx(100 * (20 / 190 + 22 / 231) / 2)


def test_mase_reference_value():
    train = np.array([1.0, 3.0, 2.0, 5.0])  # naive one-step errors 2, 1, 3 -> scale 2
    assert M.naive_scale(train) == pytest.approx(2.0)
    assert M.mase([6.0, 8.0], [5.0, 5.0], M.naive_scale(train)) == pytest.approx((1 + 3) / 2 / 2)  # 1.0
    # seasonal scale with m = 2: |2 - 1|, |5 - 3| -> 1.5
    assert M.naive_scale(train, season=2) == pytest.approx(1.5)


def test_directional_accuracy_counts_signs_and_ties_as_half():
    origin = np.array([[10.0], [10.0]])
    actual = np.array([[11.0, 9.0], [12.0, 12.0]])
    pred = np.array([[10.5, 10.5], [10.0, 9.0]])  # hit, miss, tie (no call), miss
    assert M.directional_accuracy(actual, pred, origin) == pytest.approx((1 + 0 + 0.5 + 0) / 4)


def test_a_nudge_from_the_origin_is_no_directional_call():
    """A naive forecast nudged by 0.03 points on an index near 7,950 (a typical day moves 60) made no call: it
    scores as naive does, 0.5, not as ten right 'up' calls; a move of a tenth of a day is a call."""
    origin = np.full((2, 1), 7950.0)
    actual = origin + np.array([[30.0, 60.0], [20.0, 40.0]])  # prices rose: a nudge up 'called' all four
    nudged = np.repeat(origin + 0.03, 2, axis=1)
    assert M.directional_accuracy(actual, nudged, origin) == 1.0  # without a band: four right 'up' calls
    assert M.forecast_metrics(actual, nudged, origin, 60.0)["directional_accuracy"] == 0.5  # as naive's
    called = origin + np.array([[6.0, 6.0], [-6.0, -6.0]])  # 10% of a typical move: two right, two wrong
    assert M.forecast_metrics(actual, called, origin, 60.0)["directional_accuracy"] == 0.5
    assert M.forecast_metrics(actual, origin + 6.0 + 0 * actual, origin, 60.0)["directional_accuracy"] == 1.0


def test_forecast_metrics_pools_mase_over_rows_with_their_own_scale():
    actual = np.array([[2.0, 4.0], [10.0, 10.0]])
    pred = np.array([[1.0, 1.0], [12.0, 12.0]])
    out = M.forecast_metrics(actual, pred, np.array([[1.0], [11.0]]), np.array([[1.0], [4.0]]))
    assert out["mase"] == pytest.approx((1 + 3 + 0.5 + 0.5) / 4)
    assert out["mae"] == pytest.approx((1 + 3 + 2 + 2) / 4)


def test_dm_identical_forecasts_not_significant():
    e = np.random.default_rng(0).normal(size=50)
    res = M.diebold_mariano(e, e.copy(), horizon=3)
    assert res["p_value"] == pytest.approx(1.0)
    assert res["statistic"] == 0.0


def test_dm_clearly_better_model_is_significant_and_negative():
    rng = np.random.default_rng(1)
    good, bad = rng.normal(0, 0.2, 120), rng.normal(0, 2.0, 120)
    for loss in ("squared", "absolute"):
        res = M.diebold_mariano(good, bad, horizon=2, loss=loss)
        assert res["p_value"] < 0.01 and res["statistic"] < 0, loss


def test_dm_hln_statistic_hand_computed():
    ea, eb = np.array([1.0, 2.0, 1.0, 3.0]), np.zeros(4)
    # d = e_a^2 = 1, 4, 1, 9; mean 3.75; gamma0 = (7.5625 + 0.0625 + 7.5625 + 27.5625) / 4 = 10.6875
    dm = 3.75 / np.sqrt(10.6875 / 4)
    hln = np.sqrt((4 + 1 - 2 + 0) / 4)
    assert M.diebold_mariano(ea, eb, horizon=1)["statistic"] == pytest.approx(dm * hln)


def test_dm_p_value_is_students_t_with_n_minus_1_degrees_of_freedom():
    from scipy import stats

    rng = np.random.default_rng(4)
    r = M.diebold_mariano(rng.normal(size=80), 1.3 * rng.normal(size=80), horizon=3)
    assert r["p_value"] == 2 * stats.t.sf(abs(r["statistic"]), df=79) and 0.001 < r["p_value"] < 0.5


def test_anova_p_is_scipys_one_way_f_test():
    from scipy import stats

    from forecast.data.seasonal import anova_p

    rng = np.random.default_rng(6)
    for shift in (0.0, 0.3, 1.0):
        groups = [rng.normal(shift * k, 1.0, rng.integers(3, 25)) for k in range(12)]
        assert anova_p(groups) == pytest.approx(stats.f_oneway(*groups).pvalue, rel=1e-9, abs=1e-300)
    assert anova_p([np.ones(3), 2 * np.ones(4)]) == 0.0  # constant groups with different means
    assert np.isnan(anova_p([np.ones(3), np.ones(4)]))


def test_lag_scores_find_a_delayed_copy():
    actual = np.cumsum(np.random.default_rng(2).normal(size=60)) + 100
    one_step = actual[4:-1]  # the forecast of actual[t], t = 5..59, is actual[t - 1]
    scores = M.lag_scores(one_step, actual, max_lag=5)
    assert int(np.argmin(scores)) == 1 and scores[1] == pytest.approx(0.0)


def test_lag_diagnostic_calls_a_delayed_copy_a_copy_but_not_a_good_smooth_forecast():
    actual = np.cumsum(np.random.default_rng(2).normal(size=60)) + 100
    copy = M.lag_diagnostic(actual[4:-1], actual, max_lag=5)  # forecast of actual[t] is actual[t - 1]
    assert copy["best_lag"] == 1 and copy["one_step_gain_vs_naive"] == pytest.approx(0.0)
    assert "essentially repeats the last observed value" in copy["message"]
    smooth = 100 + np.arange(60) * 1.0  # a line: the forecast last + 0.9 * step is close to both lags
    good = M.lag_diagnostic(smooth[4:-1] + 0.4, smooth, max_lag=5)  # error 0.6 vs naive 1.0 at lag 0
    assert good["best_lag"] == 1 and good["one_step_gain_vs_naive"] == pytest.approx(0.4)
    assert "40% below the naive" in good["message"]
    assert "not a plain copy" in good["message"]


@pytest.mark.parametrize("few, phrase", [(1, "; 1 series has fewer than 10 independent test origins"),
                                         (2, "; 2 series have fewer than 10 independent test origins")])
def test_pooled_sentence_counts_the_series_with_too_few_origins_in_good_grammar(few, phrase):
    from forecast.evaluation.scoring import pooled_sentence

    evidence = {f"s{k}": {"independent_origins": 4 if k < few else 40} for k in range(3)}
    p = {"evidence": evidence, "n_beats_naive": 2, "n_series": 3, "n_beats_naive_significantly": 1,
         "mean_relative_mae": 0.9}
    assert pooled_sentence(p) == ("the LSTM has a lower test MAE than the naive forecast on 2 of 3 series, "
                                  "significantly (Diebold-Mariano p < 0.05) on 1; mean relative MAE 0.900 (below 1: "
                                  f"lower error than naive){phrase}: a test there can miss a real difference, and a "
                                  "significant one rests on few forecasts (run `forecast backtest`)")


def test_mape_is_undefined_where_a_price_is_zero_and_the_tables_say_so():
    """A zero actual (a spread or a diff-transformed series can have one) gives MAPE NaN, not inf or a warning,
    and the console prints n/a for it."""
    import warnings

    from forecast.output.console import _fmt

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert np.isnan(M.mape([0.0, 2.0], [1.0, 2.0])) and np.isnan(M.mape([0.0, 2.0], [0.0, 2.0]))
    assert M.smape([0.0, 2.0], [0.0, 2.0]) == 0.0
    assert [_fmt(float("nan"), pct=True), _fmt(None), _fmt(1234.5, pct=True)] == ["n/a", "n/a", "1,234.50%"]
    assert [_fmt(1234.5), _fmt(0.0), _fmt(0.5), _fmt(-0.000012345)] == ["1,234.50", "0.00", "0.5", "-1.234e-05"]


def test_pooled_summary_says_on_how_many_series_the_forecasts_are_a_statistical_models_or_naives():
    """Over many series the train summary counts the series whose network corrects a statistical model and those
    whose network weight is 0 (forecasts that model's or naive's unchanged): a win there is not the network's."""
    from forecast.evaluation.scoring import pooled, pooled_sentence

    def series(hybrid, weight, lstm_mae):
        return {"lstm": {"mae": lstm_mae}, "naive": {"mae": 10.0}, "skill_vs_naive": 1 - lstm_mae / 10,
                "beats_naive": lstm_mae < 10, "dm_test": {"p_value": 0.5, "n_independent": 20, "statistic": -0.5},
                "n_origins": 200, "hybrid": hybrid, "network_weight": weight}

    arima, none = {"used": True, "part": "arima", "why": ""}, {"used": False, "part": "none", "why": ""}
    per = {"a": series(arima, 0.0, 6.0), "b": series(arima, 0.4, 7.0), "c": series(none, 0.0, 10.0),
           "d": series(none, 0.2, 9.0)}
    p = pooled(per)
    assert (p["n_statistical_part"], p["n_weight_zero"], p["n_beats_naive"]) == (1, 2, 3)  # a: weight 0, not both
    assert pooled_sentence(p).startswith(  # a's win is AutoARIMA's: the subject is the shipped models
        "the shipped models have a lower test MAE than the naive forecast on 3 of 4 series, significantly "
        "(Diebold-Mariano p < 0.05) on 0 (on 1 the network corrects a statistical model's forecasts; on 2 the "
        "network's weight is 0: those forecasts are the statistical model's or the naive forecast's unchanged; a "
        "network's weight was above 0 in 2 of the 3 wins); mean relative MAE 0.800")
    only_zero = pooled({"a": per["a"], "c": per["c"]})
    assert "on 1 of 2 series" in pooled_sentence(only_zero) and "no network's weight was above 0)" in pooled_sentence(
        only_zero) and pooled_sentence(only_zero).startswith("the shipped models have")
    old = {k: v for k, v in p.items() if k != "n_beats_naive_with_network"}  # a bundle from before the count
    assert pooled_sentence(old).startswith("the shipped models have") and "wins" not in pooled_sentence(old)
    none = pooled({"c": per["c"]})  # no win at all: no clause about the wins
    assert "wins" not in pooled_sentence(none) and "on 0 of 1 series" in pooled_sentence(none)
    with_net = pooled({"b": per["b"], "d": per["d"]})  # every network weighed in: the LSTM's wins
    assert pooled_sentence(with_net).startswith("the LSTM has a lower test MAE than the naive forecast on 2 of 2")
    from forecast.output.console import _shipped_short

    assert [_shipped_short(m["hybrid"], m["network_weight"]) for m in per.values()] == [
        "AutoARIMA (weight 0)", "AutoARIMA + network x0.4", "naive (weight 0)", "network x0.2"]
    assert _shipped_short({"used": True, "part": "season"}, 0.0) == "naive (weight 0)"  # shrunk toward naive


def test_a_seasonal_forecast_that_matches_last_season_is_not_said_to_trail():
    """One-step forecasts of a quarterly season that sit near the value four steps back (seasonal-naive-like) and
    far below naive's error are no delayed copy; a forecast that only repeats the value three steps back is."""
    t = np.arange(80)
    y = 100 + 20 * np.array([0, 1, 0, -1])[t % 4] + 0.01 * t
    seasonal = M.lag_diagnostic(y[1:76], y, max_lag=5)  # f_t = y_{t-4}: seasonal naive, lag 4 is best
    assert seasonal["best_lag"] == 4 and seasonal["one_step_gain_vs_naive"] > 0.9
    assert "not a delayed copy (on a series with a season of 4 steps" in seasonal["message"]
    rng = np.random.default_rng(0)
    walk = 100 + np.cumsum(rng.normal(0, 1, 80))
    late = M.lag_diagnostic(walk[2:-3], walk, max_lag=5)  # f_t = y_{t-3}
    assert late["best_lag"] == 3 and late["message"].endswith("3 steps earlier best: they trail it")
