"""Payment plans: instalment schedules and how a plan stands on a day.

A schedule splits what the customer owes (the principal, plus optional
simple interest and a set-up fee) into equal instalments in the currency's
minor units; the rounding remainder goes on the last one, so the
instalments always add up to the total exactly. Interest is simple, at an
annual rate, on the principal still unpaid between instalment dates
(actual days / 365), rounded once to minor units.

``plan_standing`` compares the payments received since the plan started
with the instalments due so far: which instalment is missed, for how many
days, and whether the plan is kept, broken or complete.
"""

from __future__ import annotations

import calendar
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal
from enum import StrEnum

from .money import MoneyError, minor_units, quantum

DAYS_IN_YEAR = Decimal(365)
MAX_INSTALMENTS = 120


class Frequency(StrEnum):
    WEEKLY = "weekly"
    FORTNIGHTLY = "fortnightly"
    MONTHLY = "monthly"


class PlanError(ValueError):
    """A schedule that cannot be built; the message says why."""


@dataclass(frozen=True)
class Instalment:
    number: int
    due_date: date
    amount: Decimal


@dataclass(frozen=True)
class Schedule:
    currency: str
    principal: Decimal
    interest: Decimal
    fee: Decimal
    instalments: tuple[Instalment, ...]

    @property
    def total(self) -> Decimal:
        return self.principal + self.interest + self.fee

    @property
    def last_due(self) -> date:
        return self.instalments[-1].due_date


def add_months(day: date, months: int) -> date:
    """``day`` moved by whole months, kept at the month's end when the
    month is shorter (31 Jan + 1 month = 28 or 29 Feb)."""
    month0 = day.month - 1 + months
    year, month = day.year + month0 // 12, month0 % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def due_dates(first_due: date, count: int, frequency: Frequency) -> tuple[date, ...]:
    """``count`` strictly increasing due dates from ``first_due``. Monthly
    dates keep the first date's day of month (or the month's last day)."""
    if frequency is Frequency.MONTHLY:
        return tuple(add_months(first_due, n) for n in range(count))
    step = 7 if frequency is Frequency.WEEKLY else 14
    return tuple(first_due + timedelta(days=step * n) for n in range(count))


def split_equal(total: Decimal, count: int, currency: str) -> tuple[Decimal, ...]:
    """``total`` in ``count`` equal parts in minor units, the remainder on
    the last part. Raises PlanError when a part would be zero."""
    q = quantum(currency)
    total = total.quantize(q, rounding=ROUND_HALF_UP)
    part = (total / count).quantize(q, rounding=ROUND_DOWN)
    if part <= 0:
        raise PlanError(f"{total} {currency} cannot be split into {count} instalments")
    return (*(part for _ in range(count - 1)), total - part * (count - 1))


def plan_interest(
    *,
    principal: Decimal,
    currency: str,
    annual_rate: Decimal,
    start: date,
    dates: Sequence[date],
) -> Decimal:
    """Simple interest at ``annual_rate`` percent on the principal still
    unpaid in each period (``start`` to the first due date, then between
    due dates), the principal falling by an equal share at each date."""
    if annual_rate == 0:
        return Decimal(0).quantize(quantum(currency))
    count = len(dates)
    interest = Decimal(0)
    previous = start
    for n, due in enumerate(dates):
        outstanding = principal * (count - n) / count
        interest += outstanding * annual_rate / 100 * (due - previous).days / DAYS_IN_YEAR
        previous = due
    return interest.quantize(quantum(currency), rounding=ROUND_HALF_UP)


def schedule_build(
    *,
    principal: Decimal,
    currency: str,
    count: int,
    start: date,
    first_due: date,
    frequency: Frequency = Frequency.MONTHLY,
    annual_rate: Decimal = Decimal(0),
    setup_fee: Decimal = Decimal(0),
) -> Schedule:
    """The schedule for ``principal`` in ``count`` instalments from
    ``first_due``; interest runs from ``start``. The fee and the interest
    are spread over the instalments with the principal. Raises PlanError
    for a bad count, dates, rate, fee or amount, MoneyError for a bad
    currency."""
    q = quantum(currency)
    if not 1 <= count <= MAX_INSTALMENTS:
        raise PlanError(f"the number of instalments must be 1 to {MAX_INSTALMENTS}")
    if principal <= 0:
        raise PlanError("the amount of a plan must be positive")
    if principal != principal.quantize(q) or setup_fee != setup_fee.quantize(q):
        raise MoneyError(f"amounts in {currency} have at most {minor_units(currency)} decimals")
    if first_due < start:
        raise PlanError("the first instalment cannot be due before the plan starts")
    if not Decimal(0) <= annual_rate <= Decimal(100):
        raise PlanError("the interest rate must be 0 to 100 percent a year")
    if setup_fee < 0:
        raise PlanError("the set-up fee cannot be negative")
    dates = due_dates(first_due, count, frequency)
    interest = plan_interest(
        principal=principal, currency=currency, annual_rate=annual_rate, start=start, dates=dates
    )
    amounts = split_equal(principal + interest + setup_fee, count, currency)
    return Schedule(
        currency=currency,
        principal=principal.quantize(q),
        interest=interest,
        fee=setup_fee.quantize(q),
        instalments=tuple(
            Instalment(n, due, amount)
            for n, (due, amount) in enumerate(zip(dates, amounts, strict=True), 1)
        ),
    )


class Standing(StrEnum):
    KEPT = "kept"
    MISSED = "missed"
    BROKEN = "broken"
    COMPLETED = "completed"


@dataclass(frozen=True)
class PlanStanding:
    """How a plan stands on ``as_of``. ``paid_through`` is the number of
    instalments the payments cover in full (in order); ``missed`` the first
    instalment due before ``as_of`` and not covered (None: none), missed for
    ``days_missed`` days; ``behind`` what is due by ``as_of`` and not paid."""

    standing: Standing
    paid_through: int
    due_so_far: Decimal
    paid: Decimal
    behind: Decimal
    missed: Instalment | None
    days_missed: int
    reason: str


def plan_standing(
    instalments: Sequence[Instalment],
    *,
    paid: Decimal,
    as_of: date,
    break_after_days: int,
) -> PlanStanding:
    """Compare ``paid`` (received since the plan started) with the
    instalments: completed when it covers them all; broken when an
    instalment has been missed for more than ``break_after_days`` days;
    missed when one is overdue for fewer; kept otherwise. An instalment
    counts as missed from the day after its due date."""
    running = Decimal(0)
    paid_through = 0
    due_so_far = Decimal(0)
    missed: Instalment | None = None
    for inst in instalments:
        running += inst.amount
        if paid >= running:
            paid_through = inst.number
        elif missed is None and inst.due_date < as_of:
            missed = inst
        if inst.due_date <= as_of:
            due_so_far += inst.amount
    behind = max(due_so_far - paid, Decimal(0))
    if paid_through == len(instalments):
        return PlanStanding(
            Standing.COMPLETED, paid_through, due_so_far, paid, behind, None, 0, "all paid"
        )
    if missed is None:
        return PlanStanding(
            Standing.KEPT,
            paid_through,
            due_so_far,
            paid,
            behind,
            None,
            0,
            f"{paid_through} of {len(instalments)} instalments paid",
        )
    days = (as_of - missed.due_date).days
    standing = Standing.BROKEN if days > break_after_days else Standing.MISSED
    reason = (
        f"instalment {missed.number} of {missed.amount} due {missed.due_date.isoformat()} "
        f"not paid after {days} days"
    )
    return PlanStanding(standing, paid_through, due_so_far, paid, behind, missed, days, reason)
