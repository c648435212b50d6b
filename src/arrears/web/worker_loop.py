"""The loop of ``arrears worker``: in each pass it starts the day's run when
it is due (``arrears.sequencing.schedule``), runs queued background tasks
(django-tasks-db's worker, one batch), ranks the worklists' tasks after the
day's run or a partition of it (``arrears.web.ranking``) and delivers due
messages from the outbox (``arrears.comms.outbox``). Any number of workers on any number of
machines share one database: tasks, messages and the day's run are each
claimed by exactly one of them.

Stopping (SIGTERM, SIGINT) is graceful: the task or message in hand is
finished and recorded, then the loop ends; a second signal stops at once.
"""

from __future__ import annotations

import logging
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from types import FrameType
from typing import Any, TypeVar

from django.db import close_old_connections
from django.utils import timezone
from django_tasks_db.management.commands.db_worker import Worker
from django_tasks_db.models import DBTaskResult

from arrears.cases.tasks import cases_pass
from arrears.comms.catalog import templates_sync
from arrears.comms.models import Task
from arrears.comms.outbox import DeliverySummary, outbox_deliver, worker_name
from arrears.reports.digest import digest_send_weekly
from arrears.sequencing.models import ScheduledRun
from arrears.sequencing.schedule import scheduled_run_start

from .ranking import tasks_rank, unranked

logger = logging.getLogger(__name__)
_T = TypeVar("_T")
_SIGNALS = [s for s in (signal.SIGINT, signal.SIGTERM, getattr(signal, "SIGQUIT", None)) if s]


class _TaskBatch(Worker):
    """django-tasks-db's worker for one pass: it claims tasks with a locked,
    conditional update and returns when the queue is empty or ``max_tasks``
    have run; this subclass only counts them."""

    done = 0

    def run_task(self, db_task_result: DBTaskResult[Any, Any]) -> None:
        try:
            super().run_task(db_task_result)
        finally:
            self.done += 1


@dataclass
class PassResult:
    """What one pass did. ``busy``: it found work, so another pass may find
    more at once."""

    tasks: int = 0
    # Worklist ranks stored (after the day's run or a partition of it).
    ranked: int = 0
    delivery: DeliverySummary = field(default_factory=DeliverySummary)
    run: ScheduledRun | None = None
    # What failed in this pass ("step: error"); the loop goes on.
    errors: list[str] = field(default_factory=list)

    @property
    def busy(self) -> bool:
        return self.tasks > 0 or self.delivery.busy or self.run is not None

    def line(self) -> str:
        d = self.delivery
        parts = [f"{self.tasks} task(s)", f"{d.claimed} message(s) claimed"]
        parts += [
            f"{n} {name}"
            for name, n in (
                ("sent", d.sent),
                ("retried", d.retried),
                ("deferred", d.deferred),
                ("failed", d.failed),
                ("cancelled", d.cancelled),
                ("fallbacks", d.fallbacks),
                ("recovered", d.recovered),
                ("uncertain", d.uncertain),
            )
            if n
        ]
        if self.run is not None:
            how = "inline" if self.run.partitions == 1 else f"{self.run.partitions} partitions"
            created = self.run.summary.get("actions_created")
            parts.append(
                f"daily run {self.run.day} started ({how}"
                + (f", {created} actions" if created is not None else "")
                + ")"
            )
        if self.ranked:
            parts.append(f"{self.ranked} worklist rank(s) updated")
        if self.errors:
            parts.append(f"{len(self.errors)} error(s): " + "; ".join(self.errors))
        return ", ".join(parts)


class WorkerLoop:
    """One worker process's loop (see the module's docstring).

    ``queues``: django-tasks queue names, or ["*"] for all. ``batch``: at
    most this many tasks and this many messages per pass, so neither starves
    the other. ``log`` receives one line per busy pass.
    """

    def __init__(
        self,
        *,
        queues: list[str],
        interval: float = 1.0,
        schedule: bool = True,
        batch: int = 20,
        name: str | None = None,
        log: Callable[[str], None] | None = None,
        log_idle: bool = False,
    ) -> None:
        self.name = (name or worker_name())[:64]
        self.queues = queues
        self.interval = interval
        self.schedule = schedule
        self.batch = batch
        self.log = log or (lambda line: None)
        self.log_idle = log_idle
        self.running = True
        self._tasks: _TaskBatch | None = None

    # --- signals --------------------------------------------------------------

    def stop(self, signum: int, frame: FrameType | None = None) -> None:
        """Finish what is in hand, then end the loop; a second call exits."""
        if not self.running:
            sys.exit(1)
        self.log(f"{signal.strsignal(signum) or signum}: stopping after the work in hand")
        self.running = False
        if self._tasks is not None:
            self._tasks.running = False

    def install_signals(self) -> dict[int, Any]:
        """Route SIGINT/SIGTERM/SIGQUIT to ``stop``; returns the old handlers."""
        saved: dict[int, Any] = {s: signal.getsignal(s) for s in _SIGNALS}
        for s in _SIGNALS:
            signal.signal(s, self.stop)
        return saved

    # --- one pass -------------------------------------------------------------

    def run_pass(self) -> PassResult:
        result = PassResult()
        close_old_connections()
        if self.schedule and self.running:
            result.run = self._step(
                result, "daily run", lambda: scheduled_run_start(worker=self.name)
            )
        if self.schedule and self.running:
            self._step(result, "weekly digest", lambda: digest_send_weekly(worker=self.name))
        if self.running:
            result.tasks = self._step(result, "tasks", self._run_tasks) or 0
        if self.running and (result.run is not None or result.tasks):
            result.ranked = self._step(result, "ranking", lambda: self._rank(result)) or 0
        if self.running:
            self._step(result, "outbox", lambda: self._deliver(result.delivery))
        if self.running:
            self._step(result, "cases", lambda: cases_pass(worker=self.name, now=timezone.now()))
        close_old_connections()
        return result

    def _step(self, result: PassResult, what: str, step: Callable[[], _T]) -> _T | None:
        """Run one step of a pass; an error is logged and counted, and the
        worker lives on to the next step and pass (a claimed daily run left
        unfinished is taken over later; tasks and messages keep their own
        records)."""
        try:
            return step()
        except Exception as error:
            logger.exception("worker %s: %s failed", self.name, what)
            result.errors.append(f"{what}: {type(error).__name__}: {error}")
            close_old_connections()
            return None

    def _rank(self, result: PassResult) -> int:
        """After the day's run, rank every open task again (payments and
        segments have moved); after its partitions (background tasks, the
        only kind there is), the tasks they opened."""
        tasks = None if result.run is not None else Task.objects.filter(unranked())
        return tasks_rank(as_of=timezone.localdate(), tasks=tasks)

    def _deliver(self, total: DeliverySummary) -> None:
        # One message per call, so a stop request waits for one send at most
        # (a claimed message left unsent would turn "uncertain").
        while self.running and total.claimed < self.batch:
            one = outbox_deliver(worker=self.name, now=timezone.now(), limit=1)
            total.add(one)
            if not one.claimed:
                break

    def _run_tasks(self) -> int:
        self._tasks = _TaskBatch(
            queue_names=self.queues,
            interval=0,
            batch=True,
            backend_name="default",
            startup_delay=False,
            max_tasks=self.batch,
            worker_id=self.name,
            excluded_queue_names=[],
        )
        try:
            self._tasks.run()
            return self._tasks.done
        finally:
            self._tasks = None

    # --- the loop -------------------------------------------------------------

    def run(self, *, once: bool = False) -> PassResult:
        """Pass after pass until stopped; with ``once``, until a pass finds
        nothing to do. Returns the totals."""
        total = PassResult()
        # Templates shipped with a new release reach the database when the
        # workers restart (a user's edited template stays active).
        if self.running:
            self._step(total, "templates", lambda: templates_sync(actor_label="worker start"))
        while self.running:
            result = self.run_pass()
            total.tasks += result.tasks
            total.ranked += result.ranked
            total.delivery.add(result.delivery)
            total.run = result.run or total.run
            total.errors += result.errors
            if result.busy or result.errors or self.log_idle:
                self.log(result.line())
            if not result.busy:
                if once:
                    break
                self._sleep(self.interval)
        return total

    def _sleep(self, seconds: float) -> None:
        # In slices, so a stop request is not kept waiting for the interval.
        end = time.monotonic() + seconds
        while self.running and time.monotonic() < end:
            time.sleep(min(0.1, end - time.monotonic()))
