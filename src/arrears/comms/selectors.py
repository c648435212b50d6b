"""Reads for communications."""

from __future__ import annotations

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
