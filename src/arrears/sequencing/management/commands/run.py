"""arrears run [--as-of DATE] [--dry-run] [--json] [--partition K/N] [--enqueue N]

Evaluates the collection policy for every customer and stores the actions
it decides (idempotent: a second run the same day creates none). Inline by
default; ``--partition K/N`` runs only customers with id % N == K, and
``--enqueue N`` queues N partition tasks for ``arrears worker`` processes.

Then it ranks the open tasks for the worklists again (``arrears.web.ranking``;
with ``--partition``, those of the partition's customers): the tasks it
opened have no rank yet, and payments and segments may have moved others.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db.models import F, Value
from django.db.models.functions import Mod
from django.utils import timezone
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from arrears.comms.models import Task
from arrears.ledger.models import Customer
from arrears.sequencing.services import run_daily
from arrears.web.ranking import tasks_rank

from ._dates import iso_date, partition


class Command(BaseCommand):
    help = "Run the collection policy for the day and plan the actions it decides."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--as-of", type=iso_date, default=None, help="day (default: today)")
        parser.add_argument("--dry-run", action="store_true", help="decide, but store nothing")
        parser.add_argument("--json", action="store_true", help="print one JSON document")
        parser.add_argument(
            "--partition", type=partition, default=None, help="K/N: customers with id %% N == K"
        )
        parser.add_argument(
            "--enqueue", type=int, default=None, metavar="N", help="queue N partition tasks"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        as_of = options["as_of"] or timezone.localdate()
        if options["enqueue"] is not None:
            self._enqueue(as_of.isoformat(), options["enqueue"], options["json"])
            return
        part = options["partition"]
        show_progress = not options["json"] and sys.stderr.isatty()
        with Progress(
            TextColumn(f"run {as_of.isoformat()}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("customers"),
            TimeRemainingColumn(),
            disable=not show_progress,
            transient=True,
            # Redrawn as customers are done, not by a thread of its own: the
            # run forks its processes only while no other thread runs.
            auto_refresh=False,
        ) as progress:
            bar = progress.add_task("run", total=_customers(part) if show_progress else None)

            def advance(n: int) -> None:
                progress.advance(bar, n)
                progress.refresh()

            summary = run_daily(
                as_of=as_of, dry_run=options["dry_run"], partition=part, on_customers=advance
            )
        result = summary.as_dict()
        ranked = None if options["dry_run"] else self._rank(options["partition"])
        if options["json"]:
            self.stdout.write(json.dumps(result))
            return
        kinds = ", ".join(f"{n} {kind}" for kind, n in result["by_kind"].items() if n)
        self.stdout.write(
            f"{result['as_of']}: {result['customers_evaluated']} customers evaluated, "
            f"{result['actions_created']} actions "
            + ("would be created" if options["dry_run"] else "created")
            + (f" ({kinds})" if kinds else "")
            + f", {result['already_planned']} already planned"
            + (f", {summary.cancelled} cancelled (invoices paid)" if summary.cancelled else "")
            + f" in {result['seconds']:.2f} s"
            + (f"; {ranked[0]} worklist ranks updated in {ranked[1]:.2f} s" if ranked else "")
        )

    def _rank(self, part: tuple[int, int] | None) -> tuple[int, float]:
        """Rank the open tasks again: (ranks updated, seconds). Not in
        ``--json``, whose keys are the contract's."""
        started = time.perf_counter()
        tasks = Task.objects.all()
        if part is not None:
            k, n = part
            tasks = tasks.alias(part=Mod(F("customer_id"), Value(n))).filter(part=k)
        count = tasks_rank(as_of=timezone.localdate(), tasks=tasks)
        return count, time.perf_counter() - started

    def _enqueue(self, as_of: str, n: int, as_json: bool) -> None:
        from arrears.sequencing.tasks import daily_run_partition

        if n < 1:
            raise CommandError("--enqueue needs at least 1 partition", returncode=2)
        ids = [str(daily_run_partition.enqueue(as_of, k, n).id) for k in range(n)]
        if as_json:
            self.stdout.write(json.dumps({"as_of": as_of, "enqueued": n, "task_ids": ids}))
        else:
            self.stdout.write(f"{as_of}: queued {n} partition task(s) for `arrears worker`")


def _customers(part: tuple[int, int] | None) -> int:
    """How many customers the run evaluates (the progress bar's total)."""
    customers = Customer.objects.all()
    if part is not None:
        k, n = part
        customers = customers.alias(part=Mod(F("pk"), Value(n))).filter(part=k)
    return customers.count()
