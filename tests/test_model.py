"""The Keras model: cuDNN-eligible stacked LSTM layers, a direct multi-horizon head, and that it learns."""

from __future__ import annotations

import numpy as np
import pytest

from forecast.config import RunConfig
from forecast.models.network import build_model


def _lstm_layers(model):
    return [layer for layer in model.layers if type(layer).__name__ == "LSTM"]


@pytest.mark.parametrize("layers, dropout", [((8,), 0.0), ((16, 8, 4), 0.2)])
def test_stacked_layers_are_cudnn_eligible(tiny_cfg, layers, dropout):
    cfg = tiny_cfg.replace(model={"layers": layers, "dropout": dropout})
    model = build_model(cfg)
    lstms = _lstm_layers(model)
    assert [layer.units for layer in lstms] == list(layers)
    for i, layer in enumerate(lstms):
        c = layer.get_config()
        assert (c["activation"], c["recurrent_activation"]) == ("tanh", "sigmoid")
        assert (c["recurrent_dropout"], c["dropout"], c["unroll"], c["use_bias"]) == (0.0, 0.0, False, True)
        assert c["return_sequences"] is (i < len(layers) - 1)  # every layer but the last feeds a sequence on
    dropouts = [layer for layer in model.layers if type(layer).__name__ == "Dropout"]
    assert [d.rate for d in dropouts] == ([dropout] * len(layers) if dropout else [])


def test_output_shape_is_batch_by_horizon(tiny_cfg):
    cfg = tiny_cfg.replace(window={"window": 12, "horizon": 5}, model={"layers": (8, 4)})
    model = build_model(cfg)
    assert tuple(model.input_shape) == (None, 12, 1)
    y = model.predict(np.zeros((7, 12, 1), np.float32), verbose=0)
    assert y.shape == (7, 5)
    assert model.layers[-1].name == "horizon" and model.layers[-1].units == 5


@pytest.mark.parametrize("loss, keras_loss", [("mse", "MeanSquaredError"), ("huber", "Huber")])
def test_loss_and_learning_rate(tiny_cfg, loss, keras_loss):
    model = build_model(tiny_cfg.replace(train={"loss": loss, "learning_rate": 0.005}))
    assert type(model.loss).__name__ == keras_loss
    assert float(model.optimizer.learning_rate.numpy()) == pytest.approx(0.005)


def test_config_rebuilds_the_same_architecture(tiny_cfg):
    cfg = tiny_cfg.replace(model={"layers": (12, 6), "dropout": 0.1})
    again = RunConfig.from_dict(cfg.to_dict())
    assert again == cfg
    a, b = build_model(cfg), build_model(again)
    assert [(type(x).__name__, x.name) for x in a.layers] == [(type(x).__name__, x.name) for x in b.layers]
    assert [w.shape for w in a.get_weights()] == [w.shape for w in b.get_weights()]
    assert a.count_params() == b.count_params() == (4 * 12 * (1 + 12 + 1)) + (4 * 6 * (12 + 6 + 1)) + (6 * 3 + 3)


def test_learns_a_noiseless_sine_far_better_than_naive(tmp_path, tiny_cfg):
    """diff transform, window of one period: a few epochs bring the test MAE far below the naive one."""
    from forecast.data.load import synthetic_series
    from forecast.workflows.train import train

    synthetic_series("sine", n=600, seed=0).to_csv(tmp_path / "sine.csv", index=False)
    cfg = tiny_cfg.replace(window={"window": 20, "horizon": 3, "transform": "diff"},
                           model={"layers": (16,)}, train={"epochs": 5, "patience": 5, "learning_rate": 0.02, "seed": 1})
    (m,) = train(tmp_path / "sine.csv", cfg, verbose=0).metrics["test"]["series"].values()
    assert m["naive"]["mae"] > 2.0  # the sine moves a lot over 3 steps, so naive is poor
    assert m["lstm"]["mae"] < 0.25 * m["naive"]["mae"]
    assert m["beats_naive"] is True and m["skill_vs_naive"] > 0.75


def test_predict_batches_matches_one_call(tiny_cfg):
    from forecast.models.lstm import predict_batches

    model = build_model(tiny_cfg)
    x = np.random.default_rng(0).normal(size=(70, 10, 1)).astype(np.float32)
    whole = model(x, training=False).numpy()
    np.testing.assert_allclose(predict_batches(model, x, batch_size=32), whole, rtol=1e-6, atol=1e-6)  # 32+32+6
    assert predict_batches(model, x[:0]).shape == (0, 3)


def test_fit_traces_the_training_step_once(tiny_cfg):
    """Keras creates Adam's variables while tracing the first step unless they exist, and a tf.function that
    creates variables is traced twice (about 1.5 s of every fit of the default network): fit_model builds them
    first."""
    from forecast.data.windows import make_dataset
    from forecast.models.fitting import fit_model

    model = build_model(tiny_cfg)
    traced = []
    step = model.train_step
    model.train_step = lambda data: (traced.append(data[0].shape), step(data))[1]
    z = np.sin(np.arange(200) / 5.0).astype(np.float32)
    train = make_dataset(z, np.arange(9, 150), 10, 3, 32, shuffle=True)
    val = make_dataset(z, np.arange(150, 196), 10, 3, 32)
    result = fit_model(model, train, val, tiny_cfg.train, verbose=0)
    assert result.epochs_run == 2
    assert len(traced) == 1, traced
    assert model.optimizer.iterations.numpy() == 2 * 5  # 141 windows in batches of 32, two epochs


def test_early_stopping_counts_only_improvements_of_a_tenth_of_a_percent_and_restores_that_epoch(tiny_cfg):
    """Validation losses 1.0, 0.9995, 0.9991, 0.9980, 0.9979, 0.9978, 0.9977 with patience 3: the second and
    third are under 0.1% below the best, so the fourth is the first to improve (0.2%); the next three are each
    under 0.1% below it, and the fit stops after the seventh with the fourth epoch's weights put back."""
    from forecast.models.fitting import early_stopping

    model = build_model(tiny_cfg)
    callback = early_stopping(patience=3)
    callback.set_model(model)
    first = model.get_weights()
    kept = {}
    for epoch, loss in enumerate([1.0, 0.9995, 0.9991, 0.9980, 0.9979, 0.9978, 0.9977, 0.5]):
        model.set_weights([w + epoch for w in first])  # each epoch's weights told apart by their offset
        kept[epoch + 1] = model.get_weights()
        callback.on_epoch_end(epoch, {"loss": 2.0 - epoch, "val_loss": loss})
        if model.stop_training:
            break
    assert epoch == 6 and callback.best_epoch == 4 and callback.best == 0.9980
    assert callback.history == {"loss": [2.0, 1.0, 0.0, -1.0, -2.0, -3.0, -4.0],
                                "val_loss": [1.0, 0.9995, 0.9991, 0.9980, 0.9979, 0.9978, 0.9977]}
    callback.restore()
    for got, want in zip(model.get_weights(), kept[4], strict=True):
        np.testing.assert_array_equal(got, want)
    # a NaN first loss is no improvement, yet its weights are kept (nothing better yet); patience 0 stops there
    nan_first = early_stopping(patience=0)
    nan_first.set_model(model)
    model.stop_training = False
    nan_first.on_epoch_end(0, {"val_loss": float("nan")})
    assert nan_first.best_epoch == 1 and model.stop_training is True


def _lending_cfg(tiny_cfg):
    """Two layers with dropout: the lent network's dropout seeds must be reset too."""
    return tiny_cfg.replace(model={"layers": (8, 8), "dropout": 0.2}, train={"epochs": 3, "patience": 3})


def _walk(seed: int):
    from forecast.data.panel import panel_of

    return panel_of(100 + np.cumsum(np.random.default_rng(seed).normal(size=240)))


def _count_traces(model) -> list:
    traced, step = [], model.train_step
    model.train_step = lambda data: (traced.append(1), step(data))[1]
    return traced


def test_a_network_given_back_is_lent_to_the_next_fit_untraced_and_fits_as_a_fresh_one(tiny_cfg, monkeypatch):
    """network.lend_networks: the next fit of the same graph gets the network an earlier fit gave back, with Keras'
    traced steps and every variable (weights, dropout seeds, Adam's state and learning rate) reset, so its fit and
    forecasts are a fresh network's to the bit."""
    from forecast.models import network
    from forecast.models.lstm import LSTMForecaster

    monkeypatch.setattr(network, "_SPARE", {})
    cfg = _lending_cfg(tiny_cfg)
    first = LSTMForecaster(cfg).fit(_walk(0))
    net = first.model
    traced = _count_traces(net)
    net.optimizer.learning_rate = 1e-5  # as ReduceLROnPlateau leaves it: the lent network starts from cfg's rate
    first.release()
    assert first.model is None

    lent = LSTMForecaster(cfg).fit(_walk(1))
    assert lent.model is net and traced == []  # its training step was not traced again
    forecast_lent = lent.forecast(_walk(1), 3)["series"]
    lent_weights = lent.model.get_weights()

    network._SPARE.clear()
    fresh = LSTMForecaster(cfg).fit(_walk(1))
    assert fresh.model is not net
    assert fresh.fit_result.history == lent.fit_result.history
    for a, b in zip(fresh.model.get_weights(), lent_weights):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(fresh.forecast(_walk(1), 3)["series"], forecast_lent)


def test_a_network_not_given_back_is_never_lent(tiny_cfg, monkeypatch):
    from forecast.models import network
    from forecast.models.lstm import LSTMForecaster

    monkeypatch.setattr(network, "_SPARE", {})
    cfg = _lending_cfg(tiny_cfg)
    kept = LSTMForecaster(cfg).fit(_walk(0))
    before = kept.forecast(_walk(0), 3)["series"]
    other = LSTMForecaster(cfg).fit(_walk(1))
    assert other.model is not kept.model
    np.testing.assert_array_equal(kept.forecast(_walk(0), 3)["series"], before)
    given = other.model
    other.release()
    wider = LSTMForecaster(cfg.replace(model={"layers": (16, 8)})).fit(_walk(1))  # another graph: built anew
    assert wider.model is not given and list(network._SPARE.values()) == [[(given, given)]]


@pytest.mark.parametrize("fit, n_series, folds", [("global", 1, 3), ("per_series", 2, 2)])
def test_backtest_folds_pass_the_network_on_and_forecast_as_fresh_networks_do(tiny_cfg, monkeypatch, fit, n_series,
                                                                              folds):
    """Each fit of a backtest (a fold; per series, a fold of one series) gives its network to the next one
    (folds.run_fold): the training step traced once in all (three fits, or four: two series, two folds), and the
    forecasts of fits that each built their own."""
    from dataclasses import replace

    from forecast.data.panel import Panel, from_series
    from forecast.data.load import series_from_frame, synthetic_series
    from forecast.evaluation.backtest import backtest
    from forecast.models import network

    built = network.build_networks
    traces = []

    def counted(cfg, n_features=1):
        pair = built(cfg, n_features)
        traces.append(_count_traces(pair[0]))
        return pair

    monkeypatch.setattr(network, "build_networks", counted)
    panel = Panel(tuple(replace(from_series(series_from_frame(synthetic_series("random_walk", 200, 3 + k))).series[0],
                                id=f"s{k}") for k in range(n_series)), layout="long")
    cfg = _lending_cfg(tiny_cfg).replace(model={"shrink": False, "fit": fit})  # the network's forecasts, not naive's
    kwargs = dict(folds=folds, step=5, models=["lstm"])
    monkeypatch.setattr(network, "_SPARE", {})
    lent = backtest(panel, cfg, **kwargs).forecasts
    assert [len(t) for t in traces] == [1] + [0] * (folds * n_series - 1)

    traces.clear()
    monkeypatch.setattr(network, "_SPARE", {})
    monkeypatch.setattr(network, "give_back", lambda key, networks: None)  # nothing given back: all built
    fresh = backtest(panel, cfg, **kwargs).forecasts
    assert [len(t) for t in traces] == [1] * (folds * n_series)
    np.testing.assert_array_equal(lent["forecast"].to_numpy(), fresh["forecast"].to_numpy())


def test_spare_networks_are_kept_for_the_last_few_graphs_given_back(tiny_cfg, monkeypatch):
    """Networks of many graphs given back in one process (other settings, a series with or without a statistical
    channel): only those of the last SPARE_GRAPHS graphs are kept, each pair holding its traced steps."""
    from forecast.models import network

    monkeypatch.setattr(network, "_SPARE", {})
    pairs = [network.lend_networks(tiny_cfg.replace(model={"layers": (4 + k,)})) for k in range(network.SPARE_GRAPHS + 1)]
    for networks, key in pairs:
        network.give_back(key, networks)
    assert list(network._SPARE) == [key for _, key in pairs[1:]]  # the first graph's pair was dropped
    lent, key = network.lend_networks(tiny_cfg.replace(model={"layers": (5,)}))
    assert lent is pairs[1][0] and key not in network._SPARE
    network.give_back(key, lent)  # given back again: now the latest
    assert list(network._SPARE) == [key for _, key in pairs[2:]] + [pairs[1][1]]
    again, key = network.lend_networks(tiny_cfg.replace(model={"layers": (4,)}))
    assert key == pairs[0][1] and again is not pairs[0][0]
