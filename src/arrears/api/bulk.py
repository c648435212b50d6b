"""Bulk upserts: a JSON list of CSV-contract rows through the CSV importers.

Each item holds exactly the contract's columns for its kind and is turned
into the string mapping a CSV row would give, so validation is the
importer's own. JSON numbers are read by their text (``1234.50`` stays
``"1234.50"``; ``1e3`` is refused like in a CSV file); sending amounts as
strings is clearest. ``null`` is a blank cell. Customers' ``email`` may be a
list of addresses or one ``;``-joined string, their ``postal_address`` a list
of lines or one `` | ``-joined string. A field left out of an item is a column
left out of a file: blank, except for the columns csvfiles.KEPT_WHEN_ABSENT
names, whose stored values are then kept.

Problems are located as ``[i]``, the item's index. Any problem rejects the
whole request and nothing is written.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from django.db import transaction
from django.http import HttpRequest

from arrears.domain.masterdata import ADDRESS_SEPARATOR
from arrears.ledger.csvfiles import COLUMNS, Row, RowError, header
from arrears.ledger.importers import ImportRejected, ImportSummary, rows_import

MAX_ITEMS = 10_000
# Generous for MAX_ITEMS rows; read by us, not Django's 2.5 MB form limit.
MAX_BYTES = 32 * 1024 * 1024


class BulkTooLarge(Exception):
    """More items or bytes than one request may carry."""


class BulkUnreadable(Exception):
    """The body is not JSON."""


def request_body(request: HttpRequest) -> bytes:
    """The raw body, at most MAX_BYTES; raises BulkTooLarge beyond."""
    limit = MAX_BYTES
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > limit:
        raise BulkTooLarge(f"the body has {declared} bytes; at most {limit} are accepted")
    body = request.read(limit + 1)
    if len(body) > limit:
        raise BulkTooLarge(f"the body has more than {limit} bytes")
    return body


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"key {key!r} appears twice in one object")
        result[key] = value
    return result


def json_document(body: bytes) -> Any:
    """Parse JSON keeping numbers as their text; raises BulkUnreadable."""
    try:
        return json.loads(
            body,
            parse_float=str,
            parse_int=str,
            parse_constant=_no_constant,
            object_pairs_hook=_unique_keys,
        )
    except ValueError as exc:  # also JSONDecodeError and UnicodeDecodeError
        raise BulkUnreadable(f"the body is not JSON: {exc}") from None


def _cell(kind: str, column: str, value: Any) -> str:
    """The CSV cell for a JSON value; raises ValueError with the reason."""
    if value is None:
        return ""
    if isinstance(value, str):  # numbers arrive here too, as their JSON text
        return value
    if kind == "customers" and column == "email" and isinstance(value, list):
        if not all(isinstance(item, str) for item in value):
            raise ValueError("must be a list of strings")
        return ";".join(value)
    if kind == "customers" and column == "postal_address" and isinstance(value, list):
        if not all(isinstance(item, str) for item in value):
            raise ValueError("must be a list of strings")
        for number, line in enumerate(value, start=1):
            if "|" in line:
                raise ValueError(f"line {number} holds '|', which separates lines in the file")
        return ADDRESS_SEPARATOR.join(value)
    shown = json.dumps(value)
    raise ValueError(f"must be a string or a number, not {shown[:40]}")


def bulk_rows(kind: str, document: Any) -> tuple[list[Row], list[RowError]]:
    """Rows for the importer and the problems found before it.

    A value of the wrong JSON type, or an unknown field, is left out of the
    row and reported here; items that are not objects are not passed on.
    Raises BulkTooLarge.
    """
    if not isinstance(document, list):
        return [], [RowError("body", "-", "expected a JSON list of objects")]
    if len(document) > MAX_ITEMS:
        raise BulkTooLarge(
            f"{len(document)} items; at most {MAX_ITEMS} per request, send them in parts"
        )
    required, optional = COLUMNS[kind]
    known = {*required, *optional}
    expected = ", ".join(header(kind))
    rows: list[Row] = []
    problems: list[RowError] = []
    for index, item in enumerate(document):
        location = f"[{index}]"
        if not isinstance(item, Mapping):
            problems.append(RowError(location, "-", "expected an object"))
            continue
        cells: dict[str, str] = {}
        for column, value in item.items():
            if column not in known:
                problems.append(RowError(location, column, f"unknown field (expected {expected})"))
                continue
            try:
                cells[column] = _cell(kind, column, value)
            except ValueError as exc:
                problems.append(RowError(location, column, str(exc)))
        rows.append((location, cells))
    return rows, problems


def _order(error: RowError) -> int:
    location = error.location
    return int(location[1:-1]) if location.startswith("[") else -1


def _merged(before: list[RowError], importer: list[RowError]) -> list[RowError]:
    """Both lists by item; the importer's word on a field we already
    rejected (e.g. 'is required' for a value we left out) is dropped."""
    reported = {(e.location, e.field) for e in before}
    extra = [e for e in importer if (e.location, e.field) not in reported]
    return sorted([*before, *extra], key=_order)  # stable: per item, ours first


def bulk_import(*, kind: str, body: bytes, actor_label: str) -> ImportSummary:
    """Upsert one kind's rows from a JSON body, all or nothing.

    Raises BulkUnreadable, BulkTooLarge, or ImportRejected listing every
    problem (then nothing was written).
    """
    rows, problems = bulk_rows(kind, json_document(body))
    if problems and not rows:
        raise ImportRejected(problems)
    with transaction.atomic():
        try:
            summary = rows_import(
                kind,
                rows,
                actor_label=actor_label,
                source="api",
                sha256=hashlib.sha256(body).hexdigest(),
            )
        except ImportRejected as exc:
            raise ImportRejected(_merged(problems, exc.errors)) from None
        if problems:
            # The importer found the rest fine; leaving the block undoes its writes.
            raise ImportRejected(_merged(problems, []))
    return summary
