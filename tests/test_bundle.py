"""Bundles: every documented file with matching checksums, exact save/load round trip, seeded repeatability."""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
import re

import numpy as np
import pytest

import forecast.bundle as bundle_mod
from conftest import write_synthetic
from forecast.bundle import load_bundle, save_bundle
from forecast.io import write_csv


def documented_files() -> list[str]:
    """The file names listed under 'Layout' in bundle.py's docstring."""
    layout = bundle_mod.__doc__.split("Layout", 1)[1].split("\n\n", 2)[1]
    return [line.split()[0] for line in layout.splitlines() if line.strip()]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """Three tiny bundles of one series: seed 7 twice, and seed 8."""
    from forecast.workflows.train import train

    root = tmp_path_factory.mktemp("bundles")
    old = os.getcwd()
    os.chdir(root)  # models/LATEST is written relative to the working directory
    try:
        from forecast.config import ModelConfig, RunConfig, TrainConfig, WindowConfig

        cfg = RunConfig(window=WindowConfig(window=10, horizon=3), model=ModelConfig(layers=(8,), dropout=0.0),
                        train=TrainConfig(epochs=2, batch_size=32, patience=2, seed=7, device="cpu"))
        csv = write_synthetic(root / "walk.csv", "random_walk", n=300, seed=1)
        out = {name: train(csv, cfg.replace(train={"seed": seed}), model_dir=root / name, verbose=0).bundle_dir
               for name, seed in (("a", 7), ("a_again", 7), ("b", 8))}
    finally:
        os.chdir(old)
    return out


def test_bundle_has_every_documented_file_with_matching_checksums(trained):
    path = trained["a"]
    names = documented_files()
    assert {"model.keras", "config.json", "series.json", "manifest.json", "metrics.json"} <= set(names)
    for name in names:
        assert (path / name).is_file() and (path / name).stat().st_size > 0, name
    manifest = json.loads((path / "manifest.json").read_text())
    on_disk = {p.name for p in path.iterdir() if p.is_file()} - {"manifest.json"}
    assert set(manifest["files"]) == on_disk  # every file is covered, and nothing else is listed
    for name, digest in manifest["files"].items():
        assert hashlib.sha256((path / name).read_bytes()).hexdigest() == digest, name
    assert (manifest["format"], manifest["format_version"], manifest["seed"]) == ("forecast-bundle", 2, 7)
    assert (manifest["fit"], manifest["n_series"]) == ("global", 1)
    assert set(manifest["versions"]) >= {"forecast", "tensorflow", "keras", "numpy", "statsforecast"}
    assert manifest["versions"]["statsforecast"] == importlib.metadata.version("statsforecast")
    assert not [p for p in path.parent.iterdir() if ".tmp-" in p.name or ".old-" in p.name]  # no leftovers


def _forecast_csv(path, tmp_path):
    from forecast.workflows.predict import predict

    return write_csv(tmp_path / f"{path.name}.csv", predict(load_bundle(path), 5).frame).read_bytes()


def test_same_seed_gives_identical_results_and_another_seed_does_not(trained, tmp_path):
    a, again, b = (json.loads((trained[k] / "metrics.json").read_text()) for k in ("a", "a_again", "b"))
    assert a["test"] == again["test"]  # exact floats
    assert a["training"]["model.keras"]["best_val_loss"] == again["training"]["model.keras"]["best_val_loss"]
    assert _forecast_csv(trained["a"], tmp_path) == _forecast_csv(trained["a_again"], tmp_path)
    wa, wb = (load_bundle(trained[k]).networks["model.keras"].get_weights() for k in ("a", "b"))
    assert not all(np.array_equal(x, y) for x, y in zip(wa, wb))
    # (the forecasts may still agree: on this random walk the network's weight against naive can be 0 for both)
    assert a["training"]["model.keras"]["best_val_loss"] != b["training"]["model.keras"]["best_val_loss"]


def test_save_load_round_trip_predicts_identically(tmp_path, tiny_cfg, walk_csv):
    from forecast.data.panel import load_panel
    from forecast.models.lstm import LSTMForecaster
    from forecast.workflows.predict import forecasters, predict
    from forecast.workflows.train import last_windows

    panel = load_panel(walk_csv)
    (series,) = panel
    lstm = LSTMForecaster(tiny_cfg).fit(panel)
    spec = {"fit": "global", "layout": "single", "target": "Close", "features": [], "ids": ["Close"],
            "series": [{"id": "Close", "network": "model.keras", "freq": series.freq, "last_date": str(series.dates[-1]),
                        **lstm.state()["Close"]}]}
    path = save_bundle(tmp_path / "m", networks={"model.keras": lstm.model}, config=tiny_cfg, series=spec,
                       last_window=last_windows(panel, {None: lstm}), data={"freq": series.freq, "target": "Close"},
                       metrics={}, history={}, test_predictions=None, device="CPU")
    loaded = load_bundle(path)
    assert loaded.config == tiny_cfg
    restored = forecasters(loaded)["model.keras"]
    assert restored.preps["Close"] == lstm.preps["Close"]
    for w_mem, w_disk in zip(lstm.model.get_weights(), loaded.networks["model.keras"].get_weights(), strict=True):
        np.testing.assert_array_equal(w_mem, w_disk)
    fc = predict(loaded, 7)
    np.testing.assert_array_equal(fc.frame["forecast"].to_numpy(), lstm.forecast(panel, 7)["Close"])
    assert fc.recursive is True and fc.history["Close"]["price"].iloc[-1] == series.values[-1]
    origins = np.arange(50, 290, 7)
    np.testing.assert_array_equal(restored.predict_origins(series, origins), lstm.predict_origins(series, origins))
    assert re.fullmatch(r".*/m", bundle_mod.LATEST.read_text().strip())  # LATEST points at the new bundle


def test_series_ids_name_files_one_to_one():
    """An id of safe characters names its files as it is; any other gets a hash of the id, so ids that differ
    only in characters a file name cannot hold, or by them, never share a file; dots alone never name a folder."""
    from forecast.bundle import network_file, slug

    assert [slug(i) for i in ("AAPL", "BRK_B", "a.b-1")] == ["AAPL", "BRK_B", "a.b-1"]
    ids = ["BRK/B", "BRK B", "BRK_B", "日経", "東証", ".", "..", ""]
    names = [slug(i) for i in ids]
    assert len(set(names)) == len(ids) and all(re.fullmatch(r"[A-Za-z0-9._-]+", n) for n in names)
    assert names[0] == "BRK_B-" + hashlib.sha1(b"BRK/B").hexdigest()[:8] and names[5].startswith("_-")
    assert network_file("日経") != network_file("東証") and network_file(None) == "model.keras"


def test_a_series_id_pandas_reads_as_missing_comes_back_as_written(tmp_path, tiny_cfg):
    """Ids NA (Namibia) and null are text: the bundle's CSVs give them back, and predict forecasts both."""
    import pandas as pd

    from forecast.data.load import synthetic_series
    from forecast.workflows.predict import predict
    from forecast.workflows.train import train

    frames = [synthetic_series("random_walk", n=120, seed=k).assign(country=sid) for k, sid in enumerate(["NA", "null"])]
    pd.concat(frames)[["country", "Date", "Close"]].to_csv(tmp_path / "two.csv", index=False)
    out = train(tmp_path / "two.csv", tiny_cfg.replace(data={"id_col": "country"}), tmp_path / "m", verbose=0)
    bundle = load_bundle(out.bundle_dir)
    assert list(dict.fromkeys(bundle.last_window["id"])) == ["NA", "null"]
    assert list(dict.fromkeys(bundle.test_predictions["id"])) == ["NA", "null"]
    assert list(dict.fromkeys(predict(bundle).frame["id"])) == ["NA", "null"]


def test_a_hybrid_bundle_of_a_long_series_predicts_what_the_whole_file_gives(tmp_path, tiny_cfg):
    """The bundle stores enough prices for the statistical part to run over its full 1,000-price tail from every
    origin of the last input window: its forecast equals the one from the training file itself (--data)."""
    from forecast.workflows.predict import predict
    from forecast.workflows.train import train

    csv = write_synthetic(tmp_path / "long.csv", "random_walk", n=1100, seed=2)
    cfg = tiny_cfg.replace(model={"hybrid": "ets", "shrink": False}, train={"epochs": 1})
    bundle = load_bundle(train(csv, cfg, tmp_path / "m", verbose=0).bundle_dir)
    assert len(bundle.last_window) == 1000 + cfg.window.window
    stored, whole = predict(bundle, horizon=7).frame, predict(bundle, horizon=7, data_path=csv).frame
    np.testing.assert_array_equal(stored["forecast"].to_numpy(), whole["forecast"].to_numpy())
