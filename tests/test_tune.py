"""forecast tune: a seeded Optuna search whose best.json trains with `forecast train --config`."""

from __future__ import annotations

import importlib
import sys

import pandas as pd
import pytest
from typer.testing import CliRunner

from forecast.cli import app
from forecast.config import RunConfig

runner = CliRunner()


def test_tune_writes_best_config_that_trains(walk_csv, tiny_cfg, tmp_path):
    pytest.importorskip("optuna")
    base = tmp_path / "base.json"
    tiny_cfg.replace(train={"epochs": 1}).to_json(base)
    result = runner.invoke(app, ["tune", str(walk_csv), "--trials", "2", "--out", "tuned", "--config", str(base),
                                 "--windows", "5,8", "--units", "4,6", "--depths", "1", "--seed", "3"])
    assert result.exit_code == 0, result.output
    assert "Top 2 of 2 trials" in result.output
    lines = [line for line in result.stderr.splitlines() if line.startswith("trial ")]  # one per finished trial
    assert [line.split(":")[0] for line in lines] == ["trial 0 (1 of 2)", "trial 1 (2 of 2)"]  # numbers as in the table
    assert "validation loss" in lines[0] and " window " in lines[0] and lines[1].split("; best so far ")[1]

    trials = pd.read_csv(tmp_path / "tuned" / "trials.csv")
    assert list(trials.columns) == ["number", "depth", "units", "window", "dropout", "learning_rate", "value",
                                    "state", "duration_s"]
    assert trials["number"].tolist() == [0, 1]
    assert set(trials["state"]) == {"COMPLETE"}
    assert set(trials["window"]) <= {5, 8} and set(trials["units"]) <= {4, 6}
    assert (trials["duration_s"] > 0).all()

    best = RunConfig.from_json(tmp_path / "tuned" / "best.json")
    row = trials.loc[trials["value"].idxmin()]
    assert best.window.window == row["window"]
    assert best.model.layers == (row["units"],)
    assert best.model.dropout == pytest.approx(row["dropout"])
    assert best.train.learning_rate == pytest.approx(row["learning_rate"])
    assert (best.window.horizon, best.train.epochs, best.train.seed) == (3, 1, 7)  # the rest is the base config
    assert f"best validation loss {row['value']:.4g}" in result.output

    trained = runner.invoke(app, ["train", str(walk_csv), "--config", str(tmp_path / "tuned" / "best.json"),
                                  "--model", "m", "--quiet"])
    assert trained.exit_code == 0, trained.output
    assert RunConfig.from_json(tmp_path / "m" / "config.json") == best


def test_tune_reads_files_with_the_data_options_train_has(walk_csv, tiny_cfg, tmp_path):
    """A file with several numeric columns needs --target; its error said so, and tune had no --target."""
    pytest.importorskip("optuna")
    frame = pd.read_csv(walk_csv)
    frame.assign(Other=frame["Close"] * 2).rename(columns={"Close": "Level"}).to_csv(tmp_path / "two.csv", index=False)
    base = tmp_path / "base.json"
    tiny_cfg.replace(train={"epochs": 1}).to_json(base)
    args = ["tune", str(tmp_path / "two.csv"), "--trials", "1", "--config", str(base), "--windows", "5",
            "--units", "4", "--depths", "1", "-q"]
    missing = runner.invoke(app, [*args, "--out", "t1"])
    assert missing.exit_code == 2 and "pass --target NAME" in missing.output
    result = runner.invoke(app, [*args, "--out", "t2", "--target", "Level"])
    assert result.exit_code == 0, result.output
    assert RunConfig.from_json(tmp_path / "t2" / "best.json").data.target == "Level"  # train --config reads it too
    assert not [line for line in result.stderr.splitlines() if line.startswith("trial ")]  # -q


def test_tune_without_optuna_says_how_to_install(walk_csv, monkeypatch):
    monkeypatch.setitem(sys.modules, "optuna", None)  # makes `import optuna` raise ImportError
    result = runner.invoke(app, ["tune", str(walk_csv), "--trials", "1"])
    assert result.exit_code == 2
    assert 'forecast tune needs Optuna, which is not installed: pip install "forecast[tune]"' in result.output


@pytest.mark.parametrize("args, message", [
    (["--windows", "10,x"], "--windows '10,x': give positive whole numbers separated by commas, e.g. 10,30"),
    (["--trials", "0"], "--trials 0: must be at least 1"),
    (["--jobs", "0"], "--jobs 0: must be at least 1"),
    (["--timeout", "0"], "--timeout 0: must be a positive number of seconds"),
])
def test_tune_rejects_bad_options(walk_csv, args, message):
    pytest.importorskip("optuna")
    result = runner.invoke(app, ["tune", str(walk_csv), *args])
    assert result.exit_code == 2
    assert message in result.output


SMALL_SPACE = ["--windows", "5,8", "--units", "4,6", "--depths", "1"]


def _trials(folder) -> pd.DataFrame:
    return pd.read_csv(folder / "trials.csv").drop(columns=["duration_s"])


def test_tune_on_a_process_pool_matches_the_same_rounds_in_process(walk_csv, tiny_cfg, tmp_path):
    """--executor process trains 2 trials at a time in worker processes; each trial's value is the one
    the same rounds give in this process (every fit seeds itself), and the best config is the same."""
    pytest.importorskip("optuna")
    from forecast.executors import Executor
    from forecast.workflows.tune import SearchSpace, tune

    base = tiny_cfg.replace(train={"epochs": 2})
    base.to_json(tmp_path / "base.json")
    res = runner.invoke(app, ["tune", str(walk_csv), "--trials", "4", "--out", "pool", "--config", "base.json",
                              *SMALL_SPACE, "--seed", "3", "--executor", "process", "--workers", "2"])
    assert res.exit_code == 0, res.output
    in_process = tune(walk_csv, base, tmp_path / "here", n_trials=4, seed=3, executor=Executor(map, 2),
                      space=SearchSpace(windows=(5, 8), units=(4, 6), depths=(1,)))

    pool = _trials(tmp_path / "pool")
    assert pool["number"].tolist() == [0, 1, 2, 3] and set(pool["state"]) == {"COMPLETE"}
    pd.testing.assert_frame_equal(pool, _trials(tmp_path / "here"))
    assert RunConfig.from_json(tmp_path / "pool" / "best.json") == in_process.best


def test_trial_value_is_the_kept_epochs_validation_loss(walk_csv, tiny_cfg):
    """A worker's trial is valued as the in-process objective values it: the loss of the epoch early stopping
    keeps, which is not the lowest epoch loss when a later epoch improved by less than 0.1%."""
    from forecast.data.panel import load_panel
    from forecast.models.lstm import LSTMForecaster
    from forecast.workflows.tune import TrialTask, run_trial

    panel = load_panel(walk_csv).map(lambda s: s.head(250))
    # a learning rate so low that no epoch lowers the loss by 0.1%: the first epoch is kept, not the lowest
    cfg = tiny_cfg.replace(train={"epochs": 4, "patience": 4, "learning_rate": 1e-5})
    losses, value = run_trial(TrialTask(cfg.to_dict(), panel, (40,)))
    fit = LSTMForecaster(cfg).fit(panel, [40]).fit_result
    assert len(losses) == fit.epochs_run == 4 and losses == fit.history["val_loss"]
    assert min(losses) < losses[0]  # an epoch with a lower loss than the kept one
    assert fit.best_epoch == 1 and value == fit.best_val_loss == losses[0]


def test_tune_threads_and_an_executor_do_not_mix(walk_csv):
    pytest.importorskip("optuna")
    result = runner.invoke(app, ["tune", str(walk_csv), "--jobs", "2", "--executor", "process"])
    assert result.exit_code == 2
    assert "--jobs 2: threads are for the sequential executor; with --executor process use --workers" in result.output


def test_trials_share_one_computation_of_the_statistical_parts(walk_csv, tiny_cfg, tmp_path, monkeypatch):
    """The search changes neither the hybrid nor the horizon, so the statistical parts are computed once for all
    trials (in a forked process where TensorFlow is not loaded yet; here it is, so in this one): the same trials
    as when every trial computes its own."""
    pytest.importorskip("optuna")
    importlib.import_module("tensorflow")  # loaded, so the parts are computed in this process, where they are counted
    from forecast.models import lstm
    from forecast.workflows.tune import SearchSpace, tune

    calls, real = [], lstm.hybrid_parts

    def counted(*args, **kwargs):
        calls.append(args[3])
        return real(*args, **kwargs)

    monkeypatch.setattr(lstm, "hybrid_parts", counted)
    base = tiny_cfg.replace(train={"epochs": 2}, model={"hybrid": "arima"})
    space = SearchSpace(windows=(5, 8), units=(4, 6), depths=(1,))
    shared = tune(walk_csv, base, tmp_path / "shared", n_trials=3, seed=3, space=space)
    assert calls == ["arima"]
    monkeypatch.setattr(lstm, "parts_beforehand", lambda cfg: False)  # as before: each trial's fit computes them
    each = tune(walk_csv, base, tmp_path / "each", n_trials=3, seed=3, space=space)
    assert calls == ["arima"] * 4
    pd.testing.assert_frame_equal(_trials(tmp_path / "shared"), _trials(tmp_path / "each"))
    assert shared.best == each.best and set(_trials(tmp_path / "shared")["state"]) == {"COMPLETE"}


TUNE_BY_PROCESS = """
import forecast.models.lstm as L
parts = L.hybrid_parts
def hybrid_parts(*args):
    note("parts")
    return parts(*args)
L.hybrid_parts = hybrid_parts
"""


def test_tune_hands_the_trials_their_parts_without_statsforecasts_models(walk_csv, tiny_cfg, tmp_path):
    """`forecast tune` computes the trials' statistical parts in a process forked before TensorFlow loads and hands
    them over with their forecasts and without their models: the process that fits the trials never imports
    statsforecast, and the trials are those of the in-process search."""
    pytest.importorskip("optuna")
    from conftest import cli_by_process
    from forecast.workflows.tune import SearchSpace, tune

    base = tiny_cfg.replace(train={"epochs": 2}, model={"hybrid": "arima"})
    base.to_json(tmp_path / "base.json")
    args = ["tune", walk_csv, "--trials", "2", "--config", tmp_path / "base.json", "--windows", "5,8", "--units", "4,6",
            "--depths", "1", "--seed", "3", "--out", tmp_path / "cli"]
    _, seen, main = cli_by_process(TUNE_BY_PROCESS, args, tmp_path / "pids.txt")
    (forked,) = seen["parts"]
    assert forked != main and forked in seen["statsforecast"] and main not in seen["statsforecast"]
    tune(walk_csv, base, tmp_path / "lib", n_trials=2, seed=3, space=SearchSpace(windows=(5, 8), units=(4, 6),
                                                                                 depths=(1,)))
    columns = ["number", "depth", "units", "window", "dropout", "learning_rate", "value", "state"]
    pd.testing.assert_frame_equal(_trials(tmp_path / "cli")[columns], _trials(tmp_path / "lib")[columns])


def test_tune_searches_on_the_series_train_keeps(tmp_path, tiny_cfg):
    """A panel whose series B is too short to split at the panel's dates: train skips it with a warning, and so
    does tune (it refused the file), searching on A alone."""
    pytest.importorskip("optuna")
    from forecast.data.load import synthetic_series

    long = pd.concat([synthetic_series("random_walk", n=300, seed=1).assign(id="A"),
                      synthetic_series("random_walk", n=60, seed=2).assign(id="B")])
    long[["id", "Date", "Close"]].to_csv(tmp_path / "panel.csv", index=False)
    base = tmp_path / "base.json"
    tiny_cfg.replace(data={"id_col": "id"}, train={"epochs": 1}).to_json(base)
    result = runner.invoke(app, ["tune", str(tmp_path / "panel.csv"), "--trials", "1", "--out",
                                 "tuned", "--config", str(base), "--windows", "5", "--units", "4", "--depths", "1"])
    assert result.exit_code == 0, result.output
    assert "warning:" in result.stderr and "skipped 1 series: B" in result.stderr
    assert len(pd.read_csv(tmp_path / "tuned" / "trials.csv")) == 1


def test_tune_refuses_a_per_series_config_it_would_not_tune(walk_csv, tiny_cfg, tmp_path):
    """A trial scores one network; train --config best.json with fit per_series would fit one per series."""
    base = tmp_path / "base.json"
    tiny_cfg.replace(data={"id_col": "id"}, model={"fit": "per_series"}).to_json(base)
    result = runner.invoke(app, ["tune", str(walk_csv), "--config", str(base), "--out", "never"])
    assert result.exit_code == 2 and "the config's model.fit is per_series" in result.stderr
    assert not (tmp_path / "never").exists()


def test_tune_epochs_bound_the_trials_not_the_model_best_json_trains(walk_csv, tiny_cfg, tmp_path):
    """--epochs 1 makes the search quick; best.json keeps the base config's epochs, so `forecast train --config
    best.json` trains the final model as long as the base config says (it trained 1 epoch)."""
    pytest.importorskip("optuna")
    base = tmp_path / "base.json"
    tiny_cfg.replace(train={"epochs": 7}).to_json(base)
    result = runner.invoke(app, ["tune", str(walk_csv), "--trials", "1", "--epochs", "1", "--out", "tuned",
                                 "--config", str(base), "--windows", "5", "--units", "4", "--depths", "1"])
    assert result.exit_code == 0, result.output
    assert RunConfig.from_json(tmp_path / "tuned" / "best.json").train.epochs == 7


def test_tune_replaces_an_earlier_search_only_with_force_and_never_another_folder(walk_csv, tiny_cfg, tmp_path):
    """As backtest: a second search into the same --out needs --force, and --force replaces only a folder holding
    an earlier search's best.json and trials.csv."""
    pytest.importorskip("optuna")
    base = tmp_path / "base.json"
    tiny_cfg.replace(train={"epochs": 1}).to_json(base)
    args = ["tune", str(walk_csv), "--trials", "1", "--config", str(base), "--windows", "5", "--units", "4",
            "--depths", "1"]
    assert runner.invoke(app, [*args, "--out", "tuned"]).exit_code == 0
    again = runner.invoke(app, [*args, "--out", "tuned"])
    assert again.exit_code == 2 and "folder exists and is not empty; pass --force" in again.stderr
    assert runner.invoke(app, [*args, "--out", "tuned", "--force"]).exit_code == 0
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "thesis.txt").write_text("precious")
    refused = runner.invoke(app, [*args, "--out", "notes", "--force"])
    assert refused.exit_code == 2 and "not a tune folder (best.json and trials.csv only)" in refused.stderr
    assert (tmp_path / "notes" / "thesis.txt").read_text() == "precious"
