"""Documents attached on the customer page: checked, stored under
MEDIA_ROOT/documents/, on the timeline, downloaded by staff only."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone

from arrears.ledger.models import Activity, Customer
from arrears.web.models import Document

from .staffdata import PASSWORD, Staff, customers_create, users_create

pytestmark = pytest.mark.django_db

PDF = b"%PDF-1.4\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n"


@pytest.fixture(autouse=True)
def media_root(tmp_path: Path, settings: object) -> Path:
    root = tmp_path / "media"
    settings.MEDIA_ROOT = root  # type: ignore[attr-defined]
    return root


@pytest.fixture
def staff() -> Staff:
    return users_create()


@pytest.fixture
def customer() -> Customer:
    [c] = customers_create(1, today=timezone.localdate())
    return c


def signed_in(user: User) -> Client:
    client = Client()
    assert client.login(username=user.username, password=PASSWORD)
    return client


def _upload(client: Client, customer: Customer, content: bytes, name: str, **fields: str) -> str:
    response = client.post(
        f"/customers/{customer.ref}/documents/",
        {"file": SimpleUploadedFile(name, content, "application/octet-stream"), **fields},
    )
    assert response.status_code == 302
    return str(response["Location"])


def test_a_pdf_is_attached_stored_and_on_the_timeline(
    staff: Staff, customer: Customer, media_root: Path
) -> None:
    client = signed_in(staff.ann)
    where = _upload(
        client, customer, PDF, "../../proof of delivery.pdf", invoice_ref="C000-1", note="signed"
    )
    assert where.endswith("#documents")
    document = Document.objects.get()
    assert (document.name, document.content_type, document.size) == (
        "proof of delivery.pdf",
        "application/pdf",
        len(PDF),
    )
    assert (document.invoice.ref if document.invoice else None, document.uploaded_by) == (
        "C000-1",
        staff.ann,
    )
    stored = media_root / document.file.name
    assert document.file.name.startswith("documents/") and stored.read_bytes() == PDF
    assert "proof" not in document.file.name  # never the uploader's name on disk
    entry = Activity.objects.get(verb="document attached")
    assert (entry.customer, entry.actor, entry.subject_ref) == (
        customer,
        staff.ann,
        str(document.pk),
    )
    assert entry.why == "proof of delivery.pdf · for C000-1 · signed"
    page = client.get(f"/customers/{customer.ref}/").content.decode()
    assert page.count(f'href="/documents/{document.pk}/"') == 2  # the list and the timeline


def test_the_invoice_page_lists_the_documents_attached_to_that_invoice(
    staff: Staff, customer: Customer
) -> None:
    client = signed_in(staff.ann)
    _upload(client, customer, PDF, "delivery note.pdf", invoice_ref="C000-1", note="signed")
    _upload(client, customer, PDF, "general terms.pdf")
    document = Document.objects.get(name="delivery note.pdf")
    page = client.get("/invoices/C000-1/").content.decode()
    assert f'href="/documents/{document.pk}/">delivery note.pdf</a>' in page
    assert "signed" in page and "general terms.pdf" not in page
    other = client.get("/invoices/C000-2/").content.decode()
    assert "delivery note.pdf" not in other
    assert "No document attached to this invoice." in other
    assert f'href="/customers/{customer.ref}/#actions"' in other


def test_a_file_that_is_not_pdf_png_or_jpeg_is_refused(staff: Staff, customer: Customer) -> None:
    client = signed_in(staff.ann)
    where = _upload(client, customer, b"MZ\x90\x00 not really a pdf", "invoice.pdf")
    assert where.endswith("#actions")
    assert not Document.objects.exists()
    assert not Activity.objects.filter(verb="document attached").exists()
    page = client.get(f"/customers/{customer.ref}/").content.decode()
    assert "invoice.pdf is not a PDF, PNG or JPEG file" in page


def test_a_file_over_the_size_limit_is_refused(
    staff: Staff, customer: Customer, settings: object, media_root: Path
) -> None:
    settings.ARREARS_PORTAL_UPLOAD_MAX_MB = 1  # type: ignore[attr-defined]
    client = signed_in(staff.ann)
    _upload(client, customer, PDF + b"0" * (1024 * 1024), "big.pdf")
    assert not Document.objects.exists()
    assert not (media_root / "documents").exists()


def test_another_customers_invoice_is_refused_and_nothing_is_stored(
    staff: Staff, customer: Customer, media_root: Path
) -> None:
    customers_create(1, today=timezone.localdate(), prefix="D")
    client = signed_in(staff.ann)
    _upload(client, customer, PDF, "a.pdf", invoice_ref="D000-1")
    assert not Document.objects.exists()
    assert not (media_root / "documents").exists()
    page = client.get(f"/customers/{customer.ref}/").content.decode()
    assert "no invoice D000-1 for customer C000" in page


def test_a_document_downloads_with_its_name_and_type(staff: Staff, customer: Customer) -> None:
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
    client = signed_in(staff.ann)
    _upload(client, customer, png, "remittance.png")
    document = Document.objects.get()
    response = client.get(f"/documents/{document.pk}/")
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert 'filename="remittance.png"' in response["Content-Disposition"]
    assert b"".join(response.streaming_content) == png  # type: ignore[attr-defined]


def test_documents_need_sign_in(staff: Staff, customer: Customer) -> None:
    _upload(signed_in(staff.ann), customer, PDF, "a.pdf")
    document = Document.objects.get()
    anonymous = Client()
    assert anonymous.get(f"/documents/{document.pk}/").status_code == 302
    response = anonymous.post(
        f"/customers/{customer.ref}/documents/",
        {"file": SimpleUploadedFile("b.pdf", PDF)},
    )
    assert response.status_code == 302 and "/login/" in response["Location"]
    assert Document.objects.count() == 1


def test_an_upload_without_a_file_says_so(staff: Staff, customer: Customer) -> None:
    client = signed_in(staff.ann)
    response = client.post(f"/customers/{customer.ref}/documents/", {"note": "x"}, follow=True)
    assert "Choose a file to attach." in response.content.decode()
