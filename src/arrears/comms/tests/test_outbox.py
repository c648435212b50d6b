"""The outbox from the daily run to a real SMTP server: written with the
actions, sent once within the customer's business hours and the frequency
cap, retried with back-off, bounced to the next channel, cancelled when
there is nothing left to ask for, and claimed by one worker only."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.db.models import F

from arrears.comms.models import DeliveryEvent, Message, MessageStatus, Task, TaskKind
from arrears.comms.outbox import (
    BACKOFF_MINUTES,
    message_accept_sent,
    message_retry,
    outbox_claim,
    outbox_deliver,
    outbox_recover,
)
from arrears.ledger.models import Activity, Automation, Contact, Customer, Invoice
from arrears.sequencing.models import Action, ActionStatus
from arrears.sequencing.services import run_daily

from .conftest import SmtpServer

AS_OF = date(2025, 3, 12)  # a Wednesday
BERLIN = ZoneInfo("Europe/Berlin")
# 10:00 on the day, inside Acme's business hours (09:00-17:00 Berlin).
OPEN = datetime(2025, 3, 12, 10, 0, tzinfo=BERLIN)


@pytest.fixture
def inquiry(acme: Customer) -> Message:
    """The daily run's inquiry e-mail to Acme, queued in the outbox."""
    run_daily(as_of=AS_OF)
    return Message.objects.get(customer=acme, channel="email")


def deliver(at: datetime, worker: str = "w1") -> dict[str, int]:
    return outbox_deliver(worker=worker, now=at, limit=10).as_dict()


def events(message: Message) -> list[str]:
    return list(DeliveryEvent.objects.filter(message=message).values_list("kind", flat=True))


def test_the_daily_run_queues_the_email_with_its_action(acme: Customer) -> None:
    run_daily(as_of=AS_OF)
    action = Action.objects.get(customer=acme, kind="email")
    message = Message.objects.get(action=action)
    assert (message.status, message.channel, message.attempts) == ("queued", "email", 0)
    assert message.invoice_refs == action.invoice_refs
    assert message.next_attempt_at == action.planned_at
    assert message.idempotency_key == f"action:{action.pk}:email"
    # A second run the same day plans nothing and queues nothing.
    run_daily(as_of=AS_OF)
    assert Message.objects.count() == 1


def test_the_email_is_sent_once_and_recorded(inquiry: Message, smtp_settings: SmtpServer) -> None:
    summary = deliver(OPEN)

    assert (summary["claimed"], summary["sent"]) == (1, 1)
    assert len(smtp_settings.messages) == 1
    _, rcpt_tos, email = smtp_settings.messages[0]
    assert rcpt_tos == ["ap@acme.example"]
    inquiry.refresh_from_db()
    assert inquiry.status == MessageStatus.SENT
    assert inquiry.sent_at == OPEN and inquiry.attempts == 1
    assert inquiry.provider_id == email["Message-ID"] != ""
    assert inquiry.to_address == "ap@acme.example"
    assert inquiry.subject == email["Subject"].strip()  # folded: it starts on a new line
    assert inquiry.action is not None and inquiry.action.status == ActionStatus.DONE
    assert events(inquiry) == ["sent"]
    logged = Activity.objects.get(verb="email sent")
    assert (logged.customer_id, logged.subject_ref) == (inquiry.customer_id, str(inquiry.pk))

    # Nothing is left to send: a second pass claims nothing.
    assert deliver(OPEN + timedelta(minutes=5))["claimed"] == 0
    assert len(smtp_settings.messages) == 1


@pytest.mark.parametrize(
    ("now", "opens"),
    [
        # 18:30 on Wednesday: after hours, next morning at 09:00.
        (datetime(2025, 3, 12, 18, 30, tzinfo=BERLIN), datetime(2025, 3, 13, 9, tzinfo=BERLIN)),
        # 07:00 on Wednesday: before hours, the same morning.
        (datetime(2025, 3, 12, 7, 0, tzinfo=BERLIN), datetime(2025, 3, 12, 9, tzinfo=BERLIN)),
        # Saturday: Monday morning.
        (datetime(2025, 3, 15, 11, 0, tzinfo=BERLIN), datetime(2025, 3, 17, 9, tzinfo=BERLIN)),
        # Good Friday, a public holiday in Germany: Easter Monday is one too.
        (datetime(2025, 4, 18, 11, 0, tzinfo=BERLIN), datetime(2025, 4, 22, 9, tzinfo=BERLIN)),
    ],
    ids=["evening", "early", "saturday", "good-friday"],
)
def test_outside_business_hours_the_email_waits_without_using_an_attempt(
    inquiry: Message, smtp_settings: SmtpServer, now: datetime, opens: datetime
) -> None:
    Message.objects.filter(pk=inquiry.pk).update(next_attempt_at=now - timedelta(hours=12))

    summary = deliver(now)

    assert (summary["claimed"], summary["deferred"], summary["sent"]) == (1, 1, 0)
    inquiry.refresh_from_db()
    assert (inquiry.status, inquiry.attempts, inquiry.claimed_by) == ("queued", 0, "")
    assert inquiry.next_attempt_at == opens
    assert smtp_settings.messages == []
    # At the opening it goes.
    assert deliver(opens)["sent"] == 1
    assert len(smtp_settings.messages) == 1


def test_the_frequency_cap_holds_the_email_until_a_touch_leaves_the_window(
    inquiry: Message, smtp_settings: SmtpServer
) -> None:
    # The default policy allows 2 touches in 7 days: two went out already.
    for days_ago, key in ((5, "earlier-1"), (2, "earlier-2")):
        Message.objects.create(
            customer=inquiry.customer,
            channel="letter",
            template_key="reminder",
            status=MessageStatus.SENT,
            sent_at=OPEN - timedelta(days=days_ago),
            not_before=OPEN,
            next_attempt_at=OPEN,
            idempotency_key=key,
            created_at=OPEN - timedelta(days=days_ago),
        )

    assert deliver(OPEN)["deferred"] == 1

    inquiry.refresh_from_db()
    assert inquiry.status == MessageStatus.QUEUED and inquiry.attempts == 0
    # The older touch leaves the 7-day window 2 days from now.
    assert inquiry.next_attempt_at == OPEN + timedelta(days=2)
    assert smtp_settings.messages == []
    assert deliver(OPEN + timedelta(days=2))["sent"] == 1


def test_a_temporary_smtp_refusal_is_retried_with_back_off_then_sent(
    inquiry: Message, smtp_settings: SmtpServer
) -> None:
    smtp_settings.refuse["ap@acme.example"] = "451 4.3.0 Mailbox busy, try later"

    assert deliver(OPEN)["retried"] == 1
    inquiry.refresh_from_db()
    assert (inquiry.status, inquiry.attempts) == ("queued", 1)
    assert inquiry.next_attempt_at == OPEN + timedelta(minutes=BACKOFF_MINUTES[0])
    assert "451" in inquiry.last_error
    # Not due before its back-off has passed.
    assert deliver(OPEN + timedelta(seconds=30))["claimed"] == 0

    second = OPEN + timedelta(minutes=1)
    assert deliver(second)["retried"] == 1
    inquiry.refresh_from_db()
    assert inquiry.next_attempt_at == second + timedelta(minutes=BACKOFF_MINUTES[1])

    del smtp_settings.refuse["ap@acme.example"]
    assert deliver(second + timedelta(minutes=5))["sent"] == 1
    inquiry.refresh_from_db()
    assert (inquiry.status, inquiry.attempts) == ("sent", 3)
    assert events(inquiry) == ["retry", "retry", "sent"]
    assert len(smtp_settings.messages) == 1


def test_a_permanent_refusal_bounces_marks_the_address_and_falls_back_to_a_text(
    inquiry: Message, smtp_settings: SmtpServer
) -> None:
    smtp_settings.refuse["ap@acme.example"] = "550 5.1.1 No such user"

    summary = deliver(OPEN)

    assert (summary["failed"], summary["fallbacks"], summary["sent"]) == (1, 1, 0)
    inquiry.refresh_from_db()
    assert inquiry.status == MessageStatus.BOUNCED and "550" in inquiry.last_error
    ap = Contact.objects.get(email="ap@acme.example")
    assert ap.email_bounced is True
    fix = Task.objects.get(kind=TaskKind.FIX_MASTER_DATA)
    assert "ap@acme.example" in fix.title and fix.customer_id == inquiry.customer_id
    # The policy's fallback order after e-mail is a text: same step, same invoices.
    text = Message.objects.get(fallback_of=inquiry)
    assert (text.channel, text.status, text.template_key) == ("sms", "queued", "inquiry")
    assert text.invoice_refs == inquiry.invoice_refs
    assert smtp_settings.messages == []
    assert Activity.objects.filter(verb="email bounced").count() == 1


def test_without_a_text_channel_a_bounce_falls_back_to_a_letter(
    inquiry: Message, smtp_settings: SmtpServer
) -> None:
    Contact.objects.filter(customer=inquiry.customer).update(consent_sms=False, phone="")
    smtp_settings.refuse["ap@acme.example"] = "550 5.1.1 No such user"
    deliver(OPEN)
    text = Message.objects.get(fallback_of=inquiry)
    # The text finds no number: cancelled, and the letter is next.
    deliver(OPEN + timedelta(minutes=1))
    text.refresh_from_db()
    assert text.status == MessageStatus.CANCELLED
    letter = Message.objects.get(fallback_of=text)
    assert letter.channel == "letter"


def test_with_no_channel_left_a_bounce_becomes_a_call_for_the_collector(
    inquiry: Message, smtp_settings: SmtpServer
) -> None:
    Contact.objects.filter(customer=inquiry.customer).update(phone="")
    Customer.objects.filter(pk=inquiry.customer_id).update(postal_address="")
    smtp_settings.refuse["ap@acme.example"] = "550 5.1.1 No such user"

    for minute in range(3):  # the e-mail, then the text, then the letter
        deliver(OPEN + timedelta(minutes=minute))

    chain = list(Message.objects.order_by("id").values_list("channel", "status"))
    assert chain == [("email", "bounced"), ("sms", "cancelled"), ("letter", "cancelled")]
    call = Task.objects.get(kind=TaskKind.CALL)
    assert call.title.startswith("Call instead of letter")
    assert call.invoice_refs == inquiry.invoice_refs
    assert call.assigned_to == inquiry.customer.collector
    # One "fix master data" task collects every missing address.
    fix = Task.objects.get(kind=TaskKind.FIX_MASTER_DATA)
    assert "ap@acme.example" in fix.reason and "letter" in fix.reason


@pytest.mark.parametrize("why", ["paid", "paused"])
def test_an_email_with_nothing_left_to_ask_or_a_paused_customer_is_cancelled(
    inquiry: Message, smtp_settings: SmtpServer, why: str
) -> None:
    if why == "paid":
        Invoice.objects.filter(customer=inquiry.customer).update(
            allocated=F("amount"), status="paid"
        )
    else:
        Customer.objects.filter(pk=inquiry.customer_id).update(automation=Automation.PAUSED)

    summary = deliver(OPEN)

    assert (summary["cancelled"], summary["sent"]) == (1, 0)
    inquiry.refresh_from_db()
    assert inquiry.status == MessageStatus.CANCELLED
    assert inquiry.last_error == (
        "all its invoices are paid" if why == "paid" else "the customer is paused"
    )
    assert events(inquiry) == ["cancelled"]
    assert smtp_settings.messages == []


def test_a_bounced_email_is_retried_by_a_person_and_sent(
    inquiry: Message, smtp_settings: SmtpServer
) -> None:
    smtp_settings.refuse["ap@acme.example"] = "550 5.1.1 No such user"
    deliver(OPEN)
    inquiry.refresh_from_db()
    with pytest.raises(ValueError, match="queued"):
        message_retry(message=Message.objects.get(fallback_of=inquiry), actor_label="dana")
    # The address is fixed; the collector retries.
    del smtp_settings.refuse["ap@acme.example"]
    Contact.objects.filter(email="ap@acme.example").update(email_bounced=False)

    retried = message_retry(message=inquiry, actor_label="dana")

    assert (retried.status, retried.attempts) == ("queued", 0)
    assert Activity.objects.filter(verb="message retried", actor_label="dana").count() == 1
    # It is queued for the real "now"; this test's clock is March 2025.
    Message.objects.filter(pk=inquiry.pk).update(next_attempt_at=OPEN)
    deliver(OPEN + timedelta(minutes=10))
    inquiry.refresh_from_db()
    assert inquiry.status == MessageStatus.SENT
    assert len(smtp_settings.messages) == 1
    with pytest.raises(ValueError, match="sent"):
        message_retry(message=inquiry, actor_label="dana")


def test_an_uncertain_email_accepted_as_sent_is_never_sent_again(
    inquiry: Message, smtp_settings: SmtpServer
) -> None:
    with pytest.raises(ValueError, match="not uncertain"):
        message_accept_sent(message=inquiry, actor_label="dana")
    # A worker claimed it and died before recording the result.
    assert outbox_claim(worker="dead", now=OPEN, limit=10) == [inquiry.pk]
    assert outbox_recover(now=OPEN + timedelta(seconds=30)) == 0  # within the lease
    assert outbox_recover(now=OPEN + timedelta(hours=1)) == 1

    inquiry.refresh_from_db()
    assert inquiry.status == MessageStatus.UNCERTAIN
    assert events(inquiry) == ["uncertain"]
    review = Task.objects.get(kind=TaskKind.REVIEW_MESSAGE)
    assert f"#{inquiry.pk}" in review.title and review.customer_id == inquiry.customer_id
    # Uncertain is never picked up again by itself.
    assert deliver(OPEN + timedelta(hours=2))["claimed"] == 0

    accepted = message_accept_sent(message=inquiry, actor_label="dana")

    assert accepted.status == MessageStatus.SENT and accepted.sent_at is not None
    assert Activity.objects.filter(verb="message accepted as sent", actor_label="dana").exists()
    assert deliver(OPEN + timedelta(hours=3))["claimed"] == 0
    assert smtp_settings.messages == []


# --- claims -------------------------------------------------------------------


@pytest.fixture
def queued(db: None) -> Iterator[list[int]]:
    customer = Customer.objects.create(ref="Q1", name="Queue Ltd", country="GB")
    ids = [
        Message.objects.create(
            customer=customer,
            channel="email",
            template_key="inquiry",
            not_before=OPEN,
            next_attempt_at=OPEN - timedelta(seconds=n),
            idempotency_key=f"claim-{n}",
            created_at=OPEN,
        ).pk
        for n in range(60)
    ]
    yield ids


@pytest.mark.django_db(transaction=True)
def test_concurrent_claims_never_share_a_message(queued: list[int]) -> None:
    # Four threads, each with its own database connection, claim in small
    # batches at the same time until the outbox is empty.
    barrier = threading.Barrier(4)
    claimed: dict[str, list[int]] = {}
    errors: list[BaseException] = []

    def work(name: str) -> None:
        mine: list[int] = []
        try:
            barrier.wait(timeout=30)
            while batch := outbox_claim(worker=name, now=OPEN, limit=7):
                mine += batch
        except BaseException as error:  # reported below, not lost in the thread
            errors.append(error)
        finally:
            claimed[name] = mine
            connection.close()

    threads = [threading.Thread(target=work, args=(f"w{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)

    assert not errors, errors
    every = [pk for batch in claimed.values() for pk in batch]
    assert sorted(every) == sorted(queued)  # each claimed exactly once
    rows = dict(Message.objects.values_list("pk", "claimed_by"))
    for name, ids in claimed.items():
        assert {rows[pk] for pk in ids} <= {name}
    assert set(Message.objects.values_list("status", flat=True)) == {"sending"}
    assert set(Message.objects.values_list("attempts", flat=True)) == {1}


def test_a_sign_in_link_goes_at_once_and_is_no_collection_touch(
    acme: Customer, smtp_settings: SmtpServer
) -> None:
    from arrears.comms.outbox import message_queue

    Customer.objects.filter(pk=acme.pk).update(automation=Automation.PAUSED)
    acme.refresh_from_db()
    # Saturday night in Berlin: no collection contact, but the customer
    # asked for the link just now.
    saturday_night = datetime(2025, 3, 15, 23, 30, tzinfo=BERLIN)
    link = message_queue(
        customer=acme,
        channel="email",
        template_key="portal-link",
        invoice_refs=[],
        actor_label="portal",
        idempotency_key="portal-link:test",
        not_before=saturday_night,
    )
    assert deliver(saturday_night)["sent"] == 1
    link.refresh_from_db()
    assert link.status == MessageStatus.SENT and len(smtp_settings.messages) == 1
    # Two sign-in links do not use up the frequency cap of collection e-mails.
    from arrears.comms.outbox import _capped_until
    from arrears.sequencing.selectors import policy_default

    link2 = message_queue(
        customer=acme,
        channel="email",
        template_key="portal-link",
        invoice_refs=[],
        actor_label="portal",
        idempotency_key="portal-link:test2",
        not_before=saturday_night,
    )
    deliver(saturday_night)
    assert _capped_until(link2, policy_default().guardrails, saturday_night) is None
