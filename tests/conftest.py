"""Shared fixtures: tiny seeded series, a tiny model config, and a private working directory per test."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

from forecast.config import ModelConfig, RunConfig, TrainConfig, WindowConfig  # noqa: E402

REPO = Path(__file__).resolve().parent.parent


def default_sigint() -> None:
    """For ``preexec_fn``: a child started from a background shell (``make test &``, nohup, some CI runners)
    inherits SIGINT ignored, and Python then never raises KeyboardInterrupt; a test's Ctrl-C must reach it."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_DFL)
NASDAQ = REPO / "data" / "nasdaq_composite_daily_1999_2018.csv"


@pytest.fixture(autouse=True)
def _private_cwd(tmp_path, monkeypatch):
    """Each test runs in its own folder, so models/LATEST and default outputs never touch the repo."""
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def tiny_cfg() -> RunConfig:
    """A model small enough to train in about a second on 2 cores. Without a hybrid: auto's statistical fits
    (about a second per fit on these series) are on trial in the tests that name a hybrid, not in every fit."""
    return RunConfig(
        window=WindowConfig(window=10, horizon=3),
        model=ModelConfig(layers=(8,), dropout=0.0, hybrid="none"),
        train=TrainConfig(epochs=2, batch_size=32, patience=2, seed=7, device="cpu"),
    )


def write_synthetic(path: Path, kind: str = "random_walk", n: int = 300, seed: int = 0, **kw) -> Path:
    from forecast.data.load import synthetic_series

    synthetic_series(kind, n=n, seed=seed, **kw).to_csv(path, index=False)
    return path


@pytest.fixture
def walk_csv(tmp_path) -> Path:
    return write_synthetic(tmp_path / "walk.csv", "random_walk", n=300, seed=1)


@pytest.fixture
def sine_csv(tmp_path) -> Path:
    return write_synthetic(tmp_path / "sine.csv", "sine", n=400, seed=2)


def put(tmp_path: Path, data, name: str = "prices.csv") -> Path:
    """Write `data` (str -> UTF-8, with \\n kept as-is; or bytes) and return the path."""
    path = tmp_path / name
    path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return path


def bad(path, *phrases, **kw) -> str:
    """Load `path`, expecting an InputError whose one-line message has the path and `phrases`."""
    from forecast.data.load import load_prices
    from forecast.errors import InputError

    with pytest.raises(InputError) as info:
        load_prices(path, **kw)
    msg = str(info.value)
    assert str(path) in msg
    assert "\n" not in msg and "\r" not in msg
    for phrase in phrases:
        assert phrase in msg, f"{phrase!r} not in {msg!r}"
    return msg


BY_PROCESS = """import os, sys
log = sys.argv[1]
def note(what):
    with open(log, "a") as f:
        f.write(f"{what} {os.getpid()}\\n")
sys.addaudithook(lambda event, args: event == "import" and args[0] == "statsforecast" and note("statsforecast"))
PATCHES
assert "tensorflow" not in sys.modules  # so the statistical work is forked
note("main")
from forecast.cli import main
sys.argv = ["forecast", *sys.argv[2:]]
main()
"""


def cli_by_process(patches: str, args, log: Path):
    """Run the CLI with ``args`` in a fresh interpreter after ``patches`` (Python source that may call
    ``note(what)`` to log ``what`` with the pid of the process it runs in) and before TensorFlow loads. Every
    process that imports statsforecast notes ``statsforecast``.
    Returns the finished process (exit code 0 checked), what was noted, ``what -> [pids]``, and the pid of the
    main process."""
    import subprocess
    import sys

    env = {**os.environ, "PYTHONPATH": str(REPO), "CUDA_VISIBLE_DEVICES": ""}
    proc = subprocess.run([sys.executable, "-c", BY_PROCESS.replace("PATCHES", patches), str(log), *map(str, args)],
                          capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr
    seen: dict[str, list[int]] = {}
    for line in log.read_text().splitlines():
        what, pid = line.split()
        seen.setdefault(what, []).append(int(pid))
    (main,) = seen.pop("main")
    return proc, seen, main
