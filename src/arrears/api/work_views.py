"""The collectors' endpoints of /api/v1/: what a collector or manager does
in the staff web app, for scripts and other front ends. Tasks (the
worklist, complete, snooze, reassign), calls, notes, promises, disputes,
consent, documents, the customer timeline and the outbox.

Each validates, calls the service the web app calls and returns. The web
app's permission rules hold: a collector works their own tasks; managers
also see and move other people's work and resolve disputes (403 otherwise).
A refusal by a service answers 422 with the problems, in the shape the rest
of the API uses."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, HttpRequest
from ninja import File, Form, Query, Router
from ninja.errors import HttpError
from ninja.files import UploadedFile
from ninja.responses import Status

from arrears.cases.models import Dispute
from arrears.cases.services import CaseRejected, dispute_open, dispute_resolve, promise_record
from arrears.comms.consent import contact_consent_set
from arrears.comms.models import Message as OutboxMessage
from arrears.comms.models import Task
from arrears.comms.outbox import message_accept_sent, message_retry
from arrears.comms.selectors import messages_list
from arrears.comms.services import TaskRejected, call_log, task_complete, task_reassign, task_snooze
from arrears.ledger.models import Contact, Customer
from arrears.portal.uploads import UploadRejected, upload_check
from arrears.web.models import Document
from arrears.web.roles import manager_check
from arrears.web.selectors import customer_timeline
from arrears.web.services import ChangeRejected, document_attach, note_add
from arrears.web.worklist import (
    UNASSIGNED,
    collectors_list,
    task_for,
    worklist_owner,
    worklist_ranked,
)

from . import selectors
from .requests import api_actor_label, api_user
from .schemas import ContactOut, Message, PageIn, Problem, Problems
from .selectors import NotFound
from .work_schemas import (
    CallIn,
    CompleteIn,
    ConsentIn,
    DisputeIn,
    DisputeOut,
    DocumentList,
    DocumentOut,
    MessageFilters,
    NoteIn,
    NoteOut,
    OutboxMessageOut,
    OutboxMessagePage,
    PromiseFields,
    PromiseIn,
    PromiseOut,
    ReassignIn,
    ResolveIn,
    SnoozeIn,
    TaskFilters,
    TimelineEntryOut,
    TimelineFilters,
    TimelineOut,
    WorkTaskList,
    WorkTaskOut,
)

router = Router()
F = TypeVar("F", bound=Callable[..., Any])

_WRITE: dict[int, type] = {403: Message, 404: Message, 422: Problems}


class Refused(ValueError):
    """A request this module refuses itself; ``field`` names what is wrong."""

    def __init__(self, reason: str, field: str = "-") -> None:
        super().__init__(reason)
        self.field = field


# What the services raise when a request cannot be done (the message says
# why). The outbox and consent services raise plain ValueError for that.
_REFUSALS = (TaskRejected, CaseRejected, ChangeRejected, UploadRejected, Refused, ValueError)
# ConsentRecord.source holds 60 characters: "api: <username> — <note>".
SOURCE_MAX = 60


def _answers(view: F) -> F:
    """A service's refusal as an answer: 403 not allowed, 422 not possible
    (``{"detail": [{"loc", "field", "reason"}]}``)."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        try:
            return view(request, *args, **kwargs)
        except PermissionDenied as error:
            raise HttpError(403, str(error) or "not allowed") from None
        except _REFUSALS as error:
            return Status(422, _problem(str(error), getattr(error, "field", "-")))

    return wrapped  # type: ignore[return-value]


def _problem(reason: str, field: str = "-") -> Problems:
    return Problems(detail=[Problem(loc="body", field=field, reason=reason)])


def _task(request: HttpRequest, task_id: int) -> Task:
    """The task if the token's user may work it (PermissionDenied: someone else's)."""
    try:
        return task_for(user=api_user(request), pk=task_id)
    except Task.DoesNotExist:
        raise NotFound(f"no task {task_id}") from None


def _customer(customer_ref: str) -> Customer:
    return selectors.customer_for_write(customer_ref=customer_ref)


def _contact(customer: Customer, contact_id: int | None) -> Contact | None:
    """The customer's contact ``contact_id`` (None for None); Refused (422)
    for a contact that is not the customer's."""
    if contact_id is None:
        return None
    contact = customer.contacts.filter(pk=contact_id).first()
    if contact is None:
        raise Refused(f"no contact {contact_id} for customer {customer.ref}", "contact_id")
    return contact


def _promise(payload: PromiseFields, customer: Customer) -> dict[str, Any]:
    amount = payload.promised_amount
    return {
        "promised_on": payload.promised_on,
        "promised_amount": amount,
        "promised_currency": (payload.promised_currency or customer.currency)
        if amount is not None
        else "",
    }


# --- tasks ------------------------------------------------------------------------


@router.get("/tasks", response={200: WorkTaskList, 403: Message, 404: Message}, tags=["tasks"])
@_answers
def tasks_list(request: HttpRequest, filters: Query[TaskFilters]) -> WorkTaskList:
    """Open tasks due by the end of today (not snoozed), most urgent first,
    as on the worklist: the token's user's, or (managers) ``assignee``'s."""
    user = api_user(request)
    collector: str | None = None
    if filters.assignee == UNASSIGNED:
        collector = UNASSIGNED
    elif filters.assignee:
        found = User.objects.filter(username=filters.assignee).first()
        if found is None:
            raise NotFound(f"no user {filters.assignee!r}")
        collector = str(found.pk)
    owner = worklist_owner(user=user, collector=collector)
    items = worklist_ranked(owner=owner)
    return WorkTaskList(
        assignee=owner.get_username() if owner is not None else None,
        items=[WorkTaskOut.build(i.task, item=i, rank=n) for n, i in enumerate(items, 1)],
    )


@router.post("/tasks/{int:task_id}/complete", response={200: WorkTaskOut, **_WRITE}, tags=["tasks"])
@_answers
def tasks_complete(request: HttpRequest, task_id: int, payload: CompleteIn) -> WorkTaskOut:
    """Close a task with its outcome (a call outcome, or "done"); a promise
    outcome records the promise (reminders pause) and needs ``promised_on``."""
    task = _task(request, task_id)
    done = task_complete(
        task=task,
        outcome=payload.outcome,
        actor=api_user(request),
        actor_label=api_actor_label(request),
        note=payload.note,
        contact=_contact(task.customer, payload.contact_id),
        **_promise(payload, task.customer),
    )
    return WorkTaskOut.build(done)


@router.post("/tasks/{int:task_id}/snooze", response={200: WorkTaskOut, **_WRITE}, tags=["tasks"])
@_answers
def tasks_snooze(request: HttpRequest, task_id: int, payload: SnoozeIn) -> WorkTaskOut:
    """Hide an open task from the worklist until ``until``."""
    task = task_snooze(
        task=_task(request, task_id),
        until=payload.until,
        actor=api_user(request),
        actor_label=api_actor_label(request),
    )
    return WorkTaskOut.build(task)


@router.post("/tasks/{int:task_id}/reassign", response={200: WorkTaskOut, **_WRITE}, tags=["tasks"])
@_answers
def tasks_reassign(request: HttpRequest, task_id: int, payload: ReassignIn) -> WorkTaskOut:
    """Give an open task to another collector, or nobody (managers)."""
    manager_check(api_user(request), "reassign work")
    task = _task(request, task_id)
    to = None
    if payload.to is not None:
        to = next((u for u in collectors_list() if u.get_username() == payload.to), None)
        if to is None:
            raise Refused(f"{payload.to!r} is not an active collector or manager", "to")
    moved = task_reassign(
        task=task, to=to, actor=api_user(request), actor_label=api_actor_label(request)
    )
    return WorkTaskOut.build(moved)


# --- a customer's calls, notes, promises, disputes ---------------------------------
# Before the ledger router's /customers/{ref}: refs may contain slashes.


@router.post(
    "/customers/{path:customer_ref}/calls", response={201: WorkTaskOut, **_WRITE}, tags=["calls"]
)
@_answers
def calls_log(request: HttpRequest, customer_ref: str, payload: CallIn) -> Status[WorkTaskOut]:
    """Log a call made without a task (it counts as a touch for the policy)."""
    customer = _customer(customer_ref)
    task = call_log(
        customer=customer,
        outcome=payload.outcome,
        actor=api_user(request),
        actor_label=api_actor_label(request),
        note=payload.note,
        contact=_contact(customer, payload.contact_id),
        invoice_refs=payload.invoice_refs,
        **_promise(payload, customer),
    )
    return Status(201, WorkTaskOut.build(task))


@router.post(
    "/customers/{path:customer_ref}/notes", response={201: NoteOut, **_WRITE}, tags=["notes"]
)
@_answers
def notes_add(request: HttpRequest, customer_ref: str, payload: NoteIn) -> Status[NoteOut]:
    """Add a note to the customer's timeline."""
    entry = note_add(
        customer=_customer(customer_ref),
        text=payload.text,
        actor=api_user(request),
        actor_label=api_actor_label(request),
    )
    return Status(201, NoteOut.build(entry))


@router.post(
    "/customers/{path:customer_ref}/promises",
    response={201: PromiseOut, **_WRITE},
    tags=["promises"],
)
@_answers
def promises_record(
    request: HttpRequest, customer_ref: str, payload: PromiseIn
) -> Status[PromiseOut]:
    """Record a promise to pay: reminders pause until the date plus grace.
    Without an amount, the open amount of the invoices named."""
    customer = _customer(customer_ref)
    promise = promise_record(
        customer=customer,
        promised_on=payload.promised_on,
        source="staff",
        actor=api_user(request),
        actor_label=api_actor_label(request),
        invoice_refs=payload.invoice_refs,
        amount=payload.amount,
        currency=(payload.currency or customer.currency) if payload.amount is not None else "",
        note=payload.note,
    )
    return Status(201, PromiseOut.build(promise))


@router.post(
    "/customers/{path:customer_ref}/disputes",
    response={201: DisputeOut, **_WRITE},
    tags=["disputes"],
)
@_answers
def disputes_open(
    request: HttpRequest, customer_ref: str, payload: DisputeIn
) -> Status[DisputeOut]:
    """Open a dispute on invoices: they leave the dunning flow while it is open."""
    unknown = sorted(set(payload.amounts) - set(payload.invoice_refs))
    if unknown:
        raise Refused(f"amounts for invoices not in invoice_refs: {', '.join(unknown)}", "amounts")
    dispute = dispute_open(
        customer=_customer(customer_ref),
        lines={ref: payload.amounts.get(ref) for ref in payload.invoice_refs},
        reason=payload.reason,
        description=payload.description,
        actor=api_user(request),
        actor_label=api_actor_label(request),
    )
    return Status(201, DisputeOut.build(dispute))


@router.post(
    "/disputes/{int:dispute_id}/resolve", response={200: DisputeOut, **_WRITE}, tags=["disputes"]
)
@_answers
def disputes_resolve(request: HttpRequest, dispute_id: int, payload: ResolveIn) -> DisputeOut:
    """Close an open dispute as valid or rejected, saying why (managers)."""
    manager_check(api_user(request), "resolve a dispute")
    dispute = Dispute.objects.select_related("customer").filter(pk=dispute_id).first()
    if dispute is None:
        raise NotFound(f"no dispute {dispute_id}")
    resolved = dispute_resolve(
        dispute=dispute,
        valid=payload.valid,
        resolution=payload.resolution,
        actor=api_user(request),
        actor_label=api_actor_label(request),
    )
    return DisputeOut.build(resolved)


@router.post(
    "/customers/{path:customer_ref}/contacts/{int:contact_id}/consent",
    response={200: ContactOut, **_WRITE},
    tags=["contacts"],
)
@_answers
def contacts_consent(
    request: HttpRequest, customer_ref: str, contact_id: int, payload: ConsentIn
) -> ContactOut:
    """Record that the contact gave (granted) or withdrew consent for a
    channel; granting clears an earlier opt-out. The evidence's source is
    "api: <username>" and the note."""
    contact = selectors.contact_get(customer_ref=customer_ref, contact_id=contact_id)
    base = f"api: {api_user(request).get_username()}"
    note = payload.note.strip()
    source = f"{base} — {note}" if note else base
    if len(source) > SOURCE_MAX:
        room = max(SOURCE_MAX - len(base) - 3, 0)
        raise Refused(f"keep the note to {room} characters", "note")
    contact_consent_set(
        contact=contact,
        channel=payload.channel,
        granted=payload.granted,
        source=source,
        actor_label=api_actor_label(request),
        actor=api_user(request),
    )
    contact.refresh_from_db()
    return ContactOut.build(contact)


# --- documents ----------------------------------------------------------------------


@router.get(
    "/customers/{path:customer_ref}/documents",
    response={200: DocumentList, 404: Message},
    tags=["documents"],
)
def documents_list(request: HttpRequest, customer_ref: str) -> DocumentList:
    """The customer's documents, newest first."""
    documents = Document.objects.filter(customer=_customer(customer_ref)).select_related(
        "customer", "invoice"
    )
    return DocumentList(items=[DocumentOut.build(d) for d in documents])


@router.post(
    "/customers/{path:customer_ref}/documents",
    response={201: DocumentOut, **_WRITE},
    tags=["documents"],
)
@_answers
def documents_upload(
    request: HttpRequest,
    customer_ref: str,
    file: File[UploadedFile],
    invoice_ref: Form[str] = "",
    note: Form[str] = "",
) -> Status[DocumentOut]:
    """Attach a file (multipart/form-data: ``file``; optional ``invoice_ref``
    and ``note``). PDF, PNG or JPEG by content, up to the upload limit."""
    document = document_attach(
        customer=_customer(customer_ref),
        upload=upload_check(file),
        invoice_ref=invoice_ref.strip(),
        note=note,
        actor=api_user(request),
        actor_label=api_actor_label(request),
    )
    return Status(201, DocumentOut.build(document))


@router.get("/documents/{int:document_id}", url_name="documents_download", tags=["documents"])
def documents_download(request: HttpRequest, document_id: int) -> FileResponse:
    """The document's file, with its type and original name."""
    document = Document.objects.filter(pk=document_id).first()
    if document is None:
        raise NotFound(f"no document {document_id}")
    try:
        handle = document.file.open("rb")
    except FileNotFoundError:
        raise NotFound(f"the file of document {document_id} is missing") from None
    response = FileResponse(
        handle, as_attachment=True, filename=document.name, content_type=document.content_type
    )
    response["X-Content-Type-Options"] = "nosniff"
    return response


# --- the timeline and the outbox ------------------------------------------------------


@router.get(
    "/customers/{path:customer_ref}/timeline",
    response={200: TimelineOut, 404: Message},
    tags=["timeline"],
)
def timeline_get(
    request: HttpRequest, customer_ref: str, filters: Query[TimelineFilters]
) -> TimelineOut:
    """Everything that happened with the customer, newest first, a page at a time."""
    customer = _customer(customer_ref)
    timeline = customer_timeline(customer=customer, page=filters.page, size=filters.size)
    return TimelineOut(
        customer_ref=customer.ref,
        page=timeline.page,
        has_more=timeline.has_more,
        items=[TimelineEntryOut.build(e) for e in timeline.entries],
    )


@router.get("/messages", response=OutboxMessagePage, tags=["messages"])
def messages_get(
    request: HttpRequest, filters: Query[MessageFilters], page: Query[PageIn]
) -> OutboxMessagePage:
    """The outbox, newest first; by default the failed queue (failed,
    bounced or uncertain)."""
    queryset = messages_list(
        status=filters.status, customer_ref=filters.customer or "", channel=filters.channel or ""
    )
    items = list(queryset[page.offset : page.offset + page.limit])
    return OutboxMessagePage(
        count=queryset.count(),
        limit=page.limit,
        offset=page.offset,
        items=[OutboxMessageOut.build(m) for m in items],
    )


def _message(message_id: int) -> OutboxMessage:
    found = OutboxMessage.objects.select_related("customer").filter(pk=message_id).first()
    if found is None:
        raise NotFound(f"no message {message_id}")
    return found


@router.post(
    "/messages/{int:message_id}/retry",
    response={200: OutboxMessageOut, **_WRITE},
    tags=["messages"],
)
@_answers
def messages_retry(request: HttpRequest, message_id: int) -> OutboxMessageOut:
    """Queue a failed, bounced or uncertain message again, now."""
    message = message_retry(message=_message(message_id), actor_label=api_actor_label(request))
    return OutboxMessageOut.build(message)


@router.post(
    "/messages/{int:message_id}/accept",
    response={200: OutboxMessageOut, **_WRITE},
    tags=["messages"],
)
@_answers
def messages_accept(request: HttpRequest, message_id: int) -> OutboxMessageOut:
    """Record an uncertain message as sent (the recipient has it)."""
    message = message_accept_sent(
        message=_message(message_id), actor_label=api_actor_label(request)
    )
    return OutboxMessageOut.build(message)
