"""Reads for communications."""

from __future__ import annotations

from django.db.models import QuerySet

from .models import Message, MessageStatus

FAILED_STATUSES = (MessageStatus.FAILED, MessageStatus.BOUNCED, MessageStatus.UNCERTAIN)


def failed_messages() -> QuerySet[Message]:
    """The failed-messages queue: failed, bounced and uncertain messages,
    latest first, with their customer."""
    return (
        Message.objects.filter(status__in=FAILED_STATUSES)
        .select_related("customer")
        .order_by("-next_attempt_at", "-id")
    )
