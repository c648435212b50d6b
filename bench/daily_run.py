"""Benchmark: import N customers and invoices, run the daily policy twice,
print JSON.

    python bench/daily_run.py --customers 100000 --invoices 1000000 --db postgres

Targets (DESIGN.md §7, 2-core machine, PostgreSQL): the run ≤ 60 s, an
immediate re-run ≤ 20 s creating 0 actions, peak RSS ≤ 1 GiB, the run
within 5x of ``floor_s`` (the time to merely stream the open invoices out
of the database).

On PostgreSQL the run uses ``ARREARS_RUN_JOBS`` processes (default: one per
CPU; printed as ``jobs``), and ``peak_rss_mb`` is the largest one process
reached; SQLite runs in one process.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import tempfile
from pathlib import Path

from _common import ARREARS, database_env, run_child

# Streams the open invoices with the columns the run reads, and nothing else.
FLOOR = """
from arrears.ledger.models import Invoice
n = 0
for row in (
    Invoice.objects.filter(status="open").order_by("customer_id")
    .values_list("id", "ref", "customer_id", "issue_date", "due_date", "amount", "allocated",
                 "currency")
    .iterator(chunk_size=10000)
):
    n += 1
print(n)
"""

# The processes an inline run uses with this environment.
JOBS = """
from django.db import connection
from arrears.sequencing.services import run_jobs
print(run_jobs() if connection.vendor == "postgresql" else 1)
"""


def _generator() -> object:
    spec = importlib.util.spec_from_file_location(
        "bench_import", Path(__file__).with_name("import.py")
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--invoices", type=int, default=100_000)
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--as-of", default=None, help="the run's day (default: today)")
    args = parser.parse_args()

    write_files = _generator().write_files  # type: ignore[attr-defined]
    env = database_env(args.db, "arrears_bench_daily_run")
    when = ["--as-of", args.as_of] if args.as_of else []
    with tempfile.TemporaryDirectory(prefix="arrears-bench-") as tmp:
        customer_file, invoice_file = write_files(Path(tmp), args.customers, args.invoices)
        run_child([*ARREARS, "migrate", "-v", "0"], env)
        run_child([*ARREARS, "import", "customers", str(customer_file), "--json"], env)
        run_child([*ARREARS, "import", "invoices", str(invoice_file), "--json"], env)
    first = run_child([*ARREARS, "run", *when, "--json"], env)
    again = run_child([*ARREARS, "run", *when, "--json"], env)
    floor = run_child([*ARREARS, "shell", "-c", FLOOR], env)
    jobs = run_child([*ARREARS, "shell", "-c", JOBS], env)
    run, rerun = json.loads(first.stdout), json.loads(again.stdout)
    print(
        json.dumps(
            {
                "db": args.db,
                "customers": args.customers,
                "invoices": args.invoices,
                "run_s": round(first.seconds, 2),
                "rerun_s": round(again.seconds, 2),
                "rerun_actions": rerun["actions_created"],
                "floor_s": round(floor.seconds, 2),
                "peak_rss_mb": round(max(first.peak_rss_mb, again.peak_rss_mb), 1),
                "jobs": int(jobs.stdout.split()[-1]),
                "open_invoices": int(floor.stdout.split()[-1]),
                "actions": run["actions_created"],
                "by_kind": {k: n for k, n in run["by_kind"].items() if n},
                "already_planned": rerun["already_planned"],
            }
        )
    )


if __name__ == "__main__":
    main()
