"""Read a table file and pick and parse its columns: the file-format layer under the loaders.

``read_table`` reads CSV, CSV.gz or Parquet (CSV cells as strings, blank lines kept so rows = lines). It
sniffs the encoding (UTF-8, UTF-8 with BOM, UTF-16/32 with BOM, UTF-16 without BOM, cp1252/Latin-1 fallback),
the separator (``,`` ``;`` tab ``|``) and the decimal mark (``453,73``; in a comma file quoted, ``"6.635,28"``);
it takes the field row of a multi-row header as pandas/yfinance write it (``Price,Close,...`` / ``Ticker,GOOG,...`` /
``Date,,,``) and records the ticker of every column in ``df.attrs``. ``pick_date_column`` /
``pick_target_column`` find the columns (the date column by name in several languages, else by content);
``parse_dates`` / ``parse_numbers`` parse them. Every problem with a user's file is an ``InputError`` whose
one-line message names the file (as given), the column or row, and the fix. Row numbers are the file's line
numbers with the header as line 1 (as a spreadsheet shows them).
"""

from __future__ import annotations

import codecs
import csv
import gzip
import hashlib
import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from pandas.tseries.api import guess_datetime_format

from forecast.errors import InputError

MAX_BYTES = 2 * 1024**3
NA_TOKENS = {"", "nan", "null", "na", "n/a", "#n/a", "none", ".", "-", "--"}
# Names of a date column: matched exactly (any case), then as a word of the name, then (the first group
# only, as before) as a part of the name.
DATE_NAMES = ("date", "datetime", "timestamp", "time", "day", "period", "datum")
DATE_WORDS = DATE_NAMES + (
    "dates", "date/heure", "date_time", "date time", "time stamp", "ts", "trade date", "trading day",
    "fecha", "data", "dato", "dátum", "datum/zeit", "zeitpunkt", "jour", "horodatage",
    "giorno", "dia", "día", "päivämäärä", "päivä", "zeitstempel", "tarih", "tarikh", "дата", "время", "日付", "日時", "日期",
    "时间", "時間", "날짜", "일자", "תאריך", "تاريخ", "ημερομηνία", "year", "yr", "jahr", "año", "ano", "anno",
    "année", "annee", "quarter", "month", "week", "fiscal year", "observation_date", "obs_date", "asof",
    "as of", "date_utc", "time_utc", "timestamp_utc", "unix", "epoch", "open time", "open_time",
)
TARGET_NAMES = ("adj close", "adj_close", "adjclose", "close", "price", "value")
ADJ_CLOSE_WORDS = {"adj close", "adjusted close", "adj. close", "adj close**", "adjusted_close"}
CLOSE_WORDS = {"close", "closing", "close price", "closing price", "close/last", "last", "last price",
               "schluss", "schlusskurs", "schlussstand", "kurs", "zuletzt", "cierre", "último", "ultimo",
               "clôture", "cloture", "dernier", "chiusura", "fechamento", "slot", "slotkoers", "zamknięcie",
               "stängning", "終値", "收盘", "收盘价", "종가", "закрытие", "kapanış", "settle", "settlement"}
FIELD_NAMES = {"adj close", "close", "high", "low", "open", "volume", "dividends", "stock splits",
               "capital gains", "price", "adj_close", "repaired?"}
SEPARATORS = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}
DATE_FORMATS = [  # what the old hand-written matcher accepted; kept for reference (all still parse)
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
_CUR = r"[$€£¥]"
# a number written with a decimal comma (and optional '.', space or ' thousands groups, sign, currency)
_COMMA_NUMBER = (rf"\s*[+-]?\s*{_CUR}?\s*[+-]?(?:\d{{1,3}}(?:[.\s\u00a0\u202f']\d{{3}})+|\d+)(?:,\d+)?"
                 rf"\s*{_CUR}?\s*")
_COMMA_EVIDENCE = re.compile(r"^[+-]?(?:\d{1,3}(?:\.\d{3})+,\d+|\d+,(?:\d{1,2}|\d{4,})|\d{4,},\d+|0,\d+)$")
_DOT_EVIDENCE = re.compile(r"^[+-]?(?:\d{1,3}(?:,\d{3})+\.\d+|\d+\.(?:\d{1,2}|\d{4,})|\d{4,}\.\d+|0\.\d+)$")
_QUARTER = re.compile(r"^(?:(?P<y1>\d{4})\s*[-/ ]?\s*[Qq](?P<q1>[1-4])|[Qq](?P<q2>[1-4])\s*[-/ ]?\s*(?P<y2>\d{4}))$")
_NUMERIC = r"\d+(?:\.\d+)?"
# a UTC offset after a time of day (``09:30-04:00``, ``00:00:00+0100``, ``12:00Z``): dropped, the local time kept
_OFFSET = re.compile(r"(?<=\d{2}:\d{2})((?::\d{2})?(?:\.\d+)?)\s*(?:Z|UTC|GMT|[+-]\d{2}:?\d{2})$")
_DM_SWAP = re.compile(r"^%([md])(\W+)%([md])")


class TitleLinesWarning(UserWarning):
    """Lines above the header with no separator (an export's title: 'Symbol: ^IXIC') were skipped."""


MAX_TITLE_LINES = 10


def _title_lines(lines: list[str]) -> int:
    """How many of the first lines are a title above the header: lines no separator (',' ';' tab '|') splits,
    some not blank, over at least three that one splits (a quoted "3,202.51" is one field); 0 where there is
    none."""
    def fields(line: str) -> int:  # the most fields a separator splits it into, quotes kept together
        return max(len(_split([line], sep)[0]) if line.strip() else 0 for sep in SEPARATORS)

    k = 0
    while k < min(len(lines), MAX_TITLE_LINES) and fields(lines[k]) < 2:
        k += 1
    rest = [ln for ln in lines[k:] if ln.strip()][:3]
    if not any(ln.strip() for ln in lines[:k]) or len(rest) < 3 or not all(fields(ln) >= 2 for ln in rest):
        return 0
    return k


class DateOrderWarning(UserWarning):
    """Day-first vs month-first was a guess: no day in the column is over 12 and the separator is not '.'.

    Attributes: ``source``, ``column``, ``format`` (the strftime format used), ``alternative`` (the other
    reading, to pass as ``date_format`` / ``--date-format``) and ``example`` (the first date as written).
    """

    def __init__(self, message, source="", column="", format="", alternative="", example=""):
        super().__init__(message)
        self.source, self.column, self.format = source, column, format
        self.alternative, self.example = alternative, example


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


# ------------------------------------------------------------------------------------------ reading


def _bom_encoding(head: bytes) -> str | None:
    if head[:4] in (b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff"):
        return "utf-32"
    if head[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return "utf-16"
    if len(head) >= 8:  # UTF-16 without a BOM: every other byte is zero
        even, odd = head[0::2][:2048], head[1::2][:2048]
        if odd.count(0) >= 0.9 * len(odd) and even.count(0) == 0:
            return "utf-16-le"
        if even.count(0) >= 0.9 * len(even) and odd.count(0) == 0:
            return "utf-16-be"
    return None


def _sample_lines(text: str, full: bool) -> list[str]:
    lines = text.splitlines()
    if not full and len(lines) > 1:
        lines = lines[:-1]  # the head may end inside a line
    return lines[:200]


def _split(lines: list[str], sep: str) -> list[list[str]]:
    try:
        return list(csv.reader(lines, delimiter=sep))
    except csv.Error:
        return [ln.split(sep) for ln in lines]


def sniff_separator(lines: list[str]) -> str:
    """The separator whose field count is >= 2 on the header and the same on most data lines (',' if none)."""
    nonblank = [ln for ln in lines if ln.strip()]
    if not nonblank:
        return ","
    best, best_score = ",", -1.0
    for sep in SEPARATORS:
        rows = _split(nonblank[:60], sep)
        h = len(rows[0])
        if h < 2:
            continue
        data = [len(r) for r in rows[1:]]
        score = (sum(n == h for n in data) / len(data)) if data else 0.5
        if score > best_score:
            best, best_score = sep, score
    return best


def sniff_decimal(rows: list[list[str]], comma_separated: bool = False) -> str:
    """',' when cells such as 453,73 or 1.234,5 appear and none such as 453.73 or 1,234.5; else '.'; 1,234 is
    neither. In a comma-separated file such cells are quoted (a German Investing.com export: "6.635,28"), and
    one column must be made of them (at least 3 cells and half of its filled ones): a stray "0,5" in a note
    column does not turn prices of "32,060" into 32.06."""
    comma, dot, filled = {}, 0, {}
    for r in rows:
        for k, cell in enumerate(r):
            c = re.sub(rf"^\s*{_CUR}?\s*|\s*{_CUR}?\s*$", "", cell.strip().strip("\"'"))
            comma[k] = comma.get(k, 0) + bool(_COMMA_EVIDENCE.match(c))
            filled[k] = filled.get(k, 0) + bool(c)
            dot += bool(_DOT_EVIDENCE.match(c))
    if dot or not any(comma.values()):
        return "."
    if comma_separated and not any(n >= max(3, filled[k] / 2) for k, n in comma.items()):
        return "."
    return ","


def _multi_header(rows: list[list[str]]):
    """(levels, index name) when the file starts with pandas' MultiIndex header (level rows, then a row with
    only the index name, e.g. yfinance's Price / Ticker / Date rows); else None."""
    for k in (2, 3):  # one row of names is a plain header
        if len(rows) <= k + 1:
            return None
        idx = rows[k]
        levels = rows[:k]
        if not (idx and idx[0].strip() and all(not c.strip() for c in idx[1:]) and len(idx) >= 2):
            continue
        if any(len(r) != len(idx) for r in levels) or len(rows[k + 1]) != len(idx):
            return None
        if not all(all(c.strip() for c in r[1:]) for r in levels):
            return None
        if any(_is_number(c) for r in levels[1:] for c in r[1:]) or idx[0].strip()[:1].isdigit():
            return None  # a data row, not a level of column names
        if not any(c.strip() for c in rows[k + 1][1:]):
            return None
        return levels, idx[0].strip()
    return None


def _is_number(cell: str) -> bool:
    c = cell.strip().strip("\"'").replace(",", "")
    try:
        float(c)
        return True
    except ValueError:
        return False


def _is_value(cell: str) -> bool:
    """A number or a date with a year: what a header row never holds (all of it)."""
    c = cell.strip().strip("\"'")
    if not c:
        return False
    if _is_number(c) or _QUARTER.match(c):
        return True
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fmt = guess_datetime_format(c)
    return fmt is not None and ("%Y" in fmt or "%y" in fmt)


def _field_and_ticker(levels: list[list[str]]):
    """(field names, tickers) per column from the level rows (first cell of each is the level's name)."""
    if len(levels) == 1:
        return [c.strip() for c in levels[0][1:]], None
    names = [r[0].strip().lower() for r in levels]
    score = [sum(c.strip().lower() in FIELD_NAMES for c in r[1:]) for r in levels]
    fi = names.index("price") if "price" in names else int(np.argmax(score))
    fields = [c.strip() for c in levels[fi][1:]]
    others = [r for i, r in enumerate(levels) if i != fi]
    tickers = [" ".join(r[j].strip() for r in others) for j in range(1, len(levels[0]))]
    return fields, tickers


def read_table(p: Path, source: str, *, sep: str | None = None, decimal: str | None = None) -> pd.DataFrame:
    """The raw table: Parquet as stored, CSV as strings (blank lines kept, so rows = lines).

    ``sep`` (',' ';' tab '|' ...) and ``decimal`` (',' or '.') override the sniffed ones. With a decimal
    comma, numbers are rewritten to plain form ('1.234,5' -> '1234.5') so ``parse_numbers`` reads them.
    ``df.attrs`` (CSV only): ``sep``, ``decimal``, ``encoding``, ``first_line`` (the file's line number of
    the first data row: 2, 4 after a three-row yfinance header, 1 for a file without a header row, whose
    columns are then named "column 1", "column 2", ...); after a multi-row header also
    ``fields`` and ``tickers`` ({column: field}, {column: ticker}): one ticker -> the columns are the
    fields (Close, High, ...); several -> they are named "FIELD TICKER" ("Close AAPL"); see stack_tickers.
    """
    try:
        with open(p, "rb") as f:
            magic = f.read(4)
        compression = "gzip" if magic[:2] == b"\x1f\x8b" else "infer"
        with (gzip.open if compression == "gzip" else open)(p, "rb") as f:
            head = f.read(65536) if magic != b"PAR1" else b""
            full = len(head) < 65536 or not f.read(1)
    except (OSError, EOFError) as e:
        raise InputError(f"{source}: cannot read the file ({one_line(e)})") from None
    if magic == b"PAR1" or p.suffix.lower() == ".parquet":
        try:
            frame = pd.read_parquet(p)
        except ImportError:
            raise InputError(f"{source}: reading Parquet needs pyarrow; "
                             "pip install pyarrow") from None
        except Exception as e:
            raise InputError(f"{source}: not a readable Parquet file ({one_line(e)}); "
                             "pass a valid Parquet or CSV file") from None
        if isinstance(frame.index, pd.DatetimeIndex) or frame.index.name is not None:  # df.set_index("Date")
            frame = frame.reset_index()
        return frame
    if head[:4] == b"PK\x03\x04" or head[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":
        raise InputError(f"{source}: looks like an Excel workbook (or another zip file), not a text table; "
                         "save the sheet as CSV and pass that")
    wide = _bom_encoding(head)
    if wide:
        text = codecs.getincrementaldecoder(wide)(errors="replace").decode(head)
        controls = sum(ord(ch) < 32 and ch not in "\t\n\f\r" for ch in text)
        binary = controls > 0.01 * max(len(text), 1)
        encodings = [wide]
    else:
        controls = sum(b < 32 and b not in (9, 10, 12, 13) for b in head)
        binary = b"\x00" in head or controls > 0.01 * max(len(head), 1)
        try:
            text = codecs.getincrementaldecoder("utf-8-sig")().decode(head)
        except UnicodeDecodeError:
            text = head.decode("cp1252", errors="replace")
        encodings = ["utf-8-sig", "cp1252", "latin-1"]
    if binary:
        raise InputError(f"{source}: does not look like a text table (binary data); "
                         "pass comma-separated values with a header row")
    lines = _sample_lines(text, full)
    title = _title_lines(lines)
    if title:
        shown = " / ".join(ln.strip() for ln in lines[:title] if ln.strip())
        warnings.warn(TitleLinesWarning(f"{source}: skipped {title} line{'s' if title > 1 else ''} above the table "
                                        f"({shown[:80]!r}): a title, not data"), stacklevel=2)
        lines = lines[title:]
    chosen = sep if sep is not None else sniff_separator(lines)
    nonblank = [ln for ln in lines if ln.strip()]
    first = nonblank[0] if nonblank else ""
    if sep is None and chosen != "," and sum(bool(ln.strip()) for ln in lines[1:]) < 2:
        name = SEPARATORS.get(chosen, repr(chosen))
        raise InputError(f"{source}: looks {name}-separated (header {first.strip()!r}), but one data row is "
                         "too few to be sure of the separator; use comma-separated values or add rows")
    rows = _split(nonblank[:200], chosen) if nonblank else []
    dec = decimal if decimal is not None else sniff_decimal(rows[1:], chosen == ",")  # a comma file's are quoted
    multi = _multi_header(rows) if rows else None
    kw = dict(sep=chosen, dtype=str, keep_default_na=False, na_filter=False, skip_blank_lines=False,
              compression=compression)
    if multi:
        levels, index_name = multi
        fields, tickers = _field_and_ticker(levels)
        several = tickers is not None and len(set(tickers)) > 1
        names = [f"{f} {t}" if several else f for f, t in zip(fields, tickers or fields)]
        if len(set(names)) < len(names):
            names = [f"{f} {t}" for f, t in zip(fields, tickers or range(len(fields)))]
        kw.update(header=None, skiprows=title + len(levels) + 1, names=[index_name] + names)
    headerless = bool(rows) and not multi and len(rows[0]) >= 2 and all(_is_value(c) for c in rows[0])
    if headerless:  # the first line is data (numbers and dates only): columns are named "column 1", ...
        kw.update(header=None, names=[f"column {i + 1}" for i in range(len(rows[0]))])
    if title and not multi:
        kw.update(skiprows=title)
    name = SEPARATORS.get(chosen, repr(chosen))
    df = None
    for encoding in encodings:
        try:
            df = pd.read_csv(p, encoding=encoding, **kw)
            break
        except UnicodeError:
            continue
        except pd.errors.EmptyDataError:
            raise InputError(f"{source}: no header or data found; pass a CSV with a header "
                             "row and data rows") from None
        except Exception as e:
            raise InputError(f"{source}: not a valid {name}-separated table ({one_line(e)}); "
                             "fix the file so every row has the header's columns") from None
    if df is None:
        raise InputError(f"{source}: cannot decode the text as {encodings[-1]}; save it as UTF-8 "
                         "comma-separated values")
    if dec == ",":
        df = _comma_decimals(df)
    df.attrs.update(sep=chosen, decimal=dec, encoding=encoding, first_line=title + (1 if headerless else 2))
    if multi:
        df.attrs.update(first_line=title + len(levels) + 2, fields=dict(zip(names, fields)),
                        tickers=dict(zip(names, tickers)) if tickers else {})
    return df


def _comma_decimals(df: pd.DataFrame) -> pd.DataFrame:
    """Cells written with a decimal comma (and '.'/space thousands) rewritten as '1234.5' (vectorised)."""
    for c in df.columns:
        s = df[c]
        sample = s.iloc[:500].str.strip()
        if not (sample.str.contains(",", regex=False).any() or sample.str.contains(r"\d\.\d{3}\b").any()):
            continue
        ok = s.str.fullmatch(_COMMA_NUMBER).fillna(False).to_numpy(dtype=bool)
        if ok.any():
            fixed = s[ok].str.replace(r"[.\s\u00a0\u202f']", "", regex=True).str.replace(",", ".", regex=False)
            s = s.copy()
            s[ok] = fixed
            df[c] = s
    return df


def stack_tickers(df: pd.DataFrame, date_col: str | None = None, id_name: str = "Ticker") -> pd.DataFrame:
    """A multi-ticker table from read_table in long form: columns [date, id_name, fields...], the rows of
    each ticker in file order, tickers in order of first appearance. A table without tickers is returned
    as is."""
    tickers = df.attrs.get("tickers") or {}
    fields = df.attrs.get("fields") or {}
    if len(set(tickers.values())) < 2:
        return df
    date_col = date_col if date_col is not None else df.columns[0]
    parts = []
    for t in dict.fromkeys(tickers.values()):
        cols = [c for c in df.columns if tickers.get(c) == t]
        part = df[[date_col] + cols].rename(columns={c: fields.get(c, c) for c in cols})
        part.insert(1, id_name, t)
        parts.append(part)
    out = pd.concat(parts, ignore_index=True)
    out.attrs = {}
    return out


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


def _to_float(s: pd.Series) -> np.ndarray:
    """Exact (round-trip) floats, NaN where a cell is not a number. pd.to_numeric alone is faster to write
    but its parser is off by one unit in the last place for about one decimal string in ten."""
    try:
        return s.astype(np.float64).to_numpy(copy=True)
    except (ValueError, TypeError):
        values = pd.to_numeric(s, errors="coerce").to_numpy(dtype=float, copy=True)
        ok = ~np.isnan(values)
        try:
            values[ok] = s[ok].astype(np.float64).to_numpy()
        except (ValueError, TypeError):
            pass
        return values


def parse_numbers(col: pd.Series, suffixed: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """(float values with NaN for missing, mask of cells that are neither numbers nor missing). ``suffixed``: a
    covariate's cells may carry a thousand/million/billion or percent suffix ('2.10B', '0.77%'), where every
    cell that is no plain number has one; never a price's (a stray '1.2K' among prices stays an error)."""
    if pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col):
        return col.to_numpy(dtype=float, na_value=np.nan), np.zeros(len(col), dtype=bool)
    if pd.api.types.infer_dtype(col, skipna=True) == "string":  # cells as read from a CSV
        try:  # the fast path: every cell a plain number (surrounding spaces and "nan" allowed)
            return col.astype(np.float64).to_numpy(copy=True), np.zeros(len(col), dtype=bool)
        except (ValueError, TypeError):
            pass
    s = text_cells(col)
    missing = s.str.lower().isin(NA_TOKENS).to_numpy()
    values = _to_float(s.where(~missing, "nan"))
    retry = np.isnan(values) & ~missing  # only these need the slower clean-up (10M plain rows skip it)
    if retry.any():
        values[retry] = _to_float(_clean_numbers(s[retry]))
        scaled = np.isnan(values) & ~missing
        if suffixed and scaled.any():  # volumes as exported ('2.10B', '734.5K') and changes ('0.77%')
            found = _suffixed(s[scaled])
            if not np.isnan(found).any():
                values[scaled] = found
    bad = np.isnan(values) & ~missing
    return values, bad


_SUFFIXED = re.compile(r"^([+-]?\d+(?:\.\d+|,\d{1,2})?)\s*([KMBT%])$", re.IGNORECASE)
_SCALE = {"k": "e3", "m": "e6", "b": "e9", "t": "e12", "%": "e0"}  # as an exponent: '2.01e9' parses exactly


def _suffixed(s: pd.Series) -> np.ndarray:
    """Numbers with a thousand/million/billion/trillion suffix or a percent sign, as Investing.com exports volumes
    and changes ('2.10B', '2,10B', '0.77%': 2.1e9, 2.1e9, 0.77); NaN for any other cell."""
    parts = s.str.strip().str.extract(_SUFFIXED)
    text = parts[0].str.replace(",", ".", regex=False) + parts[1].str.lower().map(_SCALE)
    return pd.to_numeric(text, errors="coerce").to_numpy(dtype=np.float64)


# ------------------------------------------------------------------------------------------ dates

_EPOCH_UNITS = [(9, 10, "s"), (12, 13, "ms"), (15, 16, "us"), (18, 19, "ns")]
_DESCRIBE = {"ISO8601": "ISO 8601 (YYYY-MM-DD[ HH:MM[:SS]][Z|+HH:MM])", "year": "a bare year (YYYY)",
             "quarter": "a quarter (YYYYQn)", "%Y%m%d": "YYYYMMDD", "%Y%m": "YYYYMM"}


def describe_format(fmt: str) -> str:
    if fmt in _DESCRIBE:
        return _DESCRIBE[fmt]
    if fmt.startswith("epoch_"):
        return f"Unix epoch {fmt[6:]}"
    return fmt


class _DateError(Exception):
    def __init__(self, i: int, why: str = ""):
        self.i, self.why = i, why


def parse_dates(col: pd.Series, name: str, source: str, rows: np.ndarray, *, date_format: str | None = None,
                dayfirst: bool | None = None, date_col_given: bool = False, info: dict | None = None,
                warn: bool = True) -> pd.DatetimeIndex:
    """The column as tz-naive datetimes (time zones converted to UTC), one format for the whole column.

    The format is inferred from the first value (pandas' guess: ISO, M/D/YYYY, D.M.YYYY, 'Aug 4 2009',
    '04-Aug-2009', 'Tue, 04 Aug 2009', ...), or numeric (bare years, YYYYMM, YYYYMMDD, Unix epoch seconds /
    ms / us / ns), or quarters ('2018Q1' -> 2018-01-01); ``date_format`` (a strftime format, 'ISO8601' or
    'mixed') overrides. Day-first vs month-first: ``dayfirst`` if given, else a day over 12 decides, else the
    reading whose dates fall far more regularly (``_irregularity``: 01/07/1991, 01/08/1991, ... is monthly
    day-first), else the separator ('.' day-first, others month-first); that last case is a guess and emits a
    DateOrderWarning (``warn=False``: silent). ``info`` (a dict) receives format, dayfirst and order_guessed. The
    error names the first row that is not in the column's format; "or pass --date-col" is left out when
    ``date_col_given``.
    """
    if info is None:
        info = {}
    info.update(format=None, dayfirst=None, order_guessed=False)
    hint = "" if date_col_given else " or pass --date-col"
    if pd.api.types.is_datetime64_any_dtype(col):
        dates = pd.DatetimeIndex(col)
        if dates.tz is not None:  # the local time of day, in the column's zone
            dates = dates.tz_localize(None)
        if dates.isna().any():
            _missing_date(source, name, rows[np.flatnonzero(dates.isna())[0]])
        info["format"] = "datetime"
        return dates.as_unit("ns")
    if pd.api.types.is_float_dtype(col) and col.notna().all() and (col == np.floor(col)).all():
        col = col.astype("int64")
    s = text_cells(col)
    empty = (s.str.lower().isin(NA_TOKENS)).to_numpy()
    if empty.any():
        _missing_date(source, name, rows[np.flatnonzero(empty)[0]])
    if len(s) == 0:
        return pd.DatetimeIndex([], dtype="datetime64[ns]")
    if date_format is None or "%z" not in date_format:  # the times as the exchange's clock showed them
        s = s.str.replace(_OFFSET, r"\1", regex=True)
    first = s.iloc[0]
    try:
        if date_format is not None:
            parsed, fmt = _with_format(s, date_format, dayfirst), date_format
            if parsed.isna().any():
                raise _DateError(int(np.flatnonzero(parsed.isna())[0]), f"not in --date-format {date_format!r}")
        elif re.fullmatch(_NUMERIC, first):
            parsed, fmt = _numeric_dates(s)
        elif _QUARTER.match(first):
            parsed, fmt = _quarters(s)
        else:
            parsed, fmt = _text_dates(s, dayfirst, info)
    except _DateError as e:
        i = e.i
        what = e.why or ("all dates must share one format" + ("" if i == 0 else
                         f"; this column's is {describe_format(info.get('tried') or '?')}, as in row "
                         f"{rows[0]} {first!r}"))
        fix = ("fix that date or correct --date-format" if date_format is not None  # a summary line: delete it
               else f"fix that date, delete that line{hint}")
        raise InputError(f"{source}: column '{name}' row {rows[i]}: cannot parse date {s.iloc[i]!r} "
                         f"({what}); {fix}") from None
    info["format"] = fmt
    dates = pd.DatetimeIndex(parsed)
    if dates.tz is not None:
        dates = dates.tz_convert("UTC").tz_localize(None)
    if info.get("order_guessed") and warn:
        alt = info.get("alternative", "")
        order = "day-first" if info.get("dayfirst") else "month-first"
        warnings.warn(DateOrderWarning(
            f"{source}: column '{name}': dates such as {first!r} were read as {order} ({fmt}) because no day "
            f"is over 12; if that is wrong, pass --date-format '{alt}'", source, name, fmt, alt, first),
            stacklevel=2)
    return dates.as_unit("ns")


def _with_format(s: pd.Series, fmt: str, dayfirst=None) -> pd.Series:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if fmt == "mixed":
            return pd.to_datetime(s, format="mixed", dayfirst=bool(dayfirst), errors="coerce", utc=True)
        return pd.to_datetime(s, format=fmt, errors="coerce", utc=True)


def _first_bad(parsed) -> int:
    bad = np.asarray(pd.isna(parsed))
    return int(np.argmax(bad)) if bad.any() else -1


def _numeric_dates(s: pd.Series):
    """Bare years, YYYYMM, YYYYMMDD or Unix epoch times: decided by the first value's digits."""
    first = s.iloc[0]
    ok = s.str.fullmatch(_NUMERIC).to_numpy(dtype=bool)
    if not ok.all():
        raise _DateError(int(np.argmin(ok)), "")
    whole = s.str.split(".", n=1, regex=False).str[0]
    integral = s.str.fullmatch(r"\d+(\.0*)?").to_numpy(dtype=bool)
    if "." in first and integral[0]:  # 1700.0, 1701.0: a year column written from floats
        if not integral.all():
            raise _DateError(int(np.argmin(integral)), "not a whole number like the first date")
        s, first = whole, whole.iloc[0]
    digits = whole.str.lstrip("0").str.len().to_numpy()
    n = len(first.split(".")[0].lstrip("0"))
    for lo, hi, unit in _EPOCH_UNITS:
        if lo <= n <= hi:
            inside = (digits >= lo) & (digits <= hi)
            if not inside.all():
                raise _DateError(int(np.argmin(inside)), f"not Unix epoch {unit} like row 2")
            values = pd.to_numeric(s).to_numpy(dtype=float if unit == "s" else None)
            return pd.to_datetime(values, unit=unit, utc=True), f"epoch_{unit}"
    fmt = {4: "year", 6: "%Y%m", 8: "%Y%m%d"}.get(len(first))
    if fmt is None:
        raise _DateError(0, "a number that is not a year, YYYYMMDD or Unix time")
    same = (s.str.len() == len(first)).to_numpy() & ~s.str.contains(".", regex=False).to_numpy()
    if not same.all():
        raise _DateError(int(np.argmin(same)), f"not {describe_format(fmt)} like the first date")
    parsed = pd.to_datetime(s, format="%Y" if fmt == "year" else fmt, errors="coerce")
    i = _first_bad(parsed)
    if i >= 0:
        raise _DateError(i, f"not a valid {describe_format(fmt)} date")
    return parsed, fmt


def _quarters(s: pd.Series):
    m = s.str.extract(_QUARTER.pattern)
    year = m["y1"].fillna(m["y2"])
    q = m["q1"].fillna(m["q2"])
    bad = (year.isna() | q.isna()).to_numpy()
    if bad.any():
        raise _DateError(int(np.argmax(bad)), "not a quarter like 2018Q1")
    ymd = year.astype(int) * 10000 + (q.astype(int) * 3 - 2) * 100 + 1
    return pd.to_datetime(ymd.astype(str), format="%Y%m%d"), "quarter"


def _text_dates(s: pd.Series, dayfirst, info: dict):
    first = s.iloc[0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fmt = guess_datetime_format(first)
    if fmt is None:
        m = re.fullmatch(r"(\d{1,2})(\W)(\d{1,2})\2(\d{2})", first)  # 04/08/09: two-digit years
        if m:
            fmt = f"%m{m[2]}%d{m[2]}%y"
    if fmt is None:
        return _mixed_dates(s, dayfirst, info)
    if not any(d in fmt for d in ("%Y", "%y", "%s")):
        raise _DateError(0, "a date needs a year")
    candidates = [fmt]
    if fmt.startswith("%Y-%m") and "%d-%m" not in fmt:
        candidates = ["ISO8601", fmt]
    for long_, short in (("%B", "%b"), ("%A", "%a")):  # 'May' fits both; 'Jun' / 'June' only one
        if long_ in fmt:
            candidates.append(fmt.replace(long_, short))
        elif short in fmt:
            candidates.append(fmt.replace(short, long_))
    swap = _DM_SWAP.match(fmt)
    if swap:
        alt = f"%{swap[3]}{swap[2]}%{swap[1]}" + fmt[swap.end():]
        month_first = fmt if swap[1] == "m" else alt
        day_first = alt if swap[1] == "m" else fmt
        prefer_day = "." in swap[2] if dayfirst is None else bool(dayfirst)
        candidates = [day_first, month_first] if prefer_day else [month_first, day_first]
    best = None
    for k, c in enumerate(candidates):
        info["tried"] = c
        parsed = _with_format(s, c)
        i = _first_bad(parsed)
        if i < 0:
            if swap:
                ambiguous = not (pd.DatetimeIndex(parsed).day > 12).any()
                if ambiguous and k == 0 and dayfirst is None:  # both readings may parse: a far more regular one wins
                    other = _with_format(s, candidates[1])
                    if _first_bad(other) < 0:
                        mine, theirs = _irregularity(parsed), _irregularity(other)
                        if theirs * REGULAR_BY < mine:
                            parsed, c, k = other, candidates[1], 1
                        same = bool((parsed == other).all())  # 01/01/1990, 01/01/1991, ...: both readings agree
                        ambiguous = not (same or theirs * REGULAR_BY < mine or mine * REGULAR_BY < theirs)
                info["dayfirst"] = c.startswith("%d")
                info["alternative"] = candidates[1 - k]
                info["order_guessed"] = bool(ambiguous and k == 0 and dayfirst is None and "." not in swap[2])
            return parsed, c
        if best is None or i > best[0]:
            best = (i, c)
    info["tried"] = best[1]
    raise _DateError(best[0])


REGULAR_BY = 3  # a day/month reading whose gaps are this much more regular than the other's is taken without a guess


def _irregularity(parsed: pd.Series) -> float:
    """The longest gap between the distinct dates over the median one: about 1.1 for monthly dates read the right
    way round, 5 for trading days with a holiday weekend, over 300 for monthly dates 01/07/1991, 01/08/1991, ...
    read month-first (seven January days in a row, then a year's jump)."""
    gaps = np.diff(np.unique(pd.DatetimeIndex(parsed.dropna()).asi8))
    return float(gaps.max() / np.median(gaps)) if len(gaps) and np.median(gaps) > 0 else 1.0


def _mixed_dates(s: pd.Series, dayfirst, info: dict):
    """Values pandas cannot give one format for: dateutil per value, with one shape (digit and letter runs
    and the characters between) for the whole column, and a four-digit year."""
    info["tried"] = "mixed"
    shape = s.str.replace(r"\d+", "9", regex=True).str.replace(r"[^\W\d_]+", "a", regex=True)
    same = (shape == shape.iloc[0]).to_numpy()
    if not same.all():
        raise _DateError(int(np.argmin(same)))
    if not re.search(r"\d{4}", s.iloc[0]):
        raise _DateError(0, "no date format fits it; a date needs a year")
    parsed = _with_format(s, "mixed", dayfirst)
    i = _first_bad(parsed)
    if i >= 0:
        raise _DateError(i)
    return parsed, "mixed"


def _missing_date(source, name, row):
    raise InputError(f"{source}: column '{name}' row {row}: date is missing; "
                     "fill it in or delete the row")


def looks_like_dates(col: pd.Series, n: int = 200) -> bool:
    """Whether the first `n` non-missing values of `col` parse as dates in one format (used to find a date
    column by content). Plain numbers count only as bare years (1800-2200), YYYYMMDD or epoch times, and
    only when they are sorted."""
    if pd.api.types.is_datetime64_any_dtype(col):
        return True
    if pd.api.types.is_bool_dtype(col):
        return False
    s = text_cells(col.iloc[: 4 * n])
    s = s[~s.str.lower().isin(NA_TOKENS)].iloc[:n].reset_index(drop=True)
    if len(s) == 0:
        return False
    info: dict = {}
    try:
        d = parse_dates(s, "", "", np.arange(len(s)), info=info, warn=False)
    except InputError:
        return False
    fmt = info["format"]
    if fmt in ("year", "%Y%m", "%Y%m%d") or str(fmt).startswith("epoch_"):
        if not (d.is_monotonic_increasing or d.is_monotonic_decreasing):
            return False
        if fmt == "year" and not ((d.year >= 1800) & (d.year <= 2200)).all():
            return False
        if str(fmt).startswith("epoch_") and not ((d.year >= 1980) & (d.year <= 2100)).all():
            return False
    return True


def find_column(columns, wanted: str):
    if wanted in columns:
        return wanted
    lower = {str(c).lower(): c for c in reversed(list(columns))}
    return lower.get(str(wanted).strip().lower())


def _words(name: str) -> set[str]:
    low = name.strip().lower()
    return {low} | set(re.findall(r"[^\W_]+", low)) | set(re.split(r"\s*[/()\[\]|]\s*", low))


def join_year_parts(df: pd.DataFrame) -> pd.DataFrame:
    """A file with the year and the quarter (or month) in two columns, as statsmodels' macrodata has them: one
    date column 'year+quarter' (each period's first day) in their place, so the periods are not read as
    repeated years; ``df`` unchanged where a column is named like a date, or the two do not hold whole years
    and quarters 1-4 (months 1-12)."""
    cols = {str(c).lower(): c for c in df.columns}
    part = next((n for n in ("quarter", "qtr", "month") if n in cols), None)
    first = str(df.columns[0]) if len(df.columns) else ""
    dated = any(w in name for name in cols for w in ("date", "time", "period", "datum")) or (
        first.startswith("Unnamed: 0") or first in ("", "index"))  # a written pandas index holds the dates
    if "year" not in cols or part is None or dated:
        return df
    year, unit = (pd.to_numeric(text_cells(df[cols[n]]), errors="coerce") for n in ("year", part))
    top = 12 if part == "month" else 4
    if not (year.notna() & unit.notna() & (year == year.round()) & (unit == unit.round()) & unit.between(1, top)).all():
        return df
    months = (unit.astype(int) - 1) * (12 // top) + 1
    dates = pd.to_datetime(pd.DataFrame({"year": year.astype(int), "month": months, "day": 1}))
    out = df.drop(columns=[cols["year"], cols[part]])
    out.insert(0, f"{cols['year']}+{cols[part]}", dates.dt.strftime("%Y-%m-%d").to_numpy())
    return out


def pick_date_column(df: pd.DataFrame, date_col, source: str, rows) -> tuple[str, str]:
    """(column in df, name to report): `date_col` if given; else the first column named like a date (date,
    datum, fecha, data, date/heure, 日付, year, timestamp, ... exactly, then as a word of the name, then
    containing date/time/day/period...), an unnamed first column (a written pandas index), else the first
    column whose values parse as dates."""
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
    low = [str(c).strip().lower() for c in cols]
    for test in (lambda c: c in DATE_NAMES, lambda c: any(w in c for w in DATE_NAMES)):  # as before
        for c, lc in zip(cols, low):
            if test(lc):
                return c, str(c)
    if unnamed:
        try:
            parse_dates(df[cols[0]], "index", source, rows, warn=False)
            return cols[0], "index"
        except InputError:
            pass
    words = set(DATE_WORDS)
    named = [c for c, lc in zip(cols, low) if lc in words] + \
        [c for c, lc in zip(cols, low) if lc not in words and _words(lc) & words]
    for c in named:  # other languages and names (year, quarter, ...): only when the values are dates
        if looks_like_dates(df[c]):
            return c, str(c)
    for c in cols:
        if c not in named and looks_like_dates(df[c]):
            return c, str(c)
    if named:  # named like a date but not parseable: its own error will say which row
        return named[0], str(named[0])
    raise InputError(f"{source}: no date column found (columns: {', '.join(map(str, cols))}); "
                     "name it 'Date' or pass --date-col")


def pick_target_column(df: pd.DataFrame, target, date_key, source: str) -> str:
    others = [c for c in df.columns if c != date_key]
    tickers = {c: t for c, t in (df.attrs.get("tickers") or {}).items() if c in others}
    several = len(set(tickers.values())) > 1
    numeric = []
    for c in others:
        values, bad = parse_numbers(df[c])
        ok = ~np.isnan(values)
        if ok.any() and ok.sum() > bad.sum():
            numeric.append(c)
    listing = ", ".join(map(str, numeric)) or "none"
    if target is not None:
        found = find_column(others, target)
        if found is None and several:
            fields = df.attrs.get("fields") or {}
            match = [c for c in others if str(fields.get(c, "")).lower() == str(target).strip().lower()]
            if match:
                raise InputError(f"{source}: has {len(set(tickers.values()))} tickers "
                                 f"({', '.join(dict.fromkeys(tickers.values()))}); pass --target with one "
                                 f"column such as '{match[0]}'")
        if found is None and find_column([date_key], target) is not None:
            raise InputError(f"{source}: --target '{target}' is the date column; numeric columns are {listing}; "
                             "pass one of them as --target")
        if found is None:
            raise InputError(f"{source}: target column '{target}' not found; numeric columns are "
                             f"{listing}; pass one of them as --target")
        return found
    if several:
        fields = df.attrs.get("fields") or {}
        pick = next((c for name in ("adj close", "close") for c in others
                     if str(fields.get(c, "")).lower() == name), numeric[0] if numeric else others[0])
        raise InputError(f"{source}: has {len(set(tickers.values()))} tickers "
                         f"({', '.join(dict.fromkeys(tickers.values()))}); pass --target with one column "
                         f"such as '{pick}'")
    for name in ("Adj Close", "Close") + TARGET_NAMES:
        found = find_column(others, name)
        if found is not None:
            return found
    if len(numeric) == 1:
        return numeric[0]
    for words in (ADJ_CLOSE_WORDS, CLOSE_WORDS):  # 'Close/Last', 'Schlusskurs', 'Cierre', ... among numbers
        hits = [c for c in numeric if _words(str(c)) & words]
        if hits:
            return hits[0]
    if not numeric:
        fix = "add a price column such as 'Close'"
        if len(df.columns) <= 2 and any(sep in str(c) for c in df.columns for sep in SEPARATORS):
            fix = "the header was read as one column with separators in it: pass the file's --sep"
        raise InputError(f"{source}: no numeric column found (columns: {', '.join(map(str, df.columns))}); {fix}")
    raise InputError(f"{source}: several numeric columns ({listing}) and none is named Close or "
                     "Price; pass --target NAME")


def read_dates(df: pd.DataFrame, date_col, source: str, rows, *, date_format: str | None = None,
               dayfirst: bool | None = None) -> tuple[str, str, pd.DatetimeIndex, dict]:
    """pick_date_column + parse_dates with the hints right: (column, name to report, dates, info)."""
    key, name = pick_date_column(df, date_col, source, rows)
    info: dict = {}
    dates = parse_dates(df[key], name, source, rows, date_format=date_format, dayfirst=dayfirst,
                        date_col_given=date_col is not None, info=info)
    return key, name, dates, info
