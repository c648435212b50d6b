"""Being written."""

from django.http import Http404, HttpRequest, HttpResponse


def optout(request: HttpRequest, token: str) -> HttpResponse:
    raise Http404


def inbound(request: HttpRequest) -> HttpResponse:
    raise Http404
