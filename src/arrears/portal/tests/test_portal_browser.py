"""The portal in a real browser: Debian's chromium driven by Playwright
against a live server (never a downloaded browser), from the link in a
reminder e-mail rendered the way the outbox renders it.

Playwright's sync API runs an event loop in this thread, so Django's
"async unsafe" guard is switched off for this module's database access.
"""

from __future__ import annotations

import os
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from arrears.comms.catalog import templates_sync
from arrears.comms.compose import message_compose
from arrears.comms.models import Brand
from arrears.comms.outbox import message_queue
from arrears.ledger.models import Activity, Contact

from .portaldata import Ledger, ledger_create, manager_create

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = Path("/usr/bin/chromium")
LABEL = "portal: ap@acme.example"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed"),
]

playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    return {**browser_type_launch_args, "executable_path": str(CHROMIUM)}


@pytest.fixture
def ledger(transactional_db: None, live_server: Any) -> Ledger:
    Brand.objects.update_or_create(
        pk=1,
        defaults={
            "public_url": live_server.url,
            "company_name": "Northwind Supplies",
            "primary_colour": "#2a6f4e",
            "iban": "DE89370400440532013000",
            "bic": "COBADEFFXXX",
            "bank_name": "Commerzbank",
        },
    )
    return ledger_create()


def link_from_a_reminder(ledger: Ledger) -> str:
    """Render a real reminder to Acme's AP contact and take the portal link
    out of its text."""
    templates_sync(actor_label="test")
    message = message_queue(
        customer=ledger.acme,
        channel="email",
        template_key="inquiry",
        invoice_refs=["A-1"],
        actor_label="test",
        idempotency_key="browser-test-reminder",
    )
    composed = message_compose(message, now=timezone.now())
    assert composed.to == ("ap@acme.example",)
    match = re.search(r"See and pay your invoices online: (\S+)", composed.body_text)
    assert match, composed.body_text
    assert match.group(1) in composed.body_html
    return match.group(1)


def test_from_the_reminder_link_to_promise_dispute_and_contacts(
    page: Any, live_server: Any, ledger: Ledger, tmp_path: Path
) -> None:
    url = link_from_a_reminder(ledger)
    assert url.startswith(live_server.url + "/portal/l/")
    page.goto(url)
    expect(page.get_by_role("heading", name="Hello, Petra Payable")).to_be_visible()
    assert page.url == live_server.url + "/portal/"  # the token left the address bar
    expect(page.get_by_test_id("balance-EUR")).to_have_text("EUR 1,300.00")
    expect(page.get_by_test_id("balance-USD")).to_have_text("USD 1,234.56")

    # A promise to pay.
    page.get_by_role("navigation", name="Portal").get_by_role("link", name="Promise to pay").click()
    promised = timezone.localdate() + timedelta(days=9)
    page.get_by_label("We will pay by").fill(promised.isoformat())
    page.get_by_label("A-1 ·").check()
    page.get_by_role("button", name="Send my promise").click()
    expect(page.locator(".flash")).to_contain_text("noted your promise to pay")
    expect(page.locator(".notice").last).to_contain_text("We have your promise")

    # A dispute with a photo of the damage.
    evidence = tmp_path / "damage.pdf"
    evidence.write_bytes(b"%PDF-1.4\n%%EOF\n")
    page.get_by_role("navigation", name="Portal").get_by_role("link", name="Dispute").click()
    page.get_by_label("A-2 ·").check()
    page.get_by_label("Reason").select_option("quality")
    page.get_by_label("What is wrong").fill("Pallet 3 arrived crushed")
    page.get_by_label("Evidence (optional)").set_input_files(str(evidence))
    page.get_by_role("button", name="Send my dispute").click()
    expect(page.locator(".flash")).to_contain_text("Your dispute")
    expect(page.locator("table").first).to_contain_text("disputed")

    # A new AP contact, then a contact's channels.
    page.get_by_role("navigation", name="Portal").get_by_role("link", name="Contacts").click()
    page.get_by_label("Name").fill("Ann Accounts")
    page.get_by_label("E-mail").fill("ann@acme.example")
    page.get_by_role("button", name="Add contact").click()
    expect(page.locator(".flash")).to_contain_text("The contact was added")
    expect(page.locator("table")).to_contain_text("ann@acme.example")
    page.get_by_role("link", name="Edit Petra Payable").click()
    page.get_by_label("Text messages").check()
    page.get_by_role("button", name="Save choices").click()
    expect(page.locator(".flash")).to_contain_text("Your choices were saved")

    # Every action is on the staff side, as Petra.
    verbs = set(
        Activity.objects.filter(customer=ledger.acme, actor_label=LABEL).values_list(
            "verb", flat=True
        )
    )
    assert {
        "portal opened",
        "promise to pay",
        "dispute opened",
        "dispute evidence uploaded",
        "contact.created",
        "consent granted",
    } <= verbs
    assert Contact.objects.get(email="ann@acme.example").customer == ledger.acme

    # And a manager sees them on the customer's timeline.
    manager_create("mia")
    page.goto(f"{live_server.url}/login/")
    page.get_by_label("Username").fill("mia")
    page.get_by_label("Password").fill("a long test password")
    page.get_by_role("button", name=re.compile("log in|sign in", re.I)).click()
    page.goto(f"{live_server.url}/customers/ACME/")
    timeline = page.locator("ol.timeline")
    expect(timeline).to_contain_text("Promise to pay")
    expect(timeline).to_contain_text("Pallet 3 arrived crushed")
    expect(timeline).to_contain_text("contact.created")
    expect(timeline).to_contain_text(LABEL)


def test_a_stale_link_offers_a_new_one_and_the_answer_never_tells(
    page: Any, live_server: Any, ledger: Ledger
) -> None:
    page.goto(f"{live_server.url}/portal/l/not-a-real-token/")
    expect(page.get_by_role("heading", name="This link does not work any more")).to_be_visible()
    page.get_by_label("Your e-mail address").fill("nobody@nowhere.example")
    page.get_by_role("button", name="E-mail me a new link").click()
    expect(page.get_by_role("heading", name="Check your e-mail")).to_be_visible()


def test_the_portal_fits_a_phone(page: Any, live_server: Any, ledger: Ledger) -> None:
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(link_from_a_reminder(ledger))
    expect(page.get_by_role("heading", name="Hello, Petra Payable")).to_be_visible()
    # Nothing wider than the screen: no sideways scrolling of the page.
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, width
