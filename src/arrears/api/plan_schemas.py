"""Schemas of the payment-plan, charge and deduction endpoints
(``plan_views``). Amounts travel as decimal strings in the currency's minor
units; dates are ISO."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from ninja import Field, Schema

from arrears.cases.plan_models import Charge, Deduction, PaymentPlan

from .schemas import money_text


class PlanIn(Schema):
    customer_ref: str
    invoice_refs: list[str] = Field(min_length=1)
    instalments: int = Field(ge=1, le=120)
    first_due: date
    frequency: str = "monthly"
    annual_rate: Decimal = Decimal(0)
    setup_fee: Decimal = Decimal(0)
    start_on: date | None = None
    break_after_days: int | None = Field(default=None, ge=0, le=365)
    note: str = ""
    send_confirmation: bool = True


class InstalmentOut(Schema):
    number: int
    due_date: date
    amount: str
    status: str
    paid_on: date | None
    reminded_on: date | None


class PlanOut(Schema):
    id: int
    customer_ref: str
    invoice_refs: list[str]
    currency: str
    principal: str
    annual_rate: str
    interest: str
    setup_fee: str
    total: str
    frequency: str
    start_on: date
    break_after_days: int
    status: str
    legal_review: bool
    ended_on: date | None
    end_reason: str
    instalments: list[InstalmentOut]
    agreement_url: str

    @staticmethod
    def of(plan: PaymentPlan) -> PlanOut:
        cur = plan.currency
        return PlanOut(
            id=plan.pk,
            customer_ref=plan.customer.ref,
            invoice_refs=sorted(line.invoice.ref for line in plan.plan_invoices.all()),
            currency=cur,
            principal=money_text(plan.principal, cur),
            annual_rate=f"{plan.annual_rate.normalize():f}",
            interest=money_text(plan.interest, cur),
            setup_fee=money_text(plan.setup_fee, cur),
            total=money_text(plan.total, cur),
            frequency=plan.frequency,
            start_on=plan.start_on,
            break_after_days=plan.break_after_days,
            status=plan.status,
            legal_review=plan.legal_review,
            ended_on=plan.ended_on,
            end_reason=plan.end_reason,
            instalments=[
                InstalmentOut(
                    number=i.number,
                    due_date=i.due_date,
                    amount=money_text(i.amount, cur),
                    status=i.status,
                    paid_on=i.paid_on,
                    reminded_on=i.reminded_on,
                )
                for i in plan.instalments.all()
            ],
            agreement_url=f"/api/v1/payment-plans/{plan.pk}/agreement.pdf",
        )


class ReasonIn(Schema):
    reason: str


class AsOfIn(Schema):
    as_of: date


class AssessIn(Schema):
    as_of: date
    invoice_ref: str | None = None


class CountsOut(Schema):
    counts: dict[str, int]


class ChargeOut(Schema):
    id: int
    invoice_ref: str
    customer_ref: str
    kind: str
    amount: str
    currency: str
    period_start: date | None
    period_end: date | None
    basis: str
    status: str
    posted_on: date
    waiver_approval_id: int | None

    @staticmethod
    def of(charge: Charge) -> ChargeOut:
        return ChargeOut(
            id=charge.pk,
            invoice_ref=charge.invoice.ref,
            customer_ref=charge.customer.ref,
            kind=charge.kind,
            amount=money_text(charge.amount, charge.currency),
            currency=charge.currency,
            period_start=charge.period_start,
            period_end=charge.period_end,
            basis=charge.basis,
            status=charge.status,
            posted_on=charge.posted_on,
            waiver_approval_id=charge.waiver_approval_id,
        )


class WaiverOut(Schema):
    approval_id: int
    required_role: str
    status: str


class DeductionIn(Schema):
    payment_ref: str
    invoice_ref: str
    amount: Decimal = Field(gt=0)
    code: str = ""
    reason: str = ""


class RemittanceIn(Schema):
    payment_ref: str
    code: str
    reason: str = ""


class DeductionResolveIn(Schema):
    outcome: str
    resolution: str


class DeductionOut(Schema):
    id: int
    customer_ref: str
    payment_ref: str
    invoice_ref: str
    amount: str
    currency: str
    code: str
    reason: str
    status: str
    resolution: str
    credit_note_ref: str | None
    rebill_invoice_ref: str | None

    @staticmethod
    def of(d: Deduction) -> DeductionOut:
        return DeductionOut(
            id=d.pk,
            customer_ref=d.customer.ref,
            payment_ref=d.payment.ref,
            invoice_ref=d.invoice.ref,
            amount=money_text(d.amount, d.currency),
            currency=d.currency,
            code=d.code,
            reason=d.reason,
            status=d.status,
            resolution=d.resolution,
            credit_note_ref=d.credit_note.ref if d.credit_note else None,
            rebill_invoice_ref=d.rebill_invoice.ref if d.rebill_invoice else None,
        )
