"""A small ledger for the portal's tests: two customers, each with an AP
contact and invoices; Acme's in two currencies, one partly paid, one paid."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from django.contrib.auth.models import Group, User
from django.test import Client
from django.utils import timezone

from arrears.ledger.models import Contact, ContactRole, Customer, Invoice, Payment
from arrears.ledger.services import documents_post
from arrears.portal.links import portal_token
from arrears.web.roles import roles_ensure


@dataclass
class Ledger:
    acme: Customer
    acme_ap: Contact
    other: Customer
    other_ap: Contact
    today: date


def invoice(customer: Customer, ref: str, amount: str, currency: str, due: date) -> Invoice:
    return Invoice.objects.create(
        ref=ref,
        customer=customer,
        issue_date=due - timedelta(days=30),
        due_date=due,
        amount=Decimal(amount),
        currency=currency,
        order_ref=f"PO-{ref}",
        terms="Net 30",
    )


def ledger_create() -> Ledger:
    today = timezone.localdate()
    acme = Customer.objects.create(
        ref="ACME", name="Acme GmbH", country="DE", currency="EUR", language="en"
    )
    acme_ap = Contact.objects.create(
        customer=acme, name="Petra Payable", role=ContactRole.AP, email="ap@acme.example"
    )
    invoice(acme, "A-1", "1000.00", "EUR", today - timedelta(days=20))
    invoice(acme, "A-2", "500.00", "EUR", today + timedelta(days=10))
    invoice(acme, "A-3", "1234.56", "USD", today - timedelta(days=5))
    invoice(acme, "A-4", "80.00", "EUR", today - timedelta(days=60))
    documents_post(
        [
            Payment(
                ref="P-1", customer=acme, received_on=today, amount=Decimal("200.00"),
                currency="EUR", invoice_ref="A-2",
            ),
            Payment(
                ref="P-2", customer=acme, received_on=today, amount=Decimal("80.00"),
                currency="EUR", invoice_ref="A-4",
            ),
        ]
    )  # fmt: skip
    other = Customer.objects.create(ref="OTHER", name="Other Ltd", country="GB", currency="GBP")
    other_ap = Contact.objects.create(
        customer=other, name="Olly", role=ContactRole.AP, email="ap@other.example"
    )
    invoice(other, "O-1", "700.00", "GBP", today - timedelta(days=3))
    return Ledger(acme, acme_ap, other, other_ap, today)


def signed_in(client: Client, customer: Customer, contact: Contact | None = None) -> Client:
    """Follow a fresh magic link, as a customer clicking it would."""
    response = client.get(f"/portal/l/{portal_token(customer, contact=contact)}/")
    assert response.status_code == 302, response.status_code
    return client


def manager_create(username: str = "mia") -> User:
    roles_ensure()
    user = User.objects.create_user(username, password="a long test password")
    user.groups.add(Group.objects.get(name="manager"))
    return user


def collector_create(username: str = "carl") -> User:
    roles_ensure()
    user = User.objects.create_user(username, password="a long test password")
    user.groups.add(Group.objects.get(name="collector"))
    return user
