"""The HTML report: content from a tiny bundle and a hand-written backtest folder, the CLI, and a render in Chromium."""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import stat
import struct
import subprocess
import tempfile
from html import escape as html_escape
from pathlib import Path

import pytest
from typer.testing import CliRunner

from conftest import write_synthetic
from forecast.cli import app
from forecast.config import RunConfig

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DATA_URI = re.compile(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"')
HOSTILE = "<script>alert('x')</script> & co"


def backtest_metrics() -> dict:
    """A metrics.json in the schema `forecast backtest` writes, with numbers chosen so the order is known."""
    def scores(mae: float, mase: float, skill: float, cov: float | None = None) -> dict:
        m = {"mae": mae, "rmse": mae * 1.3, "mape": mae / 10, "smape": mae / 10, "mase": mase,
             "directional_accuracy": 0.52, "skill_vs_naive": skill, "folds": [{"mae": mae}]}
        m["per_horizon"] = [{"mae": mae * k} for k in (1, 2, 3)]
        if cov is not None:
            m.update(coverage={"0.8": cov}, width=12.5, winkler=40.25)
        return m

    return {
        "models": {"naive": scores(10.0, 1.0, 0.0, 0.785), "lstm": scores(11.0, 1.1, -0.1, 0.8125),
                   "drift": scores(9.5, 0.95, 0.05), "arima": dict.fromkeys(("mae", "mase"))},  # None: no forecasts
        "settings": {"folds": 3, "horizon": 3, "data": {"path": "other.csv", "sha256": "f" * 64}},
        "seconds": {"naive": 0.01, "lstm": 2.5, "drift": 0.02},
        "origins": ["2020-01-01", "2020-02-01", "2020-03-01"],
        "dm_test": {"statistic": 1.234, "p_value": 0.217, "verdict": "no significant difference (p = 0.217)"},
        "lag_diagnostic": {"best_lag": 1, "scores": {"0": 0.9, "1": 0.2}, "message": "forecast looks like a lagged copy"},
        "network_weight": {"per_fit": [0.0], "zero_in": 1, "fits": 1, "message": f"0 in the one fit {HOSTILE}"},
        "verdict": f"The LSTM does not beat the naive forecast {HOSTILE}",
        "notes": ["ARIMA skipped: too few rows"],
        "coverage_range": {"0.8": {"low": 0.58, "high": 0.97, "mass": 0.9, "origins": 3, "steps": 3}},
    }


@pytest.fixture(scope="module")
def folders(tmp_path_factory) -> dict[str, Path]:
    """A bundle trained for one epoch on a seeded random walk, and a backtest folder with one PNG."""
    from matplotlib.figure import Figure

    from forecast.io import figure_png
    from forecast.workflows.train import train

    root = tmp_path_factory.mktemp("report")
    cfg = RunConfig().replace(window={"window": 10, "horizon": 3}, model={"layers": (8,), "dropout": 0.0},
                              train={"epochs": 1, "batch_size": 32, "seed": 7, "device": "cpu"})
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(root)  # models/LATEST lands here, not in the repository
        train(write_synthetic(root / "walk.csv", "random_walk", n=200, seed=3), cfg, root / "bundle", verbose=0)
    bt = root / "backtest"
    bt.mkdir()
    (bt / "metrics.json").write_text(json.dumps(backtest_metrics()))
    fig = Figure(figsize=(2, 1))
    fig.add_subplot().plot([1, 2, 3])
    (bt / "mae_by_horizon.png").write_bytes(figure_png(fig))
    return {"bundle": root / "bundle", "backtest": bt}


@pytest.fixture(scope="module")
def full_html(folders) -> str:
    from forecast.errors import DifferentDataWarning
    from forecast.output.report import gather, render

    with pytest.warns(DifferentDataWarning, match=r"the backtest \(.*backtest\) was run on other.csv and the bundle"):
        return render(gather(folders["bundle"], folders["backtest"]))


def test_report_is_self_contained_with_every_section(full_html, folders):
    images = DATA_URI.findall(full_html)
    assert len(images) == 3  # training curve, forecast fan chart, the backtest folder's PNG
    assert all(base64.b64decode(b).startswith(b"\x89PNG\r\n\x1a\n") for b in images)
    assert "<script" not in full_html and "http://" not in full_html and "https://" not in full_html
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; co" in full_html  # text from files is escaped
    for title in ("In plain words", "Data", "Model and training", "Forecast", "Test part: LSTM vs naive",
                  "Backtest against baselines", "Prediction intervals", "Lag diagnostic", "Environment"):
        assert f"<h2>{title}</h2>" in full_html
    assert "not available" not in full_html
    data = json.loads((folders["bundle"] / "data.json").read_text())
    assert f"<td>rows used</td><td>{data['rows']:,}</td>" in full_html
    assert f"<td>first date</td><td>{data['first_date'].removesuffix(' 00:00:00')}</td>" in full_html


def test_backtest_scoreboard_sorted_by_mase_with_lstm_highlighted(full_html):
    board = full_html.split("<h2>Backtest against baselines</h2>")[1].split("</table>")[0]
    assert [m for m in re.findall(r"<tr(?: class=\"hl\")?><td>(\w+)</td>", board)] == ["drift", "naive", "lstm", "arima"]
    assert '<tr class="hl"><td>lstm</td><td>11.00</td>' in board and "<td>-10.0%</td><td>2.5 s</td></tr>" in board
    assert "<th>direction right</th><th>skill vs naive</th><th>seconds</th>" in board  # labels, not raw keys
    assert "<td>&lt; 0.1 s</td>" in board and "<td>< 0.1 s</td>" not in board  # naive's 0.01 s, as valid HTML
    assert "<td>longest gap it may fill (--max-fill)</td>" in full_html  # a setting, not a count of the data's and "<td>best validation loss</td>" in full_html
    assert "<td>max_fill</td>" not in full_html and "<td>best_val_loss</td>" not in full_html
    assert "MAE per forecast step: errors grow with the step" in full_html  # a caption saying what to look for
    assert "<td>arima</td><td>—</td>" in board
    assert "<td>+5.0%</td>" in board and "<td>52.0%</td>" in board  # skill and directional accuracy as percents
    coverage = full_html.split("<h3>Backtest (nominal level in the header; width and Winkler score at 0.8)</h3>")[1].split(
        "</table>")[0]
    assert "<td>naive</td><td>78.5%</td><td>12.50</td><td>40.25</td>" in coverage
    assert "<td>drift</td>" not in coverage  # no intervals, no row
    assert ("<p>80% coverage from 3 origins x 3 steps: a calibrated 80% band shows 58.0%-97.0% in 90% of such backtests "
            "(simulated on a random walk; more folds narrow the range); every model is inside it") in full_html
    mismatch = "This backtest was run on a different file (other.csv) than the bundle was trained on ("
    assert full_html.count(mismatch) == 2  # where the verdict is read first, and beside the scoreboard
    assert full_html.split("<h2>In plain words</h2>")[1].index(mismatch) < full_html.split(
        "<h2>In plain words</h2>")[1].index("The verdict:")
    assert "<p>no significant difference (p = 0.217)</p>" in full_html
    section = full_html.split("<h2>Backtest against baselines</h2>")[1].split("<h2>")[0]
    assert ("<p>Network weight: 0 in the one fit &lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; co</p>"
            in section)
    lag = full_html.split("<h2>Lag diagnostic</h2>")[1]
    assert "forecast looks like a lagged copy" in lag and "Best-matching lag: <b>1</b>" in lag


def test_the_report_says_what_train_chose_where_the_settings_say_auto(full_html, folders):
    from forecast.output.report import fmt

    metrics = json.loads((folders["bundle"] / "metrics.json").read_text())
    (test,) = metrics["test"]["series"].values()
    chosen = full_html.split("<h3>Chosen by train</h3>")[1].split("</table>")[0]
    assert (f"<td>transform</td><td>{test['transform']['used']} ({html_escape(test['transform']['why'])})</td>"
            in chosen)
    hybrid = test.get("hybrid") or {}
    part = hybrid.get("part") if hybrid.get("used") else "none"
    assert f"<td>hybrid</td><td>{part} (" in chosen or (not hybrid and "<td>hybrid</td><td>none</td>" in chosen)
    assert f"<td>network weight</td><td>{fmt(test['network_weight'])}</td>" in chosen


def test_bundle_test_scores_and_interval_coverage(full_html, folders):
    from forecast.evaluation.verdict import shipped_label, shipped_name

    metrics = json.loads((folders["bundle"] / "metrics.json").read_text())
    (test,) = metrics["test"]["series"].values()
    scores = full_html.split("<h2>Test part: LSTM vs naive</h2>")[1].split("</section>")[0]
    assert f"<td>lstm</td><td>{test['lstm']['mae']:,.2f}</td>" in scores  # the walk's prices are around 100
    assert f"<b>{test['skill_vs_naive']:+.1%}</b>" in scores
    subject = html_escape(shipped_label(test.get("hybrid"), test.get("network_weight")))  # what forecast
    if test["beats_naive"] and test["dm_test"]["significant"]:
        verdict = f"{subject} beats the naive last-value forecast on the test part"
    elif test["beats_naive"]:  # lower, but not significantly: never called a win
        error = f"the error of {subject}" if subject.endswith(")") else f"{subject}&#x27;s error"
        verdict = f"{error} is lower than the naive forecast&#x27;s, but not by more than noise"
    else:
        verdict = f"{subject} does NOT beat the naive last-value forecast"
    plain = full_html.split("<h2>In plain words</h2>")[1].split("</section>")[0]
    assert verdict in plain
    assert f"Diebold-Mariano p = {test['dm_test']['p_value']:.3g}" in plain
    who = html_escape(shipped_name(test.get("hybrid"), test.get("network_weight")))  # the shipped model at weight 0
    assert f"Lag diagnostic: {who}&#x27;s one-step forecasts" in plain
    # one verdict: the backtest's first, the test part only as context, and why
    assert plain.index("The verdict: The LSTM does not beat the naive forecast") < plain.index(verdict)
    assert "It is the backtest's, not the test part's, because the backtest refits every model" in plain
    level = test["intervals"]["levels"]["80"]
    assert f"<td>80%</td><td>80.0%</td><td>{level['coverage']:.1%}</td>" in full_html
    low, high, _ = level["calibrated_range"]
    assert f"<p>80%: a calibrated band would show {low:.1%}-{high:.1%} from these origins in 90% of" in full_html


def test_without_backtest_each_section_says_how_to_get_it(folders):
    from forecast.output.report import gather, render

    html = render(gather(folders["bundle"], None))
    hint = "not available: run <code>forecast backtest DATA --out DIR</code> and pass <code>--backtest DIR</code>."
    for what in ("The backtest scoreboard", "The lag diagnostic"):
        assert f"{what} {hint}" in html
    assert len(DATA_URI.findall(html)) == 2


def test_cli_writes_report_for_latest_bundle_and_prints_time(folders, tmp_path):
    from forecast.bundle import set_latest

    set_latest(folders["bundle"])  # in this test's private folder
    result = CliRunner().invoke(app, ["report", "--out", "r.html"])
    assert result.exit_code == 0, result.output
    assert re.fullmatch(r"report: r\.html \(\d+\.\d s\)\n", result.output)
    html = (tmp_path / "r.html").read_text()
    mask = os.umask(0)
    os.umask(mask)
    assert stat.S_IMODE((tmp_path / "r.html").stat().st_mode) == 0o666 & ~mask  # not mkstemp's 0600
    assert html.startswith("<!DOCTYPE html>") and f"from bundle {folders['bundle'].resolve()}." in html
    # a backtest alone never pulls in the latest bundle, which may be of another series
    result = CliRunner().invoke(app, ["report", "--backtest", str(folders["backtest"]), "--out", "b.html"])
    assert result.exit_code == 0, result.output
    assert "from backtest " in (tmp_path / "b.html").read_text() and "from bundle" not in (tmp_path / "b.html").read_text()


def test_backtest_alone_makes_a_report_without_model_sections(folders, tmp_path):
    result = CliRunner().invoke(app, ["report", "-b", str(folders["backtest"]), "-o", "only.html"])
    assert result.exit_code == 0, result.output
    html = (tmp_path / "only.html").read_text()
    assert "The data summary not available: pass <code>--model DIR</code>" in html
    assert "<td>drift</td>" in html and len(DATA_URI.findall(html)) == 1


@pytest.mark.parametrize("args, message", [
    (["--backtest", "."], "error: --backtest .: no metrics.json there; pass a folder written by `forecast backtest`"),
    ([], "error: no model bundle found: train one with `forecast train FILE.csv` or pass --model DIR"),
    (["--model", "nowhere"], "error: nowhere: no such model folder"),
])
def test_cli_errors_are_one_line(args, message):
    result = CliRunner().invoke(app, ["report", *args, "--out", "r.html"])
    assert result.exit_code == 2
    assert result.output.startswith(message) and result.output.count("\n") == 1
    assert not Path("r.html").exists()


def test_out_must_not_be_a_folder(folders, tmp_path):
    result = CliRunner().invoke(app, ["report", "--model", str(folders["bundle"]), "--out", str(tmp_path)])
    assert result.exit_code == 2 and f"--out {tmp_path}: is a folder" in result.output


def chromium_render(page: Path, shot: Path) -> list[str]:
    """Screenshot ``page`` headless; return the browser console's lines (errors, warnings, logs)."""
    with tempfile.TemporaryDirectory() as profile:
        run = subprocess.run(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0", f"--screenshot={shot}",
             "--window-size=1280,2000", page.resolve().as_uri()],
            capture_output=True, text=True, timeout=120)
    return [line for line in run.stderr.splitlines() if ":CONSOLE" in line or "Uncaught" in line]


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install chromium; `make test` tries)")
def test_report_renders_in_headless_chromium_without_console_errors(full_html, tmp_path):
    page, shot = tmp_path / "report.html", tmp_path / "shot.png"
    page.write_text(full_html)
    assert chromium_render(page, shot) == []
    png = shot.read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and struct.unpack(">II", png[16:24]) == (1280, 2000)
    assert len(png) > 50_000  # a page with charts and tables, not a blank screen
    bad = tmp_path / "bad.html"  # the check itself can fail: a page with a script error is caught
    bad.write_text("<!DOCTYPE html><p>x</p><script>undefined_function()</script>")
    assert any("Uncaught ReferenceError" in line for line in chromium_render(bad, tmp_path / "bad.png"))


def test_the_test_part_sentence_names_a_more_accurate_baseline_and_calls_no_noise_a_win():
    """The report's plain words say what the train summary says: a lower error that is not significant is no win,
    and a statistical baseline with a lower MAE is named with its p-value (the sentence is then not 'good')."""
    from forecast.output.report import _test_sentence

    m = {"first_origin": "1959-02-01", "last_date": "1960-12-01", "n_origins": 13, "horizon": 10,
         "lstm": {"mae": 25.81}, "naive": {"mae": 83.29}, "skill_vs_naive": 0.69, "beats_naive": True,
         "dm_test": {"p_value": 0.23, "significant": False},
         "baselines": {"models": {"seasonal_naive": {"mae": 51.92, "p_value_vs_lstm": 0.01},
                                  "arima": {"mae": 14.06, "p_value_vs_lstm": 0.0421}}}}
    text, good = _test_sentence(m)
    assert "but not by more than noise" in text and "beats" not in text and good is False
    assert ("; arima is more accurate on the same test part (MAE 14.06 against the LSTM's 25.81, "
            "Diebold-Mariano p = 0.0421: significant).") in text
    m.update(dm_test={"p_value": 0.001, "significant": True, "statistic": -3.3})
    text, good = _test_sentence(m)
    assert "the LSTM beats the naive last-value forecast on the test part; arima is more accurate" in text
    assert good is False  # a baseline is better: not a sentence in the LSTM's favour
    m["baselines"]["models"]["arima"]["mae"] = 25.8051  # 4 digits would print 25.81 against 25.81
    assert "(MAE 25.805 against the LSTM's 25.81, Diebold-Mariano" in _test_sentence(m)[0]
    m["baselines"]["models"]["arima"]["p_value_vs_lstm"] = 0.175  # a lower MAE the test does not confirm says so
    assert "(MAE 25.805 against the LSTM's 25.81, Diebold-Mariano p = 0.175: not significant)." in _test_sentence(m)[0]
    m["baselines"]["models"].pop("arima")
    assert _test_sentence(m)[1] is True
    m["dm_test"]["statistic"] = +3.3  # significant, but the naive forecast's errors are the smaller on the test
    text, good = _test_sentence(m)
    assert "beats" not in text and "but not by more than noise" in text and good is False


def test_the_report_says_an_untested_difference_without_a_p_value(tmp_path):
    """One independent test origin: metrics.json holds the p-values as null; the sentence still reads, untested."""
    from forecast.output.report import _test_sentence

    m = {"first_origin": "2020-01-01", "last_date": "2020-02-01", "n_origins": 3, "horizon": 10,
         "lstm": {"mae": 1.0}, "naive": {"mae": 2.0}, "skill_vs_naive": 0.5, "beats_naive": True,
         "dm_test": {"p_value": None, "statistic": None, "significant": False},
         "baselines": {"models": {"arima": {"mae": 0.5, "p_value_vs_lstm": None}}}}
    text, good = _test_sentence(m)
    assert "but not by more than noise" in text and good is False
    assert "arima is more accurate on the same test part (MAE 0.5 against the LSTM's 1, Diebold-Mariano not tested: " \
           "too few origins)." in text


def test_a_panel_backtest_report_has_each_series_coverage_lag_diagnostic_and_charts(tmp_path):
    """forecast report --backtest of a panel's backtest: each series' coverage table, lag diagnostic and charts
    (from its sub-folder), not the 'run forecast backtest' hint the report gives without a backtest."""
    import pandas as pd

    from forecast.data.load import synthetic_series
    from forecast.data.panel import load_panel
    from forecast.evaluation.backtest import backtest
    from forecast.output.report import gather, render
    from forecast.workflows.backtest import write_outputs

    frames = [synthetic_series("random_walk", n=160, seed=k).assign(id=sid) for k, sid in enumerate(["AB/C", "D"])]
    pd.concat(frames)[["id", "Date", "Close"]].to_csv(tmp_path / "two.csv", index=False)
    cfg = RunConfig().replace(window={"window": 10, "horizon": 3}, model={"layers": (8,), "hybrid": "none"},
                              train={"epochs": 1, "batch_size": 32, "seed": 7, "device": "cpu"})
    bt = backtest(load_panel(tmp_path / "two.csv", id_col="id"), cfg, folds=3, models=("lstm", "naive"))
    write_outputs(bt, tmp_path / "bt")
    html = render(gather(None, tmp_path / "bt"))
    assert "run forecast backtest" not in html.lower()
    for sid in ("AB/C", "D"):
        assert f"<h3>Backtest, {sid} (nominal level in the header" in html and f"<h3>{sid}</h3>" in html
    charts = len(list((tmp_path / "bt").rglob("*.png")))
    assert charts >= 4 and html.count("data:image/png;base64,") == charts
    # the pooled verdict is an object now (its sentence shown, not the dict); a panel backtest folder written before,
    # with the sentence as a bare string, reports the same sentence
    metrics = json.loads((tmp_path / "bt" / "metrics.json").read_text())
    sentence = metrics["verdict"]["text"]
    assert f'<p class="verdict">{html_escape(sentence)}</p>' in html and "&#x27;ranking&#x27;" not in html
    (tmp_path / "bt" / "metrics.json").write_text(json.dumps({**metrics, "verdict": sentence}))
    assert f'<p class="verdict">{html_escape(sentence)}</p>' in render(gather(None, tmp_path / "bt"))
