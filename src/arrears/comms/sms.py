"""Texts (SMS): message length in segments, the HTTP provider channel, and
the services behind the provider's webhook (replies and delivery receipts).

The provider contract (any gateway that speaks it, or a small adapter):

- Send: ``POST ARREARS_SMS_URL`` with JSON ``{"to": "+E164", "from":
  ARREARS_SMS_SENDER, "text": "...", "reference": "<idempotency key>"}`` and
  the headers ``Authorization: Bearer ARREARS_SMS_TOKEN`` (left out when no
  token is set) and ``Idempotency-Key: <idempotency key>``. **Arrears
  requires a provider that honours the key** (a repeat answers the first
  message's id and sends nothing): the outbox queues a text again when a
  worker died mid-send, and relies on the provider to drop the repeat. A
  provider without the header must at least drop repeats of ``reference``.
- Answers: 2xx ``{"id": "<provider message id>"}`` = handed over. 4xx
  ``{"error": "<reason>", "code": "<machine code>"}`` = refused for good; a
  ``code`` naming the recipient (``invalid_number``, ``unsubscribed``, ...)
  marks the number refused. 401/403 = our credentials (refused, the number
  is not at fault). 408/409/425/429 and 5xx, timeouts and network errors =
  try again later. Redirects are not followed (they would carry the token
  elsewhere): a 3xx is a configuration error.
- Webhook (``POST /comms/sms/inbound/`` with ``Authorization: Bearer
  ARREARS_SMS_INBOUND_TOKEN``): replies ``{"type": "reply", "id", "from",
  "text"}`` and receipts ``{"type": "status", "message_id", "reference",
  "status": "delivered"|"failed"|"undelivered", "error"}``; see
  ``sms_views``.
"""

from __future__ import annotations

import http.client
import json
import logging
import re
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

import phonenumbers
from django.conf import settings
from django.db import transaction

from arrears.ledger.models import Activity, Contact
from arrears.ledger.services import activity_record

from .channels import Channel, DeliveryResult, register
from .consent import contact_consent_set, contact_opt_out
from .delivery import delivery_event_record
from .models import Message, MessageStatus, Task, TaskKind

if TYPE_CHECKING:
    from .compose import Composed

logger = logging.getLogger(__name__)

# --- length and segments ------------------------------------------------------

# GSM 03.38 default alphabet (the escape code 0x1B left out) and its
# extension table, whose characters take two septets (escape + character).
GSM7_BASIC = frozenset(
    "@\u00a3$\u00a5\u00e8\u00e9\u00f9\u00ec\u00f2\u00c7\n\u00d8\u00f8\r\u00c5\u00e5"
    "\u0394_\u03a6\u0393\u039b\u03a9\u03a0\u03a8\u03a3\u0398\u039e\u00c6\u00e6\u00df\u00c9"
    " !\"#\u00a4%&'()*+,-./0123456789:;<=>?"
    "\u00a1ABCDEFGHIJKLMNOPQRSTUVWXYZ\u00c4\u00d6\u00d1\u00dc\u00a7"
    "\u00bfabcdefghijklmnopqrstuvwxyz\u00e4\u00f6\u00f1\u00fc\u00e0"
)
GSM7_EXTENSION = frozenset("\f^{}\\[~]|\u20ac")

Encoding = Literal["GSM-7", "UCS-2"]
# (one-part limit, per-part limit of a concatenated text), in septets for
# GSM-7 and UTF-16 code units for UCS-2: the user data header of a
# concatenated text takes 6 bytes of each part's 140.
LIMITS: dict[str, tuple[int, int]] = {"GSM-7": (160, 153), "UCS-2": (70, 67)}


@dataclass(frozen=True)
class SmsParts:
    """How a text travels: its encoding, the number of segments (each
    billed as one text) and ``characters``, its length in the encoding's
    units: GSM-7 septets (extension characters such as "€" count 2) or
    UTF-16 code units (characters outside the BMP, such as emoji, count 2).
    """

    encoding: Encoding
    segments: int
    characters: int

    @property
    def per_segment(self) -> int:
        single, multi = LIMITS[self.encoding]
        return single if self.segments == 1 else multi


def _gsm7_widths(text: str) -> list[int] | None:
    """Septets per character, or None when the text needs UCS-2."""
    widths = []
    for char in text:
        if char in GSM7_BASIC:
            widths.append(1)
        elif char in GSM7_EXTENSION:
            widths.append(2)
        else:
            return None
    return widths


def sms_segments(text: str) -> SmsParts:
    """The encoding and number of segments ``text`` is sent in.

    A text that fits one part is one segment (an empty text too). Longer
    texts are cut into parts of 153 septets or 67 code units, and a cut
    never splits an extension character's escape pair or a surrogate pair,
    so a part may end one unit short (as phones and gateways do).
    """
    widths = _gsm7_widths(text)
    encoding: Encoding = "GSM-7"
    if widths is None:
        encoding = "UCS-2"
        widths = [2 if ord(char) > 0xFFFF else 1 for char in text]
    single, multi = LIMITS[encoding]
    total = sum(widths)
    if total <= single:
        return SmsParts(encoding, 1, total)
    segments, used = 1, 0
    for width in widths:
        if used + width > multi:
            segments += 1
            used = 0
        used += width
    return SmsParts(encoding, segments, total)


# Typographic characters that word processors, templates and number
# formatting put into otherwise plain texts; one of them turns a whole text
# into UCS-2 (70 characters a segment instead of 160).
_FIT = str.maketrans(
    {
        "\u2018": "'",  # left single quotation mark
        "\u2019": "'",  # right single quotation mark, apostrophe
        "\u201a": "'",
        "\u201b": "'",
        "\u2032": "'",  # prime
        "\u201c": '"',
        "\u201d": '"',
        "\u201e": '"',  # German low opening quote
        "\u201f": '"',
        "\u2033": '"',
        "\u00ab": '"',  # guillemets
        "\u00bb": '"',
        "\u2039": "'",
        "\u203a": "'",
        "\u2010": "-",  # hyphen
        "\u2011": "-",  # non-breaking hyphen
        "\u2012": "-",
        "\u2013": "-",  # en dash
        "\u2014": "-",  # em dash
        "\u2212": "-",  # minus sign
        "\u2026": "...",  # ellipsis
        "\u00a0": " ",  # no-break space (thousands separator in amounts)
        "\u202f": " ",  # narrow no-break space (French amounts)
        "\u2007": " ",
        "\u2009": " ",
        "\t": " ",
        "\u200b": "",  # zero-width space
        "\ufeff": "",
    }
)


def sms_fit(text: str) -> str:
    """``text`` with typographic quotes, dashes, the ellipsis and special
    spaces replaced by their plain GSM-7 forms, when that makes the whole
    text GSM-7 in no more segments. A text that needs UCS-2 anyway
    (Cyrillic, emoji, "ç") is returned unchanged, typography and all."""
    fitted = text.translate(_FIT)
    if fitted == text or _gsm7_widths(fitted) is None:
        return text
    # An ellipsis becomes three characters: a text of little else would grow.
    if sms_segments(fitted).segments > sms_segments(text).segments:
        return text
    return fitted


# --- the channel --------------------------------------------------------------

# Provider error codes that say the number itself cannot receive texts.
RECIPIENT_CODES = frozenset(
    {"invalid_number", "unsubscribed", "opted_out", "blocked", "unreachable_number", "landline"}
)
_E164 = re.compile(r"\+[1-9][0-9]{6,14}")
_MAX_ANSWER_BYTES = 64 * 1024


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A 3xx becomes an error: following it would send the token and the
    text to an address nobody configured."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def _reason(body: bytes) -> tuple[str, str]:
    """(reason, code) from a provider's error answer."""
    try:
        data = json.loads(body)
    except ValueError:
        return body.decode("utf-8", "replace").strip()[:300], ""
    if not isinstance(data, dict):
        return str(data)[:300], ""
    reason = data.get("error") or data.get("message") or data.get("detail") or ""
    return str(reason)[:300], str(data.get("code") or "")


def sms_result(status: int, body: bytes, *, to: str, retry_after: str = "") -> DeliveryResult:
    """What the provider's HTTP answer means for the text to ``to``."""
    if 200 <= status < 300:
        try:
            data = json.loads(body)
        except ValueError:
            data = None
        if not isinstance(data, dict):
            data = {}
        provider_id = str(data.get("id") or data.get("message_id") or "")
        if not provider_id:
            # It left; without an id, receipts can still match the reference.
            logger.warning("SMS provider accepted a text to %s without a message id", to)
        return DeliveryResult.sent(provider_id)
    reason, code = _reason(body)
    said = f"HTTP {status}" + (f" {code}" if code else "") + (f": {reason}" if reason else "")
    if 300 <= status < 400:
        return DeliveryResult.refused(
            f"SMS provider answered a redirect ({said}): check ARREARS_SMS_URL"
        )
    if status in (401, 403):
        # Our configuration, not the contact's number: nothing is marked, and
        # retrying with the same credentials cannot help.
        return DeliveryResult.refused(
            f"SMS provider refused our credentials ({said}): check ARREARS_SMS_TOKEN"
        )
    if status in (408, 409, 425, 429) or status >= 500 or status < 200:
        wait = f" (retry after {retry_after}s)" if retry_after else ""
        return DeliveryResult.retry(f"SMS provider busy or failing ({said}){wait}")
    bounced = (to,) if code in RECIPIENT_CODES else ()
    return DeliveryResult.refused(f"SMS provider refused the text to {to} ({said})", bounced)


def _consent_refusal(contact_id: int | None) -> str:
    """Why the contact may not be texted, or "" when it may."""
    flags = (
        Contact.objects.filter(pk=contact_id).values_list("consent_sms", "opted_out_sms").first()
        if contact_id is not None
        else None
    )
    if flags is None:
        return "no consent: the text names no contact whose consent could be checked"
    consent, opted_out = flags
    if opted_out:
        return "no consent: the contact has opted out of texts"
    if not consent:
        return "no consent: the contact has not agreed to texts"
    return ""


@register
class SmsChannel(Channel):
    """Texts through an HTTP provider (see the module's contract).

    Before anything leaves it checks the contact's consent again (compose
    does too: this guards against an opt-out that arrived in between), fits
    typographic characters to GSM-7 (``sms_fit``) and refuses texts longer
    than ``ARREARS_SMS_MAX_SEGMENTS`` segments.
    """

    kind = "sms"
    idempotent = True

    def send(self, message: Message, composed: Composed) -> DeliveryResult:
        url = settings.ARREARS_SMS_URL
        if not url:
            return DeliveryResult.refused("texts are not configured: set ARREARS_SMS_URL")
        if not url.startswith(("https://", "http://")):
            return DeliveryResult.refused(f"ARREARS_SMS_URL={url!r} is not an http(s) address")
        refusal = _consent_refusal(composed.contact_id)
        if refusal:
            return DeliveryResult.refused(refusal)
        if not composed.to:
            return DeliveryResult.refused("no address: the text has no phone number")
        to = composed.to[0]
        if not _E164.fullmatch(to):
            return DeliveryResult.refused(f"{to!r} is not a phone number in E.164 form (+...)")
        text = sms_fit(composed.body_text)
        if not text.strip():
            return DeliveryResult.refused("the text is empty")
        parts = sms_segments(text)
        most = settings.ARREARS_SMS_MAX_SEGMENTS
        if parts.segments > most:
            return DeliveryResult.refused(
                f"text too long: {parts.segments} segments ({parts.characters} {parts.encoding}"
                f" characters); at most {most} are sent (ARREARS_SMS_MAX_SEGMENTS)"
            )
        payload = {
            "to": to,
            "from": settings.ARREARS_SMS_SENDER,
            "text": text,
            "reference": message.idempotency_key,
        }
        return _post(url, payload, key=message.idempotency_key, to=to)


def _post(url: str, payload: dict[str, str], *, key: str, to: str) -> DeliveryResult:
    request = urllib.request.Request(
        url,
        data=json.dumps(payload).encode(),
        method="POST",
        headers={
            "Content-Type": "application/json",
            "Accept": "application/json",
            "Idempotency-Key": key,
            "User-Agent": "Arrears",
        },
    )
    token = settings.ARREARS_SMS_TOKEN
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    opener = urllib.request.build_opener(_NoRedirects)
    try:
        with opener.open(request, timeout=float(settings.ARREARS_SMS_TIMEOUT)) as answer:
            return sms_result(answer.status, answer.read(_MAX_ANSWER_BYTES), to=to)
    except urllib.error.HTTPError as error:
        with error:
            body = error.read(_MAX_ANSWER_BYTES)
        return sms_result(error.code, body, to=to, retry_after=error.headers.get("Retry-After", ""))
    except (urllib.error.URLError, OSError, http.client.HTTPException) as error:
        # Sent or not, a repeat is safe: the provider drops the same key.
        why = getattr(error, "reason", None) or error
        return DeliveryResult.retry(f"SMS provider unreachable: {why}")


# --- the webhook's services ---------------------------------------------------

STOP_WORDS = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT"})
START_WORDS = frozenset({"START", "UNSTOP"})
REPLY_ACTOR = "SMS reply"


def sms_keyword(text: str) -> Literal["stop", "start"] | None:
    """Which keyword: "stop" or "start" when the reply is one of the carriers' keywords
    (case and surrounding spaces or a final "." or "!" do not matter)."""
    word = text.strip().rstrip(".!").strip().upper()
    if word in STOP_WORDS:
        return "stop"
    if word in START_WORDS:
        return "start"
    return None


def sms_number(text: str) -> str:
    """The E.164 form of a number as providers send it ("+4930...",
    "4930...", "+49 30 ..."); the trimmed text when it is no number."""
    raw = text.strip()
    candidate = raw if raw.startswith("+") else f"+{raw}"
    try:
        number = phonenumbers.parse(candidate, None)
    except phonenumbers.NumberParseException:
        return raw
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


@dataclass(frozen=True)
class SmsReplyOutcome:
    """What a reply did: ``keyword`` ("stop", "start" or None), the
    contacts with that number, and whether it was a repeat of a reply
    already recorded (providers retry their webhooks)."""

    number: str
    keyword: str | None
    contacts: int
    duplicate: bool = False


@transaction.atomic
def sms_reply_record(
    *, from_number: str, text: str, reply_id: str, now: datetime
) -> SmsReplyOutcome:
    """Record a text a contact sent us.

    Every reply is logged on the customers of the contacts with that number.
    STOP (and its synonyms) opts every such contact out of texts; START or
    UNSTOP undoes an earlier opt-out and restores consent, as the carriers
    do: the number's owner asked to hear from us again. START does not give
    consent to a contact that never had it. Any other reply becomes a task
    for the customer's collector. A reply from an unknown number changes
    nothing (it is logged). A ``reply_id`` seen before changes nothing.
    """
    number = sms_number(from_number)
    keyword = sms_keyword(text)
    contacts = list(Contact.objects.filter(phone=number).select_related("customer"))
    if not contacts:
        logger.warning("SMS reply from unknown number %s ignored", number)
        return SmsReplyOutcome(number, keyword, 0)
    ref = reply_id[:64] or number
    if reply_id and Activity.objects.filter(subject_type="sms reply", subject_ref=ref).exists():
        return SmsReplyOutcome(number, keyword, len(contacts), duplicate=True)
    actor = f"{REPLY_ACTOR} from {number}"
    customers = {contact.customer_id: contact.customer for contact in contacts}
    for customer in customers.values():
        activity_record(
            actor_label=actor,
            verb="text received",
            subject_type="sms reply",
            subject_ref=ref,
            customer=customer,
            why=text[:1000],
            data={"from": number, "keyword": keyword, "reply_id": reply_id},
        )
    if keyword == "stop":
        for contact in contacts:
            contact_opt_out(
                contact=contact, channel="sms", source="SMS STOP reply", actor_label=actor, now=now
            )
    elif keyword == "start":
        for contact in contacts:
            if contact.opted_out_sms:
                contact_consent_set(
                    contact=contact,
                    channel="sms",
                    granted=True,
                    source="SMS START reply",
                    actor_label=actor,
                    now=now,
                )
    else:
        for customer in customers.values():
            Task.objects.create(
                kind=TaskKind.TASK,
                customer=customer,
                assigned_to_id=customer.collector_id,
                title=f"Answer a text from {number}",
                reason=text[:2000],
                due_at=now,
                created_at=now,
            )
    return SmsReplyOutcome(number, keyword, len(contacts))


# Receipt statuses and the delivery event each one records.
RECEIPT_KINDS = {
    "delivered": "delivered",
    "failed": "failed",
    "undelivered": "failed",
    "rejected": "failed",
    "expired": "failed",
}
ReceiptOutcome = Literal["recorded", "duplicate", "unknown", "ignored", "too early"]


def sms_receipt_record(
    *, message_id: str, reference: str, status: str, error: str, at: datetime
) -> ReceiptOutcome:
    """Record a delivery receipt on the text it is about, found by its
    ``reference`` (our idempotency key) or else the provider's message id.

    "unknown": no such text (logged); "ignored": a status that is no
    outcome (queued, sent, ...); "duplicate": the same receipt again;
    "too early": the text is not recorded as sent yet (a worker is still
    recording its hand-over), so the provider should deliver it again later.
    """
    kind = RECEIPT_KINDS.get(status.lower())
    if kind is None:
        logger.info("SMS receipt %r for %s ignored", status, message_id or reference)
        return "ignored"
    texts = Message.objects.filter(channel="sms")
    message = None
    if reference:
        message = texts.filter(idempotency_key=reference).first()
    if message is None and message_id:
        message = texts.filter(provider_id=message_id).first()
    if message is None:
        logger.warning("SMS receipt for unknown text %s (%s) ignored", message_id, reference)
        return "unknown"
    if message.status in (MessageStatus.QUEUED, MessageStatus.SENDING):
        return "too early"
    detail = status.lower() + (f": {error}" if error else "")
    with transaction.atomic():
        locked = Message.objects.select_for_update().get(pk=message.pk)
        if locked.events.filter(kind=kind, detail=detail).exists():
            return "duplicate"
        delivery_event_record(message=locked, kind=kind, detail=detail, at=at)
    return "recorded"
