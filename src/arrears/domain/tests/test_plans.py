"""Instalment schedules add up to the total exactly, in minor units, on
increasing dates; a plan's standing follows the payments."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from itertools import pairwise
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from arrears.domain.money import MoneyError, quantum
from arrears.domain.plans import (
    Frequency,
    Instalment,
    PlanError,
    Standing,
    add_months,
    plan_standing,
    schedule_build,
    split_equal,
)

START = date(2025, 1, 15)


def test_equal_instalments_put_the_rounding_remainder_on_the_last() -> None:
    schedule = schedule_build(
        principal=Decimal("1000.00"), currency="EUR", count=3, start=START, first_due=START
    )
    assert [i.amount for i in schedule.instalments] == [
        Decimal("333.33"),
        Decimal("333.33"),
        Decimal("333.34"),
    ]
    assert [i.due_date for i in schedule.instalments] == [
        date(2025, 1, 15),
        date(2025, 2, 15),
        date(2025, 3, 15),
    ]


def test_yen_instalments_have_no_decimals() -> None:
    schedule = schedule_build(
        principal=Decimal("10000"), currency="JPY", count=3, start=START, first_due=START
    )
    assert [i.amount for i in schedule.instalments] == [Decimal(3333), Decimal(3333), Decimal(3334)]


def test_monthly_dates_keep_the_day_or_the_months_last_day() -> None:
    assert add_months(date(2025, 1, 31), 1) == date(2025, 2, 28)
    assert add_months(date(2024, 1, 31), 1) == date(2024, 2, 29)
    assert add_months(date(2025, 11, 30), 3) == date(2026, 2, 28)


def test_interest_is_simple_on_the_declining_principal() -> None:
    # 1,200 in two instalments, 10 % a year: 1,200 for 31 days then 600 for 28 days.
    schedule = schedule_build(
        principal=Decimal("1200.00"),
        currency="EUR",
        count=2,
        start=date(2025, 1, 1),
        first_due=date(2025, 2, 1),
        annual_rate=Decimal(10),
        setup_fee=Decimal("25.00"),
    )
    exact = Decimal(1200) * Decimal("0.1") * 31 / 365 + Decimal(600) * Decimal("0.1") * 28 / 365
    assert schedule.interest == exact.quantize(Decimal("0.01")) == Decimal("14.79")
    assert schedule.fee == Decimal("25.00")
    assert schedule.total == Decimal("1239.79")
    assert sum(i.amount for i in schedule.instalments) == schedule.total


def test_weekly_and_fortnightly_plans_space_their_dates() -> None:
    weekly = schedule_build(
        principal=Decimal(100),
        currency="USD",
        count=3,
        start=START,
        first_due=START,
        frequency=Frequency.WEEKLY,
    )
    fortnightly = schedule_build(
        principal=Decimal(100),
        currency="USD",
        count=2,
        start=START,
        first_due=START,
        frequency=Frequency.FORTNIGHTLY,
    )
    assert weekly.instalments[2].due_date == START + timedelta(days=14)
    assert fortnightly.instalments[1].due_date == START + timedelta(days=14)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"count": 0}, "number of instalments"),
        ({"count": 500}, "number of instalments"),
        ({"principal": Decimal(0)}, "positive"),
        ({"principal": Decimal("0.02"), "count": 3}, "cannot be split"),
        ({"first_due": START - timedelta(days=1)}, "before the plan starts"),
        ({"annual_rate": Decimal(-1)}, "interest rate"),
        ({"setup_fee": Decimal(-1)}, "fee"),
    ],
)
def test_impossible_schedules_are_refused_with_a_reason(
    kwargs: dict[str, Any], message: str
) -> None:
    args = {
        "principal": Decimal(100),
        "currency": "EUR",
        "count": 3,
        "start": START,
        "first_due": START,
        **kwargs,
    }
    with pytest.raises(PlanError, match=message):
        schedule_build(**args)


def test_more_decimals_than_the_currency_has_are_refused() -> None:
    with pytest.raises(MoneyError):
        schedule_build(
            principal=Decimal("10.5"), currency="JPY", count=2, start=START, first_due=START
        )


currencies = st.sampled_from(["EUR", "JPY", "KWD", "USD"])


@given(
    cents=st.integers(min_value=1000, max_value=10**11),
    count=st.integers(min_value=1, max_value=60),
    currency=currencies,
    rate=st.decimals(min_value=0, max_value=30, places=2),
    fee_cents=st.integers(min_value=0, max_value=10**5),
    frequency=st.sampled_from(list(Frequency)),
    first_day=st.dates(min_value=date(2000, 1, 1), max_value=date(2090, 12, 31)),
)
def test_a_schedule_sums_exactly_in_minor_units_on_increasing_dates(
    cents: int,
    count: int,
    currency: str,
    rate: Decimal,
    fee_cents: int,
    frequency: Frequency,
    first_day: date,
) -> None:
    q = quantum(currency)
    principal, fee = Decimal(cents) * q, Decimal(fee_cents) * q
    schedule = schedule_build(
        principal=principal,
        currency=currency,
        count=count,
        start=first_day,
        first_due=first_day + timedelta(days=10),
        frequency=frequency,
        annual_rate=rate,
        setup_fee=fee,
    )
    amounts = [i.amount for i in schedule.instalments]
    assert len(amounts) == count
    assert sum(amounts) == schedule.total == principal + schedule.interest + fee
    assert all(a > 0 and a == a.quantize(q) for a in amounts)
    # Equal but for the last one, which carries less than ``count`` minor units more.
    assert len(set(amounts[:-1])) <= 1
    assert 0 <= amounts[-1] - amounts[0] < count * q
    dates = [i.due_date for i in schedule.instalments]
    assert all(a < b for a, b in pairwise(dates))
    assert [i.number for i in schedule.instalments] == list(range(1, count + 1))


@given(
    total=st.integers(min_value=1, max_value=10**9),
    count=st.integers(min_value=1, max_value=120),
)
def test_split_equal_never_loses_a_cent(total: int, count: int) -> None:
    amount = Decimal(total) / 100
    if amount < count * Decimal("0.01"):
        with pytest.raises(PlanError):
            split_equal(amount, count, "EUR")
        return
    assert sum(split_equal(amount, count, "EUR")) == amount


PLAN = (
    Instalment(1, date(2025, 2, 1), Decimal(100)),
    Instalment(2, date(2025, 3, 1), Decimal(100)),
    Instalment(3, date(2025, 4, 1), Decimal(50)),
)


def test_a_plan_paid_on_time_is_kept() -> None:
    standing = plan_standing(PLAN, paid=Decimal(100), as_of=date(2025, 2, 20), break_after_days=10)
    assert standing.standing is Standing.KEPT
    assert standing.paid_through == 1
    assert standing.behind == 0


def test_an_unpaid_instalment_is_missed_from_the_day_after_it_is_due() -> None:
    on_due = plan_standing(PLAN, paid=Decimal(0), as_of=date(2025, 2, 1), break_after_days=10)
    day_after = plan_standing(PLAN, paid=Decimal(0), as_of=date(2025, 2, 2), break_after_days=10)
    assert on_due.standing is Standing.KEPT
    assert day_after.standing is Standing.MISSED
    assert day_after.missed == PLAN[0]
    assert day_after.days_missed == 1
    assert day_after.behind == Decimal(100)


def test_a_part_payment_does_not_cover_an_instalment() -> None:
    standing = plan_standing(PLAN, paid=Decimal(150), as_of=date(2025, 3, 5), break_after_days=10)
    assert standing.standing is Standing.MISSED
    assert standing.missed == PLAN[1]
    assert standing.behind == Decimal(50)


def test_a_plan_missed_longer_than_allowed_is_broken() -> None:
    standing = plan_standing(PLAN, paid=Decimal(0), as_of=date(2025, 2, 12), break_after_days=10)
    assert standing.standing is Standing.BROKEN
    assert "instalment 1" in standing.reason


def test_a_plan_paid_in_full_is_completed_even_early() -> None:
    standing = plan_standing(PLAN, paid=Decimal(250), as_of=date(2025, 1, 5), break_after_days=10)
    assert standing.standing is Standing.COMPLETED
