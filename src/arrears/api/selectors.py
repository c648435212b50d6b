"""Reads for the API: filtered, paged, with related rows fetched in one go.

Every token user may read the whole ledger (there are no per-customer
permissions yet). A page costs a fixed number of queries, however long.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Generic, TypeVar

from django.db.models import F, Prefetch, Q, QuerySet, Sum

from arrears.ledger.models import (
    Allocation,
    Contact,
    CreditNote,
    Customer,
    Invoice,
    InvoiceStatus,
    Payment,
)

T = TypeVar("T")
M = TypeVar("M", Customer, Invoice, Payment, CreditNote)
D = TypeVar("D", Invoice, Payment, CreditNote)
P = TypeVar("P", Payment, CreditNote)


class NotFound(Exception):
    """No such resource; the message names it."""


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    count: int
    limit: int
    offset: int


def _page(queryset: QuerySet[M], *, limit: int, offset: int) -> Page[M]:
    return Page(list(queryset[offset : offset + limit]), queryset.count(), limit, offset)


def _one(queryset: QuerySet[M], what: str, ref: str) -> M:
    found = queryset.filter(ref=ref).first()
    if found is None:
        raise NotFound(f"no {what} {ref!r}")
    return found


# --- customers --------------------------------------------------------------


@dataclass(frozen=True)
class CustomerRecord:
    customer: Customer
    emails: list[str]
    open_amount: dict[str, Decimal]
    unapplied: dict[str, Decimal]


def _customer_records(customers: list[Customer]) -> list[CustomerRecord]:
    """Customers with their active e-mail addresses and per-currency open
    and unapplied amounts, in four queries whatever their number."""
    ids = [c.pk for c in customers]
    emails: dict[int, list[str]] = defaultdict(list)
    for customer_id, email in (
        Contact.objects.filter(customer_id__in=ids, is_active=True)
        .exclude(email="")
        .order_by("id")
        .values_list("customer_id", "email")
    ):
        if email not in emails[customer_id]:
            emails[customer_id].append(email)
    open_amount: dict[int, dict[str, Decimal]] = defaultdict(dict)
    for customer_id, currency, total in (
        Invoice.objects.filter(customer_id__in=ids, status=InvoiceStatus.OPEN)
        .values("customer_id", "currency")
        .annotate(total=Sum(F("amount") - F("allocated")))
        .values_list("customer_id", "currency", "total")
    ):
        open_amount[customer_id][currency] = total
    unapplied: dict[int, dict[str, Decimal]] = defaultdict(dict)
    for model in (Payment, CreditNote):
        for customer_id, currency, total in (
            model.objects.filter(customer_id__in=ids, allocated__lt=F("amount"))
            .values("customer_id", "currency")
            .annotate(total=Sum(F("amount") - F("allocated")))
            .values_list("customer_id", "currency", "total")
        ):
            by_currency = unapplied[customer_id]
            by_currency[currency] = by_currency.get(currency, Decimal(0)) + total
    return [CustomerRecord(c, emails[c.pk], open_amount[c.pk], unapplied[c.pk]) for c in customers]


def customer_page(
    *,
    limit: int,
    offset: int,
    country: str | None = None,
    automation: str | None = None,
    search: str | None = None,
) -> Page[CustomerRecord]:
    """Customers by ref; each filter left as None does not filter."""
    customers = Customer.objects.order_by("ref").select_related("collector")
    if country:
        customers = customers.filter(country=country.upper())
    if automation:
        customers = customers.filter(automation=automation)
    if search:
        customers = customers.filter(Q(ref__icontains=search) | Q(name__icontains=search))
    page = _page(customers, limit=limit, offset=offset)
    return Page(_customer_records(page.items), page.count, limit, offset)


def customer_get(*, customer_ref: str) -> CustomerRecord:
    """Raises NotFound."""
    customer = _one(Customer.objects.select_related("collector"), "customer", customer_ref)
    return _customer_records([customer])[0]


# --- contacts ---------------------------------------------------------------


def contact_list(*, customer_ref: str) -> list[Contact]:
    """A customer's contacts, inactive ones too, oldest first. Raises NotFound."""
    customer = _one(Customer.objects.all(), "customer", customer_ref)
    contacts = list(customer.contacts.order_by("id"))
    for contact in contacts:
        contact.customer = customer  # spare a query per contact
    return contacts


def contact_get(*, customer_ref: str, contact_id: int) -> Contact:
    """One of a customer's contacts. Raises NotFound (also for another
    customer's contact)."""
    contact = (
        Contact.objects.select_related("customer")
        .filter(customer__ref=customer_ref, pk=contact_id)
        .first()
    )
    if contact is None:
        raise NotFound(f"customer {customer_ref!r} has no contact {contact_id}")
    return contact


def customer_for_write(*, customer_ref: str) -> Customer:
    """Raises NotFound."""
    return _one(Customer.objects.all(), "customer", customer_ref)


# --- documents --------------------------------------------------------------


def _dated(
    queryset: QuerySet[D], column: str, *, before: date | None, after: date | None
) -> QuerySet[D]:
    if before is not None:
        queryset = queryset.filter(**{f"{column}__lt": before})
    if after is not None:
        queryset = queryset.filter(**{f"{column}__gt": after})
    return queryset


def _common(queryset: QuerySet[D], *, customer: str | None, currency: str | None) -> QuerySet[D]:
    if customer:
        queryset = queryset.filter(customer__ref=customer)
    if currency:
        queryset = queryset.filter(currency=currency.upper())
    return queryset


def invoice_page(
    *,
    limit: int,
    offset: int,
    customer: str | None = None,
    status: str | None = None,
    currency: str | None = None,
    due_before: date | None = None,
    due_after: date | None = None,
    issued_before: date | None = None,
    issued_after: date | None = None,
) -> Page[Invoice]:
    """Invoices by due date then ref; date bounds are exclusive."""
    invoices = Invoice.objects.select_related("customer").order_by("due_date", "ref")
    invoices = _common(invoices, customer=customer, currency=currency)
    if status:
        invoices = invoices.filter(status=status)
    invoices = _dated(invoices, "due_date", before=due_before, after=due_after)
    invoices = _dated(invoices, "issue_date", before=issued_before, after=issued_after)
    return _page(invoices, limit=limit, offset=offset)


def _with_allocations(queryset: QuerySet[D]) -> QuerySet[D]:
    allocations = Allocation.objects.select_related("invoice", "payment", "credit_note")
    return queryset.select_related("customer").prefetch_related(
        Prefetch("allocations", queryset=allocations.order_by("effective_on", "id"))
    )


def invoice_get(*, invoice_ref: str) -> Invoice:
    """With its allocations. Raises NotFound."""
    return _one(_with_allocations(Invoice.objects.all()), "invoice", invoice_ref)


def _document_page(
    queryset: QuerySet[P],
    date_column: str,
    *,
    limit: int,
    offset: int,
    customer: str | None,
    currency: str | None,
    invoice: str | None,
    before: date | None,
    after: date | None,
    unapplied: bool | None,
) -> Page[P]:
    queryset = _common(queryset.select_related("customer"), customer=customer, currency=currency)
    if invoice:
        queryset = queryset.filter(invoice_ref=invoice)
    queryset = _dated(queryset, date_column, before=before, after=after)
    if unapplied is not None:
        has_unapplied = Q(allocated__lt=F("amount"))
        queryset = queryset.filter(has_unapplied if unapplied else ~has_unapplied)
    return _page(queryset.order_by(date_column, "ref"), limit=limit, offset=offset)


def payment_page(
    *,
    limit: int,
    offset: int,
    customer: str | None = None,
    currency: str | None = None,
    invoice: str | None = None,
    received_before: date | None = None,
    received_after: date | None = None,
    unapplied: bool | None = None,
) -> Page[Payment]:
    """Payments by receipt date then ref; date bounds are exclusive."""
    return _document_page(
        Payment.objects.all(),
        "received_on",
        limit=limit,
        offset=offset,
        customer=customer,
        currency=currency,
        invoice=invoice,
        before=received_before,
        after=received_after,
        unapplied=unapplied,
    )


def payment_get(*, payment_ref: str) -> Payment:
    """With its allocations. Raises NotFound."""
    return _one(_with_allocations(Payment.objects.all()), "payment", payment_ref)


def credit_note_page(
    *,
    limit: int,
    offset: int,
    customer: str | None = None,
    currency: str | None = None,
    invoice: str | None = None,
    issued_before: date | None = None,
    issued_after: date | None = None,
    unapplied: bool | None = None,
) -> Page[CreditNote]:
    """Credit notes by issue date then ref; date bounds are exclusive."""
    return _document_page(
        CreditNote.objects.all(),
        "issue_date",
        limit=limit,
        offset=offset,
        customer=customer,
        currency=currency,
        invoice=invoice,
        before=issued_before,
        after=issued_after,
        unapplied=unapplied,
    )


def credit_note_get(*, credit_note_ref: str) -> CreditNote:
    """With its allocations. Raises NotFound."""
    return _one(_with_allocations(CreditNote.objects.all()), "credit note", credit_note_ref)
