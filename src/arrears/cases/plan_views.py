"""Staff pages for payment plans and deductions: a plan's schedule and
status with its agreement letter, a form to agree a plan for a customer,
and the deductions list. Thin: the services decide and log."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import messages as flash
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_safe

from arrears.domain.plans import Frequency
from arrears.ledger.models import Customer, InvoiceStatus
from arrears.web.roles import signed_in_user

from .plan_models import Deduction, DeductionStatus, PaymentPlan
from .plans import payment_plan_agreement_pdf, payment_plan_create
from .services import CaseRejected


@require_safe
@login_required
def plan_detail(request: HttpRequest, plan_id: int) -> HttpResponse:
    plan = get_object_or_404(
        PaymentPlan.objects.select_related("customer").prefetch_related("plan_invoices__invoice"),
        pk=plan_id,
    )
    return render(
        request,
        "cases/plans/plan.html",
        {"plan": plan, "instalments": list(plan.instalments.order_by("number"))},
    )


@require_safe
@login_required
def plan_agreement(request: HttpRequest, plan_id: int) -> HttpResponse:
    plan = get_object_or_404(PaymentPlan.objects.select_related("customer"), pk=plan_id)
    response = HttpResponse(payment_plan_agreement_pdf(plan=plan), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="payment-plan-{plan.pk}.pdf"'
    return response


class PlanForm(forms.Form):
    invoices = forms.MultipleChoiceField(widget=forms.CheckboxSelectMultiple)
    instalments = forms.IntegerField(min_value=1, max_value=120, initial=3)
    first_due = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))
    frequency = forms.ChoiceField(choices=[(f.value, f.value) for f in Frequency])
    annual_rate = forms.DecimalField(
        min_value=Decimal(0), max_value=Decimal(100), initial=Decimal(0), decimal_places=3
    )
    setup_fee = forms.DecimalField(min_value=Decimal(0), initial=Decimal(0), decimal_places=3)
    note = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args: Any, customer: Customer, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        open_invoices = customer.invoices.filter(status=InvoiceStatus.OPEN).order_by("due_date")
        field = self.fields["invoices"]
        assert isinstance(field, forms.MultipleChoiceField)
        field.choices = [
            (i.ref, f"{i.ref}, due {i.due_date}: {i.amount - i.allocated:.2f} {i.currency}")
            for i in open_invoices
        ]
        self.fields["first_due"].initial = timezone.localdate() + timedelta(days=14)


@require_http_methods(["GET", "POST"])
@login_required
def plan_new(request: HttpRequest, customer_ref: str) -> HttpResponse:
    customer = get_object_or_404(Customer, ref=customer_ref)
    form = PlanForm(request.POST or None, customer=customer)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            plan = payment_plan_create(
                customer=customer,
                invoice_refs=data["invoices"],
                count=data["instalments"],
                first_due=data["first_due"],
                frequency=data["frequency"],
                annual_rate=data["annual_rate"],
                setup_fee=data["setup_fee"],
                note=data["note"],
                actor=signed_in_user(request),
            )
        except CaseRejected as error:
            form.add_error(None, str(error))
        else:
            flash.success(request, f"Payment plan {plan.pk} agreed; the confirmation is queued.")
            return redirect("cases:plan", plan_id=plan.pk)
    status = 422 if request.method == "POST" else 200
    return render(
        request, "cases/plans/new.html", {"customer": customer, "form": form}, status=status
    )


@require_safe
@login_required
def deductions(request: HttpRequest) -> HttpResponse:
    rows = Deduction.objects.select_related("customer", "payment", "invoice")
    return render(
        request,
        "cases/plans/deductions.html",
        {
            "open": list(rows.filter(status=DeductionStatus.OPEN).order_by("opened_at")[:500]),
            "resolved": list(rows.exclude(status=DeductionStatus.OPEN)[:100]),
        },
    )
