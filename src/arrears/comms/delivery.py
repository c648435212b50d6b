"""Delivery events after the hand-over: receipts, bounces and opens that
providers report later, and the message status they settle."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction

from .models import DeliveryEvent, Message, MessageStatus

# The status an event settles a message in.
STATUS_FOR_EVENT = {
    "delivered": MessageStatus.DELIVERED,
    # An open proves the message arrived.
    "opened": MessageStatus.DELIVERED,
    "bounced": MessageStatus.BOUNCED,
    "failed": MessageStatus.FAILED,
}
# Only a message handed over (or maybe handed over) is settled by a report:
# a queued or sending one is still the worker's, and the first outcome
# stands (a later report is kept as an event, as evidence).
SETTLED_FROM = (MessageStatus.SENT, MessageStatus.UNCERTAIN)


@transaction.atomic
def delivery_event_record(
    *, message: Message, kind: str, detail: str = "", at: datetime
) -> DeliveryEvent:
    """Append an event of ``kind`` to ``message`` and, for "delivered",
    "opened", "bounced" and "failed", move a sent or uncertain message to
    delivered, bounced or failed (a failure's detail becomes its
    ``last_error``). Other kinds, and messages in other states, only get
    the event. ``message.status`` is updated in place when it moves."""
    event = DeliveryEvent.objects.create(message=message, kind=kind, detail=detail, at=at)
    target = STATUS_FOR_EVENT.get(kind)
    if target is not None:
        changes: dict[str, object] = {"status": target}
        if target in (MessageStatus.BOUNCED, MessageStatus.FAILED):
            changes["last_error"] = detail
        moved = Message.objects.filter(pk=message.pk, status__in=SETTLED_FROM).update(**changes)
        if moved:
            for field, value in changes.items():
                setattr(message, field, value)
    return event
