"""A clean terminal: no TensorFlow/absl/CUDA log line reaches stderr, progress on stderr, results on stdout;
the CLI conventions (--version, completion, flags shown as flags, exit codes); folder modes; strict JSON;
shell-quoted paths."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pandas as pd
import pytest

from conftest import REPO, write_synthetic
from forecast import tf_quiet

# Lines seen on stderr of `forecast train` before this change (TensorFlow 2.21, no GPU), verbatim.
SEEN = [
    "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR",
    "I0000 00:00:1796160849.709947    9294 port.cc:153] oneDNN custom operations are on. You may see slightly "
    "different numerical results due to floating-point round-off errors from different computation orders. To turn "
    "them off, set the environment variable `TF_ENABLE_ONEDNN_OPTS=0`.",
    "I0000 00:00:1796160849.715424    9294 cudart_stub.cc:31] Could not find cuda drivers on your machine, GPU will "
    "not be used.",
]
CUINIT = ("E0000 00:00:1796160853.236260    9294 cuda_platform.cc:52] failed call to cuInit: INTERNAL: CUDA error: "
          "Failed call to cuInit: UNKNOWN ERROR (303)")
CPU_GUARD = ["I0000 00:00:1796161112.7 12046 cpu_feature_guard.cc:210] This TensorFlow binary is optimized to use "
             "available CPU instructions in performance-critical operations.",
             "To enable the following instructions: AVX2 AVX512F AVX512_VNNI AVX512_BF16 FMA, in other operations, "
             "rebuild TensorFlow with the appropriate compiler flags."]
NODEDEF = ("E0000 00:00:1783190786.420393    3712 node_def_util.cc:682] NodeDef mentions attribute "
           "use_unbounded_threadpool which is not in the op definition: Op<name=MapDataset; signature=input_dataset:"
           "variant, other_arguments: -> handle:variant; attr=f:func> This may be expected if your graph generating "
           "binary is newer  than this binary. Unknown attributes will be ignored. NodeDef: {{node ParallelMapDatasetV2}}")
OLD_FORMAT = ["2025-12-18 05:55:59.405476: E tensorflow/core/framework/node_def_util.cc:680] NodeDef mentions attribute "
              "use_unbounded_threadpool which is not in the op definition: Op<name=MapDataset>",
              "2024-03-01 10:00:00.000001: I tensorflow/core/util/port.cc:113] oneDNN custom operations are on. You may "
              "see slightly different numerical results"]
REAL = [
    "E0000 00:00:1796160853.236260    9294 bfc_allocator.cc:485] Allocator ran out of memory trying to allocate",
    "F0000 00:00:1796160853.236260    9294 check.cc:1] Check failed: x == y",
    "Traceback (most recent call last):",
    "error: walk.csv: no such file",
    "Epoch 1/2",
    "I0000 something that only looks like a log line",
    "2025-12-18 05:55:59.405476: E tensorflow/core/kernels/x.cc:1] a real error in the old format",
    "2024-01-02,101.5",  # a CSV row
]


def test_known_noise_is_recognised_and_real_lines_are_not():
    for line in SEEN + CPU_GUARD + [NODEDEF] + OLD_FORMAT:
        assert tf_quiet.is_noise(line) and tf_quiet.is_noise(line, gpu=True), line
    assert tf_quiet.is_noise(CUINIT, gpu=False)
    assert not tf_quiet.is_noise(CUINIT, gpu=True)  # with a GPU a failing cuInit is a real problem
    for line in REAL:
        assert not tf_quiet.is_noise(line), line


def test_gpu_expected_respects_cuda_visible_devices(monkeypatch):
    for hidden in ("", "-1"):
        monkeypatch.setenv("CUDA_VISIBLE_DEVICES", hidden)
        assert not tf_quiet.gpu_expected()


def test_filter_stream_drops_only_noise_keeps_order_and_partial_lines():
    r, w = os.pipe()
    out_r, out_w = os.pipe()
    data = "\n".join([SEEN[0], "first real line", SEEN[1], CUINIT, "second", SEEN[2], *REAL]) + "\nno newline"
    os.write(w, data.encode())
    os.close(w)
    tf_quiet.filter_stream(r, out_w, gpu=False)
    os.close(out_w)
    got = os.read(out_r, 1 << 20).decode()
    assert got == "\n".join(["first real line", "second", *REAL]) + "\nno newline"


def test_partial_lines_pass_at_once_unless_they_may_still_be_noise():
    assert not tf_quiet._may_become_noise(b"\r  3/10 [====>")
    assert not tf_quiet._may_become_noise(b"Epoch 1/")
    assert tf_quiet._may_become_noise(b"I0000 00:00:17")
    assert tf_quiet._may_become_noise(b"WARNING: All log")
    assert tf_quiet._may_become_noise(b"2025-12-18 05:55:59.4")


CRASH = r"""
import os, sys
from forecast import tf_quiet
assert tf_quiet.filter_stderr()
os.write(2, (%r + "\nreal C++ error before the crash\n").encode())
print("python stderr line", file=sys.stderr, flush=True)
os.abort()
"""


def test_the_filter_survives_a_crash_and_loses_no_real_line():
    proc = subprocess.run([sys.executable, "-c", CRASH % SEEN[1]], cwd=REPO, capture_output=True, text=True,
                          timeout=60, env=dict(os.environ, PYTHONPATH=str(REPO)))
    assert proc.returncode != 0
    assert proc.stderr.splitlines() == ["real C++ error before the crash", "python stderr line"]


POOL_THEN_EXIT = """
import os, sys
from concurrent.futures import ProcessPoolExecutor
from forecast import tf_quiet
if __name__ == "__main__":
    tf_quiet.filter_stderr()
    with ProcessPoolExecutor(2, mp_context=tf_quiet.spawn_context()) as pool:
        assert list(pool.map(abs, [-1, -2])) == [1, 2]
    print("after the pool", file=sys.stderr, flush=True)
    pid = tf_quiet._FILTER["pid"]
    tf_quiet.close_filter(timeout=5.0)
    print("filter gone" if not os.path.exists(f"/proc/{pid}") else "filter still running")
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_the_filter_ends_at_exit_after_a_process_pool(tmp_path):
    """A spawn pool starts multiprocessing's resource tracker, which lives until this process ends. Started with
    fd 2 as the filter's pipe it kept the pipe open, so the filter never saw the end of its input and the exit
    waited out close_filter's timeout; spawn_context starts it with the real stderr."""
    script = tmp_path / "pool_then_exit.py"  # a file with a main guard: spawned workers import it again
    script.write_text(POOL_THEN_EXIT)
    proc = subprocess.run([sys.executable, str(script)], cwd=REPO, capture_output=True, text=True, timeout=120,
                          env=dict(os.environ, PYTHONPATH=str(REPO)))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "filter gone" and "after the pool" in proc.stderr


def test_keras_progress_goes_to_stderr(capsys):
    import keras
    import numpy as np

    tf_quiet.progress_to_stderr()
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile("sgd", "mse")
    model.fit(np.zeros((8, 2)), np.zeros(8), epochs=1, verbose=2)
    out, err = capsys.readouterr()
    assert "loss" in err and "loss" not in out


# ------------------------------------------------------------------ the real commands, in a real process

# The tool's own stderr lines: Keras' epoch lines (progress) and backtest's per-fold progress.
OWN = [re.compile(p) for p in (r"\d+/\d+ - \d+s - .*loss: ", r"Epoch \d+/\d+$", r"\w+: fold\(s\) [\d, ]+ done in ",
                                r"waiting for ")]
TINY = ["--window", "10", "--horizon", "3", "--layers", "8", "--epochs", "1", "--batch-size", "32"]


def _forecast(*args, cwd) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TF_CPP")}  # as a user runs it: nothing set
    env.update(PYTHONPATH=str(REPO), CUDA_VISIBLE_DEVICES="")
    return subprocess.run([sys.executable, "-m", "forecast", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=300, env=env)


def _only_own_lines(stderr: str) -> None:
    foreign = [line for line in stderr.splitlines() if line.strip() and not any(p.match(line) for p in OWN)]
    assert not foreign, foreign


def test_stderr_of_train_predict_backtest_holds_only_the_tools_own_lines(tmp_path):
    csv = write_synthetic(tmp_path / "walk.csv", n=200, seed=1)
    train = _forecast("train", str(csv), *TINY, "--model", "m", cwd=tmp_path)
    assert train.returncode == 0, train.stderr
    _only_own_lines(train.stderr)
    assert re.search(r"^\d+/\d+ - \d+s - ", train.stderr, re.M), train.stderr  # progress on stderr ...
    assert not re.search(r"\d+/\d+ - \d+s - ", train.stdout)  # ... not mixed into the results
    assert "bundle: " in train.stdout

    predict = _forecast("predict", "--model", "m", "--json", cwd=tmp_path)
    assert predict.returncode == 0, predict.stderr
    assert predict.stderr == ""
    json.loads(predict.stdout)  # stdout is exactly one JSON object

    bt = _forecast("backtest", str(csv), "--models", "lstm,naive", "--folds", "2", *TINY, "--hybrid", "none", "--out", "bt",
                   cwd=tmp_path)  # (auto's statistical fits: in the train above)
    assert bt.returncode == 0, bt.stderr
    _only_own_lines(bt.stderr)
    assert "lstm: fold(s) 1 done" in bt.stderr

    report = _forecast("report", "--model", "m", "--backtest", "bt", "--out", "r.html", cwd=tmp_path)
    assert report.returncode == 0, report.stderr
    assert report.stderr == "" and report.stdout.startswith("report: r.html (")


HOLD_BASELINES = """
import sys, time
from pathlib import Path
import forecast.workflows.train as T
go, baselines, train = Path("go"), T.baseline_forecasts, T.train
def held(*a, **k):  # in the process forked before TensorFlow loads: until train has said it waits (at most 120 s)
    end = time.time() + 120
    while not go.exists() and time.time() < end:
        time.sleep(0.05)
    return baselines(*a, **k)
def said(*a, progress=None, **k):  # the CLI's line goes out, and the baselines are let go
    return train(*a, progress=progress and (lambda line: (progress(line), go.touch())), **k)
T.baseline_forecasts, T.train = held, said
assert "tensorflow" not in sys.modules  # so the statistical work is forked
from forecast.cli import main
sys.argv = ["forecast", *sys.argv[1:]]
main()
"""


def test_train_says_what_it_waits_for_when_the_statistical_models_keep_it(tmp_path):
    """The baselines' forecasts, computed in the forked process, are held back until train says it waits for them:
    one line on stderr, naming the test origins it scores. A --quiet train says nothing of the kind."""
    csv = write_synthetic(tmp_path / "walk.csv", n=200, seed=1)
    env = {k: v for k, v in os.environ.items() if not k.startswith("TF_CPP")}
    env.update(PYTHONPATH=str(REPO), CUDA_VISIBLE_DEVICES="")
    proc = subprocess.run([sys.executable, "-c", HOLD_BASELINES, "train", str(csv), *TINY, "--hybrid", "none",
                           "--model", "m"], cwd=tmp_path, capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr
    origins = pd.read_csv(tmp_path / "m" / "test_predictions.csv")["origin"].nunique()
    lines = [line for line in proc.stderr.splitlines() if line.startswith("waiting for ")]
    assert lines == [f"waiting for the statistical baselines' forecasts from {origins} test origins, to score the "
                     "network against"], proc.stderr
    _only_own_lines(proc.stderr)
    quiet = _forecast("train", str(csv), *TINY, "--hybrid", "none", "--model", "q", "--quiet", cwd=tmp_path)
    assert quiet.returncode == 0 and "waiting for" not in quiet.stderr, quiet.stderr


def test_stderr_of_a_multi_series_train_holds_only_the_tools_own_lines(tmp_path):
    from forecast.data.load import synthetic_series

    frames = [synthetic_series("random_walk", n=150, seed=2).assign(id="a"),
              synthetic_series("sine", n=150, seed=3).assign(id="b")]
    pd.concat(frames).to_csv(tmp_path / "long.csv", index=False)
    proc = _forecast("train", "long.csv", "--id-col", "id", *TINY, "--model", "m", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    _only_own_lines(proc.stderr)


def test_a_real_error_still_reaches_stderr(tmp_path):
    proc = _forecast("predict", "--model", "no-such-bundle", cwd=tmp_path)  # after the filter is in place
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: no-such-bundle: no such model folder"), proc.stderr
