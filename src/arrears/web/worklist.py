"""Reads for the worklist: the open tasks due today for one collector (or
nobody), most urgent first, with everything a collector needs at hand.

Priority = amount at risk * days past due * the segment's risk weight.

- *amount at risk*: the open amount of the task's invoices; for a task
  without invoices (an escalation, master data) the customer's overdue. It
  adds amounts across currencies as plain numbers: a ranking, not money.
- *days past due*: of the task's (or the customer's) oldest overdue invoice,
  at least 1 so that work on current invoices still ranks by amount.
- *risk weight*: risky 3, new 2, slow 1.5, good 1. The segment is the one
  set by hand (CustomerPolicy), else the one the daily run stored
  (CustomerSegment, read with the tasks: no extra query), else, for a
  customer the run has not seen yet, computed as the policy computes it
  (``arrears.domain.segments.segment_of``) from the last 12 months' paid
  invoices (one query for all such customers).

The query count does not grow with the number of tasks: every read is one
query for all tasks of the page (tests pin it).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.db.models import F, Max, OuterRef, Q, QuerySet, Subquery, Window
from django.db.models.functions import RowNumber
from django.utils import timezone

from arrears.cases.models import DisputeLine, DisputeStatus, Promise, PromiseStatus
from arrears.comms.models import Message, MessageStatus, Task, TaskKind, TaskStatus
from arrears.domain.segments import PaymentHistory, Segment, SegmentOverride, segment_of
from arrears.ledger.models import Allocation, Contact, Customer, Invoice, InvoiceStatus

from .roles import COLLECTOR, MANAGER_ROLES, is_manager

SEGMENT_WEIGHTS: dict[str, Decimal] = {
    Segment.RISKY: Decimal(3),
    Segment.NEW: Decimal(2),
    Segment.SLOW: Decimal("1.5"),
    Segment.GOOD: Decimal(1),
}
# Tasks ranked per page view: the oldest-due first when there are more.
MAX_CANDIDATES = 1000
PAGE_SIZE = 20
TOUCHES_SHOWN = 3
# Invoices listed in a row: the task's and the most overdue; the customer
# page has them all (a large account can have hundreds).
INVOICES_SHOWN = 6
UNASSIGNED = "unassigned"


@dataclass(frozen=True)
class OpenInvoice:
    ref: str
    due_date: date
    open_amount: Decimal
    currency: str
    days_past_due: int
    in_task: bool
    disputed: bool


@dataclass(frozen=True)
class Touch:
    """A past touch: a message (its status) or a call (its outcome)."""

    at: datetime
    channel: str
    what: str
    outcome: str


@dataclass
class WorkItem:
    task: Task
    customer: Customer
    segment: str
    segment_reason: str
    weight: Decimal
    amount_at_risk: Decimal
    currencies: list[str]
    days_past_due: int
    priority: Decimal
    invoices: list[OpenInvoice] = field(default_factory=list)
    more_invoices: int = 0
    touches: list[Touch] = field(default_factory=list)
    contacts: list[Contact] = field(default_factory=list)
    promises: list[Promise] = field(default_factory=list)
    disputes: list[dict[str, Any]] = field(default_factory=list)
    script: str = ""

    @property
    def is_call(self) -> bool:
        return self.task.kind == TaskKind.CALL


@dataclass(frozen=True)
class Worklist:
    """One page of a worklist. ``owner`` is the collector whose list it is
    (None: the unassigned tasks); ``total`` counts the ranked candidates."""

    owner: User | None
    items: list[WorkItem]
    total: int
    page: int
    pages: int
    truncated: bool


def day_end(day: date) -> datetime:
    """The first instant after ``day`` in the local time zone."""
    return timezone.make_aware(datetime.combine(day + timedelta(days=1), time.min))


def due_tasks(*, owner: User | None, now: datetime) -> QuerySet[Task]:
    """Open tasks of ``owner`` (None: unassigned) due by the end of today and
    not snoozed past ``now``."""
    return Task.objects.filter(
        Q(snoozed_until__isnull=True) | Q(snoozed_until__lte=now),
        status=TaskStatus.OPEN,
        due_at__lt=day_end(timezone.localdate(now)),
        assigned_to=owner,
    )


def worklist_owner(*, user: User, collector: str | None) -> User | None:
    """Whose worklist ``user`` may see: their own; a manager may pick a
    collector by id or "unassigned". Raises PermissionDenied when a
    collector asks for someone else's, and User.DoesNotExist for an
    unknown id."""
    if not collector or collector == str(user.pk):
        return user
    if not is_manager(user):
        raise PermissionDenied("only a manager may see another collector's worklist")
    if collector == UNASSIGNED:
        return None
    if not collector.isdigit():
        raise User.DoesNotExist(collector)
    return User.objects.get(pk=int(collector))


def collectors_list() -> list[User]:
    """People who can be given work: active members of a role group, and
    superusers; by username."""
    return list(
        User.objects.filter(
            Q(groups__name__in=[COLLECTOR, *MANAGER_ROLES]) | Q(is_superuser=True),
            is_active=True,
        )
        .distinct()
        .order_by("username")
    )


def _paid_histories(customer_ids: list[int], as_of: date) -> dict[int, PaymentHistory]:
    """Per customer, invoices paid in the 12 months to ``as_of``: how many, how
    many late, the average days late (one query)."""
    paid_on = Subquery(
        Allocation.objects.filter(invoice=OuterRef("pk"))
        .order_by()
        .values("invoice")
        .annotate(last=Max("effective_on"))
        .values("last")
    )
    rows = (
        Invoice.objects.filter(customer_id__in=customer_ids, status=InvoiceStatus.PAID)
        .order_by()
        .annotate(paid_on=paid_on)
        .filter(paid_on__gt=as_of - timedelta(days=365), paid_on__lte=as_of)
        .values_list("customer_id", "due_date", "paid_on")
    )
    late: dict[int, list[int]] = defaultdict(list)
    for customer_id, due, paid in rows:
        late[customer_id].append((paid - due).days)
    return {
        pk: PaymentHistory(
            paid_count=len(days),
            paid_late_count=sum(1 for d in days if d > 0),
            average_days_late=sum(days) / len(days),
        )
        for pk, days in late.items()
    }


# The columns ranking reads: no model instances for hundreds of candidates.
_CANDIDATE_FIELDS = (
    "pk",
    "customer_id",
    "invoice_refs",
    "due_at",
    "customer__customer_since",
    "customer__policy_settings__segment",
    "customer__policy_settings__segment_reason",
    "customer__segment_state__segment",
    "customer__segment_state__reason",
)


@dataclass(frozen=True)
class _Ranked:
    task_id: int
    customer_id: int
    refs: frozenset[str]
    due_at: datetime
    segment: str
    segment_reason: str
    weight: Decimal
    amount: Decimal
    currencies: list[str]
    days_past_due: int
    priority: Decimal
    invoices: list[dict[str, Any]]


def _segments(rows: list[dict[str, Any]], as_of: date) -> dict[int, tuple[str, str]]:
    """Per customer, (segment, why): set by hand, else as the daily run last
    stored it, else computed from the payment history (one query for all
    the customers the run has not seen yet, none when it has seen them all)."""
    result: dict[int, tuple[str, str]] = {}
    missing: dict[int, date | None] = {}
    for r in rows:
        pk = r["customer_id"]
        manual = r["customer__policy_settings__segment"]
        if manual:
            seg = segment_of(
                PaymentHistory(),
                as_of,
                override=SegmentOverride(
                    Segment(manual), r["customer__policy_settings__segment_reason"]
                ),
            )
            result[pk] = (seg.segment.value, seg.reason)
        elif r["customer__segment_state__segment"]:
            result[pk] = (
                r["customer__segment_state__segment"],
                r["customer__segment_state__reason"],
            )
        else:
            missing[pk] = r["customer__customer_since"]
    histories = _paid_histories(list(missing), as_of) if missing else {}
    for pk, since in missing.items():
        h = histories.get(pk, PaymentHistory())
        seg = segment_of(
            PaymentHistory(
                customer_since=since,
                paid_count=h.paid_count,
                paid_late_count=h.paid_late_count,
                average_days_late=h.average_days_late,
            ),
            as_of,
        )
        result[pk] = (seg.segment.value, seg.reason)
    return result


def _open_invoices(customer_ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    rows = (
        Invoice.objects.filter(customer_id__in=customer_ids, status=InvoiceStatus.OPEN)
        .order_by("due_date", "ref")
        .values_list("customer_id", "ref", "due_date", "amount", "allocated", "currency")
    )
    by_customer: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for customer_id, ref, due, amount, allocated, currency in rows:
        by_customer[customer_id].append(
            {"ref": ref, "due_date": due, "open": amount - allocated, "currency": currency}
        )
    return by_customer


def _rank(rows: list[dict[str, Any]], as_of: date) -> list[_Ranked]:
    """The candidates (``_CANDIDATE_FIELDS`` rows), most urgent first."""
    invoices = _open_invoices(list({r["customer_id"] for r in rows}))
    segments = _segments(rows, as_of)
    ranked = []
    for r in rows:
        open_rows = invoices.get(r["customer_id"], [])
        refs = frozenset(r["invoice_refs"] or ())
        mine = [i for i in open_rows if i["ref"] in refs] if refs else []
        if not mine:
            mine = [i for i in open_rows if i["due_date"] < as_of]
        amount = sum((i["open"] for i in mine), Decimal(0))
        oldest = min((i["due_date"] for i in mine), default=as_of)
        days = max((as_of - oldest).days, 1)
        segment, why = segments[r["customer_id"]]
        weight = SEGMENT_WEIGHTS[segment]
        ranked.append(
            _Ranked(
                task_id=r["pk"],
                customer_id=r["customer_id"],
                refs=refs,
                due_at=r["due_at"],
                segment=segment,
                segment_reason=why,
                weight=weight,
                amount=amount,
                currencies=sorted({i["currency"] for i in mine}),
                days_past_due=days if mine else 0,
                priority=amount * days * weight,
                invoices=open_rows,
            )
        )
    # Most urgent first; ties by when the task fell due, then its id.
    ranked.sort(key=lambda x: (-x.priority, x.due_at, x.task_id))
    return ranked


def _item(task: Task, r: _Ranked, as_of: date) -> WorkItem:
    # The task's own invoices first, then by due date (rows come sorted).
    listed = sorted(r.invoices, key=lambda i: i["ref"] not in r.refs)[:INVOICES_SHOWN]
    return WorkItem(
        task=task,
        customer=task.customer,
        segment=r.segment,
        segment_reason=r.segment_reason,
        weight=r.weight,
        amount_at_risk=r.amount,
        currencies=r.currencies,
        days_past_due=r.days_past_due,
        priority=r.priority,
        invoices=[
            OpenInvoice(
                ref=i["ref"],
                due_date=i["due_date"],
                open_amount=i["open"],
                currency=i["currency"],
                days_past_due=(as_of - i["due_date"]).days,
                in_task=i["ref"] in r.refs,
                disputed=False,
            )
            for i in listed
        ],
        more_invoices=len(r.invoices) - len(listed),
    )


def _items(ranked: list[_Ranked], as_of: date) -> list[WorkItem]:
    """Work items for ranked tasks, in their order (one query for the tasks)."""
    tasks = Task.objects.select_related("customer", "assigned_to").in_bulk(
        [r.task_id for r in ranked]
    )
    return [_item(tasks[r.task_id], r, as_of) for r in ranked if r.task_id in tasks]


def _latest_per_customer(qs: QuerySet[Any], order: str, n: int) -> QuerySet[Any]:
    """The ``n`` newest rows per customer by ``order`` (one query, a window)."""
    ranked: QuerySet[Any] = qs.annotate(
        nth=Window(RowNumber(), partition_by=[F("customer_id")], order_by=F(order).desc())
    ).filter(nth__lte=n)
    return ranked


def _touches(customer_ids: list[int]) -> dict[int, list[Touch]]:
    touches: dict[int, list[Touch]] = defaultdict(list)
    messages = _latest_per_customer(
        Message.objects.filter(customer_id__in=customer_ids), "created_at", TOUCHES_SHOWN
    ).values_list("customer_id", "created_at", "sent_at", "channel", "template_key", "status")
    for customer_id, created, sent, channel, key, status in messages:
        label = MessageStatus(status).label if status in MessageStatus.values else status
        touches[customer_id].append(Touch(sent or created, channel, key, str(label)))
    calls = _latest_per_customer(
        Task.objects.filter(
            customer_id__in=customer_ids, kind=TaskKind.CALL, status=TaskStatus.DONE
        ),
        "completed_at",
        TOUCHES_SHOWN,
    ).values_list("customer_id", "completed_at", "title", "outcome", "note")
    for customer_id, at, title, outcome, note in calls:
        touches[customer_id].append(
            Touch(at, "call", note or title, outcome.replace("_", " ") if outcome else "")
        )
    return {
        pk: sorted(rows, key=lambda t: t.at, reverse=True)[:TOUCHES_SHOWN]
        for pk, rows in touches.items()
    }


def _details(items: list[WorkItem], as_of: date) -> None:
    """Fill in contacts, touches, promises and disputes for ``items`` (five
    queries for any number of items)."""
    ids = list({i.customer.pk for i in items})
    contacts: dict[int, list[Contact]] = defaultdict(list)
    for contact in Contact.objects.filter(customer_id__in=ids, is_active=True).order_by(
        "customer_id", "id"
    ):
        contacts[contact.customer_id].append(contact)
    promises: dict[int, list[Promise]] = defaultdict(list)
    for promise in Promise.objects.filter(customer_id__in=ids, status=PromiseStatus.OPEN).order_by(
        "promised_on"
    ):
        promises[promise.customer_id].append(promise)
    disputes: dict[int, dict[int, dict[str, Any]]] = defaultdict(dict)
    disputed_refs: set[str] = set()
    for line in (
        DisputeLine.objects.filter(dispute__customer_id__in=ids, dispute__status=DisputeStatus.OPEN)
        .select_related("dispute", "invoice")
        .order_by("dispute_id", "invoice__ref")
    ):
        d = line.dispute
        entry = disputes[d.customer_id].setdefault(
            d.pk, {"dispute": d, "reason": d.get_reason_display(), "invoices": []}
        )
        entry["invoices"].append(line.invoice.ref)
        disputed_refs.add(line.invoice.ref)
    touches = _touches(ids)
    for item in items:
        pk = item.customer.pk
        item.contacts = contacts.get(pk, [])
        item.promises = promises.get(pk, [])
        item.disputes = list(disputes.get(pk, {}).values())
        item.touches = touches.get(pk, [])
        item.invoices = [
            OpenInvoice(**{**inv.__dict__, "disputed": inv.ref in disputed_refs})
            for inv in item.invoices
        ]
        item.script = task_script_text(item.task)


def task_script_text(task: Task) -> str:
    """The script template a call task names ("" when none); the row loads
    the rendered script on demand (``arrears.comms.compose.task_script``)."""
    return task.template_key


def worklist_page(*, owner: User | None, page: int = 1, now: datetime | None = None) -> Worklist:
    """Page ``page`` (from 1) of ``owner``'s worklist (None: unassigned),
    most urgent first. Callers check that the viewer may see it
    (``worklist_owner``). An empty list: nothing is due today."""
    now = now or timezone.now()
    as_of = timezone.localdate(now)
    rows = list(
        due_tasks(owner=owner, now=now)
        .order_by("due_at", "id")
        .values(*_CANDIDATE_FIELDS)[: MAX_CANDIDATES + 1]
    )
    truncated = len(rows) > MAX_CANDIDATES
    ranked = _rank(rows[:MAX_CANDIDATES], as_of)
    pages = max(1, -(-len(ranked) // PAGE_SIZE))
    page = min(max(page, 1), pages)
    items = _items(ranked[(page - 1) * PAGE_SIZE : page * PAGE_SIZE], as_of)
    if items:
        _details(items, as_of)
    return Worklist(owner, items, len(ranked), page, pages, truncated)


def worklist_ranked(*, owner: User | None, now: datetime | None = None) -> list[WorkItem]:
    """The whole of ``owner``'s worklist (None: unassigned), most urgent
    first, without the per-row details (contacts, touches, cases): for the
    CSV export. At most MAX_CANDIDATES rows; a fixed number of queries."""
    now = now or timezone.now()
    as_of = timezone.localdate(now)
    rows = list(
        due_tasks(owner=owner, now=now)
        .order_by("due_at", "id")
        .values(*_CANDIDATE_FIELDS)[:MAX_CANDIDATES]
    )
    return _items(_rank(rows, as_of), as_of)


def task_for(*, user: User, pk: int) -> Task:
    """The task ``pk`` if ``user`` may work it: their own, or any for a
    manager. Raises Task.DoesNotExist or PermissionDenied (403)."""
    task = Task.objects.select_related("customer", "assigned_to").get(pk=pk)
    if task.assigned_to_id != user.pk and not is_manager(user):
        raise PermissionDenied("this task is someone else's")
    return task


def work_item(*, task: Task, now: datetime | None = None) -> WorkItem:
    """One task as a worklist row, with its details."""
    as_of = timezone.localdate(now or timezone.now())
    rows = list(Task.objects.filter(pk=task.pk).values(*_CANDIDATE_FIELDS))
    [item] = _items(_rank(rows, as_of), as_of)
    _details([item], as_of)
    return item
