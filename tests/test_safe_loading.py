"""Safe loading: bundles hold no pickles, load with Keras safe_mode, and altered or foreign bundles are refused.

Every refusal is checked through `forecast predict`: exit 2, one `error:` line naming the problem.
"""

from __future__ import annotations

import json
import pickle
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from conftest import write_synthetic
from forecast import bundle as bundle_io
from forecast.cli import app
from test_hardening import assert_user_error

PICKLE_STARTS = tuple(bytes([0x80, proto]) for proto in (2, 3, 4, 5))  # protocol 2+ opcode PROTO n


def is_pickle(data: bytes) -> bool:
    return data.startswith(PICKLE_STARTS)


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    """One tiny bundle for the whole module (tests work on copies)."""
    from forecast.config import RunConfig
    from forecast.workflows.train import train

    root = tmp_path_factory.mktemp("safe")
    csv = write_synthetic(root / "walk.csv", "random_walk", n=200, seed=3)
    cfg = RunConfig.from_dict({"window": {"window": 8, "horizon": 3}, "model": {"layers": [4], "dropout": 0.0},
                               "train": {"epochs": 1, "seed": 3, "device": "cpu"}})
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(root)  # models/LATEST goes here, not into the repository
        train(csv, cfg, root / "m", verbose=0)
    return root / "m"


@pytest.fixture
def bundle(trained, tmp_path) -> Path:
    return Path(shutil.copytree(trained, tmp_path / "m"))


def reseal(path: Path) -> None:
    """Recompute every checksum in manifest.json, as an attacker who edits a bundle could."""
    manifest = json.loads((path / "manifest.json").read_text())
    manifest["files"] = {name: bundle_io.sha256_file(path / name) for name in manifest["files"]}
    (path / "manifest.json").write_text(json.dumps(manifest))


def edit_manifest(path: Path, **changes) -> None:
    manifest = json.loads((path / "manifest.json").read_text())
    manifest.update(changes)
    (path / "manifest.json").write_text(json.dumps(manifest))


def predict_cli(path: Path):
    return CliRunner().invoke(app, ["predict", "--model", str(path), "--json"])


def assert_refused(result, *fragments: str) -> str:
    """Nothing on stdout; exit 2 and one `error:` line with every fragment on stderr; no traceback."""
    assert result.stdout == "", result.stdout
    return assert_user_error(result, *fragments)


def test_pickle_detector_recognises_every_modern_protocol():
    for proto in (2, 3, 4, 5):
        assert is_pickle(pickle.dumps({"a": np.arange(3)}, protocol=proto))
    assert not is_pickle(b'{"kind": "level"}') and not is_pickle(b"PK\x03\x04")


def test_bundle_stores_no_pickles_anywhere(bundle):
    files = sorted(p for p in bundle.iterdir() if p.is_file())
    names = {p.name for p in files}
    assert set(bundle_io.REQUIRED) <= names
    for p in files:
        if p.suffix != ".keras":
            assert not is_pickle(p.read_bytes()), p.name
    with zipfile.ZipFile(bundle / "model.keras") as z:
        members = z.namelist()
        assert {"config.json", "model.weights.h5"} <= set(members)
        for member in members:
            assert not is_pickle(z.read(member)), member
            assert not member.endswith((".pkl", ".pickle", ".npy")), member


def test_intact_bundle_predicts(bundle):
    result = predict_cli(bundle)
    assert result.exit_code == 0, result.output
    assert len(json.loads(result.stdout)) == 3


def test_changed_byte_in_series_json_is_refused(bundle):
    f = bundle / "series.json"
    text = f.read_text()
    f.write_text(text.replace('"kind"', '"kinD"', 1))
    assert_refused(predict_cli(bundle), str(bundle), "series.json does not match its checksum",
                   "train the bundle again")


def test_changed_model_keras_is_refused(bundle):
    f = bundle / "model.keras"
    data = bytearray(f.read_bytes())
    data[len(data) // 2] ^= 0xFF
    f.write_bytes(bytes(data))
    assert_refused(predict_cli(bundle), "model.keras does not match its checksum")


def test_lambda_layer_is_refused_by_safe_mode_even_with_valid_checksums(bundle):
    import keras

    inputs = keras.Input(shape=(8, 1))
    last3 = keras.layers.Lambda(lambda x: x[:, -3:, 0] * 1.0)(inputs)  # (batch, 3): a horizon-3 "forecast"
    keras.Model(inputs, last3).save(bundle / "model.keras")
    reseal(bundle)
    bundle_io.verify(bundle)  # the checksums are fine: only safe_mode can stop it
    assert keras.models.load_model(bundle / "model.keras", safe_mode=False) is not None  # loadable when unsafe
    assert_refused(predict_cli(bundle), "model.keras could not be loaded safely", "Lambda")


def test_unknown_format_version_is_refused(bundle):
    edit_manifest(bundle, format_version=99)
    assert_refused(predict_cli(bundle), "bundle format version 99 is not supported", "reads version 2")


def test_format_1_bundle_is_refused_with_a_line_saying_to_retrain(bundle):
    """A bundle of the previous format (one series, preprocessor.json) is refused in one line, never a traceback."""
    edit_manifest(bundle, format_version=1)
    assert_refused(predict_cli(bundle), "bundle format version 1 is not supported (this forecast reads version 2); "
                   "retrain it with `forecast train`")


@pytest.mark.parametrize("change, fragment", [
    ({"format": "something-else"}, "not a forecast-bundle manifest"),
    ({"files": {}}, "manifest.json does not list every bundle file"),
    ({"files": ["model.keras"]}, "manifest.json does not list every bundle file"),
])
def test_foreign_or_incomplete_manifest_is_refused(bundle, change, fragment):
    edit_manifest(bundle, **change)
    assert_refused(predict_cli(bundle), fragment)


def test_manifest_naming_a_file_outside_the_bundle_is_refused(bundle):
    manifest = json.loads((bundle / "manifest.json").read_text())
    manifest["files"]["../walk.csv"] = "0" * 64
    (bundle / "manifest.json").write_text(json.dumps(manifest))
    assert_refused(predict_cli(bundle), "names '../walk.csv', which is not a file of the bundle")


def test_manifest_that_is_not_an_object_is_refused(bundle):
    (bundle / "manifest.json").write_text("[1, 2]")
    assert_refused(predict_cli(bundle), "not a forecast-bundle manifest")


@pytest.mark.parametrize("name, content, fragment", [
    ("config.json", {"window": {"window": "ten"}}, "config window.window = 'ten': must be int"),
    ("series.json", {"kind": "level"}, "bundle files have unexpected content (KeyError"),
    ("metrics.json", None, "metrics.json is not valid JSON"),
])
def test_resealed_bundle_with_foreign_content_is_refused(bundle, name, content, fragment):
    (bundle / name).write_text("{not json" if content is None else json.dumps(content))
    reseal(bundle)
    assert_refused(predict_cli(bundle), fragment)


def test_missing_listed_file_is_refused(bundle):
    (bundle / "history.json").unlink()
    assert_refused(predict_cli(bundle), "bundle is incomplete, history.json is missing")
