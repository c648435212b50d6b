"""The reports on a real accounts-receivable history (the IBM sample of
tests/ar_history.py, imported through the real importers) agree with a
direct computation from the file itself."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest

from arrears.domain.metrics import (
    AGING_BUCKETS,
    PeriodFigures,
    aging_bucket,
    days_past_due,
    metrics_compute,
    monthly_sales,
    period_sales,
)
from arrears.ledger.tests.ar_history import (
    CURRENCY,
    SOURCE,
    HistoryRow,
    history_imported,
)
from arrears.reports.selectors import aging_by_currency, metrics_by_currency, metrics_trend

pytestmark = [
    pytest.mark.skipif(not SOURCE.is_file(), reason=f"IBM AR history not found at {SOURCE}"),
    pytest.mark.django_db,
]

DATES = [
    date(2012, 1, 3),  # the first invoice day
    date(2012, 2, 29),  # a leap day
    date(2012, 6, 30),
    date(2013, 1, 1),
    date(2013, 1, 25),  # the latest payer (45 days) is 38 days past due
    date(2013, 3, 31),
    date(2013, 9, 30),
    date(2013, 12, 31),
    date(2014, 1, 10),  # after the last settlement
]


@pytest.fixture(scope="module")
def history(
    django_db_setup: None,
    django_db_blocker: Any,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[list[HistoryRow]]:
    """The history imported once for the module, rolled back afterwards."""
    with (
        django_db_blocker.unblock(),
        history_imported(tmp_path_factory.mktemp("ar-history")) as rows,
    ):
        yield rows


def file_aging(history: list[HistoryRow], as_of: date) -> dict[str, Decimal]:
    """Open amounts per bucket straight from the file: an invoice is open in
    full from its issue date until the day before it was settled."""
    buckets = dict.fromkeys(AGING_BUCKETS, Decimal(0))
    for r in history:
        if r.issued <= as_of < r.settled:
            buckets[aging_bucket(days_past_due(r.due, as_of))] += r.amount
    return buckets


@pytest.mark.parametrize("as_of", DATES, ids=str)
def test_aging_per_bucket_matches_the_file(history: list[HistoryRow], as_of: date) -> None:
    expected = file_aging(history, as_of)
    aging = aging_by_currency(as_of=as_of)
    if not sum(expected.values()):
        assert aging == {}
        return
    assert aging[CURRENCY].buckets == expected
    assert aging[CURRENCY].open_invoices == sum(1 for r in history if r.issued <= as_of < r.settled)


def test_the_dates_reach_every_bucket_the_history_fills(history: list[HistoryRow]) -> None:
    # No invoice of the history was paid more than 45 days late.
    assert max((r.settled - r.due).days for r in history) == 45
    seen = {name for day in DATES for name, v in file_aging(history, day).items() if v}
    assert seen == {"current", "1-30", "31-60"}


@pytest.mark.parametrize("as_of", [date(2012, 6, 30), date(2013, 3, 31), date(2013, 12, 31)])
def test_metrics_match_the_formulas_applied_to_the_file(
    history: list[HistoryRow], as_of: date
) -> None:
    period = 90
    daily: dict[date, Decimal] = {}
    for r in history:
        daily[r.issued] = daily.get(r.issued, Decimal(0)) + r.amount
    end = file_aging(history, as_of)
    begin = file_aging(history, as_of - timedelta(days=period))
    figures = PeriodFigures(
        as_of=as_of,
        period_days=period,
        ar=sum(end.values(), Decimal(0)),
        current_ar=end["current"],
        begin_ar=sum(begin.values(), Decimal(0)),
        credit_sales=period_sales(as_of, period, daily),
        months=monthly_sales(as_of, daily),
    )

    got = metrics_by_currency(as_of=as_of, period_days=period)[CURRENCY]

    assert got.figures.ar == figures.ar
    assert got.figures.begin_ar == figures.begin_ar
    assert got.figures.credit_sales == figures.credit_sales
    assert got.metrics == metrics_compute(figures)
    assert got.metrics.dso is not None and got.metrics.dso_countback is not None


def test_the_trend_over_2013_has_a_dso_for_every_month_end(history: list[HistoryRow]) -> None:
    trend = metrics_trend(as_of=date(2013, 12, 31), period_days=90)[CURRENCY]
    assert [p.as_of.month for p in trend.points] == list(range(1, 13))
    assert all(p.metrics.dso is not None for p in trend.points)
    assert all(p.metrics.best_possible_dso is not None for p in trend.points)
