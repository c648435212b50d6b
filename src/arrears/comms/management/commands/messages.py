"""arrears messages [--status failed|queued|sent|all] [--customer REF] [--format table|json|csv]
arrears messages retry ID...
arrears messages accept ID...

Lists the outbox (by default the failed-messages queue: failed, bounced and
uncertain), queues failed messages again, or records uncertain ones (a
worker stopped while sending them) as sent once the customer confirms.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from rich.console import Console
from rich.table import Table

from arrears.comms.models import Message
from arrears.comms.outbox import message_accept_sent, message_retry
from arrears.comms.selectors import MESSAGE_FIELDS, message_row, messages_list


class Command(BaseCommand):
    help = "List the outbox (default: failed messages), retry or accept messages."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("verb", nargs="?", choices=["list", "retry", "accept"], default="list")
        parser.add_argument("ids", nargs="*", type=int, metavar="ID")
        parser.add_argument(
            "--status", choices=["failed", "queued", "sent", "all"], default="failed"
        )
        parser.add_argument("--customer", default="", metavar="REF")
        parser.add_argument("--format", choices=["table", "json", "csv"], default="table")

    def handle(self, *args: Any, verb: str, ids: list[int], **options: Any) -> None:
        if verb == "list":
            self._list(options["status"], options["customer"], options["format"])
            return
        if not ids:
            raise CommandError(f"messages {verb}: give the id(s) of the message(s)", returncode=2)
        found = {m.pk: m for m in Message.objects.filter(pk__in=ids).select_related("customer")}
        missing = [str(i) for i in ids if i not in found]
        if missing:
            raise CommandError(f"no message with id {', '.join(missing)}", returncode=2)
        change = message_retry if verb == "retry" else message_accept_sent
        for i in ids:
            try:
                change(message=found[i], actor_label="command line")
            except ValueError as error:
                raise CommandError(str(error), returncode=2) from None
            done = "queued again" if verb == "retry" else "recorded as sent"
            self.stdout.write(f"message {i} {done}")

    def _list(self, status: str, customer: str, fmt: str) -> None:
        rows = [message_row(m) for m in messages_list(status=status, customer_ref=customer)]
        if fmt == "json":
            self.stdout.write(json.dumps(rows))
        elif fmt == "csv":
            writer = csv.DictWriter(self.stdout, fieldnames=MESSAGE_FIELDS, lineterminator="\n")
            writer.writeheader()
            writer.writerows(rows)
        else:
            table = Table(*MESSAGE_FIELDS)
            for r in rows:
                table.add_row(*["" if v is None else str(v) for v in r.values()])
            out = io.StringIO()
            Console(file=out, width=180).print(table)
            self.stdout.write(out.getvalue().rstrip("\n"))
            self.stdout.write(f"{len(rows)} message(s)")
