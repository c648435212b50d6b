"""Writes for promises to pay and disputes. Each runs in one transaction
and records what it did in the activity log."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import date, timedelta
from decimal import Decimal

from django.conf import settings
from django.contrib.auth.models import User
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from arrears.comms.models import Task, TaskKind
from arrears.comms.outbox import message_queue, task_open_once
from arrears.domain.money import is_currency, quantum
from arrears.ledger.models import CreditNote, Customer, Invoice, InvoiceStatus, Payment
from arrears.ledger.services import activity_record, documents_post

from .models import Dispute, DisputeLine, DisputeReason, DisputeStatus, Promise, PromiseStatus

ACTOR = "cases"
logger = logging.getLogger(__name__)


class CaseRejected(ValueError):
    """A promise or dispute that cannot be recorded; the message says why."""


def _label(actor: User | None, actor_label: str) -> str:
    return actor_label or (actor.get_username() if actor is not None else "system")


def _invoices(customer: Customer, refs: Sequence[str]) -> list[Invoice]:
    found = {i.ref: i for i in Invoice.objects.filter(customer=customer, ref__in=list(refs))}
    missing = [r for r in refs if r not in found]
    if missing:
        raise CaseRejected(f"no invoice {', '.join(missing)} for customer {customer.ref}")
    return [found[r] for r in refs]


@transaction.atomic
def promise_record(
    *,
    customer: Customer,
    promised_on: date,
    source: str,
    actor: User | None = None,
    actor_label: str = "",
    invoice_refs: Sequence[str] = (),
    amount: Decimal | None = None,
    currency: str = "",
    grace_days: int = 3,
    note: str = "",
) -> Promise:
    """Record a promise to pay by ``promised_on``: reminders pause until that
    date plus ``grace_days``. An amount needs its currency. Raises
    CaseRejected for a date in the past, unknown invoices or a bad amount."""
    label = _label(actor, actor_label)
    if promised_on < timezone.localdate():
        raise CaseRejected("the promised date is in the past")
    if not 0 <= grace_days <= 30:
        raise CaseRejected("grace days must be between 0 and 30")
    invoices = _invoices(customer, invoice_refs)
    if amount is not None:
        if amount <= 0:
            raise CaseRejected("the promised amount must be positive")
        if not is_currency(currency):
            raise CaseRejected(f"{currency!r} is not an ISO 4217 currency")
    elif invoices:
        currencies = {i.currency for i in invoices}
        if len(currencies) == 1:
            currency = currencies.pop()
            amount = sum((i.open_amount for i in invoices), Decimal(0))
    promise = Promise.objects.create(
        customer=customer,
        invoice_refs=[i.ref for i in invoices],
        amount=amount,
        currency=currency if amount is not None else "",
        promised_on=promised_on,
        grace_days=grace_days,
        source=source,
        note=note.strip(),
        created_at=timezone.now(),
        created_by=actor,
        created_by_label=label,
    )
    activity_record(
        actor_label=label,
        actor=actor,
        verb="promise to pay",
        subject_type="promise",
        subject_ref=str(promise.pk),
        customer=customer,
        why=f"promised to pay by {promised_on.isoformat()}; reminders pause until "
        f"{(promised_on + timedelta(days=grace_days)).isoformat()}",
        data={
            "promised_on": promised_on.isoformat(),
            "amount": None if amount is None else str(amount),
            "currency": currency,
            "invoice_refs": promise.invoice_refs,
            "source": source,
        },
    )
    return promise


def _paid_since(promise: Promise) -> Decimal:
    received = Payment.objects.filter(
        customer_id=promise.customer_id,
        currency=promise.currency,
        received_on__gte=promise.created_at.date(),
    ).aggregate(total=Sum("amount"))["total"]
    return received or Decimal(0)


def _kept(promise: Promise) -> bool:
    if promise.invoice_refs:
        still_open = Invoice.objects.filter(
            customer_id=promise.customer_id,
            ref__in=promise.invoice_refs,
            status=InvoiceStatus.OPEN,
        ).exists()
        if not still_open:
            return True
    return promise.amount is not None and _paid_since(promise) >= promise.amount


@transaction.atomic
def promises_review(*, as_of: date) -> dict[str, int]:
    """Settle open promises: kept when their invoices are paid or payments
    since the promise cover its amount; broken once the promised date plus
    grace has passed without that. A broken promise opens an escalation task
    for the customer's collector. Returns counts of kept and broken."""
    counts = {"kept": 0, "broken": 0}
    now = timezone.now()
    for promise in Promise.objects.filter(status=PromiseStatus.OPEN).select_related("customer"):
        if _kept(promise):
            status, why = PromiseStatus.KEPT, "paid as promised"
        elif promise.promised_on + timedelta(days=promise.grace_days) < as_of:
            status = PromiseStatus.BROKEN
            why = f"not paid by {promise.promised_on.isoformat()} (+{promise.grace_days} days)"
        else:
            continue
        updated = Promise.objects.filter(pk=promise.pk, status=PromiseStatus.OPEN).update(
            status=status, resolved_at=now, resolution=why
        )
        if not updated:
            continue
        counts[status.value] += 1
        activity_record(
            actor_label=ACTOR,
            verb=f"promise {status.value}",
            subject_type="promise",
            subject_ref=str(promise.pk),
            customer=promise.customer,
            why=why,
        )
        if status == PromiseStatus.BROKEN:
            task_open_once(
                customer=promise.customer,
                kind=TaskKind.ESCALATION,
                title="Broken promise to pay",
                reason=f"promise {promise.pk} broken: {why}; collection resumes",
                now=now,
            )
    return counts


@transaction.atomic
def dispute_open(
    *,
    customer: Customer,
    lines: Mapping[str, Decimal | None],
    reason: str,
    actor: User | None = None,
    actor_label: str = "",
    description: str = "",
    owner: User | None = None,
) -> Dispute:
    """Open a dispute on invoices (ref → disputed amount; None: all that is
    open). The invoices leave the dunning flow while it is open. Raises
    CaseRejected for unknown or paid invoices, amounts above what is open, an
    unknown reason, or an invoice already in an open dispute."""
    label = _label(actor, actor_label)
    if reason not in DisputeReason.values:
        raise CaseRejected(
            f"{reason!r} is not a dispute reason ({', '.join(DisputeReason.values)})"
        )
    if not lines:
        raise CaseRejected("a dispute needs at least one invoice")
    invoices = _invoices(customer, list(lines))
    already = DisputeLine.objects.filter(
        invoice__in=invoices, dispute__status=DisputeStatus.OPEN
    ).values_list("invoice__ref", flat=True)
    if already:
        raise CaseRejected(f"already in an open dispute: {', '.join(sorted(already))}")
    amounts: dict[int, Decimal] = {}
    for invoice in invoices:
        wanted = lines[invoice.ref]
        open_ = invoice.open_amount
        if invoice.status != InvoiceStatus.OPEN:
            raise CaseRejected(f"invoice {invoice.ref} is paid")
        amount = open_ if wanted is None else wanted
        if amount <= 0 or amount > open_:
            raise CaseRejected(
                f"invoice {invoice.ref}: the disputed amount must be more than 0 "
                f"and at most the open {open_} {invoice.currency}"
            )
        amounts[invoice.pk] = amount
    dispute = Dispute.objects.create(
        customer=customer,
        reason=reason,
        description=description.strip(),
        owner=owner or actor,
        opened_at=timezone.now(),
        opened_by_label=label,
    )
    DisputeLine.objects.bulk_create(
        DisputeLine(dispute=dispute, invoice_id=pk, amount=amount) for pk, amount in amounts.items()
    )
    activity_record(
        actor_label=label,
        actor=actor,
        verb="dispute opened",
        subject_type="dispute",
        subject_ref=str(dispute.pk),
        customer=customer,
        why=description.strip() or DisputeReason(reason).label,
        data={
            "reason": reason,
            "lines": {i.ref: str(amounts[i.pk]) for i in invoices},
        },
    )
    _stakeholders_notify(dispute, f"opened by {label}")
    return dispute


def _stakeholders_notify(dispute: Dispute, what: str) -> None:
    """E-mail the dispute's owner and the customer's collector (people
    inside the company, so not through the customer outbox), once the
    transaction has committed; a mail failure is logged, never raised."""
    people = {u for u in (dispute.owner, dispute.customer.collector) if u is not None and u.email}
    if not people:
        return
    lines = ", ".join(
        f"{line.invoice.ref} ({line.amount.quantize(quantum(line.invoice.currency))} "
        f"{line.invoice.currency})"
        for line in dispute.lines.select_related("invoice")
    )
    subject = f"Dispute {dispute.pk} {what}: {dispute.customer.name}"
    body = (
        f"{dispute.customer.name} ({dispute.customer.ref}) disputes {lines}.\n"
        f"Reason: {dispute.get_reason_display()}. {dispute.description}\n"
        f"Status: {dispute.get_status_display()}. {dispute.resolution}\n"
    )
    recipients = sorted(u.email for u in people)

    def send() -> None:
        try:
            send_mail(subject, body, None, recipients)
        except OSError:
            logger.exception("dispute %s: stakeholders not notified", dispute.pk)

    transaction.on_commit(send)


@transaction.atomic
def dispute_resolve(
    *,
    dispute: Dispute,
    valid: bool,
    resolution: str,
    actor: User | None = None,
    actor_label: str = "",
) -> Dispute:
    """Close an open dispute: valid (the customer is right: issue the credit
    note through the ledger) or rejected (collection resumes). A resolution
    text is required: the customer is told why."""
    label = _label(actor, actor_label)
    if not resolution.strip():
        raise CaseRejected("say how the dispute was resolved")
    status = DisputeStatus.VALID if valid else DisputeStatus.REJECTED
    if not Dispute.objects.filter(pk=dispute.pk, status=DisputeStatus.OPEN).update(
        status=status, resolved_at=timezone.now(), resolution=resolution.strip()
    ):
        raise CaseRejected("the dispute is not open")
    activity_record(
        actor_label=label,
        actor=actor,
        verb=f"dispute {status.value}",
        subject_type="dispute",
        subject_ref=str(dispute.pk),
        customer=dispute.customer,
        why=resolution.strip(),
    )
    dispute.refresh_from_db()
    if valid:
        _dispute_credit(dispute, label)
    # The customer is told the outcome and why (the template names it).
    message_queue(
        customer=dispute.customer,
        channel="email",
        template_key="dispute-valid" if valid else "dispute-rejected",
        invoice_refs=[line.invoice.ref for line in dispute.lines.select_related("invoice")],
        actor_label=label,
        idempotency_key=f"dispute:{dispute.pk}:resolved",
    )
    _stakeholders_notify(dispute, f"resolved ({dispute.get_status_display()}) by {label}")
    return dispute


def _dispute_credit(dispute: Dispute, label: str) -> None:
    """A valid dispute credits each disputed amount (still open) with a
    credit note ``DSP-<dispute>-<n>`` allocated to its invoice."""
    today = timezone.localdate()
    notes = []
    for n, line in enumerate(dispute.lines.select_related("invoice").order_by("id"), 1):
        invoice = line.invoice
        amount = min(line.amount, invoice.open_amount)
        if amount <= 0:
            continue  # paid meanwhile: nothing left to credit
        notes.append(
            CreditNote(
                ref=f"DSP-{dispute.pk}-{n}",
                customer=dispute.customer,
                issue_date=max(today, invoice.issue_date),
                amount=amount.quantize(quantum(invoice.currency)),
                currency=invoice.currency,
                invoice_ref=invoice.ref,
            )
        )
    documents_post(notes)
    for note in notes:
        activity_record(
            actor_label=label,
            verb="credit note issued",
            subject_type="credit_note",
            subject_ref=note.ref,
            customer=dispute.customer,
            why=f"dispute {dispute.pk} resolved valid",
            data={"invoice_ref": note.invoice_ref, "amount": str(note.amount)},
        )


def disputes_review(*, as_of: date) -> int:
    """Open an escalation task for the owner of each open dispute older than
    ``ARREARS_DISPUTE_SLA_DAYS`` (once per dispute). Returns how many."""
    sla = int(getattr(settings, "ARREARS_DISPUTE_SLA_DAYS", 10))
    late = Dispute.objects.filter(
        status=DisputeStatus.OPEN, opened_at__date__lt=as_of - timedelta(days=sla)
    ).select_related("customer")
    opened = 0
    now = timezone.now()
    for dispute in late:
        title = f"Dispute {dispute.pk} is past its {sla}-day SLA"
        if Task.objects.filter(customer=dispute.customer, title=title).exists():
            continue
        Task.objects.create(
            kind=TaskKind.ESCALATION,
            customer=dispute.customer,
            assigned_to=dispute.owner or dispute.customer.collector,
            title=title,
            reason=f"opened {dispute.opened_at:%Y-%m-%d} ({dispute.get_reason_display()}); "
            "resolve it or tell the customer when they can expect an answer",
            due_at=now,
            created_at=now,
        )
        opened += 1
    return opened
