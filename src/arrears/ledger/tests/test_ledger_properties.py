"""Property tests: whatever sequence of invoices, payments and credit notes is
imported, the ledger allocates as the rules say and its balances hold."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from itertools import groupby

import pytest
from django.db import transaction
from django.db.models import Sum
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from arrears.ledger.importers import rows_import
from arrears.ledger.models import Allocation, CreditNote, Invoice, InvoiceStatus, Payment
from arrears.ledger.selectors import ar_totals

from .import_runs import open_amounts

BASE = date(2024, 1, 1)
DECIMALS = {"USD": 2, "JPY": 0}
CUSTOMERS = ("C1", "C2")
FAR_FUTURE = date(2100, 1, 1)


@dataclass(frozen=True)
class Event:
    """One row to import: an invoice, a payment or a credit note."""

    kind: str  # "invoices" | "payments" | "credit-notes"
    customer: str
    currency: str
    day: int  # days after BASE: issue date or date received
    term: int  # invoices: days from issue to due
    minor: int  # amount in minor units
    pick: int | None  # documents: which open invoice to name, None for no invoice_ref


# Weighted so that one customer and currency get several invoices at once:
# that is where ordering, partial settlement and overpayment happen.
events = st.builds(
    Event,
    kind=st.sampled_from(["invoices", "invoices", "payments", "credit-notes"]),
    customer=st.sampled_from([*CUSTOMERS, CUSTOMERS[0], CUSTOMERS[0]]),
    currency=st.sampled_from(["USD", "USD", "JPY"]),
    day=st.integers(min_value=0, max_value=60),
    term=st.integers(min_value=0, max_value=90),
    minor=st.integers(min_value=1, max_value=20_000),
    pick=st.none() | st.integers(min_value=0, max_value=20),
)


@dataclass
class ModelInvoice:
    ref: str
    customer: str
    currency: str
    issue: date
    due: date
    amount: Decimal
    allocated: Decimal = Decimal(0)


@dataclass
class Model:
    """What the ledger should hold, computed by hand from the contract's rules."""

    invoices: dict[str, ModelInvoice] = field(default_factory=dict)
    # (invoice ref, document ref, amount, effective date)
    allocations: list[tuple[str, str, Decimal, date]] = field(default_factory=list)
    documents: dict[str, tuple[str, Decimal, Decimal]] = field(default_factory=dict)

    def apply(self, ref: str, event: Event, amount: Decimal, invoice_ref: str) -> None:
        on = BASE + timedelta(days=event.day)
        if invoice_ref:
            targets = [self.invoices[invoice_ref]]
        else:
            targets = sorted(
                (
                    inv
                    for inv in self.invoices.values()
                    if inv.customer == event.customer and inv.currency == event.currency
                ),
                key=lambda inv: (inv.due, inv.issue, inv.ref),
            )
        remaining = amount
        for inv in targets:
            share = min(remaining, inv.amount - inv.allocated)
            if share > 0:
                inv.allocated += share
                remaining -= share
                self.allocations.append((inv.ref, ref, share, on))
        self.documents[ref] = (event.currency, amount, amount - remaining)


def _amount(event: Event) -> Decimal:
    return Decimal(event.minor).scaleb(-DECIMALS[event.currency])


def _import(events_: list[Event], model: Model, counter: list[int]) -> None:
    """Import runs of same-kind events as one file each, updating the model."""
    for kind, run in groupby(events_, key=lambda e: e.kind):
        rows = []
        for event in run:
            counter[0] += 1
            ref = f"{kind[0].upper()}{counter[0]}"
            on = BASE + timedelta(days=event.day)
            amount = _amount(event)
            common = {
                "customer_ref": event.customer,
                "amount": str(amount),
                "currency": event.currency,
            }
            if kind == "invoices":
                due = on + timedelta(days=event.term)
                values = {
                    "invoice_ref": ref,
                    "issue_date": on.isoformat(),
                    "due_date": due.isoformat(),
                }
                model.invoices[ref] = ModelInvoice(
                    ref, event.customer, event.currency, on, due, amount
                )
            else:
                # Name one of this customer's invoices in this currency, if asked.
                candidates = sorted(
                    inv.ref
                    for inv in model.invoices.values()
                    if inv.customer == event.customer and inv.currency == event.currency
                )
                invoice_ref = (
                    candidates[event.pick % len(candidates)]
                    if candidates and event.pick is not None
                    else ""
                )
                ref_column = "payment_ref" if kind == "payments" else "credit_note_ref"
                date_column = "received_on" if kind == "payments" else "issue_date"
                values = {ref_column: ref, date_column: on.isoformat(), "invoice_ref": invoice_ref}
                model.apply(ref, event, amount, invoice_ref)
            rows.append((f"generated:{counter[0]}", {**values, **common}))
        rows_import(kind, rows, actor_label="property test")


def _check(model: Model) -> None:
    # Allocations are exactly those the rules call for.
    actual = sorted(
        (a.invoice.ref, (a.payment or a.credit_note).ref, a.amount, a.effective_on)  # type: ignore[union-attr]
        for a in Allocation.objects.select_related("invoice", "payment", "credit_note")
    )
    assert actual == sorted(model.allocations)

    # Running totals agree with the allocation rows, and stay within the amounts.
    for inv in Invoice.objects.annotate(total=Sum("allocations__amount")):
        assert inv.allocated == (inv.total or 0)
        assert 0 <= inv.allocated <= inv.amount
        assert inv.status == (
            InvoiceStatus.PAID if inv.allocated == inv.amount else InvoiceStatus.OPEN
        )
        assert inv.allocated == model.invoices[inv.ref].allocated
    for doc_model in (Payment, CreditNote):
        for doc in doc_model.objects.annotate(total=Sum("allocations__amount")):
            assert doc.allocated == (doc.total or 0)
            assert 0 <= doc.allocated <= doc.amount
            assert doc.allocated == model.documents[doc.ref][2]

    # Open amounts at every date that matters: never negative, never above the
    # amount, and as the allocations dated up to then say.
    days = {inv.issue for inv in model.invoices.values()} | {a[3] for a in model.allocations}
    dates = {BASE - timedelta(days=1), FAR_FUTURE} | days | {d - timedelta(days=1) for d in days}
    for as_of in sorted(dates):
        expected = {
            inv.ref: inv.amount
            - sum(
                (a[2] for a in model.allocations if a[0] == inv.ref and a[3] <= as_of), Decimal(0)
            )
            for inv in model.invoices.values()
            if inv.issue <= as_of
        }
        got = open_amounts(as_of)
        assert got == expected, as_of
        assert all(0 <= amount <= model.invoices[ref].amount for ref, amount in got.items())

    # At the end: AR = invoices - allocations = invoices - payments applied - credits applied.
    final = open_amounts(FAR_FUTURE)
    for currency in DECIMALS:
        invoiced = sum(
            (inv.amount for inv in model.invoices.values() if inv.currency == currency), Decimal(0)
        )
        open_total = sum(
            (final[ref] for ref, inv in model.invoices.items() if inv.currency == currency),
            Decimal(0),
        )
        allocated = sum(
            (a[2] for a in model.allocations if model.invoices[a[0]].currency == currency),
            Decimal(0),
        )
        applied = defaultdict(lambda: Decimal(0))
        for doc_model in (Payment, CreditNote):
            total = doc_model.objects.filter(currency=currency).aggregate(t=Sum("allocated"))["t"]
            applied[doc_model.__name__] = total or Decimal(0)
        assert open_total == invoiced - allocated
        assert open_total == invoiced - applied["Payment"] - applied["CreditNote"]
        reported = ar_totals(FAR_FUTURE).get(currency, {}).get("ar", Decimal(0))
        assert reported == open_total


@pytest.mark.django_db
@settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(st.lists(events, min_size=2, max_size=16))
def test_allocations_and_open_amounts_hold_for_any_sequence_of_documents(
    customers: None, sequence: list[Event]
) -> None:
    with transaction.atomic():
        model = Model()
        _import(sequence, model, [0])
        _check(model)
        transaction.set_rollback(True)
