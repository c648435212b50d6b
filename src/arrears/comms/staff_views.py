"""Staff pages for message templates: the catalog and a preview of each
template with the built-in sample data."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe

from .catalog import shipped_descriptions, template_preview, templates_ensure_loaded
from .models import MessageTemplate


@login_required
@require_safe
def template_list(request: HttpRequest) -> HttpResponse:
    """Every template key with its active version per channel and language."""
    templates_ensure_loaded()
    descriptions = shipped_descriptions()
    keys: dict[str, list[MessageTemplate]] = {}
    for template in MessageTemplate.objects.filter(is_active=True).order_by(
        "key", "channel", "language"
    ):
        keys.setdefault(template.key, []).append(template)
    rows = [
        {"key": key, "description": descriptions.get(key, ""), "templates": templates}
        for key, templates in keys.items()
    ]
    return render(request, "comms/staff/template_list.html", {"rows": rows})


@login_required
@require_safe
def template_detail(request: HttpRequest, key: str, channel: str, language: str) -> HttpResponse:
    """One template rendered with the sample data (``?version=N`` for an
    older or inactive version) and the list of its versions."""
    templates_ensure_loaded()
    versions = list(MessageTemplate.objects.filter(key=key, channel=channel, language=language))
    if not versions:
        raise Http404
    wanted = request.GET.get("version", "")
    chosen = next((v for v in versions if str(v.version) == wanted), None)
    if chosen is None:
        chosen = next((v for v in versions if v.is_active), versions[0])
    return render(
        request,
        "comms/staff/template_detail.html",
        {
            "template": chosen,
            "versions": versions,
            "rendered": template_preview(chosen),
            "description": shipped_descriptions().get(key, ""),
        },
    )
