"""arrears demo [--no-serve] [--port 8000]

A fresh demo: create the database, load generated demo data through the CSV
importers, create a demo login, then serve. The start-up output ends with
three lines: ``URL: …``, ``Username: …``, ``Password: …``.

On the default SQLite database (no ``DATABASE_URL``) "fresh" means the file
under ``var/`` is deleted and recreated. A ``DATABASE_URL`` database is never
dropped: it is migrated, and the demo data are loaded only when it holds no
customers yet (or kept when they are the demo's from an earlier run).
"""

from __future__ import annotations

import os
import socket
import time
from datetime import date
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connections
from django.utils import timezone
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from arrears.comms.catalog import templates_sync
from arrears.comms.models import Message, MessageStatus
from arrears.comms.outbox import DeliverySummary, outbox_deliver
from arrears.domain.money import Money
from arrears.ledger.csvfiles import FileRejected
from arrears.ledger.demo import (
    DEFAULT_CUSTOMERS,
    DEFAULT_SEED,
    LOAD_ORDER,
    demo_files_load,
    demo_files_write,
    demo_loaded,
    demo_rows,
)
from arrears.ledger.importers import ImportRejected
from arrears.ledger.models import Customer, Invoice
from arrears.ledger.selectors import ar_totals
from arrears.sequencing.services import run_daily
from arrears.web.roles import COLLECTOR, MANAGER, roles_ensure
from arrears.web.services import DEMO_USERNAME, demo_user_reset
from arrears.web.serving import port_number, wsgi_serve

HOST = "127.0.0.1"


def demo_database_file() -> Path | None:
    """The default SQLite file under var/, or None for any other database.

    Only this file is ever deleted by ``arrears demo``.
    """
    if os.environ.get("DATABASE_URL"):
        return None
    db = connections["default"].settings_dict
    if db["ENGINE"] != "django.db.backends.sqlite3":
        return None
    name = Path(str(db["NAME"]))
    default = Path(settings.VAR_DIR) / "arrears.sqlite3"
    return name if name.resolve() == default.resolve() else None


class Command(BaseCommand):
    help = "Fresh demo: create the database, load demo data, print a login, serve."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--no-serve", action="store_true", help="set up, then exit")
        parser.add_argument("--port", type=port_number, default=8000, help="port to serve on")
        parser.add_argument(
            "--customers",
            type=int,
            default=DEFAULT_CUSTOMERS,
            help=f"number of demo customers (default {DEFAULT_CUSTOMERS})",
        )
        parser.add_argument(
            "--seed", type=int, default=DEFAULT_SEED, help="random seed of the demo data"
        )

    def handle(
        self,
        *args: Any,
        no_serve: bool,
        port: int,
        customers: int,
        seed: int,
        verbosity: int,
        **options: Any,
    ) -> None:
        if settings.PRODUCTION:
            raise CommandError(
                "ARREARS_PRODUCTION is set: the demo creates a superuser and loads "
                "made-up data, so it refuses to run",
                returncode=2,
            )
        if customers < 1:
            raise CommandError("--customers must be at least 1", returncode=2)
        if not no_serve:
            self._check_port_free(port)
        started = time.monotonic()
        progress_console = Console(stderr=True, quiet=verbosity == 0)
        self._fresh_database()
        with progress_console.status("Creating the database schema…"):
            call_command("migrate", interactive=False, verbosity=0)
        if demo_loaded():
            self.stdout.write("The demo data are already loaded; keeping them.")
        elif Customer.objects.exists():
            raise CommandError(
                "The database already holds customers that are not the demo's; "
                "refusing to load demo data into it (unset DATABASE_URL for the "
                "embedded demo database)",
                returncode=1,
            )
        else:
            self._load(progress_console, customers=customers, seed=seed)
        password = demo_user_reset()
        # The demo login collects every demo account, so its worklist fills
        # with the day's calls; it is a manager too (it approves).
        demo_user = get_user_model().objects.get(username=DEMO_USERNAME)
        roles_ensure()
        demo_user.groups.add(*Group.objects.filter(name__in=[MANAGER, COLLECTOR]))
        Customer.objects.filter(collector__isnull=True).update(collector=demo_user)
        templates_sync(actor_label="arrears demo")
        self._summary(timezone.localdate())
        with progress_console.status("Running today's collection policy…"):
            run = run_daily(as_of=timezone.localdate())
        planned = ", ".join(f"{n} {kind}" for kind, n in run.by_kind.items() if n)
        self.stdout.write(
            f"Today's run: {run.actions_created} action(s) planned"
            + (f" ({planned})" if planned else "")
            + (f", {run.already_planned} already planned" if run.already_planned else "")
        )
        with progress_console.status("Sending what is due…"):
            delivery = self._deliver_due()
        waiting = Message.objects.filter(status=MessageStatus.QUEUED).count()
        where = (
            f"written to {settings.EMAIL_FILE_PATH}"
            if settings.EMAIL_BACKEND.endswith("filebased.EmailBackend")
            else "sent"
        )
        self.stdout.write(
            f"Outbox: {delivery.sent} message(s) {where}, {waiting} waiting for the "
            "customers' business hours (`arrears worker` delivers them)"
        )
        self.stdout.write(f"Ready in {time.monotonic() - started:.1f} s.")
        if no_serve:
            self._login_lines(port, password)
            return

        def bound(actual_port: int) -> None:
            self._login_lines(actual_port, password)

        try:
            wsgi_serve(host=HOST, port=port, on_bind=bound)
        except OSError as exc:
            raise CommandError(
                f"cannot listen on {HOST}:{port}: {exc.strerror or exc} "
                "(is another demo running? try --port)"
            ) from exc
        except KeyboardInterrupt:
            pass

    def _deliver_due(self) -> DeliverySummary:
        """One pass over the outbox, as a worker would make it."""
        total = DeliverySummary()
        while True:
            one = outbox_deliver(limit=200)
            total.add(one)
            if not one.claimed:
                return total

    def _check_port_free(self, port: int) -> None:
        """Fail before the (slow) set-up, not after it, when the port is taken."""
        with socket.socket() as probe:
            try:
                probe.bind((HOST, port))
            except OSError as exc:
                raise CommandError(
                    f"cannot listen on {HOST}:{port}: {exc.strerror or exc} "
                    "(is another demo running? try --port)"
                ) from exc

    def _fresh_database(self) -> None:
        path = demo_database_file()
        if path is None:
            self.stdout.write("Using the database from DATABASE_URL; it is never dropped.")
            return
        connections["default"].close()
        existed = path.exists()
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        self.stdout.write(f"{'Recreating' if existed else 'Creating'} the demo database {path}")

    def _load(self, console: Console, *, customers: int, seed: int) -> None:
        today = timezone.localdate()
        directory = Path(settings.VAR_DIR) / "demo"
        with console.status("Generating demo data…"):
            rows = demo_rows(today=today, customers=customers, seed=seed)
            paths = demo_files_write(directory, rows)
        self.stdout.write(
            f"Generated {directory}/: "
            + ", ".join(f"{len(rows[kind]):,} {kind}" for kind in LOAD_ORDER)
        )
        with Progress(
            TextColumn("importing {task.description:<12}"),
            BarColumn(),
            TextColumn("{task.percentage:>3.0f}%"),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        ) as progress:
            tasks: dict[str, TaskID] = {
                kind: progress.add_task(kind, total=paths[kind].stat().st_size)
                for kind in LOAD_ORDER
            }

            def advance(kind: str, done: int, total: int) -> None:
                progress.update(tasks[kind], completed=done, total=total)

            try:
                summaries = demo_files_load(paths, on_progress=advance)
            except (ImportRejected, FileRejected) as exc:
                for error in exc.errors[:20]:
                    self.stderr.write(str(error))
                raise CommandError("the demo data did not import (a bug in the demo)") from exc
        for kind in LOAD_ORDER:
            s = summaries[kind]
            line = f"Imported {kind}: {s.created:,} created"
            unapplied = {c: v for c, v in s.unapplied.items() if v}
            if unapplied:
                line += "; unapplied " + ", ".join(
                    str(Money(v, c)) for c, v in sorted(unapplied.items())
                )
            self.stdout.write(line)

    def _summary(self, today: date) -> None:
        invoices = Invoice.objects.count()
        self.stdout.write(
            f"Demo ledger: {Customer.objects.count():,} customers, {invoices:,} invoices"
        )
        for currency, t in ar_totals(today).items():
            self.stdout.write(
                f"  AR {Money(t['ar'], currency)}, overdue {Money(t['overdue'], currency)}"
            )

    def _login_lines(self, port: int, password: str) -> None:
        self.stdout.write(f"URL: http://{HOST}:{port}/")
        self.stdout.write(f"Username: {DEMO_USERNAME}")
        self.stdout.write(f"Password: {password}")
        self.stdout.flush()
