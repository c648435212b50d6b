"""Writes to a contact's consent: opting out (unsubscribe links, STOP
replies, a customer's request) and granting or withdrawing consent.

The contact's flags hold the state; every change also leaves a
ConsentRecord (the evidence: source, scope, when, who) and an entry in the
activity log, in one transaction.
"""

from __future__ import annotations

from datetime import datetime

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from arrears.ledger.models import Contact
from arrears.ledger.services import activity_record

from .models import ConsentRecord

# Channels a contact carries consent flags for. Letters go to the customer's
# postal address and need no consent.
CONSENT_CHANNELS = ("email", "sms", "call")


def _check_channel(channel: str) -> None:
    if channel not in CONSENT_CHANNELS:
        raise ValueError(f"consent is kept for {', '.join(CONSENT_CHANNELS)}, not for {channel!r}")


@transaction.atomic
def contact_opt_out(
    *,
    contact: Contact,
    channel: str,
    source: str,
    actor_label: str,
    actor: User | None = None,
    scope: str = "collections",
    now: datetime | None = None,
) -> ConsentRecord:
    """Stop contacting ``contact`` on ``channel`` ("email", "sms", "call").

    Sets ``opted_out_<channel>`` and records the request. Opting out twice
    is harmless: the flag stays set and the second request is recorded too
    (it is evidence the contact asked again). ValueError for other channels.
    """
    _check_channel(channel)
    at = now or timezone.now()
    field = f"opted_out_{channel}"
    was_opted_out = bool(getattr(contact, field))
    # Update only this flag: a concurrent edit of the contact's other fields
    # must not be overwritten by this instance's possibly stale copy.
    Contact.objects.filter(pk=contact.pk).update(**{field: True, "updated_at": at})
    setattr(contact, field, True)
    record = ConsentRecord.objects.create(
        contact=contact,
        channel=channel,
        granted=False,
        source=source,
        scope=scope,
        at=at,
        actor_label=actor_label,
    )
    activity_record(
        actor_label=actor_label,
        actor=actor,
        customer=contact.customer,
        verb="opted out",
        subject_type="contact",
        subject_ref=str(contact.pk),
        why=f"{channel} opt-out via {source}",
        data={"channel": channel, "source": source, "already_opted_out": was_opted_out},
    )
    return record


@transaction.atomic
def contact_consent_set(
    *,
    contact: Contact,
    channel: str,
    granted: bool,
    source: str,
    actor_label: str,
    actor: User | None = None,
    scope: str = "collections",
    now: datetime | None = None,
) -> ConsentRecord:
    """Record that ``contact`` gave (``granted``) or withdrew consent for
    ``channel`` ("email", "sms", "call").

    Granting sets ``consent_<channel>`` and clears an earlier opt-out (the
    contact asked to hear from us again); withdrawing clears the consent and
    leaves the opt-out flag as it is. ValueError for other channels.
    """
    _check_channel(channel)
    at = now or timezone.now()
    changes: dict[str, object] = {f"consent_{channel}": granted, "updated_at": at}
    if granted:
        changes[f"opted_out_{channel}"] = False
    Contact.objects.filter(pk=contact.pk).update(**changes)
    for field, value in changes.items():
        setattr(contact, field, value)
    record = ConsentRecord.objects.create(
        contact=contact,
        channel=channel,
        granted=granted,
        source=source,
        scope=scope,
        at=at,
        actor_label=actor_label,
    )
    activity_record(
        actor_label=actor_label,
        actor=actor,
        customer=contact.customer,
        verb="consent granted" if granted else "consent withdrawn",
        subject_type="contact",
        subject_ref=str(contact.pk),
        why=f"{channel} consent via {source}",
        data={"channel": channel, "source": source, "granted": granted},
    )
    return record
