"""Writes for the staff web app."""

from __future__ import annotations

import secrets

from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.core.files import File
from django.db import transaction
from django.utils import timezone

from arrears.ledger.models import Activity, Automation, Customer, Invoice
from arrears.ledger.services import activity_record
from arrears.portal.uploads import CheckedUpload

from .models import Document
from .roles import manager_check

DEMO_USERNAME = "demo"


@transaction.atomic
def demo_user_reset(*, username: str = DEMO_USERNAME, actor_label: str = "arrears demo") -> str:
    """Create or reset the demo login (staff and superuser, so /admin/ works).

    Returns the new password; a fresh random one each time, since it is
    printed and the demo may be reachable by others on the machine.
    """
    password = secrets.token_urlsafe(12)
    user_model = get_user_model()
    user, created = user_model.objects.get_or_create(username=username)
    user.is_staff = True
    user.is_superuser = True
    user.is_active = True
    user.set_password(password)
    user.save()
    activity_record(
        actor_label=actor_label,
        verb="user.created" if created else "user.password_reset",
        subject_type="user",
        subject_ref=username,
        why="demo login",
    )
    return password


class ChangeRejected(ValueError):
    """A change the staff app refuses; the message says why."""


def _label(actor: User | None, actor_label: str) -> str:
    return actor_label or (actor.get_username() if actor is not None else "system")


@transaction.atomic
def note_add(
    *, customer: Customer, text: str, actor: User | None = None, actor_label: str = ""
) -> Activity:
    """Add a note to the customer's timeline (an activity entry). Raises
    ChangeRejected for an empty note."""
    text = text.strip()
    if not text:
        raise ChangeRejected("write the note first")
    return activity_record(
        actor_label=_label(actor, actor_label),
        actor=actor,
        verb="note",
        subject_type="customer",
        subject_ref=customer.ref,
        customer=customer,
        why=text,
    )


@transaction.atomic
def customer_automation_set(
    *,
    customer: Customer,
    automation: str,
    actor: User | None = None,
    actor_label: str = "",
    why: str = "",
) -> Customer:
    """Switch how the customer is collected: automated, white glove (manual
    touches only) or paused. Managers only (PermissionDenied otherwise, when
    ``actor`` is given); the change and its reason go to the activity log.
    Raises ChangeRejected for an unknown mode; setting the current mode
    again changes nothing and logs nothing."""
    if actor is not None:
        manager_check(actor, "change how a customer is collected")
    if automation not in Automation.values:
        raise ChangeRejected(
            f"{automation!r} is not an automation mode ({', '.join(Automation.values)})"
        )
    before = (
        Customer.objects.select_for_update()
        .values_list("automation", flat=True)
        .get(pk=customer.pk)
    )
    if before == automation:
        return customer
    Customer.objects.filter(pk=customer.pk).update(automation=automation)
    activity_record(
        actor_label=_label(actor, actor_label),
        actor=actor,
        verb="automation changed",
        subject_type="customer",
        subject_ref=customer.ref,
        customer=customer,
        why=why.strip() or f"{Automation(before).label} → {Automation(automation).label}",
        data={"from": before, "to": automation},
    )
    customer.automation = automation
    return customer


@transaction.atomic
def document_attach(
    *,
    customer: Customer,
    upload: CheckedUpload,
    invoice_ref: str = "",
    note: str = "",
    actor: User | None = None,
    actor_label: str = "",
) -> Document:
    """Store a checked upload (``arrears.portal.uploads.upload_check``) under
    MEDIA_ROOT/documents/ as the customer's document, optionally about one of
    its invoices, and put "document attached" on the timeline. Raises
    ChangeRejected for an invoice that is not the customer's or a note
    longer than 300 characters."""
    invoice = None
    if invoice_ref:
        invoice = Invoice.objects.filter(customer=customer, ref=invoice_ref).first()
        if invoice is None:
            raise ChangeRejected(f"no invoice {invoice_ref} for customer {customer.ref}")
    note = note.strip()
    if len(note) > 300:
        raise ChangeRejected("keep the note to 300 characters")
    label = _label(actor, actor_label)
    document = Document(
        customer=customer,
        invoice=invoice,
        name=upload.display_name,
        content_type=upload.content_type,
        size=upload.size,
        sha256=upload.sha256,
        note=note,
        uploaded_by=actor,
        uploaded_by_label=label,
        uploaded_at=timezone.now(),
    )
    document.file.save(upload.storage_name, File(upload.file), save=False)
    try:
        document.save()
        activity_record(
            actor_label=label,
            actor=actor,
            verb="document attached",
            subject_type="document",
            subject_ref=str(document.pk),
            customer=customer,
            why=" · ".join(
                x for x in (document.name, f"for {invoice.ref}" if invoice else "", note) if x
            ),
            data={
                "name": document.name,
                "content_type": document.content_type,
                "size": document.size,
                "sha256": document.sha256,
                "invoice_ref": invoice.ref if invoice else None,
            },
        )
    except Exception:
        # The row rolls back with the transaction; the file must go too.
        document.file.delete(save=False)
        raise
    return document
