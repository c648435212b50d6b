"""Report reads: aging and metrics computed in the database, as of any date."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from pytest_django import DjangoAssertNumQueries

from arrears.domain.metrics import (
    AGING_BUCKETS,
    PeriodFigures,
    aging_bucket,
    days_past_due,
    metrics_compute,
    monthly_sales,
    period_sales,
)
from arrears.ledger.models import Invoice
from arrears.ledger.selectors import open_invoices_as_of
from arrears.reports.selectors import (
    aging_breakdown,
    aging_by_currency,
    ar_at_dates,
    credit_sales_by_day,
    metrics_at,
    metrics_by_currency,
    metrics_trend,
)

from .conftest import DEMO_TODAY, Loader, customer, invoice, worked_example

D = Decimal
Q1_END = date(2023, 3, 31)


def test_aging_of_the_worked_example_at_the_end_of_the_quarter(example_2023: None) -> None:
    aging = aging_by_currency(as_of=Q1_END)

    assert list(aging) == ["EUR", "USD"]
    usd = aging["USD"]
    assert usd.buckets == {
        "current": D("130000.00"),  # F2, M1, and M2 due that very day
        "1-30": D("15000.00"),  # F1 less a payment and a credit note, 16 days late
        "31-60": D("50000.00"),  # J2, 31 days late
        "61-90": D("0.00"),
        "90+": D("0.00"),
    }
    assert usd.total == D("195000.00")
    # M2 counts: paid on 10 April, it was open on 31 March.
    assert usd.open_invoices == 5
    assert (aging["EUR"].total, aging["EUR"].open_invoices) == (D("1000.00"), 1)


def test_aging_as_of_earlier_dates_ignores_later_payments_and_invoices(
    example_2023: None,
) -> None:
    usd = aging_by_currency(as_of=date(2023, 1, 31))["USD"]
    # D1 was paid on 10 January; D2 was 17 days late; J1 and J2 not yet due.
    assert usd.buckets["1-30"] == D("50000.00")
    assert usd.buckets["current"] == D("90000.00")
    assert usd.open_invoices == 3
    assert aging_by_currency(as_of=date(2022, 11, 29)) == {}
    assert aging_by_currency(as_of=date(2022, 11, 30))["USD"].total == D("100000.00")


def test_aging_bucket_boundaries_and_29_february(load: Loader) -> None:
    as_of = date(2024, 3, 31)
    load("customers", [customer("B")])
    dues = [
        # (days past due, amount): each bucket's edges ...
        *[(days, 2**n) for n, days in enumerate([0, 1, 30, 31, 60, 61, 90, 91])],
        # ... and the reference's example A.8 (2024 is a leap year).
        ((as_of - date(2024, 4, 15)).days, 256),  # -15
        ((as_of - date(2024, 3, 1)).days, 512),  # 30
        ((as_of - date(2024, 2, 29)).days, 1024),  # 31
        ((as_of - date(2024, 1, 1)).days, 2048),  # 90
        ((as_of - date(2023, 12, 31)).days, 4096),  # 91
    ]
    rows = []
    for n, (days, amount) in enumerate(dues):
        due = as_of - timedelta(days=days)
        rows.append(invoice(f"I{n}", "B", min(due, as_of) - timedelta(days=30), due, f"{amount}"))
    load("invoices", rows)

    buckets = aging_by_currency(as_of=as_of)["USD"].buckets

    assert buckets == {
        "current": D(1 + 256),
        "1-30": D(2 + 4 + 512),
        "31-60": D(8 + 16 + 1024),
        "61-90": D(32 + 64 + 2048),
        "90+": D(128 + 4096),
    }
    assert [days for days, _ in dues[-5:]] == [-15, 30, 31, 90, 91]


def test_aging_breakdown_by_customer_and_country_adds_up_to_the_currency(
    example_2023: None,
) -> None:
    by_customer = aging_breakdown(as_of=Q1_END, by="customer")
    usd = by_customer["USD"]
    assert [(a.key, a.name, a.total, a.open_invoices) for a in usd] == [
        ("U2", "Customer U2", D("110000.00"), 3),  # J2, F2, M2
        ("U1", "Customer U1", D("85000.00"), 2),  # F1, M1
    ]
    assert usd[1].buckets["1-30"] == D("15000.00")
    by_country = aging_breakdown(as_of=Q1_END, by="country")
    assert [(a.key, a.total) for a in by_country["USD"]] == [("US", D("195000.00"))]
    assert [(a.key, a.total) for a in by_country["EUR"]] == [("DE", D("1000.00"))]
    with pytest.raises(ValueError, match="planet"):
        aging_breakdown(as_of=Q1_END, by="planet")  # type: ignore[arg-type]


def test_metrics_of_the_worked_example(example_2023: None) -> None:
    usd = metrics_by_currency(as_of=Q1_END, period_days=90)["USD"]

    f = usd.figures
    assert (f.ar, f.current_ar, f.begin_ar, f.credit_sales) == (
        D("195000.00"),
        D("130000.00"),
        D("150000.00"),
        D("270000.00"),
    )
    assert [(m.month, m.sales) for m in f.months[:3]] == [
        (3, D(120_000)),
        (2, D(60_000)),
        (1, D(90_000)),
    ]
    m = usd.metrics.rounded()
    assert (m.dso, m.dso_countback, m.best_possible_dso, m.average_days_delinquent) == (
        D("65.00"),
        D("64.17"),
        D("43.33"),
        D("21.67"),
    )
    assert (m.cei, m.ar_turnover, m.average_collection_period, m.percent_past_due) == (
        D("77.59"),
        D("6.35"),
        D("57.50"),
        D("33.33"),
    )


def test_countback_in_a_leap_year_counts_29_days_for_february(db: None) -> None:
    worked_example(2024)
    usd = metrics_by_currency(as_of=date(2024, 3, 31), period_days=91)["USD"]
    assert usd.figures.credit_sales == D("270000.00")
    assert usd.figures.begin_ar == D("150000.00")
    assert usd.metrics.rounded().dso_countback == D("65.17")


def test_currencies_are_never_mixed_and_undefined_ratios_are_none(example_2023: None) -> None:
    eur = metrics_by_currency(as_of=Q1_END, period_days=90)["EUR"]
    assert (eur.figures.ar, eur.figures.credit_sales, eur.figures.begin_ar) == (
        D("1000.00"),
        D("1000.00"),
        D("0.00"),
    )
    m = eur.metrics.rounded()
    assert m.dso == D("90.00")
    assert m.dso_countback == D("31.00")
    assert m.percent_past_due == D("0.00")
    # Nothing was collectable: no AR at the start, the only sale not yet due.
    assert m.cei is None


def test_a_currency_with_nothing_open_and_nothing_sold_is_left_out(example_2023: None) -> None:
    # By 31 December 2023 everything but A1 was paid and nothing new was sold
    # in the 90 days before: the USD AR is A1's, EUR still has EUR1 open.
    late = metrics_by_currency(as_of=date(2023, 12, 31), period_days=90)
    assert set(late) == {"USD", "EUR"}
    assert late["USD"].metrics.dso is None  # no sales in the period
    assert late["USD"].metrics.percent_past_due == 100
    assert metrics_by_currency(as_of=date(2022, 1, 1), period_days=90) == {}


def test_a_countback_longer_than_a_year_reads_the_older_months_too(
    load: Loader, django_assert_num_queries: DjangoAssertNumQueries
) -> None:
    load("customers", [customer("A")])
    load(
        "invoices",
        [
            invoice("OLD", "A", date(2021, 1, 15), date(2021, 2, 14), "100.00"),
            invoice("NEW", "A", date(2023, 3, 10), date(2023, 4, 9), "50.00"),
        ],
    )
    with django_assert_num_queries(4):
        usd = metrics_by_currency(as_of=Q1_END, period_days=90)["USD"]
    # March 2023's 50 first, then nothing sold until January 2021's 100.
    assert usd.metrics.dso_countback == (Q1_END - date(2020, 12, 31)).days
    assert usd.figures.credit_sales == D("50.00")


def test_metrics_refuse_an_empty_period(db: None) -> None:
    with pytest.raises(ValueError, match="period_days"):
        metrics_at(dates=[Q1_END], period_days=0)
    assert metrics_at(dates=[], period_days=90) == {}
    assert ar_at_dates(dates=[]) == {}


def test_trend_gives_twelve_month_ends_per_currency(example_2023: None) -> None:
    trend = metrics_trend(as_of=date(2023, 4, 15), period_days=90)

    usd = trend["USD"]
    assert [p.as_of for p in usd.points][-3:] == [
        date(2023, 1, 31),
        date(2023, 2, 28),
        date(2023, 3, 31),
    ]
    assert len(usd.points) == 12
    march = usd.points[-1]
    assert march.metrics == metrics_by_currency(as_of=Q1_END, period_days=90)["USD"].metrics
    # Before the first invoice nothing is defined; the points are still there.
    assert usd.points[0].as_of == date(2022, 4, 30)
    assert usd.points[0].metrics.dso is None
    assert not usd.points[0].has_activity
    assert set(trend) == {"USD", "EUR"}


# --- Against a direct computation, invoice by invoice --------------------


def direct_aging(as_of: date) -> dict[str, dict[str, Decimal]]:
    """Aging from the ledger's own as-of open amounts, added up in Python."""
    result: dict[str, dict[str, Decimal]] = defaultdict(lambda: dict.fromkeys(AGING_BUCKETS, D(0)))
    rows = open_invoices_as_of(as_of).values("currency", "due_date", "open_as_of")  # type: ignore[misc]
    for inv in rows:
        bucket = aging_bucket(days_past_due(inv["due_date"], as_of))
        result[inv["currency"]][bucket] += inv["open_as_of"]
    return dict(result)


DEMO_DATES = [DEMO_TODAY - timedelta(days=days) for days in (0, 1, 17, 45, 90, 180, 365, 700)]


@pytest.mark.parametrize("as_of", DEMO_DATES, ids=str)
def test_aging_of_the_demo_ledger_matches_the_ledgers_open_amounts(
    demo_ledger: None, as_of: date
) -> None:
    expected = direct_aging(as_of)
    aging = aging_by_currency(as_of=as_of)
    assert {c: a.buckets for c, a in aging.items()} == expected
    for currency, a in aging.items():
        assert a.open_invoices == open_invoices_as_of(as_of).filter(currency=currency).count()
        assert a.total == sum(expected[currency].values())


def test_ar_at_many_dates_in_one_query_matches_the_aging(
    demo_ledger: None, django_assert_num_queries: DjangoAssertNumQueries
) -> None:
    with django_assert_num_queries(1):
        at = ar_at_dates(dates=DEMO_DATES)
    for day in DEMO_DATES:
        aging = aging_by_currency(as_of=day)
        for currency, per_day in at.items():
            a = aging.get(currency)
            assert per_day[day].ar == (a.total if a else 0)
            assert per_day[day].current == (a.current if a else 0)
            opened = open_invoices_as_of(day).filter(currency=currency)
            oldest = opened.order_by("issue_date").values_list("issue_date", flat=True).first()
            assert per_day[day].oldest_issue == oldest


def test_metrics_of_the_demo_ledger_match_a_direct_computation(demo_ledger: None) -> None:
    as_of, p = DEMO_TODAY - timedelta(days=17), 60
    daily: dict[str, dict[date, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for inv in Invoice.objects.filter(issue_date__lte=as_of):
        daily[inv.currency][inv.issue_date] += inv.amount
    assert credit_sales_by_day(after=date(2000, 1, 1), upto=as_of) == daily
    start = direct_aging(as_of - timedelta(days=p))
    end = direct_aging(as_of)

    metrics = metrics_by_currency(as_of=as_of, period_days=p)

    assert set(metrics) == set(end)
    for currency, got in metrics.items():
        figures = PeriodFigures(
            as_of=as_of,
            period_days=p,
            ar=sum(end[currency].values(), D(0)),
            current_ar=end[currency]["current"],
            begin_ar=sum(start.get(currency, {}).values(), D(0)),
            credit_sales=period_sales(as_of, p, daily[currency]),
            months=monthly_sales(as_of, daily[currency]),
        )
        assert got.figures.ar == figures.ar
        assert got.figures.begin_ar == figures.begin_ar
        assert got.figures.credit_sales == figures.credit_sales
        assert got.metrics == metrics_compute(figures)
        assert got.metrics.dso_countback is not None


# --- Query counts and indexes ---------------------------------------------


def test_allocations_are_indexed_by_their_effective_date(db: None) -> None:
    # AR at a date reads the allocations after it: few, for recent dates.
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, "ledger_allocation")
    assert constraints["allocation_effective_on"]["columns"] == ["effective_on"]


@pytest.mark.parametrize("ledger", ["example_2023", "demo_ledger"])
def test_report_reads_take_a_fixed_number_of_queries_whatever_the_ledger(
    request: pytest.FixtureRequest,
    ledger: str,
    django_assert_num_queries: DjangoAssertNumQueries,
) -> None:
    request.getfixturevalue(ledger)
    as_of = DEMO_TODAY if ledger == "demo_ledger" else Q1_END
    assert Invoice.objects.count() >= (300 if ledger == "demo_ledger" else 10)
    with django_assert_num_queries(1):
        assert aging_by_currency(as_of=as_of)
    with django_assert_num_queries(1):
        assert aging_breakdown(as_of=as_of, by="customer")
    with django_assert_num_queries(3):
        assert metrics_by_currency(as_of=as_of, period_days=90)
    with django_assert_num_queries(3):
        assert metrics_trend(as_of=as_of, period_days=90, months=12)


def test_bad_debt_to_sales_counts_write_offs_of_the_period(example_2023: None) -> None:
    from django.utils import timezone

    from arrears.cases.approval_models import WriteOff, WriteOffStatus

    invoice = Invoice.objects.filter(currency="USD").order_by("issue_date").first()
    assert invoice is not None
    for on, amount in ((date(2023, 3, 15), "2700.00"), (date(2022, 12, 1), "999.00")):
        WriteOff.objects.create(
            customer=invoice.customer,
            invoice=invoice,
            amount=D(amount),
            currency="USD",
            reason="test",
            status=WriteOffStatus.WRITTEN_OFF,
            proposed_by_label="t",
            proposed_at=timezone.now(),
            written_off_on=on,
        )
    usd = metrics_by_currency(as_of=Q1_END, period_days=90)["USD"]
    # Only the March write-off is in the quarter: 2,700 / 270,000 sales.
    assert usd.figures.written_off == D("2700.00")
    assert usd.metrics.rounded().bad_debt_to_sales == D("1.00")
