"""Multi-series loading: long and wide formats, unequal lengths, gaps, short series, duplicates, bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from forecast.cli import app
from forecast.config import RunConfig
from forecast.data.load import synthetic_series
from forecast.errors import InputError
from forecast.models.lstm import LSTMForecaster
from forecast.data.panel import load_panel


def long_frame(specs=(("AAA", 120, "2020-01-01", 0), ("BBB", 90, "2020-02-03", 1))) -> pd.DataFrame:
    frames = [synthetic_series("random_walk", n=n, seed=seed, start=start).assign(symbol=sid)
              for sid, n, start, seed in specs]
    return pd.concat(frames, ignore_index=True)[["symbol", "Date", "Close"]]


def wide_from_long(df: pd.DataFrame) -> pd.DataFrame:
    return df.pivot(index="Date", columns="symbol", values="Close").reset_index()  # NaN before BBB starts


def test_long_and_wide_give_the_same_series_and_windows(tmp_path):
    df = long_frame()
    df.to_csv(tmp_path / "long.csv", index=False)
    wide_from_long(df).to_csv(tmp_path / "wide.csv", index=False)
    long = load_panel(tmp_path / "long.csv", id_col="symbol")
    wide = load_panel(tmp_path / "wide.csv", targets="AAA,BBB")
    assert (long.layout, wide.layout) == ("long", "wide")
    assert long.ids == wide.ids == ["AAA", "BBB"]
    assert [len(s.values) for s in long.series] == [120, 90]  # unequal lengths kept
    assert wide.series[1].dates[0] == pd.Timestamp("2020-02-03")  # BBB's own start, leading blanks dropped
    for a, b in zip(long.series, wide.series):
        np.testing.assert_array_equal(a.values, b.values)
        assert a.dates.equals(b.dates)
    cfg = RunConfig()
    za, ta, va = LSTMForecaster(cfg).prepare(long, [20, 15])[:3]
    zb, tb, vb = LSTMForecaster(cfg).prepare(wide, [20, 15])[:3]
    np.testing.assert_array_equal(za, zb)
    np.testing.assert_array_equal(ta, tb)
    np.testing.assert_array_equal(va, vb)


def test_origins_never_cross_a_series_boundary():
    df = long_frame()
    p = load_panel_frame(df)
    cfg = RunConfig()
    w, h = cfg.window.window, cfg.window.horizon
    z, train_o, val_o = LSTMForecaster(cfg).prepare(p, [20, 15])[:3]
    first_len = len(p.series[0].values) - 1  # log_return: z is one shorter
    assert len(z) == first_len + len(p.series[1].values) - 1
    for o in np.concatenate([train_o, val_o]):
        lo, hi = o - w + 1, o + h
        assert (hi < first_len) or (lo >= first_len), o
    assert train_o.min() == w - 1 and (train_o >= first_len).any()


def load_panel_frame(df, **kw):
    import tempfile
    from pathlib import Path

    path = Path(tempfile.mkdtemp()) / "p.csv"
    df.to_csv(path, index=False)
    return load_panel(path, id_col="symbol", **kw)


def test_short_series_and_long_gaps_are_skipped_with_a_warning_naming_them():
    df = long_frame((("AAA", 120, "2020-01-01", 0), ("TINY", 12, "2020-01-01", 1), ("GAPPY", 100, "2020-01-01", 2)))
    df["Close"] = df["Close"].astype(object)
    gappy = df.index[df["symbol"] == "GAPPY"]
    df.loc[gappy[40:48], "Close"] = ""  # 8 missing in a row, more than --max-fill 5
    df.loc[df.index[df["symbol"] == "AAA"][50:52], "Close"] = ""  # 2 missing: forward-filled
    with pytest.warns(UserWarning, match=r"skipped 2 series: TINY \(12 rows, fewer than the 60 needed for the window, "
                                         r"horizon and parts\); GAPPY .*"
                                         r"8 consecutive missing values"):
        p = load_panel_frame(df, min_rows=60)
    assert p.ids == ["AAA"]
    assert set(p.skipped) == {"TINY", "GAPPY"}
    aaa = p.series[0].values
    assert len(aaa) == 120 and aaa[50] == aaa[49] == aaa[51]


def test_duplicate_id_date_rows_differing_are_an_error_naming_them_and_repeats_are_dropped():
    """As in a file of one series: a row repeated cell for cell is kept once; the same (id, date) with another
    price is an error naming both rows."""
    df = long_frame()
    again = pd.concat([df, df.iloc[[3]]], ignore_index=True)  # AAA's 4th row twice, the same
    assert [list(s.values) for s in load_panel_frame(again).series] == [
        list(s.values) for s in load_panel_frame(df).series]
    other = again.copy()
    other.loc[len(other) - 1, "Close"] = 1e6
    with pytest.raises(InputError, match=r"duplicate \(symbol, date\) rows with different values: AAA 2020-01-06 "
                                         r"\(rows 5, 212\)"):
        load_panel_frame(other)


def test_rows_without_a_series_id_are_an_error_naming_the_first():
    """A blank id cell made a series named '' (written as an empty id, read back as NaN): it is an input error
    naming the row (file line) and how many rows lack one."""
    df = long_frame()
    df["symbol"] = df["symbol"].astype(object)
    df.loc[[4, 7], "symbol"] = ["  ", None]
    with pytest.raises(InputError) as info:
        load_panel_frame(df)
    assert str(info.value).endswith("row 6 has no series id in column 'symbol' (2 rows have none); fill the ids in "
                                    "or remove those rows")


def test_no_usable_series_is_an_error():
    with pytest.warns(UserWarning), pytest.raises(InputError) as info:
        load_panel_frame(long_frame(), min_rows=500)
    assert str(info.value).endswith("no usable series (AAA: 120 rows, fewer than the 500 needed for the window, "
                                    "horizon and parts; BBB: 90 rows, fewer than the 500 needed for the window, "
                                    "horizon and parts)")


def _cli(args):
    return CliRunner().invoke(app, args)


@pytest.mark.parametrize("make,args,message", [
    (lambda: long_frame(), ["--id-col", "ticker"], "id column 'ticker' not found; columns are symbol, Date, Close"),
    (lambda: long_frame().assign(Volume=1.0), ["--id-col", "symbol", "--features", "volume,rsi"],
     "unknown feature 'rsi' in --features (no column of the file, nor a derived feature); available features: "
     "close, volume, log_return, log_volume"),
    (lambda: long_frame().assign(sector="tech"), ["--id-col", "symbol", "--features", "sector"],
     "covariate column 'sector' is not numeric"),
    (lambda: synthetic_series(n=50).assign(Close="x", Other="y"), ["--targets", "all"],
     "no numeric columns (columns: Date, Close, Other); a wide file needs one numeric column"),
    (lambda: wide_from_long(long_frame()), ["--targets", "AAA,MSFT"],
     "--targets column 'MSFT' not found; numeric columns are AAA, BBB"),
    (lambda: wide_from_long(long_frame()), ["--targets", "AAA", "--features", "log_volume"],
     "--features log_volume is not available"),
])
def test_bad_input_is_one_clear_line_and_exit_2(tmp_path, make, args, message):
    make().to_csv(tmp_path / "bad.csv", index=False)
    result = _cli(["train", str(tmp_path / "bad.csv"), *args])
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "Traceback" not in result.output


def test_a_bad_value_is_named_by_its_line_in_the_file(tmp_path):
    """In a long file, series B's rows come after A's; a blank line sits among A's rows: the message names the
    line a text editor shows, not the row's place within its series."""
    import warnings

    from forecast.data.panel import SkippedSeriesWarning

    days = pd.bdate_range("2020-01-01", periods=40)
    lines = ["Date,Close,symbol", *(f"{d:%Y-%m-%d},{100 + i},A" for i, d in enumerate(days))]
    lines.insert(11, "")  # a blank line 12
    lines += [f"{d:%Y-%m-%d},{'abc' if i == 5 else 50 + i},B" for i, d in enumerate(days)]  # abc on line 48
    (tmp_path / "long.csv").write_text("\n".join(lines) + "\n")
    assert lines[47].split(",")[1] == "abc"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        panel = load_panel(tmp_path / "long.csv", id_col="symbol")
    assert panel.ids == ["A"]
    (skipped,) = [str(w.message) for w in caught if issubclass(w.category, SkippedSeriesWarning)]
    assert "column 'Close' row 48: 'abc' is not a number" in skipped
    single = "\n".join(["Date,Close", "", *(f"{d:%Y-%m-%d},{'abc' if i == 7 else 100 + i}" for i, d in enumerate(days))])
    (tmp_path / "one.csv").write_text(single + "\n")
    with pytest.raises(InputError, match="column 'Close' row 10: 'abc' is not a number"):
        load_panel(tmp_path / "one.csv")
