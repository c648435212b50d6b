"""Models for payment plans, unauthorized deductions and late-payment
charges (interest, fixed compensation, fees) with their rules.

Imported at the bottom of ``cases/models.py`` so Django finds them in the
``cases`` app.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from arrears.ledger.models import CreditNote, Customer, Invoice, Payment, money_field

from .approval_models import Approval

__all__ = [
    "Charge",
    "ChargeKind",
    "ChargeRule",
    "ChargeStatus",
    "Deduction",
    "DeductionStatus",
    "PaymentPlan",
    "PlanInstalment",
    "PlanInvoice",
    "PlanStatus",
]


def _user_fk() -> Any:
    # Typed Any: django-stubs types a ForeignKey only where it is declared.
    return models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )


# --- payment plans ------------------------------------------------------------


class PlanStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    COMPLETED = "completed", "Completed"
    BROKEN = "broken", "Broken"
    CANCELLED = "cancelled", "Cancelled"


class PaymentPlan(models.Model):
    """An agreement to pay invoices in instalments. While active, its
    invoices are left alone by the daily run; a broken plan ends the hold."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="payment_plans")
    currency = models.CharField(max_length=3)
    principal = money_field()
    annual_rate = models.DecimalField(max_digits=6, decimal_places=3, default=0)
    interest = money_field(default=0)
    setup_fee = money_field(default=0)
    # principal + interest + setup_fee (no CHECK: SQLite compares sums of
    # decimals as floats).
    total = money_field()
    frequency = models.CharField(max_length=12)
    start_on = models.DateField()
    # An instalment missed for more days than this breaks the plan.
    break_after_days = models.PositiveSmallIntegerField(default=14)
    status = models.CharField(max_length=10, choices=PlanStatus.choices, default=PlanStatus.ACTIVE)
    legal_review = models.BooleanField(default=False)
    note = models.TextField(blank=True)
    created_at = models.DateTimeField()
    created_by = _user_fk()
    created_by_label = models.CharField(max_length=200)
    # The day the plan stopped holding its invoices (completed, broken, cancelled).
    ended_on = models.DateField(null=True, blank=True)
    end_reason = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status"]), models.Index(fields=["customer", "status"])]
        constraints = [
            models.CheckConstraint(condition=Q(principal__gt=0), name="plan_principal_positive"),
            models.CheckConstraint(
                condition=Q(status="active", ended_on__isnull=True)
                | (~Q(status="active") & Q(ended_on__isnull=False)),
                name="plan_ended_when_not_active",
            ),
        ]

    def __str__(self) -> str:
        return f"payment plan {self.pk} ({self.status})"


class PlanInvoice(models.Model):
    """An invoice a plan covers and its open amount when the plan was made."""

    plan = models.ForeignKey(PaymentPlan, on_delete=models.CASCADE, related_name="plan_invoices")
    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="plan_lines")
    amount = money_field()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["plan", "invoice"], name="plan_invoice_unique"),
            models.CheckConstraint(condition=Q(amount__gt=0), name="plan_invoice_amount_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.invoice_id} in plan {self.plan_id}"


class InstalmentStatus(models.TextChoices):
    DUE = "due", "Due"
    PAID = "paid", "Paid"
    MISSED = "missed", "Missed"


class PlanInstalment(models.Model):
    plan = models.ForeignKey(PaymentPlan, on_delete=models.CASCADE, related_name="instalments")
    number = models.PositiveSmallIntegerField()
    due_date = models.DateField()
    amount = money_field()
    status = models.CharField(
        max_length=10, choices=InstalmentStatus.choices, default=InstalmentStatus.DUE
    )
    paid_on = models.DateField(null=True, blank=True)
    reminded_on = models.DateField(null=True, blank=True)

    class Meta:
        ordering = ["plan_id", "number"]
        constraints = [
            models.UniqueConstraint(fields=["plan", "number"], name="plan_instalment_unique"),
            models.CheckConstraint(condition=Q(amount__gt=0), name="plan_instalment_positive"),
        ]

    def __str__(self) -> str:
        return f"instalment {self.number} of plan {self.plan_id}"


# --- deductions -----------------------------------------------------------------


class DeductionStatus(models.TextChoices):
    OPEN = "open", "Open"
    VALID = "valid", "Valid: credited"
    REBILLED = "rebilled", "Invalid: re-billed"
    COLLECTED = "collected", "Invalid: collected"


class Deduction(models.Model):
    """A customer paid an invoice short and kept back ``amount`` with a
    reason or a deduction code. While open, the invoice is left alone."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="deductions")
    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="deductions")
    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="deductions")
    amount = money_field()
    currency = models.CharField(max_length=3)
    code = models.CharField(max_length=40, blank=True)
    reason = models.TextField(blank=True)
    status = models.CharField(
        max_length=10, choices=DeductionStatus.choices, default=DeductionStatus.OPEN
    )
    opened_at = models.DateTimeField()
    opened_by_label = models.CharField(max_length=200)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by_label = models.CharField(max_length=200, blank=True)
    resolution = models.TextField(blank=True)
    credit_note = models.ForeignKey(
        CreditNote, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    rebill_invoice = models.ForeignKey(
        Invoice, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["-opened_at", "-id"]
        indexes = [models.Index(fields=["status"]), models.Index(fields=["customer", "status"])]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="deduction_amount_positive"),
            models.CheckConstraint(
                condition=~Q(code="") | ~Q(reason=""), name="deduction_has_code_or_reason"
            ),
            models.UniqueConstraint(
                fields=["payment", "invoice"],
                condition=Q(status="open"),
                name="deduction_one_open_per_payment_invoice",
            ),
        ]

    def __str__(self) -> str:
        return f"deduction {self.pk} ({self.status})"


# --- charges --------------------------------------------------------------------


class ChargeRegime(models.TextChoices):
    NONE = "none", "No interest"
    EU = "eu", "EU statutory (ECB rate + 8 points, €40)"
    UK = "uk", "UK statutory (base rate + 8 %, £40/£70/£100)"
    CONTRACT = "contract", "Contractual rate"


class ChargeRule(models.Model):
    """How late invoices are charged, for a policy and a region. The most
    specific active rule applies: policy and region, then policy, then
    region, then the catch-all (blank policy and region)."""

    name = models.CharField(max_length=100)
    # The collection policy's name (sequencing); blank: any policy.
    policy_name = models.CharField(max_length=100, blank=True)
    # An ISO 3166 country, "EU" for every EU member state; blank: anywhere.
    region = models.CharField(max_length=2, blank=True)
    regime = models.CharField(max_length=10, choices=ChargeRegime.choices)
    contract_rate = models.DecimalField(max_digits=6, decimal_places=3, null=True, blank=True)
    # The statutory fixed sum (EU €40, UK £40/£70/£100) per late invoice.
    compensation = models.BooleanField(default=True)
    fee_fixed = money_field(null=True, blank=True)
    fee_percent = models.DecimalField(max_digits=6, decimal_places=3, null=True, blank=True)
    fee_after_days = models.PositiveSmallIntegerField(default=30)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["policy_name", "region", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["policy_name", "region"],
                condition=Q(is_active=True),
                name="charge_rule_one_active_per_scope",
            ),
            models.CheckConstraint(
                condition=~Q(regime="contract") | Q(contract_rate__isnull=False),
                name="charge_rule_contract_has_rate",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class ChargeKind(models.TextChoices):
    INTEREST = "interest", "Late-payment interest"
    COMPENSATION = "compensation", "Fixed compensation"
    FEE = "fee", "Late fee"


class ChargeStatus(models.TextChoices):
    POSTED = "posted", "Posted"
    WAIVED = "waived", "Waived"


class Charge(models.Model):
    """A charge on a late invoice: its own ledger entry (the invoice's
    amount never changes). Interest is posted by period as it accrues;
    compensation and a fee once per invoice. Waived only with approval."""

    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="charges")
    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="charges")
    kind = models.CharField(max_length=12, choices=ChargeKind.choices)
    amount = money_field()
    currency = models.CharField(max_length=3)
    period_start = models.DateField(null=True, blank=True)
    period_end = models.DateField(null=True, blank=True)
    basis = models.TextField(blank=True)
    status = models.CharField(
        max_length=10, choices=ChargeStatus.choices, default=ChargeStatus.POSTED
    )
    posted_on = models.DateField()
    posted_by_label = models.CharField(max_length=200)
    waiver_approval = models.ForeignKey(
        Approval, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    waived_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["invoice_id", "kind", "period_start", "id"]
        indexes = [models.Index(fields=["customer", "status"])]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="charge_amount_positive"),
            models.UniqueConstraint(
                fields=["invoice", "kind"],
                condition=Q(kind__in=["compensation", "fee"]),
                name="charge_fixed_once_per_invoice",
            ),
            models.UniqueConstraint(
                fields=["invoice", "kind", "period_start"],
                condition=Q(kind="interest"),
                name="charge_interest_once_per_period",
            ),
            models.CheckConstraint(
                condition=~Q(kind="interest")
                | Q(period_start__isnull=False, period_end__gte=F("period_start")),
                name="charge_interest_has_period",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.amount} {self.currency} on {self.invoice_id}"
