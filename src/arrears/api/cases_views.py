"""Cases endpoints of /api/v1/: approvals, credit status and holds, order
releases, escalation, agency placements, write-offs and recoveries.

Each validates, calls one service or selector and returns. The services
enforce who may do what (a collector's token cannot approve a placement or a
write-off above their limit, nor anything they asked for): 403 then; a
request the case does not allow answers 422 with the reason.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.http import HttpRequest, HttpResponse
from ninja import Query, Router
from ninja.errors import HttpError
from ninja.responses import Status

from arrears.cases import credit, escalation, writeoff
from arrears.cases.approval_models import Approval, Placement, WriteOff
from arrears.cases.approvals import (
    ApprovalForbidden,
    ApprovalRejected,
    approval_decide,
    approvals_waiting_for,
)
from arrears.cases.selectors import bad_debt_recovered, bad_debt_written_off
from arrears.comms.models import Task, TaskKind

from . import selectors
from .cases_schemas import (
    ApprovalFilters,
    ApprovalList,
    ApprovalOut,
    BadDebtFilters,
    BadDebtOut,
    CollectionIn,
    CollectionOut,
    CreditStatusOut,
    DecisionIn,
    HoldOut,
    HoldProposalIn,
    MessageOut,
    OrderReleaseIn,
    OrderReleaseOut,
    PlacementIn,
    PlacementOut,
    ReasonIn,
    RecoveryIn,
    RecoveryOut,
    SummaryOut,
    TaskOut,
    TurnoverWarningIn,
    WriteOffIn,
    WriteOffOut,
)
from .requests import api_actor_label, api_user
from .schemas import Message, money_text
from .selectors import NotFound

router = Router()

_WRITE: dict[int, type] = {403: Message, 404: Message, 422: Message}
_REJECTIONS = (
    ApprovalRejected,
    credit.CreditRejected,
    escalation.EscalationRejected,
    writeoff.WriteOffRejected,
)


@contextmanager
def _answers() -> Iterator[None]:
    """The services' refusals as HTTP answers: 403 not allowed, 422 not possible."""
    try:
        yield
    except ApprovalForbidden as error:
        raise HttpError(403, str(error)) from None
    except _REJECTIONS as error:
        raise HttpError(422, str(error)) from None


def _task(task_id: int | None, customer_id: int, kind: str) -> Task | None:
    if task_id is None:
        return None
    task = Task.objects.filter(pk=task_id, customer_id=customer_id, kind=kind).first()
    if task is None:
        raise NotFound(f"no {kind} task {task_id} for this customer")
    return task


def _approval(approval_id: int) -> Approval:
    found = Approval.objects.select_related("customer").filter(pk=approval_id).first()
    if found is None:
        raise NotFound(f"no approval {approval_id}")
    return found


def _placement(placement_id: int) -> Placement:
    found = Placement.objects.select_related("customer", "approval").filter(pk=placement_id).first()
    if found is None:
        raise NotFound(f"no placement {placement_id}")
    return found


def _write_off(write_off_id: int) -> WriteOff:
    found = (
        WriteOff.objects.select_related("customer", "invoice", "credit_note")
        .filter(pk=write_off_id)
        .first()
    )
    if found is None:
        raise NotFound(f"no write-off {write_off_id}")
    return found


# --- approvals ------------------------------------------------------------------


@router.get("/approvals", response=ApprovalList, tags=["approvals"])
def approvals_list(request: HttpRequest, filters: Query[ApprovalFilters]) -> ApprovalList:
    """Approval requests, newest first (at most 500); ``waiting_for_me``: the
    ones the token's user may decide now, oldest first."""
    if filters.waiting_for_me:
        items = approvals_waiting_for(api_user(request))
    else:
        queryset = Approval.objects.select_related("customer")
        if filters.status:
            queryset = queryset.filter(status=filters.status)
        items = list(queryset[:500])
    return ApprovalList(items=[ApprovalOut.build(a) for a in items])


@router.get(
    "/approvals/{int:approval_id}", response={200: ApprovalOut, 404: Message}, tags=["approvals"]
)
def approvals_get(request: HttpRequest, approval_id: int) -> ApprovalOut:
    return ApprovalOut.build(_approval(approval_id))


@router.post(
    "/approvals/{int:approval_id}/decision",
    response={200: ApprovalOut, **_WRITE},
    tags=["approvals"],
)
def approvals_decide(request: HttpRequest, approval_id: int, payload: DecisionIn) -> ApprovalOut:
    """Approve or reject. Never by the requester; the amount matrix decides
    which roles may (403 otherwise)."""
    with _answers():
        approval = approval_decide(
            approval=_approval(approval_id),
            approve=payload.approve,
            by=api_user(request),
            by_label=api_actor_label(request),
            note=payload.note,
        )
    return ApprovalOut.build(approval)


# --- credit ---------------------------------------------------------------------


@router.get(
    "/customers/{path:customer_ref}/credit-status",
    response={200: CreditStatusOut, 404: Message},
    tags=["credit"],
)
def credit_status_get(request: HttpRequest, customer_ref: str) -> CreditStatusOut:
    """For order systems: is the customer on credit hold, since when and why;
    credit limit, open and overdue amounts, available credit."""
    customer = selectors.customer_for_write(customer_ref=customer_ref)
    return CreditStatusOut.build(credit.credit_status(customer=customer))


@router.post(
    "/customers/{path:customer_ref}/credit-hold",
    response={201: HoldOut, **_WRITE},
    tags=["credit"],
)
def credit_hold_create(
    request: HttpRequest, customer_ref: str, payload: HoldProposalIn
) -> Status[HoldOut]:
    """Place a hold at once (managers)."""
    customer = selectors.customer_for_write(customer_ref=customer_ref)
    with _answers():
        hold = credit.credit_hold_place(
            customer=customer,
            reason=payload.reason,
            by=api_user(request),
            by_label=api_actor_label(request),
            task=_task(payload.task_id, customer.pk, TaskKind.CREDIT_HOLD),
        )
    return Status(201, HoldOut.build(hold))


@router.post(
    "/customers/{path:customer_ref}/credit-hold/proposal",
    response={201: ApprovalOut, **_WRITE},
    tags=["credit"],
)
def credit_hold_propose(
    request: HttpRequest, customer_ref: str, payload: HoldProposalIn
) -> Status[ApprovalOut]:
    """Ask a manager to approve a hold (anyone)."""
    customer = selectors.customer_for_write(customer_ref=customer_ref)
    with _answers():
        approval = credit.credit_hold_propose(
            customer=customer,
            reason=payload.reason,
            by=api_user(request),
            by_label=api_actor_label(request),
            task=_task(payload.task_id, customer.pk, TaskKind.CREDIT_HOLD),
        )
    return Status(201, ApprovalOut.build(approval))


@router.post(
    "/customers/{path:customer_ref}/credit-hold/release",
    response={200: HoldOut, **_WRITE},
    tags=["credit"],
)
def credit_hold_release(request: HttpRequest, customer_ref: str, payload: ReasonIn) -> HoldOut:
    """Lift the hold (managers)."""
    customer = selectors.customer_for_write(customer_ref=customer_ref)
    with _answers():
        hold = credit.credit_hold_release(
            customer=customer,
            by=api_user(request),
            by_label=api_actor_label(request),
            reason=payload.reason,
        )
    return HoldOut.build(hold)


@router.post(
    "/customers/{path:customer_ref}/order-releases",
    response={201: OrderReleaseOut, **_WRITE},
    tags=["credit"],
)
def order_releases_create(
    request: HttpRequest, customer_ref: str, payload: OrderReleaseIn
) -> Status[OrderReleaseOut]:
    """Let one order through the hold, approved by the token's user (a
    manager), usually for a partial payment."""
    customer = selectors.customer_for_write(customer_ref=customer_ref)
    with _answers():
        release = credit.order_release_record(
            customer=customer,
            order_ref=payload.order_ref,
            amount=payload.amount,
            currency=payload.currency,
            payment_ref=payload.payment_ref,
            approver=api_user(request),
            approver_label=api_actor_label(request),
            note=payload.note,
        )
    return Status(201, OrderReleaseOut.build(release))


# --- escalation -------------------------------------------------------------------


@router.get(
    "/customers/{path:customer_ref}/collection-summary",
    response={200: SummaryOut, 404: Message},
    tags=["escalation"],
)
def collection_summary_get(request: HttpRequest, customer_ref: str) -> SummaryOut:
    """Everything done so far to collect from the customer."""
    customer = selectors.customer_for_write(customer_ref=customer_ref)
    return SummaryOut.build(escalation.collection_summary(customer))


@router.post(
    "/customers/{path:customer_ref}/escalations",
    response={201: TaskOut, **_WRITE},
    tags=["escalation"],
)
def escalations_create(
    request: HttpRequest, customer_ref: str, payload: ReasonIn
) -> Status[TaskOut]:
    """Open a management escalation task carrying the summary so far."""
    customer = selectors.customer_for_write(customer_ref=customer_ref)
    with _answers():
        task = escalation.escalation_open(
            customer=customer,
            reason=payload.reason,
            by=api_user(request),
            by_label=api_actor_label(request),
        )
    return Status(201, TaskOut(id=task.pk, kind=task.kind, title=task.title, reason=task.reason))


@router.post(
    "/customers/{path:customer_ref}/turnover-warning",
    response={201: MessageOut, **_WRITE},
    tags=["escalation"],
)
def turnover_warning_create(
    request: HttpRequest, customer_ref: str, payload: TurnoverWarningIn
) -> Status[MessageOut]:
    """Queue the agency-turnover warning with its final deadline."""
    customer = selectors.customer_for_write(customer_ref=customer_ref)
    with _answers():
        message = escalation.turnover_warning_send(
            customer=customer,
            deadline=payload.deadline,
            channel=payload.channel,
            by=api_user(request),
            by_label=api_actor_label(request),
        )
    return Status(
        201,
        MessageOut(
            id=message.pk,
            channel=message.channel,
            template_key=message.template_key,
            status=message.status,
            deadline=message.deadline,
            invoice_refs=list(message.invoice_refs),
        ),
    )


@router.post(
    "/customers/{path:customer_ref}/placements",
    response={201: PlacementOut, **_WRITE},
    tags=["placements"],
)
def placements_create(
    request: HttpRequest, customer_ref: str, payload: PlacementIn
) -> Status[PlacementOut]:
    """Propose an agency or attorney placement; a manager approves it."""
    customer = selectors.customer_for_write(customer_ref=customer_ref)
    with _answers():
        placement = escalation.placement_propose(
            customer=customer,
            agency=payload.agency,
            kind=payload.kind,
            reason=payload.reason,
            fee_percent=payload.fee_percent,
            invoice_refs=payload.invoice_refs,
            task=_task(payload.task_id, customer.pk, TaskKind.AGENCY),
            by=api_user(request),
            by_label=api_actor_label(request),
        )
    return Status(201, PlacementOut.build(placement))


@router.get(
    "/placements/{int:placement_id}",
    response={200: PlacementOut, 404: Message},
    tags=["placements"],
)
def placements_get(request: HttpRequest, placement_id: int) -> PlacementOut:
    return PlacementOut.build(_placement(placement_id))


@router.post(
    "/placements/{int:placement_id}/confirm",
    response={200: PlacementOut, **_WRITE},
    tags=["placements"],
)
def placements_confirm(request: HttpRequest, placement_id: int) -> PlacementOut:
    """The approved placement was handed over: automated dunning stops."""
    with _answers():
        placement = escalation.placement_confirm(
            placement=_placement(placement_id),
            by=api_user(request),
            by_label=api_actor_label(request),
        )
    return PlacementOut.build(placement)


@router.post(
    "/placements/{int:placement_id}/recall",
    response={200: PlacementOut, **_WRITE},
    tags=["placements"],
)
def placements_recall(request: HttpRequest, placement_id: int, payload: ReasonIn) -> PlacementOut:
    """Take the debt back: the customer returns to the ordinary flow."""
    with _answers():
        placement = escalation.placement_recall(
            placement=_placement(placement_id),
            by=api_user(request),
            by_label=api_actor_label(request),
            reason=payload.reason,
        )
    return PlacementOut.build(placement)


@router.post(
    "/placements/{int:placement_id}/collections",
    response={201: CollectionOut, **_WRITE},
    tags=["placements"],
)
def placements_collect(
    request: HttpRequest, placement_id: int, payload: CollectionIn
) -> Status[CollectionOut]:
    """Money the agency reports it collected (posted as a payment) and its fee."""
    with _answers():
        collection = escalation.agency_collection_record(
            placement=_placement(placement_id),
            amount=payload.amount,
            received_on=payload.received_on,
            payment_ref=payload.payment_ref,
            fee=payload.fee,
            by=api_user(request),
            by_label=api_actor_label(request),
        )
    return Status(201, CollectionOut.build(collection))


@router.get(
    "/placements/{int:placement_id}/pack",
    response={200: None, 404: Message},
    tags=["placements"],
    openapi_extra={
        "responses": {
            200: {
                "description": "ZIP: invoices.csv, history.csv, summary.pdf",
                "content": {"application/zip": {}},
            }
        }
    },
)
def placements_pack(request: HttpRequest, placement_id: int) -> HttpResponse:
    """The placement pack for the agency."""
    placement = _placement(placement_id)
    response = HttpResponse(escalation.placement_pack(placement), content_type="application/zip")
    response["Content-Disposition"] = f'attachment; filename="placement-{placement.pk}.zip"'
    return response


# --- write-offs ---------------------------------------------------------------------


@router.post(
    "/invoices/{path:invoice_ref}/write-offs",
    response={201: WriteOffOut, **_WRITE},
    tags=["write-offs"],
)
def write_offs_create(
    request: HttpRequest, invoice_ref: str, payload: WriteOffIn
) -> Status[WriteOffOut]:
    """Propose writing off bad debt; approved along the matrix by someone else."""
    invoice = selectors.invoice_get(invoice_ref=invoice_ref)
    with _answers():
        write_off = writeoff.write_off_propose(
            invoice=invoice,
            reason=payload.reason,
            amount=payload.amount,
            task=_task(payload.task_id, invoice.customer_id, TaskKind.WRITE_OFF),
            by=api_user(request),
            by_label=api_actor_label(request),
        )
    return Status(201, WriteOffOut.build(write_off))


@router.get(
    "/write-offs/{int:write_off_id}",
    response={200: WriteOffOut, 404: Message},
    tags=["write-offs"],
)
def write_offs_get(request: HttpRequest, write_off_id: int) -> WriteOffOut:
    return WriteOffOut.build(_write_off(write_off_id))


@router.post(
    "/write-offs/{int:write_off_id}/recoveries",
    response={201: RecoveryOut, **_WRITE},
    tags=["write-offs"],
)
def write_offs_recover(
    request: HttpRequest, write_off_id: int, payload: RecoveryIn
) -> Status[RecoveryOut]:
    """Money received for written-off debt."""
    with _answers():
        recovery = writeoff.recovery_record(
            write_off=_write_off(write_off_id),
            payment_ref=payload.payment_ref,
            amount=payload.amount,
            received_on=payload.received_on,
            by=api_user(request),
            by_label=api_actor_label(request),
        )
    return Status(201, RecoveryOut.build(recovery))


@router.get("/bad-debt", response=BadDebtOut, tags=["write-offs"])
def bad_debt_get(request: HttpRequest, filters: Query[BadDebtFilters]) -> BadDebtOut:
    """Bad debt written off and recovered in a currency over a period (inclusive)."""
    c = filters.currency
    return BadDebtOut(
        currency=c,
        start=filters.start,
        end=filters.end,
        written_off=money_text(bad_debt_written_off(c, filters.start, filters.end), c),
        recovered=money_text(bad_debt_recovered(c, filters.start, filters.end), c),
    )
