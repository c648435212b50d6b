"""A small ledger for the staff app's tests: a manager, two collectors,
customers with overdue invoices and contacts, and call tasks due today.

Rows enter through the CSV importers (as ``arrears import`` would); tasks
and collectors are set up directly, as the daily run and an admin would.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from django.contrib.auth.models import Group, User
from django.utils import timezone

from arrears.comms.models import Task, TaskKind
from arrears.ledger.importers import rows_import
from arrears.ledger.models import Customer
from arrears.web.roles import COLLECTOR, MANAGER, roles_ensure

PASSWORD = "a long test password"


@dataclass
class Staff:
    manager: User
    ann: User
    bob: User


def users_create() -> Staff:
    roles_ensure()
    manager = User.objects.create_user("mia", password=PASSWORD)
    manager.groups.add(Group.objects.get(name=MANAGER))
    ann = User.objects.create_user("ann", password=PASSWORD)
    bob = User.objects.create_user("bob", password=PASSWORD)
    for u in (ann, bob):
        u.groups.add(Group.objects.get(name=COLLECTOR))
    return Staff(manager, ann, bob)


def _load(kind: str, rows: list[dict[str, str]]) -> None:
    rows_import(kind, [(f"{kind}.csv:{n}", r) for n, r in enumerate(rows, 2)], actor_label="test")


def customers_create(n: int, *, today: date, prefix: str = "C") -> list[Customer]:
    """``n`` customers, each with two open invoices (one 40 days overdue,
    one due in 10 days) and an AP contact with e-mail and phone."""
    _load(
        "customers",
        [
            {
                "customer_ref": f"{prefix}{i:03d}",
                "name": f"Acme {prefix}{i:03d} Ltd",
                "email": f"ap{i}@{prefix.lower()}.example.com",
                "phone": f"+1202555{i:04d}",
                "country": "US",
                "currency": "USD",
            }
            for i in range(n)
        ],
    )
    invoices = []
    for i in range(n):
        for k, due in ((1, today - timedelta(days=40 + i)), (2, today + timedelta(days=10))):
            invoices.append(
                {
                    "invoice_ref": f"{prefix}{i:03d}-{k}",
                    "customer_ref": f"{prefix}{i:03d}",
                    "issue_date": (due - timedelta(days=30)).isoformat(),
                    "due_date": due.isoformat(),
                    "amount": f"{100 * (i + 1) * k}.00",
                    "currency": "USD",
                }
            )
    _load("invoices", invoices)
    return list(Customer.objects.filter(ref__startswith=prefix).order_by("ref"))


def call_task(customer: Customer, *, to: User | None, refs: list[str] | None = None) -> Task:
    """A call task due now, as the daily run would open it."""
    now = timezone.now()
    return Task.objects.create(
        kind=TaskKind.CALL,
        customer=customer,
        assigned_to=to,
        title="Collection call",
        reason="inquire: 40 days past due, 4 touches so far",
        template_key="call-inquire",
        invoice_refs=refs if refs is not None else [f"{customer.ref}-1"],
        due_at=now - timedelta(minutes=5),
        created_at=now,
    )
