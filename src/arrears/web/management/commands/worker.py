"""arrears worker [--once] [--no-schedule] [--interval S] [--queue Q]

Processes background work in one loop (``arrears.web.worker_loop``): starts
the daily run at ``ARREARS_RUN_AT`` (once a day across all workers), runs
queued tasks (django-tasks-db) and delivers the outbox. Any number of
workers, on any number of machines, can share one database. ``--once``
works until nothing is left to do, then exits (cron, tests). SIGTERM lets
the task or message in hand finish first.
"""

from __future__ import annotations

import signal
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from arrears.web.worker_loop import WorkerLoop


class Command(BaseCommand):
    help = "Process background work: the daily run, tasks, the outbox (--once: until idle)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--once", action="store_true", help="work until nothing is left to do, then exit"
        )
        parser.add_argument(
            "--no-schedule",
            action="store_true",
            help="do not start the daily run at ARREARS_RUN_AT",
        )
        parser.add_argument(
            "--queue", default="*", help="task queues to process, comma-separated (default: all)"
        )
        parser.add_argument(
            "--interval",
            type=float,
            default=1.0,
            help="seconds to wait after a pass that found nothing to do",
        )

    def handle(
        self,
        *args: Any,
        once: bool,
        no_schedule: bool,
        queue: str,
        interval: float,
        verbosity: int,
        **options: Any,
    ) -> None:
        if interval < 0:
            raise CommandError("--interval must be zero or more", returncode=2)

        def log(line: str) -> None:
            if verbosity >= 1:
                self.stdout.write(f"{timezone.now():%Y-%m-%dT%H:%M:%SZ} {loop.name}: {line}")

        loop = WorkerLoop(
            queues=[q.strip() for q in queue.split(",") if q.strip()] or ["*"],
            interval=interval,
            schedule=not no_schedule,
            log=log,
            log_idle=verbosity >= 2,
        )
        saved = loop.install_signals()
        try:
            total = loop.run(once=once)
        finally:
            # Put the caller's handlers back (an in-process caller keeps Ctrl-C).
            for s, handler in saved.items():
                signal.signal(s, handler)
        if once:
            log(f"done: {total.line()}")
            if total.errors:
                raise CommandError(f"{len(total.errors)} error(s): {total.errors[0]}")
