"""A small fixed-window rate limiter kept in the database.

Django's default cache (LocMemCache) is per process: with several web
processes each would count on its own and the limit would multiply. A row
per key and window in ``RateLimitWindow`` holds across processes and
machines, on SQLite and PostgreSQL alike. Keys are hashed, so no address
or IP is stored in clear.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.db.models import F
from django.http import HttpRequest
from django.utils import timezone

from .models import RateLimitWindow


@dataclass(frozen=True)
class Limit:
    """At most ``hits`` per ``seconds`` for one scope."""

    scope: str
    hits: int
    seconds: int


# The portal's limits. Generous for a person, tight for a script.
LINK_REQUEST_PER_IP = Limit("signin-ip", 10, 15 * 60)
LINK_REQUEST_PER_ADDRESS = Limit("signin-address", 3, 60 * 60)
LINK_OPEN_PER_IP = Limit("open-ip", 30, 15 * 60)
FORM_PER_CUSTOMER = Limit("form-customer", 60, 60 * 60)
APPLICATION_PER_IP = Limit("apply-ip", 5, 60 * 60)


def client_ip(request: HttpRequest) -> str:
    """The peer's address. X-Forwarded-For is not trusted: behind a proxy,
    have the proxy set REMOTE_ADDR (or every client shares one budget,
    which fails closed rather than open)."""
    return str(request.META.get("REMOTE_ADDR") or "unknown")


def _key(limit: Limit, identity: str) -> str:
    digest = hashlib.sha256(f"{limit.scope}\0{identity.lower()}".encode()).hexdigest()
    return f"{limit.scope}:{digest[:64]}"


def _window(limit: Limit, now: datetime) -> datetime:
    epoch = int(now.timestamp())
    return datetime.fromtimestamp(epoch - epoch % limit.seconds, tz=now.tzinfo)


def rate_limit_hit(limit: Limit, identity: str, *, now: datetime | None = None) -> bool:
    """Count one hit for ``identity`` under ``limit``; True when it is
    allowed, False once the window's budget is spent (the refused hit is
    counted too). One conditional UPDATE, or an INSERT for a new window."""
    now = now or timezone.now()
    key, start = _key(limit, identity), _window(limit, now)
    with transaction.atomic():
        bumped = RateLimitWindow.objects.filter(key=key, window_start=start).update(
            hits=F("hits") + 1
        )
        if not bumped:
            try:
                with transaction.atomic():
                    RateLimitWindow.objects.create(key=key, window_start=start, hits=1)
            except IntegrityError:
                # Another process opened the window first: count on its row.
                RateLimitWindow.objects.filter(key=key, window_start=start).update(
                    hits=F("hits") + 1
                )
            # A new window: forget windows that ended a day ago or more.
            RateLimitWindow.objects.filter(window_start__lt=now - timedelta(days=1)).delete()
        hits = RateLimitWindow.objects.values_list("hits", flat=True).get(
            key=key, window_start=start
        )
    return hits <= limit.hits


def rate_limits_hit(checks: list[tuple[Limit, str]], *, now: datetime | None = None) -> bool:
    """Count a hit on every (limit, identity); True only when all allow it."""
    results = [rate_limit_hit(limit, identity, now=now) for limit, identity in checks]
    return all(results)
