"""Baselines: each one's forecasts equal statsforecast's own on the same history (the wiring is ours, the
model is theirs); exact values on constructed series; seasonality rules; reuse of fits; failures -> NaN + note."""

import numpy as np
import pytest

from forecast.config import RunConfig, WindowConfig
from forecast.data.panel import panel_of
from forecast.data.load import synthetic_series
from forecast.evaluation.folds import FoldTask, calibrate, run_fold
from forecast.models import baselines as B
from forecast.models.baselines import (BASELINES, Drift, MovingAverage, Naive, SeasonalNaive, season_for,
                                       seasons_for)

H = 6


def _monthly(n=96, seed=1):
    """A positive monthly-like series: trend, a 12-step season and noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    return 100 + 0.3 * t + 8 * np.sin(2 * np.pi * t / 12) + rng.normal(0, 1, n)


def _walk(n=150, seed=2):
    return synthetic_series("random_walk", n=n, seed=seed)["Close"].to_numpy()


def test_naive_and_seasonal_naive_exact():
    y = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0])
    assert Naive().fit(y).forecast(3).tolist() == [7.0, 7.0, 7.0]
    assert SeasonalNaive(3).fit(y).forecast(5).tolist() == [5.0, 6.0, 7.0, 5.0, 6.0]
    assert SeasonalNaive(1).fit(y).forecast(2).tolist() == [7.0, 7.0]
    # history= forecasts from the end of the given history without refitting
    assert SeasonalNaive(2).fit(y).forecast(3, history=y[:4]).tolist() == [3.0, 4.0, 3.0]


def test_drift_exact_on_a_line_and_moving_average():
    line = 100 + 0.5 * np.arange(40)
    np.testing.assert_allclose(Drift().fit(line).forecast(4), 100 + 0.5 * np.arange(40, 44))
    assert MovingAverage(4).fit(np.array([9.0, 1.0, 2.0, 3.0, 6.0])).forecast(2).tolist() == [3.0, 3.0]


def test_season_for_and_seasons_for_frequency():
    assert [season_for(f) for f in ("trading_days", "daily", "hourly", "weekly", "monthly", "quarterly", "other")] \
        == [5, 7, 24, 52, 12, 4, 1]
    assert seasons_for("hourly") == (24, 168) and seasons_for("daily") == (7, 365) and seasons_for("other") == ()
    assert B.as_seasons((24, 168, 24, 1)) == (24, 168) and B.as_seasons(1) == () and B.as_seasons(12) == (12,)


def _sf(name, y, m):
    """statsforecast's own forecast of the model ``name`` on ``y`` with season ``m`` (as documented)."""
    from statsforecast import models as S

    tail = y[-B.FIT_TAIL.get(name, len(y)):]
    own = {
        "naive": lambda: S.Naive(),
        "seasonal_naive": lambda: S.SeasonalNaive(season_length=m),
        "drift": lambda: S.RandomWalkWithDrift(),
        "moving_average": lambda: S.WindowAverage(window_size=m),
        "arima": lambda: S.AutoARIMA(season_length=m, approximation=None),
        "ets": lambda: S.AutoETS(season_length=m),
        "theta": lambda: S.AutoTheta(season_length=m),
        "mstl": lambda: S.MSTL(season_length=[m], trend_forecaster=S.AutoETS(model="ZZN"),
                               stl_kwargs=B.stl_jumps(m)),  # R's loess jumps: the test below
    }
    if name == "comb":  # the mean of SES, Holt and damped Holt (without a season: no seasonal adjustment)
        members = [S.AutoETS(model="ANN"), S.AutoETS(model="AAN", damped=False), S.AutoETS(model="AAN", damped=True)]
        return np.mean([mod.forecast(y=tail, h=H)["mean"] for mod in members], axis=0)
    return own[name]().forecast(y=tail, h=H)["mean"]


@pytest.mark.parametrize("name", [n for n in BASELINES if n != "median"])  # median: its own test below
def test_each_baseline_equals_statsforecasts_own_forecast(name):
    y, m = (_walk(), 1) if name == "comb" else (_monthly(), 12)
    ours = BASELINES[name](m).fit(y).forecast(H)
    assert ours.shape == (H,) and np.all(np.isfinite(ours))
    np.testing.assert_allclose(ours, _sf(name, y, m), rtol=1e-9, err_msg=name)


def test_comb_deseasonalises_when_the_m4_test_finds_the_season():
    from statsforecast import models as S
    from statsmodels.tsa.seasonal import seasonal_decompose

    y = _monthly()
    noise = 100 + np.random.default_rng(0).normal(0, 1, 96)
    assert B.m4_seasonal(y, 12) and not B.m4_seasonal(noise, 12) and not B.m4_seasonal(y, 1)
    seasonal = seasonal_decompose(y, model="multiplicative", period=12).seasonal
    members = [S.AutoETS(model="ANN"), S.AutoETS(model="AAN", damped=False), S.AutoETS(model="AAN", damped=True)]
    own = np.mean([mod.forecast(y=y / seasonal, h=H)["mean"] for mod in members], axis=0) * seasonal[-12:][:H]
    np.testing.assert_allclose(BASELINES["comb"](12).fit(y).forecast(H), own, rtol=1e-9)


def test_fit_on_the_tail_and_forward_on_longer_history(monkeypatch):
    from statsforecast.models import AutoETS

    monkeypatch.setitem(B.FIT_TAIL, "ets", 40)
    y = _monthly(120)
    model = BASELINES["ets"](12).fit(y[:100])
    own = AutoETS(season_length=12).fit(y[60:100])
    np.testing.assert_allclose(model.forecast(H), own.predict(h=H)["mean"], rtol=1e-9)
    # a longer history (a fold that does not refit) runs through the same fit: statsforecast's forward
    np.testing.assert_allclose(model.forecast(H, history=y), own.forward(y=y[60:], h=H)["mean"], rtol=1e-9)
    assert len(model._fits) == 1


def test_shorter_history_refits_once_with_the_same_specification():
    """Calibration forecasts from truncated histories: one refit (parameters re-estimated on the shorter
    history, the first fit's ETS components kept), then statsforecast's forward for longer ones."""
    from statsforecast.models import AutoETS

    y = _monthly(120)
    model = BASELINES["ets"](12).fit(y)
    first = model._fits[0][2].model_["components"]
    a, b = model.forecast(H, history=y[:90]), model.forecast(H, history=y[:95])
    assert len(model._fits) == 2
    refit = model._fits[1][2]
    assert refit.model_["components"][:3] == first[:3]
    own = AutoETS(season_length=12, model="".join(first[:3]),
                  damped=first[3] != "N" if first[1] != "N" else None).fit(y[:90])
    np.testing.assert_allclose(a, own.predict(h=H)["mean"], rtol=1e-9)
    np.testing.assert_allclose(b, own.forward(y=y[:95], h=H)["mean"], rtol=1e-9)


def test_shared_fits_search_once_per_model_and_prices():
    """Inside shared_fits a second search on the same prices reuses the first fit (same forecasts); other prices,
    another model or season, or no block, search anew. The residual hybrid's candidates share them too."""
    from forecast.models.residual import StatisticalPart

    y = _monthly(120)
    alone = BASELINES["ets"](12).fit(y[:100])
    with B.shared_fits() as fits:
        a, b = BASELINES["ets"](12).fit(y[:100]), BASELINES["ets"]((12, 6)).fit(y[:100])  # ETS: primary season
        part = StatisticalPart("ets", (12,)).fit(y[:100])
        others = [BASELINES["ets"](12).fit(y[:99]), BASELINES["ets"](4).fit(y[:100]),
                  BASELINES["arima"](12).fit(y[:100])]
        with B.shared_fits():  # nested: the outer block's fits
            nested = BASELINES["ets"](12).fit(y[:100])
    between = BASELINES["ets"](12).fit(y[:100])
    with B.shared_fits(fits):  # a later block handed the first one's fits
        later = BASELINES["ets"](12).fit(y[:100])
    assert a.fitted_model is b.fitted_model is part.model_.fitted_model is nested.fitted_model is later.fitted_model
    assert len(fits) == 4  # ets on y[:100], ets on y[:99], ets with season 4, arima
    assert all(o.fitted_model is not a.fitted_model for o in others)
    assert alone.fitted_model is not a.fitted_model and between.fitted_model is not a.fitted_model
    np.testing.assert_array_equal(b.forecast(H, history=y), alone.forecast(H, history=y))
    assert B._SHARED is None  # leaving the block forgets them


@pytest.mark.parametrize("name", ["arima", "ets", "theta", "mstl", "comb"])
def test_calibrating_a_fit_costs_at_most_one_extra_fit(name):
    from forecast.models.registry import make_model

    cfg = RunConfig()
    panel = panel_of(_monthly(120), sid="S")
    model = make_model(name, cfg, season=12).fit(panel)
    cal = calibrate(model, panel.series[0], 0, len(panel.series[0]) - 1, cfg)
    assert cal is not None and len(model.models["S"]._fits) == 2


def test_seasonality_rules():
    y = _monthly(60)
    assert BASELINES["ets"](52)._new(len(y)).season_length == 1  # AutoETS: no season longer than 24
    assert BASELINES["arima"](24)._new(40).season_length == 1  # fewer than 2 seasons of data
    assert BASELINES["arima"](52)._new(500).season_length == 1  # longer than ARIMA_MAX_SEASON
    assert BASELINES["arima"](12)._new(60).season_length == 12
    assert BASELINES["mstl"]((24, 168))._new(400).season_length == [24, 168]
    assert BASELINES["mstl"]((24, 168))._new(300).season_length == [24]
    with pytest.raises(ValueError, match="mstl needs a season"):
        BASELINES["mstl"](1).fit(y)


def test_mstl_smooths_with_the_loess_jumps_of_rs_stl_and_forecasts_what_every_point_gives():
    """R's stl() evaluates each loess smoother at every ceiling(window / 10)-th point. With MSTL's first seasonal
    window (11): period 52 has trend window 91 and low-pass window 53, so jumps 2, 10 and 6; period 12 has 21
    and 13, so 2, 3 and 2. On weekly Mauna Loa CO2 (statsmodels' dataset), from 5 origins, the forecasts' mean
    absolute error is within 1% of that of statsmodels' every-point smoothing, and no forecast is further from
    its counterpart than 5% of that error."""
    import statsmodels.datasets.co2 as co2
    from statsforecast.models import MSTL, AutoETS

    assert B.stl_jumps(52) == {"seasonal_jump": 2, "trend_jump": 10, "low_pass_jump": 6}
    assert B.stl_jumps(12) == {"seasonal_jump": 2, "trend_jump": 3, "low_pass_jump": 2}
    assert BASELINES["mstl"]((24, 168))._new(400).stl_kwargs == B.stl_jumps(24)  # one set: the shorter season's
    y = co2.load_pandas().data["co2"].interpolate().to_numpy()[-700:]
    ours = BASELINES["mstl"](52).fit(y[:500])
    every_point = MSTL(season_length=[52], trend_forecaster=AutoETS(model="ZZN")).fit(y[:500])
    origins = range(500, 700 - H, 40)
    a = np.array([ours.forecast(H, history=y[:o + 1]) for o in origins])
    b = np.array([every_point.forward(y=y[:o + 1], h=H)["mean"] for o in origins])
    actual = np.array([y[o + 1:o + 1 + H] for o in origins])
    mae_a, mae_b = np.abs(a - actual).mean(), np.abs(b - actual).mean()
    assert abs(mae_a - mae_b) < 0.01 * mae_b, (mae_a, mae_b)
    assert np.abs(a - b).max() < 0.05 * mae_b, (np.abs(a - b).max(), mae_b)


def test_fit_tails_for_the_report():
    assert B.fit_tails(["lstm", "naive", "arima", "mstl"]) == {"arima": B.FIT_TAIL["arima"], "mstl": B.FIT_TAIL["mstl"]}


@pytest.mark.parametrize("name", ["arima", "ets", "theta", "comb", "drift"])
def test_pathological_history_fails_gracefully_with_nan_and_note(name):
    bad = np.array([100.0, 101.0, np.inf, 102.0, 103.0] * 6)
    end = len(bad) - 1
    task = FoldTask(name, panel_of(bad, sid="S"), {"S": (0, end)}, ((2, {"S": (0, end)}),), 4, 5,
                    RunConfig(window=WindowConfig(horizon=4)))
    result = run_fold(task)
    assert np.isnan(result.forecasts[2]["S"]).all() and result.forecasts[2]["S"].shape == (4,)
    assert len(result.notes) == 1 and result.notes[0][0] == 2
    assert result.notes[0][1].startswith(f"{name} failed in fold 3 (ValueError") and "finite" in result.notes[0][1]


def test_median_is_the_median_of_the_statistical_models():
    y = _monthly(120)
    med = BASELINES["median"](12).fit(y)
    members = [BASELINES[n](12).fit(y) for n in ("arima", "ets", "theta", "comb", "mstl")]
    np.testing.assert_allclose(med.forecast(H), np.median([m.forecast(H) for m in members], axis=0), rtol=1e-9)
    np.testing.assert_allclose(med.forecast(H, history=y[:100]),
                               np.median([m.forecast(H, history=y[:100]) for m in members], axis=0), rtol=1e-9)
    no_season = BASELINES["median"](1).fit(y)  # MSTL cannot fit without a season: the other four vote
    assert [m.name for m in no_season.models_] == ["arima", "ets", "theta", "comb"]
    assert no_season.failed_[0][0] == "mstl" and no_season.forecast(H).shape == (H,)


def test_the_cli_model_names_are_the_registry_names():
    from forecast import config

    assert config.BASELINE_NAMES == tuple(BASELINES)
    assert set(config.DEFAULT_MODELS) <= {"lstm", *BASELINES}


def test_train_summary_candidates_include_mstl_on_the_primary_season():
    """`forecast train` shows beside the LSTM the statistical model best on the validation part; MSTL is among the
    candidates (as it is among --hybrid auto's), fitted on the primary season as auto fits it: on a daily calendar
    (7, 365) its validation MAE is that of MSTL with season 7 alone. The one shown is the lowest of them."""
    import pandas as pd

    from forecast.data.panel import Series
    from forecast.evaluation.scoring import baseline_paths
    from forecast.models.residual import spread_origins

    rng = np.random.default_rng(3)
    t = np.arange(800)
    daily = 100 + 0.02 * t + 3 * np.sin(2 * np.pi * t / 7) + 5 * np.sin(2 * np.pi * t / 365) + rng.normal(0, 1, 800)
    for y, freq, n_train, m in ((_monthly(n=120), "monthly", 84, 12), (daily, "daily", 760, 7)):
        s = Series("x", y, pd.date_range("2010-01-01", periods=len(y), freq="MS" if m == 12 else "D"),
                   np.zeros((len(y), 0)), freq)
        val_o, test_o = np.arange(n_train - 1, n_train + 17), np.arange(n_train + 17, n_train + 30)
        found = baseline_paths(s, n_train, val_o, test_o, H, seasons_for(freq))
        val = found["info"]["validation_mae"]
        assert set(val) == {"arima", "ets", "theta", "mstl"}, freq
        assert found["info"]["chosen"] == min(val, key=val.get)
        assert set(found["paths"]) == {"seasonal_naive", found["info"]["chosen"]}
        mstl = BASELINES["mstl"]((m,)).fit(y[:n_train])  # statsforecast's MSTL on the primary season only
        chosen_on = spread_origins(val_o[0], val_o[-1])  # the origins --hybrid auto scores the candidates at
        f = np.stack([mstl.forecast(H, history=y[:o + 1]) for o in chosen_on])
        actual = y[chosen_on[:, None] + np.arange(1, H + 1)]
        assert val["mstl"] == pytest.approx(float(np.mean(np.abs(f - actual))), rel=1e-12), freq
    # the chosen model's forecasts from the test origins, when it is MSTL
    found = baseline_paths(s, 760, val_o, test_o, H, seasons_for("daily"), candidates=("mstl",))
    np.testing.assert_allclose(found["paths"]["mstl"], np.stack([mstl.forecast(H, history=daily[:o + 1])
                                                                 for o in test_o]), rtol=1e-12)


@pytest.mark.parametrize("seed", [1, 5, 12])  # 5 and 12: origins a horizon apart named another model
def test_the_test_tables_candidate_is_the_model_hybrid_auto_takes(seed):
    """train's summary shows the statistical candidate best on validation beside the LSTM, and --hybrid auto's
    part is the candidate best on validation: scored at the same origins with the same fits, they are one model
    (at origins a horizon apart the table once named AutoTheta beside a network correcting AutoARIMA)."""
    import pandas as pd

    from forecast.data.panel import Series
    from forecast.evaluation.scoring import baseline_paths
    from forecast.models.baselines import shared_fits
    from forecast.models.residual import choose

    y = _monthly(n=150, seed=seed)
    n_train, n_val = 105, 22
    s = Series("x", y, pd.date_range("2000-01-01", periods=len(y), freq="MS"), np.zeros((len(y), 0)), "monthly")
    with shared_fits():
        part, why = choose(y[:n_train], y[n_train:n_train + n_val], (12,), H, season_shown=True)
        found = baseline_paths(s, n_train, np.arange(n_train - 1, n_train + n_val - H), np.arange(n_train + n_val,
                               len(y) - H), H, (12,))
    assert part is not None, why
    assert found["info"]["chosen"] == part.name, (found["info"]["validation_mae"], why)
