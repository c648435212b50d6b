"""Writes for the collection policy. Each runs in one transaction and
records what it did in the activity log."""

from __future__ import annotations

import gc
import hashlib
import multiprocessing
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection, connections, transaction
from django.db.models import BooleanField, Count, Max
from django.db.models.expressions import RawSQL
from django.utils import timezone

from arrears.cases.plans import payment_plans_review
from arrears.cases.services import disputes_review, promises_review
from arrears.comms.models import Message, Task
from arrears.comms.outbox import outbox_enqueue
from arrears.domain.policy import Kind, PlannedAction, Policy, StepMemo, evaluate
from arrears.domain.policy_file import PolicyInvalid, Problem, policy_parse
from arrears.domain.policy_lint import policy_lint
from arrears.ledger.bulk import (
    ANALYZE_AFTER,
    rows_insert_new,
    rows_upsert,
    statistics_refresh,
)
from arrears.ledger.lookups import Ids
from arrears.ledger.models import Activity, Customer, Invoice, InvoiceStatus
from arrears.ledger.services import activities_record, activity_record
from arrears.portal.onboarding import onboarding_review

from .models import (
    Action,
    ActionStatus,
    CustomerPolicy,
    CustomerSegment,
    PolicySplit,
    PolicyVersion,
    Segment,
)
from .selectors import CHUNK, CustomerRun, OpenInvoiceStream, PolicyBook, customer_runs


@dataclass(frozen=True)
class PolicyChecked:
    policy: Policy
    warnings: list[Problem]


def policy_check(*, text: str, name: str) -> PolicyChecked:
    """Parse and lint a policy file. Raises ``PolicyInvalid`` with every
    error (schema and linter); returns the policy and the linter's warnings."""
    policy = policy_parse(text, name=name)
    found = policy_lint(policy)
    errors = [p for p in found if p.severity == "error"]
    if errors:
        raise PolicyInvalid(errors)
    return PolicyChecked(policy, [p for p in found if p.severity != "error"])


@dataclass(frozen=True)
class PolicyApplied:
    version: PolicyVersion
    changed: bool
    warnings: list[Problem]


def policy_apply(*, path: Path | str, actor_label: str) -> PolicyApplied:
    """Validate the file at ``path`` and make it the active policy (see
    ``policy_apply_text``). Raises ``OSError`` when it cannot be read."""
    path = Path(path)
    text = path.read_text(encoding="utf-8")
    return policy_apply_text(
        text=text, name=path.stem, source=f"from {path.name}", actor_label=actor_label
    )


@transaction.atomic
def policy_apply_text(*, text: str, name: str, source: str, actor_label: str) -> PolicyApplied:
    """Validate a policy and make it the active policy.

    The same text as the active version changes nothing (``changed`` False,
    no activity entry). Text seen before under the same name re-activates
    that version; new text is stored as the next version number. Raises
    ``PolicyInvalid`` (nothing stored) when it has errors. ``name`` is the
    fallback name (a file's stem); ``source`` says where it came from.
    """
    checked = policy_check(text=text, name=name)
    name = checked.policy.name
    sha = hashlib.sha256(text.encode("utf-8")).hexdigest()
    # Lock the active row so two concurrent applies serialise.
    active = PolicyVersion.objects.select_for_update().filter(is_active=True).first()
    if active is not None and active.name == name and active.sha256 == sha:
        return PolicyApplied(active, False, checked.warnings)
    same = PolicyVersion.objects.filter(name=name, sha256=sha).order_by("-version").first()
    if active is not None:
        PolicyVersion.objects.filter(pk=active.pk).update(is_active=False)
    now = timezone.now()
    if same is not None:
        PolicyVersion.objects.filter(pk=same.pk).update(
            is_active=True, applied_at=now, applied_by=actor_label
        )
        same.refresh_from_db()
        version, verb = same, "policy reactivated"
    else:
        last = PolicyVersion.objects.filter(name=name).aggregate(n=Max("version"))["n"] or 0
        version = PolicyVersion.objects.create(
            name=name,
            version=last + 1,
            yaml_text=text,
            sha256=sha,
            applied_at=now,
            applied_by=actor_label,
            is_active=True,
        )
        verb = "policy applied"
    activity_record(
        actor_label=actor_label,
        verb=verb,
        subject_type="policy",
        subject_ref=f"{version.name} v{version.version}",
        why=source + (f", replacing {active.name} v{active.version}" if active is not None else ""),
        data={
            "name": version.name,
            "version": version.version,
            "sha256": sha,
            "previous": None if active is None else f"{active.name} v{active.version}",
        },
    )
    return PolicyApplied(version, True, checked.warnings)


@transaction.atomic
def customer_policy_set(
    *,
    customer: Customer,
    actor_label: str,
    policy_name: str = "",
    segment: str = "",
    segment_reason: str = "",
) -> CustomerPolicy:
    """Set a customer's policy override (a policy name, "" for the active
    one) and manual segment ("" to compute it; a reason is required)."""
    if segment and segment not in Segment.values:
        raise ValueError(f"unknown segment {segment!r}")
    if segment and not segment_reason.strip():
        raise ValueError("a segment set by hand needs a reason")
    if policy_name and not PolicyVersion.objects.filter(name=policy_name).exists():
        raise ValueError(f"no policy named {policy_name!r} was ever applied")
    settings, _ = CustomerPolicy.objects.update_or_create(
        customer=customer,
        defaults={
            "policy_name": policy_name,
            "segment": segment,
            "segment_reason": segment_reason.strip() if segment else "",
            "updated_by": actor_label,
        },
    )
    activity_record(
        actor_label=actor_label,
        verb="policy settings changed",
        subject_type="customer",
        subject_ref=customer.ref,
        customer=customer,
        why=segment_reason if segment else "",
        data={"policy_name": policy_name, "segment": segment},
    )
    return settings


@transaction.atomic
def policy_split_start(*, variant_name: str, share_percent: int, actor_label: str) -> PolicySplit:
    """Run ``variant_name`` for ``share_percent`` % of the customers without a
    policy of their own (by a stable hash of their ref), replacing any split
    running. Raises ValueError for an unknown policy or a share outside 1 to 99."""
    if not 1 <= share_percent <= 99:
        raise ValueError("the share must be between 1 and 99 percent")
    if not PolicyVersion.objects.filter(name=variant_name).exists():
        raise ValueError(f"no policy named {variant_name!r} was ever applied")
    active = PolicyVersion.objects.filter(is_active=True).first()
    if active is not None and active.name == variant_name:
        raise ValueError(f"{variant_name!r} is the active policy: split against another one")
    now = timezone.now()
    PolicySplit.objects.filter(is_active=True).update(is_active=False, stopped_at=now)
    split = PolicySplit.objects.create(
        variant_name=variant_name,
        share_percent=share_percent,
        started_at=now,
        started_by=actor_label,
    )
    activity_record(
        actor_label=actor_label,
        verb="policy split started",
        subject_type="policy",
        subject_ref=variant_name,
        why=f"{share_percent}% of the customers run {variant_name}",
        data={"variant": variant_name, "share_percent": share_percent},
    )
    return split


@transaction.atomic
def policy_split_stop(*, actor_label: str) -> bool:
    """End the running split (all customers back on the active policy).
    False when none was running."""
    split = PolicySplit.objects.filter(is_active=True).first()
    if split is None:
        return False
    PolicySplit.objects.filter(pk=split.pk).update(is_active=False, stopped_at=timezone.now())
    activity_record(
        actor_label=actor_label,
        verb="policy split stopped",
        subject_type="policy",
        subject_ref=split.variant_name,
        why=f"after {split.share_percent}% ran {split.variant_name}",
    )
    return True


# --- the daily run ----------------------------------------------------------

RUN_ACTOR = "policy run"


@dataclass
class RunSummary:
    """What one daily run (or one partition of it) did."""

    as_of: date
    customers_evaluated: int = 0
    actions_created: int = 0
    by_kind: dict[str, int] = field(default_factory=lambda: {k.value: 0 for k in Kind})
    already_planned: int = 0
    cancelled: int = 0
    seconds: float = 0.0

    def add(self, other: RunSummary) -> None:
        self.customers_evaluated += other.customers_evaluated
        self.actions_created += other.actions_created
        self.already_planned += other.already_planned
        self.cancelled += other.cancelled
        for kind, n in other.by_kind.items():
            self.by_kind[kind] = self.by_kind.get(kind, 0) + n

    def as_dict(self) -> dict[str, Any]:
        """The ``run --json`` document (DESIGN.md §4)."""
        return {
            "as_of": self.as_of.isoformat(),
            "customers_evaluated": self.customers_evaluated,
            "actions_created": self.actions_created,
            "by_kind": dict(self.by_kind),
            "already_planned": self.already_planned,
            "seconds": round(self.seconds, 3),
        }


# The columns an action row is inserted with (plain SQL: no ORM defaults).
_ACTION_COLUMNS = (
    "customer_id",
    "invoice_refs",
    "kind",
    "stage",
    "step",
    "planned_for",
    "planned_at",
    "status",
    "reason",
    "template",
    "deadline",
    "policy_name",
    "policy_version",
    "requires_approval",
    "idempotency_key",
    "run_id",
    "created_at",
)


def _action_row(
    planned: PlannedAction, run: CustomerRun, run_id: str, now: datetime
) -> tuple[Any, ...]:
    return (
        run.id,
        list(planned.invoice_refs),
        planned.kind.value,
        planned.stage.value,
        planned.step,
        planned.planned_for,
        planned.planned_at,
        ActionStatus.PLANNED.value,
        planned.reason,
        planned.template or planned.script or "",
        planned.deadline,
        run.policy.name,
        run.policy.version,
        planned.requires_approval,
        planned.idempotency_key,
        run_id,
        now,
    )


def _already_today(run: CustomerRun, as_of: date) -> int:
    """Policy steps already planned for the customer on ``as_of``."""
    return len({p.step for p in run.facts.history if p.on == as_of and p.step is not None})


def _chunk_persist(
    runs: list[CustomerRun], planned: list[tuple[CustomerRun, PlannedAction]], summary: RunSummary
) -> None:
    """Cancel the chunk's planned actions whose invoices are all paid, then
    insert its new ones, skipping any whose idempotency key exists (a
    re-run, a retry after a crash, another worker), and log each one really
    created."""
    # First: a new action covers only open invoices, so none is to cancel.
    _cancel_paid([pk for run in runs for pk in run.planned_ids], summary)
    now = timezone.now()
    run_id = uuid.uuid4().hex
    if planned:
        rows_insert_new(
            Action._meta.db_table,
            _ACTION_COLUMNS,
            [_action_row(p, run, run_id, now) for run, p in planned],
            json_column=_ACTION_COLUMNS.index("invoice_refs"),
        )
        created = (
            Action.objects.filter(run_id=run_id)
            .order_by()
            .values_list("kind")
            .annotate(n=Count("id"))
            .values_list("kind", "n")
        )
        new = 0
        for kind, n in created:
            new += n
            summary.by_kind[kind] = summary.by_kind.get(kind, 0) + n
        summary.actions_created += new
        summary.already_planned += len(planned) - new
        # The log and the outbox are written in the same transaction, by the
        # database from the new rows: a run writes as many of each as it
        # plans actions.
        _log_planned(run_id, now)
        outbox_enqueue(run_id=run_id, now=now, actor_label=RUN_ACTOR)


def _log_planned(run_id: str, now: datetime) -> None:
    """Log "action planned", with its reason, for each action ``run_id``
    created (one statement)."""
    data = (
        "jsonb_build_object('key', idempotency_key, 'kind', kind, 'invoice_refs', invoice_refs)"
        if connection.vendor == "postgresql"
        else "json_object('key', idempotency_key, 'kind', kind, 'invoice_refs', json(invoice_refs))"
    )
    entry = {
        "at": "%s",
        "actor_label": "%s",
        "customer_id": "customer_id",
        "subject_type": "'action'",
        "subject_ref": "CAST(id AS TEXT)",
        "verb": "'action planned'",
        "why": "reason",
        "data": data,
    }
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {Activity._meta.db_table} ({', '.join(entry)})"
            f" SELECT {', '.join(entry.values())} FROM {Action._meta.db_table}"
            " WHERE run_id = %s ORDER BY id",
            [connection.ops.adapt_datetimefield_value(now), RUN_ACTOR, run_id],
        )


def _commit_without_waiting() -> None:
    """Let this transaction's commit return before its WAL reaches disk
    (PostgreSQL). A chunk's commit waited for a disk flush of megabytes
    (its actions, links, messages, log). A database crash may then lose
    the last chunks committed, never half of one: the run is idempotent
    and the next run plans them again. No message of a lost chunk can
    have been sent: a worker's claim commits normally, which flushes the
    log up to and including the chunk that wrote the message."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit TO OFF")


def _segments_store(runs: list[CustomerRun], as_of: date) -> None:
    """Store the segments that changed since the last run (one upsert)."""
    changed = [
        (run.id, run.segment.segment.value, run.segment.reason[:300], as_of)
        for run in runs
        if run.stored_segment != (run.segment.segment.value, run.segment.reason[:300])
    ]
    rows_upsert(
        CustomerSegment._meta.db_table,
        ("customer_id", "segment", "reason", "as_of"),
        changed,
        unique=("customer_id",),
        update=("segment", "reason", "as_of"),
    )


def _any_invoice_open() -> RawSQL:
    """Whether any invoice an action covers is open: its refs, a JSON list,
    expanded in SQL (each database names the function differently)."""
    table = Action._meta.db_table
    refs = (
        f"jsonb_array_elements_text({table}.invoice_refs) AS r(value)"
        if connection.vendor == "postgresql"
        else f"json_each({table}.invoice_refs) AS r"
    )
    return RawSQL(
        f"EXISTS (SELECT 1 FROM {refs} JOIN {Invoice._meta.db_table} AS i"
        " ON i.ref = r.value WHERE i.status = %s)",
        [InvoiceStatus.OPEN.value],
        output_field=BooleanField(),
    )


def _cancel_paid(action_ids: list[int], summary: RunSummary) -> None:
    """Cancel those of the planned actions ``action_ids`` whose invoices are
    all paid (by id: a plan that needs no statistics of the table)."""
    if not action_ids:
        return
    stale = list(
        Action.objects.filter(id__any=Ids(action_ids), status=ActionStatus.PLANNED)
        .alias(any_open=_any_invoice_open())
        .filter(any_open=False)
        .order_by()
        .values_list("id", "customer_id", "idempotency_key")
    )
    if not stale:
        return
    # Conditional: an action done or cancelled meanwhile stays as it is.
    Action.objects.filter(id__any=Ids(s[0] for s in stale), status=ActionStatus.PLANNED).update(
        status=ActionStatus.CANCELLED
    )
    summary.cancelled += len(stale)
    activities_record(
        Activity(
            actor_label=RUN_ACTOR,
            customer_id=customer_id,
            subject_type="action",
            subject_ref=str(action_id),
            verb="action cancelled",
            why="all its invoices are paid",
            data={"key": key},
        )
        for action_id, customer_id, key in stale
    )


def run_jobs() -> int:
    """How many processes an inline run uses on PostgreSQL:
    ``ARREARS_RUN_JOBS``, where 0 (the default) means one per CPU."""
    jobs = int(settings.ARREARS_RUN_JOBS) or (os.cpu_count() or 1)
    return max(1, min(jobs, MAX_JOBS))


MAX_JOBS = 16


def run_daily(
    *,
    as_of: date,
    dry_run: bool = False,
    partition: tuple[int, int] | None = None,
    chunk_size: int = CHUNK,
    jobs: int | None = None,
    on_customers: Callable[[int], None] | None = None,
) -> RunSummary:
    """Evaluate the collection policy for every customer (or those of one
    ``partition`` (K, N): id % N == K) on ``as_of`` and store the actions it
    decides, each with an activity entry.

    Customers are streamed in chunks by primary key; each chunk is one
    transaction, so a crash loses at most the chunk in flight and a re-run
    picks up where it stopped: actions already planned are counted in
    ``already_planned``, never created twice. ``dry_run`` writes nothing and
    reports what would be created.

    On PostgreSQL a whole run uses ``jobs`` processes (default
    ``run_jobs()``), each running one partition. It stays in this process
    on SQLite (one writer at a time), inside a transaction (whose data
    other processes cannot see) and when this process runs other threads
    (see ``_can_fork``).
    ``on_customers`` is told how many customers each chunk held.
    """
    started = time.perf_counter()
    if not dry_run and (partition is None or partition[0] == 0):
        _reviews(as_of)
    jobs = run_jobs() if jobs is None else jobs
    if partition is None and jobs > 1 and _can_fork():
        summary = _in_processes(as_of, dry_run, jobs, chunk_size, on_customers)
    else:
        summary = _partition_run(as_of, dry_run, partition, chunk_size, on_customers)
    # SQLite never refreshes the planner's statistics by itself. PostgreSQL's
    # autovacuum does within a minute, and the run's own queries go by ids
    # and customers, whatever the statistics say.
    if summary.actions_created >= ANALYZE_AFTER and connection.vendor != "postgresql":
        statistics_refresh([Action, Message, Task, Activity, CustomerSegment])
    summary.seconds = time.perf_counter() - started
    return summary


def _reviews(as_of: date) -> None:
    # Settle promises once per run (partition 0 does it): a broken one
    # opens an escalation task. Holds never depend on it: a promise
    # holds only until its date plus grace.
    promises_review(as_of=as_of)
    disputes_review(as_of=as_of)
    payment_plans_review(as_of=as_of)
    onboarding_review(as_of=as_of)


def _can_fork() -> bool:
    """Whether the run may fork its processes. Never when other threads run
    (a web server, a test's live server): a child would inherit the locks
    they hold at that moment and could wait on them forever."""
    return (
        connection.vendor == "postgresql"
        and not connection.in_atomic_block
        and threading.active_count() == 1
    )


# Customers done in all processes of a parallel run (set in each child).
_done_counter: Any = None


def _child_start(counter: Any) -> None:
    global _done_counter
    _done_counter = counter


def _child_count(n: int) -> None:
    with _done_counter.get_lock():
        _done_counter.value += n


def _child_run(as_of: date, dry_run: bool, partition: tuple[int, int], chunk_size: int) -> Any:
    try:
        with connection.cursor() as cursor:
            # The run's processes keep every core busy: a parallel plan for
            # a chunk's read would only add processes competing with them.
            cursor.execute("SET max_parallel_workers_per_gather = 0")
        return _partition_run(as_of, dry_run, partition, chunk_size, _child_count)
    finally:
        connections.close_all()


def _in_processes(
    as_of: date,
    dry_run: bool,
    jobs: int,
    chunk_size: int,
    on_customers: Callable[[int], None] | None,
) -> RunSummary:
    """Run partitions (K, jobs) in ``jobs`` forked processes and add up
    their summaries. The database does its share of the work in its own
    processes meanwhile, so this helps even with as many jobs as CPUs."""
    # A forked child must not share this process's connection.
    connections.close_all()
    context = multiprocessing.get_context("fork")
    counter = context.Value("q", 0)
    with context.Pool(jobs, initializer=_child_start, initargs=(counter,)) as pool:
        pending = pool.starmap_async(
            _child_run, [(as_of, dry_run, (k, jobs), chunk_size) for k in range(jobs)]
        )
        reported = 0
        while not pending.ready():
            pending.wait(0.2)
            if on_customers is not None and counter.value > reported:
                on_customers(counter.value - reported)
                reported = counter.value
        parts = pending.get()
    if on_customers is not None and counter.value > reported:
        on_customers(counter.value - reported)
    summary = RunSummary(as_of)
    for part in parts:
        summary.add(part)
    return summary


def _partition_run(
    as_of: date,
    dry_run: bool,
    partition: tuple[int, int] | None,
    chunk_size: int,
    on_customers: Callable[[int], None] | None,
) -> RunSummary:
    summary = RunSummary(as_of)
    book = PolicyBook()
    balances_as_of = as_of < timezone.localdate()
    stream = (
        OpenInvoiceStream(as_of, partition)
        if connection.vendor == "postgresql" and not balances_as_of
        else None
    )
    after = 0
    while True:
        with _collector_paused():
            runs = customer_runs(
                as_of=as_of,
                book=book,
                after_id=after,
                limit=chunk_size,
                partition=partition,
                balances_as_of=balances_as_of,
                invoice_stream=stream,
            )
            if not runs:
                break
            after = runs[-1].id
            _chunk_run(runs, as_of, dry_run, summary)
            done = len(runs)
            # Dropped here: the collector, back on, finds little left to scan.
            del runs
        if on_customers is not None:
            on_customers(done)
    return summary


def _chunk_run(runs: list[CustomerRun], as_of: date, dry_run: bool, summary: RunSummary) -> None:
    """Evaluate one chunk of customers and store its actions (one transaction)."""
    planned: list[tuple[CustomerRun, PlannedAction]] = []
    memo = StepMemo()
    for run in runs:
        summary.customers_evaluated += 1
        summary.already_planned += _already_today(run, as_of)
        if not run.invoices:
            continue
        decisions = evaluate(run.policy, run.facts, run.invoices, as_of, explain=False, memo=memo)
        planned += [(run, action) for action in decisions.actions]
    if dry_run:
        summary.actions_created += len(planned)
        for _, action in planned:
            summary.by_kind[action.kind.value] += 1
        return
    with transaction.atomic():
        _commit_without_waiting()
        _chunk_persist(runs, planned, summary)
        _segments_store(runs, as_of)


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector for one chunk. A chunk makes a
    few hundred thousand small objects, all freed by reference counting when
    it ends; while they live, the collector scanned them again and again (a
    third of a single-process run's time). Back on, it collects what cycles
    the chunk left."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
