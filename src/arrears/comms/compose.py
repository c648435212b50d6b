"""Composing a message at send time: the recipients still allowed to
receive it and the text rendered from its template with today's data."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.template import Context
from django.utils import timezone, translation

from arrears.ledger.models import Contact, ContactRole, Customer

from .catalog import template_active
from .models import Message, Task
from .rendering import message_context, optout_url, template_engine, template_render


@dataclass(frozen=True)
class Composed:
    """A message ready to hand to its channel.

    ``to``: e-mail addresses, a phone number, or the postal block's lines
    (letters). ``attachments``: (file name, content, MIME type).
    """

    to: tuple[str, ...]
    contact_id: int | None
    subject: str
    body_text: str
    body_html: str
    template_version: int | None
    language: str
    reply_to: tuple[str, ...] = ()
    headers: tuple[tuple[str, str], ...] = ()
    attachments: tuple[tuple[str, bytes, str], ...] = ()


class NoRecipient(Exception):
    """No contact may receive the message on its channel; ``reason`` is one
    of "opted out", "bounced", "no consent", "no address"."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


_PREFERRED_ROLES = (ContactRole.AP, ContactRole.BILLING)


def _blocked_reason(contacts: Sequence[Contact], channel: str) -> str:
    """Why none of ``contacts`` may receive ``channel`` (as the daily run's
    ``_blocked_channels`` says it)."""
    address = "email" if channel == "email" else "phone"
    reachable = [c for c in contacts if getattr(c, address)]
    if not reachable:
        return "no address"
    if all(getattr(c, f"opted_out_{channel}") for c in reachable):
        return "opted out"
    if channel == "email" and all(c.email_bounced or c.opted_out_email for c in reachable):
        return "bounced"
    return "no consent"


def _usable(contact: Contact, channel: str) -> bool:
    address = contact.email if channel == "email" else contact.phone
    return bool(
        contact.is_active
        and address
        and getattr(contact, f"consent_{channel}")
        and not getattr(contact, f"opted_out_{channel}")
        and not (channel == "email" and contact.email_bounced)
    )


def message_recipients(message: Message) -> list[Contact]:
    """The contacts ``message`` goes to on its channel ("email", "sms",
    "call"): its own contact when it names one, else every usable contact
    of the customer with the AP or billing role, or, when there are none,
    every other usable contact. Raises ``NoRecipient`` with the reason when
    no contact may receive it."""
    channel = message.channel
    if message.contact_id is not None and message.contact is not None:
        candidates = [message.contact]
    else:
        candidates = list(Contact.objects.filter(customer_id=message.customer_id, is_active=True))
    usable = [c for c in candidates if _usable(c, channel)]
    if not usable:
        raise NoRecipient(_blocked_reason(candidates, channel))
    preferred = [c for c in usable if c.role in _PREFERRED_ROLES]
    chosen = preferred or usable
    # Texts and calls reach one person; an e-mail goes to all the AP mailboxes.
    return chosen if channel == "email" else chosen[:1]


def postal_block(customer: Customer) -> tuple[str, ...]:
    """The letter's address lines: the customer's name, then its postal
    address. NoRecipient("no address") when it has no postal address."""
    lines = [line.strip() for line in customer.postal_address.splitlines() if line.strip()]
    if not lines:
        raise NoRecipient("no address")
    return (customer.name, *lines)


def message_compose(message: Message, *, now: datetime) -> Composed:
    """Render ``message`` for its channel with today's data: the contacts
    still allowed to receive it, the active template in the customer's
    language (English when there is none), reply-to the collector, the
    one-click unsubscribe headers when the template asks for them, and
    copies of the invoices as PDFs when the brand attaches them.

    Raises ``NoRecipient`` when no one may receive it, ``TemplateMissing``
    when there is no template for it."""
    customer = message.customer
    channel = message.channel
    contacts: list[Contact] = []
    if channel == "letter":
        to = postal_block(customer)
        primary = message.contact if message.contact_id is not None else None
    else:
        contacts = message_recipients(message)
        primary = contacts[0]
        to = tuple(c.email if channel == "email" else c.phone for c in contacts)
    template = template_active(message.template_key, channel, customer.language or "en")
    context = message_context(
        customer=customer,
        invoice_refs=list(message.invoice_refs),
        deadline=message.deadline,
        contact=primary,
        now=now,
        channel=channel,
    )
    if contacts:
        # One click on the link opts out everyone the message went to.
        context["optout_url"] = optout_url(context["brand"], [c.pk for c in contacts], channel)
    rendered = template_render(template, context)
    headers: tuple[tuple[str, str], ...] = ()
    attachments: tuple[tuple[str, bytes, str], ...] = ()
    if channel == "email":
        if template.list_unsubscribe and context["optout_url"]:
            headers = (
                ("List-Unsubscribe", f"<{context['optout_url']}>"),
                ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"),
            )
        if context["brand"].attach_invoice_pdfs:
            attachments = tuple(
                (f"{row['ref']}.pdf", invoice_copy_pdf(row, context), "application/pdf")
                for row in context["invoices"]
            )
    return Composed(
        to=tuple(to),
        contact_id=primary.pk if primary is not None else None,
        subject=rendered.subject,
        body_text=rendered.text,
        body_html=rendered.html,
        template_version=template.version,
        language=template.language,
        reply_to=(context["collector"]["email"],) if context["collector"]["email"] else (),
        headers=headers,
        attachments=attachments,
    )


def invoice_copy_pdf(invoice: dict[str, Any], context: dict[str, Any]) -> bytes:
    """A one-page copy of an invoice (``invoice`` is a row of the context's
    ``invoices``) as PDF: there is no store of the original invoice PDFs
    yet, so this copy states what the ledger knows about it."""
    from weasyprint import HTML

    with translation.override(context["language"]):
        html = (
            template_engine()
            .get_template("comms/invoice_copy.html")
            .render(Context({**context, "invoice": invoice}))
        )
    # No base URL and no fetcher beyond data: URLs: a copy never loads files.
    pdf = HTML(string=html, url_fetcher=_data_only).write_pdf()
    assert pdf is not None  # write_pdf() without a target returns the bytes
    return bytes(pdf)


def _data_only(url: str) -> dict[str, Any]:
    if not url.startswith("data:"):
        raise ValueError(f"not loading {url[:60]!r} into an invoice copy")
    from weasyprint.urls import default_url_fetcher

    return dict(default_url_fetcher(url))


def task_script(task: Task, *, now: datetime | None = None) -> str:
    """The call script for ``task`` (its ``template_key``, the customer's
    language or English) with its customer's open invoices and the contact
    to call; "" when the task names no script."""
    if not task.template_key:
        return ""
    customer = task.customer
    contact = None
    try:
        contact = message_recipients(
            Message(customer=customer, channel="call", template_key=task.template_key)
        )[0]
    except NoRecipient:
        contact = None
    template = template_active(task.template_key, "call", customer.language or "en")
    context = message_context(
        customer=customer,
        invoice_refs=list(task.invoice_refs),
        deadline=task.action.deadline if task.action is not None else None,
        contact=contact,
        now=now or timezone.now(),
        channel="call",
    )
    return template_render(template, context).text
