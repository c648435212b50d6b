"""What a customer does in the portal, and what staff then see: each
action is an Activity on the customer's timeline and feeds the policy."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from arrears.cases.models import Dispute, DisputeStatus, Promise
from arrears.cases.plan_models import PaymentPlan
from arrears.cases.selectors import holds_for
from arrears.comms.models import ConsentRecord, Message, Task, TaskKind
from arrears.comms.rendering import payment_reference
from arrears.ledger.models import Activity, Contact, Invoice, Payment
from arrears.ledger.services import documents_post
from arrears.portal.models import DisputeAttachment
from arrears.web.selectors import customer_timeline

from .portaldata import Ledger

PDF = b"%PDF-1.4\n1 0 obj\n<<>>\nendobj\ntrailer\n<<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
LABEL = "portal: ap@acme.example"


def verbs(ledger: Ledger) -> list[tuple[str, str]]:
    return list(
        Activity.objects.filter(customer=ledger.acme)
        .order_by("id")
        .values_list("verb", "actor_label")
    )


def timeline_titles(ledger: Ledger) -> list[tuple[str, str, str]]:
    return [
        (e.kind, e.title, e.actor)
        for e in customer_timeline(customer=ledger.acme, size=100).entries
    ]


def test_the_statement_adds_up_per_currency_never_mixed(
    acme_client: Client, ledger: Ledger
) -> None:
    # An unapplied EUR payment (no open EUR invoice left to take it) is credit.
    Invoice.objects.filter(ref="A-1").update(due_date=ledger.today - timedelta(days=20))
    documents_post(
        [
            Payment(
                ref="P-9", customer=ledger.acme, received_on=ledger.today,
                amount=Decimal("50.00"), currency="EUR", invoice_ref="NONE",
            )
        ]
    )  # fmt: skip
    response = acme_client.get("/portal/")
    assert response.status_code == 200
    [eur, usd] = response.context["overview"].statement
    assert (eur.currency, eur.open_total, eur.overdue_total, eur.unapplied, eur.balance) == (
        "EUR", Decimal("1300.00"), Decimal("1000.00"), Decimal("50.00"), Decimal("1250.00")
    )  # fmt: skip
    assert [i.ref for i in eur.invoices] == ["A-1", "A-2"]
    assert (usd.currency, usd.open_total, usd.overdue_total, usd.balance) == (
        "USD", Decimal("1234.56"), Decimal("1234.56"), Decimal("1234.56")
    )  # fmt: skip
    page = response.content.decode()
    assert "EUR 1,250.00" in page and "USD 1,234.56" in page
    assert "EUR 2,534.56" not in page  # never a total across currencies
    invoices = acme_client.get("/portal/invoices/").content.decode()
    assert "A-4" in invoices and "paid" in invoices  # the paid one is listed
    assert "P-1" in invoices


def test_how_to_pay_shows_the_bank_details_and_the_rf_reference(
    acme_client: Client, ledger: Ledger
) -> None:
    from arrears.comms.models import Brand

    Brand.objects.update_or_create(
        pk=1, defaults={"iban": "DE89370400440532013000", "bic": "COBADEFFXXX", "bank_name": "Bank"}
    )
    page = acme_client.get("/portal/pay/").content.decode()
    assert payment_reference("ACME") in page and payment_reference("ACME").startswith("RF")
    assert "DE89 3704 0044 0532 0130 00" in page and "COBADEFFXXX" in page


def test_an_invoice_copy_downloads_as_pdf(acme_client: Client) -> None:
    response = acme_client.get("/portal/invoices/A-4/pdf/")  # paid ones too
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF")
    assert 'filename="A-4.pdf"' in response["Content-Disposition"]


def test_a_promise_pauses_reminders_and_is_on_the_timeline(
    acme_client: Client, ledger: Ledger
) -> None:
    promised = ledger.today + timedelta(days=7)
    response = acme_client.post(
        "/portal/promise/", {"promised_on": promised.isoformat(), "invoices": ["A-1", "A-2"]}
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    promise = Promise.objects.get(customer=ledger.acme)
    assert (promise.source, promise.created_by_label) == ("portal", LABEL)
    assert promise.amount == Decimal("1300.00") and promise.currency == "EUR"
    assert ("promise to pay", LABEL) in verbs(ledger)
    # The policy reads the hold: no reminders until the date plus grace.
    assert ledger.acme.pk in holds_for([ledger.acme.pk], ledger.today).customers
    assert ("promise", "Promise to pay", LABEL) in timeline_titles(ledger)
    assert "We have your promise" in acme_client.get("/portal/").content.decode()


def test_a_promise_in_the_past_is_refused_with_a_clear_error(
    acme_client: Client, ledger: Ledger
) -> None:
    response = acme_client.post(
        "/portal/promise/",
        {"promised_on": (ledger.today - timedelta(days=1)).isoformat(), "invoices": ["A-1"]},
    )
    assert response.status_code == 400
    assert "the promised date is in the past" in response.content.decode()
    assert not Promise.objects.exists()


def test_a_dispute_with_evidence_takes_the_invoice_out_of_dunning(
    acme_client: Client, ledger: Ledger, media_root: Path
) -> None:
    upload = SimpleUploadedFile("../../delivery note.pdf", PDF, content_type="text/plain")
    photo = SimpleUploadedFile("pallet.PNG", PNG, content_type="image/png")
    response = acme_client.post(
        "/portal/dispute/",
        {
            "invoices": ["A-1"],
            "reason": "quality",
            "description": "Two pallets arrived damaged",
            "attachments": [upload, photo],
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    dispute = Dispute.objects.get(customer=ledger.acme)
    assert dispute.status == DisputeStatus.OPEN and dispute.opened_by_label == LABEL
    invoice = Invoice.objects.get(ref="A-1")
    assert invoice.pk in holds_for([ledger.acme.pk], ledger.today).disputed_invoice_ids
    files = list(DisputeAttachment.objects.filter(dispute=dispute).order_by("id"))
    assert [(f.name, f.content_type) for f in files] == [
        ("delivery note.pdf", "application/pdf"),
        ("pallet.PNG", "image/png"),
    ]
    stored = [media_root / f.file.name for f in files]
    assert all(p.is_file() and p.resolve().is_relative_to(media_root.resolve()) for p in stored)
    assert stored[0].read_bytes() == PDF and stored[0].suffix == ".pdf"
    assert "delivery" not in stored[0].name  # a random name on disk
    assert ("dispute opened", LABEL) in verbs(ledger)
    assert ("dispute evidence uploaded", LABEL) in verbs(ledger)
    assert ("dispute", "Dispute", LABEL) in timeline_titles(ledger)
    # A disputed invoice cannot be disputed twice.
    page = acme_client.get("/portal/dispute/").content.decode()
    assert 'value="A-1"' not in page and 'value="A-2"' in page


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("invoice.pdf", b"MZ\x90\x00 this is an executable", "is not a PDF, PNG or JPEG file"),
        ("page.html", b"<html><script>alert(1)</script>", "is not a PDF, PNG or JPEG file"),
        ("empty.pdf", b"", "is empty"),
    ],
)
def test_a_dispute_refuses_files_that_are_not_pdf_png_or_jpeg(
    acme_client: Client, ledger: Ledger, media_root: Path, name: str, content: bytes, reason: str
) -> None:
    upload = SimpleUploadedFile(name, content, content_type="application/pdf")
    response = acme_client.post(
        "/portal/dispute/",
        {"invoices": ["A-1"], "reason": "other", "description": "x", "attachments": [upload]},
    )
    assert response.status_code == 400
    assert reason in response.content.decode()
    assert not Dispute.objects.exists()
    assert not media_root.exists() or not any(media_root.rglob("*.*"))


def test_a_dispute_refuses_a_file_over_the_size_limit(
    acme_client: Client, ledger: Ledger, settings: Any
) -> None:
    settings.ARREARS_PORTAL_UPLOAD_MAX_MB = 1
    big = SimpleUploadedFile("scan.pdf", PDF + b"0" * (1024 * 1024), content_type="application/pdf")
    response = acme_client.post(
        "/portal/dispute/",
        {"invoices": ["A-1"], "reason": "other", "description": "x", "attachments": [big]},
    )
    assert response.status_code == 400
    assert "files may be at most 1 MB" in response.content.decode()
    assert not Dispute.objects.exists()


def test_a_short_payment_plan_is_agreed_at_once_and_stops_reminders(
    acme_client: Client, ledger: Ledger
) -> None:
    response = acme_client.post(
        "/portal/plan/",
        {
            "instalments": "3",
            "first_on": (ledger.today + timedelta(days=14)).isoformat(),
            "invoices": ["A-1", "A-2"],
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    plan = PaymentPlan.objects.get(customer=ledger.acme)
    assert (plan.currency, plan.total, plan.created_by_label) == ("EUR", Decimal("1300.00"), LABEL)
    assert plan.instalments.count() == 3
    assert ("payment plan agreed", LABEL) in verbs(ledger)
    confirmation = Message.objects.get(template_key="payment-plan-confirmation")
    assert confirmation.customer == ledger.acme
    assert not Task.objects.filter(customer=ledger.acme).exists()


def test_a_longer_payment_plan_is_a_request_for_the_collector(
    acme_client: Client, ledger: Ledger
) -> None:
    response = acme_client.post(
        "/portal/plan/",
        {
            "instalments": "12",
            "first_on": (ledger.today + timedelta(days=14)).isoformat(),
            "invoices": ["A-1"],
            "note": "seasonal business",
        },
    )
    assert response.status_code == 302
    assert not PaymentPlan.objects.exists()
    task = Task.objects.get(customer=ledger.acme, kind=TaskKind.TASK)
    assert "12 instalments" in task.reason and "seasonal business" in task.reason
    assert ("payment plan requested", LABEL) in verbs(ledger)


def test_a_plan_over_two_currencies_is_refused(acme_client: Client, ledger: Ledger) -> None:
    response = acme_client.post(
        "/portal/plan/",
        {"instalments": "3", "first_on": (ledger.today + timedelta(days=7)).isoformat()},
    )
    assert response.status_code == 400
    assert "a plan covers invoices in one currency" in response.content.decode()
    assert not PaymentPlan.objects.exists() and not Task.objects.exists()


def test_an_ap_contact_is_added_and_edited(acme_client: Client, ledger: Ledger) -> None:
    response = acme_client.post(
        "/portal/contacts/", {"name": "Ann Accounts", "email": "ANN@Acme.example", "phone": ""}
    )
    assert response.status_code == 302
    added = Contact.objects.get(customer=ledger.acme, name="Ann Accounts")
    assert (added.email, added.role, added.from_import) == ("ANN@acme.example", "ap", False)
    response = acme_client.post(
        f"/portal/contacts/{added.pk}/",
        {
            "form": "contact",
            "name": "Ann Accounts",
            "email": "ann@acme.example",
            "phone": "030 901820",
        },
    )
    assert response.status_code == 302
    added.refresh_from_db()
    assert (added.email, added.phone) == ("ann@acme.example", "+4930901820")
    assert [v for v in verbs(ledger) if v[0].startswith("contact.")] == [
        ("contact.created", LABEL),
        ("contact.updated", LABEL),
    ]
    entries = timeline_titles(ledger)
    assert ("activity", "contact.created", LABEL) in entries


def test_a_bad_contact_gets_a_clear_error_and_nothing_is_saved(
    acme_client: Client, ledger: Ledger
) -> None:
    response = acme_client.post("/portal/contacts/", {"name": "X", "email": "not-an-address"})
    assert response.status_code == 400
    assert "not-an-address" in response.content.decode()
    response = acme_client.post("/portal/contacts/", {"name": "Nobody"})
    assert response.status_code == 400
    assert "needs an e-mail address or a phone number" in response.content.decode()
    assert Contact.objects.filter(customer=ledger.acme).count() == 1


def test_a_contact_from_the_customers_file_keeps_its_address(
    acme_client: Client, ledger: Ledger
) -> None:
    Contact.objects.filter(pk=ledger.acme_ap.pk).update(from_import=True)
    response = acme_client.post(
        f"/portal/contacts/{ledger.acme_ap.pk}/",
        {"form": "contact", "name": "Petra", "email": "new@acme.example", "phone": ""},
    )
    assert response.status_code == 400
    assert "cannot be changed here; add a new contact" in response.content.decode()
    ledger.acme_ap.refresh_from_db()
    assert ledger.acme_ap.email == "ap@acme.example"


def test_channel_consents_are_recorded_with_the_portal_as_source(
    acme_client: Client, ledger: Ledger
) -> None:
    ap = ledger.acme_ap
    assert (ap.consent_email, ap.consent_sms, ap.consent_call) == (True, False, True)
    response = acme_client.post(
        f"/portal/contacts/{ap.pk}/", {"form": "consent", "email": "on", "sms": "on"}
    )
    assert response.status_code == 302
    ap.refresh_from_db()
    assert (ap.consent_email, ap.consent_sms, ap.consent_call) == (True, True, False)
    records = ConsentRecord.objects.filter(contact=ap).order_by("channel")
    assert [(r.channel, r.granted, r.source, r.actor_label) for r in records] == [
        ("call", False, "portal", LABEL),
        ("sms", True, "portal", LABEL),
    ]
    assert ("consent granted", LABEL) in verbs(ledger)
    assert ("consent withdrawn", LABEL) in verbs(ledger)
    # The same choices again change nothing and record nothing.
    acme_client.post(f"/portal/contacts/{ap.pk}/", {"form": "consent", "email": "on", "sms": "on"})
    assert ConsentRecord.objects.filter(contact=ap).count() == 2


def test_the_tax_id_is_validated_for_the_country(acme_client: Client, ledger: Ledger) -> None:
    response = acme_client.post(
        "/portal/details/", {"tax_id": "DE 123456789", "preferred_channel": "email"}
    )
    assert response.status_code == 400
    assert "is not a valid DE tax id" in response.content.decode()
    ledger.acme.refresh_from_db()
    assert ledger.acme.tax_id == "" and ledger.acme.preferred_channel == ""
    response = acme_client.post(
        "/portal/details/", {"tax_id": "DE 136 695 976", "preferred_channel": "letter"}
    )
    assert response.status_code == 302
    ledger.acme.refresh_from_db()
    # Stored as the domain normalises it (python-stdnum's compact form).
    assert (ledger.acme.tax_id, ledger.acme.preferred_channel) == ("136695976", "letter")
    assert ("tax id updated", LABEL) in verbs(ledger)
    assert ("channel preference set", LABEL) in verbs(ledger)


def test_a_customer_link_without_a_contact_is_named_as_such(ledger: Ledger) -> None:
    from .portaldata import signed_in

    client = signed_in(Client(), ledger.acme)
    client.post("/portal/details/", {"tax_id": "DE136695976", "preferred_channel": "email"})
    assert ("tax id updated", "portal: customer link") in verbs(ledger)
