"""Unauthorized deductions: a customer pays an invoice short and keeps the
difference back with a reason or a deduction code (damaged goods, a
promotion, freight...). The short amount becomes a deduction case tied to
the payment and the invoice; while it is open, the invoice is left alone
by the daily run (``selectors.holds_for``).

Resolution:

- **valid**: the customer was right; a credit note for the amount is
  issued and applied to the invoice (``documents_post``);
- **rebill**: not valid, billed again on its own: a credit note closes the
  short on the original invoice and a new invoice for the amount is issued
  (due in ``REBILL_DAYS``), so the customer never owes it twice;
- **collect**: not valid, and the original invoice stays open for the
  remainder; collection resumes.

Detection rule (``deduction_detect``): a payment whose remittance names an
invoice (``Payment.invoice_ref``), which left that invoice open, and for
which a deduction code is known (from the remittance advice; the payments
file carries none) opens a deduction for the invoice's remaining open
amount. A short payment without a code is a partial payment, not a
deduction.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.utils import timezone

from arrears.ledger.models import CreditNote, Invoice, InvoiceStatus, Payment
from arrears.ledger.services import activity_record, documents_post

from .plan_models import Deduction, DeductionStatus
from .services import CaseRejected

REBILL_DAYS = 14
OUTCOMES = ("valid", "rebill", "collect")


def _label(actor: User | None, actor_label: str) -> str:
    return actor_label or (actor.get_username() if actor is not None else "system")


@transaction.atomic
def deduction_open(
    *,
    payment: Payment,
    invoice: Invoice,
    amount: Decimal,
    code: str = "",
    reason: str = "",
    actor: User | None = None,
    actor_label: str = "",
) -> Deduction:
    """Open a deduction case: ``amount`` of ``invoice`` kept back when
    ``payment`` was made, with a ``code`` or a ``reason`` (at least one).
    Raises CaseRejected when the payment and invoice are not the same
    customer's in the same currency, the amount is not positive or more
    than the invoice's open amount, or the pair already has an open case."""
    label = _label(actor, actor_label)
    code, reason = code.strip().upper(), reason.strip()
    if not code and not reason:
        raise CaseRejected("a deduction needs a deduction code or a reason")
    if payment.customer_id != invoice.customer_id:
        raise CaseRejected(
            f"payment {payment.ref} and invoice {invoice.ref} are not one customer's"
        )
    if payment.currency != invoice.currency:
        raise CaseRejected(f"payment {payment.ref} and invoice {invoice.ref} differ in currency")
    invoice.refresh_from_db(fields=["allocated", "status"])
    open_ = invoice.open_amount
    if amount <= 0 or amount > open_:
        raise CaseRejected(
            f"the deducted amount must be more than 0 and at most the open "
            f"{open_} {invoice.currency} of {invoice.ref}"
        )
    try:
        with transaction.atomic():
            deduction = Deduction.objects.create(
                customer_id=invoice.customer_id,
                payment=payment,
                invoice=invoice,
                amount=amount,
                currency=invoice.currency,
                code=code,
                reason=reason,
                opened_at=timezone.now(),
                opened_by_label=label,
            )
    except IntegrityError:
        raise CaseRejected(
            f"payment {payment.ref} already has an open deduction on {invoice.ref}"
        ) from None
    activity_record(
        actor_label=label,
        actor=actor,
        verb="deduction opened",
        subject_type="deduction",
        subject_ref=str(deduction.pk),
        customer=invoice.customer,
        why=reason or code,
        data={
            "payment_ref": payment.ref,
            "invoice_ref": invoice.ref,
            "amount": str(amount),
            "currency": invoice.currency,
            "code": code,
        },
    )
    return deduction


@dataclass(frozen=True)
class Remittance:
    """A line of remittance advice: the payment and the deduction code
    (and reason) the payer gave for paying short."""

    payment_ref: str
    code: str
    reason: str = ""


def deduction_detect(*, remittances: Iterable[Remittance], actor_label: str) -> list[Deduction]:
    """Open a deduction for each remittance whose payment names an invoice
    it left open, with a code (the module's rule). Payments that paid in
    full, name no invoice, or already have an open case are skipped.
    Returns the deductions opened."""
    opened = []
    for line in remittances:
        if not line.code.strip():
            continue
        payment = Payment.objects.filter(ref=line.payment_ref).first()
        if payment is None or not payment.invoice_ref:
            continue
        invoice = Invoice.objects.filter(
            customer_id=payment.customer_id, ref=payment.invoice_ref
        ).first()
        if (
            invoice is None
            or invoice.status != InvoiceStatus.OPEN
            or invoice.currency != payment.currency
            or not payment.allocations.filter(invoice=invoice).exists()
            or Deduction.objects.filter(
                payment=payment, invoice=invoice, status=DeductionStatus.OPEN
            ).exists()
        ):
            continue
        opened.append(
            deduction_open(
                payment=payment,
                invoice=invoice,
                amount=invoice.open_amount,
                code=line.code,
                reason=line.reason,
                actor_label=actor_label,
            )
        )
    return opened


def _credit(deduction: Deduction, suffix: str) -> CreditNote:
    note = CreditNote(
        ref=f"DED-{deduction.pk}-{suffix}",
        customer_id=deduction.customer_id,
        issue_date=timezone.localdate(),
        amount=deduction.amount,
        currency=deduction.currency,
        invoice_ref=deduction.invoice.ref,
    )
    documents_post([note])
    return note


@transaction.atomic
def deduction_resolve(
    *,
    deduction: Deduction,
    outcome: str,
    resolution: str,
    actor: User | None = None,
    actor_label: str = "",
) -> Deduction:
    """Close an open deduction: ``outcome`` "valid" (credit note), "rebill"
    (credit note on the original and a new invoice for the amount) or
    "collect" (the invoice stays open; collection resumes). A resolution
    text is required. Raises CaseRejected when the case is not open."""
    label = _label(actor, actor_label)
    if outcome not in OUTCOMES:
        raise CaseRejected(f"{outcome!r} is not an outcome ({', '.join(OUTCOMES)})")
    if not resolution.strip():
        raise CaseRejected("say how the deduction was resolved")
    locked = (
        Deduction.objects.select_for_update(of=("self",))
        .select_related("invoice", "customer")
        .get(pk=deduction.pk)
    )
    if locked.status != DeductionStatus.OPEN:
        raise CaseRejected(f"deduction {locked.pk} is already {locked.status}")
    data: dict[str, str] = {"outcome": outcome}
    if outcome in ("valid", "rebill"):
        open_now = locked.invoice.amount - locked.invoice.allocated
        if open_now < locked.amount:
            raise CaseRejected(
                f"{locked.invoice.ref} has only {open_now} {locked.currency} open; "
                "the deduction cannot be credited in full"
            )
        note = _credit(locked, "CN")
        locked.credit_note = note
        data["credit_note_ref"] = note.ref
    if outcome == "rebill":
        today = timezone.localdate()
        rebill = Invoice.objects.create(
            ref=f"{locked.invoice.ref}-RB{locked.pk}",
            customer_id=locked.customer_id,
            issue_date=today,
            due_date=today + timedelta(days=REBILL_DAYS),
            amount=locked.amount,
            currency=locked.currency,
            order_ref=locked.invoice.order_ref,
            terms=f"Re-billed deduction {locked.code or locked.pk} of {locked.invoice.ref}",
        )
        locked.rebill_invoice = rebill
        data["rebill_invoice_ref"] = rebill.ref
    locked.status = {
        "valid": DeductionStatus.VALID,
        "rebill": DeductionStatus.REBILLED,
        "collect": DeductionStatus.COLLECTED,
    }[outcome]
    locked.resolved_at = timezone.now()
    locked.resolved_by_label = label
    locked.resolution = resolution.strip()
    locked.save(
        update_fields=[
            "status",
            "resolved_at",
            "resolved_by_label",
            "resolution",
            "credit_note",
            "rebill_invoice",
        ]
    )
    activity_record(
        actor_label=label,
        actor=actor,
        verb=f"deduction {locked.status}",
        subject_type="deduction",
        subject_ref=str(locked.pk),
        customer=locked.customer,
        why=resolution.strip(),
        data=data,
    )
    return locked
