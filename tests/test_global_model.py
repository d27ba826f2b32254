"""Many series through the one path: same forecasts from long and wide files, covariates really used, one bundle
format for the global and the per-series fit, predict --id and --data."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from forecast.bundle import load_bundle
from forecast.config import ModelConfig, RunConfig, TrainConfig, WindowConfig
from forecast.data.load import synthetic_series
from forecast.errors import ForecastError
from forecast.workflows.predict import predict as predict_panel
from forecast.workflows.train import train


def train_panel(path, cfg, *, features=(), id_col=None, targets=None, model_dir=None, verbose=0):
    return train(path, cfg.replace(data={"features": tuple(features), "id_col": id_col, "targets": targets}),
                 model_dir, verbose=verbose)


def write_long_and_wide(tmp_path, same_end: bool = False):
    """AAA from 2020-01-01, BBB from 2020-02-03, on business days; AAA ends 7 days after BBB, or on its last day."""
    frames = [synthetic_series("random_walk", n=n, seed=k, start=start).assign(symbol=sid)
              for k, (sid, n, start) in enumerate([("AAA", 143 if same_end else 150, "2020-01-01"),
                                                   ("BBB", 120, "2020-02-03")])]
    long = pd.concat(frames, ignore_index=True)[["symbol", "Date", "Close"]]
    long.to_csv(tmp_path / "long.csv", index=False)
    long.pivot(index="Date", columns="symbol", values="Close").reset_index().to_csv(tmp_path / "wide.csv", index=False)
    return tmp_path / "long.csv", tmp_path / "wide.csv"


def test_long_and_wide_train_to_the_same_forecasts_and_bundle_records_the_series(tmp_path, tiny_cfg):
    long_csv, wide_csv = write_long_and_wide(tmp_path)
    a = train_panel(long_csv, tiny_cfg, id_col="symbol", model_dir=tmp_path / "a", verbose=0)
    b = train_panel(wide_csv, tiny_cfg, targets="AAA,BBB", model_dir=tmp_path / "b", verbose=0)
    fa, fb = predict_panel(load_bundle(a.bundle_dir)), predict_panel(load_bundle(b.bundle_dir))
    pd.testing.assert_frame_equal(fa.frame, fb.frame)
    assert list(fa.frame.columns) == ["id", "date", "forecast"]
    assert fa.frame["id"].tolist() == ["AAA"] * 3 + ["BBB"] * 3
    assert fa.history["BBB"]["date"].iloc[-1] == pd.date_range("2020-02-03", periods=120, freq="B")[-1]  # its own end
    spec = json.loads((a.bundle_dir / "series.json").read_text())
    assert spec["ids"] == ["AAA", "BBB"] and spec["layout"] == "long"
    assert spec["series"][1]["preprocessor"]["fitted_on"] == "train"
    assert spec["series"][0]["preprocessor"]["mean"] != spec["series"][1]["preprocessor"]["mean"]  # per series
    pooled = a.metrics["test"]["pooled"]
    assert pooled["n_series"] == 2 and 0 <= pooled["n_beats_naive"] <= 2
    # --id picks one; an unknown id lists the known ones; no covariates: recursion beyond the horizon works
    one = predict_panel(load_bundle(a.bundle_dir), horizon=5, series_id="BBB")
    assert one.frame["id"].tolist() == ["BBB"] * 5 and one.recursive
    np.testing.assert_allclose(one.frame["forecast"].to_numpy()[:3], fa.frame["forecast"].to_numpy()[3:], rtol=1e-6)
    with pytest.raises(ForecastError, match=r"--id 'MSFT': no such series in this model; known ids: AAA, BBB"):
        predict_panel(load_bundle(a.bundle_dir), series_id="MSFT")


def test_an_id_that_training_skipped_is_named_as_skipped():
    from forecast.workflows.predict import pick_ids

    skipped = {"TINY": "40 rows, fewer than the 120 needed for the window, horizon and parts"}
    with pytest.raises(ForecastError, match=r"--id 'TINY': this series was skipped when the model was trained "
                                            r"\(40 rows, fewer than the 120 needed .*\), so the model has no network"):
        pick_ids(["AAA", "BBB"], "TINY", skipped)
    with pytest.raises(ForecastError, match=r"--id 'ZZZ': no such series in this model; known ids: AAA, BBB"):
        pick_ids(["AAA", "BBB"], "ZZZ", skipped)
    assert pick_ids(["AAA", "BBB"], "BBB", skipped) == ["BBB"]


def test_a_lagged_covariate_is_used(tmp_path):
    """Returns follow yesterday's signal: with the signal as input the 1-step error collapses; without, it cannot."""
    n, rng = 400, np.random.default_rng(0)
    signal = rng.normal(0, 1, n)
    returns = np.r_[0, 0.01 * signal[:-1]] + rng.normal(0, 0.001, n)
    pd.DataFrame({"Date": pd.date_range("2020-01-01", periods=n, freq="B"), "Close": 100 * np.exp(np.cumsum(returns)),
                  "signal": signal}).to_csv(tmp_path / "cov.csv", index=False)
    # hybrid none: the covariate alone is on trial (and the last window is then the input window alone)
    cfg = RunConfig(window=WindowConfig(window=5, horizon=1), model=ModelConfig(layers=(16,), dropout=0.0, hybrid="none"),
                    train=TrainConfig(epochs=5, batch_size=32, patience=5, seed=7, device="cpu", learning_rate=0.01))
    mae = {}
    for feats in (("signal",), ("log_return",)):
        out = train_panel(tmp_path / "cov.csv", cfg, features=feats, model_dir=tmp_path / feats[0], verbose=0)
        mae[feats[0]] = out.metrics["test"]["series"]["Close"]["lstm"]["mae"]
        naive = out.metrics["test"]["series"]["Close"]["naive"]["mae"]
    assert mae["signal"] < 0.4 * mae["log_return"], mae
    assert mae["signal"] < 0.4 * naive
    with pytest.raises(ForecastError, match="uses covariates, which are not known beyond the last window"):
        predict_panel(load_bundle(tmp_path / "signal"), horizon=2)
    spec = json.loads((tmp_path / "signal" / "series.json").read_text())
    assert spec["inputs"] == ["target", "signal"]
    last = pd.read_csv(tmp_path / "signal" / "last_window.csv")
    # the rows the bands' volatility scale reads (more than the window + the log-return offset, 6, here)
    from forecast.evaluation.intervals import VOLATILITY_ROWS

    assert list(last.columns) == ["id", "date", "price", "signal"] and len(last) == VOLATILITY_ROWS + 1
    np.testing.assert_allclose(last["signal"], signal[-VOLATILITY_ROWS - 1:])


def test_cli_per_series_bundles_and_predict_by_id(tmp_path):
    from typer.testing import CliRunner

    from forecast.cli import app

    long_csv, _ = write_long_and_wide(tmp_path)
    run = CliRunner().invoke
    result = run(app, ["train", str(long_csv), "--id-col", "symbol", "--per-series", "--window", "10", "--horizon",
                       "3", "--layers", "8", "--dropout", "0", "--epochs", "1", "--device", "cpu", "-q",
                       "-m", str(tmp_path / "ps")])
    assert result.exit_code == 0, result.output
    assert "lower test MAE than the naive forecast on" in result.output and "of 2 series" in result.output
    assert sorted(p.name for p in (tmp_path / "ps").glob("*.png")) == [
        "forecast_AAA.png", "forecast_BBB.png", "forecast_grid.png", "training_curve_model_AAA.png",
        "training_curve_model_BBB.png"]
    assert sorted(p.name for p in (tmp_path / "ps").glob("*.keras")) == ["model_AAA.keras", "model_BBB.keras"]
    assert json.loads((tmp_path / "ps" / "manifest.json").read_text())["fit"] == "per_series"
    result = run(app, ["predict", "-m", str(tmp_path / "ps"), "--id", "BBB", "-o", str(tmp_path / "fc.csv")])
    assert result.exit_code == 0, result.output
    fc = pd.read_csv(tmp_path / "fc.csv")
    assert list(fc.columns) == ["id", "date", "forecast", "lower", "upper"]  # 80% interval by default
    assert fc["id"].tolist() == ["BBB"] * 3 and (fc["lower"] < fc["forecast"]).all() and (fc["forecast"] < fc["upper"]).all()
    result = run(app, ["predict", "-m", str(tmp_path / "ps"), "--id", "ZZZ"])
    assert result.exit_code == 2 and "--id 'ZZZ': no such series in this model; known ids: AAA, BBB" in result.output
    result = run(app, ["train", str(long_csv), "--id-col", "symbol", "--per-series", "--window", "10", "--horizon",
                       "3", "--layers", "8", "--dropout", "0", "--epochs", "1", "--device", "cpu", "-q",
                       "-m", str(tmp_path / "ps"), "--force"])  # a set of bundles is replaced like one bundle
    assert result.exit_code == 0, result.output


def test_fit_takes_its_windows_from_the_concatenated_series(tmp_path, tiny_cfg, monkeypatch):
    """make_dataset gets the concatenated series and origins, and decides by size whether to copy windows."""
    import forecast.models.fitting
    import forecast.models.lstm
    from forecast.data.panel import load_panel
    from forecast.models.lstm import LSTMForecaster
    from forecast.models.fitting import FitResult

    calls = []
    monkeypatch.setattr(forecast.models.lstm, "make_dataset", lambda z, origins, *a, **kw: calls.append((z, origins, kw)))
    monkeypatch.setattr(forecast.models.fitting, "fit_model", lambda *a, **kw: FitResult(1, 1, 0.0))
    long_csv, _ = write_long_and_wide(tmp_path)
    panel = load_panel(long_csv, id_col="symbol")
    LSTMForecaster(tiny_cfg).fit(panel, [20, 20])
    (z, train_o, kw_train), (_, val_o, kw_val) = calls
    assert z.shape == (149 + 119, 1) and "gather" not in kw_train and "gather" not in kw_val
    # per series: n_train - offset - window - horizon + 1 origins whose labels stay in its training part
    assert len(train_o) == (130 - 1 - 10 - 3 + 1) + (100 - 1 - 10 - 3 + 1)


def test_cli_global_model_warns_about_a_skipped_short_series_in_one_line(tmp_path):
    from typer.testing import CliRunner

    from forecast.cli import app

    long_csv, _ = write_long_and_wide(tmp_path)
    short = synthetic_series("random_walk", n=8, seed=9).assign(symbol="TINY")[["symbol", "Date", "Close"]]
    short.to_csv(long_csv, mode="a", header=False, index=False)
    result = CliRunner().invoke(app, ["train", str(long_csv), "--id-col", "symbol", "--window", "10", "--horizon", "3",
                                      "--layers", "8", "--dropout", "0", "--epochs", "1", "--device", "cpu", "-q",
                                      "-m", str(tmp_path / "g")])
    assert result.exit_code == 0, result.output
    warning = [line for line in result.output.splitlines() if line.startswith("warning: ")]
    assert len(warning) == 1 and "TINY" in warning[0], result.output
    assert json.loads((tmp_path / "g" / "series.json").read_text())["ids"] == ["AAA", "BBB"]


def test_per_series_on_a_process_pool_gives_the_sequential_bundles(tmp_path):
    """--per-series --executor process: the series train in 2 worker processes; same metrics, same forecasts."""
    from typer.testing import CliRunner

    from forecast.cli import app

    long_csv, _ = write_long_and_wide(tmp_path)
    flags = ["--id-col", "symbol", "--per-series", "--window", "10", "--horizon", "3", "--layers", "8",
             "--dropout", "0", "--epochs", "2", "--device", "cpu", "-q"]
    run = CliRunner().invoke
    seq = run(app, ["train", str(long_csv), *flags, "-m", "seq"])
    pool = run(app, ["train", str(long_csv), *flags, "-m", "pool", "--executor", "process", "--workers", "2"])
    assert seq.exit_code == 0 and pool.exit_code == 0, seq.output + pool.output
    metrics = {name: json.loads((tmp_path / name / "metrics.json").read_text())["test"] for name in ("seq", "pool")}
    assert metrics["pool"] == metrics["seq"]
    assert list(metrics["pool"]["series"]) == ["AAA", "BBB"]
    forecasts = {}
    for name in ("seq", "pool"):
        assert run(app, ["predict", "-m", name, "-o", f"{name}.csv"]).exit_code == 0
        forecasts[name] = pd.read_csv(tmp_path / f"{name}.csv")
    pd.testing.assert_frame_equal(forecasts["pool"], forecasts["seq"])


def test_an_executor_needs_per_series(tmp_path):
    from typer.testing import CliRunner

    from forecast.cli import app

    long_csv, _ = write_long_and_wide(tmp_path)
    res = CliRunner().invoke(app, ["train", str(long_csv), "--id-col", "symbol", "--executor", "process"])
    assert res.exit_code == 2
    assert "--executor process: only --per-series training runs on an executor; add --per-series" in res.output


def test_global_model_intervals_come_from_each_series_own_calibration(tmp_path, tiny_cfg):
    """Each series is calibrated on its own validation windows: its bands follow its own residuals."""
    from forecast.evaluation.intervals import ConformalCalibrator

    long_csv, _ = write_long_and_wide(tmp_path)
    out = train_panel(long_csv, tiny_cfg, id_col="symbol", model_dir=tmp_path / "g", verbose=0)
    bundle = load_bundle(out.bundle_dir)
    spec = json.loads((out.bundle_dir / "series.json").read_text())
    cals = {e["id"]: ConformalCalibrator.from_dict(e["intervals"]) for e in spec["series"]}
    assert cals["AAA"].residuals_[0].tolist() != cals["BBB"].residuals_[0].tolist()
    for sid in ("AAA", "BBB"):  # coverage of the 80% band on each series' test part is reported
        report = out.metrics["test"]["series"][sid]["intervals"]
        assert report["calibrated_on"] == "validation windows" and 0 <= report["levels"]["80"]["coverage"] <= 1

    fc = predict_panel(bundle, levels=(0.5, 0.95))
    assert fc.levels == (0.5, 0.95)
    assert list(fc.frame.columns) == ["id", "date", "forecast", "lower_50", "upper_50", "lower_95", "upper_95"]
    f = fc.frame
    assert ((f["lower_95"] <= f["lower_50"]) & (f["lower_50"] <= f["forecast"]) & (f["forecast"] <= f["upper_50"])
            & (f["upper_50"] <= f["upper_95"])).all()
    for sid in ("AAA", "BBB"):  # the band is the series' own calibrator applied to its own forecast path
        rows = f[f["id"] == sid]
        prices = fc.history[sid]["price"].to_numpy()
        lo, hi = cals[sid].intervals(rows["forecast"].to_numpy(), prices[-1], (0.95,),
                                     scales=cals[sid].scales(prices, len(prices) - 1))[0.95]
        np.testing.assert_allclose(rows["lower_95"], lo)
        np.testing.assert_allclose(rows["upper_95"], hi)
    assert predict_panel(bundle).levels == ()  # library default: no bands unless asked (the CLI asks for 80%)
    assert list(predict_panel(bundle).frame.columns) == ["id", "date", "forecast"]
    assert predict_panel(bundle, levels=None).levels == (0.8,)


def test_cli_predict_multi_series_interval_options(tmp_path):
    from typer.testing import CliRunner

    from forecast.cli import app

    long_csv, _ = write_long_and_wide(tmp_path)
    run = CliRunner().invoke
    flags = ["--window", "10", "--horizon", "3", "--layers", "8", "--dropout", "0", "--epochs", "1", "-q"]
    assert run(app, ["train", str(long_csv), "--id-col", "symbol", *flags, "-m", "g"]).exit_code == 0
    res = run(app, ["predict", "-m", "g", "--interval", "none", "-o", "none.csv"])
    assert res.exit_code == 0, res.output
    assert list(pd.read_csv(tmp_path / "none.csv").columns) == ["id", "date", "forecast"]
    res = run(app, ["predict", "-m", "g", "--interval", "0.5,0.9", "--json"])
    assert res.exit_code == 0, res.output
    rows = json.loads(res.output)
    assert set(rows[0]) == {"id", "date", "forecast", "lower_50", "upper_50", "lower_90", "upper_90"}
    # --data: each series continues from the end of its own rows in the file; the training file itself gives
    # the same forecasts as the stored last windows
    assert run(app, ["predict", "-m", "g", "-o", "stored.csv"]).exit_code == 0
    res = run(app, ["predict", "-m", "g", "--data", str(long_csv), "-o", "again.csv"])
    assert res.exit_code == 0, res.output
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "again.csv"), pd.read_csv(tmp_path / "stored.csv"))
    longer = pd.read_csv(long_csv)
    extra = longer[longer["symbol"] == "BBB"].tail(1).assign(Date="2020-07-20", Close=200.0)
    pd.concat([longer, extra]).to_csv(tmp_path / "newer.csv", index=False)
    res = run(app, ["predict", "-m", "g", "--data", "newer.csv", "--id", "BBB", "--json"])
    assert res.exit_code == 0, res.output
    rows = json.loads(res.output)
    assert rows[0]["date"] == "2020-07-21" and {r["id"] for r in rows} == {"BBB"}
    assert 150 < rows[0]["forecast"] < 250  # continues from the new last price, 200
    older = longer[longer["Date"] < "2020-06-01"]
    older.to_csv(tmp_path / "older.csv", index=False)
    res = run(app, ["predict", "-m", "g", "--data", "older.csv"])
    assert res.exit_code == 2 and "older.csv [series AAA]: ends on 2020-05-29, before the model's data" in res.output


def test_every_command_works_on_a_multi_series_bundle(tmp_path):
    """report, plot and predict --plot on a global bundle: no KeyError, every series shown (drift bug: report
    ended in a KeyError 'lstm' traceback on such bundles)."""
    from typer.testing import CliRunner

    from forecast.cli import app

    long_csv, _ = write_long_and_wide(tmp_path)
    run = CliRunner().invoke
    flags = ["--window", "10", "--horizon", "3", "--layers", "8", "--dropout", "0", "--epochs", "1", "-q"]
    assert run(app, ["train", str(long_csv), "--id-col", "symbol", *flags, "-m", "g"]).exit_code == 0
    res = run(app, ["report", "--out", "r.html"])  # models/LATEST points at the multi-series bundle
    assert res.exit_code == 0, res.output
    html = (tmp_path / "r.html").read_text()
    assert "Test part: LSTM vs naive, per series" in html and "<td>AAA</td>" in html and "<td>BBB</td>" in html
    zero = json.loads((tmp_path / "g" / "metrics.json").read_text())["test"]["pooled"]["n_weight_zero"]
    subject = "the shipped models have" if zero else "the LSTM has"  # weight 0: those wins are no network's
    assert f"Test parts of 2 series: {subject} a lower test MAE than the naive forecast on" in html
    res = run(app, ["plot", "-m", "g", "--out", "charts"])
    assert res.exit_code == 0, res.output
    assert sorted(p.name for p in (tmp_path / "charts").iterdir()) == ["forecast_AAA.png", "forecast_BBB.png",
                                                                      "forecast_grid.png", "training_curve.png"]
    res = run(app, ["predict", "-m", "g", "--plot", "grid.png"])  # --plot is a file for one series or many
    assert res.exit_code == 0 and (tmp_path / "grid.png").read_bytes()[:4] == b"\x89PNG"


def test_train_charts_option_decides_which_pngs_are_written(tmp_path):
    """--charts summary: for a panel the grid and a global model's training curve, and where the rest come from
    (per series' networks: no curves); none: no PNG at all; a value out of the list fails before any work. auto charts each series up to SERIES_CHARTS_MAX."""
    from typer.testing import CliRunner

    from forecast.cli import app
    from forecast.config import SERIES_CHARTS_MAX
    from forecast.output.console import each_series_charted

    long_csv, _ = write_long_and_wide(tmp_path)
    run = CliRunner().invoke
    flags = [str(long_csv), "--id-col", "symbol", "--window", "10", "--horizon", "3", "--layers", "8", "--epochs",
             "1", "-q"]
    res = run(app, ["train", *flags, "--charts", "summary", "-m", str(tmp_path / "s")])
    assert res.exit_code == 0, res.output
    assert sorted(p.name for p in (tmp_path / "s").glob("*.png")) == ["forecast_grid.png", "training_curve.png"]
    assert f"(a chart per series: forecast plot --model {tmp_path / 's'})" in res.output
    res = run(app, ["train", *flags, "--per-series", "--charts", "summary", "-m", str(tmp_path / "p")])
    assert res.exit_code == 0, res.output  # a training curve per series' network is a chart per series too
    assert sorted(p.name for p in (tmp_path / "p").glob("*.png")) == ["forecast_grid.png"]
    res = run(app, ["train", *flags, "--charts", "none", "-m", str(tmp_path / "n")])
    assert res.exit_code == 0, res.output
    assert list((tmp_path / "n").glob("*.png")) == [] and "plots:" not in res.output
    res = run(app, ["train", *flags, "--charts", "some", "-m", str(tmp_path / "x")])
    assert res.exit_code == 2 and "--charts some: not one of auto, all, summary, none" in res.output
    assert not (tmp_path / "x").exists()
    assert [each_series_charted("auto", n) for n in (2, SERIES_CHARTS_MAX, SERIES_CHARTS_MAX + 1)] == [
        True, True, False]
    assert each_series_charted("all", 500) and not each_series_charted("summary", 2)


@pytest.mark.parametrize("fit", ["global", "per_series"])
def test_backtest_of_a_panel_measures_the_model_train_ships(tmp_path, fit):
    """backtest --id-col backtests the global model by default (one fit per fold over all series), --per-series one
    model per series; per series and pooled it reports MASE, skill, DM p-values, coverage and the lag diagnostic."""
    from typer.testing import CliRunner

    from forecast.cli import app

    long_csv, _ = write_long_and_wide(tmp_path, same_end=True)
    flags = ["--window", "10", "--horizon", "3", "--layers", "8", "--dropout", "0", "--epochs", "1", "--folds", "3",
             "--models", "lstm,naive,drift", "-q", "--out", "bt"] + (["--per-series"] if fit == "per_series" else [])
    res = CliRunner().invoke(app, ["backtest", str(long_csv), "--id-col", "symbol", *flags])
    assert res.exit_code == 0, res.output
    report = json.loads((tmp_path / "bt" / "metrics.json").read_text())
    assert report["settings"]["fit"] == fit and report["ids"] == ["AAA", "BBB"]
    for sid in ("AAA", "BBB"):
        r = report["series"][sid]
        assert len(r["origins"]) == 3 and r["dm_test"]["models"] == ["lstm", "naive"]
        assert set(r["models"]["lstm"]["coverage"]) == {"0.8"} and r["lag_diagnostic"]["best_lag"] in range(6)
        assert (tmp_path / "bt" / sid / "forecasts_by_fold.png").is_file()
        assert len(r["network_weight"]["per_fit"]) == 3  # each fit's weight, one network per series or one for all
    pooled = report["pooled"]
    assert pooled["n_compared"] == 2 and set(pooled["evidence"]) == {"AAA", "BBB"}
    assert pooled["evidence"]["AAA"]["origins"] == 3 and pooled["evidence"]["AAA"]["forecasts"] == 9
    assert pooled["models"]["naive"]["mean_skill_vs_naive"] == 0.0
    assert "6 origins in all are too few to tell; use more --folds" in report["verdict"]["text"]
    # the keys a single series' verdict has for the ranking and the test against naive, read the same way
    mase = {n: m["mean_mase"] for n, m in pooled["models"].items()}
    ranking = report["verdict"]["ranking"]
    assert sorted(ranking) == sorted(mase) and report["verdict"]["rank_by"] == "mean_mase"
    for a, b in zip(ranking, ranking[1:]):  # by mean MASE; a tie to rounding (relative 1e-6) puts the LSTM after
        tied = abs(mase[a] - mase[b]) <= 1e-6 * max(mase[a], mase[b])
        assert (mase[a] < mase[b] or tied) and not (tied and a == "lstm")
    assert report["verdict"]["best"] == ranking[0]
    assert report["verdict"]["p_value_vs_naive"] is None  # 6 origins: too few to tell, as the sentence says
    assert pooled["dm_test"]["n"] == 3 and pooled["dm_test"]["unit"] == "origin date"  # not 18 forecasts, nor 6
    assert f"verdict: {report['verdict']['text'][:40]}" in res.output  # the sentence, not the object
    assert "'ranking'" not in res.output
    frame = pd.read_csv(tmp_path / "bt" / "forecasts.csv")
    assert list(frame.columns[:2]) == ["id", "origin"] and set(frame["id"]) == {"AAA", "BBB"}
    assert "LSTM vs naive per series" in res.output and "too few to tell" in res.output


def test_a_global_backtest_leaves_out_a_series_that_ends_before_the_others(tmp_path, tiny_cfg):
    """One network fitted on every series cuts them all at each fold's date: BBB, ending 7 days before AAA, has no
    prices after the last fold's origin and is left out with the reason (its fold origins counted from its own end
    would train the network on AAA's prices after them). Without a network, each series keeps its own folds."""
    from forecast.data.panel import load_panel
    from forecast.evaluation.backtest import backtest

    long_csv, _ = write_long_and_wide(tmp_path)
    panel = load_panel(long_csv, id_col="symbol")
    cfg = tiny_cfg.replace(train={"epochs": 1})
    with_network = backtest(panel, cfg, folds=2, models=("lstm", "naive"), levels=())
    assert with_network.report["ids"] == ["AAA"] and list(with_network.report["skipped"]) == ["BBB"]
    assert with_network.report["skipped"]["BBB"] == (
        "0 of its rows lie after the last fold's origin (2020-07-23), fewer than --horizon 3: series fitted "
        "together are cut at the same dates; backtest it alone or with --per-series")
    assert set(with_network.forecasts["id"]) == {"AAA"}
    statistical = backtest(panel, cfg, folds=2, models=("naive", "drift"), levels=())
    assert statistical.report["ids"] == ["AAA", "BBB"] and statistical.report["skipped"] == {}
    origins = {sid: r["origins"] for sid, r in statistical.report["series"].items()}
    assert origins["AAA"][-1] == "2020-07-23" and origins["BBB"][-1] == "2020-07-14"  # each from its own end


def test_predict_from_a_newer_file_names_what_the_model_reads_and_takes_id_alone(tmp_path, tiny_cfg):
    """predict --data has no --id-col or --target: a file without the trained columns is told which columns the
    model reads; with --id, a file needs only that series."""
    from forecast.errors import InputError

    long_csv, _ = write_long_and_wide(tmp_path)
    bundle = load_bundle(train_panel(long_csv, tiny_cfg, id_col="symbol", model_dir=tmp_path / "m").bundle_dir)
    frame = pd.read_csv(long_csv)
    frame[frame["symbol"] == "AAA"].to_csv(tmp_path / "aaa.csv", index=False)
    only = predict_panel(bundle, data_path=tmp_path / "aaa.csv", series_id="AAA").frame
    assert set(only["id"]) == {"AAA"} and len(only) == 3
    with pytest.raises(ForecastError, match="has no rows for series BBB of the model"):
        predict_panel(bundle, data_path=tmp_path / "aaa.csv")
    frame.drop(columns="symbol").drop_duplicates("Date").to_csv(tmp_path / "no_ids.csv", index=False)
    with pytest.raises(InputError) as info:
        predict_panel(bundle, data_path=tmp_path / "no_ids.csv")
    assert str(info.value) == (f"{tmp_path / 'no_ids.csv'}: id column 'symbol' not found; columns are Date, Close; "
                               "the model reads dates in 'Date', prices in 'Close', series ids in 'symbol' (as in its "
                               "training file): pass a file with those columns")
    extra = frame[frame["symbol"] == "AAA"].assign(symbol="NEW")  # a series the model has no network for
    pd.concat([frame, extra]).to_csv(tmp_path / "more.csv", index=False)
    with pytest.warns(UserWarning) as seen:
        both = predict_panel(bundle, data_path=tmp_path / "more.csv").frame
    assert set(both["id"]) == {"AAA", "BBB"}
    assert [str(w.message) for w in seen] == [f"{tmp_path / 'more.csv'}: not forecast: 1 series the model has no "
                                              "network for: NEW; train on this file to forecast them"]


def test_a_wide_bundle_given_a_long_file_names_the_columns_it_reads(tmp_path, tiny_cfg):
    """A model trained on a wide file with --targets all reads a newer file's columns of the series it holds (all
    numeric columns took a long file's one price column as a series, and the error spoke of duplicate dates);
    a file without them is told which columns the model reads."""
    from forecast.errors import InputError

    long_csv, wide_csv = write_long_and_wide(tmp_path, same_end=True)
    bundle = load_bundle(train_panel(wide_csv, tiny_cfg, targets="all", model_dir=tmp_path / "w").bundle_dir)
    assert set(predict_panel(bundle, data_path=wide_csv).frame["id"]) == {"AAA", "BBB"}
    with pytest.raises(InputError) as info:
        predict_panel(bundle, data_path=long_csv)
    assert str(info.value) == (f"{long_csv}: column 'AAA' not found; numeric columns are Close; the model reads "
                               "dates in 'Date', each series' prices in its own column (AAA, BBB) (as in its training "
                               "file): pass a file with those columns")


def test_predict_writes_no_chart_for_plot_none_and_nothing_over_the_bundles_files(tmp_path, tiny_cfg, monkeypatch):
    """`--plot none` means no chart (as `--interval none` means no band), not a PNG named 'none'; --out or --plot
    naming a file the bundle's manifest checksums would break it: refused before anything is written (a chart
    beside them, as train writes one, is fine)."""
    from typer.testing import CliRunner

    from forecast.cli import app

    monkeypatch.chdir(tmp_path)
    long_csv, _ = write_long_and_wide(tmp_path)
    train_panel(long_csv, tiny_cfg, id_col="symbol", model_dir=tmp_path / "m")
    run = CliRunner().invoke
    res = run(app, ["predict", "-m", "m", "-o", "fc.csv", "--plot", "none"])
    assert res.exit_code == 0 and "chart:" not in res.output
    assert (tmp_path / "fc.csv").is_file() and not (tmp_path / "none").exists() and not list(tmp_path.glob("*.png"))
    before = sorted((p.name, p.stat().st_mtime_ns) for p in (tmp_path / "m").iterdir())
    for args, name in ((["-o", "m/test_predictions.csv"], "test_predictions.csv"), (["--plot", "m/config.json"],
                                                                                     "config.json")):
        res = run(app, ["predict", "-m", "m", *args])
        assert res.exit_code == 2 and f"would overwrite {name} of the model bundle m, which its manifest " \
            "checksums; write it elsewhere" in res.output, res.output
    assert sorted((p.name, p.stat().st_mtime_ns) for p in (tmp_path / "m").iterdir()) == before
    res = run(app, ["predict", "-m", "m", "--plot", "m/forecast.png"])  # a chart beside them, as train writes
    assert res.exit_code == 0 and (tmp_path / "m" / "forecast.png").read_bytes()[:4] == b"\x89PNG"
    load_bundle(tmp_path / "m")  # still verifies


def test_per_series_networks_split_each_series_on_its_own_dates():
    """A global network cuts every series at the same two dates; with --per-series (nothing shared) each series
    is split on its own rows, as a file of its own would be, and a short series is not left out."""
    import dataclasses

    from forecast.config import RunConfig
    from forecast.data.load import synthetic_series
    from forecast.data.panel import panel_of
    from forecast.data.windows import chronological_split
    from forecast.workflows.train import panel_splits_of

    long, short = (synthetic_series("random_walk", n=n, seed=k) for n, k in ((300, 1), (120, 2)))
    panel = panel_of(long.Close, long.Date, sid="long")  # the short series: the long one's last 120 dates
    panel = dataclasses.replace(panel, series=(*panel.series,
                                               panel_of(short.Close, long.Date[-120:], sid="short").series[0]))
    cfg = RunConfig().replace(window={"window": 10, "horizon": 5})
    w = cfg.window
    own = {s.id: chronological_split(len(s), w.window, w.horizon, w.val_frac, w.test_frac, offset=1) for s in panel}
    splits, why = panel_splits_of(panel, cfg.replace(model={"fit": "per_series"}))
    assert why == {} and {sid: (sp.n_train, sp.n_val, sp.n_test) for sid, sp in splits.items()} == {
        sid: (sp.n_train, sp.n_val, sp.n_test) for sid, sp in own.items()}
    together, _ = panel_splits_of(panel, cfg)  # global: the short series' parts end at the long one's cut dates
    test_start = panel.series[0].dates[together["long"].n_train + together["long"].n_val]
    assert panel.series[1].dates[together["short"].n_train + together["short"].n_val] == test_start
    assert together["short"].n_test != own["short"].n_test


def test_a_long_file_with_one_series_left_keeps_its_id_in_every_output(tmp_path):
    """A single series is a panel of one: where the file names its series (--id-col), the id column and the
    per-series layout stay in every output however many series pass the checks (a long file whose other series
    was skipped wrote `date,forecast,...` and a backtest report without the series level)."""
    from typer.testing import CliRunner

    from forecast.cli import app

    long_csv, _ = write_long_and_wide(tmp_path)
    frame = pd.read_csv(long_csv)
    frame.loc[(frame["symbol"] == "BBB") & (frame.index % 5 == 0), "Close"] = None  # BBB skipped at --max-fill 0
    frame.to_csv(long_csv, index=False)
    run = CliRunner().invoke
    flags = ["--window", "10", "--horizon", "3", "--layers", "8", "--dropout", "0", "--epochs", "1", "-q",
             "--max-fill", "0", "--id-col", "symbol"]
    res = run(app, ["train", str(long_csv), *flags, "-m", "one"])
    assert res.exit_code == 0, res.output
    assert "Series AAA: test part" in res.output and "skipped BBB" in res.output
    assert res.output.splitlines()[1] == (f"data: {long_csv}: 1 series (long format), 150 rows 2020-01-01 .. "
                                          "2020-07-28, business days; target 'Close', dates in 'Date'")  # what it read
    assert sorted(p.name for p in (tmp_path / "one").glob("*.png")) == ["forecast_AAA.png", "training_curve.png"]
    data, spec = (json.loads((tmp_path / "one" / name).read_text()) for name in ("data.json", "series.json"))
    assert (data["first_date"], spec["series"][0]["last_date"]) == ("2020-01-01", "2020-07-28")  # days, as elsewhere
    assert spec["series"][0]["chart"] == "forecast_AAA.png"  # the file plot and train write for it
    res = run(app, ["predict", "-m", "one", "-o", "fc.csv", "--plot", "fc.png"])
    assert res.exit_code == 0 and "Forecast of AAA from" in res.output
    assert pd.read_csv(tmp_path / "fc.csv")["id"].tolist() == ["AAA"] * 3
    res = run(app, ["predict", "-m", "one", "--json"])
    assert [r["id"] for r in json.loads(res.output)] == ["AAA"] * 3
    res = run(app, ["backtest", str(long_csv), *flags, "--folds", "2", "--models", "naive,drift", "--out", "bt",
                    "--json"])
    assert res.exit_code == 0, res.output
    report = json.loads((tmp_path / "bt" / "metrics.json").read_text())
    assert report["ids"] == ["AAA"] and list(report["series"]) == ["AAA"] and "BBB" in report["skipped"]
    assert set(pd.read_csv(tmp_path / "bt" / "forecasts.csv")["id"]) == {"AAA"}
    assert (tmp_path / "bt" / report["series"]["AAA"]["charts_folder"] / "forecasts_by_fold.png").is_file()
    assert report["verdict"] == report["series"]["AAA"]["verdict"] and report["verdict"]["rank_by"] == "mae"
    res = run(app, ["backtest", str(long_csv), *flags, "--folds", "2", "--models", "naive,drift", "--out", "bt2"])
    assert "Walk-forward backtest of series AAA: 2 folds x 3 steps" in res.output and "skipped BBB:" in res.output
    res = run(app, ["report", "-m", "one", "--backtest", "bt", "--out", "r.html"])  # says what was left out, and why
    html = (tmp_path / "r.html").read_text()
    assert res.exit_code == 0 and "<h3>Series training left out (1)</h3><ul><li><b>BBB</b>: " in html
    assert "<h3>Series the backtest left out (1)</h3><ul><li><b>BBB</b>: " in html
    assert "the backtest refits every model at 2 origins over 1 series and compares" in html
    assert "<thead><tr><th>id</th><th>date</th><th>forecast</th>" in html  # the forecast table keeps the id
