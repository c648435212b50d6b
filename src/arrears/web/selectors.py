"""Reads for the staff web app's pages."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.db.models import Count, F, Min, Sum

from arrears.ledger.models import Customer, Payment
from arrears.ledger.selectors import open_invoices_as_of

# The aging is the aging report's (one query); the pages show the same figures.
from arrears.reports.selectors import Aging as Aging
from arrears.reports.selectors import aging_by_currency as aging_by_currency


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


def dashboard_figures(*, as_of: date, top: int = 10) -> Dashboard:
    """Everything the landing page shows, per currency (never added across)."""
    # AR and overdue are the aging's total and its past-due buckets.
    aging = aging_by_currency(as_of=as_of)
    unapplied = unapplied_cash_by_currency()
    currencies = [
        CurrencySummary(
            currency=currency,
            ar=a.total,
            overdue=a.past_due,
            unapplied=unapplied.get(currency, Decimal(0)),
            aging=a,
            top_overdue=customers_top_overdue(as_of=as_of, currency=currency, limit=top),
        )
        for currency, a in aging.items()
    ]
    return Dashboard(
        as_of=as_of,
        customers=Customer.objects.count(),
        open_invoices=sum(a.open_invoices for a in aging.values()),
        currencies=currencies,
    )
