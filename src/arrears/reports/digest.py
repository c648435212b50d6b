"""The weekly e-mail of key figures to managers: AR, overdue share, DSO,
best possible DSO and CEI per currency with their change over the week, the
week's touches and failed messages, broken promises and the customers owing
the most overdue.

``arrears worker`` sends it once a week (``ARREARS_DIGEST_DAY`` and
``ARREARS_DIGEST_AT``, in ``TIME_ZONE``), once across any number of workers:
inserting the week's ``WeeklyDigest`` row is the claim.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import EmailMultiAlternatives
from django.db import IntegrityError, transaction
from django.db.models import Count, Q
from django.template.loader import render_to_string
from django.utils import timezone

from arrears.cases.models import Promise, PromiseStatus
from arrears.comms.models import Message
from arrears.comms.selectors import FAILED_STATUSES
from arrears.sequencing.models import Action

from .models import WeeklyDigest
from .selectors import CurrencyMetrics, metrics_by_currency


@dataclass(frozen=True)
class Figure:
    name: str
    now: Decimal | None
    before: Decimal | None
    unit: str
    # Whether a rise is good news (CEI) or bad (DSO, overdue share).
    higher_is_better: bool

    @property
    def change(self) -> Decimal | None:
        if self.now is None or self.before is None:
            return None
        return self.now - self.before

    @property
    def better(self) -> bool | None:
        change = self.change
        if not change:
            return None
        return (change > 0) == self.higher_is_better


@dataclass(frozen=True)
class CurrencyDigest:
    currency: str
    ar: Decimal
    figures: list[Figure]


@dataclass(frozen=True)
class Digest:
    as_of: date
    currencies: list[CurrencyDigest]
    touches: dict[str, int]
    failed_messages: int
    broken_promises: int

    @property
    def subject(self) -> str:
        return f"Receivables: the week to {self.as_of:%d %b %Y}"


def _rounded(value: Decimal | None) -> Decimal | None:
    return None if value is None else value.quantize(Decimal("0.1"))


def _figures(now: CurrencyMetrics, before: CurrencyMetrics | None) -> list[Figure]:
    def pair(name: str) -> tuple[Decimal | None, Decimal | None]:
        current = getattr(now.metrics, name)
        previous = getattr(before.metrics, name) if before is not None else None
        return _rounded(current), _rounded(previous)

    return [
        Figure("Overdue share", *pair("percent_past_due"), "%", False),
        Figure("DSO", *pair("dso"), "days", False),
        Figure("Best possible DSO", *pair("best_possible_dso"), "days", False),
        Figure("CEI", *pair("cei"), "%", True),
    ]


def digest_figures(*, as_of: date, period_days: int = 90) -> Digest:
    """The digest's figures at ``as_of`` and a week before (per currency)."""
    week_ago = as_of - timedelta(days=7)
    now = metrics_by_currency(as_of=as_of, period_days=period_days)
    before = metrics_by_currency(as_of=week_ago, period_days=period_days)
    currencies = [
        CurrencyDigest(currency, m.figures.ar, _figures(m, before.get(currency)))
        for currency, m in sorted(now.items())
        if m.has_activity
    ]
    touches = dict(
        Action.objects.filter(planned_for__gt=week_ago, planned_for__lte=as_of, status="done")
        .values_list("kind")
        .annotate(n=Count("id"))
        .order_by("kind")
        .values_list("kind", "n")
    )
    failed = Message.objects.filter(status__in=FAILED_STATUSES).count()
    broken = Promise.objects.filter(
        status=PromiseStatus.BROKEN, resolved_at__date__gt=week_ago
    ).count()
    return Digest(as_of, currencies, touches, failed, broken)


def digest_recipients() -> list[str]:
    """Managers' and admins' e-mail addresses (active users with one), plus
    ``ARREARS_DIGEST_TO``; sorted, no duplicates."""
    users = get_user_model().objects.filter(is_active=True).exclude(email="")
    managers = users.filter(
        Q(is_superuser=True) | Q(groups__name__in=["manager", "admin"])
    ).values_list("email", flat=True)
    return sorted({*managers, *getattr(settings, "ARREARS_DIGEST_TO", [])})


def digest_message(digest: Digest, recipients: list[str]) -> EmailMultiAlternatives:
    context: dict[str, Any] = {"digest": digest, "site": getattr(settings, "ARREARS_SITE_URL", "")}
    message = EmailMultiAlternatives(
        subject=digest.subject,
        body=render_to_string("reports/digest.txt", context),
        to=recipients,
    )
    message.attach_alternative(render_to_string("reports/digest.html", context), "text/html")
    return message


def week_of(day: date) -> date:
    return day - timedelta(days=day.weekday())


def digest_due(*, now: datetime) -> date | None:
    """The Monday of the week whose digest is due at ``now``; None before the
    week's digest day and time."""
    local = timezone.localtime(now)
    day = int(getattr(settings, "ARREARS_DIGEST_DAY", 0))
    hours, minutes = str(getattr(settings, "ARREARS_DIGEST_AT", "07:00")).split(":")
    if local.weekday() < day or (
        local.weekday() == day and local.time() < time(int(hours), int(minutes))
    ):
        return None
    return week_of(local.date())


def digest_send_weekly(*, worker: str, now: datetime | None = None) -> WeeklyDigest | None:
    """Send this week's digest if it is due and no worker has claimed it;
    returns the sent digest's row, None when nothing was to be done. Without
    recipients nothing is sent (the row records why)."""
    now = now or timezone.now()
    week = digest_due(now=now)
    if week is None or WeeklyDigest.objects.filter(week=week).exists():
        return None
    as_of = timezone.localtime(now).date() - timedelta(days=1)
    try:
        with transaction.atomic():
            row = WeeklyDigest.objects.create(
                week=week, as_of=as_of, claimed_by=worker, claimed_at=now
            )
    except IntegrityError:
        return None  # another worker claimed it first
    recipients = digest_recipients()
    if not recipients:
        WeeklyDigest.objects.filter(pk=row.pk).update(error="no manager has an e-mail address")
        return None
    try:
        digest_message(digest_figures(as_of=as_of), recipients).send()
    except OSError as error:
        # Not retried within the week: the row says why, the log shows it.
        WeeklyDigest.objects.filter(pk=row.pk).update(error=str(error), recipients=recipients)
        return None
    WeeklyDigest.objects.filter(pk=row.pk).update(sent_at=timezone.now(), recipients=recipients)
    row.refresh_from_db()
    return row
