"""The cases endpoints of /api/v1/ end to end, with tokens of people in
different roles: permissions are the services' (a collector's token cannot
approve a placement, a write-off above their limit, or their own request)."""

from __future__ import annotations

import io
import json
import zipfile
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from arrears.api.services import token_create
from arrears.cases.approval_models import WriteOff
from arrears.domain.calendar import next_business_day
from arrears.ledger.models import Customer, Invoice, InvoiceStatus
from arrears.sequencing.models import Action
from arrears.sequencing.services import run_daily

from .conftest import People

pytestmark = pytest.mark.django_db


class Api:
    def __init__(self, username: str) -> None:
        key = token_create(username=username, name="tests")
        self.client = Client(headers={"Authorization": f"Bearer {key}"})

    def get(self, path: str, **params: Any) -> Any:
        return self.client.get(f"/api/v1{path}", params)

    def post(self, path: str, data: Any = None) -> Any:
        return self.client.post(
            f"/api/v1{path}", json.dumps(data or {}), content_type="application/json"
        )


@pytest.fixture
def api(people: People) -> dict[str, Api]:
    return {
        "collector": Api("colin"),
        "other_collector": Api("cora"),
        "manager": Api("maria"),
        "other_manager": Api("mike"),
        "finance": Api("fiona"),
    }


def test_credit_status_needs_a_token_and_names_the_customer(
    debtor: Customer, api: dict[str, Api]
) -> None:
    assert Client().get("/api/v1/customers/C-LATE/credit-status").status_code == 401
    assert api["collector"].get("/customers/NOPE/credit-status").status_code == 404
    body = api["collector"].get("/customers/C-LATE/credit-status").json()
    assert body == {
        "customer_ref": "C-LATE",
        "held": False,
        "since": None,
        "reason": None,
        "rule": None,
        "credit_limit": "15000.00",
        "currency": "EUR",
        "open": {"EUR": "22300.00"},
        "overdue": {"EUR": "22300.00"},
        "available_credit": "-7300.00",
    }


def test_a_hold_through_the_api_from_proposal_to_release(
    debtor: Customer, api: dict[str, Api]
) -> None:
    assert (
        api["collector"].post("/customers/C-LATE/credit-hold", {"reason": "x"}).status_code == 403
    )
    proposal = api["collector"].post(
        "/customers/C-LATE/credit-hold/proposal", {"reason": "120 days late"}
    )
    assert proposal.status_code == 201
    approval = proposal.json()
    assert (approval["kind"], approval["required_role"]) == ("credit_hold", "manager")
    decide = f"/approvals/{approval['id']}/decision"
    assert api["other_collector"].post(decide, {"approve": True}).status_code == 403
    decided = api["manager"].post(decide, {"approve": True, "note": "agreed"})
    assert decided.status_code == 200
    assert decided.json()["decided_by"] == "api:maria"
    status = api["collector"].get("/customers/C-LATE/credit-status").json()
    assert (status["held"], status["reason"], status["rule"]) == (True, "120 days late", "approved")
    release = api["collector"].post("/customers/C-LATE/credit-hold/release", {"reason": "paid"})
    assert release.status_code == 403
    released = api["manager"].post("/customers/C-LATE/credit-hold/release", {"reason": "paid"})
    assert released.status_code == 200
    assert released.json()["released_by"] == "api:maria"
    assert api["manager"].post(
        "/customers/C-LATE/credit-hold/release", {"reason": "again"}
    ).json() == {"detail": "customer C-LATE is not on credit hold"}


def test_an_order_release_through_the_api(debtor: Customer, api: dict[str, Api]) -> None:
    api["manager"].post("/customers/C-LATE/credit-hold", {"reason": "late"})
    order = {"order_ref": "SO-5", "amount": "250", "currency": "EUR"}
    assert api["collector"].post("/customers/C-LATE/order-releases", order).status_code == 403
    created = api["manager"].post("/customers/C-LATE/order-releases", order)
    assert created.status_code == 201
    assert created.json()["approver"] == "api:maria"
    assert created.json()["amount"] == "250.00"


def test_a_write_off_through_the_api_along_the_matrix(
    debtor: Customer, api: dict[str, Api]
) -> None:
    proposed = api["collector"].post("/invoices/INV-2/write-offs", {"reason": "insolvent"})
    assert proposed.status_code == 201
    write_off = proposed.json()
    assert (write_off["amount"], write_off["status"]) == ("2000.00", "proposed")
    decide = f"/approvals/{write_off['approval_id']}/decision"
    # Their own, and another collector's: above a collector's 500 either way.
    assert api["collector"].post(decide, {"approve": True}).status_code == 403
    refused = api["other_collector"].post(decide, {"approve": True})
    assert refused.status_code == 403
    assert "needs a manager" in refused.json()["detail"]
    waiting = api["manager"].get("/approvals", waiting_for_me="true").json()["items"]
    assert [a["id"] for a in waiting] == [write_off["approval_id"]]
    assert api["manager"].post(decide, {"approve": True, "note": "ok"}).status_code == 200
    done = api["collector"].get(f"/write-offs/{write_off['id']}").json()
    assert done["status"] == "written_off"
    assert done["credit_note_ref"] == f"WO-{write_off['id']}"
    assert Invoice.objects.get(ref="INV-2").status == InvoiceStatus.PAID
    today = timezone.localdate().isoformat()
    bad_debt = api["finance"].get("/bad-debt", currency="EUR", start=today, end=today).json()
    assert (bad_debt["written_off"], bad_debt["recovered"]) == ("2000.00", "0.00")

    recovered = api["collector"].post(
        f"/write-offs/{write_off['id']}/recoveries",
        {"payment_ref": "P-REC", "amount": "400", "received_on": today},
    )
    assert recovered.status_code == 201
    bad_debt = api["finance"].get("/bad-debt", currency="EUR", start=today, end=today).json()
    assert bad_debt["recovered"] == "400.00"


def test_a_write_off_above_a_managers_limit_waits_for_finance(
    debtor: Customer, api: dict[str, Api]
) -> None:
    proposed = api["manager"].post("/invoices/INV-3/write-offs", {"reason": "insolvent"}).json()
    decide = f"/approvals/{proposed['approval_id']}/decision"
    assert api["other_manager"].post(decide, {"approve": True}).status_code == 403
    assert api["finance"].post(decide, {"approve": True}).status_code == 200
    assert WriteOff.objects.get().status == "written_off"


def test_a_placement_through_the_api_stops_the_run_and_yields_its_pack(
    debtor: Customer, api: dict[str, Api]
) -> None:
    created = api["collector"].post(
        "/customers/C-LATE/placements",
        {"agency": "Northern Recoveries", "reason": "final demand ignored", "fee_percent": "15"},
    )
    assert created.status_code == 201
    placement = created.json()
    assert (placement["status"], placement["amount"]) == ("proposed", "22300.00")
    decide = f"/approvals/{placement['approval_id']}/decision"
    # A collector approves no placement, whatever its amount.
    assert api["other_collector"].post(decide, {"approve": True}).status_code == 403
    # 22,300 is above a manager's limit: finance decides.
    assert api["manager"].post(decide, {"approve": True}).status_code == 403
    assert api["finance"].post(decide, {"approve": True}).status_code == 200
    confirmed = api["collector"].post(f"/placements/{placement['id']}/confirm")
    assert confirmed.json()["status"] == "placed"

    run_daily(as_of=timezone.localdate())
    assert not Action.objects.filter(customer=debtor).exists()

    collected = api["collector"].post(
        f"/placements/{placement['id']}/collections",
        {"payment_ref": "AG-1", "amount": "1000", "received_on": timezone.localdate().isoformat()},
    )
    assert collected.status_code == 201
    assert collected.json()["fee"] == "150.00"
    pack = api["collector"].get(f"/placements/{placement['id']}/pack")
    assert pack["Content-Type"] == "application/zip"
    names = zipfile.ZipFile(io.BytesIO(pack.content)).namelist()
    assert sorted(names) == ["history.csv", "invoices.csv", "summary.pdf"]

    recalled = api["manager"].post(f"/placements/{placement['id']}/recall", {"reason": "slow"})
    assert recalled.json()["status"] == "recalled"
    # The next day the run contacts anyone in GB (a weekend day contacts no one).
    run_daily(as_of=next_business_day(timezone.localdate() + timedelta(days=1), "GB"))
    assert Action.objects.filter(customer=debtor).exists()


def test_escalation_summary_and_turnover_warning_through_the_api(
    debtor: Customer, api: dict[str, Api]
) -> None:
    summary = api["collector"].get("/customers/C-LATE/collection-summary").json()
    assert summary["open"] == {"EUR": "22300.00"}
    assert summary["oldest_days_past_due"] == 120
    task = api["collector"].post("/customers/C-LATE/escalations", {"reason": "no reply"})
    assert task.status_code == 201
    assert "Summary so far" in task.json()["reason"]
    deadline = (timezone.localdate() + timedelta(days=14)).isoformat()
    warning = api["manager"].post("/customers/C-LATE/turnover-warning", {"deadline": deadline})
    assert warning.status_code == 201
    assert warning.json()["template_key"] == "agency-turnover-warning"
    past = api["manager"].post(
        "/customers/C-LATE/turnover-warning", {"deadline": timezone.localdate().isoformat()}
    )
    assert past.status_code == 422


def test_the_cases_endpoints_are_in_the_openapi_document(api: dict[str, Api]) -> None:
    paths = Client().get("/api/v1/openapi.json").json()["paths"]
    assert "/api/v1/customers/{customer_ref}/credit-status" in paths
    assert "/api/v1/approvals/{approval_id}/decision" in paths
    assert "/api/v1/invoices/{invoice_ref}/write-offs" in paths
