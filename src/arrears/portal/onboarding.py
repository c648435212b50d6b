"""The onboarding sequence for new customers: a completeness score of
their master data, a welcome e-mail asking them to complete it in the
portal, reminders until it is complete, and a staff task when it stays
incomplete.

Who is new: a customer with ``customer_since`` within the last
ARREARS_ONBOARDING_WINDOW_DAYS of the run's day and automated collection
(white glove customers get personal touches, paused ones none), plus every
customer created from an approved credit application. Customers without a
``customer_since`` are not known to be new and are left alone.

The completeness score (0-100) adds these weights:

====================  ======  ============================================
part                  weight  complete when
====================  ======  ============================================
``ap_email``          30      an active AP or billing contact has an e-mail
                              address that has not bounced
``tax_id``            25      the tax id passes python-stdnum for the country
``phone``             15      the customer or an active contact has a phone
``channel``           15      a preferred channel is chosen
``consent``           15      consent was recorded (granted or withdrawn, any
                              channel) for an active contact
====================  ======  ============================================

The AP e-mail weighs most because every reminder depends on it; the tax id
next because invoices and credit checks need it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from arrears.comms.models import ConsentRecord, TaskKind
from arrears.comms.outbox import message_queue, task_open_once
from arrears.domain.masterdata import FieldError, tax_id
from arrears.ledger.models import (
    Automation,
    Contact,
    ContactRole,
    Customer,
    Invoice,
    InvoiceStatus,
)
from arrears.ledger.services import activity_record

from .conf import setting
from .models import Onboarding

ACTOR = "onboarding"
WELCOME_TEMPLATE = "onboarding-welcome"
REMINDER_TEMPLATE = "onboarding-reminder"
WEIGHTS = {"ap_email": 30, "tax_id": 25, "phone": 15, "channel": 15, "consent": 15}
LABELS = {
    "ap_email": "an accounts-payable e-mail address",
    "tax_id": "a valid tax id",
    "phone": "a phone number",
    "channel": "how you prefer to be contacted",
    "consent": "which channels we may use",
}
assert sum(WEIGHTS.values()) == 100


@dataclass(frozen=True)
class Completeness:
    """The score and the parts still missing (keys of WEIGHTS, in order)."""

    score: int
    missing: tuple[str, ...]

    @property
    def missing_labels(self) -> list[str]:
        return [LABELS[part] for part in self.missing]


def _tax_id_valid(customer: Customer) -> bool:
    if not customer.tax_id.strip():
        return False
    try:
        tax_id(customer.tax_id, customer.country)
    except FieldError:
        return False
    return True


def customer_completeness(customer: Customer) -> Completeness:
    """How complete ``customer``'s master data is (three queries)."""
    contacts = list(Contact.objects.filter(customer=customer, is_active=True))
    present = {
        "ap_email": any(
            c.email and not c.email_bounced and c.role in (ContactRole.AP, ContactRole.BILLING)
            for c in contacts
        ),
        "tax_id": _tax_id_valid(customer),
        "phone": bool(customer.phone) or any(c.phone for c in contacts),
        "channel": bool(customer.preferred_channel),
        "consent": ConsentRecord.objects.filter(contact__in=contacts).exists(),
    }
    return Completeness(
        score=sum(WEIGHTS[part] for part, ok in present.items() if ok),
        missing=tuple(part for part, ok in present.items() if not ok),
    )


def _emailable(customer: Customer) -> bool:
    return (
        Contact.objects.filter(
            customer=customer,
            is_active=True,
            consent_email=True,
            opted_out_email=False,
            email_bounced=False,
        )
        .exclude(email="")
        .exists()
    )


@transaction.atomic
def onboarding_start(*, customer: Customer, as_of: date, actor_label: str = ACTOR) -> Onboarding:
    """Put ``customer`` into the onboarding sequence (once; a second call
    returns the existing row)."""
    completeness = customer_completeness(customer)
    onboarding, created = Onboarding.objects.get_or_create(
        customer=customer,
        defaults={
            "started_on": as_of,
            "score": completeness.score,
            "missing": list(completeness.missing),
        },
    )
    if created:
        activity_record(
            actor_label=actor_label,
            verb="onboarding started",
            subject_type="customer",
            subject_ref=customer.ref,
            customer=customer,
            why=f"master data {completeness.score}% complete",
        )
    return onboarding


def _enrol(as_of: date) -> int:
    window = setting("ARREARS_ONBOARDING_WINDOW_DAYS")
    new = Customer.objects.filter(
        customer_since__gt=as_of - timedelta(days=window),
        customer_since__lte=as_of,
        automation=Automation.AUTO,
        onboarding__isnull=True,
    ).order_by("id")
    count = 0
    for customer in list(new):
        onboarding_start(customer=customer, as_of=as_of)
        count += 1
    return count


def _queue(customer: Customer, template: str, key: str) -> None:
    # The message lists what is open (the outbox drops it if all of those
    # are paid before it leaves; the sequence goes on with the reminders).
    refs = list(
        Invoice.objects.filter(customer=customer, status=InvoiceStatus.OPEN)
        .order_by("due_date", "ref")
        .values_list("ref", flat=True)[:20]
    )
    message_queue(
        customer=customer,
        channel="email",
        template_key=template,
        invoice_refs=refs,
        actor_label=ACTOR,
        idempotency_key=key,
    )


def _review_one(onboarding: Onboarding, as_of: date, now: datetime, counts: dict[str, int]) -> None:
    customer = onboarding.customer
    completeness = customer_completeness(customer)
    mine = Onboarding.objects.filter(pk=onboarding.pk, completed_at__isnull=True)
    mine.update(score=completeness.score, missing=list(completeness.missing))
    if not completeness.missing:
        if mine.update(completed_at=now):
            counts["completed"] += 1
            activity_record(
                actor_label=ACTOR,
                verb="onboarding complete",
                subject_type="customer",
                subject_ref=customer.ref,
                customer=customer,
                why="master data 100% complete",
            )
        return
    if customer.automation != Automation.AUTO:
        return
    missing = ", ".join(completeness.missing_labels)
    task_after = setting("ARREARS_ONBOARDING_TASK_DAYS")
    no_email = not _emailable(customer)
    overdue = onboarding.started_on + timedelta(days=task_after) <= as_of
    if (no_email or overdue) and mine.filter(task_opened_at__isnull=True).update(
        task_opened_at=now
    ):
        why = (
            "no e-mail address to send the onboarding welcome to"
            if no_email
            else f"master data still incomplete {task_after} days after onboarding began"
        )
        task_open_once(
            customer=customer,
            kind=TaskKind.FIX_MASTER_DATA,
            title="Complete a new customer's master data",
            reason=f"{why}; missing: {missing} ({completeness.score}% complete)",
            now=now,
        )
        counts["tasks"] += 1
    if no_email:
        return
    if onboarding.welcomed_at is None:
        if mine.filter(welcomed_at__isnull=True).update(welcomed_at=now, last_reminded_on=as_of):
            _queue(customer, WELCOME_TEMPLATE, f"onboarding:{customer.pk}:welcome")
            activity_record(
                actor_label=ACTOR,
                verb="onboarding welcome queued",
                subject_type="customer",
                subject_ref=customer.ref,
                customer=customer,
                why=f"asks them to complete: {missing}",
            )
            counts["welcomed"] += 1
        return
    every = setting("ARREARS_ONBOARDING_REMIND_DAYS")
    last = onboarding.last_reminded_on or timezone.localdate(onboarding.welcomed_at)
    if last + timedelta(days=every) > as_of:
        return
    claimed = mine.filter(
        Q(last_reminded_on=onboarding.last_reminded_on)
        if onboarding.last_reminded_on
        else Q(last_reminded_on__isnull=True)
    ).update(last_reminded_on=as_of, reminders=onboarding.reminders + 1)
    if claimed:
        _queue(customer, REMINDER_TEMPLATE, f"onboarding:{customer.pk}:reminder:{as_of}")
        activity_record(
            actor_label=ACTOR,
            verb="onboarding reminder queued",
            subject_type="customer",
            subject_ref=customer.ref,
            customer=customer,
            why=f"still missing: {missing}",
        )
        counts["reminded"] += 1


def onboarding_review(*, as_of: date, now: datetime | None = None) -> dict[str, int]:
    """Enrol new customers, then for each one still onboarding: update the
    score; complete it at 100; otherwise welcome once, remind at most every
    ARREARS_ONBOARDING_REMIND_DAYS, and open a "fix master data" task once
    when it stays incomplete ARREARS_ONBOARDING_TASK_DAYS (at once when
    there is no e-mail address to write to). Idempotent: a second call on
    the same day, or two workers at once, send nothing twice (each step is
    claimed by a conditional update and messages carry idempotency keys).
    Returns counts: enrolled, welcomed, reminded, tasks, completed."""
    now = now or timezone.now()
    counts = {"enrolled": _enrol(as_of), "welcomed": 0, "reminded": 0, "tasks": 0, "completed": 0}
    ongoing = (
        Onboarding.objects.filter(completed_at__isnull=True, started_on__lte=as_of)
        .select_related("customer")
        .order_by("id")
    )
    for onboarding in list(ongoing):
        with transaction.atomic():
            _review_one(onboarding, as_of, now, counts)
    return counts
