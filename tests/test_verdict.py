"""The verdict object: best = lowest MAE (the LSTM included), tests against the best other model and naive,
and wording that never contradicts itself."""

import json

import numpy as np
import pytest

from forecast.evaluation import metrics as M
from forecast.io import strict
from forecast.evaluation.verdict import MIN_ORIGINS, SIGNIFICANCE, text_of, verdict


def _case(errors: dict, folds=8, h=4, seed=0):
    """Forecasts whose errors are ``scale * noise`` per model; naive is one of them."""
    rng = np.random.default_rng(seed)
    actual = 100 + rng.normal(0, 1, (folds, h)).cumsum(axis=1)
    F = {name: actual + scale * rng.normal(0, 1, (folds, h)) for name, scale in errors.items()}
    models = {name: {"mae": M.mae(actual, f), "rmse": M.rmse(actual, f)} for name, f in F.items()}
    return models, F, actual, F["naive"]


def test_best_is_the_lowest_mae_model_lstm_included():
    models, F, A, N = _case({"lstm": 3.0, "naive": 2.0, "theta": 0.5, "arima": 1.0})
    v = verdict(models, F, A, N)
    assert v["best"] == min(models, key=lambda n: models[n]["mae"]) == "theta"
    assert v["ranking"] == sorted(models, key=lambda n: models[n]["mae"])
    assert v["compared_with"] == "theta" and v["lstm_skill_vs_best"] == pytest.approx(
        1 - models["lstm"]["mae"] / models["theta"]["mae"])
    assert v["p_value_vs_best"] < SIGNIFICANCE and v["text"].startswith("AutoTheta is best here")
    assert "use AutoTheta" in v["text"] and "not significant" not in v["text"]
    assert set(v["tests"]) == {"vs_best", "vs_naive"} and v["tests"]["vs_best"]["models"] == ["lstm", "theta"]

    models, F, A, N = _case({"lstm": 0.3, "naive": 2.0, "theta": 1.0})
    v = verdict(models, F, A, N)
    assert v["best"] == "lstm" and v["compared_with"] == "theta" and v["lstm_skill_vs_best"] > 0
    assert v["text"].startswith("The LSTM is best here") and "use the LSTM" in v["text"]


def test_a_model_missing_forecasts_at_some_origin_is_not_ranked():
    models, F, A, N = _case({"lstm": 1.0, "naive": 2.0, "theta": 0.2})
    F["theta"][3] = np.nan
    v = verdict(models, F, A, N)
    assert v["incomplete"] == ["theta"] and v["best"] == "lstm" and v["compared_with"] == "naive"


@pytest.mark.parametrize("seed", range(40))
def test_wording_never_contradicts_itself(seed):
    rng = np.random.default_rng(seed)
    scales = {"lstm": rng.uniform(0.5, 1.5), "naive": rng.uniform(0.5, 1.5), "ets": rng.uniform(0.5, 1.5)}
    models, F, A, N = _case(scales, folds=int(rng.integers(1, 8)), h=int(rng.integers(1, 5)), seed=seed)
    v = verdict(models, F, A, N)
    text, p = v["text"], v["p_value_vs_best"]
    assert "beat" not in text  # never "beats": "X is best here" / "the LSTM is no more accurate than X"
    if p is None or not np.isfinite(p):
        assert "too few to test" in text and "significant" not in text
    elif p < SIGNIFICANCE:
        assert "(p = " in text or "(p < " in text
        assert "not significant" not in text and ", significant" in text
    else:
        assert "not significant" in text and ", significant" not in text
        assert "use the LSTM" not in text
    json.dumps(strict(v), allow_nan=False)  # JSON-ready once NaN becomes None


def test_too_few_origins_is_said_plainly():
    models, F, A, N = _case({"lstm": 0.2, "naive": 2.0, "ets": 1.0}, folds=MIN_ORIGINS - 1)
    v = verdict(models, F, A, N)
    assert not np.isfinite(v["p_value_vs_best"]) and v["tests"]["vs_best"]["significant"] is None
    assert f"{MIN_ORIGINS - 1} forecast origins are too few to test whether the difference is real" in v["text"]
    assert "use the LSTM" not in v["text"]


def test_an_mae_win_with_a_worse_rmse_than_naive_says_so():
    rng = np.random.default_rng(3)
    A = 100 + rng.normal(0, 1, (10, 3))
    N = A + rng.choice([-1.0, 1.0], A.shape)  # naive: errors of 1 everywhere
    L = A.copy()
    L[0, 0] += 8.0  # the LSTM: exact but for one big miss -> lower MAE, higher RMSE
    F = {"lstm": L, "naive": N}
    models = {n: {"mae": M.mae(A, f), "rmse": M.rmse(A, f)} for n, f in F.items()}
    assert models["lstm"]["mae"] < models["naive"]["mae"] and models["lstm"]["rmse"] > models["naive"]["rmse"]
    v = verdict(models, F, A, N)
    assert v["best"] == "lstm" and v["lstm_rmse_vs_naive"] < 0
    assert "though its RMSE is worse than the naive forecast's" in v["text"]
    # RMSEs that agree to 4 digits are printed with as many as tell them apart (272.8 vs 272.8 said nothing)
    close = {"lstm": {"mae": 210.61, "rmse": 272.8312}, "naive": {"mae": 210.63, "rmse": 272.8249}}
    assert "RMSE is worse than the naive forecast's (272.83 vs 272.82)" in verdict(close, F, A, N)["text"]


def test_without_the_lstm_and_without_any_forecast():
    models, F, A, N = _case({"naive": 2.0, "theta": 0.5})
    v = verdict(models, F, A, N)
    assert v["best"] == "theta" and v["p_value_vs_best"] is None
    assert v["text"].startswith("AutoTheta is best here") and "not tested" in v["text"]
    empty = verdict({"lstm": {"mae": float("nan"), "rmse": None}}, {"lstm": np.full((3, 2), np.nan)},
                    np.ones((3, 2)), np.ones((3, 2)))
    assert empty["best"] is None and "nothing to compare" in empty["text"]
    assert text_of(v) == v["text"] and text_of("an older report's string") == "an older report's string"


def test_a_network_variant_that_wins_is_not_called_the_simpler_model():
    """Close errors (not significant): the verdict prefers the best model "the simpler model" only when it is a
    baseline; a network variant such as gru-season is no simpler than the LSTM."""
    models, F, A, N = _case({"lstm": 1.0, "naive": 3.0, "gru-season": 0.9}, folds=6, seed=1)
    v = verdict(models, F, A, N)
    assert v["best"] == "gru-season" and v["p_value_vs_best"] >= SIGNIFICANCE
    assert v["text"].endswith("so use gru-season.")
    models, F, A, N = _case({"lstm": 1.0, "naive": 3.0, "theta": 0.9}, folds=6, seed=1)
    assert verdict(models, F, A, N)["text"].endswith("so use AutoTheta, the simpler model.")


def test_lstm_label_names_the_statistical_parts_of_the_fits():
    from forecast.evaluation.verdict import lstm_label

    assert lstm_label([None, None]) == "the LSTM"
    assert lstm_label(["arima", "arima"]) == "the LSTM (correcting AutoARIMA's forecasts)"
    assert lstm_label(["ets", None, "theta"]) == "the LSTM (correcting the forecasts of AutoETS or AutoTheta in 2 of 3 fits)"
    assert lstm_label(["arima", "mstl", "ets", None]) == \
        "the LSTM (correcting the forecasts of AutoARIMA, MSTL or AutoETS in 3 of 4 fits)"
    assert lstm_label(["ets", None], unit="fits of a series") == \
        "the LSTM (correcting AutoETS's forecasts in 1 of 2 fits of a series)"
    models, F, A, N = _case({"lstm": 3.0, "naive": 2.0, "theta": 0.5})
    text = verdict(models, F, A, N, lstm_is=lstm_label(["ets"]))["text"]
    assert text.startswith("AutoTheta is best here, its MAE ") and "lower than that of the LSTM (correcting AutoETS's " \
        "forecasts)" in text and text.endswith("use AutoTheta, not the LSTM.") and text.count("correcting") == 1
    models, F, A, N = _case({"lstm": 0.3, "naive": 2.0, "theta": 1.0})
    text = verdict(models, F, A, N, lstm_is=lstm_label(["ets"]))["text"]
    assert text.startswith("The LSTM (correcting AutoETS's forecasts) is best here")


def test_a_row_whose_network_weight_is_0_in_every_fit_is_named_by_what_it_forecast():
    from forecast.evaluation.verdict import lstm_label

    zero = "the network's weight is 0 in every fit)"
    fitted = f", fitted without the validation rows: {zero}"  # the backtest's own rows of those models see them
    assert lstm_label(["mstl", "ets", "ets"], weights=[0, 0, 0]) == f"the lstm row (the forecasts of MSTL or AutoETS{fitted}"
    assert lstm_label(["ets", "ets"], weights=[0.0, 0.0]) == f"the lstm row (AutoETS's forecasts{fitted}"
    assert lstm_label([None, None], weights=[0, 0]) == f"the lstm row (the naive forecast itself: {zero}"
    assert lstm_label(["ets", None], weights=[0, 0]) == f"the lstm row (the naive forecast or AutoETS's forecasts{fitted}"
    # one fit where the network took a part: the LSTM did forecast, and is named as before
    assert lstm_label(["ets", "ets"], weights=[0, 0.4]) == "the LSTM (correcting AutoETS's forecasts)"
    assert lstm_label([None], weights=[0.3]) == "the LSTM"
    # a failed fit (no weight, no part) forecast nothing: the row is not called a model's forecasts unchanged
    assert lstm_label(["ets", None, "ets"], weights=[0, 0]) == "the LSTM (correcting AutoETS's forecasts in 2 of 3 fits)"
    models, F, A, N = _case({"lstm": 0.3, "naive": 2.0, "theta": 1.0})
    text = verdict(models, F, A, N, lstm_is=lstm_label(["ets"], weights=[0]))["text"]
    assert text.startswith(f"The lstm row (AutoETS's forecasts{fitted} is best here")
    assert text.endswith("use the lstm row.") and "the LSTM" not in text
    models, F, A, N = _case({"lstm": 3.0, "naive": 2.0, "theta": 0.5})
    text = verdict(models, F, A, N, lstm_is=lstm_label(["ets"], weights=[0]))["text"]
    assert text.endswith("use AutoTheta, not the lstm row.") and "the LSTM" not in text


def test_the_tests_take_one_loss_per_origin_not_one_per_forecast():
    """The h errors of one origin share its starting level: the test is the t-test of the origins' MAE
    differences (Diebold-Mariano with h = 1 is exactly that), not a test on h times as many forecasts."""
    from scipy import stats

    rng = np.random.default_rng(3)
    actual = 100 + rng.normal(0, 1, (3, 8)).cumsum(axis=1)
    level = np.array([[1.0], [2.0], [1.5]])  # each origin's forecasts miss by its own level, at every step
    F = {"lstm": actual + level + rng.normal(0, 0.01, (3, 8)), "naive": actual + 1.4 * level,
         "ets": actual + np.array([[1.9], [1.8], [1.6]])}
    models = {name: {"mae": M.mae(actual, f), "rmse": M.rmse(actual, f)} for name, f in F.items()}
    v = verdict(models, F, actual, F["naive"])
    per_origin = {name: np.abs(f - actual).mean(axis=1) for name, f in F.items()}
    for key, other in (("p_value_vs_naive", "naive"), ("p_value_vs_best", v["compared_with"])):
        t = stats.ttest_1samp(per_origin["lstm"] - per_origin[other], 0.0)
        assert v[key] == pytest.approx(t.pvalue, rel=1e-9)
    assert v["tests"]["vs_naive"]["n"] == 3 and v["tests"]["vs_naive"]["unit"] == "origin"
    assert v["p_value_vs_best"] > 0.2  # 24 forecasts taken one by one made this look significant


def test_origins_that_share_targets_are_tested_with_their_overlap():
    from forecast.evaluation.verdict import dm_test, overlap_of

    assert [overlap_of(8, step) for step in (1, 3, 4, 8, 16)] == [8, 3, 2, 1, 1]
    rng = np.random.default_rng(0)
    actual = rng.normal(0, 1, (30, 4))
    fa, fb = actual + rng.normal(0, 1, (30, 4)), actual + rng.normal(0, 1.3, (30, 4))
    apart, shared = dm_test(fa, fb, actual, ("a", "b")), dm_test(fa, fb, actual, ("a", "b"), overlap=4)
    losses = [np.abs(f - actual).mean(axis=1) for f in (fa, fb)]
    assert apart["p_value"] == pytest.approx(M.diebold_mariano(*losses, horizon=1, loss="absolute")["p_value"])
    assert shared["p_value"] == pytest.approx(M.diebold_mariano(*losses, horizon=4, loss="absolute")["p_value"])
    assert shared["p_value"] != pytest.approx(apart["p_value"]) and shared["overlap"] == 4 and shared["n"] == 30


def test_origins_that_overlap_more_than_the_sample_allows_are_not_tested():
    """5 origins one step apart with a horizon of 10 share most targets: the variance with 9 autocovariances of 5
    values is rounding, and gave p < 1e-6 for equally good forecasts in 29% of draws. Not tested instead, and the
    sentence says what to change."""
    from forecast.evaluation.verdict import dm_test, needed_origins

    rng = np.random.default_rng(1)
    actual = rng.normal(0, 1, (5, 10))
    fa, fb = actual + rng.normal(0, 1, (5, 10)), actual + rng.normal(0, 1, (5, 10))
    test = dm_test(fa, fb, actual, ("a", "b"), overlap=10)
    assert np.isnan(test["p_value"]) and test["needed"] == needed_origins(10) == 20 and test["n"] == 5
    assert np.isnan(M.diebold_mariano(np.abs(fa).mean(axis=1), np.abs(fb).mean(axis=1), horizon=5)["p_value"])
    models = {"lstm": {"mae": M.mae(actual, fa)}, "ets": {"mae": M.mae(actual, fb) * 0.5}, "naive": {"mae": 9.0}}
    v = verdict(models, {"lstm": fa, "ets": fb / 2}, actual, actual + 3, overlap=10)
    assert "5 forecast origins are too few" in v["text"] and "at least 20 are needed" in v["text"]
    assert "or a --step as long as the horizon" in v["text"]


def test_equal_losses_to_rounding_are_no_difference():
    """A row that forecast the naive forecast's values, up to float rounding, is not tested as if it differed."""
    from forecast.evaluation.verdict import dm_test

    rng = np.random.default_rng(2)
    actual = rng.normal(100, 1, (20, 4))
    naive = actual + rng.normal(0, 1, (20, 4))
    for noise in (1e-15, 1e-9):  # 1.2e-9: a statistical model's forecasts through the log-return encoding and back
        same = naive * (1 + noise * rng.normal(size=naive.shape))
        test = dm_test(same, naive, actual, ("lstm", "naive"))
        assert (test["statistic"], test["p_value"]) == (0.0, 1.0), noise


def test_the_same_forecasts_to_rounding_are_a_tie_not_a_lead():
    """A row at weight 0 forecasts its anchor: its MAE may sit 1e-12 below the naive forecast's, which is no lead."""
    from forecast.evaluation.verdict import lstm_label

    models, F, A, N = _case({"naive": 1.0, "theta": 2.0}, folds=6)
    F["lstm"] = F["naive"] * (1 + 1e-13)
    models["lstm"] = {"mae": models["naive"]["mae"] * (1 - 1e-12), "rmse": models["naive"]["rmse"]}
    label = lstm_label([None] * 3, weights=[0, 0, 0])
    said = (f"The naive forecast and {label} have the same MAE (to float rounding): nothing tells them apart; "
            "prefer the naive forecast.")
    v = verdict(models, F, A, N, lstm_is=label)  # a tie ranks the simpler model first: `best` is not the lstm row
    assert (v["best"], v["ranking"], v["compared_with"], v["text"]) == ("naive", ["naive", "lstm", "theta"], "naive",
                                                                       said)
    models["lstm"]["mae"] = models["naive"]["mae"] * (1 + 1e-12)  # naive ranks first by the rounding too
    assert verdict(models, F, A, N, lstm_is=label)["text"] == said
    models["lstm"]["mae"] = models["naive"]["mae"] * (1 - 1e-5)  # a lead beyond rounding still ranks the lstm first
    assert verdict(models, F, A, N, lstm_is=label)["best"] == "lstm"


def test_a_gap_too_small_to_print_is_said_in_words():
    from forecast.evaluation.verdict import _pct

    assert [_pct(x) for x in (0.00004, -0.0003, 0.004, 0.05)] == ["under 0.1%", "under 0.1%", "0.4%", "5%"]


def test_naive_ranks_first_even_when_not_asked_for():
    """--models lstm,arima: the LSTM beats AutoARIMA, but the naive forecast (scored for every backtest) is better
    still and significantly so: the verdict says to use naive, never the LSTM."""
    models, F, A, N = _case({"lstm": 2.0, "arima": 6.0, "naive": 0.3}, folds=40)
    del models["naive"], F["naive"]
    v = verdict(models, F, A, N)
    assert v["best"] == "lstm" and v["lstm_skill_vs_naive"] < 0 and v["p_value_vs_naive"] < SIGNIFICANCE
    assert v["text"].startswith("The LSTM has the lowest MAE of the models asked for, but the naive forecast (not "
                                "among them, scored anyway) has a lower one still")
    assert v["text"].endswith("use the naive forecast.") and "use the LSTM" not in v["text"]


def test_the_test_judgement_names_the_model_that_forecast_not_the_network_alone():
    """With a statistical part the train summary's judgement names it; with a network weight of 0 it says the
    forecasts are that model's (or naive's) unchanged, so a statistical model's win is never the network's."""
    from forecast.output.console import test_judgement

    m = {"lstm": {"mae": 9.5}, "naive": {"mae": 30.0}, "skill_vs_naive": 0.68, "beats_naive": True,
         "dm_test": {"p_value": 0.001, "significant": True, "statistic": -3.4}, "baselines": {"models": {}}}
    assert test_judgement(m).startswith("the LSTM beats the naive last-value forecast on the test part")
    m.update(hybrid={"used": True, "part": "arima", "why": "auto: ..."}, network_weight=0.4)
    assert test_judgement(m).startswith("the LSTM (correcting AutoARIMA's forecasts) beats the naive")
    m["network_weight"] = 0.0
    assert test_judgement(m).startswith("the shipped model (AutoARIMA's forecasts unchanged: the network's weight "
                                        "is 0) beats the naive last-value forecast")
    m["baselines"] = {"models": {"arima": {"mae": 9.5 * (1 - 1e-12), "p_value_vs_lstm": 0.02},  # itself: a tie
                                 "ets": {"mae": 9.6, "p_value_vs_lstm": 0.5}}}
    assert "more accurate" not in test_judgement(m)
    m["baselines"]["models"]["ets"]["mae"] = 9.0
    assert test_judgement(m).endswith("ets is more accurate on the same test part (MAE 9 against the shipped model's "
                                      "9.5, Diebold-Mariano p = 0.5: not significant)")
    m["baselines"] = {"models": {}}
    m["dm_test"].update(p_value=0.3, significant=False)
    assert test_judgement(m).startswith("the error of the shipped model (AutoARIMA's forecasts unchanged: the "
                                        "network's weight is 0) is lower than the naive forecast's, but not by more")
    m.update(hybrid={"used": False, "part": "none", "why": "auto: ..."}, beats_naive=False, skill_vs_naive=0.0)
    assert test_judgement(m).startswith("the shipped model (the naive forecast itself: the network's weight is 0) "
                                        "does NOT beat")
    m.update(hybrid={"used": True, "part": "season", "why": "auto: ..."}, network_weight=0.0)  # shrunk to naive too
    assert test_judgement(m).startswith("the shipped model (the naive forecast itself: the network's weight is 0)")
    m["network_weight"] = 0.3
    assert test_judgement(m).startswith("the LSTM does NOT beat")


def test_tables_and_charts_show_a_tie_to_rounding_with_the_simpler_model_first():
    """The console, the report and the MASE chart list models in one order (verdict.display_order): a tie to
    rounding puts naive above the lstm row (the report's scoreboard and the chart sorted by raw score put the
    row first while the verdict said to prefer naive), then the models without a score."""
    from forecast.evaluation.verdict import display_order
    from forecast.output.plots import backtest_mase_figure

    scores = {"lstm": 2.0 * (1 - 1e-12), "naive": 2.0, "theta": 3.0, "drift": None, "ets": 1.5}
    assert display_order(scores) == ["ets", "naive", "lstm", "theta", "drift"]
    assert display_order(scores, ["naive", "lstm"]) == ["naive", "lstm", "ets", "theta", "drift"]
    fig = backtest_mase_figure({n: {"mase": v} for n, v in scores.items()})
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["ets", "naive", "lstm", "theta", "drift"]
