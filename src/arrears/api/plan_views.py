"""Payment plans, late-payment charges and deductions under /api/v1/.

Each endpoint validates, calls one service or selector and returns. A case
the service refuses answers 422 with the reason; a waiver is decided
through the approvals endpoints (four eyes).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from ninja import Router
from ninja.errors import HttpError
from ninja.responses import Status

from arrears.cases.approvals import ApprovalRejected
from arrears.cases.charges import charge_waiver_request, charges_assess, charges_assess_due
from arrears.cases.deductions import (
    Remittance,
    deduction_detect,
    deduction_open,
    deduction_resolve,
)
from arrears.cases.plan_models import Charge, Deduction, PaymentPlan
from arrears.cases.plans import (
    payment_plan_agreement_pdf,
    payment_plan_cancel,
    payment_plan_create,
    payment_plans_review,
)
from arrears.cases.services import CaseRejected
from arrears.domain.interest import RateMissing
from arrears.ledger.models import Customer, Invoice, Payment

from .plan_schemas import (
    AsOfIn,
    AssessIn,
    ChargeOut,
    CountsOut,
    DeductionIn,
    DeductionOut,
    DeductionResolveIn,
    PlanIn,
    PlanOut,
    ReasonIn,
    RemittanceIn,
    WaiverOut,
)
from .requests import api_actor_label, api_user
from .schemas import Message
from .selectors import NotFound

router = Router(tags=["payment plans, charges, deductions"])

_WRITE: dict[int, type] = {404: Message, 422: Message}


@contextmanager
def _answers() -> Iterator[None]:
    """The services' refusals as 422 with the reason."""
    try:
        yield
    except (CaseRejected, ApprovalRejected, RateMissing) as error:
        raise HttpError(422, str(error)) from None


def _get(queryset: QuerySet, what: str, **lookup: object):  # type: ignore[type-arg, no-untyped-def]
    found = queryset.filter(**lookup).first()
    if found is None:
        raise NotFound(f"no {what} {next(iter(lookup.values()))}")
    return found


def _plans() -> QuerySet[PaymentPlan]:
    return PaymentPlan.objects.select_related("customer").prefetch_related(
        "plan_invoices__invoice", "instalments"
    )


def _plan(plan_id: int) -> PaymentPlan:
    plan: PaymentPlan = _get(_plans(), "payment plan", pk=plan_id)
    return plan


# --- payment plans ------------------------------------------------------------


@router.post("/payment-plans", response={201: PlanOut, **_WRITE}, summary="Agree a payment plan")
def plan_create(request: HttpRequest, body: PlanIn) -> Status[PlanOut]:
    """Instalments for the open amounts of the invoices named (one
    currency). Their dunning pauses while the plan is kept; the confirmation
    e-mail is queued unless ``send_confirmation`` is false."""
    customer: Customer = _get(Customer.objects.all(), "customer", ref=body.customer_ref)
    with _answers():
        plan = payment_plan_create(
            customer=customer,
            invoice_refs=body.invoice_refs,
            count=body.instalments,
            first_due=body.first_due,
            frequency=body.frequency,
            annual_rate=body.annual_rate,
            setup_fee=body.setup_fee,
            start_on=body.start_on,
            break_after_days=body.break_after_days,
            note=body.note,
            actor=api_user(request),
            actor_label=api_actor_label(request),
            confirm=body.send_confirmation,
        )
    return Status(201, PlanOut.of(_plan(plan.pk)))


@router.get("/payment-plans", response=list[PlanOut], summary="List payment plans")
def plan_list(
    request: HttpRequest, customer_ref: str | None = None, status: str | None = None
) -> list[PlanOut]:
    """Newest first; filtered by customer and status (active, completed,
    broken, cancelled) when given."""
    plans = _plans()
    if customer_ref:
        plans = plans.filter(customer__ref=customer_ref)
    if status:
        plans = plans.filter(status=status)
    return [PlanOut.of(p) for p in plans[:500]]


@router.get("/payment-plans/{int:plan_id}", response={200: PlanOut, 404: Message})
def plan_get(request: HttpRequest, plan_id: int) -> PlanOut:
    return PlanOut.of(_plan(plan_id))


@router.get(
    "/payment-plans/{int:plan_id}/agreement.pdf",
    response={404: Message},
    summary="The agreement letter (PDF)",
)
def plan_agreement(request: HttpRequest, plan_id: int) -> HttpResponse:
    pdf = payment_plan_agreement_pdf(plan=_plan(plan_id))
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="payment-plan-{plan_id}.pdf"'
    return response


@router.post("/payment-plans/{int:plan_id}/cancel", response={200: PlanOut, **_WRITE})
def plan_cancel(request: HttpRequest, plan_id: int, body: ReasonIn) -> PlanOut:
    """End an active plan by hand: its invoices go back to the dunning flow."""
    with _answers():
        payment_plan_cancel(
            plan=_plan(plan_id),
            reason=body.reason,
            actor=api_user(request),
            actor_label=api_actor_label(request),
        )
    return PlanOut.of(_plan(plan_id))


@router.post("/payment-plans/review", response=CountsOut, summary="Monitor plans on a day")
def plan_review(request: HttpRequest, body: AsOfIn) -> CountsOut:
    """What the daily run does first: mark paid instalments, remind missed
    ones, break plans missed too long, complete paid ones."""
    return CountsOut(counts=payment_plans_review(as_of=body.as_of))


# --- charges ------------------------------------------------------------------


def _charges() -> QuerySet[Charge]:
    return Charge.objects.select_related("invoice", "customer")


@router.get("/charges", response=list[ChargeOut], summary="List late-payment charges")
def charge_list(
    request: HttpRequest, invoice_ref: str | None = None, customer_ref: str | None = None
) -> list[ChargeOut]:
    charges = _charges()
    if invoice_ref:
        charges = charges.filter(invoice__ref=invoice_ref)
    if customer_ref:
        charges = charges.filter(customer__ref=customer_ref)
    return [ChargeOut.of(c) for c in charges[:1000]]


@router.post(
    "/charges/assess",
    response={200: list[ChargeOut], **_WRITE},
    summary="Post late charges up to a day",
)
def charge_assess(request: HttpRequest, body: AssessIn) -> list[ChargeOut]:
    """Post what is due under each customer's charge rule up to ``as_of``:
    for one invoice when ``invoice_ref`` is given, else for every late
    invoice. Returns the charges posted now; again the same day posts none."""
    with _answers():
        if body.invoice_ref:
            invoice: Invoice = _get(
                Invoice.objects.select_related("customer"), "invoice", ref=body.invoice_ref
            )
            posted = charges_assess(
                invoice=invoice, as_of=body.as_of, actor_label=api_actor_label(request)
            )
        else:
            posted = charges_assess_due(as_of=body.as_of, actor_label=api_actor_label(request))
    return [ChargeOut.of(c) for c in posted]


@router.post(
    "/charges/{int:charge_id}/waiver",
    response={201: WaiverOut, **_WRITE},
    summary="Ask for a charge to be waived",
)
def charge_waiver(request: HttpRequest, charge_id: int, body: ReasonIn) -> Status[WaiverOut]:
    """Opens a "waiver" approval; someone else with the role the amount
    needs decides it (POST /approvals/{id}/decide), which waives the charge."""
    charge: Charge = _get(_charges(), "charge", pk=charge_id)
    with _answers():
        approval = charge_waiver_request(
            charge=charge,
            reason=body.reason,
            actor=api_user(request),
            actor_label=api_actor_label(request),
        )
    return Status(
        201,
        WaiverOut(
            approval_id=approval.pk, required_role=approval.required_role, status=approval.status
        ),
    )


# --- deductions ---------------------------------------------------------------


def _deductions() -> QuerySet[Deduction]:
    return Deduction.objects.select_related(
        "customer", "payment", "invoice", "credit_note", "rebill_invoice"
    )


@router.post("/deductions", response={201: DeductionOut, **_WRITE}, summary="Open a deduction")
def deduction_create(request: HttpRequest, body: DeductionIn) -> Status[DeductionOut]:
    payment: Payment = _get(Payment.objects.all(), "payment", ref=body.payment_ref)
    invoice: Invoice = _get(Invoice.objects.all(), "invoice", ref=body.invoice_ref)
    with _answers():
        deduction = deduction_open(
            payment=payment,
            invoice=invoice,
            amount=body.amount,
            code=body.code,
            reason=body.reason,
            actor=api_user(request),
            actor_label=api_actor_label(request),
        )
    return Status(201, DeductionOut.of(_get(_deductions(), "deduction", pk=deduction.pk)))


@router.post(
    "/deductions/detect", response=list[DeductionOut], summary="Deductions from remittance advice"
)
def deduction_detect_view(request: HttpRequest, body: list[RemittanceIn]) -> list[DeductionOut]:
    """Each line names a payment and the deduction code its payer gave: a
    payment that left its named invoice open becomes a deduction."""
    opened = deduction_detect(
        remittances=[Remittance(r.payment_ref, r.code, r.reason) for r in body],
        actor_label=api_actor_label(request),
    )
    return [DeductionOut.of(_get(_deductions(), "deduction", pk=d.pk)) for d in opened]


@router.get("/deductions", response=list[DeductionOut], summary="List deductions")
def deduction_list(
    request: HttpRequest, status: str | None = None, customer_ref: str | None = None
) -> list[DeductionOut]:
    deductions = _deductions()
    if status:
        deductions = deductions.filter(status=status)
    if customer_ref:
        deductions = deductions.filter(customer__ref=customer_ref)
    return [DeductionOut.of(d) for d in deductions[:1000]]


@router.get("/deductions/{int:deduction_id}", response={200: DeductionOut, 404: Message})
def deduction_get(request: HttpRequest, deduction_id: int) -> DeductionOut:
    return DeductionOut.of(_get(_deductions(), "deduction", pk=deduction_id))


@router.post("/deductions/{int:deduction_id}/resolve", response={200: DeductionOut, **_WRITE})
def deduction_resolve_view(
    request: HttpRequest, deduction_id: int, body: DeductionResolveIn
) -> DeductionOut:
    """``outcome``: valid (credit note), rebill (credit note and a new
    invoice) or collect (the invoice stays open)."""
    deduction: Deduction = _get(_deductions(), "deduction", pk=deduction_id)
    with _answers():
        deduction_resolve(
            deduction=deduction,
            outcome=body.outcome,
            resolution=body.resolution,
            actor=api_user(request),
            actor_label=api_actor_label(request),
        )
    return DeductionOut.of(_get(_deductions(), "deduction", pk=deduction_id))
