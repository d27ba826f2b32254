"""Behavioural look-ahead oracles: change the future, and nothing computed before it may move.

They hold for every model, fold and layout, so a leak anywhere (a fit that sees prices past its fold's origin,
statistics fitted on whole series, a trial that reads the test part) fails here, whatever the code sets itself.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from forecast.data.load import synthetic_series
from forecast.data.panel import load_panel
from forecast.evaluation.backtest import MODELS, backtest

N, H = 160, 3


def two_series(tmp_path, name="long.csv"):
    frames = [synthetic_series(kind, n=N, seed=k).assign(symbol=sid)
              for k, (sid, kind) in enumerate([("AAA", "random_walk"), ("BBB", "seasonal")])]
    frame = pd.concat(frames, ignore_index=True)[["symbol", "Date", "Close"]]
    frame.to_csv(tmp_path / name, index=False)
    return frame


def changed_after(frame: pd.DataFrame, index: int, only: str | None = None, seed: int = 99) -> pd.DataFrame:
    """Every price after position ``index`` of each series (or only of series ``only``) multiplied by noise."""
    out, rng = frame.copy(), np.random.default_rng(seed)
    for sid, rows in out.groupby("symbol").groups.items():
        if only is not None and sid != only:
            continue
        later = list(rows)[index + 1:]
        out.loc[later, "Close"] = out.loc[later, "Close"] * rng.uniform(0.5, 1.5, len(later))
    return out


@pytest.mark.parametrize("fit", ["global", "per_series"])
def test_backtest_forecasts_before_a_change_never_move(tmp_path, tiny_cfg, fit):
    """Change every price after the second fold's origin: the first two folds' forecasts and bands stay bit-identical
    for the LSTM (global or per series), a network variant and every baseline; the third fold's change."""
    frame = two_series(tmp_path)
    # auto (a statistical model per series) in the global fit; per series, the plain network (the fold logic is on trial)
    cfg = tiny_cfg.replace(train={"epochs": 1}, model={"fit": fit, "hybrid": "auto" if fit == "global" else "none"})
    # the baselines are per series either way; lstm's default hybrid (auto) gives BBB a statistical model (checked
    # below), and one network variant covers architecture, the seasonal hybrid and ensemble;
    # "median" is left out: it is the median of the statistical models here (tests/test_baselines.py)
    everything = (*(m for m in MODELS if m != "median"), "gru-season-ens2")
    models = everything if fit == "global" else ("lstm", "naive")
    kwargs = dict(folds=3, step=H, models=models, levels=(0.8,))
    a = backtest(load_panel(tmp_path / "long.csv", id_col="symbol"), cfg, **kwargs)
    t = a.report["series"]["AAA"]["train_end_indices"][1]  # the second fold's origin (same in both series)
    if fit == "global":  # the residual hybrid is on trial: auto picks a statistical model for BBB's first fit
        from forecast.models.lstm import LSTMForecaster, default_n_val

        first = load_panel(tmp_path / "long.csv", id_col="symbol").map(lambda s: s.head(t + 1 - H))
        net = LSTMForecaster(cfg)
        net.prepare(first, [default_n_val(len(s), cfg) for s in first])
        assert "BBB" in net.stats
    changed_after(frame, t).to_csv(tmp_path / "changed.csv", index=False)
    b = backtest(load_panel(tmp_path / "changed.csv", id_col="symbol"), cfg, **kwargs)
    cut = pd.Timestamp(a.report["series"]["AAA"]["origins"][1])
    fa, fb = a.forecasts, b.forecasts
    before = fa["origin"] <= cut
    assert set(fa.loc[before, "model"]) == set(models) and fa.loc[before, "origin"].nunique() == 2
    for col in ("forecast", "lower", "upper"):
        np.testing.assert_array_equal(fa.loc[before, col].to_numpy(), fb.loc[before, col].to_numpy(), err_msg=col)
    assert not np.allclose(fa.loc[~before, "actual"], fb.loc[~before, "actual"])  # the change was real


def fitted_part(entry: dict) -> dict | None:
    """A series.json entry's statistical part as fitted: without the forecasts it keeps from the stored last rows."""
    part = entry.get("statistical")
    return part and {k: v for k, v in part.items() if k != "served"}


def test_train_test_part_change_moves_no_weight_history_or_validation_score(tmp_path, tiny_cfg):
    """A panel of two: changing only BBB's test part leaves every weight, the loss history, each series'
    statistics and calibration unchanged; only BBB's test scores move."""
    from forecast.bundle import load_bundle
    from forecast.workflows.train import train

    frame = two_series(tmp_path)
    cfg = tiny_cfg.replace(data={"id_col": "symbol"}, model={"hybrid": "auto"})  # auto decides on validation rows
    a = train(tmp_path / "long.csv", cfg, tmp_path / "a", verbose=0)
    first_test = N - a.metrics["test"]["series"]["BBB"]["split"]["test_rows"]
    changed_after(frame, first_test - 1, only="BBB").to_csv(tmp_path / "changed.csv", index=False)
    b = train(tmp_path / "changed.csv", cfg, tmp_path / "b", verbose=0)
    ba, bb = load_bundle(a.bundle_dir), load_bundle(b.bundle_dir)
    for wa, wb in zip(ba.networks["model.keras"].get_weights(), bb.networks["model.keras"].get_weights()):
        np.testing.assert_array_equal(wa, wb)
    assert ba.history == bb.history
    sa, sb = (json.loads((d / "series.json").read_text())["series"] for d in (a.bundle_dir, b.bundle_dir))
    for ea, eb in zip(sa, sb):
        assert ea["preprocessor"] == eb["preprocessor"] and ea["intervals"] == eb["intervals"]
        assert ea.get("network_weight") == eb.get("network_weight") and fitted_part(ea) == fitted_part(eb)
    ma, mb = a.metrics["test"]["series"], b.metrics["test"]["series"]
    assert ma["AAA"] == mb["AAA"]
    assert ma["BBB"]["lstm"]["mae"] != mb["BBB"]["lstm"]["mae"]


def test_train_single_series_test_part_change_moves_nothing_fitted(tmp_path, tiny_cfg):
    from forecast.bundle import load_bundle
    from forecast.workflows.train import train

    df = synthetic_series("random_walk", n=N, seed=3)
    df.to_csv(tmp_path / "one.csv", index=False)
    a = train(tmp_path / "one.csv", tiny_cfg, tmp_path / "a", verbose=0)
    (m,) = a.metrics["test"]["series"].values()
    df.loc[N - m["split"]["test_rows"]:, "Close"] *= 1.3
    df.to_csv(tmp_path / "changed.csv", index=False)
    b = train(tmp_path / "changed.csv", tiny_cfg, tmp_path / "b", verbose=0)
    ba, bb = load_bundle(a.bundle_dir), load_bundle(b.bundle_dir)
    for wa, wb in zip(ba.networks["model.keras"].get_weights(), bb.networks["model.keras"].get_weights()):
        np.testing.assert_array_equal(wa, wb)
    assert ba.history == bb.history and ba.series["series"][0]["intervals"] == bb.series["series"][0]["intervals"]


def test_tune_trials_never_see_the_test_part(tmp_path, tiny_cfg):
    pytest.importorskip("optuna")
    from forecast.data.transforms import Preprocessor
    from forecast.data.windows import chronological_split
    from forecast.workflows.tune import SearchSpace, tune

    frame = two_series(tmp_path)
    cfg = tiny_cfg.replace(data={"id_col": "symbol"}, train={"epochs": 1})
    space = SearchSpace(windows=(5, 10), units=(4, 8), depths=(1,))
    w = cfg.window
    split = chronological_split(N, max(space.windows), w.horizon, w.val_frac, w.test_frac,
                                Preprocessor(w.transform).offset)
    changed_after(frame, split.n_train + split.n_val - 1).to_csv(tmp_path / "changed.csv", index=False)
    a = tune(tmp_path / "long.csv", cfg, tmp_path / "ta", n_trials=3, seed=0, space=space)
    b = tune(tmp_path / "changed.csv", cfg, tmp_path / "tb", n_trials=3, seed=0, space=space)
    assert a.trials["value"].tolist() == b.trials["value"].tolist()
    assert a.best == b.best


@pytest.mark.parametrize("hybrid", ["none", "season", "ets"])
def test_one_epoch_weights_and_statistics_ignore_the_validation_part(tmp_path, tiny_cfg, hybrid):
    """After one epoch (best epoch necessarily 1) the weights, each series' scaler and (hybrid) seasonal profile or
    statistical model come from the training rows alone: changing the validation and test parts of one series moves
    none of them (the network's weight against its anchor is fitted on the validation windows: it may)."""
    from forecast.bundle import load_bundle
    from forecast.workflows.train import train

    frame = two_series(tmp_path)
    cfg = tiny_cfg.replace(data={"id_col": "symbol"}, train={"epochs": 1}, model={"hybrid": hybrid})
    a = train(tmp_path / "long.csv", cfg, tmp_path / "a", verbose=0)
    n_train = a.metrics["test"]["series"]["AAA"]["split"]["train_rows"]
    changed_after(frame, n_train - 1, only="AAA").to_csv(tmp_path / "changed.csv", index=False)
    b = train(tmp_path / "changed.csv", cfg, tmp_path / "b", verbose=0)
    ba, bb = load_bundle(a.bundle_dir), load_bundle(b.bundle_dir)
    for wa, wb in zip(ba.networks["model.keras"].get_weights(), bb.networks["model.keras"].get_weights()):
        np.testing.assert_array_equal(wa, wb)
    assert [e["preprocessor"] for e in ba.series["series"]] == [e["preprocessor"] for e in bb.series["series"]]
    seasons = [e.get("season") for e in ba.series["series"]]
    assert seasons == [e.get("season") for e in bb.series["series"]]
    assert all(sp["used"] and len(sp["profile"]) == 5 for sp in seasons) if hybrid == "season" else seasons == [None] * 2
    stats = [fitted_part(e) for e in ba.series["series"]]
    assert stats == [fitted_part(e) for e in bb.series["series"]]
    if hybrid == "ets":  # the forecasts it keeps from the last rows follow them, as the stored last window does
        served = [[e["statistical"]["served"] for e in x.series["series"]] for x in (ba, bb)]
        assert served[0][0] != served[1][0] and served[0][1] == served[1][1]
    assert [s and s["model"] for s in stats] == (["ets", "ets"] if hybrid == "ets" else [None, None])
    assert ba.history["model.keras"]["history"]["loss"] == bb.history["model.keras"]["history"]["loss"]
    assert ba.history["model.keras"]["history"]["val_loss"] != bb.history["model.keras"]["history"]["val_loss"]


def test_train_on_series_of_unequal_length_sees_no_series_past_the_test_start(tmp_path, tiny_cfg):
    """LONG from day 0, SHORT from day 60, both to the end: every price dated after the last validation day
    (the earliest any series' test part starts) changed in both series moves no weight, loss or statistic.
    Split by their own lengths, SHORT's training and validation rows ran 40 days into LONG's test part."""
    from forecast.bundle import load_bundle
    from forecast.workflows.train import train

    frames = [synthetic_series("random_walk", n=n, seed=k, start=start).assign(symbol=sid) for k, (sid, n, start)
              in enumerate([("LONG", N, "2020-01-01"), ("SHORT", N - 60, str(pd.bdate_range("2020-01-01",
                                                                                            periods=61)[-1].date()))])]
    frame = pd.concat(frames, ignore_index=True)[["symbol", "Date", "Close"]]
    frame.to_csv(tmp_path / "ragged.csv", index=False)
    cfg = tiny_cfg.replace(data={"id_col": "symbol"})
    a = train(tmp_path / "ragged.csv", cfg, tmp_path / "a", verbose=0)
    splits = {sid: m["split"] for sid, m in a.metrics["test"]["series"].items()}
    assert splits["LONG"]["val_end"] == splits["SHORT"]["val_end"]  # one cut for both
    last_seen = min(pd.Timestamp(s["val_end"]) for s in splits.values())
    changed = frame.copy()
    later = pd.to_datetime(changed["Date"]) > last_seen
    changed.loc[later, "Close"] *= np.random.default_rng(3).uniform(0.5, 1.5, later.sum())
    changed.to_csv(tmp_path / "changed.csv", index=False)
    b = train(tmp_path / "changed.csv", cfg, tmp_path / "b", verbose=0)
    ba, bb = load_bundle(a.bundle_dir), load_bundle(b.bundle_dir)
    for wa, wb in zip(ba.networks["model.keras"].get_weights(), bb.networks["model.keras"].get_weights()):
        np.testing.assert_array_equal(wa, wb)
    assert ba.history == bb.history
    for ea, eb in zip(ba.series["series"], bb.series["series"]):
        assert ea["preprocessor"] == eb["preprocessor"] and ea["intervals"] == eb["intervals"]
    assert a.metrics["test"]["series"]["SHORT"]["lstm"]["mae"] != b.metrics["test"]["series"]["SHORT"]["lstm"]["mae"]
