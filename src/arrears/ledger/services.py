"""Writes to the ledger. Each public service runs in one transaction and
records what it did in the activity log."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from django.contrib.auth.models import User
from django.db import transaction

from arrears.domain.allocation import OpenItem, allocate, oldest_due_first
from arrears.domain.masterdata import FieldError, email_address, phone_number
from arrears.domain.money import quantum

from .bulk import rows_insert
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


ACTIVITY_COLUMNS = (
    "at",
    "actor_label",
    "customer_id",
    "subject_type",
    "subject_ref",
    "verb",
    "why",
    "data",
)


def activity_rows_insert(rows: Iterable[tuple[Any, ...]]) -> None:
    """Append very many entries as plain tuples in ACTIVITY_COLUMNS order
    (``data`` a dict), through the fast insert path: for million-row imports
    and daily runs, where building model instances would dominate."""
    rows_insert(
        Activity._meta.db_table,
        ACTIVITY_COLUMNS,
        rows,
        json_column=ACTIVITY_COLUMNS.index("data"),
    )


def _open_item(invoice: Invoice) -> OpenItem:
    # The columns hold four places; amounts decided here are in the currency's
    # own minor units, as they are shown and logged.
    return OpenItem(
        invoice.pk,
        invoice.ref,
        invoice.due_date,
        invoice.issue_date,
        (invoice.amount - invoice.allocated).quantize(quantum(invoice.currency)),
    )


Document = Payment | CreditNote


@transaction.atomic
def documents_post(documents: Sequence[Document]) -> dict[str, list[Allocation]]:
    """Save new payments or credit notes (one model at a time) and apply each.

    Documents are applied in the given order. One naming an ``invoice_ref``
    settles only that invoice; one naming none settles its customer's open
    invoices in the same currency oldest due first. What cannot be applied
    stays unapplied on the document (an overpayment, or credit to use
    later). Returns the allocations made per document ref (an empty list
    when nothing was open). Queries stay constant per call, whatever the
    number of documents: a cash file of thousands of lines posts in a few
    statements.
    """
    if not documents:
        return {}
    model = type(documents[0])
    invoices = {
        inv.pk: inv
        for inv in Invoice.objects.select_for_update()
        .filter(customer_id__in={d.customer_id for d in documents}, status=InvoiceStatus.OPEN)
        .order_by()
    }
    by_ref = {inv.ref: inv for inv in invoices.values()}
    pools: dict[tuple[int, str], list[Invoice]] = defaultdict(list)
    for item in oldest_due_first(_open_item(inv) for inv in invoices.values()):
        invoice = invoices[item.key]
        pools[invoice.customer_id, invoice.currency].append(invoice)

    allocations: dict[str, list[Allocation]] = {}
    touched: dict[int, Invoice] = {}
    for doc in documents:
        if doc.invoice_ref:
            named = by_ref.get(doc.invoice_ref)
            pool = [named] if named is not None else []
        else:
            pool = pools[doc.customer_id, doc.currency]
        plan = allocate(doc.amount.quantize(quantum(doc.currency)), [_open_item(i) for i in pool])
        effective_on = doc.received_on if isinstance(doc, Payment) else doc.issue_date
        allocations[doc.ref] = []
        for part in plan.allocations:
            invoice = touched.setdefault(part.key, invoices[part.key])
            invoice.allocated += part.amount
            invoice.status = (
                InvoiceStatus.PAID if invoice.allocated == invoice.amount else InvoiceStatus.OPEN
            )
            allocations[doc.ref].append(
                Allocation(
                    invoice=invoice,
                    payment=doc if isinstance(doc, Payment) else None,
                    credit_note=doc if isinstance(doc, CreditNote) else None,
                    amount=part.amount,
                    effective_on=effective_on,
                )
            )
        doc.allocated = doc.amount - plan.unapplied

    model.objects.bulk_create(documents, batch_size=2000)  # type: ignore[arg-type]
    Allocation.objects.bulk_create(
        [row for rows in allocations.values() for row in rows], batch_size=2000
    )
    Invoice.objects.bulk_update(list(touched.values()), ["allocated", "status"], batch_size=2000)
    return allocations


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
