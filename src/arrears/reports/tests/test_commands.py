"""arrears report aging|metrics: the contract's JSON, CSV, tables, exit codes."""

from __future__ import annotations

import csv
import io
import json
import re
import subprocess
import sys
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError


def report(*args: str) -> str:
    out = io.StringIO()
    call_command("report", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def report_json(*args: str) -> Any:
    return json.loads(report(*args, "--format", "json"))


def test_metrics_json_of_the_worked_example_is_the_contracts_document(
    example_2023: None,
) -> None:
    document = report_json("metrics", "--as-of", "2023-03-31", "--period-days", "90")

    assert document == {
        "as_of": "2023-03-31",
        "period_days": 90,
        "currencies": {
            "EUR": {
                "ar": "1000.00",
                "credit_sales": "1000.00",
                "dso": 90.0,
                "dso_countback": 31.0,
                "best_possible_dso": 90.0,
                "average_days_delinquent": 0.0,
                "cei": None,
                "ar_turnover": 8.11,
                "average_collection_period": 45.0,
                "percent_past_due": 0.0,
                "bad_debt_to_sales": 0.0,
                "begin_ar": "0.00",
                "current_ar": "1000.00",
                "past_due_ar": "0.00",
                "written_off": "0.00",
            },
            "USD": {
                "ar": "195000.00",
                "credit_sales": "270000.00",
                "dso": 65.0,
                "dso_countback": 64.17,
                "best_possible_dso": 43.33,
                "average_days_delinquent": 21.67,
                "cei": 77.59,
                "ar_turnover": 6.35,
                "average_collection_period": 57.5,
                "percent_past_due": 33.33,
                "bad_debt_to_sales": 0.0,
                "begin_ar": "150000.00",
                "current_ar": "130000.00",
                "past_due_ar": "65000.00",
                "written_off": "0.00",
            },
        },
    }


def test_metrics_period_defaults_to_90_days(example_2023: None) -> None:
    document = report_json("metrics", "--as-of", "2023-03-31")
    assert document["period_days"] == 90
    assert document["currencies"]["USD"]["dso"] == 65.0


def test_aging_json_of_the_worked_example(example_2023: None) -> None:
    document = report_json("aging", "--as-of", "2023-03-31")

    assert document == {
        "as_of": "2023-03-31",
        "currencies": {
            "EUR": {
                "buckets": {
                    "current": "1000.00",
                    "1-30": "0.00",
                    "31-60": "0.00",
                    "61-90": "0.00",
                    "90+": "0.00",
                },
                "total": "1000.00",
                "open_invoices": 1,
            },
            "USD": {
                "buckets": {
                    "current": "130000.00",
                    "1-30": "15000.00",
                    "31-60": "50000.00",
                    "61-90": "0.00",
                    "90+": "0.00",
                },
                "total": "195000.00",
                "open_invoices": 5,
            },
        },
    }


def test_aging_by_customer_adds_a_list_per_currency(example_2023: None) -> None:
    document = report_json("aging", "--as-of", "2023-03-31", "--by", "customer")

    assert document["by"] == "customer"
    usd = document["currencies"]["USD"]
    assert usd["total"] == "195000.00"
    assert [(c["customer_ref"], c["name"], c["total"]) for c in usd["customers"]] == [
        ("U2", "Customer U2", "110000.00"),
        ("U1", "Customer U1", "85000.00"),
    ]
    assert usd["customers"][1]["buckets"]["1-30"] == "15000.00"
    by_country = report_json("aging", "--as-of", "2023-03-31", "--by", "country")
    assert by_country["currencies"]["EUR"]["countries"] == [
        {
            "country": "DE",
            "buckets": {
                "current": "1000.00",
                "1-30": "0.00",
                "31-60": "0.00",
                "61-90": "0.00",
                "90+": "0.00",
            },
            "total": "1000.00",
            "open_invoices": 1,
        }
    ]


def test_an_empty_ledger_reports_no_currencies(db: None) -> None:
    assert report_json("aging", "--as-of", "2023-03-31") == {
        "as_of": "2023-03-31",
        "currencies": {},
    }
    assert report_json("metrics", "--as-of", "2023-03-31")["currencies"] == {}
    assert "Nothing is open." in report("aging")
    assert "No receivables or sales in the period." in report("metrics")


def test_csv_has_a_header_and_a_row_per_currency(example_2023: None) -> None:
    rows = list(
        csv.reader(io.StringIO(report("aging", "--as-of", "2023-03-31", "--format", "csv")))
    )
    assert rows == [
        ["currency", "current", "1-30", "31-60", "61-90", "90+", "total", "open_invoices"],
        ["EUR", "1000.00", "0.00", "0.00", "0.00", "0.00", "1000.00", "1"],
        ["USD", "130000.00", "15000.00", "50000.00", "0.00", "0.00", "195000.00", "5"],
    ]
    metrics = list(
        csv.DictReader(io.StringIO(report("metrics", "--as-of", "2023-03-31", "--format", "csv")))
    )
    assert [m["currency"] for m in metrics] == ["EUR", "USD"]
    assert metrics[1]["dso_countback"] == "64.17"
    assert metrics[1]["ar"] == "195000.00"
    assert metrics[0]["cei"] == ""  # undefined
    by_customer = report("aging", "--as-of", "2023-03-31", "--by", "customer", "--format", "csv")
    assert by_customer.splitlines()[0].startswith("currency,customer_ref,name,current,")
    assert "USD,U1,Customer U1,70000.00,15000.00,0.00,0.00,0.00,85000.00,2" in by_customer


def test_tables_show_amounts_and_rounded_metrics_per_currency(example_2023: None) -> None:
    aging = report("aging", "--as-of", "2023-03-31")
    assert "Aging at 2023-03-31 by days past due" in aging
    assert "195,000.00" in aging and "130,000.00" in aging
    metrics = report("metrics", "--as-of", "2023-03-31")
    assert "64.17" in metrics and "77.59" in metrics
    assert "\u2013" in metrics  # EUR's undefined CEI
    by_customer = report("aging", "--as-of", "2023-03-31", "--by", "customer")
    assert "Customer U2" in by_customer and "110,000.00" in by_customer


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["metrics", "--by", "customer"], "--by applies to the aging report only"),
        (["aging", "--period-days", "30"], "--period-days applies to the metrics report only"),
        (["metrics", "--as-of", "0001-02-01"], "too early for a period of 90 days"),
    ],
)
def test_options_that_do_not_fit_the_report_are_bad_input(
    db: None, args: list[str], message: str
) -> None:
    with pytest.raises(CommandError, match=message) as raised:
        report(*args)
    assert raised.value.returncode == 2


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["aging", "--as-of", "31/03/2023"], "is not an ISO date (YYYY-MM-DD)"),
        (["metrics", "--period-days", "ninety"], "'ninety' is not a whole number of days"),
        (["metrics", "--period-days", "3661"], "3661 is not between 1 and 3660 days"),
        (["trend"], "invalid choice: 'trend'"),
    ],
)
def test_arguments_are_checked_before_anything_is_read(args: list[str], message: str) -> None:
    with pytest.raises(CommandError, match=re.escape(message)):
        report(*args)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["aging", "--as-of", "2023-02-30"], "'2023-02-30' is not a valid date"),
        (["metrics", "--period-days", "0"], "0 is not between 1 and 3660 days"),
        (["metrics", "--as-of", "0001-02-01"], "too early for a period of 90 days"),
    ],
)
def test_bad_dates_and_periods_exit_2_with_a_message(args: list[str], message: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "arrears.cli", "report", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2, result.stderr
    assert message in result.stderr
    assert result.stdout == ""
