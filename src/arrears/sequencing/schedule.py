"""The daily run on a schedule: ``arrears worker`` starts the day's run at
``ARREARS_RUN_AT`` (in ``TIME_ZONE``), exactly once however many workers
are running, on however many machines.

The claim is an insert of the day's ``ScheduledRun`` row: the day is unique,
so one insert wins and the others fail. The winner runs the policy inline
(``ARREARS_RUN_PARTITIONS`` = 1) or queues one task per partition for the
workers to share. A claim whose worker died before finishing it is taken
over after ``RUN_STALE``; that repeats no action, because the run itself is
idempotent.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from arrears.ledger.services import activity_record

from .models import ScheduledRun
from .services import RUN_ACTOR, run_daily

# How long a started run may stay unfinished before another worker takes it
# over. Far above the daily run's time at full scale (DESIGN.md §7: 60 s).
RUN_STALE = timedelta(hours=1)


def run_time() -> time:
    """``ARREARS_RUN_AT`` as a time of day (settings checked its form)."""
    hours, minutes = settings.ARREARS_RUN_AT.split(":")
    return time(int(hours), int(minutes))


def run_partitions() -> int:
    n = int(settings.ARREARS_RUN_PARTITIONS)
    if n < 1:
        raise ImproperlyConfigured(f"ARREARS_RUN_PARTITIONS={n} must be at least 1")
    return n


def scheduled_day(*, now: datetime) -> date | None:
    """The day whose run is due at ``now``: today in ``TIME_ZONE`` once its
    run time has passed; None before that."""
    local = timezone.localtime(now)
    return local.date() if local.time() >= run_time() else None


def scheduled_run_claim(
    *, day: date, worker: str, now: datetime, partitions: int = 1
) -> ScheduledRun | None:
    """Claim ``day``'s run for ``worker``. None: another worker has claimed
    it (and is still within ``RUN_STALE``) or has finished it."""
    known = ScheduledRun.objects.filter(day=day).values_list("finished_at", "started_at").first()
    if known is None:
        try:
            with transaction.atomic():
                return ScheduledRun.objects.create(
                    day=day, started_at=now, started_by=worker, partitions=partitions
                )
        except IntegrityError:
            return None  # another worker inserted it first
    finished_at, started_at = known
    if finished_at is not None or started_at >= now - RUN_STALE:
        return None
    # Take over a claim left unfinished (conditional: one taker only).
    taken = ScheduledRun.objects.filter(
        day=day, finished_at__isnull=True, started_at=started_at
    ).update(started_at=now, started_by=worker, partitions=partitions, attempts=F("attempts") + 1)
    return ScheduledRun.objects.get(day=day) if taken else None


def scheduled_run_start(
    *, worker: str, now: datetime | None = None, partitions: int | None = None
) -> ScheduledRun | None:
    """Start today's daily run if it is due and no worker has started it:
    inline with one partition, else by queueing one task per partition.
    Returns the finished claim; None when there was nothing to start."""
    now = now or timezone.now()
    day = scheduled_day(now=now)
    if day is None:
        return None
    n = partitions if partitions is not None else run_partitions()
    claimed = scheduled_run_claim(day=day, worker=worker, now=now, partitions=n)
    if claimed is None:
        return None
    summary: dict[str, Any]
    if n == 1:
        summary = run_daily(as_of=day).as_dict()
        verb = "daily run done"
    else:
        summary = {"as_of": day.isoformat(), "enqueued": n, "task_ids": []}
        verb = "daily run queued"
    with transaction.atomic():
        if n > 1:
            # Queued in the transaction that finishes the claim: a worker
            # dying here leaves neither, and the taker queues them once.
            from .tasks import daily_run_partition

            summary["task_ids"] = [
                str(daily_run_partition.enqueue(day.isoformat(), k, n).id) for k in range(n)
            ]
        ScheduledRun.objects.filter(pk=claimed.pk, started_by=worker).update(
            finished_at=timezone.now(), summary=summary
        )
        activity_record(
            actor_label=RUN_ACTOR,
            verb=verb,
            subject_type="run",
            subject_ref=day.isoformat(),
            why=f"scheduled at {settings.ARREARS_RUN_AT} {settings.TIME_ZONE}, by {worker}",
            data=summary,
        )
    claimed.refresh_from_db()
    return claimed
