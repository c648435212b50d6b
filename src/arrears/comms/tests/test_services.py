"""Call outcomes and task changes, and how they feed back to the policy."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from arrears.cases.models import Promise
from arrears.cases.services import CaseRejected
from arrears.comms.models import ConsentRecord, Message, Task, TaskKind, TaskStatus
from arrears.comms.services import (
    TaskRejected,
    call_log,
    task_complete,
    task_reassign,
    task_snooze,
)
from arrears.domain.policy import Kind
from arrears.ledger.models import Activity, Contact, Customer, Invoice
from arrears.sequencing.models import Action, ActionStatus
from arrears.sequencing.selectors import blocked_channels_by_customer

pytestmark = pytest.mark.django_db


@pytest.fixture
def collector() -> User:
    return User.objects.create_user("cora", password="a long test password")


@pytest.fixture
def customer(collector: User) -> Customer:
    customer = Customer.objects.create(
        ref="C1", name="Acme GmbH", country="DE", collector=collector
    )
    Contact.objects.create(customer=customer, name="Ann", email="ap@acme.test", phone="+4930123456")
    today = timezone.localdate()
    Invoice.objects.create(
        ref="INV-1",
        customer=customer,
        issue_date=today - timedelta(days=40),
        due_date=today - timedelta(days=10),
        amount=Decimal("1500.00"),
        currency="EUR",
    )
    return customer


def _call_task(customer: Customer) -> Task:
    now = timezone.now()
    action = Action.objects.create(
        customer=customer,
        invoice_refs=["INV-1"],
        kind="call",
        stage="inquire",
        step="inquiry-call",
        planned_for=now.date(),
        planned_at=now,
        reason="10 days past due",
        policy_name="default",
        idempotency_key=f"C1|inquiry-call|{Action.objects.count()}",
        created_at=now,
    )
    return Task.objects.create(
        kind=TaskKind.CALL,
        action=action,
        customer=customer,
        title="Inquiry call",
        invoice_refs=["INV-1"],
        due_at=now,
        created_at=now,
    )


def test_completing_a_call_marks_its_action_done_and_logs_it(customer: Customer) -> None:
    task = _call_task(customer)
    done = task_complete(task=task, outcome="voicemail", actor_label="cora", note="left a message")
    assert done.status == TaskStatus.DONE and done.outcome == "voicemail"
    assert task.action is not None
    task.action.refresh_from_db()
    assert task.action.status == ActionStatus.DONE
    entry = Activity.objects.get(verb="call logged")
    assert entry.customer == customer and entry.data["outcome"] == "voicemail"
    assert entry.why == "left a message"


def test_a_task_is_completed_only_once(customer: Customer) -> None:
    task = _call_task(customer)
    task_complete(task=task, outcome="no_answer", actor_label="cora")
    with pytest.raises(TaskRejected, match="not open"):
        task_complete(task=task, outcome="no_answer", actor_label="cora")


def test_unknown_outcome_is_refused(customer: Customer) -> None:
    with pytest.raises(TaskRejected, match="not an outcome"):
        task_complete(task=_call_task(customer), outcome="shouted", actor_label="cora")


def test_asked_not_to_be_called_blocks_calls_for_the_policy(customer: Customer) -> None:
    contact = customer.contacts.get()
    task_complete(
        task=_call_task(customer), outcome="do_not_call", actor_label="cora", contact=contact
    )
    contact.refresh_from_db()
    assert contact.opted_out_call
    record = ConsentRecord.objects.get(contact=contact)
    assert record.channel == "call" and not record.granted and record.source == "asked on a call"
    assert blocked_channels_by_customer([customer.pk])[customer.pk][Kind.CALL] == "opted out"


def test_wrong_number_opens_one_master_data_task(customer: Customer) -> None:
    contact = customer.contacts.get()
    task_complete(
        task=_call_task(customer), outcome="wrong_number", actor_label="cora", contact=contact
    )
    call_log(customer=customer, outcome="wrong_number", actor_label="cora", contact=contact)
    fix = Task.objects.get(kind=TaskKind.FIX_MASTER_DATA)
    assert "+4930123456" in fix.reason and fix.status == TaskStatus.OPEN
    assert fix.assigned_to == customer.collector


def test_a_promise_is_confirmed_in_writing(customer: Customer) -> None:
    by = timezone.localdate() + timedelta(days=10)
    task_complete(
        task=_call_task(customer),
        outcome="promise",
        actor_label="cora",
        promised_on=by,
        promised_amount=Decimal("1200.00"),
        promised_currency="EUR",
    )
    promise = Promise.objects.get(customer=customer)
    assert (promise.promised_on, promise.amount, promise.currency) == (
        by,
        Decimal("1200.00"),
        "EUR",
    )
    assert promise.invoice_refs == ["INV-1"] and promise.source == "call"
    assert Activity.objects.get(verb="promise to pay").subject_ref == str(promise.pk)
    confirmation = Message.objects.get(template_key="promise-confirmation")
    assert confirmation.channel == "email" and confirmation.deadline == by
    assert confirmation.status == "queued"


def test_a_promise_needs_a_future_date(customer: Customer) -> None:
    with pytest.raises(TaskRejected, match="promised date"):
        task_complete(task=_call_task(customer), outcome="promise", actor_label="cora")
    with pytest.raises(CaseRejected, match="past"):
        task_complete(
            task=_call_task(customer),
            outcome="promise",
            actor_label="cora",
            promised_on=date(2000, 1, 1),
        )
    assert not Message.objects.exists() and not Promise.objects.exists()


def test_a_logged_call_counts_as_a_touch(customer: Customer) -> None:
    call_log(customer=customer, outcome="spoke", actor_label="cora", invoice_refs=["INV-1"])
    action = Action.objects.get(customer=customer)
    assert action.kind == "call" and action.status == ActionStatus.DONE and action.step == ""
    assert Task.objects.get(action=action).outcome == "spoke"


def test_snooze_and_reassign(customer: Customer) -> None:
    task = _call_task(customer)
    other = User.objects.create_user("otto", password="a long test password")
    later = timezone.now() + timedelta(hours=3)
    assert task_snooze(task=task, until=later, actor_label="cora").snoozed_until == later
    assert task_reassign(task=task, to=other, actor_label="cora").assigned_to == other
    with pytest.raises(TaskRejected, match="future"):
        task_snooze(task=task, until=timezone.now() - timedelta(minutes=1), actor_label="cora")
    assert set(
        Activity.objects.filter(subject_ref=str(task.pk)).values_list("verb", flat=True)
    ) == {"task snoozed", "task reassigned"}
