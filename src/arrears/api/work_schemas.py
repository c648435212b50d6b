"""Shapes of the collectors' endpoints: tasks, calls, notes, promises,
disputes, consent, documents, the timeline and the outbox.

Names carry a prefix of their own (``Work…``, ``Outbox…``) because OpenAPI
schema names are global across the API's routers."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Literal

from django.urls import reverse
from ninja import Field, Schema
from pydantic import ConfigDict

from arrears.cases.models import Dispute, Promise
from arrears.comms.models import Message, Task
from arrears.ledger.models import Activity
from arrears.web.models import Document
from arrears.web.selectors import TimelineEntry
from arrears.web.worklist import WorkItem

from .schemas import PageOut, money_text

CallOutcomeName = Literal[
    "no_answer", "voicemail", "promise", "dispute", "spoke", "wrong_number", "do_not_call"
]
_AMOUNT = "decimal string such as '1234.50'"


class WorkTaskOut(Schema):
    id: int
    kind: str
    status: str
    title: str
    reason: str
    customer_ref: str
    customer_name: str
    invoice_refs: list[str]
    due_at: datetime
    snoozed_until: datetime | None
    assigned_to: str | None = Field(description="username; null: unassigned")
    outcome: str | None
    note: str | None
    completed_at: datetime | None
    rank: int | None = Field(None, description="place on the worklist (GET /tasks only)")
    amount_at_risk: str | None = Field(None, description="GET /tasks only; across currencies")
    days_past_due: int | None = None
    segment: str | None = None

    @classmethod
    def build(
        cls, task: Task, *, item: WorkItem | None = None, rank: int | None = None
    ) -> WorkTaskOut:
        return cls(
            id=task.pk,
            kind=task.kind,
            status=task.status,
            title=task.title,
            reason=task.reason,
            customer_ref=task.customer.ref,
            customer_name=task.customer.name,
            invoice_refs=list(task.invoice_refs),
            due_at=task.due_at,
            snoozed_until=task.snoozed_until,
            assigned_to=task.assigned_to.get_username() if task.assigned_to else None,
            outcome=task.outcome or None,
            note=task.note or None,
            completed_at=task.completed_at,
            rank=rank,
            amount_at_risk=f"{item.amount_at_risk:.2f}" if item else None,
            days_past_due=item.days_past_due if item else None,
            segment=item.segment if item else None,
        )


class WorkTaskList(Schema):
    assignee: str | None = Field(description="whose worklist; null: the unassigned tasks")
    items: list[WorkTaskOut]


class TaskFilters(Schema):
    assignee: str | None = Field(
        None, description="a username or 'unassigned' (managers); default: the token's user"
    )


class _Strict(Schema):
    model_config = ConfigDict(extra="forbid")


class PromiseFields(_Strict):
    promised_on: date | None = Field(None, description="needed with the outcome 'promise'")
    promised_amount: Decimal | None = Field(None, gt=0, description=_AMOUNT)
    promised_currency: str = Field("", pattern=r"^([A-Z]{3})?$")


class CompleteIn(PromiseFields):
    outcome: str = Field(description="a call outcome for calls; 'done' for other tasks")
    note: str = ""
    contact_id: int | None = Field(None, description="who was spoken to")


class CallIn(PromiseFields):
    outcome: CallOutcomeName
    note: str = ""
    contact_id: int | None = None
    invoice_refs: list[str] = []


class SnoozeIn(_Strict):
    until: datetime = Field(description="with its time zone, in the future")


class ReassignIn(_Strict):
    to: str | None = Field(description="a collector's username; null: unassigned")


class NoteIn(_Strict):
    text: str = Field(min_length=1)


class NoteOut(Schema):
    id: int
    at: datetime
    text: str
    actor: str

    @classmethod
    def build(cls, entry: Activity) -> NoteOut:
        return cls(id=entry.pk, at=entry.at, text=entry.why, actor=entry.actor_label)


class PromiseIn(_Strict):
    promised_on: date
    amount: Decimal | None = Field(None, gt=0, description=f"{_AMOUNT}; blank: the invoices'")
    currency: str = Field("", pattern=r"^([A-Z]{3})?$", description="default: the customer's")
    invoice_refs: list[str] = []
    note: str = ""


class PromiseOut(Schema):
    id: int
    customer_ref: str
    promised_on: date
    paused_until: date
    amount: str | None
    currency: str | None
    invoice_refs: list[str]
    status: str
    note: str | None

    @classmethod
    def build(cls, p: Promise) -> PromiseOut:
        return cls(
            id=p.pk,
            customer_ref=p.customer.ref,
            promised_on=p.promised_on,
            paused_until=p.promised_on + timedelta(days=p.grace_days),
            amount=money_text(p.amount, p.currency) if p.amount is not None else None,
            currency=p.currency or None,
            invoice_refs=list(p.invoice_refs),
            status=p.status,
            note=p.note or None,
        )


class DisputeIn(_Strict):
    invoice_refs: list[str] = Field(min_length=1)
    amounts: dict[str, Decimal] = Field(
        {}, description="disputed amount per invoice ref; missing: all that is open"
    )
    reason: str
    description: str = ""


class DisputeOut(Schema):
    id: int
    customer_ref: str
    reason: str
    description: str | None
    status: str
    invoice_refs: list[str]
    opened_at: datetime
    resolved_at: datetime | None
    resolution: str | None

    @classmethod
    def build(cls, d: Dispute) -> DisputeOut:
        return cls(
            id=d.pk,
            customer_ref=d.customer.ref,
            reason=d.reason,
            description=d.description or None,
            status=d.status,
            invoice_refs=sorted(d.lines.values_list("invoice__ref", flat=True)),
            opened_at=d.opened_at,
            resolved_at=d.resolved_at,
            resolution=d.resolution or None,
        )


class ResolveIn(_Strict):
    valid: bool = Field(description="true: the customer is right; false: collection resumes")
    resolution: str = Field(min_length=1)


class ConsentIn(_Strict):
    channel: Literal["email", "sms", "call"]
    granted: bool
    note: str = Field("", description="how the consent was given; kept with the evidence")


class DocumentOut(Schema):
    id: int
    customer_ref: str
    invoice_ref: str | None
    name: str
    content_type: str
    size: int
    sha256: str
    note: str | None
    uploaded_by: str
    uploaded_at: datetime
    download: str = Field(description="GET this path (with the token) for the file")

    @classmethod
    def build(cls, d: Document) -> DocumentOut:
        return cls(
            id=d.pk,
            customer_ref=d.customer.ref,
            invoice_ref=d.invoice.ref if d.invoice else None,
            name=d.name,
            content_type=d.content_type,
            size=d.size,
            sha256=d.sha256,
            note=d.note or None,
            uploaded_by=d.uploaded_by_label,
            uploaded_at=d.uploaded_at,
            download=reverse("api-v1:documents_download", args=[d.pk]),
        )


class DocumentList(Schema):
    items: list[DocumentOut]


class TimelineFilters(Schema):
    page: int = Field(1, ge=1)
    size: int = Field(25, ge=1, le=500)


class TimelineEntryOut(Schema):
    at: datetime
    kind: str
    title: str
    detail: str
    actor: str
    status: str
    events: list[str] = Field(description="delivery events of a message: 'kind@ISO time'")

    @classmethod
    def build(cls, e: TimelineEntry) -> TimelineEntryOut:
        return cls(
            at=e.at,
            kind=e.kind,
            title=e.title,
            detail=e.detail,
            actor=e.actor,
            status=e.status,
            events=[f"{ev.kind}@{ev.at.isoformat()}" for ev in e.events],
        )


class TimelineOut(Schema):
    customer_ref: str
    page: int
    has_more: bool
    items: list[TimelineEntryOut]


class MessageFilters(Schema):
    status: Literal["failed", "queued", "sent", "all"] = Field(
        "failed", description="failed: failed, bounced or uncertain (the failed queue)"
    )
    channel: Literal["email", "sms", "letter", "call"] | None = None
    customer: str | None = Field(None, description="a customer ref")


class OutboxMessageOut(Schema):
    id: int
    customer_ref: str
    channel: str
    template_key: str
    to: str | None
    subject: str | None
    status: str
    attempts: int
    last_error: str | None
    invoice_refs: list[str]
    created_at: datetime
    sent_at: datetime | None
    created_by: str

    @classmethod
    def build(cls, m: Message) -> OutboxMessageOut:
        return cls(
            id=m.pk,
            customer_ref=m.customer.ref,
            channel=m.channel,
            template_key=m.template_key,
            to=m.to_address or None,
            subject=m.subject or None,
            status=m.status,
            attempts=m.attempts,
            last_error=m.last_error or None,
            invoice_refs=list(m.invoice_refs),
            created_at=m.created_at,
            sent_at=m.sent_at,
            created_by=m.created_by,
        )


class OutboxMessagePage(PageOut):
    items: list[OutboxMessageOut]
