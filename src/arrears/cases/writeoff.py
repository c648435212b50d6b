"""Bad-debt write-offs and recoveries.

A write-off is proposed (by the policy's ``write_off`` task or by hand) for
one invoice and approved along the amount matrix, never by its proposer.
Once approved, the ledger entry is a credit note ``WO-<id>`` that the ledger
allocates to the invoice like any credit note (``documents_post``): open
amounts, aging and every report stay right without a special case, and the
``WriteOff`` row says that this credit note is bad debt and why. (A new
ledger document type would have needed a second allocation source in the
ledger's constraints and in every balance query.)

Money received later for a written-off invoice is a recovery: the payment
counts as applied — to bad-debt recovery, not to an invoice, which stays
settled — so it does not show as unapplied cash.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import F, Sum
from django.utils import timezone

from arrears.comms.models import Task, TaskStatus
from arrears.domain.money import quantum
from arrears.ledger.models import CreditNote, Invoice, InvoiceStatus, Payment
from arrears.ledger.services import activity_record, documents_post

from .approval_models import (
    Approval,
    ApprovalKind,
    ApprovalStatus,
    Recovery,
    WriteOff,
    WriteOffStatus,
)
from .approvals import approval_handler, approval_request

RECOVERIES_ACTOR = "recoveries"


class WriteOffRejected(ValueError):
    """A write-off or recovery that cannot be made; the message says why."""


def _label(user: User | None, label: str) -> str:
    return label or (user.get_username() if user is not None else "system")


@transaction.atomic
def write_off_propose(
    *,
    invoice: Invoice,
    reason: str,
    by: User | None,
    amount: Decimal | None = None,
    task: Task | None = None,
    by_label: str = "",
) -> WriteOff:
    """Propose writing off ``amount`` (default: all that is open) of an open
    invoice, and ask for approval along the matrix. Closes ``task`` (the
    policy's proposal). Raises WriteOffRejected for a paid invoice, a bad
    amount or no reason; ApprovalRejected when no role may approve it."""
    if not reason.strip():
        raise WriteOffRejected("say why the debt is bad")
    invoice = Invoice.objects.select_for_update().get(pk=invoice.pk)
    if invoice.status != InvoiceStatus.OPEN:
        raise WriteOffRejected(f"invoice {invoice.ref} is settled")
    open_ = invoice.open_amount.quantize(quantum(invoice.currency))
    amount = open_ if amount is None else amount
    if amount <= 0 or amount > open_:
        raise WriteOffRejected(
            f"the amount must be more than 0 and at most the open {open_} {invoice.currency}"
        )
    if WriteOff.objects.filter(invoice=invoice, status=WriteOffStatus.PROPOSED).exists():
        raise WriteOffRejected(f"a write-off of invoice {invoice.ref} is already proposed")
    label = _label(by, by_label)
    now = timezone.now()
    write_off = WriteOff.objects.create(
        customer_id=invoice.customer_id,
        invoice=invoice,
        amount=amount,
        currency=invoice.currency,
        reason=reason.strip(),
        proposed_by=by,
        proposed_by_label=label,
        proposed_at=now,
    )
    activity_record(
        actor_label=label,
        actor=by,
        verb="write-off proposed",
        subject_type="write_off",
        subject_ref=str(write_off.pk),
        customer=invoice.customer,
        why=reason.strip(),
        data={"invoice_ref": invoice.ref, "amount": str(amount), "currency": invoice.currency},
    )
    approval = approval_request(
        kind=ApprovalKind.WRITE_OFF,
        customer=invoice.customer,
        amount=amount,
        currency=invoice.currency,
        subject=write_off,
        requested_by=by,
        requested_by_label=label,
        reason=f"write off {amount} {invoice.currency} of invoice {invoice.ref}: {reason.strip()}",
    )
    WriteOff.objects.filter(pk=write_off.pk).update(approval=approval)
    write_off.approval = approval
    if task is not None:
        Task.objects.filter(pk=task.pk, status=TaskStatus.OPEN).update(
            status=TaskStatus.DONE,
            completed_at=now,
            completed_by=by,
            note=f"write-off {write_off.pk} proposed",
        )
    return write_off


@approval_handler(ApprovalKind.WRITE_OFF)
def _write_off_decided(approval: Approval, by: User | None) -> None:
    write_off = WriteOff.objects.select_for_update().get(pk=approval.subject_ref)
    if write_off.status != WriteOffStatus.PROPOSED:
        return
    if approval.status != ApprovalStatus.APPROVED:
        WriteOff.objects.filter(pk=write_off.pk).update(status=WriteOffStatus.REJECTED)
        return
    invoice = Invoice.objects.select_for_update().get(pk=write_off.invoice_id)
    open_ = invoice.open_amount.quantize(quantum(invoice.currency))
    # Paid in part since the proposal: write off only what is still open.
    amount = min(write_off.amount, open_)
    if amount <= 0:
        raise WriteOffRejected(
            f"invoice {invoice.ref} was settled since the proposal: reject it instead"
        )
    today = timezone.localdate()
    credit_note = CreditNote(
        ref=f"WO-{write_off.pk}",
        customer_id=invoice.customer_id,
        issue_date=today,
        amount=amount,
        currency=invoice.currency,
        invoice_ref=invoice.ref,
    )
    documents_post([credit_note])
    WriteOff.objects.filter(pk=write_off.pk).update(
        status=WriteOffStatus.WRITTEN_OFF,
        credit_note=credit_note,
        amount=amount,
        written_off_on=today,
    )
    activity_record(
        actor_label=approval.decided_by_label,
        actor=by,
        verb="written off",
        subject_type="invoice",
        subject_ref=invoice.ref,
        customer=invoice.customer,
        why=write_off.reason,
        data={
            "write_off": write_off.pk,
            "credit_note_ref": credit_note.ref,
            "amount": str(amount),
            "currency": invoice.currency,
            "proposed_by": write_off.proposed_by_label,
            "approved_by": approval.decided_by_label,
        },
    )


# --- recoveries ---------------------------------------------------------------


@transaction.atomic
def recovery_record(
    *,
    write_off: WriteOff,
    payment_ref: str,
    amount: Decimal,
    by: User | None,
    received_on: date | None = None,
    by_label: str = "",
) -> Recovery:
    """Record money received for written-off debt. ``payment_ref`` names a
    payment already in the ledger (its unapplied part is used) or, with
    ``received_on``, a new one recorded here. At most what was written off,
    less earlier recoveries. Raises WriteOffRejected."""
    label = _label(by, by_label)
    if write_off.status != WriteOffStatus.WRITTEN_OFF:
        raise WriteOffRejected(f"write-off {write_off.pk} is {write_off.status}, not written off")
    currency = write_off.currency
    amount = amount.quantize(quantum(currency))
    recovered = Recovery.objects.filter(write_off=write_off).aggregate(t=Sum("amount"))["t"] or 0
    left = (write_off.amount - recovered).quantize(quantum(currency))
    if amount <= 0 or amount > left:
        raise WriteOffRejected(
            f"a recovery must be more than 0 and at most the {left} {currency} still written off"
        )
    payment = Payment.objects.select_for_update().filter(ref=payment_ref).first()
    if payment is None:
        if received_on is None:
            raise WriteOffRejected(f"no payment {payment_ref}: give received_on to record it")
        payment = Payment.objects.create(
            ref=payment_ref,
            customer_id=write_off.customer_id,
            received_on=received_on,
            amount=amount,
            currency=currency,
            invoice_ref=write_off.invoice.ref,
            allocated=amount,
        )
    else:
        if payment.customer_id != write_off.customer_id or payment.currency != currency:
            raise WriteOffRejected(
                f"payment {payment_ref} is not the customer's or not in {currency}"
            )
        if payment.unapplied < amount:
            unapplied = payment.unapplied.quantize(quantum(currency))
            raise WriteOffRejected(f"payment {payment_ref} has only {unapplied} unapplied")
        Payment.objects.filter(pk=payment.pk).update(allocated=F("allocated") + amount)
    recovery = Recovery.objects.create(
        write_off=write_off,
        payment=payment,
        amount=amount,
        currency=currency,
        received_on=payment.received_on,
        recorded_by_label=label,
        created_at=timezone.now(),
    )
    activity_record(
        actor_label=label,
        actor=by,
        verb="bad debt recovered",
        subject_type="write_off",
        subject_ref=str(write_off.pk),
        customer=write_off.customer,
        why=f"{amount} {currency} of written-off invoice {write_off.invoice.ref} "
        f"received with payment {payment.ref}",
        data={"payment_ref": payment.ref, "amount": str(amount), "currency": currency},
    )
    return recovery


def recoveries_detect(*, actor_label: str = RECOVERIES_ACTOR) -> int:
    """Record as recoveries the unapplied payments that name a written-off
    invoice (a late payment after the write-off). Returns how many."""
    count = 0
    candidates = (
        Payment.objects.filter(allocated__lt=F("amount"), invoice_ref__gt="")
        .filter(
            invoice_ref__in=WriteOff.objects.filter(status=WriteOffStatus.WRITTEN_OFF).values(
                "invoice__ref"
            )
        )
        .order_by("received_on", "id")
    )
    for payment in candidates:
        for write_off in WriteOff.objects.filter(
            invoice__ref=payment.invoice_ref,
            status=WriteOffStatus.WRITTEN_OFF,
            customer_id=payment.customer_id,
            currency=payment.currency,
        ).order_by("id"):
            recovered = write_off.recoveries.aggregate(t=Sum("amount"))["t"] or 0
            left = min(write_off.amount - recovered, payment.amount - payment.allocated)
            if left <= 0:
                continue
            recovery_record(
                write_off=write_off,
                payment_ref=payment.ref,
                amount=left,
                by=None,
                by_label=actor_label,
            )
            payment.allocated += left
            count += 1
    return count
