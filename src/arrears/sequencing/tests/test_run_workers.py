"""The daily run shared by real worker processes, and the daily schedule.

Several ``arrears worker`` processes on one database must plan exactly what
one inline run plans: no action twice, none missing, one outbox row per
action. The day's scheduled run starts once, however many workers race.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone
from django_tasks import TaskResultStatus
from django_tasks_db.models import DBTaskResult
from pytest_django import Settings

from arrears.comms.models import DeliveryEvent, Message, Task
from arrears.comms.outbox import MESSAGE_KINDS, TASK_KINDS
from arrears.ledger.importers import ImportSummary
from arrears.ledger.models import Activity
from arrears.sequencing.models import Action, ScheduledRun
from arrears.sequencing.schedule import (
    RUN_STALE,
    scheduled_day,
    scheduled_run_claim,
    scheduled_run_start,
)
from arrears.sequencing.services import _can_fork, run_daily
from arrears.web.tests.processes import arrears_run, arrears_start, process_env

AS_OF = date(2025, 3, 12)
CHANNELS = ["email", "sms", "letter", "call", "email"]
COUNTRIES = ["US", "DE", "GB", "FR"]
CURRENCY = {"US": "USD", "DE": "EUR", "GB": "GBP", "FR": "EUR"}


def ledger_csv(customers: int, as_of: date) -> tuple[str, str]:
    """Customers of every channel and automation, each with invoices from
    long overdue to not yet due on ``as_of``, so the policy plans e-mails,
    texts, letters, calls and escalations."""
    people = ["customer_ref,name,email,phone,country,currency,preferred_channel,automation,"
              "customer_since"]  # fmt: skip
    bills = ["invoice_ref,customer_ref,issue_date,due_date,amount,currency"]
    for n in range(1, customers + 1):
        country = COUNTRIES[n % len(COUNTRIES)]
        automation = "white_glove" if n % 11 == 0 else "paused" if n % 13 == 0 else "auto"
        since = as_of - timedelta(days=60 + 97 * n)
        people.append(
            f"C{n:03},Customer {n},ap{n}@example.com,+1201555{n:04},{country},"
            f"{CURRENCY[country]},{CHANNELS[n % len(CHANNELS)]},{automation},{since}"
        )
        for k in range(n % 4 + 1):
            due = as_of - timedelta(days=(n * 7 + k * 23) % 150 - 20)
            bills.append(
                f"I{n:03}-{k},C{n:03},{due - timedelta(days=30)},{due},{100 + n * 10 + k}.00,"
                f"{CURRENCY[country]}"
            )
    return "\n".join(people) + "\n", "\n".join(bills) + "\n"


Planned = set[tuple[str, str, str, tuple[str, ...]]]


def planned_actions() -> Planned:
    return {
        (a.idempotency_key, a.kind, a.customer.ref, tuple(a.invoice_refs))
        for a in Action.objects.select_related("customer")
    }


def outbox_rows() -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """The run's messages and tasks as (action key, channel or kind) lists
    (not sets: a duplicate must show). Fallbacks and review tasks that a
    delivery opens have no action and are left out."""
    messages = list(
        Message.objects.filter(action__isnull=False).values_list(
            "action__idempotency_key", "channel"
        )
    )
    tasks = list(
        Task.objects.filter(action__isnull=False).values_list("action__idempotency_key", "kind")
    )
    return sorted(messages), sorted(tasks)


def forget_the_run() -> None:
    DeliveryEvent.objects.all().delete()
    Message.objects.all().delete()
    Task.objects.all().delete()
    Activity.objects.filter(subject_type__in=["action", "message", "task", "run"]).delete()
    Action.objects.all().delete()


@pytest.mark.django_db(transaction=True)
def test_two_workers_on_four_partitions_plan_what_one_inline_run_plans(
    importer: Callable[[str, str], ImportSummary], tmp_path: Path
) -> None:
    customers, invoices = ledger_csv(48, AS_OF)
    importer("customers", customers)
    importer("invoices", invoices)
    inline = run_daily(as_of=AS_OF)
    expected = planned_actions()
    expected_messages, expected_tasks = outbox_rows()
    kinds = {kind for _, kind, _, _ in expected}
    assert inline.actions_created == len(expected) > 20
    assert {"email", "letter", "call"} <= kinds, kinds
    assert len(expected_messages) == sum(1 for e in expected if e[1] in MESSAGE_KINDS)
    assert len(expected_tasks) == sum(1 for e in expected if e[1] in TASK_KINDS)
    forget_the_run()

    # Four partitions, queued twice (as an operator retrying would): the two
    # workers race on every customer, not only share them out.
    for _ in range(2):
        call_command("run", "--as-of", AS_OF.isoformat(), "--enqueue", "4", stdout=None)
    env = process_env(tmp_path)
    workers = [arrears_start("worker", "--once", "--no-schedule", env=env) for _ in range(2)]
    outputs = [w.communicate(timeout=180) for w in workers]
    for worker, (_, err) in zip(workers, outputs, strict=True):
        assert worker.returncode == 0, err

    results = list(DBTaskResult.objects.all())
    assert len(results) == 8
    assert {r.status for r in results} == {TaskResultStatus.SUCCESSFUL}
    created = sum(r.return_value["actions_created"] for r in results)
    assert created == len(expected)  # each action created once, by one task
    assert planned_actions() == expected
    assert Action.objects.count() == len(expected)
    assert outbox_rows() == (expected_messages, expected_tasks)
    assert Activity.objects.filter(verb="action planned").count() == len(expected)


# --- the daily schedule ------------------------------------------------------


def test_the_run_is_due_once_the_run_time_has_passed(settings: Settings) -> None:
    settings.ARREARS_RUN_AT = "06:00"
    settings.TIME_ZONE = "Europe/Berlin"
    berlin = ZoneInfo("Europe/Berlin")
    assert scheduled_day(now=datetime(2025, 3, 12, 5, 59, tzinfo=berlin)) is None
    assert scheduled_day(now=datetime(2025, 3, 12, 6, 0, tzinfo=berlin)) == AS_OF
    # 05:30 UTC is 06:30 in Berlin: due there, on Berlin's date.
    assert scheduled_day(now=datetime(2025, 3, 12, 5, 30, tzinfo=UTC)) == AS_OF
    assert scheduled_day(now=datetime(2025, 3, 11, 23, 30, tzinfo=UTC)) is None


@pytest.mark.django_db
def test_a_day_is_claimed_once_and_a_dead_claim_is_taken_over(settings: Settings) -> None:
    now = timezone.now()
    first = scheduled_run_claim(day=AS_OF, worker="a", now=now)
    assert first is not None and first.started_by == "a"
    assert scheduled_run_claim(day=AS_OF, worker="b", now=now + timedelta(minutes=5)) is None
    # Worker a died without finishing: after RUN_STALE, b takes it over.
    later = now + RUN_STALE + timedelta(seconds=1)
    taken = scheduled_run_claim(day=AS_OF, worker="b", now=later)
    assert taken is not None and (taken.started_by, taken.attempts) == ("b", 2)
    assert scheduled_run_claim(day=AS_OF, worker="c", now=later) is None
    ScheduledRun.objects.filter(day=AS_OF).update(finished_at=later)
    assert scheduled_run_claim(day=AS_OF, worker="c", now=later + 2 * RUN_STALE) is None
    assert ScheduledRun.objects.count() == 1


@pytest.mark.django_db
def test_the_scheduled_run_runs_inline_once_a_day(
    settings: Settings, importer: Callable[[str, str], ImportSummary]
) -> None:
    today = timezone.localdate()
    customers, invoices = ledger_csv(12, today)
    importer("customers", customers)
    importer("invoices", invoices)
    settings.ARREARS_RUN_AT = "00:00"
    settings.ARREARS_RUN_PARTITIONS = 1

    run = scheduled_run_start(worker="w1")

    assert run is not None and run.day == today and run.finished_at is not None
    assert run.summary["actions_created"] == Action.objects.count() > 0
    assert Activity.objects.filter(verb="daily run done", subject_ref=today.isoformat()).exists()
    assert scheduled_run_start(worker="w2") is None
    assert scheduled_run_start(worker="w1") is None


@pytest.mark.django_db
def test_the_scheduled_run_waits_for_its_time(settings: Settings) -> None:
    settings.ARREARS_RUN_AT = "23:59"
    early = timezone.localtime().replace(hour=0, minute=1)
    assert scheduled_run_start(worker="w1", now=early) is None
    assert not ScheduledRun.objects.exists()


@pytest.mark.django_db
def test_the_scheduled_run_queues_one_task_per_partition(settings: Settings) -> None:
    settings.ARREARS_RUN_AT = "00:00"
    settings.ARREARS_RUN_PARTITIONS = 3

    run = scheduled_run_start(worker="w1")

    assert run is not None and run.partitions == 3
    queued = DBTaskResult.objects.order_by("enqueued_at")
    assert {str(t.id) for t in queued} == set(run.summary["task_ids"])
    assert sorted(t.args_kwargs["args"][1] for t in queued) == [0, 1, 2]
    assert scheduled_run_start(worker="w2") is None
    assert DBTaskResult.objects.count() == 3


@pytest.mark.django_db(transaction=True)
def test_racing_claims_for_the_day_have_one_winner() -> None:
    # Eight threads, each with its own database connection, insert the
    # day's claim at the same moment.
    barrier = threading.Barrier(8)
    won: list[Any] = []
    errors: list[BaseException] = []
    now = timezone.now()

    def claim(name: str) -> None:
        try:
            barrier.wait(timeout=30)
            won.append(scheduled_run_claim(day=AS_OF, worker=name, now=now))
        except BaseException as error:  # reported below, not lost in the thread
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=claim, args=(f"w{i}",)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors
    winners = [w for w in won if w is not None]
    assert len(won) == 8 and len(winners) == 1
    assert ScheduledRun.objects.get().started_by == winners[0].started_by


@pytest.mark.django_db(transaction=True)
def test_two_worker_processes_start_the_days_run_once(
    importer: Callable[[str, str], ImportSummary], tmp_path: Path
) -> None:
    today = timezone.localdate()
    customers, invoices = ledger_csv(24, today)
    importer("customers", customers)
    importer("invoices", invoices)
    expected = run_daily(as_of=today, dry_run=True).actions_created
    assert expected > 0

    env = process_env(tmp_path, ARREARS_RUN_AT="00:00", ARREARS_RUN_PARTITIONS="2")
    workers = [arrears_start("worker", "--once", env=env) for _ in range(2)]
    outputs = [w.communicate(timeout=180) for w in workers]
    for worker, (_, err) in zip(workers, outputs, strict=True):
        assert worker.returncode == 0, err

    run = ScheduledRun.objects.get()
    assert (run.day, run.partitions, run.attempts) == (today, 2, 1)
    assert sum("daily run" in out for out, _ in outputs) == 1, outputs
    assert DBTaskResult.objects.filter(status=TaskResultStatus.SUCCESSFUL).count() == 2
    assert Action.objects.count() == expected
    assert Activity.objects.filter(verb="daily run queued").count() == 1
    # A third worker the same day finds the run started.
    arrears_run("worker", "--once", env=env)
    assert ScheduledRun.objects.count() == 1 and Action.objects.count() == expected


@pytest.mark.skipif(connection.vendor != "postgresql", reason="parallel runs need PostgreSQL")
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("day", ["past", "today"])
def test_a_run_in_two_processes_plans_what_one_process_plans(
    importer: Callable[[str, str], ImportSummary], tmp_path: Path, day: str
) -> None:
    # A past day reads balances as they were then; today's run streams
    # each partition's open invoices in one pass.
    as_of = AS_OF if day == "past" else timezone.localdate()
    customers, invoices = ledger_csv(48, as_of)
    importer("customers", customers)
    importer("invoices", invoices)
    single = run_daily(as_of=as_of, jobs=1)
    expected, expected_outbox = planned_actions(), outbox_rows()
    forget_the_run()

    # A real `arrears run`: this test process may run other threads (a live
    # server), and then a run never forks.
    env = process_env(tmp_path, ARREARS_RUN_JOBS="2")
    parallel = json.loads(arrears_run("run", "--as-of", as_of.isoformat(), "--json", env=env))

    assert parallel["actions_created"] == single.actions_created == len(expected) > 20
    assert parallel["customers_evaluated"] == 48
    assert parallel["by_kind"] == single.by_kind
    assert planned_actions() == expected
    assert outbox_rows() == expected_outbox
    # Each process inserted its partition's chunk (48 customers: one chunk each).
    assert Action.objects.values("run_id").distinct().count() == 2
    # A second run the same day creates nothing, in this process (a thread
    # is running: it must not fork) or in two.
    stay = threading.Event()
    thread = threading.Thread(target=stay.wait)
    thread.start()
    try:
        assert not _can_fork()
        again = run_daily(as_of=as_of, jobs=2)
    finally:
        stay.set()
        thread.join()
    assert again.actions_created == 0 and again.already_planned == len(expected)
