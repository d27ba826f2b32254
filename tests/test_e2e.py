"""End to end through the CLI: train a tiny model, predict on the series' own calendar, plot, refuse overwrite."""

from __future__ import annotations

import json
import os

import matplotlib.image as mpimg
import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from forecast.data.calendar import trading_day
from forecast.cli import app

TINY = ["--window", "10", "--horizon", "3", "--layers", "8", "--epochs", "2", "--seed", "1", "--quiet", "--device", "cpu"]
# Five NYSE trading days after Monday 2019-12-23: Christmas and the weekend are skipped.
NEXT_5 = ["2019-12-24", "2019-12-26", "2019-12-27", "2019-12-30", "2019-12-31"]


def invoke(*args: str):
    return CliRunner().invoke(app, list(map(str, args)), catch_exceptions=False)


@pytest.fixture(scope="module")
def trained_dir(tmp_path_factory):
    """A folder holding trade.csv (trading-day calendar, ends 2019-12-23) and a bundle trained on it by the CLI."""
    root = tmp_path_factory.mktemp("e2e")
    rng = np.random.default_rng(4)
    dates = pd.date_range(end="2019-12-23", periods=300, freq=trading_day())
    prices = 5000 * np.exp(np.cumsum(rng.normal(0.0003, 0.01, 300)))
    pd.DataFrame({"Date": dates.strftime("%Y-%m-%d"), "Close": prices}).to_csv(root / "trade.csv", index=False)
    old = os.getcwd()
    os.chdir(root)
    try:
        result = invoke("train", "trade.csv", "--model", "models/trade", *TINY)
    finally:
        os.chdir(old)
    assert result.exit_code == 0, result.output
    assert "skill vs naive" in result.output and "bundle: models/trade" in result.output
    assert "Diebold-Mariano p = " in result.output and "lag diagnostic: the LSTM's one-step" in result.output
    return root


@pytest.fixture
def in_trained(trained_dir, monkeypatch):
    monkeypatch.chdir(trained_dir)
    return trained_dir


def test_predict_continues_the_trading_calendar(in_trained):
    result = invoke("predict", "--horizon", "5", "--out", "f.csv")  # no --model: models/LATEST
    assert result.exit_code == 0, result.output
    assert "recursive beyond the trained horizon" in result.output
    fc = pd.read_csv(in_trained / "f.csv", parse_dates=["date"])
    assert list(fc.columns[:2]) == ["date", "forecast"]
    assert fc["date"].dt.strftime("%Y-%m-%d").tolist() == NEXT_5
    assert (fc["date"].dt.dayofweek < 5).all()
    last = pd.read_csv(in_trained / "trade.csv")["Close"].iloc[-1]
    values = fc["forecast"].to_numpy()
    assert np.isfinite(values).all()
    assert np.all(np.abs(values / last - 1) < 0.2), (values, last)  # price units, near the last price
    assert (in_trained / "f.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"  # chart beside --out


def test_predict_json_parses(in_trained):
    result = invoke("predict", "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)  # one list of records; a single-series bundle has no id column
    assert [row["date"] for row in doc] == NEXT_5[:3]  # the trained horizon by default, after 2019-12-23
    assert set(doc[0]) == {"date", "forecast", "lower", "upper"}
    last = pd.read_csv(in_trained / "trade.csv")["Close"].iloc[-1]
    assert all(np.isfinite(row["forecast"]) and abs(row["forecast"] / last - 1) < 0.2 for row in doc)
    longer = json.loads(invoke("predict", "--json", "--horizon", "5").stdout)
    assert [row["date"] for row in longer] == NEXT_5
    # the direct steps are the same whether or not more steps follow recursively
    assert [row["forecast"] for row in longer[:3]] == [row["forecast"] for row in doc]


def test_plot_writes_valid_pngs(in_trained):
    result = invoke("plot", "--out", "charts")
    assert result.exit_code == 0, result.output
    for name in ("forecast.png", "training_curve.png"):
        path = in_trained / "charts" / name
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        image = mpimg.imread(path)
        assert image.shape[0] > 100 and image.shape[1] > 100
        assert image.std() > 0  # not a blank canvas


def test_existing_bundle_needs_force(in_trained):
    before = (in_trained / "models" / "trade" / "manifest.json").read_bytes()
    result = invoke("train", "trade.csv", "--model", "models/trade", *TINY)
    assert result.exit_code == 2
    assert "models/trade already exists; pass --force" in result.stderr
    assert "Traceback" not in result.output
    assert (in_trained / "models" / "trade" / "manifest.json").read_bytes() == before  # untouched


def test_train_reports_skill_with_a_significance_test_and_the_lag_diagnostic(in_trained):
    (m,) = json.loads((in_trained / "models/trade/metrics.json").read_text())["test"]["series"].values()
    h, n = m["horizon"], m["n_origins"]
    assert m["dm_test"]["n"] == -(-n // h)  # one origin in h: non-overlapping targets
    assert 0 <= m["dm_test"]["p_value"] <= 1 and m["dm_test"]["significant"] == (m["dm_test"]["p_value"] < 0.05)
    assert m["lag_diagnostic"]["best_lag"] in range(6) and set(m["lag_diagnostic"]["scores"]) == set("012345")
    for name in ("lstm", "naive"):
        assert {"mae", "rmse", "mape", "smape", "mase", "directional_accuracy"} <= set(m[name])
    assert m["naive"]["directional_accuracy"] == 0.5  # no-change forecasts count as half a hit
    tp = pd.read_csv(in_trained / "models/trade/test_predictions.csv")
    assert m["lstm"]["mae"] == pytest.approx((tp["forecast"] - tp["actual"]).abs().mean())
    assert m["skill_vs_naive"] == pytest.approx(1 - m["lstm"]["mae"] / m["naive"]["mae"])


def test_train_names_a_more_accurate_statistical_baseline_with_its_p_value(tmp_path):
    """A barely trained plain LSTM on a clean seasonal series: the summary shows the statistical model chosen on
    the validation part beside it, and the verdict says that model is more accurate, with the DM p-value."""
    from conftest import write_synthetic

    csv = write_synthetic(tmp_path / "season.csv", "seasonal", n=400, seed=1, noise=0.2)
    result = invoke("train", str(csv), "--window", "10", "--horizon", "3", "--layers", "4", "--epochs", "1",
                    "--hybrid", "none", "--seed", "7", "-q", "--model", str(tmp_path / "m"))
    assert result.exit_code == 0, result.output
    (m,) = json.loads((tmp_path / "m" / "metrics.json").read_text())["test"]["series"].values()
    # the test part's first price is the one after its first origin (the validation part's last price)
    tp = pd.read_csv(tmp_path / "m" / "test_predictions.csv", parse_dates=["origin", "date"])
    assert (str(tp.date.min().date()), str(tp.origin.min().date()), str(tp.date.max().date())) == (
        m["first_date"], m["first_origin"], m["last_date"]) and m["first_date"] > m["first_origin"]
    assert (f"Test part {m['first_date']} .. {m['last_date']} ({m['n_origins']} origins from {m['first_origin']} x 3 "
            "steps)") in result.stdout
    base = m["baselines"]
    chosen = base["chosen"]
    assert chosen in ("arima", "ets", "theta", "mstl") and base["validation_mae"][chosen] == min(base["validation_mae"].values())
    assert set(base["models"]) == {"seasonal_naive", chosen}
    better = {n: r for n, r in base["models"].items() if r["mae"] < m["lstm"]["mae"]}
    assert better, (m["lstm"]["mae"], {n: r["mae"] for n, r in base["models"].items()})
    name = min(better, key=lambda n: better[n]["mae"])
    p = better[name]["p_value_vs_lstm"]
    assert f"{name} is more accurate on the same test part" in result.stdout
    assert f"Diebold-Mariano p = {p:.3g}" in result.stdout.split("verdict:")[1]
