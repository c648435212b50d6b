"""arrears worker [--once]

Processes background tasks (Django's Tasks API, django-tasks-db backend) by
running django-tasks-db's ``db_worker``. Any number of workers, on any
number of machines, can share one database: each claims a task with a
locked, conditional update. ``--once`` processes what is queued, then exits
(``db_worker --batch``), e.g. from cron or in tests.
"""

from __future__ import annotations

import signal
from typing import Any

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser

_SIGNALS = [s for s in (signal.SIGINT, signal.SIGTERM, getattr(signal, "SIGQUIT", None)) if s]


class Command(BaseCommand):
    help = "Process background work (--once: until the queue is empty, then exit)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--once", action="store_true", help="process queued tasks until idle, then exit"
        )
        parser.add_argument(
            "--queue", default="*", help="queues to process, comma-separated (default: all)"
        )
        parser.add_argument(
            "--interval",
            type=float,
            default=1.0,
            help="seconds to wait between polls of an empty queue",
        )

    def handle(
        self, *args: Any, once: bool, queue: str, interval: float, verbosity: int, **options: Any
    ) -> None:
        # db_worker installs its own signal handlers (graceful shutdown);
        # put ours back afterwards so an in-process caller keeps its Ctrl-C.
        saved = {s: signal.getsignal(s) for s in _SIGNALS}
        try:
            call_command(
                "db_worker",
                queue_name=queue,
                batch=once,
                interval=interval,
                reload=False,
                startup_delay=not once,
                verbosity=verbosity,
                stdout=self.stdout,
                stderr=self.stderr,
            )
        finally:
            for s, handler in saved.items():
                signal.signal(s, handler)
