"""arrears import customers|invoices|payments|credit-notes FILE.csv [--json]"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Any, NoReturn

from django.core.management.base import BaseCommand, CommandError, CommandParser
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn, TransferSpeedColumn

from arrears.ledger.csvfiles import KINDS, FileRejected, RowError, read_rows
from arrears.ledger.importers import ImportRejected, rows_import

MAX_PRINTED_ERRORS = 10_000


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class Command(BaseCommand):
    help = "Import a contract CSV file (all or nothing; re-importing changes nothing)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("kind", choices=KINDS)
        parser.add_argument("file", type=Path)
        parser.add_argument("--json", action="store_true", help="print one JSON document")

    def handle(self, *args: Any, kind: str, file: Path, json: bool, **options: Any) -> None:
        if not file.is_file():
            self._reject([RowError(str(file), "-", "no such file")], as_json=json)
        show_progress = not json and sys.stderr.isatty()
        with Progress(
            TextColumn(f"importing {kind}"),
            BarColumn(),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
            disable=not show_progress,
            transient=True,
        ) as progress:
            task = progress.add_task("import", total=file.stat().st_size)
            try:
                summary = rows_import(
                    kind,
                    read_rows(file, kind, on_bytes=lambda n: progress.update(task, completed=n)),
                    actor_label=f"import {file.name}",
                    source=str(file),
                    sha256=_sha256(file),
                )
            except (ImportRejected, FileRejected) as exc:
                self._reject(exc.errors, as_json=json)
        result = summary.as_dict()
        if json:
            self.stdout.write(_dumps({"ok": True, **result}))
        else:
            self.stdout.write(
                f"{kind}: {result['rows']} rows — {result['created']} created, "
                f"{result['updated']} updated, {result['unchanged']} unchanged"
                + "".join(
                    f"; {currency}: {applied} applied, {result['unapplied'][currency]} unapplied"
                    for currency, applied in result.get("allocated", {}).items()
                )
            )

    def _reject(self, errors: list[RowError], *, as_json: bool) -> NoReturn:
        for error in errors[:MAX_PRINTED_ERRORS]:
            self.stderr.write(str(error))
        if len(errors) > MAX_PRINTED_ERRORS:
            self.stderr.write(f"... and {len(errors) - MAX_PRINTED_ERRORS} more")
        if as_json:
            self.stdout.write(
                _dumps(
                    {
                        "ok": False,
                        "errors": [
                            {"location": e.location, "field": e.field, "reason": e.reason}
                            for e in errors
                        ],
                    }
                )
            )
        raise CommandError(f"{len(errors)} problem(s) found; nothing was imported", returncode=2)


def _dumps(document: dict[str, Any]) -> str:
    return json.dumps(document, ensure_ascii=False)
