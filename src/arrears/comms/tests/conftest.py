"""Fixtures shared by the comms tests: a real SMTP server on loopback
(aiosmtpd) and a small ledger to write to."""

from __future__ import annotations

import asyncio
import email
import email.policy
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from django.contrib.auth.models import User

from arrears.ledger.models import Contact, ContactRole, Customer, Invoice


@dataclass
class SmtpServer:
    """A running SMTP server on 127.0.0.1.

    ``messages``: (MAIL FROM, RCPT TOs, parsed message) per accepted e-mail.
    ``refuse[address] = "550 5.1.1 No such user"`` answers RCPT TO for that
    address with the given reply; ``data_reply = "554 …"`` answers DATA.
    ``gate.clear()`` stalls every DATA until ``gate.set()``; ``arrived`` is
    set when a DATA command has been received (to kill a worker mid-send).
    """

    host: str
    port: int
    messages: list[tuple[str, list[str], EmailMessage]] = field(default_factory=list)
    refuse: dict[str, str] = field(default_factory=dict)
    data_reply: str | None = None
    gate: threading.Event = field(default_factory=threading.Event)
    arrived: threading.Event = field(default_factory=threading.Event)

    async def handle_RCPT(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.arrived.set()
        await asyncio.get_running_loop().run_in_executor(None, self.gate.wait)
        if self.data_reply:
            return self.data_reply
        content = envelope.original_content or b""
        parsed = email.message_from_bytes(content, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        self.messages.append((str(envelope.mail_from), list(envelope.rcpt_tos), parsed))
        return "250 Message accepted for delivery"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    server = SmtpServer(host="127.0.0.1", port=_free_port())
    server.gate.set()
    controller = Controller(server, hostname=server.host, port=server.port)
    controller.start()
    try:
        yield server
    finally:
        server.gate.set()  # a stalled DATA must not hold up the shutdown
        controller.stop()


@pytest.fixture
def smtp_settings(settings: Any, smtp_server: SmtpServer) -> SmtpServer:
    """Django's SMTP backend pointed at ``smtp_server``."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = smtp_server.host
    settings.EMAIL_PORT = smtp_server.port
    settings.EMAIL_HOST_USER = ""
    settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_TIMEOUT = 5
    return smtp_server


@pytest.fixture
def acme(db: None) -> Customer:
    """A German customer with a collector, an AP and an owner contact, and
    three open invoices in two currencies (one partly paid) and a paid one."""
    collector = User.objects.create_user(
        "dana", email="dana@ar.example", first_name="Dana", last_name="Collector"
    )
    customer = Customer.objects.create(
        ref="ACME-7",
        name="Acme Werkzeuge GmbH",
        country="DE",
        language="de",
        collector=collector,
        postal_address="Industriestraße 5\n70565 Stuttgart\nGermany",
        time_zone="Europe/Berlin",
    )
    Contact.objects.create(
        customer=customer, name="Owner", role=ContactRole.OWNER, email="boss@acme.example"
    )
    Contact.objects.create(
        customer=customer,
        name="Petra Payable",
        role=ContactRole.AP,
        email="ap@acme.example",
        phone="+4971112345",
        consent_sms=True,
    )
    for ref, amount, allocated, currency, due in (
        ("A-1", "1000.00", "0", "EUR", date(2025, 2, 1)),
        ("A-2", "500.00", "200.00", "EUR", date(2025, 2, 15)),
        ("A-3", "1234.56", "0", "USD", date(2025, 3, 1)),
        ("A-4", "99.00", "99.00", "EUR", date(2025, 1, 15)),
    ):
        Invoice.objects.create(
            ref=ref,
            customer=customer,
            issue_date=date(2025, 1, 1),
            due_date=due,
            amount=Decimal(amount),
            allocated=Decimal(allocated),
            status="paid" if allocated == amount else "open",
            currency=currency,
            order_ref=f"PO-{ref}",
            terms="Net 30",
        )
    return customer
