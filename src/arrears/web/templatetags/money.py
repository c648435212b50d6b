"""Template filters for amounts: ``{{ amount|money:currency }}``."""

from __future__ import annotations

from decimal import Decimal

from django import template
from django.utils.html import format_html
from django.utils.safestring import SafeString

from arrears.domain.money import MoneyError, quantum

register = template.Library()


@register.filter
def money(amount: Decimal | None, currency: str) -> SafeString | str:
    """``1,234,567.89 USD``: the currency's minor units, thousands separated.

    None renders as an empty string; the code is wrapped for styling.
    """
    if amount is None:
        return ""
    try:
        value = Decimal(amount).quantize(quantum(currency))
    except MoneyError:
        value = Decimal(amount)
    return format_html('{}&nbsp;<span class="ccy">{}</span>', f"{value:,}", currency)


@register.filter
def percent(value: Decimal | float | None, places: int = 1) -> str:
    """``12.3%``; None (undefined, e.g. no AR) renders as an en dash."""
    if value is None:
        return "\u2013"
    return f"{Decimal(value):.{places}f}%"


@register.filter
def thousands(value: int | None) -> str:
    """``12,345``; None renders as an empty string."""
    return "" if value is None else f"{value:,}"
