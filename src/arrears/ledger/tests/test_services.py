"""Allocation of imported payments and credit notes to invoices."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from arrears.ledger.csvfiles import header
from arrears.ledger.models import (
    Activity,
    Allocation,
    CreditNote,
    Customer,
    Invoice,
    InvoiceStatus,
    Payment,
)
from arrears.ledger.selectors import customer_unapplied

from .import_runs import import_csv, open_amounts

CsvFile = Callable[[str, str], Path]


@pytest.fixture
def load(customers: None, csv_file: CsvFile) -> Callable[[str, list[str]], None]:
    """Import rows of a kind (no header needed); the import must succeed."""
    count = 0

    def run(kind: str, rows: list[str]) -> None:
        nonlocal count
        count += 1
        path = csv_file(f"{kind}-{count}.csv", "\n".join([",".join(header(kind)), *rows]))
        outcome = import_csv(kind, path)
        assert outcome.code == 0, outcome.stderr

    return run


Load = Callable[[str, list[str]], None]


def _allocations(source: str) -> list[tuple[str, Decimal]]:
    rows = Allocation.objects.filter(payment__ref=source) | Allocation.objects.filter(
        credit_note__ref=source
    )
    return [(a.invoice.ref, a.amount) for a in rows.order_by("id")]


def test_payment_without_invoice_ref_settles_oldest_due_first(load: Load) -> None:
    load(
        "invoices",
        [
            "LATE,C1,2024-01-01,2024-03-01,100.00,USD,,",
            "EARLY,C1,2024-01-20,2024-01-25,100.00,USD,,",  # issued later, due first
            "MID,C1,2024-01-05,2024-02-01,100.00,USD,,",
        ],
    )
    load("payments", ["P1,C1,2024-02-10,150.00,USD,"])
    assert _allocations("P1") == [("EARLY", Decimal("100.00")), ("MID", Decimal("50.00"))]
    assert Invoice.objects.get(ref="EARLY").status == InvoiceStatus.PAID
    assert Invoice.objects.get(ref="MID").open_amount == Decimal("50.00")
    assert Invoice.objects.get(ref="LATE").open_amount == Decimal("100.00")


def test_equal_due_dates_are_settled_by_issue_date_then_ref(load: Load) -> None:
    load(
        "invoices",
        [
            "B,C1,2024-01-10,2024-02-01,10.00,USD,,",
            "A,C1,2024-01-10,2024-02-01,10.00,USD,,",
            "Z,C1,2024-01-02,2024-02-01,10.00,USD,,",
        ],
    )
    load("payments", ["P1,C1,2024-02-10,25.00,USD,"])
    assert _allocations("P1") == [
        ("Z", Decimal("10.00")),
        ("A", Decimal("10.00")),
        ("B", Decimal("5.00")),
    ]


def test_unreferenced_cash_settles_only_invoices_in_its_own_currency(load: Load) -> None:
    load(
        "invoices",
        [
            "U1,C1,2024-01-01,2024-01-31,10.00,USD,,",
            "E1,C1,2024-01-05,2024-02-04,10.00,EUR,,",
            "E2,C1,2023-12-01,2023-12-31,10.00,EUR,,",
        ],
    )
    load("payments", ["P1,C1,2024-02-10,15.00,EUR,"])
    assert _allocations("P1") == [("E2", Decimal("10.00")), ("E1", Decimal("5.00"))]
    assert Invoice.objects.get(ref="U1").allocated == 0


def test_unreferenced_cash_settles_only_its_own_customers_invoices(load: Load) -> None:
    load(
        "invoices",
        ["OTHER,C2,2023-01-01,2023-01-31,10.00,USD,,", "MINE,C1,2024-01-01,2024-01-31,10.00,USD,,"],
    )
    load("payments", ["P1,C1,2024-02-10,50.00,USD,"])
    assert _allocations("P1") == [("MINE", Decimal("10.00"))]
    assert Invoice.objects.get(ref="OTHER").allocated == 0


def test_payment_with_invoice_ref_settles_only_that_invoice(load: Load) -> None:
    load(
        "invoices",
        ["OLD,C1,2023-01-01,2023-01-31,10.00,USD,,", "NEW,C1,2024-01-01,2024-01-31,30.00,USD,,"],
    )
    load("payments", ["P1,C1,2024-02-10,50.00,USD,NEW"])
    assert _allocations("P1") == [("NEW", Decimal("30.00"))]
    assert Invoice.objects.get(ref="OLD").allocated == 0
    assert Payment.objects.get(ref="P1").unapplied == Decimal("20.00")


def test_overpayment_becomes_unapplied_cash(load: Load) -> None:
    load("invoices", ["I1,C1,2024-01-01,2024-01-31,100.00,USD,,"])
    load("payments", ["P1,C1,2024-02-10,130.00,USD,"])
    payment = Payment.objects.get(ref="P1")
    assert (payment.allocated, payment.unapplied) == (Decimal("100.00"), Decimal("30.00"))
    assert Invoice.objects.get(ref="I1").status == InvoiceStatus.PAID
    assert customer_unapplied(Customer.objects.get(ref="C1")) == {"USD": Decimal("30.00")}
    entry = Activity.objects.get(verb="payment.imported")
    assert entry.data == {
        "amount": "130.00",
        "currency": "USD",
        "allocations": {"I1": "100.00"},
        "unapplied": "30.00",
    }


def test_payment_to_a_settled_invoice_is_all_unapplied(load: Load) -> None:
    load("invoices", ["I1,C1,2024-01-01,2024-01-31,100.00,USD,,"])
    load("payments", ["P1,C1,2024-02-10,100.00,USD,I1"])
    load("payments", ["P2,C1,2024-02-11,100.00,USD,I1"])
    assert _allocations("P2") == []
    assert customer_unapplied(Customer.objects.get(ref="C1")) == {"USD": Decimal("100.00")}


def test_payment_with_nothing_open_is_all_unapplied(load: Load) -> None:
    load("payments", ["P1,C3,2024-02-10,5000,JPY,"])
    assert customer_unapplied(Customer.objects.get(ref="C3")) == {"JPY": Decimal("5000")}


def test_a_credit_note_with_invoice_ref_reduces_that_invoice(load: Load) -> None:
    load(
        "invoices",
        ["OLD,C1,2023-01-01,2023-01-31,10.00,USD,,", "NEW,C1,2024-01-01,2024-01-31,30.00,USD,,"],
    )
    load("credit-notes", ["CN1,C1,2024-01-15,12.50,USD,NEW"])
    assert _allocations("CN1") == [("NEW", Decimal("12.50"))]
    assert Invoice.objects.get(ref="NEW").open_amount == Decimal("17.50")
    assert Invoice.objects.get(ref="OLD").open_amount == Decimal("10.00")
    assert CreditNote.objects.get(ref="CN1").unapplied == 0


def test_a_credit_note_without_invoice_ref_settles_oldest_due_first(load: Load) -> None:
    load(
        "invoices",
        ["NEW,C1,2024-01-01,2024-01-31,30.00,USD,,", "OLD,C1,2023-01-01,2023-01-31,10.00,USD,,"],
    )
    load("credit-notes", ["CN1,C1,2024-01-15,12.00,USD,"])
    assert _allocations("CN1") == [("OLD", Decimal("10.00")), ("NEW", Decimal("2.00"))]


def test_a_credit_larger_than_the_invoice_leaves_unapplied_credit(load: Load) -> None:
    load("invoices", ["I1,C2,2024-01-01,2024-01-31,80.00,EUR,,"])
    load("credit-notes", ["CN1,C2,2024-01-15,100.00,EUR,I1"])
    assert CreditNote.objects.get(ref="CN1").unapplied == Decimal("20.00")
    assert customer_unapplied(Customer.objects.get(ref="C2")) == {"EUR": Decimal("20.00")}


def test_allocations_take_the_date_of_the_payment_or_credit_note(load: Load) -> None:
    load("invoices", ["I1,C1,2024-01-01,2024-01-31,100.00,USD,,"])
    load("credit-notes", ["CN1,C1,2024-01-10,10.00,USD,I1"])
    load("payments", ["P1,C1,2024-02-15,90.00,USD,"])
    assert sorted(Allocation.objects.values_list("effective_on", "amount")) == [
        (date(2024, 1, 10), Decimal("10.00")),
        (date(2024, 2, 15), Decimal("90.00")),
    ]
    assert open_amounts(date(2024, 1, 9)) == {"I1": Decimal("100.00")}
    assert open_amounts(date(2024, 2, 14)) == {"I1": Decimal("90.00")}
    assert open_amounts(date(2024, 2, 15)) == {"I1": 0}


def test_partial_payments_in_one_file_settle_in_turn(load: Load) -> None:
    load(
        "invoices",
        ["I1,C1,2024-01-01,2024-01-31,100.00,USD,,", "I2,C1,2024-01-02,2024-02-01,50.00,USD,,"],
    )
    load("payments", ["P1,C1,2024-02-01,60.00,USD,", "P2,C1,2024-02-02,60.00,USD,"])
    assert _allocations("P1") == [("I1", Decimal("60.00"))]
    assert _allocations("P2") == [("I1", Decimal("40.00")), ("I2", Decimal("20.00"))]
    assert Invoice.objects.get(ref="I1").status == InvoiceStatus.PAID


def test_the_largest_amounts_are_stored_exactly_and_settle_to_the_cent(load: Load) -> None:
    largest = {"USD": "9999999999999.99", "KWD": "999999999999.999", "JPY": "99999999999999"}
    load(
        "invoices",
        [f"BIG-{cur},C1,2024-01-01,2024-01-31,{amount},{cur},," for cur, amount in largest.items()],
    )
    assert {inv.currency: inv.amount for inv in Invoice.objects.all()} == {
        cur: Decimal(amount) for cur, amount in largest.items()
    }
    smallest = {"USD": Decimal("0.01"), "KWD": Decimal("0.001"), "JPY": Decimal(1)}
    load(
        "payments",
        [
            f"PAY-{cur},C1,2024-02-01,{Decimal(amount) - smallest[cur]},{cur},BIG-{cur}"
            for cur, amount in largest.items()
        ],
    )
    assert open_amounts(date(2024, 2, 1)) == {f"BIG-{cur}": smallest[cur] for cur in largest}
    assert not Invoice.objects.filter(status=InvoiceStatus.PAID).exists()
    load(
        "payments",
        [f"REST-{cur},C1,2024-02-02,{smallest[cur]},{cur}," for cur in largest],
    )
    assert Invoice.objects.filter(status=InvoiceStatus.PAID).count() == 3
    assert open_amounts(date(2024, 2, 2)) == {f"BIG-{cur}": 0 for cur in largest}
