"""The worker's loop in-process: passes, --once, stopping. (Real processes
racing and being killed are in sequencing/tests/test_run_workers.py and
comms/tests/test_outbox_crash.py.)"""

from __future__ import annotations

import io
import signal
from datetime import date
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone
from pytest_django import Settings

from arrears.comms.models import Message, Task, TaskKind
from arrears.ledger.models import Contact, Customer, Invoice
from arrears.sequencing.models import Action, ScheduledRun
from arrears.sequencing.tasks import daily_run_partition
from arrears.web.models import TaskRank
from arrears.web.worker_loop import WorkerLoop

AS_OF = date(2025, 3, 12)


@pytest.fixture
def overdue(db: None) -> Customer:
    customer = Customer.objects.create(ref="C1", name="Acme Inc", country="US")
    Contact.objects.create(customer=customer, email="ap@acme.example")
    Invoice.objects.create(
        ref="I1",
        customer=customer,
        issue_date=date(2025, 1, 1),
        due_date=date(2025, 1, 31),
        amount=Decimal("100.00"),
        currency="USD",
    )
    return customer


@pytest.mark.django_db(transaction=True)
def test_once_runs_the_queued_partitions_and_stops_when_nothing_is_left(
    overdue: Customer,
) -> None:
    for k in range(2):
        daily_run_partition.enqueue(AS_OF.isoformat(), k, 2)
    lines: list[str] = []

    total = WorkerLoop(queues=["*"], schedule=False, log=lines.append).run(once=True)

    assert total.tasks == 2
    action = Action.objects.get(customer=overdue)
    assert Message.objects.filter(action=action).count() == 1
    assert total.delivery.claimed == 1  # the e-mail the run queued was taken up
    assert lines[0].startswith("2 task(s)")
    assert not ScheduledRun.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_worker_starts_the_days_run_when_it_is_due(overdue: Customer, settings: Settings) -> None:
    settings.ARREARS_RUN_AT = "00:00"
    lines: list[str] = []

    total = WorkerLoop(queues=["*"], log=lines.append).run(once=True)

    assert total.run is not None and total.run.partitions == 1
    assert any("daily run" in line and "started (inline" in line for line in lines)
    assert WorkerLoop(queues=["*"]).run(once=True).run is None  # once a day


def test_a_stop_request_ends_the_loop_and_a_second_one_exits() -> None:
    loop = WorkerLoop(queues=["*"], schedule=False)
    loop.stop(signal.SIGTERM)
    assert loop.run(once=False).tasks == 0  # no pass started
    with pytest.raises(SystemExit):
        loop.stop(signal.SIGTERM)


def test_the_interval_cannot_be_negative() -> None:
    with pytest.raises(CommandError, match="--interval") as raised:
        call_command("worker", "--interval", "-1")
    assert raised.value.returncode == 2


@pytest.mark.django_db(transaction=True)
def test_a_failing_daily_run_is_reported_and_the_worker_goes_on(
    overdue: Customer, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.ARREARS_RUN_AT = "00:00"

    def broken(**kwargs: object) -> None:
        raise RuntimeError("database on fire")

    monkeypatch.setattr("arrears.sequencing.schedule.run_daily", broken)
    daily_run_partition.enqueue(AS_OF.isoformat(), 0, 1)

    total = WorkerLoop(queues=["*"]).run(once=True)

    assert total.errors == ["daily run: RuntimeError: database on fire"]
    assert total.tasks == 1  # the rest of the pass still ran
    claim = ScheduledRun.objects.get()
    assert claim.finished_at is None  # left for a takeover
    with pytest.raises(CommandError, match="database on fire"):
        ScheduledRun.objects.all().delete()
        call_command("worker", "--once", stdout=io.StringIO())


def _call(customer: Customer) -> Task:
    now = timezone.now()
    return Task.objects.create(
        kind=TaskKind.CALL,
        customer=customer,
        title="Call",
        invoice_refs=["I1"],
        due_at=now,
        created_at=now,
    )


@pytest.mark.django_db(transaction=True)
def test_the_worker_ranks_the_open_tasks_after_the_days_run(
    overdue: Customer, settings: Settings
) -> None:
    settings.ARREARS_RUN_AT = "00:00"
    task = _call(overdue)
    lines: list[str] = []

    total = WorkerLoop(queues=["*"], log=lines.append).run(once=True)

    assert total.ranked == 1
    rank = TaskRank.objects.get(task=task)
    assert rank.risk >= Decimal("100.00") and rank.since == date(2025, 1, 31)
    assert any("1 worklist rank(s) updated" in line for line in lines)


@pytest.mark.django_db(transaction=True)
def test_the_worker_ranks_the_tasks_opened_while_it_ran_a_partition(overdue: Customer) -> None:
    daily_run_partition.enqueue(AS_OF.isoformat(), 0, 1)
    task = _call(overdue)

    assert WorkerLoop(queues=["*"], schedule=False).run(once=True).ranked == 1
    assert TaskRank.objects.filter(task=task).exists()
    # A pass without background work ranks nothing.
    _call(overdue)
    assert WorkerLoop(queues=["*"], schedule=False).run(once=True).ranked == 0
