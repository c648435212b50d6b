"""Credit applications: the public form, and the managers' review pages
(list, detail with approve / smaller limit / deny, documents)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models.fields.files import FieldFile
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import content_disposition_header
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from arrears.web.roles import is_manager, manager_required, roles_of

from .applications import ApplicationRejected, application_decide, application_submit
from .branding import brand_context
from .forms import ApplicationForm, DecisionForm
from .models import ApplicationDocument, ApplicationStatus, CreditApplication, DisputeAttachment
from .ratelimit import APPLICATION_PER_IP, client_ip, rate_limit_hit

SUBMITTED_KEY = "arrears_portal_application"


def _download(file: FieldFile, name: str, content_type: str) -> HttpResponse:
    # Uploads are at most a few MB: read whole, served as an attachment
    # (never inline, so a crafted file cannot run in the app's origin).
    with file.open("rb") as handle:
        response = HttpResponse(handle.read(), content_type=content_type)
    response["Content-Disposition"] = content_disposition_header(True, name) or "attachment"
    response["X-Content-Type-Options"] = "nosniff"
    return response


@never_cache
@require_http_methods(["GET", "POST"])
def apply(request: HttpRequest) -> HttpResponse:
    """The public credit application form (rate limited per address)."""
    brand = brand_context()
    form = ApplicationForm(request.POST or None, request.FILES or None)
    if request.method == "POST":
        if not rate_limit_hit(APPLICATION_PER_IP, client_ip(request)):
            response = render(request, "portal/too_many.html", brand, status=429)
            response["Retry-After"] = "3600"
            return response
        if form.is_valid():
            data = form.cleaned_data
            try:
                application = application_submit(
                    data={k: v for k, v in data.items() if k != "documents"},
                    uploads=data["documents"],
                )
            except ApplicationRejected as exc:
                for field, reason in exc.problems.items():
                    form.add_error(field if field in form.fields else None, reason)
            else:
                request.session[SUBMITTED_KEY] = application.ref
                return redirect("portal-apply-done")
    return render(
        request,
        "portal/apply.html",
        {**brand, "form": form},
        status=400 if form.errors else 200,
    )


@never_cache
def apply_done(request: HttpRequest) -> HttpResponse:
    ref = request.session.get(SUBMITTED_KEY)
    return render(request, "portal/apply_done.html", {**brand_context(), "ref": ref})


@manager_required
def applications(request: HttpRequest) -> HttpResponse:
    status = request.GET.get("status", ApplicationStatus.SUBMITTED)
    rows = CreditApplication.objects.all()
    if status in ApplicationStatus.values:
        rows = rows.filter(status=status)
    return render(
        request,
        "portal/staff/applications.html",
        {
            "applications": rows[:200],
            "status": status,
            "statuses": ApplicationStatus.choices,
        },
    )


@manager_required
@require_http_methods(["GET", "POST"])
def application_detail(request: HttpRequest, ref: str) -> HttpResponse:
    application = get_object_or_404(CreditApplication.objects.select_related("customer"), ref=ref)
    form = DecisionForm(request.POST or None, initial={"decision": "approve"})
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            decided = application_decide(
                application=application,
                decision=data["decision"],
                actor=request.user,
                notes=data["notes"],
                granted_limit=data["granted_limit"],
                customer_ref=data["customer_ref"],
            )
        except ApplicationRejected as exc:
            for field, reason in exc.problems.items():
                form.add_error(field if field in form.fields else None, reason)
        else:
            messages.success(
                request,
                f"{decided.ref}: {decided.get_status_display().lower()}"
                + (f"; customer {decided.customer.ref}" if decided.customer else ""),
            )
            return redirect("portal-application", ref=decided.ref)
    return render(
        request,
        "portal/staff/application.html",
        {
            "application": application,
            "documents": application.documents.all(),
            "form": form,
        },
        status=400 if form.errors else 200,
    )


@manager_required
def application_document(request: HttpRequest, ref: str, pk: int) -> HttpResponse:
    document = get_object_or_404(ApplicationDocument, pk=pk, application__ref=ref)
    return _download(document.file, document.name, document.content_type)


@login_required
def dispute_attachment(request: HttpRequest, pk: int) -> HttpResponse:
    """Staff download a customer's dispute evidence (any signed-in staff)."""
    user = request.user
    if not (user.is_staff or is_manager(user) or roles_of(user)):
        raise PermissionDenied("staff only")
    attachment = get_object_or_404(DisputeAttachment, pk=pk)
    return _download(attachment.file, attachment.name, attachment.content_type)
