"""The admin edits the brand; the outbox and its records are read-only there."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import Client

from arrears.comms.rendering import brand_current

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client: Client) -> Client:
    client.force_login(User.objects.create_superuser("root", password="a long test password"))
    return client


def test_the_brand_is_edited_in_the_admin(admin_client: Client) -> None:
    brand = brand_current()
    page = admin_client.get(f"/admin/comms/brand/{brand.pk}/change/")
    assert page.status_code == 200 and "How to pay" in page.content.decode()
    form = {
        "company_name": "Nordwind GmbH",
        "sender_name": "Buchhaltung",
        "sender_email": "ar@nordwind.example",
        "public_url": "https://ar.nordwind.example",
        "logo_url": "",
        "primary_colour": "#204060",
        "postal_address": "Hafenstr. 1\n20457 Hamburg",
        "phone": "",
        "website": "",
        "legal_footer": "",
        "bank_name": "",
        "iban": "",
        "bic": "",
        "payment_instructions": "",
    }
    admin_client.post(f"/admin/comms/brand/{brand.pk}/change/", form)
    assert brand_current().company_name == "Nordwind GmbH"
    # One brand only: no second one, and it cannot be deleted.
    assert admin_client.get("/admin/comms/brand/add/").status_code == 403
    assert admin_client.get(f"/admin/comms/brand/{brand.pk}/delete/").status_code == 403


def test_the_outbox_is_read_only_in_the_admin(admin_client: Client) -> None:
    assert admin_client.get("/admin/comms/message/").status_code == 200
    assert admin_client.get("/admin/comms/message/add/").status_code == 403
    assert admin_client.get("/admin/comms/task/").status_code == 200
    assert admin_client.get("/admin/comms/consentrecord/add/").status_code == 403
