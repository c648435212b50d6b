"""People and a customer in arrears, shared by the approvals, credit,
escalation, write-off and API tests: two collectors (so one can approve
what the other asked for), two managers and someone from finance."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth.models import Group, User
from django.utils import timezone

from arrears.ledger.models import Contact, Customer, Invoice


@dataclass
class People:
    collector: User
    other_collector: User
    manager: User
    other_manager: User
    finance: User
    outsider: User


def _user(name: str, group: str | None) -> User:
    user = User.objects.create_user(name, password="a long test password")
    if group:
        user.groups.add(Group.objects.get_or_create(name=group)[0])
    return user


@pytest.fixture
def people(db: None) -> People:
    return People(
        collector=_user("colin", "collector"),
        other_collector=_user("cora", "collector"),
        manager=_user("maria", "manager"),
        other_manager=_user("mike", "manager"),
        finance=_user("fiona", "finance"),
        outsider=_user("otto", None),
    )


@pytest.fixture
def debtor(db: None) -> Customer:
    """A customer with three overdue EUR invoices: 300, 2,000 and 20,000."""
    customer = Customer.objects.create(
        ref="C-LATE",
        name="Slow Payer Ltd",
        country="GB",
        currency="EUR",
        credit_limit=Decimal("15000"),
        postal_address="1 High Street\nLondon\nSW1A 1AA",
    )
    Contact.objects.create(customer=customer, email="ap@slow.test")
    today = timezone.localdate()
    for ref, amount, days in (("INV-1", "300", 120), ("INV-2", "2000", 90), ("INV-3", "20000", 70)):
        Invoice.objects.create(
            ref=ref,
            customer=customer,
            issue_date=today - timedelta(days=days + 30),
            due_date=today - timedelta(days=days),
            amount=Decimal(amount),
            currency="EUR",
        )
    return customer
