"""Running the real `import` command from tests and looking at what it did."""

from __future__ import annotations

import io
import textwrap
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path

from django.core.management import CommandError, call_command
from django.db.models import Model

from arrears.ledger.models import (
    Activity,
    Allocation,
    Contact,
    CreditNote,
    Customer,
    ImportRun,
    Invoice,
    Payment,
)
from arrears.ledger.selectors import invoices_as_of, open_invoices_as_of

LEDGER_MODELS: tuple[type[Model], ...] = (
    Customer,
    Contact,
    Invoice,
    Payment,
    CreditNote,
    Allocation,
    Activity,
    ImportRun,
)


@dataclass(frozen=True)
class ImportOutcome:
    """Exit code and output of one `import` command."""

    code: int
    stdout: str
    stderr: str

    @property
    def error_lines(self) -> list[str]:
        """The `FILE:LINE: field: reason` lines on stderr."""
        return [line for line in self.stderr.splitlines() if line.strip()]


def import_csv(kind: str, path: Path, *options: str) -> ImportOutcome:
    """Run `import KIND PATH` as call_command does; exit code from CommandError."""
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("import", kind, str(path), *options, stdout=out, stderr=err)
    except CommandError as exc:
        return ImportOutcome(exc.returncode, out.getvalue(), err.getvalue())
    return ImportOutcome(0, out.getvalue(), err.getvalue())


def write_csv(directory: Path, name: str, text: str) -> Path:
    """Write a CSV file from an indented literal (leading indentation removed)."""
    path = directory / name
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def ledger_counts() -> dict[str, int]:
    """Rows in every ledger table, by model name."""
    return {model.__name__: model._default_manager.count() for model in LEDGER_MODELS}


def open_amounts(as_of: date) -> dict[str, Decimal]:
    """Invoice ref -> open amount at ``as_of``, for invoices issued by then."""
    rows = invoices_as_of(as_of).values_list("ref", "open_as_of")  # type: ignore[misc]
    return dict(rows)


def open_refs(as_of: date) -> set[str]:
    """Refs of the invoices with something open at ``as_of``."""
    return set(open_invoices_as_of(as_of).values_list("ref", flat=True))
