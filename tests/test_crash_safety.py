"""Crash safety and determinism of `forecast train`.

A run killed at any moment (SIGINT or SIGKILL, before, during and after fit, and inside the bundle save)
leaves either the previous bundle, intact and usable, or none: never a folder at --model without a valid
manifest. Ctrl-C ends with exit 130 and one line; `--save-on-interrupt` saves the best weights so far.
The same data, options and seed give bit-identical results in two processes and across save/load.

The real training processes run in one module fixture (two at a time), then each test checks one of them.
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import textwrap
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import default_sigint, write_synthetic
from forecast import bundle as bundle_io
from forecast.config import ModelConfig, RunConfig, TrainConfig, WindowConfig

TINY = ["--window", "10", "--horizon", "3", "--layers", "8", "--dropout", "0", "--device", "cpu", "--seed", "7"]
LONG = ["--epochs", "400", "--patience", "1000"]  # still running when the signal comes
RNG = random.Random(20240611)  # random-ish but repeatable kill delays


def forecast_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "forecast", *args]


def child_env() -> dict:
    return dict(os.environ, CUDA_VISIBLE_DEVICES="", PYTHONUNBUFFERED="1", TF_CPP_MIN_LOG_LEVEL="2")


@dataclass
class Run:
    rc: int | None = None
    stdout: str = ""
    stderr: str = ""
    epochs_seen: int = 0


def run_and_signal(args: list[str], cwd: Path, sig: int | None = None, after_epoch: int | None = None,
                   delay: float = 0.0, timeout: float = 300) -> Run:
    """Run ``args``; send ``sig`` ``delay`` s after the 'Epoch N' line with N = after_epoch + 1 (or after start)."""
    p = subprocess.Popen(args, cwd=cwd, env=child_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True, preexec_fn=default_sigint)
    run, lines = Run(), []
    if sig is not None and after_epoch is None:
        time.sleep(delay)
        p.send_signal(sig)
    elif sig is not None:
        for line in p.stderr:  # Keras' epoch lines are progress: on stderr
            lines.append(line)
            if line.startswith("Epoch "):
                run.epochs_seen += 1
                if run.epochs_seen > after_epoch:
                    time.sleep(delay)
                    p.send_signal(sig)
                    break
    out, err = p.communicate(timeout=timeout)
    run.rc, run.stdout, run.stderr = p.returncode, out, "".join(lines) + err
    return run


def our_lines(stderr: str) -> list[str]:
    """stderr without Keras' progress lines (Epoch N/M, batch lines) and any TensorFlow C++ log line."""
    noise = ("WARNING: All log messages before absl", "I0000 ", "E0000 ", "W0000 ", "Epoch ")
    return [ln for ln in stderr.splitlines() if ln.strip() and not ln.startswith(noise)
            and not re.match(r"\d+/\d+ ", ln)]


def temp_dirs(parent: Path, name: str) -> list[Path]:
    return sorted(parent.glob(f".{name}.tmp-*")) + sorted(parent.glob(f".{name}.old-*"))


def assert_intact(path: Path, expected_manifest: dict) -> None:
    """The previous bundle is still there, byte for byte as its manifest says, and it forecasts."""
    from forecast.bundle import load_bundle
    from forecast.workflows.predict import predict

    manifest = bundle_io.verify(path)
    assert manifest["files"] == expected_manifest["files"]
    fc = predict(load_bundle(path))
    assert len(fc.frame) == 3 and np.isfinite(fc.frame["forecast"]).all()


# Scripted kills inside the bundle save: a stand-in model and no TensorFlow, so each costs ~1 s.
SAVE_KILLER = textwrap.dedent('''
    import os, signal, sys
    from pathlib import Path
    import pandas as pd
    import forecast.bundle as b
    from forecast.config import RunConfig
    from forecast.data.transforms import Preprocessor

    point, target = sys.argv[1], Path(sys.argv[2])
    b.versions = lambda: {}
    die = lambda: os.kill(os.getpid(), signal.SIGKILL)
    if point.startswith("file"):
        real_json, calls = b.write_json, []
        def json_then_die(path, obj):
            calls.append(path)
            if len(calls) == int(point[4:]):
                die()
            real_json(path, obj)
        b.write_json = json_then_die
    else:  # "swap": between moving the old bundle aside and renaming the new one into place
        real_rename = os.rename
        def rename_then_die(src, dst):
            real_rename(src, dst)
            if Path(dst).name == "bundle":
                die()
        b.os.rename = rename_then_die

    class StandIn:
        def save(self, path):
            Path(path).write_bytes(b"new model")

    frame = pd.DataFrame({"date": pd.date_range("2020-01-01", periods=3), "price": [1.0, 2.0, 3.0]})
    b.save_bundle(target, networks={"model.keras": StandIn()}, config=RunConfig(), series={"ids": ["s"], "series": []},
                  last_window=frame, data={}, metrics={}, history={}, test_predictions=None, device="CPU", force=True)
''')
SAVE_POINTS = ["file1", "file3", "file5", "file6", "swap"]  # file6: manifest.json itself; swap: between renames


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Run the real training processes (two at a time, for 2 cores); return results and the previous manifest.

    The first determinism run's bundle is "the previous bundle" that every killed run tries to replace.
    """
    root = tmp_path_factory.mktemp("crash")
    csv = write_synthetic(root / "walk.csv", "random_walk", n=300, seed=1)
    jobs: dict[str, tuple] = {}
    for name in ("same_seed_a", "same_seed_b"):  # determinism: two processes, same options
        (root / name).mkdir()
        jobs[name] = (forecast_cmd("train", str(csv), "--model", "m", *TINY, "--epochs", "2", "-q"), root / name)
    threads: dict[str, threading.Thread] = {}
    results: dict[str, Run] = {}

    def start(name, args, cwd, **kw):
        threads[name] = threading.Thread(target=lambda: results.__setitem__(name, run_and_signal(args, cwd, **kw)))
        threads[name].start()

    for name, (args, cwd) in jobs.items():
        start(name, args, cwd)

    threads["same_seed_a"].join()
    prev = root / "same_seed_a" / "m"
    assert results["same_seed_a"].rc == 0, results["same_seed_a"].stderr[-2000:]
    manifest = json.loads((prev / "manifest.json").read_text())

    scenarios = {  # real signals to real `forecast train` processes (the in-process tests below cover more)
        "sigint_save": dict(sig=signal.SIGINT, after_epoch=2, delay=RNG.uniform(0, 0.3), extra=["--save-on-interrupt"]),
        "sigkill_fit": dict(sig=signal.SIGKILL, after_epoch=RNG.randint(0, 2), delay=RNG.uniform(0, 0.3)),
    }
    for name, kw in scenarios.items():
        cwd = root / name
        shutil.copytree(prev, cwd / "m")
        args = forecast_cmd("train", str(csv), "--model", "m", "--force", *TINY, *LONG, *kw.pop("extra", []))
        start(name, args, cwd, **kw)
    for point in SAVE_POINTS:
        cwd = root / f"save_{point}"
        shutil.copytree(prev, cwd / "m")
        start(f"save_{point}", [sys.executable, "-c", SAVE_KILLER, point, str(cwd / "m")], cwd)
    for t in threads.values():
        t.join()
    return root, results, manifest


@pytest.fixture
def ctrl_c_at_epoch_end(monkeypatch):
    """Make the in-process training send itself a real SIGINT at the end of epoch ``n`` (0: first batch).

    ``arm(n, spoil)`` returns a list that receives the weights at the end of every epoch; after epoch
    ``spoil`` the weights are wrecked, so the following epochs are worse and the best one lies earlier.
    """
    import keras

    import forecast.models.fitting as lstm_mod  # LSTMForecaster.fit calls fitting.fit_model

    real_fit = lstm_mod.fit_model
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)  # even if pytest runs in background

    def arm(n: int, spoil: int | None = None) -> list:
        weights = []

        class SendSigint(keras.callbacks.Callback):
            def on_epoch_end(self, epoch, logs=None):
                weights.append(self.model.get_weights())
                if epoch + 1 == spoil:
                    self.model.set_weights([w * 40 + 3 for w in weights[-1]])
                if epoch + 1 == n:
                    os.kill(os.getpid(), signal.SIGINT)

            def on_train_batch_end(self, batch, logs=None):  # first call (batches may run in groups)
                if n == 0 and not getattr(self, "sent", False):
                    self.sent = True
                    os.kill(os.getpid(), signal.SIGINT)

        def fit_then_ctrl_c(*args, extra_callbacks=(), **kw):
            return real_fit(*args, extra_callbacks=(*extra_callbacks, SendSigint()), **kw)

        monkeypatch.setattr(lstm_mod, "fit_model", fit_then_ctrl_c)
        return weights

    yield arm
    signal.signal(signal.SIGINT, previous)


def _cli_train(model: Path, csv: Path, *extra: str):
    from typer.testing import CliRunner

    from forecast.cli import app

    return CliRunner().invoke(app, ["train", str(csv), "--model", str(model), *TINY, *extra])


def test_ctrl_c_during_fit_exits_130_with_one_line_and_keeps_previous_bundle(runs, tmp_path, walk_csv,
                                                                           ctrl_c_at_epoch_end):
    root, _, manifest = runs
    shutil.copytree(root / "same_seed_a" / "m", tmp_path / "m")
    ctrl_c_at_epoch_end(2)
    r = _cli_train(tmp_path / "m", walk_csv, "--force", "--epochs", "6", "--patience", "10")
    assert r.exit_code == 130, r.output
    assert our_lines(r.stderr) == ["interrupted: nothing was written (any previous bundle is intact)"]
    assert "Epoch 2/6" in r.stderr and "Epoch 3/6" not in r.stderr  # it stopped right there (progress: stderr)
    assert "Epoch" not in r.stdout
    assert_intact(tmp_path / "m", manifest)
    assert temp_dirs(tmp_path, "m") == []  # on SIGINT nothing is left behind


def test_ctrl_c_with_save_on_interrupt_before_any_epoch_ends_saves_nothing(tmp_path, walk_csv, ctrl_c_at_epoch_end):
    ctrl_c_at_epoch_end(0)  # inside epoch 1: no best weights yet
    r = _cli_train(tmp_path / "m", walk_csv, "--epochs", "3", "-q", "--save-on-interrupt")
    assert r.exit_code == 130, r.output
    assert r.stderr == "interrupted: nothing was written (any previous bundle is intact)\n"
    assert not (tmp_path / "m").exists() and temp_dirs(tmp_path, "m") == []


def _kept(val: list[float]) -> float:
    """The loss of the epoch early stopping keeps: each new best at least 0.1% below the last (fitting.py)."""
    best = val[0]
    for v in val[1:]:
        best = v if v < best * (1 - 1e-3) else best
    return best


def test_ctrl_c_with_save_on_interrupt_keeps_best_weights_so_far(tmp_path, walk_csv, ctrl_c_at_epoch_end):
    from forecast.bundle import load_bundle

    per_epoch = ctrl_c_at_epoch_end(3, spoil=2)
    r = _cli_train(tmp_path / "m", walk_csv, "--epochs", "8", "--patience", "10", "-q", "--save-on-interrupt")
    assert r.exit_code == 130, r.output
    b = load_bundle(tmp_path / "m")
    (t,) = b.metrics["training"].values()
    assert b.manifest["interrupted"] is True and t["interrupted"] is True and t["epochs_run"] == 3
    val = b.history["model.keras"]["history"]["val_loss"]
    assert len(val) == 3 and t["best_val_loss"] == val[t["best_epoch"] - 1] == _kept(val)
    assert len(per_epoch) == 3 and t["best_epoch"] in (1, 2) and val[2] > min(val)
    for saved, best in zip(b.networks["model.keras"].get_weights(), per_epoch[t["best_epoch"] - 1], strict=True):
        assert np.array_equal(saved, best)  # the best epoch's weights, not the last epoch's
    assert r.stderr == (f"interrupted after 3 epochs: saved the best weights so far (epoch {t['best_epoch']}) "
                        f"to {tmp_path / 'm'}, marked interrupted\n")
    assert temp_dirs(tmp_path, "m") == []


def test_real_sigint_with_save_on_interrupt_saves_best_weights_marked_interrupted(runs):
    from forecast.bundle import load_bundle
    from forecast.workflows.predict import predict

    root, results, _ = runs
    r = results["sigint_save"]
    assert r.rc == 130, r.stderr[-2000:]
    lines = our_lines(r.stderr)
    assert len(lines) == 1 and lines[0].startswith("interrupted after ") and "saved the best weights so far" in lines[0]
    assert "Traceback" not in r.stderr
    path = root / "sigint_save" / "m"
    manifest = bundle_io.verify(path)
    assert manifest["interrupted"] is True
    training = json.loads((path / "metrics.json").read_text())["training"]["model.keras"]
    assert training["interrupted"] is True and training["stopped_early"] is False
    assert 2 <= training["epochs_run"] < 400 and 1 <= training["best_epoch"] <= training["epochs_run"]
    val = json.loads((path / "history.json").read_text())["model.keras"]["history"]["val_loss"]
    assert len(val) == training["epochs_run"] and training["best_val_loss"] == val[training["best_epoch"] - 1]
    assert training["best_val_loss"] == _kept(val)
    assert f"(epoch {training['best_epoch']})" in lines[0]
    assert np.isfinite(predict(load_bundle(path)).frame["forecast"]).all()
    assert temp_dirs(root / "sigint_save", "m") == []


def test_sigkill_during_fit_leaves_previous_bundle(runs):
    root, results, manifest = runs
    assert results["sigkill_fit"].rc == -signal.SIGKILL
    assert_intact(root / "sigkill_fit" / "m", manifest)


@pytest.mark.parametrize("point", SAVE_POINTS)
def test_sigkill_inside_save_leaves_previous_or_none_and_next_train_cleans_up(runs, point):
    root, results, manifest = runs
    cwd = root / f"save_{point}"
    assert results[f"save_{point}"].rc == -signal.SIGKILL, results[f"save_{point}"].stderr[-2000:]
    if point == "swap":  # killed between the two renames: no bundle at --model, the old one set aside
        assert not (cwd / "m").exists()
        assert [d.name.split("-")[0] for d in temp_dirs(cwd, "m")] == [".m.tmp", ".m.old"]
    else:
        assert_intact(cwd / "m", manifest)
        assert [d.name.split("-")[0] for d in temp_dirs(cwd, "m")] == [".m.tmp"]
    (cwd / ".other.tmp-keep").mkdir()  # another bundle's temp folder is not ours to remove
    removed = bundle_io.remove_stale_temps(cwd / "m", older_than=time.time())
    assert len(removed) == (2 if point == "swap" else 1)
    assert temp_dirs(cwd, "m") == [] and (cwd / ".other.tmp-keep").is_dir()
    assert_intact(cwd / "m", manifest)  # after a killed swap the previous bundle is put back


def test_next_train_removes_stale_temp_folders_but_not_newer_ones(tmp_path, tiny_cfg):
    from forecast.errors import InputError
    from forecast.workflows.train import train

    stale = tmp_path / ".m.tmp-killed"
    stale.mkdir()
    (stale / "model.keras").write_bytes(b"half")
    old = time.time() - 3600
    os.utime(stale, (old, old))
    later = time.time() + 3600  # a temp folder newer than this run (another run's) is left alone
    newer = tmp_path / ".m.tmp-newer"
    newer.mkdir()
    os.utime(newer, (later, later))
    with pytest.raises(InputError, match="missing.csv"):  # the clean-up comes first, even if the run then fails
        train(tmp_path / "missing.csv", tiny_cfg, tmp_path / "m", verbose=0)
    assert not stale.exists() and newer.is_dir()


class _StandIn:
    def save(self, path):
        Path(path).write_bytes(b"new model")


def _save_standin(path: Path):
    frame = pd.DataFrame({"date": pd.date_range("2020-01-01", periods=3), "price": [1.0, 2.0, 3.0]})
    bundle_io.save_bundle(path, networks={"model.keras": _StandIn()}, config=RunConfig(),
                          series={"ids": ["s"], "series": []}, last_window=frame, data={}, metrics={}, history={},
                          test_predictions=None, device="CPU", force=True)


@pytest.mark.parametrize("at", ["third_file", "swap"])
def test_ctrl_c_inside_save_removes_temp_folder_and_keeps_previous(tmp_path, monkeypatch, at):
    monkeypatch.setattr(bundle_io, "versions", lambda: {})
    _save_standin(tmp_path / "m")
    before = bundle_io.verify(tmp_path / "m")
    calls = []
    if at == "third_file":
        real = bundle_io.write_json

        def interrupt_third(path, obj):
            calls.append(path)
            if len(calls) == 3:
                raise KeyboardInterrupt
            real(path, obj)

        patch = (bundle_io, "write_json", interrupt_third)
    else:
        real_rename = os.rename

        def interrupt_new_into_place(src, dst):  # once: the new bundle's rename into place
            if Path(dst) == tmp_path / "m" and not calls:
                calls.append(src)
                raise KeyboardInterrupt
            real_rename(src, dst)

        patch = (bundle_io.os, "rename", interrupt_new_into_place)
    with monkeypatch.context() as mp, pytest.raises(KeyboardInterrupt):
        mp.setattr(*patch)
        _save_standin(tmp_path / "m")
    assert calls
    assert temp_dirs(tmp_path, "m") == []
    assert bundle_io.verify(tmp_path / "m")["files"] == before["files"]


def test_same_seed_gives_bit_identical_bundles_in_two_processes(runs):
    from forecast.bundle import load_bundle
    from forecast.workflows.predict import predict

    root, results, _ = runs
    for name in ("same_seed_a", "same_seed_b"):
        assert results[name].rc == 0, results[name].stderr[-2000:]
    a, b = (load_bundle(root / name / "m") for name in ("same_seed_a", "same_seed_b"))
    for x, y in zip(a.networks["model.keras"].get_weights(), b.networks["model.keras"].get_weights(), strict=True):
        assert np.array_equal(x, y)
    for name in ("test_predictions.csv", "series.json", "metrics.json", "history.json", "config.json"):
        assert a.manifest["files"][name] == b.manifest["files"][name], name
    fa, fb = predict(a, horizon=7), predict(b, horizon=7)
    assert fa.records() == fb.records()


def test_forecasts_survive_save_and_load_bit_for_bit_and_bundle_records_the_run(runs):
    from forecast.bundle import load_bundle, sha256_file
    from forecast.data.panel import load_panel
    from forecast.workflows.predict import forecasters

    root, _, _ = runs
    b = load_bundle(root / "same_seed_a" / "m")
    saved = pd.read_csv(b.path / "test_predictions.csv", parse_dates=["origin"])
    series = load_panel(root / "walk.csv").series[0]
    origins = series.dates.get_indexer(saved.loc[saved["step"] == 1, "origin"])
    assert (origins >= 0).all() and len(origins) > 10
    again = forecasters(b)["model.keras"].predict_origins(series, origins)  # (n, horizon) from the loaded model
    assert np.array_equal(again.ravel(), saved["forecast"].to_numpy())
    # What is needed to reproduce the run is in the bundle.
    assert b.config.train.seed == 7 == b.manifest["seed"]
    assert {"python", "tensorflow", "keras", "numpy", "pandas", "forecast"} <= set(b.manifest["versions"])
    assert b.data["sha256"] == sha256_file(root / "walk.csv")
    assert json.loads(json.dumps(b.config.to_dict())) == json.loads((b.path / "config.json").read_text())


def test_ctrl_c_during_a_panel_fit_exits_130_and_writes_nothing(tmp_path, ctrl_c_at_epoch_end):
    """Many series go through the same path: Ctrl-C in a global-model fit ends like one for a single series."""
    frames = [pd.read_csv(write_synthetic(tmp_path / f"{sid}.csv", "random_walk", n=150, seed=k)).assign(symbol=sid)
              for k, sid in enumerate(("AAA", "BBB"))]
    pd.concat(frames).to_csv(tmp_path / "long.csv", index=False)
    ctrl_c_at_epoch_end(1)
    r = _cli_train(tmp_path / "m", tmp_path / "long.csv", "--id-col", "symbol", "--epochs", "4", "-q")
    assert r.exit_code == 130, r.output
    assert r.stderr == "interrupted: nothing was written (any previous bundle is intact)\n"
    assert not (tmp_path / "m").exists() and temp_dirs(tmp_path, "m") == []


def test_ctrl_c_landing_in_a_finaliser_still_stops_the_fit():
    """Python drops an exception raised while a finaliser runs, and TensorFlow runs finalisers at every epoch's end
    (it deletes the epoch's iterator). A Ctrl-C that lands there must still stop the fit: here it lands in a
    ``__del__`` at the end of epoch 2, and the fit ends interrupted after 2 of its 50 epochs."""
    import keras

    from forecast.data.panel import panel_of
    from forecast.models.lstm import LSTMForecaster

    class SigintInFinaliser:
        def __del__(self):
            os.kill(os.getpid(), signal.SIGINT)
            sum(range(10_000))  # bytecode runs here: the KeyboardInterrupt is raised inside __del__, and dropped

    class DropOne(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch + 1 == 2:
                SigintInFinaliser()  # deleted at once

    previous = signal.signal(signal.SIGINT, signal.default_int_handler)  # even if pytest runs in background
    try:
        cfg = RunConfig(window=WindowConfig(window=10, horizon=3), model=ModelConfig(layers=(8,), dropout=0.0,
                        hybrid="none", shrink=False), train=TrainConfig(epochs=50, patience=100, batch_size=32,
                                                                        seed=7, device="cpu", save_on_interrupt=True))
        prices = 100 + np.cumsum(np.random.default_rng(1).normal(0, 1, 300))
        fc = LSTMForecaster(cfg, callbacks=[DropOne()]).fit(panel_of(prices))
    finally:
        signal.signal(signal.SIGINT, previous)
    assert fc.fit_result.interrupted and fc.fit_result.epochs_run == 2, fc.fit_result
