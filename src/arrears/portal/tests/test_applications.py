"""Credit applications: the public form and the managers' review."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from arrears.ledger.models import Activity, Customer
from arrears.portal.applications import ApplicationRejected, application_decide
from arrears.portal.models import ApplicationStatus, CreditApplication, Onboarding

from .portaldata import collector_create, manager_create

PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj <<>> endobj\n%%EOF"
FORM = {
    "company_name": "Neukunde GmbH",
    "country": "de",
    "tax_id": "DE 136 695 976",
    "registered_address": "Hafenstraße 1\n20457 Hamburg",
    "billing_address": "",
    "ap_name": "Anna Kreditor",
    "ap_email": "ap@neukunde.example",
    "ap_phone": "040 1234567",
    "trade_references": "Lieferant A, Herr B, +49 30 901820",
    "bank_reference": "Hamburger Bank, Filiale Mitte",
    "requested_limit": "25000",
    "currency": "EUR",
}


def submit(client: Client | None = None, **changes: Any) -> Any:
    return (client or Client()).post("/portal/apply/", {**FORM, **changes})


def submit_changed(changes: dict[str, str]) -> Any:
    return submit(None, **changes)


def test_the_form_stores_a_validated_application_with_its_documents(db: None) -> None:
    doc = SimpleUploadedFile("handelsregister.pdf", PDF, content_type="application/pdf")
    response = submit(documents=[doc])
    assert response.status_code == 302 and response["Location"] == "/portal/apply/thanks/"
    application = CreditApplication.objects.get()
    assert application.ref.startswith("CA-") and len(application.ref) == 13
    assert (application.country, application.tax_id, application.ap_phone) == (
        "DE", "136695976", "+49401234567"
    )  # fmt: skip
    assert application.requested_limit == Decimal("25000.00")
    assert application.status == ApplicationStatus.SUBMITTED
    [document] = application.documents.all()
    assert (document.name, document.content_type) == ("handelsregister.pdf", "application/pdf")
    assert Activity.objects.get(verb="credit application received").subject_ref == application.ref


@pytest.mark.parametrize(
    ("changes", "field_error"),
    [
        ({"tax_id": "DE 123"}, "is not a valid DE tax id"),
        ({"country": "XX"}, "is not an ISO 3166-1 country code"),
        ({"currency": "EUX"}, "is not an ISO 4217 currency"),
        ({"ap_email": "nobody"}, "Enter a valid email address"),
        ({"requested_limit": "0"}, "greater than or equal to 1"),
        ({"trade_references": ""}, "This field is required"),
    ],
)
def test_a_bad_application_is_refused_field_by_field(
    db: None, changes: dict[str, str], field_error: str
) -> None:
    response = submit_changed(changes)
    assert response.status_code == 400
    assert field_error in response.content.decode()
    assert not CreditApplication.objects.exists()


def test_documents_are_checked_by_content(db: None) -> None:
    fake = SimpleUploadedFile("statements.pdf", b"PK\x03\x04 a zip", content_type="application/pdf")
    response = submit(documents=[fake])
    assert response.status_code == 400
    assert "statements.pdf is not a PDF, PNG or JPEG file" in response.content.decode()
    assert not CreditApplication.objects.exists()


def test_the_public_form_is_rate_limited(db: None) -> None:
    client = Client(REMOTE_ADDR="10.1.1.1")
    answers = [submit(client, company_name=f"Co {n}").status_code for n in range(6)]
    assert answers == [302] * 5 + [429]
    assert CreditApplication.objects.count() == 5


def _application() -> CreditApplication:
    assert submit().status_code == 302
    return CreditApplication.objects.get()


def test_approval_creates_the_customer_with_the_limit_and_starts_onboarding(db: None) -> None:
    application = _application()
    manager = manager_create()
    decided = application_decide(
        application=application, decision="approve", actor=manager, customer_ref="C-NEU"
    )
    customer = Customer.objects.get(ref="C-NEU")
    assert decided.status == ApplicationStatus.APPROVED and decided.customer == customer
    assert (customer.credit_limit, customer.currency, customer.tax_id) == (
        Decimal("25000.00"), "EUR", "136695976"
    )  # fmt: skip
    assert customer.contacts.get().email == "ap@neukunde.example"
    assert Onboarding.objects.filter(customer=customer).exists()
    verbs = set(Activity.objects.filter(customer=customer).values_list("verb", flat=True))
    assert {"customer created", "credit application approved", "contact.created"} <= verbs


def test_a_smaller_limit_updates_the_existing_customer_with_the_same_tax_id(db: None) -> None:
    existing = Customer.objects.create(
        ref="KNOWN", name="Neukunde", country="DE", tax_id="136695976", currency="EUR",
        credit_limit=Decimal("1000"),
    )  # fmt: skip
    application = _application()
    manager = manager_create()
    with pytest.raises(ApplicationRejected) as refused:
        application_decide(
            application=application, decision="reduce", actor=manager,
            granted_limit=Decimal("30000"), notes="too much",
        )  # fmt: skip
    assert "granted_limit" in refused.value.problems
    decided = application_decide(
        application=application, decision="reduce", actor=manager,
        granted_limit=Decimal("10000"), notes="two references only",
    )  # fmt: skip
    existing.refresh_from_db()
    assert existing.credit_limit == Decimal("10000.00")
    assert decided.status == ApplicationStatus.REDUCED and decided.customer == existing
    limit = Activity.objects.get(customer=existing, verb="credit limit set")
    assert "1000.0000 → 10000.00 EUR" in limit.why
    # A decided application cannot be decided again.
    with pytest.raises(ApplicationRejected):
        application_decide(application=application, decision="approve", actor=manager)


def test_a_denial_needs_notes_and_touches_no_customer(db: None) -> None:
    application = _application()
    manager = manager_create()
    with pytest.raises(ApplicationRejected):
        application_decide(application=application, decision="deny", actor=manager)
    decided = application_decide(
        application=application, decision="deny", actor=manager, notes="no references"
    )
    assert decided.status == ApplicationStatus.DENIED and decided.customer is None
    assert not Customer.objects.exists()


def test_only_managers_decide(db: None) -> None:
    application = _application()
    with pytest.raises(PermissionDenied):
        application_decide(application=application, decision="approve", actor=collector_create())


def test_the_review_pages_are_for_managers_only(db: None) -> None:
    application = _application()
    detail = f"/portal/staff/applications/{application.ref}/"
    assert Client().get("/portal/staff/applications/").status_code == 302  # sign in first
    collector = Client()
    collector.force_login(collector_create())
    assert collector.get("/portal/staff/applications/").status_code == 403
    assert collector.get(detail).status_code == 403
    manager = Client()
    manager.force_login(manager_create())
    listing = manager.get("/portal/staff/applications/")
    assert listing.status_code == 200 and application.ref in listing.content.decode()
    page = manager.get(detail)
    assert page.status_code == 200 and "Neukunde GmbH" in page.content.decode()
    response = manager.post(
        detail, {"decision": "reduce", "granted_limit": "5000", "notes": "new", "customer_ref": ""}
    )
    assert response.status_code == 302
    application.refresh_from_db()
    assert application.status == ApplicationStatus.REDUCED
    assert (
        application.customer is not None and application.customer.ref == "C-" + application.ref[3:]
    )
    assert application.customer.credit_limit == Decimal("5000.00")


def test_documents_download_for_managers_only(db: None) -> None:
    doc = SimpleUploadedFile("bilanz.pdf", PDF, content_type="application/pdf")
    assert submit(documents=[doc]).status_code == 302
    application = CreditApplication.objects.get()
    path = (
        f"/portal/staff/applications/{application.ref}/documents/{application.documents.get().pk}/"
    )
    collector = Client()
    collector.force_login(collector_create())
    assert collector.get(path).status_code == 403
    manager = Client()
    manager.force_login(manager_create())
    response = manager.get(path)
    assert response.status_code == 200 and response.content == PDF
    assert response["Content-Disposition"].startswith("attachment")
