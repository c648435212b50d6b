"""A small imported ledger for the daily run's tests.

On 2025-03-12 (a Wednesday), with the shipped default policy:
- C1 (auto, new) has I1 and I2, both past due: one consolidated inquiry e-mail;
- C2 (white glove) has I3, five days past due: the white-glove check-in call;
- C3 (paused) has I4 past due: nothing;
- C4 (auto, new) has I5 issued two days ago: too early (confirm call on the 15th,
  a Saturday, so Monday the 17th).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest

from arrears.ledger.csvfiles import read_rows
from arrears.ledger.importers import ImportSummary, rows_import

AS_OF = date(2025, 3, 12)

CUSTOMERS = """\
customer_ref,name,email,phone,country,currency,preferred_channel,automation,customer_since
C1,Acme Inc,ap@acme.example,+12015550123,US,USD,email,auto,2020-01-15
C2,Beispiel GmbH,ap@beispiel.example,+4930901820,DE,EUR,letter,white_glove,2019-05-01
C3,Paused Ltd,ap@paused.example,,GB,GBP,,paused,2018-01-01
C4,Fresh LLC,ap@fresh.example,+12015550199,US,USD,email,auto,2020-01-01
"""

INVOICES = """invoice_ref,customer_ref,issue_date,due_date,amount,currency
I1,C1,2025-01-01,2025-01-31,100.00,USD
I2,C1,2025-01-05,2025-02-04,250.00,USD
I3,C2,2025-02-01,2025-03-03,900.00,EUR
I4,C3,2025-01-01,2025-01-31,50.00,GBP
I5,C4,2025-03-10,2025-04-09,75.00,USD
"""


def import_text(tmp_path: Path, kind: str, text: str) -> ImportSummary:
    path = tmp_path / f"{kind}-{abs(hash(text))}.csv"
    path.write_text(text, encoding="utf-8")
    return rows_import(kind, read_rows(path, kind), actor_label=f"test {kind}")


@pytest.fixture
def importer(tmp_path: Path) -> Callable[[str, str], ImportSummary]:
    return lambda kind, text: import_text(tmp_path, kind, text)


@pytest.fixture
def ledger(db: None, importer: Callable[[str, str], ImportSummary]) -> None:
    importer("customers", CUSTOMERS)
    importer("invoices", INVOICES)
