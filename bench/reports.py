"""Benchmark: the aging and metrics reports on a generated ledger, print JSON.

    python bench/reports.py --customers 100000 --invoices 1000000 --db postgres

Customers and invoices are bench/import.py's, imported with ``arrears
import``. Then, straight in SQL (a million payments through the importer
would take longer than the rest together and measure nothing new), 93%
of the invoices (``--paid-percent``) get a payment in full and 5% one of
half their amount (2% are never paid),
received from 20 days before to 40 days after the due date, each with its
allocation and the invoice's running total, as the ledger's services would
write them. Some payments fall after the report date, so both halves of
the as-of computation are exercised.

The reports run as child processes, the way a user runs them:
``aging_s`` and ``metrics_s`` are the best of ``--repeat`` wall times of
``arrears report aging|metrics --as-of 2025-12-31 --format json``, with
the interpreter's and Django's start-up (``startup_s``, ``arrears report
--help``) included. ``*_query_s`` are the same reports timed in-process.

Target (DESIGN.md §7, 2-core machine, PostgreSQL, 1,000,000 invoices):
metrics report ≤ 2 s (and the aging report likewise).
"""

from __future__ import annotations

import argparse
import importlib
import io
import json
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from _common import ARREARS, PG_SERVER, database_env, run_child

DATABASE = "arrears_bench_reports"
AS_OF = "2025-12-31"
# Payments received after this are not in the ledger yet.
LEDGER_DATE = "2026-01-31"
HALF_PAID_PERCENT = 5

# received_on = max(issue date, due date + lateness), lateness -20..40 days.
_POSTGRES_PAYMENTS = """
INSERT INTO ledger_payment
    (ref, customer_id, received_on, amount, currency, invoice_ref, allocated, created_at)
SELECT * FROM (
    SELECT 'PAY' || ref, customer_id,
           GREATEST(issue_date, due_date + ((id * 31) % 61 - 20)::int) AS received_on,
           CASE WHEN (id * 7919) % 100 < {paid} THEN amount
                ELSE round(amount / 2, 2) END AS paid,
           currency, ref,
           CASE WHEN (id * 7919) % 100 < {paid} THEN amount
                ELSE round(amount / 2, 2) END,
           now()
    FROM ledger_invoice
    WHERE (id * 7919) % 100 < {paid_and_half}
) AS p WHERE received_on <= DATE '{ledger_date}'
"""
_SQLITE_PAYMENTS = """
INSERT INTO ledger_payment
    (ref, customer_id, received_on, amount, currency, invoice_ref, allocated, created_at)
SELECT * FROM (
    SELECT 'PAY' || ref, customer_id,
           max(issue_date, date(due_date, ((id * 31) % 61 - 20) || ' days')) AS received_on,
           CASE WHEN (id * 7919) % 100 < {paid} THEN amount
                ELSE round(amount / 2, 2) END AS paid,
           currency, ref,
           CASE WHEN (id * 7919) % 100 < {paid} THEN amount
                ELSE round(amount / 2, 2) END,
           CURRENT_TIMESTAMP
    FROM ledger_invoice
    WHERE (id * 7919) % 100 < {paid_and_half}
) AS p WHERE received_on <= '{ledger_date}'
"""
_ALLOCATIONS = """
INSERT INTO ledger_allocation (invoice_id, payment_id, amount, effective_on, created_at)
SELECT i.id, p.id, p.amount, p.received_on, p.created_at
FROM ledger_payment p JOIN ledger_invoice i ON i.ref = p.invoice_ref
"""
_INVOICES = """
UPDATE ledger_invoice SET
    allocated = p.amount,
    status = CASE WHEN p.amount = ledger_invoice.amount THEN 'paid' ELSE 'open' END
FROM ledger_payment p WHERE p.invoice_ref = ledger_invoice.ref
"""


def _payments_add(paid_percent: int) -> dict[str, int]:
    from django.db import connection, transaction

    payments = _POSTGRES_PAYMENTS if connection.vendor == "postgresql" else _SQLITE_PAYMENTS
    payments = payments.format(
        paid=paid_percent,
        paid_and_half=min(100, paid_percent + HALF_PAID_PERCENT) if paid_percent else 0,
        ledger_date=LEDGER_DATE,
    )
    with transaction.atomic(), connection.cursor() as cursor:
        for statement in (payments, _ALLOCATIONS, _INVOICES):
            cursor.execute(statement)
    with connection.cursor() as cursor:
        # As autovacuum would, soon after a load this size (timing while it
        # runs measures it, not the reports).
        cursor.execute("VACUUM ANALYZE" if connection.vendor == "postgresql" else "ANALYZE")
    return _ledger_counts()


def _ledger_counts() -> dict[str, int]:
    from arrears.ledger.models import Allocation, Customer, Invoice, InvoiceStatus

    return {
        "invoices": Invoice.objects.count(),
        "customers": Customer.objects.count(),
        "allocations": Allocation.objects.count(),
        "open_invoices": Invoice.objects.filter(status=InvoiceStatus.OPEN).count(),
    }


def _best_of(repeat: int, run: Callable[[], float]) -> float:
    return min(run() for _ in range(repeat))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--invoices", type=int, default=100_000)
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each report (best)")
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="time the reports on the ledger a previous run left (postgres only)",
    )
    parser.add_argument(
        "--paid-percent", type=int, default=93, help="invoices paid in full (5%% more half)"
    )
    args = parser.parse_args()

    started = time.perf_counter()
    if args.reuse:
        if args.db != "postgres":
            parser.error("--reuse needs --db postgres")
        env = {**os.environ, "DATABASE_URL": f"{PG_SERVER}/{DATABASE}"}
    else:
        write_files = importlib.import_module("import").write_files
        env = database_env(args.db, DATABASE)
        with tempfile.TemporaryDirectory(prefix="arrears-bench-") as tmp:
            customer_file, invoice_file = write_files(Path(tmp), args.customers, args.invoices)
            run_child([*ARREARS, "migrate", "-v", "0"], env)
            run_child([*ARREARS, "import", "customers", str(customer_file), "--json"], env)
            run_child([*ARREARS, "import", "invoices", str(invoice_file), "--json"], env)

    os.environ.update(env)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "arrears.settings")
    import django

    django.setup()
    from django.core.management import call_command

    ledger = _ledger_counts() if args.reuse else _payments_add(args.paid_percent)
    setup_s = time.perf_counter() - started

    def child(*report: str) -> float:
        return run_child([*ARREARS, "report", *report], env).seconds

    def in_process(*report: str) -> float:
        begun = time.perf_counter()
        call_command("report", *report, stdout=io.StringIO())
        return time.perf_counter() - begun

    aging = ("aging", "--as-of", AS_OF, "--format", "json")
    metrics = ("metrics", "--as-of", AS_OF, "--period-days", "90", "--format", "json")
    output = json.loads(run_child([*ARREARS, "report", *metrics], env).stdout)
    print(
        json.dumps(
            {
                "db": args.db,
                "invoices": ledger.pop("invoices"),
                "customers": ledger.pop("customers"),
                "paid_percent": None if args.reuse else args.paid_percent,
                **ledger,
                "as_of": AS_OF,
                "aging_s": round(_best_of(args.repeat, lambda: child(*aging)), 3),
                "metrics_s": round(_best_of(args.repeat, lambda: child(*metrics)), 3),
                "startup_s": round(_best_of(args.repeat, lambda: child("--help")), 3),
                "aging_query_s": round(_best_of(args.repeat, lambda: in_process(*aging)), 3),
                "metrics_query_s": round(_best_of(args.repeat, lambda: in_process(*metrics)), 3),
                "measured_in": "child processes (aging_s, metrics_s); in-process (*_query_s)",
                "setup_s": round(setup_s, 1),
                "dso": {c: m["dso"] for c, m in output["currencies"].items()},
            }
        )
    )


if __name__ == "__main__":
    main()
