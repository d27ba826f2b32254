"""What TensorFlow's import costs with each ml_dtypes version: whether pyproject.toml's ``ml_dtypes<0.7`` still pays.

TensorFlow imports ml_dtypes at start-up. Each version given is installed (``pip install --no-deps --target``) into
a folder under ``--cache`` on first use and put first on PYTHONPATH of a fresh ``python -c "import tensorflow"``;
the versions alternate, ``--repeats`` rounds. Printed per version: the median wall of the whole process, its
peak RSS, and the median import time of ml_dtypes' extension alone (``-X importtime``), with ratios against the
first version. Run from the repository root::

    .venv/bin/python bench/ml_dtypes_import.py --versions 0.6.0,0.7.0 --repeats 5
"""
from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

EXT = re.compile(r"import time:\s+\d+ \|\s+(\d+) \|\s+ml_dtypes\._ml_dtypes_ext$")


def install(version: str, cache: Path) -> Path:
    """A folder holding ml_dtypes ``version`` alone, installed by pip on first use."""
    target = cache / f"ml_dtypes-{version}"
    if not (target / "ml_dtypes").is_dir():
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target),
                        f"ml_dtypes=={version}"], check=True)
    return target


def one_import(target: Path, version: str) -> tuple[float, float, float]:
    """Wall seconds and peak RSS (MB) of a fresh ``import tensorflow``, and ml_dtypes' extension's import seconds."""
    env = {**os.environ, "PYTHONPATH": str(target), "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""}
    code = f"import tensorflow, ml_dtypes; assert ml_dtypes.__version__ == {version!r}, ml_dtypes.__version__"
    with tempfile.TemporaryFile("w+") as log:
        t = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-X", "importtime", "-c", code], env=env,
                                stdout=subprocess.DEVNULL, stderr=log)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t
        log.seek(0)
        err = log.read()
    if status:
        raise SystemExit(f"import tensorflow with ml_dtypes {version} failed:\n{err[-2000:]}")
    ext = [int(m.group(1)) / 1e6 for line in err.splitlines() if (m := EXT.search(line.rstrip()))]
    return wall, usage.ru_maxrss / 1024, ext[0] if ext else float("nan")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--versions", default="0.6.0,0.7.0", help="ml_dtypes versions, comma-separated; ratios against the first")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "forecast-bench")
    a = ap.parse_args()
    versions = a.versions.split(",")
    targets = {v: install(v, a.cache) for v in versions}
    runs: dict[str, list[tuple[float, float, float]]] = {v: [] for v in versions}
    for r in range(a.repeats):
        for v in versions if r % 2 == 0 else versions[::-1]:
            runs[v].append(one_import(targets[v], v))
            print(f"round {r + 1} ml_dtypes {v}: wall {runs[v][-1][0]:.3f} s, rss {runs[v][-1][1]:.0f} MB, "
                  f"extension {runs[v][-1][2]:.3f} s", flush=True)
    print(f"\nmedians of {a.repeats}, load average {os.getloadavg()[0]:.2f}:")
    ref = [statistics.median(x[i] for x in runs[versions[0]]) for i in range(3)]
    print(f"{'ml_dtypes':>10} {'wall s':>8} {'ratio':>6} {'rss MB':>8} {'ratio':>6} {'extension s':>12}")
    for v in versions:
        med = [statistics.median(x[i] for x in runs[v]) for i in range(3)]
        print(f"{v:>10} {med[0]:8.3f} {med[0] / ref[0]:6.3f} {med[1]:8.0f} {med[1] / ref[1]:6.3f} {med[2]:12.3f}")


if __name__ == "__main__":
    main()
