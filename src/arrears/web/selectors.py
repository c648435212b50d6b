"""Reads for the staff web app's pages."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from django.db.models import Count, F, Min, Q, Sum

from arrears.ledger.models import Customer, Payment
from arrears.ledger.selectors import ar_totals, open_invoices_as_of

# Buckets by days past due (as_of - due_date), as in the aging report.
AGING_BUCKETS = ("current", "1-30", "31-60", "61-90", "90+")


@dataclass(frozen=True)
class Aging:
    """Open amounts of one currency by days past due at a date."""

    currency: str
    buckets: dict[str, Decimal]
    total: Decimal
    open_invoices: int

    @property
    def parts(self) -> list[tuple[str, Decimal, Decimal]]:
        """(bucket, amount, percent of the total) in bucket order."""
        return [
            (name, amount, amount / self.total * 100 if self.total else Decimal(0))
            for name, amount in self.buckets.items()
        ]


def aging_by_currency(*, as_of: date) -> dict[str, Aging]:
    """Aging per currency at ``as_of``, in one aggregate query.

    Only currencies with something open appear; {} when nothing is open.
    """
    edge = {days: as_of - timedelta(days=days) for days in (30, 60, 90)}
    filters = {
        "current": Q(due_date__gte=as_of),
        "1-30": Q(due_date__lt=as_of, due_date__gte=edge[30]),
        "31-60": Q(due_date__lt=edge[30], due_date__gte=edge[60]),
        "61-90": Q(due_date__lt=edge[60], due_date__gte=edge[90]),
        "90+": Q(due_date__lt=edge[90]),
    }
    aggregates = {
        f"b{n}": Sum("open_as_of", filter=filters[name]) for n, name in enumerate(AGING_BUCKETS)
    }
    rows = (
        open_invoices_as_of(as_of)
        .values("currency")
        .annotate(total=Sum("open_as_of"), open_invoices=Count("id"), **aggregates)
        .order_by("currency")
    )
    return {
        row["currency"]: Aging(
            currency=row["currency"],
            buckets={name: row[f"b{n}"] or Decimal(0) for n, name in enumerate(AGING_BUCKETS)},
            total=row["total"],
            open_invoices=row["open_invoices"],
        )
        for row in rows
    }


@dataclass(frozen=True)
class OverdueCustomer:
    ref: str
    name: str
    currency: str
    overdue: Decimal
    invoices: int
    oldest_due: date
    days_past_due: int


def customers_top_overdue(*, as_of: date, currency: str, limit: int = 10) -> list[OverdueCustomer]:
    """The customers owing the most overdue AR in ``currency`` at ``as_of``.

    Largest first (ties by customer ref); an empty list when nothing is overdue.
    """
    rows = (
        open_invoices_as_of(as_of)
        .filter(currency=currency, due_date__lt=as_of)
        .values("customer_id", "customer__ref", "customer__name")
        .annotate(overdue=Sum("open_as_of"), invoices=Count("id"), oldest_due=Min("due_date"))
        .order_by("-overdue", "customer__ref")[:limit]
    )
    return [
        OverdueCustomer(
            ref=row["customer__ref"],
            name=row["customer__name"],
            currency=currency,
            overdue=row["overdue"],
            invoices=row["invoices"],
            oldest_due=row["oldest_due"],
            days_past_due=(as_of - row["oldest_due"]).days,
        )
        for row in rows
    ]


def unapplied_cash_by_currency() -> dict[str, Decimal]:
    """Payments received but not applied to any invoice, per currency ({} if none)."""
    rows = (
        Payment.objects.filter(allocated__lt=F("amount"))
        .values("currency")
        .annotate(total=Sum(F("amount") - F("allocated")))
        .order_by("currency")
    )
    return {row["currency"]: row["total"] for row in rows}


@dataclass(frozen=True)
class CurrencySummary:
    currency: str
    ar: Decimal
    overdue: Decimal
    unapplied: Decimal
    aging: Aging
    top_overdue: list[OverdueCustomer]

    @property
    def overdue_percent(self) -> Decimal | None:
        """Overdue share of AR in percent; None when there is no AR."""
        return self.overdue / self.ar * 100 if self.ar else None


@dataclass(frozen=True)
class Dashboard:
    as_of: date
    customers: int
    open_invoices: int
    currencies: list[CurrencySummary]


def _no_aging(currency: str) -> Aging:
    return Aging(currency, dict.fromkeys(AGING_BUCKETS, Decimal(0)), Decimal(0), 0)


def dashboard_figures(*, as_of: date, top: int = 10) -> Dashboard:
    """Everything the landing page shows, per currency (never added across)."""
    totals = ar_totals(as_of)
    aging = aging_by_currency(as_of=as_of)
    unapplied = unapplied_cash_by_currency()
    currencies = [
        CurrencySummary(
            currency=currency,
            ar=t["ar"],
            overdue=t["overdue"],
            unapplied=unapplied.get(currency, Decimal(0)),
            aging=aging.get(currency) or _no_aging(currency),
            top_overdue=customers_top_overdue(as_of=as_of, currency=currency, limit=top),
        )
        for currency, t in totals.items()
    ]
    return Dashboard(
        as_of=as_of,
        customers=Customer.objects.count(),
        open_invoices=sum(a.open_invoices for a in aging.values()),
        currencies=currencies,
    )
