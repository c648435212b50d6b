"""Credit hold and order release.

A hold stops new orders, not dunning: order systems read it at
``GET /api/v1/customers/{ref}/credit-status`` and hear of every change
through the webhook (``cases.webhooks``). Holds come from three places:

- the policy's ``credit_hold`` step opens a task; a manager turns it into a
  hold at once, or anyone turns it into an approval request;
- ``credit_rules_review`` proposes holds for customers past a number of days
  overdue, over their credit limit, or with a recently broken promise;
- a manager places one by hand.

Placing or releasing a hold needs a manager (or an approved request); an
order let through a hold (often traded for a partial payment) is recorded
with its approver and the payment.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.db.models import F, Min, Q, Sum
from django.utils import timezone

from arrears.comms.models import Task, TaskKind, TaskStatus
from arrears.domain.money import is_currency, quantum
from arrears.ledger.models import Customer, Invoice, InvoiceStatus, Payment
from arrears.ledger.services import activity_record

from .approval_models import Approval, ApprovalKind, ApprovalStatus, CreditHold, OrderRelease
from .approvals import (
    MANAGER,
    ApprovalForbidden,
    ApprovalRejected,
    _rank,
    approval_handler,
    approval_request,
    approver_rank,
)
from .models import Promise, PromiseStatus
from .webhooks import webhook_enqueue

RULES = ("days_past_due", "over_credit_limit", "broken_promise", "policy", "manual", "approved")


class CreditRejected(ValueError):
    """A hold or release that cannot be made; the message says why."""


def _label(user: User | None, label: str) -> str:
    return label or (user.get_username() if user is not None else "system")


def _manager_check(user: User | None, what: str) -> None:
    if approver_rank(user) < _rank(MANAGER):
        raise ApprovalForbidden(f"only a manager may {what}")


# --- reads --------------------------------------------------------------------


@dataclass(frozen=True)
class CreditStatus:
    """A customer's credit position today. ``available`` is the credit limit
    less what is open in the limit's currency (None without a limit, or when
    the limit's currency is unknown)."""

    customer_ref: str
    held: bool
    since: datetime | None
    reason: str
    rule: str
    credit_limit: Decimal | None
    currency: str
    open: dict[str, Decimal] = field(default_factory=dict)
    overdue: dict[str, Decimal] = field(default_factory=dict)
    available: Decimal | None = None

    def as_dict(self) -> dict[str, object]:
        def text(amount: Decimal | None, currency: str) -> str | None:
            if amount is None:
                return None
            return str(amount.quantize(quantum(currency))) if currency else str(amount)

        return {
            "customer_ref": self.customer_ref,
            "held": self.held,
            "since": self.since.isoformat() if self.since else None,
            "reason": self.reason,
            "rule": self.rule,
            "credit_limit": text(self.credit_limit, self.currency),
            "currency": self.currency,
            "open": {c: text(a, c) for c, a in sorted(self.open.items())},
            "overdue": {c: text(a, c) for c, a in sorted(self.overdue.items())},
            "available_credit": text(self.available, self.currency),
        }


def active_hold(customer: Customer) -> CreditHold | None:
    """The customer's hold in force, or None."""
    return CreditHold.objects.filter(customer=customer, released_at__isnull=True).first()


def credit_status(*, customer: Customer, as_of: date | None = None) -> CreditStatus:
    """The customer's hold and balances (three queries). Overdue: open
    invoices due before ``as_of`` (default today)."""
    today = as_of or timezone.localdate()
    hold = active_hold(customer)
    open_: dict[str, Decimal] = defaultdict(Decimal)
    overdue: dict[str, Decimal] = defaultdict(Decimal)
    for currency, total, late in (
        Invoice.objects.filter(customer=customer, status=InvoiceStatus.OPEN)
        .order_by()
        .values_list("currency")
        .annotate(
            total=Sum(F("amount") - F("allocated")),
            late=Sum(F("amount") - F("allocated"), filter=Q(due_date__lt=today)),
        )
        .values_list("currency", "total", "late")
    ):
        open_[currency] += total or 0
        if late:
            overdue[currency] += late
    currency = customer.currency or (next(iter(open_)) if len(open_) == 1 else "")
    available = None
    if customer.credit_limit is not None and currency:
        available = customer.credit_limit - open_.get(currency, Decimal(0))
    return CreditStatus(
        customer_ref=customer.ref,
        held=hold is not None,
        since=hold.placed_at if hold else None,
        reason=hold.reason if hold else "",
        rule=hold.rule if hold else "",
        credit_limit=customer.credit_limit,
        currency=currency,
        open=dict(open_),
        overdue=dict(overdue),
        available=available,
    )


def _notify(event: str, customer: Customer, now: datetime, **extra: object) -> None:
    payload = {"customer_ref": customer.ref, **extra, "credit_status": None}
    payload["credit_status"] = credit_status(customer=customer).as_dict()
    webhook_enqueue(event=event, customer=customer, payload=payload, now=now)


def _task_close(task: Task | None, by: User | None, note: str, now: datetime) -> None:
    if task is not None:
        Task.objects.filter(pk=task.pk, status=TaskStatus.OPEN).update(
            status=TaskStatus.DONE, completed_at=now, completed_by=by, note=note
        )


# --- holds --------------------------------------------------------------------


def _open_total(customer: Customer) -> tuple[Decimal, str]:
    status = credit_status(customer=customer)
    currency = status.currency or customer.currency or "EUR"
    return status.open.get(currency, Decimal(0)), currency


@transaction.atomic
def credit_hold_place(
    *,
    customer: Customer,
    reason: str,
    by: User | None,
    rule: str = "manual",
    approval: Approval | None = None,
    task: Task | None = None,
    by_label: str = "",
) -> CreditHold:
    """Hold the customer's new orders. ``by`` must be a manager unless an
    approved ``approval`` is given. Closes ``task`` (a policy proposal).
    Raises CreditRejected when already held or without a reason."""
    if approval is None or approval.status != ApprovalStatus.APPROVED:
        _manager_check(by, "place a credit hold")
    if not reason.strip():
        raise CreditRejected("say why the customer is held")
    if rule not in RULES:
        raise CreditRejected(f"{rule!r} is not a hold rule ({', '.join(RULES)})")
    label = _label(by, by_label)
    now = timezone.now()
    try:
        with transaction.atomic():
            hold = CreditHold.objects.create(
                customer=customer,
                rule=rule,
                reason=reason.strip(),
                approval=approval,
                placed_at=now,
                placed_by=by,
                placed_by_label=label,
            )
    except IntegrityError:
        raise CreditRejected(f"customer {customer.ref} is already on credit hold") from None
    activity_record(
        actor_label=label,
        actor=by,
        verb="credit hold placed",
        subject_type="credit_hold",
        subject_ref=str(hold.pk),
        customer=customer,
        why=reason.strip(),
        data={"rule": rule, "approval": approval.pk if approval else None},
    )
    _task_close(task, by, f"credit hold {hold.pk} placed", now)
    _notify("credit_hold.placed", customer, now)
    return hold


@transaction.atomic
def credit_hold_propose(
    *,
    customer: Customer,
    reason: str,
    by: User | None,
    task: Task | None = None,
    by_label: str = "",
) -> Approval:
    """Ask a manager to approve a hold (the amount is what is open). Closes
    ``task``. Raises ApprovalRejected when one already waits, CreditRejected
    when the customer is held already."""
    if active_hold(customer) is not None:
        raise CreditRejected(f"customer {customer.ref} is already on credit hold")
    amount, currency = _open_total(customer)
    approval = approval_request(
        kind=ApprovalKind.CREDIT_HOLD,
        customer=customer,
        amount=amount,
        currency=currency,
        subject=customer,
        requested_by=by,
        requested_by_label=by_label,
        reason=reason,
    )
    _task_close(task, by, f"approval {approval.pk} requested", timezone.now())
    return approval


@approval_handler(ApprovalKind.CREDIT_HOLD)
def _hold_decided(approval: Approval, by: User | None) -> None:
    if approval.status == ApprovalStatus.APPROVED and active_hold(approval.customer) is None:
        credit_hold_place(
            customer=approval.customer,
            reason=approval.reason,
            by=by,
            rule="approved",
            approval=approval,
        )


@transaction.atomic
def credit_hold_release(
    *, customer: Customer, by: User | None, reason: str, by_label: str = ""
) -> CreditHold:
    """Lift the customer's hold (a manager). Raises CreditRejected when not held."""
    _manager_check(by, "release a credit hold")
    if not reason.strip():
        raise CreditRejected("say why the hold is released")
    label = _label(by, by_label)
    now = timezone.now()
    hold = (
        CreditHold.objects.select_for_update()
        .filter(customer=customer, released_at__isnull=True)
        .first()
    )
    if hold is None:
        raise CreditRejected(f"customer {customer.ref} is not on credit hold")
    CreditHold.objects.filter(pk=hold.pk).update(
        released_at=now, released_by=by, released_by_label=label, release_reason=reason.strip()
    )
    activity_record(
        actor_label=label,
        actor=by,
        verb="credit hold released",
        subject_type="credit_hold",
        subject_ref=str(hold.pk),
        customer=customer,
        why=reason.strip(),
    )
    _notify("credit_hold.released", customer, now)
    hold.refresh_from_db()
    return hold


@transaction.atomic
def order_release_record(
    *,
    customer: Customer,
    order_ref: str,
    amount: Decimal,
    currency: str,
    payment_ref: str,
    approver: User,
    note: str = "",
    approver_label: str = "",
) -> OrderRelease:
    """Let one order through the customer's hold, approved by ``approver`` (a
    manager), usually in exchange for the partial payment ``payment_ref``
    (blank: none). The hold stays. Raises CreditRejected when the customer
    is not held, the payment is not theirs, or the order was released."""
    _manager_check(approver, "release an order on credit hold")
    hold = active_hold(customer)
    if hold is None:
        raise CreditRejected(f"customer {customer.ref} is not on credit hold")
    if not order_ref.strip():
        raise CreditRejected("name the order to release")
    if amount <= 0 or not is_currency(currency):
        raise CreditRejected("the order needs a positive amount in an ISO 4217 currency")
    payment = None
    if payment_ref:
        payment = Payment.objects.filter(customer=customer, ref=payment_ref).first()
        if payment is None:
            raise CreditRejected(f"no payment {payment_ref} from customer {customer.ref}")
    label = _label(approver, approver_label)
    now = timezone.now()
    try:
        with transaction.atomic():
            release = OrderRelease.objects.create(
                customer=customer,
                hold=hold,
                order_ref=order_ref.strip(),
                amount=amount,
                currency=currency,
                payment=payment,
                approver=approver,
                approver_label=label,
                note=note.strip(),
                created_at=now,
            )
    except IntegrityError:
        raise CreditRejected(f"order {order_ref} was already released") from None
    why = f"order {release.order_ref} ({amount} {currency}) released" + (
        f" against payment {payment.ref} ({payment.amount} {payment.currency})" if payment else ""
    )
    activity_record(
        actor_label=label,
        actor=approver,
        verb="order released",
        subject_type="order_release",
        subject_ref=str(release.pk),
        customer=customer,
        why=f"{why}. {note.strip()}".strip(". ") if note.strip() else why,
        data={"order_ref": release.order_ref, "payment_ref": payment_ref or None},
    )
    _notify(
        "order.released",
        customer,
        now,
        order_ref=release.order_ref,
        amount=str(amount),
        currency=currency,
        payment_ref=payment_ref or None,
        approver=label,
    )
    return release


# --- rules --------------------------------------------------------------------


def credit_rule_findings(
    *, as_of: date, days_past_due: int = 60, broken_within_days: int = 30
) -> dict[int, str]:
    """Per customer id not on hold, why the rules say to hold them: an
    invoice more than ``days_past_due`` overdue, open above the credit limit
    (in the customer's currency), or a promise broken in the last
    ``broken_within_days``. Four queries."""
    held = set(
        CreditHold.objects.filter(released_at__isnull=True).values_list("customer_id", flat=True)
    )
    findings: dict[int, list[str]] = defaultdict(list)
    for customer_id, due in (
        Invoice.objects.filter(
            status=InvoiceStatus.OPEN, due_date__lt=as_of - timedelta(days=days_past_due)
        )
        .order_by()
        .values_list("customer_id")
        .annotate(oldest=Min("due_date"))
        .values_list("customer_id", "oldest")
    ):
        findings[customer_id].append(f"an invoice is {(as_of - due).days} days past due")
    for customer_id, limit, currency, total in (
        Invoice.objects.filter(
            status=InvoiceStatus.OPEN,
            customer__credit_limit__isnull=False,
            currency=F("customer__currency"),
        )
        .order_by()
        .values_list("customer_id", "customer__credit_limit", "customer__currency")
        .annotate(total=Sum(F("amount") - F("allocated")))
        .values_list("customer_id", "customer__credit_limit", "customer__currency", "total")
    ):
        if total > limit:
            findings[customer_id].append(
                f"{total:.2f} {currency} open is over the credit limit of {limit:.2f}"
            )
    for customer_id in (
        Promise.objects.filter(
            status=PromiseStatus.BROKEN,
            resolved_at__date__gt=as_of - timedelta(days=broken_within_days),
        )
        .values_list("customer_id", flat=True)
        .distinct()
    ):
        findings[customer_id].append("a promise to pay was broken")
    return {pk: "; ".join(why) for pk, why in findings.items() if pk not in held}


@transaction.atomic
def credit_rules_review(*, as_of: date, days_past_due: int = 60) -> dict[str, int]:
    """Propose a hold (an approval request from "credit rules") for each
    customer the rules find and that has none waiting. Returns counts of
    proposed and already waiting."""
    counts = {"proposed": 0, "waiting": 0}
    findings = credit_rule_findings(as_of=as_of, days_past_due=days_past_due)
    for customer in Customer.objects.filter(pk__in=list(findings)):
        try:
            credit_hold_propose(
                customer=customer,
                reason=f"credit rules: {findings[customer.pk]}",
                by=None,
                by_label="credit rules",
            )
        except ApprovalRejected:
            counts["waiting"] += 1
        else:
            counts["proposed"] += 1
    return counts


def credit_hold_tasks(customer: Customer) -> list[Task]:
    """The customer's open credit-hold proposals from the policy."""
    return list(Task.objects.filter(customer=customer, kind=TaskKind.CREDIT_HOLD, status="open"))
