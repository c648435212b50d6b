"""The REST API end to end: auth, bulk upserts, reads, contacts, documents."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from arrears.api import bulk
from arrears.api.services import token_create, token_revoke
from arrears.api.urls import api
from arrears.ledger.csvfiles import COLUMNS
from arrears.ledger.models import (
    Activity,
    Allocation,
    Contact,
    CreditNote,
    Customer,
    ImportRun,
    Invoice,
    Payment,
)

pytestmark = pytest.mark.django_db


class Api:
    """The Django test client speaking JSON with a bearer token."""

    def __init__(self, key: str | None) -> None:
        self.client = Client(headers={"Authorization": f"Bearer {key}"} if key else None)

    def get(self, path: str, **params: Any) -> Any:
        return self.client.get(f"/api/v1{path}", params)

    def post(self, path: str, data: Any) -> Any:
        body = data if isinstance(data, str | bytes) else json.dumps(data)
        return self.client.post(f"/api/v1{path}", body, content_type="application/json")

    def patch(self, path: str, data: Any) -> Any:
        return self.client.patch(
            f"/api/v1{path}", json.dumps(data), content_type="application/json"
        )


@pytest.fixture
def alice() -> User:
    return User.objects.create_user("alice")


@pytest.fixture
def key(alice: User) -> str:
    return token_create(username="alice", name="tests")


@pytest.fixture
def client_api(key: str) -> Api:
    return Api(key)


def customer(ref: str = "C-1", **fields: Any) -> dict[str, Any]:
    return {"customer_ref": ref, "name": f"Customer {ref}", "country": "DE", **fields}


def invoice(
    ref: str, amount: Any, due: str, customer_ref: str = "C-1", **fields: Any
) -> dict[str, Any]:
    return {
        "invoice_ref": ref,
        "customer_ref": customer_ref,
        "issue_date": "2025-01-01",
        "due_date": due,
        "amount": amount,
        "currency": "EUR",
        **fields,
    }


def payment(ref: str, amount: str, received: str = "2025-02-10", **fields: Any) -> dict[str, Any]:
    return {
        "payment_ref": ref,
        "customer_ref": "C-1",
        "received_on": received,
        "amount": amount,
        "currency": "EUR",
        **fields,
    }


def credit_note(ref: str, amount: str, issued: str = "2025-02-15", **fields: Any) -> dict[str, Any]:
    return {
        "credit_note_ref": ref,
        "customer_ref": "C-1",
        "issue_date": issued,
        "amount": amount,
        "currency": "EUR",
        **fields,
    }


@pytest.fixture
def ledger(client_api: Api) -> Api:
    """Two customers; three EUR invoices of C-1, one of C-2."""
    assert client_api.post("/customers", [customer("C-1"), customer("C-2")]).status_code == 200
    response = client_api.post(
        "/invoices",
        [
            invoice("I-1", "100.00", "2025-01-31"),
            invoice("I-2", "50.00", "2025-02-28"),
            invoice("I-3", "70.00", "2025-03-31"),
            invoice("I-4", "10.00", "2025-01-31", customer_ref="C-2"),
        ],
    )
    assert response.status_code == 200, response.json()
    return client_api


# --- authentication ---------------------------------------------------------

ENDPOINTS = [
    ("get", "/customers"),
    ("post", "/customers"),
    ("get", "/customers/C-1"),
    ("get", "/customers/C-1/contacts"),
    ("post", "/customers/C-1/contacts"),
    ("get", "/customers/C-1/contacts/1"),
    ("patch", "/customers/C-1/contacts/1"),
    ("get", "/invoices"),
    ("post", "/invoices"),
    ("get", "/invoices/I-1"),
    ("get", "/payments"),
    ("post", "/payments"),
    ("get", "/payments/P-1"),
    ("get", "/credit-notes"),
    ("post", "/credit-notes"),
    ("get", "/credit-notes/CN-1"),
]


def _call(api_client: Api, method: str, path: str) -> Any:
    if method == "get":
        return api_client.get(path)
    return getattr(api_client, method)(path, [customer()] if method == "post" else {})


@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
def test_every_endpoint_refuses_a_request_without_a_token(method: str, path: str) -> None:
    response = _call(Api(None), method, path)
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert Customer.objects.count() == 0


@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
def test_every_endpoint_refuses_an_unknown_token(method: str, path: str, key: str) -> None:
    response = _call(Api(key + "x"), method, path)
    assert response.status_code == 401
    assert Customer.objects.count() == 0


def test_a_revoked_token_stops_working_at_once(key: str) -> None:
    client_api = Api(key)
    assert client_api.get("/customers").status_code == 200
    assert token_revoke(key=key, actor_label="test")
    assert client_api.get("/customers").status_code == 401
    assert client_api.post("/customers", [customer()]).status_code == 401
    assert Customer.objects.count() == 0
    assert not token_revoke(key=key, actor_label="test")


def test_a_token_of_a_deactivated_user_is_refused(key: str, alice: User) -> None:
    User.objects.filter(pk=alice.pk).update(is_active=False)
    assert Api(key).get("/customers").status_code == 401


def test_a_malformed_authorization_header_is_refused(key: str) -> None:
    response = Client().get("/api/v1/customers", HTTP_AUTHORIZATION=f"Token {key}")
    assert response.status_code == 401


# --- OpenAPI ----------------------------------------------------------------


def test_openapi_document_is_public_and_lists_every_path() -> None:
    response = Client().get("/api/v1/openapi.json")
    assert response.status_code == 200
    document = response.json()
    assert set(document["paths"]) == {
        "/api/v1/customers",
        "/api/v1/customers/{customer_ref}",
        "/api/v1/customers/{customer_ref}/contacts",
        "/api/v1/customers/{customer_ref}/contacts/{contact_id}",
        "/api/v1/invoices",
        "/api/v1/invoices/{invoice_ref}",
        "/api/v1/payments",
        "/api/v1/payments/{payment_ref}",
        "/api/v1/credit-notes",
        "/api/v1/credit-notes/{credit_note_ref}",
        # cases (api/cases_views.py)
        "/api/v1/approvals",
        "/api/v1/approvals/{approval_id}",
        "/api/v1/approvals/{approval_id}/decision",
        "/api/v1/bad-debt",
        "/api/v1/customers/{customer_ref}/collection-summary",
        "/api/v1/customers/{customer_ref}/credit-hold",
        "/api/v1/customers/{customer_ref}/credit-hold/proposal",
        "/api/v1/customers/{customer_ref}/credit-hold/release",
        "/api/v1/customers/{customer_ref}/credit-status",
        "/api/v1/customers/{customer_ref}/escalations",
        "/api/v1/customers/{customer_ref}/order-releases",
        "/api/v1/customers/{customer_ref}/placements",
        "/api/v1/customers/{customer_ref}/turnover-warning",
        "/api/v1/invoices/{invoice_ref}/write-offs",
        "/api/v1/placements/{placement_id}",
        "/api/v1/placements/{placement_id}/collections",
        "/api/v1/placements/{placement_id}/confirm",
        "/api/v1/placements/{placement_id}/pack",
        "/api/v1/placements/{placement_id}/recall",
        "/api/v1/write-offs/{write_off_id}",
        "/api/v1/write-offs/{write_off_id}/recoveries",
        # payment plans, charges, deductions (api/plan_views.py)
        "/api/v1/payment-plans",
        "/api/v1/payment-plans/review",
        "/api/v1/payment-plans/{plan_id}",
        "/api/v1/payment-plans/{plan_id}/agreement.pdf",
        "/api/v1/payment-plans/{plan_id}/cancel",
        "/api/v1/charges",
        "/api/v1/charges/assess",
        "/api/v1/charges/{charge_id}/waiver",
        "/api/v1/deductions",
        "/api/v1/deductions/detect",
        "/api/v1/deductions/{deduction_id}",
        "/api/v1/deductions/{deduction_id}/resolve",
        # the staff app's work (api/work_views.py)
        "/api/v1/tasks",
        "/api/v1/tasks/{task_id}/complete",
        "/api/v1/tasks/{task_id}/snooze",
        "/api/v1/tasks/{task_id}/reassign",
        "/api/v1/customers/{customer_ref}/calls",
        "/api/v1/customers/{customer_ref}/notes",
        "/api/v1/customers/{customer_ref}/promises",
        "/api/v1/customers/{customer_ref}/disputes",
        "/api/v1/disputes/{dispute_id}/resolve",
        "/api/v1/customers/{customer_ref}/contacts/{contact_id}/consent",
        "/api/v1/customers/{customer_ref}/documents",
        "/api/v1/documents/{document_id}",
        "/api/v1/customers/{customer_ref}/timeline",
        "/api/v1/messages",
        "/api/v1/messages/{message_id}/retry",
        "/api/v1/messages/{message_id}/accept",
    }
    invoices = document["paths"]["/api/v1/invoices"]
    assert invoices["get"]["security"] == [{"BearerToken": []}]
    listed = {p["name"] for p in invoices["get"]["parameters"]}
    assert {"customer", "status", "due_before", "due_after", "limit", "offset"} <= listed
    body = invoices["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body["type"] == "array"
    assert body["maxItems"] == bulk.MAX_ITEMS
    assert set(body["items"]["required"]) == set(COLUMNS["invoices"][0])
    assert set(invoices["post"]["responses"]) >= {"200", "413", "422"}


@pytest.mark.parametrize("kind", list(COLUMNS))
def test_documented_bulk_items_have_exactly_the_csv_columns(kind: str) -> None:
    path = f"/api/v1/{kind}"
    schema = api.get_openapi_schema()["paths"][path]["post"]["requestBody"]
    items = schema["content"]["application/json"]["schema"]["items"]
    required, optional = COLUMNS[kind]
    assert set(items["properties"]) == {*required, *optional}
    assert set(items["required"]) == set(required)
    assert items["additionalProperties"] is False


def test_docs_page_is_served() -> None:
    response = Client().get("/api/v1/docs")
    assert response.status_code == 200
    assert b"openapi.json" in response.content


# --- bulk upserts: validation -----------------------------------------------


def test_bad_items_are_all_listed_and_nothing_is_written(client_api: Api) -> None:
    client_api.post("/customers", [customer("C-1")])
    activities = Activity.objects.count()
    response = client_api.post(
        "/invoices",
        [
            invoice("I-1", "100.00", "2025-01-31"),  # fine
            invoice("I-2", "12.345", "2025-01-31"),  # too many decimals for EUR
            invoice("I-3", "10.00", "2024-12-01"),  # due before issued
            invoice("I-4", "10.00", "2025-01-31", customer_ref="NOPE"),
            invoice("I-5", True, "2025-01-31", colour="red"),
            "not an object",
            {"invoice_ref": "I-1"},  # repeated ref, required fields missing
        ],
    )
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert all(set(p) == {"loc", "field", "reason"} for p in detail)
    assert [(p["loc"], p["field"]) for p in detail] == [
        ("[1]", "amount"),
        ("[2]", "due_date"),
        ("[3]", "customer_ref"),
        ("[4]", "amount"),
        ("[4]", "colour"),
        ("[5]", "-"),
        ("[6]", "invoice_ref"),
        ("[6]", "customer_ref"),
        ("[6]", "issue_date"),
        ("[6]", "due_date"),
        ("[6]", "currency"),
        ("[6]", "amount"),
    ]
    reasons = {(p["loc"], p["field"]): p["reason"] for p in detail}
    assert "more than 2 decimals" in reasons[("[1]", "amount")]
    assert "before the issue date" in reasons[("[2]", "due_date")]
    assert "no customer 'NOPE'" in reasons[("[3]", "customer_ref")]
    assert reasons[("[4]", "amount")] == "must be a string or a number, not true"
    assert reasons[("[4]", "colour")].startswith("unknown field (expected invoice_ref,")
    assert reasons[("[5]", "-")] == "expected an object"
    assert "appears twice (first at [0])" in reasons[("[6]", "invoice_ref")]
    assert reasons[("[6]", "amount")] == "is required"
    assert Invoice.objects.count() == 0
    assert Activity.objects.count() == activities
    assert not ImportRun.objects.filter(kind="invoices").exists()


def test_an_unknown_field_alone_rejects_items_the_importer_accepts(client_api: Api) -> None:
    # The importer would write these rows; the request must still write nothing.
    client_api.post("/customers", [customer("C-1")])
    response = client_api.post(
        "/invoices",
        [invoice("I-1", "100.00", "2025-01-31"), invoice("I-2", "5", "2025-01-31", note="x")],
    )
    assert response.status_code == 422
    assert response.json()["detail"] == [
        {
            "loc": "[1]",
            "field": "note",
            "reason": "unknown field (expected invoice_ref, customer_ref, issue_date, "
            "due_date, amount, currency, order_ref, terms)",
        }
    ]
    assert Invoice.objects.count() == 0
    assert not ImportRun.objects.filter(kind="invoices").exists()


def test_json_numbers_are_read_by_their_text(client_api: Api) -> None:
    client_api.post("/customers", [customer("C-1")])
    body = (
        '[{"invoice_ref": "I-1", "customer_ref": "C-1", "issue_date": "2025-01-01",'
        ' "due_date": "2025-01-31", "amount": 1234.5, "currency": "EUR"},'
        ' {"invoice_ref": "I-2", "customer_ref": "C-1", "issue_date": "2025-01-01",'
        ' "due_date": "2025-01-31", "amount": 0.1, "currency": "EUR"},'
        ' {"invoice_ref": 3, "customer_ref": "C-1", "issue_date": "2025-01-01",'
        ' "due_date": "2025-01-31", "amount": 20, "currency": "EUR"}]'
    )
    assert client_api.post("/invoices", body).status_code == 200
    assert client_api.get("/invoices/I-1").json()["amount"] == "1234.50"
    assert client_api.get("/invoices/I-2").json()["amount"] == "0.10"
    assert client_api.get("/invoices/3").json()["amount"] == "20.00"


def test_exponents_and_too_many_decimals_are_refused_like_in_csv(client_api: Api) -> None:
    client_api.post("/customers", [customer("C-1")])
    body = (
        '[{"invoice_ref": "I-1", "customer_ref": "C-1", "issue_date": "2025-01-01",'
        ' "due_date": "2025-01-31", "amount": 1e3, "currency": "EUR"},'
        ' {"invoice_ref": "I-2", "customer_ref": "C-1", "issue_date": "2025-01-01",'
        ' "due_date": "2025-01-31", "amount": 1.005, "currency": "EUR"}]'
    )
    response = client_api.post("/invoices", body)
    assert response.status_code == 422
    reasons = [(p["loc"], p["field"], p["reason"]) for p in response.json()["detail"]]
    assert reasons[0][:2] == ("[0]", "amount") and "'1e3' is not a number" in reasons[0][2]
    assert reasons[1][:2] == ("[1]", "amount") and "1.005 has more than 2 decimals" in reasons[1][2]


@pytest.mark.parametrize(
    ("body", "status", "detail"),
    [
        ("{not json", 400, "the body is not JSON"),
        ("", 400, "the body is not JSON"),
        ('[{"customer_ref": "C-1", "customer_ref": "C-2"}]', 400, "appears twice"),
        ('[{"customer_ref": NaN}]', 400, "NaN is not a JSON value"),
    ],
)
def test_a_body_that_is_not_json_is_a_bad_request(
    client_api: Api, body: str, status: int, detail: str
) -> None:
    response = client_api.post("/customers", body)
    assert response.status_code == status
    assert detail in response.json()["detail"]


def test_a_body_that_is_not_a_list_is_rejected(client_api: Api) -> None:
    response = client_api.post("/customers", customer())
    assert response.status_code == 422
    assert response.json()["detail"] == [
        {"loc": "body", "field": "-", "reason": "expected a JSON list of objects"}
    ]
    assert Customer.objects.count() == 0


def test_too_many_items_are_refused_with_a_clear_message(
    client_api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bulk, "MAX_ITEMS", 2)
    response = client_api.post("/customers", [customer("C-1"), customer("C-2"), customer("C-3")])
    assert response.status_code == 413
    assert response.json()["detail"] == "3 items; at most 2 per request, send them in parts"
    assert Customer.objects.count() == 0


def test_too_many_bytes_are_refused(client_api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bulk, "MAX_BYTES", 100)
    response = client_api.post("/customers", [customer(f"C-{n}") for n in range(5)])
    assert response.status_code == 413
    assert "at most 100 are accepted" in response.json()["detail"]


def test_bulk_bodies_are_not_held_to_djangos_form_size_limit(
    client_api: Api, settings: Any
) -> None:
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 50
    response = client_api.post("/customers", [customer(f"C-{n}") for n in range(5)])
    assert response.status_code == 200
    assert response.json()["created"] == 5


def test_customer_rows_are_validated_like_the_csv(client_api: Api) -> None:
    response = client_api.post(
        "/customers",
        [
            customer("C-1", country="XX", phone="123"),
            customer("C-2", email=["ok@example.com", "not-an-address"]),
            customer("C-3", currency="EUR", credit_limit="-5"),
            customer("C-4", automation="sometimes", email=["a@example.com", True]),
        ],
    )
    assert response.status_code == 422
    got = [(p["loc"], p["field"]) for p in response.json()["detail"]]
    assert got == [
        ("[0]", "country"),
        ("[0]", "country"),
        ("[1]", "email"),
        ("[2]", "credit_limit"),
        ("[3]", "email"),
        ("[3]", "automation"),
    ]
    reasons = [p["reason"] for p in response.json()["detail"]]
    assert "not an ISO 3166-1" in reasons[0]
    assert reasons[1] == "needed to check phone and tax_id"
    assert reasons[4] == "must be a list of strings"
    assert Customer.objects.count() == 0


# --- customers --------------------------------------------------------------


def test_customers_round_trip(client_api: Api, alice: User) -> None:
    response = client_api.post(
        "/customers",
        [
            customer(
                "C-1",
                name="Acme GmbH",
                email=["ap@acme.example", "billing@acme.example"],
                phone="030 1234567",
                currency="EUR",
                credit_limit=5000,
                preferred_channel="email",
                language="de",
                customer_since="2020-05-01",
                postal_address=["Hauptstr. 5", "10115 Berlin"],
                time_zone="Europe/Berlin",
                collector="alice",
            ),
            customer("C-2", country="US", email="ap@beta.example; ap2@beta.example"),
            customer("C-3", country="US", automation="white_glove"),
        ],
    )
    assert response.status_code == 200
    assert response.json() == {
        "kind": "customers",
        "rows": 3,
        "created": 3,
        "updated": 0,
        "unchanged": 0,
        "allocated": None,
        "unapplied": None,
    }
    got = client_api.get("/customers/C-1").json()
    assert got == {
        "customer_ref": "C-1",
        "name": "Acme GmbH",
        "email": ["ap@acme.example", "billing@acme.example"],
        "phone": "+49301234567",
        "country": "DE",
        "tax_id": None,
        "currency": "EUR",
        "credit_limit": "5000.00",
        "preferred_channel": "email",
        "automation": "auto",
        "language": "de",
        "customer_since": "2020-05-01",
        "postal_address": ["Hauptstr. 5", "10115 Berlin"],
        "time_zone": "Europe/Berlin",
        "collector": "alice",
        "open_amount": {},
        "unapplied": {},
    }
    c2 = client_api.get("/customers/C-2").json()
    assert c2["email"] == ["ap@beta.example", "ap2@beta.example"]
    assert (c2["postal_address"], c2["time_zone"], c2["collector"]) == ([], None, None)
    listed = client_api.get("/customers", country="US").json()
    assert listed["count"] == 2
    assert [c["customer_ref"] for c in listed["items"]] == ["C-2", "C-3"]
    listed = client_api.get("/customers", automation="white_glove").json()
    assert [c["customer_ref"] for c in listed["items"]] == ["C-3"]
    assert client_api.get("/customers", search="acme").json()["count"] == 1
    first = client_api.get("/customers", limit=2).json()
    second = client_api.get("/customers", limit=2, offset=2).json()
    assert (first["count"], first["limit"], first["offset"]) == (3, 2, 0)
    assert [c["customer_ref"] for c in first["items"]] == ["C-1", "C-2"]
    assert [c["customer_ref"] for c in second["items"]] == ["C-3"]
    created = Activity.objects.filter(verb="customer.created")
    assert {a.actor_label for a in created} == {"api:alice"}
    assert ImportRun.objects.get(kind="customers").actor_label == "api:alice"


def test_reposting_the_same_customers_changes_nothing(client_api: Api) -> None:
    rows = [customer("C-1", email=["a@example.com"], currency="EUR", credit_limit="10.5")]
    client_api.post("/customers", rows)
    before = (
        list(Customer.objects.values()),
        list(Contact.objects.values()),
        Activity.objects.count(),
    )
    response = client_api.post("/customers", rows)
    assert response.json()["unchanged"] == 1
    assert (response.json()["created"], response.json()["updated"]) == (0, 0)
    after = (
        list(Customer.objects.values()),
        list(Contact.objects.values()),
        Activity.objects.count(),
    )
    assert after == before


def test_a_changed_customer_is_updated(client_api: Api) -> None:
    client_api.post("/customers", [customer("C-1", email="a@example.com")])
    response = client_api.post("/customers", [customer("C-1", name="New", email="b@example.com")])
    assert response.json()["updated"] == 1
    got = client_api.get("/customers/C-1").json()
    assert (got["name"], got["email"]) == ("New", ["b@example.com"])


def test_address_time_zone_and_collector_left_out_are_kept_and_null_clears_them(
    client_api: Api, alice: User
) -> None:
    bob = User.objects.create_user("bob")
    full = customer(
        "C-1", postal_address="1 Main St | Springfield", time_zone="UTC", collector="bob"
    )
    assert client_api.post("/customers", [full]).status_code == 200
    # Set elsewhere (the web app): an item without the fields leaves them.
    response = client_api.post("/customers", [customer("C-1", name="Renamed")])
    assert response.json()["updated"] == 1
    got = client_api.get("/customers/C-1").json()
    assert (got["name"], got["postal_address"], got["time_zone"], got["collector"]) == (
        "Renamed",
        ["1 Main St", "Springfield"],
        "UTC",
        "bob",
    )
    # One item may send a field another leaves out.
    response = client_api.post(
        "/customers",
        [
            customer("C-1", name="Renamed", collector=None),
            customer("C-2", postal_address=["PO Box 1", "Springfield"]),
        ],
    )
    assert response.status_code == 200, response.json()
    assert (response.json()["created"], response.json()["updated"]) == (1, 1)
    got = client_api.get("/customers/C-1").json()
    assert (got["postal_address"], got["time_zone"], got["collector"]) == (
        ["1 Main St", "Springfield"],
        "UTC",
        None,
    )
    entry = Activity.objects.filter(verb="customer.updated").first()
    assert entry is not None and entry.data == {"fields": {"collector": ["bob", ""]}}
    assert entry.actor_label == "api:alice"
    assert Customer.objects.get(ref="C-2").postal_address == "PO Box 1\nSpringfield"
    # Blank strings clear as null does; the same items again change nothing.
    items = [customer("C-1", name="Renamed", postal_address="", time_zone="", collector="")]
    assert client_api.post("/customers", items).json()["updated"] == 1
    assert client_api.post("/customers", items).json()["unchanged"] == 1
    assert Customer.objects.filter(ref="C-1", postal_address="", time_zone="").exists()
    assert bob.customers.count() == 0


def test_bad_addresses_time_zones_and_collectors_are_listed(client_api: Api) -> None:
    User.objects.create_user("gone", is_active=False)
    response = client_api.post(
        "/customers",
        [
            customer("C-1", postal_address=["Main St 1", "Unit 2 | 3"]),
            customer("C-2", postal_address=["Main St 1", ""], time_zone="Berlin"),
            customer("C-3", postal_address=[f"line {n}" for n in range(9)], collector="gone"),
            customer("C-4", postal_address=["x", True], collector="nobody"),
        ],
    )
    assert response.status_code == 422
    assert [(p["loc"], p["field"], p["reason"]) for p in response.json()["detail"]] == [
        ("[0]", "postal_address", "line 2 holds '|', which separates lines in the file"),
        ("[1]", "postal_address", "line 2 is empty (lines are separated by ' | ')"),
        ("[1]", "time_zone", "'Berlin' is not an IANA time zone (e.g. Europe/Berlin)"),
        (
            "[2]",
            "postal_address",
            "has 9 lines; at most 8 are allowed (lines are separated by ' | ')",
        ),
        ("[2]", "collector", "no active user named 'gone'"),
        ("[3]", "postal_address", "must be a list of strings"),
        ("[3]", "collector", "no active user named 'nobody'"),
    ]
    assert Customer.objects.count() == 0


def test_unknown_customer_is_not_found(client_api: Api) -> None:
    response = client_api.get("/customers/NOPE")
    assert response.status_code == 404
    assert response.json() == {"detail": "no customer 'NOPE'"}


def test_customer_list_costs_the_same_queries_however_long(ledger: Api) -> None:
    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert ledger.get("/customers").status_code == 200
        return len(captured)

    ledger.post("/payments", [payment("P-1", "10.00")])
    few = queries()
    User.objects.create_user("bob")
    ledger.post(
        "/customers",
        [
            customer(
                f"X-{n}",
                email=[f"x{n}@example.com", f"y{n}@example.com"],
                collector="alice" if n % 2 else "bob",
            )
            for n in range(8)
        ],
    )
    assert queries() == few


# --- invoices, payments and credit notes -----------------------------------


def test_invoices_round_trip_with_filters_and_pages(ledger: Api) -> None:
    got = ledger.get("/invoices/I-1").json()
    assert got == {
        "invoice_ref": "I-1",
        "customer_ref": "C-1",
        "issue_date": "2025-01-01",
        "due_date": "2025-01-31",
        "amount": "100.00",
        "currency": "EUR",
        "order_ref": None,
        "terms": None,
        "allocated": "0.00",
        "open_amount": "100.00",
        "status": "open",
        "allocations": [],
    }

    def refs(**params: Any) -> list[str]:
        response = ledger.get("/invoices", **params)
        assert response.status_code == 200, response.json()
        return [i["invoice_ref"] for i in response.json()["items"]]

    assert refs() == ["I-1", "I-4", "I-2", "I-3"]  # due date, then ref
    assert refs(customer="C-1") == ["I-1", "I-2", "I-3"]
    assert refs(customer="C-2") == ["I-4"]
    assert refs(due_before="2025-02-28") == ["I-1", "I-4"]
    assert refs(due_after="2025-01-31") == ["I-2", "I-3"]
    assert refs(due_after="2025-01-31", due_before="2025-03-31") == ["I-2"]
    assert refs(customer="C-1", limit=2, offset=1) == ["I-2", "I-3"]
    assert ledger.get("/invoices", customer="C-1", limit=2).json()["count"] == 3
    assert refs(status="paid") == []


def test_invoice_list_rejects_bad_filters_listing_each(ledger: Api) -> None:
    response = ledger.get("/invoices", status="late", due_before="soon", limit=5000)
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert {(p["loc"], p["field"]) for p in detail} == {
        ("query.status", "status"),
        ("query.due_before", "due_before"),
        ("query.limit", "limit"),
    }
    assert ledger.get("/invoices", limit=1000).status_code == 200
    assert ledger.get("/invoices", offset=-1).status_code == 422


def test_reposting_the_same_invoices_changes_nothing(ledger: Api) -> None:
    rows = [
        invoice("I-1", "100.00", "2025-01-31"),
        invoice("I-2", "50", "2025-02-28"),
        invoice("I-3", "70.0", "2025-03-31"),
    ]
    before = list(Invoice.objects.values()), Activity.objects.count()
    response = ledger.post("/invoices", rows)
    assert response.json() == {
        "kind": "invoices",
        "rows": 3,
        "created": 0,
        "updated": 0,
        "unchanged": 3,
        "allocated": None,
        "unapplied": None,
    }
    assert (list(Invoice.objects.values()), Activity.objects.count()) == before


def test_an_invoice_cannot_change_its_amount(ledger: Api) -> None:
    response = ledger.post("/invoices", [invoice("I-1", "99.00", "2025-01-31")])
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == "[0]"
    assert "correct it with a credit note" in response.json()["detail"][0]["reason"]
    assert Invoice.objects.get(ref="I-1").amount == Decimal("100")


def test_a_payment_shows_on_the_invoices_it_settles(ledger: Api) -> None:
    response = ledger.post("/payments", [payment("P-1", "120.00")])
    assert response.status_code == 200
    assert response.json()["allocated"] == {"EUR": "120.00"}
    assert response.json()["unapplied"] == {"EUR": "0.00"}

    paid = ledger.get("/invoices/I-1").json()
    assert (paid["status"], paid["allocated"], paid["open_amount"]) == ("paid", "100.00", "0.00")
    assert paid["allocations"] == [
        {
            "invoice_ref": "I-1",
            "payment_ref": "P-1",
            "credit_note_ref": None,
            "amount": "100.00",
            "effective_on": "2025-02-10",
        }
    ]
    part = ledger.get("/invoices/I-2").json()
    assert (part["status"], part["allocated"], part["open_amount"]) == ("open", "20.00", "30.00")
    open_refs = [i["invoice_ref"] for i in ledger.get("/invoices", status="open").json()["items"]]
    assert open_refs == ["I-4", "I-2", "I-3"]
    paid_refs = [i["invoice_ref"] for i in ledger.get("/invoices", status="paid").json()["items"]]
    assert paid_refs == ["I-1"]
    assert ledger.get("/customers/C-1").json()["open_amount"] == {"EUR": "100.00"}

    got = ledger.get("/payments/P-1").json()
    assert got["allocated"] == "120.00" and got["unapplied"] == "0.00"
    assert [(a["invoice_ref"], a["amount"]) for a in got["allocations"]] == [
        ("I-1", "100.00"),
        ("I-2", "20.00"),
    ]


def test_payments_round_trip_with_filters(ledger: Api) -> None:
    response = ledger.post(
        "/payments",
        [
            payment("P-1", "30.00", "2025-02-01", invoice_ref="I-2"),
            payment("P-2", "500.00", "2025-03-01"),  # more than C-1 owes
            {**payment("P-3", "5.00", "2025-03-05"), "customer_ref": "C-2"},
        ],
    )
    assert response.status_code == 200, response.json()
    assert response.json()["unapplied"] == {"EUR": "310.00"}  # 500 - (220 - 30)
    assert ledger.get("/payments/P-1").json() == {
        "payment_ref": "P-1",
        "customer_ref": "C-1",
        "received_on": "2025-02-01",
        "amount": "30.00",
        "currency": "EUR",
        "invoice_ref": "I-2",
        "allocated": "30.00",
        "unapplied": "0.00",
        "allocations": [
            {
                "invoice_ref": "I-2",
                "payment_ref": "P-1",
                "credit_note_ref": None,
                "amount": "30.00",
                "effective_on": "2025-02-01",
            }
        ],
    }
    # P-1 went to the invoice it named; P-2 then settled all C-1 still owed.
    assert [a["payment_ref"] for a in ledger.get("/invoices/I-2").json()["allocations"]] == [
        "P-1",
        "P-2",
    ]
    assert ledger.get("/invoices/I-2").json()["open_amount"] == "0.00"

    def refs(**params: Any) -> list[str]:
        return [p["payment_ref"] for p in ledger.get("/payments", **params).json()["items"]]

    assert refs() == ["P-1", "P-2", "P-3"]
    assert refs(customer="C-1") == ["P-1", "P-2"]
    assert refs(received_after="2025-02-01") == ["P-2", "P-3"]
    assert refs(received_before="2025-03-05") == ["P-1", "P-2"]
    assert refs(unapplied="true") == ["P-2"]
    assert refs(unapplied="false") == ["P-1", "P-3"]
    assert refs(invoice="I-2") == ["P-1"]
    assert refs(limit=1, offset=1) == ["P-2"]
    assert ledger.get("/payments", limit=1).json()["count"] == 3
    assert ledger.get("/customers/C-1").json()["unapplied"] == {"EUR": "310.00"}


def test_reposting_a_payment_changes_nothing_and_a_changed_one_is_refused(ledger: Api) -> None:
    ledger.post("/payments", [payment("P-1", "120.00")])
    before = (
        list(Payment.objects.values()),
        list(Allocation.objects.values()),
        list(Invoice.objects.values()),
    )
    again = ledger.post("/payments", [payment("P-1", "120.00")])
    assert (again.json()["created"], again.json()["unchanged"]) == (0, 1)
    changed = ledger.post("/payments", [payment("P-1", "121.00")])
    assert changed.status_code == 422
    assert changed.json()["detail"][0]["field"] == "payment_ref"
    after = (
        list(Payment.objects.values()),
        list(Allocation.objects.values()),
        list(Invoice.objects.values()),
    )
    assert after == before


def test_a_payment_for_another_customers_invoice_is_refused(ledger: Api) -> None:
    response = ledger.post("/payments", [payment("P-1", "10.00", invoice_ref="I-4")])
    assert response.status_code == 422
    assert response.json()["detail"] == [
        {"loc": "[0]", "field": "invoice_ref", "reason": "invoice 'I-4' belongs to customer 'C-2'"}
    ]
    assert not Payment.objects.exists()


def test_credit_notes_round_trip_with_filters(ledger: Api) -> None:
    response = ledger.post(
        "/credit-notes",
        [
            credit_note("CN-1", "70.00", "2025-02-01", invoice_ref="I-3"),
            credit_note("CN-2", "15.00", "2025-03-01"),
        ],
    )
    assert response.status_code == 200, response.json()
    assert response.json()["allocated"] == {"EUR": "85.00"}
    got = ledger.get("/credit-notes/CN-1").json()
    assert (got["invoice_ref"], got["allocated"], got["unapplied"]) == ("I-3", "70.00", "0.00")
    assert got["allocations"][0]["credit_note_ref"] == "CN-1"
    assert got["allocations"][0]["payment_ref"] is None
    assert ledger.get("/invoices/I-3").json()["status"] == "paid"
    assert ledger.get("/invoices/I-1").json()["open_amount"] == "85.00"

    def refs(**params: Any) -> list[str]:
        items = ledger.get("/credit-notes", **params).json()["items"]
        return [c["credit_note_ref"] for c in items]

    assert refs() == ["CN-1", "CN-2"]
    assert refs(issued_after="2025-02-01") == ["CN-2"]
    assert refs(issued_before="2025-02-02") == ["CN-1"]
    assert refs(invoice="I-3") == ["CN-1"]
    assert refs(customer="C-2") == []
    assert refs(limit=1, offset=1) == ["CN-2"]
    again = ledger.post(
        "/credit-notes",
        [
            credit_note("CN-1", "70.00", "2025-02-01", invoice_ref="I-3"),
            credit_note("CN-2", "15.00", "2025-03-01"),
        ],
    )
    assert (again.json()["created"], again.json()["unchanged"]) == (0, 2)
    assert CreditNote.objects.count() == 2


def test_amounts_follow_the_currencys_minor_units(client_api: Api) -> None:
    client_api.post("/customers", [customer("J-1", country="JP")])
    rows = [
        {**invoice("JI-1", "1500", "2025-01-31", customer_ref="J-1"), "currency": "JPY"},
        {**invoice("KI-1", "1.250", "2025-01-31", customer_ref="J-1"), "currency": "KWD"},
    ]
    assert client_api.post("/invoices", rows).status_code == 200
    assert client_api.get("/invoices/JI-1").json()["amount"] == "1500"
    assert client_api.get("/invoices/KI-1").json()["open_amount"] == "1.250"
    assert client_api.get("/customers/J-1").json()["open_amount"] == {
        "JPY": "1500",
        "KWD": "1.250",
    }


def test_refs_with_slashes_are_addressable(client_api: Api) -> None:
    client_api.post("/customers", [customer("C/1")])
    client_api.post("/invoices", [invoice("INV/2025/001", "10.00", "2025-01-31", "C/1")])
    assert client_api.get("/invoices/INV/2025/001").json()["customer_ref"] == "C/1"
    assert client_api.get("/invoices/INV%2F2025%2F001").json()["invoice_ref"] == "INV/2025/001"
    assert client_api.get("/customers/C/1").json()["customer_ref"] == "C/1"
    assert client_api.get("/customers/C/1/contacts").json() == {"items": []}


@pytest.mark.parametrize(
    ("path", "detail"),
    [
        ("/invoices/NOPE", "no invoice 'NOPE'"),
        ("/payments/NOPE", "no payment 'NOPE'"),
        ("/credit-notes/NOPE", "no credit note 'NOPE'"),
        ("/customers/NOPE/contacts", "no customer 'NOPE'"),
    ],
)
def test_unknown_refs_are_not_found(client_api: Api, path: str, detail: str) -> None:
    response = client_api.get(path)
    assert response.status_code == 404
    assert response.json() == {"detail": detail}


# --- contacts ---------------------------------------------------------------


def test_contacts_round_trip_with_an_activity_entry(client_api: Api, alice: User) -> None:
    client_api.post("/customers", [customer("C-1", email="ap@acme.example")])
    response = client_api.post(
        "/customers/C-1/contacts",
        {"name": "Bob", "role": "billing", "email": " bob@Acme.Example ", "phone": "030 7654321"},
    )
    assert response.status_code == 201, response.json()
    created = response.json()
    assert created["email"] == "bob@acme.example"
    assert created["phone"] == "+49307654321"
    assert (created["role"], created["from_import"], created["consent_sms"]) == (
        "billing",
        False,
        False,
    )
    contact_id = created["id"]
    entry = Activity.objects.get(verb="contact.created")
    assert (entry.actor, entry.actor_label, entry.subject_ref) == (
        alice,
        "api:alice",
        str(contact_id),
    )
    assert entry.customer == Customer.objects.get(ref="C-1")

    listed = client_api.get("/customers/C-1/contacts").json()["items"]
    assert [c["email"] for c in listed] == ["ap@acme.example", "bob@acme.example"]
    assert client_api.get(f"/customers/C-1/contacts/{contact_id}").json() == created

    patched = client_api.patch(
        f"/customers/C-1/contacts/{contact_id}",
        {"consent_sms": True, "opted_out_email": True, "name": None},
    )
    assert patched.status_code == 200, patched.json()
    assert (patched.json()["consent_sms"], patched.json()["opted_out_email"]) == (True, True)
    assert patched.json()["name"] is None
    update = Activity.objects.get(verb="contact.updated")
    assert update.data == {
        "fields": {
            "consent_sms": [False, True],
            "opted_out_email": [False, True],
            "name": ["Bob", ""],
        }
    }
    assert client_api.get("/customers/C-1").json()["email"] == [
        "ap@acme.example",
        "bob@acme.example",
    ]


def test_patching_a_contact_with_its_own_values_logs_nothing(client_api: Api) -> None:
    client_api.post("/customers", [customer("C-1")])
    contact_id = client_api.post("/customers/C-1/contacts", {"email": "a@example.com"}).json()["id"]
    response = client_api.patch(
        f"/customers/C-1/contacts/{contact_id}", {"email": "a@example.com", "consent_call": True}
    )
    assert response.status_code == 200
    assert not Activity.objects.filter(verb="contact.updated").exists()


def test_a_new_email_clears_the_bounce_flag(client_api: Api) -> None:
    client_api.post("/customers", [customer("C-1")])
    contact_id = client_api.post("/customers/C-1/contacts", {"email": "a@example.com"}).json()["id"]
    Contact.objects.filter(pk=contact_id).update(email_bounced=True)
    response = client_api.patch(f"/customers/C-1/contacts/{contact_id}", {"email": "b@example.com"})
    assert (response.json()["email"], response.json()["email_bounced"]) == ("b@example.com", False)


def test_bad_contact_values_are_all_listed(client_api: Api) -> None:
    client_api.post("/customers", [customer("C-1")])
    response = client_api.post(
        "/customers/C-1/contacts", {"email": "not-an-address", "phone": "12", "name": "x" * 201}
    )
    assert response.status_code == 422
    assert {p["field"] for p in response.json()["detail"]} == {"email", "phone", "name"}
    assert {p["loc"] for p in response.json()["detail"]} == {"body"}
    assert "not a valid phone number for DE" in str(response.json())
    assert not Contact.objects.exists()
    assert not Activity.objects.filter(verb="contact.created").exists()


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({}, "email"),  # neither e-mail nor phone
        ({"email": "a@example.com", "role": "boss"}, "role"),
        ({"email": "a@example.com", "consent_sms": "perhaps"}, "consent_sms"),
        ({"email": "a@example.com", "colour": "red"}, "colour"),
    ],
)
def test_invalid_contacts_are_refused(client_api: Api, payload: dict[str, Any], field: str) -> None:
    client_api.post("/customers", [customer("C-1")])
    response = client_api.post("/customers/C-1/contacts", payload)
    assert response.status_code == 422
    assert [p["field"] for p in response.json()["detail"]] == [field]
    assert not Contact.objects.exists()


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ("[1]", {"loc": "body", "field": "-"}),
        ('{"email": 5}', {"loc": "body.email", "field": "email"}),
        ('{"email": "a@example.com", "role": "boss"}', {"loc": "body.role", "field": "role"}),
    ],
)
def test_a_contact_body_of_the_wrong_shape_is_refused(
    client_api: Api, body: str, problem: dict[str, str]
) -> None:
    client_api.post("/customers", [customer("C-1")])
    response = client_api.post("/customers/C-1/contacts", body)
    assert response.status_code == 422
    [got] = response.json()["detail"]
    assert {"loc": got["loc"], "field": got["field"]} == problem
    assert got["reason"]


def test_a_contact_cannot_lose_both_email_and_phone(client_api: Api) -> None:
    client_api.post("/customers", [customer("C-1")])
    contact_id = client_api.post("/customers/C-1/contacts", {"email": "a@example.com"}).json()["id"]
    response = client_api.patch(f"/customers/C-1/contacts/{contact_id}", {"email": None})
    assert response.status_code == 422
    assert Contact.objects.get(pk=contact_id).email == "a@example.com"
    response = client_api.patch(f"/customers/C-1/contacts/{contact_id}", {"consent_sms": None})
    assert response.status_code == 422
    assert response.json()["detail"][0]["reason"] == "must be true or false"


def test_the_customers_file_owns_email_of_imported_contacts(client_api: Api) -> None:
    client_api.post("/customers", [customer("C-1", email="ap@acme.example")])
    contact = Contact.objects.get()
    path = f"/customers/C-1/contacts/{contact.pk}"
    refused = client_api.patch(path, {"email": "other@acme.example", "is_active": False})
    assert refused.status_code == 422
    assert {p["field"] for p in refused.json()["detail"]} == {"email", "is_active"}
    allowed = client_api.patch(path, {"name": "AP desk", "opted_out_call": True})
    assert allowed.status_code == 200
    # Re-importing the same file keeps the API's changes and changes nothing.
    again = client_api.post("/customers", [customer("C-1", email="ap@acme.example")])
    assert again.json()["unchanged"] == 1
    contact.refresh_from_db()
    assert (contact.name, contact.opted_out_call, contact.is_active) == ("AP desk", True, True)


def test_another_customers_contact_is_not_found(client_api: Api) -> None:
    client_api.post("/customers", [customer("C-1"), customer("C-2")])
    contact_id = client_api.post("/customers/C-1/contacts", {"email": "a@example.com"}).json()["id"]
    assert client_api.get(f"/customers/C-2/contacts/{contact_id}").status_code == 404
    response = client_api.patch(f"/customers/C-2/contacts/{contact_id}", {"name": "x"})
    assert response.status_code == 404
    assert response.json() == {"detail": f"customer 'C-2' has no contact {contact_id}"}
    assert client_api.post("/customers/NOPE/contacts", {"email": "a@b.example"}).status_code == 404
