"""The customer page, its actions, the invoice page, the list and search."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from arrears.cases.models import Dispute, Promise
from arrears.comms.models import Message, MessageTemplate
from arrears.ledger.models import Activity, Customer
from arrears.web.services import note_add

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


def test_the_header_shows_balance_aging_segment_and_contacts(
    staff: Staff, customer: Customer
) -> None:
    html = signed_in(staff.ann).get(f"/customers/{customer.ref}/").content.decode()
    assert customer.name in html
    assert "300.00" in html  # 100.00 overdue + 200.00 current
    assert "Overdue" in html and "31-60" in html
    assert "seg-new" in html  # no payment history yet
    assert 'href="mailto:ap0@c.example.com"' in html
    assert "calls yes" in html


def test_a_note_lands_on_the_timeline(staff: Staff, customer: Customer) -> None:
    client = signed_in(staff.ann)
    response = client.post(f"/customers/{customer.ref}/note/", {"text": "Rang AP, new clerk"})
    assert response.status_code == 302
    entry = Activity.objects.get(customer=customer, verb="note")
    assert (entry.actor, entry.why) == (staff.ann, "Rang AP, new clerk")
    assert "Rang AP, new clerk" in client.get(f"/customers/{customer.ref}/").content.decode()


def test_an_empty_note_is_refused(staff: Staff, customer: Customer) -> None:
    client = signed_in(staff.ann)
    client.post(f"/customers/{customer.ref}/note/", {"text": "  "}, follow=True)
    assert not Activity.objects.filter(customer=customer, verb="note").exists()


def test_logging_a_call_with_a_promise_pauses_reminders_on_the_timeline(
    staff: Staff, customer: Customer
) -> None:
    client = signed_in(staff.ann)
    on = timezone.localdate() + timedelta(days=5)
    response = client.post(
        f"/customers/{customer.ref}/call/",
        {"outcome": "promise", "promised_on": on.isoformat(), "promised_amount": "100"},
    )
    assert response.status_code == 302
    assert Promise.objects.filter(customer=customer, promised_on=on, source="call").exists()
    html = client.get(f"/customers/{customer.ref}/").content.decode()
    assert "reminders paused until" in html
    assert "On hold:" in html
    assert "Spoke — promise to pay" in html


def test_recording_a_promise_from_the_page(staff: Staff, customer: Customer) -> None:
    on = timezone.localdate() + timedelta(days=3)
    signed_in(staff.ann).post(
        f"/customers/{customer.ref}/promise/",
        {"promised_on": on.isoformat(), "invoice_refs": [f"{customer.ref}-1"]},
    )
    promise = Promise.objects.get(customer=customer)
    assert promise.invoice_refs == [f"{customer.ref}-1"]
    assert promise.source == "staff"


def test_a_promise_in_the_past_is_refused_with_the_reason(staff: Staff, customer: Customer) -> None:
    response = signed_in(staff.ann).post(
        f"/customers/{customer.ref}/promise/",
        {"promised_on": (timezone.localdate() - timedelta(days=1)).isoformat()},
        follow=True,
    )
    assert "the promised date is in the past" in response.content.decode()
    assert not Promise.objects.exists()


def test_a_dispute_takes_the_invoice_out_of_dunning(staff: Staff, customer: Customer) -> None:
    client = signed_in(staff.ann)
    ref = f"{customer.ref}-1"
    response = client.post(
        f"/customers/{customer.ref}/dispute/",
        {"invoice_refs": [ref], "reason": "quality", "description": "damaged pallets"},
    )
    assert response.status_code == 302
    assert Dispute.objects.get(customer=customer).lines.get().invoice.ref == ref
    invoice_html = client.get(f"/invoices/{ref}/").content.decode()
    assert 'data-outcome="disputed"' in invoice_html
    assert "disputed: out of the dunning flow" in invoice_html
    customer_html = client.get(f"/customers/{customer.ref}/").content.decode()
    assert "damaged pallets" in customer_html
    assert "left out of dunning while open" in customer_html


def test_a_one_off_email_is_queued_once_per_form(staff: Staff, customer: Customer) -> None:
    MessageTemplate.objects.create(
        key="statement", channel="email", version=1, body="<p>Hi</p>", sha256="x", created_by="t"
    )
    client = signed_in(staff.ann)
    form = {"template_key": "statement", "form_token": "abc123", "invoice_refs": ["C000-1"]}
    client.post(f"/customers/{customer.ref}/email/", form)
    client.post(f"/customers/{customer.ref}/email/", form)
    message = Message.objects.get(customer=customer)
    assert (message.template_key, message.invoice_refs, message.created_by) == (
        "statement",
        ["C000-1"],
        "ann",
    )
    client.post(f"/customers/{customer.ref}/email/", {**form, "form_token": "def456"})
    assert Message.objects.filter(customer=customer).count() == 2


def test_an_unknown_template_is_refused(staff: Staff, customer: Customer) -> None:
    signed_in(staff.ann).post(
        f"/customers/{customer.ref}/email/", {"template_key": "nope", "form_token": "abc"}
    )
    assert not Message.objects.exists()


def test_the_timeline_is_newest_first_and_paginated(staff: Staff, customer: Customer) -> None:
    for n in range(30):
        note_add(customer=customer, text=f"note number {n:02d}", actor=staff.ann)
    client = signed_in(staff.ann)
    first = client.get(f"/customers/{customer.ref}/").content.decode()
    assert first.index("note number 29") < first.index("note number 28")
    assert "note number 00" not in first
    assert "Older →" in first
    second = client.get(f"/customers/{customer.ref}/?page=2").content.decode()
    assert "note number 00" in second


def _queries(client: Client, url: str) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx.captured_queries)


def test_the_customer_page_query_count_does_not_grow_with_its_history(
    staff: Staff, customer: Customer
) -> None:
    client = signed_in(staff.ann)
    url = f"/customers/{customer.ref}/"

    def history(n: int) -> None:
        for i in range(n):
            note_add(customer=customer, text=f"note {i}", actor=staff.ann)
            client.post(f"/customers/{customer.ref}/call/", {"outcome": "no_answer"})

    # One of everything first: a message (with events) and a dispute shown
    # add their reads once.
    history(1)
    on = timezone.localdate() + timedelta(days=5)
    client.post(
        f"/customers/{customer.ref}/call/", {"outcome": "promise", "promised_on": on.isoformat()}
    )
    client.post(
        f"/customers/{customer.ref}/dispute/", {"invoice_refs": ["C000-2"], "reason": "pricing"}
    )
    before = _queries(client, url)
    history(15)
    assert _queries(client, url) == before
    # Session, user, customer, the policy explanation (about ten), invoices,
    # paid invoices, contacts, cases, templates, roles, the timeline
    # sources with their events and dispute lines, and the documents list
    # (one query with their invoices: 33 before documents).
    assert before == 34


def test_the_invoice_page_query_count_is_fixed(staff: Staff, customer: Customer) -> None:
    client = signed_in(staff.ann)
    # 21 before the invoice's documents were listed (one query).
    assert _queries(client, f"/invoices/{customer.ref}-1/") <= 22


def test_the_customer_list_searches_paginates_and_exports(staff: Staff) -> None:
    customers_create(60, today=timezone.localdate())
    client = signed_in(staff.ann)
    page = client.get("/customers/").content.decode()
    assert "Page 1 of 2" in page
    found = client.get("/customers/?q=C059").content.decode()
    assert "Acme C059 Ltd" in found and "Acme C058 Ltd" not in found
    response = client.get("/customers/?q=C05&format=csv")
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.getvalue().decode())))
    assert [r["customer_ref"] for r in rows] == [f"C05{i}" for i in range(10)]
    assert rows[0]["open"] == "15300.00 USD" and rows[0]["overdue"] == "5100.00 USD"


def test_search_finds_customers_and_invoices_and_jumps_to_an_exact_ref(staff: Staff) -> None:
    customers_create(3, today=timezone.localdate())
    client = signed_in(staff.ann)
    html = client.get("/search/?q=acme c00").content.decode()
    assert "Acme C001 Ltd" in html and "C001-1" in html
    assert client.get("/search/?q=C002-1")["Location"] == "/invoices/C002-1/"
    assert client.get("/search/?q=C002")["Location"] == "/customers/C002/"
    assert "Nothing found" in client.get("/search/?q=zzz").content.decode()


def test_unknown_refs_are_404(staff: Staff) -> None:
    client = signed_in(staff.ann)
    assert client.get("/customers/NOPE/").status_code == 404
    assert client.get("/invoices/NOPE/").status_code == 404
