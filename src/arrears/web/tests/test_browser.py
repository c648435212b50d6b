"""The staff app in a real browser: Debian's chromium driven by Playwright
against a live server (never a downloaded browser).

Playwright's sync API runs an event loop in this thread, so Django's
"async unsafe" guard is switched off for this module's database access.
Each xdist worker starts its own live server and browser.
"""

from __future__ import annotations

import os
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from .staffdata import PASSWORD, Staff, call_task, customers_create, users_create

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = Path("/usr/bin/chromium")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed"),
]

playwright_api = pytest.importorskip("playwright.sync_api")
Page = playwright_api.Page
expect = playwright_api.expect


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    return {**browser_type_launch_args, "executable_path": str(CHROMIUM)}


@pytest.fixture
def staff(transactional_db: None) -> Staff:
    return users_create()


def sign_in(page: Any, base: str, username: str) -> None:
    page.goto(f"{base}/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name=re.compile("log in|sign in", re.I)).click()
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()


def test_sign_in_reaches_the_dashboard(page: Any, live_server: Any, staff: Staff) -> None:
    sign_in(page, live_server.url, "ann")
    expect(page.get_by_role("link", name="Worklist", exact=True)).to_be_visible()


def test_a_call_with_a_promise_is_logged_in_place_and_pauses_reminders(
    page: Any, live_server: Any, staff: Staff
) -> None:
    [customer] = customers_create(1, today=timezone.localdate())
    task = call_task(customer, to=staff.ann)
    sign_in(page, live_server.url, "ann")
    page.get_by_role("link", name="Worklist", exact=True).click()
    row = page.locator(f"#task-{task.pk}")
    expect(row).to_contain_text("inquire: 40 days past due")
    row.get_by_label("Call outcome").select_option("promise")
    promised = timezone.localdate() + timedelta(days=7)
    row.get_by_label("By").fill(promised.isoformat())
    row.get_by_label("Amount").fill("100")
    url = page.url
    row.get_by_role("button", name="Log call").click()
    # htmx swapped the row: same page, the row now says what happened.
    expect(page.locator(f"#task-{task.pk}")).to_contain_text("done: Spoke — promise to pay")
    assert page.url == url
    page.get_by_role("link", name=re.compile("timeline")).click()
    timeline = page.locator("ol.timeline")
    expect(timeline).to_contain_text("Promise to pay")
    expect(timeline).to_contain_text("reminders paused until")
    expect(page.locator(".notice")).to_contain_text("On hold")


def test_a_dispute_takes_the_invoice_out_of_the_dunning_flow(
    page: Any, live_server: Any, staff: Staff
) -> None:
    [customer] = customers_create(1, today=timezone.localdate())
    sign_in(page, live_server.url, "ann")
    page.goto(f"{live_server.url}/customers/{customer.ref}/")
    page.get_by_text("Open a dispute").click()
    page.get_by_label(f"{customer.ref}-1").last.check()
    page.get_by_label("Reason").select_option("quality")
    page.get_by_label("What the customer says").fill("damaged pallets")
    page.get_by_role("button", name="Open dispute").click()
    expect(page.locator(".flash")).to_contain_text("left out of the dunning flow")
    page.get_by_role("link", name=f"{customer.ref}-1", exact=True).first.click()
    expect(page.get_by_role("heading", name=f"Invoice {customer.ref}-1")).to_be_visible()
    decision = page.locator(".policy-decision")
    expect(decision).to_have_attribute("data-outcome", "disputed")
    expect(decision).to_contain_text("disputed")
    expect(page.locator(".badge.warn").first).to_have_text("disputed")


def test_dashboard_charts_render_with_data(page: Any, live_server: Any, staff: Staff) -> None:
    customers_create(4, today=timezone.localdate())
    sign_in(page, live_server.url, "ann")
    chart = page.locator("figure.chart svg").first
    expect(chart).to_be_visible()
    path = chart.locator("path.line.dso")
    assert re.match(r"M[\d.]+,[\d.]+", path.get_attribute("d") or "")
    assert chart.locator("circle.dot").count() > 0
    expect(page.locator(".agebar").first).to_be_visible()


def test_a_contact_is_added_corrected_and_its_consent_recorded(
    page: Any, live_server: Any, staff: Staff
) -> None:
    [customer] = customers_create(1, today=timezone.localdate())
    sign_in(page, live_server.url, "ann")
    page.goto(f"{live_server.url}/customers/{customer.ref}/")
    page.get_by_role("link", name="Add a contact").click()
    page.get_by_label("Name").fill("Dana Director")
    page.get_by_label("Role").select_option("owner")
    page.get_by_label("Phone").fill("12")  # too short to be a number
    page.get_by_role("button", name="Add contact").click()
    # Refused in place: the field says why and keeps what was typed.
    phone = page.get_by_label("Phone")
    expect(phone).to_have_attribute("aria-invalid", "true")
    expect(phone).to_have_value("12")
    expect(page.locator("#id_phone-err")).to_be_visible()
    expect(page.get_by_label("Name")).to_have_value("Dana Director")
    phone.fill("(202) 555-0199")
    page.get_by_role("button", name="Add contact").click()
    expect(page.locator(".flash")).to_contain_text("Contact Dana Director")
    contacts = page.locator("section[aria-labelledby=contacts]")
    expect(contacts).to_contain_text("Dana Director")
    expect(contacts.get_by_role("link", name="+12025550199")).to_have_attribute(
        "href", "tel:+12025550199"
    )
    page.get_by_role("link", name=re.compile("Edit Dana Director")).click()
    consent = page.locator("section[aria-labelledby=contact-consent]")
    calls = consent.locator("tr", has_text="Calls")
    expect(calls).to_have_text(re.compile(r"Calls\s*yes\s*no"))  # consent, not opted out
    page.get_by_label("Channel").select_option("call")
    page.get_by_label("withdrawn consent").check()
    page.get_by_label(re.compile("Source note")).fill("asked on the phone not to be called")
    page.get_by_role("button", name="Record consent").click()
    expect(consent).to_contain_text("asked on the phone not to be called")
    expect(calls).to_have_text(re.compile(r"Calls\s*no\s*no"))
    page.get_by_role("link", name=customer.name).click()
    row = page.locator("section[aria-labelledby=contacts] tr", has_text="Dana Director")
    expect(row).to_contain_text(re.compile(r"calls\s+no"))


def test_a_contact_from_the_customers_file_keeps_its_fields_read_only(
    page: Any, live_server: Any, staff: Staff
) -> None:
    [customer] = customers_create(1, today=timezone.localdate())
    sign_in(page, live_server.url, "ann")
    page.goto(f"{live_server.url}/customers/{customer.ref}/")
    page.get_by_role("link", name=re.compile("^Edit")).first.click()
    expect(page.locator(".notice")).to_contain_text("comes from the customers file")
    expect(page.get_by_label(re.compile("^E-mail"))).to_have_attribute("readonly", "")
    page.get_by_label("Name").fill("Accounts payable desk")
    page.get_by_role("button", name="Save contact").click()
    expect(page.locator(".flash")).to_contain_text("saved")
    expect(page.get_by_label("Name")).to_have_value("Accounts payable desk")


PDF = b"%PDF-1.4\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n"


def test_a_document_is_attached_to_an_invoice_and_listed_on_both_pages(
    page: Any, live_server: Any, staff: Staff, tmp_path: Path, settings: Any
) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"
    [customer] = customers_create(1, today=timezone.localdate())
    sign_in(page, live_server.url, "ann")
    page.goto(f"{live_server.url}/customers/{customer.ref}/")
    page.get_by_text("Attach a document").click()
    form = page.locator("form", has=page.get_by_label(re.compile("^File")))
    form.get_by_label(re.compile("^File")).set_input_files(
        {"name": "not a pdf.pdf", "mimeType": "application/pdf", "buffer": b"MZ\x90\x00"}
    )
    form.get_by_role("button", name="Attach").click()
    expect(page.locator(".flash")).to_contain_text("is not a PDF, PNG or JPEG file")
    page.get_by_text("Attach a document").click()
    form.get_by_label(re.compile("^File")).set_input_files(
        {"name": "proof of delivery.pdf", "mimeType": "application/pdf", "buffer": PDF}
    )
    form.get_by_label(re.compile("About invoice")).select_option(f"{customer.ref}-1")
    form.get_by_label("Note").fill("signed by the driver")
    form.get_by_role("button", name="Attach").click()
    expect(page.locator(".flash")).to_contain_text("Document proof of delivery.pdf attached.")
    documents = page.locator("section[aria-labelledby=documents]")
    expect(documents.get_by_role("link", name="proof of delivery.pdf")).to_be_visible()
    documents.get_by_role("link", name=f"{customer.ref}-1").click()
    expect(page.get_by_role("heading", name=f"Invoice {customer.ref}-1")).to_be_visible()
    listed = page.locator("section[aria-labelledby=documents]")
    expect(listed).to_contain_text("signed by the driver")
    with page.expect_download() as download:
        listed.get_by_role("link", name="proof of delivery.pdf").click()
    saved = tmp_path / "downloaded.pdf"
    download.value.save_as(saved)
    assert saved.read_bytes() == PDF
