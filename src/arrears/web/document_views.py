"""Documents on the customer page: attach one (checked by content type and
size with the portal's upload checks) and download it."""

from __future__ import annotations

from django.contrib import messages as flash
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.views.decorators.http import require_POST, require_safe

from arrears.ledger.models import Customer
from arrears.portal.uploads import ACCEPTED, UploadRejected, upload_check, upload_max_bytes

from .models import Document
from .roles import signed_in_user
from .services import ChangeRejected, document_attach


def upload_hint() -> str:
    """What the upload form accepts, for its label."""
    return f"{ACCEPTED}, at most {upload_max_bytes() // 1024 // 1024} MB"


@require_POST
@login_required
def document_upload(request: HttpRequest, customer_ref: str) -> HttpResponse:
    customer = get_object_or_404(Customer, ref=customer_ref)
    back = reverse("customer", args=[customer.ref])
    file = request.FILES.get("file")
    if file is None:
        flash.error(request, "Choose a file to attach.")
        return redirect(back + "#actions")
    try:
        document = document_attach(
            customer=customer,
            upload=upload_check(file),
            invoice_ref=request.POST.get("invoice_ref", "").strip(),
            note=request.POST.get("note", ""),
            actor=signed_in_user(request),
        )
    except (UploadRejected, ChangeRejected) as exc:
        flash.error(request, str(exc))
        return redirect(back + "#actions")
    flash.success(request, f"Document {document.name} attached.")
    return redirect(back + "#documents")


@require_safe
@login_required
def document_download(request: HttpRequest, pk: int) -> FileResponse:
    document = get_object_or_404(Document, pk=pk)
    try:
        handle = document.file.open("rb")
    except FileNotFoundError as exc:
        raise Http404("the document's file is missing from storage") from exc
    response = FileResponse(
        handle, as_attachment=True, filename=document.name, content_type=document.content_type
    )
    # The type was checked from the content; the browser must not guess another.
    response["X-Content-Type-Options"] = "nosniff"
    return response
