"""The e-mail channel: Django's mail backend (SMTP in production).

One e-mail per message: HTML and plain-text parts, the brand as sender,
replies to the collector, a Message-ID derived from the message (the same
on every attempt), the headers and attachments the composer chose.

How SMTP answers map to a DeliveryResult:
- every recipient refused with 5xx: refused, all of them ``bounced``;
- any recipient refused with 4xx (and none accepted): retry;
- some recipients accepted, others refused: the e-mail went to those that
  accepted, so it is ``sent``; the ones refused with 5xx are reported as
  ``bounced`` (to be marked and fixed), a 4xx refusal is only noted in
  ``error`` (the others already have the message; resending would
  duplicate it);
- DATA or the sender refused with 5xx: refused (nothing bounced: the
  address is not at fault); with 4xx: retry;
- connection errors, timeouts, a dropped connection, failed login: retry.
"""

from __future__ import annotations

import re
import smtplib
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.core.mail.backends.smtp import EmailBackend as SmtpBackend

from .channels import Channel, DeliveryResult, register
from .rendering import brand_current

if TYPE_CHECKING:
    from .compose import Composed
    from .models import Message

DEFAULT_TIMEOUT_SECONDS = 30


def message_id(message: Message, sender_email: str) -> str:
    """``<key.pk@sender-domain>``: the same for every attempt of one message,
    so a receiver can drop a second copy, and unique per message."""
    key = re.sub(r"[^A-Za-z0-9.\-_]+", "-", message.idempotency_key).strip("-.")[:120]
    domain = sender_email.rpartition("@")[2] or "arrears.invalid"
    return f"<{key or 'message'}.{message.pk}@{domain}>"


def _refusals(refused: dict[str, tuple[int, bytes]]) -> str:
    return "; ".join(
        f"{address}: {code} {reply.decode(errors='replace')}"
        for address, (code, reply) in sorted(refused.items())
    )


@register
class EmailChannel(Channel):
    kind = "email"

    def build(self, message: Message, composed: Composed) -> EmailMultiAlternatives:
        """The e-mail as it will be handed over (without a connection)."""
        brand = brand_current()
        sender = f"{brand.sender_name} <{brand.sender_email}>" if brand.sender_name else ""
        headers = {"Message-ID": message_id(message, brand.sender_email)}
        headers.update(dict(composed.headers))
        email = EmailMultiAlternatives(
            subject=composed.subject,
            body=composed.body_text,
            from_email=sender or brand.sender_email,
            to=list(composed.to),
            reply_to=list(composed.reply_to),
            headers=headers,
        )
        if composed.body_html:
            email.attach_alternative(composed.body_html, "text/html")
        for name, content, mimetype in composed.attachments:
            email.attach(name, content, mimetype)
        return email

    def send(self, message: Message, composed: Composed) -> DeliveryResult:
        if not composed.to:
            return DeliveryResult.refused("no recipient")
        email = self.build(message, composed)
        provider_id = email.extra_headers["Message-ID"]
        timeout = getattr(settings, "EMAIL_TIMEOUT", None) or DEFAULT_TIMEOUT_SECONDS
        connection = get_connection(fail_silently=False, timeout=timeout)
        try:
            if isinstance(connection, SmtpBackend):
                refused = self._smtp_send(connection, email)
            else:
                connection.send_messages([email])
                refused = {}
        except smtplib.SMTPRecipientsRefused as error:
            return self._all_refused(error.recipients)
        except (smtplib.SMTPSenderRefused, smtplib.SMTPDataError) as error:
            what = "sender" if isinstance(error, smtplib.SMTPSenderRefused) else "message"
            text = f"{what} refused: {error.smtp_code} {_text(error.smtp_error)}"
            if error.smtp_code >= 500:
                return DeliveryResult.refused(text)
            return DeliveryResult.retry(text)
        except smtplib.SMTPResponseException as error:
            text = f"SMTP {error.smtp_code} {_text(error.smtp_error)}"
            if error.smtp_code >= 500 and not isinstance(error, smtplib.SMTPAuthenticationError):
                return DeliveryResult.refused(text)
            return DeliveryResult.retry(text)
        except (smtplib.SMTPException, OSError) as error:
            # Refused connections, timeouts, a server that hung up: try again.
            return DeliveryResult.retry(f"{type(error).__name__}: {error}")
        if not refused:
            return DeliveryResult.sent(provider_id)
        bounced = tuple(sorted(a for a, (code, _) in refused.items() if code >= 500))
        return DeliveryResult(
            ok=True,
            provider_id=provider_id,
            bounced=bounced,
            error=f"sent, but refused for {_refusals(refused)}",
        )

    @staticmethod
    def _smtp_send(
        connection: SmtpBackend, email: EmailMultiAlternatives
    ) -> dict[str, tuple[int, bytes]]:
        """Send through Django's SMTP backend's connection, keeping what
        Django drops: the recipients the server refused while taking the
        e-mail for the others."""
        connection.open()
        try:
            assert connection.connection is not None
            prepared = email.message()
            return connection.connection.sendmail(
                email.from_email,
                email.recipients(),
                prepared.as_bytes(linesep="\r\n"),
            )
        finally:
            connection.close()

    @staticmethod
    def _all_refused(recipients: dict[str, tuple[int, bytes]]) -> DeliveryResult:
        text = f"all recipients refused: {_refusals(recipients)}"
        if all(code >= 500 for code, _ in recipients.values()):
            return DeliveryResult.refused(text, bounced=tuple(sorted(recipients)))
        return DeliveryResult.retry(text)


def _text(reply: bytes | str) -> str:
    return reply.decode(errors="replace") if isinstance(reply, bytes) else str(reply)
