"""The residual hybrid (models/residual.py): a statistical model fitted on the training rows, the network trained on
what its forecasts leave. It beats both of its parts on a signal made for it, fits nothing outside the training
rows, survives the bundle, and ``auto`` decides on the fit's own rows with its figures in the message."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forecast.config import ModelConfig, RunConfig, TrainConfig, WindowConfig, neural_variant
from forecast.data.panel import panel_of
from forecast.data.transforms import Preprocessor
from forecast.models import residual


def _seasonal_ar(n=360, seed=0, phi=0.85):
    """Monthly prices whose log returns are a fixed, irregular seasonal profile plus AR(1) noise (a smooth
    profile would let a short window tell the month from the last few returns)."""
    rng = np.random.default_rng(seed)
    dates = pd.date_range("1990-01-01", periods=n, freq="MS")
    profile = np.random.default_rng(11).normal(0, 0.06, 12)
    profile -= profile.mean()
    e = np.zeros(n)
    for t in range(1, n):
        e[t] = phi * e[t - 1] + rng.normal(0, 0.02)
    return panel_of(100 * np.exp(np.cumsum(profile[dates.month - 1] + e)), dates)


def _cfg(hybrid, window=6, h=3, epochs=40):
    return RunConfig(window=WindowConfig(window=window, horizon=h),
                     model=ModelConfig(layers=(16,), dropout=0.0, hybrid=hybrid),
                     train=TrainConfig(epochs=epochs, batch_size=32, patience=5, learning_rate=0.01, seed=3,
                                       device="cpu"))


def _fit(cfg, panel):
    from forecast.models.lstm import LSTMForecaster

    return LSTMForecaster(cfg).fit(panel)


def test_encoded_paths_decode_back_to_the_same_prices():
    prep = Preprocessor("log_return").fit(np.array([100.0, 101, 99, 102, 104, 103]))
    origin = np.array([103.0, 50.0])
    paths = np.array([[104.0, 106.0, 105.0], [49.0, 51.0, 52.0]])
    np.testing.assert_allclose(prep.decode(origin, residual.encode_paths(prep, origin, paths)), paths, rtol=1e-5)
    diff = Preprocessor("diff").fit(np.array([1.0, -2, 3, 0]))
    np.testing.assert_allclose(diff.decode(origin, residual.encode_paths(diff, origin, paths)), paths, rtol=1e-5)
    # a path through zero under log returns is floored at a thousandth of its origin price, not a NaN
    floored = prep.decode(origin[:1], residual.encode_paths(prep, origin[:1], np.array([[50.0, -5.0, 20.0]])))
    np.testing.assert_allclose(floored, [[50.0, 0.103, 20.0]], rtol=1e-4)


def test_hybrid_beats_its_statistical_part_and_the_network_alone():
    """Seasonal profile + AR(1) returns, window 6: AutoETS follows the season but not the AR part's run of
    returns, the network alone cannot see a season longer than its window; the hybrid has both."""
    panel = _seasonal_ar()
    s, n, n_test, h = panel.series[0], 360, 48, 3
    prices = s.values
    origins = np.arange(n - n_test, n - h)
    actual = prices[origins[:, None] + np.arange(1, h + 1)]
    fit_panel = panel.map(lambda x: x.head(n - n_test))  # fitted before the test origins
    hybrid, alone = _fit(_cfg("ets"), fit_panel), _fit(_cfg("none"), fit_panel)
    assert hybrid.hybrid_summary(s.id) == {"used": True, "part": "ets", "why": "as asked"}
    assert alone.hybrid_summary(s.id) is None
    mae_hybrid = np.abs(hybrid.predict_origins(s, origins) - actual).mean()
    mae_network = np.abs(alone.predict_origins(s, origins) - actual).mean()
    mae_ets = np.abs(hybrid.stats[s.id].paths(prices, origins, h) - actual).mean()  # the correction set to zero
    assert mae_hybrid < 0.95 * mae_ets and mae_hybrid < 0.9 * mae_network, (mae_hybrid, mae_ets, mae_network)


def test_statistical_part_is_fitted_on_the_training_rows_only():
    """Change every price after the training rows: the stored fit, its forecasts from training origins and the
    network's training labels stay the same; forecasts from later origins follow the new prices."""
    panel = _seasonal_ar(n=200)
    s = panel.series[0]
    n_train = 150
    changed = s.values.copy()
    changed[n_train:] *= np.random.default_rng(1).uniform(0.5, 1.5, len(changed) - n_train)
    a = residual.StatisticalPart("ets", (12,)).fit(s.values[:n_train])
    b = residual.StatisticalPart("ets", (12,)).fit(changed[:n_train])
    assert a.to_dict() == b.to_dict() and len(a.to_dict()["prices"]) == n_train
    early, late = np.arange(20, n_train - 3), np.arange(n_train, 190)
    np.testing.assert_array_equal(a.paths(s.values, early, 3), b.paths(changed, early, 3))
    assert not np.allclose(a.paths(s.values, late, 3), b.paths(changed, late, 3))


def test_auto_uses_a_statistical_model_only_where_one_beats_naive_on_the_validation_rows():
    seasonal = _seasonal_ar(n=240, phi=0.0).series[0].values
    part, why = residual.choose(seasonal[:180], seasonal[180:], (12,), h=3)
    assert part is not None and part.why == why
    assert why.startswith(f"auto: {part.name} is the most accurate statistical model on the validation rows "
                          "(MAE relative to naive: ets ")
    assert "; one-sided Diebold-Mariano p=" in why and float(why.split("p=")[1].split()[0]) < 0.05
    walk = 100 * np.exp(np.cumsum(np.random.default_rng(4).normal(0, 0.01, 600)))
    part, why = residual.choose(walk[:500], walk[500:], (5,), h=3)
    assert part is None
    assert why.startswith("auto: no statistical model beats the naive forecast by 5% on the validation rows "
                          "(MAE relative to naive: ets ")
    part, why = residual.choose(walk[:500], walk[500:502], (5,), h=3)
    assert part is None and why == "auto: 2 validation rows are fewer than a horizon of 3"


def test_auto_takes_no_statistical_model_whose_lead_over_naive_the_validation_rows_do_not_confirm():
    """A random walk has nothing a statistical model can forecast; on this one's 30 validation rows Theta's MAE
    happens to be 7% below naive's. Auto asks a Diebold-Mariano test too, and declines."""
    walk = 100 * np.exp(np.cumsum(np.random.default_rng(1).normal(0, 0.01, 330)))
    part, why = residual.choose(walk[:300], walk[300:], (5,), h=3)
    assert part is None
    assert why == ("auto: theta beats the naive forecast on the validation rows, but not significantly (one-sided "
                   "Diebold-Mariano p=0.23 over 28 origins; MAE relative to naive: ets 0.956, arima 0.976, "
                   "theta 0.930, mstl 0.984)")


def test_a_season_the_training_rows_show_stands_in_for_a_test_too_few_origins_can_make():
    """A monthly seasonal series with 10 validation rows: 8 origins one row apart cannot confirm Theta's lead
    (its MAE 0.42x naive's), the F test on the training rows' calendar months can; a random walk's months show
    nothing, so there the lead must be significant."""
    from forecast.data.seasonal import season_shown

    panel = _seasonal_ar(n=130, phi=0.0)
    s = panel.series[0]
    assert season_shown(s.values[:120], s.dates[:120], s.freq)
    unconfirmed, why = residual.choose(s.values[:120], s.values[120:], (12,), h=3)
    taken, why_taken = residual.choose(s.values[:120], s.values[120:], (12,), h=3, season_shown=True)
    assert unconfirmed is None and "but not significantly" in why
    assert taken is not None and why_taken.endswith("not significant, but the training rows show a calendar season)")
    walk = 100 * np.exp(np.cumsum(np.random.default_rng(1).normal(0, 0.01, 330)))
    assert not season_shown(walk[:300], pd.date_range("2000-01-31", periods=300, freq="ME"), "monthly")


def test_auto_takes_mstl_where_the_validation_rows_show_a_long_season_best():
    """Weekly Mauna Loa CO2 (statsmodels' dataset): a 52-week season, longer than AutoETS or AutoARIMA model here.
    MSTL is a candidate too, and the validation rows show it ahead of Theta, the only other seasonal one."""
    import statsmodels.datasets.co2 as co2

    y = co2.load_pandas().data["co2"].interpolate().to_numpy()[-500:]
    part, why = residual.choose(y[:400], y[400:], (52,), h=10)
    assert part is not None and part.name == "mstl" and part.seasons == (52,)
    figures = dict(f.split() for f in why.split("(MAE relative to naive: ")[1].split(";")[0].split(", "))
    assert list(figures) == list(residual.AUTO_CANDIDATES)
    assert float(figures["mstl"]) < float(figures["theta"]) < min(float(figures["ets"]), float(figures["arima"]))


def test_auto_fits_its_candidates_with_the_calendars_primary_season():
    """A daily calendar has seasons 7 and 365; MSTL with both took 0.5 s a forecast (the week alone 0.01 s), and
    the other candidates use the first only. Auto's part, whichever wins, has the week alone."""
    t = np.arange(300)
    y = 100 + 4 * np.array([0, 1, 2, 1.5, 3, -3, -4.5])[t % 7] + np.cumsum(np.random.default_rng(5).normal(0, 0.3, 300))
    part, why = residual.choose(y[:230], y[230:], (7, 365), h=7)
    assert part is not None and part.seasons == (7,) and part.to_dict()["seasons"] == [7], why


def test_bundle_keeps_the_prices_the_statistical_model_runs_over(tmp_path):
    """train -> bundle -> predict from the stored rows equals the forecast from the whole file, and both equal
    the forecaster's own; the stored statistical part refits to the same forecasts."""
    from forecast.bundle import load_bundle
    from forecast.models.baselines import FIT_TAIL
    from forecast.workflows.predict import predict
    from forecast.workflows.train import train

    panel = _seasonal_ar(n=200)
    s = panel.series[0]
    pd.DataFrame({"date": s.dates, "price": s.values}).to_csv(tmp_path / "m.csv", index=False)
    cfg = _cfg("theta", window=8, h=4, epochs=2)
    out = train(tmp_path / "m.csv", cfg, tmp_path / "b", verbose=0)
    assert out.metrics["test"]["series"]["price"]["hybrid"] == {"used": True, "part": "theta", "why": "as asked"}
    b = load_bundle(out.bundle_dir)
    assert len(b.last_window) == min(200, FIT_TAIL["theta"])  # all 200 rows: fewer than the model's tail
    stored = predict(b, horizon=9).frame["forecast"].to_numpy()
    fresh = predict(b, horizon=9, data_path=tmp_path / "m.csv").frame["forecast"].to_numpy()
    np.testing.assert_array_equal(stored, fresh)
    entry = b.series["series"][0]["statistical"]
    assert entry["model"] == "theta" and entry["fitted_on"] == "train"
    assert len(entry["prices"]) == out.metrics["test"]["series"]["price"]["split"]["train_rows"]
    again = residual.StatisticalPart.from_dict(entry)
    origins = np.arange(150, 190)
    orig = residual.StatisticalPart("theta", (12,)).fit(np.asarray(entry["prices"]))
    np.testing.assert_array_equal(again.paths(s.values, origins, 4), orig.paths(s.values, origins, 4))


def test_recursive_forecast_past_the_trained_horizon_continues_the_statistical_part():
    panel = _seasonal_ar(n=200)
    fc = _fit(_cfg("ets", window=8, h=3, epochs=1), panel)
    path = fc.forecast(panel, 10)["series"]
    assert path.shape == (10,) and np.all(np.isfinite(path))
    np.testing.assert_array_equal(path[:3], fc.forecast(panel, 3)["series"])
    # the first trained-horizon block equals the batched forecast from the last origin
    s = panel.series[0]
    np.testing.assert_allclose(path[:3], fc.predict_origins(s, np.array([len(s) - 1]))[0], rtol=1e-5)


def test_variants_name_the_statistical_hybrids():
    v = neural_variant("gru-arima-ens2", RunConfig())
    assert (v.model.arch, v.model.hybrid, v.model.ensemble) == ("gru", "arima", 2)
    assert neural_variant("lstm-mstl", RunConfig()).model.hybrid == "mstl"


def test_auto_in_a_panel_decides_per_series_and_the_others_read_a_zero_error_channel():
    """A seasonal series and a random walk in one global fit: auto gives only the seasonal one a statistical part;
    the network reads one more channel, all zeros for the walk, and forecasts both."""
    from dataclasses import replace

    from forecast.data.panel import Panel

    seasonal = replace(_seasonal_ar(n=240, phi=0.0).series[0], id="S")
    walk = replace(seasonal, id="W", values=100 * np.exp(np.cumsum(np.random.default_rng(4).normal(0, 0.01, 240))))
    panel = Panel((seasonal, walk))
    fc = _fit(_cfg("auto", window=6, h=3, epochs=1), panel)
    assert set(fc.stats) == {"S"} and fc.model.input_shape[-1] == 2
    assert fc.hybrid_summary("W")["part"] in ("none", "season")
    assert fc.hybrid_summary("W")["why"].startswith("auto: no statistical model beats the naive forecast")
    np.testing.assert_array_equal(fc.encoded(walk)[:, 1], np.zeros(239, np.float32))
    assert np.any(fc.encoded(seasonal)[:, 1] != 0)
    paths = fc.forecast(panel, 5)
    assert {k: v.shape for k, v in paths.items()} == {"S": (5,), "W": (5,)}


@pytest.mark.parametrize("hybrid", ["auto", "arima"])
def test_train_forks_the_statistical_part_and_gets_what_the_library_gets_in_process(tmp_path, hybrid):
    """`forecast train` fits the hybrid's statistical part (auto's choice, or the model named) and runs its forecasts
    in a process forked before TensorFlow loads, spread over forked workers; the library call (TensorFlow already
    loaded here) runs them in-process: the same part, the same bundle figures."""
    import json
    import os
    import subprocess
    import sys

    from conftest import REPO
    from forecast.workflows.train import train

    s = _seasonal_ar(n=200, phi=0.0).series[0]
    pd.DataFrame({"date": s.dates, "price": s.values}).to_csv(tmp_path / "m.csv", index=False)
    flags = ["--window", "8", "--horizon", "3", "--layers", "8", "--epochs", "2", "--seed", "5", "--quiet",
             "--hybrid", hybrid]
    env = {**os.environ, "PYTHONPATH": str(REPO), "CUDA_VISIBLE_DEVICES": ""}
    proc = subprocess.run([sys.executable, "-m", "forecast", "train", str(tmp_path / "m.csv"), *flags, "--model",
                           str(tmp_path / "cli")], capture_output=True, text=True, timeout=300, env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    cfg = RunConfig(window=WindowConfig(window=8, horizon=3), model=ModelConfig(layers=(8,), hybrid=hybrid),
                    train=TrainConfig(epochs=2, seed=5))
    train(tmp_path / "m.csv", cfg, tmp_path / "lib", verbose=0)
    cli, lib = (json.loads((tmp_path / d / "metrics.json").read_text())["test"] for d in ("cli", "lib"))
    assert cli == lib
    part = cli["series"]["price"]["hybrid"]["part"]
    assert part in residual.AUTO_CANDIDATES if hybrid == "auto" else part == hybrid  # a statistical model was used
    stats = [json.loads((tmp_path / d / "series.json").read_text())["series"][0]["statistical"] for d in ("cli", "lib")]
    assert stats[0] == stats[1]


TRAIN_BY_PROCESS = """
import forecast.workflows.train as T
from forecast.models import residual
parts, fit_series, part_fit = T.hybrid_parts, T.fit_series, residual.StatisticalPart.fit
def hybrid_parts(panel, *args):
    note("parts:" + ",".join(panel.ids))
    return parts(panel, *args)
def fitted(task):
    note("fit:" + ",".join(task[1].ids))
    return fit_series(task)
def part_fitted(self, prices):
    note("part_fit")
    return part_fit(self, prices)
T.hybrid_parts, T.fit_series, residual.StatisticalPart.fit = hybrid_parts, fitted, part_fitted
"""


def _two_series_csv(path):
    frames = [pd.DataFrame({"id": sid, "date": s.dates, "price": s.values})
              for sid, s in (("A", _seasonal_ar(n=200, phi=0.0).series[0]),
                             ("B", _seasonal_ar(n=180, seed=4, phi=0.0).series[0]))]
    pd.concat(frames).to_csv(path, index=False)
    return path


def test_per_series_train_forks_each_series_part_and_gets_what_the_library_gets_in_process(tmp_path):
    """`forecast train --per-series` fits each series' statistical part in the process forked before TensorFlow
    loads, one series at a time (a panel of one: its own part, as its own network's fit would choose), and the
    fits use them: the main process fits no statistical model. The bundle is the in-process library train's."""
    import json

    from conftest import cli_by_process
    from forecast.workflows.train import train

    csv = _two_series_csv(tmp_path / "two.csv")
    flags = ["--id-col", "id", "--per-series", "--window", "8", "--horizon", "3", "--layers", "8", "--epochs", "2",
             "--seed", "5", "--quiet", "--hybrid", "arima", "--charts", "none"]
    _, seen, main = cli_by_process(TRAIN_BY_PROCESS, ["train", csv, *flags, "--model", tmp_path / "cli"],
                                   tmp_path / "pids.txt")
    assert seen["fit:A"] == seen["fit:B"] == [main]  # the networks fit here ...
    (forked,) = set(seen["parts:A"] + seen["parts:B"] + seen["part_fit"])  # ... their parts in one other process
    assert main not in seen["statsforecast"]  # handed over without statsforecast's models, every forecast computed
    assert forked != main and len(seen["parts:A"]) == len(seen["parts:B"]) == 1 and len(seen["part_fit"]) == 2
    cfg = RunConfig(window=WindowConfig(window=8, horizon=3), model=ModelConfig(layers=(8,), hybrid="arima",
                                                                              fit="per_series"),
                    train=TrainConfig(epochs=2, seed=5))
    train(csv, cfg.replace(data={"id_col": "id"}), tmp_path / "lib", verbose=0)
    cli, lib = (json.loads((tmp_path / d / "metrics.json").read_text())["test"] for d in ("cli", "lib"))
    assert cli == lib and [cli["series"][k]["hybrid"]["part"] for k in "AB"] == ["arima", "arima"]
    specs = [json.loads((tmp_path / d / "series.json").read_text())["series"] for d in ("cli", "lib")]
    assert [e["statistical"] for e in specs[0]] == [e["statistical"] for e in specs[1]]
    # training rows: each series split on its own rows (B is 20 rows shorter: 180 - 27 - 27), a network per series
    assert [len(e["statistical"]["prices"]) for e in specs[0]] == [200 - 30 - 30, 180 - 27 - 27]


def test_per_series_fits_draw_each_series_parts_when_its_fit_starts(tmp_path, monkeypatch):
    """Per series, each fit draws its series' parts when it is handed out, so the later series' parts can still be
    computing while the earlier networks fit; the restored forecasters keep the parts they were handed."""
    from forecast.data.panel import load_panel
    from forecast.models.lstm import hybrid_parts
    from forecast.workflows import train as T

    cfg = _cfg("arima", window=8, epochs=1).replace(model={"fit": "per_series"})
    panel = load_panel(_two_series_csv(tmp_path / "two.csv"), id_col="id")
    n_val = {"A": 30, "B": 27}
    events, fit_series = [], T.fit_series

    def parts():
        for s in panel:
            events.append(f"draw {s.id}")
            yield hybrid_parts(panel.select(s.id), [n_val[s.id]], 3, "arima")

    def fitted(task):
        events.append(f"fit {task[1].ids[0]}")
        return fit_series(task)

    monkeypatch.setattr(T, "fit_series", fitted)
    handed = parts()
    fits = T.fit_networks(panel, n_val, cfg, 0, choices=handed)
    assert events == ["draw A", "fit A", "draw B", "fit B"]
    assert next(handed, None) is None and sorted(fits) == ["A", "B"]
    for sid, fc in fits.items():
        assert fc.stats[sid].model_ is not None and len(fc.stats[sid].computed) == len(panel[sid]) - 2  # as handed


def test_backtest_verdict_names_the_statistical_model_the_lstm_corrects():
    """A win of the residual hybrid is not credited to the network alone: the verdict names the statistical model
    in every fold's fit; with --hybrid none it is plain 'the LSTM'."""
    from forecast.evaluation.backtest import backtest

    import dataclasses

    panel = _seasonal_ar(n=240, phi=0.0)
    zero = "the lstm row (AutoETS's forecasts, fitted without the validation rows: the network's weight is 0 in every fit)"
    for hybrid, shrink, label in (("ets", False, "the LSTM (correcting AutoETS's forecasts)"),
                                  ("none", False, "the LSTM"), ("ets", True, zero)):
        cfg = _cfg(hybrid, epochs=2)
        cfg = dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, shrink=shrink))
        rep = backtest(panel, cfg, folds=2, models=("lstm", "naive", "theta")).report
        v = rep["verdict"]
        if shrink:  # white-noise residuals: validation confirms nothing the network learned, in either fit
            assert rep["network_weight"]["per_fit"] == [0.0, 0.0]
            assert rep["network_weight"]["part_per_fit"] == ["ets", "ets"]  # what each fit forecast, recorded
            assert rep["lag_diagnostic"]["message"].startswith("the lstm row's one-step forecasts")
        else:
            assert rep["lag_diagnostic"]["message"].startswith("the LSTM's one-step forecasts")
        assert v["lstm_is"] == label
        assert (label in v["text"]) or (label[0].upper() + label[1:]) in v["text"]


def test_pooled_verdict_over_many_series_names_the_statistical_model_too():
    """Over a panel the one-sentence verdict names the statistical part as the per-series ones do."""
    import dataclasses

    from forecast.data.panel import Panel
    from forecast.evaluation.backtest import backtest

    series = tuple(dataclasses.replace(_seasonal_ar(n=240, seed=k, phi=0.0).series[0], id=sid)
                   for k, sid in enumerate(("a", "b")))
    rep = backtest(Panel(series, target="price"), _cfg("ets", epochs=2), folds=2,
                   models=("lstm", "naive")).report
    assert rep["pooled"]["lstm_is"] == "the LSTM (correcting AutoETS's forecasts)"
    assert rep["verdict"]["text"].startswith("The LSTM (correcting AutoETS's forecasts) has a lower MAE than the "
                                             "naive forecast on "), rep["verdict"]
    assert [rep["series"][sid]["verdict"]["lstm_is"] for sid in ("a", "b")] == [rep["verdict"]["lstm_is"]] * 2


def test_pooled_verdict_names_the_statistical_part_once():
    """The label is said once; the rest of the sentence says "the LSTM"."""
    from forecast.evaluation.backtest import pooled_verdict

    label = "the LSTM (correcting the forecasts of AutoETS or AutoTheta in 3 of 4 fits)"
    p = {"models": {"lstm": {"mean_mase": 0.8}, "naive": {"mean_mase": 1.0}}, "lstm_beats_naive": 2,
         "n_compared": 2, "lstm_beats_naive_significantly": 1, "evidence": {"a": {"origins": 10}, "b": {"origins": 10}},
         "dm_test": {"p_value": 0.01, "statistic": -2.5, "origins": 10}, "lstm_is": label}
    assert pooled_verdict(p) == (
        "The LSTM (correcting the forecasts of AutoETS or AutoTheta in 3 of 4 fits) has a lower MAE than the naive "
        "forecast on 2 of 2 series (1 significantly); pooled over the series the LSTM is significantly more accurate "
        "(pooled Diebold-Mariano p = 0.01 over 10 origin dates); the LSTM has the lowest mean MASE of all models "
        "(0.800).")


def test_predict_from_the_stored_rows_fits_no_statistical_model(tmp_path):
    """The bundle keeps its statistical part's forecasts from the stored rows: predict from them imports no
    statsforecast (2 s and more) and gives the forecast a refit gives; another origin still refits."""
    import json
    import subprocess
    import sys

    from forecast.bundle import load_bundle
    from forecast.workflows.predict import predict
    from forecast.workflows.train import train

    s = _seasonal_ar(n=200).series[0]
    pd.DataFrame({"date": s.dates, "price": s.values}).to_csv(tmp_path / "m.csv", index=False)
    out = train(tmp_path / "m.csv", _cfg("ets", window=8, h=4, epochs=2), tmp_path / "b", verbose=0)
    probe = ("import json, sys; from forecast.bundle import load_bundle; from forecast.workflows.predict import "
             f"predict; f = predict(load_bundle({str(out.bundle_dir)!r}, engine='numpy'), horizon=4, levels=None); "
             "print(json.dumps([sorted(m for m in sys.modules if m.startswith('statsforecast')), "
             "f.frame['forecast'].tolist()]))")
    run = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    imported, served = json.loads(run.stdout.strip().splitlines()[-1])
    assert imported == []
    b = load_bundle(out.bundle_dir, engine="numpy")
    entry = b.series["series"][0]["statistical"]
    assert len(entry.pop("served")) == 9  # the window's 8 origins and the one before
    refit = predict(b, horizon=4, levels=None).frame["forecast"].to_numpy()
    np.testing.assert_array_equal(np.asarray(served), refit)
    part = residual.StatisticalPart.from_dict({**entry, "served": {}})
    assert part.model_ is None  # fitted when first asked for a forecast it does not know
    part.paths(s.values, np.array([150]), 4)
    assert part.model_ is not None


def _count_forward(part) -> list:
    """Count ``part``'s forward runs (its statsforecast model's forecasts over a history); the list grows by one
    per run."""
    runs, forward = [], part.model_.fitted_model.forward

    def counted(**kw):
        runs.append(1)
        return forward(**kw)
    part.model_.fitted_model.forward = counted
    return runs


def test_a_forecast_asked_again_is_the_one_computed_without_a_second_run():
    """The fit's windows, its scoring and the bundle ask for the same origins over the same prices (a longer
    series has the same history up to each origin): each forecast is run once per fit, and a refit forgets them."""
    y = _seasonal_ar(n=200).series[0].values
    part = residual.StatisticalPart("ets", (12,)).fit(y[:150])
    first = part.paths(y[:150], np.arange(150), 3)
    runs = _count_forward(part)
    np.testing.assert_array_equal(part.paths(y, np.arange(150), 3), first)
    assert runs == []
    part.paths(y, np.array([150, 151]), 3)  # origins not asked before
    assert len(runs) == 2
    part.fit(y[:140])  # other parameters: nothing computed before holds
    assert part.computed == {}
    assert not np.array_equal(part.paths(y, np.arange(150), 3), first)


def test_a_part_handed_over_without_its_model_serves_what_was_computed_and_refits_for_the_rest():
    """StatisticalPart.without_model (what a backtest's forked process hands over): no statsforecast object to
    unpickle; the forecasts computed before are served as they are, and another origin refits the model on the same
    training prices first, to the same parameters (the same forecast to the bit)."""
    import pickle

    y = _seasonal_ar(n=200).series[0].values
    part = residual.StatisticalPart("arima", (12,)).fit(y[:150])
    computed = part.paths(y, np.arange(160), 3)
    light = pickle.loads(pickle.dumps(part.without_model()))
    assert light.model_ is None and part.model_ is not None
    np.testing.assert_array_equal(light.paths(y, np.arange(160), 3), computed)
    assert light.model_ is None  # nothing was run
    np.testing.assert_array_equal(light.paths(y, np.arange(160, 190), 3), part.paths(y, np.arange(160, 190), 3))
    assert light.model_ is not None


def test_autos_choice_brings_the_forecasts_of_every_origin_the_fit_reads():
    """auto_choices runs in a process forked before TensorFlow loads: the model it picks carries its forecasts from
    every origin of the training and validation rows, equal to a fresh fit's, so the fit runs none of them."""
    from forecast.models.lstm import auto_choices

    panel = _seasonal_ar(n=240, phi=0.0)
    s = panel.series[0]
    (part, _), = auto_choices(panel, [40], 3).values()
    assert part is not None
    fresh = residual.StatisticalPart(part.name, part.seasons).fit(s.values[:200])
    expected = fresh.paths(s.values, np.arange(len(s)), 3)
    runs = _count_forward(part)
    np.testing.assert_array_equal(part.paths(s.values, np.arange(len(s)), 3), expected)
    assert runs == []


def test_trains_forked_statistics_give_what_auto_and_the_baselines_give_apart(monkeypatch):
    """train's one forked process makes auto's choice, then the baselines' forecasts, searching each statistical
    model once on the training rows: the same choice and forecasts as each computed on its own, and no sharing
    left on."""
    from collections import Counter

    from forecast.models import baselines
    from forecast.models.lstm import auto_choices
    from forecast.workflows.train import baseline_forecasts, splits_of, statistical_work

    searches, quiet = Counter(), baselines._quiet

    def counted(fn, *args, **kwargs):
        if getattr(fn, "__name__", "") == "fit":  # a statsforecast model's fit (forecasts are lambdas)
            searches[type(fn.__self__).__name__] += 1
        return quiet(fn, *args, **kwargs)

    monkeypatch.setattr(baselines, "_quiet", counted)
    cfg = _cfg("auto")
    panel = _seasonal_ar(n=240, phi=0.0)
    splits = splits_of(panel, cfg)
    heads = panel.map(lambda s: s.head(splits[s.id].n_train + splits[s.id].n_val))
    stages = statistical_work(panel, heads, splits, cfg)
    (part, why), = next(stages).values()
    assert baselines._SHARED is None  # open only while a stage computes
    found, known = next(stages)
    assert searches == {"AutoARIMA": 1, "AutoETS": 1, "AutoTheta": 1, "MSTL": 1}  # apart: each twice
    (alone, alone_why), = auto_choices(heads, [splits[s.id].n_val for s in heads], cfg.window.horizon).values()
    apart = baseline_forecasts(panel, splits, cfg)
    assert part is not None and (part.name, why) == (alone.name, alone_why)
    np.testing.assert_array_equal(part.paths(panel.series[0].values, np.arange(240), 3),
                                  alone.paths(panel.series[0].values, np.arange(240), 3))
    (sid, got), = found.items()
    assert got["info"] == apart[sid]["info"] and got["info"]["chosen"] in ("arima", "ets", "theta", "mstl")
    assert got["paths"].keys() == apart[sid]["paths"].keys()
    for name, paths in got["paths"].items():
        np.testing.assert_array_equal(paths, apart[sid]["paths"][name])
    # the chosen model's forecasts from the test part's origins, which auto's choice (on the heads) had not computed
    test_o = np.arange(len(heads.series[0]), 240)
    assert list(known) == [sid] and len(known[sid]) == len(test_o) == 36
    want = alone.paths(panel.series[0].values, test_o, cfg.window.horizon)
    np.testing.assert_array_equal(sorted(map(tuple, known[sid].values())), sorted(map(tuple, want)))
