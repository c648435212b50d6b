"""Opting out and consent: the services and the unsubscribe link."""

from __future__ import annotations

import pytest

from arrears.comms.consent import contact_consent_set, contact_opt_out
from arrears.comms.models import ConsentRecord
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
