"""Benchmark: generate N customers and invoices, import them, print JSON.

    python bench/import.py --customers 100000 --invoices 1000000 --db postgres

Targets (DESIGN.md §7, 2-core machine): 1,000,000 invoices in ≤ 60 s on
PostgreSQL, ≤ 90 s on SQLite, peak RSS ≤ 1 GiB.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import tempfile
from datetime import date, timedelta
from pathlib import Path

from _common import ARREARS, database_env, run_child

CURRENCIES = [("US", "USD"), ("DE", "EUR"), ("GB", "GBP")]


def write_files(folder: Path, customers: int, invoices: int, seed: int = 7) -> tuple[Path, Path]:
    rng = random.Random(seed)
    customer_file, invoice_file = folder / "customers.csv", folder / "invoices.csv"
    with customer_file.open("w", newline="") as f:
        out = csv.writer(f)
        out.writerow(["customer_ref", "name", "email", "country", "currency"])
        for i in range(customers):
            country, currency = CURRENCIES[i % len(CURRENCIES)]
            out.writerow([f"C{i:07d}", f"Customer {i}", f"ap{i}@example.com", country, currency])
    start = date(2024, 1, 1)
    with invoice_file.open("w", newline="") as f:
        out = csv.writer(f)
        out.writerow(
            ["invoice_ref", "customer_ref", "issue_date", "due_date", "amount", "currency"]
        )
        for i in range(invoices):
            c = rng.randrange(customers)
            issued = start + timedelta(days=rng.randrange(700))
            due = issued + timedelta(days=rng.choice((14, 30, 45, 60)))
            amount = f"{rng.randrange(1000, 5_000_000) / 100:.2f}"
            out.writerow(
                [
                    f"INV{i:08d}",
                    f"C{c:07d}",
                    issued.isoformat(),
                    due.isoformat(),
                    amount,
                    CURRENCIES[c % len(CURRENCIES)][1],
                ]
            )
    return customer_file, invoice_file


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--invoices", type=int, default=100_000)
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    args = parser.parse_args()

    env = database_env(args.db, "arrears_bench_import")
    with tempfile.TemporaryDirectory(prefix="arrears-bench-") as tmp:
        customer_file, invoice_file = write_files(Path(tmp), args.customers, args.invoices)
        run_child([*ARREARS, "migrate", "-v", "0"], env)
        customers = run_child([*ARREARS, "import", "customers", str(customer_file), "--json"], env)
        invoices = run_child([*ARREARS, "import", "invoices", str(invoice_file), "--json"], env)
        rerun = run_child([*ARREARS, "import", "invoices", str(invoice_file), "--json"], env)
    summary = json.loads(invoices.stdout)
    assert summary["created"] == args.invoices, summary
    assert json.loads(rerun.stdout)["unchanged"] == args.invoices
    print(
        json.dumps(
            {
                "db": args.db,
                "customers": args.customers,
                "invoices": args.invoices,
                "seconds": round(invoices.seconds, 2),
                "rows_per_s": round(args.invoices / invoices.seconds),
                "peak_rss_mb": round(max(invoices.peak_rss_mb, rerun.peak_rss_mb), 1),
                "customers_seconds": round(customers.seconds, 2),
                "reimport_seconds": round(rerun.seconds, 2),
            }
        )
    )


if __name__ == "__main__":
    main()
