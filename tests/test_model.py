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
