"""Promises to pay and disputes, and how they hold invoices out of the
daily run."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core import mail
from django.utils import timezone

from arrears.cases.models import DisputeStatus, Promise, PromiseStatus
from arrears.cases.services import (
    CaseRejected,
    dispute_open,
    dispute_resolve,
    disputes_review,
    promise_record,
    promises_review,
)
from arrears.comms.models import Message, Task, TaskKind
from arrears.ledger.models import Activity, Contact, CreditNote, Customer, Invoice, Payment
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


# --- resolving disputes ----------------------------------------------------------


@pytest.fixture
def owner() -> User:
    return User.objects.create_user("olga", email="olga@arrears.example", password="x" * 20)


def test_opening_a_dispute_tells_its_owner_and_the_collector(
    customer: Customer, owner: User, django_capture_on_commit_callbacks: Any
) -> None:
    collector = User.objects.create_user("cole", email="cole@arrears.example", password="x" * 20)
    Customer.objects.filter(pk=customer.pk).update(collector=collector)
    customer.refresh_from_db()
    with django_capture_on_commit_callbacks(execute=True):
        dispute_open(
            customer=customer, lines={"I1": None}, reason="quality", actor_label="t", owner=owner
        )
    (mail_,) = mail.outbox
    assert sorted(mail_.to) == ["cole@arrears.example", "olga@arrears.example"]
    assert "Acme GmbH" in mail_.subject and "I1 (400.00 EUR)" in mail_.body


def test_a_valid_dispute_is_credited_and_the_customer_told(customer: Customer) -> None:
    dispute = dispute_open(
        customer=customer, lines={"I1": Decimal("150.00")}, reason="pricing", actor_label="t"
    )
    dispute_resolve(dispute=dispute, valid=True, resolution="wrong price list", actor_label="m")
    note = CreditNote.objects.get(ref=f"DSP-{dispute.pk}-1")
    assert (note.amount, note.invoice_ref, note.allocated) == (
        Decimal("150.0000"),
        "I1",
        Decimal("150.0000"),
    )
    invoice = Invoice.objects.get(ref="I1")
    assert invoice.open_amount == Decimal("250.0000") and invoice.status == "open"
    told = Message.objects.get(customer=customer)
    assert (told.template_key, told.invoice_refs) == ("dispute-valid", ["I1"])


def test_a_rejected_dispute_tells_the_customer_why(
    customer: Customer, django_capture_on_commit_callbacks: Any
) -> None:
    from arrears.comms.compose import message_compose

    dispute = dispute_open(customer=customer, lines={"I2": None}, reason="quality", actor_label="t")
    dispute_resolve(
        dispute=dispute,
        valid=False,
        resolution="The signed delivery note shows no damage.",
        actor_label="m",
    )
    told = Message.objects.get(customer=customer)
    assert told.template_key == "dispute-rejected" and not CreditNote.objects.exists()
    composed = message_compose(told, now=timezone.now())
    assert "The signed delivery note shows no damage." in composed.body_text
    assert "I2" in composed.subject


def test_a_dispute_past_its_sla_escalates_to_its_owner_once(
    customer: Customer, owner: User
) -> None:
    dispute = dispute_open(
        customer=customer, lines={"I1": None}, reason="quality", actor_label="t", owner=owner
    )
    opened = dispute.opened_at.date()
    assert disputes_review(as_of=opened + timedelta(days=10)) == 0
    assert disputes_review(as_of=opened + timedelta(days=11)) == 1
    assert disputes_review(as_of=opened + timedelta(days=12)) == 0
    task = Task.objects.get(customer=customer)
    assert task.assigned_to == owner and "SLA" in task.title
