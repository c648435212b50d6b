"""The outbox: messages are written in the same transaction as the actions
that decided them, and workers deliver them with retries and back-off.

The guarantee: **a message is handed to its channel at most once, and it is
never lost silently.**

- A worker claims messages with a conditional update (queued → sending,
  with its name and the time); only the claimer sends.
- The rendered content is committed before the hand-over; the result is
  recorded after it.
- A worker that dies between hand-over and record leaves the message in
  "sending". Once its lease has run out, ``outbox_recover`` marks it
  "uncertain" and opens a review task: the SMTP server may or may not have
  taken it, and only a person can tell (retry, or accept as sent). Channels
  whose provider drops a repeat with the same idempotency key (texts) are
  queued again instead, because a resend there cannot reach anyone twice.
- Retryable failures wait 1, 5, 15, 60, 240 then 720 minutes; after that,
  or at once on a permanent failure, the message is "failed" or "bounced",
  visible in the failed-messages queue with its reason, and can be retried.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from arrears.domain.calendar import business_window, next_business_day, time_zone_for
from arrears.domain.policy import Guardrails, Kind
from arrears.ledger.bulk import rows_insert
from arrears.ledger.models import Automation, Contact, Customer, Invoice, InvoiceStatus
from arrears.ledger.services import activity_record
from arrears.sequencing.models import Action, ActionStatus
from arrears.sequencing.selectors import PolicyBook

from .channels import DeliveryResult, channel_for
from .compose import NoRecipient, message_compose
from .models import (
    DeliveryEvent,
    Message,
    MessageStatus,
    Task,
    TaskKind,
    TaskStatus,
)

MESSAGE_KINDS = frozenset({"email", "sms", "letter"})
TASK_KINDS = {
    "call": TaskKind.CALL,
    "escalation": TaskKind.ESCALATION,
    "credit_hold": TaskKind.CREDIT_HOLD,
    "agency": TaskKind.AGENCY,
    "write_off": TaskKind.WRITE_OFF,
    "task": TaskKind.TASK,
}
BACKOFF_MINUTES = (1, 5, 15, 60, 240, 720)
# Messages a customer asked for this minute (a sign-in link): they are not
# collection contact, so neither quiet hours nor the frequency cap hold them.
TRANSACTIONAL = frozenset({"portal-link"})
OUTBOX_ACTOR = "outbox"


def lease() -> timedelta:
    """How long a claimed message may stay "sending" before its worker is
    presumed dead."""
    return timedelta(seconds=getattr(settings, "ARREARS_OUTBOX_LEASE_SECONDS", 600))


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _title(step: str) -> str:
    return step.replace("-", " ").replace("_", " ").capitalize()


# --- writing to the outbox ----------------------------------------------------

# A new message's columns from its action, as SQL on the action's row.
_MESSAGE_FROM_ACTION = {
    "action_id": "id",
    "customer_id": "customer_id",
    "channel": "kind",
    "template_key": "COALESCE(NULLIF(template, ''), step)",
    "invoice_refs": "invoice_refs",
    "deadline": "deadline",
    "not_before": "planned_at",
    "next_attempt_at": "planned_at",
    "idempotency_key": "'action:' || id || ':' || kind",
}
# The columns a new message leaves empty (the ORM's defaults, spelled out
# for the insert in SQL, which bypasses them).
_MESSAGE_BLANKS: dict[str, Any] = {
    "language": "",
    "to_address": "",
    "subject": "",
    "body_text": "",
    "body_html": "",
    "status": MessageStatus.QUEUED,
    "attempts": 0,
    "claimed_by": "",
    "last_error": "",
    "provider_id": "",
    "tracking_number": "",
}
_TASK_COLUMNS = (
    "kind",
    "action_id",
    "customer_id",
    "assigned_to_id",
    "title",
    "reason",
    "template_key",
    "invoice_refs",
    "due_at",
    "status",
    "outcome",
    "note",
    "created_at",
)


def outbox_enqueue(*, run_id: str, now: datetime, actor_label: str) -> None:
    """Write the messages and tasks for the actions a run just created (those
    carrying ``run_id``; call inside the transaction that created them): a
    queued message for each e-mail, text or letter, due at the action's
    planned time; a task for each call, escalation or proposal, assigned to
    the customer's collector."""
    # Messages: one statement, the database copying from the actions' rows
    # (a run writes as many as it plans actions).
    blanks = list(_MESSAGE_BLANKS)
    columns = ", ".join([*_MESSAGE_FROM_ACTION, *blanks, "created_by", "created_at"])
    values = ", ".join([*_MESSAGE_FROM_ACTION.values(), *["%s"] * (len(blanks) + 2)])
    kinds = sorted(MESSAGE_KINDS)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {Message._meta.db_table} ({columns})"
            f" SELECT {values} FROM {Action._meta.db_table}"
            f" WHERE run_id = %s AND kind IN ({', '.join(['%s'] * len(kinds))}) ORDER BY id",
            [
                *_MESSAGE_BLANKS.values(),
                actor_label,
                connection.ops.adapt_datetimefield_value(now),
                run_id,
                *kinds,
            ],
        )
    rows = (
        Action.objects.filter(run_id=run_id, kind__in=list(TASK_KINDS))
        .order_by("id")
        .values_list(
            "id",
            "customer_id",
            "kind",
            "template",
            "planned_at",
            "invoice_refs",
            "reason",
            "step",
            "customer__collector_id",
        )
    )
    tasks = [
        (
            *(TASK_KINDS[kind], action_id, customer_id, owner, _title(step), reason),
            *(template, refs, at, TaskStatus.OPEN, "", "", now),
        )
        for action_id, customer_id, kind, template, at, refs, reason, step, owner in rows
    ]
    rows_insert(
        Task._meta.db_table, _TASK_COLUMNS, tasks, json_column=_TASK_COLUMNS.index("invoice_refs")
    )


@transaction.atomic
def message_queue(
    *,
    customer: Customer,
    channel: str,
    template_key: str,
    invoice_refs: Sequence[str],
    actor_label: str,
    idempotency_key: str,
    contact: Contact | None = None,
    deadline: Any = None,
    not_before: datetime | None = None,
    fallback_of: Message | None = None,
) -> Message:
    """Queue one message outside the daily run (a one-off from a collector,
    a confirmation, a fallback). The same ``idempotency_key`` twice returns
    the first message and queues nothing."""
    if channel not in MESSAGE_KINDS:
        raise ValueError(f"{channel!r} is not a message channel (email, sms, letter)")
    now = timezone.now()
    at = not_before or now
    message, created = Message.objects.get_or_create(
        idempotency_key=idempotency_key,
        defaults={
            "customer": customer,
            "contact": contact,
            "channel": channel,
            "template_key": template_key,
            "invoice_refs": list(invoice_refs),
            "deadline": deadline,
            "not_before": at,
            "next_attempt_at": at,
            "fallback_of": fallback_of,
            "created_by": actor_label,
            "created_at": now,
        },
    )
    if created:
        _event(message, "queued", f"by {actor_label}", now)
    return message


# --- delivering ---------------------------------------------------------------


@dataclass
class DeliverySummary:
    """What one pass over the outbox did."""

    claimed: int = 0
    sent: int = 0
    retried: int = 0
    deferred: int = 0
    failed: int = 0
    cancelled: int = 0
    fallbacks: int = 0
    recovered: int = 0
    uncertain: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def busy(self) -> bool:
        return self.claimed > 0 or self.recovered > 0

    def add(self, other: DeliverySummary) -> None:
        """Add ``other``'s counts and errors to these (totals over passes)."""
        for name, value in other.as_dict().items():
            setattr(self, name, getattr(self, name) + value)
        self.errors += other.errors

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "errors"}


def outbox_claim(*, worker: str, now: datetime, limit: int) -> list[int]:
    """Claim up to ``limit`` messages that are due: mark them "sending" by
    ``worker``. Two workers never get the same message: the update only
    moves rows that are still queued."""
    with transaction.atomic():
        due = Message.objects.filter(status=MessageStatus.QUEUED, next_attempt_at__lte=now)
        if connection.features.has_select_for_update_skip_locked:
            due = due.select_for_update(skip_locked=True)
        ids = list(due.order_by("next_attempt_at", "id").values_list("id", flat=True)[:limit])
        if not ids:
            return []
        Message.objects.filter(id__in=ids, status=MessageStatus.QUEUED).update(
            status=MessageStatus.SENDING,
            claimed_by=worker,
            claimed_at=now,
            attempts=F("attempts") + 1,
        )
    return list(
        Message.objects.filter(
            id__in=ids, status=MessageStatus.SENDING, claimed_by=worker, claimed_at=now
        )
        .order_by("id")
        .values_list("id", flat=True)
    )


def outbox_deliver(
    *, worker: str | None = None, now: datetime | None = None, limit: int = 100
) -> DeliverySummary:
    """One pass: recover messages of dead workers, then claim and deliver
    up to ``limit`` due messages."""
    worker = worker or worker_name()
    now = now or timezone.now()
    summary = DeliverySummary()
    outbox_recover(now=now, summary=summary)
    book = PolicyBook()
    for message_id in outbox_claim(worker=worker, now=now, limit=limit):
        summary.claimed += 1
        _deliver(message_id, worker=worker, now=now, book=book, summary=summary)
    return summary


def _guardrails(book: PolicyBook, customer: Customer) -> Guardrails:
    settings_ = getattr(customer, "policy_settings", None)
    override = settings_.policy_name if settings_ else ""
    return book.for_customer(customer.ref, override).guardrails


def _send_window(customer: Customer, g: Guardrails, now: datetime) -> datetime | None:
    """None when ``now`` is inside the customer's business hours on a
    business day; else the next opening."""
    tz = customer.time_zone or None
    rules = {"skip_weekends": g.skip_weekends, "skip_holidays": g.skip_holidays}
    today = now.astimezone(ZoneInfo(time_zone_for(customer.country, tz))).date()
    day = next_business_day(today, customer.country, **rules)
    start, end = business_window(day, customer.country, g.business_hours, tz)
    if now >= end:  # today's hours are over
        day = next_business_day(day + timedelta(days=1), customer.country, **rules)
        start, end = business_window(day, customer.country, g.business_hours, tz)
    return None if now >= start else start


def _capped_until(message: Message, g: Guardrails, now: datetime) -> datetime | None:
    """When the frequency cap allows the next touch; None: allowed now.
    Counts messages handed over to the customer in the cap's window."""
    window = timedelta(days=g.frequency_cap_days)
    recent = list(
        Message.objects.filter(
            customer_id=message.customer_id,
            sent_at__gt=now - window,
            status__in=[MessageStatus.SENT, MessageStatus.DELIVERED],
        )
        .exclude(template_key__in=TRANSACTIONAL)
        .order_by("sent_at")
        .values_list("sent_at", flat=True)
    )
    if len(recent) < g.frequency_cap_touches:
        return None
    # The oldest touch that must leave the window before another is allowed.
    oldest = recent[len(recent) - g.frequency_cap_touches]
    return None if oldest is None else oldest + window


def _why_not_send(message: Message) -> str | None:
    """Why the message must not go out at all any more; None: it may."""
    customer = message.customer
    if message.template_key in TRANSACTIONAL:
        return None
    if customer.automation == Automation.PAUSED:
        return "the customer is paused"
    if customer.automation == Automation.WHITE_GLOVE and message.action_id is not None:
        return "white glove customers get no automated messages"
    if message.action is not None and message.action.status == ActionStatus.CANCELLED:
        return "its action was cancelled"
    refs = message.invoice_refs
    if (
        refs
        and not Invoice.objects.filter(
            ref__in=refs, customer_id=message.customer_id, status=InvoiceStatus.OPEN
        ).exists()
    ):
        return "all its invoices are paid"
    return None


def _deliver(
    message_id: int, *, worker: str, now: datetime, book: PolicyBook, summary: DeliverySummary
) -> None:
    message = Message.objects.select_related("customer", "customer__policy_settings", "action").get(
        pk=message_id
    )
    mine = Message.objects.filter(pk=message_id, status=MessageStatus.SENDING, claimed_by=worker)
    reason = _why_not_send(message)
    if reason is not None:
        with transaction.atomic():
            mine.update(status=MessageStatus.CANCELLED, last_error=reason)
            _event(message, "cancelled", reason, now)
        summary.cancelled += 1
        return
    g = _guardrails(book, message.customer)
    later = (
        None
        if message.template_key in TRANSACTIONAL
        else _send_window(message.customer, g, now) or _capped_until(message, g, now)
    )
    if later is not None:
        # Quiet hours or the frequency cap: not an attempt, just later.
        mine.update(
            status=MessageStatus.QUEUED,
            next_attempt_at=later,
            attempts=F("attempts") - 1,
            claimed_by="",
        )
        summary.deferred += 1
        return
    try:
        composed = message_compose(message, now=now)
    except NoRecipient as blocked:
        _no_recipient(message, blocked.reason, now, book, summary)
        return
    except Exception as error:  # a template that fails to render: permanent
        _record(message, DeliveryResult.refused(f"could not compose: {error}"), now, book, summary)
        return
    mine.update(
        contact_id=composed.contact_id,
        to_address=";".join(composed.to),
        subject=composed.subject[:300],
        body_text=composed.body_text,
        body_html=composed.body_html,
        template_version=composed.template_version,
        language=composed.language,
    )
    try:
        result = channel_for(message.channel).send(message, composed)
    except Exception as error:  # a channel bug must not kill the worker
        result = DeliveryResult.retry(f"{type(error).__name__}: {error}")
    _record(message, result, now, book, summary)


def _record(
    message: Message,
    result: DeliveryResult,
    now: datetime,
    book: PolicyBook,
    summary: DeliverySummary,
) -> None:
    with transaction.atomic():
        mine = Message.objects.filter(pk=message.pk, status=MessageStatus.SENDING)
        if result.ok:
            mine.update(
                status=MessageStatus.SENT,
                sent_at=now,
                provider_id=result.provider_id,
                last_error="",
            )
            _event(message, "sent", result.provider_id, now)
            if message.action_id is not None:
                Action.objects.filter(pk=message.action_id, status=ActionStatus.PLANNED).update(
                    status=ActionStatus.DONE
                )
            activity_record(
                actor_label=OUTBOX_ACTOR,
                verb=f"{message.channel} sent",
                subject_type="message",
                subject_ref=str(message.pk),
                customer=message.customer,
                why=message.action.reason if message.action is not None else "",
                data={"template": message.template_key, "invoice_refs": message.invoice_refs},
            )
            summary.sent += 1
            if result.bounced:
                _bounced(message, result, now)
            return
        if not result.permanent:
            attempts = Message.objects.values_list("attempts", flat=True).get(pk=message.pk)
            if attempts <= len(BACKOFF_MINUTES):
                wait = timedelta(minutes=BACKOFF_MINUTES[attempts - 1])
                mine.update(
                    status=MessageStatus.QUEUED,
                    next_attempt_at=now + wait,
                    last_error=result.error,
                    claimed_by="",
                )
                _event(message, "retry", f"{result.error} (next try in {wait})", now)
                summary.retried += 1
                return
            result = DeliveryResult.refused(f"gave up after {attempts} attempts: {result.error}")
        status = MessageStatus.BOUNCED if result.bounced else MessageStatus.FAILED
        mine.update(status=status, last_error=result.error)
        _event(message, status.value, result.error, now)
        activity_record(
            actor_label=OUTBOX_ACTOR,
            verb=f"{message.channel} {status.value}",
            subject_type="message",
            subject_ref=str(message.pk),
            customer=message.customer,
            why=result.error,
        )
        summary.failed += 1
        if result.bounced:
            _bounced(message, result, now)
            _fallback(message, "bounced", now, book, summary)


def _bounced(message: Message, result: DeliveryResult, now: datetime) -> None:
    """Mark refused addresses so the policy stops using them, and ask a
    person to fix the customer's master data."""
    addresses = list(result.bounced)
    if message.channel == Kind.EMAIL:
        contacts = Contact.objects.filter(customer_id=message.customer_id, email__in=addresses)
        contacts.update(email_bounced=True)
    else:
        # A number refused for good: no more texts to it.
        contacts = Contact.objects.filter(customer_id=message.customer_id, phone__in=addresses)
        contacts.update(opted_out_sms=True)
    task_open_once(
        customer=message.customer,
        kind=TaskKind.FIX_MASTER_DATA,
        title=f"Fix {message.channel} address: {', '.join(addresses)}",
        reason=f"{message.channel} to {', '.join(addresses)} was refused: {result.error}",
        now=now,
    )


def task_open_once(
    *, customer: Customer, kind: str, title: str, reason: str, now: datetime
) -> Task:
    """Open a task of ``kind`` for the customer unless one is open already
    (then add the reason to it): one "fix master data" task, not ten."""
    task = Task.objects.filter(customer=customer, kind=kind, status=TaskStatus.OPEN).first()
    if task is not None:
        if reason not in task.reason:
            Task.objects.filter(pk=task.pk).update(reason=f"{task.reason}\n{reason}".strip())
        return task
    task = Task.objects.create(
        kind=kind,
        customer=customer,
        assigned_to_id=customer.collector_id,
        title=title,
        reason=reason,
        due_at=now,
        created_at=now,
    )
    activity_record(
        actor_label=OUTBOX_ACTOR,
        verb="task opened",
        subject_type="task",
        subject_ref=str(task.pk),
        customer=customer,
        why=reason,
    )
    return task


def _no_recipient(
    message: Message, reason: str, now: datetime, book: PolicyBook, summary: DeliverySummary
) -> None:
    with transaction.atomic():
        Message.objects.filter(pk=message.pk, status=MessageStatus.SENDING).update(
            status=MessageStatus.CANCELLED, last_error=f"no recipient: {reason}"
        )
        _event(message, "cancelled", f"no recipient: {reason}", now)
        summary.cancelled += 1
        if reason == "no address":
            task_open_once(
                customer=message.customer,
                kind=TaskKind.FIX_MASTER_DATA,
                title=f"Add a {message.channel} address",
                reason=f"a {message.channel} could not be sent: no address",
                now=now,
            )
        _fallback(message, reason, now, book, summary)


def _chain_channels(message: Message) -> set[str]:
    channels = {message.channel}
    parent = message.fallback_of
    while parent is not None:
        channels.add(parent.channel)
        parent = parent.fallback_of
    return channels


def _fallback(
    message: Message, reason: str, now: datetime, book: PolicyBook, summary: DeliverySummary
) -> None:
    """Try the next channel of the policy's fallback order that this message
    has not tried yet: a new message, or a call task. None left: recorded."""
    tried = _chain_channels(message)
    order = [k.value for k in _guardrails(book, message.customer).fallback_channels]
    for kind in order:
        if kind in tried:
            continue
        why = f"instead of {message.channel} ({reason})"
        if kind in MESSAGE_KINDS:
            message_queue(
                customer=message.customer,
                channel=kind,
                template_key=message.template_key,
                invoice_refs=message.invoice_refs,
                actor_label=OUTBOX_ACTOR,
                idempotency_key=f"{message.idempotency_key}>{kind}",
                deadline=message.deadline,
                not_before=now,
                fallback_of=message,
            )
        else:
            task = Task.objects.create(
                kind=TaskKind.CALL,
                customer=message.customer,
                assigned_to_id=message.customer.collector_id,
                title=f"Call {why}",
                reason=message.action.reason if message.action is not None else why,
                template_key=message.template_key,
                invoice_refs=message.invoice_refs,
                due_at=now,
                created_at=now,
            )
            activity_record(
                actor_label=OUTBOX_ACTOR,
                verb="task opened",
                subject_type="task",
                subject_ref=str(task.pk),
                customer=message.customer,
                why=why,
            )
        _event(message, "fallback", f"{kind} {why}", now)
        summary.fallbacks += 1
        return
    _event(message, "no fallback", f"every channel tried ({reason})", now)


def outbox_recover(*, now: datetime, summary: DeliverySummary | None = None) -> int:
    """Deal with messages whose worker died while sending (lease run out):
    queue them again where the provider drops repeats, else mark them
    uncertain and open a review task. Returns how many were found."""
    summary = summary or DeliverySummary()
    stale = list(
        Message.objects.filter(status=MessageStatus.SENDING, claimed_at__lt=now - lease())
        .select_related("customer")
        .order_by("id")
    )
    for message in stale:
        with transaction.atomic():
            still = Message.objects.filter(
                pk=message.pk, status=MessageStatus.SENDING, claimed_at=message.claimed_at
            )
            if channel_for(message.channel).idempotent:
                if still.update(status=MessageStatus.QUEUED, next_attempt_at=now, claimed_by=""):
                    _event(
                        message, "resumed", "its worker stopped; the provider drops repeats", now
                    )
                    summary.recovered += 1
                continue
            why = (
                f"worker {message.claimed_by} stopped while sending: the message may or may "
                "not have left. Check with the recipient, then retry or accept it as sent."
            )
            if still.update(status=MessageStatus.UNCERTAIN, last_error=why):
                _event(message, "uncertain", why, now)
                task_open_once(
                    customer=message.customer,
                    kind=TaskKind.REVIEW_MESSAGE,
                    title=f"Check whether {message.channel} #{message.pk} was sent",
                    reason=why,
                    now=now,
                )
                summary.recovered += 1
                summary.uncertain += 1
    return len(stale)


# --- people acting on the outbox ----------------------------------------------


@transaction.atomic
def message_retry(*, message: Message, actor_label: str) -> Message:
    """Queue a failed, bounced or uncertain message again, now. Raises
    ValueError for a message in any other state."""
    retryable = [MessageStatus.FAILED, MessageStatus.BOUNCED, MessageStatus.UNCERTAIN]
    now = timezone.now()
    if not Message.objects.filter(pk=message.pk, status__in=retryable).update(
        status=MessageStatus.QUEUED, next_attempt_at=now, attempts=0, claimed_by=""
    ):
        raise ValueError(f"message {message.pk} is {message.status}: only failed ones are retried")
    _event(message, "requeued", f"by {actor_label}", now)
    activity_record(
        actor_label=actor_label,
        verb="message retried",
        subject_type="message",
        subject_ref=str(message.pk),
        customer=message.customer,
        why=message.last_error,
    )
    message.refresh_from_db()
    return message


@transaction.atomic
def message_accept_sent(*, message: Message, actor_label: str) -> Message:
    """Record an uncertain message as sent (the recipient has it)."""
    now = timezone.now()
    if not Message.objects.filter(pk=message.pk, status=MessageStatus.UNCERTAIN).update(
        status=MessageStatus.SENT, sent_at=now, last_error=""
    ):
        raise ValueError(f"message {message.pk} is {message.status}, not uncertain")
    _event(message, "sent", f"accepted as sent by {actor_label}", now)
    activity_record(
        actor_label=actor_label,
        verb="message accepted as sent",
        subject_type="message",
        subject_ref=str(message.pk),
        customer=message.customer,
    )
    message.refresh_from_db()
    return message


def _event(message: Message, kind: str, detail: str, at: datetime) -> None:
    DeliveryEvent.objects.create(message=message, kind=kind, detail=detail, at=at)
