"""The weekly key-figures e-mail to managers."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth.models import Group, User
from django.core import mail
from django.core.mail import EmailMultiAlternatives
from django.core.management import call_command

from arrears.ledger.models import Customer, Invoice
from arrears.reports.digest import digest_due, digest_figures, digest_send_weekly
from arrears.reports.models import WeeklyDigest

pytestmark = pytest.mark.django_db

UTC = ZoneInfo("UTC")
# Monday 2025-03-17, 08:00 UTC: after the default 07:00.
MONDAY_MORNING = datetime(2025, 3, 17, 8, 0, tzinfo=UTC)


@pytest.fixture
def ledger() -> None:
    customer = Customer.objects.create(ref="C1", name="Acme", country="DE")
    for ref, issued, due, amount in (
        ("I1", date(2025, 1, 10), date(2025, 2, 9), "1000.00"),
        ("I2", date(2025, 3, 1), date(2025, 3, 31), "500.00"),
    ):
        Invoice.objects.create(
            ref=ref,
            customer=customer,
            issue_date=issued,
            due_date=due,
            amount=Decimal(amount),
            currency="EUR",
        )
    manager = User.objects.create_user("mia", email="mia@example.com", password="x" * 20)
    manager.groups.add(Group.objects.get_or_create(name="manager")[0])
    User.objects.create_user("cole", email="cole@example.com", password="x" * 20)


def test_figures_compare_with_a_week_before(ledger: None) -> None:
    digest = digest_figures(as_of=date(2025, 3, 16))
    (eur,) = digest.currencies
    assert eur.currency == "EUR" and eur.ar == Decimal("1500.0000")
    overdue = next(f for f in eur.figures if f.name == "Overdue share")
    # 1000 of 1500 overdue on both days.
    assert overdue.now == Decimal("66.7") and overdue.before == Decimal("66.7")
    assert overdue.change == 0 and overdue.better is None


def test_the_digest_is_due_from_its_day_and_time() -> None:
    assert digest_due(now=datetime(2025, 3, 17, 6, 59, tzinfo=UTC)) is None
    assert digest_due(now=MONDAY_MORNING) == date(2025, 3, 17)
    assert digest_due(now=datetime(2025, 3, 20, 1, 0, tzinfo=UTC)) == date(2025, 3, 17)


def test_the_weekly_digest_goes_to_managers_once(ledger: None) -> None:
    sent = digest_send_weekly(worker="w1", now=MONDAY_MORNING)
    assert sent is not None and sent.recipients == ["mia@example.com"]
    assert digest_send_weekly(worker="w2", now=MONDAY_MORNING) is None
    (message,) = mail.outbox
    assert message.to == ["mia@example.com"]
    assert message.subject == "Receivables: the week to 16 Mar 2025"
    assert "EUR: receivables 1,500.00 EUR" in message.body
    assert isinstance(message, EmailMultiAlternatives)
    assert "Overdue share" in str(message.alternatives[0][0])
    assert WeeklyDigest.objects.get().claimed_by == "w1"


def test_without_managers_nothing_is_sent_and_the_row_says_why(db: None) -> None:
    assert digest_send_weekly(worker="w1", now=MONDAY_MORNING) is None
    assert mail.outbox == []
    assert WeeklyDigest.objects.get().error == "no manager has an e-mail address"


def test_command_prints_the_digest(ledger: None) -> None:
    out = StringIO()
    call_command("report", "digest", "--as-of", "2025-03-16", stdout=out)
    assert "Receivables: the week to 16 March 2025" in out.getvalue()
    assert "DSO:" in out.getvalue()
