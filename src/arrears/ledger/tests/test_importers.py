"""Imports are all or nothing, idempotent, and upsert by ref."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from arrears.ledger import importers
from arrears.ledger.csvfiles import header
from arrears.ledger.models import Activity, Customer, ImportRun, Invoice, Payment

from .import_runs import import_csv, ledger_counts

CsvFile = Callable[[str, str], Path]

INVOICES = "\n".join(
    [",".join(header("invoices"))]
    + [f"I{n:02},C1,2024-01-{n:02},2024-02-{n:02},{n}0.00,USD,PO-{n},net 30" for n in range(1, 21)]
    + ["J1,C2,2024-01-05,2024-02-04,80.00,EUR,,", "K1,C3,2024-01-05,2024-02-04,5000,JPY,,"]
)
PAYMENTS = "\n".join(
    [",".join(header("payments"))]
    + [f"P{n:02},C1,2024-03-{n:02},{n}.00,USD," for n in range(1, 21)]
    + ["PJ,C2,2024-03-01,100.00,EUR,J1", "PK,C3,2024-03-01,1000,JPY,"]
)
CREDIT_NOTES = "\n".join(
    [",".join(header("credit-notes"))]
    + [f"CN{n:02},C1,2024-02-{n:02},1.50,USD,I{n:02}" for n in range(1, 11)]
)


@pytest.fixture
def ledger(customers: None, csv_file: CsvFile) -> dict[str, Path]:
    """Twenty USD invoices, payments and credit notes for C1; some EUR and JPY."""
    paths = {
        "invoices": csv_file("invoices.csv", INVOICES),
        "credit-notes": csv_file("credit-notes.csv", CREDIT_NOTES),
        "payments": csv_file("payments.csv", PAYMENTS),
    }
    for kind, path in paths.items():
        outcome = import_csv(kind, path)
        assert outcome.code == 0, outcome.stderr
    return paths


# --- all or nothing --------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "good_rows", "bad_row"),
    [
        (
            "customers",
            [f"N{n},New {n},n{n}@x.example,,GB,,GBP,,,,,,,Europe/London," for n in range(30)],
            "NX,,,,GB,,,,,,,,,,",
        ),
        (
            "invoices",
            [f"X{n},C1,2024-04-01,2024-05-01,{n + 1}.00,USD,," for n in range(30)],
            "XX,C1,2024-04-01,2024-05-01,1.001,USD,,",
        ),
        (
            "payments",
            [f"Q{n},C1,2024-04-{n + 1:02},{n + 1}.00,USD," for n in range(30)],
            "QX,C1,2024-04-01,1.00,USD,NOPE",
        ),
        (
            "credit-notes",
            [f"D{n},C1,2024-04-{n + 1:02},1.00,USD,I{n % 20 + 1:02}" for n in range(30)],
            "DX,C2,2024-04-01,1.00,EUR,I01",
        ),
    ],
)
@pytest.mark.parametrize("position", ["first", "middle", "last"])
def test_one_bad_row_among_many_good_ones_writes_nothing_at_all(
    ledger: dict[str, Path],
    csv_file: CsvFile,
    monkeypatch: pytest.MonkeyPatch,
    kind: str,
    good_rows: list[str],
    bad_row: str,
    position: str,
) -> None:
    # Small chunks: good chunks are written before the bad one is read, and
    # must be rolled back with it.
    monkeypatch.setattr(importers, "CHUNK", 7)
    index = {"first": 0, "middle": len(good_rows) // 2, "last": len(good_rows)}[position]
    rows = [*good_rows[:index], bad_row, *good_rows[index:]]
    path = csv_file(f"more-{kind}.csv", "\n".join([",".join(header(kind)), *rows]))
    before = ledger_counts()
    invoices_before = list(Invoice.objects.values_list("ref", "allocated", "status", "due_date"))
    outcome = import_csv(kind, path)
    assert outcome.code == 2
    assert [line.split(": ")[0] for line in outcome.error_lines] == [f"{path}:{index + 2}"]
    assert ledger_counts() == before
    assert list(Invoice.objects.values_list("ref", "allocated", "status", "due_date")) == (
        invoices_before
    )


# --- idempotent ------------------------------------------------------------------


def test_importing_the_same_files_again_changes_nothing(
    ledger: dict[str, Path], csv_file: CsvFile
) -> None:
    from .conftest import CUSTOMERS_CSV

    before = ledger_counts()
    balances = {
        model.__name__: list(model._default_manager.order_by("ref").values_list("ref", "allocated"))
        for model in (Invoice, Payment)
    }
    files = {"customers": csv_file("customers-again.csv", CUSTOMERS_CSV), **ledger}
    for kind, path in files.items():
        outcome = import_csv(kind, path, "--json")
        assert outcome.code == 0, outcome.stderr
        rows = len(path.read_text().strip().splitlines()) - 1
        summary = json.loads(outcome.stdout)
        assert (summary["created"], summary["updated"], summary["unchanged"]) == (0, 0, rows)
        if kind in {"payments", "credit-notes"}:
            assert (summary["allocated"], summary["unapplied"]) == ({}, {})
    after = ledger_counts()
    # Only the import log grows: one ImportRun per file, and no activity at all.
    assert after.pop("ImportRun") == before.pop("ImportRun") + len(files)
    assert after == before
    assert {
        model.__name__: list(model._default_manager.order_by("ref").values_list("ref", "allocated"))
        for model in (Invoice, Payment)
    } == balances


def test_each_import_is_recorded_with_its_file_and_counts(ledger: dict[str, Path]) -> None:
    runs = {run.kind: run for run in ImportRun.objects.all()}
    assert set(runs) == {"customers", "invoices", "payments", "credit-notes"}
    assert (runs["invoices"].rows, runs["invoices"].created) == (22, 22)
    assert runs["payments"].source == str(ledger["payments"])
    assert runs["payments"].actor_label == "import payments.csv"


# --- upsert ----------------------------------------------------------------------


def test_changing_a_customers_name_updates_it_and_logs_the_change(
    customers: None, csv_file: CsvFile
) -> None:
    path = csv_file(
        "customers.csv",
        ",".join(header("customers")) + "\nC3,Nippon Kabushiki Kaisha,,,JP,,JPY,,,,,,,,\n",
    )
    outcome = import_csv("customers", path, "--json")
    assert outcome.code == 0, outcome.stderr
    summary = json.loads(outcome.stdout)
    assert (summary["created"], summary["updated"], summary["unchanged"]) == (0, 1, 0)
    assert Customer.objects.get(ref="C3").name == "Nippon Kabushiki Kaisha"
    entry = Activity.objects.get(verb="customer.updated")
    assert entry.subject_ref == "C3"
    assert entry.data == {"fields": {"name": ["Nippon KK", "Nippon Kabushiki Kaisha"]}}


def test_changing_the_email_list_keeps_import_contacts_in_step(
    customers: None, csv_file: CsvFile
) -> None:
    path = csv_file(
        "customers.csv",
        ",".join(header("customers"))
        + "\nC1,Acme Inc,billing@acme.example;new@acme.example,(201) 555-0123,US,04-2103594,"
        "USD,10000.00,email,auto,en,2020-01-15,,,\n",
    )
    assert import_csv("customers", path).code == 0
    acme = Customer.objects.get(ref="C1")
    assert dict(acme.contacts.values_list("email", "is_active")) == {
        "ap@acme.example": False,  # kept for its history, no longer used
        "billing@acme.example": True,
        "new@acme.example": True,
    }
    assert acme.contacts.get(email="billing@acme.example").phone == "+12015550123"
    entry = Activity.objects.get(verb="customer.updated")
    assert entry.data["contacts"] == {"added": ["new@acme.example"], "removed": ["ap@acme.example"]}


def test_changing_an_invoices_due_date_updates_it(
    ledger: dict[str, Path], csv_file: CsvFile
) -> None:
    path = csv_file(
        "invoices.csv",
        ",".join(header("invoices")) + "\nI05,C1,2024-01-05,2024-03-31,50.00,USD,PO-5,net 30\n",
    )
    outcome = import_csv("invoices", path, "--json")
    assert outcome.code == 0, outcome.stderr
    summary = json.loads(outcome.stdout)
    assert (summary["created"], summary["updated"], summary["unchanged"]) == (0, 1, 0)
    invoice = Invoice.objects.get(ref="I05")
    assert invoice.due_date == date(2024, 3, 31)
    assert invoice.amount == Decimal("50.00")


@pytest.mark.parametrize(
    ("row", "reported"),
    [
        (
            "I05,C1,2024-01-05,2024-02-05,55.00,USD,PO-5,net 30",
            "amount: invoice 'I05' was imported as 50.00 USD; correct it with a credit note",
        ),
        (
            "I05,C2,2024-01-05,2024-02-05,50.00,USD,PO-5,net 30",
            "customer_ref: invoice 'I05' was imported for another customer;"
            " an invoice cannot move between customers",
        ),
        (
            "I05,C1,2024-01-05,2024-02-05,50.00,EUR,PO-5,net 30",
            "currency: invoice 'I05' was imported as 50.00 USD; correct it with a credit note",
        ),
    ],
)
def test_changing_an_invoices_amount_customer_or_currency_is_refused(
    ledger: dict[str, Path], csv_file: CsvFile, row: str, reported: str
) -> None:
    path = csv_file("invoices.csv", ",".join(header("invoices")) + "\n" + row + "\n")
    before = ledger_counts()
    outcome = import_csv("invoices", path)
    assert outcome.code == 2
    assert outcome.error_lines == [f"{path}:2: {reported}"]
    assert ledger_counts() == before


@pytest.mark.parametrize(
    "row",
    [
        "P05,C1,2024-03-05,6.00,USD,",  # amount
        "P05,C1,2024-03-06,5.00,USD,",  # date
        "P05,C1,2024-03-05,5.00,USD,I01",  # invoice named
        "P05,C2,2024-03-05,5.00,USD,",  # customer
    ],
)
def test_changing_a_posted_payment_is_refused(
    ledger: dict[str, Path], csv_file: CsvFile, row: str
) -> None:
    path = csv_file("payments.csv", ",".join(header("payments")) + "\n" + row + "\n")
    before = ledger_counts()
    outcome = import_csv("payments", path)
    assert outcome.code == 2
    assert outcome.error_lines == [
        f"{path}:2: payment_ref: 'P05' was already imported with other values; "
        "record a correction as a new entry"
    ]
    assert ledger_counts() == before
    assert Payment.objects.get(ref="P05").amount == Decimal("5.00")


def test_changing_a_posted_credit_note_is_refused(
    ledger: dict[str, Path], csv_file: CsvFile
) -> None:
    path = csv_file(
        "credit-notes.csv", ",".join(header("credit-notes")) + "\nCN01,C1,2024-02-01,2.00,USD,I01\n"
    )
    outcome = import_csv("credit-notes", path)
    assert outcome.code == 2
    assert outcome.error_lines[0].startswith(f"{path}:2: credit_note_ref: 'CN01' was already")


# --- timestamps ------------------------------------------------------------------


def test_timestamps_of_imported_rows_compare_like_those_the_orm_writes(
    ledger: dict[str, Path],
) -> None:
    now = timezone.now()
    assert Invoice.objects.filter(created_at__lte=now).count() == Invoice.objects.count()
    assert Activity.objects.filter(at__lte=now).count() == Activity.objects.count()
    # The activity log reads newest first: the payments were imported last.
    assert Activity.objects.first().verb == "payment.imported"  # type: ignore[union-attr]


# --- columns added later: postal_address, time_zone, collector ----------------------

FULL_HEADER = ",".join(header("customers"))
C1_ROW = (
    "C1,Acme Inc,ap@acme.example;billing@acme.example,(201) 555-0123,US,04-2103594,"
    "USD,10000.00,email,auto,en,2020-01-15"
)
C1_ADDRESS = "350 Fifth Avenue\nSuite 100\nNew York, NY 10118"


@pytest.fixture
def assigned(customers: None) -> dict[str, User]:
    """C1 with an address, a time zone and a collector set outside any file."""
    users = {name: User.objects.create_user(name) for name in ("ann", "bob")}
    Customer.objects.filter(ref="C1").update(
        postal_address=C1_ADDRESS, time_zone="America/New_York", collector=users["ann"]
    )
    return users


def _c1() -> tuple[str, str, str | None]:
    c1 = Customer.objects.select_related("collector").get(ref="C1")
    return c1.postal_address, c1.time_zone, c1.collector.username if c1.collector else None


def test_a_file_without_the_later_columns_leaves_them_as_they_are(
    assigned: dict[str, User], csv_file: CsvFile
) -> None:
    from .conftest import CUSTOMERS_CSV

    before = ledger_counts()
    outcome = import_csv("customers", csv_file("old-style.csv", CUSTOMERS_CSV), "--json")
    assert outcome.code == 0, outcome.stderr
    summary = json.loads(outcome.stdout)
    assert (summary["created"], summary["updated"], summary["unchanged"]) == (0, 0, 3)
    assert _c1() == (C1_ADDRESS, "America/New_York", "ann")
    assert ledger_counts() == before | {"ImportRun": before["ImportRun"] + 1}


def test_a_file_without_the_later_columns_still_updates_the_others(
    assigned: dict[str, User], csv_file: CsvFile
) -> None:
    path = csv_file(
        "old-style.csv",
        "customer_ref,name,country,language\nC1,Acme Corporation,US,en\n",
    )
    assert import_csv("customers", path).code == 0
    assert Customer.objects.get(ref="C1").name == "Acme Corporation"
    assert _c1() == (C1_ADDRESS, "America/New_York", "ann")


def test_only_the_later_columns_a_file_has_are_written(
    assigned: dict[str, User], csv_file: CsvFile
) -> None:
    path = csv_file(
        "some.csv", "customer_ref,name,country,collector\nC1,Acme Inc,US,bob\nC3,Nippon KK,JP,\n"
    )
    outcome = import_csv("customers", path, "--json")
    assert outcome.code == 0, outcome.stderr
    assert _c1() == (C1_ADDRESS, "America/New_York", "bob")


def test_blank_cells_clear_the_later_columns_and_the_log_says_what_they_were(
    assigned: dict[str, User], csv_file: CsvFile
) -> None:
    path = csv_file("cleared.csv", f"{FULL_HEADER}\n{C1_ROW},,,\n")
    outcome = import_csv("customers", path, "--json")
    assert outcome.code == 0, outcome.stderr
    summary = json.loads(outcome.stdout)
    assert (summary["updated"], summary["unchanged"]) == (1, 0)
    assert _c1() == ("", "", None)
    entry = Activity.objects.get(verb="customer.updated")
    assert (entry.subject_ref, entry.actor_label) == ("C1", "import cleared.csv")
    assert entry.data == {
        "fields": {
            "postal_address": [C1_ADDRESS, ""],
            "time_zone": ["America/New_York", ""],
            "collector": ["ann", ""],
        }
    }


def test_setting_the_later_columns_is_logged_and_a_second_import_changes_nothing(
    assigned: dict[str, User], csv_file: CsvFile
) -> None:
    row = f"{C1_ROW},1 Main St | Springfield | USA,America/Chicago,bob"
    path = csv_file("set.csv", f"{FULL_HEADER}\n{row}\n")
    assert import_csv("customers", path).code == 0
    assert _c1() == ("1 Main St\nSpringfield\nUSA", "America/Chicago", "bob")
    entry = Activity.objects.get(verb="customer.updated")
    assert entry.data == {
        "fields": {
            "postal_address": [C1_ADDRESS, "1 Main St\nSpringfield\nUSA"],
            "time_zone": ["America/New_York", "America/Chicago"],
            "collector": ["ann", "bob"],
        }
    }
    before = ledger_counts()
    outcome = import_csv("customers", path, "--json")
    summary = json.loads(outcome.stdout)
    assert (summary["created"], summary["updated"], summary["unchanged"]) == (0, 0, 1)
    assert ledger_counts() == before | {"ImportRun": before["ImportRun"] + 1}


def test_a_collector_is_named_by_exact_username(
    assigned: dict[str, User], csv_file: CsvFile
) -> None:
    path = csv_file("case.csv", f"{FULL_HEADER}\n{C1_ROW},,,Bob\n")
    outcome = import_csv("customers", path)
    assert outcome.error_lines == [f"{path}:2: collector: no active user named 'Bob'"]
    assert _c1() == (C1_ADDRESS, "America/New_York", "ann")


def _user_queries(captured: CaptureQueriesContext) -> int:
    return sum('"auth_user"' in q["sql"] for q in captured.captured_queries)


def test_collectors_are_looked_up_once_per_chunk_and_old_files_look_up_none(
    assigned: dict[str, User], csv_file: CsvFile, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(importers, "CHUNK", 10)
    rows = [f"N{n},New {n},,,GB,,,,,,,,,,{'ann' if n % 2 else 'bob'}" for n in range(25)]
    path = csv_file("many.csv", "\n".join([FULL_HEADER, *rows]))
    with CaptureQueriesContext(connection) as captured:
        assert import_csv("customers", path).code == 0
    assert _user_queries(captured) == 3  # 25 rows in chunks of 10
    # Reassigning: the former collectors' names, for the log, take one more.
    User.objects.create_user("cy")
    rows = [f"N{n},New {n},,,GB,,,,,,,,,,cy" for n in range(25)]
    path = csv_file("again.csv", "\n".join([FULL_HEADER, *rows]))
    with CaptureQueriesContext(connection) as captured:
        assert import_csv("customers", path).code == 0
    assert _user_queries(captured) == 6
    assert Customer.objects.filter(collector__username="cy").count() == 25
    from .conftest import CUSTOMERS_CSV

    with CaptureQueriesContext(connection) as captured:
        assert import_csv("customers", csv_file("old.csv", CUSTOMERS_CSV)).code == 0
    assert _user_queries(captured) == 0
