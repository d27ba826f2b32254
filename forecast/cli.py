"""Typer commands: parse options, build the config, call one library function, print or save.

Nothing here imports TensorFlow at module level, so `forecast --help` stays instant.
"""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path
from typing import Iterator, Optional

import typer

from forecast.config import (ARCHS, BASELINE_NAMES, CHARTS, DEFAULT_MODELS, SERIES_CHARTS_MAX, WEIGHT_CONFIDENCE,
                             DataConfig, ModelConfig, TrainConfig, WindowConfig)
from forecast.errors import ForecastError
from forecast.io import check_can_write, dumps, figure_workers, shell_path

EXIT_CODES = ("Exit codes: 0 done; 2 usage or input error (bad option, file, column or folder); "
              "130 interrupted (Ctrl-C); 1 internal error (a bug: please report it with the traceback).")

app = typer.Typer(
    no_args_is_help=True, rich_markup_mode="rich", context_settings={"help_option_names": ["-h", "--help"]},
    help="Forecast price series with a stacked LSTM, and say honestly whether it beats a naive forecast.",
    epilog=EXIT_CODES,
)


def _flags_take_no_value() -> None:
    """Show boolean flags as flags in --help: Typer 0.29's rich help gives every option a type column
    (``display_type_rich``) and fills it with ``<bool>`` for flags too (``--help <bool>``), although a
    flag takes no value. Leave that column empty for flags; every other option keeps its type."""
    from typer.core import TyperOption

    shown = TyperOption.display_type_rich
    if getattr(shown, "_flags_blank", False):
        return

    def display_type_rich(self, ctx):
        return None if self.is_flag and not self.count else shown(self, ctx)

    display_type_rich._flags_blank = True
    TyperOption.display_type_rich = display_type_rich


_flags_take_no_value()


def _version(value: bool) -> None:
    if value:
        from forecast import __version__

        typer.echo(f"forecast {__version__}")
        raise typer.Exit()


@app.callback()
def _main(version: bool = typer.Option(False, "--version", "-V", is_eager=True, callback=_version,
                                       help="Print the version and exit.")) -> None:
    pass  # the help text is the Typer(help=...) above

# checked by the loader (data.read.check_file): one `error:` line with the fix, not Typer's box
ExistingFile = typer.Argument(..., help="CSV or Parquet file of prices.")
ModelOpt = typer.Option(None, "--model", "-m", help="Bundle folder. Default: the latest trained (models/LATEST).")


# Options shared by the commands that build an LSTM config (train, backtest): one definition each; the
# defaults shown are read from the config dataclasses, which the options leave alone when not given.
_DATA, _WIN, _MODEL, _TRAIN = DataConfig(), WindowConfig(), ModelConfig(), TrainConfig()
ConfigOpt = typer.Option(None, "--config", exists=True, dir_okay=False,
                         help="Start from this config.json (a bundle's, or tune's best.json); flags override it.")
TargetOpt = typer.Option(None, help="Column to forecast. Default: Adj Close, else Close, else the only numeric column.")
DateColOpt = typer.Option(None, help="Date column. Default: detected by name (date/time/timestamp).")
MaxFillOpt = typer.Option(None, help=f"Forward-fill runs of at most this many missing values \\[default: {_DATA.max_fill}].")
WindowOpt = typer.Option(None, help=f"Look-back window in steps \\[default: {_WIN.window}].")
TransformOpt = typer.Option(None, help="Target transform: auto (log_return when every training price is positive, else "
                            f"diff), log_return, diff or level \\[default: {_WIN.transform}].")
LayersOpt = typer.Option(None, help="Units per stacked LSTM layer, comma-separated "
                     f"\\[default: {','.join(map(str, _MODEL.layers))}].")
DropoutOpt = typer.Option(None, help=f"Dropout after each LSTM layer, in [0, 1) \\[default: {_MODEL.dropout}].")
ArchOpt = typer.Option(None, help=f"Network over the window: {', '.join(ARCHS)} \\[default: {_MODEL.arch}].")
HybridOpt = typer.Option(None, help="What the network learns: ets, arima, theta or mstl: the errors of that statistical "
                         "model's forecasts (fitted on the training rows), added to them; season: what a seasonal profile "
                         "leaves; auto: a statistical model where one beats the naive forecast on the validation rows "
                         "(by 5% and significantly), "
                         f"else the profile where an F test finds a season; none \\[default: {_MODEL.hybrid}].")
ShrinkOpt = typer.Option(None, "--shrink/--no-shrink", help="Weigh the network's forecast against its anchor (the "
                         "hybrid's statistical forecast, else the naive forecast) by a weight in [0, 1]: what the "
                         "validation windows confirm (the least-squares weight's one-sided "
                         f"{WEIGHT_CONFIDENCE:.0%} lower bound); 0: the network adds nothing "
                         f"\\[default: {'shrink' if _MODEL.shrink else 'no-shrink'}].")
EnsembleOpt = typer.Option(None, help="Networks trained side by side; the forecast is their median "
                           f"\\[default: {_MODEL.ensemble}].")
EpochsOpt = typer.Option(None, help=f"Most epochs per fit; early stopping usually ends sooner \\[default: {_TRAIN.epochs}].")
BatchSizeOpt = typer.Option(None, help=f"Windows per batch \\[default: {_TRAIN.batch_size}].")
PatienceOpt = typer.Option(None, help="Epochs without a validation-loss improvement of 0.1% before stopping; the best "
                           f"epoch's weights are kept \\[default: {_TRAIN.patience}].")
LearningRateOpt = typer.Option(None, help=f"Adam learning rate; halved on plateaus \\[default: {_TRAIN.learning_rate}].")
SeedOpt = typer.Option(None, help=f"Random seed; repeatable results on CPU \\[default: {_TRAIN.seed}].")
SepOpt = typer.Option(None, "--sep", help="CSV separator, e.g. ';' or tab \\[default: sniffed from the file].")
DecimalOpt = typer.Option(None, "--decimal", help="Decimal mark, . or , \\[default: sniffed from the numbers].")
DateFormatOpt = typer.Option(None, "--date-format", help="strftime format of the dates, e.g. %d/%m/%Y, for a file whose "
                             "format cannot be inferred \\[default: inferred].")


def _at_least_one(value: Optional[int]) -> Optional[int]:
    """--history's check: a usage error below 1 (Typer's min= would widen every help table's type column)."""
    if value is not None and value < 1:
        raise typer.BadParameter(f"{value}: show at least 1 observation")
    return value


HistoryOpt = typer.Option(None, "--history", callback=_at_least_one,
                          help="Observations shown before the forecast on the charts, at most what the bundle keeps "
                          "(its last input window and test part; predict --data shows a newer file's) "
                          "\\[default: 250].")
FeaturesOpt = typer.Option(None, help="Extra inputs, comma-separated: numeric columns (e.g. volume,high,low), "
                           "log_return, log_volume, hl_range, volatility, dow, month.")
IdColOpt = typer.Option(None, help="Long format: column naming the series; one global model over all (see --per-series).")
TargetsOpt = typer.Option(None, help="Wide format: the columns to forecast, comma-separated, or all.")
PerSeriesOpt = typer.Option(False, "--per-series", help="With --id-col/--targets: one model per series instead of one "
                            "global model.")
# Where independent fits run (backtest, tune): one definition each.
ExecutorOpt = typer.Option("sequential", help="Where independent fits run: sequential, process (a pool of --workers "
                           "processes) or ray (local, or the cluster at --address; pip install \"forecast\\[ray]\").")
WorkersOpt = typer.Option(None, help="Processes or local Ray CPUs for --executor process/ray \\[default: the CPU count].")
AddressOpt = typer.Option(None, help="Ray cluster to run on, e.g. ray://host:10001 \\[default: a local Ray].")


@contextlib.contextmanager
def user_errors() -> Iterator[None]:
    """Turn known errors into one line on stderr and exit code 2 (130 for Ctrl-C)."""
    try:
        yield
    except ForecastError as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(e.exit_code) from None
    except KeyboardInterrupt:
        typer.echo("interrupted: nothing was written (any previous bundle is intact)", err=True)
        raise typer.Exit(130) from None
    except OSError as e:  # e.g. --out names a folder, or a path without write permission
        where = f"{shell_path(e.filename)}: " if e.filename else ""
        typer.echo(f"error: {where}{e.strerror or e}; check the path and its permissions", err=True)
        raise typer.Exit(2) from None


_FILTER_STDERR = False  # set by main(): only the CLI's own process routes fd 2 through the noise filter


def _quiet_tf() -> None:
    """Keep TensorFlow's C++ log lines and its Python-side notices off the user's terminal (forecast.tf_quiet).

    Every command that may load TensorFlow calls this first, before the import: C++ INFO/WARNING lines
    off unless the user set TF_CPP_MIN_LOG_LEVEL, Keras progress on stderr, and (in the real CLI
    process) fd 2 through a filter that drops only the known start-up noise. Errors still show. Without
    TensorFlow installed (it comes from the ``cpu`` or ``gpu`` extra) the command ends here with exit code 2.
    """
    import importlib.util

    from forecast import tf_quiet

    if importlib.util.find_spec("tensorflow") is None:
        typer.echo('error: TensorFlow is not installed; run `make install`, or pip install -e ".[cpu]" '
                   '(".[gpu]" on a machine with an NVIDIA GPU)', err=True)
        raise typer.Exit(2)

    tf_quiet.quiet(filter_fd=_FILTER_STDERR)


def _overrides(**values) -> dict:
    return {k: v for k, v in values.items() if v is not None}


def _run_config(config: Path | None, layers: str | None = None, **sections: dict):
    """``--config`` (or the defaults) with the options the user gave; ``sections`` as in RunConfig.replace."""
    from forecast.config import RunConfig, parse_layers

    base = RunConfig.from_json(config) if config else RunConfig()
    sections["model"] = {**sections.get("model", {}), "layers": parse_layers(layers) if layers is not None else None}
    cfg = base.replace(**{name: _overrides(**values) for name, values in sections.items()})
    if cfg.model.fit == "per_series" and not (cfg.data.id_col or cfg.data.targets):  # from the flags or --config
        raise ForecastError("--per-series needs several series: add --id-col COLUMN or --targets A,B")
    return cfg


@app.command()
def train(
    data: Path = ExistingFile,
    model: Optional[Path] = typer.Option(None, "--model", "-m", help="Bundle folder to write. Default: models/<file stem>/."),
    force: bool = typer.Option(False, "--force", help="Replace an existing bundle at --model."),
    config: Optional[Path] = ConfigOpt,
    target: Optional[str] = TargetOpt,
    date_col: Optional[str] = DateColOpt,
    max_fill: Optional[int] = MaxFillOpt,
    sep: Optional[str] = SepOpt,
    decimal: Optional[str] = DecimalOpt,
    date_format: Optional[str] = DateFormatOpt,
    window: Optional[int] = WindowOpt,
    horizon: Optional[int] = typer.Option(None, "--horizon", "-H", help=f"Steps forecast at once by the direct head \\[default: {_WIN.horizon}]."),
    transform: Optional[str] = TransformOpt,
    layers: Optional[str] = LayersOpt,
    dropout: Optional[float] = DropoutOpt,
    arch: Optional[str] = ArchOpt,
    hybrid: Optional[str] = HybridOpt,
    shrink: Optional[bool] = ShrinkOpt,
    ensemble: Optional[int] = EnsembleOpt,
    epochs: Optional[int] = EpochsOpt,
    batch_size: Optional[int] = BatchSizeOpt,
    patience: Optional[int] = PatienceOpt,
    learning_rate: Optional[float] = LearningRateOpt,
    loss: Optional[str] = typer.Option(None, help="mse or huber \\[default: mse]."),
    val_frac: Optional[float] = typer.Option(None, help=f"Share of rows for validation (early stopping) \\[default: {_WIN.val_frac}]."),
    test_frac: Optional[float] = typer.Option(None, help=f"Share of rows held out for the test score \\[default: {_WIN.test_frac}]."),
    seed: Optional[int] = SeedOpt,
    device: Optional[str] = typer.Option(None, help="auto, cpu or gpu \\[default: auto]."),
    strategy: Optional[str] = typer.Option(None, help="none, or mirrored: replicate over the local GPUs; --batch-size is per replica \\[default: none]."),
    plots: Optional[Path] = typer.Option(None, file_okay=False, help="Folder for forecast.png and training_curve.png. Default: the bundle folder."),
    charts: str = typer.Option("auto", help="Charts written: all; summary (for many series the grid, and a global "
                               "model's training curve; no chart per series); none; auto: all up to "
                               f"{SERIES_CHARTS_MAX} series, summary above. `forecast plot` writes them all later."),
    history: Optional[int] = HistoryOpt,
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar; only the summary."),
    save_on_interrupt: bool = typer.Option(False, "--save-on-interrupt",
                                           help="On Ctrl-C during training, save a bundle of the best weights so far (marked interrupted)."),
    features: Optional[str] = FeaturesOpt,
    id_col: Optional[str] = IdColOpt,
    targets: Optional[str] = TargetsOpt,
    per_series: bool = PerSeriesOpt,
    executor: str = typer.Option("sequential", help="With --per-series: where the series train: sequential, process (a pool "
                                 "of --workers processes) or ray (a local Ray; pip install \"forecast\\[ray]\")."),
    workers: Optional[int] = WorkersOpt,
) -> None:
    """Train a stacked LSTM on DATA (one series, or many with --id-col/--targets) and save a model bundle;
    report each series' test error next to the naive forecast."""
    _quiet_tf()
    with user_errors():  # a Ctrl-C while importing TensorFlow ends as cleanly as one during training
        from forecast.executors import check_executor, open_executor
        from forecast.output import console
        from forecast.workflows.train import train as run_train

        cfg = _run_config(
            config, layers,
            data=_data_options(target, date_col, max_fill, features, id_col, targets, sep, decimal, date_format),
            window=dict(window=window, horizon=horizon, transform=transform, val_frac=val_frac, test_frac=test_frac),
            model=dict(dropout=dropout, fit=_fit_option(per_series), arch=arch, hybrid=hybrid,
                       shrink=shrink, ensemble=ensemble),
            train=dict(epochs=epochs, batch_size=batch_size, patience=patience, learning_rate=learning_rate,
                       loss=loss, seed=seed, device=device, strategy=strategy, save_on_interrupt=save_on_interrupt or None),
        )
        if (executor != "sequential" or workers is not None) and cfg.model.fit != "per_series":
            raise ForecastError(f"--executor {executor}: only --per-series training runs on an executor; add "
                                "--per-series (with --id-col or --targets) or drop --executor/--workers")
        check_executor(executor, workers)
        if charts not in CHARTS:
            raise ForecastError(f"--charts {charts}: not one of {', '.join(CHARTS)}")
        if plots is not None and charts != "none":
            check_can_write(plots / "forecast.png", "--plots")
        with open_executor(executor, workers) as run_on, console.warnings_on_stderr():
            outcome = run_train(data, cfg, model, force=force, verbose=0 if quiet else 2, executor=run_on,
                                progress=None if quiet else console.note)
        if outcome.interrupted:
            t = next(iter(outcome.metrics["training"].values()))
            typer.echo(f"interrupted after {t['epochs_run']} epochs: saved the best weights so far (epoch "
                       f"{t['best_epoch']}) to {outcome.bundle_dir}, marked interrupted", err=True)
            raise typer.Exit(130)
        console.print_train_summary(outcome)
        typer.echo(f"bundle: {shell_path(outcome.bundle_dir)}")
        if charts == "none":
            return
        n_series = len(outcome.panel)
        each = console.each_series_charted(charts, n_series)
        # the saved bundle as `forecast plot` reads it: the network in NumPy, no second trace of it in Keras
        written = console.write_bundle_plots(load_bundle(outcome.bundle_dir, engine="numpy"), plots or outcome.bundle_dir,
                                             history, workers=figure_workers(), each_series=each)
        shown = (", ".join(map(shell_path, written)) if len(written) <= 3
                 else f"{len(written)} PNG files in {shell_path(written[0].parent)}")
        later = "" if each or n_series == 1 else (
            f" (a chart per series: forecast plot --model {shell_path(outcome.bundle_dir)})")
        typer.echo(f"plots: {shown}{later}")


def _fit_option(per_series: bool) -> str | None:
    """--per-series as the config's ``model.fit`` (``_run_config`` checks that --id-col, --targets or --config
    names several series)."""
    return "per_series" if per_series else None


MAX_PREDICT_HORIZON = 10_000  # steps `predict` serves (past the trained horizon, each block from the last)


def _data_options(target, date_col, max_fill, features=None, id_col=None, targets=None, sep=None, decimal=None,
                  date_format=None) -> dict:
    from forecast.data.features import parse_features

    if sep is not None and sep.lower() in ("tab", "\\t"):
        sep = "\t"
    return dict(target=target, date_col=date_col, max_fill=max_fill, id_col=id_col, targets=targets, sep=sep,
                decimal=decimal, date_format=date_format,
                features=parse_features(features) if features is not None else None)


def load_bundle(path, engine: str = "keras"):
    from forecast.bundle import load_bundle as load

    return load(path, engine)


@app.command()
def predict(
    model: Optional[Path] = ModelOpt,
    horizon: Optional[int] = typer.Option(None, "--horizon", "-H", help="Steps to forecast. Default: the trained horizon; longer ones are served recursively."),
    data: Optional[Path] = typer.Option(None, exists=True, dir_okay=False, help="Forecast from the end of this newer file "
                                        "(same columns; each series from the end of its own rows) instead of the bundle's last windows."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", dir_okay=False, help="Write the forecast as CSV (date,forecast,...)."),
    as_json: bool = typer.Option(False, "--json", help="Print the forecast as a JSON list of records (date, forecast, "
                                 "bounds; an id with several series) instead of a table."),
    plot: Optional[Path] = typer.Option(None, dir_okay=False, help="Forecast chart PNG (for several series, a grid of "
                                        "all), or none. Default: beside --out, else none."),
    interval: Optional[str] = typer.Option(
        None, "--interval", help="Prediction interval level(s) strictly between 0 and 1, comma-separated "
        "(0.8 -> lower,upper; 0.5,0.95 -> lower_50,upper_50,lower_95,upper_95), or none. "
        "Default: 0.8."),
    series_id: Optional[str] = typer.Option(None, "--id", help="Forecast only this series of a multi-series bundle \\[default: all]."),
    history: Optional[int] = HistoryOpt,
) -> None:
    """Forecast the next steps of every series of a bundle (or --id), with dates on each series' own calendar."""
    _quiet_tf()
    from forecast.evaluation.intervals import parse_levels
    from forecast.io import save_figure, write_csv
    from forecast.output import console
    from forecast.workflows.predict import predict as run_predict

    with user_errors():
        if horizon is not None and not 1 <= horizon <= MAX_PREDICT_HORIZON:
            raise ForecastError(f"--horizon {horizon}: must be 1 to {MAX_PREDICT_HORIZON:,} steps")
        from forecast.bundle import checksummed, resolve

        no_plot = plot is not None and str(plot).lower() == "none"
        plot = None if no_plot else plot or (out.with_suffix(".png") if out else None)
        if out is not None and plot is not None and out.resolve() == plot.resolve():
            raise ForecastError(f"--out {out}: the chart (--plot, by default beside --out as .png) would be written "
                                "over the forecast; name --out *.csv or pass another --plot")
        for option, path in (("--out", out), ("--plot", plot)):
            if path is None:
                continue
            if data is not None and path.resolve() == data.resolve():
                raise ForecastError(f"{option} {path}: is the input file --data; choose another file to write")
            folder = resolve(model)
            if path.resolve().parent == folder.resolve() and path.name in checksummed(folder):
                raise ForecastError(f"{option} {path}: would overwrite {path.name} of the model bundle "
                                    f"{shell_path(folder)}, which its manifest checksums; write it elsewhere")
            check_can_write(path, option)
        levels = parse_levels(interval) if interval is not None else None
        bundle = load_bundle(model, engine="numpy")  # no TensorFlow import for the LSTM and GRU
        with console.warnings_on_stderr():
            fc = run_predict(bundle, horizon, data, series_id, levels)
        if out:
            write_csv(out, fc.table())
        if as_json:
            typer.echo(dumps(fc.records()))
        else:
            console.print_forecast(fc, out)
        if plot:
            save_figure(console.forecast_charts(bundle, fc, history), plot)
            if not as_json:
                typer.echo(f"chart: {shell_path(plot)}")


@app.command()
def plot(
    model: Optional[Path] = ModelOpt,
    out: Path = typer.Option(Path("plots"), "--out", "-o", file_okay=False, help="Folder for the PNG files."),
    history: Optional[int] = HistoryOpt,
) -> None:
    """Write the charts of a bundle as PNG: each series' forecast with history and test predictions (and a grid of
    all for many series), the training curve."""
    _quiet_tf()
    from forecast.output import console

    with user_errors():
        check_can_write(out / "forecast.png", "--out")  # the folder itself, where the charts go: before any work
        written = console.write_bundle_plots(load_bundle(model, engine="numpy"), out, history, workers=figure_workers())
        typer.echo("\n".join(map(shell_path, written)))


@app.command()
def info() -> None:
    """Print versions and the devices TensorFlow sees."""
    _quiet_tf()
    import tensorflow as tf

    from forecast.bundle import versions

    typer.echo("\n".join(f"{name} {v}" for name, v in versions().items()))  # what a bundle's manifest records
    devices = tf.config.list_physical_devices()
    typer.echo("devices: " + ", ".join(f"{d.device_type}:{d.name.rsplit(':', 1)[-1]}" for d in devices))
    gpus = [d for d in devices if d.device_type == "GPU"]
    typer.echo(f"built with CUDA: {tf.test.is_built_with_cuda()}; GPU in use by --device auto: {bool(gpus)}")


@app.command()
def report(
    model: Optional[Path] = typer.Option(None, "--model", "-m", help="Bundle folder. Default: the latest trained "
                                         "(models/LATEST); optional when --backtest is given."),
    backtest: Optional[Path] = typer.Option(None, "--backtest", "-b", help="Folder written by `forecast backtest`: "
                                            "adds the scoreboard against baselines, coverage and the lag diagnostic."),
    out: Path = typer.Option(Path("report.html"), "--out", "-o", help="HTML file to write."),
) -> None:
    """Write one self-contained HTML report (charts embedded, no network or JavaScript needed to open it)."""
    _quiet_tf()
    import time

    from forecast.output import console
    from forecast.output.report import write_report

    with user_errors(), console.warnings_on_stderr():
        start = time.perf_counter()
        path = write_report(out, model, backtest)
    typer.echo(f"report: {shell_path(path)} ({time.perf_counter() - start:.1f} s)")


@app.command()
def tune(
    data: Path = ExistingFile,
    trials: int = typer.Option(20, "--trials", "-n", help="Trials to run (fewer if --timeout ends the search)."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Folder for best.json and trials.csv. Default: tuning/<file stem>/."),
    force: bool = typer.Option(False, "--force", help="Replace an earlier search's best.json and trials.csv at --out."),
    timeout: Optional[float] = typer.Option(None, help="Stop starting new trials after this many seconds."),
    seed: int = typer.Option(0, help="Seed of the TPE sampler (each trial trains with the config's seed)."),
    jobs: int = typer.Option(1, help="Trials run at once in threads (sequential executor); above 1 the search is no "
                             "longer repeatable."),
    executor: str = ExecutorOpt,
    workers: Optional[int] = WorkersOpt,
    address: Optional[str] = AddressOpt,
    config: Optional[Path] = typer.Option(None, "--config", exists=True, dir_okay=False,
                                          help="Base config.json; the search replaces window, layers, dropout and learning rate."),
    target: Optional[str] = TargetOpt,
    date_col: Optional[str] = DateColOpt,
    max_fill: Optional[int] = MaxFillOpt,
    sep: Optional[str] = SepOpt,
    decimal: Optional[str] = DecimalOpt,
    date_format: Optional[str] = DateFormatOpt,
    features: Optional[str] = FeaturesOpt,
    id_col: Optional[str] = IdColOpt,
    targets: Optional[str] = TargetsOpt,
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No line per finished trial on stderr."),
    epochs: Optional[int] = typer.Option(None, help="Most epochs per trial (best.json keeps the base config's, for train) \\[default: the base config's]."),
    windows: Optional[str] = typer.Option(None, help="Windows to try, comma-separated \\[default: 10,20,30,60]."),
    units: Optional[str] = typer.Option(None, help="Units per LSTM layer to try \\[default: 16,32,64,128]."),
    depths: Optional[str] = typer.Option(None, help="Numbers of stacked LSTM layers to try \\[default: 1,2,3]."),
) -> None:
    """Search window, LSTM units and depth, dropout and learning rate on the validation loss; write best.json."""
    _quiet_tf()
    from forecast.output import console
    from forecast.config import parse_ints
    from forecast.executors import check_executor, open_executor
    from forecast.bundle import default_dir
    from forecast.workflows.tune import SearchSpace, tune as run_tune

    with user_errors():
        # best.json is this with the best trial's settings: --epochs is the trials' only
        base = _run_config(config, data=_data_options(target, date_col, max_fill, features, id_col, targets, sep,
                                                      decimal, date_format))
        if epochs is not None and epochs < 1:
            raise ForecastError(f"--epochs {epochs}: must be at least 1")
        choices = {"windows": windows, "units": units, "depths": depths}
        space = SearchSpace(**{k: parse_ints(v, f"--{k}", "whole numbers", "10,30") for k, v in choices.items()
                               if v is not None})
        if jobs < 1:
            raise ForecastError(f"--jobs {jobs}: must be at least 1")
        if jobs > 1 and executor != "sequential":
            raise ForecastError(f"--jobs {jobs}: threads are for the sequential executor; with --executor {executor} "
                                "use --workers")
        check_executor(executor, workers, address)
        out_dir = out or Path("tuning") / default_dir(data).name
        with open_executor(executor, workers, address) as run_on, console.warnings_on_stderr():
            result = run_tune(data, base, out_dir, n_trials=trials, timeout=timeout, seed=seed, jobs=jobs, space=space,
                              executor=run_on, trial_epochs=epochs, force=force,
                              progress=None if quiet else console.trial_progress(trials))
        console.print_trials(result.trials)
        best = shell_path(out_dir / "best.json")
        typer.echo(f"best validation loss {result.best_value:.4g}\nwritten: {best}, {shell_path(out_dir / 'trials.csv')}"
                   f"\ntrain with: forecast train {shell_path(data)} --config {best}")


@app.command()
def backtest(
    data: Path = ExistingFile,
    horizon: Optional[int] = typer.Option(None, "--horizon", "-H", help=f"Steps forecast from each origin \\[default: {_WIN.horizon}]."),
    folds: int = typer.Option(5, help="Forecast origins, stepping back from the end of the series."),
    step: Optional[int] = typer.Option(None, help="Steps between origins \\[default: the horizon]."),
    window_type: str = typer.Option("expanding", help="expanding or rolling training windows."),
    train_size: Optional[int] = typer.Option(None, help="Rows per rolling training window \\[default: all before the first origin]."),
    retrain_every: int = typer.Option(1, help="Refit every K folds; the others forecast from the new origin with the last fit."),
    warm_start: bool = typer.Option(False, "--warm-start", help="Start each LSTM fit from the previous fit's weights."),
    models: str = typer.Option(",".join(DEFAULT_MODELS), help="Comma-separated, from: lstm (the network train ships "
                               f"with these options), {', '.join(BASELINE_NAMES)} (the statistical ones from "
                               "statsforecast), and network variants: an architecture (" + ", ".join(ARCHS) + ") with "
                               "any of -season, -auto, -plain, -ets, -arima, -theta, -mstl (hybrid), -ens<K>, -w<N>, e.g. gru,lstm-ets."),
    season: Optional[int] = typer.Option(None, help="Season length \\[default: from the frequency, e.g. 5 for trading days]; "
                                         "given, it also scales MASE by the seasonal naive's in-sample error (by "
                                         "default MASE is scaled by the naive forecast's)."),
    interval: str = typer.Option("0.8", "--interval", help="Prediction interval levels, comma-separated (e.g. 0.5,0.8), "
                                 "or none: empirical coverage and width per model, conformal on each fit's validation part, "
                                 "and the range a calibrated band's coverage shows on these folds."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Output folder. Default: backtest/<file stem>/."),
    force: bool = typer.Option(False, "--force", help="Replace a non-empty --out folder."),
    as_json: bool = typer.Option(False, "--json", help="Print the metrics.json object on stdout (nothing else; "
                                 "progress and warnings stay on stderr unless --quiet)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress lines on stderr."),
    executor: str = ExecutorOpt,
    workers: Optional[int] = WorkersOpt,
    address: Optional[str] = AddressOpt,
    config: Optional[Path] = ConfigOpt,
    target: Optional[str] = TargetOpt,
    date_col: Optional[str] = DateColOpt,
    max_fill: Optional[int] = MaxFillOpt,
    sep: Optional[str] = SepOpt,
    decimal: Optional[str] = DecimalOpt,
    date_format: Optional[str] = DateFormatOpt,
    window: Optional[int] = WindowOpt,
    transform: Optional[str] = TransformOpt,
    layers: Optional[str] = LayersOpt,
    dropout: Optional[float] = DropoutOpt,
    arch: Optional[str] = ArchOpt,
    hybrid: Optional[str] = HybridOpt,
    shrink: Optional[bool] = ShrinkOpt,
    ensemble: Optional[int] = EnsembleOpt,
    epochs: Optional[int] = EpochsOpt,
    batch_size: Optional[int] = BatchSizeOpt,
    patience: Optional[int] = PatienceOpt,
    learning_rate: Optional[float] = LearningRateOpt,
    seed: Optional[int] = SeedOpt,
    features: Optional[str] = FeaturesOpt,
    id_col: Optional[str] = IdColOpt,
    targets: Optional[str] = TargetsOpt,
    per_series: bool = PerSeriesOpt,
) -> None:
    """Walk-forward backtest of the LSTM that `train` ships (same options) against the baselines on the same
    origins; for many series, each series and pooled."""
    _quiet_tf()
    from forecast.evaluation.backtest import parse_models
    from forecast.evaluation.intervals import parse_levels
    from forecast.executors import check_executor, open_executor
    from forecast.output import console
    from forecast.workflows import backtest as bt_lib

    with user_errors():
        cfg = _run_config(
            config, layers,
            data=_data_options(target, date_col, max_fill, features, id_col, targets, sep, decimal, date_format),
            window=dict(window=window, horizon=horizon, transform=transform),
            model=dict(dropout=dropout, fit=_fit_option(per_series), arch=arch, hybrid=hybrid,
                       shrink=shrink, ensemble=ensemble),
            train=dict(epochs=epochs, batch_size=batch_size, patience=patience, learning_rate=learning_rate, seed=seed),
        )
        out_dir = out or bt_lib.default_out_dir(data)
        bt_lib.check_out_dir(out_dir, force)  # fail before any work
        check_executor(executor, workers, address)
        show = not quiet  # on stderr: --json's stdout holds the JSON alone either way
        many = cfg.data.id_col is not None or cfg.data.targets is not None
        progress = (lambda r: console.note(f"{r.model}{' ' + r.ids[0] if many and len(r.ids) == 1 else ''}: fold(s) "
                                           f"{', '.join(str(f + 1) for f in r.folds)} done in {r.seconds:.1f} s")
                    ) if show else None
        with open_executor(executor, workers, address) as run_on, console.warnings_on_stderr():
            result = bt_lib.run_backtest(data, cfg, folds=folds, step=step, window_type=window_type,
                                         train_size=train_size, retrain_every=retrain_every, warm_start=warm_start,
                                         models=parse_models(models), season=season, progress=progress,
                                         levels=parse_levels(interval), executor=run_on)
        written = bt_lib.write_outputs(result, out_dir, force=force, workers=figure_workers())
        if as_json:
            typer.echo(dumps(result.report))
        elif len(result.report.get("series") or ()) > 1:
            console.print_panel_backtest(result.report, written)
        else:  # one series: a single-series file's, or the one left of a long or wide file
            console.print_backtest(console.one_series_view(result.report), written)


HORIZON_COMMANDS = ("train", "predict", "backtest")  # the commands with --horizon / -H


def short_horizon_misuse(args: list[str]) -> str | None:
    """The error for ``-h N``: ``-h`` is help in every command, and the horizon's short flag is ``-H`` (in the
    commands that have one); without this a script's ``predict -h 10`` would print the help and exit 0
    instead of forecasting."""
    command = next((a for a in args if not a.startswith("-")), None)
    for flag, value in zip(args, args[1:]):
        if flag == "-h" and value.lstrip("+-").isdigit():
            if command in HORIZON_COMMANDS:
                return f"-h shows the help; for a horizon of {value} steps write -H {value} or --horizon {value}"
            return f"-h shows the help, and `forecast {command or ''}` takes no horizon; drop '-h {value}'"
    return None


def main() -> None:  # pragma: no cover
    """The console script and ``python -m forecast``: the CLI with stderr filtered (see _quiet_tf)."""
    global _FILTER_STDERR
    _FILTER_STDERR = True
    misuse = short_horizon_misuse(sys.argv[1:])
    if misuse:
        print(f"error: {misuse}", file=sys.stderr)
        _exit_now(2)
    try:
        app(prog_name="forecast")
        code = 0
    except SystemExit as e:
        code = e.code
    _exit_now(code)


def _exit_now(code) -> None:  # pragma: no cover
    """End the process without the interpreter's teardown, which with TensorFlow loaded took 1.8 s of a 28 s
    ``train`` (bench/peers.py), and 0.02-0.03 s of the 0.2 s of ``forecast --help``. The command has returned: every
    output is written (atomically) and closed, the executors are shut down; streams, logging and the stderr
    filter (where they were used) are flushed and closed here."""
    if isinstance(code, str):  # sys.exit("message")
        print(code, file=sys.stderr)
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    if "logging" in sys.modules:
        sys.modules["logging"].shutdown()
    if "forecast.tf_quiet" in sys.modules:
        sys.modules["forecast.tf_quiet"].close_filter()
    os._exit(code if isinstance(code, int) else 0 if code is None else 1)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
