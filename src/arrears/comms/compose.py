"""Composing a message at send time: the recipients still allowed to
receive it and the text rendered from its template with today's data."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from .models import Message


@dataclass(frozen=True)
class Composed:
    """A message ready to hand to its channel.

    ``to``: e-mail addresses, a phone number, or the postal block's lines
    (letters). ``attachments``: (file name, content, MIME type).
    """

    to: tuple[str, ...]
    contact_id: int | None
    subject: str
    body_text: str
    body_html: str
    template_version: int | None
    language: str
    reply_to: tuple[str, ...] = ()
    headers: tuple[tuple[str, str], ...] = ()
    attachments: tuple[tuple[str, bytes, str], ...] = ()


class NoRecipient(Exception):
    """No contact may receive the message on its channel; ``reason`` is one
    of "opted out", "bounced", "no consent", "no address"."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def message_compose(message: Message, *, now: datetime) -> Composed:
    """Render ``message`` for its channel. Raises ``NoRecipient``."""
    raise NotImplementedError("comms.compose: being written")
