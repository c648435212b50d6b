"""The backtest: replay the collection policy day by day over the ledger's
history, in memory, without storing anything.

Every customer is replayed on its own: its invoices and allocations are
read once, then for each day of the range the open amounts are those as of
that day (payments and credit notes count from their effective dates), the
segment is computed from what was paid by then, and the actions of earlier
simulated days are the customer's history (treated as executed). The live
data, stored actions included, is never read as history nor written.
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from arrears.domain.policy import (
    TOUCH_KINDS,
    Automation,
    CustomerFacts,
    InvoiceFacts,
    Kind,
    PastAction,
    PlannedAction,
    Policy,
    Stage,
    evaluate,
)
from arrears.domain.segments import PaymentHistory, Segment, SegmentOverride, segment_of
from arrears.ledger.models import Allocation, Invoice

from .selectors import (
    CHUNK,
    HISTORY_DAYS,
    PolicyBook,
    blocked_channels_by_customer,
    customer_rows,
)


@dataclass
class _Invoice:
    ref: str
    issue_date: date
    due_date: date
    amount: Decimal
    currency: str
    # (effective_on, amount), by date.
    allocations: list[tuple[date, Decimal]] = field(default_factory=list)
    # The day the allocations reached the amount; None while something is open.
    paid_on: date | None = None

    def open_on(self, day: date) -> Decimal:
        return self.amount - sum((a for on, a in self.allocations if on <= day), Decimal(0))


@dataclass
class SimulationSummary:
    """The ``simulate --json`` document, built up customer by customer."""

    start: date
    end: date
    customers: int = 0
    invoices: int = 0
    actions: int = 0
    by_kind: Counter[str] = field(default_factory=Counter)
    by_step: Counter[str] = field(default_factory=Counter)
    touches: int = 0
    paid_in_range: int = 0
    paid_before_first_touch: int = 0
    escalated_invoices: int = 0
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "from": self.start.isoformat(),
            "to": self.end.isoformat(),
            "days": (self.end - self.start).days + 1,
            "customers": self.customers,
            "invoices": self.invoices,
            "actions": self.actions,
            "by_kind": dict(sorted(self.by_kind.items())),
            "by_step": dict(sorted(self.by_step.items())),
            "touches_per_invoice": (
                round(self.touches / self.invoices, 3) if self.invoices else 0.0
            ),
            "paid_before_first_touch_share": (
                round(self.paid_before_first_touch / self.paid_in_range, 4)
                if self.paid_in_range
                else None
            ),
            "invoices_reaching_escalation": self.escalated_invoices,
            "seconds": round(self.seconds, 3),
        }


@dataclass(frozen=True)
class SimulatedAction:
    """One simulated action with its customer's row id (for reading back)."""

    seq: int
    customer_id: int
    action: PlannedAction

    def as_row(self) -> dict[str, Any]:
        """The ``actions`` contract fields (DESIGN.md §4), status "simulated"."""
        a = self.action
        return {
            "id": self.seq,
            "customer_ref": a.customer_ref,
            "invoice_refs": list(a.invoice_refs),
            "kind": a.kind.value,
            "stage": a.stage.value,
            "step": a.step,
            "planned_for": a.planned_for.isoformat(),
            "status": "simulated",
            "reason": a.reason,
        }


def _payment_history(
    customer_since: date | None, invoices: list[_Invoice], day: date
) -> PaymentHistory:
    """What was paid in the 12 months up to ``day``, as the daily run's
    selector computes it, but from the allocations known on that day."""
    start = day - timedelta(days=HISTORY_DAYS)
    late_days = [
        (inv.paid_on - inv.due_date).days
        for inv in invoices
        if inv.paid_on is not None and start < inv.paid_on <= day
    ]
    return PaymentHistory(
        customer_since=customer_since,
        paid_count=len(late_days),
        paid_late_count=sum(1 for d in late_days if d > 0),
        average_days_late=sum(late_days) / len(late_days) if late_days else None,
    )


def _ledger(ids: list[int], end: date) -> dict[int, list[_Invoice]]:
    """Per customer id, its invoices issued by ``end`` with their allocations
    effective by then (two queries)."""
    by_id: dict[int, _Invoice] = {}
    by_customer: dict[int, list[_Invoice]] = defaultdict(list)
    rows = (
        Invoice.objects.filter(customer_id__in=ids, issue_date__lte=end)
        .order_by("due_date", "ref")
        .values_list("pk", "customer_id", "ref", "issue_date", "due_date", "amount", "currency")
    )
    for pk, customer_id, ref, issued, due, amount, currency in rows:
        inv = _Invoice(ref, issued, due, amount, currency)
        by_id[pk] = inv
        by_customer[customer_id].append(inv)
    allocations = (
        Allocation.objects.filter(invoice__customer_id__in=ids, effective_on__lte=end)
        .order_by("effective_on", "id")
        .values_list("invoice_id", "effective_on", "amount")
    )
    for invoice_id, on, amount in allocations:
        inv_ = by_id.get(invoice_id)
        if inv_ is None:
            continue
        inv_.allocations.append((on, amount))
        if inv_.paid_on is None and sum(a for _, a in inv_.allocations) >= inv_.amount:
            inv_.paid_on = on
    return by_customer


def simulate(
    *,
    start: date,
    end: date,
    chunk_size: int = CHUNK,
    summary: SimulationSummary | None = None,
    policy: Policy | None = None,
) -> Iterator[SimulatedAction]:
    """Replay the policy on every day from ``start`` to ``end`` (inclusive)
    and yield the actions it would have planned, customer by customer, each
    customer's in day order. Nothing is written. The figures go into
    ``summary`` when given (complete once the iterator is exhausted).
    ``policy``: a candidate every customer runs instead of their own.
    """
    started = time.perf_counter()
    summary = summary if summary is not None else SimulationSummary(start, end)
    book = PolicyBook()
    days = [start + timedelta(days=n) for n in range((end - start).days + 1)]
    seq = 0
    after = 0
    while True:
        customers = customer_rows(after_id=after, limit=chunk_size, partition=None, ids=None)
        if not customers:
            break
        after = customers[-1]["pk"]
        ids = [c["pk"] for c in customers]
        ledger = _ledger(ids, end)
        blocked = blocked_channels_by_customer(ids)
        for c in customers:
            invoices = ledger.get(c["pk"], [])
            customer_policy = policy or book.for_customer(
                c["ref"], c["policy_settings__policy_name"] or ""
            )
            override = (
                SegmentOverride(
                    Segment(c["policy_settings__segment"]), c["policy_settings__segment_reason"]
                )
                if c["policy_settings__segment"]
                else None
            )
            base = CustomerFacts(
                ref=c["ref"],
                segment=Segment.NEW,
                country=c["country"],
                automation=Automation(c["automation"]),
                preferred_channel=Kind(c["preferred_channel"]) if c["preferred_channel"] else None,
                blocked_channels=blocked[c["pk"]],
            )
            history: list[PastAction] = []
            seen: set[str] = set()
            touched: set[str] = set()
            escalated: set[str] = set()
            for day in days:
                open_today = []
                for inv in invoices:
                    if inv.issue_date > day or (inv.paid_on is not None and inv.paid_on <= day):
                        continue
                    amount = inv.open_on(day)
                    if amount > 0:
                        open_today.append(
                            InvoiceFacts(
                                inv.ref, inv.issue_date, inv.due_date, amount, inv.currency
                            )
                        )
                if not open_today:
                    continue
                seen.update(i.ref for i in open_today)
                segment = segment_of(
                    _payment_history(c["customer_since"], invoices, day), day, override=override
                )
                facts = CustomerFacts(
                    ref=base.ref,
                    segment=segment.segment,
                    country=base.country,
                    automation=base.automation,
                    preferred_channel=base.preferred_channel,
                    blocked_channels=base.blocked_channels,
                    history=tuple(history),
                )
                decisions = evaluate(customer_policy, facts, open_today, day, explain=False)
                for action in decisions.actions:
                    history.append(action.as_past())
                    seq += 1
                    summary.actions += 1
                    summary.by_kind[action.kind.value] += 1
                    summary.by_step[action.step] += 1
                    if action.kind in TOUCH_KINDS:
                        summary.touches += len(action.invoice_refs)
                        touched.update(action.invoice_refs)
                    if action.stage is Stage.ESCALATE:
                        escalated.update(action.invoice_refs)
                    yield SimulatedAction(seq, c["pk"], action)
            if seen:
                summary.customers += 1
                summary.invoices += len(seen)
                summary.escalated_invoices += len(escalated)
                for inv in invoices:
                    if inv.ref in seen and inv.paid_on is not None and inv.paid_on <= end:
                        summary.paid_in_range += 1
                        summary.paid_before_first_touch += inv.ref not in touched
    summary.seconds = time.perf_counter() - started
