"""Property tests: random valid tables load correctly; random broken input gives only InputError."""

import csv
import io
import tempfile
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from forecast.data.calendar import FREQUENCIES, future_dates, infer_frequency
from forecast.data.load import PriceSeries, load_prices
from forecast.errors import InputError

SETTINGS = settings(max_examples=50, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])
NA = ["", "NaN", "nan", "null", "NA", ".", "-"]
FORMATS = {"iso": "%Y-%m-%d", "us": "{m}/{d}/{Y}", "int": "%Y%m%d"}
MAX_FILL = 3


def fmt_date(ts: pd.Timestamp, style: str) -> str:
    if style == "us":
        return f"{ts.month}/{ts.day}/{ts.year}"  # no zero padding
    return ts.strftime(FORMATS[style])


@st.composite
def tables(draw):
    """(csv text, expected dates, expected values, expected n_filled)."""
    n = draw(st.integers(1, 40))
    start = pd.Timestamp("1990-01-01") + pd.Timedelta(days=draw(st.integers(0, 12000)))
    # steps of under 6 days: a weekly-looking file would get its skipped weeks filled (test_real_files), not kept
    gaps = draw(st.lists(st.integers(1, 5), min_size=n - 1, max_size=n - 1))
    days = [start + pd.Timedelta(days=int(g)) for g in np.cumsum([0] + gaps)]
    values = draw(st.lists(st.floats(0.01, 1e6, allow_nan=False), min_size=n, max_size=n))
    missing = draw(st.lists(st.booleans(), min_size=n, max_size=n))
    run = 0
    for i, m in enumerate(missing):  # break runs longer than MAX_FILL
        run = run + 1 if m else 0
        if run > MAX_FILL:
            missing[i], run = False, 0
    assume(not all(missing))
    order = draw(st.permutations(range(n)))
    style = draw(st.sampled_from(sorted(FORMATS)))
    token = draw(st.sampled_from(NA))
    extra = draw(st.booleans())
    header = "Date,Close" + (",Ticker" if extra else "")
    lines = [header]
    for i in order:
        cell = token if missing[i] else repr(values[i])
        lines.append(f"{fmt_date(days[i], style)},{cell}" + (",XYZ" if extra else ""))
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    text = newline.join(lines) + draw(st.sampled_from(["", newline, newline * 3]))
    present = [i for i, m in enumerate(missing) if not m]
    lo, hi = present[0], present[-1]
    kept = pd.Series([np.nan if missing[i] else values[i] for i in range(n)]).ffill()
    expected_values = kept.to_numpy()[lo:hi + 1]
    n_filled = sum(missing[lo:hi + 1])
    return text, pd.DatetimeIndex(days[lo:hi + 1]), expected_values, n_filled


@contextmanager
def written(data):
    """A temporary file holding `data` (str -> UTF-8), removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="forecast-prop-") as d:
        path = Path(d) / "t.csv"
        path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
        yield path


@SETTINGS
@given(tables())
def test_valid_tables_load(table):
    text, dates, values, n_filled = table
    with written(text) as path:
        before = path.read_bytes()
        s = load_prices(path, max_fill=MAX_FILL)
        assert path.read_bytes() == before
    assert isinstance(s, PriceSeries)
    assert len(s) == len(dates) == len(s.dates)
    assert s.dates.is_monotonic_increasing and s.dates.is_unique and s.dates.tz is None
    assert list(s.dates) == list(dates)
    assert np.array_equal(s.values, values) and s.values.dtype == np.float64
    assert s.n_filled == n_filled and s.target == "Close" and s.freq in FREQUENCIES


@st.composite
def broken_tables(draw):
    text, _, _, _ = draw(tables())
    rows = list(csv.reader(io.StringIO(text)))
    data_rows = [i for i, r in enumerate(rows) if i > 0 and r]
    i = draw(st.sampled_from(data_rows))
    junk = draw(st.sampled_from(["x", "@", "?", "abc", "1.2.3", "12a"])) + draw(st.text(max_size=8))
    rows[i][1] = junk
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue(), i + 1, junk


@SETTINGS
@given(broken_tables())
def test_text_in_numeric_column_is_input_error(table):
    text, line, junk = table
    with written(text) as path:
        try:
            load_prices(path, max_fill=MAX_FILL)
        except InputError as e:
            msg = str(e)
        else:
            raise AssertionError(f"broken cell {junk!r} in line {line} was accepted")
    assert str(path) in msg and "\n" not in msg and "\r" not in msg
    if junk.isprintable() and "\x00" not in junk:
        assert f"column 'Close' row {line}:" in msg and "is not a number" in msg


@SETTINGS
@given(st.binary(min_size=1, max_size=300),
       st.sampled_from(["", "Date,Close\n", "Date,Close\n2020-01-02,1\n"]))
def test_arbitrary_bytes_never_crash(data, prefix):
    with written(prefix.encode() + data) as path:
        try:
            s = load_prices(path)
        except InputError as e:
            assert str(path) in str(e) and "\n" not in str(e)
        else:
            assert np.isfinite(s.values).all() and s.dates.is_monotonic_increasing


@SETTINGS
@given(st.integers(0, 8000), st.integers(3, 60), st.integers(1, 30),
       st.sampled_from(["trading_days", "business_days", "daily", "weekly", "monthly"]))
def test_future_dates_continue_calendar(offset, n, horizon, freq):
    start = pd.Timestamp("2000-01-03") + pd.Timedelta(days=offset)
    step = {"trading_days": "C", "business_days": "B", "daily": "D", "weekly": "7D",
            "monthly": "ME"}[freq]
    if freq == "trading_days":
        from forecast.data.calendar import trading_day
        base = pd.date_range(start, periods=n, freq=trading_day())
    else:
        base = pd.date_range(start, periods=n, freq=step)
    out = future_dates(base, freq, horizon)
    assert len(out) == horizon and out[0] > base[-1] and out.is_monotonic_increasing
    assert out.tz is None and out.is_unique
    if freq in ("trading_days", "business_days"):
        assert (out.day_of_week < 5).all()
        # continuing the calendar from the start gives the same dates
        full = pd.date_range(base[0], periods=n + horizon,
                             freq=base.freq if freq == "trading_days" else "B")
        assert list(out) == list(full[n:])
    if n >= 20 and freq != "trading_days":
        assert infer_frequency(base) == freq
