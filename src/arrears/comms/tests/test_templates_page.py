"""The staff pages for templates: the list and the sample-data preview."""

from __future__ import annotations

import html

import pytest
from django.contrib.auth.models import User
from django.test import Client

from arrears.comms.catalog import template_save, templates_sync

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client: Client) -> Client:
    client.force_login(User.objects.create_user("collector", password="a long test password"))
    return client


def test_the_template_pages_need_a_login(client: Client) -> None:
    for url in ("/templates/", "/templates/inquiry/email/en/"):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith("/login/")


def test_the_list_shows_every_shipped_template_loading_them_first(staff_client: Client) -> None:
    page = staff_client.get("/templates/").content.decode()
    for key in ("reminder-before-due", "final-demand", "white-glove-firm", "promise-confirmation"):
        assert key in page
    assert 'href="/templates/final-demand/letter/de/"' in page
    assert "Final demand naming a deadline" in page


def test_an_email_preview_shows_subject_html_and_text_with_sample_data(
    staff_client: Client,
) -> None:
    response = staff_client.get("/templates/firm-reminder/email/de/")
    assert response.status_code == 200
    page = response.content.decode()
    assert "Zahlungserinnerung: 1.730,40 EUR und 2.400,00 USD" in page
    assert "<iframe" in page and "sandbox" in page
    srcdoc = html.unescape(page.split('srcdoc="', 1)[1].split('"', 1)[0])
    assert "<strong>INV-2031</strong>" in srcdoc
    assert "Plain-text part" in page and "Nordwind Handels GmbH" in page


def test_older_versions_can_be_previewed(staff_client: Client) -> None:
    templates_sync(actor_label="test")
    template_save(
        key="inquiry",
        channel="sms",
        language="en",
        subject="",
        body="Edited: {% total_open %}",
        actor_label="manager",
    )
    current = staff_client.get("/templates/inquiry/sms/en/").content.decode()
    assert "Edited: EUR 1,730.40 and USD 2,400.00" in current
    assert "manager" in current
    old = staff_client.get("/templates/inquiry/sms/en/?version=1").content.decode()
    assert "Edited:" not in old and "are now past due" in old
    assert "not in use" in old


def test_an_unknown_template_is_not_found(staff_client: Client) -> None:
    assert staff_client.get("/templates/nope/email/en/").status_code == 404
