"""Hyperparameter search with Optuna: window, LSTM units and depth, dropout and learning rate.

Each trial trains on the training part of every series' chronological split (one series or many, as
``train`` would) and is scored by the validation loss of the epoch whose weights early stopping keeps (the
last one at least 0.1% below the best before it); the test parts are never read. A seeded TPE sampler
proposes the settings and a median pruner stops trials whose per-epoch validation loss trails the others.
Trials run one after another (``jobs`` > 1 runs Optuna threads: faster on many cores, but no longer repeatable).

With an executor of width N (``forecast tune --executor process|ray``) the search asks Optuna for N
trials at a time, trains them at once on the executor's workers (a process pool, or Ray: local or a
cluster) and tells Optuna their results. Each trial's value is the one the same settings give in this
process (every fit seeds itself); the proposals depend on N, so a search repeats for the same N and seed.
A trial running elsewhere cannot be stopped from here, so the median pruner does not apply there; each
trial's per-epoch validation losses are still recorded.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from forecast.config import RunConfig
from forecast.data.panel import Panel
from forecast.errors import ForecastError
from forecast.executors import SEQUENTIAL


@dataclass(frozen=True)
class SearchSpace:
    windows: tuple[int, ...] = (10, 20, 30, 60)
    units: tuple[int, ...] = (16, 32, 64, 128)  # units of every LSTM layer
    depths: tuple[int, ...] = (1, 2, 3)  # stacked LSTM layers
    dropout: tuple[float, float] = (0.0, 0.5)
    learning_rate: tuple[float, float] = (1e-4, 1e-2)  # searched on a log scale

    def __post_init__(self):
        for option, values, least in (("--windows", self.windows, 2), ("--units", self.units, 1),
                                      ("--depths", self.depths, 1)):
            if not values or min(values) < least:
                raise ForecastError(f"{option} {','.join(map(str, values))}: give values of at least {least}")


@dataclass(frozen=True)
class TrialTask:
    """One trial for a worker: the config to train and the series it sees (training + validation parts)."""

    config: dict  # RunConfig.to_dict()
    panel: Panel  # each series cut before its test part
    n_val: tuple[int, ...]  # per series
    choices: dict | None = None  # the hybrid's statistical parts, the same for every trial (lstm.hybrid_parts)


def run_trial(task: TrialTask) -> tuple[list[float], float]:
    """Train one trial's config (in any process): its validation loss per epoch, and its value (the loss of the
    epoch whose weights were kept, as in this process)."""
    from forecast.models.lstm import LSTMForecaster

    fit = LSTMForecaster(RunConfig.from_dict(task.config), task.panel.features, choices=task.choices).fit(
        task.panel, task.n_val).fit_result
    return fit.history.get("val_loss", [fit.best_val_loss]), fit.best_val_loss


def shared_parts(seen: Panel, n_val: tuple[int, ...], horizon: int, mode: str) -> dict:
    """Every trial's statistical parts (``lstm.hybrid_parts`` on the rows the search sees), handed over without their
    statsforecast models (``lstm.handed_over``): the trials read only the forecasts computed here."""
    from forecast.models.lstm import handed_over, hybrid_parts

    return handed_over(hybrid_parts(seen, n_val, horizon, mode))


def _search_in_rounds(study, objective_cfg, panel: Panel, n_val: tuple[int, ...], n_trials: int,
                      timeout: float | None, executor, choices: dict | None = None, progress=None) -> None:
    """Ask ``executor.width`` trials at a time, train them on the executor, tell Optuna their values (and
    ``progress(study, trial)``)."""
    import time

    optuna = require_optuna()
    start, done = time.monotonic(), 0
    while done < n_trials and (timeout is None or time.monotonic() - start < timeout):
        trials = [study.ask() for _ in range(min(executor.width, n_trials - done))]
        tasks = [TrialTask(objective_cfg(t).to_dict(), panel, n_val, choices) for t in trials]
        for trial, (losses, value) in zip(trials, executor(run_trial, tasks)):
            for epoch, loss in enumerate(losses):
                trial.report(float(loss), epoch)
            if np.isfinite(value):
                study.tell(trial, value)
            else:  # diverged (e.g. too high a learning rate)
                study.tell(trial, state=optuna.trial.TrialState.PRUNED)
            if progress:
                progress(study, study.trials[trial.number])
        done += len(trials)


TUNE_FILES = {"best.json", "trials.csv"}
TUNE_DIR = "tune folder (best.json and trials.csv only)"


def is_tune_dir(path: Path) -> bool:
    """A folder ``tune`` wrote: best.json and trials.csv, nothing else."""
    return {p.name for p in Path(path).iterdir()} == TUNE_FILES


@dataclass
class TuneResult:
    best: RunConfig
    best_value: float
    trials: pd.DataFrame  # number, params..., value, state, duration_s
    out_dir: Path


def require_optuna():
    try:
        import optuna
    except ImportError:
        raise ForecastError('forecast tune needs Optuna, which is not installed: pip install "forecast[tune]"') from None
    return optuna


def suggest(trial, base: RunConfig, space: SearchSpace) -> RunConfig:
    """The base config with this trial's window, layers, dropout and learning rate."""
    depth = trial.suggest_categorical("depth", list(space.depths))
    units = trial.suggest_categorical("units", list(space.units))
    return base.replace(
        window={"window": trial.suggest_categorical("window", list(space.windows))},
        model={"layers": (units,) * depth, "dropout": trial.suggest_float("dropout", *space.dropout)},
        train={"learning_rate": trial.suggest_float("learning_rate", *space.learning_rate, log=True)},
    )


def _pruning_callback(trial):
    """A Keras callback reporting the validation loss each epoch; stops training when Optuna prunes."""
    import keras

    class ReportValLoss(keras.callbacks.Callback):
        pruned = False

        def on_epoch_end(self, epoch, logs=None):
            trial.report(float(logs["val_loss"]), epoch)
            if trial.should_prune():
                self.pruned = True
                self.model.stop_training = True

    return ReportValLoss()


def trials_frame(study) -> pd.DataFrame:
    """One row per trial: number, params, value, state, duration in seconds."""
    rows = []
    for t in study.trials:
        duration = (t.datetime_complete - t.datetime_start).total_seconds() if t.datetime_complete else float("nan")
        rows.append({"number": t.number, **t.params, "value": t.value, "state": t.state.name,
                     "duration_s": round(duration, 3)})
    return pd.DataFrame(rows)


def tune(data_path: Path, base: RunConfig, out_dir: Path, n_trials: int = 20, timeout: float | None = None,
         seed: int = 0, jobs: int = 1, space: SearchSpace = SearchSpace(), executor=SEQUENTIAL,
         trial_epochs: int | None = None, force: bool = False, progress=None) -> TuneResult:
    """Search, then write ``best.json`` (a full RunConfig) and ``trials.csv`` into ``out_dir``.

    ``executor``: an ``executors.open_executor`` executor of width > 1 trains that many trials at once.
    ``trial_epochs``: the most epochs a trial trains (default: the base config's); best.json keeps the base's.
    ``out_dir`` must be new or empty, or with ``force`` an earlier search's (``is_tune_dir``).
    ``progress(study, trial)``: called as each trial ends (an Optuna callback).
    """
    optuna = require_optuna()
    from forecast.workflows.train import load_training_panel, splits_of
    from forecast.io import write_csv, write_json
    from forecast.workflows.backtest import check_out_dir
    from forecast.models.fitting import configure_device
    from forecast.executors import Background
    from forecast.models.lstm import LSTMForecaster, parts_beforehand

    if base.model.fit == "per_series":  # each trial would score one network, and train fit one per series
        raise ForecastError("tune scores one network over all the series, but the config's model.fit is per_series "
                            "(one network per series): set it to global, or tune each series from a file of its own")
    out_dir = Path(out_dir)
    check_out_dir(out_dir, force, is_tune_dir, TUNE_DIR)  # before any trial
    if n_trials < 1:
        raise ForecastError(f"--trials {n_trials}: must be at least 1")
    if jobs < 1:
        raise ForecastError(f"--jobs {jobs}: must be at least 1")
    if timeout is not None and timeout <= 0:
        raise ForecastError(f"--timeout {timeout:g}: must be a positive number of seconds")
    trial_base = base if trial_epochs is None else base.replace(train={"epochs": trial_epochs})
    w = base.window
    # train's panel and split (every series at the same dates; one it cannot split skipped with the reason), for
    # the longest window tried: it decides which series can be split, the split itself does not depend on it
    widest = base.replace(window={"window": max(space.windows)})
    panel = load_training_panel(data_path, widest)
    splits = splits_of(panel, widest)
    seen = panel.map(lambda s: s.head(splits[s.id].n_train + splits[s.id].n_val))  # the test parts stay unseen
    n_val = tuple(splits[s.id].n_val for s in panel)
    # the search leaves the hybrid and the horizon alone, so every trial's statistical parts are the same: computed
    # once, in a process forked before TensorFlow loads (executors.Background), not once per trial
    parts = Background(shared_parts, seen, n_val, w.horizon, base.model.hybrid) if parts_beforehand(base) else None
    configure_device(base.train.device)
    choices = parts.result() if parts else None

    def objective(trial) -> float:
        cfg = suggest(trial, trial_base, space)
        report = _pruning_callback(trial)
        fit = LSTMForecaster(cfg, seen.features, callbacks=[report], choices=choices).fit(seen, n_val).fit_result
        if report.pruned:
            raise optuna.TrialPruned()
        if not np.isfinite(fit.best_val_loss):
            raise optuna.TrialPruned()  # diverged (e.g. too high a learning rate)
        return fit.best_val_loss

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="minimize", sampler=optuna.samplers.TPESampler(seed=seed),
                                pruner=optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=2))
    if executor.width > 1:
        _search_in_rounds(study, lambda t: suggest(t, trial_base, space), seen, n_val, n_trials, timeout, executor,
                          choices, progress)
    else:
        study.optimize(objective, n_trials=n_trials, timeout=timeout, n_jobs=jobs,
                       callbacks=[progress] if progress else None)
    frame = trials_frame(study)
    done = [t for t in study.trials if t.state.name == "COMPLETE"]
    if not done:
        raise ForecastError("no trial completed; raise --trials or --timeout, or check the data")
    best_trial = min(done, key=lambda t: t.value)
    best = suggest(optuna.trial.FixedTrial(best_trial.params), base, space)
    write_json(out_dir / "best.json", best.to_dict())
    write_csv(out_dir / "trials.csv", frame)
    return TuneResult(best, float(best_trial.value), frame, out_dir)
