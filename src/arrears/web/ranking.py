"""The worklist's ranking of tasks: one formula, computed in bulk.

Priority = amount at risk * days past due * the segment's risk weight.

- *amount at risk*: the open amount of the task's invoices; for a task
  without open invoices of its own (an escalation, master data) the
  customer's overdue. It adds amounts across currencies as plain numbers: a
  ranking, not money.
- *days past due*: of the oldest of those invoices, at least 1 so that work
  on current invoices still ranks by amount.
- *risk weight*: risky 3, new 2, slow 1.5, good 1. The segment is the one
  set by hand (CustomerPolicy), else the one the daily run stored
  (CustomerSegment), else, for a customer the run has not seen yet,
  computed as the policy computes it (``arrears.domain.segments.segment_of``)
  from the last 12 months' paid invoices.

``exposures`` sums the invoices in the database, so ranking a million
invoices' tasks moves one row per task, not one per invoice. A task's
``TaskRank`` keeps what changes only with the ledger: ``risk`` (amount at
risk * weight) and ``since`` (the oldest due date counted); the day's
priority is ``risk`` * days since ``since``, computed in the query that
reads the list (``priority_order``) and in Python for its rows
(``priority``): the days moving on need no rewrite of every rank.

When ranks are stored: ``tasks_rank`` ranks every open task again after the
daily run (``arrears run``, and the worker after the day's run), writing
only the ranks that changed; the worker ranks the tasks a partition of the
run opened, and a worklist ranks any of its tasks still without a rank
(opened during the day: a call logged, a fallback, an SLA escalation)
before reading them. So a payment or a new segment moves a task on the
list after the next daily run, not at once (ranking every task on each
payment would cost more than the list is worth); the row itself shows the
amounts as they are now.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal
from typing import Any

from django.db import connection
from django.db.models import (
    DecimalField,
    Exists,
    ExpressionWrapper,
    F,
    Func,
    IntegerField,
    Min,
    OuterRef,
    QuerySet,
    Subquery,
    Sum,
    Value,
)
from django.db.models.expressions import Combinable
from django.db.models.functions import Coalesce, Greatest

from arrears.comms.models import Task, TaskStatus
from arrears.domain.segments import PaymentHistory, Segment, SegmentOverride, segment_of
from arrears.ledger.models import MONEY_PLACES, Invoice, InvoiceStatus
from arrears.sequencing.selectors import paid_histories

from .models import TaskRank

SEGMENT_WEIGHTS: dict[str, Decimal] = {
    Segment.RISKY: Decimal(3),
    Segment.NEW: Decimal(2),
    Segment.SLOW: Decimal("1.5"),
    Segment.GOOD: Decimal(1),
}
# Tasks ranked per round of queries: bounds memory and the size of each
# statement, whatever the number of tasks.
RANK_CHUNK = 20_000

# The columns ranking reads: no model instances for thousands of tasks.
RANK_FIELDS = (
    "pk",
    "customer_id",
    "customer__customer_since",
    "customer__policy_settings__segment",
    "customer__policy_settings__segment_reason",
    "customer__segment_state__segment",
    "customer__segment_state__reason",
)
_MONEY = Decimal(1).scaleb(-MONEY_PLACES)


@dataclass(frozen=True)
class Exposure:
    """What a task puts at risk: the open amount of the invoices it counts,
    the due date of the oldest of them and their currencies (no invoices:
    0, None and none)."""

    amount: Decimal = Decimal(0)
    since: date | None = None
    currencies: tuple[str, ...] = ()


@dataclass(frozen=True)
class Rank:
    """A task's rank for a day and the figures behind it."""

    task_id: int
    customer_id: int
    segment: str
    segment_reason: str
    weight: Decimal
    exposure: Exposure
    days_past_due: int
    priority: Decimal

    @property
    def risk(self) -> Decimal:
        """What TaskRank stores: the part of the priority the days do not move."""
        return self.exposure.amount * self.weight


def unranked() -> Combinable:
    """Tasks without a rank yet. A subquery, not a join: the database looks
    up the ranks of the tasks it reads, not every open task's."""
    return ~Exists(TaskRank.objects.filter(task=OuterRef("pk")))


def days_past_due(since: date | None, as_of: date) -> int:
    """Days from ``since`` to ``as_of``, at least 1 (also without a date)."""
    return max((as_of - since).days, 1) if since is not None else 1


def priority(risk: Decimal, since: date | None, as_of: date) -> Decimal:
    """The formula: amount at risk * weight (``risk``) * days past due."""
    return risk * days_past_due(since, as_of)


class _DaysSince(Func):
    """Whole days from a date column to a day, in SQL (NULL without a date)."""

    output_field = IntegerField()
    arity = 2  # (day, column)
    arg_joiner = " - "
    template = "(%(expressions)s)"  # PostgreSQL: date - date is whole days

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        return super().as_sql(
            compiler,
            connection,
            template="CAST(julianday(%(expressions)s) AS INTEGER)",
            arg_joiner=") - julianday(",
            **extra,
        )


def priority_order(as_of: date) -> Subquery:
    """``priority`` in SQL, of the task whose id is the outer query's ``pk``
    (NULL for a task without a rank), to order tasks by. A subquery, so the
    database looks up the ranks of the tasks it reads; as a join it would
    hash every open task's rank on each view."""
    days = _DaysSince(Value(as_of), F("since"))
    value = ExpressionWrapper(
        F("risk") * Greatest(Coalesce(days, Value(0)), Value(1)), output_field=DecimalField()
    )
    return Subquery(
        TaskRank.objects.filter(task_id=OuterRef("pk")).annotate(priority=value).values("priority")
    )


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
    histories = paid_histories(list(missing), as_of) if missing else {}
    for pk, since in missing.items():
        history = replace(histories.get(pk, PaymentHistory()), customer_since=since)
        seg = segment_of(history, as_of)
        result[pk] = (seg.segment.value, seg.reason)
    return result


def _add(totals: dict[int, Exposure], key: int, amount: Any, since: Any, currency: str) -> None:
    # Raw rows: SQLite gives floats and ISO strings where PostgreSQL gives
    # Decimals and dates (the ORM converts them the same way for its sums).
    amount = amount if isinstance(amount, Decimal) else Decimal(str(amount)).quantize(_MONEY)
    since = since if isinstance(since, date) else date.fromisoformat(since)
    old = totals.get(key, Exposure())
    totals[key] = Exposure(
        old.amount + amount,
        min(since, old.since) if old.since is not None else since,
        tuple(sorted({*old.currencies, currency})),
    )


# Sums of each task's own open invoices, by currency. The membership test in
# the task's JSON list of refs is the one part that differs by database.
# The customers' range lets the database read only their invoices' index.
_OWN_SQL = """
SELECT t.id, i.currency, SUM(i.amount - i.allocated), MIN(i.due_date)
FROM {task} t JOIN {invoice} i
  ON i.customer_id = t.customer_id AND i.status = %s AND {named}
WHERE t.id IN ({ids}) AND i.customer_id BETWEEN %s AND %s
GROUP BY t.id, i.currency
"""
_NAMED = {
    "postgresql": "t.invoice_refs ? i.ref",
    "sqlite": "i.ref IN (SELECT value FROM json_each(t.invoice_refs))",
}


def _own(rows: list[dict[str, Any]]) -> dict[int, Exposure]:
    """Per task, its own open invoices (one query; tasks with none are left out)."""
    sql = _OWN_SQL.format(
        task=Task._meta.db_table,
        invoice=Invoice._meta.db_table,
        named=_NAMED[connection.vendor],
        ids=", ".join(str(int(r["pk"])) for r in rows),
    )
    customers = [r["customer_id"] for r in rows]
    totals: dict[int, Exposure] = {}
    with connection.cursor() as cursor:
        cursor.execute(sql, [InvoiceStatus.OPEN.value, min(customers), max(customers)])
        for task_id, currency, amount, since in cursor.fetchall():
            _add(totals, task_id, amount, since, currency)
    return totals


def _overdue(customer_ids: list[int], as_of: date) -> dict[int, Exposure]:
    """Per customer, the invoices overdue at ``as_of`` (one query)."""
    rows = (
        Invoice.objects.filter(
            customer_id__in=customer_ids, status=InvoiceStatus.OPEN, due_date__lt=as_of
        )
        .order_by()
        .values("customer_id", "currency")
        .annotate(amount=Sum(F("amount") - F("allocated")), since=Min("due_date"))
        .values_list("customer_id", "amount", "since", "currency")
    )
    totals: dict[int, Exposure] = {}
    for customer_id, amount, since, currency in rows:
        _add(totals, customer_id, amount, since, currency)
    return totals


def exposures(rows: list[dict[str, Any]], as_of: date) -> dict[int, Exposure]:
    """Per task of ``rows`` (``RANK_FIELDS`` values), what it puts at risk:
    its own open invoices, else its customer's overdue ones. One query, and
    one more when some task has no open invoice of its own."""
    own = _own(rows)
    orphans = [r for r in rows if r["pk"] not in own]
    overdue = _overdue(list({r["customer_id"] for r in orphans}), as_of) if orphans else {}
    return {r["pk"]: own.get(r["pk"]) or overdue.get(r["customer_id"]) or Exposure() for r in rows}


def ranks_compute(rows: list[dict[str, Any]], as_of: date) -> list[Rank]:
    """The rank of each task in ``rows`` (``RANK_FIELDS`` values), in their
    order, from the ledger as it is now: a fixed few queries for any number
    of rows (``exposures``, and the payment history of customers without a
    segment)."""
    if not rows:
        return []
    exposed = exposures(rows, as_of)
    segments = _segments(rows, as_of)
    ranks = []
    for r in rows:
        exposure = exposed[r["pk"]]
        segment, why = segments[r["customer_id"]]
        weight = SEGMENT_WEIGHTS[segment]
        ranks.append(
            Rank(
                task_id=r["pk"],
                customer_id=r["customer_id"],
                segment=segment,
                segment_reason=why,
                weight=weight,
                exposure=exposure,
                days_past_due=days_past_due(exposure.since, as_of) if exposure.since else 0,
                priority=priority(exposure.amount * weight, exposure.since, as_of),
            )
        )
    return ranks


_UPSERT = (
    "INSERT INTO {table} (task_id, risk, since) {rows} "
    "ON CONFLICT (task_id) DO UPDATE SET risk = excluded.risk, since = excluded.since"
)


def _ranks_store(ranks: list[Rank]) -> None:
    """Insert or update the ranks' TaskRank rows in one statement (on SQLite,
    one statement prepared once)."""
    if not ranks:
        return
    table = TaskRank._meta.db_table
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # Three array parameters: a statement of fixed size however many rows.
            rows = "SELECT * FROM unnest(%s::bigint[], %s::numeric[], %s::date[])"
            cursor.execute(
                _UPSERT.format(table=table, rows=rows),
                [
                    [r.task_id for r in ranks],
                    [r.risk for r in ranks],
                    [r.exposure.since for r in ranks],
                ],
            )
            return
        ops = connection.ops
        cursor.executemany(
            _UPSERT.format(table=table, rows="VALUES (%s, %s, %s)"),
            [(r.task_id, str(r.risk), ops.adapt_datefield_value(r.exposure.since)) for r in ranks],
        )


def tasks_rank(*, as_of: date, tasks: QuerySet[Task] | None = None) -> int:
    """Rank the open tasks of ``tasks`` (default: all, and then drop the
    ranks of closed tasks) from the ledger at ``as_of`` and store the ranks
    that changed. Works through them in chunks of RANK_CHUNK, each a fixed
    few queries (the tasks, ``exposures``, payment histories when a segment
    is missing, one write when a rank changed) after one for their ids.
    Returns how many ranks it wrote."""
    if tasks is None:
        TaskRank.objects.exclude(task__status=TaskStatus.OPEN).delete()
    pending = (tasks if tasks is not None else Task.objects.all()).filter(status=TaskStatus.OPEN)
    # By customer, so that each chunk's invoices are a narrow range of them.
    keys = list(pending.order_by("customer_id", "pk").values_list("customer_id", "pk"))
    written = 0
    for start in range(0, len(keys), RANK_CHUNK):
        chunk = keys[start : start + RANK_CHUNK]
        ids = {pk for _, pk in chunk}
        # The chunk's customers as a range: a short statement, not a list of
        # thousands (a customer at its edges may bring tasks of the next).
        rows = [
            r
            for r in pending.filter(customer_id__gte=chunk[0][0], customer_id__lte=chunk[-1][0])
            .order_by()
            .values(*RANK_FIELDS, "rank__risk", "rank__since")
            if r["pk"] in ids
        ]
        old = {r["pk"]: (r["rank__risk"], r["rank__since"]) for r in rows}
        changed = [
            rank
            for rank in ranks_compute(rows, as_of)
            if old[rank.task_id] != (rank.risk, rank.exposure.since)
        ]
        _ranks_store(changed)
        written += len(changed)
    return written
