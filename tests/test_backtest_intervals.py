"""Backtest prediction intervals: JSON keys, scores recomputed from forecasts.csv, coverage, no look-ahead, CLI."""

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from forecast.data.panel import from_series
from forecast.evaluation.backtest import backtest
from forecast.cli import app
from forecast.config import RunConfig, WindowConfig
from forecast.data.load import series_from_frame, synthetic_series
from forecast.evaluation.folds import CALIBRATION_ORIGINS, calibration_origins

BASE = ["--horizon", "3", "--folds", "12", "--step", "3", "--window", "10"]


def _walk(n, seed, values=None):
    frame = synthetic_series("random_walk", n=n, seed=seed)
    return series_from_frame(frame if values is None else frame.assign(Close=values))


def test_cli_json_keys_and_scores_equal_a_recomputation_from_forecasts_csv(walk_csv, tmp_path):
    out = tmp_path / "bt"
    res = CliRunner().invoke(app, ["backtest", str(walk_csv), *BASE, "--models", "naive,drift",
                                   "--interval", "0.8,0.5", "--out", str(out), "--json"])
    assert res.exit_code == 0, res.output
    report = json.loads(res.stdout)
    assert report["settings"]["intervals"]["levels"] == [0.5, 0.8]
    fc = pd.read_csv(out / "forecasts.csv")
    assert {"lower_50", "upper_50", "lower_80", "upper_80"} <= set(fc.columns)
    assert (out / "coverage_by_horizon.png").stat().st_size > 0
    for model in ("naive", "drift"):
        m, rows = report["models"][model], fc[fc.model == model]
        for level, key, col in ((0.5, "0.5", "50"), (0.8, "0.8", "80")):
            a, lo, hi = rows["actual"].to_numpy(), rows[f"lower_{col}"].to_numpy(), rows[f"upper_{col}"].to_numpy()
            assert np.all(lo < rows["forecast"]) and np.all(rows["forecast"] < hi)
            inside = (a >= lo) & (a <= hi)
            assert m["coverage"][key] == pytest.approx(inside.mean())
            assert m["width"][key] == pytest.approx(np.mean(hi - lo))
            miss = np.maximum(lo - a, 0) + np.maximum(a - hi, 0)
            assert m["winkler"][key] == pytest.approx(np.mean(hi - lo + 2 / (1 - level) * miss))
            ql, qu = (1 - level) / 2, (1 + level) / 2
            pin = (np.mean(np.maximum(ql * (a - lo), (ql - 1) * (a - lo)))
                   + np.mean(np.maximum(qu * (a - hi), (qu - 1) * (a - hi)))) / 2
            assert m["pinball"][key] == pytest.approx(pin)
            per_step = [inside[rows["step"].to_numpy() == k].mean() for k in (1, 2, 3)]
            assert [r["coverage"][key] for r in m["per_horizon"]] == pytest.approx(per_step)
        assert m["width"]["0.5"] < m["width"]["0.8"]


def test_naive_80_percent_coverage_on_a_random_walk_is_near_nominal():
    cfg = RunConfig(window=WindowConfig(window=10, horizon=3))
    bt = backtest(from_series(_walk(700, 3)), cfg, folds=150, step=3, models=["naive"], levels=(0.8,))
    m = bt.report["models"]["naive"]
    assert abs(m["coverage"]["0.8"] - 0.8) <= 0.05  # 450 forecasts; measured 0.807 (seeds 3/4/5: 0.81/0.82/0.78)
    assert all(abs(r["coverage"]["0.8"] - 0.8) <= 0.1 for r in m["per_horizon"])


def test_calibration_origins_lie_in_the_fits_validation_part():
    cfg = RunConfig(window=WindowConfig(window=10, horizon=3, val_frac=0.15))
    small = calibration_origins(100, 199, cfg)  # 100 prices: the last 15 are the validation part
    assert small[0] == 184 and small[-1] == 199 - 3 and np.all(np.diff(small) == 1)
    big = calibration_origins(0, 1999, cfg)
    assert len(big) == CALIBRATION_ORIGINS and big[-1] == 1999 - 3 and big[0] >= 2000 - 300 - 1


def test_intervals_do_not_look_ahead(tiny_cfg):
    cfg = tiny_cfg.replace(train={"epochs": 1})
    kwargs = dict(folds=2, step=3, models=["lstm", "naive", "drift"], levels=(0.8,))
    a = backtest(from_series(_walk(160, 5)), cfg, **kwargs)
    first_origin = a.report["settings"]["train_end_indices"][0]
    values = a.panel.series[0].values.copy()
    values[first_origin + 1:] = np.random.default_rng(9).uniform(1, 1e4, len(values) - first_origin - 1)
    b = backtest(from_series(_walk(160, 5, values)), cfg, **kwargs)
    fa, fb = a.forecasts, b.forecasts
    origin0 = fa["origin"].min()
    for model in kwargs["models"]:
        for col in ("lower", "upper"):
            at_a = fa[(fa.model == model) & (fa.origin == origin0)][col].to_numpy()
            at_b = fb[(fb.model == model) & (fb.origin == origin0)][col].to_numpy()
            assert np.all(np.isfinite(at_a)), model
            np.testing.assert_allclose(at_a, at_b, rtol=1e-6, err_msg=f"{model} {col}")
    later_a = fa[(fa.model == "naive") & (fa.origin > origin0)]["upper"].to_numpy()
    later_b = fb[(fb.model == "naive") & (fb.origin > origin0)]["upper"].to_numpy()
    assert not np.allclose(later_a, later_b)  # the garbage does reach the later fold


@pytest.mark.parametrize("level", ["1.5", "0", "abc"])
def test_bad_interval_level_exit_2(walk_csv, level):
    res = CliRunner().invoke(app, ["backtest", str(walk_csv), *BASE, "--models", "naive", "--interval", level])
    assert res.exit_code == 2
    assert f"--interval '{level}': level '{level}' is not a number strictly between 0 and 1" in res.output


def test_interval_none_writes_no_intervals(walk_csv, tmp_path):
    off = CliRunner().invoke(app, ["backtest", str(walk_csv), *BASE, "--models", "naive", "--interval", "none",
                                   "--out", str(tmp_path / "off"), "--json"])
    assert off.exit_code == 0, off.output
    report = json.loads(off.stdout)
    assert report["settings"]["intervals"] is None and "coverage" not in report["models"]["naive"]
    assert not (tmp_path / "off" / "coverage_by_horizon.png").exists()
    assert "lower" not in pd.read_csv(tmp_path / "off" / "forecasts.csv").columns


def test_terminal_table_has_coverage_and_width_of_every_level(monkeypatch, capsys):
    from rich.console import Console

    from forecast.models.baselines import fit_tails
    from forecast.output import console

    cfg = RunConfig(window=WindowConfig(window=10, horizon=3))
    report = backtest(from_series(_walk(300, 1)), cfg, folds=12, step=3, models=["naive"], levels=(0.5, 0.8)).report
    monkeypatch.setattr(console, "out", Console(width=220))
    console.print_backtest(report)
    text = capsys.readouterr().out
    assert all(f"{pct}% {what}" in text for pct in (50, 80) for what in ("coverage", "width"))
    row = text.split("│ naive")[1].splitlines()[0]
    m = report["models"]["naive"]
    cells = [c.strip() for c in row.split("│")]
    assert cells[-5:-1] == [f"{m['coverage']['0.5']:.1%}", f"{m['width']['0.5']:,.2f}", f"{m['coverage']['0.8']:.1%}",
                            f"{m['width']['0.8']:,.2f}"]
    assert "80% coverage from 12 origins x 3 steps" in " ".join(text.split())
    assert "fitted on at most" not in text  # naive fits nothing
    rng = report["coverage_range"]["0.5"]
    assert (rng["origins"], rng["steps"], rng["mass"]) == (12, 3, 0.9) and rng["low"] < 0.5 < rng["high"]
    assert (f"50% coverage from 12 origins x 3 steps: a calibrated 50% band shows {rng['low']:.1%}-{rng['high']:.1%} "
            "in 90% of such backtests") in " ".join(text.split())
    report["settings"]["fit_tail"] = fit_tails(("arima", "ets", "comb"))  # what a backtest of those models records
    console.print_backtest(report)
    caption = " ".join(capsys.readouterr().out.split())  # the caption wraps at the table's width
    assert "fitted on at most the last 1,000 prices (arima, ets), 2,000 prices (comb)" in caption
    # a row whose MAE equals the best one's to float rounding (a weight-0 row and its anchor) is marked as tied
    report["models"]["twin"] = {**m, "mae": m["mae"] * (1 + 1e-12)}
    report["models"]["worse"] = {**m, "mae": m["mae"] * 1.01}
    report["models"]["partial"] = {**m, "mae": m["mae"] * 0.5}  # no forecast at some origin: not ranked
    report["models"]["failed"] = {**m, "mae": None}
    report["verdict"] = {**report["verdict"], "best": "naive", "ranking": ["naive", "twin", "worse"]}
    console.print_backtest(report)
    text = capsys.readouterr().out
    assert "naive (lowest MAE)" in text and "twin (tied, to rounding)" in text
    assert not any(f"{name} (tied" in text for name in ("worse", "partial", "failed"))


def test_coverage_figure_has_the_nominal_line_per_level():
    from forecast.output.plots import backtest_coverage_figure

    rows = [{"step": k, "coverage": {"0.5": 0.4, "0.8": 0.7 + k / 100}} for k in (1, 2, 3)]
    fig = backtest_coverage_figure({"naive": {"per_horizon": rows}, "lstm": {"per_horizon": rows}})
    axes = fig.get_axes()
    assert [ax.get_title() for ax in axes] == ["50% interval", "80% interval"]
    nominal = [line for line in axes[1].get_lines() if line.get_label() == "nominal 80%"]
    assert len(nominal) == 1 and list(nominal[0].get_ydata()) == [0.8, 0.8]
    assert list(axes[1].get_lines()[0].get_ydata()) == pytest.approx([0.71, 0.72, 0.73])


def _ideal_coverages(origins, h, level, walks):
    """Coverage of the exact random-walk band (the steps' standard deviation known) on each of ``walks``."""
    from statistics import NormalDist

    k = np.arange(1, h + 1)
    half = NormalDist().inv_cdf((1 + level) / 2) * 0.3 * np.sqrt(k)
    err = walks[:, origins[:, None] + k] - walks[:, origins][:, :, None]
    return np.mean(np.abs(err) <= half, axis=(1, 2))


def test_a_calibrated_band_lands_in_the_calibrated_range_as_often_as_it_says():
    from forecast.evaluation.intervals import calibrated_range

    origins, h = np.arange(5) * 10 + 300, 10  # the default backtest: 5 folds x 10 steps
    low, high = calibrated_range(0.8, origins, h)
    walks = np.cumsum(np.random.default_rng(2024).normal(0, 0.3, (4000, 360)), axis=1)  # not the function's draws
    cov = _ideal_coverages(origins, h, 0.8, walks)
    assert 0.9 <= np.mean((cov >= low) & (cov <= high)) <= 0.96
    # the errors of one origin move together: far wider than 72-88%, which holds only about half of these backtests
    assert low <= 0.62 and high >= 0.94
    assert 0.45 <= np.mean((cov >= 0.72) & (cov <= 0.88)) <= 0.65


def test_the_calibrated_range_is_the_binomial_one_for_independent_errors_and_narrows_with_more_folds():
    from scipy.stats import binom

    from forecast.evaluation.intervals import calibrated_range

    low, high = calibrated_range(0.8, np.arange(50) * 3, 1)  # one step ahead from origins apart: independent errors
    assert low == pytest.approx(binom.ppf(0.05, 50, 0.8) / 50, abs=0.021)
    assert high == pytest.approx(binom.ppf(0.95, 50, 0.8) / 50, abs=0.021)
    widths = [np.subtract(*calibrated_range(0.8, np.arange(n) * 10, 10)[::-1]) for n in (5, 20, 80)]
    assert widths[0] > widths[1] > widths[2] and widths[2] < 0.12
    assert calibrated_range(0.8, np.arange(5) * 10 + 7, 10) == calibrated_range(0.8, np.arange(5) * 10, 10)


def test_the_range_sentence_names_each_model_outside_it():
    from forecast.evaluation.intervals import range_sentence

    entry = {"low": 0.6, "high": 0.96, "mass": 0.9, "origins": 5, "steps": 10}
    text = range_sentence(0.8, entry, {"lstm": 0.52, "naive": 0.8, "ets": 0.98, "drift": None})
    assert text.startswith("80% coverage from 5 origins x 10 steps: a calibrated 80% band shows 60.0%-96.0% in 90% of "
                           "such backtests")
    assert text.endswith("; outside it: lstm 52.0% (too narrow), ets 98.0% (wider than needed).")
    assert range_sentence(0.8, entry, {"naive": 0.6, "ets": 0.96}).endswith(
        "; every model is inside it, so these folds cannot tell its bands from calibrated ones.")


def test_the_test_parts_range_reads_as_its_coverage_does_and_older_bundles_print_none():
    from forecast.evaluation.intervals import calibrated_text

    assert calibrated_text([0.7656, 0.8431, 0.9]) == ("; a calibrated band would show 76.6%-84.3% from these origins in "
                                                      "90% of simulated random walks")
    assert calibrated_text(None) == ""  # metrics.json of a bundle trained before the range existed
    assert calibrated_text([0.582, 0.959, 0.9], 0.491).endswith(
        "simulated random walks; below that range: the bands are too narrow here")
    assert calibrated_text([0.582, 0.959, 0.9], 0.97).endswith("; above that range: the bands are wider than needed here")
    assert calibrated_text([0.582, 0.959, 0.9], 0.8).endswith("simulated random walks")
