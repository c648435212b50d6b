"""`arrears import`: valid files of each kind, and every class of bad input
reported as `FILE:LINE: field: reason` with exit code 2 and nothing written."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command, load_command_class
from django.db import connections

from arrears.ledger.csvfiles import header
from arrears.ledger.models import (
    Activity,
    Automation,
    Contact,
    CreditNote,
    Customer,
    ImportRun,
    Invoice,
    InvoiceStatus,
    Payment,
)

from .import_runs import import_csv, ledger_counts

CsvFile = Callable[[str, str], Path]

INVOICES_CSV = """
    invoice_ref,customer_ref,issue_date,due_date,amount,currency,order_ref,terms
    I1,C1,2024-01-01,2024-01-31,100.00,USD,PO-1,net 30
    I2,C1,2024-01-10,2024-02-09,250.5,USD,,
    I3,C2,2024-01-05,2024-02-04,80.00,EUR,,
    I4,C3,2024-01-05,2024-02-04,5000,JPY,,
"""


@pytest.fixture
def invoices(customers: None, csv_file: CsvFile) -> None:
    outcome = import_csv("invoices", csv_file("invoices.csv", INVOICES_CSV))
    assert outcome.code == 0, outcome.stderr


# --- valid files -----------------------------------------------------------------


def test_a_valid_customers_file_creates_customers_and_their_contacts(customers: None) -> None:
    acme = Customer.objects.get(ref="C1")
    assert (acme.name, acme.country, acme.phone, acme.tax_id) == (
        "Acme Inc",
        "US",
        "+12015550123",
        "042103594",
    )
    assert (acme.currency, acme.credit_limit, acme.preferred_channel) == (
        "USD",
        Decimal("10000.00"),
        "email",
    )
    assert acme.customer_since is not None and acme.customer_since.isoformat() == "2020-01-15"
    assert list(acme.contacts.values_list("email", "phone", "is_active")) == [
        ("ap@acme.example", "+12015550123", True),
        ("billing@acme.example", "", True),
    ]
    beispiel = Customer.objects.get(ref="C2")
    assert beispiel.automation == Automation.WHITE_GLOVE
    assert beispiel.tax_id == "136695976"
    assert beispiel.credit_limit is None
    nippon = Customer.objects.get(ref="C3")
    assert (nippon.automation, nippon.contacts.count()) == (Automation.AUTO, 0)
    assert Activity.objects.filter(verb="customer.created").count() == 3
    run = ImportRun.objects.get()
    assert (run.kind, run.rows, run.created, run.updated, run.unchanged) == (
        "customers",
        3,
        3,
        0,
        0,
    )
    assert len(run.sha256) == 64


def test_a_customers_file_with_address_time_zone_and_collector_sets_them(
    db: None, csv_file: CsvFile
) -> None:
    ann = User.objects.create_user("ann")
    path = csv_file(
        "customers.csv",
        f"""
        {FULL_CUSTOMER_HEADER}
        N1,Beispiel GmbH,,,DE,,EUR,,letter,,,,Hauptstr. 5 |10115 Berlin|  Germany ,Europe/Berlin,ann
        N2,Acme Inc,,,US,,USD,,,,,,,,
        """,
    )
    outcome = import_csv("customers", path)
    assert outcome.code == 0, outcome.stderr
    beispiel = Customer.objects.get(ref="N1")
    assert beispiel.postal_address == "Hauptstr. 5\n10115 Berlin\nGermany"
    assert (beispiel.time_zone, beispiel.collector) == ("Europe/Berlin", ann)
    acme = Customer.objects.get(ref="N2")
    assert (acme.postal_address, acme.time_zone, acme.collector) == ("", "", None)


def test_an_inactive_user_cannot_be_made_a_collector(customers: None, csv_file: CsvFile) -> None:
    User.objects.create_user("gone", is_active=False)
    path = csv_file(
        "customers.csv", f"{FULL_CUSTOMER_HEADER}\nC3,Nippon KK,,,JP,,JPY,,,,,,,,gone\n"
    )
    before = ledger_counts()
    outcome = import_csv("customers", path)
    assert outcome.code == 2
    assert outcome.error_lines == [f"{path}:2: collector: no active user named 'gone'"]
    assert ledger_counts() == before


def test_the_customers_export_writes_the_later_columns_and_imports_unchanged(
    customers: None, tmp_path: Path
) -> None:
    ann = User.objects.create_user("ann")
    Customer.objects.filter(ref="C2").update(
        postal_address="Hauptstr. 5\n10115 Berlin\nGermany",
        time_zone="Europe/Berlin",
        collector=ann,
    )
    # An address typed into a form may hold blank lines and stray spaces.
    Customer.objects.filter(ref="C3").update(postal_address="1-1 Marunouchi \r\n\r\nTokyo\n")
    out = io.StringIO()
    call_command("export", "customers", stdout=out)
    lines = out.getvalue().splitlines()
    assert lines[0] == FULL_CUSTOMER_HEADER
    assert lines[2].endswith(",Hauptstr. 5 | 10115 Berlin | Germany,Europe/Berlin,ann")
    assert lines[3].endswith(",1-1 Marunouchi | Tokyo,,")
    path = tmp_path / "export.csv"
    path.write_text(out.getvalue(), encoding="utf-8")
    outcome = import_csv("customers", path, "--json")
    assert outcome.code == 0, outcome.stderr
    summary = json.loads(outcome.stdout)
    # C3's address is tidied by the round trip; nothing else changes.
    assert (summary["updated"], summary["unchanged"]) == (1, 2)
    assert Customer.objects.get(ref="C3").postal_address == "1-1 Marunouchi\nTokyo"
    assert Customer.objects.get(ref="C2").collector == ann
    again = import_csv("customers", path, "--json")
    assert json.loads(again.stdout)["unchanged"] == 3


def test_a_valid_invoices_file_creates_open_invoices(invoices: None) -> None:
    rows: list[tuple[object, ...]] = list(
        Invoice.objects.order_by("ref").values_list(
            "ref", "customer__ref", "amount", "currency", "allocated", "status", "order_ref"
        )
    )
    assert rows == [
        ("I1", "C1", Decimal("100.00"), "USD", 0, InvoiceStatus.OPEN, "PO-1"),
        ("I2", "C1", Decimal("250.50"), "USD", 0, InvoiceStatus.OPEN, ""),
        ("I3", "C2", Decimal("80.00"), "EUR", 0, InvoiceStatus.OPEN, ""),
        ("I4", "C3", Decimal("5000"), "JPY", 0, InvoiceStatus.OPEN, ""),
    ]
    assert ImportRun.objects.filter(kind="invoices", created=4).exists()


def test_a_valid_payments_file_creates_and_allocates_payments(
    invoices: None, csv_file: CsvFile
) -> None:
    outcome = import_csv(
        "payments",
        csv_file(
            "payments.csv",
            """
            payment_ref,customer_ref,received_on,amount,currency,invoice_ref
            P1,C1,2024-02-01,100.00,USD,I1
            P2,C2,2024-02-02,30,EUR,
            """,
        ),
    )
    assert outcome.code == 0, outcome.stderr
    assert "payments: 2 rows — 2 created, 0 updated, 0 unchanged" in outcome.stdout
    assert Payment.objects.get(ref="P1").allocated == Decimal("100.00")
    assert Invoice.objects.get(ref="I1").status == InvoiceStatus.PAID
    assert Invoice.objects.get(ref="I3").open_amount == Decimal("50.00")


def test_a_valid_credit_notes_file_creates_and_allocates_credit_notes(
    invoices: None, csv_file: CsvFile
) -> None:
    outcome = import_csv(
        "credit-notes",
        csv_file(
            "credit-notes.csv",
            """
            credit_note_ref,customer_ref,issue_date,amount,currency,invoice_ref
            CN1,C1,2024-01-20,0.50,USD,I2
            CN2,C3,2024-01-21,1000,JPY,
            """,
        ),
    )
    assert outcome.code == 0, outcome.stderr
    assert CreditNote.objects.count() == 2
    assert Invoice.objects.get(ref="I2").open_amount == Decimal("250.00")
    assert Invoice.objects.get(ref="I4").open_amount == Decimal("4000")


def test_columns_may_come_in_any_order_and_optional_ones_may_be_left_out(
    customers: None, csv_file: CsvFile
) -> None:
    outcome = import_csv(
        "invoices",
        csv_file(
            "invoices.csv",
            """
            currency,amount,due_date,issue_date,customer_ref,invoice_ref
            USD,10.00,2024-03-01,2024-02-01,C1,X1
            """,
        ),
    )
    assert outcome.code == 0, outcome.stderr
    assert Invoice.objects.get(ref="X1").amount == Decimal("10.00")


def test_a_byte_order_mark_blank_lines_and_crlf_line_ends_are_accepted(
    customers: None, tmp_path: Path
) -> None:
    path = tmp_path / "invoices.csv"
    path.write_bytes(
        b"\xef\xbb\xbfinvoice_ref,customer_ref,issue_date,due_date,amount,currency\r\n"
        b"X1,C1,2024-02-01,2024-03-01,10.00,USD\r\n"
        b"\r\n"
        b"X2,C1,2024-02-01,2024-03-01,20.00,USD\r\n"
    )
    outcome = import_csv("invoices", path)
    assert outcome.code == 0, outcome.stderr
    assert set(Invoice.objects.values_list("ref", flat=True)) == {"X1", "X2"}


def test_a_header_only_file_imports_nothing_successfully(
    customers: None, csv_file: CsvFile
) -> None:
    outcome = import_csv("invoices", csv_file("invoices.csv", ",".join(header("invoices"))))
    assert outcome.code == 0, outcome.stderr
    assert Invoice.objects.count() == 0


# --- bad rows --------------------------------------------------------------------

# A customers file from before postal_address, time_zone and collector: still valid.
CUSTOMER_HEADER = (
    "customer_ref,name,email,phone,country,tax_id,currency,credit_limit,"
    "preferred_channel,automation,language,customer_since"
)
FULL_CUSTOMER_HEADER = ",".join(header("customers"))
INVOICE_HEADER = ",".join(header("invoices"))
PAYMENT_HEADER = ",".join(header("payments"))
CREDIT_HEADER = ",".join(header("credit-notes"))

# (kind, header, data rows, line, field, a fragment of the reason)
BAD_ROWS = [
    # customers: customer_ref,name,email,phone,country,tax_id,currency,credit_limit,
    #            preferred_channel,automation,language,customer_since
    ("customers", CUSTOMER_HEADER, ["N1,,,,US,,,,,,,"], 2, "name", "is required"),
    ("customers", CUSTOMER_HEADER, [",Name,,,US,,,,,,,"], 2, "customer_ref", "is required"),
    ("customers", CUSTOMER_HEADER, ["N1,Name,,,,,,,,,,"], 2, "country", "is required"),
    ("customers", CUSTOMER_HEADER, ["N1,Name,,,XX,,,,,,,"], 2, "country", "ISO 3166"),
    ("customers", CUSTOMER_HEADER, ["N1,Name,,,USA,,,,,,,"], 2, "country", "alpha-2"),
    ("customers", CUSTOMER_HEADER, ["N1,Name,not-an-email,,US,,,,,,,"], 2, "email", "@-sign"),
    (
        "customers",
        CUSTOMER_HEADER,
        ["N1,Name,ok@acme.example;bad@,,US,,,,,,,"],
        2,
        "email",
        "bad@",
    ),
    ("customers", CUSTOMER_HEADER, ["N1,Name,,555-0100,US,,,,,,,"], 2, "phone", "for US"),
    ("customers", CUSTOMER_HEADER, ["N1,Name,,020 7946 0958,US,,,,,,,"], 2, "phone", "for US"),
    ("customers", CUSTOMER_HEADER, ["N1,Name,,,DE,DE136695978,,,,,,"], 2, "tax_id", "DE tax id"),
    ("customers", CUSTOMER_HEADER, ["N1,Name,,,FR,FR 84 323 140 391,,,,,,"], 2, "tax_id", "FR"),
    ("customers", CUSTOMER_HEADER, ["N1,Name,,,GB,GB 802311781,,,,,,"], 2, "tax_id", "GB"),
    ("customers", CUSTOMER_HEADER, ["N1,Name,,,US,00-2103594,,,,,,"], 2, "tax_id", "US"),
    ("customers", CUSTOMER_HEADER, ["N1,Name,,,US,,US$,,,,,"], 2, "currency", "ISO 4217"),
    ("customers", CUSTOMER_HEADER, ["N1,Name,,,US,,usd,,,,,"], 2, "currency", "ISO 4217"),
    ("customers", CUSTOMER_HEADER, ["N1,Name,,,US,,USD,-1,,,,"], 2, "credit_limit", "greater"),
    ("customers", CUSTOMER_HEADER, ["N1,Name,,,US,,,100,,,,"], 2, "credit_limit", "currency"),
    ("customers", CUSTOMER_HEADER, ["N1,Name,,,US,,,,fax,,,"], 2, "preferred_channel", "fax"),
    ("customers", CUSTOMER_HEADER, ["N1,Name,,,US,,,,,manual,,"], 2, "automation", "manual"),
    ("customers", CUSTOMER_HEADER, ["N1,Name,,,US,,,,,,english,"], 2, "language", "ISO 639"),
    ("customers", CUSTOMER_HEADER, ["N1,Name,,,US,,,,,,,15/01/2020"], 2, "customer_since", "ISO"),
    ("customers", CUSTOMER_HEADER, [f"{'R' * 65},Name,,,US,,,,,,,"], 2, "customer_ref", "64"),
    ("customers", CUSTOMER_HEADER, [f"N1,{'n' * 201},,,US,,,,,,,"], 2, "name", "200"),
    # No validator for Antarctica: the tax id is kept as given, but must fit.
    ("customers", CUSTOMER_HEADER, [f"N1,Name,,,AQ,{'T' * 41},,,,,,"], 2, "tax_id", "40"),
    ("customers", CUSTOMER_HEADER, ["N1,Name,,,US,,USD,1e6,,,,"], 2, "credit_limit", "number"),
    # customers, later columns: ...,customer_since,postal_address,time_zone,collector
    *(
        ("customers", FULL_CUSTOMER_HEADER, [f"N1,Name,,,US,,,,,,,,{cells}"], 2, field, reason)
        for cells, field, reason in [
            ("Main St 1 |  | Springfield,,", "postal_address", "line 2 is empty"),
            ("Main St 1 | ,,", "postal_address", "line 2 is empty"),
            (" | ".join(["x"] * 9) + ",,", "postal_address", "has 9 lines; at most 8"),
            (f"Main St 1 | {'y' * 61},,", "postal_address", "line 2 ('yyyyyyyyyy"),
            (f"Main St 1 | {'y' * 61},,", "postal_address", "61 characters; at most 60"),
            (",Europe/Berlln,", "time_zone", "'Europe/Berlln' is not an IANA time zone"),
            (",America/new_york,", "time_zone", "did you mean America/New_York?"),
            (",CEST,", "time_zone", "'CEST' is not an IANA time zone"),
            (",localtime,", "time_zone", "not an IANA time zone"),
            (",,nobody", "collector", "no active user named 'nobody'"),
        ]
    ),
    (
        "customers",
        FULL_CUSTOMER_HEADER,
        ['N1,Name,,,US,,,,,,,,"Main St 1\nSpringfield",,'],  # a row that ends on line 3
        3,
        "postal_address",
        "holds a line break or another control character; separate lines with ' | '",
    ),
    # invoices: invoice_ref,customer_ref,issue_date,due_date,amount,currency,order_ref,terms
    (
        "invoices",
        INVOICE_HEADER,
        [",C1,2024-01-01,2024-01-31,1,USD,,"],
        2,
        "invoice_ref",
        "required",
    ),
    (
        "invoices",
        INVOICE_HEADER,
        ["X1,,2024-01-01,2024-01-31,1,USD,,"],
        2,
        "customer_ref",
        "required",
    ),
    ("invoices", INVOICE_HEADER, ["X1,C1,,2024-01-31,1,USD,,"], 2, "issue_date", "is required"),
    ("invoices", INVOICE_HEADER, ["X1,C1,2024-01-01,2024-01-31,,USD,,"], 2, "amount", "required"),
    ("invoices", INVOICE_HEADER, ["X1,C1,2024-01-01,2024-01-31,1,,,"], 2, "currency", "required"),
    ("invoices", INVOICE_HEADER, ["X1,C1,2024-02-30,2024-03-31,1,USD,,"], 2, "issue_date", "valid"),
    ("invoices", INVOICE_HEADER, ["X1,C1,01/02/2024,2024-03-31,1,USD,,"], 2, "issue_date", "ISO"),
    ("invoices", INVOICE_HEADER, ["X1,C1,2024-01-01,2024-1-31,1,USD,,"], 2, "due_date", "ISO"),
    (
        "invoices",
        INVOICE_HEADER,
        ["X1,C1,2024-02-01,2024-01-31,1,USD,,"],
        2,
        "due_date",
        "before the issue date",
    ),
    ("invoices", INVOICE_HEADER, ["X1,C1,2024-01-01,2024-01-31,1,ABC,,"], 2, "currency", "4217"),
    ("invoices", INVOICE_HEADER, ["X1,C1,2024-01-01,2024-01-31,1,XAU,,"], 2, "currency", "4217"),
    ("invoices", INVOICE_HEADER, ["X1,C1,2024-01-01,2024-01-31,0,USD,,"], 2, "amount", "greater"),
    (
        "invoices",
        INVOICE_HEADER,
        ["X1,C1,2024-01-01,2024-01-31,0.00,USD,,"],
        2,
        "amount",
        "greater",
    ),
    ("invoices", INVOICE_HEADER, ["X1,C1,2024-01-01,2024-01-31,-5,USD,,"], 2, "amount", "greater"),
    (
        "invoices",
        INVOICE_HEADER,
        ["X1,C3,2024-01-01,2024-01-31,1.5,JPY,,"],
        2,
        "amount",
        "decimals",
    ),
    (
        "invoices",
        INVOICE_HEADER,
        ["X1,C1,2024-01-01,2024-01-31,1.001,USD,,"],
        2,
        "amount",
        "more than 2 decimals",
    ),
    (
        "invoices",
        INVOICE_HEADER,
        ["X1,C1,2024-01-01,2024-01-31,100000000000000.00,USD,,"],
        2,
        "amount",
        "too large",
    ),
    (
        "invoices",
        INVOICE_HEADER,
        ['X1,C1,2024-01-01,2024-01-31,"1,000",USD,,'],
        2,
        "amount",
        "separ",
    ),
    ("invoices", INVOICE_HEADER, ["X1,C1,2024-01-01,2024-01-31,1e3,USD,,"], 2, "amount", "number"),
    (
        "invoices",
        INVOICE_HEADER,
        ["X1,NOPE,2024-01-01,2024-01-31,1,USD,,"],
        2,
        "customer_ref",
        "no customer",
    ),
    (
        "invoices",
        INVOICE_HEADER,
        ["X1,C1,2024-01-01,2024-01-31,1,USD,,", "X1,C1,2024-01-01,2024-01-31,1,USD,,"],
        3,
        "invoice_ref",
        "appears twice",
    ),
    (
        "invoices",
        INVOICE_HEADER,
        ["X1,C1,2024-01-01,2024-01-31,1,USD"],
        2,
        "-",
        "6 fields, header has 8",
    ),
    ("invoices", INVOICE_HEADER, ["X1,C1,2024-01-01,2024-01-31,1,USD,,,"], 2, "-", "9 fields"),
    # payments: payment_ref,customer_ref,received_on,amount,currency,invoice_ref
    ("payments", PAYMENT_HEADER, ["P9,C1,,1,USD,"], 2, "received_on", "is required"),
    ("payments", PAYMENT_HEADER, ["P9,C1,2024-13-01,1,USD,"], 2, "received_on", "valid date"),
    ("payments", PAYMENT_HEADER, ["P9,C1,2024-02-01,0,USD,"], 2, "amount", "greater"),
    ("payments", PAYMENT_HEADER, ["P9,C1,2024-02-01,-1.00,USD,"], 2, "amount", "greater"),
    ("payments", PAYMENT_HEADER, ["P9,C3,2024-02-01,1.5,JPY,"], 2, "amount", "0 decimals"),
    ("payments", PAYMENT_HEADER, ["P9,C1,2024-02-01,1.001,USD,"], 2, "amount", "2 decimals"),
    ("payments", PAYMENT_HEADER, ["P9,C1,2024-02-01,1,EURO,"], 2, "currency", "ISO 4217"),
    ("payments", PAYMENT_HEADER, ["P9,NOPE,2024-02-01,1,USD,"], 2, "customer_ref", "no customer"),
    ("payments", PAYMENT_HEADER, ["P9,C1,2024-02-01,1,USD,NOPE"], 2, "invoice_ref", "no invoice"),
    ("payments", PAYMENT_HEADER, ["P9,C1,2024-02-01,1,EUR,I3"], 2, "invoice_ref", "belongs to"),
    ("payments", PAYMENT_HEADER, ["P9,C1,2024-02-01,1,EUR,I1"], 2, "currency", "is in USD"),
    (
        "payments",
        PAYMENT_HEADER,
        ["P9,C1,2024-02-01,1,USD,", "P8,C1,2024-02-01,1,USD,", "P9,C1,2024-02-02,1,USD,"],
        4,
        "payment_ref",
        "appears twice (first at",
    ),
    # credit notes: credit_note_ref,customer_ref,issue_date,amount,currency,invoice_ref
    ("credit-notes", CREDIT_HEADER, ["CN9,C1,2024/02/01,1,USD,"], 2, "issue_date", "ISO"),
    ("credit-notes", CREDIT_HEADER, ["CN9,C1,2024-02-01,0,USD,"], 2, "amount", "greater"),
    ("credit-notes", CREDIT_HEADER, ["CN9,C2,2024-02-01,0.001,EUR,"], 2, "amount", "decimals"),
    (
        "credit-notes",
        CREDIT_HEADER,
        ["CN9,C1,2024-02-01,1,USD,NOPE"],
        2,
        "invoice_ref",
        "no invoice",
    ),
    ("credit-notes", CREDIT_HEADER, ["CN9,C2,2024-02-01,1,USD,I1"], 2, "invoice_ref", "belongs to"),
    ("credit-notes", CREDIT_HEADER, ["CN9,C3,2024-02-01,1,USD,I4"], 2, "currency", "is in JPY"),
    (
        "credit-notes",
        CREDIT_HEADER,
        ["CN9,NOPE,2024-02-01,1,USD,"],
        2,
        "customer_ref",
        "no customer",
    ),
]


@pytest.mark.parametrize(
    ("kind", "head", "rows", "line", "field", "reason"),
    BAD_ROWS,
    ids=[f"{case[0]}-{case[4]}-{case[5] or 'bad'}-{n}" for n, case in enumerate(BAD_ROWS)],
)
def test_each_bad_row_is_reported_with_file_line_field_and_reason_and_nothing_is_written(
    invoices: None,
    csv_file: CsvFile,
    kind: str,
    head: str,
    rows: list[str],
    line: int,
    field: str,
    reason: str,
) -> None:
    # A good row before the bad one proves that nothing at all is written.
    good = {
        "customers": "OK1,Good Co,,,US,,,,,,,",
        "invoices": "OK1,C1,2024-01-01,2024-01-31,1,USD,,",
        "payments": "OK1,C1,2024-02-01,1,USD,",
        "credit-notes": "OK1,C1,2024-02-01,1,USD,",
    }[kind]
    good += "," * (head.count(",") - good.count(","))
    path = csv_file(f"{kind}.csv", "\n".join([head, good, *rows]) + "\n")
    before = ledger_counts()
    outcome = import_csv(kind, path)
    assert outcome.code == 2
    expected = f"{path}:{line + 1}: {field}: "
    matching = [e for e in outcome.error_lines if e.startswith(expected)]
    assert matching, f"no error starting {expected!r} in {outcome.error_lines}"
    assert reason in matching[0]
    assert ledger_counts() == before


def test_every_bad_row_is_listed_not_only_the_first(invoices: None, csv_file: CsvFile) -> None:
    path = csv_file(
        "invoices.csv",
        f"""
        {INVOICE_HEADER}
        X1,C1,2024-01-01,2024-01-31,1,USD,,
        X2,C1,2024-01-01,2024-01-31,-1,USD,,
        X3,C1,2024-01-01,2024-01-31,1,USD,,
        X4,C9,2024-13-01,2024-01-31,1,USD,,
        """,
    )
    outcome = import_csv("invoices", path)
    assert outcome.code == 2
    assert [line.split(": ")[0:2] for line in outcome.error_lines] == [
        [f"{path}:3", "amount"],
        [f"{path}:5", "issue_date"],
        [f"{path}:5", "customer_ref"],
    ]
    assert not Invoice.objects.filter(ref__startswith="X").exists()


def test_a_conflict_with_an_imported_invoice_is_listed_with_the_other_bad_rows(
    invoices: None, csv_file: CsvFile
) -> None:
    path = csv_file(
        "invoices.csv",
        f"""
        {INVOICE_HEADER}
        X1,C1,2024-01-01,2024-01-31,oops,USD,,
        I1,C1,2024-01-01,2024-01-31,999.00,USD,,
        """,
    )
    outcome = import_csv("invoices", path)
    assert outcome.code == 2
    assert [line.split(": ")[0:2] for line in outcome.error_lines] == [
        [f"{path}:2", "amount"],
        [f"{path}:3", "amount"],
    ]


def test_a_conflict_with_a_posted_payment_is_listed_with_the_other_bad_rows(
    invoices: None, csv_file: CsvFile
) -> None:
    first = csv_file("p1.csv", f"{PAYMENT_HEADER}\nP1,C1,2024-02-01,10.00,USD,\n")
    assert import_csv("payments", first).code == 0
    path = csv_file(
        "p2.csv",
        f"""
        {PAYMENT_HEADER}
        P2,C1,2024-02-01,0,USD,
        P1,C1,2024-02-01,11.00,USD,
        """,
    )
    outcome = import_csv("payments", path)
    assert outcome.code == 2
    assert [line.split(": ")[0:2] for line in outcome.error_lines] == [
        [f"{path}:2", "amount"],
        [f"{path}:3", "payment_ref"],
    ]


# --- bad files -------------------------------------------------------------------


def test_a_missing_required_column_is_reported_on_the_header_line(
    customers: None, csv_file: CsvFile
) -> None:
    path = csv_file(
        "invoices.csv",
        """
        invoice_ref,customer_ref,issue_date,amount,currency
        X1,C1,2024-01-01,1,USD
        """,
    )
    outcome = import_csv("invoices", path)
    assert outcome.code == 2
    assert outcome.error_lines == [f"{path}:1: due_date: required column is missing"]
    assert Invoice.objects.count() == 0


def test_an_unknown_column_is_reported_on_the_header_line(
    customers: None, csv_file: CsvFile
) -> None:
    path = csv_file(
        "invoices.csv",
        f"""
        {INVOICE_HEADER},discount
        X1,C1,2024-01-01,2024-01-31,1,USD,,,5
        """,
    )
    outcome = import_csv("invoices", path)
    assert outcome.code == 2
    assert len(outcome.error_lines) == 1
    assert outcome.error_lines[0].startswith(f"{path}:1: discount: unknown column (expected ")


def test_a_column_given_twice_is_reported(customers: None, csv_file: CsvFile) -> None:
    path = csv_file("invoices.csv", f"{INVOICE_HEADER},amount\n")
    outcome = import_csv("invoices", path)
    assert outcome.error_lines == [f"{path}:1: amount: column appears twice"]


def test_an_empty_file_is_rejected(customers: None, tmp_path: Path) -> None:
    path = tmp_path / "empty.csv"
    path.write_bytes(b"")
    outcome = import_csv("customers", path)
    assert outcome.code == 2
    assert outcome.error_lines == [f"{path}:1: -: the file is empty"]


def test_a_file_that_is_not_utf8_is_rejected_at_the_line_of_the_bad_byte(
    customers: None, tmp_path: Path
) -> None:
    path = tmp_path / "customers.csv"
    path.write_bytes(
        (CUSTOMER_HEADER + "\nL1,Plain,,,US,,,,,,,\n").encode()
        + "L2,Müller AG,,,DE,,,,,,,\n".encode("latin-1")
    )
    before = ledger_counts()
    outcome = import_csv("customers", path)
    assert outcome.code == 2
    assert len(outcome.error_lines) == 1
    assert outcome.error_lines[0].startswith(f"{path}:3: -: not UTF-8")
    assert ledger_counts() == before


def test_a_bad_byte_deep_in_a_large_file_is_reported_at_its_line(
    customers: None, tmp_path: Path
) -> None:
    good = "".join(f"X{n},C1,2024-01-01,2024-01-31,1.00,USD,,\n" for n in range(3000))
    path = tmp_path / "invoices.csv"
    path.write_bytes(
        (INVOICE_HEADER + "\n" + good).encode() + b"X\xff,C1,2024-01-01,2024-01-31,1,USD,,\n"
    )
    outcome = import_csv("invoices", path)
    assert outcome.code == 2
    assert outcome.error_lines[0].startswith(f"{path}:3002: -: not UTF-8")
    assert Invoice.objects.count() == 0


def test_a_missing_file_is_bad_input(db: None, tmp_path: Path) -> None:
    outcome = import_csv("customers", tmp_path / "nope.csv")
    assert outcome.code == 2


def test_an_unterminated_quote_is_rejected_not_crashing(customers: None, csv_file: CsvFile) -> None:
    path = csv_file("invoices.csv", f'{INVOICE_HEADER}\nX1,C1,2024-01-01,2024-01-31,"1,USD,,\n')
    outcome = import_csv("invoices", path)
    assert outcome.code == 2
    assert Invoice.objects.count() == 0


# --- --json and the real command line --------------------------------------------


def test_json_prints_exactly_one_json_document_on_success(
    invoices: None, csv_file: CsvFile
) -> None:
    path = csv_file("payments.csv", f"{PAYMENT_HEADER}\nP1,C1,2024-02-01,400.00,USD,\n")
    outcome = import_csv("payments", path, "--json")
    assert outcome.code == 0
    document = json.loads(outcome.stdout)  # fails on anything but one document
    assert document == {
        "ok": True,
        "kind": "payments",
        "rows": 1,
        "created": 1,
        "updated": 0,
        "unchanged": 0,
        "allocated": {"USD": "350.50"},
        "unapplied": {"USD": "49.50"},
    }


def test_json_prints_exactly_one_json_document_listing_the_errors(
    invoices: None, csv_file: CsvFile
) -> None:
    path = csv_file(
        "invoices.csv",
        f"{INVOICE_HEADER}\nX1,C1,2024-01-01,2023-12-31,1,USD,,\nX2,C1,2024-01-01,2024-01-31,0,USD,,\n",
    )
    outcome = import_csv("invoices", path, "--json")
    assert outcome.code == 2
    document = json.loads(outcome.stdout)
    assert document["ok"] is False
    assert [(e["location"], e["field"]) for e in document["errors"]] == [
        (f"{path}:2", "due_date"),
        (f"{path}:3", "amount"),
    ]
    assert len(outcome.error_lines) == 2  # stderr still names every problem


def test_json_prints_one_document_for_a_rejected_file(customers: None, tmp_path: Path) -> None:
    path = tmp_path / "empty.csv"
    path.write_bytes(b"")
    outcome = import_csv("invoices", path, "--json")
    assert json.loads(outcome.stdout)["errors"][0]["reason"] == "the file is empty"


def _run_from_argv(monkeypatch: pytest.MonkeyPatch, *argv: str) -> tuple[int, str, str]:
    """What `arrears import ...` does, in this process and this test's database."""
    # run_from_argv closes all connections at the end; that would end the test's transaction.
    monkeypatch.setattr(connections, "close_all", lambda: None)
    out, err = io.StringIO(), io.StringIO()
    command = load_command_class("arrears.ledger", "import")
    command.stdout.__init__(out)  # type: ignore[misc]
    command.stderr.__init__(err)  # type: ignore[misc]
    try:
        command.run_from_argv(["arrears", "import", *argv])
    except SystemExit as exc:
        return int(exc.code or 0), out.getvalue(), err.getvalue()
    return 0, out.getvalue(), err.getvalue()


def test_the_command_line_exits_2_on_bad_input(
    customers: None, csv_file: CsvFile, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = csv_file("invoices.csv", f"{INVOICE_HEADER}\nX1,C1,2024-01-01,2024-01-31,0,USD,,\n")
    code, stdout, stderr = _run_from_argv(monkeypatch, "invoices", str(path))
    assert code == 2
    assert stdout == ""
    assert f"{path}:2: amount: 0 must be greater than 0" in stderr.splitlines()


def test_the_command_line_succeeds_with_exit_0(
    customers: None, csv_file: CsvFile, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = csv_file("invoices.csv", f"{INVOICE_HEADER}\nX1,C1,2024-01-01,2024-01-31,5,USD,,\n")
    code, stdout, stderr = _run_from_argv(monkeypatch, "invoices", str(path), "--json")
    assert (code, stderr) == (0, "")
    assert json.loads(stdout)["created"] == 1


def test_the_command_line_refuses_an_unknown_kind(
    db: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, _, _ = _run_from_argv(monkeypatch, "receipts", str(tmp_path / "x.csv"))
    assert code == 2


def test_import_does_not_touch_contacts_added_by_hand(customers: None, csv_file: CsvFile) -> None:
    acme = Customer.objects.get(ref="C1")
    Contact.objects.create(customer=acme, email="ceo@acme.example", from_import=False)
    path = csv_file(
        "customers.csv",
        f"{CUSTOMER_HEADER}\nC1,Acme Inc,ap@acme.example,,US,,USD,,,,,\n",
    )
    assert import_csv("customers", path).code == 0
    assert dict(acme.contacts.values_list("email", "is_active")) == {
        "ap@acme.example": True,
        "billing@acme.example": False,
        "ceo@acme.example": True,
    }


def test_json_prints_one_document_for_a_missing_file(db: None, tmp_path: Path) -> None:
    outcome = import_csv("customers", tmp_path / "nope.csv", "--json")
    assert outcome.code == 2
    assert json.loads(outcome.stdout)["ok"] is False
