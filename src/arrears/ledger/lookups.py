"""``field__any=[...]``: membership in a list of ids as ONE parameter.

The daily run and the reports filter by a thousand customer ids at a time.
Django's ``__in`` sends one placeholder per id, and both Django (building
the lookup) and psycopg (parsing the query) spend more time on such a
list than PostgreSQL spends answering it. On PostgreSQL ``__any`` sends
the list as one array (``= ANY(%s)``); other databases get the ``IN`` list.
Registered on integer columns and foreign keys: the values are ids.

Wrap the list in ``Ids``: Django walks a plain list element by element
while building the filter (twice for a foreign key), which for the daily
run's thousands of ids cost more than the query.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from django.db.models import ForeignObject, IntegerField, Lookup


class Ids:
    """Ids for ``__any``, passed through Django's filter building as one value."""

    __slots__ = ("values",)

    def __init__(self, values: Iterable[int]) -> None:
        self.values = list(values)


class AnyOf(Lookup):  # type: ignore[type-arg]
    lookup_name = "any"
    # The list goes to the database as it is, not through the field.
    prepare_rhs = False

    def as_sql(self, compiler: Any, connection: Any) -> tuple[str, list[Any]]:
        lhs, lhs_params = self.process_lhs(compiler, connection)
        values: Sequence[Any] = self.rhs.values if isinstance(self.rhs, Ids) else list(self.rhs)
        if not values:
            return "1 = 0", []
        if connection.vendor == "postgresql":
            # As an array literal: psycopg's own list adaptation inspects
            # every element and costs more than the query.
            literal = "{" + ",".join(map(str, map(int, values))) + "}"
            # The range changes no result but tells the planner how few rows
            # match: without statistics (a table the daily run is filling)
            # it takes ANY of thousands of ids for all rows, and scans them.
            return (
                f"({lhs} = ANY(%s::bigint[]) AND {lhs} BETWEEN %s AND %s)",
                [*lhs_params, literal, *lhs_params, min(values), max(values)],
            )
        return f"{lhs} IN ({', '.join(['%s'] * len(values))})", [*lhs_params, *values]


def lookups_register() -> None:
    """Make ``__any`` available on integer columns and foreign keys."""
    IntegerField.register_lookup(AnyOf)
    ForeignObject.register_lookup(AnyOf)
