"""The demo data generator and its load through the CSV importers."""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from django.db.models import F, Sum

from arrears.domain.masterdata import email_addresses, phone_number, tax_id
from arrears.ledger.demo import (
    DEMO_ACTOR,
    LOAD_ORDER,
    DemoRows,
    demo_data,
    demo_files_load,
    demo_files_write,
    demo_loaded,
    demo_rows,
)
from arrears.ledger.models import CreditNote, Customer, ImportRun, Invoice, Payment

TODAY = date(2026, 3, 14)
CURRENCY_OF = {"US": "USD", "GB": "GBP"} | dict.fromkeys(["DE", "FR", "NL", "IE", "ES"], "EUR")


@pytest.fixture(scope="module")
def full_demo() -> DemoRows:
    return demo_rows(today=TODAY)


def test_same_seed_and_day_give_identical_csv_files(tmp_path: Path) -> None:
    first = demo_files_write(tmp_path / "a", demo_rows(today=TODAY, customers=40, seed=7))
    second = demo_files_write(tmp_path / "b", demo_rows(today=TODAY, customers=40, seed=7))
    for kind in LOAD_ORDER:
        assert first[kind].read_bytes() == second[kind].read_bytes(), kind
        assert first[kind].read_bytes().count(b"\n") > 1


def test_another_seed_gives_other_data() -> None:
    assert demo_rows(today=TODAY, customers=40, seed=7) != demo_rows(
        today=TODAY, customers=40, seed=8
    )


def test_dates_follow_today_so_the_figures_look_current() -> None:
    later = TODAY + timedelta(days=100)
    before = demo_rows(today=TODAY, customers=20)
    after = demo_rows(today=later, customers=20)

    def shift(text: str) -> str:
        return (date.fromisoformat(text) + timedelta(days=100)).isoformat()

    assert [shift(r["issue_date"]) for r in before["invoices"]] == [
        r["issue_date"] for r in after["invoices"]
    ]
    assert max(r["issue_date"] for r in after["invoices"]) <= later.isoformat()
    assert (
        min(r["issue_date"] for r in after["invoices"]) >= (later - timedelta(days=730)).isoformat()
    )


def test_demo_has_about_300_customers_in_three_currencies(full_demo: DemoRows) -> None:
    customers = full_demo["customers"]
    assert len(customers) == 300
    assert {c["currency"] for c in customers} == {"USD", "EUR", "GBP"}
    for c in customers:
        assert CURRENCY_OF[c["country"]] == c["currency"]
    assert len({c["customer_ref"] for c in customers}) == 300
    assert len({c["name"] for c in customers}) == 300


def test_demo_master_data_is_valid_for_each_country(full_demo: DemoRows) -> None:
    for c in full_demo["customers"]:
        phone_number(c["phone"], c["country"])
        if c["email"]:
            assert email_addresses(c["email"])
            assert all(a.endswith(".example") for a in c["email"].split(";"))
        if c["tax_id"]:
            tax_id(c["tax_id"], c["country"])


def test_demo_mixes_automation_settings_channels_and_new_customers(full_demo: DemoRows) -> None:
    customers = full_demo["customers"]
    automation = Counter(c["automation"] for c in customers)
    assert automation["white_glove"] >= 3 and automation["paused"] >= 3
    assert automation["auto"] > 250
    assert {c["preferred_channel"] for c in customers} >= {"email", "call", "letter"}
    recent = (TODAY - timedelta(days=120)).isoformat()
    assert sum(c["customer_since"] >= recent for c in customers) >= 20


def test_demo_has_two_years_of_documents(full_demo: DemoRows) -> None:
    invoices = full_demo["invoices"]
    assert 4000 < len(invoices) < 12000
    assert min(r["issue_date"] for r in invoices) < (TODAY - timedelta(days=700)).isoformat()
    assert len(full_demo["credit-notes"]) > 50
    on_account = [p for p in full_demo["payments"] if not p["invoice_ref"]]
    assert on_account, "some payments name no invoice"
    assert len(full_demo["payments"]) > len(on_account)


def test_generator_expects_partial_payments_and_a_few_overpayments(full_demo: DemoRows) -> None:
    data = demo_data(today=TODAY)
    amounts = {r["invoice_ref"]: Decimal(r["amount"]) for r in data.rows["invoices"]}
    partly_open = [
        ref for ref, left in data.expected_open.items() if Decimal(0) < left < amounts[ref]
    ]
    assert len(partly_open) > 20
    assert set(data.expected_unapplied) <= {"USD", "EUR", "GBP"}
    assert data.expected_unapplied, "some overpayments"
    total_paid = sum(Decimal(p["amount"]) for p in data.rows["payments"])
    assert sum(data.expected_unapplied.values()) < total_paid / 100, "only a few"


@pytest.mark.django_db
def test_demo_loads_through_the_importers_to_the_expected_ledger(tmp_path: Path) -> None:
    data = demo_data(today=TODAY, customers=30, seed=3)
    paths = demo_files_write(tmp_path, data.rows)
    seen: dict[str, int] = {}

    def progress(kind: str, done: int, total: int) -> None:
        seen[kind] = done

    summaries = demo_files_load(paths, on_progress=progress)

    assert {kind: s.created for kind, s in summaries.items()} == {
        kind: len(data.rows[kind]) for kind in LOAD_ORDER
    }
    assert seen == {kind: paths[kind].stat().st_size for kind in LOAD_ORDER}
    assert Customer.objects.count() == 30
    assert Invoice.objects.count() == len(data.rows["invoices"])
    assert CreditNote.objects.count() == len(data.rows["credit-notes"])
    assert Payment.objects.count() == len(data.rows["payments"])
    # The importers applied every payment and credit note where the generator meant it.
    open_now = dict(Invoice.objects.values_list("ref", F("amount") - F("allocated")))
    assert open_now == data.expected_open
    unapplied = dict(
        Payment.objects.filter(allocated__lt=F("amount"))
        .values("currency")
        .annotate(total=Sum(F("amount") - F("allocated")))
        .values_list("currency", "total")
    )
    assert unapplied == data.expected_unapplied
    assert not CreditNote.objects.filter(allocated__lt=F("amount")).exists()
    assert ImportRun.objects.filter(actor_label=DEMO_ACTOR).count() == 4
    assert demo_loaded()


@pytest.mark.django_db
def test_nothing_is_loaded_before_the_demo_runs() -> None:
    assert not demo_loaded()
