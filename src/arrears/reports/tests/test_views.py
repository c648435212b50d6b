"""The report page (/reports/) and its CSV downloads."""

from __future__ import annotations

import csv
import io
import re
from datetime import date
from decimal import Decimal as D

import openpyxl
import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone
from pytest_django import DjangoAssertNumQueries

from arrears.reports.charts import line_chart, nice_ceiling
from arrears.reports.views import XLSX

from .conftest import DEMO_TODAY

Q1 = "as_of=2023-03-31&period_days=90"


@pytest.fixture
def staff(db: None) -> User:
    return User.objects.create_user("collector", password="a long test password", is_staff=True)


@pytest.fixture
def client_in(client: Client, staff: User) -> Client:
    client.force_login(staff)
    return client


def html_of(client: Client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, response.content[:500]
    return response.content.decode()


def test_reports_need_a_login(client: Client, db: None) -> None:
    for url in ["/reports/", "/reports/aging.csv", "/reports/metrics.csv"]:
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith("/login/?next=/reports/")


def test_the_page_shows_aging_metrics_and_the_trend_per_currency(
    client_in: Client, example_2023: None
) -> None:
    html = html_of(client_in, f"/reports/?{Q1}")

    assert "As of 31 March 2023" in html
    assert 'value="2023-03-31"' in html
    assert '<a href="/reports/" aria-current="page">Reports</a>' in html
    # Aging, per currency, with its stacked bar.
    assert '195,000.00&nbsp;<span class="ccy">USD</span>' in html
    assert '130,000.00&nbsp;<span class="ccy">USD</span>' in html
    assert '1,000.00&nbsp;<span class="ccy">EUR</span>' in html
    assert 'aria-label="USD aging: current 67%, 1-30 8%, 31-60 26%, 61-90 0%, 90+ 0%"' in html
    # The metrics, rounded, each with its definition.
    for figure in ["65.00", "64.17", "43.33", "21.67", "77.59", "6.35", "57.50", "33.33"]:
        assert f">{figure}<" in html or f">{figure} <" in html or f">{figure}&" in html, figure
    assert "Days sales outstanding: AR / credit sales" in html
    assert 'title="undefined (a zero denominator)"' in html  # EUR's CEI
    # The trend: one chart per currency, a line for each DSO.
    assert html.count("<svg") == 2
    assert re.search(r'<path class="line dso" d="M[\d.,]+( L[\d.,]+)*"', html)
    assert re.search(r'<path class="line best" d="M[\d.,]+', html)
    assert "DSO Mar 23: 65.00 days" in html


def test_the_page_links_csv_downloads_for_the_same_date_and_period(
    client_in: Client, example_2023: None
) -> None:
    html = html_of(client_in, f"/reports/?{Q1}")
    query = Q1.replace("&", "&amp;")
    assert f'href="/reports/aging.csv?{query}"' in html
    assert f'href="/reports/metrics.csv?{query}"' in html

    aging = client_in.get(f"/reports/aging.csv?{Q1}")
    assert aging["Content-Type"] == "text/csv; charset=utf-8"
    assert aging["Content-Disposition"] == 'attachment; filename="aging-2023-03-31.csv"'
    rows = list(csv.reader(io.StringIO(aging.content.decode())))
    assert rows[2] == ["USD", "130000.00", "15000.00", "50000.00", "0.00", "0.00", "195000.00", "5"]

    metrics = client_in.get(f"/reports/metrics.csv?{Q1}")
    assert metrics["Content-Disposition"] == 'attachment; filename="metrics-2023-03-31-90d.csv"'
    usd = next(
        r for r in csv.DictReader(io.StringIO(metrics.content.decode())) if r["currency"] == "USD"
    )
    assert (usd["dso"], usd["cei"], usd["ar_turnover"]) == ("65.00", "77.59", "6.35")

    by_customer = client_in.get(f"/reports/aging.csv?{Q1}&by=customer")
    assert "aging-2023-03-31-by-customer.csv" in by_customer["Content-Disposition"]
    assert "USD,U2,Customer U2," in by_customer.content.decode()


def test_the_excel_workbook_holds_aging_metrics_and_trend(
    client_in: Client, example_2023: None
) -> None:
    response = client_in.get(f"/reports/report.xlsx?{Q1}")
    assert response.status_code == 200
    assert response["Content-Type"] == XLSX
    assert "arrears-report-2023-03-31-90d.xlsx" in response["Content-Disposition"]

    book = openpyxl.load_workbook(io.BytesIO(response.content))

    assert book.sheetnames == ["Aging", "Metrics", "Trend"]
    aging = [list(r) for r in book["Aging"].iter_rows(values_only=True)]
    usd = next(r for r in aging if r[:2] == ["All", "USD"])
    assert usd[2:] == [130000, 15000, 50000, 0, 0, 195000, 5]
    assert ["US", "USD", 130000, 15000, 50000, 0, 0, 195000, 5] in aging
    metrics = {r[0]: r[1:] for r in book["Metrics"].iter_rows(min_row=3, values_only=True)}
    assert metrics[None][:2] == ("EUR", "USD")
    assert metrics["DSO"][:2] == (90, 65)
    assert metrics["DSO (countback)"][1] == pytest.approx(64.17)
    assert metrics["Collection effectiveness index"][:2] == (None, pytest.approx(77.59))
    assert metrics["Receivables (AR)"][:2] == (1000, 195000)
    trend = [r for r in book["Trend"].iter_rows(values_only=True) if r and r[0]]
    march = next(r for r in trend if str(r[0]).startswith("2023-03-31") and r[1] == 65)
    assert march[1:5] == (65, pytest.approx(43.33), pytest.approx(77.59), pytest.approx(33.33))


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("as_of=2023-02-30", "Enter a valid date."),
        ("as_of=31.03.2023", "Enter a valid date."),
        ("period_days=0", "greater than or equal to 1"),
        ("period_days=many", "Enter a whole number."),
    ],
)
def test_a_bad_date_or_period_is_a_bad_request_that_says_why(
    client_in: Client, query: str, message: str
) -> None:
    page = client_in.get(f"/reports/?{query}")
    assert page.status_code == 400
    assert message in page.content.decode()
    assert 'role="alert"' in page.content.decode()
    for download in ["aging.csv", "metrics.csv", "report.xlsx"]:
        response = client_in.get(f"/reports/{download}?{query}")
        assert response.status_code == 400
        assert message in response.content.decode()


def test_an_empty_ledger_says_there_is_nothing_to_report(client_in: Client) -> None:
    html = html_of(client_in, "/reports/")
    assert "Nothing to report at this date" in html
    assert "<svg" not in html


def test_the_dashboard_links_the_report_page(client_in: Client) -> None:
    assert '<a href="/reports/">Reports</a>' in html_of(client_in, "/")


@pytest.mark.parametrize("ledger", ["example_2023", "demo_ledger"])
def test_the_page_takes_a_fixed_number_of_queries_whatever_the_ledger(
    request: pytest.FixtureRequest,
    client_in: Client,
    ledger: str,
    django_assert_num_queries: DjangoAssertNumQueries,
) -> None:
    request.getfixturevalue(ledger)
    as_of = DEMO_TODAY.isoformat() if ledger == "demo_ledger" else "2023-03-31"
    # session, user, aging, aging by country, metrics (3), trend (3),
    # effectiveness (3)
    with django_assert_num_queries(13):
        assert client_in.get(f"/reports/?as_of={as_of}").status_code == 200


# --- Chart geometry ------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "top", "step"),
    [(0, 1, 0.25), (7, 8, 2), (65, 80, 20), (80, 80, 20), (101, 120, 30), (237, 240, 60)],
)
def test_the_y_axis_ends_at_a_round_number_above_the_largest_value(
    value: float, top: float, step: float
) -> None:
    assert nice_ceiling(value) == (top, step)


def test_undefined_values_leave_gaps_in_the_line() -> None:
    from decimal import Decimal as D

    chart = line_chart(
        ["a", "b", "c", "d"], [("DSO", "dso", [D(10), None, D(20), D(40)])], width=340, height=128
    )
    (series,) = chart.series
    assert [p.label for p in series.points] == ["a", "c", "d"]
    assert series.path.count("M") == 2
    assert series.points[0].x == chart.left
    assert series.points[-1].x == chart.right
    assert series.points[-1].y == chart.top  # 40 is the top of the axis
    assert [t.text for t in chart.y_ticks] == ["0", "10", "20", "30", "40"]
    assert not chart.empty
    assert line_chart(["a"], [("DSO", "dso", [None])]).empty


def test_the_page_says_what_each_step_achieved(client_in: Client) -> None:
    from arrears.ledger.models import Customer, Payment
    from arrears.sequencing.models import Action

    customer = Customer.objects.create(ref="E1", name="Effect Ltd", country="DE")
    on = date(2025, 3, 3)
    Action.objects.create(
        customer=customer,
        kind="email",
        stage="inquire",
        step="inquiry",
        template="inquiry",
        planned_for=on,
        planned_at=timezone.now(),
        status="done",
        reason="test",
        policy_name="default",
        idempotency_key="E1|inquiry|2025-03-03",
        created_at=timezone.now(),
    )
    Payment.objects.create(
        ref="P-E1", customer=customer, received_on=date(2025, 3, 5), amount=D("70.00"),
        currency="EUR",
    )  # fmt: skip
    page = client_in.get("/reports/?as_of=2025-03-31").content.decode()
    assert "What each step achieved" in page and "inquiry" in page
    csv_text = client_in.get("/reports/effectiveness.csv?as_of=2025-03-31").content.decode()
    header, row = csv_text.strip().splitlines()
    assert header.startswith("policy,step,kind,template,touches")
    assert row.startswith("default,inquiry,email,inquiry,1,1,1,0,0,0,100.0,2.0,70.00 EUR")
