"""CSV downloads of the staff app's lists: the worklist, a customer's
timeline and invoices, search results. Streamed, UTF-8 with a header row,
ISO dates and plain decimals (as the contract files are)."""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, StreamingHttpResponse
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.views.decorators.http import require_safe

from arrears.cases.models import DisputeLine, DisputeStatus
from arrears.ledger.models import Customer, Invoice, InvoiceStatus

from .selectors import SearchResults, bucket_of, customer_timeline
from .worklist import WorkItem

# A customer's whole history in one file; beyond this it is cut (and says so).
TIMELINE_EXPORT_MAX = 20_000


class _Echo:
    """A file-like object whose write returns what it was given (for streaming)."""

    def write(self, value: str) -> str:
        return value


def _file_part(text: str) -> str:
    """A ref made safe for a download's file name."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text)[:80] or "_"


def csv_response(
    filename: str, header: Sequence[str], rows: Iterable[Sequence[Any]]
) -> StreamingHttpResponse:
    """Stream ``rows`` under ``header`` as a CSV attachment named ``filename``."""
    writer = csv.writer(_Echo(), lineterminator="\n")

    def lines() -> Iterator[str]:
        yield writer.writerow(header)
        for row in rows:
            yield writer.writerow(row)

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _amount(value: Any) -> str:
    return f"{value:.2f}" if value is not None else ""


def worklist_csv(items: list[WorkItem], *, owner: str) -> StreamingHttpResponse:
    header = [
        "rank",
        "task_id",
        "customer_ref",
        "customer",
        "kind",
        "title",
        "reason",
        "due_at",
        "invoice_refs",
        "amount_at_risk",
        "currencies",
        "days_past_due",
        "segment",
        "priority",
        "assigned_to",
    ]
    rows = (
        [
            n,
            i.task.pk,
            i.customer.ref,
            i.customer.name,
            i.task.kind,
            i.task.title,
            i.task.reason,
            i.task.due_at.isoformat(),
            ";".join(i.task.invoice_refs),
            _amount(i.amount_at_risk),
            ";".join(i.currencies),
            i.days_past_due,
            i.segment,
            f"{i.priority:.2f}",
            i.task.assigned_to.get_username() if i.task.assigned_to else "",
        ]
        for n, i in enumerate(items, 1)
    )
    return csv_response(f"worklist-{_file_part(owner)}.csv", header, rows)


def search_csv(results: SearchResults) -> StreamingHttpResponse:
    header = ["kind", "ref", "name", "customer_ref", "amount", "currency", "due_date", "status"]
    rows: list[list[Any]] = [
        ["customer", c.ref, c.name, c.ref, "", c.currency, "", c.automation]
        for c in results.customers
    ]
    rows += [
        [
            "invoice",
            i.ref,
            i.customer.name,
            i.customer.ref,
            _amount(i.amount),
            i.currency,
            i.due_date.isoformat(),
            i.status,
        ]
        for i in results.invoices
    ]
    return csv_response("search.csv", header, rows)


@require_safe
@login_required
def customer_timeline_csv(request: HttpRequest, customer_ref: str) -> StreamingHttpResponse:
    """Everything on the customer's timeline, newest first (at most
    TIMELINE_EXPORT_MAX entries; the last line says when it was cut)."""
    customer = get_object_or_404(Customer, ref=customer_ref)
    timeline = customer_timeline(customer=customer, page=1, size=TIMELINE_EXPORT_MAX)
    header = ["at", "kind", "title", "detail", "actor", "status", "events"]
    rows: list[list[Any]] = [
        [
            e.at.isoformat(),
            e.kind,
            e.title,
            e.detail,
            e.actor,
            e.status,
            ";".join(f"{ev.kind}@{ev.at.isoformat()}" for ev in e.events),
        ]
        for e in timeline.entries
    ]
    if timeline.has_more:
        rows.append(["", "note", f"cut at {TIMELINE_EXPORT_MAX} entries", "", "", "", ""])
    return csv_response(f"timeline-{_file_part(customer.ref)}.csv", header, rows)


@require_safe
@login_required
def customer_invoices_csv(request: HttpRequest, customer_ref: str) -> StreamingHttpResponse:
    """All of the customer's invoices, open and paid, by due date."""
    customer = get_object_or_404(Customer, ref=customer_ref)
    today = timezone.localdate()
    disputed = set(
        DisputeLine.objects.filter(
            invoice__customer=customer, dispute__status=DisputeStatus.OPEN
        ).values_list("invoice_id", flat=True)
    )
    header = [
        "invoice_ref",
        "issue_date",
        "due_date",
        "amount",
        "currency",
        "open",
        "status",
        "days_past_due",
        "bucket",
        "disputed",
        "order_ref",
        "terms",
    ]

    def rows() -> Iterator[list[Any]]:
        invoices = Invoice.objects.filter(customer=customer).order_by("due_date", "ref")
        for i in invoices.iterator(chunk_size=2000):
            is_open = i.status == InvoiceStatus.OPEN
            days = (today - i.due_date).days
            yield [
                i.ref,
                i.issue_date.isoformat(),
                i.due_date.isoformat(),
                _amount(i.amount),
                i.currency,
                _amount(i.open_amount),
                i.status,
                days if is_open else "",
                bucket_of(days) if is_open else "",
                "yes" if i.pk in disputed else "",
                i.order_ref,
                i.terms,
            ]

    return csv_response(f"invoices-{_file_part(customer.ref)}.csv", header, rows())
