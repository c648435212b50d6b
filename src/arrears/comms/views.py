"""Customer-facing comms pages: the opt-out link of every message."""

from __future__ import annotations

from django.core import signing
from django.http import Http404, HttpRequest, HttpResponse
from django.middleware.csrf import CsrfViewMiddleware
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from arrears.ledger.models import Contact

from .consent import CONSENT_CHANNELS, contact_opt_out
from .rendering import OPTOUT_SALT, brand_current

CHANNEL_NAMES = {"email": "e-mail", "sms": "text messages", "call": "phone calls"}


def _contacts(token: str) -> tuple[list[Contact], str]:
    """The contacts and channel a signed token names; Http404 for anything
    else (a tampered, truncated or foreign token says nothing more)."""
    try:
        payload = signing.loads(token, salt=OPTOUT_SALT)
        ids = payload["c"] if isinstance(payload["c"], list) else [payload["c"]]
        channel = payload["ch"]
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        raise Http404 from None
    if channel not in CONSENT_CHANNELS or not all(isinstance(i, int) for i in ids):
        raise Http404
    contacts = list(Contact.objects.select_related("customer").filter(pk__in=ids))
    if not contacts:
        raise Http404
    return contacts, channel


@csrf_exempt
@require_http_methods(["GET", "POST"])
def optout(request: HttpRequest, token: str) -> HttpResponse:
    """GET: ask to confirm. POST: opt the token's contacts out of its
    channel. A mail client's RFC 8058 one-click POST (body
    ``List-Unsubscribe=One-Click``) needs no CSRF token; the confirmation
    form's POST does."""
    contacts, channel = _contacts(token)
    context = {
        "brand": brand_current(),
        "channel": channel,
        "channel_name": CHANNEL_NAMES[channel],
        "addresses": [c.email if channel == "email" else c.phone for c in contacts],
        "customer": contacts[0].customer,
    }
    if request.method == "GET":
        return render(request, "comms/optout.html", context)
    one_click = request.POST.get("List-Unsubscribe") == "One-Click"
    if not one_click:
        # The view itself is exempt (for one-click); check the form as usual.
        refused = CsrfViewMiddleware(_unused).process_view(request, _unused, (), {})
        if refused is not None:
            return refused
    for contact in contacts:
        contact_opt_out(
            contact=contact,
            channel=channel,
            source="unsubscribe link",
            actor_label=f"{'one-click unsubscribe' if one_click else 'unsubscribe link'}"
            f" ({contact.email or contact.phone})",
        )
    return render(request, "comms/optout_done.html", context)


def _unused(request: HttpRequest) -> HttpResponse:
    """A stand-in view for the CSRF check, which skips exempt views."""
    return HttpResponse()
