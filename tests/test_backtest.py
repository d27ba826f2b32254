"""Walk-forward backtest: fold geometry, no look-ahead, skill on structure, none on a random walk, the CLI."""

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from forecast.data.panel import from_series, panel_of
from forecast.evaluation.backtest import backtest, parse_models
from forecast.cli import app
from forecast.config import ModelConfig, RunConfig, TrainConfig, WindowConfig
from forecast.data.load import series_from_frame, synthetic_series
from forecast.errors import ForecastError
from forecast.evaluation.folds import make_folds


def _series(kind, n, seed, noise=0.0):
    return series_from_frame(synthetic_series(kind, n=n, seed=seed, noise=noise))


def test_fold_origins_and_train_windows_exact():
    folds = make_folds(100, horizon=5, folds=3, step=7, window_type="expanding", retrain_every=2, min_train=20)
    assert [f.origin for f in folds] == [80, 87, 94]  # last origin = 100 - 1 - 5
    assert [f.train_start for f in folds] == [0, 0, 0]
    assert [f.retrain for f in folds] == [True, False, True]
    rolling = make_folds(100, horizon=5, folds=3, step=7, window_type="rolling", min_train=20)
    assert [f.train_start for f in rolling] == [0, 7, 14]  # train_size = 81 rows: all before the first origin
    sized = make_folds(100, horizon=5, folds=3, step=7, window_type="rolling", train_size=30, min_train=20)
    assert [(f.train_start, f.origin) for f in sized] == [(51, 80), (58, 87), (65, 94)]


def test_too_short_series_names_rows_needed():
    with pytest.raises(ForecastError, match=r"50 rows are too few for --folds 5 with --step 10 and --horizon 10: "
                                            r"at least 70 rows are needed"):
        make_folds(50, horizon=10, folds=5, step=10, min_train=20)


def test_unknown_model_lists_known_ones():
    with pytest.raises(ForecastError, match=r"unknown model 'prophet'; choose from lstm, naive, seasonal_naive"):
        parse_models("lstm,prophet")


def test_no_look_ahead_garbage_after_the_origin_changes_nothing(tiny_cfg):
    cfg = tiny_cfg.replace(train={"epochs": 1})
    clean = _series("random_walk", 160, 5)
    kwargs = dict(folds=2, step=3, retrain_every=2, models=["lstm", "naive", "drift", "ets"])
    a = backtest(from_series(clean), cfg, **kwargs)
    first_origin = a.report["settings"]["train_end_indices"][0]
    values = clean.values.copy()
    values[first_origin + 1:] = np.random.default_rng(9).uniform(1, 1e4, len(values) - first_origin - 1)
    b = backtest(from_series(series_from_frame(synthetic_series("random_walk", 160, 5).assign(Close=values))), cfg, **kwargs)
    fa, fb = a.forecasts, b.forecasts
    origin0 = fa["origin"].min()
    for model in kwargs["models"]:
        sel_a = fa[(fa.model == model) & (fa.origin == origin0)]["forecast"].to_numpy()
        sel_b = fb[(fb.model == model) & (fb.origin == origin0)]["forecast"].to_numpy()
        np.testing.assert_allclose(sel_a, sel_b, rtol=1e-6, err_msg=model)
    later = fb[(fb.model == "naive") & (fb.origin > origin0)]["forecast"].to_numpy()
    assert not np.allclose(later, fa[(fa.model == "naive") & (fa.origin > origin0)]["forecast"].to_numpy())
    assert a.report["settings"]["retraining"].startswith("models refit every 2 folds")


def test_lstm_beats_naive_on_seasonal_structure():
    cfg = RunConfig(window=WindowConfig(window=10, horizon=5, transform="diff"), model=ModelConfig(layers=(16,), dropout=0.0),
                    train=TrainConfig(epochs=10, batch_size=32, patience=3, seed=7, device="cpu", learning_rate=0.01))
    bt = backtest(from_series(_series("seasonal", 260, 4, noise=0.3)), cfg, folds=2, models=["lstm", "naive", "seasonal_naive"])
    m = bt.report["models"]
    assert m["lstm"]["mae"] < 0.7 * m["naive"]["mae"]
    assert m["lstm"]["skill_vs_naive"] > 0.3
    v = bt.report["verdict"]  # the verdict object: best by MAE, the LSTM against it and naive
    assert v["best"] == min(m, key=lambda n: m[n]["mae"]) and v["lstm_skill_vs_naive"] > 0.3
    assert v["p_value_vs_best"] is None and "2 forecast origins are too few to test" in v["text"]  # folds=2
    assert len(m["lstm"]["per_horizon"]) == 5 and len(m["lstm"]["folds"]) == 2
    assert set(bt.forecasts["model"]) == {"lstm", "naive", "seasonal_naive"} and len(bt.forecasts) == 3 * 2 * 5


def test_cli_json_files_and_no_claimed_skill_on_a_random_walk(walk_csv, tmp_path):
    out = tmp_path / "bt"
    args = ["backtest", str(walk_csv), "--horizon", "3", "--folds", "8", "--step", "3", "--retrain-every", "8",
            "--models", "lstm,naive,drift", "--window", "10", "--layers", "8", "--epochs", "5", "--learning-rate",
            "0.01", "--dropout", "0", "--out", str(out), "--json"]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    report = json.loads(res.stdout)  # stdout is the JSON alone; the progress lines went to stderr
    assert "lstm: fold(s) 1, 2, 3, 4, 5, 6, 7, 8 done in" in res.stderr  # one fit (--retrain-every 8)
    assert {"settings", "origins", "models", "dm_test", "lag_diagnostic", "verdict", "notes"} <= set(report)
    keys = {"mae", "rmse", "mape", "smape", "mase", "directional_accuracy", "skill_vs_naive", "per_horizon", "folds"}
    assert keys <= set(report["models"]["lstm"])
    assert report["settings"]["horizon"] == 3 and len(report["origins"]) == 8
    assert report["settings"]["retraining"].startswith("models refit every 8 folds")
    assert {"statistic", "p_value", "loss", "verdict"} <= set(report["dm_test"])
    assert report["dm_test"]["p_value"] >= 0.05  # a random walk: no significant skill
    assert report["dm_test"]["n"] == 8 and report["dm_test"]["overlap"] == 1  # one loss per origin; step = horizon
    v = report["verdict"]
    assert not (v["best"] == "lstm" and v["p_value_vs_best"] < 0.05)  # never a significant LSTM win here
    assert report["dm_test"]["vs_best"]["models"] == ["lstm", v["compared_with"]]
    assert report["models"]["naive"]["skill_vs_naive"] == 0.0
    assert sorted(p.name for p in out.iterdir()) == ["coverage_by_horizon.png", "forecasts.csv", "forecasts_by_fold.png",
                                                      "mae_by_horizon.png", "mase_by_model.png", "metrics.json"]
    assert json.loads((out / "metrics.json").read_text())["verdict"] == report["verdict"]
    again = CliRunner().invoke(app, args)
    assert again.exit_code == 2 and "folder exists and is not empty; pass --force" in again.output


def test_cli_many_series_without_naive_among_the_models_compares_with_naive_all_the_same(tmp_path):
    """--models without naive on a panel: the per-series table and the pooled count still compare the LSTM with the
    naive forecast (it ended in a KeyError traceback)."""
    import pandas as pd

    from forecast.evaluation.scoring import TIE

    frames = [synthetic_series("random_walk", n=200, seed=k).assign(id=f"s{k}") for k in range(2)]
    pd.concat(frames)[["id", "Date", "Close"]].to_csv(tmp_path / "two.csv", index=False)
    out = tmp_path / "bt"
    res = CliRunner().invoke(app, ["backtest", str(tmp_path / "two.csv"), "--id-col", "id", "--models", "lstm,drift",
                                   "--horizon", "3", "--folds", "3", "--window", "10", "--layers", "8", "--epochs", "1",
                                   "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "LSTM vs naive per series" in res.output
    report = json.loads((out / "metrics.json").read_text())
    fc = pd.read_csv(out / "forecasts.csv", parse_dates=["origin"])
    wins = 0
    for k, frame in enumerate(frames):
        sid, prices = f"s{k}", frame.set_index("Date")["Close"]
        rows = fc[(fc["id"] == sid) & (fc["model"] == "lstm")]
        naive_mae = float(np.mean(np.abs(rows["actual"].to_numpy() - prices.loc[rows["origin"]].to_numpy())))
        assert report["series"][sid]["naive_mae"] == pytest.approx(naive_mae, rel=1e-12)
        wins += report["series"][sid]["models"]["lstm"]["mae"] < naive_mae * (1 - TIE)  # float noise is no win
    assert report["pooled"]["lstm_beats_naive"] == wins and report["pooled"]["n_compared"] == 2


def test_cli_too_short_series_exit_2_with_rows_needed(tmp_path):
    from conftest import write_synthetic

    short = write_synthetic(tmp_path / "short.csv", "random_walk", n=40, seed=0)
    res = CliRunner().invoke(app, ["backtest", str(short), "--models", "naive,drift", "--horizon", "10", "--folds", "5"])
    assert res.exit_code == 2
    assert "40 rows are too few for --folds 5 with --step 10 and --horizon 10: at least 70 rows are needed" in res.output
    res = CliRunner().invoke(app, ["backtest", str(short), "--models", "naive,bogus"])
    assert res.exit_code == 2 and "unknown model 'bogus'" in res.output


def test_force_replaces_an_earlier_backtest_but_never_an_unrelated_folder(walk_csv, tmp_path):
    args = ["backtest", str(walk_csv), "--horizon", "3", "--folds", "2", "--models", "naive,drift", "--interval", "none"]
    out = tmp_path / "bt"
    assert CliRunner().invoke(app, [*args, "--out", str(out)]).exit_code == 0
    (out / "metrics.json").write_text("{}")  # the earlier run's output, replaced below
    res = CliRunner().invoke(app, [*args, "--out", str(out), "--force"])
    assert res.exit_code == 0, res.output
    assert json.loads((out / "metrics.json").read_text())["settings"]["horizon"] == 3
    mine = tmp_path / "notes"
    mine.mkdir()
    (mine / "thesis.txt").write_text("precious")
    res = CliRunner().invoke(app, [*args, "--out", str(mine), "--force"])
    assert res.exit_code == 2 and ("is a folder with files but not a backtest folder (metrics.json and forecasts.csv, "
                                   "no manifest.json)") in res.output
    assert (mine / "thesis.txt").read_text() == "precious"
    bundle = tmp_path / "bundle"  # a trained model's folder has a metrics.json too: never replaced by a backtest
    bundle.mkdir()
    for name, text in (("metrics.json", "{}"), ("manifest.json", "{}"), ("forecasts.csv", "x\n")):
        (bundle / name).write_text(text)
    res = CliRunner().invoke(app, [*args, "--out", str(bundle), "--force"])
    assert res.exit_code == 2 and "not a backtest folder" in res.output
    assert sorted(p.name for p in bundle.iterdir()) == ["forecasts.csv", "manifest.json", "metrics.json"]


def test_network_weight_sentence_counts_the_fits_where_the_network_adds_nothing():
    from forecast.evaluation.backtest import network_weight

    assert network_weight([]) is None
    assert network_weight([0.0, 0.0]) == {"per_fit": [0.0, 0.0], "zero_in": 2, "fits": 2, "message": (
        "0 in all 2 fits: the validation windows confirmed nothing the network learned, so the LSTM's forecasts "
        "are the naive forecast's"), "part_per_fit": ["none", "none"]}
    assert network_weight([0.0], ["arima"])["message"] == (
        "0 in the one fit: the validation windows confirmed nothing the network learned, so the LSTM's forecasts "
        "are those of the statistical model it corrects")
    assert network_weight([0.5])["message"] == "0.50 (what the fit's validation windows confirm)"
    assert network_weight([0.2, 0.7])["message"] == "0.20-0.70 over the 2 fits (what each fit's validation windows confirm)"
    assert network_weight([0.0, 0.01, 0.0], ["ets", "ets", "ets"])["message"].startswith(
        "0 in 2 of 3 fits, 0.01 in the other: what each fit's validation windows confirm; with 0 a fit's forecasts "
        "are those of the statistical model it corrects")
    assert network_weight([0.0, 0.21, 0.974, 0.0], ["ets", None, None, None])["message"] == (
        "0 in 2 of 4 fits, 0.21-0.97 in the others: what each fit's validation windows confirm; with 0 a fit's "
        "forecasts are its anchor's (the naive forecast, or the statistical model it corrects)")


def _ar_returns(phi=0.9, n=600, seed=0):
    """Prices whose log returns are AR(1) with coefficient ``phi``: what a network can learn and validate."""
    rng = np.random.default_rng(seed)
    e = np.zeros(n)
    for t in range(1, n):
        e[t] = phi * e[t - 1] + rng.normal(0, 0.01)
    return panel_of(100 * np.exp(np.cumsum(e)))


@pytest.mark.parametrize("kind", ["random walk", "AR(0.9) returns"])
def test_backtest_reports_each_fits_network_weight_and_a_zero_weight_fit_forecasts_naive(tiny_cfg, kind):
    """The weights the report gives are the fits' own: where one is 0, that fit's LSTM forecasts are the naive
    forecasts (to float rounding: no statistical part here); where it is not, they differ. A random walk gets 0
    in every fit, AR(0.9) returns (learnable) a weight in every fit."""
    if kind == "random walk":
        panel, cfg = from_series(_series("random_walk", 200, 3)), tiny_cfg
    else:
        panel, cfg = _ar_returns(), tiny_cfg.replace(model={"layers": (16,)},
                                                     train={"epochs": 10, "patience": 5, "learning_rate": 0.01})
    bt = backtest(panel, cfg, folds=2, step=3, models=["lstm", "naive"])
    w, f = bt.report["network_weight"], bt.forecasts
    assert w["per_fit"] == ([0.0, 0.0] if kind == "random walk" else [x for x in w["per_fit"] if x > 0.5]), w
    assert w["fits"] == 2 and w["zero_in"] == sum(x == 0 for x in w["per_fit"]), w
    for fit, origin in zip(w["per_fit"], sorted(f.origin.unique())):
        lstm, naive = (f[(f.model == m) & (f.origin == origin)]["forecast"].to_numpy() for m in ("lstm", "naive"))
        assert (np.max(np.abs(lstm / naive - 1)) < 1e-9) == (fit == 0.0), (fit, lstm, naive)
    assert w["message"].startswith("0 in all 2 fits" if kind == "random walk" else f"{min(w['per_fit']):.2f}")


@pytest.mark.parametrize("warm", [True, False])
def test_warm_start_begins_each_fit_from_the_previous_fits_weights(tiny_cfg, monkeypatch, warm):
    """--warm-start: each fold's fit starts from the weights the fold before ended with; without it every fit starts
    from the seed's initial weights (networks lent from fold to fold are reset to them)."""
    from forecast.models import fitting

    fit, seen = fitting.fit_model, []

    def recorded(model, *args, **kwargs):
        start = model.get_weights()
        result = fit(model, *args, **kwargs)
        seen.append((start, model.get_weights()))
        return result

    monkeypatch.setattr(fitting, "fit_model", recorded)
    panel = from_series(_series("random_walk", 160, 5))
    backtest(panel, tiny_cfg, folds=3, step=3, models=["lstm"], warm_start=warm)
    assert len(seen) == 3

    def same(a, b):
        return all(np.array_equal(x, y) for x, y in zip(a, b))

    for (_, end), (start, _) in zip(seen, seen[1:]):
        assert same(start, end) is warm
        assert same(start, seen[0][0]) is not warm


def _series_report(maes: dict, naive_mae: float, p: float, statistic: float, folds: int = 3) -> dict:
    """A series' backtest report as `pooled` reads it; a model's MAE None: it failed at one fold."""
    models = {}
    for name, mae in maes.items():
        per_fold = [{"mae": (None if mae is None and k == folds - 1 else (mae or 1.0))} for k in range(folds)]
        models[name] = {"mae": mae or 1.0, "mase": (mae or 1.0) / naive_mae, "skill_vs_naive": 1 - (mae or 1.0) / naive_mae,
                        "folds": per_fold}
    return {"models": models, "naive_mae": naive_mae, "dm_test": {"p_value": p, "statistic": statistic},
            "origins": list(range(folds)), "scaled_errors": {"lstm": np.ones((folds, 2))},
            "naive_scaled_errors": np.ones((folds, 2)) * 1.1}


def _losses_report(dates, lstm_losses, naive_losses, overlap=1) -> dict:
    """The working arrays `_pooled_test` reads: one scaled error per step, constant over 2 steps per origin."""
    return {"origins": list(dates), "dm_test": {"overlap": overlap},
            "scaled_errors": {"lstm": np.repeat(np.asarray(lstm_losses, float)[:, None], 2, axis=1)},
            "naive_scaled_errors": np.repeat(np.asarray(naive_losses, float)[:, None], 2, axis=1)}


def test_the_pooled_test_takes_one_loss_per_origin_date_so_copies_of_a_series_add_no_evidence():
    from forecast.evaluation.backtest import _pooled_test
    from forecast.evaluation.verdict import loss_test

    rng = np.random.default_rng(4)
    dates = [f"2020-0{k}-01" for k in range(1, 9)]
    la, lb = rng.uniform(0.5, 1.5, 8), rng.uniform(0.6, 1.6, 8)
    one = _pooled_test({"a": _losses_report(dates, la, lb)})
    two = _pooled_test({"a": _losses_report(dates, la, lb), "b": _losses_report(dates, la, lb)})
    alone = loss_test(la, lb)
    assert one["p_value"] == two["p_value"] == pytest.approx(alone["p_value"], rel=1e-12)
    assert two["n"] == two["origins"] == 8 and two["unit"] == "origin date"
    # two series on the same dates: each date's mean loss is the unit
    lc = rng.uniform(0.5, 1.5, 8)
    both = _pooled_test({"a": _losses_report(dates, la, lb), "c": _losses_report(dates, lc, lb)})
    assert both["p_value"] == pytest.approx(loss_test((la + lc) / 2, lb)["p_value"], rel=1e-12)
    # origins that interleave (each series' own folds): consecutive dates are closer, the overlap grows with them
    later = [f"2020-0{k}-15" for k in range(1, 9)]
    mixed = _pooled_test({"a": _losses_report(dates, la, lb, 2), "c": _losses_report(later, lc, lb, 2)})
    assert mixed["n"] == 16 and mixed["overlap"] == 3  # a's Jan 1 and Feb 1 share targets; c's Jan 15 lies between
    apart = [f"2021-0{k}-01" for k in range(1, 9)]  # series of separate periods add no overlap
    assert _pooled_test({"a": _losses_report(dates, la, lb), "c": _losses_report(apart, lc, lb)})["overlap"] == 1


def test_pooled_scores_compare_every_model_on_the_same_series_and_folds():
    """drift fails at a fold of the hard series: every model's mean MASE is then over the easy series alone (not
    drift's over one, naive's over two); an LSTM that failed at a fold is not counted as beating naive there; a
    significant test counts only where the LSTM's errors are the smaller; a tie is no win."""
    from forecast.evaluation.backtest import pooled, pooled_verdict

    reports = {"hard": _series_report({"lstm": None, "naive": 10.0, "drift": None}, 10.0, 0.01, +3.0),
               "easy": _series_report({"lstm": 2.0, "naive": 4.0, "drift": 3.0}, 4.0, 0.01, -3.0),
               "tie": _series_report({"lstm": 4.0 * (1 - 1e-12), "naive": 4.0, "drift": 5.0}, 4.0, 0.5, -0.1),
               "worse": _series_report({"lstm": 1.0, "naive": 2.0, "drift": 3.0}, 2.0, 0.01, +2.5)}
    p = pooled(reports)
    assert p["series_left_out"] == ["hard"] and {m["n_series"] for m in p["models"].values()} == {3}
    assert p["models"]["drift"]["mean_mase"] == pytest.approx((3 / 4 + 5 / 4 + 3 / 2) / 3)
    assert p["n_compared"] == 3 and p["lstm_beats_naive"] == 2  # easy and worse; not the tie, not hard
    assert p["lstm_beats_naive_significantly"] == 1  # easy: worse's test says naive's errors are the smaller
    assert p["evidence"]["hard"]["lstm_beats_naive"] is None
    assert p["series_left_out_why"] == {"hard": "a model has no forecast at some origin"}
    assert pooled_verdict(p).endswith("over the 3 series where every model has a forecast at every origin and a MASE "
                                      "(left out: hard, a model has no forecast at some origin).")


def test_a_panel_backtest_of_network_variants_says_its_fit_and_how_many_series_the_ranking_covers(tmp_path):
    """--models lstm-plain,naive over two series: the settings name the fit (a variant is a network too, not
    'no LSTM'), and a pooled ranking without the LSTM row says over how many series it was made."""
    from forecast.data.panel import load_panel
    from forecast.evaluation.backtest import pooled_verdict

    frames = [synthetic_series("random_walk", n=160, seed=k).assign(id=sid) for k, sid in enumerate("ab")]
    pd.concat(frames)[["id", "Date", "Close"]].to_csv(tmp_path / "two.csv", index=False)
    cfg = RunConfig().replace(window={"window": 10, "horizon": 3}, model={"layers": (8,), "hybrid": "none"},
                              train={"epochs": 1, "batch_size": 32, "seed": 7, "device": "cpu"})
    rep = backtest(load_panel(tmp_path / "two.csv", id_col="id"), cfg, folds=2, models=("lstm-plain", "naive")).report
    assert rep["settings"]["fit"] == "global"
    assert rep["settings"]["fit_meaning"] == "one network across all series, refit at each fold"
    assert " over the 2 series (" in rep["verdict"]["text"]
    one = {"models": {"ets": {"mean_mase": 0.8, "n_series": 1}, "naive": {"mean_mase": 1.0, "n_series": 1}}}
    assert pooled_verdict(one) == "ets has the lowest mean MASE on the one series backtested (0.800)."
    left = {**one, "series_left_out": ["b"]}
    assert pooled_verdict(left) == ("ets has the lowest mean MASE (0.800) over the 1 series where every model has a "
                                    "forecast at every origin and a MASE (left out: b).")


@pytest.mark.parametrize("step, overlap", [(3, 1), (1, 3), (2, 2)])
def test_origins_closer_than_a_horizon_are_tested_with_their_overlap(step, overlap):
    """Folds --step 1 apart with a horizon of 3 share two targets with each neighbour: the tests say so and
    the verdict's p-value is the test on the origins' losses with that overlap."""
    from forecast.evaluation.verdict import loss_test

    panel = from_series(series_from_frame(synthetic_series("random_walk", n=160, seed=3)))
    cfg = RunConfig().replace(window={"window": 10, "horizon": 3}, model={"layers": (8,), "hybrid": "none"},
                              train={"epochs": 1, "batch_size": 32, "seed": 7, "device": "cpu"})
    bt = backtest(panel, cfg, folds=8, step=step, models=("lstm", "naive"))
    dm = bt.report["dm_test"]
    assert (dm["overlap"], dm["n"], dm["unit"]) == (overlap, 8, "origin")
    f = bt.forecasts
    losses = [np.abs(g.forecast - g.actual).to_numpy().reshape(8, 3).mean(axis=1) for _, g in f.groupby("model")]
    assert dm["p_value"] == pytest.approx(loss_test(losses[0], losses[1], overlap)["p_value"], rel=1e-9)


def test_a_pooled_lead_over_naive_within_a_percent_is_not_a_recommendation():
    """Over many series the ranking by mean MASE is not tested: a model 0.2% ahead of the naive forecast is not
    recommended over it."""
    from forecast.evaluation.backtest import pooled_verdict

    p = {"models": {"theta": {"mean_mase": 1.859, "n_series": 3}, "lstm": {"mean_mase": 1.862, "n_series": 3},
                    "naive": {"mean_mase": 1.862, "n_series": 3}},
         "lstm_beats_naive": 1, "n_compared": 3, "lstm_beats_naive_significantly": 0,
         "evidence": {k: {"origins": 3} for k in "abc"}, "dm_test": {"p_value": 0.5, "statistic": 0.2}}
    text = pooled_verdict(p)
    assert text.endswith("Meanwhile theta has the lowest mean MASE (1.859, the LSTM 1.862), within 1% of the naive "
                         "forecast's (1.862): prefer the naive forecast, the simplest."), text
    assert "use theta" not in text
    p["models"]["theta"]["mean_mase"] = 1.70
    assert pooled_verdict(p).endswith("theta has the lowest mean MASE (1.700, the LSTM 1.862): use theta.")
    p["models"]["lstm"]["mean_mase"] = 1.85
    del p["models"]["theta"]
    assert pooled_verdict(p).endswith("the LSTM has the lowest mean MASE of all models (1.850), within 1% of the naive "
                                      "forecast's (1.862): prefer the naive forecast, the simplest.")


def test_a_pooled_tie_to_rounding_ranks_the_simpler_model_first():
    """Rows at weight 0 forecast naive's forecasts: a mean MASE equal to naive's to float rounding (listed first, or
    1e-12 lower) is no win, and `best` must not name the lstm row where the sentence says to prefer naive."""
    from forecast.evaluation.backtest import pooled_verdict, pooled_verdict_object

    p = {"models": {"lstm": {"mean_mase": 1.862 * (1 - 1e-12), "n_series": 3}, "naive": {"mean_mase": 1.862,
                                                                                         "n_series": 3},
                    "theta": {"mean_mase": 2.5, "n_series": 3}},
         "lstm_beats_naive": 0, "n_compared": 3, "lstm_beats_naive_significantly": 0,
         "evidence": {k: {"origins": 3} for k in "abc"}, "dm_test": {"p_value": 1.0, "statistic": 0.0}}
    v = pooled_verdict_object(p)
    assert (v["best"], v["ranking"]) == ("naive", ["naive", "lstm", "theta"])
    assert pooled_verdict(p).endswith("Meanwhile naive has the lowest mean MASE (1.862, the LSTM 1.862): use naive.")


def test_the_report_says_what_mase_is_scaled_by():
    """MASE divides by the naive forecast's in-sample MAE, or with --season given by the seasonal naive's; the
    settings say which, since both runs record the calendar's season."""
    t = np.arange(150)
    y = 100 + 10 * np.sin(2 * np.pi * t / 12) + 0.1 * t
    panel = panel_of(y, pd.date_range("2000-01-01", periods=150, freq="MS"))
    cfg = RunConfig(window=WindowConfig(window=12, horizon=6))
    plain, seasonal = (backtest(panel, cfg, folds=3, models=["naive"], season=m).report for m in (None, 12))
    assert plain["settings"]["season"] == seasonal["settings"]["season"] == 12
    assert plain["settings"]["mase_scaled_by"] == "the naive forecast's in-sample MAE (lag 1; --season N: lag N)"
    assert seasonal["settings"]["mase_scaled_by"] == "the seasonal naive forecast's in-sample MAE (lag 12, --season)"
    assert plain["models"]["naive"]["mae"] == seasonal["models"]["naive"]["mae"]
    assert plain["models"]["naive"]["mase"] != seasonal["models"]["naive"]["mase"]


def test_a_constant_series_in_a_panel_is_a_tie_with_naive_and_its_missing_mase_is_said(capsys):
    """A series whose prices never move: every model's MAE is 0 and MASE divides by 0. No RuntimeWarning, the
    verdict says the LSTM and naive have the same MAE (not 'nan% lower'), the pooled sentence says why the series
    is left out of the means, and the console prints its MAE 0.00 (not n/a)."""
    import warnings

    from forecast.data.panel import Panel, Series
    from forecast.output.console import print_panel_backtest

    dates = pd.bdate_range("2020-01-01", periods=120)
    walk = 100 + np.cumsum(np.random.default_rng(3).normal(size=120))
    panel = Panel(tuple(Series(sid, v, dates, np.zeros((120, 0)), "B") for sid, v in
                        (("walk", walk), ("flat", np.full(120, 50.0)))), layout="long")
    cfg = RunConfig(window=WindowConfig(window=10, horizon=3), model=ModelConfig(layers=(8,), dropout=0.0),
                    train=TrainConfig(epochs=1, batch_size=32, seed=1, device="cpu"))
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        report = backtest(panel, cfg, folds=2, models=("lstm", "naive")).report
    flat = report["series"]["flat"]
    assert flat["models"]["lstm"]["mae"] == 0.0 and flat["models"]["naive"]["mase"] is None
    assert "have the same MAE (to float rounding)" in flat["verdict"]["text"] and "nan" not in flat["verdict"]["text"]
    assert flat["verdict"]["best"] == "naive"
    assert report["pooled"]["series_left_out_why"] == {"flat": "no MASE: its training prices do not move, so the "
                                                                "scale is 0"}
    assert "(left out: flat, no MASE: its training prices do not move, so the scale is 0)" in report["verdict"]["text"]
    print_panel_backtest(report)
    row = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("│ flat"))
    assert [c.strip() for c in row.split("│")[4:6]] == ["0.00", "0.00"] and "the same" in row
