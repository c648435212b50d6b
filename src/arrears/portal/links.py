"""Magic links into the portal: signed, expiring, for one customer.

A link's token is ``TimestampSigner(salt=LINK_SALT).sign_object(...)``
over the customer's id, the customer's link generation and, when the link
was made for a contact (a reminder's recipient, an e-mail sign-in), the
contact's id; the signer adds the issue time. Tokens expire after
``ARREARS_PORTAL_LINK_DAYS`` and die at once when the customer's generation
is bumped (``portal_links_revoke``). Changing any byte breaks the signature.

This module imports nothing from comms at import time: comms' rendering
calls ``portal_link`` for every message it renders.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.core import signing
from django.urls import reverse

from arrears.ledger.models import Contact, Customer

from .conf import setting
from .models import PortalAccess

LINK_SALT = "arrears.portal.link"


class LinkInvalid(Exception):
    """A token that opens nothing: tampered, expired, revoked, malformed or
    signed for something else. Deliberately says no more than that."""


@dataclass(frozen=True)
class LinkGrant:
    """What a valid token grants: one customer, and the contact it was
    made for (None: a link printed for the customer)."""

    customer: Customer
    contact: Contact | None
    generation: int


def generation_of(customer_id: int) -> int:
    """The customer's current link generation (0 without a PortalAccess row)."""
    found = (
        PortalAccess.objects.filter(customer_id=customer_id)
        .values_list("generation", flat=True)
        .first()
    )
    return found or 0


def link_lifetime() -> timedelta:
    return timedelta(days=setting("ARREARS_PORTAL_LINK_DAYS"))


def portal_token(customer: Customer, *, contact: Contact | None = None) -> str:
    """A fresh token for ``customer`` (and ``contact``, when it is theirs)."""
    payload: dict[str, int] = {"c": customer.pk, "g": generation_of(customer.pk)}
    if contact is not None and contact.pk is not None and contact.customer_id == customer.pk:
        payload["p"] = contact.pk
    return signing.TimestampSigner(salt=LINK_SALT).sign_object(payload)


def portal_link(
    customer: Customer, *, contact: Contact | None = None, base_url: str | None = None
) -> str:
    """The absolute magic link for ``customer`` under the brand's public URL
    (``base_url`` when given, which spares a query)."""
    if base_url is None:
        from arrears.comms.rendering import brand_current

        base_url = brand_current().public_url
    path = reverse("portal-open", args=[portal_token(customer, contact=contact)])
    return base_url.rstrip("/") + path


def portal_token_read(token: str) -> LinkGrant:
    """The grant a token carries; LinkInvalid for anything else."""
    try:
        payload = signing.TimestampSigner(salt=LINK_SALT).unsign_object(
            token, max_age=link_lifetime()
        )
        customer_id, generation = payload["c"], payload["g"]
        contact_id = payload.get("p")
    except (signing.BadSignature, KeyError, TypeError, ValueError, AttributeError):
        raise LinkInvalid from None
    if not isinstance(customer_id, int) or not isinstance(generation, int):
        raise LinkInvalid
    customer = Customer.objects.filter(pk=customer_id).first()
    if customer is None or generation != generation_of(customer_id):
        raise LinkInvalid
    contact = None
    if isinstance(contact_id, int):
        contact = Contact.objects.filter(pk=contact_id, customer=customer, is_active=True).first()
    return LinkGrant(customer=customer, contact=contact, generation=generation)
