"""A real accounts-receivable history (IBM sample data) through the real
importers: counts, totals and open amounts as of past dates agree with the
file itself."""

from __future__ import annotations

import io
from collections import Counter
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.db.models import Count, F, Sum

from arrears.ledger.models import Allocation, Customer, Invoice, InvoiceStatus, Payment
from arrears.ledger.selectors import ar_totals, open_invoices_as_of
from arrears.ledger.tests.ar_history import (
    COUNTRIES,
    SOURCE,
    HistoryRow,
    history_imported,
    open_at,
    write_contract_files,
)

pytestmark = [
    pytest.mark.skipif(not SOURCE.is_file(), reason=f"IBM AR history not found at {SOURCE}"),
    pytest.mark.django_db,
]

# (as of, open invoices, open total): issued on or before the date and settled
# after it, counted in the file itself (see ar_history.open_at).
AS_OF = [
    (date(2012, 1, 2), 0, Decimal(0)),  # before the first invoice
    (date(2012, 1, 3), 5, Decimal("290.68")),  # the first invoice day
    (date(2012, 6, 30), 98, Decimal("5504.09")),
    (date(2013, 1, 1), 100, Decimal("5845.81")),
    (date(2013, 6, 30), 84, Decimal("5119.85")),
    (date(2013, 12, 2), 83, Decimal("4930.10")),  # the last invoice day
    (date(2013, 12, 31), 13, Decimal("761.90")),
    (date(2014, 1, 9), 0, Decimal(0)),  # the last settlement day
    (date(2014, 1, 10), 0, Decimal(0)),
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


def test_the_file_is_the_one_described_in_sources(history: list[HistoryRow]) -> None:
    assert len(history) == 2466
    assert {r.country_code for r in history} == set(COUNTRIES)
    assert sum(r.amount for r in history) == Decimal("147703.18")


def test_every_customer_and_invoice_is_imported(history: list[HistoryRow]) -> None:
    assert Customer.objects.count() == 100
    assert Invoice.objects.count() == 2466
    assert Invoice.objects.aggregate(total=Sum("amount"))["total"] == Decimal("147703.18")
    by_country = dict(Customer.objects.values_list("country").annotate(n=Count("id")))
    countries = {r.customer: COUNTRIES[r.country_code] for r in history}
    assert by_country == Counter(countries.values())
    assert set(by_country) == {"US", "CA", "GB", "DE", "FR"}


def test_invoice_numbers_keep_their_leading_zeros(history: list[HistoryRow]) -> None:
    assert Invoice.objects.filter(ref="0000611365").exists()
    assert set(Invoice.objects.values_list("ref", flat=True)) == {r.invoice for r in history}


def test_each_payment_settles_its_invoice_in_full(history: list[HistoryRow]) -> None:
    assert Payment.objects.count() == 2466
    assert Allocation.objects.count() == 2466
    assert not Invoice.objects.exclude(status=InvoiceStatus.PAID).exists()
    assert Payment.objects.aggregate(total=Sum("allocated"))["total"] == Decimal("147703.18")
    assert not Payment.objects.exclude(allocated=F("amount")).exists()


@pytest.mark.parametrize(("as_of", "count", "total"), AS_OF, ids=[str(a[0]) for a in AS_OF])
def test_open_invoices_as_of_a_date_match_the_file(
    history: list[HistoryRow], as_of: date, count: int, total: Decimal
) -> None:
    assert open_at(history, as_of) == (count, total)
    opened = open_invoices_as_of(as_of)
    assert opened.count() == count
    assert sum((inv.open_as_of for inv in opened), Decimal(0)) == total
    if count:
        assert ar_totals(as_of)["USD"]["ar"] == total
    else:
        assert ar_totals(as_of) == {}


def test_open_invoices_are_open_in_full_until_settled(history: list[HistoryRow]) -> None:
    as_of = date(2013, 6, 30)
    expected = {r.invoice: r.amount for r in history if r.issued <= as_of < r.settled}
    got = {inv.ref: inv.open_as_of for inv in open_invoices_as_of(as_of)}
    assert got == expected


def test_the_history_imports_again_without_change(
    history: list[HistoryRow], tmp_path: Path
) -> None:
    files = write_contract_files(history, tmp_path)
    for kind in ("customers", "invoices", "payments"):
        out = io.StringIO()
        call_command("import", kind, str(files[kind]), "--json", stdout=out)
        assert '"created": 0, "updated": 0' in out.getvalue()
    assert Allocation.objects.count() == 2466
