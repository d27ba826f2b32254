"""The CLI shell: help is instant (no TensorFlow import) and `python -m forecast` works."""

from __future__ import annotations

import re
import shlex
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


COMMANDS = ("train", "predict", "plot", "info", "report", "tune", "backtest")


def test_version_both_ways_without_importing_tensorflow():
    from forecast import __version__

    for args in (("-m", "forecast", "--version"), ("-m", "forecast", "-V"),
                 ("-c", "from forecast.cli import app; import sys; app(['--version'], prog_name='forecast', "
                        "standalone_mode=False); print(sorted(m for m in ('tensorflow', 'keras') if m in sys.modules))")):
        proc = _run(*args)
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.splitlines()[0] == f"forecast {__version__}"
        assert proc.stderr == ""
    assert proc.stdout.splitlines()[1] == "[]"


def test_shell_completion_is_offered_and_prints_a_script():
    from typer.testing import CliRunner

    from forecast.cli import app

    help_text = CliRunner().invoke(app, ["--help"]).output
    assert "--install-completion" in help_text and "--show-completion" in help_text
    # Typer detects the shell from the parent process (under make it is sh, which it does not support): use bash
    proc = subprocess.run(["bash", "-c", f"{shlex.quote(sys.executable)} -m forecast --show-completion; exit $?"], cwd=REPO,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "_FORECAST_COMPLETE" in proc.stdout and "complete " in proc.stdout


def test_flags_are_shown_as_flags_and_value_options_keep_their_type():
    from typer.testing import CliRunner

    from forecast.cli import app

    for args in ([], *([c] for c in COMMANDS)):
        out = CliRunner().invoke(app, [*args, "--help"], terminal_width=200).output
        assert "<bool>" not in out, args
        assert re.search(r"--help\s+-h\s+Show this message and exit", out), args
    out = CliRunner().invoke(app, ["predict", "--help"], terminal_width=200).output
    assert re.search(r"--json\s+Print the forecast as a JSON list", out)  # a flag: no type column
    assert re.search(r"--horizon\s+-H\s+<int>", out)  # an option with a value still shows its type


def test_dash_h_is_help_in_every_command_and_a_horizon_after_it_is_an_error():
    """-h is --help everywhere (predict and backtest used it for --horizon, so `predict -h` asked for a value);
    `-h 10`, a script's horizon, is a usage error naming -H, not the help and exit 0."""
    from typer.testing import CliRunner

    from forecast.cli import app

    for args in ([], *([c] for c in COMMANDS)):
        res = CliRunner().invoke(app, [*args, "-h"], terminal_width=200)
        assert res.exit_code == 0 and "Usage: " in res.output and re.search(r"--help\s+-h\s+Show this", res.output), args
    proc = _run("-m", "forecast", "predict", "-h", "10")
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr == "error: -h shows the help; for a horizon of 10 steps write -H 10 or --horizon 10\n"
    assert _run("-m", "forecast", "backtest", "data.csv", "-H", "3", "-h").returncode == 0  # help, not an error
    from forecast.cli import short_horizon_misuse

    assert short_horizon_misuse(["train", "x.csv", "-h", "5"]).endswith("write -H 5 or --horizon 5")
    assert short_horizon_misuse(["tune", "x.csv", "-h", "5"]) == ("-h shows the help, and `forecast tune` takes no "
                                                                 "horizon; drop '-h 5'")
    assert short_horizon_misuse(["train", "x.csv", "-h"]) is None and short_horizon_misuse(["-h"]) is None
    res = CliRunner().invoke(app, ["train", "missing.csv", "-H", "0"])
    assert res.exit_code == 2 and "horizon" in res.output.lower()  # train takes -H: its own check, not 'no option'


def test_exit_codes_are_documented_in_the_top_level_help():
    from typer.testing import CliRunner

    from forecast.cli import app

    out = " ".join(CliRunner().invoke(app, ["--help"], terminal_width=200).output.split())
    for code, meaning in (("0", "done"), ("2", "usage or input error"), ("130", "interrupted"), ("1", "internal error")):
        assert f"{code} {meaning}" in out, (code, out)


def test_pyproject_license_is_an_spdx_string_for_a_setuptools_that_reads_it():
    import pytest

    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    meta = tomllib.loads((REPO / "pyproject.toml").read_text())
    assert meta["project"]["license"] == "MIT"  # a table makes setuptools >= 77 print a deprecation block
    assert "setuptools>=77" in meta["build-system"]["requires"]
    assert meta["project"]["scripts"]["forecast"] == "forecast.cli:main"


NO_TENSORFLOW = """
import importlib.util, sys
from typer.testing import CliRunner
real = importlib.util.find_spec
importlib.util.find_spec = lambda name, *a: None if name == "tensorflow" else real(name, *a)
from forecast.cli import app
r = CliRunner().invoke(app, ["info"])
print(r.exit_code, " ".join(r.output.split()))
"""


def test_a_command_that_needs_tensorflow_says_how_to_install_it():
    proc = _run("-c", NO_TENSORFLOW)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == ('2 error: TensorFlow is not installed; run `make install`, or pip install -e '
                                   '".[cpu]" (".[gpu]" on a machine with an NVIDIA GPU)')


def test_info_prints_the_versions_a_bundle_records():
    """`forecast info` lists what manifest.json records, statsforecast included, then the devices."""
    from typer.testing import CliRunner

    from forecast.bundle import versions
    from forecast.cli import app

    r = CliRunner().invoke(app, ["info"])
    assert r.exit_code == 0, r.output
    lines = r.output.splitlines()
    assert lines[:7] == [f"{name} {v}" for name, v in versions().items()] and lines[6].startswith("statsforecast 2.")
    assert lines[7].startswith("devices: ") and "CPU" in lines[7]
