"""The business calendar: weekends, holidays per country, local hours."""

from __future__ import annotations

from datetime import date, time

import pytest

from arrears.domain.calendar import (
    BusinessHours,
    business_window,
    holiday_name,
    next_business_day,
    non_business_reason,
    planned_at,
    time_zone_for,
)


def test_weekends_and_holidays_are_not_business_days() -> None:
    assert non_business_reason(date(2025, 3, 1), "DE") == "Saturday: no contact on weekends"
    # The holiday's name is in the holidays package's language for the country.
    assert (non_business_reason(date(2025, 10, 3), "DE") or "").startswith("public holiday in DE (")
    assert non_business_reason(date(2025, 10, 3), "US") is None
    assert non_business_reason(date(2025, 7, 4), "us") == "public holiday in US (Independence Day)"
    assert non_business_reason(date(2025, 3, 1), "DE", skip_weekends=False) is None


def test_an_unknown_country_has_weekends_only() -> None:
    assert holiday_name(date(2025, 12, 25), "ZZ") is None
    assert non_business_reason(date(2025, 12, 27), "ZZ") is not None


def test_next_business_day_skips_weekend_and_holiday() -> None:
    assert next_business_day(date(2025, 12, 24), "DE") == date(2025, 12, 24)
    assert next_business_day(date(2025, 12, 25), "DE") == date(2025, 12, 29)


def test_planned_times_are_aware_and_local() -> None:
    hours = BusinessHours(time(8, 30), time(16, 0))
    assert planned_at(date(2025, 1, 6), "DE", hours).isoformat() == "2025-01-06T08:30:00+01:00"
    assert planned_at(date(2025, 7, 7), "DE", hours).isoformat() == "2025-07-07T08:30:00+02:00"
    start, end = business_window(date(2025, 1, 6), "US", hours, "America/Los_Angeles")
    assert (start.isoformat(), end.isoformat()) == (
        "2025-01-06T08:30:00-08:00",
        "2025-01-06T16:00:00-08:00",
    )


def test_time_zone_falls_back_to_the_country_then_utc() -> None:
    assert time_zone_for("DE") == "Europe/Berlin"
    assert time_zone_for("DE", "Not/AZone") == "Europe/Berlin"
    assert time_zone_for("ZZ") == "UTC"


def test_business_hours_must_start_before_they_end() -> None:
    with pytest.raises(ValueError, match="start before"):
        BusinessHours(time(17), time(9))
