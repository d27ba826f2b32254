"""Output conventions: folders and files readable per the umask, strict JSON, shell-quoted paths."""

from __future__ import annotations

import json
import math
import os
import stat
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from forecast import io
from forecast.bundle import atomic_dir


@pytest.fixture
def with_umask():
    old = os.umask(0o022)
    try:
        yield lambda mask: os.umask(mask)
    finally:
        os.umask(old)


@pytest.mark.parametrize("mask, folder, file", [(0o022, 0o755, 0o644), (0o077, 0o700, 0o600), (0o002, 0o775, 0o664)])
def test_atomic_dir_folders_and_files_get_the_modes_mkdir_and_open_would(tmp_path, with_umask, mask, folder, file):
    with_umask(mask)
    out = tmp_path / "bundle"
    with atomic_dir(out, force=False, replaceable=lambda p: True) as tmp:
        io.write_json(tmp / "a.json", {"x": 1})
        (tmp / "b.csv").write_text("x\n1\n")  # plain open(), as pandas and Keras write
    assert stat.S_IMODE(out.stat().st_mode) == folder
    assert stat.S_IMODE((out / "a.json").stat().st_mode) == file
    assert stat.S_IMODE((out / "b.csv").stat().st_mode) == file
    with atomic_dir(out, force=True, replaceable=lambda p: True) as tmp:  # a replaced folder too
        io.write_json(tmp / "a.json", {"x": 2})
    assert stat.S_IMODE(out.stat().st_mode) == folder
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary folder left


def _refuse(name):
    raise ValueError(f"not JSON: {name}")


WEIRD = {"nan": float("nan"), "inf": math.inf, "-inf": -math.inf, "np": np.float32("nan"), "np64": np.float64(np.inf),
         "arr": np.array([1.0, np.nan]), "nested": [{"x": (np.nan, 1)}], "int": np.int64(3), "ok": 0.5,
         "path": Path("a b/c"), "date": pd.Timestamp("2024-01-02"), "nat": pd.NaT, np.int64(7): "numpy key"}
CLEAN = {"nan": None, "inf": None, "-inf": None, "np": None, "np64": None, "arr": [1.0, None],
         "nested": [{"x": [None, 1]}], "int": 3, "ok": 0.5, "path": "a b/c", "date": "2024-01-02 00:00:00",
         "nat": None, "7": "numpy key"}


def test_dumps_and_write_json_are_strict_json(tmp_path):
    text = io.dumps(WEIRD)
    assert json.loads(text, parse_constant=_refuse) == CLEAN
    io.write_json(tmp_path / "m.json", WEIRD)
    assert json.loads((tmp_path / "m.json").read_text(), parse_constant=_refuse) == CLEAN
    assert "NaN" not in text and "Infinity" not in text
    assert io.dumps({"a": 1}, indent=None) == '{"a": 1}'


def test_bundle_metrics_json_of_a_constant_series_has_no_nan_literal(tmp_path, tiny_cfg):
    """A constant series leaves some metrics undefined (before: ``"one_step_gain_vs_naive": NaN``)."""
    from forecast.workflows.train import train

    pd.DataFrame({"Date": pd.date_range("2020-01-01", periods=120, freq="B"), "Close": 100.0}).to_csv(
        tmp_path / "flat.csv", index=False)
    cfg = tiny_cfg.replace(window={"transform": "diff"}, train={"epochs": 1})
    outcome = train(tmp_path / "flat.csv", cfg, tmp_path / "m", verbose=0)
    for f in sorted(outcome.bundle_dir.glob("*.json")):
        json.loads(f.read_text(), parse_constant=_refuse)


@pytest.mark.parametrize("path", ["plain/path.csv", "with space/m 1", "it's", "$HOME/x", "a;b"])
def test_shell_path_round_trips_through_a_shell(path):
    quoted = io.shell_path(path)
    echoed = subprocess.run(["sh", "-c", f"printf %s {quoted}"], capture_output=True, text=True, check=True).stdout
    assert echoed == path
    if path == "plain/path.csv":
        assert quoted == path  # nothing to quote: shown as is
    assert io.shell_path(Path(path)) == quoted
