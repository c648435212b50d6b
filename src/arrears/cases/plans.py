"""Payment plans: agreeing instalments for open invoices, the agreement
letter and confirmation, and the daily monitoring that keeps, completes or
breaks them.

While a plan is active its invoices are held out of the daily run
(``selectors.holds_for``). ``payment_plans_review`` (called by the daily
run) compares the payments received since the plan started, in the plan's
currency, with the instalments due so far: a missed instalment gets one
reminder; one missed for more than ``break_after_days`` breaks the plan,
collection of its invoices resumes and an escalation task is opened.

Settings (optional): ``ARREARS_PLAN_BREAK_AFTER_DAYS`` (14) and
``ARREARS_PLAN_LEGAL_REVIEW_MONTHS`` (12): a plan running longer than that
is flagged for legal review with a task.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from arrears.comms.models import TaskKind
from arrears.comms.outbox import message_queue, task_open_once
from arrears.domain.money import MoneyError
from arrears.domain.plans import (
    Frequency,
    Instalment,
    PlanError,
    Schedule,
    Standing,
    add_months,
    plan_standing,
    schedule_build,
)
from arrears.ledger.models import Customer, Invoice, InvoiceStatus, Payment
from arrears.ledger.services import activity_record

from .plan_models import InstalmentStatus, PaymentPlan, PlanInstalment, PlanInvoice, PlanStatus
from .services import CaseRejected

ACTOR = "payment plans"
CONFIRMATION_TEMPLATE = "payment-plan-confirmation"
REMINDER_TEMPLATE = "instalment-reminder"


def break_after_days_default() -> int:
    return int(getattr(settings, "ARREARS_PLAN_BREAK_AFTER_DAYS", 14))


def legal_review_months() -> int:
    return int(getattr(settings, "ARREARS_PLAN_LEGAL_REVIEW_MONTHS", 12))


def _label(actor: User | None, actor_label: str) -> str:
    return actor_label or (actor.get_username() if actor is not None else "system")


def plan_schedule(plan: PaymentPlan) -> tuple[Instalment, ...]:
    """The plan's stored instalments as the domain's values."""
    return tuple(
        Instalment(i.number, i.due_date, i.amount) for i in plan.instalments.order_by("number")
    )


def is_long_workout(start: date, last_due: date) -> bool:
    """True when the plan runs past ``legal_review_months`` after its start."""
    return last_due > add_months(start, legal_review_months())


@transaction.atomic
def payment_plan_create(
    *,
    customer: Customer,
    invoice_refs: Sequence[str],
    count: int,
    first_due: date,
    frequency: str = Frequency.MONTHLY,
    annual_rate: Decimal = Decimal(0),
    setup_fee: Decimal = Decimal(0),
    start_on: date | None = None,
    break_after_days: int | None = None,
    note: str = "",
    actor: User | None = None,
    actor_label: str = "",
    confirm: bool = True,
) -> PaymentPlan:
    """Agree a plan to pay the open amounts of ``invoice_refs`` (one
    currency) in ``count`` instalments from ``first_due``; interest (simple,
    ``annual_rate`` percent a year) runs from ``start_on`` (default today).
    Queues the confirmation e-mail unless ``confirm`` is False; a plan
    longer than the legal-review limit opens a task. Raises CaseRejected for
    unknown, paid or mixed-currency invoices, invoices already in an active
    plan, or a schedule that cannot be built."""
    label = _label(actor, actor_label)
    start = start_on or timezone.localdate()
    if not invoice_refs:
        raise CaseRejected("a payment plan needs at least one invoice")
    if frequency not in Frequency.__members__.values():
        raise CaseRejected(f"{frequency!r} is not a frequency ({', '.join(Frequency)})")
    refs = list(dict.fromkeys(invoice_refs))
    invoices = list(
        Invoice.objects.select_for_update().filter(customer=customer, ref__in=refs).order_by()
    )
    found = {i.ref for i in invoices}
    missing = [r for r in refs if r not in found]
    if missing:
        raise CaseRejected(f"no invoice {', '.join(missing)} for customer {customer.ref}")
    paid = sorted(i.ref for i in invoices if i.status != InvoiceStatus.OPEN)
    if paid:
        raise CaseRejected(f"already paid: {', '.join(paid)}")
    currencies = {i.currency for i in invoices}
    if len(currencies) > 1:
        raise CaseRejected("a plan covers invoices in one currency")
    busy = sorted(
        PlanInvoice.objects.filter(
            invoice__in=invoices, plan__status=PlanStatus.ACTIVE
        ).values_list("invoice__ref", flat=True)
    )
    if busy:
        raise CaseRejected(f"already in an active payment plan: {', '.join(busy)}")
    currency = currencies.pop()
    principal = sum((i.open_amount for i in invoices), Decimal(0))
    break_days = break_after_days_default() if break_after_days is None else break_after_days
    if not 0 <= break_days <= 365:
        raise CaseRejected("break after days must be 0 to 365")
    try:
        schedule = schedule_build(
            principal=principal,
            currency=currency,
            count=count,
            start=start,
            first_due=first_due,
            frequency=Frequency(frequency),
            annual_rate=annual_rate,
            setup_fee=setup_fee,
        )
    except (PlanError, MoneyError) as exc:
        raise CaseRejected(str(exc)) from None
    long_workout = is_long_workout(start, schedule.last_due)
    plan = PaymentPlan.objects.create(
        customer=customer,
        currency=currency,
        principal=schedule.principal,
        annual_rate=annual_rate,
        interest=schedule.interest,
        setup_fee=schedule.fee,
        total=schedule.total,
        frequency=frequency,
        start_on=start,
        break_after_days=break_days,
        legal_review=long_workout,
        note=note.strip(),
        created_at=timezone.now(),
        created_by=actor,
        created_by_label=label,
    )
    PlanInvoice.objects.bulk_create(
        PlanInvoice(plan=plan, invoice=i, amount=i.open_amount) for i in invoices
    )
    PlanInstalment.objects.bulk_create(
        PlanInstalment(plan=plan, number=i.number, due_date=i.due_date, amount=i.amount)
        for i in schedule.instalments
    )
    activity_record(
        actor_label=label,
        actor=actor,
        verb="payment plan agreed",
        subject_type="payment_plan",
        subject_ref=str(plan.pk),
        customer=customer,
        why=_describe(schedule),
        data={
            "invoice_refs": sorted(found),
            "principal": str(schedule.principal),
            "interest": str(schedule.interest),
            "setup_fee": str(schedule.fee),
            "total": str(schedule.total),
            "currency": currency,
            "instalments": [[i.due_date.isoformat(), str(i.amount)] for i in schedule.instalments],
        },
    )
    if long_workout:
        task_open_once(
            customer=customer,
            kind=TaskKind.TASK,
            title="Legal review of a long payment plan",
            reason=f"payment plan {plan.pk} runs to {schedule.last_due.isoformat()}, "
            f"more than {legal_review_months()} months: review it before it goes ahead",
            now=timezone.now(),
        )
    if confirm:
        message_queue(
            customer=customer,
            channel="email",
            template_key=CONFIRMATION_TEMPLATE,
            invoice_refs=sorted(found),
            actor_label=label,
            idempotency_key=f"plan:{plan.pk}:confirmation",
        )
    return plan


def _describe(schedule: Schedule) -> str:
    first, last = schedule.instalments[0], schedule.instalments[-1]
    return (
        f"{schedule.total} {schedule.currency} in {len(schedule.instalments)} instalments "
        f"from {first.due_date.isoformat()} to {last.due_date.isoformat()}"
    )


def _end(plan: PaymentPlan, status: PlanStatus, on: date, why: str) -> bool:
    return bool(
        PaymentPlan.objects.filter(pk=plan.pk, status=PlanStatus.ACTIVE).update(
            status=status, ended_on=on, end_reason=why[:300]
        )
    )


@transaction.atomic
def payment_plan_cancel(
    *, plan: PaymentPlan, reason: str, actor: User | None = None, actor_label: str = ""
) -> PaymentPlan:
    """End an active plan by hand (renegotiated, agreed in error): its
    invoices return to the dunning flow today. Raises CaseRejected when it
    is not active or no reason is given."""
    label = _label(actor, actor_label)
    if not reason.strip():
        raise CaseRejected("say why the plan is cancelled")
    if not _end(plan, PlanStatus.CANCELLED, timezone.localdate(), reason.strip()):
        raise CaseRejected("the plan is not active")
    activity_record(
        actor_label=label,
        actor=actor,
        verb="payment plan cancelled",
        subject_type="payment_plan",
        subject_ref=str(plan.pk),
        customer=plan.customer,
        why=reason.strip(),
    )
    plan.refresh_from_db()
    return plan


def plan_paid(plan: PaymentPlan, as_of: date) -> Decimal:
    """Payments received from the plan's start to ``as_of`` in its currency."""
    total = Payment.objects.filter(
        customer_id=plan.customer_id,
        currency=plan.currency,
        received_on__gte=plan.start_on,
        received_on__lte=as_of,
    ).aggregate(total=Sum("amount"))["total"]
    return total or Decimal(0)


def _invoices_paid(plan: PaymentPlan) -> bool:
    return not PlanInvoice.objects.filter(plan=plan, invoice__status=InvoiceStatus.OPEN).exists()


def _refs(plan: PaymentPlan) -> list[str]:
    return sorted(plan.plan_invoices.values_list("invoice__ref", flat=True))


@transaction.atomic
def payment_plans_review(*, as_of: date) -> dict[str, int]:
    """Monitor every active plan on ``as_of`` (the daily run calls it before
    planning): instalments covered are marked paid; a missed instalment gets
    one reminder (``instalment-reminder``); a plan whose instalment is missed
    for more than its ``break_after_days`` is broken (its invoices go back to
    the dunning flow, an escalation task is opened); one paid in full, or
    whose invoices are all paid, is completed. Returns counts by outcome."""
    counts = {"paid": 0, "reminded": 0, "broken": 0, "completed": 0}
    plans = PaymentPlan.objects.filter(status=PlanStatus.ACTIVE, start_on__lte=as_of)
    for plan in plans.select_related("customer").order_by("id"):
        instalments = list(plan.instalments.order_by("number"))
        standing = plan_standing(
            [Instalment(i.number, i.due_date, i.amount) for i in instalments],
            paid=plan_paid(plan, as_of),
            as_of=as_of,
            break_after_days=plan.break_after_days,
        )
        newly_paid = [
            i
            for i in instalments
            if i.number <= standing.paid_through and i.status != InstalmentStatus.PAID
        ]
        if newly_paid:
            PlanInstalment.objects.filter(pk__in=[i.pk for i in newly_paid]).update(
                status=InstalmentStatus.PAID, paid_on=as_of
            )
            counts["paid"] += len(newly_paid)
            activity_record(
                actor_label=ACTOR,
                verb="instalment paid",
                subject_type="payment_plan",
                subject_ref=str(plan.pk),
                customer=plan.customer,
                why=f"instalments {', '.join(str(i.number) for i in newly_paid)} covered by "
                f"payments since {plan.start_on.isoformat()}",
            )
        if standing.standing is Standing.COMPLETED or _invoices_paid(plan):
            if _end(plan, PlanStatus.COMPLETED, as_of, "all paid"):
                counts["completed"] += 1
                activity_record(
                    actor_label=ACTOR,
                    verb="payment plan completed",
                    subject_type="payment_plan",
                    subject_ref=str(plan.pk),
                    customer=plan.customer,
                    why="all instalments or all its invoices are paid",
                )
            continue
        missed = standing.missed
        if missed is None:
            continue
        row = next(i for i in instalments if i.number == missed.number)
        if standing.standing is Standing.BROKEN:
            _break(plan, standing.reason, as_of)
            counts["broken"] += 1
            continue
        if row.reminded_on is None:
            PlanInstalment.objects.filter(pk=row.pk).update(
                status=InstalmentStatus.MISSED, reminded_on=as_of
            )
            message_queue(
                customer=plan.customer,
                channel="email",
                template_key=REMINDER_TEMPLATE,
                invoice_refs=_refs(plan),
                actor_label=ACTOR,
                idempotency_key=f"plan:{plan.pk}:instalment:{row.number}:reminder",
                deadline=row.due_date + timedelta(days=plan.break_after_days),
            )
            counts["reminded"] += 1
            activity_record(
                actor_label=ACTOR,
                verb="instalment missed",
                subject_type="payment_plan",
                subject_ref=str(plan.pk),
                customer=plan.customer,
                why=f"{standing.reason}; reminder sent",
            )
    return counts


def _break(plan: PaymentPlan, why: str, as_of: date) -> None:
    if not _end(plan, PlanStatus.BROKEN, as_of, why):
        return
    PlanInstalment.objects.filter(
        plan=plan, status=InstalmentStatus.DUE, due_date__lt=as_of
    ).update(status=InstalmentStatus.MISSED)
    activity_record(
        actor_label=ACTOR,
        verb="payment plan broken",
        subject_type="payment_plan",
        subject_ref=str(plan.pk),
        customer=plan.customer,
        why=f"{why}; collection of {', '.join(_refs(plan))} resumes",
    )
    task_open_once(
        customer=plan.customer,
        kind=TaskKind.ESCALATION,
        title="Broken payment plan",
        reason=f"payment plan {plan.pk} broken: {why}; collection resumes",
        now=timezone.now(),
    )


# --- the agreement letter -----------------------------------------------------


def plan_context(plan: PaymentPlan) -> dict[str, Any]:
    """The ``plan`` entry of a message context: its instalments (due_date,
    amount, currency, status) and totals."""
    return {
        "id": plan.pk,
        "currency": plan.currency,
        "principal": plan.principal,
        "interest": plan.interest,
        "annual_rate": plan.annual_rate,
        "setup_fee": plan.setup_fee,
        "total": plan.total,
        "start_on": plan.start_on,
        "status": plan.status,
        "break_after_days": plan.break_after_days,
        "instalments": [
            {
                "number": i.number,
                "due_date": i.due_date,
                "amount": i.amount,
                "currency": plan.currency,
                "status": i.status,
            }
            for i in plan.instalments.order_by("number")
        ],
    }


def plan_for_message(customer: Customer, invoice_refs: Sequence[str]) -> PaymentPlan | None:
    """The newest plan of ``customer`` covering any of ``invoice_refs`` (the
    plan a confirmation or reminder is about); None when there is none."""
    return (
        PaymentPlan.objects.filter(
            customer=customer, plan_invoices__invoice__ref__in=list(invoice_refs)
        )
        .order_by("-created_at", "-id")
        .first()
    )


def payment_plan_agreement_pdf(*, plan: PaymentPlan) -> bytes:
    """The plan's agreement letter as a PDF (the letters' layout: the
    customer's postal address in the envelope window), with the invoices,
    the schedule, the terms and room to sign."""
    from django.template import Context

    from arrears.comms.letters import letter_pdf
    from arrears.comms.rendering import message_context, template_engine

    customer = plan.customer
    refs = _refs(plan)
    context = message_context(
        customer=customer, invoice_refs=refs, deadline=None, now=timezone.now(), channel="letter"
    )
    # The letter lists what the plan covers, paid since or not.
    invoices = list(plan.plan_invoices.select_related("invoice").order_by("invoice__due_date"))
    context["invoices"] = [
        {
            "ref": line.invoice.ref,
            "order_ref": line.invoice.order_ref,
            "issue_date": line.invoice.issue_date,
            "due_date": line.invoice.due_date,
            "amount": line.invoice.amount,
            "open_amount": line.amount,
            "currency": line.invoice.currency,
            "days_overdue": 0,
        }
        for line in invoices
    ]
    context["totals"] = [{"currency": plan.currency, "open_amount": plan.principal}]
    context["plan"] = plan_context(plan)
    template = template_engine().get_template("cases/plans/agreement_body.html")
    body = template.render(Context(context, autoescape=True))
    lines = [customer.name, *[ln for ln in customer.postal_address.splitlines() if ln.strip()]]
    if len(lines) == 1:
        lines.append(customer.country)
    return letter_pdf(
        address_lines=lines,
        subject=f"Payment plan agreement no. {plan.pk}",
        body_html=body,
        context=context,
    )
