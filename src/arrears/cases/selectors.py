"""Reads for cases: what holds customers and invoices out of the dunning
flow on a day."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from django.db.models import Q

from .models import DisputeLine, DisputeStatus, Promise, PromiseStatus


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
