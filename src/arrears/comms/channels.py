"""Delivery channels: small strategy classes behind one interface,
registered by kind. A failure says whether trying again can help."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

if TYPE_CHECKING:
    from .compose import Composed
    from .models import Message


@dataclass(frozen=True)
class DeliveryResult:
    """What a channel did with one message.

    ``ok``: handed over (``provider_id`` names it there: the Message-ID, the
    provider's message id, the letter's file). Otherwise ``permanent`` says
    no retry can help (a refused address); ``bounced`` lists the addresses
    refused for good, so they can be marked and the next channel tried.
    """

    ok: bool
    provider_id: str = ""
    permanent: bool = False
    error: str = ""
    bounced: tuple[str, ...] = ()

    @classmethod
    def sent(cls, provider_id: str) -> DeliveryResult:
        return cls(ok=True, provider_id=provider_id)

    @classmethod
    def retry(cls, error: str) -> DeliveryResult:
        return cls(ok=False, permanent=False, error=error)

    @classmethod
    def refused(cls, error: str, bounced: tuple[str, ...] = ()) -> DeliveryResult:
        return cls(ok=False, permanent=True, error=error, bounced=bounced)


class Channel:
    """Sends one composed message. Subclasses set ``kind`` and register
    themselves with ``@register``."""

    kind: ClassVar[str]
    # True when the provider drops a second hand-over with the same
    # idempotency key: a send cut short by a crash can then be repeated
    # safely. SMTP has no such thing, so an interrupted e-mail is not resent.
    idempotent: ClassVar[bool] = False

    def send(self, message: Message, composed: Composed) -> DeliveryResult:
        raise NotImplementedError


_REGISTRY: dict[str, type[Channel]] = {}


def register(cls: type[Channel]) -> type[Channel]:
    _REGISTRY[cls.kind] = cls
    return cls


def channel_for(kind: str) -> Channel:
    """The channel for ``kind``; KeyError names kinds no channel handles."""
    # Importing the modules registers their channels.
    from . import email, letters, sms  # noqa: F401

    return _REGISTRY[kind]()
