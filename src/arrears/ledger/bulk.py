"""Fast inserts of many validated rows, for imports of a million lines.

The ORM's bulk_create spends most of such an import building model
instances; these helpers send plain tuples: COPY on PostgreSQL, executemany
elsewhere. Callers pass values already validated and in column order.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import psycopg
from django.db import connection, transaction
from django.db.models import BinaryField, JSONField, Model, TextField


def _sqlite_converter() -> Callable[[Any], Any]:
    """Convert values exactly as the ORM stores them on SQLite (as text), so
    filters and ordering compare rows from both paths alike. Dates and times
    repeat across a file, so each distinct one is converted once."""
    ops = connection.ops
    memo: dict[Any, Any] = {}

    def convert(value: Any) -> Any:
        if isinstance(value, date):  # datetime is a date too
            if value not in memo:
                memo[value] = (
                    ops.adapt_datetimefield_value(value)
                    if isinstance(value, datetime)
                    else ops.adapt_datefield_value(value)
                )
            return memo[value]
        if isinstance(value, Decimal):
            return str(value)
        if isinstance(value, dict | list):
            return json.dumps(value)
        return value

    return convert


def rows_insert(
    table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]], *, json_column: int = -1
) -> None:
    """Insert ``rows`` into ``table``. The column at index ``json_column``, if
    any, takes dicts or lists."""
    if connection.vendor != "postgresql":
        _insert_many(table, columns, rows)
        return
    names = ", ".join(columns)
    with connection.cursor() as cursor, cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
        if json_column < 0:
            for row in rows:
                copy.write_row(row)
            return
        for row in rows:
            values = list(row)
            values[json_column] = json.dumps(values[json_column])
            copy.write_row(values)


def _insert_many(
    table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]], *, tail: str = ""
) -> None:
    """One INSERT executed for every row (SQLite), values as the ORM stores them."""
    placeholders = ", ".join(["%s"] * len(columns))
    convert = _sqlite_converter()
    with connection.cursor() as cursor:
        cursor.executemany(
            f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({placeholders}){tail}",
            [[convert(v) for v in row] for row in rows],
        )


def rows_insert_new(
    table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]], *, json_column: int = -1
) -> None:
    """Insert ``rows`` into ``table``, skipping those that would break a
    unique constraint (rows already there: a re-run, another worker)."""
    _insert_unless_there(table, columns, rows, " ON CONFLICT DO NOTHING", json_column)


def rows_upsert(
    table: str,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    unique: Sequence[str],
    update: Sequence[str],
) -> None:
    """Insert ``rows`` into ``table``; a row whose ``unique`` columns match
    one already there updates that row's ``update`` columns instead."""
    changes = ", ".join(f"{c} = EXCLUDED.{c}" for c in update)
    _insert_unless_there(
        table, columns, rows, f" ON CONFLICT ({', '.join(unique)}) DO UPDATE SET {changes}", -1
    )


def _insert_unless_there(
    table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]], tail: str, json_column: int
) -> None:
    """``INSERT ... {tail}`` of ``rows``, ``tail`` saying what to do with a
    row already there.

    On PostgreSQL the rows are first copied straight in. Only when that
    meets a row already there are they copied into a temporary table, then
    moved with one statement: a second copy of every row, slower, but an
    ORM insert of as many rows spends most of its time compiling it.
    """
    if not rows:
        return
    if connection.vendor != "postgresql":
        _insert_many(table, columns, rows, tail=tail)
        return
    try:
        with transaction.atomic():
            rows_insert(table, columns, rows, json_column=json_column)
        return
    except psycopg.IntegrityError:
        pass  # rolled back to the savepoint: none of them was inserted
    names = ", ".join(columns)
    staging = f"{table}_staging"
    with connection.cursor() as cursor:
        # Dropped with the transaction that created it or at commit, so a
        # failed chunk leaves nothing behind.
        cursor.execute(
            f"CREATE TEMPORARY TABLE IF NOT EXISTS {staging} ON COMMIT DROP"
            f" AS SELECT {names} FROM {table} WITH NO DATA"
        )
    rows_insert(staging, columns, rows, json_column=json_column)
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {table} ({names}) SELECT {names} FROM {staging}{tail}")
        cursor.execute(f"TRUNCATE {staging}")


# The databases plan queries from table statistics. PostgreSQL's autovacuum
# refreshes them only a while after a bulk load, SQLite's never by itself:
# the queries after a large import or the first daily run would be planned
# as for the tables before it (on SQLite, a scan of every open invoice per
# action to cancel).
ANALYZE_AFTER = 10_000


def statistics_refresh(models: Sequence[type[Model]]) -> None:
    """Refresh the planner's statistics of ``models``' tables. Call after
    writing ``ANALYZE_AFTER`` rows or more.

    On PostgreSQL, of the columns a query may filter or join on: long text
    and JSON (a reason, a message body) never decide a plan here, and their
    statistics were most of the time ANALYZE took after a daily run.
    """
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"ANALYZE {', '.join(_analyzed(m) for m in models)}")
        else:
            for model in models:
                cursor.execute(f"ANALYZE {model._meta.db_table}")


def _analyzed(model: type[Model]) -> str:
    columns = [
        f.column
        for f in model._meta.concrete_fields
        if not isinstance(f, TextField | JSONField | BinaryField)
    ]
    return f"{model._meta.db_table} ({', '.join(columns)})"


def values_by_ref(
    model: type[Model], refs: Sequence[str], columns: Sequence[str]
) -> list[tuple[Any, ...]]:
    """``values_list(*columns)`` of the rows whose ``ref`` is among ``refs``.

    On PostgreSQL the refs travel as one array parameter (``= ANY``): an
    ``IN`` list of thousands of placeholders costs more to build and parse
    than the lookup itself.
    """
    if connection.vendor != "postgresql":
        return list(model._default_manager.filter(ref__in=refs).order_by().values_list(*columns))
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {', '.join(columns)} FROM {model._meta.db_table} WHERE ref = ANY(%s)",
            [list(refs)],
        )
        return list(cursor.fetchall())
