"""Read a table file and pick and parse its columns: the file-format layer under the loaders.

``read_table`` reads CSV, CSV.gz or Parquet (CSV cells as strings, blank lines kept so rows = lines);
``pick_date_column`` / ``pick_target_column`` find the columns; ``parse_dates`` / ``parse_numbers``
parse them. Every problem with a user's file is an ``InputError`` whose one-line message names the file
(as given), the column or row, and the fix. Row numbers are the file's line numbers with the header as
line 1 (as a spreadsheet shows them).
"""

from __future__ import annotations

import gzip
import hashlib
import re
from pathlib import Path

import numpy as np
import pandas as pd

from forecast.errors import InputError

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


def check_file(path, limit: bool = True) -> Path:
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
    p = check_file(path, limit=False)
    digest, size = hashlib.sha256(), 0
    try:
        with open(p, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                digest.update(chunk)
                size += len(chunk)
    except OSError as e:
        raise InputError(f"{path}: cannot read the file ({one_line(e)})") from None
    return {"path": str(p.resolve()), "sha256": digest.hexdigest(), "bytes": size}


def read_table(p: Path, source: str) -> pd.DataFrame:
    """The raw table: Parquet as stored, CSV as strings (blank lines kept, so rows = lines)."""
    try:
        with open(p, "rb") as f:
            magic = f.read(4)
        compression = "gzip" if magic[:2] == b"\x1f\x8b" else "infer"
        with (gzip.open if compression == "gzip" else open)(p, "rb") as f:
            head = f.read(65536) if magic != b"PAR1" else b""
    except (OSError, EOFError) as e:
        raise InputError(f"{source}: cannot read the file ({one_line(e)})") from None
    if magic == b"PAR1" or p.suffix.lower() == ".parquet":
        try:
            return pd.read_parquet(p)
        except ImportError:
            raise InputError(f"{source}: reading Parquet needs pyarrow; "
                             "pip install pyarrow") from None
        except Exception as e:
            raise InputError(f"{source}: not a readable Parquet file ({one_line(e)}); "
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
            raise InputError(f"{source}: not a valid comma-separated table ({one_line(e)}); "
                             "fix the file so every row has the header's columns") from None
    return df


def one_line(e: BaseException) -> str:
    text = " ".join(str(e).split())
    return text[:200] if text else type(e).__name__



def text_cells(col: pd.Series) -> pd.Series:
    """The column as stripped strings, with missing values (None, NaN, NaT) as "" (vectorised)."""
    return col.astype(object).where(col.notna(), "").astype(str).str.strip()


def _clean_numbers(s: pd.Series) -> pd.Series:
    """Quotes, currency symbols and thousands separators removed, for cells that failed a plain parse."""
    s = s.str.strip("\"'").str.strip()
    s = s.str.replace(r"^([+-]?)\s*[$€£]\s*", r"\1", regex=True)
    s = s.str.replace(r"\s*[$€£]$", "", regex=True)
    thousands = s.str.match(_THOUSANDS).fillna(False).astype(bool)
    return s.where(~thousands, s.str.replace(",", "", regex=False))


def parse_numbers(col: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """(float values with NaN for missing, mask of cells that are neither numbers nor missing)."""
    if pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col):
        return col.to_numpy(dtype=float, na_value=np.nan), np.zeros(len(col), dtype=bool)
    s = text_cells(col)
    missing = s.str.lower().isin(NA_TOKENS).to_numpy()
    values = pd.to_numeric(s.where(~missing, ""), errors="coerce").to_numpy(dtype=float, copy=True)
    ok = ~np.isnan(values)  # pandas' fast parser can be 1 ulp off; Python's float() is correctly rounded
    values[ok] = s[ok].astype(float).to_numpy()
    retry = np.isnan(values) & ~missing  # only these need the slower clean-up (10M plain rows skip it)
    if retry.any():
        values[retry] = pd.to_numeric(_clean_numbers(s[retry]), errors="coerce").to_numpy(dtype=float)
    bad = np.isnan(values) & ~missing
    return values, bad


def parse_dates(col: pd.Series, name: str, source: str, rows: np.ndarray) -> pd.DatetimeIndex:
    if pd.api.types.is_datetime64_any_dtype(col):
        dates = pd.DatetimeIndex(col)
        if dates.tz is not None:
            dates = dates.tz_convert("UTC").tz_localize(None)
        if dates.isna().any():
            _missing_date(source, name, rows[np.flatnonzero(dates.isna())[0]])
        return dates.as_unit("ns")
    s = text_cells(col)
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



def find_column(columns, wanted: str):
    if wanted in columns:
        return wanted
    lower = {str(c).lower(): c for c in reversed(list(columns))}
    return lower.get(str(wanted).strip().lower())


def pick_date_column(df: pd.DataFrame, date_col, source: str, rows) -> tuple[str, str]:
    """(column in df, name to report)."""
    cols = list(df.columns)
    unnamed = str(cols[0]).startswith("Unnamed: 0") or str(cols[0]) in ("", "index")
    if date_col is not None:
        found = find_column(cols, date_col)
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
            parse_dates(df[cols[0]], "index", source, rows)
            return cols[0], "index"
        except InputError:
            pass
    raise InputError(f"{source}: no date column found (columns: {', '.join(map(str, cols))}); "
                     "name it 'Date' or pass --date-col")


def pick_target_column(df: pd.DataFrame, target, date_key, source: str) -> str:
    others = [c for c in df.columns if c != date_key]
    numeric = []
    for c in others:
        values, bad = parse_numbers(df[c])
        ok = ~np.isnan(values)
        if ok.any() and ok.sum() > bad.sum():
            numeric.append(c)
    listing = ", ".join(map(str, numeric)) or "none"
    if target is not None:
        found = find_column(others, target)
        if found is None:
            raise InputError(f"{source}: target column '{target}' not found; numeric columns are "
                             f"{listing}; pass one of them as --target")
        return found
    for name in ("Adj Close", "Close") + TARGET_NAMES:
        found = find_column(others, name)
        if found is not None:
            return found
    if len(numeric) == 1:
        return numeric[0]
    if not numeric:
        raise InputError(f"{source}: no numeric column found (columns: "
                         f"{', '.join(map(str, df.columns))}); add a price column such as 'Close'")
    raise InputError(f"{source}: several numeric columns ({listing}) and none is named Close or "
                     "Price; pass --target NAME")
