"""Aging by segment (as the daily run stored it) and by collector."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from io import StringIO

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command

from arrears.ledger.models import Customer, Invoice
from arrears.reports.selectors import UNASSIGNED, UNSEGMENTED, aging_breakdown
from arrears.sequencing.models import CustomerSegment
from arrears.sequencing.services import run_daily

pytestmark = pytest.mark.django_db

AS_OF = date(2025, 3, 12)


@pytest.fixture
def ledger() -> None:
    cora = User.objects.create_user("cora", password="x" * 20)
    old = Customer.objects.create(
        ref="OLD", name="Old", country="DE", customer_since=date(2024, 12, 1), collector=cora
    )
    new = Customer.objects.create(ref="NEW", name="New", country="DE")
    for ref, customer, amount in (("I1", old, "300.00"), ("I2", new, "200.00")):
        Invoice.objects.create(
            ref=ref,
            customer=customer,
            issue_date=date(2025, 1, 1),
            due_date=date(2025, 1, 31),
            amount=Decimal(amount),
            currency="EUR",
        )


def test_aging_by_collector_shows_the_unassigned(ledger: None) -> None:
    rows = aging_breakdown(as_of=AS_OF, by="collector")["EUR"]
    assert [(a.key, a.total) for a in rows] == [
        ("cora", Decimal("300.00")),
        (UNASSIGNED, Decimal("200.00")),
    ]


def test_aging_by_segment_reads_what_the_run_stored(ledger: None) -> None:
    assert [a.key for a in aging_breakdown(as_of=AS_OF, by="segment")["EUR"]] == [UNSEGMENTED]
    run_daily(as_of=AS_OF)
    assert dict(CustomerSegment.objects.values_list("customer__ref", "segment")) == {
        "OLD": "new",
        "NEW": "new",
    }
    rows = aging_breakdown(as_of=AS_OF, by="segment")["EUR"]
    assert [(a.key, a.total, a.open_invoices) for a in rows] == [("new", Decimal("500.00"), 2)]


def test_a_rerun_rewrites_no_segment(ledger: None) -> None:
    run_daily(as_of=AS_OF)
    CustomerSegment.objects.update(reason="kept")
    run_daily(as_of=AS_OF)
    # Reasons differ from the stored ones: rewritten once...
    assert set(CustomerSegment.objects.values_list("reason", flat=True)) != {"kept"}
    stored = list(CustomerSegment.objects.values_list("id", "reason"))
    run_daily(as_of=AS_OF)
    # ...and an unchanged segment is not written again.
    assert list(CustomerSegment.objects.values_list("id", "reason")) == stored


def test_command_breaks_aging_down_by_collector(ledger: None) -> None:
    out = StringIO()
    call_command(
        "report", "aging", "--as-of", "2025-03-12", "--by", "collector", "--format", "json",
        stdout=out,
    )  # fmt: skip
    document = json.loads(out.getvalue())
    assert [c["collector"] for c in document["currencies"]["EUR"]["collectors"]] == [
        "cora",
        UNASSIGNED,
    ]
