"""Getting into the portal: magic links, their expiry and revocation, the
scope of a session, e-mail sign-in without enumeration, rate limits."""

from __future__ import annotations

import io
from datetime import timedelta
from typing import Any
from unittest import mock

import pytest
from django.core import signing
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client
from django.utils import timezone

from arrears.comms.models import Message
from arrears.comms.rendering import OPTOUT_SALT, optout_token
from arrears.ledger.models import Activity
from arrears.portal.links import LINK_SALT, LinkInvalid, portal_token, portal_token_read
from arrears.portal.ratelimit import LINK_REQUEST_PER_ADDRESS, Limit, rate_limit_hit
from arrears.portal.services import portal_links_revoke

from .portaldata import Ledger, signed_in


def test_a_link_opens_the_portal_for_its_customer_only(ledger: Ledger) -> None:
    client = signed_in(Client(), ledger.acme, ledger.acme_ap)
    page = client.get("/portal/").content.decode()
    assert "Acme GmbH" in page and "A-1" in page
    assert "Other Ltd" not in page and "O-1" not in page
    opened = Activity.objects.get(customer=ledger.acme, verb="portal opened")
    assert opened.actor_label == "portal: ap@acme.example"


def test_the_link_redirects_so_the_token_leaves_the_address_bar(ledger: Ledger) -> None:
    response = Client().get(f"/portal/l/{portal_token(ledger.acme)}/")
    assert response.status_code == 302 and response["Location"] == "/portal/"
    assert "no-cache" in response["Cache-Control"] or "no-store" in response["Cache-Control"]


def test_without_a_session_the_portal_asks_to_sign_in(ledger: Ledger) -> None:
    for path in (
        "/portal/",
        "/portal/invoices/A-1/",
        "/portal/invoices/A-1/pdf/",
        "/portal/contacts/",
    ):
        response = Client().get(path)
        assert response.status_code == 302 and response["Location"] == "/portal/signin/", path


def _refused(client: Client, token: str) -> None:
    response = client.get(f"/portal/l/{token}/")
    assert response.status_code == 403
    assert b"does not work any more" in response.content
    assert client.get("/portal/").status_code == 302  # still no session


def test_a_tampered_token_gets_nothing(ledger: Ledger) -> None:
    token = portal_token(ledger.acme)
    payload, _, signature = token.rpartition(":")
    # Flip one character of the signature, then of the payload.
    flipped = signature[:-1] + ("A" if signature[-1] != "A" else "B")
    _refused(Client(), f"{payload}:{flipped}")
    head = token[0]
    _refused(Client(), ("b" if head != "b" else "c") + token[1:])


def test_a_token_naming_another_customer_cannot_be_forged(ledger: Ledger) -> None:
    # The acme token's signature over a payload that names the other customer.
    token = portal_token(ledger.acme)
    forged_payload = signing.TimestampSigner(salt=LINK_SALT, key="not the secret").sign_object(
        {"c": ledger.other.pk, "g": 0}
    )
    forged = forged_payload.rsplit(":", 1)[0] + ":" + token.rsplit(":", 1)[1]
    _refused(Client(), forged)


def test_a_token_signed_for_something_else_gets_nothing(ledger: Ledger) -> None:
    # An opt-out token from a real e-mail is signed with the same secret key
    # but another salt.
    _refused(Client(), optout_token([ledger.acme_ap.pk], "email"))
    _refused(Client(), signing.dumps({"c": ledger.acme.pk, "g": 0}, salt=OPTOUT_SALT))
    _refused(Client(), "not-a-token")


def test_an_expired_token_gets_nothing(ledger: Ledger, settings: object) -> None:
    settings.ARREARS_PORTAL_LINK_DAYS = 30  # type: ignore[attr-defined]
    issued = timezone.now() - timedelta(days=31)
    with mock.patch("time.time", return_value=issued.timestamp()):
        old = portal_token(ledger.acme)
    _refused(Client(), old)
    with mock.patch("time.time", return_value=(issued + timedelta(days=2)).timestamp()):
        recent = portal_token(ledger.acme)
    assert portal_token_read(recent).customer == ledger.acme


def test_the_link_lifetime_is_configurable(ledger: Ledger, settings: object) -> None:
    issued = timezone.now() - timedelta(days=3)
    with mock.patch("time.time", return_value=issued.timestamp()):
        token = portal_token(ledger.acme)
    settings.ARREARS_PORTAL_LINK_DAYS = 2  # type: ignore[attr-defined]
    with pytest.raises(LinkInvalid):
        portal_token_read(token)
    settings.ARREARS_PORTAL_LINK_DAYS = 4  # type: ignore[attr-defined]
    assert portal_token_read(token).customer == ledger.acme


def test_a_revoked_link_and_its_session_stop_working(ledger: Ledger) -> None:
    token = portal_token(ledger.acme)
    client = Client()
    assert client.get(f"/portal/l/{token}/").status_code == 302
    assert client.get("/portal/").status_code == 200
    portal_links_revoke(customer=ledger.acme, actor_label="dana")
    assert client.get("/portal/").status_code == 302  # the session ended with it
    _refused(Client(), token)
    # A link made after the revocation works.
    assert Client().get(f"/portal/l/{portal_token(ledger.acme)}/").status_code == 302
    assert Activity.objects.filter(customer=ledger.acme, verb="portal links revoked").exists()
    # Revoking one customer's links leaves the other's alone.
    assert portal_token_read(portal_token(ledger.other)).customer == ledger.other


def test_another_customers_invoice_is_404_like_an_unknown_one(acme_client: Client) -> None:
    assert acme_client.get("/portal/invoices/A-1/").status_code == 200
    assert acme_client.get("/portal/invoices/A-1/pdf/").status_code == 200
    for path in (
        "/portal/invoices/O-1/",
        "/portal/invoices/O-1/pdf/",
        "/portal/invoices/NOPE/",
        "/portal/invoices/NOPE/pdf/",
    ):
        assert acme_client.get(path).status_code == 404, path


def test_another_customers_contact_is_404(acme_client: Client, ledger: Ledger) -> None:
    assert acme_client.get(f"/portal/contacts/{ledger.acme_ap.pk}/").status_code == 200
    path = f"/portal/contacts/{ledger.other_ap.pk}/"
    assert acme_client.get(path).status_code == 404
    response = acme_client.post(path, {"form": "contact", "email": "evil@example.com"})
    assert response.status_code == 404
    ledger.other_ap.refresh_from_db()
    assert ledger.other_ap.email == "ap@other.example"


def test_another_customers_invoice_cannot_be_promised_or_disputed(
    acme_client: Client, ledger: Ledger
) -> None:
    promised = (ledger.today + timedelta(days=5)).isoformat()
    response = acme_client.post("/portal/promise/", {"promised_on": promised, "invoices": ["O-1"]})
    assert response.status_code == 400
    response = acme_client.post(
        "/portal/dispute/", {"invoices": ["O-1"], "reason": "pricing", "description": "x"}
    )
    assert response.status_code == 400
    assert (
        not Activity.objects.filter(customer=ledger.other)
        .exclude(verb="")
        .filter(actor_label__startswith="portal")
        .exists()
    )


def test_signing_in_by_email_answers_the_same_for_known_and_unknown_addresses(
    ledger: Ledger,
) -> None:
    known = Client().post("/portal/signin/", {"email": "AP@acme.example"})
    unknown = Client().post("/portal/signin/", {"email": "nobody@acme.example"})
    assert known.status_code == unknown.status_code == 200

    def body(response: Any, email: str) -> str:
        return str(response.content.decode()).replace(email, "ADDRESS")

    assert body(known, "AP@acme.example") == body(unknown, "nobody@acme.example")
    [message] = Message.objects.all()
    assert message.template_key == "portal-link"
    assert message.customer == ledger.acme and message.contact == ledger.acme_ap
    assert Activity.objects.get(verb="portal link requested").customer == ledger.acme


def test_no_link_is_emailed_to_a_contact_that_opted_out_or_bounced(ledger: Ledger) -> None:
    ledger.acme_ap.opted_out_email = True
    ledger.acme_ap.save()
    ledger.other_ap.email_bounced = True
    ledger.other_ap.save()
    for address in ("ap@acme.example", "ap@other.example"):
        assert Client().post("/portal/signin/", {"email": address}).status_code == 200
    assert not Message.objects.exists()


def test_link_requests_are_rate_limited_per_address(ledger: Ledger) -> None:
    for n in range(LINK_REQUEST_PER_ADDRESS.hits):
        client = Client(REMOTE_ADDR=f"10.0.0.{n}")
        assert client.post("/portal/signin/", {"email": "ap@acme.example"}).status_code == 200
    refused = Client(REMOTE_ADDR="10.0.0.99").post("/portal/signin/", {"email": "ap@acme.example"})
    assert refused.status_code == 429
    # Once a minute apart at most: each accepted request queued one e-mail.
    assert Message.objects.count() <= LINK_REQUEST_PER_ADDRESS.hits
    # Another address from a fresh client is not affected.
    other = Client(REMOTE_ADDR="10.0.0.100").post("/portal/signin/", {"email": "ap@other.example"})
    assert other.status_code == 200


def test_link_requests_are_rate_limited_per_client(ledger: Ledger) -> None:
    client = Client(REMOTE_ADDR="10.9.9.9")
    answers = [
        client.post("/portal/signin/", {"email": f"probe{n}@acme.example"}).status_code
        for n in range(12)
    ]
    assert answers[:10] == [200] * 10
    assert answers[10:] == [429, 429]


def test_guessing_tokens_is_rate_limited(ledger: Ledger) -> None:
    client = Client(REMOTE_ADDR="10.7.7.7")
    answers = [client.get(f"/portal/l/guess{n}/").status_code for n in range(31)]
    assert answers[:30] == [403] * 30 and answers[30] == 429
    # Even a valid link waits until the window has passed.
    assert client.get(f"/portal/l/{portal_token(ledger.acme)}/").status_code == 429


def test_the_limit_is_kept_in_the_database_so_it_holds_across_processes(db: None) -> None:
    limit = Limit("test", 2, 60)
    now = timezone.now()
    assert rate_limit_hit(limit, "1.2.3.4", now=now)
    assert rate_limit_hit(limit, "1.2.3.4", now=now)
    assert not rate_limit_hit(limit, "1.2.3.4", now=now)
    # Nothing is remembered in the process: the count is in the table.
    from arrears.portal.models import RateLimitWindow

    row = RateLimitWindow.objects.get()
    assert row.hits == 3 and "1.2.3.4" not in row.key
    # The next window starts afresh.
    assert rate_limit_hit(limit, "1.2.3.4", now=now + timedelta(seconds=61))


def test_portal_forms_are_rate_limited_per_customer(acme_client: Client, settings: object) -> None:
    from arrears.portal import ratelimit

    tight = Limit("form-customer", 3, 3600)
    with (
        mock.patch.object(ratelimit, "FORM_PER_CUSTOMER", tight),
        mock.patch("arrears.portal.views.FORM_PER_CUSTOMER", tight),
    ):
        answers = [
            acme_client.post(
                "/portal/details/", {"tax_id": "x", "preferred_channel": "email"}
            ).status_code
            for _ in range(4)
        ]
    assert answers == [400, 400, 400, 429]


def test_forms_need_the_csrf_token(ledger: Ledger) -> None:
    client = signed_in(Client(enforce_csrf_checks=True), ledger.acme, ledger.acme_ap)
    response = client.post(
        "/portal/details/", {"tax_id": "DE136695976", "preferred_channel": "email"}
    )
    assert response.status_code == 403
    assert (
        Client(enforce_csrf_checks=True)
        .post("/portal/signin/", {"email": "ap@acme.example"})
        .status_code
        == 403
    )


def test_the_command_prints_a_working_link_and_refuses_an_unknown_ref(ledger: Ledger) -> None:
    out = io.StringIO()
    call_command("portal", "link", "ACME", stdout=out, stderr=io.StringIO())
    url = out.getvalue().strip()
    assert url.startswith("http://127.0.0.1:8000/portal/l/")
    token = url.rstrip("/").rsplit("/", 1)[1]
    assert portal_token_read(token).customer == ledger.acme
    with pytest.raises(CommandError) as refused:
        call_command("portal", "link", "NOPE", stdout=io.StringIO())
    assert refused.value.returncode == 2
    call_command("portal", "revoke", "ACME", stdout=io.StringIO())
    with pytest.raises(LinkInvalid):
        portal_token_read(token)
