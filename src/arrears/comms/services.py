"""Writes for people's work: completing call tasks with their outcome,
logging calls made without a task, snoozing and reassigning tasks.

Outcomes feed back to the policy: the call counts as a touch (its action is
done, or a manual action is recorded), "asked not to be called" opts the
contact out of calls, a wrong number opens a master-data task, and a promise
is confirmed to the customer in writing.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from arrears.cases.services import promise_record
from arrears.domain.calendar import planned_at
from arrears.domain.policy import Guardrails
from arrears.ledger.models import Contact, Customer
from arrears.ledger.services import activity_record
from arrears.sequencing.models import Action, ActionStatus

from .models import CallOutcome, ConsentRecord, Task, TaskKind, TaskStatus
from .outbox import message_queue, task_open_once


class TaskRejected(ValueError):
    """A task change that cannot be made; the message says why."""


def _actor_label(actor: User | None, actor_label: str) -> str:
    return actor_label or (actor.get_username() if actor is not None else "system")


def _outcome_effects(
    *,
    customer: Customer,
    outcome: str,
    contact: Contact | None,
    invoice_refs: list[str],
    promised_on: date | None,
    promised_amount: Decimal | None,
    promised_currency: str,
    label: str,
    actor: User | None,
    source_key: str,
    now: datetime,
) -> None:
    if outcome == CallOutcome.DO_NOT_CALL:
        if contact is None:
            raise TaskRejected("say which contact asked not to be called")
        Contact.objects.filter(pk=contact.pk).update(opted_out_call=True)
        ConsentRecord.objects.create(
            contact=contact,
            channel="call",
            granted=False,
            source="asked on a call",
            at=now,
            actor_label=label,
        )
    elif outcome == CallOutcome.WRONG_NUMBER:
        who = contact.name or contact.phone if contact is not None else "the contact"
        task_open_once(
            customer=customer,
            kind=TaskKind.FIX_MASTER_DATA,
            title=f"Wrong phone number for {who}",
            reason=f"{label} called {contact.phone if contact else 'the number on file'}: "
            "wrong number",
            now=now,
        )
    elif outcome == CallOutcome.PROMISE:
        if promised_on is None:
            raise TaskRejected("a promise to pay needs the promised date")
        promise_record(
            customer=customer,
            promised_on=promised_on,
            source="call",
            actor=actor,
            actor_label=label,
            invoice_refs=invoice_refs,
            amount=promised_amount,
            currency=promised_currency,
        )
        # Confirm in writing what was agreed: it avoids misunderstandings.
        message_queue(
            customer=customer,
            channel="email",
            template_key="promise-confirmation",
            invoice_refs=invoice_refs,
            actor_label=label,
            idempotency_key=f"{source_key}:promise-confirmation",
            contact=contact if contact is not None and contact.email else None,
            deadline=promised_on,
        )


@transaction.atomic
def task_complete(
    *,
    task: Task,
    outcome: str,
    actor: User | None = None,
    actor_label: str = "",
    note: str = "",
    contact: Contact | None = None,
    promised_on: date | None = None,
    promised_amount: Decimal | None = None,
    promised_currency: str = "",
) -> Task:
    """Close an open task with its outcome (for calls one of CallOutcome;
    other tasks take "done"). Raises TaskRejected when the task is not open,
    the outcome is unknown, or a promise lacks its date."""
    label = _actor_label(actor, actor_label)
    locked = Task.objects.select_for_update().select_related("customer").get(pk=task.pk)
    if locked.status != TaskStatus.OPEN:
        raise TaskRejected(f"the task is {locked.status}, not open")
    allowed = CallOutcome.values if locked.kind == TaskKind.CALL else ["done"]
    if outcome not in allowed:
        raise TaskRejected(f"{outcome!r} is not an outcome of this task ({', '.join(allowed)})")
    now = timezone.now()
    _outcome_effects(
        customer=locked.customer,
        outcome=outcome,
        contact=contact,
        invoice_refs=list(locked.invoice_refs),
        promised_on=promised_on,
        promised_amount=promised_amount,
        promised_currency=promised_currency,
        label=label,
        actor=actor,
        source_key=f"task:{locked.pk}",
        now=now,
    )
    Task.objects.filter(pk=locked.pk).update(
        status=TaskStatus.DONE,
        outcome=outcome,
        note=note.strip(),
        completed_at=now,
        completed_by=actor,
    )
    if locked.action_id is not None:
        Action.objects.filter(pk=locked.action_id, status=ActionStatus.PLANNED).update(
            status=ActionStatus.DONE
        )
    activity_record(
        actor_label=label,
        actor=actor,
        verb="call logged" if locked.kind == TaskKind.CALL else "task done",
        subject_type="task",
        subject_ref=str(locked.pk),
        customer=locked.customer,
        why=note.strip(),
        data={"outcome": outcome, "kind": locked.kind, "title": locked.title},
    )
    locked.refresh_from_db()
    return locked


@transaction.atomic
def call_log(
    *,
    customer: Customer,
    outcome: str,
    actor: User | None = None,
    actor_label: str = "",
    note: str = "",
    contact: Contact | None = None,
    invoice_refs: list[str] | None = None,
    promised_on: date | None = None,
    promised_amount: Decimal | None = None,
    promised_currency: str = "",
) -> Task:
    """Record a call made without a task (the customer rang, or a collector
    called on their own). It counts as a touch for the policy: a done manual
    action is stored with it."""
    label = _actor_label(actor, actor_label)
    if outcome not in CallOutcome.values:
        raise TaskRejected(f"{outcome!r} is not a call outcome")
    if contact is not None and contact.customer_id != customer.pk:
        raise TaskRejected("the contact belongs to another customer")
    now = timezone.now()
    today = timezone.localdate()
    refs = list(invoice_refs or [])
    action = Action.objects.create(
        customer=customer,
        invoice_refs=refs,
        kind="call",
        stage="inquire",
        step="",
        planned_for=today,
        planned_at=planned_at(
            today, customer.country, Guardrails().business_hours, customer.time_zone or None
        ),
        status=ActionStatus.DONE,
        reason=f"call logged by {label}",
        policy_name="",
        idempotency_key=f"manual:{uuid.uuid4().hex}",
        created_at=now,
    )
    task = Task.objects.create(
        kind=TaskKind.CALL,
        action=action,
        customer=customer,
        assigned_to=actor,
        title="Call logged",
        reason=f"call logged by {label}",
        invoice_refs=refs,
        due_at=now,
        created_at=now,
    )
    return task_complete(
        task=task,
        outcome=outcome,
        actor=actor,
        actor_label=label,
        note=note,
        contact=contact,
        promised_on=promised_on,
        promised_amount=promised_amount,
        promised_currency=promised_currency,
    )


@transaction.atomic
def task_snooze(
    *, task: Task, until: datetime, actor: User | None = None, actor_label: str = ""
) -> Task:
    """Hide an open task from the worklist until ``until``."""
    label = _actor_label(actor, actor_label)
    if timezone.is_naive(until):
        raise TaskRejected("give the snooze time with its time zone")
    if until <= timezone.now():
        raise TaskRejected("snooze until a time in the future")
    if not Task.objects.filter(pk=task.pk, status=TaskStatus.OPEN).update(snoozed_until=until):
        raise TaskRejected("only open tasks can be snoozed")
    activity_record(
        actor_label=label,
        actor=actor,
        verb="task snoozed",
        subject_type="task",
        subject_ref=str(task.pk),
        customer=task.customer,
        data={"until": until.isoformat()},
    )
    task.refresh_from_db()
    return task


@transaction.atomic
def task_reassign(
    *, task: Task, to: User | None, actor: User | None = None, actor_label: str = ""
) -> Task:
    """Give an open task to another person (None: unassigned)."""
    label = _actor_label(actor, actor_label)
    if not Task.objects.filter(pk=task.pk, status=TaskStatus.OPEN).update(assigned_to=to):
        raise TaskRejected("only open tasks can be reassigned")
    activity_record(
        actor_label=label,
        actor=actor,
        verb="task reassigned",
        subject_type="task",
        subject_ref=str(task.pk),
        customer=task.customer,
        data={"to": to.get_username() if to is not None else None},
    )
    task.refresh_from_db()
    return task
