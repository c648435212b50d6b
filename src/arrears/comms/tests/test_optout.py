"""Opting out and consent: the services and the unsubscribe link."""

from __future__ import annotations

import pytest
from django.core import signing
from django.test import Client
from django.urls import reverse

from arrears.comms.consent import contact_consent_set, contact_opt_out
from arrears.comms.models import ConsentRecord
from arrears.comms.rendering import optout_token
from arrears.ledger.models import Activity, Contact, Customer


@pytest.fixture
def contact(db: None) -> Contact:
    customer = Customer.objects.create(ref="C1", name="Acme GmbH", country="DE")
    return Contact.objects.create(
        customer=customer, name="Ada Payable", email="ap@acme.example", phone="+4930123456"
    )


def test_opting_out_sets_the_flag_and_records_evidence(contact: Contact) -> None:
    record = contact_opt_out(
        contact=contact, channel="email", source="unsubscribe link", actor_label="ap@acme.example"
    )
    contact.refresh_from_db()
    assert contact.opted_out_email is True
    assert contact.opted_out_sms is False
    assert (record.channel, record.granted, record.source) == ("email", False, "unsubscribe link")
    activity = Activity.objects.get(verb="opted out")
    assert activity.customer == contact.customer
    assert activity.data["channel"] == "email"


def test_opting_out_twice_keeps_the_flag_and_records_both_requests(contact: Contact) -> None:
    for _ in range(2):
        contact_opt_out(contact=contact, channel="sms", source="STOP reply", actor_label="sms")
    contact.refresh_from_db()
    assert contact.opted_out_sms is True
    assert ConsentRecord.objects.filter(contact=contact, channel="sms").count() == 2


def test_letters_need_no_consent_so_they_cannot_be_opted_out(contact: Contact) -> None:
    with pytest.raises(ValueError, match="not for 'letter'"):
        contact_opt_out(contact=contact, channel="letter", source="x", actor_label="x")
    assert not ConsentRecord.objects.exists()


def test_granting_consent_clears_an_earlier_opt_out(contact: Contact) -> None:
    contact_opt_out(contact=contact, channel="sms", source="STOP reply", actor_label="sms")
    contact_consent_set(
        contact=contact, channel="sms", granted=True, source="phone call", actor_label="collector"
    )
    contact.refresh_from_db()
    assert (contact.consent_sms, contact.opted_out_sms) == (True, False)
    contact_consent_set(
        contact=contact, channel="email", granted=False, source="letter", actor_label="collector"
    )
    contact.refresh_from_db()
    assert contact.consent_email is False
    assert Activity.objects.filter(verb="consent withdrawn").count() == 1


def _link(contact: Contact, channel: str = "email") -> str:
    return reverse("comms-optout", args=[optout_token([contact.pk], channel)])


def test_the_link_asks_before_it_unsubscribes(client: Client, contact: Contact) -> None:
    response = client.get(_link(contact))
    assert response.status_code == 200
    assert b"ap@acme.example" in response.content
    assert b'name="csrfmiddlewaretoken"' in response.content
    contact.refresh_from_db()
    assert contact.opted_out_email is False


def test_confirming_the_form_opts_out_with_a_record(contact: Contact) -> None:
    client = Client(enforce_csrf_checks=True)
    page = client.get(_link(contact))
    csrf = page.context["csrf_token"]
    response = client.post(_link(contact), {"csrfmiddlewaretoken": str(csrf)})
    assert response.status_code == 200
    assert b"You are unsubscribed" in response.content
    contact.refresh_from_db()
    assert contact.opted_out_email is True
    record = ConsentRecord.objects.get(contact=contact)
    assert (record.source, record.granted, record.channel) == ("unsubscribe link", False, "email")
    assert Activity.objects.filter(verb="opted out", customer=contact.customer).count() == 1


def test_the_form_without_its_csrf_token_is_refused(contact: Contact) -> None:
    response = Client(enforce_csrf_checks=True).post(_link(contact), {})
    assert response.status_code == 403
    contact.refresh_from_db()
    assert contact.opted_out_email is False


def test_a_mail_clients_one_click_post_needs_no_csrf_token(contact: Contact) -> None:
    response = Client(enforce_csrf_checks=True).post(
        _link(contact, "sms"), {"List-Unsubscribe": "One-Click"}
    )
    assert response.status_code == 200
    contact.refresh_from_db()
    assert (contact.opted_out_sms, contact.opted_out_email) == (True, False)


@pytest.mark.parametrize(
    "token",
    [
        "garbage",
        "eyJjIjpbMV0sImNoIjoiZW1haWwifQ:1xWasw:LNPzjP7AnTtDmQkyESymK63PHaEPaHwaCVD3OTuMkZg",
    ],
)
def test_a_tampered_link_says_nothing(client: Client, contact: Contact, token: str) -> None:
    for method in (client.get, client.post):
        response = method(reverse("comms-optout", args=[token]))
        assert response.status_code == 404
        assert b"acme" not in response.content.lower()
    contact.refresh_from_db()
    assert contact.opted_out_email is False


def test_a_link_signed_for_another_purpose_or_channel_is_refused(
    client: Client, contact: Contact
) -> None:
    other_salt = signing.dumps({"c": [contact.pk], "ch": "email"}, salt="something-else")
    letter = optout_token([contact.pk], "letter")
    gone = optout_token([contact.pk + 1000], "email")
    for token in (other_salt, letter, gone):
        assert client.post(reverse("comms-optout", args=[token])).status_code == 404
