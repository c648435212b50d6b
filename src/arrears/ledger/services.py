"""Writes to the ledger. Each public service runs in one transaction and
records what it did in the activity log."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from django.contrib.auth.models import User
from django.db import transaction

from arrears.domain.allocation import AllocationPlan, OpenItem, allocate, oldest_due_first
from arrears.domain.masterdata import FieldError, email_address, phone_number
from arrears.domain.money import quantum

from .models import (
    Activity,
    Allocation,
    Contact,
    ContactRole,
    CreditNote,
    Customer,
    Invoice,
    InvoiceStatus,
    Payment,
)


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
    # The columns hold four places; amounts decided here are in the currency's
    # own minor units, as they are shown and logged.
    return [
        OpenItem(
            inv.pk,
            inv.ref,
            inv.due_date,
            inv.issue_date,
            (inv.amount - inv.allocated).quantize(quantum(inv.currency)),
        )
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
    remaining = (source.amount - source.allocated).quantize(quantum(source.currency))
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


class ContactRejected(Exception):
    """A contact change that fails validation; ``problems`` maps field to reason."""

    def __init__(self, problems: dict[str, str]) -> None:
        super().__init__("; ".join(f"{f}: {r}" for f, r in problems.items()))
        self.problems = problems


CONTACT_TEXT_FIELDS = ("name", "role", "email", "phone")
CONTACT_FLAGS = (
    "consent_email",
    "consent_sms",
    "consent_call",
    "opted_out_email",
    "opted_out_sms",
    "opted_out_call",
    "is_active",
)
# For contacts the customers file created, the file owns these: an import
# would undo a change made elsewhere.
CONTACT_IMPORT_OWNED = ("email", "phone", "is_active")


def _contact_clean(customer: Customer, values: Mapping[str, Any]) -> dict[str, Any]:
    """Validated, normalised contact fields; raises ContactRejected listing every problem."""
    problems: dict[str, str] = {}
    clean: dict[str, Any] = {}
    for name, value in values.items():
        if name in CONTACT_TEXT_FIELDS:
            text = "" if value is None else value
            if not isinstance(text, str):
                problems[name] = "must be a string"
                continue
            text = text.strip()
            try:
                if name == "name" and len(text) > 200:
                    raise FieldError("is longer than 200 characters")
                if name == "role" and text not in ContactRole.values:
                    raise FieldError(f"{text!r} is not one of {'|'.join(ContactRole.values)}")
                if name == "email" and text:
                    text = email_address(text)
                if name == "phone" and text:
                    text = phone_number(text, customer.country)
            except FieldError as exc:
                problems[name] = str(exc)
                continue
            clean[name] = text
        elif name in CONTACT_FLAGS:
            if not isinstance(value, bool):
                problems[name] = "must be true or false"
                continue
            clean[name] = value
        else:
            problems[name] = "unknown field"
    if problems:
        raise ContactRejected(problems)
    return clean


@transaction.atomic
def contact_create(
    *,
    customer: Customer,
    values: Mapping[str, Any],
    actor_label: str,
    actor: User | None = None,
) -> Contact:
    """Add a contact to a customer by hand (never touched by imports).

    ``values`` holds any of CONTACT_TEXT_FIELDS and CONTACT_FLAGS; missing
    ones take the model's defaults. Raises ContactRejected.
    """
    clean = _contact_clean(customer, values)
    if not clean.get("email") and not clean.get("phone"):
        raise ContactRejected({"email": "a contact needs an e-mail address or a phone number"})
    contact = Contact.objects.create(customer=customer, from_import=False, **clean)
    activity_record(
        actor_label=actor_label,
        actor=actor,
        verb="contact.created",
        subject_type="contact",
        subject_ref=str(contact.pk),
        customer=customer,
        data={"fields": {name: clean[name] for name in sorted(clean)}},
    )
    return contact


@transaction.atomic
def contact_update(
    *,
    contact: Contact,
    changes: Mapping[str, Any],
    actor_label: str,
    actor: User | None = None,
) -> Contact:
    """Change some fields of a contact; an unchanged value is no change.

    A new e-mail address clears the bounce flag. Returns the contact; when
    nothing changed nothing is written and no activity is logged. Raises
    ContactRejected, also for a change the customers file would undo.
    """
    customer = contact.customer
    clean = _contact_clean(customer, changes)
    diff = {name: value for name, value in clean.items() if getattr(contact, name) != value}
    if contact.from_import:
        reason = "comes from the customers file for this contact; change it there"
        problems = {name: reason for name in diff if name in CONTACT_IMPORT_OWNED}
        if problems:
            raise ContactRejected(problems)
    if not diff:
        return contact
    email, phone = diff.get("email", contact.email), diff.get("phone", contact.phone)
    if not email and not phone:
        raise ContactRejected({"email": "a contact needs an e-mail address or a phone number"})
    if "email" in diff and contact.email_bounced:
        diff["email_bounced"] = False
    log = {name: [getattr(contact, name), value] for name, value in diff.items()}
    for name, value in diff.items():
        setattr(contact, name, value)
    contact.save(update_fields=[*diff, "updated_at"])
    activity_record(
        actor_label=actor_label,
        actor=actor,
        verb="contact.updated",
        subject_type="contact",
        subject_ref=str(contact.pk),
        customer=customer,
        data={"fields": log},
    )
    return contact
