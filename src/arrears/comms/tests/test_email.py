"""The e-mail channel against a real SMTP server on loopback (aiosmtpd)."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from typing import Any

import pytest

from arrears.comms.channels import DeliveryResult
from arrears.comms.compose import message_compose
from arrears.comms.email import EmailChannel
from arrears.comms.models import Brand, Message
from arrears.ledger.models import Contact, ContactRole, Customer

from .conftest import SmtpServer

NOW = datetime(2025, 3, 10, 9, 0, tzinfo=UTC)
_keys = itertools.count(1)


def _message(customer: Customer) -> Message:
    return Message.objects.create(
        customer=customer,
        channel="email",
        template_key="firm-reminder",
        invoice_refs=["A-1", "A-2", "A-3"],
        not_before=NOW,
        next_attempt_at=NOW,
        created_at=NOW,
        idempotency_key=f"{customer.ref}|firm-reminder|2025-03-10|{next(_keys)}",
    )


def _send(customer: Customer) -> tuple[Message, DeliveryResult]:
    message = _message(customer)
    return message, EmailChannel().send(message, message_compose(message, now=NOW))


def test_an_email_arrives_with_both_parts_headers_and_the_invoice_copies(
    smtp_settings: SmtpServer, acme: Customer
) -> None:
    Brand.objects.create(
        pk=1,
        company_name="Muster AG",
        sender_name="Muster AG Buchhaltung",
        sender_email="ar@muster.example",
        attach_invoice_pdfs=True,
    )
    message, result = _send(acme)
    assert result.ok, result
    [(mail_from, rcpt_tos, email)] = smtp_settings.messages
    assert mail_from == "ar@muster.example"
    assert rcpt_tos == ["ap@acme.example"]
    assert email["From"] == "Muster AG Buchhaltung <ar@muster.example>"
    assert email["To"] == "ap@acme.example"
    assert email["Reply-To"] == "dana@ar.example"
    assert email["Message-ID"] == f"<ACME-7-firm-reminder-2025-03-10-1.{message.pk}@muster.example>"
    assert result.provider_id == email["Message-ID"]
    # Django folds a long encoded subject onto the next line; readers strip that space.
    assert email["Subject"].strip().startswith("Zahlungserinnerung: 1.300,00 EUR und 1.234,56 USD")
    assert email["List-Unsubscribe"].strip().startswith("<http://127.0.0.1:8000/comms/optout/")
    assert email["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    text = email.get_body(preferencelist=("plain",))
    html = email.get_body(preferencelist=("html",))
    assert text is not None and html is not None
    assert "Guten Tag Petra Payable" in text.get_content()
    assert "RF24ACME7" in text.get_content()
    assert "<strong>A-3</strong>" in html.get_content()
    attachments = list(email.iter_attachments())
    assert [a.get_filename() for a in attachments] == ["A-1.pdf", "A-2.pdf", "A-3.pdf"]
    assert attachments[0].get_content_type() == "application/pdf"
    assert attachments[0].get_content().startswith(b"%PDF-")


def test_the_message_id_is_the_same_on_a_second_attempt(
    smtp_settings: SmtpServer, acme: Customer
) -> None:
    message = _message(acme)
    composed = message_compose(message, now=NOW)
    first = EmailChannel().send(message, composed)
    second = EmailChannel().send(message, composed)
    assert first.provider_id == second.provider_id
    assert [m[2]["Message-ID"] for m in smtp_settings.messages] == [first.provider_id] * 2


def test_an_address_refused_for_good_is_reported_bounced(
    smtp_settings: SmtpServer, acme: Customer
) -> None:
    smtp_settings.refuse["ap@acme.example"] = "550 5.1.1 No such user"
    _, result = _send(acme)
    assert (result.ok, result.permanent, result.bounced) == (False, True, ("ap@acme.example",))
    assert "550" in result.error and "No such user" in result.error
    assert smtp_settings.messages == []


def test_a_temporary_refusal_is_retried(smtp_settings: SmtpServer, acme: Customer) -> None:
    smtp_settings.refuse["ap@acme.example"] = "450 4.2.1 Mailbox busy, try later"
    _, result = _send(acme)
    assert (result.ok, result.permanent, result.bounced) == (False, False, ())
    assert "450" in result.error


def test_when_one_of_two_addresses_is_refused_the_other_still_gets_it(
    smtp_settings: SmtpServer, acme: Customer
) -> None:
    Contact.objects.create(customer=acme, role=ContactRole.BILLING, email="gone@acme.example")
    smtp_settings.refuse["gone@acme.example"] = "550 5.1.1 No such user"
    _, result = _send(acme)
    assert (result.ok, result.bounced) == (True, ("gone@acme.example",))
    assert "gone@acme.example: 550" in result.error
    [(_, rcpt_tos, email)] = smtp_settings.messages
    assert rcpt_tos == ["ap@acme.example"]
    assert email["To"] == "ap@acme.example, gone@acme.example"


@pytest.mark.parametrize(
    ("reply", "permanent"), [("554 5.7.1 Spam", True), ("451 4.3.0 Later", False)]
)
def test_a_refused_message_body_is_refused_or_retried_by_its_code(
    smtp_settings: SmtpServer, acme: Customer, reply: str, permanent: bool
) -> None:
    smtp_settings.data_reply = reply
    _, result = _send(acme)
    assert (result.ok, result.permanent, result.bounced) == (False, permanent, ())
    assert reply.split()[0] in result.error


def test_no_server_listening_is_retried(settings: Any, acme: Customer) -> None:
    from .conftest import _free_port

    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = _free_port()
    _, result = _send(acme)
    assert (result.ok, result.permanent) == (False, False)
    assert "ConnectionRefusedError" in result.error


def test_a_server_that_stalls_past_the_timeout_is_retried(
    smtp_settings: SmtpServer, acme: Customer, settings: Any
) -> None:
    settings.EMAIL_TIMEOUT = 0.5
    smtp_settings.gate.clear()
    _, result = _send(acme)
    assert smtp_settings.arrived.is_set()
    assert (result.ok, result.permanent) == (False, False)
    assert "timed out" in result.error
