"""The message context and the money and date filters."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from django.core import signing
from django.template import Context
from django.utils import translation
from hypothesis import given
from hypothesis import strategies as st
from stdnum import iso11649

from arrears.comms.models import Brand
from arrears.comms.rendering import (
    OPTOUT_SALT,
    brand_current,
    message_context,
    payment_reference,
    sample_context,
    template_engine,
)
from arrears.comms.templatetags.comms_tags import iban, money_format
from arrears.ledger.models import Customer

NOW = datetime(2025, 3, 10, 23, 30, tzinfo=UTC)


def test_the_context_lists_only_invoices_still_open(acme: Customer) -> None:
    context = message_context(
        customer=acme,
        invoice_refs=["A-1", "A-2", "A-3", "A-4"],
        deadline=date(2025, 3, 24),
        contact=acme.contacts.get(role="ap"),
        now=NOW,
    )
    assert [i["ref"] for i in context["invoices"]] == ["A-1", "A-2", "A-3"]
    partly_paid = context["invoices"][1]
    assert partly_paid["amount"] == Decimal("500.00")
    assert partly_paid["open_amount"] == Decimal("300.00")
    assert partly_paid["order_ref"] == "PO-A-2"
    assert context["totals"] == [
        {"currency": "EUR", "open_amount": Decimal("1300.00")},
        {"currency": "USD", "open_amount": Decimal("1234.56")},
    ]
    # 23:30 UTC is already the next day in Berlin, the customer's zone.
    assert context["today"] == date(2025, 3, 11)
    assert context["invoices"][0]["days_overdue"] == 38
    assert context["greeting_name"] == "Petra Payable"
    assert context["collector"] == {
        "name": "Dana Collector",
        "email": "dana@ar.example",
        "phone": "",
    }
    assert context["terms"] == "Net 30"
    assert context["portal_url"].startswith(brand_current().public_url + "/portal/l/")
    assert context["deadline"] == date(2025, 3, 24)


def test_the_opt_out_link_is_signed_for_the_contact_and_channel(acme: Customer) -> None:
    contact = acme.contacts.get(role="ap")
    context = message_context(
        customer=acme, invoice_refs=[], deadline=None, contact=contact, now=NOW, channel="sms"
    )
    token = context["optout_url"].rstrip("/").rsplit("/", 1)[1]
    assert context["optout_url"].startswith(brand_current().public_url + "/comms/optout/")
    assert signing.loads(token, salt=OPTOUT_SALT) == {"c": [contact.pk], "ch": "sms"}
    letter = message_context(customer=acme, invoice_refs=[], deadline=None, now=NOW)
    assert letter["optout_url"] is None
    assert letter["greeting_name"] == ""


def test_without_a_collector_replies_go_to_the_brand_sender(acme: Customer) -> None:
    acme.collector = None
    Brand.objects.create(
        pk=1, sender_name="AR Team", sender_email="ar@brand.example", phone="+49 1"
    )
    context = message_context(customer=acme, invoice_refs=["A-1"], deadline=None, now=NOW)
    assert context["collector"] == {
        "name": "AR Team",
        "email": "ar@brand.example",
        "phone": "+49 1",
    }


def test_the_payment_reference_is_a_valid_iso_11649_creditor_reference() -> None:
    # 98 - int("101222147271500") % 97 == 24 (ISO 11649, letters as 10..35)
    assert payment_reference("ACME-7") == "RF24ACME7"
    assert iso11649.is_valid(payment_reference("ACME-7"))


@given(st.text(alphabet="abcXYZ019-_/ ", max_size=40))
def test_every_customer_ref_gives_a_valid_payment_reference(ref: str) -> None:
    reference = payment_reference(ref)
    assert iso11649.is_valid(reference)
    assert len(reference) <= 25


@pytest.mark.parametrize(
    ("amount", "currency", "language", "text"),
    [
        ("1234.5", "EUR", "en", "EUR 1,234.50"),
        ("1234.5", "EUR", "de", "1.234,50 EUR"),
        ("1234567", "JPY", "en", "JPY 1,234,567"),
        ("0.0005", "KWD", "en", "KWD 0.000"),
        ("0.0015", "KWD", "en", "KWD 0.002"),
        ("-12", "USD", "de", "-12,00 USD"),
    ],
)
def test_money_is_rounded_to_the_currency_and_grouped_per_language(
    amount: str, currency: str, language: str, text: str
) -> None:
    assert money_format(Decimal(amount), currency, language) == text


def test_the_money_filter_and_long_dates_follow_the_active_language() -> None:
    source = "{{ amount|money:'EUR' }} {{ day|longdate }} {{ iban_|iban }}"
    context = {
        "amount": Decimal("1000"),
        "day": date(2025, 3, 1),
        "iban_": "de89370400440532013000",
    }
    template = template_engine().from_string(source)
    with translation.override("de"):
        assert (
            template.render(Context(context))
            == "1.000,00 EUR 1. März 2025 DE89 3704 0044 0532 0130 00"
        )
    with translation.override("en"):
        assert (
            template.render(Context(context))
            == "EUR 1,000.00 1 March 2025 DE89 3704 0044 0532 0130 00"
        )
    assert iban(None) == ""


def test_sample_data_has_three_invoices_in_two_currencies(db: None) -> None:
    context = sample_context(today=date(2025, 3, 10))
    assert len(context["invoices"]) == 3
    assert {t["currency"] for t in context["totals"]} == {"EUR", "USD"}
    assert context["customer"].pk is None  # nothing saved
    assert set(context) >= {
        "brand", "customer", "contact", "greeting_name", "invoices", "totals", "terms",
        "deadline", "payment", "portal_url", "collector", "today", "optout_url",
    }  # fmt: skip
