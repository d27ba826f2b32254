"""Load many series (and their covariates) from one file: long format, wide format, or one series with features.

    long   --id-col symbol      rows of (id, date, target[, covariates]); one series per id, in order of
                                first appearance
    wide   --targets A,B|all    one date column and one numeric column per series
    single --features ...       the usual single-series file, with covariate columns

Each series is validated by the single-series loader (``data.series_from_frame``): sorted by date, its own
dates and start (series of unequal length are fine), gaps of at most ``max_fill`` forward-filled. A series
that fails that policy or is shorter than ``min_rows`` is skipped with a warning naming it; when none is
left, or an (id, date) pair repeats, or a column is unknown or not numeric, an ``InputError`` says so.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field, replace
from typing import Callable

import numpy as np
import pandas as pd

from forecast.data import features as feat
from forecast.data.calendar import stamp_text
from forecast.data.load import series_from_frame
from forecast.data.read import (check_file, find_column, join_year_parts, parse_dates, parse_numbers, pick_date_column,
                                pick_target_column, read_table, stack_tickers, text_cells)
from forecast.errors import InputError

TARGET_ONLY = tuple(f for f, cols in feat.NEEDS.items() if not cols)  # features a wide file can have



class SkippedSeriesWarning(UserWarning):
    """Some series were left out (too short or unusable); the run goes on with the others."""


class TrimmedRowsWarning(UserWarning):
    """A series' first rows were left out (a covariate starts later); the run goes on with the rest."""


@dataclass(frozen=True)
class Series:
    """One validated series of a panel: its prices, dates and raw (unscaled) covariates."""

    id: str
    values: np.ndarray  # (time,) float64 prices, chronological
    dates: pd.DatetimeIndex
    features: np.ndarray  # (time, inputs) raw covariates; inputs = len(features.input_names(...)), may be 0
    freq: str
    n_filled: int = 0  # missing target values forward-filled when loading

    def __len__(self) -> int:
        return len(self.values)

    def slice(self, start: int, stop: int) -> Series:
        """Rows ``start .. stop - 1`` (Python slice semantics)."""
        return replace(self, values=self.values[start:stop], dates=self.dates[start:stop],
                       features=self.features[start:stop])

    def head(self, n: int) -> Series:
        return self.slice(0, n)


@dataclass(frozen=True)
class Panel:
    """Series with an id each (the Nixtla convention: id, date, target, covariates); one series is a panel of one."""

    series: tuple[Series, ...]
    layout: str = "single"  # single, long or wide
    target: str = "price"
    date_col: str = "date"
    features: tuple[str, ...] = ()
    skipped: dict[str, str] = field(default_factory=dict)  # id -> why
    source: str = "<panel>"

    def __post_init__(self) -> None:
        object.__setattr__(self, "series", tuple(self.series))

    @property
    def ids(self) -> list[str]:
        return [s.id for s in self.series]

    @property
    def named(self) -> bool:
        """The series carry the file's ids (long or wide format): outputs keep an id column however many series are
        left after the checks; a single-series file's one series has no id of the user's."""
        return self.layout != "single" or len(self.series) > 1

    def __len__(self) -> int:
        return len(self.series)

    def __iter__(self):
        return iter(self.series)

    def __getitem__(self, sid: str) -> Series:
        for s in self.series:
            if s.id == sid:
                return s
        raise KeyError(sid)

    def select(self, sid: str) -> Panel:
        """The panel of one holding series ``sid``."""
        return replace(self, series=(self[sid],))

    def apart(self) -> list[Panel]:
        """Each series as a panel of one, in order."""
        return [self.select(sid) for sid in self.ids]

    def map(self, fn: Callable[[Series], Series]) -> Panel:
        """The panel with ``fn`` applied to every series (e.g. ``lambda s: s.head(n)``)."""
        return replace(self, series=tuple(fn(s) for s in self.series))


def load_configured(path, data, **kw) -> Panel:
    """``load_panel`` with the settings of a ``config.DataConfig`` (what train, backtest, tune and predict read)."""
    return load_panel(path, target=data.target, date_col=data.date_col, max_fill=data.max_fill,
                      features=data.features, id_col=data.id_col, targets=data.targets, sep=data.sep,
                      decimal=data.decimal, date_format=data.date_format, **kw)


def from_series(ps) -> Panel:
    """The panel of one holding a series validated by ``load.series_from_frame`` / ``load.load_prices``."""
    return Panel((Series(ps.target, ps.values, ps.dates, np.zeros((len(ps), 0)), ps.freq, ps.n_filled),),
                 target=ps.target, date_col=ps.date_col, source=ps.source)


def panel_of(values, dates=None, *, sid: str = "series", freq: str | None = None) -> Panel:
    """A panel of one from plain prices (and dates; default: business days from 2000-01-03), for the library API."""
    from forecast.data.calendar import infer_frequency

    values = np.asarray(values, dtype=np.float64)
    dates = pd.DatetimeIndex(dates) if dates is not None else pd.bdate_range("2000-01-03", periods=len(values))
    return Panel((Series(sid, values, dates, np.zeros((len(values), 0)), freq or infer_frequency(dates)),),
                 target=sid)


def _numeric_columns(df: pd.DataFrame, exclude, covariates: bool = False) -> list:
    """Columns most of whose non-missing cells are numbers (the rule the target picker uses); ``covariates``:
    the columns a covariate may read, their numbers suffixed too ('2.10B', ``parse_numbers``)."""
    out = []
    for c in df.columns:
        if c in exclude:
            continue
        values, bad = parse_numbers(df[c], suffixed=covariates)
        if (~np.isnan(values)).sum() > bad.sum() and (~np.isnan(values)).any():
            out.append(c)
    return out


def _check_features(features, df, numeric, exclude, source: str) -> None:
    for f in features:
        col = find_column([c for c in df.columns if c not in exclude], f)
        if col is not None and col not in numeric and f not in feat.NEEDS:
            raise InputError(f"{source}: covariate column '{col}' is not numeric; --features takes numeric "
                             f"columns or derived features: {', '.join(feat.available(numeric))}")


def _series(sub: pd.DataFrame, sid: str, tkey, date_key, features, numeric, max_fill: int, source: str,
            parse: dict) -> Series:
    """One series from its rows of the file (``parse["lines"]``: their line numbers, for messages)."""
    src = f"{source} [series {sid}]" if sid != str(tkey) else source
    ps = series_from_frame(sub[[date_key, tkey]], target=tkey, date_col=date_key, max_fill=max_fill, source=src,
                           **parse)
    cols = {}
    for name in feat.columns_needed(features, numeric, source):
        key = find_column(list(sub.columns), name)
        cs = series_from_frame(sub[[date_key, key]], target=key, date_col=date_key, max_fill=max_fill, source=src,
                               covariate=True, **parse)
        # covariates on the target's dates, carried forward over gaps; never back-filled from a later value
        cols[name] = pd.Series(cs.values, index=cs.dates).reindex(ps.dates).ffill().to_numpy()
    values, dates = ps.values, ps.dates
    starts = {name: int(np.argmax(~np.isnan(v))) if (~np.isnan(v)).any() else len(v) for name, v in cols.items()}
    late = max(starts, key=starts.get) if starts else None
    if late is not None and starts[late] >= len(values):
        raise InputError(f"{src}: covariate '{late}' has no value on or before the last date of '{tkey}'; "
                         "give it values or leave it out of --features")
    if late is not None and starts[late] > 0:  # the rows before every covariate is known are left out
        first = starts[late]
        warnings.warn(TrimmedRowsWarning(
            f"{src}: the first {first} rows (to {stamp_text(dates[first - 1])}) are left out: covariate '{late}' "
            f"starts on {stamp_text(dates[first])}, and a covariate is not filled from later rows"), stacklevel=2)
        values, dates = values[first:], dates[first:]
        cols = {name: v[first:] for name, v in cols.items()}
    x = feat.build(features, values, dates, cols, src)
    return Series(sid, values, dates, x, ps.freq, ps.n_filled)


_TIME_OF_DAY = r"\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?"


def _no_separate_times(df: pd.DataFrame, date_key, date_name: str, source: str) -> None:
    """Intraday rows whose time of day is in a column of its own (the dates repeat) are refused, saying how."""
    head = df.head(200)
    if text_cells(head[date_key]).is_unique:
        return
    for c in head.columns:
        cells = text_cells(head[c])
        if c != date_key and cells.nunique() > 1 and cells.str.fullmatch(_TIME_OF_DAY).all():
            raise InputError(f"{source}: column '{c}' holds the times of day of the dates in '{date_name}'; "
                             "combine the two into one column of date and time (e.g. 2020-01-02 09:30)")


def warn_skipped(source, skipped: dict[str, str]) -> None:
    """One SkippedSeriesWarning naming each series left out of the file's panel, and why (for the caller's caller)."""
    warnings.warn(f"{source}: skipped {len(skipped)} series: " + "; ".join(f"{k} ({v})" for k, v in skipped.items()),
                  SkippedSeriesWarning, stacklevel=3)


def no_usable_series(source, skipped: dict[str, str]) -> InputError:
    """The error for a file none of whose series can be used: the first three reasons, each with its fix."""
    shown = "; ".join(f"{k}: {v.removeprefix(f'{source} [series {k}]: ')}" for k, v in list(skipped.items())[:3])
    more = f"; and {len(skipped) - 3} more" if len(skipped) > 3 else ""
    return InputError(f"{source}: no usable series ({shown}{more})")


def _duplicates(df: pd.DataFrame, ids: pd.Series, dates: pd.DatetimeIndex, rows: np.ndarray, id_name: str,
                source: str) -> np.ndarray:
    """Which rows to keep: a row repeating an earlier one cell for cell is dropped (as in a file of one series);
    rows of one (id, date) that differ anywhere are an error listing them."""
    key = pd.DataFrame({"id": ids.to_numpy(), "date": dates})
    repeated = key.duplicated(keep=False).to_numpy()
    if not repeated.any():
        return np.ones(len(key), dtype=bool)
    row_text = df[repeated].astype(str).agg("\x1f".join, axis=1).to_numpy()  # the cells of the rows that repeat
    dup = repeated.copy()
    dup[repeated] = key[repeated].assign(text=row_text).groupby(["id", "date"], sort=False)["text"].transform(
        "nunique").gt(1).to_numpy()  # an (id, date) whose rows differ somewhere
    if dup.any():
        shown = key[dup].assign(row=rows[dup]).groupby(["id", "date"], sort=False)["row"].apply(list)
        listing = "; ".join(f"{i} {str(d).removesuffix(' 00:00:00')} (rows {', '.join(map(str, r))})"
                            for (i, d), r in list(shown.items())[:5])
        more = f" and {len(shown) - 5} more" if len(shown) > 5 else ""
        raise InputError(f"{source}: duplicate ({id_name}, date) rows with different values: {listing}{more}; "
                         "remove or aggregate the duplicates")
    return ~key.duplicated(keep="first").to_numpy()


def load_panel(path, *, target: str | None = None, date_col: str | None = None, max_fill: int = 5,
               features=(), id_col: str | None = None, targets: str | None = None, min_rows: int = 0,
               sep: str | None = None, decimal: str | None = None, date_format: str | None = None) -> Panel:
    """Read a long, wide or single-series file into validated series with raw feature matrices.

    ``sep``, ``decimal``: override the sniffed separator and decimal mark; ``date_format``: the dates' strftime
    format where it cannot be inferred. A yfinance file with several tickers is read as long format with
    ``id_col`` naming the ticker column (``--id-col Ticker``).
    """
    source = str(path)
    df = read_table(check_file(path), source, sep=sep, decimal=decimal)
    first_line = df.attrs.get("first_line", 2)
    if id_col is not None and len(set((df.attrs.get("tickers") or {}).values())) > 1:
        df = stack_tickers(df, id_name=id_col)
    df.columns = [str(c).strip() for c in df.columns]
    blank = np.ones(len(df), dtype=bool)
    for c in df.columns:
        blank &= (text_cells(df[c]) == "").to_numpy()
    rows = np.arange(first_line, first_line + len(df))[~blank]
    parse = {"date_format": date_format, "date_col_given": date_col is not None}
    df = df.loc[~blank].reset_index(drop=True)
    if len(df) == 0:
        raise InputError(f"{source}: has a header but no data rows; add rows of dates and prices")
    if date_col is None:
        df = join_year_parts(df)
    date_key, date_name = pick_date_column(df, date_col, source, rows)
    _no_separate_times(df, date_key, date_name, source)
    features = tuple(features)
    if id_col is not None:
        id_key = find_column(list(df.columns), id_col)
        if id_key is None or id_key == date_key:
            raise InputError(f"{source}: id column '{id_col}' not found; columns are "
                             f"{', '.join(map(str, df.columns))}; pass one of them as --id-col")
        ids = text_cells(df[id_key])  # stripped: ' AAPL' and 'AAPL' are one series
        if (ids == "").any():
            where = rows[(ids == "").to_numpy()]
            raise InputError(f"{source}: row {where[0]} has no series id in column '{id_key}'"
                             + (f" ({len(where)} rows have none)" if len(where) > 1 else "")
                             + "; fill the ids in or remove those rows")
        keep = _duplicates(df, ids, parse_dates(df[date_key], date_name, source, rows, warn=False, **parse), rows,
                           str(id_key), source)
        df, ids, rows = df[keep], ids[keep], rows[keep]
        rest = df.drop(columns=[id_key])
        tkey = pick_target_column(rest, target, date_key, source)
        numeric = _numeric_columns(rest, (date_key,), covariates=True) if features else []  # only when needed
        _check_features(features, rest, numeric, (date_key,), source)
        feat.columns_needed(features, numeric, source)  # unknown features fail before any series work
        rows_of = ids.groupby(ids, sort=False).indices  # id -> its row positions, in one pass
        jobs = [(str(i), rest.iloc[rows_of[i]], tkey, numeric, rows[rows_of[i]])  # in order of first appearance
                for i in pd.unique(ids)]
        layout = "long"
    elif targets is not None:
        numeric = _numeric_columns(df, (date_key,))
        names = [t.strip() for t in targets.split(",") if t.strip()]
        if not numeric:
            raise InputError(f"{source}: no numeric columns (columns: {', '.join(map(str, df.columns))}); "
                             "a wide file needs one numeric column of prices per series")
        keys = numeric if [n.lower() for n in names] == ["all"] else []
        for name in [] if keys else names:
            key = find_column([c for c in df.columns if c != date_key], name)
            if key is None:
                raise InputError(f"{source}: --targets column '{name}' not found; numeric columns are "
                                 f"{', '.join(map(str, numeric))}; pass some of them (or all)")
            if key not in numeric:
                raise InputError(f"{source}: --targets column '{key}' is not numeric; numeric columns are "
                                 f"{', '.join(map(str, numeric))}")
            keys.append(key)
        extra = [f for f in features if f not in TARGET_ONLY]
        if extra:
            raise InputError(f"{source}: a wide file has no covariate columns per series, so --features "
                             f"{', '.join(extra)} is not available; use {', '.join(TARGET_ONLY)}")
        jobs = [(str(k), df[[date_key, k]], k, [], rows) for k in dict.fromkeys(keys)]
        tkey, layout = "value", "wide"
    else:
        tkey = pick_target_column(df, target, date_key, source)
        numeric = _numeric_columns(df, (date_key,), covariates=True)
        _check_features(features, df, numeric, (date_key,), source)
        jobs = [(str(tkey), df, tkey, numeric, rows)]
        layout = "single"
        parse = {**parse, "id_frame": df, "id_lines": rows}  # a column to name if dates repeat: several series?
    series, skipped = [], {}
    for sid, sub, key, num, lines in jobs:
        try:
            s = _series(sub, sid, key, date_key, features, num, max_fill, source, {**parse, "lines": lines})
        except InputError as e:
            if layout == "single":
                raise
            skipped[sid] = str(e)
            continue
        if len(s) < min_rows:
            if layout == "single":
                raise InputError(f"{source}: {len(s)} rows are too few; at least {min_rows} are needed "
                                 "for the window, horizon, validation and test parts; use a longer series or "
                                 "a smaller --window/--horizon")
            skipped[sid] = f"{len(s)} rows, fewer than the {min_rows} needed for the window, horizon and parts"
            continue
        series.append(s)
    if skipped:
        warn_skipped(source, skipped)
    if not series:
        raise no_usable_series(source, skipped)
    return Panel(tuple(series), layout, str(tkey), date_name, features, skipped, source)

