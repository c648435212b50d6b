"""The outbox pages and the `arrears messages` command."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from django.test import Client
from django.utils import timezone

from arrears.comms.models import DeliveryEvent, Message, MessageStatus
from arrears.ledger.models import Activity, Customer

pytestmark = pytest.mark.django_db


def _message(customer: Customer, n: int, status: str, error: str = "") -> Message:
    now = timezone.now()
    return Message.objects.create(
        customer=customer,
        channel="email",
        template_key="inquiry",
        status=status,
        last_error=error,
        to_address="ap@acme.test",
        not_before=now,
        next_attempt_at=now,
        attempts=3,
        idempotency_key=f"test:{n}",
        created_at=now,
    )


@pytest.fixture
def customer() -> Customer:
    return Customer.objects.create(ref="C1", name="Acme GmbH", country="DE")


@pytest.fixture
def client_in() -> Client:
    User.objects.create_user("cora", password="a long test password")
    client = Client()
    client.login(username="cora", password="a long test password")
    return client


def test_the_failed_queue_lists_failed_bounced_and_uncertain_only(
    customer: Customer, client_in: Client
) -> None:
    _message(customer, 1, MessageStatus.FAILED, "gave up after 7 attempts: timed out")
    _message(customer, 2, MessageStatus.BOUNCED, "550 no such user")
    _message(customer, 3, MessageStatus.UNCERTAIN, "worker stopped while sending")
    _message(customer, 4, MessageStatus.SENT)
    page = client_in.get("/messages/")
    assert page.status_code == 200
    body = page.content.decode()
    assert "gave up after 7 attempts" in body and "550 no such user" in body
    assert "worker stopped while sending" in body
    assert [m.status for m in page.context["page"].object_list] == [
        "uncertain",
        "bounced",
        "failed",
    ]


def test_the_failed_queue_says_when_nothing_failed(client_in: Client) -> None:
    assert "Nothing failed" in client_in.get("/messages/").content.decode()


def test_a_failed_message_is_retried_from_its_page(customer: Customer, client_in: Client) -> None:
    message = _message(customer, 1, MessageStatus.FAILED, "timed out")
    detail = client_in.get(f"/messages/{message.pk}/")
    assert "Retry now" in detail.content.decode()
    response = client_in.post(f"/messages/{message.pk}/retry/", follow=True)
    assert "queued again" in response.content.decode()
    message.refresh_from_db()
    assert message.status == MessageStatus.QUEUED and message.attempts == 0
    assert DeliveryEvent.objects.get(message=message).kind == "requeued"
    assert Activity.objects.get(verb="message retried").actor_label == "cora"


def test_a_sent_message_cannot_be_retried(customer: Customer, client_in: Client) -> None:
    message = _message(customer, 1, MessageStatus.SENT)
    response = client_in.post(f"/messages/{message.pk}/retry/", follow=True)
    assert "only failed ones are retried" in response.content.decode()
    message.refresh_from_db()
    assert message.status == MessageStatus.SENT


def test_pages_need_sign_in(customer: Customer) -> None:
    message = _message(customer, 1, MessageStatus.FAILED)
    assert Client().get("/messages/").status_code == 302
    assert Client().post(f"/messages/{message.pk}/retry/").status_code == 302
    message.refresh_from_db()
    assert message.status == MessageStatus.FAILED


def test_command_lists_the_failed_queue_as_json(customer: Customer) -> None:
    failed = _message(customer, 1, MessageStatus.FAILED, "timed out")
    _message(customer, 2, MessageStatus.SENT)
    out = StringIO()
    call_command("messages", "--format", "json", stdout=out)
    rows = json.loads(out.getvalue())
    assert [(r["id"], r["status"], r["last_error"]) for r in rows] == [
        (failed.pk, "failed", "timed out")
    ]


def test_command_accepts_an_uncertain_message_as_sent(customer: Customer) -> None:
    message = _message(customer, 1, MessageStatus.UNCERTAIN)
    out = StringIO()
    call_command("messages", "accept", str(message.pk), stdout=out)
    assert "recorded as sent" in out.getvalue()
    message.refresh_from_db()
    assert message.status == MessageStatus.SENT and message.sent_at is not None


def test_command_refuses_unknown_ids_with_exit_code_2(customer: Customer) -> None:
    with pytest.raises(CommandError) as error:
        call_command("messages", "retry", "999")
    assert error.value.returncode == 2 and "no message with id 999" in str(error.value)
