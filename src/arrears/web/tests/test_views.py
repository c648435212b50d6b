"""The landing page (dashboard) and logging in and out."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone
from pytest_django import DjangoAssertNumQueries

from arrears.domain.money import Money
from arrears.ledger.demo import demo_files_load, demo_files_write, demo_rows
from arrears.ledger.selectors import ar_totals
from arrears.web.selectors import customers_top_overdue


@pytest.fixture
def demo_ledger(db: None, tmp_path: Path) -> None:
    rows = demo_rows(today=timezone.localdate(), customers=25, seed=11)
    demo_files_load(demo_files_write(tmp_path, rows))


def money_html(amount: Money) -> str:
    number, currency = str(amount).split(" ")
    return f'{number}&nbsp;<span class="ccy">{currency}</span>'


def test_dashboard_sends_anonymous_visitors_to_the_login_page(client: Client, db: None) -> None:
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"] == "/login/?next=/"


def test_login_page_logs_in_and_returns_to_the_dashboard(client: Client, staff: User) -> None:
    page = client.get("/login/?next=/")
    assert page.status_code == 200
    assert b'name="password"' in page.content

    response = client.post(
        "/login/", {"username": "collector", "password": "a long test password", "next": "/"}
    )

    assert response.status_code == 302
    assert response["Location"] == "/"
    assert client.get("/").status_code == 200


def test_login_with_a_wrong_password_is_refused(client: Client, staff: User) -> None:
    response = client.post("/login/", {"username": "collector", "password": "wrong"})
    assert response.status_code == 200
    assert b'role="alert"' in response.content
    assert client.get("/").status_code == 302


def test_logout_is_a_post_and_ends_the_session(client: Client, staff: User) -> None:
    client.force_login(staff)
    response = client.post("/logout/")
    assert response.status_code == 302
    assert response["Location"] == "/login/"
    assert client.get("/").status_code == 302


def test_dashboard_shows_the_ledgers_ar_and_overdue_per_currency(
    client: Client, staff: User, demo_ledger: None
) -> None:
    client.force_login(staff)
    response = client.get("/")

    assert response.status_code == 200
    html = response.content.decode()
    totals = ar_totals(timezone.localdate())
    assert set(totals) == {"USD", "EUR", "GBP"}
    for currency, t in totals.items():
        assert money_html(Money(t["ar"], currency)) in html
        assert money_html(Money(t["overdue"], currency)) in html
        worst = customers_top_overdue(as_of=timezone.localdate(), currency=currency)[0]
        assert worst.name in html
    assert '<div class="figure">25</div>' in html


def test_dashboard_shows_an_empty_state_before_any_import(client: Client, staff: User) -> None:
    client.force_login(staff)
    response = client.get("/")
    assert response.status_code == 200
    assert b"Nothing is open yet" in response.content


def test_dashboard_links_the_pages_that_exist(client: Client, staff: User) -> None:
    client.force_login(staff)
    html = client.get("/").content.decode()
    assert 'href="/" aria-current="page">Dashboard' in html
    assert 'href="/admin/"' in html
    assert 'href="/api/v1/docs"' in html
    assert "/static/web/arrears.css" in html


def test_dashboard_queries_do_not_grow_with_the_ledger(
    client: Client,
    staff: User,
    demo_ledger: None,
    django_assert_num_queries: DjangoAssertNumQueries,
) -> None:
    client.force_login(staff)
    # session, user, aging (AR and overdue too), unapplied cash, customers,
    # top 10 per currency (3); today's run, broken promises, failed
    # messages, metrics now (3) and the 12-month trend (3)
    with django_assert_num_queries(17):
        assert client.get("/").status_code == 200
