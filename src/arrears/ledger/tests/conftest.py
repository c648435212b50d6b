"""Fixtures for ledger tests: a small customer base imported through the CLI."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from .import_runs import import_csv, write_csv

CUSTOMERS_CSV = "\n".join(
    [
        "customer_ref,name,email,phone,country,tax_id,currency,credit_limit,"
        "preferred_channel,automation,language,customer_since",
        "C1,Acme Inc,ap@acme.example;billing@acme.example,(201) 555-0123,US,04-2103594,"
        "USD,10000.00,email,auto,en,2020-01-15",
        "C2,Beispiel GmbH,buchhaltung@beispiel.example,030 901820,DE,DE136695976,"
        "EUR,,letter,white_glove,de,",
        "C3,Nippon KK,,,JP,,JPY,,,,,",
    ]
)


@pytest.fixture
def csv_file(tmp_path: Path) -> Callable[[str, str], Path]:
    """Write a CSV file under the test's temporary directory."""

    def make(name: str, text: str) -> Path:
        return write_csv(tmp_path, name, text)

    return make


@pytest.fixture
def customers(db: None, csv_file: Callable[[str, str], Path]) -> None:
    """Customers C1 (US, USD), C2 (DE, EUR) and C3 (JP, JPY)."""
    outcome = import_csv("customers", csv_file("customers.csv", CUSTOMERS_CSV))
    assert outcome.code == 0, outcome.stderr
