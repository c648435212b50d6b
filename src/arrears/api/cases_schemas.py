"""Shapes of the cases endpoints: approvals, credit status and holds, order
releases, escalation, placements, write-offs and recoveries.

Amounts travel as decimal strings in the currency's minor units; dates ISO.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Literal

from ninja import Field, Schema

from arrears.cases.approval_models import (
    AgencyCollection,
    Approval,
    CreditHold,
    OrderRelease,
    Placement,
    Recovery,
    WriteOff,
)
from arrears.cases.credit import CreditStatus
from arrears.cases.escalation import CollectionSummary

from .schemas import money_text


def _money_map(amounts: dict[str, Decimal]) -> dict[str, str]:
    return {c: money_text(a, c) for c, a in sorted(amounts.items())}


# --- approvals ------------------------------------------------------------------


class ApprovalOut(Schema):
    id: int
    kind: str
    customer_ref: str
    amount: str
    currency: str
    subject: str = Field(description="what is to be approved, as `type:id`")
    reason: str
    required_role: str = Field(description="the lowest role of the matrix that may decide")
    status: str
    requested_by: str
    requested_at: datetime
    decided_by: str | None
    decided_at: datetime | None
    decision_note: str | None

    @classmethod
    def build(cls, a: Approval) -> ApprovalOut:
        return cls(
            id=a.pk,
            kind=a.kind,
            customer_ref=a.customer.ref,
            amount=money_text(a.amount, a.currency),
            currency=a.currency,
            subject=f"{a.subject_type}:{a.subject_ref}",
            reason=a.reason,
            required_role=a.required_role,
            status=a.status,
            requested_by=a.requested_by_label,
            requested_at=a.requested_at,
            decided_by=a.decided_by_label or None,
            decided_at=a.decided_at,
            decision_note=a.decision_note or None,
        )


class ApprovalList(Schema):
    items: list[ApprovalOut]


class ApprovalFilters(Schema):
    status: Literal["pending", "approved", "rejected", "cancelled"] | None = None
    waiting_for_me: bool = Field(False, description="only requests the token's user may decide now")


class DecisionIn(Schema):
    approve: bool
    note: str = Field("", description="why; required to reject")


# --- credit ---------------------------------------------------------------------


class CreditStatusOut(Schema):
    customer_ref: str
    held: bool
    since: datetime | None = Field(description="when the hold in force was placed")
    reason: str | None
    rule: str | None = Field(description="days_past_due, over_credit_limit, broken_promise, …")
    credit_limit: str | None
    currency: str | None = Field(description="the credit limit's currency")
    open: dict[str, str] = Field(description="open amount per currency")
    overdue: dict[str, str] = Field(description="open amount past due per currency")
    available_credit: str | None = Field(
        description="credit limit less what is open in its currency (null: no limit)"
    )

    @classmethod
    def build(cls, s: CreditStatus) -> CreditStatusOut:
        return cls(
            customer_ref=s.customer_ref,
            held=s.held,
            since=s.since,
            reason=s.reason or None,
            rule=s.rule or None,
            credit_limit=None if s.credit_limit is None else money_text(s.credit_limit, s.currency),
            currency=s.currency or None,
            open=_money_map(s.open),
            overdue=_money_map(s.overdue),
            available_credit=None if s.available is None else money_text(s.available, s.currency),
        )


class ReasonIn(Schema):
    reason: str = Field(min_length=1)


class HoldProposalIn(Schema):
    reason: str = Field(min_length=1)
    task_id: int | None = Field(None, description="the policy's credit-hold task it answers")


class HoldOut(Schema):
    id: int
    customer_ref: str
    rule: str
    reason: str
    placed_at: datetime
    placed_by: str
    released_at: datetime | None
    released_by: str | None

    @classmethod
    def build(cls, h: CreditHold) -> HoldOut:
        return cls(
            id=h.pk,
            customer_ref=h.customer.ref,
            rule=h.rule,
            reason=h.reason,
            placed_at=h.placed_at,
            placed_by=h.placed_by_label,
            released_at=h.released_at,
            released_by=h.released_by_label or None,
        )


class OrderReleaseIn(Schema):
    order_ref: str = Field(min_length=1, max_length=64)
    amount: Decimal = Field(gt=0)
    currency: str = Field(min_length=3, max_length=3)
    payment_ref: str = Field("", description="the partial payment traded for the release")
    note: str = ""


class OrderReleaseOut(Schema):
    id: int
    customer_ref: str
    order_ref: str
    amount: str
    currency: str
    payment_ref: str | None
    approver: str
    created_at: datetime

    @classmethod
    def build(cls, r: OrderRelease) -> OrderReleaseOut:
        return cls(
            id=r.pk,
            customer_ref=r.customer.ref,
            order_ref=r.order_ref,
            amount=money_text(r.amount, r.currency),
            currency=r.currency,
            payment_ref=r.payment.ref if r.payment else None,
            approver=r.approver_label,
            created_at=r.created_at,
        )


# --- escalation and placements ------------------------------------------------------


class SummaryOut(Schema):
    customer_ref: str
    as_of: date
    open: dict[str, str]
    overdue: dict[str, str]
    open_invoices: int
    oldest_days_past_due: int | None
    touches: dict[str, int] = Field(description="messages sent per channel")
    calls_done: int
    promises: dict[str, int]
    disputes: dict[str, int]
    payments: int
    paid: dict[str, str]
    last_payment: date | None
    escalations: int
    on_hold: bool
    lines: list[str] = Field(description="the same, as text")

    @classmethod
    def build(cls, s: CollectionSummary) -> SummaryOut:
        return cls(
            customer_ref=s.customer_ref,
            as_of=s.as_of,
            open=_money_map(s.open),
            overdue=_money_map(s.overdue),
            open_invoices=s.open_invoices,
            oldest_days_past_due=s.oldest_days_past_due,
            touches=s.touches,
            calls_done=s.calls_done,
            promises=s.promises,
            disputes=s.disputes,
            payments=s.payments,
            paid=_money_map(s.paid),
            last_payment=s.last_payment,
            escalations=s.escalations,
            on_hold=s.on_hold,
            lines=s.lines(),
        )


class TaskOut(Schema):
    id: int
    kind: str
    title: str
    reason: str


class TurnoverWarningIn(Schema):
    deadline: date
    channel: Literal["letter", "email"] = "letter"


class MessageOut(Schema):
    id: int
    channel: str
    template_key: str
    status: str
    deadline: date | None
    invoice_refs: list[str]


class PlacementIn(Schema):
    agency: str = Field(min_length=1, max_length=200)
    kind: Literal["agency", "attorney"] = "agency"
    reason: str = Field(min_length=1)
    fee_percent: Decimal = Field(Decimal(0), ge=0, le=100)
    invoice_refs: list[str] | None = Field(None, description="default: every open invoice")
    task_id: int | None = Field(None, description="the policy's agency task it answers")


class CollectionOut(Schema):
    payment_ref: str
    amount: str
    fee: str
    reported_on: date

    @classmethod
    def build(cls, c: AgencyCollection) -> CollectionOut:
        return cls(
            payment_ref=c.payment.ref,
            amount=money_text(c.amount, c.currency),
            fee=money_text(c.fee, c.currency),
            reported_on=c.reported_on,
        )


class PlacementOut(Schema):
    id: int
    customer_ref: str
    kind: str
    agency: str
    status: str
    invoice_refs: list[str]
    amount: str
    currency: str
    fee_percent: str
    reason: str
    approval_id: int | None
    proposed_by: str
    placed_at: datetime | None
    ended_at: datetime | None
    collections: list[CollectionOut]

    @classmethod
    def build(cls, p: Placement) -> PlacementOut:
        return cls(
            id=p.pk,
            customer_ref=p.customer.ref,
            kind=p.kind,
            agency=p.agency,
            status=p.status,
            invoice_refs=list(p.invoice_refs),
            amount=money_text(p.amount, p.currency),
            currency=p.currency,
            fee_percent=f"{p.fee_percent:f}",
            reason=p.reason,
            approval_id=p.approval_id,
            proposed_by=p.proposed_by_label,
            placed_at=p.placed_at,
            ended_at=p.ended_at,
            collections=[
                CollectionOut.build(c) for c in p.collections.select_related("payment").all()
            ],
        )


class CollectionIn(Schema):
    payment_ref: str = Field(min_length=1, max_length=64)
    amount: Decimal = Field(gt=0)
    received_on: date
    fee: Decimal | None = Field(None, ge=0, description="default: the placement's percentage")


# --- write-offs ---------------------------------------------------------------------


class WriteOffIn(Schema):
    reason: str = Field(min_length=1)
    amount: Decimal | None = Field(None, gt=0, description="default: all that is open")
    task_id: int | None = Field(None, description="the policy's write-off task it answers")


class RecoveryOut(Schema):
    payment_ref: str
    amount: str
    received_on: date

    @classmethod
    def build(cls, r: Recovery) -> RecoveryOut:
        return cls(
            payment_ref=r.payment.ref,
            amount=money_text(r.amount, r.currency),
            received_on=r.received_on,
        )


class WriteOffOut(Schema):
    id: int
    customer_ref: str
    invoice_ref: str
    amount: str
    currency: str
    reason: str
    status: str
    approval_id: int | None
    credit_note_ref: str | None
    proposed_by: str
    written_off_on: date | None
    recoveries: list[RecoveryOut]

    @classmethod
    def build(cls, w: WriteOff) -> WriteOffOut:
        return cls(
            id=w.pk,
            customer_ref=w.customer.ref,
            invoice_ref=w.invoice.ref,
            amount=money_text(w.amount, w.currency),
            currency=w.currency,
            reason=w.reason,
            status=w.status,
            approval_id=w.approval_id,
            credit_note_ref=w.credit_note.ref if w.credit_note else None,
            proposed_by=w.proposed_by_label,
            written_off_on=w.written_off_on,
            recoveries=[RecoveryOut.build(r) for r in w.recoveries.select_related("payment").all()],
        )


class RecoveryIn(Schema):
    payment_ref: str = Field(min_length=1, max_length=64)
    amount: Decimal = Field(gt=0)
    received_on: date | None = Field(
        None, description="for a payment not yet in the ledger: record it with this date"
    )


class BadDebtFilters(Schema):
    currency: str = Field(min_length=3, max_length=3)
    start: date
    end: date


class BadDebtOut(Schema):
    currency: str
    start: date
    end: date
    written_off: str
    recovered: str
