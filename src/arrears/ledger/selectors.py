"""Reads from the ledger, including balances as of any past date."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from django.db.models import (
    Case,
    DecimalField,
    ExpressionWrapper,
    F,
    Func,
    IntegerField,
    OuterRef,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce

from arrears.domain.money import unusual_minor_units

from .models import MONEY_DIGITS, MONEY_PLACES, Allocation, CreditNote, Customer, Invoice, Payment

_MONEY: DecimalField[Decimal, Decimal] = DecimalField(
    max_digits=MONEY_DIGITS, decimal_places=MONEY_PLACES
)
_ZERO = Value(Decimal(0), output_field=_MONEY)


def _minor_units() -> Case:
    """The row's currency's number of decimals, in SQL."""
    return Case(
        *(
            When(currency__in=sorted(codes), then=Value(places))
            for places, codes in unusual_minor_units().items()
        ),
        default=Value(2),
        output_field=IntegerField(),
    )


def _money(expression: Any) -> Func:
    """An amount computed in SQL, rounded to its currency's minor units.

    SQLite adds and subtracts decimals as binary floats: an invoice settled
    by 0.10 + 0.70 of 0.80 would be open by 1.1e-16 (or -1.1e-16), and
    9999999999999.99 - 9999999999999.98 comes out as 0.0098. Rounding in SQL
    to the currency's decimals makes filters and totals exact on every
    database (the row, or group, must have a ``currency``).
    """
    # Func, not Round: Round is typed for a constant precision.
    return Func(expression, _minor_units(), function="ROUND", output_field=_MONEY)


def invoices_as_of(as_of: date, invoices: QuerySet[Invoice] | None = None) -> QuerySet[Invoice]:
    """Invoices issued on or before ``as_of``, annotated with ``open_as_of``:
    the amount less payments received and credit notes issued by that date.
    """
    settled = (
        Allocation.objects.filter(invoice=OuterRef("pk"), effective_on__lte=as_of)
        .values("invoice")
        .annotate(total=Sum("amount"))
        .values("total")
    )
    qs = Invoice.objects.all() if invoices is None else invoices
    return qs.filter(issue_date__lte=as_of).annotate(
        open_as_of=_money(
            ExpressionWrapper(F("amount") - Coalesce(Subquery(settled), _ZERO), output_field=_MONEY)
        )
    )


def open_invoices_as_of(
    as_of: date, invoices: QuerySet[Invoice] | None = None
) -> QuerySet[Invoice]:
    """Like invoices_as_of, only those with something open at ``as_of``."""
    return invoices_as_of(as_of, invoices).filter(open_as_of__gt=0)  # type: ignore[misc]


def ar_totals(as_of: date) -> dict[str, dict[str, Decimal]]:
    """AR and overdue AR per currency at ``as_of`` ({} when nothing is open).

    Today's figures read the running totals; past dates go through the
    allocations, so both agree by construction of the ledger.
    """
    totals: dict[str, dict[str, Decimal]] = {}
    rows = (
        open_invoices_as_of(as_of)
        .values("currency")
        .annotate(ar=_money(Sum("open_as_of")))
        .order_by("currency")
    )
    overdue = dict(
        open_invoices_as_of(as_of)
        .filter(due_date__lt=as_of)
        .values("currency")
        .annotate(total=_money(Sum("open_as_of")))
        .values_list("currency", "total")
    )
    for row in rows:
        totals[row["currency"]] = {
            "ar": row["ar"],
            "overdue": overdue.get(row["currency"], Decimal(0)),
        }
    return totals


def customer_unapplied(customer: Customer) -> dict[str, Decimal]:
    """Unapplied cash and credit per currency ({} when everything is applied)."""
    result: dict[str, Decimal] = {}
    for model in (Payment, CreditNote):
        rows = (
            model.objects.filter(customer=customer, allocated__lt=F("amount"))
            .values("currency")
            .annotate(total=_money(Sum(F("amount") - F("allocated"))))
        )
        for row in rows:
            result[row["currency"]] = result.get(row["currency"], Decimal(0)) + row["total"]
    return result
