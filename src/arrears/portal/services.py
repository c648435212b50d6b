"""What a customer does in the portal. Each service is one transaction
and leaves an entry in the activity log with an actor label such as
"portal: ap@acme.example", so the staff timeline shows it; promises and
disputes go through the cases app, which pauses reminders and takes
disputed invoices out of the dunning flow."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from django.core.files import File
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from arrears.cases.models import Dispute, Promise
from arrears.cases.plan_models import PaymentPlan
from arrears.cases.plans import payment_plan_create
from arrears.cases.services import CaseRejected, dispute_open, promise_record
from arrears.comms.consent import CONSENT_CHANNELS, contact_consent_set
from arrears.comms.models import Message, Task, TaskKind
from arrears.comms.outbox import message_queue, task_open_once
from arrears.domain.masterdata import FieldError, tax_id
from arrears.ledger.models import Channel, Contact, Customer, Invoice, InvoiceStatus
from arrears.ledger.services import activity_record, contact_create, contact_update

from .models import DisputeAttachment, PortalAccess
from .uploads import CheckedUpload

SOURCE = "portal"
LINK_TEMPLATE = "portal-link"


def actor_label(contact: Contact | None) -> str:
    """How the activity log names the person in the portal: the contact the
    link was made for, else the customer's link."""
    if contact is not None and (contact.email or contact.phone):
        return f"portal: {contact.email or contact.phone}"
    return "portal: customer link"


@transaction.atomic
def portal_opened(*, customer: Customer, contact: Contact | None, via: str) -> None:
    """Log that a link opened the portal (``via``: "link", "e-mail sign-in")."""
    activity_record(
        actor_label=actor_label(contact),
        verb="portal opened",
        subject_type="customer",
        subject_ref=customer.ref,
        customer=customer,
        why=f"signed in with a {via}",
    )


@transaction.atomic
def portal_links_revoke(*, customer: Customer, actor_label: str) -> int:
    """Invalidate every link and portal session of ``customer`` issued so
    far; returns the new generation."""
    access, _ = PortalAccess.objects.select_for_update().get_or_create(customer=customer)
    PortalAccess.objects.filter(pk=access.pk).update(
        generation=F("generation") + 1, revoked_at=timezone.now(), revoked_by_label=actor_label
    )
    access.refresh_from_db()
    activity_record(
        actor_label=actor_label,
        verb="portal links revoked",
        subject_type="customer",
        subject_ref=customer.ref,
        customer=customer,
        why="every portal link and session issued before now stops working",
        data={"generation": access.generation},
    )
    return access.generation


def _email_usable(contact: Contact) -> bool:
    return bool(
        contact.is_active
        and contact.email
        and contact.consent_email
        and not contact.opted_out_email
        and not contact.email_bounced
    )


@transaction.atomic
def portal_signin_request(*, email: str, now: Any = None) -> list[Message]:
    """Queue a ``portal-link`` e-mail to ``email`` for every customer where
    it is an active contact that may receive e-mail (one link per customer:
    a link never opens two). Unknown addresses queue nothing; the caller
    answers the same either way. Returns the messages queued."""
    now = now or timezone.now()
    address = email.strip()
    if not address:
        return []
    contacts = (
        Contact.objects.filter(email__iexact=address, is_active=True)
        .select_related("customer")
        .order_by("customer_id", "id")
    )
    queued: list[Message] = []
    seen: set[int] = set()
    for contact in contacts:
        if contact.customer_id in seen or not _email_usable(contact):
            continue
        seen.add(contact.customer_id)
        message = message_queue(
            customer=contact.customer,
            contact=contact,
            channel="email",
            template_key=LINK_TEMPLATE,
            invoice_refs=[],
            actor_label=actor_label(contact),
            # One per contact and minute: a double click sends one e-mail.
            idempotency_key=f"portal-link:{contact.pk}:{now:%Y%m%d%H%M}",
            not_before=now,
        )
        activity_record(
            actor_label=actor_label(contact),
            verb="portal link requested",
            subject_type="message",
            subject_ref=str(message.pk),
            customer=contact.customer,
            why="a sign-in link was e-mailed to the contact",
        )
        queued.append(message)
    return queued


def portal_promise(
    *,
    customer: Customer,
    contact: Contact | None,
    promised_on: date,
    invoice_refs: Sequence[str],
    amount: Decimal | None,
    currency: str,
    note: str,
) -> Promise:
    """Record a promise to pay made in the portal (reminders pause until
    the date plus grace). Raises CaseRejected."""
    return promise_record(
        customer=customer,
        promised_on=promised_on,
        source=SOURCE,
        actor_label=actor_label(contact),
        invoice_refs=list(invoice_refs),
        amount=amount,
        currency=currency,
        note=note,
    )


@transaction.atomic
def portal_dispute(
    *,
    customer: Customer,
    contact: Contact | None,
    invoice_refs: Sequence[str],
    reason: str,
    description: str,
    uploads: Sequence[CheckedUpload] = (),
) -> Dispute:
    """Open a dispute on whole invoices with the customer's evidence
    (already checked for type and size) stored under MEDIA_ROOT. Raises
    CaseRejected."""
    label = actor_label(contact)
    if not description.strip():
        raise CaseRejected("tell us what is wrong with the invoice")
    dispute = dispute_open(
        customer=customer,
        lines=dict.fromkeys(invoice_refs),
        reason=reason,
        actor_label=label,
        description=description,
    )
    now = timezone.now()
    stored: list[DisputeAttachment] = []
    try:
        for upload in uploads:
            attachment = DisputeAttachment(
                dispute=dispute,
                name=upload.display_name,
                content_type=upload.content_type,
                size=upload.size,
                sha256=upload.sha256,
                uploaded_at=now,
                uploaded_by_label=label,
            )
            attachment.file.save(upload.storage_name, File(upload.file), save=False)
            stored.append(attachment)
            attachment.save()
    except Exception:
        # The rows roll back with the transaction; the files must go too.
        for attachment in stored:
            attachment.file.delete(save=False)
        raise
    if uploads:
        activity_record(
            actor_label=label,
            verb="dispute evidence uploaded",
            subject_type="dispute",
            subject_ref=str(dispute.pk),
            customer=customer,
            why=", ".join(u.display_name for u in uploads),
            data={"files": [{"name": u.display_name, "sha256": u.sha256} for u in uploads]},
        )
    return dispute


# A customer may agree a plan alone within these bounds; anything longer
# or later goes to a person as a request.
SELF_SERVICE_MAX_INSTALMENTS = 6
SELF_SERVICE_MAX_START_DAYS = 30


@dataclass(frozen=True)
class PlanOutcome:
    """``plan`` when the customer agreed a plan within the self-service
    bounds, else ``task``: the request a collector answers."""

    plan: PaymentPlan | None = None
    task: Task | None = None


@transaction.atomic
def portal_plan_request(
    *,
    customer: Customer,
    contact: Contact | None,
    instalments: int,
    first_on: date,
    invoice_refs: Sequence[str],
    note: str,
) -> PlanOutcome:
    """A payment plan asked for in the portal for ``invoice_refs`` (none:
    every open invoice; one currency). Up to SELF_SERVICE_MAX_INSTALMENTS
    monthly instalments starting within SELF_SERVICE_MAX_START_DAYS are
    agreed at once through the cases app (no interest, confirmation
    e-mailed; reminders stop while it is kept); anything beyond becomes a
    staff task for the collector. Raises CaseRejected."""
    label = actor_label(contact)
    today = timezone.localdate()
    if not 2 <= instalments <= 24:
        raise CaseRejected("a plan has between 2 and 24 instalments")
    if first_on < today:
        raise CaseRejected("the first instalment cannot be in the past")
    refs = list(invoice_refs) or list(
        Invoice.objects.filter(customer=customer, status=InvoiceStatus.OPEN)
        .order_by("due_date", "ref")
        .values_list("ref", flat=True)
    )
    if not refs:
        raise CaseRejected("nothing is open to pay in instalments")
    currencies = set(
        Invoice.objects.filter(customer=customer, ref__in=refs).values_list("currency", flat=True)
    )
    if len(currencies) > 1:
        raise CaseRejected("a plan covers invoices in one currency: choose the invoices")
    if instalments <= SELF_SERVICE_MAX_INSTALMENTS and first_on <= today + timedelta(
        days=SELF_SERVICE_MAX_START_DAYS
    ):
        plan = payment_plan_create(
            customer=customer,
            invoice_refs=refs,
            count=instalments,
            first_due=first_on,
            actor_label=label,
            note=f"agreed in the portal. {note.strip()}".strip(),
        )
        return PlanOutcome(plan=plan)
    reason = (
        f"{label} asks for a payment plan: {instalments} instalments from "
        f"{first_on.isoformat()} for {', '.join(refs)}"
        + (f". Note: {note.strip()}" if note.strip() else "")
        + f" (beyond the portal's {SELF_SERVICE_MAX_INSTALMENTS} instalments starting within "
        f"{SELF_SERVICE_MAX_START_DAYS} days)"
    )
    task = task_open_once(
        customer=customer,
        kind=TaskKind.TASK,
        title="Payment plan requested in the portal",
        reason=reason,
        now=timezone.now(),
    )
    activity_record(
        actor_label=label,
        verb="payment plan requested",
        subject_type="task",
        subject_ref=str(task.pk),
        customer=customer,
        why=reason,
        data={"instalments": instalments, "first_on": first_on.isoformat(), "invoice_refs": refs},
    )
    return PlanOutcome(task=task)


def portal_contact_add(
    *, customer: Customer, contact: Contact | None, values: Mapping[str, Any]
) -> Contact:
    """Add an AP contact (validated by the ledger; raises ContactRejected)."""
    return contact_create(customer=customer, values=values, actor_label=actor_label(contact))


def portal_contact_change(
    *, customer: Customer, contact: Contact | None, target: Contact, changes: Mapping[str, Any]
) -> Contact:
    """Change one of the customer's own contacts; ValueError for another's."""
    if target.customer_id != customer.pk:
        raise ValueError("not this customer's contact")
    return contact_update(contact=target, changes=changes, actor_label=actor_label(contact))


@transaction.atomic
def portal_consents_set(
    *, customer: Customer, contact: Contact | None, target: Contact, wanted: Mapping[str, bool]
) -> list[str]:
    """Set which channels ``target`` may be contacted on; records consent
    (source "portal") for each channel that changes. Returns those channels."""
    if target.customer_id != customer.pk:
        raise ValueError("not this customer's contact")
    changed = []
    for channel in CONSENT_CHANNELS:
        if channel not in wanted:
            continue
        now_allowed = getattr(target, f"consent_{channel}") and not getattr(
            target, f"opted_out_{channel}"
        )
        if wanted[channel] != now_allowed:
            contact_consent_set(
                contact=target,
                channel=channel,
                granted=wanted[channel],
                source=SOURCE,
                actor_label=actor_label(contact),
            )
            changed.append(channel)
    return changed


@transaction.atomic
def portal_tax_id_set(*, customer: Customer, contact: Contact | None, text: str) -> str:
    """Validate and store the customer's tax id (python-stdnum where the
    country has a validator). Raises FieldError; returns the stored value."""
    if not text.strip():
        raise FieldError("enter your tax id")
    value = tax_id(text, customer.country)
    old = customer.tax_id
    if value == old:
        return value
    Customer.objects.filter(pk=customer.pk).update(tax_id=value, updated_at=timezone.now())
    customer.tax_id = value
    activity_record(
        actor_label=actor_label(contact),
        verb="tax id updated",
        subject_type="customer",
        subject_ref=customer.ref,
        customer=customer,
        why=f"{old or '(none)'} → {value}",
        data={"fields": {"tax_id": [old, value]}},
    )
    return value


@transaction.atomic
def portal_channel_set(*, customer: Customer, contact: Contact | None, channel: str) -> None:
    """Store how the customer prefers to be contacted. Raises FieldError."""
    if channel not in Channel.values:
        raise FieldError(f"{channel!r} is not a channel")
    old = customer.preferred_channel
    if channel == old:
        return
    Customer.objects.filter(pk=customer.pk).update(
        preferred_channel=channel, updated_at=timezone.now()
    )
    customer.preferred_channel = channel
    activity_record(
        actor_label=actor_label(contact),
        verb="channel preference set",
        subject_type="customer",
        subject_ref=customer.ref,
        customer=customer,
        why=f"prefers {Channel(channel).label.lower()}",
        data={"fields": {"preferred_channel": [old, channel]}},
    )


@transaction.atomic
def portal_details_set(
    *, customer: Customer, contact: Contact | None, tax_id_text: str, channel: str
) -> None:
    """The company details form: the tax id (validated) and, when chosen,
    the preferred channel, together or not at all. Raises FieldError."""
    portal_tax_id_set(customer=customer, contact=contact, text=tax_id_text)
    if channel:
        portal_channel_set(customer=customer, contact=contact, channel=channel)
