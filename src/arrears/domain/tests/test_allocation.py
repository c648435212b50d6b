"""Allocation: which invoices cash settles, in which order, and what is left."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from arrears.domain.allocation import Allocation, OpenItem, allocate, oldest_due_first


def item(
    key: int, open_amount: str, due: str = "2024-01-31", issue: str = "2024-01-01"
) -> OpenItem:
    return OpenItem(
        key=key,
        ref=f"INV-{key}",
        due_date=date.fromisoformat(due),
        issue_date=date.fromisoformat(issue),
        open_amount=Decimal(open_amount),
    )


def test_cash_settles_items_in_the_given_order_until_it_runs_out() -> None:
    plan = allocate(Decimal("150.00"), [item(1, "100.00"), item(2, "100.00"), item(3, "100.00")])
    assert plan.allocations == (
        Allocation(1, Decimal("100.00")),
        Allocation(2, Decimal("50.00")),
    )
    assert plan.unapplied == 0


def test_exact_payment_settles_everything_and_leaves_nothing() -> None:
    plan = allocate(Decimal("30.00"), [item(1, "10.00"), item(2, "20.00")])
    assert [a.amount for a in plan.allocations] == [Decimal("10.00"), Decimal("20.00")]
    assert plan.unapplied == 0


def test_overpayment_is_returned_as_unapplied() -> None:
    plan = allocate(Decimal("500.00"), [item(1, "100.00"), item(2, "150.00")])
    assert sum(a.amount for a in plan.allocations) == Decimal("250.00")
    assert plan.unapplied == Decimal("250.00")


def test_cash_with_nothing_open_is_all_unapplied() -> None:
    plan = allocate(Decimal("12.34"), [])
    assert plan.allocations == ()
    assert plan.unapplied == Decimal("12.34")


def test_items_with_nothing_open_are_skipped() -> None:
    plan = allocate(Decimal("10"), [item(1, "0"), item(2, "-5"), item(3, "4")])
    assert plan.allocations == (Allocation(3, Decimal("4")),)
    assert plan.unapplied == Decimal("6")


@pytest.mark.parametrize("amount", ["0", "-1"])
def test_only_positive_amounts_can_be_allocated(amount: str) -> None:
    with pytest.raises(ValueError, match="positive"):
        allocate(Decimal(amount), [item(1, "10")])


def test_oldest_due_date_comes_first() -> None:
    items = [
        item(1, "1", due="2024-03-01"),
        item(2, "1", due="2024-01-15"),
        item(3, "1", due="2024-02-01"),
    ]
    assert [i.key for i in oldest_due_first(items)] == [2, 3, 1]


def test_equal_due_dates_are_broken_by_issue_date_then_ref() -> None:
    items = [
        OpenItem(1, "B", date(2024, 2, 1), date(2024, 1, 5), Decimal(1)),
        OpenItem(2, "A", date(2024, 2, 1), date(2024, 1, 5), Decimal(1)),
        OpenItem(3, "C", date(2024, 2, 1), date(2024, 1, 1), Decimal(1)),
        OpenItem(4, "0", date(2024, 3, 1), date(2023, 1, 1), Decimal(1)),
    ]
    assert [i.ref for i in oldest_due_first(items)] == ["C", "A", "B", "0"]


def test_ordering_is_by_due_date_not_by_issue_date() -> None:
    # An invoice issued later but due earlier (short terms) is settled first.
    long_terms = item(1, "1", issue="2024-01-01", due="2024-03-01")
    short_terms = item(2, "1", issue="2024-01-20", due="2024-01-27")
    assert oldest_due_first([long_terms, short_terms]) == [short_terms, long_terms]


amounts = st.decimals(min_value=Decimal("0.01"), max_value=Decimal(10_000), places=2)


@given(st.lists(amounts, max_size=12), amounts)
def test_allocations_never_exceed_items_or_cash_and_nothing_is_lost(
    open_amounts: list[Decimal], cash: Decimal
) -> None:
    items = [
        OpenItem(k, str(k), date(2024, 1, 1), date(2024, 1, 1), a)
        for k, a in enumerate(open_amounts)
    ]
    plan = allocate(cash, items)
    by_key = {i.key: i for i in items}
    assert all(0 < a.amount <= by_key[a.key].open_amount for a in plan.allocations)
    assert len({a.key for a in plan.allocations}) == len(plan.allocations)
    assert sum(a.amount for a in plan.allocations) + plan.unapplied == cash
    assert plan.unapplied >= 0
    # Unapplied cash only when every item is settled in full.
    if plan.unapplied > 0:
        assert sum(a.amount for a in plan.allocations) == sum(open_amounts)
    # Only the last item touched may be settled in part.
    assert all(a.amount == by_key[a.key].open_amount for a in plan.allocations[:-1])
