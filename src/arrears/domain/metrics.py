"""Aging and collection metrics: the formulas of DESIGN.md §4 "Report
definitions".

Pure: one currency's figures in (AR, current AR, AR at the start of the
period, credit sales, monthly sales), results out. The ledger gathers the
figures in the database; nothing here adds amounts of different currencies,
because nothing here knows about more than one.

Results are exact Decimals; ``Metrics.rounded()`` gives what reports show.
A ratio whose denominator is zero is ``None`` (undefined), never 0 or
infinity: DSO with no credit sales, percent past due with no AR.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields, replace
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

YEAR_DAYS = 365


# --- Aging ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Bucket:
    """An aging bucket: days past due from ``first`` to ``last``, inclusive
    (``None``: unbounded on that side)."""

    name: str
    first: int | None
    last: int | None

    def holds(self, days_past_due: int) -> bool:
        return (self.first is None or days_past_due >= self.first) and (
            self.last is None or days_past_due <= self.last
        )

    def due_dates(self, as_of: date) -> tuple[date | None, date | None]:
        """The earliest and latest due date (inclusive) of an invoice in this
        bucket at ``as_of``; ``None`` means unbounded. For queries."""
        earliest = None if self.last is None else as_of - timedelta(days=self.last)
        latest = None if self.first is None else as_of - timedelta(days=self.first)
        return earliest, latest


# By days past due (as_of - due date), never by invoice date: a report says so.
BUCKETS = (
    Bucket("current", None, 0),
    Bucket("1-30", 1, 30),
    Bucket("31-60", 31, 60),
    Bucket("61-90", 61, 90),
    Bucket("90+", 91, None),
)
AGING_BUCKETS = tuple(b.name for b in BUCKETS)
CURRENT = BUCKETS[0]


def days_past_due(due_date: date, as_of: date) -> int:
    """Days from the due date to ``as_of``: 0 on the due date, negative before."""
    return (as_of - due_date).days


def aging_bucket(days: int) -> str:
    """The bucket name for a number of days past due (≤ 0 is ``current``)."""
    for bucket in BUCKETS:
        if bucket.holds(days):
            return bucket.name
    raise AssertionError(f"no bucket holds {days} days")  # pragma: no cover - buckets cover all


# --- Sales by month ------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MonthSales:
    """One calendar month's credit sales and the days it counts for.

    ``days`` is the month's length, or for the month of ``as_of`` the days
    up to and including ``as_of``.
    """

    year: int
    month: int
    sales: Decimal
    days: int


def _month_before(year: int, month: int) -> tuple[int, int]:
    return (year - 1, 12) if month == 1 else (year, month - 1)


def monthly_sales(as_of: date, daily: Mapping[date, Decimal]) -> tuple[MonthSales, ...]:
    """Credit sales per calendar month, newest first: from the month of
    ``as_of`` (counted up to ``as_of``) back to the earliest month with a
    sale in ``daily`` (sales per issue date). Days after ``as_of`` are
    ignored; months without sales in between are kept with 0. Empty when
    there are no sales on or before ``as_of``."""
    by_month: dict[tuple[int, int], Decimal] = {}
    for day, amount in daily.items():
        if day <= as_of:
            key = (day.year, day.month)
            by_month[key] = by_month.get(key, Decimal(0)) + amount
    if not by_month:
        return ()
    earliest = min(by_month)
    months: list[MonthSales] = []
    year, month = as_of.year, as_of.month
    while (year, month) >= earliest:
        days = as_of.day if (year, month) == (as_of.year, as_of.month) else _month_days(year, month)
        months.append(MonthSales(year, month, by_month.get((year, month), Decimal(0)), days))
        year, month = _month_before(year, month)
    return tuple(months)


def _month_days(year: int, month: int) -> int:
    return calendar.monthrange(year, month)[1]


def period_sales(as_of: date, period_days: int, daily: Mapping[date, Decimal]) -> Decimal:
    """Credit sales issued in (as_of - period_days, as_of]."""
    start = as_of - timedelta(days=period_days)
    return sum((amount for day, amount in daily.items() if start < day <= as_of), Decimal(0))


def month_ends(as_of: date, count: int) -> list[date]:
    """The last ``count`` month ends on or before ``as_of``, oldest first
    (``as_of`` itself when it is a month end)."""
    year, month = as_of.year, as_of.month
    if as_of.day != _month_days(year, month):
        year, month = _month_before(year, month)
    ends: list[date] = []
    for _ in range(count):
        ends.append(date(year, month, _month_days(year, month)))
        year, month = _month_before(year, month)
    return ends[::-1]


# --- Metrics -------------------------------------------------------------


def _ratio(numerator: Decimal, denominator: Decimal) -> Decimal | None:
    return None if denominator == 0 else numerator / denominator


def dso(ar: Decimal, credit_sales: Decimal, period_days: int) -> Decimal | None:
    """Days sales outstanding: AR / credit sales * P; None without sales."""
    ratio = _ratio(ar, credit_sales)
    return None if ratio is None else ratio * period_days


def best_possible_dso(
    current_ar: Decimal, credit_sales: Decimal, period_days: int
) -> Decimal | None:
    """DSO of the AR not yet due: current AR / credit sales * P."""
    return dso(current_ar, credit_sales, period_days)


def average_days_delinquent(
    dso_days: Decimal | None, best_possible_days: Decimal | None
) -> Decimal | None:
    """DSO - best possible DSO (≥ 0); None when either is undefined."""
    if dso_days is None or best_possible_days is None:
        return None
    return dso_days - best_possible_days


def dso_countback(ar: Decimal, months: Iterable[MonthSales]) -> Decimal | None:
    """Countback DSO: going back month by month from the newest, subtract
    each month's sales from AR and add its days while AR remains; the month
    that exhausts AR adds days * remaining / its sales.

    0 when there is no AR. None when AR exceeds all the sales given (it
    cannot for a consistent ledger: AR is part of the sales ever made).
    """
    if ar <= 0:
        return Decimal(0)
    remaining, days = ar, Decimal(0)
    for month in months:
        if month.sales > 0 and remaining <= month.sales:
            return days + month.days * remaining / month.sales
        remaining -= month.sales
        days += month.days
    return None


def collection_effectiveness_index(
    begin_ar: Decimal, credit_sales: Decimal, end_ar: Decimal, end_current_ar: Decimal
) -> Decimal | None:
    """CEI in percent: (begin AR + sales - end AR) / (begin AR + sales - end
    current AR) * 100, with the period's total sales (not divided by its
    months). None when nothing was collectable (denominator 0)."""
    ratio = _ratio(begin_ar + credit_sales - end_ar, begin_ar + credit_sales - end_current_ar)
    return None if ratio is None else ratio * 100


def ar_turnover(
    credit_sales: Decimal, period_days: int, begin_ar: Decimal, end_ar: Decimal
) -> Decimal | None:
    """Annualised: credit sales * 365 / P / average of begin and end AR;
    None when both are 0."""
    return _ratio(credit_sales * YEAR_DAYS / period_days, (begin_ar + end_ar) / 2)


def average_collection_period(turnover: Decimal | None) -> Decimal | None:
    """365 / AR turnover; None when turnover is undefined or 0 (no sales)."""
    if turnover is None or turnover == 0:
        return None
    return YEAR_DAYS / turnover


def percent_past_due(past_due_ar: Decimal, ar: Decimal) -> Decimal | None:
    """Past-due AR / AR * 100; None without AR."""
    ratio = _ratio(past_due_ar, ar)
    return None if ratio is None else ratio * 100


def bad_debt_to_sales(written_off: Decimal, credit_sales: Decimal) -> Decimal | None:
    """Bad debt written off in the period / its credit sales * 100; None
    without sales."""
    ratio = _ratio(written_off, credit_sales)
    return None if ratio is None else ratio * 100


@dataclass(frozen=True, slots=True)
class PeriodFigures:
    """One currency's ledger figures for the metrics at ``as_of`` over the
    ``period_days`` ending on it.

    ``ar`` and ``current_ar`` (not yet past due) are taken at ``as_of``,
    ``begin_ar`` at as_of - period_days; ``credit_sales`` are the invoices
    issued in (as_of - P, as_of]; ``months`` the monthly sales newest first
    (see ``monthly_sales``), for the countback.
    """

    as_of: date
    period_days: int
    ar: Decimal
    current_ar: Decimal
    begin_ar: Decimal
    credit_sales: Decimal
    months: tuple[MonthSales, ...] = ()
    # Bad debt written off in the period.
    written_off: Decimal = Decimal(0)

    def __post_init__(self) -> None:
        if self.period_days < 1:
            raise ValueError("period_days must be at least 1")
        if not 0 <= self.current_ar <= self.ar:
            raise ValueError("current AR must be between 0 and AR")

    @property
    def past_due_ar(self) -> Decimal:
        return self.ar - self.current_ar


@dataclass(frozen=True, slots=True)
class Metrics:
    """The contract's metrics, in its order; None where undefined."""

    dso: Decimal | None
    dso_countback: Decimal | None
    best_possible_dso: Decimal | None
    average_days_delinquent: Decimal | None
    cei: Decimal | None
    ar_turnover: Decimal | None
    average_collection_period: Decimal | None
    percent_past_due: Decimal | None
    bad_debt_to_sales: Decimal | None = None

    def rounded(self, places: int = 2) -> Metrics:
        """Each figure rounded half up to ``places`` decimals, as reports show them."""
        step = Decimal(1).scaleb(-places)
        return replace(
            self,
            **{
                f.name: None if value is None else value.quantize(step, rounding=ROUND_HALF_UP)
                for f in fields(self)
                for value in [getattr(self, f.name)]
            },
        )

    def as_dict(self) -> dict[str, Decimal | None]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


METRIC_NAMES = tuple(f.name for f in fields(Metrics))


def metrics_compute(figures: PeriodFigures) -> Metrics:
    """All the metrics of one currency from its figures (exact, unrounded)."""
    p = figures.period_days
    days = dso(figures.ar, figures.credit_sales, p)
    best = best_possible_dso(figures.current_ar, figures.credit_sales, p)
    turnover = ar_turnover(figures.credit_sales, p, figures.begin_ar, figures.ar)
    return Metrics(
        dso=days,
        dso_countback=dso_countback(figures.ar, figures.months),
        best_possible_dso=best,
        average_days_delinquent=average_days_delinquent(days, best),
        cei=collection_effectiveness_index(
            figures.begin_ar, figures.credit_sales, figures.ar, figures.current_ar
        ),
        ar_turnover=turnover,
        average_collection_period=average_collection_period(turnover),
        percent_past_due=percent_past_due(figures.past_due_ar, figures.ar),
        bad_debt_to_sales=bad_debt_to_sales(figures.written_off, figures.credit_sales),
    )
