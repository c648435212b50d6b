"""What the portal shows a customer: always read through the customer the
session is scoped to, so another customer's rows cannot be reached."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from arrears.cases.models import DisputeLine, DisputeStatus, Promise, PromiseStatus
from arrears.comms.models import ConsentRecord
from arrears.comms.rendering import payment_reference
from arrears.ledger.models import Contact, Customer, Invoice, InvoiceStatus, Payment
from arrears.ledger.selectors import customer_unapplied

PAID_SHOWN = 50


@dataclass
class StatementCurrency:
    """One currency's statement: open invoices and what they add up to.
    Currencies are never mixed."""

    currency: str
    invoices: list[Invoice] = field(default_factory=list)
    open_total: Decimal = Decimal(0)
    overdue_total: Decimal = Decimal(0)
    disputed_total: Decimal = Decimal(0)
    unapplied: Decimal = Decimal(0)

    @property
    def balance(self) -> Decimal:
        """What is owed once unapplied payments and credit are used."""
        return self.open_total - self.unapplied


@dataclass(frozen=True)
class Overview:
    customer: Customer
    statement: list[StatementCurrency]
    paid: list[Invoice]
    payments: list[Payment]
    disputed_refs: frozenset[str]
    promise: Promise | None
    payment_reference: str


def invoice_for(customer: Customer, ref: str) -> Invoice | None:
    """The customer's invoice ``ref``; None for an unknown ref or another
    customer's invoice (the view answers 404 to both alike)."""
    return Invoice.objects.filter(customer=customer, ref=ref).first()


def disputed_refs(customer: Customer) -> frozenset[str]:
    return frozenset(
        DisputeLine.objects.filter(
            invoice__customer=customer, dispute__status=DisputeStatus.OPEN
        ).values_list("invoice__ref", flat=True)
    )


def portal_overview(*, customer: Customer, today: date) -> Overview:
    """Open invoices as a statement per currency (open, overdue, disputed,
    unapplied credit, balance), recently paid invoices and payments, the
    open promise and the payment reference to quote."""
    disputed = disputed_refs(customer)
    by_currency: dict[str, StatementCurrency] = {}
    for invoice in Invoice.objects.filter(customer=customer, status=InvoiceStatus.OPEN).order_by(
        "due_date", "ref"
    ):
        row = by_currency.setdefault(invoice.currency, StatementCurrency(invoice.currency))
        row.invoices.append(invoice)
        row.open_total += invoice.open_amount
        if invoice.due_date < today:
            row.overdue_total += invoice.open_amount
        if invoice.ref in disputed:
            row.disputed_total += invoice.open_amount
    for currency, amount in customer_unapplied(customer).items():
        by_currency.setdefault(currency, StatementCurrency(currency)).unapplied = amount
    paid = list(
        Invoice.objects.filter(customer=customer, status=InvoiceStatus.PAID).order_by(
            "-due_date", "-ref"
        )[:PAID_SHOWN]
    )
    payments = list(
        Payment.objects.filter(customer=customer).order_by("-received_on", "-id")[:PAID_SHOWN]
    )
    promise = (
        Promise.objects.filter(customer=customer, status=PromiseStatus.OPEN)
        .order_by("promised_on")
        .first()
    )
    return Overview(
        customer=customer,
        statement=[by_currency[c] for c in sorted(by_currency)],
        paid=paid,
        payments=payments,
        disputed_refs=disputed,
        promise=promise,
        payment_reference=payment_reference(customer.ref),
    )


def open_invoices(customer: Customer) -> list[Invoice]:
    return list(
        Invoice.objects.filter(customer=customer, status=InvoiceStatus.OPEN).order_by(
            "due_date", "ref"
        )
    )


def portal_contacts(customer: Customer) -> list[dict[str, Any]]:
    """The customer's active contacts with, per channel, whether we may
    use it (consent given and not opted out) and when that was last recorded."""
    contacts = list(Contact.objects.filter(customer=customer, is_active=True).order_by("id"))
    last: dict[tuple[int, str], ConsentRecord] = {}
    for record in ConsentRecord.objects.filter(contact__in=contacts).order_by("at", "id"):
        last[record.contact_id, record.channel] = record
    return [
        {
            "contact": c,
            "channels": {
                ch: {
                    "allowed": getattr(c, f"consent_{ch}") and not getattr(c, f"opted_out_{ch}"),
                    "recorded": last.get((c.pk, ch)),
                }
                for ch in ("email", "sms", "call")
            },
        }
        for c in contacts
    ]
