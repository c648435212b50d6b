"""Reads for cases: what holds customers and invoices out of the dunning
flow on a day."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from django.db.models import Count, Q

from .models import Dispute, DisputeLine, DisputeStatus, Promise, PromiseStatus


@dataclass(frozen=True)
class Holds:
    """Per customer id, why the customer is left alone (an active promise);
    and the ids of invoices in an open dispute."""

    customers: dict[int, str]
    disputed_invoice_ids: frozenset[int]


def holds_for(customer_ids: Sequence[int], as_of: date) -> Holds:
    """Holds on ``as_of`` for the customers given (two queries): promises and
    disputes made by then and not yet settled by then, so a replay of a past
    day sees the cases as they were that day."""
    ids = list(customer_ids)
    customers: dict[int, str] = {}
    promises = (
        Promise.objects.filter(customer_id__in=ids, created_at__date__lte=as_of)
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
    disputed = (
        DisputeLine.objects.filter(
            invoice__customer_id__in=ids, dispute__opened_at__date__lte=as_of
        )
        .filter(Q(dispute__status=DisputeStatus.OPEN) | Q(dispute__resolved_at__date__gt=as_of))
        .values_list("invoice_id", flat=True)
    )
    return Holds(customers, frozenset(disputed))


def case_history(customer_ids: Sequence[int], as_of: date) -> dict[int, tuple[int, int]]:
    """Per customer id, (promises broken, disputes opened) in the 12 months
    up to ``as_of``, for the segment (two grouped queries; absent: none)."""
    ids = list(customer_ids)
    since = as_of - timedelta(days=365)
    broken = dict(
        Promise.objects.filter(
            customer_id__in=ids,
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
            customer_id__in=ids, opened_at__date__gt=since, opened_at__date__lte=as_of
        )
        .order_by()
        .values_list("customer_id")
        .annotate(n=Count("id"))
        .values_list("customer_id", "n")
    )
    return {pk: (broken.get(pk, 0), disputes.get(pk, 0)) for pk in {*broken, *disputes}}
