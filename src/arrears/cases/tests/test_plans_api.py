"""Payment plans, charges and deductions through /api/v1/ end to end."""

from __future__ import annotations

import io
import json
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth.models import Group, User
from django.test import Client
from pypdf import PdfReader

from arrears.api.services import token_create
from arrears.cases.plan_models import ChargeRule
from arrears.ledger.models import Contact, Customer, Invoice, Payment
from arrears.ledger.services import documents_post
from arrears.sequencing.models import Action
from arrears.sequencing.services import run_daily

pytestmark = pytest.mark.django_db

AS_OF = date(2030, 3, 13)


class Api:
    def __init__(self, key: str | None) -> None:
        self.client = Client(headers={"Authorization": f"Bearer {key}"} if key else None)

    def get(self, path: str, **params: Any) -> Any:
        return self.client.get(f"/api/v1{path}", params)

    def post(self, path: str, data: Any) -> Any:
        return self.client.post(f"/api/v1{path}", json.dumps(data), content_type="application/json")


def _api(name: str, role: str | None = None) -> Api:
    user = User.objects.create_user(name)
    if role:
        user.groups.add(Group.objects.get_or_create(name=role)[0])
    return Api(token_create(username=name, name="tests"))


@pytest.fixture
def api() -> Api:
    return _api("alice", "manager")


@pytest.fixture
def customer() -> Customer:
    customer = Customer.objects.create(
        ref="C1",
        name="Acme GmbH",
        country="DE",
        customer_since=date(2020, 1, 1),
        postal_address="Hafenstraße 12\n20457 Hamburg",
    )
    Contact.objects.create(customer=customer, email="ap@acme.test")
    for ref, due in (("I1", date(2030, 2, 10)), ("I2", date(2030, 2, 12))):
        Invoice.objects.create(
            ref=ref,
            customer=customer,
            issue_date=due - timedelta(days=30),
            due_date=due,
            amount=Decimal("400.00"),
            currency="EUR",
        )
    return customer


def _plan_body(**fields: Any) -> dict[str, Any]:
    return {
        "customer_ref": "C1",
        "invoice_refs": ["I1", "I2"],
        "instalments": 2,
        "first_due": "2030-04-01",
        "start_on": AS_OF.isoformat(),
        **fields,
    }


def test_the_endpoints_need_a_token(customer: Customer) -> None:
    anonymous = Api(None)
    assert anonymous.get("/payment-plans").status_code == 401
    assert anonymous.post("/payment-plans", _plan_body()).status_code == 401
    assert anonymous.get("/deductions").status_code == 401
    assert anonymous.post("/charges/assess", {"as_of": "2030-01-01"}).status_code == 401


def test_a_plan_is_agreed_read_and_its_agreement_downloaded(api: Api, customer: Customer) -> None:
    response = api.post("/payment-plans", _plan_body(setup_fee="10.00"))
    assert response.status_code == 201, response.json()
    plan = response.json()
    assert (plan["total"], plan["status"], plan["invoice_refs"]) == (
        "810.00",
        "active",
        ["I1", "I2"],
    )
    assert [(i["due_date"], i["amount"]) for i in plan["instalments"]] == [
        ("2030-04-01", "405.00"),
        ("2030-05-01", "405.00"),
    ]
    assert api.get(f"/payment-plans/{plan['id']}").json() == plan
    assert [p["id"] for p in api.get("/payment-plans", customer_ref="C1").json()] == [plan["id"]]
    pdf = api.client.get(plan["agreement_url"])
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"
    text = " ".join(
        " ".join((page.extract_text() or "").split())
        for page in PdfReader(io.BytesIO(pdf.content)).pages
    )
    assert "Payment plan agreement" in text and "EUR 405.00" in text and "Acme GmbH" in text


def test_a_plan_the_service_refuses_answers_422_with_the_reason(
    api: Api, customer: Customer
) -> None:
    response = api.post("/payment-plans", _plan_body(invoice_refs=["I1", "NOPE"]))
    assert response.status_code == 422
    assert "no invoice NOPE" in response.json()["detail"]
    assert api.post("/payment-plans", _plan_body(customer_ref="X")).status_code == 404
    assert api.get("/payment-plans/999").status_code == 404


def test_a_broken_plan_through_the_api_resumes_collection(api: Api, customer: Customer) -> None:
    plan = api.post("/payment-plans", _plan_body()).json()
    run_daily(as_of=AS_OF)
    assert not Action.objects.exists()
    counts = api.post("/payment-plans/review", {"as_of": "2030-04-16"}).json()["counts"]
    assert counts["broken"] == 1
    assert api.get(f"/payment-plans/{plan['id']}").json()["status"] == "broken"
    run_daily(as_of=date(2030, 4, 16))
    refs = {r for refs in Action.objects.values_list("invoice_refs", flat=True) for r in refs}
    assert refs == {"I1", "I2"}


def test_a_cancelled_plan_needs_a_reason(api: Api, customer: Customer) -> None:
    plan = api.post("/payment-plans", _plan_body()).json()
    assert api.post(f"/payment-plans/{plan['id']}/cancel", {"reason": ""}).status_code == 422
    done = api.post(f"/payment-plans/{plan['id']}/cancel", {"reason": "renegotiated"})
    assert done.json()["status"] == "cancelled"


def test_charges_are_assessed_and_waived_only_by_someone_else(api: Api) -> None:
    ChargeRule.objects.create(name="EU", region="EU", regime="eu")
    customer = Customer.objects.create(ref="DE1", name="Berlin AG", country="DE")
    Invoice.objects.create(
        ref="E1",
        customer=customer,
        issue_date=date(2024, 1, 1),
        due_date=date(2024, 2, 1),
        amount=Decimal("10000.00"),
        currency="EUR",
    )
    posted = api.post("/charges/assess", {"as_of": "2024-03-17", "invoice_ref": "E1"}).json()
    assert sorted((c["kind"], c["amount"]) for c in posted) == [
        ("compensation", "40.00"),
        ("interest", "154.11"),
    ]
    assert api.post("/charges/assess", {"as_of": "2024-03-17"}).json() == []
    interest = next(c for c in posted if c["kind"] == "interest")
    waiver = api.post(f"/charges/{interest['id']}/waiver", {"reason": "goodwill"})
    assert waiver.status_code == 201
    approval_id = waiver.json()["approval_id"]
    own = api.post(f"/approvals/{approval_id}/decision", {"approve": True})
    assert own.status_code == 403
    other = _api("bob", "manager")
    assert other.post(f"/approvals/{approval_id}/decision", {"approve": True}).status_code == 200
    charges = api.get("/charges", invoice_ref="E1").json()
    assert {c["kind"]: c["status"] for c in charges} == {
        "interest": "waived",
        "compensation": "posted",
    }
    again = api.post(f"/charges/{interest['id']}/waiver", {"reason": "again"})
    assert again.status_code == 422


def test_a_deduction_is_detected_held_and_resolved(api: Api, customer: Customer) -> None:
    documents_post(
        [
            Payment(
                ref="P1",
                customer=customer,
                received_on=date(2030, 2, 20),
                amount=Decimal("350.00"),
                currency="EUR",
                invoice_ref="I1",
            )
        ]
    )
    opened = api.post("/deductions/detect", [{"payment_ref": "P1", "code": "DMG"}]).json()
    assert [(d["invoice_ref"], d["amount"], d["status"]) for d in opened] == [
        ("I1", "50.00", "open")
    ]
    run_daily(as_of=AS_OF)
    refs = {r for refs in Action.objects.values_list("invoice_refs", flat=True) for r in refs}
    assert refs == {"I2"}
    deduction_id = opened[0]["id"]
    assert api.get("/deductions", status="open").json()[0]["id"] == deduction_id
    bad = api.post(f"/deductions/{deduction_id}/resolve", {"outcome": "x", "resolution": "y"})
    assert bad.status_code == 422
    done = api.post(
        f"/deductions/{deduction_id}/resolve", {"outcome": "valid", "resolution": "damaged"}
    ).json()
    assert done["status"] == "valid" and done["credit_note_ref"] == f"DED-{deduction_id}-CN"
    assert Invoice.objects.get(ref="I1").status == "paid"


def test_a_deduction_is_opened_by_hand(api: Api, customer: Customer) -> None:
    documents_post(
        [
            Payment(
                ref="P1",
                customer=customer,
                received_on=date(2030, 2, 20),
                amount=Decimal("300.00"),
                currency="EUR",
                invoice_ref="I1",
            )
        ]
    )
    body = {"payment_ref": "P1", "invoice_ref": "I1", "amount": "100.00", "reason": "freight"}
    created = api.post("/deductions", body)
    assert created.status_code == 201
    assert created.json()["amount"] == "100.00"
    too_much = api.post("/deductions", {**body, "amount": "100.01"})
    assert too_much.status_code == 422
    assert api.post("/deductions", {**body, "payment_ref": "NOPE"}).status_code == 404
