"""Exports of the ledger in the CSV contract's shape (the import's inverse)."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

from django.db.models import Prefetch

from arrears.domain.masterdata import ADDRESS_SEPARATOR, stored_address_lines
from arrears.domain.money import quantum

from .models import Contact, CreditNote, Customer, Invoice, Payment

BATCH = 2000


def _money(amount: Decimal | None, currency: str) -> str:
    if amount is None or not currency:
        return "" if amount is None else str(amount.normalize())
    return str(amount.quantize(quantum(currency)))


def _customers() -> Iterator[dict[str, str]]:
    active_import_contacts = Prefetch(
        "contacts",
        queryset=Contact.objects.filter(is_active=True).order_by("id"),
        to_attr="active_contacts",
    )
    rows = (
        Customer.objects.order_by("ref")
        .select_related("collector")
        .prefetch_related(active_import_contacts)
    )
    for c in rows.iterator(chunk_size=BATCH):
        contacts = c.active_contacts
        yield {
            "customer_ref": c.ref,
            "name": c.name,
            "email": ";".join(x.email for x in contacts if x.email and x.role == "ap"),
            "phone": c.phone,
            "country": c.country,
            "tax_id": c.tax_id,
            "currency": c.currency,
            "credit_limit": _money(c.credit_limit, c.currency),
            "preferred_channel": c.preferred_channel,
            "automation": c.automation,
            "language": c.language,
            "customer_since": c.customer_since.isoformat() if c.customer_since else "",
            "postal_address": ADDRESS_SEPARATOR.join(stored_address_lines(c.postal_address)),
            "time_zone": c.time_zone,
            "collector": c.collector.get_username() if c.collector else "",
        }


def _invoices() -> Iterator[dict[str, str]]:
    rows = Invoice.objects.order_by("ref").values_list(
        "ref", "customer__ref", "issue_date", "due_date", "amount", "currency", "order_ref", "terms"
    )
    for ref, customer_ref, issue, due, amount, currency, order_ref, terms in rows.iterator(
        chunk_size=BATCH
    ):
        yield {
            "invoice_ref": ref,
            "customer_ref": customer_ref,
            "issue_date": issue.isoformat(),
            "due_date": due.isoformat(),
            "amount": _money(amount, currency),
            "currency": currency,
            "order_ref": order_ref,
            "terms": terms,
        }


def _documents(
    model: type[Payment] | type[CreditNote], ref_column: str, date_column: str
) -> Iterator[dict[str, str]]:
    rows = model.objects.order_by("ref").values_list(
        "ref", "customer__ref", date_column, "amount", "currency", "invoice_ref"
    )
    for ref, customer_ref, day, amount, currency, invoice_ref in rows.iterator(chunk_size=BATCH):
        yield {
            ref_column: ref,
            "customer_ref": customer_ref,
            date_column: day.isoformat(),
            "amount": _money(amount, currency),
            "currency": currency,
            "invoice_ref": invoice_ref,
        }


def rows_export(kind: str) -> Iterator[dict[str, str]]:
    """Stream the rows of one kind, ordered by ref, as the contract's fields."""
    if kind == "customers":
        return _customers()
    if kind == "invoices":
        return _invoices()
    if kind == "payments":
        return _documents(Payment, "payment_ref", "received_on")
    if kind == "credit-notes":
        return _documents(CreditNote, "credit_note_ref", "issue_date")
    raise ValueError(f"unknown kind {kind!r}")
