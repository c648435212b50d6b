"""Reads for communications."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from .models import Message, MessageStatus

FAILED_STATUSES = (MessageStatus.FAILED, MessageStatus.BOUNCED, MessageStatus.UNCERTAIN)


def messages_list(
    *, status: str = "all", customer_ref: str = "", channel: str = ""
) -> QuerySet[Message]:
    """Messages by tab: "failed" (the failed queue), "queued" (queued or
    being sent), "sent" (sent or delivered), anything else all of them;
    newest first, with their customer. ``channel`` ("email", "sms", …)
    narrows them; blank: every channel."""
    groups = {
        "failed": FAILED_STATUSES,
        "queued": (MessageStatus.QUEUED, MessageStatus.SENDING),
        "sent": (MessageStatus.SENT, MessageStatus.DELIVERED),
    }
    qs = Message.objects.select_related("customer").order_by("-created_at", "-id")
    if status in groups:
        qs = qs.filter(status__in=groups[status])
    if customer_ref:
        qs = qs.filter(customer__ref=customer_ref)
    if channel:
        qs = qs.filter(channel=channel)
    return qs


# A message as a row of `arrears messages --format csv|json` and of the
# failed-messages page's CSV: the same columns in both.
MESSAGE_FIELDS = (
    "id",
    "customer_ref",
    "channel",
    "template",
    "to",
    "status",
    "attempts",
    "created_at",
    "sent_at",
    "last_error",
)


def message_row(m: Message) -> dict[str, Any]:
    """``m`` by MESSAGE_FIELDS (times as ISO strings; None: not sent)."""
    return {
        "id": m.pk,
        "customer_ref": m.customer.ref,
        "channel": m.channel,
        "template": m.template_key,
        "to": m.to_address,
        "status": m.status,
        "attempts": m.attempts,
        "created_at": m.created_at.isoformat(),
        "sent_at": m.sent_at.isoformat() if m.sent_at else None,
        "last_error": m.last_error,
    }
