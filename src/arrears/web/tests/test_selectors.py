"""Dashboard reads: aging buckets, top overdue customers, unapplied cash."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest

from arrears.ledger.selectors import ar_totals
from arrears.web.selectors import (
    aging_by_currency,
    customers_top_overdue,
    dashboard_figures,
    unapplied_cash_by_currency,
)

from .conftest import Loader

AS_OF = date(2026, 6, 30)


def customer(ref: str, currency: str = "USD", country: str = "US") -> dict[str, str]:
    return {
        "customer_ref": ref,
        "name": f"Customer {ref}",
        "country": country,
        "currency": currency,
    }


def invoice(
    ref: str, customer_ref: str, days_past_due: int, amount: str, currency: str = "USD"
) -> dict[str, str]:
    due = AS_OF - timedelta(days=days_past_due)
    issue = min(due, AS_OF) - timedelta(days=30)
    return {
        "invoice_ref": ref,
        "customer_ref": customer_ref,
        "issue_date": issue.isoformat(),
        "due_date": due.isoformat(),
        "amount": amount,
        "currency": currency,
    }


@pytest.fixture
def ledger(load: Loader) -> None:
    load("customers", [customer("A"), customer("B"), customer("E", "EUR", "DE")])
    load(
        "invoices",
        [
            invoice("due-later", "A", -5, "100.00"),
            invoice("due-today", "A", 0, "200.00"),
            invoice("1-day", "A", 1, "300.00"),
            invoice("30-days", "B", 30, "400.00"),
            invoice("31-days", "B", 31, "500.00"),
            invoice("60-days", "B", 60, "600.00"),
            invoice("61-days", "A", 61, "700.00"),
            invoice("90-days", "A", 90, "800.00"),
            invoice("91-days", "B", 91, "900.00"),
            invoice("eur", "E", 45, "1000.00", "EUR"),
        ],
    )
    load(
        "payments",
        [
            # Half of one invoice paid; another paid in full; 5.00 overpaid.
            {
                "payment_ref": "P1",
                "customer_ref": "B",
                "received_on": (AS_OF - timedelta(days=3)).isoformat(),
                "amount": "450.00",
                "currency": "USD",
                "invoice_ref": "91-days",
            },
            {
                "payment_ref": "P2",
                "customer_ref": "A",
                "received_on": (AS_OF - timedelta(days=2)).isoformat(),
                "amount": "305.00",
                "currency": "USD",
                "invoice_ref": "1-day",
            },
        ],
    )


def test_aging_puts_each_invoice_in_its_days_past_due_bucket(ledger: None) -> None:
    aging = aging_by_currency(as_of=AS_OF)

    assert set(aging) == {"EUR", "USD"}
    usd = aging["USD"]
    assert usd.buckets == {
        "current": Decimal("300.00"),  # due later, due today (0 days past due)
        "1-30": Decimal("400.00"),  # 1 day (paid in full, gone) and 30 days
        "31-60": Decimal("1100.00"),
        "61-90": Decimal("1500.00"),
        "90+": Decimal("450.00"),  # 900.00 less the 450.00 paid
    }
    assert usd.total == sum(usd.buckets.values())
    assert usd.open_invoices == 8
    assert aging["EUR"].buckets["31-60"] == Decimal("1000.00")


def test_aging_totals_match_ar_totals(ledger: None) -> None:
    totals = ar_totals(AS_OF)
    aging = aging_by_currency(as_of=AS_OF)
    for currency, t in totals.items():
        assert aging[currency].total == t["ar"]
        assert aging[currency].total - aging[currency].buckets["current"] == t["overdue"]


def test_aging_as_of_an_earlier_date_ignores_later_payments_and_invoices(ledger: None) -> None:
    earlier = AS_OF - timedelta(days=10)
    usd = aging_by_currency(as_of=earlier)["USD"]
    # On that day the 91-day invoice was 81 days past due and unpaid.
    assert usd.buckets["61-90"] == Decimal("900.00") + Decimal("800.00")
    assert usd.total == ar_totals(earlier)["USD"]["ar"]


def test_aging_is_empty_without_open_invoices(db: None) -> None:
    assert aging_by_currency(as_of=AS_OF) == {}
    assert dashboard_figures(as_of=AS_OF).currencies == []


def test_top_overdue_ranks_customers_by_overdue_amount_within_a_currency(ledger: None) -> None:
    top = customers_top_overdue(as_of=AS_OF, currency="USD")

    assert [(c.ref, c.overdue, c.invoices) for c in top] == [
        ("B", Decimal("1950.00"), 4),
        ("A", Decimal("1500.00"), 2),
    ]
    assert top[0].oldest_due == AS_OF - timedelta(days=91)
    assert top[0].days_past_due == 91
    assert [c.ref for c in customers_top_overdue(as_of=AS_OF, currency="EUR")] == ["E"]
    assert len(customers_top_overdue(as_of=AS_OF, currency="USD", limit=1)) == 1
    assert customers_top_overdue(as_of=AS_OF, currency="GBP") == []


def test_unapplied_cash_is_the_overpaid_part_per_currency(ledger: None) -> None:
    assert unapplied_cash_by_currency() == {"USD": Decimal("5.00")}


def test_dashboard_figures_count_customers_and_open_invoices(ledger: None) -> None:
    figures = dashboard_figures(as_of=AS_OF)
    assert figures.customers == 3
    assert figures.open_invoices == 9
    usd = next(c for c in figures.currencies if c.currency == "USD")
    assert usd.ar == Decimal("3750.00")
    assert usd.overdue == Decimal("3450.00")
    assert usd.overdue_percent == Decimal("3450.00") / Decimal("3750.00") * 100
    assert usd.unapplied == Decimal("5.00")
