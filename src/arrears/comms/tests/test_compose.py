"""Composing a message at send time: recipients, template, headers, PDFs."""

from __future__ import annotations

import io
import itertools
from datetime import UTC, date, datetime

import pytest
from django.core import signing
from pypdf import PdfReader

from arrears.comms.compose import NoRecipient, message_compose, task_script
from arrears.comms.models import Brand, Message, Task, TaskKind
from arrears.comms.rendering import OPTOUT_SALT
from arrears.ledger.models import Contact, ContactRole, Customer

NOW = datetime(2025, 3, 10, 9, 0, tzinfo=UTC)
_keys = itertools.count(1)


def _message(customer: Customer, channel: str = "email", **fields: object) -> Message:
    defaults: dict[str, object] = {
        "template_key": "firm-reminder",
        "invoice_refs": ["A-1", "A-2", "A-3", "A-4"],
        "not_before": NOW,
        "next_attempt_at": NOW,
        "created_at": NOW,
        "idempotency_key": f"{customer.ref}|firm-reminder|2025-03-10|{channel}|{next(_keys)}",
    }
    return Message.objects.create(customer=customer, channel=channel, **{**defaults, **fields})


def _token(url: str) -> object:
    return signing.loads(url.strip("<>").rstrip("/").rsplit("/", 1)[1], salt=OPTOUT_SALT)


def test_an_email_goes_to_the_ap_contacts_in_the_customers_language(acme: Customer) -> None:
    composed = message_compose(_message(acme), now=NOW)
    ap = acme.contacts.get(role=ContactRole.AP)
    assert composed.to == ("ap@acme.example",)
    assert composed.contact_id == ap.pk
    assert composed.language == "de"
    assert (
        composed.subject
        == "Zahlungserinnerung: 1.300,00 EUR und 1.234,56 USD überfällig \u2013 Acme Werkzeuge GmbH"
    )
    assert "A-3" in composed.body_html and "A-4" not in composed.body_html  # A-4 is paid
    assert "Guten Tag Petra Payable" in composed.body_text
    assert composed.reply_to == ("dana@ar.example",)
    assert composed.template_version == 1
    headers = dict(composed.headers)
    assert headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert _token(headers["List-Unsubscribe"]) == {"c": [ap.pk], "ch": "email"}
    assert composed.attachments == ()


def test_all_usable_ap_mailboxes_receive_it_and_one_link_opts_out_all(acme: Customer) -> None:
    second = Contact.objects.create(customer=acme, role=ContactRole.BILLING, email="b@acme.example")
    composed = message_compose(_message(acme), now=NOW)
    assert composed.to == ("ap@acme.example", "b@acme.example")
    token = _token(dict(composed.headers)["List-Unsubscribe"])
    assert token == {"c": [acme.contacts.get(role="ap").pk, second.pk], "ch": "email"}


def test_without_an_ap_contact_the_other_contacts_are_written_to(acme: Customer) -> None:
    acme.contacts.filter(role=ContactRole.AP).update(email_bounced=True)
    assert message_compose(_message(acme), now=NOW).to == ("boss@acme.example",)


def test_a_message_for_one_contact_goes_only_to_that_contact(acme: Customer) -> None:
    owner = acme.contacts.get(role=ContactRole.OWNER)
    composed = message_compose(_message(acme, contact=owner), now=NOW)
    assert (composed.to, composed.contact_id) == (("boss@acme.example",), owner.pk)
    owner.opted_out_email = True
    owner.save()
    with pytest.raises(NoRecipient) as blocked:
        message_compose(_message(acme, contact=owner), now=NOW)
    assert blocked.value.reason == "opted out"


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"opted_out_email": True}, "opted out"),
        ({"email_bounced": True}, "bounced"),
        ({"consent_email": False}, "no consent"),
        ({"email": "", "phone": "+49301"}, "no address"),
        ({"is_active": False}, "no address"),
    ],
)
def test_no_email_without_a_contact_allowed_to_receive_it(
    acme: Customer, change: dict[str, object], reason: str
) -> None:
    acme.contacts.update(**change)
    with pytest.raises(NoRecipient) as blocked:
        message_compose(_message(acme), now=NOW)
    assert blocked.value.reason == reason


def test_a_text_goes_to_one_consenting_phone(acme: Customer) -> None:
    composed = message_compose(_message(acme, "sms", template_key="inquiry"), now=NOW)
    assert composed.to == ("+4971112345",)
    assert composed.body_html == ""
    assert composed.body_text.startswith("Arrears Demo Ltd: Rechnungen über 1.300,00 EUR")
    acme.contacts.update(opted_out_sms=True)
    with pytest.raises(NoRecipient, match="opted out"):
        message_compose(_message(acme, "sms", template_key="inquiry"), now=NOW)


def test_a_letter_goes_to_the_postal_block_and_needs_an_address(acme: Customer) -> None:
    message = _message(acme, "letter", template_key="final-demand", deadline=date(2025, 3, 24))
    composed = message_compose(message, now=NOW)
    assert composed.to == ("Acme Werkzeuge GmbH", "Industriestraße 5", "70565 Stuttgart", "Germany")
    assert composed.subject == "Letzte Mahnung \u2013 1.300,00 EUR und 1.234,56 USD überfällig"
    assert "24. März 2025" in composed.body_html
    assert composed.headers == ()
    acme.postal_address = "  \n"
    acme.save()
    with pytest.raises(NoRecipient, match="no address"):
        message_compose(_message(acme, "letter", template_key="final-demand"), now=NOW)


def test_an_english_template_is_used_when_there_is_none_in_the_language(acme: Customer) -> None:
    acme.language = "fr"
    acme.save()
    composed = message_compose(_message(acme), now=NOW)
    assert composed.language == "en"
    assert composed.subject.startswith("Payment reminder: EUR 1,300.00 and USD 1,234.56 overdue")


def test_final_demand_emails_carry_no_unsubscribe_headers(acme: Customer) -> None:
    composed = message_compose(_message(acme, template_key="final-demand"), now=NOW)
    assert composed.headers == ()
    assert "optout" not in composed.body_html


def test_invoice_copies_are_attached_when_the_brand_says_so(acme: Customer) -> None:
    Brand.objects.create(pk=1, attach_invoice_pdfs=True)
    composed = message_compose(_message(acme), now=NOW)
    assert [(name, kind) for name, _, kind in composed.attachments] == [
        ("A-1.pdf", "application/pdf"),
        ("A-2.pdf", "application/pdf"),
        ("A-3.pdf", "application/pdf"),
    ]
    text = PdfReader(io.BytesIO(composed.attachments[1][1])).pages[0].extract_text()
    assert "Rechnungskopie A-2" in text
    assert "300,00 EUR" in text and "500,00 EUR" in text


def test_a_call_task_gets_its_script_with_the_contact_to_call(acme: Customer) -> None:
    task = Task.objects.create(
        kind=TaskKind.CALL,
        customer=acme,
        title="Call",
        template_key="firm-call",
        invoice_refs=["A-1", "A-3"],
        due_at=NOW,
        created_at=NOW,
    )
    script = task_script(task, now=NOW)
    assert script.startswith("Call Acme Werkzeuge GmbH, ask for Petra Payable (+4971112345).")
    # No German script is shipped: the English one, with English amounts.
    assert "EUR 1,000.00 and USD 1,234.56" in script
    assert "A-2" not in script
    task.template_key = ""
    assert task_script(task, now=NOW) == ""
