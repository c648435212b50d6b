"""Promises to pay and disputes, and how they hold invoices out of the
daily run."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest

from arrears.cases.models import DisputeStatus, Promise, PromiseStatus
from arrears.cases.services import (
    CaseRejected,
    dispute_open,
    dispute_resolve,
    promise_record,
    promises_review,
)
from arrears.comms.models import Task, TaskKind
from arrears.ledger.models import Activity, Contact, Customer, Invoice, Payment
from arrears.sequencing.models import Action
from arrears.sequencing.services import run_daily

pytestmark = pytest.mark.django_db

# A Wednesday in the future, so promised dates after it are not in the past
# whatever day the tests run.
AS_OF = date(2030, 3, 13)


@pytest.fixture
def customer() -> Customer:
    customer = Customer.objects.create(
        ref="C1", name="Acme GmbH", country="DE", customer_since=date(2020, 1, 1)
    )
    Contact.objects.create(customer=customer, email="ap@acme.test")
    for ref, due in (("I1", date(2030, 2, 10)), ("I2", date(2030, 2, 12))):
        Invoice.objects.create(
            ref=ref,
            customer=customer,
            issue_date=due - timedelta(days=30),
            due_date=due,
            amount=Decimal("400.00"),
            currency="EUR",
        )
    return customer


def _planned_refs() -> set[str]:
    return {ref for refs in Action.objects.values_list("invoice_refs", flat=True) for ref in refs}


def test_without_cases_the_run_reminds_both_invoices(customer: Customer) -> None:
    run_daily(as_of=AS_OF)
    assert _planned_refs() == {"I1", "I2"}


def test_an_active_promise_leaves_the_customer_alone(customer: Customer) -> None:
    promise_record(
        customer=customer, promised_on=AS_OF + timedelta(days=5), source="call", actor_label="t"
    )
    assert run_daily(as_of=AS_OF).actions_created == 0
    # After the promised date plus grace, collection resumes.
    assert run_daily(as_of=AS_OF + timedelta(days=9)).actions_created > 0


def test_a_disputed_invoice_is_never_reminded(customer: Customer) -> None:
    dispute_open(customer=customer, lines={"I1": None}, reason="quality", actor_label="t")
    run_daily(as_of=AS_OF)
    assert _planned_refs() == {"I2"}


def test_a_rejected_dispute_puts_the_invoice_back_in_the_flow(customer: Customer) -> None:
    dispute = dispute_open(
        customer=customer, lines={"I1": Decimal("100")}, reason="pricing", actor_label="t"
    )
    resolved = dispute_resolve(
        dispute=dispute, valid=False, resolution="price as agreed in the contract", actor_label="m"
    )
    assert resolved.status == DisputeStatus.REJECTED
    run_daily(as_of=AS_OF)
    assert _planned_refs() == {"I1", "I2"}
    verbs = list(Activity.objects.filter(subject_type="dispute").values_list("verb", flat=True))
    assert sorted(verbs) == ["dispute opened", "dispute rejected"]


@pytest.mark.parametrize(
    ("lines", "problem"),
    [
        ({"I9": None}, "no invoice I9"),
        ({"I1": Decimal("400.01")}, "at most the open 400.0000 EUR"),
        ({"I1": Decimal("0")}, "more than 0"),
        ({}, "at least one invoice"),
    ],
)
def test_a_dispute_is_checked(
    customer: Customer, lines: dict[str, Decimal | None], problem: str
) -> None:
    with pytest.raises(CaseRejected, match=problem):
        dispute_open(customer=customer, lines=lines, reason="pricing", actor_label="t")


def test_an_invoice_is_in_one_open_dispute_at_a_time(customer: Customer) -> None:
    dispute_open(customer=customer, lines={"I1": None}, reason="pricing", actor_label="t")
    with pytest.raises(CaseRejected, match="already in an open dispute: I1"):
        dispute_open(customer=customer, lines={"I1": None}, reason="quality", actor_label="t")


def test_a_promise_paid_in_full_is_kept(customer: Customer) -> None:
    promise = promise_record(
        customer=customer,
        promised_on=AS_OF + timedelta(days=5),
        source="portal",
        actor_label="t",
        amount=Decimal("500.00"),
        currency="EUR",
    )
    Payment.objects.create(
        ref="P1",
        customer=customer,
        received_on=promise.created_at.date(),
        amount=Decimal("500.00"),
        currency="EUR",
    )
    assert promises_review(as_of=AS_OF) == {"kept": 1, "broken": 0}
    promise.refresh_from_db()
    assert promise.status == PromiseStatus.KEPT


def test_a_broken_promise_escalates_once(customer: Customer) -> None:
    promise = promise_record(
        customer=customer,
        promised_on=AS_OF + timedelta(days=1),
        source="call",
        actor_label="t",
        invoice_refs=["I1"],
    )
    assert promise.amount == Decimal("400.00") and promise.currency == "EUR"
    assert promises_review(as_of=AS_OF + timedelta(days=4)) == {"kept": 0, "broken": 0}
    assert promises_review(as_of=AS_OF + timedelta(days=5)) == {"kept": 0, "broken": 1}
    assert promises_review(as_of=AS_OF + timedelta(days=6)) == {"kept": 0, "broken": 0}
    task = Task.objects.get(customer=customer)
    assert task.kind == TaskKind.ESCALATION and "broken" in task.reason
    assert Promise.objects.get().status == PromiseStatus.BROKEN


def test_a_promise_is_checked(customer: Customer) -> None:
    with pytest.raises(CaseRejected, match="past"):
        promise_record(customer=customer, promised_on=date(2020, 1, 1), source="call")
    with pytest.raises(CaseRejected, match="currency"):
        promise_record(customer=customer, promised_on=AS_OF, source="call", amount=Decimal("10"))
    with pytest.raises(CaseRejected, match="no invoice X"):
        promise_record(customer=customer, promised_on=AS_OF, source="call", invoice_refs=["X"])
    assert not Promise.objects.exists()
