"""Staff pages for collection policies: versions and assignments, one
version with its steps and linter findings, and a candidate policy checked,
simulated against the history next to the policies in use, and applied."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django import forms
from django.contrib import messages as flash
from django.contrib.auth.decorators import login_required
from django.db.models import Count
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_safe

from arrears.domain.policy_file import PolicyInvalid
from arrears.web.roles import is_manager, manager_check

from .models import CustomerPolicy, PolicySplit, PolicyVersion
from .selectors import DEFAULT_POLICY_PATH, policy_active
from .services import policy_apply_text, policy_check
from .simulation import SimulationSummary, simulate

# A synchronous simulation on the page; longer ranges belong to `arrears simulate`.
MAX_SIMULATION_DAYS = 92


@require_safe
@login_required
def policy_list(request: HttpRequest) -> HttpResponse:
    overrides = dict(
        CustomerPolicy.objects.exclude(policy_name="")
        .values_list("policy_name")
        .annotate(n=Count("id"))
        .values_list("policy_name", "n")
    )
    return render(
        request,
        "sequencing/policies.html",
        {
            "active": policy_active(),
            "versions": PolicyVersion.objects.order_by("name", "-version"),
            "split": PolicySplit.objects.filter(is_active=True).first(),
            "overrides": sorted(overrides.items()),
        },
    )


@require_safe
@login_required
def policy_detail(request: HttpRequest, name: str, version: int) -> HttpResponse:
    if name == "default" and version == 0:
        text = DEFAULT_POLICY_PATH.read_text(encoding="utf-8")
        row = None
    else:
        row = PolicyVersion.objects.filter(name=name, version=version).first()
        if row is None:
            raise Http404
        text = row.yaml_text
    checked = policy_check(text=text, name=name)
    return render(
        request,
        "sequencing/policy_detail.html",
        {"row": row, "name": name, "version": version, "text": text, "checked": checked},
    )


class CandidateForm(forms.Form):
    text = forms.CharField(label="Policy (YAML)", widget=forms.Textarea(attrs={"rows": 28}))
    start = forms.DateField(label="Simulate from", required=False)
    end = forms.DateField(label="to", required=False)

    def clean(self) -> dict[str, object]:
        data = super().clean() or {}
        start, end = data.get("start"), data.get("end")
        if start and end:
            if start > end:
                raise forms.ValidationError("The simulation starts after it ends.")
            if (end - start).days >= MAX_SIMULATION_DAYS:
                raise forms.ValidationError(
                    f"Simulate at most {MAX_SIMULATION_DAYS} days here; "
                    "use `arrears simulate --policy` for longer ranges."
                )
        return data


@login_required
def policy_candidate(request: HttpRequest) -> HttpResponse:
    """Check a candidate policy (anyone), simulate it next to the policies in
    use over the same days (anyone), or apply it (managers)."""
    today = timezone.localdate()
    initial = {
        "text": DEFAULT_POLICY_PATH.read_text(encoding="utf-8")
        if PolicyVersion.objects.filter(is_active=True).first() is None
        else PolicyVersion.objects.get(is_active=True).yaml_text,
        "start": today - timedelta(days=90),
        "end": today - timedelta(days=1),
    }
    form = CandidateForm(request.POST or None, initial=initial)
    context: dict[str, object] = {"form": form, "can_apply": is_manager(request.user)}
    if request.method == "POST" and form.is_valid():
        text = form.cleaned_data["text"]
        try:
            checked = policy_check(text=text, name="candidate")
        except PolicyInvalid as exc:
            context["errors"] = exc.problems
            return render(request, "sequencing/policy_candidate.html", context, status=422)
        context["checked"] = checked
        if "apply" in request.POST:
            manager_check(request.user, "apply a policy")
            applied = policy_apply_text(
                text=text,
                name="candidate",
                source="from the policies page",
                actor_label=request.user.get_username(),
            )
            v = applied.version
            flash.success(
                request,
                f"{v.name} v{v.version} is the active policy now."
                if applied.changed
                else f"Unchanged: {v.name} v{v.version} is already active.",
            )
            return redirect("policies")
        start, end = form.cleaned_data.get("start"), form.cleaned_data.get("end")
        if "simulate" in request.POST and start and end:
            current = SimulationSummary(start, end)
            for _ in simulate(start=start, end=end, summary=current):
                pass
            candidate = SimulationSummary(start, end)
            for _ in simulate(start=start, end=end, summary=candidate, policy=checked.policy):
                pass
            context["comparison"] = _comparison(current.as_dict(), candidate.as_dict())
    return render(request, "sequencing/policy_candidate.html", context)


def _percent(share: float | None) -> str | None:
    return None if share is None else f"{share * 100:.1f} %"


def _as_is(value: Any) -> Any:
    return value


# (simulation key, label, how the page shows it)
_FIGURES = (
    ("customers", "Customers with open invoices", _as_is),
    ("invoices", "Invoices open in the range", _as_is),
    ("actions", "Actions", _as_is),
    ("touches_per_invoice", "Touches per invoice", _as_is),
    ("paid_before_first_touch_share", "Share paid before the first touch", _percent),
    ("invoices_reaching_escalation", "Invoices reaching escalation", _as_is),
)


def _comparison(current: dict[str, Any], candidate: dict[str, Any]) -> list[tuple[str, Any, Any]]:
    """Rows of (figure, policies in use, candidate) for the page."""
    rows = [(label, show(current[key]), show(candidate[key])) for key, label, show in _FIGURES]
    for kind in sorted({*current["by_kind"], *candidate["by_kind"]}):
        rows.append(
            (f"{kind} actions", current["by_kind"].get(kind, 0), candidate["by_kind"].get(kind, 0))
        )
    return rows
