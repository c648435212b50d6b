"""The CSV files of the contract: columns, reading and writing."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

# kind -> (required columns, optional columns), in contract order.
COLUMNS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "customers": (
        ("customer_ref", "name", "country"),
        (
            "email",
            "phone",
            "tax_id",
            "currency",
            "credit_limit",
            "preferred_channel",
            "automation",
            "language",
            "customer_since",
            # Added later; see KEPT_WHEN_ABSENT.
            "postal_address",
            "time_zone",
            "collector",
        ),
    ),
    "invoices": (
        ("invoice_ref", "customer_ref", "issue_date", "due_date", "amount", "currency"),
        ("order_ref", "terms"),
    ),
    "payments": (
        ("payment_ref", "customer_ref", "received_on", "amount", "currency"),
        ("invoice_ref",),
    ),
    "credit-notes": (
        ("credit_note_ref", "customer_ref", "issue_date", "amount", "currency"),
        ("invoice_ref",),
    ),
}
KINDS = tuple(COLUMNS)
# Optional columns added to the contract after files were in use: a file
# without one leaves that field of existing rows as it is (it may have been
# set in the web app or through the API); a blank cell clears it. Other
# optional columns left out of a file read as blank.
KEPT_WHEN_ABSENT: dict[str, tuple[str, ...]] = {
    "customers": ("postal_address", "time_zone", "collector"),
}


def header(kind: str) -> list[str]:
    """The columns of a kind's file in contract order."""
    required, optional = COLUMNS[kind]
    ordered = {"customers": ["customer_ref", "name", "email", "phone", "country"]}.get(kind, [])
    return ordered + [c for c in (*required, *optional) if c not in ordered]


@dataclass(frozen=True, slots=True)
class RowError:
    """One problem with one input row: where, which field, why."""

    location: str
    field: str
    reason: str

    def __str__(self) -> str:
        return f"{self.location}: {self.field}: {self.reason}"


Row = tuple[str, Mapping[str, str]]


class FileRejected(Exception):
    """The file itself cannot be read as the contract's CSV."""

    def __init__(self, errors: list[RowError]) -> None:
        super().__init__("\n".join(map(str, errors)))
        self.errors = errors


def read_rows(
    path: Path, kind: str, *, on_bytes: Callable[[int], None] | None = None
) -> Iterator[Row]:
    """Stream the rows of a contract CSV as (``FILE:LINE``, values) pairs.

    Checks the header first (missing required or unknown columns raise
    FileRejected). Rows with the wrong number of fields are yielded with a
    ``None`` value under the key ``"__shape__"`` for the importer to report.
    ``on_bytes`` is told how far into the file reading has got.
    """
    name = str(path)
    binary: BinaryIO = path.open("rb")
    with binary, io.TextIOWrapper(binary, encoding="utf-8-sig", newline="") as text:
        reader = csv.reader(text)
        try:
            columns = [c.strip() for c in next(reader)]
        except StopIteration:
            raise FileRejected([RowError(f"{name}:1", "-", "the file is empty")]) from None
        except UnicodeDecodeError:
            raise FileRejected([_not_utf8(path)]) from None
        check_columns(f"{name}:1", kind, columns)
        last = 0
        try:
            for fields in reader:
                location = f"{name}:{reader.line_num}"
                if not fields or fields == [""]:
                    continue
                if len(fields) != len(columns):
                    yield (
                        location,
                        {"__shape__": f"{len(fields)} fields, header has {len(columns)}"},
                    )
                    continue
                yield location, dict(zip(columns, fields, strict=True))
                if on_bytes is not None and reader.line_num - last >= 1000:
                    last = reader.line_num
                    on_bytes(binary.tell())
        except UnicodeDecodeError:
            raise FileRejected([_not_utf8(path)]) from None
        except csv.Error as exc:
            raise FileRejected([RowError(f"{name}:{reader.line_num}", "-", str(exc))]) from None
        if on_bytes is not None:
            on_bytes(binary.tell())


def _not_utf8(path: Path) -> RowError:
    """The first line that is not UTF-8.

    The text layer decodes ahead in blocks, so where it fails says nothing
    about the line; UTF-8 never uses the newline byte inside a character, so
    the file's binary lines can be checked one by one.
    """
    with path.open("rb") as binary:
        for number, line in enumerate(binary, start=1):
            try:
                line.decode("utf-8")
            except UnicodeDecodeError as exc:
                return RowError(f"{path}:{number}", "-", f"not UTF-8: {exc.reason}")
    return RowError(f"{path}:1", "-", "not UTF-8")  # pragma: no cover - decoding failed above


def check_columns(location: str, kind: str, columns: list[str]) -> None:
    required, optional = COLUMNS[kind]
    errors = [
        RowError(location, c, "required column is missing") for c in required if c not in columns
    ]
    known = set(required) | set(optional)
    errors += [
        RowError(location, c or "(empty)", f"unknown column (expected {', '.join(header(kind))})")
        for c in columns
        if c not in known
    ]
    seen: set[str] = set()
    for c in columns:
        if c in seen:
            errors.append(RowError(location, c, "column appears twice"))
        seen.add(c)
    if errors:
        raise FileRejected(errors)


def write_rows(
    out: io.TextIOBase,
    kind: str,
    rows: Iterator[Mapping[str, str]],
    *,
    leave_out: Collection[str] = (),
) -> int:
    """Write rows as the contract's CSV; returns the number of rows.

    ``leave_out`` names optional columns not to write (missing values are
    written blank).
    """
    columns = [c for c in header(kind) if c not in leave_out or c in COLUMNS[kind][0]]
    writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    count = 0
    for row in rows:
        writer.writerow(row)
        count += 1
    return count
