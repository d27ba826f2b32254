"""Frequencies of price series: infer a series' calendar and continue it into the future.

Daily stock data has no rows on weekends and exchange holidays, so the calendar of a series is
inferred from its own dates ("trading_days" for weekdays without NYSE holidays) and forecasts are
dated on the same calendar: months and years keep the file's day (start, end, last business or trading
day, or its own day of the month), weeks keep the file's weekday, and steps of less than a day stay in
the series' observed session (its opening and closing time per weekday; nights, closed days and, for
an exchange session, NYSE holidays are skipped). Only numpy and pandas are imported here.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pandas as pd
from pandas.tseries.holiday import (
    AbstractHolidayCalendar,
    GoodFriday,
    Holiday,
    USLaborDay,
    USMartinLutherKingJr,
    USMemorialDay,
    USPresidentsDay,
    USThanksgivingDay,
    nearest_workday,
    sunday_to_monday,
)

FREQUENCIES: dict[str, str] = {
    "trading_days": "weekdays without exchange (NYSE) holidays, as in daily stock data",
    "business_days": "every weekday (Monday to Friday)",
    "daily": "every calendar day, weekends included",
    "hourly": "every hour",
    "weekly": "every 7 days, on the same weekday",
    "monthly": "once a month",
    "quarterly": "once a quarter",
    "other": "an irregular spacing; forecasts are spaced by the median gap",
}
# Labels added after bundles began storing the ones above (which keep their meaning). infer_frequency
# returns them with detailed=True; future_dates accepts every label in ALL_FREQUENCIES.
MORE_FREQUENCIES: dict[str, str] = {
    "annual": "once a year, on the series' own month and day (year starts, year ends, ...)",
    "intraday": "steps of less than a day within the series' own session (e.g. 09:30-16:00 on trading "
                "days, 24/5 for FX, 24/7 where the file has weekends)",
}
ALL_FREQUENCIES: dict[str, str] = {**FREQUENCIES, **MORE_FREQUENCIES}

# One-off NYSE closures (not rule based); they only matter for recognising historical data.
_SPECIAL_CLOSURES = [
    "1994-04-27", "2001-09-11", "2001-09-12", "2001-09-13", "2001-09-14", "2004-06-11",
    "2007-01-02", "2012-10-29", "2012-10-30", "2018-12-05", "2025-01-09",
]


class NYSEHolidayCalendar(AbstractHolidayCalendar):
    """Full-day NYSE holidays (New Year's Day is not moved back when it falls on a Saturday)."""

    rules = [
        Holiday("New Year's Day", month=1, day=1, observance=sunday_to_monday),
        USMartinLutherKingJr,
        USPresidentsDay,
        GoodFriday,
        USMemorialDay,
        Holiday("Juneteenth", month=6, day=19, start_date="2022-01-01", observance=nearest_workday),
        Holiday("Independence Day", month=7, day=4, observance=nearest_workday),
        USLaborDay,
        USThanksgivingDay,
        Holiday("Christmas", month=12, day=25, observance=nearest_workday),
    ] + [
        Holiday(f"Closure {d}", year=int(d[:4]), month=int(d[5:7]), day=int(d[8:]))
        for d in _SPECIAL_CLOSURES
    ]


@lru_cache(maxsize=1)
def trading_day() -> pd.offsets.CustomBusinessDay:
    """One NYSE trading day: a weekday that is not an NYSE holiday."""
    return pd.offsets.CustomBusinessDay(calendar=NYSEHolidayCalendar())


def nyse_holidays(start, end) -> pd.DatetimeIndex:
    """NYSE holidays from ``start`` to ``end`` (computed once per span of years: a panel asks once per series)."""
    start, end = pd.Timestamp(start), pd.Timestamp(end)
    every = _holidays_of_years(start.year, end.year)
    return every[(every >= start.normalize()) & (every <= end)]


@lru_cache(maxsize=64)
def _holidays_of_years(first: int, last: int) -> pd.DatetimeIndex:
    return NYSEHolidayCalendar().holidays(start=f"{first}-01-01", end=f"{last}-12-31")


def stamp_text(stamp) -> str:
    """A date or timestamp as text: the day alone at midnight (daily and coarser data), else day and time. A numpy
    datetime64 (an element of a dates array) reads as the Timestamp it stands for."""
    if isinstance(stamp, np.datetime64):
        stamp = pd.Timestamp(stamp)
    return str(stamp).removesuffix(" 00:00:00")


def stamps_text(dates) -> list[str]:
    """Dates as text in one format for all: the day alone where every one is at midnight, else day and time
    (an hourly forecast's midnight bar reads '2018-11-12 00:00:00', like its neighbours)."""
    dates = pd.DatetimeIndex(dates)
    daily = bool((dates == dates.normalize()).all())
    return list(dates.strftime("%Y-%m-%d" if daily else "%Y-%m-%d %H:%M:%S"))


def _naive(dates) -> pd.DatetimeIndex:
    dates = pd.DatetimeIndex(dates)
    if dates.tz is not None:  # the local time of day, as the files are read (data/read.py)
        dates = dates.tz_localize(None)
    return dates


def _median_gap(dates: pd.DatetimeIndex) -> pd.Timedelta:
    gaps = np.diff(dates.asi8)  # integers in the index's unit
    unit_ns = pd.Timedelta(1, unit=dates.unit).value
    return pd.Timedelta(int(np.median(gaps) * unit_ns), unit="ns")


def infer_frequency(dates: pd.DatetimeIndex, *, detailed: bool = False) -> str:
    """The FREQUENCIES label that best describes sorted `dates`; "other" for fewer than 3.

    With ``detailed=True`` the labels of MORE_FREQUENCIES are used too: "annual" for yearly dates and
    "intraday" for steps of less than a day (hourly data within a session included; "hourly" is then
    kept for round-the-clock hours)."""
    dates = _naive(dates)
    if len(dates) < 3:
        return "other"
    gap = _median_gap(dates)
    days = gap / pd.Timedelta(days=1)
    if days < 0.9:
        hourly = abs(days * 24 - 1) <= 5 / 60
        if not detailed:
            return "hourly" if hourly else "other"
        return "hourly" if hourly and _session(dates, pd.Timedelta(hours=1)) is None else "intraday"
    if 0.9 <= days <= 1.1:
        if (dates.day_of_week >= 5).any():
            return "daily"
        return "trading_days" if _looks_like_exchange(dates) else "business_days"
    if 6 <= days <= 8:
        return "weekly"
    if 27.5 <= days <= 31.5:
        return "monthly"
    if 85 <= days <= 95:
        return "quarterly"
    if detailed and 360 <= days <= 370:
        return "annual"
    return "other"


def _looks_like_exchange(dates: pd.DatetimeIndex) -> bool:
    """True when most weekdays missing from the range are NYSE holidays."""
    days = dates.normalize()
    span = np.arange(days[0].to_datetime64().astype("datetime64[D]"), days[-1].to_datetime64().astype("datetime64[D]")
                     + 1)
    weekdays = pd.DatetimeIndex(span[np.is_busday(span)])  # as pd.bdate_range, without its per-day Python loop
    missing = weekdays.difference(days)
    if len(missing) == 0:
        return False
    holidays = nyse_holidays(days[0], days[-1])
    return missing.isin(holidays).mean() >= 0.8


def future_dates(dates: pd.DatetimeIndex, freq: str, n: int, *, session: dict | None = None) -> pd.DatetimeIndex:
    """The `n` dates after `dates[-1]`, continuing the series' own calendar `freq` (tz-naive).

    Steps of less than a day stay in the series' session, inferred from `dates` (which must then cover
    several days) or given as `session` (what ``session_of`` returned for the full training dates, e.g.
    stored in a bundle when only the last window of dates is kept)."""
    if freq not in ALL_FREQUENCIES:
        raise ValueError(f"unknown frequency {freq!r}; expected one of {', '.join(ALL_FREQUENCIES)}")
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    dates = _naive(dates)
    if len(dates) == 0:
        raise ValueError("future_dates needs at least one date")
    if n == 0:
        return pd.DatetimeIndex([], dtype=dates.dtype)
    last = dates[-1]
    gap = _median_gap(dates) if len(dates) >= 2 else pd.Timedelta(0)
    if freq in ("trading_days", "business_days"):
        step = trading_day() if freq == "trading_days" else pd.offsets.BDay()
        first = last + step  # a date off the calendar rolls to the next valid day
        out = pd.date_range(first, periods=n, freq=step)
    elif freq == "daily":
        out = pd.DatetimeIndex([last + pd.Timedelta(days=k) for k in range(1, n + 1)])
    elif freq == "weekly":
        out = _weekly_steps(dates, n)
    elif freq in ("monthly", "quarterly", "annual"):
        out = _month_steps(dates, {"monthly": 1, "quarterly": 3, "annual": 12}[freq], n)
    elif freq == "hourly" or (freq in ("intraday", "other") and pd.Timedelta(0) < gap < pd.Timedelta(days=0.9)):
        step = pd.Timedelta(hours=1) if freq == "hourly" else gap
        hours = _session(dates, step) if session is None else _from_json(session)
        out = (_session_steps(dates, step, hours, n) if hours is not None
               else pd.DatetimeIndex([last + step * k for k in range(1, n + 1)]))
    elif pd.Timedelta(days=360) <= gap <= pd.Timedelta(days=370):  # "other" that is in fact yearly
        out = _month_steps(dates, 12, n)
    else:
        if gap <= pd.Timedelta(0):
            raise ValueError(f"future_dates with freq {freq!r} needs at least two distinct dates")
        out = pd.DatetimeIndex([last + gap * k for k in range(1, n + 1)])
    out = pd.DatetimeIndex(np.asarray(out, dtype="datetime64[ns]"), name=dates.name)
    return out.as_unit(dates.unit)


def _weekly_steps(dates: pd.DatetimeIndex, n: int) -> pd.DatetimeIndex:
    """Every 7 days on the series' most common weekday (a holiday-shifted last week does not shift the rest)."""
    weekday = int(pd.Series(dates.day_of_week).mode().iloc[0])
    last = dates[-1]
    delta = (weekday - last.day_of_week + 3) % 7 - 3  # the nearest such weekday, -3..3 days away
    base = last + pd.Timedelta(days=delta)
    return pd.DatetimeIndex([base + pd.Timedelta(days=7 * k) for k in range(1, n + 1)])


def _on(offset, days) -> bool:
    return all(offset.is_on_offset(d) for d in days)


def _month_steps(dates: pd.DatetimeIndex, months: int, n: int) -> pd.DatetimeIndex:
    """Steps of `months` months anchored like the data: month start/end, business or trading (NYSE) end or
    start, or the most common day of the month."""
    days = pd.DatetimeIndex(dates.normalize().to_numpy())  # no inferred freq: it changes is_month_end
    last = days[-1]
    time_of_day = dates[-1] - last
    starts = [last.replace(day=1) + pd.DateOffset(months=months * k) for k in range(1, n + 1)]
    cal = NYSEHolidayCalendar()
    if (days.day == 1).all():
        out = starts
    elif (days.day == days.days_in_month).all():
        out = [s + pd.offsets.MonthEnd(0) for s in starts]
    elif _on(pd.offsets.BMonthEnd(), days):
        out = [pd.offsets.BMonthEnd().rollforward(s) for s in starts]
    elif _on(pd.offsets.CustomBusinessMonthEnd(calendar=cal), days):
        out = [pd.offsets.CustomBusinessMonthEnd(calendar=cal).rollforward(s) for s in starts]
    elif _on(pd.offsets.BMonthBegin(), days):
        out = [pd.offsets.BMonthBegin().rollforward(s) for s in starts]
    elif _on(pd.offsets.CustomBusinessMonthBegin(calendar=cal), days):
        out = [pd.offsets.CustomBusinessMonthBegin(calendar=cal).rollforward(s) for s in starts]
    else:
        anchor = int(pd.Series(days.day).mode().max())
        out = [s.replace(day=min(anchor, s.days_in_month)) for s in starts]
    return pd.DatetimeIndex([d + time_of_day for d in out])


# ------------------------------------------------------------------------------------ sessions

CLOCK_DAYS = 5  # the latest days whose shared shift of the open moves a sub-daily session (a clock change)


def _clock_shift(recent: pd.DataFrame, session: dict) -> pd.Timedelta | None:
    """The shift of the open that most of the ``recent`` days (first time of day in ns, ``min``) share against
    their weekday's ``session`` open, where it is a whole hour (a daylight-saving change seen in UTC); else None."""
    wd = pd.DatetimeIndex(recent.index.to_numpy().astype("datetime64[ns]")).day_of_week
    shifts = [int(m) - session[w][0].value for m, w in zip(recent["min"], wd) if w in session]
    if not shifts:
        return None
    common = max(set(shifts), key=shifts.count)
    hour = pd.Timedelta(hours=1).value
    if common == 0 or abs(common) != hour or 2 * shifts.count(common) <= len(shifts):
        return None
    return pd.Timedelta(common, unit="ns")


def _session(dates: pd.DatetimeIndex, step: pd.Timedelta):
    """The series' own session: {"days": {weekday: (open, close) time of day}, "holidays": bool}, or None when
    the data run around the clock every day (or cover a single day, so nothing is known about nights).

    Open and close are the most common first and last times of a day (the first and last day of the file,
    which may be partial, left out); a weekday with its own common times (FX: Sunday from 22:00, Friday
    until 21:00) keeps them. Where most of the last CLOCK_DAYS days open by one and the same shift from those
    hours (a file stamped in UTC after a daylight-saving change), every day's hours move by it: one late first
    bar moves nothing. Monday to Friday are open; Saturday and Sunday only if the file has them. NYSE
    holidays are closed when the file has no weekend and no data on an NYSE holiday."""
    ns = dates.as_unit("ns")
    days = pd.DatetimeIndex(ns.normalize().to_numpy())
    if days[0] == days[-1]:
        return None
    tod = pd.Series((ns - days).asi8)
    per_day = tod.groupby(days.asi8).agg(["min", "max"])
    day_index = pd.DatetimeIndex(per_day.index.to_numpy().astype("datetime64[ns]"))
    observed = set(day_index.day_of_week)
    inner = per_day.iloc[1:-1] if len(per_day) >= 3 else per_day
    inner_wd = pd.DatetimeIndex(inner.index.to_numpy().astype("datetime64[ns]")).day_of_week.to_numpy()
    g_open, g_close = int(inner["min"].mode().min()), int(inner["max"].mode().max())
    opens = inner["min"].groupby(inner_wd).agg(lambda x: x.mode().min())
    closes = inner["max"].groupby(inner_wd).agg(lambda x: x.mode().max())
    session = {}
    for w in sorted(set(range(5)) | (observed & {5, 6})):
        o = int(opens[w]) if w in opens.index else g_open
        c = int(closes[w]) if w in closes.index else g_close
        session[w] = (pd.Timedelta(o, unit="ns"), pd.Timedelta(c, unit="ns"))
    full_day = pd.Timedelta(days=1) - step
    if len(session) == 7 and all(o == pd.Timedelta(0) and c >= full_day for o, c in session.values()):
        return None
    shift = _clock_shift(per_day.iloc[1:].iloc[-CLOCK_DAYS:], session)
    if shift:
        session = {w: (o + shift, c + shift) for w, (o, c) in session.items()}
    weekend = bool(observed & {5, 6})
    traded_on_holiday = day_index.isin(nyse_holidays(day_index[0], day_index[-1])).any()
    return {"days": session, "holidays": not weekend and not traded_on_holiday}


def _sub_daily_session(dates: pd.DatetimeIndex):
    """``_session`` of tz-naive sub-daily ``dates``; None for daily or coarser dates, too few, or around the clock."""
    if len(dates) < 3:
        return None
    gap = _median_gap(dates)
    return _session(dates, gap) if pd.Timedelta(0) < gap < pd.Timedelta(days=0.9) else None


def bars_per_day(dates: pd.DatetimeIndex) -> tuple[int, int | None] | None:
    """(bars in a typical day, bars in a typical week) of sub-daily ``dates`` that keep a session (stock hours:
    7 and 35 hourly bars; FX: 24 and 120; the week None under three weeks of dates); None for dates around the
    clock, daily or coarser dates, or too few."""
    dates = _naive(dates)
    if _sub_daily_session(dates) is None:
        return None
    typical = []
    for period in (dates.normalize(), dates.to_period("W")):  # the first and last day or week may be partial
        counts = pd.Series(period).value_counts(sort=False).sort_index().iloc[1:-1]
        typical.append(int(counts.mode().max()) if len(counts) else None)
    day, week = typical
    return (day, week) if day else None


def session_of(dates: pd.DatetimeIndex) -> dict | None:
    """The session of sub-daily `dates` as JSON-able data for ``future_dates(..., session=)``:
    {"days": {"0": ["09:30:00", "15:59:00"], ...}, "holidays": true} (weekday 0 = Monday; "holidays": NYSE
    holidays are closed); None for daily or coarser dates, or dates around the clock every day."""
    found = _sub_daily_session(_naive(dates))
    if found is None:
        return None
    clock = lambda t: str(t).split(" days ")[-1]  # noqa: E731  Timedelta -> "09:30:00"
    return {"days": {str(w): [clock(o), clock(c)] for w, (o, c) in found["days"].items()},
            "holidays": bool(found["holidays"])}


def stored_session(entry: dict) -> dict | None:
    """What a bundle's series entry (series.json) gives ``future_dates`` as ``session``: the session it stored;
    where it stored none (daily or coarser dates, or dates around the clock), an empty one, so sub-daily steps
    follow the clock instead of a session guessed again from the few dates of the last window (which skipped
    the hours and weekends of 24/7 data); None for a bundle from before sessions were stored."""
    if "session" not in entry:
        return None
    return entry["session"] or {}


def _from_json(session: dict):
    if not session or not session.get("days"):
        return None
    return {"days": {int(w): (pd.Timedelta(o), pd.Timedelta(c)) for w, (o, c) in session["days"].items()},
            "holidays": bool(session.get("holidays"))}


def _session_steps(dates: pd.DatetimeIndex, step: pd.Timedelta, session: dict, n: int) -> pd.DatetimeIndex:
    """The `n` times after the last one on the grid open, open + step, ... <= close of each open day."""
    last = dates[-1]
    day = last.normalize()
    out: list[pd.Timestamp] = []
    closed: set = set()
    if session["holidays"]:
        closed = set(nyse_holidays(day, day + pd.Timedelta(days=10 + 3 * n)))
    for _ in range(10 * n + 14):  # bounded: at least one open weekday a week
        hours = session["days"].get(day.day_of_week)
        if hours is not None and day not in closed:
            t = day + hours[0]
            while t <= day + hours[1] and len(out) < n:
                if t > last:
                    out.append(t)
                t += step
        if len(out) >= n:
            break
        day += pd.Timedelta(days=1)
    return pd.DatetimeIndex(out)
