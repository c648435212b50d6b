"""Fixtures shared by the web app's tests."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

import pytest
from django.contrib.auth.models import User

from arrears.ledger.importers import rows_import

Loader = Callable[[str, Iterable[Mapping[str, str]]], None]


@pytest.fixture
def load(db: None) -> Loader:
    """Import rows of a contract file kind, as ``arrears import`` would."""

    def load_rows(kind: str, rows: Iterable[Mapping[str, str]]) -> None:
        rows_import(
            kind, [(f"{kind}.csv:{n}", row) for n, row in enumerate(rows, 2)], actor_label="test"
        )

    return load_rows


@pytest.fixture
def staff(db: None) -> User:
    return User.objects.create_user("collector", password="a long test password", is_staff=True)
