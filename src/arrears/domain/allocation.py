"""Applying cash and credit to invoices.

Pure decisions: which open invoices a payment or credit note settles, and
how much is left unapplied. The ledger persists what this returns.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal


@dataclass(frozen=True, slots=True)
class OpenItem:
    """An invoice with something still open, as the allocator sees it."""

    key: int
    ref: str
    due_date: date
    issue_date: date
    open_amount: Decimal


@dataclass(frozen=True, slots=True)
class Allocation:
    key: int
    amount: Decimal


@dataclass(frozen=True, slots=True)
class AllocationPlan:
    allocations: tuple[Allocation, ...]
    unapplied: Decimal


def oldest_due_first(items: Iterable[OpenItem]) -> list[OpenItem]:
    """The order in which unreferenced cash settles invoices."""
    return sorted(items, key=lambda item: (item.due_date, item.issue_date, item.ref))


def allocate(amount: Decimal, items: Sequence[OpenItem]) -> AllocationPlan:
    """Spread ``amount`` over ``items`` in the given order.

    Each invoice gets at most its open amount; what no invoice can take is
    returned as ``unapplied`` (an overpayment or unapplied credit).
    """
    if amount <= 0:
        raise ValueError("amount to allocate must be positive")
    remaining = amount
    allocations: list[Allocation] = []
    for item in items:
        if remaining <= 0:
            break
        if item.open_amount <= 0:
            continue
        share = min(remaining, item.open_amount)
        allocations.append(Allocation(item.key, share))
        remaining -= share
    return AllocationPlan(tuple(allocations), remaining)
