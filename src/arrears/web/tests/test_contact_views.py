"""Contacts on the customer page: add, edit (the customers file owns some
fields of its contacts), consent per channel with its evidence."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone

from arrears.comms.models import ConsentRecord
from arrears.ledger.models import Activity, Contact, Customer

from .staffdata import PASSWORD, Staff, customers_create, users_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff() -> Staff:
    return users_create()


@pytest.fixture
def customer() -> Customer:
    [c] = customers_create(1, today=timezone.localdate())
    return c


def signed_in(user: User) -> Client:
    client = Client()
    assert client.login(username=user.username, password=PASSWORD)
    return client


def _manual(customer: Customer, **fields: object) -> Contact:
    values = {"name": "Pat Payables", "email": "pat@example.com", "from_import": False}
    return Contact.objects.create(customer=customer, **{**values, **fields})


def test_the_customer_page_links_each_contact_to_its_edit_page(
    staff: Staff, customer: Customer
) -> None:
    contact = customer.contacts.get()
    html = signed_in(staff.ann).get(f"/customers/{customer.ref}/").content.decode()
    assert f'href="/customers/{customer.ref}/contacts/{contact.pk}/"' in html
    assert f'href="/customers/{customer.ref}/contacts/new/"' in html


def test_a_collector_adds_a_contact_and_the_timeline_says_so(
    staff: Staff, customer: Customer
) -> None:
    client = signed_in(staff.ann)
    response = client.post(
        f"/customers/{customer.ref}/contacts/new/",
        {"name": "Dana Director", "role": "owner", "phone": "(202) 555-0199", "is_active": "on"},
    )
    assert response.status_code == 302
    contact = customer.contacts.get(name="Dana Director")
    assert (contact.role, contact.phone, contact.is_active, contact.from_import) == (
        "owner",
        "+12025550199",
        True,
        False,
    )
    entry = Activity.objects.get(verb="contact.created", subject_ref=str(contact.pk))
    assert (entry.actor, entry.customer) == (staff.ann, customer)
    page = client.get(f"/customers/{customer.ref}/").content.decode()
    assert "Dana Director" in page and "contact.created" in page


def test_a_bad_contact_shows_each_problem_by_its_field(staff: Staff, customer: Customer) -> None:
    response = signed_in(staff.ann).post(
        f"/customers/{customer.ref}/contacts/new/",
        {"name": "X", "role": "ap", "email": "not-an-address", "phone": "12"},
    )
    assert response.status_code == 422
    html = response.content.decode()
    assert 'id="id_email-err"' in html and 'id="id_phone-err"' in html
    assert 'value="not-an-address"' in html  # what was typed stays in the form
    assert customer.contacts.count() == 1


def test_a_contact_needs_an_email_or_a_phone(staff: Staff, customer: Customer) -> None:
    response = signed_in(staff.ann).post(
        f"/customers/{customer.ref}/contacts/new/", {"name": "Nobody", "role": "ap"}
    )
    assert response.status_code == 422
    assert "needs an e-mail address or a phone number" in response.content.decode()


def test_editing_a_contact_changes_it_and_logs_the_change(staff: Staff, customer: Customer) -> None:
    contact = _manual(customer)
    url = f"/customers/{customer.ref}/contacts/{contact.pk}/"
    client = signed_in(staff.ann)
    assert 'value="pat@example.com"' in client.get(url).content.decode()
    response = client.post(url, {"name": "Pat P.", "role": "billing", "email": "pp@example.com"})
    assert response.status_code == 302
    contact.refresh_from_db()
    assert (contact.name, contact.role, contact.email, contact.is_active) == (
        "Pat P.",
        "billing",
        "pp@example.com",
        False,  # the box was not ticked
    )
    entry = Activity.objects.get(verb="contact.updated", subject_ref=str(contact.pk))
    assert entry.data["fields"]["email"] == ["pat@example.com", "pp@example.com"]


def test_the_customers_file_keeps_its_fields_and_the_page_says_why(
    staff: Staff, customer: Customer
) -> None:
    contact = customer.contacts.get()
    assert contact.from_import
    url = f"/customers/{customer.ref}/contacts/{contact.pk}/"
    client = signed_in(staff.ann)
    form = client.get(url).content.decode()
    assert "comes from the customers file" in form
    response = client.post(
        url, {"name": "", "role": "ap", "email": "other@example.com", "phone": contact.phone}
    )
    assert response.status_code == 422
    html = response.content.decode()
    assert "comes from the customers file for this contact; change it there" in html
    assert 'id="id_email-err"' in html and 'id="id_is_active-err"' in html
    contact.refresh_from_db()
    assert contact.email == "ap0@c.example.com" and contact.is_active
    # Its own fields (name, role) may change.
    response = client.post(
        url,
        {
            "name": "AP desk",
            "role": "billing",
            "email": contact.email,
            "phone": contact.phone,
            "is_active": "on",
        },
    )
    assert response.status_code == 302
    contact.refresh_from_db()
    assert (contact.name, contact.role) == ("AP desk", "billing")


def test_consent_is_recorded_with_the_staff_member_and_the_note(
    staff: Staff, customer: Customer
) -> None:
    contact = _manual(customer, phone="+12025550100", opted_out_sms=True)
    client = signed_in(staff.bob)
    url = f"/customers/{customer.ref}/contacts/{contact.pk}/consent/"
    response = client.post(url, {"channel": "sms", "granted": "yes", "note": "asked by phone"})
    assert response.status_code == 302
    contact.refresh_from_db()
    assert contact.consent_sms and not contact.opted_out_sms
    record = ConsentRecord.objects.get(contact=contact)
    assert (record.channel, record.granted, record.source, record.actor_label) == (
        "sms",
        True,
        "staff: bob — asked by phone",
        "bob",
    )
    assert Activity.objects.filter(verb="consent granted", actor=staff.bob).count() == 1
    client.post(url, {"channel": "call", "granted": "no"})
    contact.refresh_from_db()
    assert not contact.consent_call
    page = client.get(f"/customers/{customer.ref}/contacts/{contact.pk}/").content.decode()
    assert "staff: bob — asked by phone" in page and "staff: bob" in page


def test_a_consent_note_too_long_for_the_record_is_refused(
    staff: Staff, customer: Customer
) -> None:
    contact = customer.contacts.get()
    response = signed_in(staff.ann).post(
        f"/customers/{customer.ref}/contacts/{contact.pk}/consent/",
        {"channel": "email", "granted": "no", "note": "x" * 59},
    )
    assert response.status_code == 422
    assert "keep the note to" in response.content.decode()
    assert not ConsentRecord.objects.exists()


def test_letters_have_no_consent_to_record(staff: Staff, customer: Customer) -> None:
    contact = customer.contacts.get()
    response = signed_in(staff.ann).post(
        f"/customers/{customer.ref}/contacts/{contact.pk}/consent/",
        {"channel": "letter", "granted": "yes"},
    )
    assert response.status_code == 422
    assert not ConsentRecord.objects.exists()


def test_another_customers_contact_is_not_found(staff: Staff, customer: Customer) -> None:
    [other] = customers_create(1, today=timezone.localdate(), prefix="D")
    contact = other.contacts.get()
    client = signed_in(staff.ann)
    assert client.get(f"/customers/{customer.ref}/contacts/{contact.pk}/").status_code == 404


def test_contact_pages_need_sign_in(customer: Customer) -> None:
    response = Client().get(f"/customers/{customer.ref}/contacts/new/")
    assert response.status_code == 302 and "/login/" in response["Location"]
