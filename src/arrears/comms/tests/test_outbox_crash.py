"""A worker killed in the middle of a send: the outbox's at-most-once
guarantee with real processes.

``arrears worker --once`` runs as a child process against the test
database. The SMTP server (or the SMS provider) holds the message it has
received without answering, the test kills the worker with SIGKILL, and a
second worker with a one-second lease finds the message its predecessor
left "sending". An e-mail must then wait for a person ("uncertain"): SMTP
cannot tell whether it left, and sending it again could reach the customer
twice. A text is sent again with the same Idempotency-Key, which the
provider drops as a repeat.
"""

from __future__ import annotations

import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from arrears.comms.email import message_id
from arrears.comms.models import DeliveryEvent, Message, MessageStatus, Task, TaskKind
from arrears.comms.outbox import message_accept_sent
from arrears.comms.rendering import brand_current
from arrears.ledger.models import Customer
from arrears.sequencing.services import policy_apply, run_daily
from arrears.web.tests.processes import arrears_run, arrears_start, process_env

from .conftest import SmtpServer
from .sms_provider import FakeSmsProvider, Request, fake_sms_provider

AS_OF = date(2025, 3, 12)
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def always_open(acme: Customer, tmp_path: Path) -> Customer:
    """The worker processes read the real clock, so the customer's business
    hours must be open whenever the test runs: a policy without quiet
    hours, weekends or holidays (only 23:59-00:00 is closed, so the
    customer's zone is moved away from it when the test starts then)."""
    text = (Path(__file__).parents[2] / "sequencing" / "policies" / "default.yaml").read_text()
    text = text.replace("name: default", "name: always-open", 1)
    text = text.replace("skip_weekends: true", "skip_weekends: false")
    text = text.replace("skip_holidays: true", "skip_holidays: false")
    text = text.replace('start: "09:00", end: "17:00"', 'start: "00:00", end: "23:59"')
    path = tmp_path / "always-open.yaml"
    path.write_text(text)
    policy_apply(path=path, actor_label="test")
    late = datetime.now(UTC).strftime("%H:%M") >= "23:50"
    Customer.objects.filter(pk=acme.pk).update(time_zone="Asia/Tokyo" if late else "UTC")
    return acme


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 60) -> None:
    end = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < end, f"timed out waiting for {what}"
        time.sleep(0.05)


def kill(worker: subprocess.Popen[str]) -> None:
    worker.send_signal(signal.SIGKILL)
    worker.communicate(timeout=30)
    assert worker.returncode == -signal.SIGKILL


def worker_once(env: dict[str, str]) -> str:
    return arrears_run("worker", "--once", "--no-schedule", env=env)


@pytest.fixture
def receiving(smtp_server: SmtpServer) -> list[bytes]:
    """Every e-mail the SMTP server has received in full (its DATA), whether
    or not it answered: a client killed while the server holds its answer
    has still handed the message over."""
    received: list[bytes] = []
    handle = smtp_server.handle_DATA

    async def keeping(server: Any, session: Any, envelope: Any) -> str:
        received.append(envelope.original_content or b"")
        return await handle(server, session, envelope)

    # aiosmtpd looks the hook up on each new connection.
    smtp_server.handle_DATA = keeping  # type: ignore[method-assign]
    return received


def test_an_email_cut_short_by_a_killed_worker_is_sent_once_and_left_to_a_person(
    always_open: Customer, smtp_server: SmtpServer, receiving: list[bytes], tmp_path: Path
) -> None:
    run_daily(as_of=AS_OF)
    message = Message.objects.get(channel="email")
    env = process_env(
        tmp_path, EMAIL_HOST=smtp_server.host, EMAIL_PORT=str(smtp_server.port), EMAIL_TIMEOUT="60"
    )

    smtp_server.gate.clear()  # the server takes the e-mail, then does not answer
    first = arrears_start("worker", "--once", "--no-schedule", env=env)
    try:
        assert smtp_server.arrived.wait(timeout=60), "the worker never reached DATA"
    finally:
        kill(first)
    smtp_server.gate.set()
    assert len(receiving) == 1
    message.refresh_from_db()
    assert message.status == MessageStatus.SENDING  # the dead worker's claim
    # What reached the server is this message, rendered and stored first.
    sent_id = message_id(message, brand_current().sender_email)
    assert f"Message-ID: {sent_id}".encode() in receiving[0]
    assert message.to_address == "ap@acme.example" and message.subject

    time.sleep(1.1)  # past the next worker's one-second lease
    lease = {**env, "ARREARS_OUTBOX_LEASE_SECONDS": "1"}
    output = worker_once(lease)

    assert "1 uncertain" in output, output
    message.refresh_from_db()
    assert message.status == MessageStatus.UNCERTAIN
    assert "stopped while sending" in message.last_error
    review = Task.objects.get(kind=TaskKind.REVIEW_MESSAGE, customer=always_open)
    assert f"#{message.pk}" in review.title
    kinds = list(DeliveryEvent.objects.filter(message=message).values_list("kind", flat=True))
    assert kinds == ["uncertain"]

    # Further workers leave it alone; a person confirms it arrived.
    worker_once(lease)
    message_accept_sent(message=message, actor_label="dana")
    worker_once(lease)

    message.refresh_from_db()
    assert message.status == MessageStatus.SENT
    assert len(receiving) == 1  # the server got the e-mail once in all


def test_sigterm_lets_the_worker_finish_the_email_in_hand_then_stop(
    always_open: Customer, smtp_server: SmtpServer, receiving: list[bytes], tmp_path: Path
) -> None:
    run_daily(as_of=AS_OF)
    message = Message.objects.get(channel="email")
    env = process_env(
        tmp_path, EMAIL_HOST=smtp_server.host, EMAIL_PORT=str(smtp_server.port), EMAIL_TIMEOUT="60"
    )
    smtp_server.gate.clear()
    # Not --once: this worker would poll forever.
    worker = arrears_start("worker", "--no-schedule", "--interval", "0.2", env=env)
    try:
        assert smtp_server.arrived.wait(timeout=60), "the worker never reached DATA"
        worker.send_signal(signal.SIGTERM)
        time.sleep(0.5)  # the signal arrives while the server holds its answer
        smtp_server.gate.set()
        out, err = worker.communicate(timeout=60)
    finally:
        if worker.poll() is None:
            kill(worker)

    assert worker.returncode == 0, err
    assert "stopping after the work in hand" in out
    message.refresh_from_db()
    assert message.status == MessageStatus.SENT
    assert len(receiving) == len(smtp_server.messages) == 1


@pytest.fixture
def stalling_provider() -> Iterator[tuple[FakeSmsProvider, threading.Event, threading.Event]]:
    """The fake SMS provider, made to hold each request until ``gate`` is
    set; ``arrived`` is set when a request has come in."""
    arrived, gate = threading.Event(), threading.Event()
    gate.set()
    with fake_sms_provider() as provider:
        handle = provider.handle

        def holding(request: Request) -> tuple[int, dict[str, Any]]:
            arrived.set()
            gate.wait(timeout=60)
            return handle(request)

        provider.handle = holding  # type: ignore[method-assign]
        try:
            yield provider, arrived, gate
        finally:
            gate.set()


def test_a_text_cut_short_by_a_killed_worker_is_resent_with_its_key_and_counted_once(
    always_open: Customer,
    stalling_provider: tuple[FakeSmsProvider, threading.Event, threading.Event],
    tmp_path: Path,
) -> None:
    provider, arrived, gate = stalling_provider
    Customer.objects.filter(pk=always_open.pk).update(preferred_channel="sms")
    run_daily(as_of=AS_OF)
    message = Message.objects.get(customer=always_open, channel="sms")
    env = process_env(
        tmp_path,
        ARREARS_SMS_URL=provider.url,
        ARREARS_SMS_TOKEN=provider.token,
        ARREARS_SMS_SENDER="+15550100000",
        ARREARS_SMS_TIMEOUT="60",
    )

    gate.clear()
    first = arrears_start("worker", "--once", "--no-schedule", env=env)
    try:
        assert arrived.wait(timeout=60), "the worker never reached the provider"
    finally:
        kill(first)
    gate.set()
    wait_for(lambda: len(provider.sent) == 1, "the provider to send the text")
    message.refresh_from_db()
    assert message.status == MessageStatus.SENDING

    time.sleep(1.1)
    output = worker_once({**env, "ARREARS_OUTBOX_LEASE_SECONDS": "1"})

    assert "1 recovered" in output and "1 sent" in output
    message.refresh_from_db()
    assert message.status == MessageStatus.SENT
    keys = [r.headers["idempotency-key"] for r in provider.requests]
    assert keys == [message.idempotency_key] * 2  # the resend carried the same key
    assert len(provider.sent) == 1  # and the provider sent one text
    assert not Task.objects.filter(kind=TaskKind.REVIEW_MESSAGE).exists()
    kinds = list(DeliveryEvent.objects.filter(message=message).values_list("kind", flat=True))
    assert kinds == ["resumed", "sent"]
