"""The reports as terminal tables (rich), for ``arrears report``."""

from __future__ import annotations

import io
import shutil
from datetime import date, timedelta
from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table

from arrears.domain.metrics import AGING_BUCKETS

from .exports import METRICS, PLACES, bucket_label
from .selectors import Aging, Breakdown, CurrencyMetrics


def rendered(table: Table) -> str:
    """The table as text, as wide as the terminal or, rather than cut
    amounts short, wider."""
    out = io.StringIO()
    console = Console(file=out, width=shutil.get_terminal_size((120, 24)).columns)
    wide = console.options.update(max_width=10_000)
    console.width = max(console.width, console.measure(table, options=wide).maximum)
    console.print(table, highlight=False)
    return out.getvalue()


def _money(amount: Any) -> str:
    return f"{amount:,}"


def aging_table(
    as_of: date,
    aging: dict[str, Aging],
    breakdown: dict[str, list[Aging]] | None,
    by: Breakdown | None,
) -> str:
    table = Table(
        title=f"Aging at {as_of} by days past due",
        caption="Amounts per currency, never converted." if aging else "Nothing is open.",
        box=box.SIMPLE_HEAD,
    )
    table.add_column("Currency")
    if by == "customer":
        table.add_column("Customer", no_wrap=True)
        table.add_column("Name", no_wrap=True, max_width=28, overflow="ellipsis")
    elif by is not None:
        table.add_column(by.capitalize())
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
    return rendered(table)


def metrics_table(as_of: date, days: int, metrics: dict[str, CurrencyMetrics]) -> str:
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
    return rendered(table)


def effectiveness_table(start: date, end: date, window: int, effects: list[Any]) -> str:
    table = Table(
        title=f"Effectiveness of touches done {start} to {end}, responses within {window} days",
        caption=(
            "Cash goes to the last touch before it. * fewer than 30 touches: read with care."
            if effects
            else "No touch was done in this period."
        ),
        box=box.SIMPLE_HEAD,
    )
    for name in ("Policy", "Step", "Kind", "Template"):
        table.add_column(name, no_wrap=True)
    for name in ("Touches", "Paid %", "Promised", "Disputed", "No response", "Median days"):
        table.add_column(name, justify="right")
    table.add_column("Collected", justify="right")
    table.add_column("Touches / 1,000", justify="right")
    for e in effects:
        table.add_row(
            e.policy,
            e.step,
            e.kind,
            e.template,
            f"{e.touches}{' *' if e.small_sample else ''}",
            str(e.share(e.paid) if e.share(e.paid) is not None else "—"),
            str(e.promised),
            str(e.disputed),
            str(e.no_response),
            "—" if e.median_days_to_payment is None else f"{e.median_days_to_payment:g}",
            "\n".join(f"{_money(a)} {c}" for c, a in sorted(e.collected.items())) or "—",
            "\n".join(f"{v} {c}" for c, v in sorted(e.touches_per_1000().items()) if v) or "—",
        )
    return rendered(table)
