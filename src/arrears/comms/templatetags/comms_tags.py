"""Filters and tags for message templates (built into the message template
engine; ``{% load comms_tags %}`` elsewhere).

``{{ amount|money:currency }}`` formats a Decimal with its currency's minor
units in the active language ("EUR 1,234.50"; German "1.234,50 EUR").
``{{ some_date|longdate }}`` writes a date out ("14 March 2026", "14. März
2026"). ``{% invoice_table %}``, ``{% invoice_lines %}``, ``{% payment_details %}``
and ``{% payment_lines %}`` render the invoices and how to pay from the
context, as HTML or as plain text.
"""

from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Any

from django import template
from django.utils import translation
from django.utils.formats import date_format

from arrears.domain.money import MoneyError, minor_units

register = template.Library()

# Labels of the invoice table and payment block, by language.
LABELS: dict[str, dict[str, str]] = {
    "en": {
        "invoice": "Invoice",
        "order": "Your order",
        "issued": "Date",
        "due": "Due",
        "amount": "Amount",
        "open": "Open",
        "overdue": "days overdue",
        "total": "Total open",
        "bank": "Bank",
        "iban": "IBAN",
        "bic": "BIC",
        "reference": "Payment reference",
        "pay_heading": "How to pay",
    },
    "de": {
        "invoice": "Rechnung",
        "order": "Ihre Bestellung",
        "issued": "Datum",
        "due": "Fällig",
        "amount": "Betrag",
        "open": "Offen",
        "overdue": "Tage überfällig",
        "total": "Offen gesamt",
        "bank": "Bank",
        "iban": "IBAN",
        "bic": "BIC",
        "reference": "Verwendungszweck",
        "pay_heading": "So zahlen Sie",
    },
}


def _language() -> str:
    return (translation.get_language() or "en")[:2]


def labels() -> dict[str, str]:
    return LABELS.get(_language(), LABELS["en"])


def money_format(amount: Decimal, currency: str, language: str = "en") -> str:
    """``amount`` rounded to the currency's minor units, grouped by
    thousands, with the currency code (before it in English, after it in
    German)."""
    try:
        places = minor_units(currency)
    except MoneyError:
        places = 2
    value = Decimal(amount).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_EVEN)
    text = f"{abs(value):,.{places}f}"
    sign = "-" if value < 0 else ""
    if language == "de":
        text = text.replace(",", "\x00").replace(".", ",").replace("\x00", ".")
        return f"{sign}{text} {currency}"
    return f"{sign}{currency} {text}"


@register.filter
def money(amount: Any, currency: str = "") -> str:
    """``{{ amount|money:currency }}``; "" for a missing amount."""
    if amount is None or amount == "":
        return ""
    try:
        value = amount if isinstance(amount, Decimal) else Decimal(str(amount))
    except InvalidOperation:
        return str(amount)
    return money_format(value, str(currency), _language())


@register.filter
def longdate(value: Any) -> str:
    """A date written out in the active language; "" for None."""
    if not isinstance(value, date):
        return "" if value is None else str(value)
    if _language() == "de":
        return date_format(value, "j. F Y")
    return date_format(value, "j F Y")


@register.inclusion_tag("comms/email/_invoice_table.html", takes_context=True)
def invoice_table(context: template.Context) -> dict[str, Any]:
    return {
        "invoices": context.get("invoices", []),
        "totals": context.get("totals", []),
        "label": labels(),
        "brand": context.get("brand"),
    }


@register.inclusion_tag("comms/email/_invoice_lines.txt", takes_context=True)
def invoice_lines(context: template.Context) -> dict[str, Any]:
    return {
        "invoices": context.get("invoices", []),
        "totals": context.get("totals", []),
        "label": labels(),
    }


@register.inclusion_tag("comms/email/_payment_details.html", takes_context=True)
def payment_details(context: template.Context) -> dict[str, Any]:
    return {"payment": context.get("payment", {}), "label": labels(), "brand": context.get("brand")}


@register.inclusion_tag("comms/email/_payment_lines.txt", takes_context=True)
def payment_lines(context: template.Context) -> dict[str, Any]:
    return {"payment": context.get("payment", {}), "label": labels()}


@register.simple_tag(takes_context=True)
def total_open(context: template.Context) -> str:
    """All that is open, per currency: "EUR 1,730.40 and USD 2,400.00"."""
    language = _language()
    parts = [
        money_format(t["open_amount"], t["currency"], language) for t in context.get("totals") or []
    ]
    joiner = " und " if language == "de" else " and "
    if len(parts) <= 2:
        return joiner.join(parts)
    return ", ".join(parts[:-1]) + joiner + parts[-1]


@register.filter
def iban(value: Any) -> str:
    """An IBAN in groups of four, as printed ("GB33 BUKB 2020 …")."""
    compact = "".join(str(value or "").split()).upper()
    return " ".join(compact[i : i + 4] for i in range(0, len(compact), 4))
