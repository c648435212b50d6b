"""The SMS provider's webhook: replies from contacts and delivery receipts.

``POST /comms/sms/inbound/`` with ``Authorization: Bearer
ARREARS_SMS_INBOUND_TOKEN`` and one JSON object:

- ``{"type": "reply", "id": "<provider id>", "from": "+E164", "text": "STOP"}``
- ``{"type": "status", "message_id": "<provider id>", "reference": "<our
  idempotency key>", "status": "delivered"|"failed"|"undelivered", "error":
  "<carrier reason>", "at": "<ISO 8601, optional>"}``

Answers 200 ``{"ok": true, "result": ...}`` when the event was taken (also
for an unknown number or text: a provider retries errors, and retrying
cannot make them known), 400 for a malformed body, 403 without the right
token, 503 with ``Retry-After`` for a receipt that arrived before its text
was recorded as sent (deliver it again later).
"""

from __future__ import annotations

import hmac
import json
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from .sms import sms_receipt_record, sms_reply_record


def _authorized(request: HttpRequest) -> bool:
    expected = settings.ARREARS_SMS_INBOUND_TOKEN
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if not expected or scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(token.strip().encode(), expected.encode())


def _text(data: dict[str, Any], key: str, *, required: bool = False) -> str:
    value = data.get(key, "")
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise ValueError(f"{key!r} must be a string")
    if required and not value.strip():
        raise ValueError(f"{key!r} is required")
    return value


def _bad(reason: str) -> JsonResponse:
    return JsonResponse({"ok": False, "error": reason}, status=400)


@csrf_exempt
@require_POST
def inbound(request: HttpRequest) -> HttpResponse:
    if not _authorized(request):
        return JsonResponse({"ok": False, "error": "forbidden"}, status=403)
    try:
        data = json.loads(request.body)
    except ValueError:
        return _bad("the body is not JSON")
    if not isinstance(data, dict):
        return _bad("the body must be a JSON object")
    now = timezone.now()
    try:
        if data.get("type") == "reply":
            outcome = sms_reply_record(
                from_number=_text(data, "from", required=True),
                text=_text(data, "text"),
                reply_id=_text(data, "id"),
                now=now,
            )
            result: dict[str, Any] = {
                "keyword": outcome.keyword,
                "contacts": outcome.contacts,
                "duplicate": outcome.duplicate,
            }
        elif data.get("type") == "status":
            message_id, reference = _text(data, "message_id"), _text(data, "reference")
            if not (message_id or reference):
                raise ValueError("'message_id' or 'reference' is required")
            at = parse_datetime(_text(data, "at")) or now
            recorded = sms_receipt_record(
                message_id=message_id,
                reference=reference,
                status=_text(data, "status", required=True),
                error=_text(data, "error"),
                at=at if timezone.is_aware(at) else now,
            )
            if recorded == "too early":
                response = JsonResponse({"ok": False, "error": "not sent yet"}, status=503)
                response["Retry-After"] = "60"
                return response
            result = {"receipt": recorded}
        else:
            return _bad("'type' must be 'reply' or 'status'")
    except ValueError as error:
        return _bad(str(error))
    return JsonResponse({"ok": True, "result": result})
