"""arrears report aging [--as-of DATE] [--by customer|country] [--format table|json|csv]
arrears report metrics [--as-of DATE] [--period-days 90] [--format table|json|csv]

Per currency, never converted or added across currencies; as of any past
date, from the dated invoices and allocations (DESIGN.md §4).
"""

from __future__ import annotations

import argparse
import io
import json
import shutil
from datetime import date, timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone
from rich import box
from rich.console import Console
from rich.table import Table

from arrears.domain.masterdata import FieldError, iso_date
from arrears.domain.metrics import AGING_BUCKETS

from ...exports import (
    METRICS,
    PLACES,
    aging_csv,
    aging_document,
    bucket_label,
    csv_write,
    metrics_csv,
    metrics_document,
)
from ...selectors import (
    BREAKDOWNS,
    Aging,
    Breakdown,
    CurrencyMetrics,
    aging_breakdown,
    aging_by_currency,
    metrics_by_currency,
)

MAX_PERIOD_DAYS = 3660
DEFAULT_PERIOD_DAYS = 90


def as_of_date(text: str) -> date:
    try:
        return iso_date(text)
    except FieldError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def period_days(text: str) -> int:
    try:
        days = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of days") from None
    if not 1 <= days <= MAX_PERIOD_DAYS:
        raise argparse.ArgumentTypeError(f"{days} is not between 1 and {MAX_PERIOD_DAYS} days")
    return days


def _bad_input(message: str) -> CommandError:
    return CommandError(message, returncode=2)


class Command(BaseCommand):
    help = "Aging or collection metrics per currency, as of any date."
    # A read-only report: the system checks would load the whole URL conf and
    # API first, half a second of every run (``arrears check`` runs them).
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("report", choices=["aging", "metrics"])
        parser.add_argument(
            "--as-of", type=as_of_date, default=None, help="YYYY-MM-DD (default: today)"
        )
        parser.add_argument(
            "--period-days",
            type=period_days,
            default=None,
            help=f"metrics: the period ending on --as-of (default {DEFAULT_PERIOD_DAYS})",
        )
        parser.add_argument(
            "--by", choices=BREAKDOWNS, default=None, help="aging: per customer or country too"
        )
        parser.add_argument("--format", choices=["table", "json", "csv"], default="table")

    def handle(
        self,
        *args: Any,
        report: str,
        as_of: date | None,
        period_days: int | None,
        by: Breakdown | None,
        format: str,
        **options: Any,
    ) -> None:
        day = as_of or timezone.localdate()
        if report == "aging":
            if period_days is not None:
                raise _bad_input("--period-days applies to the metrics report only")
            self._aging(day, by, format)
        else:
            if by is not None:
                raise _bad_input("--by applies to the aging report only")
            days = period_days or DEFAULT_PERIOD_DAYS
            if day.toordinal() - days < date.min.toordinal():
                raise _bad_input(f"--as-of {day} is too early for a period of {days} days")
            self._metrics(day, days, format)

    def _aging(self, as_of: date, by: Breakdown | None, format: str) -> None:
        aging = aging_by_currency(as_of=as_of)
        breakdown = aging_breakdown(as_of=as_of, by=by) if by else None
        if format == "json":
            document = aging_document(as_of=as_of, aging=aging, breakdown=breakdown, by=by)
            self.stdout.write(json.dumps(document, ensure_ascii=False))
        elif format == "csv":
            self._csv(*aging_csv(aging=aging, breakdown=breakdown, by=by))
        else:
            self._print(_aging_table(as_of, aging, breakdown, by))

    def _metrics(self, as_of: date, days: int, format: str) -> None:
        metrics = metrics_by_currency(as_of=as_of, period_days=days)
        if format == "json":
            document = metrics_document(as_of=as_of, period_days=days, metrics=metrics)
            self.stdout.write(json.dumps(document, ensure_ascii=False))
        elif format == "csv":
            self._csv(*metrics_csv(metrics=metrics))
        else:
            self._print(_metrics_table(as_of, days, metrics))

    def _csv(self, header: list[str], rows: list[list[str]]) -> None:
        out = io.StringIO()
        csv_write(out, header, rows)
        self.stdout.write(out.getvalue(), ending="")

    def _print(self, table: Table) -> None:
        out = io.StringIO()
        console = Console(file=out, width=shutil.get_terminal_size((120, 24)).columns)
        # Wider than the terminal rather than cut amounts short.
        wide = console.options.update(max_width=10_000)
        console.width = max(console.width, console.measure(table, options=wide).maximum)
        console.print(table, highlight=False)
        self.stdout.write(out.getvalue(), ending="")


def _money(amount: Any) -> str:
    return f"{amount:,}"


def _aging_table(
    as_of: date,
    aging: dict[str, Aging],
    breakdown: dict[str, list[Aging]] | None,
    by: Breakdown | None,
) -> Table:
    table = Table(
        title=f"Aging at {as_of} by days past due",
        caption="Amounts per currency, never converted." if aging else "Nothing is open.",
        box=box.SIMPLE_HEAD,
    )
    table.add_column("Currency")
    if by == "customer":
        table.add_column("Customer", no_wrap=True)
        table.add_column("Name", no_wrap=True, max_width=28, overflow="ellipsis")
    elif by == "country":
        table.add_column("Country")
    for name in AGING_BUCKETS:
        table.add_column(bucket_label(name), justify="right", no_wrap=True)
    table.add_column("Total", justify="right", style="bold", no_wrap=True)
    table.add_column("Open invoices", justify="right", no_wrap=True)

    def cells(a: Aging) -> list[str]:
        return [
            *(_money(a.buckets[name]) for name in AGING_BUCKETS),
            _money(a.total),
            f"{a.open_invoices:,}",
        ]

    for currency, total in aging.items():
        if by is None or breakdown is None:
            table.add_row(currency, *cells(total))
            continue
        for row in breakdown.get(currency, []):
            labels = [row.key, row.name] if by == "customer" else [row.key]
            table.add_row(currency, *labels, *cells(row))
        everyone = ["All", ""] if by == "customer" else ["All"]
        table.add_row(currency, *everyone, *cells(total), style="bold", end_section=True)
    return table


def _metrics_table(as_of: date, days: int, metrics: dict[str, CurrencyMetrics]) -> Table:
    start = as_of - timedelta(days=days)
    table = Table(
        title=f"Collection metrics at {as_of} over {days} days (after {start})",
        caption="Per currency, never converted; \u2013 where undefined (e.g. no sales)."
        if metrics
        else "No receivables or sales in the period.",
        box=box.SIMPLE_HEAD,
    )
    table.add_column("")
    for currency in metrics:
        table.add_column(currency, justify="right")
    rows = [
        ("AR", [m.figures.ar for m in metrics.values()]),
        ("  of which past due", [m.figures.past_due_ar for m in metrics.values()]),
        (f"AR at {start}", [m.figures.begin_ar for m in metrics.values()]),
        ("Credit sales", [m.figures.credit_sales for m in metrics.values()]),
    ]
    for label, amounts in rows:
        table.add_row(label, *(_money(amount) for amount in amounts))
    table.add_section()
    rounded = {currency: m.metrics.rounded(PLACES).as_dict() for currency, m in metrics.items()}
    for name, info in METRICS.items():
        unit = "" if info.unit == "days" else f" ({info.unit})"
        table.add_row(
            f"{info.label}{unit}",
            *(
                "\u2013" if (value := rounded[currency][name]) is None else f"{value:,}"
                for currency in metrics
            ),
        )
    return table
