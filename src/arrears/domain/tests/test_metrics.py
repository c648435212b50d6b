"""Aging buckets and collection metrics: the worked examples of the metrics
reference (../shared/reference/metrics-compliance-formats.md, section A)."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from arrears.domain.metrics import (
    AGING_BUCKETS,
    BUCKETS,
    METRIC_NAMES,
    Metrics,
    MonthSales,
    PeriodFigures,
    aging_bucket,
    ar_turnover,
    average_collection_period,
    bad_debt_to_sales,
    collection_effectiveness_index,
    days_past_due,
    dso,
    dso_countback,
    metrics_compute,
    month_ends,
    monthly_sales,
    percent_past_due,
    period_sales,
)

D = Decimal

# The reference's example: Q1 sales Jan 90,000 / Feb 60,000 / Mar 120,000,
# AR 150,000 at the start, 195,000 at the end of which 130,000 is current.
Q1_2023_DAILY = {
    date(2023, 1, 15): D(90_000),
    date(2023, 2, 15): D(60_000),
    date(2023, 3, 15): D(120_000),
}


def q1_figures(year: int = 2023, period_days: int = 90) -> PeriodFigures:
    as_of = date(year, 3, 31)
    daily = {day.replace(year=year): amount for day, amount in Q1_2023_DAILY.items()}
    return PeriodFigures(
        as_of=as_of,
        period_days=period_days,
        ar=D(195_000),
        current_ar=D(130_000),
        begin_ar=D(150_000),
        credit_sales=period_sales(as_of, period_days, daily),
        months=monthly_sales(as_of, daily),
    )


def test_the_worked_example_gives_the_references_figures() -> None:
    figures = q1_figures()
    assert figures.credit_sales == D(270_000)
    assert metrics_compute(figures).rounded() == Metrics(
        dso=D("65.00"),
        dso_countback=D("64.17"),
        best_possible_dso=D("43.33"),
        average_days_delinquent=D("21.67"),
        cei=D("77.59"),
        # Annualised by 365/P (the reference's 6.26 and 58.30 multiply by 4).
        ar_turnover=D("6.35"),
        average_collection_period=D("57.50"),
        percent_past_due=D("33.33"),
        bad_debt_to_sales=D("0.00"),
    )


def test_bad_debt_to_sales_of_the_reference() -> None:
    # 10,800 written off on 1,080,000 of credit sales: 1.00 %.
    assert bad_debt_to_sales(D(10_800), D(1_080_000)) == D(1)
    assert bad_debt_to_sales(D(10_800), D(0)) is None


def test_countback_uses_real_month_lengths_and_february_29_in_a_leap_year() -> None:
    months_2023 = q1_figures(2023).months
    assert [(m.month, m.days) for m in months_2023] == [(3, 31), (2, 28), (1, 31)]
    assert dso_countback(D(195_000), months_2023) == D(31 + 28) + D(15_000) / D(90_000) * 31
    assert metrics_compute(q1_figures(2023)).rounded().dso_countback == D("64.17")
    # 2024: February has 29 days; 91 days take in all of Q1.
    figures_2024 = q1_figures(2024, period_days=91)
    assert [m.days for m in figures_2024.months] == [31, 29, 31]
    assert figures_2024.credit_sales == D(270_000)
    assert metrics_compute(figures_2024).rounded().dso_countback == D("65.17")


def test_countback_of_the_benjipays_vector_with_30_day_months() -> None:
    months = [
        MonthSales(2024, 3, D(100_000), 30),
        MonthSales(2024, 2, D(80_000), 30),
        MonthSales(2024, 1, D(70_000), 30),
    ]
    days = dso_countback(D(212_000), months)
    assert days is not None
    assert days.quantize(D("0.01")) == D("73.71")


def test_countback_counts_the_month_of_as_of_only_up_to_as_of() -> None:
    daily = {date(2023, 3, 10): D(100), date(2023, 2, 1): D(100)}
    months = monthly_sales(date(2023, 3, 10), daily)
    assert months == (MonthSales(2023, 3, D(100), 10), MonthSales(2023, 2, D(100), 28))
    assert dso_countback(D(150), months) == D(10) + D(14)


def test_countback_walks_through_months_without_sales() -> None:
    daily = {date(2023, 3, 31): D(100), date(2023, 1, 31): D(100)}
    months = monthly_sales(date(2023, 3, 31), daily)
    assert [(m.month, m.sales) for m in months] == [(3, D(100)), (2, D(0)), (1, D(100))]
    assert dso_countback(D(150), months) == 31 + 28 + D("15.5")


def test_countback_exhausted_exactly_by_a_month_counts_that_whole_month() -> None:
    months = monthly_sales(date(2023, 3, 31), Q1_2023_DAILY)
    assert dso_countback(D(180_000), months) == 31 + 28


def test_countback_is_zero_without_ar_and_undefined_beyond_the_sales_history() -> None:
    months = monthly_sales(date(2023, 3, 31), Q1_2023_DAILY)
    assert dso_countback(D(0), months) == 0
    assert dso_countback(D(0), ()) == 0
    assert dso_countback(D(270_001), months) is None
    assert dso_countback(D(1), ()) is None


def test_monthly_sales_ignore_days_after_as_of_and_are_empty_without_sales() -> None:
    assert monthly_sales(date(2023, 1, 31), {date(2023, 2, 1): D(5)}) == ()
    assert monthly_sales(date(2023, 1, 31), {}) == ()


def test_period_sales_take_issues_after_the_start_up_to_and_including_as_of() -> None:
    daily = {date(2022, 12, 31): D(1), date(2023, 1, 1): D(10), date(2023, 3, 31): D(100)}
    assert period_sales(date(2023, 3, 31), 90, daily) == D(110)
    assert period_sales(date(2023, 3, 30), 90, daily) == D(11)


@pytest.mark.parametrize(
    ("due", "bucket"),
    [
        # The reference's example A.8, as of 2024-03-31 (2024 is a leap year).
        (date(2024, 4, 15), "current"),
        (date(2024, 3, 1), "1-30"),
        (date(2024, 2, 29), "31-60"),
        (date(2024, 1, 1), "61-90"),
        (date(2023, 12, 31), "90+"),
    ],
)
def test_aging_buckets_of_the_reference_example(due: date, bucket: str) -> None:
    assert aging_bucket(days_past_due(due, date(2024, 3, 31))) == bucket


@pytest.mark.parametrize(
    ("days", "bucket"),
    [
        (-15, "current"),
        (0, "current"),
        (1, "1-30"),
        (30, "1-30"),
        (31, "31-60"),
        (60, "31-60"),
        (61, "61-90"),
        (90, "61-90"),
        (91, "90+"),
        (5000, "90+"),
    ],
)
def test_aging_bucket_boundaries(days: int, bucket: str) -> None:
    assert aging_bucket(days) == bucket


@given(
    as_of=st.dates(min_value=date(1990, 1, 1), max_value=date(2100, 1, 1)),
    days=st.integers(min_value=-400, max_value=400),
)
def test_each_buckets_due_date_range_holds_exactly_its_invoices(as_of: date, days: int) -> None:
    due = as_of - timedelta(days=days)
    holding = [
        b.name
        for b in BUCKETS
        if (b.due_dates(as_of)[0] or date.min) <= due <= (b.due_dates(as_of)[1] or date.max)
    ]
    assert holding == [aging_bucket(days)]
    assert AGING_BUCKETS == ("current", "1-30", "31-60", "61-90", "90+")


def test_ratios_are_undefined_not_zero_when_their_denominator_is_zero() -> None:
    no_sales = PeriodFigures(
        as_of=date(2023, 3, 31),
        period_days=90,
        ar=D(100),
        current_ar=D(0),
        begin_ar=D(100),
        credit_sales=D(0),
        months=(MonthSales(2023, 3, D(0), 31), MonthSales(2023, 2, D(100), 28)),
    )
    m = metrics_compute(no_sales)
    assert m.dso is None
    assert m.best_possible_dso is None
    assert m.average_days_delinquent is None
    assert m.ar_turnover == 0  # nothing sold: turnover 0 ...
    assert m.average_collection_period is None  # ... so collecting takes forever
    assert m.percent_past_due == 100
    assert m.dso_countback == 31 + 28
    assert m.cei == 0  # nothing collected of 100 collectable


def test_nothing_open_and_nothing_sold_leaves_only_what_is_defined() -> None:
    collected = PeriodFigures(
        as_of=date(2023, 3, 31),
        period_days=90,
        ar=D(0),
        current_ar=D(0),
        begin_ar=D(500),
        credit_sales=D(0),
    )
    m = metrics_compute(collected)
    assert m.cei == 100
    assert m.percent_past_due is None
    assert m.dso is None
    assert m.dso_countback == 0
    assert ar_turnover(D(0), 90, D(0), D(0)) is None
    assert average_collection_period(None) is None


def test_cei_is_undefined_when_everything_owed_is_still_current() -> None:
    # No AR at the start, all sales still open and not yet due.
    assert collection_effectiveness_index(D(0), D(1000), D(1000), D(1000)) is None
    assert collection_effectiveness_index(D(0), D(1000), D(600), D(600)) == 100


def test_cei_uses_the_periods_total_sales_not_divided_by_its_months() -> None:
    # CreditGuru's sample: 79.63 % with total sales (55.9 % with sales ÷ 3).
    cei = collection_effectiveness_index(D(6200), D(10890), D(6340), D(3590))
    assert cei is not None
    assert cei.quantize(D("0.01")) == D("79.63")


def test_dso_scales_with_the_period() -> None:
    assert dso(D(195_000), D(270_000), 90) == D(65)
    assert dso(D(0), D(270_000), 90) == 0
    assert percent_past_due(D(65_000), D(195_000)) is not None


def test_figures_refuse_an_empty_period_and_current_ar_above_ar() -> None:
    with pytest.raises(ValueError, match="period_days"):
        PeriodFigures(date(2023, 3, 31), 0, D(1), D(0), D(0), D(1))
    with pytest.raises(ValueError, match="current AR"):
        PeriodFigures(date(2023, 3, 31), 90, D(1), D(2), D(0), D(1))


def test_rounding_is_half_up_and_keeps_none() -> None:
    m = Metrics(D("1.005"), None, D("2.004"), None, D("-0.005"), None, None, D("33.335"))
    assert m.rounded() == Metrics(
        D("1.01"), None, D("2.00"), None, D("-0.01"), None, None, D("33.34")
    )
    assert list(m.as_dict()) == list(METRIC_NAMES)
    assert METRIC_NAMES == (
        "dso",
        "dso_countback",
        "best_possible_dso",
        "average_days_delinquent",
        "cei",
        "ar_turnover",
        "average_collection_period",
        "percent_past_due",
        "bad_debt_to_sales",
    )


@pytest.mark.parametrize(
    ("as_of", "first", "last"),
    [
        (date(2024, 3, 31), date(2023, 4, 30), date(2024, 3, 31)),
        (date(2024, 3, 30), date(2023, 3, 31), date(2024, 2, 29)),
        (date(2024, 1, 15), date(2023, 1, 31), date(2023, 12, 31)),
    ],
)
def test_month_ends_are_the_last_twelve_on_or_before_as_of(
    as_of: date, first: date, last: date
) -> None:
    ends = month_ends(as_of, 12)
    assert len(ends) == 12
    assert (ends[0], ends[-1]) == (first, last)
    assert all((e + timedelta(days=1)).day == 1 for e in ends)
    assert ends == sorted(ends)


@given(
    ar=st.decimals(min_value=0, max_value=10**9, places=2),
    current_percent=st.integers(min_value=0, max_value=100),
    begin_ar=st.decimals(min_value=0, max_value=10**9, places=2),
    sales=st.lists(st.decimals(min_value=0, max_value=10**8, places=2), min_size=1, max_size=24),
)
def test_metrics_hold_their_invariants(
    ar: Decimal, current_percent: int, begin_ar: Decimal, sales: list[Decimal]
) -> None:
    as_of = date(2024, 6, 30)
    current = (ar * current_percent / 100).quantize(D("0.01")).min(ar)
    daily = {as_of - timedelta(days=30 * n): amount for n, amount in enumerate(sales)}
    figures = PeriodFigures(
        as_of=as_of,
        period_days=90,
        ar=ar,
        current_ar=current,
        begin_ar=begin_ar,
        credit_sales=period_sales(as_of, 90, daily),
        months=monthly_sales(as_of, daily),
    )
    m = metrics_compute(figures)
    if m.dso is not None and m.best_possible_dso is not None:
        assert m.best_possible_dso <= m.dso
        assert m.average_days_delinquent is not None
        assert m.average_days_delinquent >= 0
    if m.percent_past_due is not None:
        assert 0 <= m.percent_past_due <= 100
    if m.dso_countback is not None:
        assert m.dso_countback >= 0
    if ar <= sum(sales):
        assert m.dso_countback is not None
