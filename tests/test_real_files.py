"""Real-world price files (issue 15): the dates, headers, separators, encodings and calendars people's files have.

Each format is a small file of several real-looking rows, loaded through ``load_prices`` (or ``read_table`` and the
parse functions where the loader is not the point), and the parsed dates and values are checked.
"""

from __future__ import annotations

import gzip
import json
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import bad, put
from forecast.data.calendar import (ALL_FREQUENCIES, FREQUENCIES, MORE_FREQUENCIES, future_dates, infer_frequency,
                                    session_of, trading_day)
from forecast.data.load import MissingPeriodsWarning, load_prices, series_from_frame
from forecast.data.read import (DateOrderWarning, parse_dates, read_dates, read_table,
                                stack_tickers)
from forecast.errors import ForecastError, InputError

# GOOG daily closes, 2009-08-04 .. 2009-08-10 (split-adjusted prices; what matters is that they are real-looking)
DAYS = ["2009-08-04", "2009-08-05", "2009-08-06", "2009-08-07", "2009-08-10"]
CLOSE = [453.73, 451.14, 450.36, 457.10, 455.76]


def ts(*texts):
    return [pd.Timestamp(t) for t in texts]


def table(header, cells, sep=","):
    return header + "\n" + "".join(f"{d}{sep}{v}\n" for d, v in zip(cells, CLOSE))


# ------------------------------------------------------------------------------------------- date formats
TEXT_DATES = {
    "Aug 4 2009": ["Aug 4 2009", "Aug 5 2009", "Aug 6 2009", "Aug 7 2009", "Aug 10 2009"],
    "04-Aug-2009": ["04-Aug-2009", "05-Aug-2009", "06-Aug-2009", "07-Aug-2009", "10-Aug-2009"],
    "Aug 04, 2009": ['"Aug 04, 2009"', '"Aug 05, 2009"', '"Aug 06, 2009"', '"Aug 07, 2009"', '"Aug 10, 2009"'],
    "Tue, 04 Aug 2009": ['"Tue, 04 Aug 2009"', '"Wed, 05 Aug 2009"', '"Thu, 06 Aug 2009"', '"Fri, 07 Aug 2009"',
                         '"Mon, 10 Aug 2009"'],
    "August 4, 2009": ['"August 4, 2009"', '"August 5, 2009"', '"August 6, 2009"', '"August 7, 2009"',
                       '"August 10, 2009"'],
    "ISO": DAYS,
    "M/D/YYYY": ["8/4/2009", "8/5/2009", "8/6/2009", "8/7/2009", "8/10/2009"],
    "D.M.YYYY": ["04.08.2009", "05.08.2009", "06.08.2009", "07.08.2009", "10.08.2009"],
    "YYYYMMDD": ["20090804", "20090805", "20090806", "20090807", "20090810"],
    "YYYY/MM/DD": ["2009/08/04", "2009/08/05", "2009/08/06", "2009/08/07", "2009/08/10"],
    "epoch s": [str(int(pd.Timestamp(d).timestamp())) for d in DAYS],
    "epoch ms": [str(int(pd.Timestamp(d).timestamp()) * 1000) for d in DAYS],
    "D/M/YYYY (day over 12)": ["13/08/2009", "14/08/2009", "17/08/2009", "18/08/2009", "19/08/2009"],
    "DD-MM-YYYY (day over 12)": ["13-08-2009", "14-08-2009", "17-08-2009", "18-08-2009", "19-08-2009"],
    "two-digit years": ["08/04/09", "08/05/09", "08/06/09", "08/07/09", "08/10/09"],
    "M/D/YYYY H:MM": ["8/4/2009 9:30", "8/5/2009 9:30", "8/6/2009 9:30", "8/7/2009 9:30", "8/10/2009 9:30"],
}
EXPECTED = {k: ts(*DAYS) for k in TEXT_DATES}
EXPECTED["D/M/YYYY (day over 12)"] = EXPECTED["DD-MM-YYYY (day over 12)"] = ts(
    "2009-08-13", "2009-08-14", "2009-08-17", "2009-08-18", "2009-08-19")
EXPECTED["M/D/YYYY H:MM"] = [d + pd.Timedelta(hours=9, minutes=30) for d in ts(*DAYS)]


GUESSED = {"M/D/YYYY", "M/D/YYYY H:MM", "two-digit years"}  # no day over 12: month-first, said in a warning


@pytest.mark.parametrize("style", sorted(TEXT_DATES))
def test_date_format_loads_with_values(tmp_path, style):
    p = put(tmp_path, table("Date,Close", TEXT_DATES[style]))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        s = load_prices(p)
    guesses = [w for w in caught if issubclass(w.category, DateOrderWarning)]
    assert len(guesses) == (style in GUESSED)
    assert list(s.dates) == EXPECTED[style]
    assert list(s.values) == CLOSE and s.date_col == "Date" and s.target == "Close"


def test_years_written_as_floats_are_years(tmp_path):
    """pandas writes a float year column as 1700.0, 1701.0, ...: bare years, not YYYYMM."""
    s = load_prices(put(tmp_path, "YEAR,SUNACTIVITY\n1700.0,5.0\n1701.0,11.0\n1702.0,16.0\n1703.0,23.0\n"))
    assert list(s.dates) == ts("1700-01-01", "1701-01-01", "1702-01-01", "1703-01-01")
    assert infer_frequency(s.dates, detailed=True) == "annual"
    bad(put(tmp_path, "YEAR,X\n1700.0,5\n1701.5,6\n1702.0,7\n", "half.csv"), "column 'YEAR' row 3")
    s = load_prices(put(tmp_path, "YEAR,X\n1700.0,5\n1701,6\n1702.0,7\n", "mixed.csv"))  # a whole year among them
    assert list(s.dates) == ts("1700-01-01", "1701-01-01", "1702-01-01")


def test_bare_years(tmp_path):
    p = put(tmp_path, "year,GDP\n1986,4590.2\n1987,4870.2\n1988,5252.6\n1989,5657.7\n1990,5979.6\n")
    s = load_prices(p)
    assert s.date_col == "year" and s.target == "GDP"
    assert list(s.dates) == ts("1986-01-01", "1987-01-01", "1988-01-01", "1989-01-01", "1990-01-01")
    assert list(s.values) == [4590.2, 4870.2, 5252.6, 5657.7, 5979.6]
    assert infer_frequency(s.dates, detailed=True) == "annual"
    assert list(future_dates(s.dates, "annual", 2)) == ts("1991-01-01", "1992-01-01")


@pytest.mark.parametrize("cells", [["2018Q1", "2018Q2", "2018Q3", "2018Q4", "2019Q1"],
                                   ["2018-Q1", "2018-Q2", "2018-Q3", "2018-Q4", "2019-Q1"],
                                   ["Q1 2018", "Q2 2018", "Q3 2018", "Q4 2018", "Q1 2019"]])
def test_quarters(tmp_path, cells):
    s = load_prices(put(tmp_path, table("Quarter,Value", cells)))
    assert list(s.dates) == ts("2018-01-01", "2018-04-01", "2018-07-01", "2018-10-01", "2019-01-01")
    assert list(s.values) == CLOSE and s.freq == "quarterly" and s.date_col == "Quarter"
    assert list(future_dates(s.dates, s.freq, 2)) == ts("2019-04-01", "2019-07-01")


def test_iso_with_z_and_offsets_keep_the_local_time(tmp_path):
    cells = ["2009-08-04T13:30:00Z", "2009-08-04T10:31:00-04:00", "2009-08-04T15:32:00+01:00",
             "2009-08-04 13:33:00+00:00", "2009-08-04T13:34:00.500Z"]
    s = load_prices(put(tmp_path, table("timestamp,price", cells)))
    assert list(s.dates) == ts("2009-08-04 10:31", "2009-08-04 13:30", "2009-08-04 13:33", "2009-08-04 13:34:00.5",
                               "2009-08-04 15:32")
    assert list(s.values) == [451.14, 453.73, 457.10, 455.76, 450.36]  # sorted by the local time
    assert s.dates.tz is None


def test_a_european_close_stamped_at_local_midnight_stays_on_its_day(tmp_path):
    """yfinance writes a Frankfurt close as 2023-01-02 00:00:00+01:00: in UTC that is Sunday 23:00, which would
    make the calendar daily and every forecast date a day early; the local day keeps business days."""
    days = pd.bdate_range("2023-01-02", periods=60)
    s = load_prices(put(tmp_path, "Date,Close\n" + "".join(f"{d:%Y-%m-%d} 00:00:00+01:00,{100 + i}\n"
                                                            for i, d in enumerate(days))))
    assert list(s.dates) == list(days) and s.freq == "business_days"
    assert list(future_dates(s.dates, s.freq, 2)) == ts("2023-03-27", "2023-03-28")


def test_a_new_york_session_keeps_its_hours_across_daylight_saving(tmp_path):
    """Hourly bars 09:30-15:30 New York, -04:00 in summer and -05:00 in winter: the session stays 09:30-15:30 and
    the next bars follow it (in UTC the winter bars would be an hour later than the summer ones)."""
    days = pd.bdate_range("2023-10-23", "2023-11-17")
    cells = [f"{d:%Y-%m-%d}T{h:02d}:30:00{'-04:00' if d < pd.Timestamp('2023-11-06') else '-05:00'}"
             for d in days for h in range(9, 16)]
    s = load_prices(put(tmp_path, "Datetime,Close\n" + "".join(f"{c},{100 + i}\n" for i, c in enumerate(cells))))
    assert set(s.dates.strftime("%H:%M")) == {f"{h:02d}:30" for h in range(9, 16)}
    assert [f"{d:%Y-%m-%d %H:%M}" for d in future_dates(s.dates, s.freq, 8, session=session_of(s.dates))] == [
        *(f"2023-11-20 {h:02d}:30" for h in range(9, 16)), "2023-11-21 09:30"]


# ------------------------------------------------------------------------------ day-first vs month-first
def test_ambiguous_slash_dates_are_month_first_and_say_it_was_a_guess(tmp_path):
    p = put(tmp_path, "Date,Close\n01/02/2020,1.5\n01/03/2020,2.5\n02/03/2020,3.5\n")
    with pytest.warns(DateOrderWarning) as record:
        s = load_prices(p)
    assert list(s.dates) == ts("2020-01-02", "2020-01-03", "2020-02-03")
    w = record[0].message
    assert (w.format, w.alternative, w.column, w.example) == ("%m/%d/%Y", "%d/%m/%Y", "Date", "01/02/2020")
    assert str(p) in str(w) and "month-first" in str(w) and "--date-format '%d/%m/%Y'" in str(w)
    col, rows = pd.Series(["01/02/2020", "01/03/2020", "02/03/2020"]), np.arange(2, 5)
    info = {}
    day_first = parse_dates(col, "Date", "f.csv", rows, dayfirst=True, info=info)
    assert list(day_first) == ts("2020-02-01", "2020-03-01", "2020-03-02")
    assert info["dayfirst"] is True and info["order_guessed"] is False
    assert list(parse_dates(col, "Date", "f.csv", rows, date_format="%d/%m/%Y")) == list(day_first)
    info = {}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        parse_dates(col, "Date", "f.csv", rows, info=info, warn=False)
    assert info == {"format": "%m/%d/%Y", "dayfirst": False, "order_guessed": True, "alternative": "%d/%m/%Y",
                    "tried": "%m/%d/%Y"}


def test_a_day_over_12_decides_and_dots_mean_day_first(tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("error", DateOrderWarning)
        s = load_prices(put(tmp_path, "Date,Close\n01/02/2020,1\n25/02/2020,2\n03/03/2020,3\n", "uk.csv"))
        assert list(s.dates) == ts("2020-02-01", "2020-02-25", "2020-03-03")
        s = load_prices(put(tmp_path, "Datum,Kurs\n01.02.2020,1\n02.02.2020,2\n03.02.2020,3\n", "de.csv"))
        assert list(s.dates) == ts("2020-02-01", "2020-02-02", "2020-02-03")


def test_dates_that_read_the_same_either_way_round_are_not_called_a_guess(tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("error", DateOrderWarning)
        s = load_prices(put(tmp_path, "Date,GDP\n01/01/1990,1\n01/01/1991,2\n01/01/1992,3\n01/01/1993,4\n"))
    assert list(s.dates) == ts("1990-01-01", "1991-01-01", "1992-01-01", "1993-01-01")
    with pytest.warns(DateOrderWarning, match="month-first"):  # one date that reads two ways is still a guess
        load_prices(put(tmp_path, "Date,GDP\n01/01/1990,1\n01/01/1991,2\n01/01/1992,3\n02/01/1993,4\n"))


def test_inconsistent_day_order_names_the_row_that_disagrees(tmp_path):
    p = put(tmp_path, "Date,Close\n01/02/2020,1\n13/02/2020,2\n14/02/2020,3\n02/15/2020,4\n")
    bad(p, "column 'Date' row 5", "cannot parse date '02/15/2020'", "one format", "%d/%m/%Y", "row 2 '01/02/2020'")


def test_mixed_formats_name_the_first_row_in_another_format(tmp_path):
    p = put(tmp_path, "Date,Close\n2009-08-04,1\n2009-08-05,2\nAug 6 2009,3\n2009-08-07,4\n")
    msg = bad(p, "row 4", "cannot parse date 'Aug 6 2009'", "one format", "ISO 8601", "; fix that date, delete that line "
              "or pass --date-col")
    p2 = put(tmp_path, "Date,Close\nAug 4 2009,1\nAug 5 2009,2\n2009-08-06,3\n", "b.csv")
    bad(p2, "row 4", "'2009-08-06'", "%b %d %Y")
    assert msg.count("row ") == 2


def test_date_col_given_drops_the_date_col_hint():
    df = pd.DataFrame({"when": ["2009-08-04", "2009-08-05", "someday"], "Close": ["1", "2", "3"]})
    rows = np.arange(2, 5)
    with pytest.raises(InputError) as given:
        read_dates(df, "when", "f.csv", rows)
    with pytest.raises(InputError) as guessed:
        read_dates(df, None, "f.csv", rows)
    assert "row 4: cannot parse date 'someday'" in str(given.value) and "--date-col" not in str(given.value)
    assert "or pass --date-col" in str(guessed.value)
    with pytest.raises(InputError, match="'someday'") as direct:
        parse_dates(df["when"], "when", "f.csv", rows, date_col_given=True)
    assert "--date-col" not in str(direct.value)


def test_date_format_keyword():
    col, rows = pd.Series(["04|08|09", "05|08|09", "06|08|09"]), np.arange(2, 5)
    assert list(parse_dates(col, "d", "f.csv", rows, date_format="%d|%m|%y")) == ts(*DAYS[:3])
    with pytest.raises(InputError, match=r"f.csv: column 'd' row 3: cannot parse date '32\|08\|09' "
                                         r"\(not in --date-format '%d\|%m\|%y'\)"):
        parse_dates(pd.Series(["04|08|09", "32|08|09"]), "d", "f.csv", rows, date_format="%d|%m|%y")


def test_numbers_out_of_the_first_values_range_are_refused(tmp_path):
    bad(put(tmp_path, "Date,Close\n1249344000,1\n1249430400,2\n20090806,3\n"), "row 4", "'20090806'", "epoch")
    bad(put(tmp_path, "Date,Close\n1986,1\n1987,2\n19880101,3\n", "y.csv"), "row 4", "'19880101'")


# ------------------------------------------------------------------------------------------- date column
@pytest.mark.parametrize("name", ["Datum", "fecha", "Fecha de cierre", "data", "Date/Heure", "日付", "time", "Tarih",
                                  "Дата", "Zeitstempel"])
def test_date_column_by_name_in_several_languages(tmp_path, name):
    text = f"Schluss,{name}\n" + "".join(f"{v},{d}\n" for d, v in zip(DAYS, CLOSE))
    s = load_prices(put(tmp_path, text))
    assert s.date_col == name and list(s.dates) == ts(*DAYS) and list(s.values) == CLOSE


def test_date_column_by_content(tmp_path):
    text = "Symbol,Session,Last\n" + "".join(f"GOOG,{d},{v}\n" for d, v in zip(TEXT_DATES["04-Aug-2009"], CLOSE))
    s = load_prices(put(tmp_path, text))
    assert s.date_col == "Session" and list(s.dates) == ts(*DAYS) and s.target == "Last"
    years = "Jahrgang,Wert\n" + "".join(f"{1990 + i},{v}\n" for i, v in enumerate(CLOSE))
    s = load_prices(put(tmp_path, years, "years.csv"))
    assert s.date_col == "Jahrgang" and s.dates[0] == pd.Timestamp("1990-01-01") and list(s.values) == CLOSE
    # plain numbers are not dates: no column is taken
    bad(put(tmp_path, "Open,Close\n1,2\n3,4\n5,6\n", "n.csv"), "no date column", "--date-col")
    bad(put(tmp_path, "Lot,Close\n2003,2\n1999,4\n2010,6\n", "lots.csv"), "no date column")


def test_named_like_a_date_but_not_dates_gives_the_parse_error(tmp_path):
    bad(put(tmp_path, "fecha,cierre\nlunes,1\nmartes,2\nmiércoles,3\n"), "column 'fecha' row 2",
        "cannot parse date 'lunes'")


# ----------------------------------------------------------------------------------------- yfinance files
YF_ONE = """Price,Close,High,Low,Open,Volume
Ticker,GOOG,GOOG,GOOG,GOOG,GOOG
Date,,,,,
2024-01-02,138.1699981689453,139.4199981689453,136.47999572753906,138.9700012207031,20071900
2024-01-03,138.9199981689453,139.91000366210938,137.44000244140625,137.86000061035156,18974300
2024-01-04,136.38999938964844,139.8800048828125,136.3300018310547,138.5500030517578,18253300
2024-01-05,135.72999572753906,137.38999938964844,135.1999969482422,136.38999938964844,15433200
2024-01-08,138.83999633789062,139.0,135.6199951171875,136.2899932861328,17645300
"""
YF_TWO = """Price,Close,Close,High,High,Volume,Volume
Ticker,AAPL,MSFT,AAPL,MSFT,AAPL,MSFT
Date,,,,,,
2024-01-02,184.29,367.75,186.67,372.05,82488700,25258600
2024-01-03,182.91,367.34,184.28,369.68,58414500,23083500
2024-01-04,180.59,364.80,181.92,369.10,71983600,20901500
"""


def test_yfinance_three_row_header_one_ticker(tmp_path):
    p = put(tmp_path, YF_ONE, "GOOG.csv")
    s = load_prices(p)
    assert s.date_col == "Date" and s.target == "Close"
    assert list(s.dates) == ts("2024-01-02", "2024-01-03", "2024-01-04", "2024-01-05", "2024-01-08")
    assert s.values[0] == 138.1699981689453 and s.values[-1] == 138.83999633789062
    df = read_table(p, str(p))
    assert list(df.columns) == ["Date", "Close", "High", "Low", "Open", "Volume"]
    assert df.attrs["first_line"] == 4 and set(df.attrs["tickers"].values()) == {"GOOG"}
    assert load_prices(p, target="Volume").values[1] == 18974300.0


def test_yfinance_several_tickers_keep_the_ticker_per_column(tmp_path):
    p = put(tmp_path, YF_TWO, "two.csv")
    df = read_table(p, str(p))
    assert list(df.columns) == ["Date", "Close AAPL", "Close MSFT", "High AAPL", "High MSFT", "Volume AAPL",
                                "Volume MSFT"]
    assert df.attrs["tickers"]["Close MSFT"] == "MSFT" and df.attrs["fields"]["Close MSFT"] == "Close"
    bad(p, "has 2 tickers (AAPL, MSFT)", "--target", "'Close AAPL'")
    bad(p, "has 2 tickers (AAPL, MSFT)", "'Close AAPL'", target="Close")
    s = load_prices(p, target="Close MSFT")
    assert list(s.values) == [367.75, 367.34, 364.80] and s.dates[-1] == pd.Timestamp("2024-01-04")
    long = stack_tickers(df)
    assert list(long.columns) == ["Date", "Ticker", "Close", "High", "Volume"]
    assert list(long["Ticker"]) == ["AAPL"] * 3 + ["MSFT"] * 3
    msft = series_from_frame(long[long.Ticker == "MSFT"].drop(columns="Ticker"), target="Close")
    assert list(msft.values) == [367.75, 367.34, 364.80]


def test_yfinance_group_by_ticker_and_older_two_level_headers(tmp_path):
    by_ticker = ("Ticker,AAPL,AAPL,MSFT,MSFT\nPrice,Open,Close,Open,Close\nDate,,,,\n"
                 "2024-01-02,187.15,184.29,373.86,367.75\n2024-01-03,184.22,182.91,369.01,367.34\n")
    df = read_table(put(tmp_path, by_ticker, "g.csv"), "g.csv")
    assert list(df.columns) == ["Date", "Open AAPL", "Close AAPL", "Open MSFT", "Close MSFT"]
    assert list(df["Close MSFT"]) == ["367.75", "367.34"]
    old = (",Adj Close,Adj Close,Close,Close\n,AAPL,MSFT,AAPL,MSFT\nDate,,,,\n"
           "2020-01-02,73.06,154.78,75.09,160.62\n2020-01-03,72.35,152.85,74.36,158.62\n")
    s = load_prices(put(tmp_path, old, "old.csv"), target="Adj Close MSFT")
    assert list(s.values) == [154.78, 152.85] and list(s.dates) == ts("2020-01-02", "2020-01-03")


def test_a_first_row_with_empty_cells_is_data_not_a_header(tmp_path):
    s = load_prices(put(tmp_path, "Date,Close\n2020-01-01,5\n2020-01-02,\n2020-01-03,3\n"))
    assert list(s.values) == [5.0, 5.0, 3.0] and s.n_filled == 1


def test_pandas_index_column_still_works(tmp_path):
    df = pd.DataFrame({"Date": pd.date_range("2009-08-04", periods=5, freq="B"), "Close": CLOSE})
    df.to_csv(tmp_path / "a.csv")  # unnamed 0..4 index, then Date
    s = load_prices(tmp_path / "a.csv")
    assert s.date_col == "Date" and list(s.values) == CLOSE
    df.set_index("Date").to_csv(tmp_path / "b.csv", sep=";", decimal=",")
    s = load_prices(tmp_path / "b.csv")
    assert s.date_col == "Date" and list(s.values) == CLOSE and list(s.dates) == list(df.Date)


# ----------------------------------------------------------------------------- separators and encodings
EURO = """Datum;Eröffnung;Schluss;Volumen
04.08.2009;455,22;453,73;1.234.567
05.08.2009;453,10;451,14;987.654
06.08.2009;451,00;450,36;1.005.000
07.08.2009;452,50;457,10;1.100.200
10.08.2009;457,00;455,76;876.543
"""


def test_european_semicolon_file_with_decimal_commas(tmp_path):
    p = put(tmp_path, EURO, "dax.csv")
    s = load_prices(p, target="Schluss")
    assert list(s.dates) == ts(*DAYS) and list(s.values) == CLOSE and s.date_col == "Datum"
    assert list(load_prices(p, target="Volumen").values) == [1234567.0, 987654.0, 1005000.0, 1100200.0, 876543.0]
    df = read_table(p, str(p))
    assert (df.attrs["sep"], df.attrs["decimal"]) == (";", ",")
    euro = "Datum;Kurs\n04.08.2009;€ 1.453,73\n05.08.2009;1.451,14 €\n06.08.2009;-0,5\n"
    assert list(load_prices(put(tmp_path, euro, "eur.csv")).values) == [1453.73, 1451.14, -0.5]


def test_tab_and_pipe_separated(tmp_path):
    tab = "Date\tClose\n" + "".join(f"{d}\t{v}\n" for d, v in zip(DAYS, CLOSE))
    assert list(load_prices(put(tmp_path, tab, "t.tsv")).values) == CLOSE
    tab_comma = "Date\tClose\n" + "".join(f"{d}\t{str(v).replace('.', ',')}\n" for d, v in zip(DAYS, CLOSE))
    assert list(load_prices(put(tmp_path, tab_comma, "tc.tsv")).values) == CLOSE
    pipe = "Date|Close\n" + "".join(f"{d}|{v}\n" for d, v in zip(DAYS, CLOSE))
    assert list(load_prices(put(tmp_path, pipe, "p.txt")).values) == CLOSE


def test_sep_and_decimal_keywords_override(tmp_path):
    p = put(tmp_path, "Date;Close\n2020-01-02;1,5\n", "one.csv")
    bad(p, "semicolon-separated", "use comma-separated values")  # one row: too little to sniff from
    df = read_table(p, str(p), sep=";")
    assert list(df.columns) == ["Date", "Close"] and list(df["Close"]) == ["1.5"]
    q = put(tmp_path, "Date;Close\n2020-01-02;1.234\n2020-01-03;2.345\n", "amb.csv")  # 1.234: ambiguous
    assert list(read_table(q, str(q))["Close"]) == ["1.234", "2.345"]  # '.' unless told
    assert list(read_table(q, str(q), decimal=",")["Close"]) == ["1234", "2345"]


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be", "utf-16-le", "utf-32", "utf-8-sig", "latin-1"])
def test_encodings(tmp_path, encoding):
    text = "Datum\tSchlußkurs\n" + "".join(f"{d}\t{str(v).replace('.', ',')}\n" for d, v in zip(
        TEXT_DATES["D.M.YYYY"], CLOSE))
    data = text.encode(encoding)
    if encoding == "utf-16-be":
        data = b"\xfe\xff" + data  # with a BOM
    s = load_prices(put(tmp_path, data))
    assert s.target == "Schlußkurs" and list(s.values) == CLOSE and list(s.dates) == ts(*DAYS)


def test_utf16_excel_unicode_text_with_crlf_and_gzip(tmp_path):
    text = "Date\tClose\r\n" + "".join(f"{d}\t{v}\r\n" for d, v in zip(TEXT_DATES["M/D/YYYY"], CLOSE))
    with pytest.warns(DateOrderWarning, match="month-first"):
        s = load_prices(put(tmp_path, text.encode("utf-16")))
    assert list(s.values) == CLOSE and list(s.dates) == ts(*DAYS)
    s = load_prices(put(tmp_path, gzip.compress(EURO.encode("utf-8")), "dax.csv.gz"), target="Schluss")
    assert list(s.values) == CLOSE



def test_a_comma_file_with_quoted_decimal_commas_is_read_with_them(tmp_path):
    """A German Investing.com export is comma-separated with every number quoted: "6.635,28". Its numbers were
    refused ('no numeric column'); a comma file whose quoted numbers read one way only now takes the decimal
    comma, while "6,635.28" and the ambiguous "1,234" keep the decimal point; a decimal comma the sniff cannot
    see is named in the error with the option that reads it."""
    tmp = tmp_path
    def german(v):
        return f"{v:,.2f}".replace(",", "X").replace(".", ",").replace("X", ".")  # 6.630,00

    de = '"Datum","Zuletzt","Vol.","+/- %"\n' + "".join(  # newest first, as exported
        f'"{d:%d.%m.%Y}","{german(v)}","2,10B","0,77%"\n'
        for d, v in zip(pd.bdate_range("2020-01-01", periods=30)[::-1], range(6630, 6660)))
    s = load_prices(put(tmp, de, "de.csv"))
    assert s.target == "Zuletzt" and (s.values[0], s.values[-1]) == (6659.0, 6630.0)  # sorted oldest first
    assert (s.dates[0], s.freq) == (pd.Timestamp("2020-01-01"), "business_days")
    us = "Date,Close\n" + "".join(f'2020-01-{k:02d},"6,6{k:02d}.25"\n' for k in range(1, 29))
    assert load_prices(put(tmp, us, "us.csv")).values[0] == 6601.25
    thousands = "Date,Close\n" + "".join(f'2020-01-{k:02d},"1,{k:03d}"\n' for k in range(1, 29))
    assert load_prices(put(tmp, thousands, "k.csv")).values[0] == 1001.0
    note = "Date,Close,Note\n" + "".join(f'2020-01-{k:02d},"32,{k:03d}",{chr(34) + "0,5" + chr(34) if k == 9 else ""}\n'
                                          for k in range(1, 29))  # one stray "0,5" in a note: prices stay 32,0..
    assert load_prices(put(tmp, note, "note.csv")).values[0] == 32001.0
    yen = "Date,Close,Ratio\n" + "".join(f'2020-01-{k:02d},108.{k:03d},{chr(34) + "2,1" + chr(34) if k == 9 else ""}\n'
                                         for k in range(1, 29))  # three decimals are no evidence either way
    assert load_prices(put(tmp, yen, "yen.csv")).values[0] == 108.001
    mixed = "Date,Close\n2020-01-01,5.5\n" + "".join(f'2020-01-{k:02d},"6,{k}"\n' for k in range(2, 29))
    bad(put(tmp, mixed, "mixed.csv"), "column 'Close' row 3: '6,2' is not a number; fix or delete that value; if "
        "',' is its decimal mark, pass --decimal ,")



def test_investing_com_volumes_and_changes_are_numbers_as_covariates_only(tmp_path):
    """Investing.com writes volumes as '2.10B' / '734.50K' (a German export '2,10B') and changes as '0.77%':
    such a column was 'not numeric', so --features could not use it; the suffix scales a covariate's numbers.
    A price is never read so: a stray '1.2K' among prices stays an error, and the suffixed columns are no
    series of --targets all."""
    from forecast.data.panel import load_panel

    rows = "".join(f'"{d:%b %d, %Y}","{6600 + k}.25","{2 + k / 100:.2f}B","{k / 10:.2f}%"\n'
                   for k, d in enumerate(pd.bdate_range("2020-01-01", periods=30)))
    path = put(tmp_path, '"Date","Price","Vol.","Change %"\n' + rows, "inv.csv")
    s = load_panel(path, features=("vol.", "change %")).series[0]
    assert s.values[0] == 6600.25 and list(s.features[:2, 0]) == [2.0e9, 2.01e9]
    assert list(s.features[:3, 1]) == [0.0, 0.1, 0.2]  # percent points, as written
    assert load_panel(path, targets="all").ids == ["Price"]
    stray = put(tmp_path, "Date,Close\n" + "".join(f"2020-01-{k:02d},{'1.2K' if k == 5 else k}\n"
                                                      for k in range(1, 29)), "stray.csv")
    bad(stray, "column 'Close' row 6: '1.2K' is not a number")



def test_title_lines_above_the_header_are_skipped_with_a_warning_and_rows_keep_their_line_numbers(tmp_path):
    """An export's title ('Symbol: ^IXIC', 'Exported ...', a blank line) above the header gave pandas' 'Expected 1
    fields in line 3, saw 2'; lines without any separator over a table are a title: skipped, said, and the
    rows' numbers in messages stay the file's line numbers."""
    from forecast.data.read import TitleLinesWarning

    body = "Date,Close\n" + "".join(f"2020-01-{k:02d},{k}.5\n" for k in range(1, 29))
    with pytest.warns(TitleLinesWarning, match=r"skipped 3 lines above the table \('Symbol: \^IXIC / Exported "
                                               r"today'\): a title, not data"):
        s = load_prices(put(tmp_path, "Symbol: ^IXIC\nExported today\n\n" + body))
    assert list(s.values[:2]) == [1.5, 2.5] and s.dates[0] == pd.Timestamp("2020-01-01")
    with pytest.warns(TitleLinesWarning):
        bad(put(tmp_path, "Symbol: ^IXIC\n" + body.replace("2020-01-05,5.5", "2020-01-05,five"), "b.csv"),
            "column 'Close' row 7: 'five' is not a number")  # line 7: title, header, then the fifth data row
    assert list(load_prices(put(tmp_path, body, "plain.csv")).values[:1]) == [1.5]  # no title: as before
    with warnings.catch_warnings():
        warnings.simplefilter("error", TitleLinesWarning)  # a one-column file's header is no title
        bad(put(tmp_path, 'Close\n"3,202.51"\n"3,199.87"\n"3,205.10"\n', "one.csv"), "(columns: Close)")



def test_year_and_quarter_columns_are_one_date(tmp_path):
    """statsmodels' macrodata has the year and the quarter in two columns (1959.0, 1.0): the year was taken as
    the date, and four rows a year were 'duplicate dates'; the two now make one quarterly date column, and
    year + month a monthly one. A file with a date column keeps it."""
    import statsmodels.api as sm

    macro = sm.datasets.macrodata.load_pandas().data[["year", "quarter", "realgdp", "cpi"]]
    macro.to_csv(tmp_path / "macro.csv", index=False)
    s = load_prices(tmp_path / "macro.csv", target="realgdp")
    assert (s.date_col, s.freq, len(s)) == ("year+quarter", "quarterly", 203)
    assert list(s.dates[:2]) == ts("1959-01-01", "1959-04-01") and s.values[0] == 2710.349
    monthly = "Year,Month,Close\n" + "".join(f"{2000 + k // 12},{k % 12 + 1},{k}.5\n" for k in range(30))
    s = load_prices(put(tmp_path, monthly, "m.csv"))
    assert (s.date_col, s.freq, s.dates[-1]) == ("Year+Month", "monthly", pd.Timestamp("2002-06-01"))
    dated = "Date,Year,Quarter,Close\n" + "".join(f"2020-01-{k:02d},2020,1,{k}\n" for k in range(1, 29))
    assert load_prices(put(tmp_path, dated, "d.csv")).date_col == "Date"
    indexed = pd.DataFrame({"year": 2010, "month": np.arange(60) % 12 + 1, "close": np.arange(60.0)},
                           index=pd.date_range("2010-01-31", periods=60, freq="ME"))
    indexed.to_csv(tmp_path / "i.csv")  # a pandas index written unnamed holds the dates: kept, month ends
    s = load_prices(tmp_path / "i.csv", target="close")
    assert (s.freq, s.dates[0], len(s)) == ("monthly", pd.Timestamp("2010-01-31"), 60)


def test_missing_weeks_are_filled_between_their_rows_only(tmp_path):
    """Weekly rows on Tuesdays and a Saturday, four weeks apart: the weeks between were filled on the file's
    weekday, and the last fill fell on the next row's date, giving a date twice (the round-trip property test
    drew it); each fill now lies strictly between its two rows."""
    text = "Date,Close\n" + "".join(f"{d},{k}\n" for k, d in enumerate(
        ["1995-01-02", "1995-01-10", "1995-01-17", "1995-01-24", "1995-01-30", "1995-02-11", "1995-03-14"]))
    with pytest.warns(MissingPeriodsWarning, match=r"3 weeks had no row \(1995-02-21, 1995-02-28, 1995-03-07\)"):
        s = load_prices(put(tmp_path, text))
    assert s.dates.is_unique and s.dates.is_monotonic_increasing and s.dates[-1] == pd.Timestamp("1995-03-14")
    assert list(s.values[-5:]) == [5.0, 5.0, 5.0, 5.0, 6.0]


# --------------------------------------------------------------------------- property: to_csv round trip
DATE_STYLES = ["%Y-%m-%d", "%m/%d/%Y", "%d.%m.%Y", "%Y%m%d", "%d-%b-%Y", "%b %d %Y", "%a, %d %b %Y",
               "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%SZ", "%B %d, %Y", "epoch"]


@st.composite
def written_frames(draw):
    n = draw(st.integers(3, 30))
    start = pd.Timestamp("1995-01-01") + pd.Timedelta(days=draw(st.integers(0, 9000)))
    gaps = draw(st.lists(st.integers(1, 40), min_size=n - 1, max_size=n - 1))
    dates = pd.DatetimeIndex([start + pd.Timedelta(days=int(g)) for g in np.cumsum([0] + gaps)])
    style = draw(st.sampled_from(DATE_STYLES))
    if "%H" in style:
        dates = dates + pd.Timedelta(minutes=draw(st.integers(0, 1439)))
    values = [round(v, 2) for v in draw(st.lists(st.floats(0.01, 99999), min_size=n, max_size=n))]
    sep = draw(st.sampled_from([",", ";", "\t"]))
    decimal = draw(st.sampled_from([".", ","])) if sep != "," else "."
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "utf-16"]))
    index = draw(st.booleans())
    cells = (dates.asi8 // 10**9).astype(str) if style == "epoch" else dates.strftime(style)
    df = pd.DataFrame({"Date": cells, "Close": values})
    return df, dates, np.array(values), dict(sep=sep, decimal=decimal, encoding=encoding, index=index)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(written_frames())
def test_any_frame_pandas_writes_loads_back(tmp_path_factory, case):
    df, dates, values, kw = case
    path = tmp_path_factory.mktemp("roundtrip") / "prices.csv"
    df.to_csv(path, **kw)
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("ignore", DateOrderWarning)  # M/D/YYYY with no day over 12 is a (right) guess
        warnings.simplefilter("always", MissingPeriodsWarning)
        s = load_prices(path)
    assert s.target == "Close" and s.date_col == "Date"
    if any(issubclass(w.category, MissingPeriodsWarning) for w in seen):
        # dates that read as weekly or monthly with a period missing: the loader adds it, carrying the price
        # before it forward, and says so; every written row is still there, unchanged
        at = pd.DatetimeIndex(s.dates).get_indexer(dates)
        assert (at >= 0).all() and len(s.dates) > len(dates)
        np.testing.assert_array_equal(s.values[at], values)
        added = np.setdiff1d(np.arange(len(s.dates)), at)
        np.testing.assert_array_equal(s.values[added], s.values[added - 1])
        return
    assert list(s.dates) == list(dates)
    np.testing.assert_array_equal(s.values, values)


# ------------------------------------------------------------------------------------------------ calendars
def test_frequency_labels_old_and_new():
    assert set(MORE_FREQUENCIES) == {"annual", "intraday"} and not set(MORE_FREQUENCIES) & set(FREQUENCIES)
    assert ALL_FREQUENCIES == {**FREQUENCIES, **MORE_FREQUENCIES}
    yearly = pd.date_range("2000-01-01", periods=12, freq="YS")
    assert (infer_frequency(yearly), infer_frequency(yearly, detailed=True)) == ("other", "annual")
    hours = pd.date_range("2020-01-01", periods=300, freq="h")
    assert (infer_frequency(hours), infer_frequency(hours, detailed=True)) == ("hourly", "hourly")


@pytest.mark.parametrize("history, expected", [
    (["2010-12-31", "2011-12-31", "2012-12-31"], ["2013-12-31", "2014-12-31", "2015-12-31"]),  # no drift
    (["2010-01-01", "2011-01-01", "2012-01-01"], ["2013-01-01", "2014-01-01", "2015-01-01"]),
    (["2013-06-30", "2014-06-30", "2015-06-30"], ["2016-06-30", "2017-06-30", "2018-06-30"]),
    (["2014-12-31", "2015-12-31", "2016-12-30"], ["2017-12-29", "2018-12-31", "2019-12-31"]),  # last weekday
    (["2013-03-15", "2014-03-15", "2015-03-15"], ["2016-03-15", "2017-03-15", "2018-03-15"]),
])
def test_annual_future_dates_keep_the_files_month_and_day(history, expected):
    dates = pd.DatetimeIndex(history)
    for freq in ("annual", "other"):  # "other": what bundles with yearly data stored before
        assert list(future_dates(dates, freq, 3)) == ts(*expected)


def test_monthly_on_the_last_trading_day_and_quarterly_ends():
    last_trading = pd.date_range("2017-06-01", "2018-04-30", freq=pd.offsets.CustomBusinessMonthEnd(
        calendar=trading_day().calendar))
    assert pd.Timestamp("2018-03-29") in last_trading  # Good Friday 2018-03-30
    assert list(future_dates(last_trading, "monthly", 3)) == ts("2018-05-31", "2018-06-29", "2018-07-31")
    q = pd.DatetimeIndex(["2017-12-29", "2018-03-29", "2018-06-29", "2018-09-28"])
    assert list(future_dates(q, "quarterly", 2)) == ts("2018-12-31", "2019-03-29")


def test_weekly_stays_on_the_files_weekday_after_a_holiday_week():
    fridays = pd.DatetimeIndex(["2019-03-22", "2019-03-29", "2019-04-05", "2019-04-12", "2019-04-18"])  # Thu: Good Friday
    assert infer_frequency(fridays) == "weekly"
    assert list(future_dates(fridays, "weekly", 2)) == ts("2019-04-26", "2019-05-03")


def _minute_bars(start, end):
    days = pd.date_range(start, end, freq=trading_day())
    return pd.DatetimeIndex(np.concatenate([
        (d + pd.Timedelta(hours=9, minutes=30) + pd.to_timedelta(np.arange(390), unit="min")).to_numpy()
        for d in days]))


def test_intraday_minutes_stay_in_the_session_and_skip_nights_weekends_and_holidays():
    bars = _minute_bars("2024-06-20", "2024-07-03")  # Thu .. Wed; Thursday 2024-07-04 is a holiday
    assert bars[-1] == pd.Timestamp("2024-07-03 15:59")
    assert infer_frequency(bars, detailed=True) == "intraday" and infer_frequency(bars) == "other"
    for freq in ("intraday", "other"):
        out = future_dates(bars, freq, 392)
        assert list(out[:2]) == ts("2024-07-05 09:30", "2024-07-05 09:31")
        assert out[389] == pd.Timestamp("2024-07-05 15:59") and list(out[390:]) == ts("2024-07-08 09:30",
                                                                                        "2024-07-08 09:31")
    mid = bars[bars < pd.Timestamp("2024-07-01 15:58")]  # ends in the afternoon of Monday 07-01
    assert list(future_dates(mid, "intraday", 3)) == ts("2024-07-01 15:58", "2024-07-01 15:59", "2024-07-02 09:30")
    short = _minute_bars("2024-06-26", "2024-07-01")[:-2]  # Wed .. Mon: no Tuesday seen, still a trading day
    assert list(future_dates(short, "intraday", 3)) == ts("2024-07-01 15:58", "2024-07-01 15:59", "2024-07-02 09:30")


def test_hourly_stock_bars_fx_24_5_and_crypto_24_7():
    days = pd.date_range("2024-03-04", "2024-03-15", freq=trading_day())
    bars = pd.DatetimeIndex([d + pd.Timedelta(hours=9, minutes=30) + pd.Timedelta(hours=h) for d in days
                             for h in range(7)])  # 09:30 .. 15:30, as yfinance writes 1h bars
    assert infer_frequency(bars) == "hourly" and infer_frequency(bars, detailed=True) == "intraday"
    assert list(future_dates(bars, "hourly", 2)) == ts("2024-03-18 09:30", "2024-03-18 10:30")
    fx = pd.date_range("2024-03-03 22:00", "2024-03-15 21:00", freq="h")
    fx = fx[~((fx.day_of_week == 5) | ((fx.day_of_week == 4) & (fx.hour > 21))
              | ((fx.day_of_week == 6) & (fx.hour < 22)))]
    assert list(future_dates(fx, "hourly", 3)) == ts("2024-03-17 22:00", "2024-03-17 23:00", "2024-03-18 00:00")
    crypto = pd.date_range("2024-03-01", "2024-03-10 23:00", freq="h")
    assert infer_frequency(crypto, detailed=True) == "hourly"
    assert list(future_dates(crypto, "hourly", 2)) == ts("2024-03-11 00:00", "2024-03-11 01:00")


def test_a_session_stamped_in_utc_takes_the_hours_after_the_last_daylight_saving_change():
    """NYSE hourly bars written in UTC: 13:30-19:30 in summer, 14:30-20:30 from 2018-11-05. The session was the
    file's most common hours (summer's), so the forecast bars came an hour early and the first before the
    open; it is now the latest two weeks' hours."""
    days = pd.date_range("2018-08-01", "2018-11-21", freq=trading_day())
    bars = pd.DatetimeIndex([d + pd.Timedelta(hours=13 + (d >= pd.Timestamp("2018-11-05")), minutes=30)
                             + pd.Timedelta(hours=h) for d in days for h in range(7)])
    assert list(future_dates(bars, "hourly", 8, session=session_of(bars))) == ts(
        "2018-11-23 14:30", "2018-11-23 15:30", "2018-11-23 16:30", "2018-11-23 17:30", "2018-11-23 18:30",
        "2018-11-23 19:30", "2018-11-23 20:30", "2018-11-26 14:30")  # Thanksgiving (11-22) closed
    week = bars[bars < pd.Timestamp("2018-11-10")]  # one week after the change: old and new hours tie
    assert session_of(week)["days"] == {str(w): ["14:30:00", "20:30:00"] for w in range(5)}
    three = bars[bars < pd.Timestamp("2018-11-08")]  # three days after it: every weekday moves, not just those seen
    assert session_of(three)["days"] == {str(w): ["14:30:00", "20:30:00"] for w in range(5)}
    late = bars[bars != pd.Timestamp("2018-11-19 14:30")]  # one missing first bar moves nothing
    assert session_of(late)["days"]["0"] == ["14:30:00", "20:30:00"]
    crypto = pd.date_range("2021-01-01", "2021-02-09 23:00", freq="h")
    assert session_of(crypto[crypto != pd.Timestamp("2021-02-08 00:00")]) is None  # still around the clock
    short = bars[(bars < pd.Timestamp("2018-11-24"))]
    half = short.append(pd.DatetimeIndex([pd.Timestamp("2018-11-23 14:30") + pd.Timedelta(hours=h)
                                          for h in range(4)] + [pd.Timestamp("2018-11-26 14:30")]))
    assert session_of(half)["days"]["4"] == ["14:30:00", "20:30:00"]  # a half day's early close is no session


def test_hourly_bars_within_a_session_have_a_day_and_week_of_that_many_bars():
    """NYSE hourly bars (7 a day on 5 days): the seasonal models' day is 7 bars and their week 35, not 24 and 168
    (a seasonal naive forecast 24 bars back looked three and a half trading days back); FX (24 on 5 days) has a
    week of 120; around the clock the calendar's 24 and 168 stay."""
    from forecast.config import RunConfig, WindowConfig
    from forecast.data.panel import Panel, Series
    from forecast.evaluation.backtest import backtest
    from forecast.models.baselines import seasons_of

    def of(dates):
        return Series("s", 100 + np.cumsum(np.random.default_rng(1).normal(size=len(dates))), dates,
                      np.zeros((len(dates), 0)), "hourly")

    days = pd.date_range("2024-03-04", "2024-04-26", freq=trading_day())
    bars = pd.DatetimeIndex([d + pd.Timedelta(hours=9, minutes=30) + pd.Timedelta(hours=h) for d in days
                             for h in range(7)])
    fx = pd.date_range("2024-03-03 22:00", "2024-03-15 21:00", freq="h")
    fx = fx[~((fx.day_of_week == 5) | ((fx.day_of_week == 4) & (fx.hour > 21))
              | ((fx.day_of_week == 6) & (fx.hour < 22)))]
    crypto = pd.date_range("2024-03-01", "2024-03-10 23:00", freq="h")
    assert [seasons_of(of(d)) for d in (bars, fx, crypto)] == [(7, 35), (24, 120), (24, 168)]
    s = of(bars)
    bt = backtest(Panel((s,)), RunConfig(window=WindowConfig(window=10, horizon=7)), folds=2,
                  models=("seasonal_naive",))
    assert bt.report["settings"]["season"] == 7
    first = bt.forecasts.iloc[0]  # the first origin's first step: the price of the same hour a trading day before
    target = bars.get_loc(pd.Timestamp(first["date"]))
    assert first["forecast"] == s.values[target - 7] and bars[target - 7].hour == bars[target].hour
    assert (bars[target] - bars[target - 7]).days in (1, 3)  # the day before, or Friday before a Monday


def test_a_file_without_a_header_row_keeps_its_first_row(tmp_path):
    p = put(tmp_path, "".join(f"{d},{v}\n" for d, v in zip(DAYS, CLOSE)), "nohead.csv")
    df = read_table(p, str(p))
    assert list(df.columns) == ["column 1", "column 2"] and df.attrs["first_line"] == 1
    s = load_prices(p)
    assert list(s.dates) == ts(*DAYS) and list(s.values) == CLOSE  # the first row is not lost to a header
    klines = "".join(f"{int(pd.Timestamp(d).timestamp()) * 1000},{v},{v + 1}\n" for d, v in zip(DAYS, CLOSE))
    s = load_prices(put(tmp_path, klines, "klines.csv"), target="column 2")
    assert s.date_col == "column 1" and list(s.dates) == ts(*DAYS) and list(s.values) == CLOSE


def test_investing_com_style_quoted_file(tmp_path):
    text = ('"Date","Price","Open","High","Low","Vol.","Change %"\n'
            '"Aug 10, 2009","455.76","457.00","458.10","453.20","1.23M","-0.29%"\n'
            '"Aug 07, 2009","457.10","452.50","458.00","451.90","1.10M","1.50%"\n'
            '"Aug 06, 2009","450.36","451.00","453.00","449.10","1.01M","-0.17%"\n'
            '"Aug 05, 2009","451.14","453.10","454.00","450.00","0.99M","-0.57%"\n'
            '"Aug 04, 2009","453.73","455.22","456.00","452.00","1.23M","0.31%"\n')
    s = load_prices(put(tmp_path, text))
    assert s.target == "Price" and list(s.dates) == ts(*DAYS) and list(s.values) == CLOSE


def test_a_stored_session_continues_from_the_last_window_only():
    from forecast.data.calendar import session_of

    bars = _minute_bars("2024-06-20", "2024-07-03")
    spec = session_of(bars)
    assert spec == {"days": {str(w): ["09:30:00", "15:59:00"] for w in range(5)}, "holidays": True}
    window = bars[-11:]  # what a bundle keeps: one afternoon, nothing about nights
    assert future_dates(window, "other", 1)[0] == pd.Timestamp("2024-07-03 16:00")
    assert list(future_dates(window, "other", 2, session=spec)) == ts("2024-07-05 09:30", "2024-07-05 09:31")
    assert session_of(pd.date_range("2024-01-01", periods=200, freq="h")) is None  # around the clock
    assert session_of(pd.bdate_range("2024-01-01", periods=50)) is None  # daily


def test_a_bundle_of_24_7_hourly_prices_forecasts_every_hour_in_one_date_format(tmp_path, tiny_cfg):
    """Crypto-like hourly prices around the clock store no session (None): predict from the bundle's last window
    continued on a session guessed from its 30 hours, skipping Wednesday's evening and the weekend; the
    forecast dates now follow the clock, and the JSON writes every date with its time (midnight too)."""
    from forecast.bundle import load_bundle
    from forecast.workflows.predict import predict
    from forecast.workflows.train import train

    t = pd.date_range(end="2018-11-14 15:00", periods=600, freq="h")  # ends on a Wednesday afternoon
    prices = 100 + np.cumsum(np.random.default_rng(0).normal(size=600))
    pd.DataFrame({"date": t, "close": prices}).to_csv(tmp_path / "c.csv", index=False)
    bundle = load_bundle(train(tmp_path / "c.csv", tiny_cfg, tmp_path / "m", verbose=0).bundle_dir)
    assert bundle.series["series"][0]["session"] is None
    fc = predict(bundle, horizon=60)
    assert list(fc.frame["date"]) == list(pd.date_range("2018-11-14 16:00", periods=60, freq="h"))
    assert [r["date"] for r in fc.records()][7:10] == ["2018-11-14 23:00:00", "2018-11-15 00:00:00",
                                                      "2018-11-15 01:00:00"]
    pd.DataFrame({"date": t[:-5], "close": prices[:-5]}).to_csv(tmp_path / "older.csv", index=False)
    with pytest.raises(ForecastError, match=r"older.csv: ends on 2018-11-14 10:00:00, before the model's data "
                                            r"\(to 2018-11-14 15:00:00\)"):  # the hours, not one day twice
        predict(bundle, data_path=tmp_path / "older.csv")


def test_excel_workbook_and_files_that_stay_refused(tmp_path):
    import zipfile

    with zipfile.ZipFile(tmp_path / "prices.xlsx", "w") as z:
        z.writestr("xl/workbook.xml", "<workbook/>")
    bad(tmp_path / "prices.xlsx", "looks like an Excel workbook", "save the sheet as CSV")
    bad(put(tmp_path, "Date,Close\n40029,1\n40030,2\n40031,3\n", "serial.csv"), "row 2", "'40029'")
    bad(put(tmp_path, "Date,Close\nAug 4,1\nAug 5,2\nAug 6,3\n", "noyear.csv"), "row 2", "needs a year")


@pytest.mark.parametrize("header, target", [
    ("Date,Close/Last,Volume,Open,High,Low", "Close/Last"),  # nasdaq.com's export
    ("Datum,Eröffnung,Schlusskurs,Volumen,Hoch,Tief", "Schlusskurs"),
    ("Fecha,Apertura,Cierre,Volumen,Máximo,Mínimo", "Cierre"),
    ("日付,始値,終値,出来高,高値,安値", "終値"),
])
def test_close_column_named_otherwise_or_in_another_language(tmp_path, header, target):
    cols = header.split(",")
    lines = [header]
    for i, (d, v) in enumerate(zip(DAYS, CLOSE)):
        cells = {c: str(v - 1 - k) for k, c in enumerate(cols[1:])}  # open, high, ...: other numbers
        cells[target] = f"${v}"
        lines.append(",".join([d] + [cells[c] for c in cols[1:]]))
    s = load_prices(put(tmp_path, "\n".join(lines) + "\n"))
    assert s.target == target and list(s.values) == CLOSE


# ----------------------------------------------------------------------- the options and layouts through the panel
def _yf_two_tickers(n: int = 80) -> str:
    dates = pd.bdate_range("2024-01-02", periods=n)
    rng = np.random.default_rng(3)
    a, m = 180 * np.exp(np.cumsum(rng.normal(0, 0.01, n))), 360 * np.exp(np.cumsum(rng.normal(0, 0.01, n)))
    rows = "".join(f"{d.date()},{x:.2f},{y:.2f},{x * 1.01:.2f},{y * 1.01:.2f}\n" for d, x, y in zip(dates, a, m))
    return "Price,Close,Close,High,High\nTicker,AAPL,MSFT,AAPL,MSFT\nDate,,,,\n" + rows


def test_a_multi_ticker_yfinance_file_is_a_panel_with_id_col(tmp_path):
    from forecast.data.panel import load_panel

    path = put(tmp_path, _yf_two_tickers(), "yf.csv")
    panel = load_panel(path, id_col="Ticker")
    assert panel.ids == ["AAPL", "MSFT"] and panel.layout == "long" and [len(s) for s in panel] == [80, 80]
    assert panel["MSFT"].dates[0] == pd.Timestamp("2024-01-02") and panel.target == "Close"


def test_cli_sep_decimal_and_date_format_reach_the_loader(tmp_path):
    """A ';'-separated one-row file is only readable with --sep; --date-format reads day-first dates; the error
    for a bad date names the row and, when --date-col was given, does not suggest it again."""
    from typer.testing import CliRunner

    from forecast.cli import app
    from forecast.data.panel import load_panel

    dates = pd.bdate_range("2024-01-02", periods=90)
    body = "".join(f"{d:%d/%m/%Y};{100 + i * 0.5:.2f}".replace(".", ",") + "\n" for i, d in enumerate(dates))
    path = put(tmp_path, "when;close\n" + body, "eu.csv")
    panel = load_panel(path, sep=";", decimal=",", date_format="%d/%m/%Y")
    assert panel.series[0].dates[12] == dates[12] and panel.series[0].values[1] == 100.5
    flags = ["--sep", ";", "--decimal", ",", "--date-format", "%d/%m/%Y", "--window", "5", "--horizon", "2",
             "--layers", "4", "--epochs", "1", "-q", "--model", str(tmp_path / "m")]
    res = CliRunner().invoke(app, ["train", str(path), *flags])
    assert res.exit_code == 0, res.output
    cfg = json.loads((tmp_path / "m" / "config.json").read_text())["data"]
    assert (cfg["sep"], cfg["decimal"], cfg["date_format"]) == (";", ",", "%d/%m/%Y")
    bad = put(tmp_path, "when;close\n" + body.replace("15/01/2024", "2024-01-15"), "bad.csv")
    res = CliRunner().invoke(app, ["train", str(bad), *flags[:6], "--date-col", "when", "-m", str(tmp_path / "n")])
    assert res.exit_code == 2 and "row 11" in res.stderr and "pass --date-col" not in res.stderr, res.stderr


def test_monthly_dates_with_no_day_over_12_are_read_the_way_that_gives_regular_months(tmp_path):
    """01/07/1991, 01/08/1991, ...: only day-first gives one date a month (month-first: seven January days, then
    a year's jump), so it is read day-first without a guess; 07/01/1991, 08/01/1991, ... month-first, also without
    one. Where both readings are regular, the separator's guess stands, with its warning (test above)."""
    months = pd.date_range("1991-07-01", periods=30, freq="MS")
    rows = "".join(f"{d:%d/%m/%Y},{100 + i}\n" for i, d in enumerate(months))
    with warnings.catch_warnings():
        warnings.simplefilter("error", DateOrderWarning)
        s = load_prices(put(tmp_path, "date,value\n" + rows, "dmy.csv"))
        assert list(s.dates) == list(months) and s.freq == "monthly"
        rows = "".join(f"{d:%m/%d/%Y},{100 + i}\n" for i, d in enumerate(months))
        s = load_prices(put(tmp_path, "date,value\n" + rows, "mdy.csv"))
        assert list(s.dates) == list(months) and s.freq == "monthly"
    info = {}
    parse_dates(pd.Series([f"{d:%d/%m/%Y}" for d in months]), "date", "f.csv", np.arange(2, 32), info=info)
    assert (info["format"], info["dayfirst"], info["order_guessed"], info["alternative"]) == (
        "%d/%m/%Y", True, False, "%m/%d/%Y")


# ------------------------------------------------------------------------------ missing weeks, months, quarters
def test_a_month_with_no_row_is_a_missing_value_filled_with_a_warning_not_skipped(tmp_path):
    """Monthly prices with three months left out: each gets a row one month after the last (month-end dates stay
    month-ends), filled with the last price and counted in n_filled, and a warning names them; the next month's
    price stays in its own month, so the season does not slip. More than --max-fill in a row is an error naming
    the months and rows; a panel's series are filled the same way; trading days keep their own dates."""
    from forecast.data.load import MissingPeriodsWarning
    from forecast.data.panel import load_panel

    ends = pd.date_range("2019-01-31", periods=24, freq="ME")
    keep = [d for d in ends if d not in ends[5:8]]  # June, July and August 2019 missing
    text = "date,value\n" + "".join(f"{d:%Y-%m-%d},{100 + d.month}\n" for d in keep)
    with pytest.warns(MissingPeriodsWarning) as record:
        s = load_prices(put(tmp_path, text, "gap.csv"))
    assert list(s.dates) == list(ends) and s.freq == "monthly" and s.n_filled == 3
    assert list(s.values[4:9]) == [105, 105, 105, 105, 109]  # May's price carried over June-August
    assert str(record[0].message) == (f"{tmp_path / 'gap.csv'}: 3 months had no row (2019-06-30, 2019-07-31, "
                                      "2019-08-31); each was filled with the last price before it. If the months are "
                                      "not missing, fix the dates")
    bad(put(tmp_path, text, "gap.csv"), "no row for the 3 months between 2019-05-31 (row 6) and 2019-09-30 (row 7)",
        "add them to the file, or keep only the rows after the gap, or raise --max-fill to 3", max_fill=2)
    hole = "date,value\n" + "".join(f"{d:%Y-%m-%d},{i}\n" for i, d in enumerate(ends) if not 3 <= i <= 20)
    msg = bad(put(tmp_path, hole, "hole.csv"), "no row for the 18 months", "keep only the rows after the gap")
    assert "--max-fill" not in msg  # 18 flat months would be no fix
    # a blank price next to a missing month: the run counts both, and says one is no row of the file
    blank = text.replace("2019-05-31,105", "2019-05-31,")
    bad(put(tmp_path, blank, "blank.csv"), "rows 6-6: 4 consecutive missing values, 3 of them a period with no row",
        max_fill=3)
    # filled dates follow the file's own pattern: quarter-ends stay quarter-ends, last business days stay so
    q_ends = pd.date_range("2019-03-31", periods=12, freq="QE")
    bdays = pd.date_range("2020-01-31", periods=24, freq="BME")
    for dates, skip in ((q_ends, (5, 6)), (bdays, (20,))):
        rows = "".join(f"{d:%Y-%m-%d},{i + 1}\n" for i, d in enumerate(dates) if i not in skip)
        with pytest.warns(MissingPeriodsWarning):
            assert list(load_prices(put(tmp_path, "date,value\n" + rows)).dates) == list(dates)
    weeks = pd.date_range("2020-01-03", periods=30, freq="W-FRI")
    quarters = pd.date_range("2000-01-01", periods=30, freq="QS")
    for dates, unit in ((weeks, "week"), (quarters, "quarter")):
        rows = "".join(f"{d:%Y-%m-%d},{i + 1}\n" for i, d in enumerate(dates) if i != 10)
        with pytest.warns(MissingPeriodsWarning, match=f"1 {unit} had no row"):
            s = load_prices(put(tmp_path, "date,value\n" + rows))
        assert list(s.dates) == list(dates) and s.values[10] == 10 and s.n_filled == 1
    long = "id,date,value\n" + "".join(f"a,{d:%Y-%m-%d},{100 + d.month}\n" for d in keep) + "".join(
        f"b,{d:%Y-%m-%d},{200 + d.month}\n" for d in ends)
    with pytest.warns(MissingPeriodsWarning, match="3 months had no row"):
        panel = load_panel(put(tmp_path, long, "long.csv"), id_col="id")
    assert [list(x.dates) for x in panel.series] == [list(ends)] * 2 and panel.series[0].n_filled == 3
    days = pd.bdate_range("2021-01-04", periods=40).delete([5, 6, 7])  # weekdays left out: the series' own dates
    with warnings.catch_warnings():
        warnings.simplefilter("error", MissingPeriodsWarning)
        s = load_prices(put(tmp_path, "date,value\n" + "".join(f"{d:%Y-%m-%d},{i + 1}\n" for i, d in enumerate(days))))
    assert list(s.dates) == list(days) and s.n_filled == 0


def test_blank_prices_filled_are_named_in_a_warning(tmp_path):
    """Blank prices inside the series are forward-filled and counted; a warning names their lines, so the user can
    check them (leading blanks are dropped, not filled, and not named)."""
    from forecast.data.load import FilledValuesWarning

    p = put(tmp_path, "date,value\n2020-01-01,\n2020-01-02,1\n2020-01-03,\n2020-01-06,3\n2020-01-07,NA\n2020-01-08,6\n")
    with pytest.warns(FilledValuesWarning) as record:
        s = load_prices(p)
    assert list(s.values) == [1, 1, 3, 3, 6] and s.n_filled == 2
    assert [str(w.message) for w in record if w.category is FilledValuesWarning] == [
        f"{p}: 2 missing values in 'value' (rows 4, 6) filled with the value before each"]
