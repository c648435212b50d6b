"""Serious past due: management escalation with a summary of everything done
so far, the agency-turnover warning, and placement with a collection agency
or an attorney.

A placement is proposed, approved by a manager (never by its proposer) and
then confirmed when the debt is handed over with its placement pack (a CSV
of the open invoices, a CSV of the full history, and a PDF summary). From
then on the daily run leaves the customer alone ("placed with <agency>",
``cases.selectors.holds_for``); the agency's collections are posted as
payments with its fee; a recall puts the customer back into the flow.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.db.models import Count, F, Max, Q, Sum
from django.template.loader import render_to_string
from django.utils import timezone

from arrears.comms.models import Message, MessageStatus, Task, TaskKind, TaskStatus
from arrears.comms.outbox import message_queue
from arrears.domain.money import is_currency, quantum
from arrears.ledger.models import Activity, Customer, Invoice, InvoiceStatus, Payment
from arrears.ledger.services import activity_record, documents_post
from arrears.sequencing.models import Action, ActionStatus

from .approval_models import (
    AgencyCollection,
    Approval,
    ApprovalKind,
    ApprovalStatus,
    CreditHold,
    Placement,
    PlacementKind,
    PlacementStatus,
)
from .approvals import approval_cancel, approval_handler, approval_request
from .models import Dispute, DisputeStatus, Promise

TURNOVER_WARNING = "agency-turnover-warning"
SUMMARY_MARK = "Summary so far"
ESCALATION_ACTOR = "escalation"
SENT = (MessageStatus.SENT, MessageStatus.DELIVERED)


class EscalationRejected(ValueError):
    """An escalation or placement step that cannot be taken; the message says why."""


def _label(user: User | None, label: str) -> str:
    return label or (user.get_username() if user is not None else "system")


# --- the summary ----------------------------------------------------------------


@dataclass(frozen=True)
class CollectionSummary:
    """Everything done so far to collect from a customer."""

    customer_ref: str
    as_of: date
    open: dict[str, Decimal]
    overdue: dict[str, Decimal]
    open_invoices: int
    oldest_days_past_due: int | None
    touches: dict[str, int]
    last_touch: datetime | None
    calls_done: int
    promises: dict[str, int]
    disputes: dict[str, int]
    payments: int
    paid: dict[str, Decimal]
    last_payment: date | None
    escalations: int
    on_hold: bool
    placements: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        """The summary as short lines (for a task, a page or the pack)."""

        def money(amounts: dict[str, Decimal]) -> str:
            return (
                ", ".join(f"{a.quantize(quantum(c))} {c}" for c, a in sorted(amounts.items()))
                or "nothing"
            )

        touches = ", ".join(f"{n} {kind}" for kind, n in sorted(self.touches.items()))
        return [
            f"Open: {money(self.open)} on {self.open_invoices} invoice(s); "
            f"overdue: {money(self.overdue)}"
            + (
                f"; oldest {self.oldest_days_past_due} days past due"
                if self.oldest_days_past_due
                else ""
            ),
            f"Touches sent: {touches or 'none'}"
            + (f" (last {self.last_touch:%Y-%m-%d})" if self.last_touch else "")
            + f"; calls made: {self.calls_done}",
            "Promises to pay: "
            + (", ".join(f"{n} {s}" for s, n in sorted(self.promises.items())) or "none"),
            "Disputes: "
            + (", ".join(f"{n} {s}" for s, n in sorted(self.disputes.items())) or "none"),
            f"Payments: {self.payments} ({money(self.paid)})"
            + (f", last on {self.last_payment}" if self.last_payment else ""),
            f"Escalations so far: {self.escalations}; credit hold: "
            + ("yes" if self.on_hold else "no")
            + (f"; placements: {', '.join(self.placements)}" if self.placements else ""),
        ]

    def text(self) -> str:
        return "\n".join(self.lines())


def collection_summary(customer: Customer, as_of: date | None = None) -> CollectionSummary:
    """What has been done to collect from ``customer`` up to ``as_of``
    (default today): open and overdue amounts, messages sent by channel,
    calls, promises and disputes by status, payments, escalations, hold and
    placements. A fixed number of queries."""
    today = as_of or timezone.localdate()
    open_: dict[str, Decimal] = defaultdict(Decimal)
    overdue: dict[str, Decimal] = defaultdict(Decimal)
    open_count = 0
    oldest: date | None = None
    for currency, due, amount in Invoice.objects.filter(
        customer=customer, status=InvoiceStatus.OPEN
    ).values_list("currency", "due_date", F("amount") - F("allocated")):
        open_[currency] += amount
        open_count += 1
        if due < today:
            overdue[currency] += amount
            oldest = due if oldest is None or due < oldest else oldest
    touches = dict(
        Message.objects.filter(customer=customer, status__in=SENT)
        .order_by()
        .values_list("channel")
        .annotate(n=Count("id"))
        .values_list("channel", "n")
    )
    last_touch = Message.objects.filter(customer=customer, status__in=SENT).aggregate(
        m=Max("sent_at")
    )["m"]
    tasks = Counter(
        Task.objects.filter(customer=customer)
        .filter(
            Q(kind=TaskKind.CALL, status=TaskStatus.DONE)
            | Q(kind=TaskKind.ESCALATION, status__in=[TaskStatus.OPEN, TaskStatus.DONE])
        )
        .values_list("kind", flat=True)
    )
    promises = dict(
        Promise.objects.filter(customer=customer)
        .order_by()
        .values_list("status")
        .annotate(n=Count("id"))
        .values_list("status", "n")
    )
    disputes = dict(
        Dispute.objects.filter(customer=customer)
        .order_by()
        .values_list("status")
        .annotate(n=Count("id"))
        .values_list("status", "n")
    )
    paid: dict[str, Decimal] = {}
    payments = 0
    last_payment: date | None = None
    for currency, total, n, last in (
        Payment.objects.filter(customer=customer, received_on__lte=today)
        .order_by()
        .values_list("currency")
        .annotate(total=Sum("amount"), n=Count("id"), last=Max("received_on"))
        .values_list("currency", "total", "n", "last")
    ):
        paid[currency] = total
        payments += n
        last_payment = last if last_payment is None or last > last_payment else last_payment
    return CollectionSummary(
        customer_ref=customer.ref,
        as_of=today,
        open=dict(open_),
        overdue=dict(overdue),
        open_invoices=open_count,
        oldest_days_past_due=(today - oldest).days if oldest else None,
        touches=touches,
        last_touch=last_touch,
        calls_done=tasks.get(TaskKind.CALL, 0),
        promises=promises,
        disputes={
            ("open" if s == DisputeStatus.OPEN else s): n for s, n in sorted(disputes.items())
        },
        payments=payments,
        paid=paid,
        last_payment=last_payment,
        escalations=tasks.get(TaskKind.ESCALATION, 0),
        on_hold=CreditHold.objects.filter(customer=customer, released_at__isnull=True).exists(),
        placements=[
            f"{p.agency} ({p.status})" for p in Placement.objects.filter(customer=customer)
        ],
    )


def _with_summary(reason: str, customer: Customer) -> str:
    summary = collection_summary(customer).text()
    return f"{reason.strip()}\n\n{SUMMARY_MARK}:\n{summary}".strip()


@transaction.atomic
def escalation_open(
    *,
    customer: Customer,
    reason: str,
    by: User | None,
    assign_to: User | None = None,
    by_label: str = "",
) -> Task:
    """Open a management escalation task whose reason carries the summary of
    everything done so far. Raises EscalationRejected without a reason."""
    if not reason.strip():
        raise EscalationRejected("say why the account is escalated")
    label = _label(by, by_label)
    now = timezone.now()
    task = Task.objects.create(
        kind=TaskKind.ESCALATION,
        customer=customer,
        assigned_to=assign_to,
        title="Management escalation",
        reason=_with_summary(reason, customer),
        due_at=now,
        created_at=now,
    )
    activity_record(
        actor_label=label,
        actor=by,
        verb="escalated",
        subject_type="task",
        subject_ref=str(task.pk),
        customer=customer,
        why=reason.strip(),
    )
    return task


def escalations_summarize() -> int:
    """Add the summary so far to open escalation tasks that have none (the
    policy's ``escalation`` steps open them without). Returns how many."""
    done = 0
    for task in (
        Task.objects.filter(kind=TaskKind.ESCALATION, status=TaskStatus.OPEN)
        .exclude(reason__contains=SUMMARY_MARK)
        .select_related("customer")[:200]
    ):
        done += Task.objects.filter(pk=task.pk, reason=task.reason).update(
            reason=_with_summary(task.reason, task.customer)
        )
    return done


@transaction.atomic
def turnover_warning_send(
    *,
    customer: Customer,
    deadline: date,
    by: User | None,
    channel: str = "letter",
    by_label: str = "",
) -> Message:
    """Queue the agency-turnover warning (template ``agency-turnover-warning``)
    naming the open invoices and the final ``deadline``. Once per customer,
    deadline and channel."""
    label = _label(by, by_label)
    if deadline <= timezone.localdate():
        raise EscalationRejected("the final deadline must be in the future")
    refs = list(
        Invoice.objects.filter(customer=customer, status=InvoiceStatus.OPEN)
        .order_by("due_date", "ref")
        .values_list("ref", flat=True)
    )
    if not refs:
        raise EscalationRejected(f"customer {customer.ref} owes nothing")
    message = message_queue(
        customer=customer,
        channel=channel,
        template_key=TURNOVER_WARNING,
        invoice_refs=refs,
        actor_label=label,
        idempotency_key=f"turnover-warning:{customer.pk}:{deadline.isoformat()}:{channel}",
        deadline=deadline,
    )
    activity_record(
        actor_label=label,
        actor=by,
        verb="turnover warning queued",
        subject_type="message",
        subject_ref=str(message.pk),
        customer=customer,
        why=f"final deadline {deadline.isoformat()} before agency turnover",
        data={"channel": channel, "invoice_refs": refs},
    )
    return message


# --- placements -------------------------------------------------------------------


def _placed_invoices(customer: Customer, refs: list[str] | None) -> list[Invoice]:
    invoices = Invoice.objects.filter(customer=customer, status=InvoiceStatus.OPEN)
    if refs:
        found = list(invoices.filter(ref__in=refs))
        missing = sorted(set(refs) - {i.ref for i in found})
        if missing:
            raise EscalationRejected(f"not open invoices of {customer.ref}: {', '.join(missing)}")
        return found
    return list(invoices)


@transaction.atomic
def placement_propose(
    *,
    customer: Customer,
    agency: str,
    reason: str,
    by: User | None,
    kind: str = PlacementKind.AGENCY,
    fee_percent: Decimal = Decimal(0),
    invoice_refs: list[str] | None = None,
    task: Task | None = None,
    by_label: str = "",
) -> Placement:
    """Propose handing open invoices (default: all) to an agency or attorney
    and ask a manager to approve. The invoices must share one currency.
    Closes ``task`` (the policy's agency proposal). Raises EscalationRejected
    for a customer already placed, no open invoices, mixed currencies."""
    if kind not in PlacementKind.values:
        raise EscalationRejected(f"{kind!r} is not agency or attorney")
    if not agency.strip() or not reason.strip():
        raise EscalationRejected("name the agency and say why")
    if not Decimal(0) <= fee_percent <= 100:
        raise EscalationRejected("the fee is a percentage from 0 to 100")
    invoices = _placed_invoices(customer, invoice_refs)
    if not invoices:
        raise EscalationRejected(f"customer {customer.ref} has no open invoices to place")
    currencies = {i.currency for i in invoices}
    if len(currencies) > 1:
        raise EscalationRejected("place invoices of one currency at a time (name invoice_refs)")
    currency = currencies.pop()
    amount = sum((i.open_amount for i in invoices), Decimal(0)).quantize(quantum(currency))
    label = _label(by, by_label)
    now = timezone.now()
    try:
        with transaction.atomic():
            placement = Placement.objects.create(
                customer=customer,
                kind=kind,
                agency=agency.strip(),
                invoice_refs=sorted(i.ref for i in invoices),
                amount=amount,
                currency=currency,
                fee_percent=fee_percent,
                reason=reason.strip(),
                proposed_by=by,
                proposed_by_label=label,
                proposed_at=now,
            )
    except IntegrityError:
        raise EscalationRejected(
            f"customer {customer.ref} already has a placement proposed or in force"
        ) from None
    activity_record(
        actor_label=label,
        actor=by,
        verb="placement proposed",
        subject_type="placement",
        subject_ref=str(placement.pk),
        customer=customer,
        why=reason.strip(),
        data={
            "agency": placement.agency,
            "kind": kind,
            "amount": str(amount),
            "currency": currency,
        },
    )
    approval = approval_request(
        kind=ApprovalKind.AGENCY_PLACEMENT,
        customer=customer,
        amount=amount,
        currency=currency,
        subject=placement,
        requested_by=by,
        requested_by_label=label,
        reason=f"place {amount} {currency} with {placement.agency} ({kind}): {reason.strip()}",
    )
    Placement.objects.filter(pk=placement.pk).update(approval=approval)
    placement.approval = approval
    if task is not None:
        Task.objects.filter(pk=task.pk, status=TaskStatus.OPEN).update(
            status=TaskStatus.DONE,
            completed_at=now,
            completed_by=by,
            note=f"placement {placement.pk} proposed",
        )
    return placement


@approval_handler(ApprovalKind.AGENCY_PLACEMENT)
def _placement_decided(approval: Approval, by: User | None) -> None:
    status = (
        PlacementStatus.APPROVED
        if approval.status == ApprovalStatus.APPROVED
        else PlacementStatus.REJECTED
    )
    ended = None if status == PlacementStatus.APPROVED else timezone.now()
    Placement.objects.filter(pk=approval.subject_ref, status=PlacementStatus.PROPOSED).update(
        status=status, ended_at=ended, end_reason=approval.decision_note if ended else ""
    )


@transaction.atomic
def placement_confirm(*, placement: Placement, by: User | None, by_label: str = "") -> Placement:
    """Record that the approved placement was handed over: from now on the
    customer gets no automated dunning, and planned actions are cancelled
    (their queued messages are not sent). Raises EscalationRejected unless
    approved."""
    label = _label(by, by_label)
    now = timezone.now()
    if not Placement.objects.filter(pk=placement.pk, status=PlacementStatus.APPROVED).update(
        status=PlacementStatus.PLACED, placed_at=now, placed_by_label=label
    ):
        raise EscalationRejected("only an approved placement can be handed over")
    placement.refresh_from_db()
    cancelled = Action.objects.filter(
        customer_id=placement.customer_id, status=ActionStatus.PLANNED
    ).update(status=ActionStatus.CANCELLED)
    activity_record(
        actor_label=label,
        actor=by,
        verb="placed with agency",
        subject_type="placement",
        subject_ref=str(placement.pk),
        customer=placement.customer,
        why=f"placed with {placement.agency}: automated dunning stops",
        data={"planned_actions_cancelled": cancelled, "invoice_refs": placement.invoice_refs},
    )
    return placement


@transaction.atomic
def agency_collection_record(
    *,
    placement: Placement,
    amount: Decimal,
    received_on: date,
    payment_ref: str,
    by: User | None,
    fee: Decimal | None = None,
    by_label: str = "",
) -> AgencyCollection:
    """Post money the agency reports it collected as a payment (applied to
    the placed invoices, oldest due first) and record the agency's fee
    (default: its percentage). Raises EscalationRejected."""
    if placement.status != PlacementStatus.PLACED:
        raise EscalationRejected("the customer is not placed with an agency")
    currency = placement.currency
    if amount <= 0 or not is_currency(currency):
        raise EscalationRejected("the amount collected must be positive")
    amount = amount.quantize(quantum(currency))
    if fee is None:
        fee = (amount * placement.fee_percent / 100).quantize(quantum(currency))
    if not Decimal(0) <= fee <= amount:
        raise EscalationRejected("the fee must be between 0 and the amount collected")
    if Payment.objects.filter(ref=payment_ref).exists():
        raise EscalationRejected(f"payment {payment_ref} exists already")
    label = _label(by, by_label)
    open_refs = list(
        Invoice.objects.filter(
            customer_id=placement.customer_id,
            ref__in=placement.invoice_refs,
            status=InvoiceStatus.OPEN,
        )
        .order_by("due_date", "ref")
        .values_list("ref", flat=True)
    )
    payment = Payment(
        ref=payment_ref,
        customer_id=placement.customer_id,
        received_on=received_on,
        amount=amount,
        currency=currency,
        # One placed invoice named settles only that one; with several, the
        # ledger applies the payment oldest due first.
        invoice_ref=open_refs[0] if len(open_refs) == 1 else "",
    )
    documents_post([payment])
    collection = AgencyCollection.objects.create(
        placement=placement,
        payment=payment,
        amount=amount,
        fee=fee,
        currency=currency,
        reported_on=received_on,
        recorded_by_label=label,
        created_at=timezone.now(),
    )
    activity_record(
        actor_label=label,
        actor=by,
        verb="agency collection",
        subject_type="placement",
        subject_ref=str(placement.pk),
        customer=placement.customer,
        why=f"{placement.agency} collected {amount} {currency} (fee {fee})",
        data={"payment_ref": payment_ref, "amount": str(amount), "fee": str(fee)},
    )
    return collection


@transaction.atomic
def placement_recall(
    *, placement: Placement, by: User | None, reason: str, by_label: str = ""
) -> Placement:
    """Take the debt back from the agency (or withdraw a proposal): the
    customer returns to the ordinary flow. Raises EscalationRejected."""
    if not reason.strip():
        raise EscalationRejected("say why the placement is recalled")
    label = _label(by, by_label)
    if not Placement.objects.filter(
        pk=placement.pk,
        status__in=[PlacementStatus.PROPOSED, PlacementStatus.APPROVED, PlacementStatus.PLACED],
    ).update(status=PlacementStatus.RECALLED, ended_at=timezone.now(), end_reason=reason.strip()):
        raise EscalationRejected("the placement is not in force")
    if placement.approval is not None:
        approval_cancel(approval=placement.approval, by=by, by_label=label, reason=reason.strip())
    activity_record(
        actor_label=label,
        actor=by,
        verb="placement recalled",
        subject_type="placement",
        subject_ref=str(placement.pk),
        customer=placement.customer,
        why=reason.strip(),
    )
    placement.refresh_from_db()
    return placement


# --- the placement pack -------------------------------------------------------------


def placement_invoices_csv(placement: Placement) -> str:
    """The placed invoices with what is open on each (CSV)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(
        ["invoice_ref", "order_ref", "issue_date", "due_date", "amount", "open", "currency"]
    )
    for inv in Invoice.objects.filter(
        customer_id=placement.customer_id, ref__in=placement.invoice_refs
    ).order_by("due_date", "ref"):
        q = quantum(inv.currency)
        writer.writerow(
            [
                inv.ref,
                inv.order_ref,
                inv.issue_date.isoformat(),
                inv.due_date.isoformat(),
                inv.amount.quantize(q),
                inv.open_amount.quantize(q),
                inv.currency,
            ]
        )
    return out.getvalue()


def customer_history_rows(customer: Customer) -> list[dict[str, Any]]:
    """The customer's full history, oldest first: invoices, payments and
    messages from the ledger and outbox, and every activity-log entry."""
    rows: list[dict[str, Any]] = []
    for inv in Invoice.objects.filter(customer=customer):
        rows.append(
            {
                "date": inv.issue_date.isoformat(),
                "what": "invoice",
                "ref": inv.ref,
                "detail": f"due {inv.due_date.isoformat()}",
                "amount": str(inv.amount.quantize(quantum(inv.currency))),
                "currency": inv.currency,
                "by": "",
            }
        )
    for pay in Payment.objects.filter(customer=customer):
        rows.append(
            {
                "date": pay.received_on.isoformat(),
                "what": "payment",
                "ref": pay.ref,
                "detail": f"for {pay.invoice_ref}" if pay.invoice_ref else "",
                "amount": str(pay.amount.quantize(quantum(pay.currency))),
                "currency": pay.currency,
                "by": "",
            }
        )
    for msg in Message.objects.filter(customer=customer, status__in=SENT):
        rows.append(
            {
                "date": (msg.sent_at or msg.created_at).date().isoformat(),
                "what": f"{msg.channel} sent",
                "ref": str(msg.pk),
                "detail": msg.subject or msg.template_key,
                "amount": "",
                "currency": "",
                "by": msg.created_by,
            }
        )
    for act in Activity.objects.filter(customer=customer).order_by("at", "id"):
        rows.append(
            {
                "date": act.at.date().isoformat(),
                "what": act.verb,
                "ref": f"{act.subject_type} {act.subject_ref}",
                "detail": act.why,
                "amount": "",
                "currency": "",
                "by": act.actor_label,
            }
        )
    rows.sort(key=lambda r: r["date"])
    return rows


def customer_history_csv(customer: Customer) -> str:
    out = io.StringIO()
    fields = ["date", "what", "ref", "detail", "amount", "currency", "by"]
    writer = csv.DictWriter(out, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    writer.writerows(customer_history_rows(customer))
    return out.getvalue()


def _no_fetch(url: str, *args: Any, **kwargs: Any) -> Any:
    raise ValueError(f"the placement summary loads no resources ({url[:60]!r})")


def placement_summary_pdf(placement: Placement) -> bytes:
    """A PDF summary for the agency: the debtor, the placed invoices, what
    was done so far and the history (WeasyPrint)."""
    from weasyprint import HTML

    customer = placement.customer
    invoices = list(
        Invoice.objects.filter(customer=customer, ref__in=placement.invoice_refs).order_by(
            "due_date", "ref"
        )
    )
    html = render_to_string(
        "cases/placement_summary.html",
        {
            "placement": placement,
            "customer": customer,
            "contacts": list(customer.contacts.filter(is_active=True)),
            "invoices": invoices,
            "summary": collection_summary(customer).lines(),
            "history": customer_history_rows(customer),
            "today": timezone.localdate(),
        },
    )
    pdf = HTML(string=html, url_fetcher=_no_fetch).write_pdf()
    assert pdf is not None  # without a target, write_pdf returns the bytes
    return bytes(pdf)


def placement_pack(placement: Placement) -> bytes:
    """The placement pack: a ZIP of invoices.csv, history.csv and summary.pdf."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as pack:
        pack.writestr("invoices.csv", placement_invoices_csv(placement))
        pack.writestr("history.csv", customer_history_csv(placement.customer))
        pack.writestr("summary.pdf", placement_summary_pdf(placement))
    return out.getvalue()
