"""The networks beside the stacked LSTM, the seasonal hybrid and the ensemble: each builds, trains, saves and
reloads bit-identically; the hybrid recovers a seasonal-plus-AR signal better than either of its parts; the
ensemble answers the median of its members and repeats itself with the same seed."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forecast.config import ARCHS, ModelConfig, RunConfig, TrainConfig, WindowConfig, neural_variant
from forecast.data.panel import panel_of
from forecast.errors import ForecastError


def _walk(n=160, seed=0):
    rng = np.random.default_rng(seed)
    return panel_of(100 * np.exp(np.cumsum(rng.normal(0, 0.01, n))))


def _fit(cfg, panel):
    from forecast.models.lstm import LSTMForecaster

    return LSTMForecaster(cfg).fit(panel)


@pytest.mark.parametrize("arch", ARCHS)
def test_each_architecture_trains_saves_and_reloads_bit_identically(tmp_path, tiny_cfg, arch):
    import keras

    from forecast.models.layers import CUSTOM_OBJECTS
    from forecast.models.lstm import LSTMForecaster

    cfg = tiny_cfg.replace(model={"arch": arch, "layers": (8, 4) if arch != "transformer" else (8,)},
                           train={"epochs": 1})
    panel = _walk()
    fc = _fit(cfg, panel)
    assert fc.model.name == f"{arch}_forecaster" and fc.fit_result.epochs_run == 1
    fc.model.save(tmp_path / "m.keras")
    again = LSTMForecaster.restore(cfg, (), keras.models.load_model(
        tmp_path / "m.keras", compile=False, safe_mode=True, custom_objects=CUSTOM_OBJECTS), fc.state())
    s = panel.series[0]
    origins = np.arange(100, 150)
    a, b = fc.predict_origins(s, origins), again.predict_origins(s, origins)
    assert a.shape == (50, 3) and np.all(np.isfinite(a))
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(fc.forecast(panel, 7)["series"], again.forecast(panel, 7)["series"])


@pytest.mark.parametrize("arch", ["gru", "bilstm", "cnn_lstm", "attention"])
def test_recurrent_layers_of_every_architecture_stay_cudnn_eligible(tiny_cfg, arch):
    from forecast.models.network import build_model

    model = build_model(tiny_cfg.replace(model={"arch": arch, "layers": (8, 4)}))
    cells = []
    for layer in model.layers:
        inner = getattr(layer, "forward_layer", layer)  # Bidirectional wraps an LSTM each way
        if type(inner).__name__ in ("LSTM", "GRU"):
            cells.append(inner.get_config())
    assert len(cells) == 2
    for c in cells:
        assert (c["activation"], c["recurrent_activation"], c["recurrent_dropout"], c["unroll"], c["use_bias"]) == \
            ("tanh", "sigmoid", 0.0, False, True)
        assert c.get("reset_after", True) is True


def test_ensemble_serves_the_median_of_its_members_and_repeats_with_the_seed(tiny_cfg):
    """The members start from different weights (so their forecasts differ), the served forecast is their
    median, and a second fit with the same seed repeats the first bit for bit."""
    import keras

    cfg = tiny_cfg.replace(model={"ensemble": 3, "layers": (4,)}, train={"epochs": 1})
    panel = _walk()
    a, b = _fit(cfg, panel), _fit(cfg, panel)
    members = keras.Model(a.model.inputs, a.model.get_layer("members").output)
    x = np.random.default_rng(1).normal(size=(20, 10, 1)).astype(np.float32)
    each = members.predict_on_batch(x)  # (20, 3, horizon)
    assert each.shape == (20, 3, 3) and not np.allclose(each[:, 0], each[:, 1])  # different members
    np.testing.assert_allclose(a.model.predict_on_batch(x), np.median(each, axis=1), rtol=1e-6, atol=1e-7)
    s = panel.series[0]
    np.testing.assert_array_equal(a.predict_origins(s, np.arange(100, 150)), b.predict_origins(s, np.arange(100, 150)))


def test_seasonal_hybrid_beats_its_network_alone_and_its_seasonal_part_alone():
    """Monthly log returns = a fixed seasonal profile + AR(1) noise (phi 0.85). With a window of 6 the network
    alone cannot see the season, the seasonal profile alone cannot follow the AR part; the hybrid has both."""
    rng = np.random.default_rng(0)
    n, n_test, h = 360, 48, 3
    dates = pd.date_range("1990-01-01", periods=n, freq="MS")
    profile = 0.08 * np.sin(2 * np.pi * np.arange(12) / 12) + 0.04 * np.cos(4 * np.pi * np.arange(12) / 12)
    e = np.zeros(n)
    for t in range(1, n):
        e[t] = 0.85 * e[t - 1] + rng.normal(0, 0.02)
    prices = 100 * np.exp(np.cumsum(profile[dates.month - 1] + e))
    panel = panel_of(prices, dates)
    s = panel.series[0]
    origins = np.arange(n - n_test, n - h)
    actual = prices[origins[:, None] + np.arange(1, h + 1)]

    def fitted(hybrid):
        cfg = RunConfig(window=WindowConfig(window=6, horizon=h),
                        model=ModelConfig(layers=(16,), dropout=0.0, hybrid=hybrid),
                        train=TrainConfig(epochs=40, batch_size=32, patience=5, learning_rate=0.01, seed=3, device="cpu"))
        return _fit(cfg, panel.map(lambda x: x.head(n - n_test)))  # fitted before the test origins

    hybrid, alone = fitted("season"), fitted("none")
    assert hybrid.seasons[s.id].used and alone.seasons == {}
    mae_hybrid = np.abs(hybrid.predict_origins(s, origins) - actual).mean()
    mae_network = np.abs(alone.predict_origins(s, origins) - actual).mean()
    season = hybrid.season_offsets(s, h)  # the seasonal part alone: the network's correction set to zero
    mae_season = np.abs(hybrid.preps[s.id].decode(prices[origins], season[origins[:, None] + np.arange(1, h + 1)])
                        - actual).mean()
    assert mae_hybrid < 0.95 * mae_season and mae_hybrid < 0.9 * mae_network, (mae_hybrid, mae_season, mae_network)


def test_seasonal_profile_auto_decides_on_the_training_rows():
    from forecast.data.seasonal import SeasonalProfile, positions

    rng = np.random.default_rng(5)
    dates = pd.date_range("2000-01-01", periods=240, freq="MS")
    noise = rng.normal(size=240)
    flat = SeasonalProfile("monthly").fit(noise, dates, "auto")
    assert not flat.used and flat.why.startswith("auto: the 12 positions' means do not differ")
    np.testing.assert_array_equal(flat.offsets(dates), np.zeros(240, np.float32))
    seasonal = SeasonalProfile("monthly").fit(noise + 2 * np.sin(2 * np.pi * (dates.month - 1) / 12), dates, "auto")
    assert seasonal.used and "differ" in seasonal.why
    assert seasonal.profile[2] == pytest.approx(np.mean((noise + 2 * np.sin(2 * np.pi * (dates.month - 1) / 12))
                                                        [dates.month == 3]))
    assert SeasonalProfile.from_dict(seasonal.to_dict()) == seasonal
    short = SeasonalProfile("monthly").fit(noise[:20], dates[:20], "season")
    assert not short.used and short.why == "20 training steps are fewer than 2 seasons of 12"
    assert SeasonalProfile("other").fit(noise, dates, "season").why == "other data has no calendar season"
    assert positions(pd.DatetimeIndex(["2024-12-30", "2024-06-15"]), "weekly").tolist() == [51, 23]
    assert positions(pd.DatetimeIndex(["2024-01-05", "2024-01-08"]), "trading_days").tolist() == [4, 0]


def test_network_variants_of_models_names():
    base = RunConfig()
    assert neural_variant("lstm", base) is base
    assert neural_variant("naive", base) is None
    v = neural_variant("gru-season-ens5-w60", base)
    assert (v.model.arch, v.model.hybrid, v.model.ensemble, v.window.window) == ("gru", "season", 5, 60)
    assert neural_variant("lstm-plain", base.replace(model={"hybrid": "auto"})).model.hybrid == "none"
    with pytest.raises(ForecastError, match=r"--models 'gru-big': 'big' is not a variant part; give a network variant"):
        neural_variant("gru-big", base)
    with pytest.raises(ForecastError, match=r"--ensemble 0: give 1 \(a single network\) to 25 members"):
        neural_variant("lstm-ens0", base)


@pytest.mark.parametrize("args, message", [
    (["train", "{csv}", "--arch", "lstmm"], "--arch 'lstmm': choose one of lstm, gru, bilstm, cnn_lstm, attention, "
                                            "transformer"),
    (["train", "{csv}", "--hybrid", "stl"], "--hybrid 'stl': choose one of none, season, auto, ets, arima, theta, "
                                            "mstl"),
    (["train", "{csv}", "--ensemble", "0"], "--ensemble 0: give 1 (a single network) to 25 members"),
    (["backtest", "{csv}", "--models", "naive,gru-x"], "--models 'gru-x': 'x' is not a variant part"),
])
def test_cli_refuses_a_bad_network_option_in_one_line_with_exit_2(walk_csv, args, message):
    from typer.testing import CliRunner

    from forecast.cli import app

    res = CliRunner().invoke(app, [a.format(csv=walk_csv) for a in args])
    assert res.exit_code == 2, res.output
    assert message in " ".join(res.output.split()) and "Traceback" not in res.output
