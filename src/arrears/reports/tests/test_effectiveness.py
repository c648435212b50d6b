"""What each step and template achieved: touches, what followed, cash."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from arrears.cases.models import Dispute, Promise
from arrears.ledger.models import Customer, Payment
from arrears.reports.effectiveness import effectiveness
from arrears.sequencing.models import Action

pytestmark = pytest.mark.django_db

JAN = date(2025, 1, 1)


def _at(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, datetime.min.time()).replace(hour=10))


def _customer(ref: str) -> Customer:
    return Customer.objects.create(ref=ref, name=ref, country="DE")


def _touch(
    customer: Customer,
    day: int,
    step: str = "inquiry",
    version: int = 1,
    kind: str = "email",
    status: str = "done",
    month: int = 1,
) -> Action:
    on = date(2025, month, day)
    return Action.objects.create(
        customer=customer,
        kind=kind,
        stage="inquire",
        step=step,
        template=step,
        planned_for=on,
        planned_at=_at(on),
        status=status,
        reason="test",
        policy_name="default",
        policy_version=version,
        idempotency_key=f"{customer.ref}|{step}|{on}|{version}",
        created_at=_at(on),
    )


def _payment(customer: Customer, day: int, amount: str, currency: str = "EUR") -> None:
    Payment.objects.create(
        ref=f"P-{customer.ref}-{day}",
        customer=customer,
        received_on=date(2025, 1, day),
        amount=Decimal(amount),
        currency=currency,
    )


@pytest.fixture
def history() -> None:
    a, b, c, d, e = (_customer(r) for r in "ABCDE")
    _touch(a, 5)  # paid 3 days later
    _payment(a, 8, "300.00")
    _touch(b, 5)  # promise 2 days later, no payment
    Promise.objects.create(
        customer=b,
        promised_on=date(2025, 1, 20),
        source="call",
        created_at=_at(date(2025, 1, 7)),
        created_by_label="t",
    )
    _touch(c, 6, version=2)  # nothing follows
    _touch(a, 10, step="inquiry-call", kind="call")  # paid 2 days later
    _payment(a, 12, "200.00")
    _touch(d, 20)  # disputed the next day
    Dispute.objects.create(
        customer=d, reason="quality", opened_at=_at(date(2025, 1, 21)), opened_by_label="t"
    )
    _touch(e, 15)  # paid the next day, in dollars
    _payment(e, 16, "1000.00", "USD")
    _touch(c, 22, status="planned")  # not done: not a touch
    _touch(c, 10, month=2)  # outside the period


def test_each_step_and_version_gets_its_own_row(history: None) -> None:
    rows = {(e.policy, e.step): e for e in effectiveness(start=JAN, end=date(2025, 1, 31))}
    assert set(rows) == {
        ("default v1", "inquiry"),
        ("default v2", "inquiry"),
        ("default v1", "inquiry-call"),
    }
    v1 = rows["default v1", "inquiry"]
    assert (v1.touches, v1.customers) == (4, 4)
    assert (v1.paid, v1.promised, v1.disputed, v1.no_response) == (2, 1, 1, 0)
    assert v1.median_days_to_payment == 2.0  # 3 days (A) and 1 day (E)
    assert v1.collected == {"EUR": Decimal("300.00"), "USD": Decimal("1000.00")}
    assert v1.touches_per_1000() == {"EUR": Decimal("13.33"), "USD": Decimal("4.00")}
    v2 = rows["default v2", "inquiry"]
    assert (v2.touches, v2.no_response, v2.paid) == (1, 1, 0)
    assert v2.median_days_to_payment is None and v2.collected == {}
    assert v2.small_sample


def test_cash_goes_to_the_last_touch_before_it(history: None) -> None:
    rows = {(e.policy, e.step): e for e in effectiveness(start=JAN, end=date(2025, 1, 31))}
    call = rows["default v1", "inquiry-call"]
    assert call.kind == "call" and call.paid == 1 and call.median_days_to_payment == 2.0
    # A's second payment (12 Jan) follows the call of the 10th, not the
    # e-mail of the 5th: each payment is counted once.
    assert call.collected == {"EUR": Decimal("200.00")}


def test_a_shorter_window_sees_less(history: None) -> None:
    rows = {
        (e.policy, e.step): e
        for e in effectiveness(start=JAN, end=date(2025, 1, 31), window_days=2)
    }
    v1 = rows["default v1", "inquiry"]
    # A paid 3 days after the touch: outside a 2-day window.
    assert v1.paid == 1 and v1.collected == {"USD": Decimal("1000.00")}


def test_nothing_done_is_an_empty_report(db: None) -> None:
    assert effectiveness(start=JAN, end=JAN + timedelta(days=30)) == []


def test_command_prints_json(history: None) -> None:
    out = StringIO()
    call_command(
        "report",
        "effectiveness",
        "--from",
        "2025-01-01",
        "--to",
        "2025-01-31",
        "--format",
        "json",
        stdout=out,
    )
    document = json.loads(out.getvalue())
    assert document["from"] == "2025-01-01" and document["window_days"] == 14
    first = document["steps"][0]
    assert first["policy"] == "default v1" and first["step"] == "inquiry"
    assert first["touches"] == 4 and first["paid_percent"] == 50.0
    assert first["collected"] == {"EUR": "300.00", "USD": "1000.00"}
    assert first["small_sample"] is True
