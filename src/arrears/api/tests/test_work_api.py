"""The collectors' API: what the staff web app does, with the same
permissions (a collector's token gets 403 on manager-only work) and 422
listing the problems."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone

from arrears.api.services import token_create
from arrears.cases.models import Dispute, Promise
from arrears.comms.models import ConsentRecord, Message, Task, TaskStatus
from arrears.ledger.models import Activity, Customer
from arrears.web.models import Document
from arrears.web.tests.staffdata import Staff, call_task, customers_create, users_create

pytestmark = pytest.mark.django_db

PDF = b"%PDF-1.4\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n"


class Api:
    def __init__(self, username: str) -> None:
        key = token_create(username=username, name="tests")
        self.client = Client(headers={"Authorization": f"Bearer {key}"})

    def get(self, path: str, **params: Any) -> Any:
        return self.client.get(f"/api/v1{path}", params)

    def post(self, path: str, data: Any = None) -> Any:
        return self.client.post(
            f"/api/v1{path}", json.dumps(data or {}), content_type="application/json"
        )


@pytest.fixture(autouse=True)
def media_root(tmp_path: Path, settings: object) -> Path:
    root = tmp_path / "media"
    settings.MEDIA_ROOT = root  # type: ignore[attr-defined]
    return root


@pytest.fixture
def staff() -> Staff:
    return users_create()


@pytest.fixture
def customers() -> list[Customer]:
    return customers_create(3, today=timezone.localdate())


@pytest.fixture
def ann(staff: Staff) -> Api:
    return Api("ann")


@pytest.fixture
def mia(staff: Staff) -> Api:
    return Api("mia")


def _problems(response: Any) -> list[dict[str, str]]:
    assert response.status_code == 422, response.content
    detail = response.json()["detail"]
    assert isinstance(detail, list) and detail
    assert all(set(p) == {"loc", "field", "reason"} for p in detail)
    return list(detail)


# --- tasks ------------------------------------------------------------------------


def test_a_collector_lists_their_worklist_most_urgent_first(
    staff: Staff, customers: list[Customer], ann: Api
) -> None:
    for c in customers:
        call_task(c, to=staff.ann)
    call_task(customers[0], to=staff.bob)
    body = ann.get("/tasks").json()
    assert body["assignee"] == "ann"
    assert [t["customer_ref"] for t in body["items"]] == ["C002", "C001", "C000"]
    first = body["items"][0]
    assert (first["rank"], first["amount_at_risk"], first["days_past_due"]) == (1, "300.00", 42)
    assert (first["status"], first["assigned_to"], first["invoice_refs"]) == (
        "open",
        "ann",
        ["C002-1"],
    )


def test_only_a_manager_lists_someone_elses_tasks(
    staff: Staff, customers: list[Customer], ann: Api, mia: Api
) -> None:
    call_task(customers[0], to=staff.bob)
    call_task(customers[1], to=None)
    assert ann.get("/tasks", assignee="bob").status_code == 403
    assert [t["customer_ref"] for t in mia.get("/tasks", assignee="bob").json()["items"]] == [
        "C000"
    ]
    unassigned = mia.get("/tasks", assignee="unassigned").json()
    assert unassigned["assignee"] is None
    assert [t["customer_ref"] for t in unassigned["items"]] == ["C001"]
    assert mia.get("/tasks", assignee="nobody-here").status_code == 404


def test_the_api_needs_a_token(customers: list[Customer]) -> None:
    assert Client().get("/api/v1/tasks").status_code == 401


def test_completing_a_call_with_a_promise_pauses_reminders(
    staff: Staff, customers: list[Customer], ann: Api
) -> None:
    customer = customers[0]
    task = call_task(customer, to=staff.ann)
    contact = customer.contacts.get()
    on = timezone.localdate() + timedelta(days=7)
    response = ann.post(
        f"/tasks/{task.pk}/complete",
        {
            "outcome": "promise",
            "note": "pays next week",
            "contact_id": contact.pk,
            "promised_on": on.isoformat(),
            "promised_amount": "100.00",
        },
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["status"], body["outcome"], body["note"]) == ("done", "promise", "pays next week")
    promise = Promise.objects.get(customer=customer)
    assert (promise.promised_on, promise.amount, promise.currency) == (
        on,
        Decimal("100.00"),
        "USD",
    )
    entry = Activity.objects.get(verb="call logged", subject_ref=str(task.pk))
    assert (entry.actor, entry.actor_label) == (staff.ann, "api:ann")
    # Done once: a second completion is refused.
    again = ann.post(f"/tasks/{task.pk}/complete", {"outcome": "no_answer"})
    assert "not open" in _problems(again)[0]["reason"]


def test_completing_is_refused_with_the_reason(
    staff: Staff, customers: list[Customer], ann: Api
) -> None:
    task = call_task(customers[0], to=staff.ann)
    no_date = ann.post(f"/tasks/{task.pk}/complete", {"outcome": "promise"})
    assert "needs the promised date" in _problems(no_date)[0]["reason"]
    other = customers[1].contacts.get()
    wrong = ann.post(f"/tasks/{task.pk}/complete", {"outcome": "spoke", "contact_id": other.pk})
    assert _problems(wrong)[0]["field"] == "contact_id"
    unknown = ann.post(f"/tasks/{task.pk}/complete", {"outcome": "spoke", "extra": 1})
    assert _problems(unknown)[0]["field"] == "extra"
    assert Task.objects.get(pk=task.pk).status == TaskStatus.OPEN


def test_a_collector_cannot_work_someone_elses_task_but_a_manager_can(
    staff: Staff, customers: list[Customer], ann: Api, mia: Api
) -> None:
    task = call_task(customers[0], to=staff.bob)
    assert ann.post(f"/tasks/{task.pk}/complete", {"outcome": "no_answer"}).status_code == 403
    assert ann.post("/tasks/999999/complete", {"outcome": "no_answer"}).status_code == 404
    assert mia.post(f"/tasks/{task.pk}/complete", {"outcome": "no_answer"}).status_code == 200


def test_snoozing_hides_a_task_until_then(
    staff: Staff, customers: list[Customer], ann: Api
) -> None:
    task = call_task(customers[0], to=staff.ann)
    until = timezone.now() + timedelta(hours=2)
    response = ann.post(f"/tasks/{task.pk}/snooze", {"until": until.isoformat()})
    assert response.status_code == 200
    assert ann.get("/tasks").json()["items"] == []
    past = ann.post(f"/tasks/{task.pk}/snooze", {"until": "2020-01-01T09:00:00+00:00"})
    assert "future" in _problems(past)[0]["reason"]


def test_reassigning_is_for_managers(
    staff: Staff, customers: list[Customer], ann: Api, mia: Api
) -> None:
    task = call_task(customers[0], to=staff.ann)
    assert ann.post(f"/tasks/{task.pk}/reassign", {"to": "bob"}).status_code == 403
    response = mia.post(f"/tasks/{task.pk}/reassign", {"to": "bob"})
    assert response.status_code == 200 and response.json()["assigned_to"] == "bob"
    assert _problems(mia.post(f"/tasks/{task.pk}/reassign", {"to": "eve"}))[0]["field"] == "to"
    response = mia.post(f"/tasks/{task.pk}/reassign", {"to": None})
    assert response.json()["assigned_to"] is None


# --- a customer's calls, notes, promises, disputes, consent -------------------------


def test_logging_a_call_and_a_note(staff: Staff, customers: list[Customer], ann: Api) -> None:
    response = ann.post(
        "/customers/C000/calls",
        {"outcome": "voicemail", "note": "left a message", "invoice_refs": ["C000-1"]},
    )
    assert response.status_code == 201, response.content
    assert (response.json()["kind"], response.json()["outcome"]) == ("call", "voicemail")
    assert _problems(ann.post("/customers/C000/calls", {"outcome": "shouted"}))
    response = ann.post("/customers/C000/notes", {"text": "New AP clerk: Sam"})
    assert response.status_code == 201 and response.json()["text"] == "New AP clerk: Sam"
    assert Activity.objects.get(verb="note").actor == staff.ann
    assert _problems(ann.post("/customers/C000/notes", {"text": "   "}))
    assert ann.post("/customers/NOPE/notes", {"text": "x"}).status_code == 404


def test_a_promise_from_the_api(customers: list[Customer], ann: Api) -> None:
    on = timezone.localdate() + timedelta(days=10)
    response = ann.post(
        "/customers/C000/promises", {"promised_on": on.isoformat(), "invoice_refs": ["C000-1"]}
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["amount"], body["currency"], body["paused_until"]) == (
        "100.00",
        "USD",
        (on + timedelta(days=3)).isoformat(),
    )
    past = ann.post("/customers/C000/promises", {"promised_on": "2020-01-01"})
    assert "in the past" in _problems(past)[0]["reason"]


def test_disputes_open_for_anyone_and_resolve_for_managers(
    customers: list[Customer], ann: Api, mia: Api
) -> None:
    response = ann.post(
        "/customers/C000/disputes",
        {"invoice_refs": ["C000-1"], "reason": "quantity", "description": "short"},
    )
    assert response.status_code == 201, response.content
    dispute_id = response.json()["id"]
    assert response.json()["invoice_refs"] == ["C000-1"]
    twice = ann.post("/customers/C000/disputes", {"invoice_refs": ["C000-1"], "reason": "tax"})
    assert "already in an open dispute" in _problems(twice)[0]["reason"]
    resolve = {"valid": False, "resolution": "delivery note signed in full"}
    assert ann.post(f"/disputes/{dispute_id}/resolve", resolve).status_code == 403
    assert Dispute.objects.get(pk=dispute_id).status == "open"
    response = mia.post(f"/disputes/{dispute_id}/resolve", resolve)
    assert response.status_code == 200 and response.json()["status"] == "rejected"
    assert mia.post("/disputes/999999/resolve", resolve).status_code == 404


def test_consent_is_recorded_with_its_source(customers: list[Customer], ann: Api) -> None:
    contact = customers[0].contacts.get()
    path = f"/customers/C000/contacts/{contact.pk}/consent"
    response = ann.post(path, {"channel": "sms", "granted": True, "note": "texted YES"})
    assert response.status_code == 200, response.content
    assert response.json()["consent_sms"] is True
    record = ConsentRecord.objects.get(contact=contact)
    assert (record.source, record.actor_label) == ("api: ann — texted YES", "api:ann")
    assert _problems(ann.post(path, {"channel": "letter", "granted": True}))[0]["field"] == (
        "channel"
    )
    long = ann.post(path, {"channel": "sms", "granted": False, "note": "x" * 60})
    assert _problems(long)[0]["field"] == "note"
    assert ConsentRecord.objects.count() == 1
    elsewhere = f"/customers/C001/contacts/{contact.pk}/consent"
    assert ann.post(elsewhere, {"channel": "sms", "granted": True}).status_code == 404


# --- documents, the timeline, the outbox --------------------------------------------


def test_a_document_is_uploaded_listed_and_downloaded(
    staff: Staff, customers: list[Customer], ann: Api
) -> None:
    response = ann.client.post(
        "/api/v1/customers/C000/documents",
        {
            "file": SimpleUploadedFile("pod.pdf", PDF, "application/pdf"),
            "invoice_ref": "C000-1",
            "note": "proof of delivery",
        },
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["name"], body["content_type"], body["size"], body["invoice_ref"]) == (
        "pod.pdf",
        "application/pdf",
        len(PDF),
        "C000-1",
    )
    assert Document.objects.get().uploaded_by == staff.ann
    listed = ann.get("/customers/C000/documents").json()["items"]
    assert [d["id"] for d in listed] == [body["id"]]
    download = ann.client.get(body["download"])
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == PDF  # type: ignore[attr-defined]
    assert Client().get(body["download"]).status_code == 401
    timeline = ann.get("/customers/C000/timeline").json()
    assert timeline["items"][0]["title"] == "document attached"


def test_a_document_of_the_wrong_type_is_refused(customers: list[Customer], ann: Api) -> None:
    response = ann.client.post(
        "/api/v1/customers/C000/documents",
        {"file": SimpleUploadedFile("x.pdf", b"<html>not a pdf</html>", "application/pdf")},
    )
    assert "is not a PDF, PNG or JPEG file" in _problems(response)[0]["reason"]
    missing = ann.client.post("/api/v1/customers/C000/documents", {"note": "no file"})
    assert _problems(missing)[0]["field"] == "file"
    assert not Document.objects.exists()


def test_the_timeline_pages_newest_first(customers: list[Customer], ann: Api) -> None:
    for n in range(5):
        ann.post("/customers/C000/notes", {"text": f"note {n}"})
    first = ann.get("/customers/C000/timeline", size=3).json()
    assert [e["detail"] for e in first["items"]] == ["note 4", "note 3", "note 2"]
    assert first["has_more"] is True
    second = ann.get("/customers/C000/timeline", size=3, page=2).json()
    # Then the import of the customer and its invoices, the oldest entries.
    assert [e["detail"] for e in second["items"]] == ["note 1", "note 0", "imported from file"]
    assert second["has_more"] is True
    last = ann.get("/customers/C000/timeline", size=3, page=3).json()
    assert [e["title"] for e in last["items"]] == ["customer.created"]
    assert last["has_more"] is False


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
    )


def test_the_outbox_by_status_and_channel_with_retry_and_accept(
    customers: list[Customer], ann: Api
) -> None:
    failed = _message(customers[0], "email", "failed", 1)
    uncertain = _message(customers[0], "sms", "uncertain", 2)
    sent = _message(customers[1], "email", "sent", 3)
    page = ann.get("/messages").json()
    assert (page["count"], [m["id"] for m in page["items"]]) == (2, [failed.pk, uncertain.pk])
    assert [
        m["id"] for m in ann.get("/messages", status="all", channel="email").json()["items"]
    ] == [
        failed.pk,
        sent.pk,
    ]
    assert ann.get("/messages", status="all", customer="C001").json()["count"] == 1
    assert ann.get("/messages", status="bogus").status_code == 422
    response = ann.post(f"/messages/{failed.pk}/retry")
    assert response.status_code == 200 and response.json()["status"] == "queued"
    assert (
        "only failed ones are retried"
        in _problems(ann.post(f"/messages/{sent.pk}/retry"))[0]["reason"]
    )
    response = ann.post(f"/messages/{uncertain.pk}/accept")
    assert response.status_code == 200 and response.json()["status"] == "sent"
    assert _problems(ann.post(f"/messages/{sent.pk}/accept"))
    assert ann.post("/messages/999999/retry").status_code == 404
    assert Activity.objects.filter(verb="message retried", actor_label="api:ann").count() == 1


def test_the_openapi_document_describes_the_work_endpoints() -> None:
    paths = Client().get("/api/v1/openapi.json").json()["paths"]
    for path in (
        "/api/v1/tasks",
        "/api/v1/tasks/{task_id}/complete",
        "/api/v1/customers/{customer_ref}/calls",
        "/api/v1/customers/{customer_ref}/documents",
        "/api/v1/disputes/{dispute_id}/resolve",
        "/api/v1/messages/{message_id}/accept",
    ):
        assert path in paths, path
