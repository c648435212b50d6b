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


@pytest.fixture
def manager_client(client: Client) -> Client:
    from django.contrib.auth.models import Group

    from arrears.web.roles import MANAGER, roles_ensure

    roles_ensure()
    manager = User.objects.create_user("mona", password="a long test password")
    manager.groups.add(Group.objects.get(name=MANAGER))
    client.force_login(manager)
    return client


def test_a_manager_edits_a_template_into_a_new_version(manager_client: Client) -> None:
    from arrears.comms.catalog import template_active
    from arrears.ledger.models import Activity

    templates_sync(actor_label="t")
    form = manager_client.get("/templates/inquiry-call/call/en/edit/")
    assert form.status_code == 200
    response = manager_client.post(
        "/templates/inquiry-call/call/en/edit/",
        {"body": "Hello {{ greeting_name }}, about {{ invoices|length }} invoice(s)."},
        follow=True,
    )
    assert "Saved as version 2" in response.content.decode()
    active = template_active("inquiry-call", "call", "en")
    assert (active.version, active.source, active.created_by) == (2, "user", "mona")
    assert Activity.objects.get(verb="template saved").subject_ref == "inquiry-call call en v2"
    # The shipped version can be put back.
    shipped = active.__class__.objects.get(key="inquiry-call", channel="call", version=1)
    manager_client.post(f"/templates/use/{shipped.pk}/")
    assert template_active("inquiry-call", "call", "en").version == 1


def test_a_template_that_does_not_compile_is_refused_with_its_line(
    manager_client: Client,
) -> None:
    from arrears.comms.models import MessageTemplate

    templates_sync(actor_label="t")
    before = MessageTemplate.objects.count()
    response = manager_client.post(
        "/templates/inquiry-call/call/en/edit/", {"body": "Hello\n{% if %}"}
    )
    assert response.status_code == 200
    assert "body, line 2" in response.content.decode()
    assert MessageTemplate.objects.count() == before


def test_a_collector_cannot_edit_templates(staff_client: Client) -> None:
    templates_sync(actor_label="t")
    assert staff_client.get("/templates/inquiry-call/call/en/edit/").status_code == 403
    assert (
        staff_client.post("/templates/inquiry-call/call/en/edit/", {"body": "changed"}).status_code
        == 403
    )
    page = staff_client.get("/templates/inquiry-call/call/en/").content.decode()
    assert "Edit (saves a new version)" not in page
