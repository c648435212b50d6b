"""The report page as an Excel workbook (openpyxl): aging, metrics, trend.

Amounts are numbers formatted to their currency's minor units, never
converted or added across currencies; an undefined metric is an empty cell.
"""

from __future__ import annotations

import io
from decimal import Decimal

from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from arrears.domain.metrics import AGING_BUCKETS
from arrears.domain.money import MoneyError, minor_units

from .exports import METRICS, PLACES, bucket_label
from .selectors import Aging, ReportPage

BOLD = Font(bold=True)
RATIO_FORMAT = "#,##0.00"


def _amount_format(currency: str) -> str:
    try:
        places = minor_units(currency)
    except MoneyError:  # pragma: no cover - the ledger holds ISO 4217 codes only
        places = 2
    return "#,##0" + ("." + "0" * places if places else "")


def _heading(sheet: Worksheet, row: list[str]) -> None:
    sheet.append(row)
    for cell in sheet[sheet.max_row]:
        cell.font = BOLD


def _money_row(sheet: Worksheet, values: list[object], currency: str, first: int) -> None:
    """Append ``values``; cells from column ``first`` (1-based) on are amounts."""
    sheet.append(values)
    for cell in sheet[sheet.max_row][first - 1 :]:
        if isinstance(cell.value, Decimal):
            cell.number_format = _amount_format(currency)


def _aging_rows(sheet: Worksheet, label: str, rows: list[tuple[str, Aging]]) -> None:
    _heading(
        sheet,
        [label, "Currency", *(bucket_label(b) for b in AGING_BUCKETS), "Total", "Open invoices"],
    )
    for key, a in rows:
        _money_row(
            sheet,
            [key, a.currency, *(a.buckets[b] for b in AGING_BUCKETS), a.total, a.open_invoices],
            a.currency,
            3,
        )


def _widths(sheet: Worksheet, first: int = 30, rest: int = 16) -> None:
    for n in range(1, sheet.max_column + 1):
        sheet.column_dimensions[get_column_letter(n)].width = first if n == 1 else rest


def report_workbook(page: ReportPage) -> bytes:
    """The page's figures as an .xlsx file's bytes."""
    book = Workbook()
    aging = book.active
    assert aging is not None
    aging.title = "Aging"
    aging.append([f"Aging at {page.as_of.isoformat()}, by days past due (as of - due date)"])
    aging["A1"].font = Font(bold=True, size=13)
    aging.append([])
    _aging_rows(aging, "", [("All", a) for a in page.aging.values()])
    aging.append([])
    _aging_rows(
        aging,
        "Country",
        [(row.key, row) for rows in page.aging_by_country.values() for row in rows],
    )
    _widths(aging, first=14)

    metrics = book.create_sheet("Metrics")
    currencies = list(page.metrics)
    metrics.append([f"Collection metrics at {page.as_of.isoformat()} over {page.period_days} days"])
    metrics["A1"].font = Font(bold=True, size=13)
    metrics.append([])
    _heading(metrics, ["", *currencies, "Unit", "Definition"])
    for label, attribute in [
        ("Receivables (AR)", "ar"),
        (f"AR {page.period_days} days earlier", "begin_ar"),
        ("Current AR (not yet due)", "current_ar"),
        ("Past-due AR", "past_due_ar"),
        ("Credit sales in the period", "credit_sales"),
    ]:
        metrics.append([label, *(getattr(m.figures, attribute) for m in page.metrics.values())])
        for n, currency in enumerate(currencies, 2):
            metrics.cell(metrics.max_row, n).number_format = _amount_format(currency)
    rounded = [m.metrics.rounded(PLACES).as_dict() for m in page.metrics.values()]
    for name, info in METRICS.items():
        metrics.append([info.label, *(r[name] for r in rounded), info.unit, info.definition])
        for n in range(2, len(currencies) + 2):
            metrics.cell(metrics.max_row, n).number_format = RATIO_FORMAT
    _widths(metrics)
    metrics.column_dimensions[get_column_letter(len(currencies) + 3)].width = 80

    trend = book.create_sheet("Trend")
    trend.append([f"Metrics at each month end, over the {page.period_days} days before it"])
    trend["A1"].font = Font(bold=True, size=13)
    for currency, t in page.trend.items():
        trend.append([])
        _heading(
            trend,
            [currency, "DSO", "Best possible DSO", "CEI (%)", "Past due (%)", "AR", "Credit sales"],
        )
        for point in t.points:
            m = point.metrics.rounded(PLACES)
            _money_row(
                trend,
                [
                    point.as_of,
                    m.dso,
                    m.best_possible_dso,
                    m.cei,
                    m.percent_past_due,
                    point.figures.ar,
                    point.figures.credit_sales,
                ],
                currency,
                6,
            )
            row = trend[trend.max_row]
            row[0].number_format = "yyyy-mm-dd"
            for cell in row[1:5]:
                cell.number_format = RATIO_FORMAT
    _widths(trend, first=14)

    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
