"""Parallel backtests: a spawn process pool and local Ray give exactly the sequential results; bad options exit 2."""

import json
import os
import sys

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from conftest import default_sigint

from forecast.workflows.backtest import run_backtest
from forecast.cli import app
from forecast.config import RunConfig
from forecast.executors import open_executor, thread_env, usable_cores
from forecast.evaluation.intervals import parse_levels

# Baselines plus a tiny LSTM: 2 folds, each refitting naive, drift and a one-epoch LSTM(8).
FLAGS = ["--models", "naive,drift,lstm", "--horizon", "3", "--folds", "2", "--step", "3", "--window", "10",
         "--layers", "8", "--dropout", "0", "--epochs", "1", "--seed", "7", "--interval", "none"]
CFG = RunConfig().replace(window={"window": 10, "horizon": 3}, model={"layers": (8,), "dropout": 0.0},
                          train={"epochs": 1, "seed": 7})
KWARGS = dict(folds=2, step=3, models=("naive", "drift", "lstm"), levels=parse_levels("none"))


def _comparable(report: dict) -> dict:
    return {k: v for k, v in report.items() if k != "seconds"}  # wall times differ run to run


@pytest.fixture(scope="module")
def case(tmp_path_factory):
    """The data file and its sequential backtest, the reference every executor must reproduce."""
    from conftest import write_synthetic

    path = write_synthetic(tmp_path_factory.mktemp("exec") / "walk.csv", "random_walk", n=160, seed=5)
    return path, run_backtest(path, CFG, **KWARGS)


def test_process_pool_via_cli_is_identical_to_sequential(case, tmp_path):
    path, ref = case
    out = tmp_path / "bt"
    res = CliRunner().invoke(app, ["backtest", str(path), *FLAGS, "--executor", "process", "--workers", "2",
                                   "--out", str(out), "--json"])
    assert res.exit_code == 0, res.output
    report = json.loads(res.stdout)
    assert np.isfinite(report["models"]["lstm"]["mae"])  # the LSTM really ran in the workers
    assert _comparable(report) == _comparable(ref.report)
    got = pd.read_csv(out / "forecasts.csv", dtype={"forecast": str})["forecast"].astype(float)  # exact parse
    np.testing.assert_array_equal(got.to_numpy(), ref.forecasts["forecast"].to_numpy())


def _usable_cores_of(_):
    return usable_cores()


def test_process_workers_get_their_share_of_the_cores():
    assert thread_env(2, cores=2)["TF_NUM_INTRAOP_THREADS"] == "1"
    assert thread_env(2, cores=8)["TF_NUM_INTRAOP_THREADS"] == "4"
    assert thread_env(3, cores=2)["TF_NUM_INTRAOP_THREADS"] == "1"
    with open_executor("process", workers=2) as run_on:  # no TensorFlow import: a cheap pool
        seen = list(run_on(os.getenv, ["TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS", "FORECAST_CORES"]))
        cores = list(run_on(_usable_cores_of, [None]))  # what forked_map spreads over in such a worker
    share = max(1, (os.cpu_count() or 1) // 2)
    assert seen == [str(share), "1", str(share)]
    assert cores == [min(share, usable_cores())]


def test_ray_local_is_identical_to_sequential(case):
    pytest.importorskip("ray", reason='Ray is an optional extra: pip install "forecast[ray]"')
    path, ref = case
    with open_executor("ray", workers=2) as run_on:  # ray.init(num_cpus=2, include_dashboard=False)
        bt = run_backtest(path, CFG, **KWARGS, executor=run_on)
    assert _comparable(bt.report) == _comparable(ref.report)
    np.testing.assert_array_equal(bt.forecasts["forecast"].to_numpy(), ref.forecasts["forecast"].to_numpy())
    import ray

    assert not ray.is_initialized()  # the local instance it started is shut down


@pytest.mark.parametrize("extra, message", [
    (["--executor", "threads"], "--executor 'threads': unknown executor; choose from sequential, process, ray"),
    (["--workers", "0", "--executor", "process"], "--workers 0: must be at least 1"),
    (["--address", "ray://head:10001"], "--address ray://head:10001: only --executor ray connects to a cluster"),
])
def test_bad_executor_options_exit_2_before_any_work(walk_csv, extra, message):
    res = CliRunner().invoke(app, ["backtest", str(walk_csv), "--models", "naive", *extra])
    assert res.exit_code == 2
    assert message in res.output
    assert not os.path.exists("backtest")  # failed before writing anything


def test_ray_missing_says_how_to_install(walk_csv, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` now raises ImportError
    res = CliRunner().invoke(app, ["backtest", str(walk_csv), "--models", "naive", "--executor", "ray"])
    assert res.exit_code == 2
    assert 'error: --executor ray needs Ray, which is not installed: pip install "forecast[ray]"' in res.output


BACKGROUND = """
import os, sys
from forecast.executors import Background
forked = Background(os.getpid).result() != os.getpid()
niced = Background(os.nice, 0, nice=5).result() == os.nice(0) + 5  # the child's niceness, this one's unchanged
try:
    Background(int, "x").result()  # fails in the child; the parent runs it and raises the real error
except ValueError as e:
    error = str(e)
sys.modules["tensorflow"] = object()  # as if TensorFlow were loaded: forking is unsafe, so it runs here
print(forked, niced, Background(os.getpid).result() == os.getpid(), error)
"""


def test_background_work_runs_in_a_fork_until_tensorflow_is_loaded():
    import subprocess

    proc = subprocess.run([sys.executable, "-c", BACKGROUND], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "True True True invalid literal for int() with base 10: 'x'"


STAGES = """
import os, sys
from forecast.executors import Background
def stages(fail_at):
    first = os.getpid()
    yield first, os.nice(0)
    if fail_at == 2:
        int("x")
    yield first == os.getpid(), os.nice(0)  # the second stage runs in the process of the first
def taken(fail_at, nice=(0, 7)):
    work = Background(stages, fail_at, nice=nice)
    try:
        return [work.result(), work.result()]
    finally:
        work.close()
base = os.nice(0)
(pid, n1), (same, n2) = taken(0)
print(pid != os.getpid(), same, n1 - base, n2 - base, os.nice(0) - base)
try:
    taken(2)  # the first stage came from the child; the second fails there, so this process runs both
except ValueError as e:
    print(e)
sys.modules["tensorflow"] = object()  # forking is unsafe now: both stages run here, at this niceness
(pid, n1), (same, n2) = taken(0)
print(pid == os.getpid(), same, n1 - base, n2 - base)
"""


def test_background_generator_hands_over_each_stage_at_its_niceness():
    """A generator's stages run one after the other in one forked process, each at its niceness, and come back in
    order; where the child fails at a stage or cannot be forked, this process computes the stages itself."""
    import subprocess

    proc = subprocess.run([sys.executable, "-c", STAGES], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == ["True True 0 7 0", "invalid literal for int() with base 10: 'x'",
                                        "True True 0 0"]


WAITING = """
import sys, time
from forecast.executors import Background
def stages():
    time.sleep(1.0)
    yield "first"
    time.sleep(1.0)
    yield "second"
work = Background(stages)
seen = [work.waiting(0.0), work.waiting(5.0), work.result(), work.waiting(0.0), work.waiting(5.0), work.result()]
work.close()
sys.modules["tensorflow"] = object()  # no fork: result() computes the stages here, it waits for no process
here = Background(stages)
print(seen, here.waiting(0.5))
"""


def test_background_says_whether_the_next_stage_keeps_this_process_waiting():
    import subprocess

    proc = subprocess.run([sys.executable, "-c", WAITING], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[True, False, 'first', True, False, 'second'] False"


ORPHAN = """
import os, signal, sys, time
from forecast.executors import Background
def slow():
    time.sleep(1.5)
    return b"x" * 1_000_000  # more than a pipe holds: sending it blocks until someone reads
work = Background(slow)
print(work._proc.pid, flush=True)
os.kill(os.getpid(), signal.SIGKILL)  # the parent dies without reading or cleaning up
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_background_work_ends_when_its_parent_is_killed(tmp_path):
    """A forked child whose parent is killed (SIGKILL, the out-of-memory killer) ends too, instead of waiting
    forever with its memory to hand over a result nobody reads."""
    import subprocess
    import time

    out = tmp_path / "out.txt"  # a file, not a pipe: a surviving child would hold a pipe open
    with open(out, "w") as f:
        proc = subprocess.run([sys.executable, "-c", ORPHAN], stdout=f, stderr=subprocess.STDOUT, timeout=60)
    assert proc.returncode == -9, out.read_text()
    child = int(out.read_text().split()[0])
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and os.path.exists(f"/proc/{child}"):
        time.sleep(0.1)
    alive = os.path.exists(f"/proc/{child}") and "Z" not in open(f"/proc/{child}/stat").read().split()[2]
    if alive:
        os.kill(child, 9)  # not left behind by a failing test
    assert not alive, f"the child {child} outlived its killed parent"


FORKED = """
import multiprocessing, os, sys, time
from forecast.executors import FORK_MIN_ITEMS, Background, forked_map
me = os.getpid()
def square(x):
    time.sleep(0.002)
    return x * x, os.getpid(), os.nice(0)
def stage():  # in Background's forked (daemon) process, at niceness 7
    return forked_map(square, range(200), workers=2), multiprocessing.current_process().daemon, os.getpid()
work = Background(stage, nice=7)
got, daemon, child = work.result()
print([r[0] for r in got] == [x * x for x in range(200)], len({r[1] for r in got}), child not in {r[1] for r in got},
      {r[2] - os.nice(0) for r in got}, daemon)
print({r[1] for r in forked_map(square, range(FORK_MIN_ITEMS - 1), workers=2)} == {me})  # too few to fork for
def die(x):
    if x == 50 and os.getpid() != me:
        os.kill(os.getpid(), 9)  # a worker killed (out of memory): this process maps them all itself
    return x, os.getpid()
got = forked_map(die, range(100), workers=2)
print([r[0] for r in got] == list(range(100)), {r[1] for r in got} == {me})
try:
    forked_map(lambda x: 1 / (x - 70), range(100), workers=2)
except ZeroDivisionError as e:
    print("raised:", e)
sys.modules["tensorflow"] = object()  # as if TensorFlow were loaded: no fork, the plain loop
print({r[1] for r in forked_map(square, range(100), workers=2)} == {me})
"""


def test_forked_map_spreads_over_forked_workers_and_gives_the_loops_results():
    """forked_map gives the plain loop's results in order, from forked workers at the caller's niceness, also from
    inside Background's daemon process (whose flag stays); too few items, a killed worker or TensorFlow loaded:
    the loop runs here. An error in the function is raised to the caller."""
    import subprocess

    proc = subprocess.run([sys.executable, "-c", FORKED], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == ["True 2 True {7} True", "True", "True True", "raised: division by zero",
                                        "True"]


SLOW_ITEMS = """
import os, sys, time
from forecast.executors import Background, forked_map
pids = sys.argv[1]
def slow(x, seconds=60):  # notes the worker's pid as it starts an item
    with open(pids, "a") as f:
        f.write(f"{os.getpid()}\\n")
    time.sleep(seconds)
    return x
"""

FORKED_ORPHANS = SLOW_ITEMS + """
work = Background(lambda: forked_map(slow, range(100), workers=2))
deadline = time.monotonic() + 30
while time.monotonic() < deadline and len(set(open(pids).read().split())) < 2:
    time.sleep(0.05)
work.close()  # as train's does at Ctrl-C: the forked process is terminated, its workers with it
"""


def _alive(pids) -> list[int]:
    """The processes of ``pids`` that still run (zombies do not count)."""
    return [p for p in pids if os.path.exists(f"/proc/{p}") and "Z" not in open(f"/proc/{p}/stat").read().split()[2]]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_forked_map_workers_end_with_the_process_that_forked_them(tmp_path):
    import subprocess
    import time

    pids = tmp_path / "pids.txt"
    pids.touch()
    proc = subprocess.run([sys.executable, "-c", FORKED_ORPHANS, str(pids)], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
    workers = {int(p) for p in pids.read_text().split()}
    assert len(workers) == 2
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and _alive(workers):
        time.sleep(0.1)
    alive = _alive(workers)
    for p in alive:
        os.kill(p, 9)  # not left behind by a failing test
    assert not alive, f"workers {alive} outlived the process that forked them"


BACKTEST_BY_PROCESS = """
import forecast.evaluation.backtest as B
parts, run = B.fit_parts, B.run_fold
def fit_parts(task):
    note("parts")
    return parts(task)
def run_fold(task):
    note(task.model)
    return run(task)
B.fit_parts, B.run_fold = fit_parts, run_fold
"""


@pytest.mark.parametrize("window", [{}, {"window_type": "rolling", "train_size": 120}])
def test_sequential_backtest_forks_the_statistical_work_with_the_same_results(case, tmp_path, window):
    """Run one at a time, `forecast backtest` computes the network fits' statistical parts and the baselines' folds
    in processes forked before TensorFlow loads; the report is the in-process run's (TensorFlow loaded here, so
    the library runs it all in this process), but for the seconds. The parts come with every forecast the fits
    read and without their statsforecast models: the main process never imports statsforecast."""
    from conftest import cli_by_process

    from forecast.evaluation.verdict import lstm_label

    path, _ = case
    flags = [f"--{k.replace('_', '-')}={v}" for k, v in window.items()]
    proc, seen, main = cli_by_process(BACKTEST_BY_PROCESS, ["backtest", path, *FLAGS, *flags, "--hybrid", "arima",
                                                            "--out", tmp_path / "bt", "--json"], tmp_path / "pids.txt")
    imported = seen.pop("statsforecast")
    assert sorted(seen) == ["drift", "lstm", "naive", "parts"] and all(len(p) == 2 for p in seen.values())
    assert set(seen["lstm"]) == {main}  # the networks fit here ...
    assert main not in seen["parts"] + seen["naive"] + seen["drift"]  # ... the statistical work elsewhere
    assert main not in imported and set(seen["parts"]) <= set(imported)  # where the parts are fitted, not here
    assert set(seen["parts"]).isdisjoint(seen["naive"])  # in two processes: the parts first, the baselines niced
    ref = run_backtest(path, CFG.replace(model={"hybrid": "arima"}), **KWARGS, **window)
    report = json.loads(proc.stdout)
    weights = report["network_weight"]["per_fit"]  # 0 in every fit: the row is named by what it forecast
    assert report["verdict"]["lstm_is"] == lstm_label(["arima"] * len(weights), weights=weights)
    assert report["network_weight"]["part_per_fit"] == ["arima"] * len(weights)
    assert _comparable(report) == _comparable(ref.report)


FORKED_CTRL_C = SLOW_ITEMS + """
try:
    forked_map(lambda x: slow(x, 0.5), range(400), workers=2)  # chunks of 25 items
except KeyboardInterrupt:
    print("interrupted", flush=True)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_ctrl_c_ends_forked_map_and_its_workers_quietly(tmp_path):
    """A terminal's Ctrl-C (SIGINT to the whole process group) reaches the caller as KeyboardInterrupt; the workers
    end at once and quietly, starting no further item."""
    import signal
    import subprocess
    import time

    pids = tmp_path / "pids.txt"
    pids.touch()
    proc = subprocess.Popen([sys.executable, "-c", FORKED_CTRL_C, str(pids)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True,
                            preexec_fn=default_sigint)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and len(set(pids.read_text().split())) < 2:
        time.sleep(0.05)
    started = len(pids.read_text().split())
    os.killpg(proc.pid, signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert (proc.returncode, out, err) == (0, "interrupted\n", "")
    workers = {int(p) for p in pids.read_text().split()}
    # no worker goes on with its chunk (one that did kept the caller waiting for the rest of it)
    assert len(workers) == 2 and len(pids.read_text().split()) <= started + 2
    time.sleep(0.5)
    assert not _alive(workers)


POOL_CTRL_C = """
import sys
sys.path.insert(0, sys.argv[2])
from slowitems import slow
from forecast.executors import open_executor
try:
    with open_executor("process", 2) as run:
        list(run(slow, range(6)))
except KeyboardInterrupt:
    print("interrupted", flush=True)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="a process group's SIGINT, as a terminal sends it")
def test_ctrl_c_ends_a_process_pool_without_starting_another_item(tmp_path):
    """--executor process: at Ctrl-C the two workers end with their items, and no third item starts (a worker that
    took the next item kept the caller waiting for a whole fit)."""
    import signal
    import subprocess
    import time

    pids = tmp_path / "pids.txt"
    pids.touch()
    (tmp_path / "slowitems.py").write_text(f"""import os, time
def slow(x):
    with open({str(pids)!r}, "a") as f:
        f.write(f"{{x}}\\n")
    time.sleep(20)
    return x
""")
    proc = subprocess.Popen([sys.executable, "-c", POOL_CTRL_C, str(pids), str(tmp_path)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True,
                            preexec_fn=default_sigint)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(pids.read_text().split()) < 2:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGINT)
    out, err = proc.communicate(timeout=90)
    assert out == "interrupted\n" and sorted(pids.read_text().split()) == ["0", "1"], err
