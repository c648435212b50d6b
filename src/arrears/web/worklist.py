"""Reads for the worklist: the open tasks due today for one collector (or
nobody), most urgent first, with everything a collector needs at hand.

The order is the tasks' stored ranks (``arrears.web.ranking``: amount at
risk * days past due * the segment's risk weight; ties: the earlier due
task first, then the older one). A view counts the owner's due tasks and
ranks those still without a rank (normally none, or the few opened since
the daily run: a fixed few queries per RANK_CHUNK of them); the database
then orders the tasks by today's priority and returns one page. No view
reads invoices beyond its page's: the old way, ranking up to a thousand
tasks in Python from their customers' open invoices on every view, took
most of a second at a million invoices. The rows show their figures as the
ledger stands now, computed with the same function for the page's tasks.

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
from django.db.models import Count, F, Q, QuerySet, Window
from django.db.models.functions import RowNumber
from django.utils import timezone

from arrears.cases.models import DisputeLine, DisputeStatus, Promise, PromiseStatus
from arrears.comms.models import Message, MessageStatus, Task, TaskKind, TaskStatus
from arrears.ledger.models import Contact, Customer, Invoice, InvoiceStatus

from .ranking import RANK_FIELDS, Rank, priority_order, ranks_compute, tasks_rank, unranked
from .roles import COLLECTOR, MANAGER_ROLES, is_manager

# Rows of the CSV export and the API's task list: the most urgent ones.
MAX_EXPORTED = 1000
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
    (None: the unassigned tasks); ``total`` counts its due tasks;
    ``truncated``: the CSV export holds only the MAX_EXPORTED most urgent."""

    owner: User | None
    items: list[WorkItem]
    total: int
    page: int
    pages: int
    truncated: bool

    @property
    def exported(self) -> int:
        """Rows the CSV export holds."""
        return min(self.total, MAX_EXPORTED)


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


def _open_invoices(customer_ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    """Per customer, the open invoices by due date, to list in the rows."""
    rows = (
        Invoice.objects.filter(customer_id__in=customer_ids, status=InvoiceStatus.OPEN)
        .order_by("due_date", "ref")
        .values_list("ref", "customer_id", "due_date", "amount", "allocated", "currency")
    )
    by_customer: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for ref, customer_id, due, amount, allocated, currency in rows:
        by_customer[customer_id].append(
            {"ref": ref, "due_date": due, "open": amount - allocated, "currency": currency}
        )
    return by_customer


def _item(task: Task, r: Rank, invoices: list[dict[str, Any]], as_of: date) -> WorkItem:
    refs = set(task.invoice_refs or ())
    # The task's own invoices first, then by due date (rows come sorted).
    listed = sorted(invoices, key=lambda i: i["ref"] not in refs)[:INVOICES_SHOWN]
    return WorkItem(
        task=task,
        customer=task.customer,
        segment=r.segment,
        segment_reason=r.segment_reason,
        weight=r.weight,
        amount_at_risk=r.exposure.amount,
        currencies=list(r.exposure.currencies),
        days_past_due=r.days_past_due,
        priority=r.priority,
        invoices=[
            OpenInvoice(
                ref=i["ref"],
                due_date=i["due_date"],
                open_amount=i["open"],
                currency=i["currency"],
                days_past_due=(as_of - i["due_date"]).days,
                in_task=i["ref"] in refs,
                disputed=False,
            )
            for i in listed
        ],
        more_invoices=len(invoices) - len(listed),
    )


def _items(ids: list[int], as_of: date) -> list[WorkItem]:
    """Work items for the tasks ``ids``, in that order, with their figures as
    the ledger stands now: one query for the rows, ranking's few for the
    figures, one for the invoices to list, one for the task instances."""
    rows = list(Task.objects.filter(pk__in=ids).values(*RANK_FIELDS))
    place = {pk: n for n, pk in enumerate(ids)}
    rows.sort(key=lambda r: place[r["pk"]])
    ranks = ranks_compute(rows, as_of)
    invoices = _open_invoices(list({r.customer_id for r in ranks}))
    objects = Task.objects.select_related("customer", "assigned_to").in_bulk(ids)
    return [
        _item(objects[r.task_id], r, invoices.get(r.customer_id, []), as_of)
        for r in ranks
        if r.task_id in objects
    ]


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


def _ranked(tasks: QuerySet[Task], as_of: date, start: int, stop: int) -> list[int]:
    """Ids of ``tasks`` from ``start`` to ``stop`` (exclusive) in the list's
    order: most urgent first; ties: the earlier due, then the older task (one
    opened since the list ranked its tasks, without a rank yet, last). Only
    the ids: joining customers and segments for every task before sorting
    would cost more than the sort."""
    order = priority_order(as_of).desc(nulls_last=True)
    return list(tasks.order_by(order, "due_at", "id").values_list("pk", flat=True)[start:stop])


def worklist_page(*, owner: User | None, page: int = 1, now: datetime | None = None) -> Worklist:
    """Page ``page`` (from 1) of ``owner``'s worklist (None: unassigned),
    most urgent first. Callers check that the viewer may see it
    (``worklist_owner``). An empty list: nothing is due today."""
    now = now or timezone.now()
    as_of = timezone.localdate(now)
    tasks = due_tasks(owner=owner, now=now)
    counts = tasks.aggregate(total=Count("pk"), unranked=Count("pk", filter=unranked()))
    if counts["unranked"]:
        tasks_rank(as_of=as_of, tasks=tasks.filter(unranked()))
    total = counts["total"]
    pages = max(1, -(-total // PAGE_SIZE))
    page = min(max(page, 1), pages)
    items: list[WorkItem] = []
    if total:
        start = (page - 1) * PAGE_SIZE
        items = _items(_ranked(tasks, as_of, start, start + PAGE_SIZE), as_of)
    if items:
        _details(items, as_of)
    return Worklist(owner, items, total, page, pages, truncated=total > MAX_EXPORTED)


def worklist_ranked(*, owner: User | None, now: datetime | None = None) -> list[WorkItem]:
    """The MAX_EXPORTED most urgent tasks of ``owner``'s worklist (None:
    unassigned), in the page's order, without the per-row details (contacts,
    touches, cases): for the CSV export and the API. A fixed number of
    queries."""
    now = now or timezone.now()
    as_of = timezone.localdate(now)
    tasks = due_tasks(owner=owner, now=now)
    tasks_rank(as_of=as_of, tasks=tasks.filter(unranked()))
    return _items(_ranked(tasks, as_of, 0, MAX_EXPORTED), as_of)


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
    [item] = _items([task.pk], as_of)
    _details([item], as_of)
    return item
