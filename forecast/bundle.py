"""Save and load model bundles: one folder, the same files whatever the number of series.

Layout (format version 2)::

    model.keras            the Keras 3 network across all series (``fit: global``; Keras safe_mode, or models/numpy_net.py)
    config.json            every option used; RunConfig.from_dict rebuilds the model
    series.json            ids; per series its network, calendar, transform, scalers, interval calibration
    last_window.csv        id,date,price[,raw covariates]: the observations the next forecasts start from
    test_predictions.csv   id,origin,date,step,actual,forecast,naive over each series' held-out test part
    data.json              fingerprint of the training file: path, sha256, layout, target, date column
    metrics.json           test metrics per series and pooled, interval coverage, training summary
    history.json           loss per epoch and the early-stopping point, per network
    manifest.json          format, versions, device, seed, fit, and a sha256 of every file above

With ``fit: per_series`` each series has its own network, ``model_<series>.keras``, instead of model.keras.

A bundle is written into a temporary sibling folder and renamed into place, so an interrupted run
leaves either the previous bundle or none. Loading refuses a folder whose manifest is missing, whose
format is unknown (older formats: retrain), or whose files do not match their checksums. No pickles.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import glob
import hashlib
import json
import os
import platform
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

import pandas as pd

from forecast.config import RunConfig
from forecast.errors import BundleError, ForecastError
from forecast.io import atomic_write_text, check_can_write, umask, write_json

FORMAT = "forecast-bundle"
FORMAT_VERSION = 2
LATEST = Path("models") / "LATEST"
SERIES = "series.json"
REQUIRED = ("config.json", SERIES, "last_window.csv", "data.json", "metrics.json",
            "history.json")  # files every bundle has (and its networks), each with a checksum in manifest.json


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def versions() -> dict[str, str]:
    """The versions behind a bundle's figures: statsforecast's too (the baselines' scores and a hybrid's part:
    AutoARIMA's order search can tip on float differences of 1e-12), read from its metadata, not imported."""
    from importlib.metadata import PackageNotFoundError, version

    import keras
    import numpy
    import tensorflow as tf

    from forecast import __version__

    try:
        statsforecast = version("statsforecast")
    except PackageNotFoundError:
        statsforecast = "not installed"
    return {"forecast": __version__, "python": platform.python_version(), "tensorflow": tf.__version__,
            "keras": keras.__version__, "numpy": numpy.__version__, "pandas": pd.__version__,
            "statsforecast": statsforecast}


def is_bundle(path: Path) -> bool:
    """A folder `forecast train` wrote (it has a manifest.json)."""
    return (Path(path) / "manifest.json").is_file()


def check_writable(path: Path, force: bool, replaceable: Callable[[Path], bool] = is_bundle,
                   what: str = "forecast bundle (no manifest.json)") -> None:
    """Fail before any work if ``path`` exists and may not be replaced.

    With ``force`` only an empty folder or one that ``replaceable`` recognises as this writer's own
    output is replaced: a mistyped path never wipes an unrelated folder.
    """
    path = Path(path)
    if path.exists() and not force:
        raise BundleError(f"{path} already exists; pass --force to replace it or --model to choose another folder")
    check_can_write(path, "--model" if replaceable is is_bundle else "--out")
    if path.exists() and not path.is_dir():
        raise BundleError(f"{path} exists and is not a folder; choose another --model folder")
    if path.is_dir() and not replaceable(path) and any(path.iterdir()):
        raise BundleError(f"{path} is a folder with files but not a {what}; refusing to replace it: "
                          "choose another folder or empty it yourself")
    if replaceable is is_bundle:  # save_bundle also records the new bundle in models/LATEST of this folder
        try:
            check_can_write(LATEST, "the latest-bundle pointer")
        except ForecastError as e:
            raise BundleError(f"{str(e).split('; ')[0]}; `forecast train` records its bundle there (in the current "
                              "folder): run it from a folder where it can") from None


def remove_stale_temps(path: Path, older_than: float) -> list[Path]:
    """Remove the ``.NAME.tmp-*`` and ``.NAME.old-*`` folders of ``path`` last modified before ``older_than``.

    They are what a killed run leaves behind. A previous bundle caught between the two renames of a killed
    swap (in ``.NAME.old-*/bundle``) is first put back at ``path`` when nothing is there.
    """
    path = Path(path)
    stale = [d for kind in ("tmp", "old") for d in path.parent.glob(f".{glob.escape(path.name)}.{kind}-*")
             if d.is_dir() and d.stat().st_mtime < older_than]
    for d in stale:
        if d.name.startswith(f".{path.name}.old-") and not path.exists() and (d / "bundle" / "manifest.json").is_file():
            os.rename(d / "bundle", path)
        shutil.rmtree(d, ignore_errors=True)
    return stale


@contextlib.contextmanager
def atomic_dir(path: Path, force: bool, replaceable: Callable[[Path], bool] = is_bundle,
               what: str = "forecast bundle (no manifest.json)") -> Iterator[Path]:
    """Yield a temporary folder; on success it replaces ``path`` in one rename, on failure it is removed."""
    path = Path(path)
    check_writable(path, force, replaceable, what)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.tmp-", dir=path.parent))
    try:
        os.chmod(tmp, 0o777 & ~umask())  # mkdtemp makes 0700; give the folder the mode mkdir would
        yield tmp
        if path.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{path.name}.old-", dir=path.parent))
            os.rename(path, old / "bundle")
            try:
                os.rename(tmp, path)
            except BaseException:  # e.g. Ctrl-C between the renames: put the previous bundle back
                os.rename(old / "bundle", path)
                shutil.rmtree(old, ignore_errors=True)
                raise
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.rename(tmp, path)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def default_dir(data_path: Path) -> Path:
    """``models/<file stem>``: where ``train`` saves the bundle of ``data_path`` unless told otherwise."""
    name = Path(data_path).name
    for suffix in (".gz", ".csv", ".parquet", ".pq", ".txt"):
        name = name.removesuffix(suffix)
    return Path("models") / name


def slug(sid: str) -> str:
    """A file-name-safe form of a series id, one per id: an id of letters, digits, ``.``, ``_`` and ``-`` as it is,
    any other with the rest replaced by ``_`` and a hash of the id appended (``BRK/B`` -> ``BRK_B-0f1e2d3c``, so it
    cannot meet ``BRK B`` or ``BRK_B``); an id of dots only is hashed too (it would name a folder above)."""
    text = str(sid)
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", text)
    if safe == text and safe.strip("."):
        return safe
    return f"{safe.strip('.') or '_'}-{hashlib.sha1(text.encode()).hexdigest()[:8]}"


def chart_file(sid: str, named: bool) -> str:
    """The forecast chart's file name (``train``, ``plot``): ``forecast.png`` for a single-series file's series,
    ``forecast_<slug>.png`` for a series of a long or wide file (``Panel.named``)."""
    return f"forecast_{slug(sid)}.png" if named else "forecast.png"


def network_file(key: str | None) -> str:
    """``model.keras`` for the global network, ``model_<slug>.keras`` for a series' own network."""
    return "model.keras" if key is None else f"model_{slug(key)}.keras"


def _read_rows(path: Path, dates: list[str]) -> pd.DataFrame:
    """A CSV the bundle wrote, numbers exactly as written; its ``id`` column as text, an id such as ``NA`` or
    ``null`` included (pandas would read those as missing)."""
    frame = pd.read_csv(path, parse_dates=dates, dtype={"id": str}, float_precision="round_trip")
    if "id" in frame:
        frame["id"] = pd.read_csv(path, usecols=["id"], dtype=str, keep_default_na=False)["id"]
    return frame


@dataclass
class Bundle:
    path: Path
    config: RunConfig
    networks: dict[str, Any]  # file name -> Keras model
    series: dict  # series.json
    last_window: pd.DataFrame  # id, date, price[, raw covariates]
    data: dict
    metrics: dict
    history: dict  # file name -> {history, best_epoch, epochs_run}
    manifest: dict
    test_predictions: pd.DataFrame | None = None

    @property
    def ids(self) -> list[str]:
        return list(self.series["ids"])

    @property
    def entries(self) -> dict[str, dict]:
        """Series id -> its series.json entry."""
        return {e["id"]: e for e in self.series["series"]}

    @property
    def single(self) -> bool:
        """Trained on a single-series file: outputs omit the id column. A long or wide file keeps its ids even
        where one series is left (``Panel.named``)."""
        return self.series.get("layout", "single") == "single" and len(self.series["ids"]) == 1


def save_bundle(path: Path, *, networks: dict[str, Any], config: RunConfig, series: dict,
                last_window: pd.DataFrame, data: dict, metrics: dict, history: dict,
                test_predictions: pd.DataFrame | None, device: str, force: bool = False,
                interrupted: bool = False) -> Path:
    """Write a bundle atomically. ``networks``: file name (``network_file``) -> Keras model.

    ``interrupted`` marks a bundle saved from the best weights of a training run stopped with Ctrl-C.
    """
    with atomic_dir(path, force) as tmp:
        for name, model in networks.items():
            model.save(tmp / name)
        write_json(tmp / "config.json", config.to_dict())
        write_json(tmp / SERIES, series)
        last_window.to_csv(tmp / "last_window.csv", index=False, date_format="%Y-%m-%d %H:%M:%S")
        if test_predictions is not None:
            test_predictions.to_csv(tmp / "test_predictions.csv", index=False)
        write_json(tmp / "data.json", data)
        write_json(tmp / "metrics.json", metrics)
        write_json(tmp / "history.json", history)
        files = {p.name: sha256_file(p) for p in sorted(tmp.iterdir()) if p.is_file()}
        write_json(tmp / "manifest.json", {
            "format": FORMAT, "format_version": FORMAT_VERSION,
            "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "device": device, "seed": config.train.seed, "fit": config.model.fit, "n_series": len(series["ids"]),
            "versions": versions(), "interrupted": interrupted, "files": files,
        })
    set_latest(path)
    return Path(path)


def set_latest(path: Path) -> None:
    atomic_write_text(LATEST, str(Path(path).resolve()) + "\n")


def resolve(path: Path | None) -> Path:
    """The bundle folder to use: ``path`` if given, else the one named by models/LATEST."""
    if path is not None:
        return Path(path)
    if LATEST.is_file():
        target = Path(LATEST.read_text().strip())
        if target.is_dir():
            return target
        raise BundleError(f"{LATEST} points to {target}, which no longer exists; pass --model DIR or train again")
    raise BundleError("no model bundle found: train one with `forecast train FILE.csv` or pass --model DIR")


def _read_json(path: Path, name: str) -> dict:
    try:
        return json.loads((path / name).read_text())
    except FileNotFoundError:
        raise BundleError(f"{path}: bundle is incomplete, {name} is missing; train it again") from None
    except json.JSONDecodeError:
        raise BundleError(f"{path}: {name} is not valid JSON (damaged bundle); train it again") from None


def checksummed(path: Path) -> set[str]:
    """The files a bundle's manifest lists (and checks when it loads), manifest.json itself included; none for a
    folder without a readable manifest."""
    try:
        return {*json.loads((Path(path) / "manifest.json").read_text())["files"], "manifest.json"}
    except (OSError, ValueError, KeyError, TypeError):
        return set()


def verify(path: Path) -> dict:
    """Check the manifest, format version and checksums; return the manifest."""
    path = Path(path)
    if not path.exists():
        raise BundleError(f"{path}: no such model folder; pass --model DIR of a bundle made by `forecast train`")
    if not path.is_dir():
        raise BundleError(f"{path} is a file, not a model folder; pass --model DIR of a bundle made by `forecast train`")
    if not (path / "manifest.json").is_file():
        raise BundleError(f"{path}: not a forecast bundle (no manifest.json); pass a folder made by `forecast train`")
    manifest = _read_json(path, "manifest.json")
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BundleError(f"{path}: manifest.json is not a {FORMAT} manifest; this folder was not made by forecast")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise BundleError(f"{path}: bundle format version {manifest.get('format_version')} is not supported "
                          f"(this forecast reads version {FORMAT_VERSION}); retrain it with `forecast train`")
    files = manifest.get("files")
    if not isinstance(files, dict) or not set(REQUIRED) <= set(files) or not any(str(n).endswith(".keras") for n in files):
        raise BundleError(f"{path}: manifest.json does not list every bundle file ({', '.join(REQUIRED)} and a "
                          "model.keras); "
                          "damaged bundle, train it again")
    for name, digest in files.items():
        if not isinstance(name, str) or Path(name).name != name or name in (".", ".."):
            raise BundleError(f"{path}: manifest.json names {name!r}, which is not a file of the bundle; "
                              "damaged bundle, train it again")
        f = path / name
        if not f.is_file():
            raise BundleError(f"{path}: bundle is incomplete, {name} is missing; train it again")
        if sha256_file(f) != digest:
            raise BundleError(f"{path}: {name} does not match its checksum in manifest.json (altered or damaged); "
                              "train the bundle again")
    return manifest


def _load_network(path: Path, cfg: RunConfig, engine: str):
    """One network file: in NumPy where ``engine`` is "numpy" and models/numpy_net.py serves the architecture
    (no TensorFlow import), else through Keras (safe mode)."""
    if engine == "numpy":
        from forecast.models import numpy_net

        net = numpy_net.load(path, cfg)
        if net is not None:
            return net
    import keras

    from forecast.models.layers import CUSTOM_OBJECTS  # the project's layers (ensembles, transformer)

    return keras.models.load_model(path, compile=False, safe_mode=True, custom_objects=CUSTOM_OBJECTS)


def load_bundle(path: Path | None = None, engine: str = "keras") -> Bundle:
    """Verify and load a bundle; the networks load on whatever device is present (GPU-trained or not).
    ``engine="numpy"``: serve the stacked LSTM/GRU networks in NumPy without importing TensorFlow (what
    ``predict``, ``plot`` and ``report`` do; forecasts equal Keras' to float32 rounding), others through Keras."""
    path = resolve(path)
    manifest = verify(path)
    try:
        config = RunConfig.from_dict(_read_json(path, "config.json"))
    except (KeyError, TypeError, ValueError) as e:
        raise BundleError(f"{path}: config.json has unexpected content ({type(e).__name__}: {e}); "
                          "train it again") from None
    networks = {}
    for name in sorted(n for n in manifest["files"] if n.endswith(".keras")):
        try:
            networks[name] = _load_network(path / name, config, engine)
        except Exception as e:  # Keras raises ValueError/TypeError for unsafe or foreign content
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise BundleError(f"{path}: {name} could not be loaded safely ({first[:200]})") from None
    tp = path / "test_predictions.csv"
    try:
        bundle = Bundle(
            path=path, config=config, networks=networks,
            series=_read_json(path, SERIES),
            last_window=_read_rows(path / "last_window.csv", ["date"]),  # the prices exactly as trained on
            data=_read_json(path, "data.json"), metrics=_read_json(path, "metrics.json"),
            history=_read_json(path, "history.json"), manifest=manifest,
            test_predictions=_read_rows(tp, ["origin", "date"]) if tp.is_file() else None,
        )
        missing = [e["network"] for e in bundle.series["series"] if e["network"] not in networks]
    except (KeyError, TypeError, ValueError) as e:  # files match the manifest, but their content is foreign
        raise BundleError(f"{path}: bundle files have unexpected content ({type(e).__name__}: {e}); "
                          "train it again") from None
    if missing:
        raise BundleError(f"{path}: series.json names {missing[0]}, which the bundle does not have; train it again")
    return bundle
