"""The credit-hold webhook: order systems hear when a hold is placed or
released and when an order is let through.

Why an outbox table and the worker rather than a POST on commit: the event
must never be lost. ``webhook_enqueue`` writes a ``WebhookDelivery`` row in
the same transaction as the hold, so the event exists exactly when the hold
does; ``webhooks_deliver`` (a step of ``arrears worker``) claims due rows
with a conditional update and posts them, retrying a failure after 1, 5, 15,
60, 240 then 720 minutes before giving up (visible as "failed"). Delivery is
at least once: a worker that dies after the POST but before recording it
posts again once its lease runs out, so receivers deduplicate by the
``X-Arrears-Delivery`` header (the row's id).

Each POST carries the JSON body, ``X-Arrears-Event``, ``X-Arrears-Delivery``
and ``X-Arrears-Signature: sha256=<hex HMAC-SHA256 of the body under
ARREARS_WEBHOOK_SECRET>``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db.models import Q

from arrears.ledger.models import Customer

from .approval_models import WebhookDelivery, WebhookStatus

BACKOFF_MINUTES = (1, 5, 15, 60, 240, 720)
LEASE = timedelta(minutes=5)
TIMEOUT_SECONDS = 10
SIGNATURE_HEADER = "X-Arrears-Signature"


def webhook_signature(body: bytes, secret: str) -> str:
    """The signature header's value for ``body``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def webhook_enqueue(
    *, event: str, customer: Customer | None, payload: dict[str, Any], now: datetime
) -> WebhookDelivery | None:
    """Write one event for the webhook (call inside the write's transaction).
    None when no webhook is configured (ARREARS_WEBHOOK_URL unset)."""
    url = settings.ARREARS_WEBHOOK_URL
    if not url:
        return None
    delivery = WebhookDelivery.objects.create(
        event=event,
        customer=customer,
        url=url,
        payload={},
        next_attempt_at=now,
        created_at=now,
    )
    body = {"id": delivery.pk, "event": event, "occurred_at": now.isoformat(), **payload}
    delivery.payload = json.loads(json.dumps(body, cls=DjangoJSONEncoder))
    WebhookDelivery.objects.filter(pk=delivery.pk).update(payload=delivery.payload)
    return delivery


@dataclass
class WebhookSummary:
    sent: int = 0
    retried: int = 0
    failed: int = 0

    @property
    def busy(self) -> bool:
        return bool(self.sent or self.retried or self.failed)


def _post(delivery: WebhookDelivery) -> str | None:
    """POST one delivery; None when the receiver answered 2xx, else why not."""
    body = json.dumps(delivery.payload, sort_keys=True).encode()
    request = urllib.request.Request(
        delivery.url,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "User-Agent": "arrears-webhook/1",
            "X-Arrears-Event": delivery.event,
            "X-Arrears-Delivery": str(delivery.pk),
            SIGNATURE_HEADER: webhook_signature(body, settings.ARREARS_WEBHOOK_SECRET),
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
            status = response.status
    except urllib.error.HTTPError as error:
        return f"HTTP {error.code}"
    except (urllib.error.URLError, OSError) as error:
        return f"{type(error).__name__}: {error}"
    return None if 200 <= status < 300 else f"HTTP {status}"


def webhooks_deliver(*, worker: str, now: datetime, limit: int = 50) -> WebhookSummary:
    """Post due webhook events (each claimed by one worker), oldest first.
    Returns what happened; failures are kept on the rows."""
    summary = WebhookSummary()
    due = Q(status=WebhookStatus.PENDING, next_attempt_at__lte=now) | Q(
        status=WebhookStatus.SENDING, claimed_at__lt=now - LEASE
    )
    for pk in (
        WebhookDelivery.objects.filter(due).order_by("id").values_list("id", flat=True)[:limit]
    ):
        claimed = (
            WebhookDelivery.objects.filter(due, pk=pk).update(
                status=WebhookStatus.SENDING, claimed_by=worker[:100], claimed_at=now
            )
            == 1
        )
        if not claimed:
            continue
        delivery = WebhookDelivery.objects.get(pk=pk)
        error = _post(delivery)
        attempts = delivery.attempts + 1
        if error is None:
            WebhookDelivery.objects.filter(pk=pk).update(
                status=WebhookStatus.SENT, attempts=attempts, sent_at=now, last_error=""
            )
            summary.sent += 1
        elif attempts > len(BACKOFF_MINUTES):
            WebhookDelivery.objects.filter(pk=pk).update(
                status=WebhookStatus.FAILED, attempts=attempts, last_error=error
            )
            summary.failed += 1
        else:
            WebhookDelivery.objects.filter(pk=pk).update(
                status=WebhookStatus.PENDING,
                attempts=attempts,
                last_error=error,
                next_attempt_at=now + timedelta(minutes=BACKOFF_MINUTES[attempts - 1]),
            )
            summary.retried += 1
    return summary
