"""arrears export customers|invoices|payments|credit-notes [--format csv|json]"""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from arrears.ledger.csvfiles import KINDS, write_rows
from arrears.ledger.exporters import rows_export


class Command(BaseCommand):
    help = "Export the ledger as the contract's CSV (re-importable) or as JSON, on stdout."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("kind", choices=KINDS)
        parser.add_argument("--format", choices=["csv", "json"], default="csv")

    def handle(self, *args: Any, kind: str, format: str, **options: Any) -> None:
        rows = rows_export(kind)
        if format == "csv":
            write_rows(self.stdout, kind, rows)
            return
        # One JSON document, streamed row by row so large ledgers fit in memory.
        self.stdout.write("[", ending="")
        for i, row in enumerate(rows):
            self.stdout.write(("," if i else "") + "\n" + json.dumps(row), ending="")
        self.stdout.write("\n]")
