"""Staff pages for message templates: the catalog and a preview of each
template with the built-in sample data."""

from __future__ import annotations

from django import forms
from django.contrib import messages as flash
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST, require_safe

from arrears.web.roles import is_manager, manager_required

from .catalog import (
    TemplateInvalid,
    shipped_descriptions,
    template_activate,
    template_preview,
    template_save,
    templates_ensure_loaded,
)
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
            "can_edit": is_manager(request.user),
        },
    )


class TemplateForm(forms.Form):
    subject = forms.CharField(max_length=300, required=False)
    body = forms.CharField(widget=forms.Textarea(attrs={"rows": 24, "spellcheck": "true"}))
    body_text = forms.CharField(
        label="Plain-text part", widget=forms.Textarea(attrs={"rows": 12}), required=False
    )
    list_unsubscribe = forms.BooleanField(
        label="Include the unsubscribe link and List-Unsubscribe header", required=False
    )


@manager_required
def template_edit(request: HttpRequest, key: str, channel: str, language: str) -> HttpResponse:
    """Edit a template: saving checks it compiles and renders with the
    sample data, then stores it as the next version, in use at once."""
    versions = list(MessageTemplate.objects.filter(key=key, channel=channel, language=language))
    if not versions:
        raise Http404
    base = next((v for v in versions if v.is_active), versions[0])
    form = TemplateForm(
        request.POST or None,
        initial={
            "subject": base.subject,
            "body": base.body,
            "body_text": base.body_text,
            "list_unsubscribe": base.list_unsubscribe,
        },
    )
    if request.method == "POST" and form.is_valid():
        try:
            saved = template_save(
                key=key,
                channel=channel,
                language=language,
                actor_label=request.user.get_username(),
                **form.cleaned_data,
            )
        except TemplateInvalid as error:
            form.add_error(None, str(error))
        else:
            flash.success(request, f"Saved as version {saved.version}; it is in use now.")
            return redirect("template-detail", key=key, channel=channel, language=language)
    return render(
        request,
        "comms/staff/template_edit.html",
        {"form": form, "template": base, "key": key, "channel": channel, "language": language},
    )


@require_POST
@manager_required
def template_use(request: HttpRequest, pk: int) -> HttpResponse:
    """Put an older (or a kept shipped) version back in use."""
    template = get_object_or_404(MessageTemplate, pk=pk)
    template_activate(template=template, actor_label=request.user.get_username())
    flash.success(request, f"Version {template.version} is in use now.")
    return redirect(
        "template-detail", key=template.key, channel=template.channel, language=template.language
    )
