"""Load and validate price files (CSV, CSV.gz, Parquet) into a PriceSeries; synthetic series.

Every problem with a user's file is an `InputError` whose one-line message names the file (as
given), the column or row, and the fix. Row numbers are the file's line numbers with the header
as line 1 (as a spreadsheet shows them); for in-memory frames they count the header as row 1 too.

Columns: the date column is `date_col` if given, else the first column whose name is or contains
date/time/timestamp/datetime/day/period, else an unnamed first column (a written pandas index).
All dates must share one format (ISO, M/D/YYYY, YYYYMMDD, YYYY-MM, ISO date-times; time zones are
converted to UTC and dropped). The target is `target` if given, else Adj Close, Close,
adj_close/close/price/value (any case), else the only numeric column. Thousands separators,
quotes, currency symbols ($ € £) and spaces around numbers are removed; other columns are
ignored.

Missing values (empty, NaN, nan, null, NA, N/A, None, "." and "-"):
  * leading and trailing missing target values are dropped (there is nothing to fill them from);
  * interior gaps of at most `max_fill` consecutive missing values are forward-filled, counted
    in `PriceSeries.n_filled` and named in a FilledValuesWarning; a longer gap is an error (fix the file or
    raise --max-fill);
  * a target column with no values at all is an error.
Rows are sorted by date; duplicate dates with identical values are collapsed, otherwise an error.
Non-trading days are never inserted: the series keeps its own dates. On a weekly, monthly or quarterly
calendar, though, a period with no row is a missing value (``_missing_periods``): it gets a row, dated as the
calendar continues, and is filled like a blank (at most `max_fill` in a row), with a MissingPeriodsWarning; a
model that skipped it would take the next month for this one and its season would slip. Infinite values are errors;
zero and negative prices are allowed here (the log transform checks them). Files are only read.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from forecast.data.calendar import future_dates, infer_frequency, stamp_text
from forecast.data.read import (NA_TOKENS, check_file, join_year_parts, parse_dates, parse_numbers,
                                pick_date_column, pick_target_column, read_table, text_cells)
from forecast.errors import ForecastError, InputError

@dataclass(frozen=True)
class PriceSeries:
    values: np.ndarray  # float64, 1-D, finite, chronological
    dates: pd.DatetimeIndex  # same length, strictly increasing, tz-naive
    target: str  # name of the target column used
    date_col: str  # name of the date column used ("index" if an unnamed first column)
    freq: str  # one of calendar.FREQUENCIES
    source: str  # path as given
    n_filled: int  # how many missing target values were forward-filled

    def __len__(self) -> int:
        return len(self.values)



def series_from_frame(df: pd.DataFrame, target=None, date_col=None, max_fill: int = 5,
                      min_rows: int = 0, source: str = "<frame>", *,
                      tail: int | None = None, date_format: str | None = None, first_line: int = 2,
                      date_col_given: bool | None = None, lines: np.ndarray | None = None,
                      id_frame: pd.DataFrame | None = None, id_lines: np.ndarray | None = None,
                      covariate: bool = False) -> PriceSeries:
    """Validate an in-memory table exactly like `load_prices` validates a file.

    ``first_line``: the file's line number of the first row (for messages), or ``lines``: each row's line number
    (a table of some of a file's rows); ``date_col_given``: whether the user named the date column (default:
    ``date_col`` is given), so a message does not suggest --date-col; ``id_frame`` and ``id_lines``: the whole
    file's table and its rows' line numbers, where a column that tells rows of one date apart is looked for
    (``id_like``) when dates repeat with other prices (default: ``df``); ``covariate``: the column is a
    covariate, whose numbers may carry a K/M/B or % suffix (``parse_numbers``' ``suffixed``); a price may not.
    """
    if max_fill < 0 or min_rows < 0 or (tail is not None and tail < 1):
        raise ForecastError(f"{source}: max_fill and min_rows must be >= 0 and tail >= 1 "
                            f"(got {max_fill}, {min_rows}, {tail})")
    keep_index = isinstance(df.index, pd.DatetimeIndex) or df.index.name is not None
    df = df.reset_index(drop=not keep_index)
    df.columns = [str(c).strip() for c in df.columns]
    rows_all = np.arange(first_line, first_line + len(df)) if lines is None else np.asarray(lines)  # header: line 1
    blank = np.ones(len(df), dtype=bool)
    for c in df.columns:
        blank &= text_cells(df[c]).str.lower().isin(NA_TOKENS).to_numpy()
    df, rows = df.loc[~blank].reset_index(drop=True), rows_all[~blank]
    if len(df) == 0:
        raise InputError(f"{source}: has a header but no data rows; add rows of dates and prices")
    if date_col is None:
        df = join_year_parts(df)
    date_key, date_name = pick_date_column(df, date_col, source, rows)
    tkey = pick_target_column(df, target, date_key, source)
    dates = parse_dates(df[date_key], date_name, source, rows, date_format=date_format,
                        date_col_given=date_col is not None if date_col_given is None else date_col_given)
    values, bad = parse_numbers(df[tkey], suffixed=covariate)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        cell = text_cells(df[tkey]).iloc[i]
        hint = ("; if ',' is its decimal mark, pass --decimal ," if df.attrs.get("decimal", ".") == "." and
                re.search(r"\d,\d", cell) else "")
        raise InputError(f"{source}: column '{tkey}' row {rows[i]}: {cell!r} is not a number; fix or delete that "
                         f"value{hint}")
    if np.isinf(values).any():
        i = int(np.flatnonzero(np.isinf(values))[0])
        raise InputError(f"{source}: column '{tkey}' row {rows[i]}: value is infinite; "
                         "fix or delete that value")
    frame, frame_lines = (df, rows) if id_frame is None else (id_frame, id_lines)  # rows: df's lines, as read
    order = np.argsort(dates.asi8, kind="stable")
    dates, values, rows = dates[order], values[order], rows[order]
    dates, values, rows = _dedupe(dates, values, rows, tkey, source,
                                  lambda lo, hi: id_like(frame, frame_lines, (date_key, tkey), lo, hi))
    dates, values, rows, added, unit = _missing_periods(dates, values, rows, max_fill, source)
    blanks = np.isnan(values) & ~added  # the file's own missing values (before filling)
    values, keep, n_filled = _fill(values, rows, tkey, max_fill, source, added)
    _warn_filled_periods(dates, added, keep, unit, source)
    _warn_filled_values(rows[blanks & keep], tkey, source)
    dates, values = dates[keep], values[keep]
    freq = infer_frequency(dates)
    if tail is not None:
        dates, values = dates[-tail:], values[-tail:]
    if len(values) < min_rows:
        raise InputError(f"{source}: needs at least {min_rows} rows of prices but has "
                         f"{len(values)} after cleaning; use a longer file or smaller settings")
    return PriceSeries(values=np.ascontiguousarray(values, dtype=np.float64),
                       dates=pd.DatetimeIndex(dates, name=None), target=str(tkey),
                       date_col=date_name, freq=freq, source=source, n_filled=n_filled)


def id_like(frame: pd.DataFrame, lines: np.ndarray, taken, lo: int, hi: int) -> str | None:
    """A text column of ``frame`` (its rows on file ``lines``) other than ``taken`` whose cells on lines ``lo`` and
    ``hi`` (rows of one date with different prices) differ and whose values repeat a few times (a ticker or series
    name): the likely id column of a file of several series read as one. Blank cells are no value."""
    a, b = (np.flatnonzero(np.asarray(lines) == n) for n in (lo, hi))
    if not len(a) or not len(b):
        return None
    for c in frame.columns:
        if c in taken or pd.api.types.is_numeric_dtype(frame[c]):
            continue
        every = text_cells(frame[c])
        cells = every[~every.str.lower().isin(NA_TOKENS)]
        pair = every.iloc[[a[0], b[0]]]
        if (pair.index.isin(cells.index).all() and pair.iloc[0] != pair.iloc[1]
                and 1 < cells.nunique() <= len(cells) // 2 and pd.to_numeric(cells, errors="coerce").isna().all()):
            return str(c)
    return None


def _dedupe(dates, values, rows, tkey, source, id_hint=None):
    """Dates without their repeats; a date repeated with another price is an error (``id_hint(lo, hi)``: a column
    to pass as --id-col, asked of the two lines)."""
    dup = np.zeros(len(dates), dtype=bool)
    dup[1:] = dates.asi8[1:] == dates.asi8[:-1]
    for i in np.flatnonzero(dup):
        a, b = values[i - 1], values[i]
        if not (a == b or (np.isnan(a) and np.isnan(b))):
            when = stamp_text(dates[i])
            lo, hi = sorted((rows[i - 1], rows[i]))
            column = id_hint(lo, hi) if id_hint is not None else None
            raise InputError(f"{source}: date {when} appears in rows {lo} and {hi} with different "
                             f"'{tkey}' values ({a:g} and {b:g}); "
                             + (f"if the file holds several series, pass --id-col {column}; else " if column else "")
                             + "remove or aggregate the duplicates")
    return dates[~dup], values[~dup], rows[~dup]


class MissingPeriodsWarning(UserWarning):
    """Weeks, months or quarters with no row were given one, filled with the last price (``_missing_periods``)."""


REGULAR_SHARE = 0.75  # the share of a file's steps that must be one period for a skipped one to count as missing
PERIODS = {"weekly": ("W", "week"), "monthly": ("M", "month"), "quarterly": ("Q", "quarter")}


def _missing_periods(dates, values, rows, max_fill, source):
    """On a weekly, monthly or quarterly calendar (one row a period, REGULAR_SHARE of the steps one period): a row
    (NaN, dated as the calendar continues from the row before: ``future_dates``, so month-ends stay month-ends,
    and the line number of the row before) for each period between the first and last date that has none; more
    than ``max_fill`` in a row is an error naming them. Returns dates, values, rows, which rows were added, and the
    period's name. Other calendars: unchanged."""
    unchanged = dates, values, rows, np.zeros(len(dates), dtype=bool), ""
    if len(dates) < 3 or np.median(np.diff(dates.asi8)) < pd.Timedelta(days=6) / pd.Timedelta(1, unit=dates.unit):
        return unchanged  # daily and finer: its own dates (and no exchange calendar to look up here)
    freq = infer_frequency(dates)
    if freq not in PERIODS:
        return unchanged
    code, unit = PERIODS[freq]
    gaps = np.diff(dates.to_period(code).asi8) - 1
    where = np.flatnonzero(gaps > 0)
    if len(where) == 0 or (gaps < 0).any() or np.mean(gaps == 0) < REGULAR_SHARE:
        return unchanged  # none missing, or not one row a period: irregular dates keep their own
    for i in where:
        if gaps[i] > max_fill:
            fill = (f", or raise --max-fill to {gaps[i]} to fill them with the last price" if gaps[i] <= 3 * max_fill
                    else "")
            raise InputError(f"{source}: no row for the {gaps[i]} {unit}s between {stamp_text(dates[i])} (row "
                             f"{rows[i]}) and {stamp_text(dates[i + 1])} (row {rows[i + 1]}); add them to the file, "
                             f"or keep only the rows after the gap{fill}")
    fills = []  # each gap's dates, strictly between its two rows (a week's weekday may snap onto the next row)
    for i in where:
        steps = future_dates(dates[:i + 1], freq, int(gaps[i]) + 1).as_unit(dates.unit)
        fills.append(steps[(steps > dates[i]) & (steps < dates[i + 1])][:int(gaps[i])].asi8)
    new_dates = np.concatenate(fills)
    at = np.repeat(where + 1, [len(f) for f in fills])  # insert before the row after each gap
    added = np.insert(np.zeros(len(dates), dtype=bool), at, True)
    return (pd.DatetimeIndex(np.insert(dates.asi8, at, new_dates), dtype=dates.dtype), np.insert(values, at, np.nan),
            np.insert(rows, at, rows[at - 1]), added, unit)


def _warn_filled_periods(dates, added, keep, unit, source) -> None:
    """A MissingPeriodsWarning naming the weeks, months or quarters ``_missing_periods`` added and ``_fill`` kept."""
    filled = dates[added & keep]
    if len(filled) == 0:
        return
    warnings.warn(MissingPeriodsWarning(
        f"{source}: {len(filled)} {unit}{'s' if len(filled) > 1 else ''} had no row ("
        + ", ".join(stamp_text(d) for d in filled[:5]) + (" ..." if len(filled) > 5 else "")
        + f"); each was filled with the last price before it. If the {unit}s are not missing, fix the dates"),
        stacklevel=4)


class FilledValuesWarning(UserWarning):
    """Missing values inside a series were forward-filled (``_fill``): which rows, so the user can check them."""


def _warn_filled_values(lines: np.ndarray, tkey, source) -> None:
    """A FilledValuesWarning naming the file's lines whose missing value was forward-filled."""
    if len(lines) == 0:
        return
    many = len(lines) > 1
    shown = ", ".join(map(str, lines[:8])) + (" ..." if len(lines) > 8 else "")
    warnings.warn(FilledValuesWarning(
        f"{source}: {len(lines)} missing value{'s' * many} in '{tkey}' (row{'s' * many} {shown}) filled with the "
        f"value before {'each' if many else 'it'}"), stacklevel=4)


def _fill(values, rows, tkey, max_fill, source, added=None):
    """(forward-filled values, mask of rows kept, number filled) per the module's policy; ``added``: rows
    ``_missing_periods`` added (no line of the file: the message counts them apart)."""
    present = ~np.isnan(values)
    if not present.any():
        raise InputError(f"{source}: column '{tkey}' has no values (all missing); "
                         "choose another column with --target or fix the file")
    first, last = np.flatnonzero(present)[[0, -1]]
    keep = np.zeros(len(values), dtype=bool)
    keep[first:last + 1] = True
    edges = np.diff(np.r_[0, (~present[first:last + 1]).astype(int), 0])
    starts, ends = np.flatnonzero(edges == 1) + first, np.flatnonzero(edges == -1) + first
    for a, b in zip(starts, ends):
        if b - a > max_fill:
            n_added = 0 if added is None else int(added[a:b].sum())
            of_them = f", {n_added} of them a period with no row" if n_added else ""
            raise InputError(f"{source}: column '{tkey}' rows {rows[a]}-{rows[b - 1]}: {b - a} "
                             f"consecutive missing values{of_them} (more than --max-fill {max_fill}); "
                             "fill them in the file or raise --max-fill")
    return pd.Series(values).ffill().to_numpy(), keep, int((ends - starts).sum())


def load_prices(path, target: str | None = None, date_col: str | None = None,
                max_fill: int = 5, min_rows: int = 0, tail: int | None = None, *, sep: str | None = None,
                decimal: str | None = None, date_format: str | None = None) -> PriceSeries:
    """Read and validate a price file (CSV, CSV.gz or Parquet); see the module docstring."""
    source = str(path)
    p = check_file(path)
    df = read_table(p, source, sep=sep, decimal=decimal)
    return series_from_frame(df, target=target, date_col=date_col, date_format=date_format,
                             first_line=df.attrs.get("first_line", 2),
                             max_fill=max_fill, min_rows=min_rows, source=source, tail=tail)


SYNTHETIC_KINDS = ("random_walk", "sine", "seasonal", "linear")


def synthetic_series(kind: str = "random_walk", n: int = 500, seed: int = 0, start="2020-01-01",
                     freq="B", noise: float = 0.0) -> pd.DataFrame:
    """A deterministic test series with columns Date, Close.

    random_walk: geometric random walk starting at 100 (always positive; `noise` is extra
    multiplicative observation noise); sine: 100 + 10 sin(2 pi t / 20); seasonal: trend plus a
    5-step (weekly) and a 20-step season; linear: exactly 100 + 0.5 t. For the last three `noise`
    is the standard deviation of added Gaussian noise.
    """
    if kind not in SYNTHETIC_KINDS:
        raise ValueError(f"unknown kind {kind!r}; expected one of {', '.join(SYNTHETIC_KINDS)}")
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    rng = np.random.default_rng(seed)
    t = np.arange(n, dtype=float)
    if kind == "random_walk":
        steps, z = rng.normal(0.0003, 0.01, n), rng.normal(0.0, 1.0, n)
        steps[0] = z[0] = 0.0
        values = 100.0 * np.exp(np.cumsum(steps) + noise * z)
    else:
        values = {"sine": 100.0 + 10.0 * np.sin(2 * np.pi * t / 20),
                  "seasonal": 100.0 + 0.1 * t + 3.0 * np.sin(2 * np.pi * t / 5)
                  + 5.0 * np.sin(2 * np.pi * t / 20),
                  "linear": 100.0 + 0.5 * t}[kind]
        if noise:
            values = values + rng.normal(0.0, noise, n)
    dates = pd.date_range(start=start, periods=n, freq=freq)
    return pd.DataFrame({"Date": dates, "Close": values})
