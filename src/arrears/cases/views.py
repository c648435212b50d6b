"""Staff pages for cases: the approvals queue (what waits for the signed-in
person, approve or reject with a note) and the placements page (hand over,
recall, download the pack). Thin: the services decide who may do what."""

from __future__ import annotations

from django.contrib import messages as flash
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST, require_safe

from arrears.web.roles import signed_in_user

from .approval_models import Approval, ApprovalStatus, Placement, PlacementStatus
from .approvals import ApprovalForbidden, ApprovalRejected, approval_decide, approvals_waiting_for
from .escalation import (
    EscalationRejected,
    collection_summary,
    placement_confirm,
    placement_pack,
    placement_recall,
)

ACTIVE = [PlacementStatus.PROPOSED, PlacementStatus.APPROVED, PlacementStatus.PLACED]


@require_safe
@login_required
def approvals(request: HttpRequest) -> HttpResponse:
    """Requests waiting for this person, and their own still waiting."""
    user = signed_in_user(request)
    own = Approval.objects.filter(requested_by=user, status=ApprovalStatus.PENDING)
    return render(
        request,
        "cases/approvals.html",
        {
            "waiting": approvals_waiting_for(user),
            "own": list(own.select_related("customer")),
        },
    )


@require_POST
@login_required
def approval_decision(request: HttpRequest, approval_id: int) -> HttpResponse:
    approval = get_object_or_404(Approval, pk=approval_id)
    approve = request.POST.get("decision") == "approve"
    try:
        approval_decide(
            approval=approval,
            approve=approve,
            by=signed_in_user(request),
            note=request.POST.get("note", ""),
        )
    except ApprovalForbidden as error:
        raise PermissionDenied(str(error)) from None
    except ApprovalRejected as error:
        flash.error(request, str(error))
    else:
        flash.success(request, f"Request {approval.pk} {'approved' if approve else 'rejected'}.")
    return redirect("cases:approvals")


@require_safe
@login_required
def placements(request: HttpRequest) -> HttpResponse:
    """Placements in force or waiting, then the last ended ones."""
    rows = Placement.objects.select_related("customer").order_by("-proposed_at")
    return render(
        request,
        "cases/placements.html",
        {
            "active": list(rows.filter(status__in=ACTIVE)),
            "ended": list(rows.exclude(status__in=ACTIVE)[:50]),
        },
    )


@require_safe
@login_required
def placement_detail(request: HttpRequest, placement_id: int) -> HttpResponse:
    placement = get_object_or_404(
        Placement.objects.select_related("customer", "approval"), pk=placement_id
    )
    return render(
        request,
        "cases/placement.html",
        {
            "placement": placement,
            "summary": collection_summary(placement.customer).lines(),
            "collections": list(placement.collections.select_related("payment")),
        },
    )


@require_POST
@login_required
def placement_action(request: HttpRequest, placement_id: int, action: str) -> HttpResponse:
    placement = get_object_or_404(Placement, pk=placement_id)
    try:
        if action == "confirm":
            placement_confirm(placement=placement, by=signed_in_user(request))
            flash.success(request, f"Handed over to {placement.agency}: dunning stops.")
        else:
            placement_recall(
                placement=placement,
                by=signed_in_user(request),
                reason=request.POST.get("reason", ""),
            )
            flash.success(request, "Recalled: the customer is back in the ordinary flow.")
    except EscalationRejected as error:
        flash.error(request, str(error))
    return redirect("cases:placement", placement_id=placement.pk)


@require_safe
@login_required
def placement_pack_download(request: HttpRequest, placement_id: int) -> HttpResponse:
    placement = get_object_or_404(Placement.objects.select_related("customer"), pk=placement_id)
    response = HttpResponse(placement_pack(placement), content_type="application/zip")
    response["Content-Disposition"] = f'attachment; filename="placement-{placement.pk}.zip"'
    return response
