"""Ray by address: an unreachable address fails within seconds; a real two-node cluster on 127.0.0.1 gives
the sequential run's metrics."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from conftest import REPO, write_synthetic

ray = pytest.importorskip("ray", reason='Ray is not importable (optional extra: pip install "forecast[ray]")')

# hybrid none: the cluster's transport is on trial (auto's statistical fits in workers: tests/test_executors.py)
FLAGS = ["--models", "naive,drift,lstm", "--folds", "2", "--step", "3", "--horizon", "3", "--window", "10",
         "--layers", "8", "--dropout", "0", "--epochs", "1", "--seed", "7", "--interval", "none", "--json",
         "--hybrid", "none"]


_GIVEN: set[int] = set()


def _free_port() -> int:
    """A port nothing listens on now that this module has not handed out before: the OS may give the same free
    port twice, and Ray refuses to start two of its components on one port (a fresh clone's run failed so)."""
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port not in _GIVEN:
            _GIVEN.add(port)
            return port


def _forecast(*args, cwd, env) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "forecast", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=180, env=env)


def _env(**extra) -> dict:
    env = dict(os.environ, PYTHONPATH=str(REPO), CUDA_VISIBLE_DEVICES="", RAY_USAGE_STATS_ENABLED="0")
    env.update(extra)
    return env


def test_unreachable_address_fails_within_seconds_naming_it(tmp_path):
    csv = write_synthetic(tmp_path / "walk.csv", n=120, seed=1)
    address = f"127.0.0.1:{_free_port()}"  # nothing listens there
    start = time.monotonic()
    proc = _forecast("backtest", str(csv), "--models", "naive", "--executor", "ray", "--address", address,
                     cwd=tmp_path, env=_env())
    seconds = time.monotonic() - start
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith(f"error: cannot reach the Ray cluster at {address}"), proc.stderr
    assert len(proc.stderr.splitlines()) == 1
    assert seconds < 15, seconds  # before: about 32 s, and a message about paths and permissions
    assert not (tmp_path / "backtest").exists()  # nothing written


def test_address_must_be_host_and_port():
    from forecast.errors import ForecastError
    from forecast.executors import check_reachable, split_address

    assert split_address("ray://head:10001") == ("head", 10001)
    assert split_address("10.0.0.5:6379") == ("10.0.0.5", 6379)
    assert split_address("[::1]:6379") == ("::1", 6379)
    assert split_address("auto") is None
    check_reachable("auto")  # Ray's own word: left to Ray
    with pytest.raises(ForecastError, match="expected HOST:PORT"):
        check_reachable("head-without-port")


def _cluster_pids(marker: str, temp: str) -> list[int]:
    """The cluster's daemons and workers, nothing else: processes whose environment holds ``marker`` or, for
    those that rewrote it with their process title (ray::DashboardAgent...), with a file open in ``temp``."""
    pids = []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit() or int(d.name) == os.getpid():
            continue
        try:
            if marker.encode() in (d / "environ").read_bytes() or any(
                    os.readlink(f).startswith(temp + "/") for f in (d / "fd").iterdir()):
                pids.append(int(d.name))
        except OSError:
            pass
    return pids


def _stop(marker: str, temp: str) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in _cluster_pids(marker, temp):
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + 5
        while _cluster_pids(marker, temp) and time.monotonic() < deadline:
            time.sleep(0.2)


@pytest.fixture
def cluster():
    """A head and a second worker node, both on 127.0.0.1, with token auth; every process stopped at the end."""
    if not Path("/proc/self/environ").exists():
        pytest.skip("needs /proc to find and stop the cluster's processes")
    ray_bin = Path(sys.executable).with_name("ray")
    if not ray_bin.exists():
        ray_bin = shutil.which("ray")
    if not ray_bin:
        pytest.skip("the `ray` command is not installed")
    temp = tempfile.mkdtemp(prefix="fr", dir="/tmp")  # short: Ray's socket paths have a length limit
    marker = f"FORECAST_TEST_RAY_CLUSTER={secrets.token_hex(8)}"
    env = _env(RAY_AUTH_MODE="token", RAY_AUTH_TOKEN=secrets.token_hex(16), RAY_USAGE_STATS_ENABLED="0",
               **dict([marker.split("=")]))
    port = _free_port()

    def node(*args):
        ports = ["--node-manager-port", _free_port(), "--object-manager-port", _free_port(),
                 "--metrics-export-port", _free_port(), "--dashboard-agent-listen-port", _free_port(),
                 "--dashboard-agent-grpc-port", _free_port(), "--runtime-env-agent-port", _free_port(),
                 ]
        cmd = [str(ray_bin), "start", *args, "--node-ip-address", "127.0.0.1", "--num-cpus", "1",
               "--disable-usage-stats", *map(str, ports)]
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=90)
        assert proc.returncode == 0, proc.stdout + proc.stderr

    try:
        node("--head", "--port", str(port), "--ray-client-server-port", str(_free_port()), "--include-dashboard",
             "false", "--dashboard-port", str(_free_port()), "--temp-dir", temp)
        node("--address", f"127.0.0.1:{port}")
        yield f"127.0.0.1:{port}", env
    finally:
        _stop(marker, temp)
        left = _cluster_pids(marker, temp)
        shutil.rmtree(temp, ignore_errors=True)
    assert not left


def test_backtest_on_a_two_node_cluster_by_address_equals_the_sequential_run(tmp_path, cluster):
    from forecast.config import RunConfig
    from forecast.workflows.backtest import run_backtest
    from forecast.io import dumps

    address, env = cluster
    csv = write_synthetic(tmp_path / "walk.csv", n=160, seed=5)
    on_ray = _forecast("backtest", str(csv), *FLAGS, "--out", "ray", "--executor", "ray", "--address", address, "-q",
                       cwd=tmp_path, env=env)
    assert on_ray.returncode == 0, on_ray.stderr
    assert on_ray.stderr == ""  # --json -q: nothing else, not even Ray's "Connecting to existing Ray cluster" lines
    cfg = RunConfig().replace(window={"window": 10, "horizon": 3}, model={"layers": (8,), "dropout": 0.0,
                              "hybrid": "none"}, train={"epochs": 1, "seed": 7})  # what FLAGS build
    ref = run_backtest(csv, cfg, folds=2, step=3, models=("naive", "drift", "lstm"), levels=())
    a, b = json.loads(dumps(ref.report)), json.loads(on_ray.stdout)
    a.pop("seconds", None), b.pop("seconds", None)
    assert b["models"]["lstm"]["mae"] is not None  # the LSTM really ran on the cluster
    assert a == b

    # tune through the same cluster (2 nodes x 1 CPU: 2 trials a round): the same rounds in this process give
    # the same trials, values and best config (every fit seeds itself)
    pytest.importorskip("optuna")
    import pandas as pd

    from forecast.executors import Executor
    from forecast.workflows.tune import SearchSpace, tune

    space = ["--windows", "5,10", "--units", "4,8", "--depths", "1", "--epochs", "1", "--trials", "2"]
    tuned = _forecast("tune", str(csv), *space, "--out", "tuned", "--executor", "ray", "--address", address,
                      cwd=tmp_path, env=env)
    assert tuned.returncode == 0, tuned.stderr
    here = tune(csv, RunConfig(), tmp_path / "here", n_trials=2, seed=0, trial_epochs=1,  # what the flags say
                space=SearchSpace(windows=(5, 10), units=(4, 8), depths=(1,)), executor=Executor(map, 2))
    on_cluster = pd.read_csv(tmp_path / "tuned" / "trials.csv").drop(columns=["duration_s"])
    pd.testing.assert_frame_equal(on_cluster, pd.read_csv(tmp_path / "here" / "trials.csv").drop(columns=["duration_s"]))
    assert RunConfig.from_json(tmp_path / "tuned" / "best.json") == here.best
