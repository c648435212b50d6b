"""Ledgers for the report tests, imported through the real importers."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import date

import pytest

from arrears.ledger.demo import LOAD_ORDER, demo_rows
from arrears.ledger.importers import rows_import

Loader = Callable[[str, Iterable[Mapping[str, str]]], None]

# The demo ledger as it stands on this day (fixed, so results are repeatable).
DEMO_TODAY = date(2026, 6, 30)


def import_rows(kind: str, rows: Iterable[Mapping[str, str]]) -> None:
    """Import rows of a contract file kind, as ``arrears import`` would."""
    rows_import(
        kind, [(f"{kind}.csv:{n}", dict(row)) for n, row in enumerate(rows, 2)], actor_label="test"
    )


@pytest.fixture
def load(db: None) -> Loader:
    return import_rows


def customer(ref: str, currency: str = "USD", country: str = "US") -> dict[str, str]:
    return {
        "customer_ref": ref,
        "name": f"Customer {ref}",
        "country": country,
        "currency": currency,
    }


def invoice(
    ref: str, customer_ref: str, issued: date, due: date, amount: str, currency: str = "USD"
) -> dict[str, str]:
    return {
        "invoice_ref": ref,
        "customer_ref": customer_ref,
        "issue_date": issued.isoformat(),
        "due_date": due.isoformat(),
        "amount": amount,
        "currency": currency,
    }


def payment(
    ref: str, customer_ref: str, received: date, amount: str, invoice_ref: str = ""
) -> dict[str, str]:
    return {
        "payment_ref": ref,
        "customer_ref": customer_ref,
        "received_on": received.isoformat(),
        "amount": amount,
        "currency": "USD",
        "invoice_ref": invoice_ref,
    }


def worked_example(year: int) -> None:
    """The metrics reference's example (section A) as a ledger, for Q1 of ``year``.

    AR 150,000 at the end of the year before, settled in the quarter; credit
    sales Jan 90,000 / Feb 60,000 / Mar 120,000; at 31 March AR 195,000 of
    which 130,000 current (not yet due) and 65,000 past due. Around it: a
    payment received after 31 March (the invoice was still open then), an
    invoice issued in April, a credit note, and a EUR customer whose figures
    must never mix with the USD ones.
    """

    def d(month: int, day: int, y: int = year) -> date:
        return date(y, month, day)

    import_rows("customers", [customer("U1"), customer("U2"), customer("E1", "EUR", "DE")])
    import_rows(
        "invoices",
        [
            # Open at the start of the quarter: 150,000.
            invoice("D1", "U1", d(11, 30, year - 1), d(12, 30, year - 1), "100000.00"),
            invoice("D2", "U2", d(12, 15, year - 1), d(1, 14), "50000.00"),
            # January 90,000.
            invoice("J1", "U1", d(1, 16), d(2, 15), "40000.00"),
            invoice("J2", "U2", d(1, 29), d(2, 28), "50000.00"),
            # February 60,000.
            invoice("F1", "U1", d(2, 13), d(3, 15), "50000.00"),
            invoice("F2", "U2", d(2, 19), d(4, 5), "10000.00"),
            # March 120,000; M2 falls due on 31 March: still current.
            invoice("M1", "U1", d(3, 1), d(4, 30), "70000.00"),
            invoice("M2", "U2", d(3, 1), d(3, 31), "50000.00"),
            # After the quarter.
            invoice("A1", "U1", d(4, 3), d(5, 3), "9999.00"),
            invoice("EUR1", "E1", d(3, 1), d(3, 31), "1000.00", "EUR"),
        ],
    )
    import_rows(
        "payments",
        [
            payment("P-D1", "U1", d(1, 10), "100000.00", "D1"),
            payment("P-J1", "U1", d(2, 10), "40000.00", "J1"),
            payment("P-D2", "U2", d(2, 20), "50000.00", "D2"),
            payment("P-F1", "U1", d(3, 20), "30000.00", "F1"),
            payment("P-M2", "U2", d(4, 10), "50000.00", "M2"),
        ],
    )
    import_rows(
        "credit-notes",
        [
            {
                "credit_note_ref": "CN-F1",
                "customer_ref": "U1",
                "issue_date": d(3, 25).isoformat(),
                "amount": "5000.00",
                "currency": "USD",
                "invoice_ref": "F1",
            }
        ],
    )


@pytest.fixture
def example_2023(db: None) -> None:
    worked_example(2023)


@pytest.fixture
def demo_ledger(db: None) -> None:
    """The demo's generated ledger (25 customers, 3 currencies): partial
    payments, credit notes, payments on account settled oldest due first."""
    rows = demo_rows(today=DEMO_TODAY, customers=25, seed=11)
    for kind in LOAD_ORDER:
        import_rows(kind, rows[kind])
