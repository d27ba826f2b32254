"""Frequencies of price series: infer a series' calendar and continue it into the future.

Daily stock data has no rows on weekends and exchange holidays, so the calendar of a series is
inferred from its own dates ("trading_days" for weekdays without NYSE holidays) and forecasts are
dated on the same calendar. Only numpy and pandas are imported here.
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
    return NYSEHolidayCalendar().holidays(start=start, end=end)


def _naive(dates) -> pd.DatetimeIndex:
    dates = pd.DatetimeIndex(dates)
    if dates.tz is not None:
        dates = dates.tz_convert("UTC").tz_localize(None)
    return dates


def _median_gap(dates: pd.DatetimeIndex) -> pd.Timedelta:
    gaps = np.diff(dates.asi8)  # integers in the index's unit
    unit_ns = pd.Timedelta(1, unit=dates.unit).value
    return pd.Timedelta(int(np.median(gaps) * unit_ns), unit="ns")


def infer_frequency(dates: pd.DatetimeIndex) -> str:
    """The FREQUENCIES label that best describes sorted `dates`; "other" for fewer than 3."""
    dates = _naive(dates)
    if len(dates) < 3:
        return "other"
    days = _median_gap(dates) / pd.Timedelta(days=1)
    if abs(days * 24 - 1) <= 5 / 60:
        return "hourly"
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
    return "other"


def _looks_like_exchange(dates: pd.DatetimeIndex) -> bool:
    """True when most weekdays missing from the range are NYSE holidays."""
    days = dates.normalize()
    weekdays = pd.bdate_range(days[0], days[-1])
    missing = weekdays.difference(days)
    if len(missing) == 0:
        return False
    holidays = nyse_holidays(days[0], days[-1])
    return missing.isin(holidays).mean() >= 0.8


def future_dates(dates: pd.DatetimeIndex, freq: str, n: int) -> pd.DatetimeIndex:
    """The `n` dates after `dates[-1]`, continuing the series' own calendar `freq` (tz-naive)."""
    if freq not in FREQUENCIES:
        raise ValueError(f"unknown frequency {freq!r}; expected one of {', '.join(FREQUENCIES)}")
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    dates = _naive(dates)
    if len(dates) == 0:
        raise ValueError("future_dates needs at least one date")
    if n == 0:
        return pd.DatetimeIndex([], dtype=dates.dtype)
    last = dates[-1]
    if freq in ("trading_days", "business_days"):
        step = trading_day() if freq == "trading_days" else pd.offsets.BDay()
        first = last + step  # a date off the calendar rolls to the next valid day
        out = pd.date_range(first, periods=n, freq=step)
    elif freq in ("daily", "hourly", "weekly"):
        gap = {"daily": pd.Timedelta(days=1), "hourly": pd.Timedelta(hours=1),
               "weekly": pd.Timedelta(days=7)}[freq]
        out = pd.DatetimeIndex([last + gap * k for k in range(1, n + 1)])
    elif freq in ("monthly", "quarterly"):
        out = _month_steps(dates, 1 if freq == "monthly" else 3, n)
    else:
        gap = _median_gap(dates) if len(dates) >= 2 else pd.Timedelta(0)
        if gap <= pd.Timedelta(0):
            raise ValueError("future_dates with freq 'other' needs at least two distinct dates")
        out = pd.DatetimeIndex([last + gap * k for k in range(1, n + 1)])
    out = pd.DatetimeIndex(np.asarray(out, dtype="datetime64[ns]"), name=dates.name)
    return out.as_unit(dates.unit)


def _month_steps(dates: pd.DatetimeIndex, months: int, n: int) -> pd.DatetimeIndex:
    """Steps of `months` months anchored like the data: month start/end, business end, or day."""
    days = dates.normalize()
    last = days[-1]
    time_of_day = dates[-1] - last
    starts = [last.replace(day=1) + pd.DateOffset(months=months * k) for k in range(1, n + 1)]
    if (days.day == 1).all():
        out = starts
    elif days.is_month_end.all():
        out = [s + pd.offsets.MonthEnd(0) for s in starts]
    elif all(pd.offsets.BMonthEnd().is_on_offset(d) for d in days):
        out = [pd.offsets.BMonthEnd().rollforward(s) for s in starts]
    elif all(pd.offsets.BMonthBegin().is_on_offset(d) for d in days):
        out = [pd.offsets.BMonthBegin().rollforward(s) for s in starts]
    else:
        anchor = int(pd.Series(days.day).mode().max())
        out = [s.replace(day=min(anchor, s.days_in_month)) for s in starts]
    return pd.DatetimeIndex([d + time_of_day for d in out])
