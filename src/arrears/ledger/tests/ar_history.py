"""The IBM "Finance - Factoring" accounts-receivable history, converted to
the CSV contract (DESIGN.md §4) for tests.

The file lives outside the repository (../shared/fixtures/ar/, see
SOURCES.md there) and is never copied in. It has 2,466 invoices of 100
customers, every one settled in full; amounts have no currency.

Conversion, fixed so results are reproducible:
- customers from ``customerID``; ``countryCode`` values 391/406/770/818/897
  are not ISO 3166 numeric codes, so they map through COUNTRIES (an
  arbitrary but fixed choice); every customer and document is in USD, so
  totals stay one figure;
- invoices from ``invoiceNumber`` (kept as text, leading zeros and all),
  ``InvoiceDate``, ``DueDate`` and ``InvoiceAmount``; dates are M/D/YYYY;
- one payment per invoice of the full amount, received on ``SettledDate``,
  naming the invoice (``PAY-<invoiceNumber>``).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

from django.core.management import call_command
from django.db import transaction

REPO_ROOT = Path(__file__).resolve().parents[4]
SOURCE = REPO_ROOT.parent / "shared" / "fixtures" / "ar" / "WA_Fn-UseC_-Accounts-Receivable.csv"

COUNTRIES = {"391": "US", "406": "CA", "770": "GB", "818": "DE", "897": "FR"}
CURRENCY = "USD"


@dataclass(frozen=True)
class HistoryRow:
    """One invoice of the history with its settlement."""

    customer: str
    country_code: str
    invoice: str
    issued: date
    due: date
    amount: Decimal
    settled: date


def _us_date(text: str) -> date:
    return datetime.strptime(text, "%m/%d/%Y").date()


def read_history(path: Path = SOURCE) -> list[HistoryRow]:
    """The rows of the IBM file, parsed."""
    with path.open(encoding="utf-8", newline="") as f:
        return [
            HistoryRow(
                customer=row["customerID"],
                country_code=row["countryCode"],
                invoice=row["invoiceNumber"],
                issued=_us_date(row["InvoiceDate"]),
                due=_us_date(row["DueDate"]),
                amount=Decimal(row["InvoiceAmount"]),
                settled=_us_date(row["SettledDate"]),
            )
            for row in csv.DictReader(f)
        ]


def _write(path: Path, columns: list[str], rows: Iterable[list[str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows(rows)
    return path


def write_contract_files(history: list[HistoryRow], directory: Path) -> dict[str, Path]:
    """customers.csv, invoices.csv and payments.csv in the contract's format."""
    customers = {row.customer: COUNTRIES[row.country_code] for row in history}
    return {
        "customers": _write(
            directory / "customers.csv",
            ["customer_ref", "name", "country", "currency"],
            (
                [ref, f"IBM sample customer {ref}", country, CURRENCY]
                for ref, country in sorted(customers.items())
            ),
        ),
        "invoices": _write(
            directory / "invoices.csv",
            ["invoice_ref", "customer_ref", "issue_date", "due_date", "amount", "currency"],
            (
                [
                    r.invoice,
                    r.customer,
                    r.issued.isoformat(),
                    r.due.isoformat(),
                    str(r.amount),
                    CURRENCY,
                ]
                for r in history
            ),
        ),
        "payments": _write(
            directory / "payments.csv",
            ["payment_ref", "customer_ref", "received_on", "amount", "currency", "invoice_ref"],
            (
                [
                    f"PAY-{r.invoice}",
                    r.customer,
                    r.settled.isoformat(),
                    str(r.amount),
                    CURRENCY,
                    r.invoice,
                ]
                for r in history
            ),
        ),
    }


def open_at(history: list[HistoryRow], as_of: date) -> tuple[int, Decimal]:
    """Count and total of invoices open at ``as_of``, straight from the file:
    issued on or before it and settled after it."""
    open_rows = [r for r in history if r.issued <= as_of < r.settled]
    return len(open_rows), sum((r.amount for r in open_rows), Decimal(0))


@contextmanager
def history_imported(directory: Path) -> Iterator[list[HistoryRow]]:
    """Import the history through the real importers (files written under
    ``directory``) in a transaction rolled back on exit; yields its rows."""
    rows = read_history()
    files = write_contract_files(rows, directory)
    with transaction.atomic():
        for kind in ("customers", "invoices", "payments"):
            call_command("import", kind, str(files[kind]), stdout=io.StringIO())
        yield rows
        transaction.set_rollback(True)
