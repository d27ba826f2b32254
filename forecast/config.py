"""Frozen run configuration: data, window, model and training settings; saved with every bundle."""

from __future__ import annotations

import dataclasses
import json
import numbers
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from forecast.errors import ForecastError

TRANSFORMS = ("auto", "log_return", "diff", "level")
LOSSES = ("mse", "huber")
DEVICES = ("auto", "cpu", "gpu")
STRATEGIES = ("none", "mirrored")  # mirrored: tf.distribute.MirroredStrategy over the local devices
FITS = ("global", "per_series")
ARCHS = ("lstm", "gru", "bilstm", "cnn_lstm", "attention", "transformer")  # models/network.py
HYBRIDS = ("none", "season", "auto", "ets", "arima", "theta", "mstl")  # data/seasonal.py, models/residual.py
# Model names for the CLI without importing the models (models/baselines.BASELINES is the source; a test checks).
BASELINE_NAMES = ("naive", "seasonal_naive", "drift", "moving_average", "arima", "ets", "theta", "mstl", "comb",
                  "median")
DEFAULT_MODELS = ("lstm", "naive", "seasonal_naive", "drift", "arima", "ets", "theta", "mstl", "comb")
CHARTS = ("auto", "all", "summary", "none")  # train --charts
# `train --charts auto` draws a chart per series up to this many series; above, the grid and the training curves
SERIES_CHARTS_MAX = 20


@dataclass(frozen=True)
class DataConfig:
    target: str | None = None  # None: Adj Close, else Close, else the only numeric column
    date_col: str | None = None
    max_fill: int = 5  # longest run of missing values forward-filled
    id_col: str | None = None  # long format: the column naming each series
    targets: str | None = None  # wide format: the columns to forecast, comma-separated, or "all"
    features: tuple[str, ...] = ()  # covariates: numeric columns or derived features (data/features.py)
    sep: str | None = None  # CSV separator; None: sniffed
    decimal: str | None = None  # decimal mark; None: sniffed
    date_format: str | None = None  # strftime format of the dates; None: inferred


@dataclass(frozen=True)
class WindowConfig:
    window: int = 30  # look-back in steps
    horizon: int = 10  # steps predicted at once by the direct head
    transform: str = "auto"  # log_return when every price is positive, else diff (data/transforms.choose)
    val_frac: float = 0.15
    test_frac: float = 0.15


WEIGHT_CONFIDENCE = 0.95  # the network weight is the one-sided lower confidence bound of its least-squares value


@dataclass(frozen=True)
class ModelConfig:
    layers: tuple[int, ...] = (64, 64)  # units per stacked LSTM layer
    dropout: float = 0.2
    fit: str = "global"  # "global": one network across the series; "per_series": one network per series
    arch: str = "lstm"  # the encoder over the window (models/network.py)
    # "season": the network learns what a seasonal profile fitted on training rows leaves; "ets", "arima", "theta",
    # "mstl": what that statistical model's forecasts leave; "auto" (the default; README "Defaults chosen by
    # evidence"): a statistical model where one beats naive on the validation rows, else the profile where an F
    # test finds a season
    hybrid: str = "auto"
    ensemble: int = 1  # networks trained side by side; the forecast is their median
    # weigh the network's forecast against its anchor (the hybrid's statistical forecast, else the naive forecast)
    # by a weight in [0, 1]: what the validation windows confirm (models/lstm.py, LSTMForecaster._fit_weight)
    shrink: bool = True


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 50  # ceiling; early stopping usually ends sooner
    batch_size: int = 512  # vs 64/256: more windows/s, same test error on 5 real series (bench/README.md)
    patience: int = 5
    learning_rate: float = 6e-3  # 4e-3 at batch 256 scaled by sqrt(2) for batch 512 (bench/README.md)
    loss: str = "mse"
    seed: int = 42
    device: str = "auto"
    strategy: str = "none"  # "mirrored": replicate over local GPUs; batch_size is per replica
    save_on_interrupt: bool = False  # on Ctrl-C during fit, save a bundle of the best weights so far


@dataclass(frozen=True)
class RunConfig:
    data: DataConfig = field(default_factory=DataConfig)
    window: WindowConfig = field(default_factory=WindowConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def __post_init__(self) -> None:
        validate(self)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RunConfig:
        if not isinstance(d, dict) or not all(isinstance(d.get(k, {}), dict) for k in ("data", "window", "model", "train")):
            raise ForecastError("config must be a JSON object with data, window, model and train objects; "
                                "start from a bundle's config.json")
        unknown = sorted(set(d) - {"data", "window", "model", "train"})
        if unknown:
            raise ForecastError(f"config has unknown section(s) {', '.join(map(repr, unknown))}; the sections are "
                                "data, window, model and train (start from a bundle's config.json)")
        try:
            model, data = dict(d.get("model", {})), dict(d.get("data", {}))
            if "layers" in model:
                model["layers"] = tuple(int(u) for u in model["layers"])
            if isinstance(data.get("features"), list):
                data["features"] = tuple(data["features"])
            return cls(
                data=DataConfig(**data),
                window=WindowConfig(**d.get("window", {})),
                model=ModelConfig(**model),
                train=TrainConfig(**d.get("train", {})),
            )
        except TypeError as e:
            raise ForecastError(f"config has an unknown or missing setting: {e}") from None
        except ValueError as e:
            raise ForecastError(f"config has a bad value: {e}; model.layers must be whole numbers") from None

    def to_json(self, path: Path) -> None:
        from forecast.io import write_json

        write_json(Path(path), self.to_dict())

    @classmethod
    def from_json(cls, path: Path) -> RunConfig:
        try:
            return cls.from_dict(json.loads(Path(path).read_text()))
        except ForecastError as e:
            raise ForecastError(f"{path}: {e}") from None
        except FileNotFoundError:
            raise ForecastError(f"{path}: config file not found") from None
        except json.JSONDecodeError as e:
            raise ForecastError(f"{path}: not valid JSON ({e.msg} at line {e.lineno}); fix or regenerate it") from None

    def replace(self, **sections: dict[str, Any]) -> RunConfig:
        """A copy with some fields of some sections replaced: ``cfg.replace(train={"epochs": 2})``."""
        parts = {name: getattr(self, name) for name in ("data", "window", "model", "train")}
        for name, changes in sections.items():
            if changes:
                parts[name] = dataclasses.replace(parts[name], **changes)
        return RunConfig(**parts)


VARIANT_HELP = ("a network variant: an architecture (" + ", ".join(ARCHS) + ") followed by any of -season, -auto, "
                "-plain, -ets, -arima, -theta, -mstl (the hybrid), -shrink, -noshrink, -ens<K> (ensemble size), -w<N> "
                "(window), e.g. gru, lstm-ets, lstm-season-ens5")


def neural_variant(name: str, cfg: RunConfig) -> RunConfig | None:
    """The config of a neural model named in ``--models``, or None for a name that is not one.

    ``lstm`` is ``cfg`` itself (the model ``train`` ships with these options). Any other neural name starts
    with an architecture and changes ``cfg`` by its dash-separated parts: ``plain`` sets the hybrid to none, any
    other hybrid name (``season``, ``auto``, ``ets``, ...) to itself, ``shrink``/``noshrink`` the weight
    against the anchor, ``ens<K>`` the ensemble size, ``w<N>`` the window; e.g. ``gru``, ``lstm-plain``, ``lstm-ets``, ``transformer-season-ens3``."""
    arch, *parts = name.split("-")
    if arch not in ARCHS:
        return None
    if name == "lstm":
        return cfg
    model, window = {"arch": arch}, {}
    hybrids = {**{h: h for h in HYBRIDS if h != "none"}, "plain": "none"}
    for part in parts:
        if part in hybrids:
            model["hybrid"] = hybrids[part]
        elif part in ("shrink", "noshrink"):
            model["shrink"] = part == "shrink"
        elif part.startswith("ens") and part[3:].isdigit():
            model["ensemble"] = int(part[3:])
        elif part.startswith("w") and part[1:].isdigit():
            window["window"] = int(part[1:])
        else:
            raise ForecastError(f"--models {name!r}: {part!r} is not a variant part; give {VARIANT_HELP}")
    return cfg.replace(model=model, window=window)


def is_network(name: str) -> bool:
    """``lstm`` or a network variant such as ``gru-season`` (``neural_variant``): a model of ours, not a baseline."""
    return neural_variant(name, RunConfig()) is not None


def parse_ints(text: str, option: str, what: str, example: str) -> tuple[int, ...]:
    """'64,32' -> (64, 32); else an error naming ``option``: 'give positive {what} separated by commas'."""
    try:
        values = tuple(int(p) for p in text.replace(" ", "").split(",") if p)
    except ValueError:
        values = ()
    if not values or any(v <= 0 for v in values):
        raise ForecastError(f"{option} {text!r}: give positive {what} separated by commas, e.g. {example}")
    return values


def parse_layers(text: str) -> tuple[int, ...]:
    """'64,32' -> (64, 32); a clear error for anything else."""
    return parse_ints(text, "--layers", "units per LSTM layer", "64,64")


def _type_ok(value: Any, default: Any) -> bool:
    """Does ``value`` have the type of the field's ``default`` (None defaults take a string)?"""
    if default is None or isinstance(default, str):
        return isinstance(value, str) or (default is None and value is None)
    if isinstance(default, bool):
        return isinstance(value, bool)
    if isinstance(default, (int, float)):  # numpy numbers count too; bools do not
        return isinstance(value, numbers.Integral if isinstance(default, int) else numbers.Real) and not isinstance(value, bool)
    if isinstance(default, tuple):  # layers: whole numbers; an empty default (features): names
        return isinstance(value, tuple) and all(_type_ok(v, default[0] if default else "") for v in value)
    return True


def check_types(cfg: RunConfig) -> None:
    """Settings read from a JSON config must have the types of their defaults (e.g. no string window)."""
    for section in ("data", "window", "model", "train"):
        part = getattr(cfg, section)
        for f in dataclasses.fields(part):
            value = getattr(part, f.name)
            if not _type_ok(value, f.default):
                kind = "text" if f.default is None else type(f.default).__name__
                raise ForecastError(f"config {section}.{f.name} = {value!r}: must be {kind}; fix the config file")


def _date_format_ok(fmt: str | None) -> bool:
    """Whether ``fmt`` is a format the dates can be read with (None: inferred; "mixed": pandas' per-row guess)."""
    import datetime

    if fmt is None or fmt == "mixed":
        return True
    try:
        datetime.datetime.strptime("", fmt)
    except ValueError as e:
        return "directive" not in str(e) and "stray %" not in str(e)
    return True


def validate(cfg: RunConfig) -> None:
    """Reject impossible settings with a message that names the option and the fix."""
    check_types(cfg)
    w, m, t = cfg.window, cfg.model, cfg.train
    checks = [
        (w.window >= 2, f"--window {w.window}: the look-back must be at least 2 steps"),
        (w.horizon >= 1, f"--horizon {w.horizon}: the horizon must be at least 1 step"),
        (w.transform in TRANSFORMS, f"--transform {w.transform!r}: choose one of {', '.join(TRANSFORMS)}"),
        (0 < w.val_frac < 0.5, f"--val-frac {w.val_frac}: must be between 0 and 0.5"),
        (0 < w.test_frac < 0.5, f"--test-frac {w.test_frac}: must be between 0 and 0.5"),
        (w.val_frac + w.test_frac < 0.8, "--val-frac plus --test-frac must leave most data for training"),
        (len(m.layers) >= 1 and all(u > 0 for u in m.layers), "--layers: give positive units, e.g. 64,64"),
        (0 <= m.dropout < 1, f"--dropout {m.dropout}: must be in [0, 1)"),
        (t.epochs >= 1, f"--epochs {t.epochs}: must be at least 1"),
        (t.batch_size >= 1, f"--batch-size {t.batch_size}: must be at least 1"),
        (t.patience >= 0, f"--patience {t.patience}: must be 0 or more"),
        (t.learning_rate > 0, f"--learning-rate {t.learning_rate}: must be positive"),
        (t.loss in LOSSES, f"--loss {t.loss!r}: choose one of {', '.join(LOSSES)}"),
        (t.device in DEVICES, f"--device {t.device!r}: choose one of {', '.join(DEVICES)}"),
        (t.strategy in STRATEGIES, f"--strategy {t.strategy!r}: choose one of {', '.join(STRATEGIES)}"),
        (cfg.data.max_fill >= 0, f"--max-fill {cfg.data.max_fill}: must be 0 or more"),
        (t.seed is None or 0 <= t.seed < 2**32, f"--seed {t.seed}: must be a whole number from 0 to {2**32 - 1}"),
        (cfg.data.sep is None or len(cfg.data.sep) == 1,
         f"--sep {cfg.data.sep!r}: give one character, e.g. ';' or tab"),
        (cfg.data.decimal in (None, ".", ","), f"--decimal {cfg.data.decimal!r}: choose . or ,"),
        (_date_format_ok(cfg.data.date_format),
         f"--date-format {cfg.data.date_format!r}: not a strftime format; use codes such as %d/%m/%Y or %Y-%m-%d %H:%M"),
        (not (cfg.data.id_col and cfg.data.targets), "--id-col and --targets: give one of them (long or wide format)"),
        (m.fit in FITS, f"--fit {m.fit!r}: choose global or per_series"),
        (m.arch in ARCHS, f"--arch {m.arch!r}: choose one of {', '.join(ARCHS)}"),
        (m.hybrid in HYBRIDS, f"--hybrid {m.hybrid!r}: choose one of {', '.join(HYBRIDS)}"),
        (1 <= m.ensemble <= 25, f"--ensemble {m.ensemble}: give 1 (a single network) to 25 members"),
    ]
    for ok, message in checks:
        if not ok:
            raise ForecastError(message)
