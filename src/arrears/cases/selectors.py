"""Reads for cases: what holds customers and invoices out of the dunning
flow on a day."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from django.db.models import CharField, Count, F, Q, Sum, Value

from arrears.ledger.lookups import Ids
from arrears.ledger.models import CreditNote, Customer

from .approval_models import Placement, PlacementStatus, Recovery, WriteOff, WriteOffStatus
from .models import Dispute, DisputeLine, DisputeStatus, Promise, PromiseStatus
from .plan_models import Deduction, DeductionStatus, PlanInvoice, PlanStatus


@dataclass(frozen=True)
class Holds:
    """Per customer id, why the customer is left alone (an active promise);
    the ids of invoices in an open dispute; and per invoice id, why that
    invoice is left alone (an active payment plan, an open deduction)."""

    customers: dict[int, str]
    disputed_invoice_ids: frozenset[int]
    invoices: dict[int, str] = field(default_factory=dict)


def holds_for(customer_ids: Sequence[int], as_of: date) -> Holds:
    """Holds on ``as_of`` for the customers given (three queries): promises,
    agency placements, and disputes, payment plans and deductions made by
    then and not yet settled by then, so a replay of a past day sees the
    cases as they were that day."""
    ids = list(customer_ids)
    customers: dict[int, str] = {}
    promises = (
        Promise.objects.filter(customer_id__any=Ids(ids), created_at__date__lte=as_of)
        .filter(Q(status=PromiseStatus.OPEN) | Q(resolved_at__date__gt=as_of))
        .order_by("promised_on")
        .values_list("customer_id", "promised_on", "grace_days")
    )
    for customer_id, promised_on, grace in promises:
        until = promised_on + timedelta(days=grace)
        if until >= as_of and customer_id not in customers:
            customers[customer_id] = (
                f"promised to pay by {promised_on.isoformat()}: reminders paused "
                f"until {until.isoformat()}"
            )
    # Placed with an agency or attorney: no automated dunning at all.
    for customer_id, agency in (
        Placement.objects.filter(customer_id__any=Ids(ids), placed_at__date__lte=as_of)
        .filter(Q(status=PlacementStatus.PLACED) | Q(ended_at__date__gt=as_of))
        .values_list("customer_id", "agency")
    ):
        customers[customer_id] = f"placed with {agency}"
    disputed: set[int] = set()
    invoices: dict[int, str] = {}
    for kind, invoice_id, case_id, amount, currency in _invoice_cases(ids, as_of):
        if kind == "dispute":
            disputed.add(invoice_id)
        elif kind == "plan":
            invoices[invoice_id] = f"in payment plan {case_id}: paid by instalments"
        else:
            invoices.setdefault(
                invoice_id,
                f"deduction {case_id} of {amount.normalize():f} {currency} under review",
            )
    return Holds(customers, frozenset(disputed), invoices)


def _invoice_cases(ids: list[int], as_of: date) -> Any:
    """(kind, invoice id, case id, amount, currency) of every invoice of the
    customers held on ``as_of`` by an open dispute ("dispute"), an active
    payment plan ("plan") or an open deduction ("deduction"): one query.
    Every column is an annotation, in one order, so the parts line up."""
    disputes = (
        DisputeLine.objects.filter(
            invoice__customer_id__any=Ids(ids), dispute__opened_at__date__lte=as_of
        )
        .filter(Q(dispute__status=DisputeStatus.OPEN) | Q(dispute__resolved_at__date__gt=as_of))
        .annotate(
            k=Value("dispute", output_field=CharField()),
            inv=F("invoice_id"),
            case=F("dispute_id"),
            amt=F("amount"),
            cur=F("invoice__currency"),
        )
        .values_list("k", "inv", "case", "amt", "cur")
    )
    plans = (
        PlanInvoice.objects.filter(plan__customer_id__any=Ids(ids), plan__start_on__lte=as_of)
        .filter(Q(plan__status=PlanStatus.ACTIVE) | Q(plan__ended_on__gt=as_of))
        .annotate(
            k=Value("plan", output_field=CharField()),
            inv=F("invoice_id"),
            case=F("plan_id"),
            amt=F("amount"),
            cur=F("plan__currency"),
        )
        .values_list("k", "inv", "case", "amt", "cur")
    )
    deductions = (
        Deduction.objects.filter(customer_id__any=Ids(ids), opened_at__date__lte=as_of)
        .filter(Q(status=DeductionStatus.OPEN) | Q(resolved_at__date__gt=as_of))
        .annotate(
            k=Value("deduction", output_field=CharField()),
            inv=F("invoice_id"),
            case=F("id"),
            amt=F("amount"),
            cur=F("currency"),
        )
        .values_list("k", "inv", "case", "amt", "cur")
    )
    return disputes.order_by().union(plans.order_by(), deductions.order_by(), all=True)


def case_history(customer_ids: Sequence[int], as_of: date) -> dict[int, tuple[int, int]]:
    """Per customer id, (promises broken, disputes opened) in the 12 months
    up to ``as_of``, for the segment (two grouped queries; absent: none)."""
    ids = list(customer_ids)
    since = as_of - timedelta(days=365)
    broken = dict(
        Promise.objects.filter(
            customer_id__any=Ids(ids),
            status=PromiseStatus.BROKEN,
            resolved_at__date__gt=since,
            resolved_at__date__lte=as_of,
        )
        .order_by()
        .values_list("customer_id")
        .annotate(n=Count("id"))
        .values_list("customer_id", "n")
    )
    disputes = dict(
        Dispute.objects.filter(
            customer_id__any=Ids(ids), opened_at__date__gt=since, opened_at__date__lte=as_of
        )
        .order_by()
        .values_list("customer_id")
        .annotate(n=Count("id"))
        .values_list("customer_id", "n")
    )
    return {pk: (broken.get(pk, 0), disputes.get(pk, 0)) for pk in {*broken, *disputes}}


# Bad debt, for the reports (bad-debt-to-sales).


def bad_debt_written_off(currency: str, start: date, end: date) -> Decimal:
    """Bad debt written off in ``currency`` from ``start`` to ``end``
    (inclusive), before recoveries (0 when none)."""
    total = WriteOff.objects.filter(
        status=WriteOffStatus.WRITTEN_OFF,
        currency=currency,
        written_off_on__gte=start,
        written_off_on__lte=end,
    ).aggregate(t=Sum("amount"))["t"]
    return total or Decimal(0)


def bad_debt_recovered(currency: str, start: date, end: date) -> Decimal:
    """Recoveries of written-off debt received in ``currency`` from ``start``
    to ``end`` (inclusive); 0 when none."""
    total = Recovery.objects.filter(
        currency=currency, received_on__gte=start, received_on__lte=end
    ).aggregate(t=Sum("amount"))["t"]
    return total or Decimal(0)


def dispute_context(*, customer: Customer, invoice_refs: Sequence[str]) -> dict[str, Any] | None:
    """The latest resolved dispute of ``customer`` on any of the invoices,
    for the message that tells the customer its outcome; None when none."""
    dispute = (
        Dispute.objects.filter(customer=customer, lines__invoice__ref__in=list(invoice_refs))
        .exclude(status=DisputeStatus.OPEN)
        .order_by("-resolved_at", "-id")
        .first()
    )
    if dispute is None:
        return None
    lines = dispute.lines.select_related("invoice").order_by("id")
    return {
        "id": dispute.pk,
        "reason": dispute.get_reason_display(),
        "status": dispute.status,
        "resolution": dispute.resolution,
        "lines": [
            {"ref": line.invoice.ref, "amount": line.amount, "currency": line.invoice.currency}
            for line in lines
        ],
        "credit_notes": list(
            CreditNote.objects.filter(customer=customer, ref__startswith=f"DSP-{dispute.pk}-")
            .order_by("ref")
            .values_list("ref", flat=True)
        )
        if dispute.status == DisputeStatus.VALID
        else [],
    }
