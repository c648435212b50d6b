"""The report page and its CSV downloads. Views are thin: a form for the
query string, one selector, a template or a CSV document."""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from django import forms
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_safe

from .charts import LineChart, line_chart
from .effectiveness import StepEffect, effectiveness
from .exports import (
    METRICS,
    PLACES,
    MetricInfo,
    aging_csv,
    csv_write,
    effectiveness_csv,
    metrics_csv,
)
from .selectors import (
    BREAKDOWNS,
    ReportPage,
    Trend,
    aging_breakdown,
    aging_by_currency,
    metrics_by_currency,
    report_page,
)

DEFAULT_PERIOD_DAYS = 90
MAX_PERIOD_DAYS = 3660


class ReportForm(forms.Form):
    as_of = forms.DateField(required=False, input_formats=["%Y-%m-%d"], label="As of")
    period_days = forms.IntegerField(
        required=False, min_value=1, max_value=MAX_PERIOD_DAYS, label="Period (days)"
    )
    by = forms.ChoiceField(required=False, choices=[("", "")] + [(b, b) for b in BREAKDOWNS])

    def as_of_or_today(self) -> date:
        value = self.cleaned_data.get("as_of")
        return value if isinstance(value, date) else timezone.localdate()

    def period(self) -> int:
        return self.cleaned_data.get("period_days") or DEFAULT_PERIOD_DAYS


@dataclass(frozen=True)
class MetricRow:
    info: MetricInfo
    values: list[Decimal | None]


@dataclass(frozen=True)
class TrendView:
    trend: Trend
    chart: LineChart
    cei: list[Decimal | None]
    percent_past_due: list[Decimal | None]


def _trend_view(trend: Trend) -> TrendView:
    rounded = [p.metrics.rounded(PLACES) for p in trend.points]
    chart = line_chart(
        [f"{p.as_of:%b %y}" for p in trend.points],
        [
            ("DSO", "dso", [m.dso for m in rounded]),
            ("Best possible DSO", "best", [m.best_possible_dso for m in rounded]),
        ],
    )
    return TrendView(
        trend,
        chart,
        [m.cei for m in rounded],
        [m.percent_past_due for m in rounded],
    )


def _metric_rows(page: ReportPage) -> list[MetricRow]:
    rounded = [m.metrics.rounded(PLACES).as_dict() for m in page.metrics.values()]
    return [MetricRow(info, [r[name] for r in rounded]) for name, info in METRICS.items()]


@require_safe
@login_required
def reports(request: HttpRequest) -> HttpResponse:
    form = ReportForm(request.GET)
    if not form.is_valid():
        return render(request, "reports/page.html", {"form": form}, status=400)
    page = report_page(as_of=form.as_of_or_today(), period_days=form.period())
    return render(
        request,
        "reports/page.html",
        {
            "form": form,
            "page": page,
            "effects": _effects(page.as_of, page.period_days),
            "metric_rows": _metric_rows(page),
            "trends": [_trend_view(t) for t in page.trend.values()],
            "query": f"as_of={page.as_of.isoformat()}&period_days={page.period_days}",
        },
    )


def _csv_response(name: str, header: list[str], rows: list[list[str]]) -> HttpResponse:
    out = io.StringIO()
    csv_write(out, header, rows)
    response = HttpResponse(out.getvalue(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


def _bad_request(form: ReportForm) -> HttpResponse:
    problems = "; ".join(
        f"{field}: {' '.join(str(e) for e in errors)}" for field, errors in form.errors.items()
    )
    return HttpResponse(problems, status=400, content_type="text/plain; charset=utf-8")


@require_safe
@login_required
def aging_download(request: HttpRequest) -> HttpResponse:
    """The aging report's CSV (``?as_of=``, ``&by=customer|country``)."""
    form = ReportForm(request.GET)
    if not form.is_valid():
        return _bad_request(form)
    as_of, by = form.as_of_or_today(), form.cleaned_data.get("by") or None
    aging = aging_by_currency(as_of=as_of)
    breakdown = aging_breakdown(as_of=as_of, by=by) if by else None
    suffix = f"-by-{by}" if by else ""
    return _csv_response(
        f"aging-{as_of.isoformat()}{suffix}.csv",
        *aging_csv(aging=aging, breakdown=breakdown, by=by),
    )


@require_safe
@login_required
def metrics_download(request: HttpRequest) -> HttpResponse:
    """The metrics report's CSV (``?as_of=&period_days=``)."""
    form = ReportForm(request.GET)
    if not form.is_valid():
        return _bad_request(form)
    as_of, days = form.as_of_or_today(), form.period()
    return _csv_response(
        f"metrics-{as_of.isoformat()}-{days}d.csv",
        *metrics_csv(metrics=metrics_by_currency(as_of=as_of, period_days=days)),
    )


def _effects(as_of: date, period_days: int) -> list[StepEffect]:
    """What each step achieved with the touches of the period."""
    return effectiveness(start=as_of - timedelta(days=period_days - 1), end=as_of)


@require_safe
@login_required
def effectiveness_download(request: HttpRequest) -> HttpResponse:
    """The effectiveness report's CSV over the page's period."""
    form = ReportForm(request.GET)
    if not form.is_valid():
        return _bad_request(form)
    as_of, days = form.as_of_or_today(), form.period()
    return _csv_response(
        f"effectiveness-{as_of.isoformat()}-{days}d.csv",
        *effectiveness_csv(_effects(as_of, days)),
    )


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@require_safe
@login_required
def workbook_download(request: HttpRequest) -> HttpResponse:
    """The page's aging, metrics and trend as an Excel workbook."""
    form = ReportForm(request.GET)
    if not form.is_valid():
        return _bad_request(form)
    from .workbook import report_workbook  # openpyxl only when asked for

    page = report_page(as_of=form.as_of_or_today(), period_days=form.period())
    response = HttpResponse(report_workbook(page), content_type=XLSX)
    name = f"arrears-report-{page.as_of.isoformat()}-{page.period_days}d.xlsx"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response
