"""The contract's CSV files: header checks, row locations, shape problems."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from arrears.ledger.csvfiles import (
    COLUMNS,
    KEPT_WHEN_ABSENT,
    KINDS,
    FileRejected,
    header,
    read_rows,
    write_rows,
)


def test_the_four_kinds_of_the_contract_have_their_columns_in_contract_order() -> None:
    assert KINDS == ("customers", "invoices", "payments", "credit-notes")
    assert header("customers") == [
        "customer_ref",
        "name",
        "email",
        "phone",
        "country",
        "tax_id",
        "currency",
        "credit_limit",
        "preferred_channel",
        "automation",
        "language",
        "customer_since",
        # Added to the contract later, at the end: older files lack them.
        "postal_address",
        "time_zone",
        "collector",
    ]
    assert header("invoices") == [
        "invoice_ref",
        "customer_ref",
        "issue_date",
        "due_date",
        "amount",
        "currency",
        "order_ref",
        "terms",
    ]
    assert header("payments") == [
        "payment_ref",
        "customer_ref",
        "received_on",
        "amount",
        "currency",
        "invoice_ref",
    ]
    assert header("credit-notes") == [
        "credit_note_ref",
        "customer_ref",
        "issue_date",
        "amount",
        "currency",
        "invoice_ref",
    ]
    for kind, (required, optional) in COLUMNS.items():
        assert sorted(header(kind)) == sorted((*required, *optional))


def test_columns_kept_when_absent_are_optional_and_come_last() -> None:
    for kind, kept in KEPT_WHEN_ABSENT.items():
        assert set(kept) <= set(COLUMNS[kind][1])
        assert header(kind)[-len(kept) :] == list(kept)


def test_a_file_without_the_later_columns_reads_without_them(tmp_path: Path) -> None:
    path = _write(tmp_path, b"customer_ref,name,country\nC1,Acme,US\n")
    assert [dict(raw) for _, raw in read_rows(path, "customers")] == [
        {"customer_ref": "C1", "name": "Acme", "country": "US"}
    ]


def _write(tmp_path: Path, data: bytes) -> Path:
    path = tmp_path / "file.csv"
    path.write_bytes(data)
    return path


def test_rows_come_with_their_physical_line_numbers(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        b"payment_ref,customer_ref,received_on,amount,currency\n"
        b"P1,C1,2024-01-01,1,USD\n"
        b"\n"
        b'"P2","C1, Inc",2024-01-01,"1",USD\n'
        b'"P3","multi\nline",2024-01-01,1,USD\n'
        b"P4,C1,2024-01-01,1,USD\n",
    )
    rows = list(read_rows(path, "payments"))
    assert [(loc, raw["payment_ref"]) for loc, raw in rows] == [
        (f"{path}:2", "P1"),
        (f"{path}:4", "P2"),
        (f"{path}:6", "P3"),  # a quoted field spanning lines ends on line 6
        (f"{path}:7", "P4"),
    ]
    assert rows[1][1]["customer_ref"] == "C1, Inc"


def test_rows_with_the_wrong_number_of_fields_are_flagged_for_the_importer(tmp_path: Path) -> None:
    path = _write(tmp_path, b"payment_ref,customer_ref,received_on,amount,currency\nP1,C1\n")
    assert list(read_rows(path, "payments")) == [
        (f"{path}:2", {"__shape__": "2 fields, header has 5"})
    ]


def test_header_problems_are_all_reported_at_once(tmp_path: Path) -> None:
    path = _write(tmp_path, b"payment_ref,amount,amount,,colour\n")
    with pytest.raises(FileRejected) as caught:
        list(read_rows(path, "payments"))
    assert [(e.field, e.reason.split(" (")[0]) for e in caught.value.errors] == [
        ("customer_ref", "required column is missing"),
        ("received_on", "required column is missing"),
        ("currency", "required column is missing"),
        ("(empty)", "unknown column"),
        ("colour", "unknown column"),
        ("amount", "column appears twice"),
    ]
    assert {e.location for e in caught.value.errors} == {f"{path}:1"}


def test_progress_is_reported_in_bytes_read(tmp_path: Path) -> None:
    body = b"".join(b"P%d,C1,2024-01-01,1,USD\n" % n for n in range(2500))
    path = _write(tmp_path, b"payment_ref,customer_ref,received_on,amount,currency\n" + body)
    seen: list[int] = []
    assert len(list(read_rows(path, "payments", on_bytes=seen.append))) == 2500
    assert seen == sorted(seen)
    assert seen[-1] == path.stat().st_size


def test_written_rows_read_back_the_same(tmp_path: Path) -> None:
    rows = [
        {"invoice_ref": "I1", "customer_ref": "C1", "issue_date": "2024-01-01",
         "due_date": "2024-01-31", "amount": "1.00", "currency": "USD",
         "order_ref": 'PO "7", rush', "terms": "net 30"},
    ]  # fmt: skip
    out = io.StringIO()
    assert write_rows(out, "invoices", iter(rows)) == 1
    path = tmp_path / "invoices.csv"
    path.write_text(out.getvalue(), encoding="utf-8")
    assert [dict(raw) for _, raw in read_rows(path, "invoices")] == rows


def test_an_address_with_its_separators_and_commas_reads_back_the_same(tmp_path: Path) -> None:
    row = dict.fromkeys(header("customers"), "") | {
        "customer_ref": "C1",
        "name": "Beispiel GmbH",
        "country": "DE",
        "postal_address": 'Hauptstr. 5, Hof "B" | 10115 Berlin | Germany',
        "time_zone": "Europe/Berlin",
        "collector": "ann",
    }
    out = io.StringIO()
    write_rows(out, "customers", iter([row]))
    path = tmp_path / "customers.csv"
    path.write_text(out.getvalue(), encoding="utf-8")
    assert [dict(raw) for _, raw in read_rows(path, "customers")] == [row]


def test_optional_columns_can_be_left_out_of_a_written_file() -> None:
    out = io.StringIO()
    row = {"customer_ref": "C1", "name": "Acme", "country": "US", "postal_address": "1 Main St"}
    write_rows(out, "customers", iter([row]), leave_out={"time_zone", "collector", "name"})
    first, second = out.getvalue().splitlines()
    assert first.endswith(",customer_since,postal_address")
    assert first.startswith("customer_ref,name,")  # required columns are always written
    assert second == "C1,Acme,,,US,,,,,,,,1 Main St"
