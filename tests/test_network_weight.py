"""The network's weight against its anchor (``shrink``): fitted on the validation windows, 0 where the validation rows
contradict what the network learned, near 1 where it predicts them, and applied to every forecast the model makes."""

from __future__ import annotations

import numpy as np
import pytest

from forecast.config import ModelConfig, RunConfig, TrainConfig, WindowConfig
from forecast.data.panel import panel_of


def _cfg(shrink=True, hybrid="none"):
    return RunConfig(window=WindowConfig(window=10, horizon=3),
                     model=ModelConfig(layers=(16,), dropout=0.0, hybrid=hybrid, shrink=shrink),
                     train=TrainConfig(epochs=10, batch_size=32, patience=5, learning_rate=0.01, seed=3, device="cpu"))


def _returns(phi, n=600, seed=0):
    """Prices whose log returns are AR(1) with coefficient ``phi`` (0: a random walk)."""
    rng = np.random.default_rng(seed)
    e = np.zeros(n)
    for t in range(1, n):
        e[t] = phi * e[t - 1] + rng.normal(0, 0.01)
    return panel_of(100 * np.exp(np.cumsum(e)))


def _fit(cfg, panel):
    from forecast.models.lstm import LSTMForecaster

    return LSTMForecaster(cfg).fit(panel)


def _drift_then_none(n=600, n_val=90):
    """Returns with a drift of +0.4% a step in the training rows and -0.2% in the last ``n_val`` (validation) rows."""
    rng = np.random.default_rng(0)
    r = np.r_[0.004 + rng.normal(0, 0.005, n - n_val), -0.002 + rng.normal(0, 0.005, n_val)]
    return panel_of(100 * np.exp(np.cumsum(r)))


@pytest.fixture(scope="module")
def drift_and_ar():
    return _fit(_cfg(), _drift_then_none()), _fit(_cfg(), _returns(0.9))


def test_weight_is_zero_where_validation_contradicts_the_network_and_near_one_where_it_predicts(drift_and_ar):
    """A network that learned the training rows' drift is shrunk to the naive forecast when the validation rows do
    not have it; on AR(0.9) returns, which it can predict, it keeps nearly all its weight."""
    drift, ar = drift_and_ar
    assert drift.weights["series"] == 0.0 and ar.weights["series"] > 0.7, (drift.weights, ar.weights)


def test_every_forecast_is_the_anchor_plus_the_weighted_network(drift_and_ar):
    """Forecasts at origins and after the end: naive + weight x (network - naive), in the network's scaled units."""
    from forecast.models.lstm import naive_z

    _, walk = drift_and_ar
    panel = _returns(0.9)
    s, w = panel.series[0], walk.weights["series"]
    origins = np.arange(500, 590)
    shrunk_f, shrunk_path = walk.predict_origins(s, origins), walk.forecast(panel, 7)["series"]
    walk.weights = {}  # the raw network
    try:
        raw_f, raw_path = walk.predict_origins(s, origins), walk.forecast(panel, 3)["series"]
    finally:
        walk.weights = {"series": w}
    prep = walk.preps["series"]
    naive = naive_z(prep, s.values[origins], 3)
    raw_z = prep.encode(np.hstack([s.values[origins][:, None], raw_f]))  # (n, 3) back in scaled z
    expected = prep.decode(s.values[origins], naive + w * (raw_z - naive))
    np.testing.assert_allclose(shrunk_f, expected, rtol=1e-5)
    assert np.abs(shrunk_f - s.values[origins][:, None]).mean() < np.abs(raw_f - s.values[origins][:, None]).mean()
    assert shrunk_path.shape == (7,) and not np.allclose(shrunk_path[:3], raw_path)
    np.testing.assert_allclose(shrunk_path[:3], walk.predict_origins(s, np.array([len(s) - 1]))[0], rtol=1e-5)


def test_no_shrink_keeps_the_raw_network_and_stores_no_weight():
    fc = _fit(_cfg(shrink=False).replace(train={"epochs": 1}), _returns(0.0, n=200))
    assert fc.weights == {} and "network_weight" not in fc.state()["series"]


def test_weight_is_the_lower_confidence_bound_so_chance_drift_on_a_random_walk_gets_none():
    """On random walks the least-squares weight is a coin flip (the network's learned drift either matches the
    validation rows' by chance or not); the weight kept is its one-sided 95% lower bound: never more, and 0 on
    walks where least squares would still have given the network weight."""
    from forecast.data.windows import window_arrays
    from forecast.models.lstm import block_starts, confirmed_weight, default_n_val, predict_batches

    kept, least_squares = [], []
    for seed in (0, 2, 3):
        panel, cfg = _returns(0.0, n=1000, seed=seed), _cfg()
        fc = _fit(cfg, panel)
        big, _, val_o, _, anchors = fc.prepare(panel, [default_n_val(1000, cfg)])  # the same statistics again
        x, y = window_arrays(big, val_o, 10, 3)
        d = predict_batches(fc.model, x).astype(np.float64) - anchors[val_o]
        weight, bound = confirmed_weight(y - anchors[val_o], d, block_starts(val_o, 3))
        assert bound == fc.weights["series"]
        least_squares.append(weight)
        kept.append(bound)
    assert all(k <= ls for k, ls in zip(kept, least_squares)) and kept[0] < least_squares[0], (kept, least_squares)
    assert kept[1:] == [0.0, 0.0] and min(least_squares[1:]) > 0.0, (kept, least_squares)


def _windows(blocks, size=3, h=4, slope=0.6, seed=0):
    """``blocks`` x ``size`` windows of ``h`` steps where what the anchor left is ``slope`` x the network's
    departure from it, plus noise."""
    rng = np.random.default_rng(seed)
    d = rng.normal(0, 1, (blocks * size, h))
    return slope * d + rng.normal(0, 1, d.shape), d, np.arange(0, blocks * size, size)


def test_the_bound_is_the_cluster_robust_one_with_students_t_on_the_blocks():
    """The bound equals statsmodels' OLS lower 95% bound with standard errors clustered on the blocks, the
    G / (G - 1) correction and t with G - 1 degrees of freedom (an independent computation of the same thing)."""
    import statsmodels.api as sm

    from forecast.models.lstm import confirmed_weight

    for blocks, slope in ((2, 1.5), (3, 1.5), (8, 0.8)):  # bounds inside (0, 1): not clipped
        r, d, starts = _windows(blocks, slope=slope)
        groups = np.repeat(np.arange(blocks), 3 * 4)
        fit = sm.OLS(r.ravel(), d.ravel()).fit(cov_type="cluster", use_t=True, cov_kwds={
            "groups": groups, "use_correction": True, "df_correction": True})
        weight, bound = confirmed_weight(r, d, starts)
        np.testing.assert_allclose(weight, fit.params[0], rtol=1e-12)
        assert 0 < bound < 1, (blocks, bound)
        np.testing.assert_allclose(bound, fit.conf_int(alpha=0.10)[0, 0], rtol=1e-10)


def test_a_single_block_of_validation_windows_confirms_nothing():
    """With one block the windows' scores sum to 0 by construction of least squares, so their spread says nothing
    about the weight's error: the bound is 0 whatever least squares gives (a short series' validation part of 6
    windows at horizon 10 is one block)."""
    from forecast.models.lstm import confirmed_weight

    r, d, _ = _windows(1, size=6, slope=0.5)
    weight, bound = confirmed_weight(r, d, np.array([0]))
    assert weight > 0.2 and bound == 0.0, (weight, bound)
    two = confirmed_weight(*_windows(2, size=6, slope=0.5)[:2], np.array([0, 6]))
    many = confirmed_weight(*_windows(40, size=6, slope=0.5)[:2], np.arange(0, 240, 6))
    assert two[1] < two[0] and 0 < many[1] < many[0], (two, many)


def test_standard_error_blocks_restart_at_each_series_of_a_panel():
    """Validation origins of a panel are each series' consecutive origins one after the other; the blocks of
    ``horizon`` windows summed for the weight's standard error restart where a series starts."""
    from forecast.models.lstm import block_starts

    one = np.arange(40, 47)  # 7 windows of one series
    assert block_starts(one, 3).tolist() == [0, 3, 6]
    panel = np.r_[np.arange(40, 47), np.arange(90, 95)]  # a second series starts at position 7
    assert block_starts(panel, 3).tolist() == [0, 3, 6, 7, 10]
    scores = np.r_[np.ones(7), 10 * np.ones(5)]
    assert np.add.reduceat(scores, block_starts(panel, 3)).tolist() == [3, 3, 1, 30, 20]
