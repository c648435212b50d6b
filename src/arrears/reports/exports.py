"""The reports as documents: the contract's JSON (DESIGN.md §4), CSV rows and
the labels and definitions shown with them. Shared by ``arrears report`` and
the report page, so both say the same thing."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import IO, Any

from arrears.domain.metrics import AGING_BUCKETS, METRIC_NAMES

from .effectiveness import StepEffect
from .selectors import Aging, Breakdown, CurrencyMetrics

# Ratios are shown and exported with two decimals.
PLACES = 2


@dataclass(frozen=True)
class MetricInfo:
    name: str
    label: str
    unit: str
    definition: str


METRICS = {
    m.name: m
    for m in [
        MetricInfo(
            "dso",
            "DSO",
            "days",
            "Days sales outstanding: AR / credit sales of the period * its days.",
        ),
        MetricInfo(
            "dso_countback",
            "DSO (countback)",
            "days",
            "Days of the latest months' sales, newest first, that add up to the AR.",
        ),
        MetricInfo(
            "best_possible_dso",
            "Best possible DSO",
            "days",
            "DSO of the AR not yet due: current AR / credit sales * days.",
        ),
        MetricInfo(
            "average_days_delinquent",
            "Average days delinquent",
            "days",
            "DSO - best possible DSO: the days that late payment adds.",
        ),
        MetricInfo(
            "cei",
            "Collection effectiveness index",
            "%",
            "Collected / collectable: (begin AR + sales - end AR) / "
            "(begin AR + sales - end current AR).",
        ),
        MetricInfo(
            "ar_turnover",
            "AR turnover",
            "x / year",
            "Credit sales, annualised (* 365 / period days), / average of begin and end AR.",
        ),
        MetricInfo(
            "average_collection_period",
            "Average collection period",
            "days",
            "365 / AR turnover: days an average sale takes to be collected.",
        ),
        MetricInfo(
            "percent_past_due",
            "Past due",
            "%",
            "Past-due AR / AR: the share of receivables after their due date.",
        ),
        MetricInfo(
            "bad_debt_to_sales",
            "Bad debt to sales",
            "%",
            "Bad debt written off in the period / its credit sales.",
        ),
    ]
}
assert tuple(METRICS) == METRIC_NAMES

BUCKET_LABELS = {
    "current": "Current",
    "1-30": "1\u201330",
    "31-60": "31\u201360",
    "61-90": "61\u201390",
}
BREAKDOWN_KEYS: dict[Breakdown, tuple[str, str]] = {
    # breakdown: (JSON list name, key column)
    "customer": ("customers", "customer_ref"),
    "country": ("countries", "country"),
    "segment": ("segments", "segment"),
    "collector": ("collectors", "collector"),
}


def bucket_label(name: str) -> str:
    return BUCKET_LABELS.get(name, name)


def amount_text(amount: Decimal) -> str:
    """An amount as the contract writes it: plain decimal, minor units kept."""
    return f"{amount:f}"


def ratio_number(value: Decimal | None) -> float | None:
    """A rounded metric as a JSON number; None stays null."""
    return None if value is None else float(value)


def ratio_text(value: Decimal | None) -> str:
    """A rounded metric as CSV text; None is an empty cell."""
    return "" if value is None else f"{value:f}"


# --- Aging ---------------------------------------------------------------


def _aging_entry(aging: Aging) -> dict[str, Any]:
    return {
        "buckets": {name: amount_text(aging.buckets[name]) for name in AGING_BUCKETS},
        "total": amount_text(aging.total),
        "open_invoices": aging.open_invoices,
    }


def aging_document(
    *,
    as_of: date,
    aging: dict[str, Aging],
    breakdown: dict[str, list[Aging]] | None = None,
    by: Breakdown | None = None,
) -> dict[str, Any]:
    """``{"as_of", "currencies": {code: {"buckets", "total", "open_invoices"}}}``;
    with a breakdown each currency also lists its ``customers`` (with
    ``customer_ref`` and ``name``) or ``countries`` (with ``country``), the
    largest total first."""
    currencies: dict[str, Any] = {}
    for currency, total in aging.items():
        entry = _aging_entry(total)
        if by is not None and breakdown is not None:
            list_name, key_name = BREAKDOWN_KEYS[by]
            entry[list_name] = [
                {
                    key_name: row.key,
                    **({"name": row.name} if by == "customer" else {}),
                    **_aging_entry(row),
                }
                for row in breakdown.get(currency, [])
            ]
        currencies[currency] = entry
    document: dict[str, Any] = {"as_of": as_of.isoformat()}
    if by is not None:
        document["by"] = by
    document["currencies"] = currencies
    return document


def aging_csv(
    *,
    aging: dict[str, Aging],
    breakdown: dict[str, list[Aging]] | None = None,
    by: Breakdown | None = None,
) -> tuple[list[str], list[list[str]]]:
    """Header and rows: one row per currency, or per currency and customer
    or country with a breakdown."""
    keys = (
        []
        if by is None
        else (["customer_ref", "name"] if by == "customer" else [BREAKDOWN_KEYS[by][1]])
    )
    header = ["currency", *keys, *AGING_BUCKETS, "total", "open_invoices"]

    def row(a: Aging) -> list[str]:
        key = [] if by is None else ([a.key, a.name] if by == "customer" else [a.key])
        return [
            a.currency,
            *key,
            *(amount_text(a.buckets[name]) for name in AGING_BUCKETS),
            amount_text(a.total),
            str(a.open_invoices),
        ]

    if by is None or breakdown is None:
        return header, [row(a) for a in aging.values()]
    return header, [row(a) for currency in aging for a in breakdown.get(currency, [])]


# --- Metrics -------------------------------------------------------------

FIGURES = ("ar", "credit_sales", "begin_ar", "current_ar", "past_due_ar", "written_off")


def figure_amounts(m: CurrencyMetrics) -> dict[str, Decimal]:
    f = m.figures
    return {
        "ar": f.ar,
        "credit_sales": f.credit_sales,
        "begin_ar": f.begin_ar,
        "current_ar": f.current_ar,
        "past_due_ar": f.past_due_ar,
        "written_off": f.written_off,
    }


def metrics_document(
    *, as_of: date, period_days: int, metrics: dict[str, CurrencyMetrics]
) -> dict[str, Any]:
    """``{"as_of", "period_days", "currencies": {code: {"ar", "credit_sales",
    <metrics>..., "begin_ar", "current_ar", "past_due_ar"}}}``: amounts as
    strings, metrics as numbers rounded to two decimals or null."""
    currencies: dict[str, Any] = {}
    for currency, m in metrics.items():
        amounts = {name: amount_text(value) for name, value in figure_amounts(m).items()}
        currencies[currency] = {
            "ar": amounts.pop("ar"),
            "credit_sales": amounts.pop("credit_sales"),
            **{
                name: ratio_number(value)
                for name, value in m.metrics.rounded(PLACES).as_dict().items()
            },
            **amounts,
        }
    return {"as_of": as_of.isoformat(), "period_days": period_days, "currencies": currencies}


def metrics_csv(*, metrics: dict[str, CurrencyMetrics]) -> tuple[list[str], list[list[str]]]:
    """Header and one row per currency; an undefined metric is an empty cell."""
    header = ["currency", *FIGURES, *METRIC_NAMES]
    rows = [
        [
            currency,
            *(amount_text(value) for value in figure_amounts(m).values()),
            *(ratio_text(value) for value in m.metrics.rounded(PLACES).as_dict().values()),
        ]
        for currency, m in metrics.items()
    ]
    return header, rows


def csv_write(out: IO[str], header: Sequence[str], rows: Iterable[Sequence[str]]) -> None:
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)


EFFECTIVENESS_COLUMNS = (
    "policy",
    "step",
    "kind",
    "template",
    "touches",
    "customers",
    "paid",
    "promised",
    "disputed",
    "no_response",
    "paid_percent",
    "median_days_to_payment",
    "collected",
    "touches_per_1000",
)


def effectiveness_csv(effects: Sequence[StepEffect]) -> tuple[list[str], list[list[str]]]:
    """Header and one row per policy step; per-currency amounts as
    "amount CUR" joined by "; "."""
    rows = []
    for e in effects:
        r = e.as_dict()
        rows.append(
            [
                *("" if r[h] is None else str(r[h]) for h in EFFECTIVENESS_COLUMNS[:-2]),
                "; ".join(f"{a} {c}" for c, a in r["collected"].items()),
                "; ".join(f"{v} {c}" for c, v in r["touches_per_1000"].items() if v is not None),
            ]
        )
    return list(EFFECTIVENESS_COLUMNS), rows
