"""forecast.data.load / forecast.data.calendar: formats, quirks, bad inputs and calendars."""

import gzip
import hashlib
import os

import numpy as np
import pandas as pd
import pytest

from conftest import bad, put
from forecast.data.calendar import FREQUENCIES, future_dates, infer_frequency, trading_day
from forecast.data.load import PriceSeries, load_prices, series_from_frame, synthetic_series
from forecast.data.read import fingerprint
from forecast.errors import ForecastError, InputError

NASDAQ = "data/nasdaq_composite_daily_1999_2018.csv"
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def dates(*texts):
    return pd.DatetimeIndex(pd.to_datetime(list(texts)))


# ----------------------------------------------------------------------------- real data


def test_nasdaq_file():
    s = load_prices(os.path.join(ROOT, NASDAQ))
    assert isinstance(s, PriceSeries)
    assert len(s) == 5031 == len(s.dates)
    assert s.dates[0] == pd.Timestamp("1999-01-04") and s.dates[-1] == pd.Timestamp("2018-12-31")
    assert s.target == "Adj Close" and s.date_col == "Date" and s.freq == "trading_days"
    assert s.values.dtype == np.float64 and s.values.ndim == 1
    assert s.values[0] == pytest.approx(2208.050049)
    assert s.values[-1] == pytest.approx(6635.279785)
    assert s.dates.is_monotonic_increasing and s.dates.is_unique and s.dates.tz is None
    assert np.isfinite(s.values).all() and s.n_filled == 0
    assert s.source.endswith("nasdaq_composite_daily_1999_2018.csv")


def test_nasdaq_tail_and_target():
    s = load_prices(os.path.join(ROOT, NASDAQ), target="open", tail=10)
    assert s.target == "Open" and len(s) == 10 and s.dates[-1] == pd.Timestamp("2018-12-31")
    assert s.freq == "trading_days"


# ------------------------------------------------------------------------ quirks that work


def test_crlf_bom_no_trailing_newline(tmp_path):
    p = put(tmp_path, b"\xef\xbb\xbfDate,Close\r\n2020-01-02,1.5\r\n2020-01-03,2.5")
    s = load_prices(p)
    assert s.date_col == "Date" and s.target == "Close"
    assert list(s.values) == [1.5, 2.5] and list(s.dates) == list(dates("2020-01-02", "2020-01-03"))


def test_trailing_empty_lines_and_comma_only_lines(tmp_path):
    p = put(tmp_path, "Date,Close\n2020-01-02,1\n2020-01-03,2\n\n,\n\r\n\n")
    s = load_prices(p)
    assert list(s.values) == [1.0, 2.0]


@pytest.mark.parametrize("token", ["", "NaN", "nan", "null", "NA", ".", "-"])
def test_missing_tokens_forward_filled(tmp_path, token):
    p = put(tmp_path, f"Date,Close\n2020-01-01,1\n2020-01-02,{token}\n2020-01-03,3\n")
    s = load_prices(p)
    assert list(s.values) == [1.0, 1.0, 3.0] and s.n_filled == 1 and len(s.dates) == 3


def test_leading_and_trailing_missing_dropped(tmp_path):
    p = put(tmp_path, "Date,Close\n2020-01-01,\n2020-01-02,NA\n2020-01-03,3\n2020-01-04,\n"
                      "2020-01-05,\n2020-01-06,6\n2020-01-07,null\n")
    s = load_prices(p, max_fill=2)
    assert list(s.values) == [3.0, 3.0, 3.0, 6.0] and s.n_filled == 2
    assert s.dates[0] == pd.Timestamp("2020-01-03") and s.dates[-1] == pd.Timestamp("2020-01-06")


def test_gap_equal_to_max_fill_is_filled(tmp_path):
    rows = ["2020-01-01,1"] + [f"2020-01-0{d},NaN" for d in range(2, 7)] + ["2020-01-07,7"]
    s = load_prices(put(tmp_path, "Date,Close\n" + "\n".join(rows) + "\n"), max_fill=5)
    assert s.n_filled == 5 and list(s.values) == [1.0] * 6 + [7.0]


@pytest.mark.parametrize("text, first, second", [
    ("2020-01-02\n2020-01-03", "2020-01-02", "2020-01-03"),
    ("1/2/2020\n12/31/2020", "2020-01-02", "2020-12-31"),
    ("20200102\n20200103", "2020-01-02", "2020-01-03"),
    ("2020-01\n2020-02", "2020-01-01", "2020-02-01"),
    ("2020-01-02 09:30:00\n2020-01-02 10:30:00", "2020-01-02 09:30", "2020-01-02 10:30"),
    ("2020-01-02T09:30:00\n2020-01-02T10:30:00", "2020-01-02 09:30", "2020-01-02 10:30"),
    ("2020-01-02T09:30:00+05:00\n2020-01-02T10:30:00+05:00", "2020-01-02 09:30",
     "2020-01-02 10:30"),
    ("2020-01-02T09:30:00Z\n2020-01-02T10:30:00Z", "2020-01-02 09:30", "2020-01-02 10:30"),
])
def test_date_formats(tmp_path, text, first, second):
    d1, d2 = text.split("\n")
    s = load_prices(put(tmp_path, f"Date,Close\n{d1},1\n{d2},2\n"))
    assert list(s.dates) == [pd.Timestamp(first), pd.Timestamp(second)]
    assert s.dates.tz is None


def test_unnamed_index_column(tmp_path):
    df = synthetic_series("linear", n=5)
    p = tmp_path / "idx.csv"
    df.set_index("Date").to_csv(p, index_label="")
    s = load_prices(p)
    assert s.date_col == "index" and s.target == "Close" and list(s.values) == list(df.Close)
    p2 = put(tmp_path, "Unnamed: 0,Close\n2020-01-02,1\n2020-01-03,2\n", "unnamed.csv")
    assert load_prices(p2).date_col == "index"
    assert load_prices(str(p2), date_col="index").date_col == "index"  # as stored in a bundle


@pytest.mark.parametrize("header, expected", [
    ("timestamp,Close", "timestamp"), ("Trade Day,Close", "Trade Day"),
    ("Close,DATE", "DATE"), ("Period,Close", "Period"),
])
def test_date_column_by_name(tmp_path, header, expected):
    a, b = header.split(",")
    row = (lambda d, v: f"{d},{v}") if b == "Close" else (lambda d, v: f"{v},{d}")
    p = put(tmp_path, f"{header}\n{row('2020-01-02', 1)}\n{row('2020-01-03', 2)}\n")
    s = load_prices(p)
    assert s.date_col == expected and list(s.values) == [1.0, 2.0]


def test_date_col_given_and_unknown(tmp_path):
    p = put(tmp_path, "when,Close\n2020-01-02,1\n2020-01-03,2\n")
    assert load_prices(p, date_col="WHEN").date_col == "when"
    bad(p, "date column 'stamp' not found", "when, Close", "--date-col", date_col="stamp")


@pytest.mark.parametrize("header, expected", [
    ("Date,Open,Close,Adj Close", "Adj Close"), ("Date,Open,Close", "Close"),
    ("Date,Open,adj_close", "adj_close"), ("Date,Volume,PRICE", "PRICE"),
    ("Date,value,Open", "value"), ("Date,Ticker,Foo", "Foo"),
])
def test_target_choice(tmp_path, header, expected):
    cols = header.split(",")[1:]
    cells = {c: ("AAPL" if c == "Ticker" else str(10 * (i + 1))) for i, c in enumerate(cols)}
    p = put(tmp_path, f"{header}\n2020-01-02,{','.join(cells.values())}\n")
    s = load_prices(p)
    assert s.target == expected and s.values[0] == float(cells[expected])


def test_target_case_insensitive_and_unknown(tmp_path):
    p = put(tmp_path, "Date,Open,High,Name\n2020-01-02,1,2,x\n2020-01-03,3,4,y\n")
    s = load_prices(p, target="high")
    assert s.target == "High" and list(s.values) == [2.0, 4.0]
    bad(p, "target column 'Low' not found", "Open, High", "--target", target="Low")
    bad(p, "--target 'date' is the date column; numeric columns are Open, High", target="date")
    bad(p, "several numeric columns (Open, High)", "--target")


def test_numbers_with_separators_quotes_and_currency(tmp_path):
    text = ('Date,Close\n2020-01-02,"1,234.5"\n2020-01-03,\" $1,000 \"\n2020-01-04,€2.5\n'
            "2020-01-05,£ 3\n2020-01-06,'4.25'\n2020-01-07,\"12,345,678\"\n2020-01-08,-$5\n")
    s = load_prices(put(tmp_path, text))
    assert list(s.values) == [1234.5, 1000.0, 2.5, 3.0, 4.25, 12345678.0, -5.0]


def test_latin1_file_works(tmp_path):
    p = put(tmp_path, "Datum,Kurs (€),Börse\n2020-01-02,1.5,Zürich\n2020-01-03,2.5,Genève\n"
            .encode("cp1252"))
    s = load_prices(p)
    assert s.target == "Kurs (€)" and list(s.values) == [1.5, 2.5] and s.date_col == "Datum"
    p2 = put(tmp_path, "Date,Close,Note\n2020-01-02,1,caf\xe9\n".encode("latin-1"), "l1.csv")
    assert list(load_prices(p2).values) == [1.0]


def test_descending_dates_sorted(tmp_path):
    p = put(tmp_path, "Date,Close\n2020-01-03,3\n2020-01-02,2\n2020-01-01,1\n")
    s = load_prices(p)
    assert list(s.values) == [1.0, 2.0, 3.0] and s.dates.is_monotonic_increasing


def test_duplicate_dates_identical_kept_once(tmp_path):
    p = put(tmp_path, "Date,Close\n2020-01-01,1\n2020-01-02,2\n2020-01-02,2\n2020-01-03,3\n")
    s = load_prices(p)
    assert list(s.values) == [1.0, 2.0, 3.0] and len(s.dates) == 3


def test_duplicate_dates_conflicting(tmp_path):
    p = put(tmp_path, "Date,Close\n2020-01-01,1\n2020-01-02,2\n2020-01-03,3\n2020-01-02,5\n")
    msg = bad(p, "date 2020-01-02 appears in rows 3 and 5", "remove or aggregate the duplicates")
    assert "(2 and 5)" in msg


def test_constant_series_and_extra_text_columns(tmp_path):
    p = put(tmp_path, "Date,Ticker,Close,Comment\n2020-01-02,X,7,ok\n2020-01-03,X,7,\n"
                      "2020-01-06,X,7,holiday after\n")
    s = load_prices(p)
    assert list(s.values) == [7.0, 7.0, 7.0] and s.target == "Close"


def test_nonpositive_prices_allowed(tmp_path):
    s = load_prices(put(tmp_path, "Date,Close\n2020-01-02,0\n2020-01-03,-1.5\n"))
    assert list(s.values) == [0.0, -1.5]


def test_csv_gz_and_parquet(tmp_path):
    df = synthetic_series("sine", n=30, freq="D")
    gz = tmp_path / "p.csv.gz"
    gz.write_bytes(gzip.compress(df.to_csv(index=False).encode()))
    s = load_prices(gz)
    assert len(s) == 30 and s.freq == "daily" and np.allclose(s.values, df.Close)
    pq = tmp_path / "p.parquet"
    df.to_parquet(pq)
    s = load_prices(pq)
    assert list(s.dates) == list(df.Date) and np.array_equal(s.values, df.Close.to_numpy())
    pq2 = tmp_path / "indexed.parquet"
    df.set_index("Date").to_parquet(pq2)
    s2 = load_prices(pq2)
    assert s2.date_col == "Date" and np.array_equal(s2.values, df.Close.to_numpy())
    from forecast.data.panel import load_panel  # what train, backtest and tune read: the same, the index a column

    (s3,) = load_panel(pq2).series
    assert list(s3.dates) == list(df.Date) and np.array_equal(s3.values, df.Close.to_numpy())


def test_tail_and_min_rows(tmp_path):
    p = put(tmp_path, "Date,Close\n" + "".join(f"2020-01-{d:02d},{d}\n" for d in range(1, 11)))
    s = load_prices(p, tail=3, min_rows=3)
    assert list(s.values) == [8.0, 9.0, 10.0] and s.dates[0] == pd.Timestamp("2020-01-08")
    bad(p, "needs at least 11 rows", "has 10", min_rows=11)


def test_single_row_min_rows(tmp_path):
    p = put(tmp_path, "Date,Close\n2020-01-02,1\n")
    assert len(load_prices(p)) == 1
    bad(p, "needs at least 2 rows", "has 1", min_rows=2)


# ---------------------------------------------------------------------------- bad inputs


def test_missing_file_and_directory(tmp_path):
    bad(tmp_path / "nope.csv", "not found")
    bad(tmp_path, "is a directory")


def test_empty_and_header_only(tmp_path):
    bad(put(tmp_path, b"", "empty.csv"), "empty (0 bytes)")
    bad(put(tmp_path, "Date,Close\n", "header.csv"), "no data rows")
    bad(put(tmp_path, "Date,Close", "header2.csv"), "no data rows")
    bad(put(tmp_path, "\n\n", "blank.csv"), "no header or data")


def test_binary_garbage(tmp_path):
    rng = np.random.default_rng(0)
    p = put(tmp_path, bytes(rng.integers(0, 256, 4000, dtype=np.uint8)), "garbage.csv")
    bad(p, "does not look like a text table")
    bad(put(tmp_path, b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "img.csv"), "binary data")


def test_semicolon_and_tab_separated(tmp_path):
    bad(put(tmp_path, "Date;Close\n2020-01-02;1,5\n", "semi.csv"), "semicolon",
        "use comma-separated values")
    bad(put(tmp_path, "Date\tClose\n2020-01-02\t1.5\n", "tab.csv"), "tab-separated")


def test_ragged_rows(tmp_path):
    bad(put(tmp_path, "Date,Close\n2020-01-02,1\n2020-01-03,2,3,4\n"), "comma-separated table")


def test_no_date_column(tmp_path):
    bad(put(tmp_path, "Open,Close\n1,2\n3,4\n"), "no date column", "Open, Close", "--date-col")


def test_no_numeric_column(tmp_path):
    bad(put(tmp_path, "Date,Ticker\n2020-01-02,AAPL\n"), "no numeric column", "Ticker")


def test_non_numeric_value(tmp_path):
    p = put(tmp_path, "Date,Close\n2020-01-02,1\n2020-01-03,2\n2020-01-06,n/a?\n2020-01-07,abc\n")
    bad(p, "column 'Close' row 4", "'n/a?' is not a number")
    p2 = put(tmp_path, "Date,Close\n2020-01-02,1\n2020-01-03,1.234,5\n", "comma.csv")
    with pytest.raises(InputError):
        load_prices(p2)
    p3 = put(tmp_path, 'Date,Close\n2020-01-02,1\n2020-01-03,"1,5"\n', "decimal_comma.csv")
    bad(p3, "row 3", "'1,5' is not a number", "pass --decimal ,")  # one cell is too little to read a comma file by
    assert list(load_prices(p3, decimal=",").values) == [1.0, 1.5]
    p4 = put(tmp_path, 'Date,Close\n2020-01-02,2.5\n2020-01-03,"1,5"\n', "both.csv")  # 2.5: a decimal point
    bad(p4, "row 3", "'1,5' is not a number", "pass --decimal ,")


def test_unparseable_and_mixed_dates(tmp_path):
    bad(put(tmp_path, "Date,Close\n2020-01-02,1\n2020-01-03,2\nyesterday,3\n", "u.csv"),
        "column 'Date' row 4", "cannot parse date 'yesterday'", "one format")
    bad(put(tmp_path, "Date,Close\n2020-01-02,1\n1/3/2020,2\n", "mixed.csv"),
        "row 3", "'1/3/2020'")
    bad(put(tmp_path, "Date,Close\n2020-01-02,1\n2020-02-30,2\n", "invalid.csv"),
        "row 3", "'2020-02-30'")
    bad(put(tmp_path, "Date,Close\n2020-01-02,1\n,2\n", "nodate.csv"), "row 3", "date is missing")


def test_all_nan_target(tmp_path):
    bad(put(tmp_path, "Date,Close\n2020-01-02,NaN\n2020-01-03,\n2020-01-06,null\n"),
        "column 'Close' has no values")


def test_gap_longer_than_max_fill(tmp_path):
    p = put(tmp_path, "Date,Close\n2020-01-01,1\n2020-01-02,\n2020-01-03,\n2020-01-04,\n"
                      "2020-01-05,5\n")
    bad(p, "rows 3-5", "3 consecutive missing values", "--max-fill", max_fill=2)
    assert load_prices(p, max_fill=3).n_filled == 3
    bad(p, "--max-fill 0", max_fill=0)


def test_inf_values(tmp_path):
    bad(put(tmp_path, "Date,Close\n2020-01-02,1\n2020-01-03,inf\n"), "row 3", "infinite")
    bad(put(tmp_path, "Date,Close\n2020-01-02,-Infinity\n", "neg.csv"), "row 2", "infinite")


def test_huge_file_refused(tmp_path):
    p = tmp_path / "huge.csv"
    with open(p, "wb") as f:
        f.write(b"Date,Close\n2020-01-02,1\n")
        f.truncate(2 * 1024**3 + 1)  # sparse: cheap on disk
    bad(p, "too large", "smaller extract")


def test_bad_options():
    df = synthetic_series("linear", 5)
    with pytest.raises(ForecastError):
        series_from_frame(df, max_fill=-1)


def test_files_never_modified(tmp_path):
    paths = [
        put(tmp_path, b"\xef\xbb\xbfDate,Close\r\n2020-01-03,2\r\n2020-01-02,1", "a.csv"),
        put(tmp_path, "Date,Close\n2020-01-02,1\n2020-01-02,5\n", "b.csv"),
        put(tmp_path, "Date,Close\n2020-01-02,1\n2020-01-03,\n2020-01-04,2\n", "c.csv"),
    ]
    before = {p: (p.read_bytes(), os.stat(p).st_mtime_ns) for p in paths}
    for p in paths:
        try:
            load_prices(p)
        except InputError:
            pass
        fingerprint(p)
    assert {p: (p.read_bytes(), os.stat(p).st_mtime_ns) for p in paths} == before


# ------------------------------------------------------------------ frames and helpers


def test_series_from_frame():
    df = synthetic_series("linear", n=10)
    s = series_from_frame(df)
    assert s.source == "<frame>" and s.freq == "business_days" and len(s) == 10
    assert list(s.values) == [100 + 0.5 * t for t in range(10)]
    s2 = series_from_frame(df.set_index("Date"))
    assert s2.date_col == "Date" and np.array_equal(s2.values, s.values)
    s3 = series_from_frame(df.set_index("Date").rename_axis(None))
    assert s3.date_col == "index"
    with pytest.raises(InputError, match=r"^<frame>: column 'Close' row 3: 'oops' is not a number"):
        series_from_frame(pd.DataFrame({"Date": ["2020-01-02", "2020-01-03"],
                                        "Close": [1, "oops"]}))


def test_fingerprint(tmp_path):
    p = put(tmp_path, b"Date,Close\n2020-01-02,1\n" * 100)
    fp = fingerprint(p)
    assert fp == {"path": str(p.resolve()), "sha256": hashlib.sha256(p.read_bytes()).hexdigest(),
                  "bytes": 2400}
    with pytest.raises(InputError, match="not found"):
        fingerprint(tmp_path / "missing.csv")


def test_synthetic_series():
    for kind in ("random_walk", "sine", "seasonal", "linear"):
        a, b = synthetic_series(kind, n=50, seed=3), synthetic_series(kind, n=50, seed=3)
        assert list(a.columns) == ["Date", "Close"] and len(a) == 50
        pd.testing.assert_frame_equal(a, b)
    rw = synthetic_series("random_walk", n=2000, seed=1)
    assert rw.Close.iloc[0] == 100.0 and (rw.Close > 0).all()
    assert not rw.Close.equals(synthetic_series("random_walk", n=2000, seed=2).Close)
    t = np.arange(40)
    assert np.allclose(synthetic_series("sine", 40).Close, 100 + 10 * np.sin(2 * np.pi * t / 20))
    assert list(synthetic_series("linear", 4).Close) == [100.0, 100.5, 101.0, 101.5]
    noisy = synthetic_series("linear", 200, seed=0, noise=1.0).Close - (100 + 0.5 * np.arange(200))
    assert 0.7 < noisy.std() < 1.3
    assert synthetic_series("sine", 3, start="2021-06-04").Date.tolist() == list(
        dates("2021-06-04", "2021-06-07", "2021-06-08"))
    with pytest.raises(ValueError, match="unknown kind"):
        synthetic_series("nope")


# ---------------------------------------------------------------------------- calendars


def test_frequencies_labels():
    assert set(FREQUENCIES) == {"trading_days", "business_days", "daily", "hourly", "weekly",
                                "monthly", "quarterly", "other"}


@pytest.mark.parametrize("index, expected", [
    (pd.date_range("2020-01-01", periods=50, freq="D"), "daily"),
    (pd.bdate_range("2020-01-01", periods=50), "business_days"),
    (pd.date_range("2020-01-01", periods=50, freq="h"), "hourly"),
    (pd.date_range("2020-01-06", periods=30, freq="W-MON"), "weekly"),
    (pd.date_range("2020-01-31", periods=24, freq="ME"), "monthly"),
    (pd.date_range("2020-01-01", periods=24, freq="MS"), "monthly"),
    (pd.date_range("2020-01-01", periods=12, freq="QS"), "quarterly"),
    (pd.date_range("2020-01-01", periods=12, freq="YS"), "other"),
    (pd.DatetimeIndex(["2020-01-01", "2020-01-02"]), "other"),
])
def test_infer_frequency(index, expected):
    assert infer_frequency(index) == expected


def test_infer_trading_days_vs_business_days():
    td = pd.date_range("2018-01-02", "2019-12-31", freq=trading_day())
    assert infer_frequency(td) == "trading_days"
    bd = pd.bdate_range("2018-01-02", "2019-12-31")
    rng = np.random.default_rng(0)
    assert infer_frequency(bd.delete(rng.choice(len(bd), 10, replace=False))) == "business_days"


def test_future_trading_days_skip_holidays():
    last = dates("2018-12-26", "2018-12-27", "2018-12-28")
    assert list(future_dates(last, "trading_days", 2)) == list(dates("2018-12-31", "2019-01-02"))
    gf = future_dates(dates("2019-04-16", "2019-04-17", "2019-04-18"), "trading_days", 2)
    assert list(gf) == list(dates("2019-04-22", "2019-04-23"))
    jt = future_dates(dates("2022-06-16", "2022-06-17"), "trading_days", 1)
    assert list(jt) == list(dates("2022-06-21"))  # Juneteenth 2022 observed on Monday 20th
    assert list(future_dates(dates("2021-06-17", "2021-06-18"), "trading_days", 1)) == list(
        dates("2021-06-21"))  # before 2022: no Juneteenth closure
    assert list(future_dates(dates("2021-12-29", "2021-12-30"), "trading_days", 2)) == list(
        dates("2021-12-31", "2022-01-03"))  # New Year on Saturday: not moved back
    july = future_dates(dates("2020-07-01", "2020-07-02"), "trading_days", 1)
    assert list(july) == list(dates("2020-07-06"))  # July 4th on Saturday: Friday 3rd closed
    thanks = future_dates(dates("2019-11-27"), "trading_days", 1)
    assert list(thanks) == list(dates("2019-11-29"))


def test_future_business_days_include_holidays():
    out = future_dates(dates("2018-12-27", "2018-12-28"), "business_days", 3)
    assert list(out) == list(dates("2018-12-31", "2019-01-01", "2019-01-02"))


def test_future_daily_hourly_weekly():
    assert list(future_dates(dates("2020-02-27", "2020-02-28"), "daily", 2)) == list(
        dates("2020-02-29", "2020-03-01"))
    h = future_dates(dates("2020-01-01 22:00", "2020-01-01 23:00"), "hourly", 2)
    assert list(h) == list(dates("2020-01-02 00:00", "2020-01-02 01:00"))
    w = future_dates(dates("2020-01-01", "2020-01-08"), "weekly", 2)
    assert list(w) == list(dates("2020-01-15", "2020-01-22")) and (w.day_of_week == 2).all()


def test_future_monthly_and_quarterly_anchoring():
    ends = pd.date_range("2019-10-31", periods=4, freq="ME")  # ... 2020-01-31
    assert list(future_dates(ends, "monthly", 3)) == list(
        dates("2020-02-29", "2020-03-31", "2020-04-30"))
    starts = pd.date_range("2019-10-01", periods=4, freq="MS")
    assert list(future_dates(starts, "monthly", 2)) == list(dates("2020-02-01", "2020-03-01"))
    mid = dates("2019-11-30", "2019-12-30", "2020-01-30")
    assert list(future_dates(mid, "monthly", 2)) == list(dates("2020-02-29", "2020-03-30"))
    q = pd.date_range("2019-03-31", periods=4, freq="QE")
    assert list(future_dates(q, "quarterly", 2)) == list(dates("2020-03-31", "2020-06-30"))
    qs = pd.date_range("2019-01-01", periods=4, freq="QS")
    assert list(future_dates(qs, "quarterly", 2)) == list(dates("2020-01-01", "2020-04-01"))


def test_future_other_tz_and_edges():
    other = future_dates(dates("2020-01-01", "2020-01-11", "2020-01-21"), "other", 2)
    assert list(other) == list(dates("2020-01-31", "2020-02-10"))
    tz = pd.date_range("2020-01-01 09:00", periods=3, freq="h", tz="US/Eastern")
    out = future_dates(tz, "hourly", 1)
    assert out.tz is None and out[0] == pd.Timestamp("2020-01-01 12:00")  # after 11:00 New York time, as read
    assert len(future_dates(dates("2020-01-01"), "daily", 0)) == 0
    with pytest.raises(ValueError, match="unknown frequency"):
        future_dates(dates("2020-01-01"), "fortnightly", 1)


@pytest.mark.parametrize("freq", sorted(FREQUENCIES))
def test_future_dates_strictly_after(freq):
    base = pd.date_range("2019-12-02", periods=20, freq="B")
    out = future_dates(base, freq, 15)
    assert len(out) == 15 and out[0] > base[-1] and out.is_monotonic_increasing and out.is_unique
    assert out.tz is None


def test_repeated_dates_of_a_file_of_several_series_read_as_one_name_its_id_column(tmp_path):
    """A long file (ticker, date, close) read without --id-col: its dates repeat with other prices, and the error
    says to pass --id-col with the column that looks like the series' names; a file without one does not."""
    from forecast.data.panel import load_panel

    rows = "".join(f"{t},2020-01-0{d},{p + d}\n" for t, p in (("AAA", 10), ("BBB", 50)) for d in range(1, 5))
    p = put(tmp_path, "ticker,date,close\n" + rows, "long.csv")
    for load in (load_prices, lambda q: load_panel(q)):
        with pytest.raises(InputError) as e:
            load(p)
        assert str(e.value) == (f"{p}: date 2020-01-01 appears in rows 2 and 6 with different 'close' values (11 and "
                                "51); if the file holds several series, pass --id-col ticker; else remove or "
                                "aggregate the duplicates")
    single = put(tmp_path, "date,close\n2020-01-01,1\n2020-01-02,2\n2020-01-01,3\n", "one.csv")
    with pytest.raises(InputError, match=r"\(1 and 3\); remove or aggregate the duplicates$"):
        load_panel(single)
    # a note (mostly blank) or a flag equal on both rows is no series name
    other = put(tmp_path, "date,close,note,flag\n2020-01-01,1,,up\n2020-01-02,2,holiday,up\n2020-01-03,2,,down\n"
                          "2020-01-04,2,,down\n2020-01-01,3,,up\n", "other.csv")
    for load in (load_prices, lambda q: load_panel(q)):
        with pytest.raises(InputError, match=r"\(1 and 3\); remove or aggregate the duplicates$"):
            load(other)
