"""Selectors: open amounts as of any date, AR totals, unapplied cash."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from arrears.ledger.models import Customer, Invoice
from arrears.ledger.selectors import ar_totals, customer_unapplied

from .import_runs import import_csv, open_amounts, open_refs

CsvFile = Callable[[str, str], Path]


def _load(csv_file: CsvFile, kind: str, text: str) -> None:
    outcome = import_csv(kind, csv_file(f"{kind}.csv", text))
    assert outcome.code == 0, outcome.stderr


@pytest.fixture
def history(customers: None, csv_file: CsvFile) -> None:
    """I1 100 USD issued 01-01, paid 40 on 02-01 and 60 on 03-01; I2 50 USD
    issued 02-15, credited 20 on 02-20; I3 80 EUR issued 01-10, never paid."""
    _load(
        csv_file,
        "invoices",
        """
        invoice_ref,customer_ref,issue_date,due_date,amount,currency
        I1,C1,2024-01-01,2024-01-31,100.00,USD
        I2,C1,2024-02-15,2024-03-15,50.00,USD
        I3,C2,2024-01-10,2024-02-09,80.00,EUR
        """,
    )
    _load(
        csv_file,
        "payments",
        """
        payment_ref,customer_ref,received_on,amount,currency,invoice_ref
        P1,C1,2024-02-01,40.00,USD,I1
        P2,C1,2024-03-01,60.00,USD,I1
        """,
    )
    _load(
        csv_file,
        "credit-notes",
        """
        credit_note_ref,customer_ref,issue_date,amount,currency,invoice_ref
        CN1,C1,2024-02-20,20.00,USD,I2
        """,
    )


def _open(as_of: str) -> dict[str, Decimal]:
    return open_amounts(date.fromisoformat(as_of))


def test_before_the_payment_date_the_invoice_is_fully_open(history: None) -> None:
    assert _open("2024-01-31") == {"I1": Decimal("100.00"), "I3": Decimal("80.00")}


def test_open_amounts_follow_payments_and_credits_by_their_dates(history: None) -> None:
    assert _open("2024-02-01")["I1"] == Decimal("60.00")  # received that day counts
    assert _open("2024-02-19") == {
        "I1": Decimal("60.00"),
        "I2": Decimal("50.00"),
        "I3": Decimal("80.00"),
    }
    assert _open("2024-02-20")["I2"] == Decimal("30.00")
    assert _open("2024-03-01") == {
        "I1": Decimal("0.00"),
        "I2": Decimal("30.00"),
        "I3": Decimal("80.00"),
    }


def test_invoices_not_yet_issued_are_not_part_of_the_past(history: None) -> None:
    assert _open("2023-12-31") == {}
    assert "I2" not in _open("2024-02-14")


def test_open_invoices_leave_out_what_was_settled_by_that_date(history: None) -> None:
    assert open_refs(date(2024, 2, 29)) == {"I1", "I2", "I3"}
    assert open_refs(date(2024, 3, 1)) == {"I2", "I3"}


def test_ar_totals_are_per_currency_with_overdue_part(history: None) -> None:
    assert ar_totals(date(2024, 2, 20)) == {
        "EUR": {"ar": Decimal("80.00"), "overdue": Decimal("80.00")},
        "USD": {"ar": Decimal("90.00"), "overdue": Decimal("60.00")},
    }
    assert ar_totals(date(2023, 1, 1)) == {}


def test_today_running_totals_agree_with_the_as_of_view(history: None) -> None:
    far_future = date(2100, 1, 1)
    assert open_amounts(far_future) == {inv.ref: inv.open_amount for inv in Invoice.objects.all()}


def test_an_invoice_settled_in_parts_is_not_open_however_the_database_adds(
    customers: None, csv_file: CsvFile
) -> None:
    # 0.10 + 0.70 is not 0.80 in binary floating point, which SQLite uses for SUM.
    _load(
        csv_file,
        "invoices",
        """
        invoice_ref,customer_ref,issue_date,due_date,amount,currency
        F1,C1,2024-01-01,2024-01-31,0.80,USD
        F2,C1,2024-01-01,2024-01-31,0.30,USD
        """,
    )
    _load(
        csv_file,
        "payments",
        """
        payment_ref,customer_ref,received_on,amount,currency,invoice_ref
        P1,C1,2024-02-01,0.10,USD,F1
        P2,C1,2024-02-01,0.70,USD,F1
        P3,C1,2024-02-01,0.10,USD,F2
        P4,C1,2024-02-01,0.20,USD,F2
        """,
    )
    assert Invoice.objects.filter(status="paid").count() == 2
    assert open_refs(date(2024, 3, 1)) == set()
    assert ar_totals(date(2024, 3, 1)) == {}
    assert open_amounts(date(2024, 3, 1)) == {"F1": 0, "F2": 0}


def test_unapplied_cash_and_credit_are_summed_per_currency(
    customers: None, csv_file: CsvFile
) -> None:
    _load(
        csv_file,
        "invoices",
        """
        invoice_ref,customer_ref,issue_date,due_date,amount,currency
        I1,C1,2024-01-01,2024-01-31,100.00,USD
        """,
    )
    _load(
        csv_file,
        "payments",
        """
        payment_ref,customer_ref,received_on,amount,currency,invoice_ref
        P1,C1,2024-02-01,130.00,USD,
        P2,C1,2024-02-02,5.00,EUR,
        """,
    )
    _load(
        csv_file,
        "credit-notes",
        """
        credit_note_ref,customer_ref,issue_date,amount,currency,invoice_ref
        CN1,C1,2024-02-03,7.50,USD,
        """,
    )
    acme = Customer.objects.get(ref="C1")
    assert customer_unapplied(acme) == {"USD": Decimal("37.50"), "EUR": Decimal("5.00")}
    assert customer_unapplied(Customer.objects.get(ref="C2")) == {}
