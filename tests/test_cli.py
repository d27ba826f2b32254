"""The CLI shell: help is instant (no TensorFlow import) and `python -m forecast` works."""

from __future__ import annotations

import subprocess
import sys

from conftest import REPO

NO_TF = """
import sys
from typer.testing import CliRunner
from forecast.cli import app
for args in ([], ["--help"], ["train", "--help"], ["predict", "--help"], ["plot", "--help"]):
    r = CliRunner().invoke(app, args)
    assert r.exit_code in (0, 2) and "Usage" in r.output, (args, r.exit_code, r.output)
    print("|".join(args), r.exit_code, "--window" in r.output, "--json" in r.output)
heavy = sorted(m for m in ("tensorflow", "keras", "matplotlib", "sklearn") if m in sys.modules)
print("heavy:", heavy)
"""


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], cwd=REPO, capture_output=True, text=True, timeout=120)


def test_help_does_not_import_tensorflow():
    proc = _run("-c", NO_TF)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[-1] == "heavy: []"
    assert lines[:5] == [" 2 False False", "--help 0 False False", "train|--help 0 True False",
                         "predict|--help 0 False True", "plot|--help 0 False False"]


def test_python_m_forecast_help():
    proc = _run("-m", "forecast", "--help")
    assert proc.returncode == 0, proc.stderr
    for command in ("train", "predict", "plot", "info"):
        assert command in proc.stdout
    assert "Usage: python -m forecast" in proc.stdout or "Usage: forecast" in proc.stdout
