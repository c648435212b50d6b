"""What a message template is rendered with, and how.

``message_context`` builds the context from the database (the same shape
from built-in sample data for previews: ``sample_context``); ``template_render``
renders a MessageTemplate with it, in the template's language, wrapping an
e-mail's HTML and text in the shared layout (logo, footer, opt-out link).

Context keys (the letters and SMS channels rely on these names):
``brand``, ``customer``, ``contact`` (or None), ``greeting_name`` ("" when
the contact has no name), ``invoices`` (dicts: ref, order_ref, issue_date,
due_date, amount, open_amount, currency, days_overdue; open ones only),
``totals`` ({currency, open_amount} per currency), ``terms``, ``deadline``
(a date or None), ``payment`` ({bank_name, iban, bic, reference,
instructions}), ``portal_url`` (the customer's portal magic link; None
for sample data), ``collector`` ({name, email, phone}), ``today``,
``optout_url`` (None without a contact), ``language``.
"""

from __future__ import annotations

import re
import zoneinfo
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import cache
from typing import Any

from django.conf import settings
from django.core import signing
from django.template import Context, Engine
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.functional import SimpleLazyObject
from django.utils.safestring import mark_safe
from stdnum.iso7064 import mod_97_10

from arrears.ledger.models import Contact, ContactRole, Customer, Invoice, InvoiceStatus

from .models import Brand, MessageTemplate

OPTOUT_SALT = "comms-optout"


def brand_current() -> Brand:
    """The brand (the single row, pk 1), created with defaults when missing."""
    brand, _ = Brand.objects.get_or_create(pk=1)
    return brand


@cache
def template_engine() -> Engine:
    """The engine message templates are compiled with: the comms tags and
    filters built in (no ``{% load %}`` needed), includes from the apps'
    template folders, and debug on so a syntax error names its line."""
    return Engine(
        app_dirs=True,
        debug=True,
        builtins=["arrears.comms.templatetags.comms_tags"],
    )


def payment_reference(customer_ref: str) -> str:
    """The ISO 11649 creditor reference ("RF" + check digits + the
    customer ref's letters and digits, at most 21) customers quote when they
    pay, so payments can be matched to the customer."""
    body = re.sub(r"[^0-9A-Z]", "", customer_ref.upper())[:21] or "0"
    # ISO 11649: the check digits make body + "RF" + digits valid mod 97-10.
    digits = "".join(str(int(c, 36)) for c in body + "RF")
    return f"RF{mod_97_10.calc_check_digits(digits)}{body}"


def optout_token(contact_ids: Sequence[int], channel: str) -> str:
    """A signed, URL-safe token naming the contacts (a message's
    recipients) and the channel they opt out of."""
    return signing.dumps({"c": list(contact_ids), "ch": channel}, salt=OPTOUT_SALT, compress=True)


def optout_url(brand: Brand, contact_ids: Sequence[int], channel: str) -> str:
    """The absolute opt-out link (under the brand's public URL)."""
    path = reverse("comms-optout", args=[optout_token(contact_ids, channel)])
    return brand.public_url.rstrip("/") + path


def _zone(customer: Customer) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(customer.time_zone or settings.TIME_ZONE)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo(settings.TIME_ZONE)


def _collector(customer: Customer, brand: Brand) -> dict[str, str]:
    user = customer.collector
    if user is not None and user.email:
        return {
            "name": user.get_full_name() or user.get_username(),
            "email": user.email,
            "phone": brand.phone,
        }
    return {"name": brand.sender_name, "email": brand.sender_email, "phone": brand.phone}


def _invoice_rows(invoices: Sequence[Invoice], today: date) -> list[dict[str, Any]]:
    return [
        {
            "ref": inv.ref,
            "order_ref": inv.order_ref,
            "issue_date": inv.issue_date,
            "due_date": inv.due_date,
            "amount": inv.amount,
            "open_amount": inv.open_amount,
            "currency": inv.currency,
            "days_overdue": max((today - inv.due_date).days, 0),
        }
        for inv in sorted(invoices, key=lambda i: (i.due_date, i.ref))
    ]


def _totals(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    sums: dict[str, Decimal] = {}
    for row in rows:
        sums[row["currency"]] = sums.get(row["currency"], Decimal(0)) + row["open_amount"]
    return [{"currency": cur, "open_amount": amount} for cur, amount in sorted(sums.items())]


def _assemble(
    *,
    brand: Brand,
    customer: Customer,
    contact: Contact | None,
    invoices: Sequence[Invoice],
    deadline: date | None,
    today: date,
    channel: str,
    collector: dict[str, str],
    optout: str | None,
) -> dict[str, Any]:
    rows = _invoice_rows(invoices, today)
    terms = sorted({inv.terms for inv in invoices if inv.terms})
    from arrears.portal.links import portal_link  # here: the portal imports comms

    return {
        "brand": brand,
        "customer": customer,
        "contact": contact,
        "greeting_name": contact.name if contact is not None else "",
        "invoices": rows,
        "totals": _totals(rows),
        "terms": ", ".join(terms),
        "deadline": deadline,
        "payment": {
            "bank_name": brand.bank_name,
            "iban": brand.iban,
            "bic": brand.bic,
            "reference": payment_reference(customer.ref),
            "instructions": brand.payment_instructions,
        },
        "portal_url": portal_link(customer, contact=contact, base_url=brand.public_url)
        if customer.pk
        else None,
        "collector": collector,
        "today": today,
        "optout_url": optout,
        "language": (customer.language or "en")[:2].lower(),
        "channel": channel,
    }


def message_context(
    *,
    customer: Customer,
    invoice_refs: Sequence[str],
    deadline: date | None,
    contact: Contact | None = None,
    now: datetime,
    channel: str = "email",
) -> dict[str, Any]:
    """The context for one message to ``customer`` about ``invoice_refs``.

    Only invoices still open are listed: one paid since the action was
    planned is dropped (``invoices`` is empty when all are paid). ``today``
    is ``now`` in the customer's time zone. ``optout_url`` is None without a
    contact (letters).
    """
    brand = brand_current()
    today = timezone.localtime(now, _zone(customer)).date()
    invoices = list(
        Invoice.objects.filter(
            customer=customer, ref__in=list(invoice_refs), status=InvoiceStatus.OPEN
        )
    )
    context = _assemble(
        brand=brand,
        customer=customer,
        contact=contact,
        invoices=invoices,
        deadline=deadline,
        today=today,
        channel=channel,
        collector=_collector(customer, brand),
        optout=optout_url(brand, [contact.pk], channel) if contact is not None else None,
    )
    # Cases add plan, promise, charges and discount (imported here: cases imports comms).
    from arrears.cases.charges import message_extras

    context.update(
        message_extras(customer=customer, invoices=invoices, invoice_refs=invoice_refs, today=today)
    )
    from arrears.cases.selectors import dispute_context

    # Read only when a template names it (the dispute outcomes): every other
    # message the outbox renders is spared the lookup.
    context["dispute"] = SimpleLazyObject(
        lambda: dispute_context(customer=customer, invoice_refs=invoice_refs)
    )
    return context


def sample_context(*, language: str = "en", channel: str = "email", today: date) -> dict[str, Any]:
    """The context of ``message_context`` from made-up data (nothing is
    saved): a customer, its AP contact and three open invoices in two
    currencies, one partly paid, for previews."""
    brand = brand_current()
    customer = Customer(
        ref="SAMPLE-1042",
        name="Nordwind Handels GmbH" if language == "de" else "Northwind Trading Ltd",
        country="DE" if language == "de" else "GB",
        language=language,
        postal_address="Hafenstraße 12\n20457 Hamburg\nGermany"
        if language == "de"
        else "12 Harbour Road\nBristol BS1 4RN\nUnited Kingdom",
    )
    contact = Contact(
        customer=customer, name="Alex Morgan", role=ContactRole.AP, email="ap@northwind.example"
    )
    invoices = [
        Invoice(
            ref="INV-2031",
            order_ref="PO-88120",
            issue_date=today - timedelta(days=44),
            due_date=today - timedelta(days=14),
            amount=Decimal("1250.00"),
            allocated=Decimal(0),
            currency="EUR",
            terms="Net 30",
        ),
        Invoice(
            ref="INV-2047",
            order_ref="PO-88154",
            issue_date=today - timedelta(days=35),
            due_date=today - timedelta(days=5),
            amount=Decimal("980.40"),
            allocated=Decimal("500.00"),
            currency="EUR",
            terms="Net 30",
        ),
        Invoice(
            ref="INV-2052",
            order_ref="",
            issue_date=today - timedelta(days=25),
            due_date=today + timedelta(days=5),
            amount=Decimal("2400.00"),
            allocated=Decimal(0),
            currency="USD",
            terms="Net 30",
        ),
    ]
    context = _assemble(
        brand=brand,
        customer=customer,
        contact=contact,
        invoices=invoices,
        deadline=today + timedelta(days=14),
        today=today,
        channel=channel,
        collector={
            "name": "Sam Collector",
            "email": brand.sender_email,
            "phone": brand.phone or "+44 117 496 0123",
        },
        optout=optout_url(brand, [0], channel),
    )
    context["payment"] = {
        "bank_name": brand.bank_name or "Example Bank plc",
        "iban": brand.iban or "GB33BUKB20201555555555",
        "bic": brand.bic or "BUKBGB22",
        "reference": payment_reference(customer.ref),
        "instructions": brand.payment_instructions,
    }
    # What confirmations of a promise or a payment plan are rendered with.
    context["promise"] = {
        "amount": Decimal("1730.40"),
        "currency": "EUR",
        "date": today + timedelta(days=10),
    }
    context["plan"] = {
        "instalments": [
            {"due_date": today + timedelta(days=30 * n), "amount": amount, "currency": "EUR"}
            for n, amount in enumerate([Decimal("600.00"), Decimal("600.00"), Decimal("530.40")], 1)
        ]
    }
    # What the outcome of a dispute is told with.
    context["dispute"] = {
        "id": 17,
        "reason": "Quality or damaged goods",
        "status": "rejected",
        # Neutral, so both outcomes' previews read sensibly.
        "resolution": "We compared your photos with the delivery note signed on receipt.",
        "lines": [{"ref": "INV-2031", "amount": Decimal("1250.00"), "currency": "EUR"}],
        "credit_notes": [],
    }
    return context


@dataclass(frozen=True)
class Rendered:
    """A rendered template: ``html`` is the whole e-mail (layout included),
    a letter's body fragment, or "" for texts and call scripts."""

    subject: str
    html: str
    text: str


def _render(source: str, context: dict[str, Any], *, html: bool) -> str:
    template = template_engine().from_string(source)
    return template.render(Context(context, autoescape=html))


def template_render(template: MessageTemplate, context: dict[str, Any]) -> Rendered:
    """Render ``template`` with ``context`` in the template's language
    (dates and amounts formatted for it). E-mails come wrapped in the
    shared layout; the opt-out link is shown when the template has
    ``list_unsubscribe`` and the context an ``optout_url``."""
    context = {**context, "language": template.language}
    with translation.override(template.language):
        subject = " ".join(_render(template.subject, context, html=False).split())
        if template.channel == "email":
            body_html = _render(template.body, context, html=True)
            body_text = _render(template.body_text, context, html=False)
            wrap = {
                **context,
                "subject": subject,
                "show_optout": template.list_unsubscribe and bool(context.get("optout_url")),
            }
            engine = template_engine()
            html = engine.get_template("comms/email/layout.html").render(
                Context({**wrap, "body": mark_safe(body_html)})
            )
            text = engine.get_template("comms/email/layout.txt").render(
                Context({**wrap, "body": body_text}, autoescape=False)
            )
            return Rendered(subject=subject, html=html, text=_tidy_text(text))
        if template.channel == "letter":
            return Rendered(
                subject=subject, html=_render(template.body, context, html=True), text=""
            )
        return Rendered(
            subject=subject, html="", text=_tidy_text(_render(template.body, context, html=False))
        )


def _tidy_text(text: str) -> str:
    """Template tags leave blank lines behind: at most one in a row, none
    at the ends, no trailing spaces."""
    lines = [line.rstrip() for line in text.strip().splitlines()]
    out: list[str] = []
    for line in lines:
        if line or (out and out[-1]):
            out.append(line)
    return "\n".join(out)
