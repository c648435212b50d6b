"""The bulk helpers: ``__any`` membership, inserts that skip existing rows,
and fresh planner statistics after a large import."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from django.db import connection

from arrears.ledger import importers
from arrears.ledger.bulk import rows_insert_new, rows_upsert
from arrears.ledger.lookups import Ids
from arrears.ledger.models import Customer, Invoice

from .import_runs import import_csv

INVOICES = "\n".join(
    ["invoice_ref,customer_ref,issue_date,due_date,amount,currency"]
    + [f"I{n},C1,2024-01-0{n},2024-02-0{n},{n}0.00,USD" for n in range(1, 4)]
    + ["J1,C2,2024-01-05,2024-02-04,80.00,EUR"]
)


@pytest.fixture
def invoices(customers: None, csv_file: Callable[[str, str], Path]) -> None:
    outcome = import_csv("invoices", csv_file("invoices.csv", INVOICES))
    assert outcome.code == 0, outcome.stderr


def test_any_matches_exactly_the_ids_given(invoices: None) -> None:
    c1, c2, c3 = (Customer.objects.get(ref=r).pk for r in ("C1", "C2", "C3"))
    refs = sorted(Invoice.objects.filter(customer_id__any=[c1, c3]).values_list("ref", flat=True))
    assert refs == ["I1", "I2", "I3"]
    assert list(Invoice.objects.filter(customer__any=[c2]).values_list("ref", flat=True)) == ["J1"]
    assert not Invoice.objects.filter(customer_id__any=[]).exists()
    # Combined with other conditions and negated, as querysets use it.
    assert Invoice.objects.exclude(customer_id__any=[c1]).count() == 1
    # Ids wrapped for speed match the same rows, as a generator too.
    wrapped = Invoice.objects.filter(customer_id__any=Ids(x for x in (c1, c3)))
    assert sorted(wrapped.values_list("ref", flat=True)) == refs
    assert not Invoice.objects.filter(customer__any=Ids([])).exists()


def test_any_sends_one_parameter_on_postgresql(invoices: None) -> None:
    ids = list(Customer.objects.values_list("pk", flat=True))
    sql, params = Invoice.objects.filter(customer_id__any=ids).query.sql_with_params()
    if connection.vendor == "postgresql":
        # The array, and the range of the ids for the planner.
        assert "= ANY(" in sql and len(params) == 3
        assert tuple(params[1:]) == (min(ids), max(ids))
    else:
        assert len(params) == len(ids)


def test_insert_new_skips_rows_that_exist(customers: None) -> None:
    table = Customer._meta.db_table
    columns: tuple[str, ...] = ("ref", "name")
    existing = Customer.objects.get(ref="C1")
    # Every NOT NULL column without a database default is needed in plain SQL.
    fields = [
        f
        for f in Customer._meta.concrete_fields
        if not f.primary_key and not f.null and f.column not in columns
    ]
    columns += tuple(f.column for f in fields)
    fill = tuple(getattr(existing, f.attname) for f in fields)
    rows_insert_new(table, columns, [("C1", "changed", *fill), ("C9", "New Co", *fill)])
    assert Customer.objects.get(ref="C1").name == existing.name
    assert Customer.objects.get(ref="C9").name == "New Co"


def test_upsert_updates_rows_that_exist_and_inserts_the_others(customers: None) -> None:
    table = Customer._meta.db_table
    existing = Customer.objects.get(ref="C1")
    fields = [f for f in Customer._meta.concrete_fields if not f.primary_key and not f.null]
    columns = tuple(f.column for f in fields)
    row = {f.column: getattr(existing, f.attname) for f in fields}
    changed = tuple({**row, "name": "Renamed"}[c] for c in columns)
    new = tuple({**row, "ref": "C9", "name": "New Co"}[c] for c in columns)
    rows_upsert(table, columns, [changed, new], unique=("ref",), update=("name",))
    assert Customer.objects.get(ref="C1").name == "Renamed"
    assert Customer.objects.get(ref="C9").name == "New Co"
    assert Customer.objects.get(ref="C1").pk == existing.pk


def _invoice_rows_in_statistics() -> float:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT reltuples FROM pg_class WHERE relname = 'ledger_invoice'")
            return float(cursor.fetchone()[0])
        cursor.execute("SELECT name FROM sqlite_master WHERE name = 'sqlite_stat1'")
        if cursor.fetchone() is None:
            return -1
        # sqlite_stat1's stat column starts with the table's row count.
        cursor.execute(
            "SELECT stat FROM sqlite_stat1 WHERE tbl = 'ledger_invoice' AND idx IS NULL"
            " UNION ALL SELECT stat FROM sqlite_stat1 WHERE tbl = 'ledger_invoice' LIMIT 1"
        )
        row = cursor.fetchone()
        return -1 if row is None else float(row[0].split()[0])


def test_a_large_import_refreshes_the_planner_statistics(
    customers: None, csv_file: Callable[[str, str], Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(importers, "ANALYZE_AFTER", 3)
    assert _invoice_rows_in_statistics() <= 0
    assert import_csv("invoices", csv_file("invoices.csv", INVOICES)).code == 0
    assert _invoice_rows_in_statistics() == 4
