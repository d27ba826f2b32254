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
  * interior gaps of at most `max_fill` consecutive missing values are forward-filled and counted
    in `PriceSeries.n_filled`; a longer gap is an error (fix the file or raise --max-fill);
  * a target column with no values at all is an error.
Rows are sorted by date; duplicate dates with identical values are collapsed, otherwise an error.
Non-trading days are never inserted: the series keeps its own dates. Infinite values are errors;
zero and negative prices are allowed here (the log transform checks them). Files are only read.
"""

from __future__ import annotations

import gzip
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from forecast.data.calendar import infer_frequency
from forecast.errors import ForecastError, InputError

MAX_BYTES = 2 * 1024**3
NA_TOKENS = {"", "nan", "null", "na", "n/a", "#n/a", "none", ".", "-", "--"}
DATE_NAMES = ("date", "datetime", "timestamp", "time", "day", "period", "datum")
TARGET_NAMES = ("adj close", "adj_close", "adjclose", "close", "price", "value")
# (pattern every value must match, format for pd.to_datetime); the first that parses all wins.
DATE_FORMATS = [
    (r"\d{4}-\d{1,2}-\d{1,2}", "%Y-%m-%d"),
    (r"\d{1,2}/\d{1,2}/\d{4}", "%m/%d/%Y"),
    (r"\d{1,2}/\d{1,2}/\d{4}", "%d/%m/%Y"),
    (r"\d{8}", "%Y%m%d"),
    (r"\d{4}-\d{1,2}", "%Y-%m"),
    (r"\d{4}/\d{1,2}/\d{1,2}", "%Y/%m/%d"),
    (r"\d{1,2}\.\d{1,2}\.\d{4}", "%d.%m.%Y"),
    (r"\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}(:?\d{2})?)?", "ISO8601"),
    (r"\d{1,2}/\d{1,2}/\d{4} \d{1,2}:\d{2}(:\d{2})?", "%m/%d/%Y %H:%M:%S"),
]
_THOUSANDS = re.compile(r"^[+-]?\d{1,3}(,\d{3})+(\.\d*)?$")


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



def _check_file(path, limit: bool = True) -> Path:
    p = Path(path)
    if not p.exists():
        raise InputError(f"{path}: file not found; check the path")
    if p.is_dir():
        raise InputError(f"{path}: is a directory, not a file; pass a CSV or Parquet file")
    size = p.stat().st_size
    if not limit:
        return p
    if size == 0:
        raise InputError(f"{path}: file is empty (0 bytes); pass a CSV with a header and data rows")
    if size > MAX_BYTES:
        raise InputError(f"{path}: file is too large ({size / 1024**3:.1f} GiB > 2 GiB; streaming "
                         "is not supported); pass a smaller extract, e.g. the most recent rows")
    return p


def fingerprint(path) -> dict:
    """{"path": absolute path, "sha256": hex digest, "bytes": size}; reads in 1 MiB chunks."""
    p = _check_file(path, limit=False)
    digest, size = hashlib.sha256(), 0
    try:
        with open(p, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                digest.update(chunk)
                size += len(chunk)
    except OSError as e:
        raise InputError(f"{path}: cannot read the file ({_one_line(e)})") from None
    return {"path": str(p.resolve()), "sha256": digest.hexdigest(), "bytes": size}


def _read_table(p: Path, source: str) -> pd.DataFrame:
    """The raw table: Parquet as stored, CSV as strings (blank lines kept, so rows = lines)."""
    try:
        with open(p, "rb") as f:
            magic = f.read(4)
        compression = "gzip" if magic[:2] == b"\x1f\x8b" else "infer"
        with (gzip.open if compression == "gzip" else open)(p, "rb") as f:
            head = f.read(65536) if magic != b"PAR1" else b""
    except (OSError, EOFError) as e:
        raise InputError(f"{source}: cannot read the file ({_one_line(e)})") from None
    if magic == b"PAR1" or p.suffix.lower() == ".parquet":
        try:
            return pd.read_parquet(p)
        except ImportError:
            raise InputError(f"{source}: reading Parquet needs pyarrow; "
                             "pip install pyarrow") from None
        except Exception as e:
            raise InputError(f"{source}: not a readable Parquet file ({_one_line(e)}); "
                             "pass a valid Parquet or CSV file") from None
    controls = sum(b < 32 and b not in (9, 10, 12, 13) for b in head)
    if b"\x00" in head or controls > 0.01 * max(len(head), 1):
        raise InputError(f"{source}: does not look like a text table (binary data); "
                         "pass comma-separated values with a header row")
    first = next((ln for ln in head.decode("latin-1").splitlines() if ln.strip()), "")
    if "," not in first:
        for sep, name in ((";", "semicolon"), ("\t", "tab")):
            if sep in first:
                raise InputError(f"{source}: looks {name}-separated (header {first.strip()!r}); "
                                 "use comma-separated values")
    for encoding in ("utf-8-sig", "cp1252", "latin-1"):
        try:
            df = pd.read_csv(p, dtype=str, keep_default_na=False, na_filter=False,
                             skip_blank_lines=False, encoding=encoding, compression=compression)
            break
        except UnicodeDecodeError:
            continue
        except pd.errors.EmptyDataError:
            raise InputError(f"{source}: no header or data found; pass a CSV with a header "
                             "row and data rows") from None
        except Exception as e:
            raise InputError(f"{source}: not a valid comma-separated table ({_one_line(e)}); "
                             "fix the file so every row has the header's columns") from None
    return df


def _one_line(e: BaseException) -> str:
    text = " ".join(str(e).split())
    return text[:200] if text else type(e).__name__



def _text(col: pd.Series) -> pd.Series:
    """The column as stripped strings, with missing values (None, NaN, NaT) as "" (vectorised)."""
    return col.astype(object).where(col.notna(), "").astype(str).str.strip()


def _clean_numbers(s: pd.Series) -> pd.Series:
    """Quotes, currency symbols and thousands separators removed, for cells that failed a plain parse."""
    s = s.str.strip("\"'").str.strip()
    s = s.str.replace(r"^([+-]?)\s*[$€£]\s*", r"\1", regex=True)
    s = s.str.replace(r"\s*[$€£]$", "", regex=True)
    thousands = s.str.match(_THOUSANDS).fillna(False).astype(bool)
    return s.where(~thousands, s.str.replace(",", "", regex=False))


def _numbers(col: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """(float values with NaN for missing, mask of cells that are neither numbers nor missing)."""
    if pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col):
        return col.to_numpy(dtype=float, na_value=np.nan), np.zeros(len(col), dtype=bool)
    s = _text(col)
    missing = s.str.lower().isin(NA_TOKENS).to_numpy()
    values = pd.to_numeric(s.where(~missing, ""), errors="coerce").to_numpy(dtype=float, copy=True)
    retry = np.isnan(values) & ~missing  # only these need the slower clean-up (10M plain rows skip it)
    if retry.any():
        values[retry] = pd.to_numeric(_clean_numbers(s[retry]), errors="coerce").to_numpy(dtype=float)
    bad = np.isnan(values) & ~missing
    return values, bad


def _parse_dates(col: pd.Series, name: str, source: str, rows: np.ndarray) -> pd.DatetimeIndex:
    if pd.api.types.is_datetime64_any_dtype(col):
        dates = pd.DatetimeIndex(col)
        if dates.tz is not None:
            dates = dates.tz_convert("UTC").tz_localize(None)
        if dates.isna().any():
            _missing_date(source, name, rows[np.flatnonzero(dates.isna())[0]])
        return dates.as_unit("ns")
    s = _text(col)
    empty = (s.str.lower().isin(NA_TOKENS)).to_numpy()
    if empty.any():
        _missing_date(source, name, rows[np.flatnonzero(empty)[0]])
    best_bad = None
    for pattern, fmt in DATE_FORMATS:
        ok = np.array(s.str.fullmatch(pattern).fillna(False), dtype=bool)
        if ok.any():
            parsed = pd.to_datetime(s[ok], format=fmt, errors="coerce", utc=fmt == "ISO8601")
            ok[ok] = parsed.notna().to_numpy()
        if ok.all():
            parsed = pd.DatetimeIndex(parsed)
            return (parsed.tz_localize(None) if parsed.tz is not None else parsed).as_unit("ns")
        if ok[0] and (best_bad is None or np.argmin(ok) > best_bad):
            best_bad = int(np.argmin(ok))  # first value this format (which fits row 1) rejects
    i = 0 if best_bad is None else best_bad
    raise InputError(f"{source}: column '{name}' row {rows[i]}: cannot parse date {s.iloc[i]!r} "
                     "(all dates must share one format, e.g. YYYY-MM-DD or M/D/YYYY); "
                     "fix that date or pass --date-col")


def _missing_date(source, name, row):
    raise InputError(f"{source}: column '{name}' row {row}: date is missing; "
                     "fill it in or delete the row")



def _find(columns, wanted: str):
    if wanted in columns:
        return wanted
    lower = {str(c).lower(): c for c in reversed(list(columns))}
    return lower.get(str(wanted).strip().lower())


def _pick_date_col(df: pd.DataFrame, date_col, source: str, rows) -> tuple[str, str]:
    """(column in df, name to report)."""
    cols = list(df.columns)
    unnamed = str(cols[0]).startswith("Unnamed: 0") or str(cols[0]) in ("", "index")
    if date_col is not None:
        found = _find(cols, date_col)
        if found is not None:
            return found, str(found)
        if not (str(date_col).lower() == "index" and unnamed):  # "index": a written pandas index
            raise InputError(f"{source}: date column '{date_col}' not found; columns are "
                             f"{', '.join(map(str, cols))}; pass one of them as --date-col")
        return cols[0], "index"
    low = [str(c).lower() for c in cols]
    for test in (lambda c: c in DATE_NAMES, lambda c: any(w in c for w in DATE_NAMES)):
        for c, lc in zip(cols, low):
            if test(lc):
                return c, str(c)
    if unnamed:
        try:
            _parse_dates(df[cols[0]], "index", source, rows)
            return cols[0], "index"
        except InputError:
            pass
    raise InputError(f"{source}: no date column found (columns: {', '.join(map(str, cols))}); "
                     "name it 'Date' or pass --date-col")


def _pick_target(df: pd.DataFrame, target, date_key, source: str) -> str:
    others = [c for c in df.columns if c != date_key]
    numeric = []
    for c in others:
        values, bad = _numbers(df[c])
        ok = ~np.isnan(values)
        if ok.any() and ok.sum() > bad.sum():
            numeric.append(c)
    listing = ", ".join(map(str, numeric)) or "none"
    if target is not None:
        found = _find(others, target)
        if found is None:
            raise InputError(f"{source}: target column '{target}' not found; numeric columns are "
                             f"{listing}; pass one of them as --target")
        return found
    for name in ("Adj Close", "Close") + TARGET_NAMES:
        found = _find(others, name)
        if found is not None:
            return found
    if len(numeric) == 1:
        return numeric[0]
    if not numeric:
        raise InputError(f"{source}: no numeric column found (columns: "
                         f"{', '.join(map(str, df.columns))}); add a price column such as 'Close'")
    raise InputError(f"{source}: several numeric columns ({listing}) and none is named Close or "
                     "Price; pass --target NAME")



def series_from_frame(df: pd.DataFrame, target=None, date_col=None, max_fill: int = 5,
                      min_rows: int = 0, source: str = "<frame>", *,
                      tail: int | None = None) -> PriceSeries:
    """Validate an in-memory table exactly like `load_prices` validates a file."""
    if max_fill < 0 or min_rows < 0 or (tail is not None and tail < 1):
        raise ForecastError(f"{source}: max_fill and min_rows must be >= 0 and tail >= 1 "
                            f"(got {max_fill}, {min_rows}, {tail})")
    keep_index = isinstance(df.index, pd.DatetimeIndex) or df.index.name is not None
    df = df.reset_index(drop=not keep_index)
    df.columns = [str(c).strip() for c in df.columns]
    rows_all = np.arange(2, 2 + len(df))  # the header is row 1
    blank = np.ones(len(df), dtype=bool)
    for c in df.columns:
        blank &= _text(df[c]).str.lower().isin(NA_TOKENS).to_numpy()
    df, rows = df.loc[~blank].reset_index(drop=True), rows_all[~blank]
    if len(df) == 0:
        raise InputError(f"{source}: has a header but no data rows; add rows of dates and prices")
    date_key, date_name = _pick_date_col(df, date_col, source, rows)
    tkey = _pick_target(df, target, date_key, source)
    dates = _parse_dates(df[date_key], date_name, source, rows)
    values, bad = _numbers(df[tkey])
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InputError(f"{source}: column '{tkey}' row {rows[i]}: {_text(df[tkey]).iloc[i]!r} is "
                         "not a number; fix or delete that value")
    if np.isinf(values).any():
        i = int(np.flatnonzero(np.isinf(values))[0])
        raise InputError(f"{source}: column '{tkey}' row {rows[i]}: value is infinite; "
                         "fix or delete that value")
    order = np.argsort(dates.asi8, kind="stable")
    dates, values, rows = dates[order], values[order], rows[order]
    dates, values, rows = _dedupe(dates, values, rows, tkey, source)
    values, keep, n_filled = _fill(values, rows, tkey, max_fill, source)
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


def _dedupe(dates, values, rows, tkey, source):
    dup = np.zeros(len(dates), dtype=bool)
    dup[1:] = dates.asi8[1:] == dates.asi8[:-1]
    for i in np.flatnonzero(dup):
        a, b = values[i - 1], values[i]
        if not (a == b or (np.isnan(a) and np.isnan(b))):
            when = str(dates[i]).removesuffix(" 00:00:00")
            lo, hi = sorted((rows[i - 1], rows[i]))
            raise InputError(f"{source}: date {when} appears in rows {lo} and {hi} with different "
                             f"'{tkey}' values ({a:g} and {b:g}); "
                             "remove or aggregate the duplicates")
    return dates[~dup], values[~dup], rows[~dup]


def _fill(values, rows, tkey, max_fill, source):
    """(forward-filled values, mask of rows kept, number filled) per the module's policy."""
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
            raise InputError(f"{source}: column '{tkey}' rows {rows[a]}-{rows[b - 1]}: {b - a} "
                             f"consecutive missing values (more than --max-fill {max_fill}); "
                             "fill them in the file or raise --max-fill")
    return pd.Series(values).ffill().to_numpy(), keep, int((ends - starts).sum())


def load_prices(path, target: str | None = None, date_col: str | None = None,
                max_fill: int = 5, min_rows: int = 0, tail: int | None = None) -> PriceSeries:
    """Read and validate a price file (CSV, CSV.gz or Parquet); see the module docstring."""
    source = str(path)
    p = _check_file(path)
    return series_from_frame(_read_table(p, source), target=target, date_col=date_col,
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
