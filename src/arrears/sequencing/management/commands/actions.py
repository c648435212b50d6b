"""arrears actions [--as-of DATE] [--customer REF] [--format table|json|csv]

Lists stored actions: those planned for ``--as-of`` (default: all days),
optionally of one customer. JSON is a list of ``{"id", "customer_ref",
"invoice_refs", "kind", "stage", "step", "planned_for", "status",
"reason"}``; CSV has the same columns with invoice refs ``;``-joined.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from rich.console import Console
from rich.table import Table

from arrears.sequencing.selectors import ACTION_FIELDS, actions_list

from ._dates import iso_date


def csv_row(row: dict[str, Any]) -> dict[str, Any]:
    return {**row, "invoice_refs": ";".join(row["invoice_refs"])}


class Command(BaseCommand):
    help = "List the actions the daily run planned."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--as-of", type=iso_date, default=None, help="planned for this day")
        parser.add_argument("--customer", default=None, metavar="REF")
        parser.add_argument("--format", choices=["table", "json", "csv"], default="table")

    def handle(self, *args: Any, as_of: Any, customer: str | None, **options: Any) -> None:
        rows = actions_list(as_of=as_of, customer_ref=customer)
        fmt = options["format"]
        if fmt == "json":
            self.stdout.write(json.dumps(rows))
        elif fmt == "csv":
            writer = csv.DictWriter(self.stdout, fieldnames=ACTION_FIELDS, lineterminator="\n")
            writer.writeheader()
            writer.writerows(csv_row(r) for r in rows)
        else:
            table = Table(*ACTION_FIELDS[:-1])
            for r in rows:
                table.add_row(*[str(v) for v in csv_row(r).values()][:-1])
            out = io.StringIO()
            Console(file=out, width=160).print(table)
            self.stdout.write(out.getvalue().rstrip("\n"))
            self.stdout.write(f"{len(rows)} action(s)")
