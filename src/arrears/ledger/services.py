"""Writes to the ledger. Each public service runs in one transaction and
records what it did in the activity log."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.contrib.auth.models import User
from django.db import transaction

from arrears.domain.allocation import AllocationPlan, OpenItem, allocate, oldest_due_first

from .models import Activity, Allocation, CreditNote, Customer, Invoice, InvoiceStatus, Payment


def activity_record(
    *,
    actor_label: str,
    verb: str,
    subject_type: str,
    subject_ref: str,
    customer: Customer | None = None,
    actor: User | None = None,
    why: str = "",
    data: dict[str, Any] | None = None,
) -> Activity:
    """Append one entry to the activity log (call inside the write's transaction)."""
    return Activity.objects.create(
        actor=actor,
        actor_label=actor_label,
        customer=customer,
        subject_type=subject_type,
        subject_ref=subject_ref,
        verb=verb,
        why=why,
        data=data or {},
    )


def activities_record(entries: Iterable[Activity]) -> None:
    """Append many prepared entries at once (bulk imports)."""
    Activity.objects.bulk_create(list(entries), batch_size=2000)


def _open_items(invoices: Iterable[Invoice]) -> list[OpenItem]:
    return [
        OpenItem(inv.pk, inv.ref, inv.due_date, inv.issue_date, inv.amount - inv.allocated)
        for inv in invoices
    ]


def _apply(
    plan: AllocationPlan, *, source: Payment | CreditNote, invoices: dict[int, Invoice]
) -> list[Allocation]:
    """Persist an allocation plan: allocation rows and running totals."""
    payment = source if isinstance(source, Payment) else None
    credit_note = source if isinstance(source, CreditNote) else None
    effective_on = source.received_on if isinstance(source, Payment) else source.issue_date
    rows = []
    for part in plan.allocations:
        invoice = invoices[part.key]
        invoice.allocated += part.amount
        invoice.status = (
            InvoiceStatus.PAID if invoice.allocated == invoice.amount else InvoiceStatus.OPEN
        )
        Invoice.objects.filter(pk=invoice.pk).update(
            allocated=invoice.allocated, status=invoice.status
        )
        rows.append(
            Allocation(
                invoice=invoice,
                payment=payment,
                credit_note=credit_note,
                amount=part.amount,
                effective_on=effective_on,
            )
        )
    Allocation.objects.bulk_create(rows)
    source.allocated = source.amount - plan.unapplied
    type(source).objects.filter(pk=source.pk).update(allocated=source.allocated)
    return rows


@transaction.atomic
def document_allocate(source: Payment | CreditNote) -> list[Allocation]:
    """Apply a payment or credit note to its customer's open invoices.

    With an ``invoice_ref`` only that invoice is settled; without one, open
    invoices in the same currency are settled oldest due first. What cannot
    be applied stays unapplied on the document (an overpayment, or credit
    to use later). Returns the allocations made; empty when nothing was open.
    """
    remaining = source.amount - source.allocated
    if remaining <= 0:
        return []
    candidates = Invoice.objects.select_for_update().filter(
        customer_id=source.customer_id, currency=source.currency, status=InvoiceStatus.OPEN
    )
    if source.invoice_ref:
        candidates = candidates.filter(ref=source.invoice_ref)
    invoices = {inv.pk: inv for inv in candidates}
    plan = allocate(remaining, oldest_due_first(_open_items(invoices.values())))
    return _apply(plan, source=source, invoices=invoices)
