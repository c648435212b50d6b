"""Delivery events reported after the hand-over settle a message's status."""

from __future__ import annotations

import pytest
from django.utils import timezone

from arrears.comms.delivery import delivery_event_record
from arrears.comms.models import DeliveryEvent, Message, MessageStatus
from arrears.ledger.models import Customer


@pytest.fixture
def customer(db: None) -> Customer:
    return Customer.objects.create(ref="C1", name="Acme GmbH", country="DE")


def _message(customer: Customer, status: str) -> Message:
    now = timezone.now()
    return Message.objects.create(
        customer=customer,
        channel="email",
        template_key="remind",
        status=status,
        not_before=now,
        next_attempt_at=now,
        idempotency_key=f"test:{status}",
        created_at=now,
    )


@pytest.mark.parametrize(
    ("status", "kind", "settled"),
    [
        (MessageStatus.SENT, "delivered", MessageStatus.DELIVERED),
        (MessageStatus.SENT, "opened", MessageStatus.DELIVERED),
        (MessageStatus.SENT, "bounced", MessageStatus.BOUNCED),
        (MessageStatus.SENT, "failed", MessageStatus.FAILED),
        # A report proves an uncertain hand-over happened.
        (MessageStatus.UNCERTAIN, "delivered", MessageStatus.DELIVERED),
        # The first outcome stands.
        (MessageStatus.DELIVERED, "failed", MessageStatus.DELIVERED),
        (MessageStatus.BOUNCED, "opened", MessageStatus.BOUNCED),
        # A message still with a worker is the worker's to record.
        (MessageStatus.SENDING, "delivered", MessageStatus.SENDING),
        (MessageStatus.QUEUED, "failed", MessageStatus.QUEUED),
        # Other kinds are only recorded.
        (MessageStatus.SENT, "clicked", MessageStatus.SENT),
    ],
)
def test_a_reported_outcome_settles_a_sent_message_once(
    customer: Customer, status: str, kind: str, settled: str
) -> None:
    message = _message(customer, status)
    at = timezone.now()
    event = delivery_event_record(message=message, kind=kind, detail="550 no such user", at=at)
    assert (event.kind, event.at, event.detail) == (kind, at, "550 no such user")
    assert message.status == settled
    message.refresh_from_db()
    assert message.status == settled
    assert DeliveryEvent.objects.filter(message=message).count() == 1


def test_a_failure_keeps_its_reason_as_the_last_error(customer: Customer) -> None:
    message = _message(customer, MessageStatus.SENT)
    delivery_event_record(
        message=message, kind="bounced", detail="550 no such user", at=timezone.now()
    )
    message.refresh_from_db()
    assert message.last_error == "550 no such user"
