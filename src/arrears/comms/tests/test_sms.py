"""Texts: the channel against a fake provider on a real loopback HTTP
server, and the provider's webhook for replies and delivery receipts."""

from __future__ import annotations

import json
import socket
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from arrears.comms.channels import channel_for
from arrears.comms.compose import Composed
from arrears.comms.models import (
    ConsentRecord,
    DeliveryEvent,
    Message,
    MessageStatus,
    Task,
    TaskKind,
)
from arrears.comms.sms import SmsChannel, sms_segments
from arrears.ledger.models import Activity, Contact, Customer

from .sms_provider import TOKEN, FakeSmsProvider, sms_provider_fixture  # noqa: F401

NUMBER = "+4915123456789"
INBOUND_TOKEN = "inbound-token-for-tests"
WEBHOOK = "/comms/sms/inbound/"


@pytest.fixture
def customer(db: None) -> Customer:
    return Customer.objects.create(ref="C1", name="Acme GmbH", country="DE")


@pytest.fixture
def contact(customer: Customer) -> Contact:
    return Contact.objects.create(
        customer=customer, name="Ada Payable", phone=NUMBER, consent_sms=True
    )


def _message(contact: Contact, key: str = "action:1:sms", **fields: Any) -> Message:
    now = timezone.now()
    values: dict[str, Any] = {
        "customer": contact.customer,
        "contact": contact,
        "channel": "sms",
        "template_key": "remind",
        "to_address": contact.phone,
        "not_before": now,
        "next_attempt_at": now,
        "idempotency_key": key,
        "created_at": now,
        **fields,
    }
    return Message.objects.create(**values)


def _composed(contact: Contact, text: str = "Invoice 1001 is due on 2024-05-01.") -> Composed:
    return Composed(
        to=(contact.phone,),
        contact_id=contact.pk,
        subject="",
        body_text=text,
        body_html="",
        template_version=1,
        language="en",
    )


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# --- sending ------------------------------------------------------------------


def test_the_sms_channel_is_registered_and_idempotent() -> None:
    channel = channel_for("sms")
    assert isinstance(channel, SmsChannel)
    assert channel.idempotent is True


def test_a_text_is_posted_with_the_token_and_the_idempotency_key(
    sms_provider: FakeSmsProvider, contact: Contact
) -> None:
    message = _message(contact)
    result = SmsChannel().send(message, _composed(contact))
    assert (result.ok, result.provider_id) == (True, "SM0001")
    [request] = sms_provider.requests
    assert request.path == "/v1/messages"
    assert request.headers["authorization"] == f"Bearer {TOKEN}"
    assert request.headers["idempotency-key"] == "action:1:sms"
    assert request.headers["content-type"] == "application/json"
    assert request.body == {
        "to": NUMBER,
        "from": "+15550100000",
        "text": "Invoice 1001 is due on 2024-05-01.",
        "reference": "action:1:sms",
    }


def test_a_resend_with_the_same_key_sends_no_second_text(
    sms_provider: FakeSmsProvider, contact: Contact
) -> None:
    message = _message(contact)
    first = SmsChannel().send(message, _composed(contact))
    again = SmsChannel().send(message, _composed(contact))
    other = SmsChannel().send(_message(contact, key="action:2:sms"), _composed(contact))
    assert first.provider_id == again.provider_id == "SM0001"
    assert other.provider_id == "SM0002"
    assert len(sms_provider.requests) == 3
    assert len(sms_provider.sent) == 2


def test_a_send_that_timed_out_is_retried_and_not_sent_twice(
    sms_provider: FakeSmsProvider, contact: Contact, settings: Any
) -> None:
    settings.ARREARS_SMS_TIMEOUT = 0.3
    sms_provider.delay = 1.0
    message = _message(contact)
    result = SmsChannel().send(message, _composed(contact))
    assert (result.ok, result.permanent) == (False, False)
    assert "unreachable" in result.error
    # The provider took it after all; the worker's retry is dropped as a repeat.
    sms_provider.delay = 0
    deadline = time.monotonic() + 5
    while len(sms_provider.requests) < 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    retried = SmsChannel().send(message, _composed(contact))
    assert (retried.ok, retried.provider_id) == (True, "SM0001")
    assert len(sms_provider.requests) == 2
    assert len(sms_provider.sent) == 1


@pytest.mark.parametrize(
    ("status", "answer", "permanent", "bounced", "says"),
    [
        (400, {"error": "not a mobile number", "code": "invalid_number"}, True, True, "mobile"),
        (422, {"error": "recipient unsubscribed", "code": "unsubscribed"}, True, True, "unsub"),
        (404, {"error": "unknown number", "code": "invalid_number"}, True, True, "unknown"),
        # A request the provider cannot take, not the number's fault.
        (400, {"error": "'from' is not an allowed sender"}, True, False, "allowed sender"),
        (403, {"error": "account suspended"}, True, False, "ARREARS_SMS_TOKEN"),
        (302, {}, True, False, "ARREARS_SMS_URL"),
        (429, {"error": "slow down"}, False, False, "retry after 30s"),
        (500, {"error": "oops"}, False, False, "HTTP 500"),
        (503, {"error": "maintenance"}, False, False, "maintenance"),
    ],
)
def test_provider_answers_map_to_sent_retry_or_refused(
    sms_provider: FakeSmsProvider,
    contact: Contact,
    status: int,
    answer: dict[str, Any],
    permanent: bool,
    bounced: bool,
    says: str,
) -> None:
    sms_provider.answer(NUMBER, status, **answer)
    result = SmsChannel().send(_message(contact), _composed(contact))
    assert result.ok is False
    assert result.permanent is permanent
    assert result.bounced == ((NUMBER,) if bounced else ())
    assert says in result.error
    # Redirects are not followed: one request, to the configured address.
    assert len(sms_provider.requests) == 1
    assert sms_provider.sent == []


def test_a_wrong_token_is_refused_without_blaming_the_number(
    sms_provider: FakeSmsProvider, contact: Contact, settings: Any
) -> None:
    settings.ARREARS_SMS_TOKEN = "stale-token"
    result = SmsChannel().send(_message(contact), _composed(contact))
    assert (result.ok, result.permanent, result.bounced) == (False, True, ())
    assert "HTTP 401" in result.error and "ARREARS_SMS_TOKEN" in result.error
    assert sms_provider.requests[0].headers["authorization"] == "Bearer stale-token"


def test_an_unreachable_provider_is_retried(contact: Contact, settings: Any) -> None:
    settings.ARREARS_SMS_URL = f"http://127.0.0.1:{_free_port()}/v1/messages"
    result = SmsChannel().send(_message(contact), _composed(contact))
    assert (result.ok, result.permanent) == (False, False)
    assert "unreachable" in result.error


def test_without_a_provider_address_texts_fail_for_good(contact: Contact, settings: Any) -> None:
    settings.ARREARS_SMS_URL = ""
    result = SmsChannel().send(_message(contact), _composed(contact))
    assert (result.ok, result.permanent) == (False, True)
    assert "ARREARS_SMS_URL" in result.error


def test_typography_is_sent_as_gsm7(sms_provider: FakeSmsProvider, contact: Contact) -> None:
    text = "We\u2019ve not received \u20ac\u00a01\u202f200 \u2013 please pay\u2026"
    assert SmsChannel().send(_message(contact), _composed(contact, text)).ok
    assert sms_provider.sent[0]["text"] == "We've not received \u20ac 1 200 - please pay..."


def test_a_text_over_the_segment_limit_is_refused_before_sending(
    sms_provider: FakeSmsProvider, contact: Contact, settings: Any
) -> None:
    too_long = SmsChannel().send(_message(contact), _composed(contact, "x" * 460))
    assert (too_long.ok, too_long.permanent) == (False, True)
    assert "4 segments" in too_long.error and "at most 3" in too_long.error
    assert sms_provider.requests == []
    assert SmsChannel().send(_message(contact, key="k2"), _composed(contact, "x" * 459)).ok
    settings.ARREARS_SMS_MAX_SEGMENTS = 1
    emoji = SmsChannel().send(_message(contact, key="k3"), _composed(contact, "\U0001f600" * 36))
    assert emoji.permanent and "2 segments (72 UCS-2" in emoji.error
    assert len(sms_provider.requests) == 1


@pytest.mark.parametrize(
    ("consent_sms", "opted_out_sms", "says"),
    [(False, False, "not agreed"), (True, True, "opted out"), (False, True, "opted out")],
)
def test_a_contact_without_consent_is_not_texted(
    sms_provider: FakeSmsProvider,
    contact: Contact,
    consent_sms: bool,
    opted_out_sms: bool,
    says: str,
) -> None:
    Contact.objects.filter(pk=contact.pk).update(
        consent_sms=consent_sms, opted_out_sms=opted_out_sms
    )
    result = SmsChannel().send(_message(contact), _composed(contact))
    assert (result.ok, result.permanent, result.bounced) == (False, True, ())
    assert result.error.startswith("no consent") and says in result.error
    assert sms_provider.requests == []


def test_a_text_for_no_contact_is_not_sent(sms_provider: FakeSmsProvider, contact: Contact) -> None:
    composed = _composed(contact)
    orphan = Composed(**{**composed.__dict__, "contact_id": None})
    result = SmsChannel().send(_message(contact), orphan)
    assert result.permanent and result.error.startswith("no consent")
    assert sms_provider.requests == []


# --- the webhook --------------------------------------------------------------


@pytest.fixture
def webhook(settings: Any) -> Client:
    settings.ARREARS_SMS_INBOUND_TOKEN = INBOUND_TOKEN
    return Client(enforce_csrf_checks=True)


def _post(client: Client, data: Any, token: str | None = INBOUND_TOKEN) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    return client.post(
        WEBHOOK, data=json.dumps(data), content_type="application/json", headers=headers
    )


@pytest.mark.parametrize("text", ["STOP", " stop ", "Stop.", "unsubscribe", "QUIT", "stopall"])
def test_a_stop_reply_opts_out_every_contact_with_the_number(
    webhook: Client, contact: Contact, text: str
) -> None:
    other_customer = Customer.objects.create(ref="C2", name="Beta SA", country="FR")
    twin = Contact.objects.create(customer=other_customer, phone=NUMBER, consent_sms=True)
    bystander = Contact.objects.create(
        customer=other_customer, phone="+33612345678", consent_sms=True
    )
    answer = _post(webhook, {"type": "reply", "id": "IN1", "from": NUMBER, "text": text})
    assert answer.status_code == 200
    assert answer.json()["result"] == {"keyword": "stop", "contacts": 2, "duplicate": False}
    for person in (contact, twin):
        person.refresh_from_db()
        assert person.opted_out_sms is True
        record = ConsentRecord.objects.get(contact=person)
        assert (record.channel, record.granted, record.source) == ("sms", False, "SMS STOP reply")
        opt_out = Activity.objects.get(customer=person.customer, verb="opted out")
        assert opt_out.data["channel"] == "sms"
        assert Activity.objects.filter(customer=person.customer, verb="text received").exists()
    bystander.refresh_from_db()
    assert bystander.opted_out_sms is False
    assert not Task.objects.exists()


def test_a_number_without_the_plus_is_matched(webhook: Client, contact: Contact) -> None:
    answer = _post(webhook, {"type": "reply", "from": NUMBER.lstrip("+"), "text": "STOP"})
    assert answer.status_code == 200
    contact.refresh_from_db()
    assert contact.opted_out_sms is True


@pytest.mark.parametrize("token", [None, "wrong-token", ""])
def test_the_webhook_refuses_requests_without_the_token(
    webhook: Client, contact: Contact, token: str | None
) -> None:
    answer = _post(webhook, {"type": "reply", "from": NUMBER, "text": "STOP"}, token=token)
    assert answer.status_code == 403
    contact.refresh_from_db()
    assert contact.opted_out_sms is False
    assert not ConsentRecord.objects.exists()


def test_the_webhook_refuses_everything_when_no_token_is_configured(
    webhook: Client, contact: Contact, settings: Any
) -> None:
    settings.ARREARS_SMS_INBOUND_TOKEN = ""
    assert _post(webhook, {"type": "reply", "from": NUMBER, "text": "STOP"}, "").status_code == 403


def test_the_webhook_takes_only_posted_json_objects(webhook: Client, contact: Contact) -> None:
    headers = {"Authorization": f"Bearer {INBOUND_TOKEN}"}
    assert webhook.get(WEBHOOK, headers=headers).status_code == 405
    bad = webhook.post(WEBHOOK, data="STOP", content_type="text/plain", headers=headers)
    assert bad.status_code == 400
    assert _post(webhook, ["reply"]).status_code == 400
    assert _post(webhook, {"type": "mms"}).status_code == 400
    assert _post(webhook, {"type": "reply", "text": "STOP"}).status_code == 400
    assert _post(webhook, {"type": "status", "status": "delivered"}).status_code == 400


def test_start_restores_consent_after_a_stop(webhook: Client, contact: Contact) -> None:
    _post(webhook, {"type": "reply", "id": "IN1", "from": NUMBER, "text": "STOP"})
    answer = _post(webhook, {"type": "reply", "id": "IN2", "from": NUMBER, "text": "Start"})
    assert answer.json()["result"]["keyword"] == "start"
    contact.refresh_from_db()
    assert (contact.consent_sms, contact.opted_out_sms) == (True, False)
    latest = ConsentRecord.objects.filter(contact=contact).first()
    assert latest is not None
    assert (latest.granted, latest.source) == (True, "SMS START reply")


def test_start_does_not_grant_consent_never_given(webhook: Client, contact: Contact) -> None:
    Contact.objects.filter(pk=contact.pk).update(consent_sms=False)
    _post(webhook, {"type": "reply", "id": "IN1", "from": NUMBER, "text": "UNSTOP"})
    contact.refresh_from_db()
    assert contact.consent_sms is False
    assert not ConsentRecord.objects.exists()


def test_another_reply_becomes_a_task_once(webhook: Client, contact: Contact) -> None:
    reply = {"type": "reply", "id": "IN7", "from": NUMBER, "text": "Paid yesterday, ref 1001"}
    assert _post(webhook, reply).json()["result"]["duplicate"] is False
    assert _post(webhook, reply).json()["result"]["duplicate"] is True
    task = Task.objects.get()
    assert (task.kind, task.customer_id) == (TaskKind.TASK, contact.customer_id)
    assert task.reason == "Paid yesterday, ref 1001"
    contact.refresh_from_db()
    assert contact.opted_out_sms is False


def test_a_reply_from_an_unknown_number_changes_nothing(webhook: Client, contact: Contact) -> None:
    answer = _post(webhook, {"type": "reply", "from": "+33612345678", "text": "STOP"})
    assert answer.status_code == 200
    assert answer.json()["result"]["contacts"] == 0
    assert not ConsentRecord.objects.exists()
    assert not Activity.objects.exists()


def _sent(contact: Contact, provider_id: str = "SM0001", key: str = "action:1:sms") -> Message:
    return _message(
        contact, key=key, status=MessageStatus.SENT, provider_id=provider_id, sent_at=timezone.now()
    )


def test_a_delivery_receipt_marks_the_text_delivered(webhook: Client, contact: Contact) -> None:
    message = _sent(contact)
    at = timezone.now() - timedelta(minutes=3)
    receipt = {
        "type": "status",
        "message_id": "SM0001",
        "status": "delivered",
        "at": at.isoformat(),
    }
    assert _post(webhook, receipt).json() == {"ok": True, "result": {"receipt": "recorded"}}
    assert _post(webhook, receipt).json()["result"] == {"receipt": "duplicate"}
    message.refresh_from_db()
    assert message.status == MessageStatus.DELIVERED
    event = DeliveryEvent.objects.get(message=message)
    assert (event.kind, event.at) == ("delivered", at)


def test_an_undelivered_receipt_fails_the_text_with_the_carriers_reason(
    webhook: Client, contact: Contact
) -> None:
    message = _sent(contact, provider_id="")
    receipt = {
        "type": "status",
        "reference": "action:1:sms",
        "status": "undelivered",
        "error": "30003 unreachable handset",
    }
    assert _post(webhook, receipt).status_code == 200
    message.refresh_from_db()
    assert message.status == MessageStatus.FAILED
    assert message.last_error == "undelivered: 30003 unreachable handset"
    assert message.events.get().kind == "failed"


def test_receipts_for_unknown_texts_or_interim_states_are_taken_and_ignored(
    webhook: Client, contact: Contact
) -> None:
    message = _sent(contact)
    unknown = _post(webhook, {"type": "status", "message_id": "SM9999", "status": "delivered"})
    assert (unknown.status_code, unknown.json()["result"]) == (200, {"receipt": "unknown"})
    interim = _post(webhook, {"type": "status", "message_id": "SM0001", "status": "queued"})
    assert interim.json()["result"] == {"receipt": "ignored"}
    message.refresh_from_db()
    assert message.status == MessageStatus.SENT
    assert not DeliveryEvent.objects.exists()


def test_a_receipt_before_the_send_is_recorded_is_asked_again_later(
    webhook: Client, contact: Contact
) -> None:
    message = _message(contact, status=MessageStatus.SENDING)
    answer = _post(webhook, {"type": "status", "reference": "action:1:sms", "status": "delivered"})
    assert answer.status_code == 503 and answer["Retry-After"] == "60"
    message.refresh_from_db()
    assert message.status == MessageStatus.SENDING
    assert not DeliveryEvent.objects.exists()


def test_a_text_sent_through_the_provider_is_settled_by_its_receipt(
    sms_provider: FakeSmsProvider, webhook: Client, contact: Contact
) -> None:
    message = _message(contact)
    result = SmsChannel().send(message, _composed(contact))
    # What the outbox records for a hand-over.
    Message.objects.filter(pk=message.pk).update(
        status=MessageStatus.SENT, provider_id=result.provider_id
    )
    receipt = {"type": "status", "message_id": result.provider_id, "status": "delivered"}
    assert _post(webhook, receipt).status_code == 200
    message.refresh_from_db()
    assert message.status == MessageStatus.DELIVERED


# --- through the outbox -------------------------------------------------------


def test_the_outbox_texts_a_customer_until_the_number_replies_stop(
    sms_provider: FakeSmsProvider, webhook: Client, acme: Customer
) -> None:
    from arrears.comms.catalog import templates_sync
    from arrears.comms.outbox import message_queue, outbox_deliver

    templates_sync(actor_label="test")
    # A Tuesday, 10:00 in Stuttgart: within the customer's business hours.
    now = datetime(2025, 3, 4, 9, 0, tzinfo=UTC)
    first = message_queue(
        customer=acme,
        channel="sms",
        template_key="reminder-before-due",
        invoice_refs=["A-1"],
        actor_label="test",
        idempotency_key="one-off:1:sms",
        not_before=now,
    )
    assert outbox_deliver(now=now).sent == 1
    [sent] = sms_provider.sent
    assert sent["to"] == "+4971112345"
    assert sent["reference"] == "one-off:1:sms"
    assert "Freundliche Erinnerung" in sent["text"]
    assert sms_segments(sent["text"]).encoding == "GSM-7"
    first.refresh_from_db()
    assert (first.status, first.provider_id) == (MessageStatus.SENT, "SM0001")

    receipt = {"type": "status", "message_id": "SM0001", "status": "delivered"}
    assert _post(webhook, receipt).status_code == 200
    first.refresh_from_db()
    assert first.status == MessageStatus.DELIVERED

    stop = {"type": "reply", "from": "+4971112345", "text": "STOP"}
    assert _post(webhook, stop).status_code == 200
    second = message_queue(
        customer=acme,
        channel="sms",
        template_key="reminder-before-due",
        invoice_refs=["A-1"],
        actor_label="test",
        idempotency_key="one-off:2:sms",
        not_before=now,
    )
    outbox_deliver(now=now + timedelta(days=1))
    second.refresh_from_db()
    # The opt-out stops the next text before it leaves (the outbox falls back).
    assert second.status == MessageStatus.CANCELLED
    assert second.events.filter(kind="cancelled", detail="no recipient: opted out").exists()
    assert len(sms_provider.requests) == 1
