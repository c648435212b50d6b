"""Fixtures for the portal's tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from django.test import Client

from .portaldata import Ledger, ledger_create, signed_in


@pytest.fixture(autouse=True)
def media_root(tmp_path: Path, settings: object) -> Iterator[Path]:
    """Uploads go to a fresh folder per test."""
    root = tmp_path / "media"
    settings.MEDIA_ROOT = root  # type: ignore[attr-defined]
    yield root


@pytest.fixture
def ledger(db: None) -> Ledger:
    return ledger_create()


@pytest.fixture
def acme_client(ledger: Ledger) -> Client:
    return signed_in(Client(), ledger.acme, ledger.acme_ap)
