"""Reads for the aging and metrics reports, computed in the database.

An invoice's open amount at a date ``d`` is its amount less the allocations
(payments received, credit notes issued) effective on or before ``d``
(DESIGN.md §4). Summing that invoice by invoice visits every invoice ever
issued with its allocations: seconds at a million invoices. These selectors
use an equivalent split that visits far fewer rows. With ``allocated``, the
invoice's running total of all its allocations (written with them in one
transaction, bounded by CHECK constraints),

    open at d = (amount - allocated) + allocations effective after d

so AR at ``d`` is the sum over invoices issued on or before ``d`` of

- ``amount - allocated`` for the invoices open today (the others add 0), and
- the allocations effective after ``d``.

The first term reads only the invoices open today, the second only the
allocations after ``d`` (few for recent dates). An invoice is open at ``d``
when it is open today or, paid today, was settled after ``d``.

Each read is one query: the two terms aggregated per currency (and bucket,
customer, country or date) and glued by UNION ALL, added up in Python. Only
group totals leave the database, never invoice rows, so the number of queries
and the rows read back do not grow with the ledger. Amounts are rounded to the
currency's minor units after adding (SQLite adds decimals as binary floats).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, Literal

from django.db.models import Aggregate, Count, F, Min, Q, QuerySet, Sum

from arrears.cases.approval_models import WriteOff, WriteOffStatus
from arrears.domain.metrics import (
    AGING_BUCKETS,
    BUCKETS,
    CURRENT,
    Bucket,
    Metrics,
    PeriodFigures,
    metrics_compute,
    month_ends,
    monthly_sales,
    period_sales,
)
from arrears.domain.money import MoneyError, quantum
from arrears.ledger.models import Allocation, Invoice, InvoiceStatus

Breakdown = Literal["customer", "country", "segment", "collector"]
BREAKDOWNS: tuple[Breakdown, ...] = ("customer", "country", "segment", "collector")
# Customers the daily run has not segmented yet, or without a collector.
UNSEGMENTED = "(not yet segmented)"
UNASSIGNED = "(unassigned)"


def _rounded(amount: Decimal | None, currency: str) -> Decimal:
    if amount is None:
        amount = Decimal(0)
    try:
        return amount.quantize(quantum(currency))
    except MoneyError:  # pragma: no cover - imports accept ISO 4217 codes only
        return amount


@dataclass(frozen=True)
class _Term:
    """One of the two parts of AR at a date (see the module docstring)."""

    # Path from the row to its invoice's fields ("" for the invoice itself).
    to_invoice: str
    # The row's contribution to its invoice's open amount.
    amount: Any
    settled_after: bool

    def invoice(self, name: str) -> str:
        return f"{self.to_invoice}{name}"

    def open_at(self, day: date) -> Q:
        """Rows counting towards AR at ``day``."""
        issued = Q(**{self.invoice("issue_date__lte"): day})
        return issued & Q(effective_on__gt=day) if self.settled_after else issued

    def in_bucket(self, bucket: Bucket, day: date) -> Q:
        earliest, latest = bucket.due_dates(day)
        q = Q()
        if earliest is not None:
            q &= Q(**{self.invoice("due_date__gte"): earliest})
        if latest is not None:
            q &= Q(**{self.invoice("due_date__lte"): latest})
        return q

    def rows(self, first: date, last: date) -> QuerySet[Any]:
        """Rows that may count towards AR on some day from ``first`` to ``last``."""
        if self.settled_after:
            return Allocation.objects.filter(
                effective_on__gt=first, invoice__issue_date__lte=last
            ).order_by()
        return Invoice.objects.filter(status=InvoiceStatus.OPEN, issue_date__lte=last).order_by()

    def invoices(self) -> Aggregate:
        """Count of the invoices open at the day, over both terms: every
        invoice of the first; of the second only those paid today (the others
        are already counted by the first)."""
        if self.settled_after:
            return Count("invoice", distinct=True, filter=Q(invoice__status=InvoiceStatus.PAID))
        return Count("pk")


_OPEN_TODAY = _Term("", F("amount") - F("allocated"), settled_after=False)
_SETTLED_LATER = _Term("invoice__", F("amount"), settled_after=True)
_TERMS = (_OPEN_TODAY, _SETTLED_LATER)


def _union_rows(
    *,
    first: date,
    last: date,
    group: Mapping[str, str],
    aggregates: Callable[[_Term], dict[str, Aggregate]],
) -> list[dict[str, Any]]:
    """Both terms grouped by ``group`` (output name: invoice field path),
    in one UNION ALL query; a group may come back twice, once per term."""
    parts = [
        term.rows(first, last)
        .annotate(**{name: F(term.invoice(path)) for name, path in group.items()})
        .values(*group)
        .annotate(**aggregates(term))
        for term in _TERMS
    ]
    return list(parts[0].union(parts[1], all=True))


# --- Aging ---------------------------------------------------------------


@dataclass(frozen=True)
class Aging:
    """Open amounts of one currency (and customer or country, in a
    breakdown) by days past due at a date."""

    currency: str
    buckets: dict[str, Decimal]
    total: Decimal
    open_invoices: int
    # The breakdown's key (customer ref or country code) and a label; "" otherwise.
    key: str = ""
    name: str = ""

    @property
    def current(self) -> Decimal:
        return self.buckets[CURRENT.name]

    @property
    def past_due(self) -> Decimal:
        return self.total - self.current

    @property
    def parts(self) -> list[tuple[str, Decimal, Decimal]]:
        """(bucket, amount, percent of the total) in bucket order."""
        return [
            (name, amount, amount / self.total * 100 if self.total else Decimal(0))
            for name, amount in self.buckets.items()
        ]


def no_aging(currency: str) -> Aging:
    return Aging(currency, dict.fromkeys(AGING_BUCKETS, Decimal(0)), Decimal(0), 0)


def _aging_rows(as_of: date, group: Mapping[str, str]) -> list[Aging]:
    def aggregates(term: _Term) -> dict[str, Aggregate]:
        return {
            **{
                f"b{n}": Sum(term.amount, filter=term.in_bucket(bucket, as_of))
                for n, bucket in enumerate(BUCKETS)
            },
            "n": term.invoices(),
        }

    sums: dict[tuple[str, ...], list[Decimal]] = defaultdict(lambda: [Decimal(0)] * len(BUCKETS))
    counts: dict[tuple[str, ...], int] = defaultdict(int)
    for row in _union_rows(first=as_of, last=as_of, group=group, aggregates=aggregates):
        key = tuple(row[name] for name in group)
        for n in range(len(BUCKETS)):
            sums[key][n] += row[f"b{n}"] or Decimal(0)
        counts[key] += row["n"]
    result = []
    for key, amounts in sums.items():
        currency = key[0]
        buckets = {
            name: _rounded(amount, currency)
            for name, amount in zip(AGING_BUCKETS, amounts, strict=True)
        }
        if counts[key] == 0:
            continue
        result.append(
            Aging(
                currency=currency,
                buckets=buckets,
                total=sum(buckets.values(), Decimal(0)),
                open_invoices=counts[key],
                key=(key[1] or "") if len(key) > 1 else "",
                name=key[2] if len(key) > 2 else "",
            )
        )
    return result


def aging_by_currency(*, as_of: date) -> dict[str, Aging]:
    """Aging per currency at ``as_of``, by days past due, in one query.

    Only currencies with an invoice open at ``as_of`` appear, in code order;
    {} when nothing is open.
    """
    rows = _aging_rows(as_of, {"g_currency": "currency"})
    return {a.currency: a for a in sorted(rows, key=lambda a: a.currency)}


def aging_breakdown(*, as_of: date, by: Breakdown) -> dict[str, list[Aging]]:
    """Aging per currency and customer (``key`` = customer ref, ``name`` its
    name), country (``key`` = ISO code), segment (as the last daily run
    computed it) or collector (username; "(unassigned)" for customers
    without one), largest total first, in one query.

    Currencies in code order; {} when nothing is open.
    """
    if by == "customer":
        group = {"g_currency": "currency", "g_key": "customer__ref", "g_name": "customer__name"}
    elif by == "country":
        group = {"g_currency": "currency", "g_key": "customer__country"}
    elif by == "segment":
        group = {"g_currency": "currency", "g_key": "customer__segment_state__segment"}
    elif by == "collector":
        group = {"g_currency": "currency", "g_key": "customer__collector__username"}
    else:
        raise ValueError(f"no aging breakdown by {by!r}")
    # Only a segment or a collector can be missing (a left join).
    missing = UNSEGMENTED if by == "segment" else UNASSIGNED
    rows = [a if a.key else replace(a, key=missing) for a in _aging_rows(as_of, group)]
    result: dict[str, list[Aging]] = {}
    for aging in sorted(rows, key=lambda a: (a.currency, -a.total, a.key)):
        result.setdefault(aging.currency, []).append(aging)
    return result


# --- AR at dates and credit sales ----------------------------------------


@dataclass(frozen=True)
class ArAt:
    """One currency's AR at a date."""

    ar: Decimal
    current: Decimal
    # Issue date of the oldest invoice open at the date (None: nothing open).
    oldest_issue: date | None


def ar_at_dates(*, dates: Iterable[date]) -> dict[str, dict[date, ArAt]]:
    """AR and current AR per currency at each of ``dates``, in one query.

    Every date appears for every currency with anything open at any of them
    (AR 0 where nothing was open); {} when nothing was open at any date.
    """
    days = sorted(set(dates))
    if not days:
        return {}

    def aggregates(term: _Term) -> dict[str, Aggregate]:
        result: dict[str, Aggregate] = {}
        for n, day in enumerate(days):
            open_then = term.open_at(day)
            result[f"a{n}"] = Sum(term.amount, filter=open_then)
            result[f"c{n}"] = Sum(term.amount, filter=open_then & term.in_bucket(CURRENT, day))
            result[f"m{n}"] = Min(term.invoice("issue_date"), filter=open_then)
        return result

    totals: dict[str, dict[date, list[Any]]] = {}
    for row in _union_rows(
        first=days[0], last=days[-1], group={"g_currency": "currency"}, aggregates=aggregates
    ):
        per_day = totals.setdefault(
            row["g_currency"], {day: [Decimal(0), Decimal(0), None] for day in days}
        )
        for n, day in enumerate(days):
            figures = per_day[day]
            figures[0] += row[f"a{n}"] or Decimal(0)
            figures[1] += row[f"c{n}"] or Decimal(0)
            oldest = row[f"m{n}"]
            if oldest is not None and (figures[2] is None or oldest < figures[2]):
                figures[2] = oldest
    return {
        currency: {
            day: ArAt(_rounded(ar, currency), _rounded(current, currency), oldest)
            for day, (ar, current, oldest) in per_day.items()
        }
        for currency, per_day in sorted(totals.items())
    }


def credit_sales_by_day(*, after: date, upto: date) -> dict[str, dict[date, Decimal]]:
    """Invoice amounts per currency and issue date in (``after``, ``upto``],
    one query; days without invoices are absent, {} when there are none."""
    rows = (
        Invoice.objects.filter(issue_date__gt=after, issue_date__lte=upto)
        .order_by()
        .values("currency", "issue_date")
        .annotate(total=Sum("amount"))
    )
    result: dict[str, dict[date, Decimal]] = {}
    for row in rows:
        result.setdefault(row["currency"], {})[row["issue_date"]] = row["total"]
    return result


def written_off_by_day(*, after: date, upto: date) -> dict[str, dict[date, Decimal]]:
    """Bad debt written off per currency and day in (``after``, ``upto``]
    (one grouped query); {} when nothing was."""
    rows = (
        WriteOff.objects.filter(
            status=WriteOffStatus.WRITTEN_OFF, written_off_on__gt=after, written_off_on__lte=upto
        )
        .order_by()
        .values("currency", "written_off_on")
        .annotate(total=Sum("amount"))
    )
    result: dict[str, dict[date, Decimal]] = defaultdict(dict)
    for row in rows:
        result[row["currency"]][row["written_off_on"]] = row["total"]
    return dict(result)


# --- Metrics -------------------------------------------------------------


@dataclass(frozen=True)
class CurrencyMetrics:
    """One currency's figures and metrics at a date (exact; round to show)."""

    currency: str
    figures: PeriodFigures
    metrics: Metrics

    @property
    def as_of(self) -> date:
        return self.figures.as_of

    @property
    def has_activity(self) -> bool:
        """Anything open at either end of the period, or sold within it."""
        f = self.figures
        return bool(f.ar or f.begin_ar or f.credit_sales)


# Sales read for the countback at first: whole months, back to this many
# before the date's month. AR beyond a year's sales is rare; then the older
# months are read too (one more query).
COUNTBACK_MONTHS = 12


def _month_start(day: date, months_back: int = 0) -> date:
    year, month = divmod(day.year * 12 + day.month - 1 - months_back, 12)
    return date(year, month + 1, 1)


def metrics_at(
    *, dates: Sequence[date], period_days: int
) -> dict[str, dict[date, CurrencyMetrics]]:
    """The metrics per currency at each of ``dates`` over the ``period_days``
    ending on it, in three queries whatever the number of dates (four when a
    countback reaches back more than a year).

    Every date appears for every currency with AR at any date (or its
    period's start) or sales in any of the periods; {} when there is none.
    """
    if period_days < 1:
        raise ValueError("period_days must be at least 1")
    days = sorted(set(dates))
    if not days:
        return {}
    begins = {day: day - timedelta(days=period_days) for day in days}
    ar = ar_at_dates(dates=[*days, *begins.values()])
    # Sales of whole months: the periods', and a year back for the countback.
    start = _month_start(
        min(min(begins.values()) + timedelta(days=1), _month_start(days[0], COUNTBACK_MONTHS))
    )
    sales = credit_sales_by_day(after=start - timedelta(days=1), upto=days[-1])
    written_off = written_off_by_day(after=min(begins.values()), upto=days[-1])
    result, short = _metrics(ar, sales, begins, period_days, written_off)
    # The countback goes back at most to the month of the oldest invoice
    # open at the date: AR is part of what was sold since then.
    oldest = [
        _month_start(issued)
        for per_day in ar.values()
        for day in days
        if (issued := per_day[day].oldest_issue) is not None
    ]
    if short and oldest and min(oldest) < start:
        older = credit_sales_by_day(
            after=min(oldest) - timedelta(days=1), upto=start - timedelta(days=1)
        )
        for currency, daily in older.items():
            sales.setdefault(currency, {}).update(daily)
        result, short = _metrics(ar, sales, begins, period_days, written_off)
    return result


def _metrics(
    ar: dict[str, dict[date, ArAt]],
    sales: dict[str, dict[date, Decimal]],
    begins: dict[date, date],
    period_days: int,
    written_off: dict[str, dict[date, Decimal]],
) -> tuple[dict[str, dict[date, CurrencyMetrics]], bool]:
    """The metrics from the figures read, and whether a countback ran out of
    the sales read (AR left over: older months are needed)."""
    nothing = ArAt(Decimal(0), Decimal(0), None)
    result: dict[str, dict[date, CurrencyMetrics]] = {}
    short = False
    for currency in sorted(set(ar) | set(sales)):
        daily = sales.get(currency, {})
        bad_debt = written_off.get(currency, {})
        at = ar.get(currency, {})
        per_day: dict[date, CurrencyMetrics] = {}
        for day, begin in begins.items():
            end = at.get(day, nothing)
            figures = PeriodFigures(
                as_of=day,
                period_days=period_days,
                ar=end.ar,
                current_ar=end.current,
                begin_ar=at.get(begin, nothing).ar,
                credit_sales=_rounded(period_sales(day, period_days, daily), currency),
                months=monthly_sales(day, daily),
                written_off=_rounded(period_sales(day, period_days, bad_debt), currency),
            )
            metrics = metrics_compute(figures)
            short = short or metrics.dso_countback is None
            per_day[day] = CurrencyMetrics(currency, figures, metrics)
        result[currency] = per_day
    return result, short


def metrics_by_currency(*, as_of: date, period_days: int = 90) -> dict[str, CurrencyMetrics]:
    """The metrics of each currency with AR at ``as_of`` or at the start of
    the period, or sales within it; {} when there is none. Three queries
    (four for a countback of more than a year)."""
    return {
        currency: per_day[as_of]
        for currency, per_day in metrics_at(dates=[as_of], period_days=period_days).items()
        if per_day[as_of].has_activity
    }


@dataclass(frozen=True)
class Trend:
    """One currency's metrics at consecutive month ends, oldest first."""

    currency: str
    points: list[CurrencyMetrics] = field(default_factory=list)


def metrics_trend(*, as_of: date, period_days: int = 90, months: int = 12) -> dict[str, Trend]:
    """The metrics at the last ``months`` month ends on or before ``as_of``
    (DSO, best possible DSO, CEI, percent past due and the rest), per
    currency with any activity in the span; {} when there is none. Two
    queries (three for a countback of more than a year)."""
    ends = month_ends(as_of, months)
    return {
        currency: Trend(currency, [per_day[end] for end in ends])
        for currency, per_day in metrics_at(dates=ends, period_days=period_days).items()
        if any(point.has_activity for point in per_day.values())
    }


# --- The report page -------------------------------------------------------


@dataclass(frozen=True)
class ReportPage:
    """Everything the report page shows, per currency (never added across)."""

    as_of: date
    period_days: int
    aging: dict[str, Aging]
    aging_by_country: dict[str, list[Aging]]
    metrics: dict[str, CurrencyMetrics]
    trend: dict[str, Trend]


def report_page(*, as_of: date, period_days: int = 90, months: int = 12) -> ReportPage:
    """Aging (also by country), metrics and their monthly trend at ``as_of``:
    six queries whatever the size of the ledger (seven or eight with a
    countback of more than a year)."""
    return ReportPage(
        as_of=as_of,
        period_days=period_days,
        aging=aging_by_currency(as_of=as_of),
        aging_by_country=aging_breakdown(as_of=as_of, by="country"),
        metrics=metrics_by_currency(as_of=as_of, period_days=period_days),
        trend=metrics_trend(as_of=as_of, period_days=period_days, months=months),
    )
