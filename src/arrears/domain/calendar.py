"""The business calendar: weekends, public holidays per country, and the
customer's local business hours.

Pure functions over dates; nothing here reads the clock.
"""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import cache, lru_cache
from pathlib import Path

import holidays

WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


@dataclass(frozen=True)
class BusinessHours:
    """The local window in which customers may be contacted."""

    start: time = time(9, 0)
    end: time = time(17, 0)

    def __post_init__(self) -> None:
        if self.start >= self.end:
            raise ValueError("business hours must start before they end")


@cache
def _holidays(country: str, year: int) -> dict[date, str]:
    try:
        table = holidays.country_holidays(country, years=year)
    except (NotImplementedError, KeyError):
        # A country the holidays package does not know: weekends only.
        return {}
    return {day: str(name) for day, name in table.items()}


def holiday_name(day: date, country: str) -> str | None:
    """The public holiday on ``day`` in ``country``; None on an ordinary day
    or for a country without a known holiday calendar."""
    return _holidays(country.upper(), day.year).get(day)


def is_weekend(day: date) -> bool:
    return day.weekday() >= 5


# The daily run asks about the same few days and countries for every
# customer: both answers are cached (a day and a country: a few bytes each).
@lru_cache(maxsize=1 << 16)
def non_business_reason(
    day: date, country: str, *, skip_weekends: bool = True, skip_holidays: bool = True
) -> str | None:
    """Why ``day`` is not a business day in ``country``; None when it is."""
    if skip_weekends and is_weekend(day):
        return f"{WEEKDAY_NAMES[day.weekday()]}: no contact on weekends"
    if skip_holidays:
        name = holiday_name(day, country)
        if name is not None:
            return f"public holiday in {country.upper()} ({name})"
    return None


@lru_cache(maxsize=1 << 16)
def next_business_day(
    day: date, country: str, *, skip_weekends: bool = True, skip_holidays: bool = True
) -> date:
    """``day`` itself when it is a business day, else the next one."""
    # Holidays never run for more than a few weeks; the bound guards a bad table.
    for offset in range(60):
        candidate = day + timedelta(days=offset)
        if (
            non_business_reason(
                candidate, country, skip_weekends=skip_weekends, skip_holidays=skip_holidays
            )
            is None
        ):
            return candidate
    return day


@cache
def _zone_table() -> dict[str, str]:
    """Country code to its first (most populous) time zone, from the system's
    tz database; empty when the table is not installed."""
    for directory in zoneinfo.TZPATH:
        path = Path(directory) / "zone.tab"
        if path.is_file():
            table: dict[str, str] = {}
            for line in path.read_text(encoding="utf-8").splitlines():
                if line.startswith("#") or not line.strip():
                    continue
                fields = line.split("\t")
                if len(fields) >= 3:
                    table.setdefault(fields[0], fields[2])
            return table
    return {}


def time_zone_for(country: str, time_zone: str | None = None) -> str:
    """The customer's time zone: the given one when it is valid, else the
    country's main zone, else UTC."""
    if time_zone:
        try:
            zoneinfo.ZoneInfo(time_zone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            pass
        else:
            return time_zone
    return _zone_table().get(country.upper(), "UTC")


def planned_at(
    day: date, country: str, hours: BusinessHours, time_zone: str | None = None
) -> datetime:
    """The aware moment at which an action planned for ``day`` may start: the
    opening of business hours in the customer's local time zone."""
    zone = zoneinfo.ZoneInfo(time_zone_for(country, time_zone))
    return datetime.combine(day, hours.start, tzinfo=zone)


def business_window(
    day: date, country: str, hours: BusinessHours, time_zone: str | None = None
) -> tuple[datetime, datetime]:
    """The aware opening and closing moments of ``day``'s business hours."""
    zone = zoneinfo.ZoneInfo(time_zone_for(country, time_zone))
    return (
        datetime.combine(day, hours.start, tzinfo=zone),
        datetime.combine(day, hours.end, tzinfo=zone),
    )
