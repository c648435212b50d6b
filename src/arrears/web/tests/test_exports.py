"""CSV downloads of every list and the lists' filters: customers by country,
collection mode, stored segment and collector; messages by channel."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone

from arrears.comms.models import Message
from arrears.ledger.models import Customer
from arrears.sequencing.models import CustomerSegment
from arrears.web.services import note_add

from .staffdata import PASSWORD, Staff, call_task, customers_create, users_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff() -> Staff:
    return users_create()


def signed_in(user: User) -> Client:
    client = Client()
    assert client.login(username=user.username, password=PASSWORD)
    return client


def _csv(response: Any) -> list[dict[str, str]]:
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert response["Content-Disposition"].startswith("attachment;")
    text = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(text)))


def _message(customer: Customer, channel: str, status: str, n: int) -> Message:
    now = timezone.now()
    return Message.objects.create(
        customer=customer,
        channel=channel,
        template_key=f"reminder-{n}",
        status=status,
        not_before=now,
        next_attempt_at=now,
        idempotency_key=f"test:{n}",
        created_at=now - timedelta(minutes=n),
        last_error="mailbox full" if status == "failed" else "",
    )


def test_the_worklist_downloads_whole_and_in_its_order(staff: Staff) -> None:
    today = timezone.localdate()
    customers = customers_create(3, today=today)
    for c in customers:
        call_task(c, to=staff.ann)
    call_task(customers[0], to=staff.bob)  # someone else's: not in ann's file
    rows = _csv(signed_in(staff.ann).get("/worklist/?format=csv"))
    # The most overdue (C002: 42 days, 300.00) ranks first.
    assert [r["customer_ref"] for r in rows] == ["C002", "C001", "C000"]
    assert [r["rank"] for r in rows] == ["1", "2", "3"]
    first = rows[0]
    assert (first["invoice_refs"], first["amount_at_risk"], first["days_past_due"]) == (
        "C002-1",
        "300.00",
        "42",
    )
    assert first["reason"].startswith("inquire:") and first["assigned_to"] == "ann"


def test_a_collector_cannot_download_someone_elses_worklist(staff: Staff) -> None:
    response = signed_in(staff.ann).get(f"/worklist/?collector={staff.bob.pk}&format=csv")
    assert response.status_code == 403


def test_a_customers_timeline_downloads_newest_first(staff: Staff) -> None:
    [customer] = customers_create(1, today=timezone.localdate())
    for n in range(30):  # more than a page of the timeline
        note_add(customer=customer, text=f"note {n:02d}", actor=staff.ann)
    client = signed_in(staff.ann)
    client.post(f"/customers/{customer.ref}/call/", {"outcome": "no_answer", "note": "rang"})
    rows = _csv(client.get(f"/customers/{customer.ref}/timeline.csv"))
    notes = [r["detail"] for r in rows if r["title"] == "note"]
    assert notes == [f"note {n:02d}" for n in reversed(range(30))]
    assert rows[0]["kind"] == "call" and "rang" in rows[0]["detail"]
    assert rows[0]["actor"] == "ann"


def test_a_customers_invoices_download_open_and_paid(staff: Staff) -> None:
    [customer] = customers_create(1, today=timezone.localdate())
    client = signed_in(staff.ann)
    client.post(
        f"/customers/{customer.ref}/dispute/", {"invoice_refs": ["C000-1"], "reason": "pricing"}
    )
    rows = _csv(client.get(f"/customers/{customer.ref}/invoices.csv"))
    assert [r["invoice_ref"] for r in rows] == ["C000-1", "C000-2"]
    first, second = rows
    assert (first["open"], first["days_past_due"], first["bucket"], first["disputed"]) == (
        "100.00",
        "40",
        "31-60",
        "yes",
    )
    assert (second["bucket"], second["disputed"]) == ("current", "")


def test_search_results_download(staff: Staff) -> None:
    customers_create(3, today=timezone.localdate())
    rows = _csv(signed_in(staff.ann).get("/search/?q=C001&format=csv"))
    assert [(r["kind"], r["ref"]) for r in rows] == [
        ("customer", "C001"),
        ("invoice", "C001-2"),
        ("invoice", "C001-1"),
    ]
    # An exact ref downloads too, instead of jumping to the page.
    exact = _csv(signed_in(staff.ann).get("/search/?q=C002-1&format=csv"))
    assert [r["ref"] for r in exact] == ["C002-1"]


def test_customers_filter_by_country_collection_segment_and_collector(staff: Staff) -> None:
    today = timezone.localdate()
    customers = customers_create(4, today=today)
    a, b, c, d = customers
    Customer.objects.filter(pk=a.pk).update(country="DE", collector=staff.ann)
    Customer.objects.filter(pk=b.pk).update(automation="white_glove", collector=staff.bob)
    CustomerSegment.objects.create(customer=c, segment="risky", reason="late", as_of=today)
    CustomerSegment.objects.create(customer=d, segment="good", reason="on time", as_of=today)
    client = signed_in(staff.ann)

    def refs(query: str) -> list[str]:
        return [r["customer_ref"] for r in _csv(client.get(f"/customers/?{query}&format=csv"))]

    assert refs("country=de") == ["C000"]
    assert refs("automation=white_glove") == ["C001"]
    assert refs("segment=risky") == ["C002"]
    assert refs(f"collector={staff.bob.pk}") == ["C001"]
    assert refs("collector=none") == ["C002", "C003"]
    assert refs("country=US&collector=none&segment=good") == ["C003"]
    rows = _csv(client.get("/customers/?segment=good&format=csv"))
    assert rows[0]["segment"] == "good"
    html = client.get("/customers/?segment=risky&country=US").content.decode()
    assert "Acme C002 Ltd" in html and "Acme C003 Ltd" not in html
    # The download link keeps the filters.
    assert "?q=&amp;" not in html and "country=US&amp;segment=risky&amp;format=csv" in html
    empty = client.get("/customers/?country=FR").content.decode()
    assert "No customer matches" in empty and "these filters" in empty


def test_messages_filter_by_channel_and_download(staff: Staff) -> None:
    [customer] = customers_create(1, today=timezone.localdate())
    _message(customer, "email", "failed", 1)
    _message(customer, "sms", "failed", 2)
    _message(customer, "email", "sent", 3)
    client = signed_in(staff.ann)
    html = client.get("/messages/?status=failed&channel=sms").content.decode()
    assert "reminder-2" in html and "reminder-1" not in html
    rows = _csv(client.get("/messages/?status=failed&format=csv"))
    assert [(r["template"], r["channel"], r["last_error"]) for r in rows] == [
        ("reminder-1", "email", "mailbox full"),
        ("reminder-2", "sms", "mailbox full"),
    ]
    rows = _csv(client.get("/messages/?status=all&channel=email&format=csv"))
    assert [r["template"] for r in rows] == ["reminder-1", "reminder-3"]
    # An unknown channel is no filter.
    assert len(_csv(client.get("/messages/?status=all&channel=fax&format=csv"))) == 3


def test_downloads_need_sign_in(staff: Staff) -> None:
    [customer] = customers_create(1, today=timezone.localdate())
    anonymous = Client()
    for url in (
        "/worklist/?format=csv",
        f"/customers/{customer.ref}/timeline.csv",
        f"/customers/{customer.ref}/invoices.csv",
        "/messages/?format=csv",
        "/search/?q=C&format=csv",
    ):
        assert anonymous.get(url).status_code == 302, url
