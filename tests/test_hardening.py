"""Every bad input gets a clear answer: exit 2, one `error:` line naming the option or file and the fix, no traceback.

Covers bad options on every command, Typer's own usage errors, bad CSV files through `forecast train`,
constant series, log-returns of zero or negative prices, and outputs written only through forecast.io.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from conftest import write_synthetic
from forecast.cli import app
from forecast.data.windows import rows_needed

TINY = ["--window", "10", "--horizon", "3", "--layers", "4", "--dropout", "0", "--epochs", "1", "--device", "cpu"]


def invoke(*args: str):
    return CliRunner().invoke(app, [str(a) for a in args])


def assert_user_error(result, *fragments: str) -> str:
    """Exit 2 and exactly one `error:` line on stderr with every fragment; nothing else, no traceback."""
    assert result.exit_code == 2, (result.exit_code, result.output, result.exception)
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    assert "Traceback" not in result.output
    return lines[0]


def assert_usage_error(result, *fragments: str) -> None:
    """Typer's own errors (types, missing or unknown options, paths): exit 2 and the option named."""
    assert result.exit_code == 2, (result.exit_code, result.output, result.exception)
    assert "Error" in result.stderr and "Traceback" not in result.output
    flat = " ".join(re.sub(r"[│╭╮╰╯─]", " ", result.stderr).split())  # the error box may wrap lines
    for fragment in fragments:
        assert fragment in flat, flat


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("hardening")
    walk = write_synthetic(root / "walk.csv", "random_walk", n=120, seed=4)
    short = root / "short.csv"
    short.write_text("Date,Close\n" + "".join(f"2020-01-0{d},{d}.5\n" for d in range(1, 6)))
    return {"root": root, "walk": walk, "short": short}


@pytest.fixture(scope="module")
def constant(files) -> tuple[Path, object]:
    """A constant series trained through the CLI: it must work (the forecast is the constant)."""
    import pandas as pd

    root = files["root"]
    csv = root / "constant.csv"
    pd.DataFrame({"Date": pd.date_range("2020-01-01", periods=120, freq="B"), "Close": 50.0}).to_csv(csv, index=False)
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(root)
        result = invoke("train", csv, "--model", root / "const", *TINY, "-q")
    return root / "const", result


# ----------------------------------------------------------------------------------------- train options
TRAIN_BAD = [
    (["--horizon", "0"], "--horizon 0: the horizon must be at least 1 step"),
    (["--horizon", "-3"], "--horizon -3: the horizon must be at least 1 step"),
    (["--window", "1"], "--window 1: the look-back must be at least 2 steps"),
    (["--window", "0"], "--window 0: the look-back must be at least 2 steps"),
    (["--dropout", "1"], "--dropout 1.0: must be in [0, 1)"),
    (["--dropout", "-0.1"], "--dropout -0.1: must be in [0, 1)"),
    (["--dropout", "nan"], "--dropout nan: must be in [0, 1)"),
    (["--layers", "64,abc"], "--layers '64,abc': give positive units per LSTM layer separated by commas"),
    (["--layers", ""], "--layers '': give positive units per LSTM layer separated by commas"),
    (["--layers", "64,0"], "--layers '64,0': give positive units"),
    (["--layers", "64;64"], "--layers '64;64': give positive units"),
    (["--epochs", "0"], "--epochs 0: must be at least 1"),
    (["--epochs", "-5"], "--epochs -5: must be at least 1"),
    (["--device", "tpu"], "--device 'tpu': choose one of auto, cpu, gpu"),
    (["--transform", "sqrt"], "--transform 'sqrt': choose one of auto, log_return, diff, level"),
    (["--loss", "mae"], "--loss 'mae': choose one of mse, huber"),
    (["--batch-size", "0"], "--batch-size 0: must be at least 1"),
    (["--patience", "-1"], "--patience -1: must be 0 or more"),
    (["--learning-rate", "0"], "--learning-rate 0.0: must be positive"),
    (["--val-frac", "0.6"], "--val-frac 0.6: must be between 0 and 0.5"),
    (["--test-frac", "0"], "--test-frac 0.0: must be between 0 and 0.5"),
    (["--max-fill", "-1"], "--max-fill -1: must be 0 or more"),
    (["--strategy", "ring"], "--strategy 'ring': choose one of none, mirrored"),
    (["--seed", "-1"], "--seed -1: must be a whole number from 0 to 4294967295"),
    (["--per-series"], "--per-series needs several series: add --id-col COLUMN or --targets A,B"),
    (["--sep", "xx"], "--sep 'xx': give one character"),
    (["--decimal", "x"], "--decimal 'x': choose . or ,"),
    (["--date-format", "%Q"], "--date-format '%Q': not a strftime format"),
]


@pytest.mark.parametrize("args, message", TRAIN_BAD, ids=[" ".join(a) for a, _ in TRAIN_BAD])
def test_train_bad_option_is_one_clear_line(files, args, message):
    result = invoke("train", files["walk"], "--model", files["root"] / "never", *args)
    assert_user_error(result, message)
    assert not (files["root"] / "never").exists()


def test_window_larger_than_the_data_says_how_many_rows_are_needed(files):
    line = assert_user_error(invoke("train", files["walk"], "--window", "200", "--horizon", "5"),
                             str(files["walk"]), "120 rows are too few for --window 200 and --horizon 5")
    needed = rows_needed(200, 5, 0.15, 0.15, offset=1)
    assert f"at least {needed} rows are needed" in line and needed > 200


@pytest.mark.parametrize("content, message", [
    ("{not json", "not valid JSON"),
    ('{"window": {"window": "thirty"}}', "config window.window = 'thirty': must be int"),
    ('{"train": {"epochs": 2.5}}', "config train.epochs = 2.5: must be int"),
    ('{"model": {"units": 3}}', "config has an unknown or missing setting"),
    ("[1, 2]", "config must be a JSON object"),
    ('{"windw": {"window": 5}, "modle": {}}', "config has unknown section(s) 'modle', 'windw'; the sections are data,"),
])
def test_train_bad_config_file(files, tmp_path, content, message):
    (tmp_path / "config.json").write_text(content)
    assert_user_error(invoke("train", files["walk"], "--config", tmp_path / "config.json"),
                      f"{tmp_path / 'config.json'}: ", message)


def test_train_refuses_to_replace_a_folder_that_is_not_a_bundle(files, tmp_path):
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "keep.txt").write_text("mine")
    assert_user_error(invoke("train", files["walk"], "--model", tmp_path / "notes", "--force", *TINY),
                      "is a folder with files but not a forecast bundle", "refusing to replace it")
    assert (tmp_path / "notes" / "keep.txt").read_text() == "mine"


def test_train_existing_bundle_needs_force_and_a_file_is_no_bundle_folder(files, tmp_path):
    (tmp_path / "m").write_text("a file")
    assert_user_error(invoke("train", files["walk"], "--model", tmp_path / "m"), "already exists; pass --force")
    assert_user_error(invoke("train", files["walk"], "--model", tmp_path / "m", "--force"),
                      "exists and is not a folder")


@pytest.mark.parametrize("args, fragments", [
    (["--window", "abc"], ["Invalid value for '--window'"]),
    (["--epochs", "1.5"], ["Invalid value for '--epochs'"]),
    (["--seed", "x"], ["Invalid value for '--seed'"]),
    (["--frobnicate"], ["No such option: --frobnicate"]),
    (["--window"], ["Option '--window' requires an argument"]),
])
def test_train_typer_usage_errors_exit_2(files, args, fragments):
    assert_usage_error(invoke("train", files["walk"], *args), *fragments)


def test_train_usage_errors_for_paths_exit_2(files, tmp_path):
    assert_usage_error(invoke("train"), "Missing argument")
    for command in ("train", "backtest", "tune"):  # the data file: the loader's one line, with the fix
        assert_user_error(invoke(command, tmp_path / "nothere.csv"), "nothere.csv: file not found; check the path")
        assert_user_error(invoke(command, tmp_path), "is a directory, not a file; pass a CSV or Parquet file")
    assert_usage_error(invoke("train", files["walk"], "--plots", files["walk"]), "'--plots'", "is a file")
    assert_usage_error(invoke("train", files["walk"], "--config", tmp_path / "none.json"), "does not exist")


# --------------------------------------------------------------- bad CSV files through `forecast train`
BAD_CSV = {
    "empty.csv": b"",
    "header_only.csv": b"Date,Close\n",
    "garbage.csv": bytes(range(256)) * 4,
    "semicolons.csv": b"Date;Close\n2020-01-01;1,5\n2020-01-02;2,5\n",
    "bad_dates.csv": b"Date,Close\nnotadate,1\nfoo,2\nbar,3\n",
    "all_nan.csv": b"Date,Close\n2020-01-01,\n2020-01-02,\n2020-01-03,\n",
    "text_values.csv": b"Date,Close\n2020-01-01,abc\n2020-01-02,def\n",
    "duplicates.csv": b"Date,Close\n2020-01-01,1\n2020-01-01,2\n2020-01-02,3\n",
    "infinite.csv": b"Date,Close\n2020-01-01,1\n2020-01-02,inf\n2020-01-03,3\n",
    "single_row.csv": b"Date,Close\n2020-01-01,5\n",
}
PRICES_FROM_ZERO = b"Date,Close\n" + b"".join(b"2020-%02d-%02d,%d\n" % (1 + d // 28, 1 + d % 28, abs(d - 2))
                                              for d in range(80))  # 2, 1, 0, 1, 2, ...


@pytest.mark.parametrize("name", sorted(BAD_CSV))
def test_bad_csv_through_train_is_one_clear_line_naming_the_file(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(BAD_CSV[name])
    assert_user_error(invoke("train", path, "--window", "5", "--horizon", "2"), str(path))
    assert not (tmp_path / "models").exists()


@pytest.mark.parametrize("shift, value", [(0, "value 3 is 0"), (-10, "value 1 is -8")])
def test_log_return_of_zero_or_negative_prices_is_refused_before_training(tmp_path, shift, value):
    import pandas as pd

    path = tmp_path / "prices.csv"
    path.write_bytes(PRICES_FROM_ZERO)
    frame = pd.read_csv(path)
    frame.assign(Close=frame["Close"] + shift).to_csv(path, index=False)
    line = assert_user_error(invoke("train", path, "--window", "5", "--horizon", "2", "--model", tmp_path / "m",
                                    "--transform", "log_return"),
                             str(path), "the log-return transform needs positive prices", "use --transform diff")
    assert value in line
    assert not (tmp_path / "m").exists()
    # the default, --transform auto, uses differences for such a series and says so
    result = invoke("train", path, "--window", "5", "--horizon", "2", "--model", tmp_path / "m", "--epochs", "1",
                    "--layers", "4", "-q")
    assert result.exit_code == 0, result.output
    assert "transform: diff (auto: some prices are zero or negative, so log returns are undefined)" in result.stdout
    (entry,) = json.loads((tmp_path / "m" / "series.json").read_text())["series"]
    assert entry["preprocessor"]["kind"] == "diff"
    assert json.loads((tmp_path / "m" / "config.json").read_text())["window"]["transform"] == "auto"


def test_bad_csv_in_a_real_process_exits_2_with_one_line_and_no_traceback(tmp_path):
    path = tmp_path / "empty.csv"
    path.write_bytes(b"")
    proc = subprocess.run([sys.executable, "-m", "forecast", "train", str(path)], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == [f"error: {path}: file is empty (0 bytes); pass a CSV with a header and data rows"]
    assert proc.stdout == ""


# --------------------------------------------------------------------------- constant series, diff/level
def test_constant_series_trains_and_forecasts_the_constant(constant):
    path, result = constant
    assert result.exit_code == 0, result.output
    (m,) = json.loads((path / "metrics.json").read_text())["test"]["series"].values()
    assert m["lstm"]["mae"] == 0.0 and m["naive"]["mae"] == 0.0
    assert m["beats_naive"] is False
    from forecast.output.console import train_verdict

    assert train_verdict(m).startswith("skill vs naive n/a in MAE")  # not "+nan%"
    forecast = json.loads(invoke("predict", "--model", path, "--json", "--interval", "none").stdout)
    assert [row["forecast"] for row in forecast] == [50.0, 50.0, 50.0]


# ------------------------------------------------------------------------------------- predict options
def test_predict_bad_options(constant, files, tmp_path):
    path, _ = constant
    for h in ("0", "-2", "80000"):
        assert_user_error(invoke("predict", "--model", path, "--horizon", h), f"--horizon {h}: must be 1 to 10,000")
    assert_user_error(invoke("predict", "--model", path, "--data", files["short"]),
                      str(files["short"]), "has 5 rows but this model needs the last 11")
    assert_user_error(invoke("predict", "--model", path, "--interval", "1.5"), "--interval")
    assert_user_error(invoke("predict", "--model", path, "--id", "AAPL"), "--id 'AAPL'", "drop --id")
    assert_user_error(invoke("predict", "--model", path, "--out", files["walk"] / "out.csv"), str(files["walk"]))
    assert_usage_error(invoke("predict", "--model", path, "--out", tmp_path), "'--out'", "is a directory")
    assert_usage_error(invoke("predict", "--model", path, "--plot", tmp_path), "'--plot'", "is a directory")
    assert_usage_error(invoke("predict", "--model", path, "--data", tmp_path / "no.csv"), "does not exist")
    assert_usage_error(invoke("predict", "--horizon", "three"), "Invalid value for '--horizon'")


@pytest.mark.parametrize("command", [["predict"], ["plot"], ["report", "--out", "r.html"]])
def test_model_folder_errors_on_every_command(tmp_path, files, command):
    (tmp_path / "empty_dir").mkdir()
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "x.txt").write_text("x")
    cases = [
        (tmp_path / "missing", "no such model folder"),
        (files["walk"], "is a file, not a model folder"),
        (tmp_path / "empty_dir", "not a forecast bundle (no manifest.json)"),
        (tmp_path / "other", "not a forecast bundle (no manifest.json)"),
    ]
    for model, message in cases:
        assert_user_error(invoke(*command, "--model", model), str(model), message)


@pytest.mark.parametrize("command", [["predict"], ["plot"]])
def test_no_bundle_at_all_or_a_stale_latest(tmp_path, command):
    assert_user_error(invoke(*command), "no model bundle found: train one with `forecast train FILE.csv`")
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "LATEST").write_text(str(tmp_path / "gone") + "\n")
    assert_user_error(invoke(*command), "models/LATEST points to", "which no longer exists")


def test_plot_and_info_usage_errors(files):
    assert_usage_error(invoke("plot", "--out", files["walk"]), "'--out'", "is a file")
    assert_usage_error(invoke("info", "--device", "cpu"), "No such option: --device")
    for value in ("0", "-5"):
        assert_usage_error(invoke("plot", "--history", value), "Invalid value for '--history'",
                           f"{value}: show at least 1 observation")


# ---------------------------------------------------------------------------- backtest, tune, report
@pytest.mark.parametrize("args, message", [
    (["--horizon", "0"], "--horizon 0"),
    (["--folds", "0"], "--folds 0"),
    (["--step", "0"], "--step 0: must be at least 1"),
    (["--window-type", "sliding"], "--window-type 'sliding'"),
    (["--layers", ""], "--layers ''"),
    (["--epochs", "0"], "--epochs 0"),
    (["--models", "lstm,prophet"], "prophet"),
    (["--interval", "2"], "--interval"),
    (["--folds", "50"], "rows are too few"),
])
def test_backtest_bad_options(files, args, message):
    assert_user_error(invoke("backtest", files["walk"], "--out", files["root"] / "bt_never", *args), message)
    assert not (files["root"] / "bt_never").exists()


@pytest.mark.parametrize("args, message", [
    (["--trials", "0"], "--trials 0"),
    (["--windows", "a,b"], "--windows 'a,b'"),
    (["--windows", "1,10"], "--windows 1,10: give values of at least 2"),
    (["--depths", "0"], "--depths '0': give positive whole numbers"),
    (["--units", ""], "--units ''"),
    (["--epochs", "0"], "--epochs 0"),
    (["--jobs", "0"], "--jobs 0"),
])
def test_tune_bad_options(files, args, message):
    assert_user_error(invoke("tune", files["walk"], "--out", files["root"] / "tune_never", *args), message)


def test_report_bad_backtest_folder_and_out(tmp_path, constant):
    assert_user_error(invoke("report", "--backtest", tmp_path / "nope", "--out", tmp_path / "r.html"),
                      str(tmp_path / "nope"))
    assert_user_error(invoke("report", "--model", constant[0], "--out", tmp_path), str(tmp_path))
    keep = tmp_path / "keep.csv"
    keep.write_text("Date,Close\n")
    assert_user_error(invoke("report", "--model", constant[0], "--out", keep), f"--out {keep}: the report is an HTML",
                      "name it *.html")
    assert keep.read_text() == "Date,Close\n"


def test_predict_never_writes_over_its_input_or_its_own_forecast(tmp_path, constant):
    """--out or --plot naming the --data file, or a chart (by default beside --out as .png) over the CSV: refused
    before any work, the files as they were."""
    path, _ = constant
    data = tmp_path / "newer.csv"
    import pandas as pd

    pd.DataFrame({"Date": pd.date_range("2020-01-01", periods=60, freq="B"), "Close": 50.0}).to_csv(data, index=False)
    before = data.read_bytes()
    for option in ("--out", "--plot"):
        assert_user_error(invoke("predict", "--model", path, "--data", data, option, data),
                          f"{option} {data}: is the input file --data")
    assert_user_error(invoke("predict", "--model", path, "--out", tmp_path / "fc.png"),
                      "the chart (--plot, by default beside --out as .png) would be written over the forecast")
    assert_user_error(invoke("predict", "--model", path, "--out", tmp_path / "fc.csv", "--plot", tmp_path / "fc.csv"),
                      "would be written over the forecast")
    assert data.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == ["newer.csv"]


def test_train_fails_before_any_work_where_it_cannot_record_the_latest_bundle(files, tmp_path, monkeypatch):
    """models/LATEST, in the folder train runs from, is written with the bundle: a file named models there
    stops the run at once, naming it, and no bundle is written."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "models").write_text("my notes")
    result = invoke("train", files["walk"], "--model", tmp_path / "m", *TINY)
    assert_user_error(result, "the latest-bundle pointer models/LATEST: models is a file, not a folder",
                      "run it from a folder where it can")
    assert "Epoch" not in result.output and not (tmp_path / "m").exists()


# --------------------------------------------------------------------------------- atomic outputs only


# ------------------------------------------------------------------------------ unwritable outputs, before any work
UNWRITABLE = "/proc/forecast-nowhere"  # /proc takes no new folders, not even from root


@pytest.mark.parametrize("command, option", [
    (["train", "{walk}", "--model", f"{UNWRITABLE}/m"], "--model"),
    (["train", "{walk}", "--plots", f"{UNWRITABLE}/charts", "--model", "{root}/never"], "--plots"),
    (["backtest", "{walk}", "--out", f"{UNWRITABLE}/bt"], "--out"),
    (["predict", "--model", "{bundle}", "--out", f"{UNWRITABLE}/fc.csv"], "--out"),
    (["report", "--model", "{bundle}", "--out", f"{UNWRITABLE}/r.html"], "--out"),
    (["tune", "{walk}", "--out", f"{UNWRITABLE}/tn", "--trials", "1", "--epochs", "1"], "--out"),
    (["plot", "--model", "{bundle}", "--out", f"{UNWRITABLE}/plots"], "--out"),
])
def test_an_unwritable_output_fails_before_any_work_naming_the_path(files, constant, command, option):
    args = [a.format(walk=files["walk"], root=files["root"], bundle=constant[0]) for a in command]
    result = invoke(*args)
    line = assert_user_error(result, f"{option} {UNWRITABLE}/", "cannot write in /proc (it takes no new files or "
                             "folders)", "choose another path")
    assert "Epoch" not in result.output and not (files["root"] / "never").exists(), line


def test_a_wrong_separator_is_named_as_the_fix(files):
    """--sep ';' on a comma file reads each line as one column: the message says to pass the file's --sep."""
    assert_user_error(invoke("train", files["walk"], "--sep", ";", "--model", files["root"] / "never"),
                      str(files["walk"]), "no numeric column found", "pass the file's --sep")


def test_times_of_day_in_a_column_of_their_own_are_refused_saying_how_to_fix_them(tmp_path):
    path = tmp_path / "bars.csv"
    path.write_text("Date,Time,Close\n" + "".join(f"2020-01-0{d},{h}:30,{d * 10 + h}\n" for d in (2, 3) for h in (9, 10)))
    assert_user_error(invoke("train", path, "--window", "5", "--horizon", "2"), str(path),
                      "column 'Time' holds the times of day of the dates in 'Date'; combine the two into one column")


def test_per_series_takes_the_series_named_in_the_config(tmp_path):
    """--per-series with the id column given by --config (not --id-col) trains one network per series."""
    import pandas as pd

    from forecast.config import RunConfig
    from forecast.data.load import synthetic_series

    pd.concat([synthetic_series("random_walk", n=120, seed=k).assign(id=sid) for k, sid in enumerate("AB")])[
        ["id", "Date", "Close"]].to_csv(tmp_path / "two.csv", index=False)
    RunConfig().replace(data={"id_col": "id"}).to_json(tmp_path / "cfg.json")
    result = invoke("train", tmp_path / "two.csv", "--config", tmp_path / "cfg.json", "--per-series", "-q",
                    "--model", tmp_path / "m", *TINY)
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (tmp_path / "m").glob("model_*.keras")) == ["model_A.keras", "model_B.keras"]
