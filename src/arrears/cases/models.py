"""Cases that take invoices out of the ordinary dunning flow: promises to
pay (they pause reminders until the promised date plus a grace period) and
disputes (disputed invoices are not dunned while the dispute is open)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from arrears.ledger.models import MONEY_DIGITS, MONEY_PLACES, Customer, Invoice, money_field


class PromiseStatus(models.TextChoices):
    OPEN = "open", "Open"
    KEPT = "kept", "Kept"
    BROKEN = "broken", "Broken"
    CANCELLED = "cancelled", "Cancelled"


class Promise(models.Model):
    """A customer's promise to pay by a date (an amount, or the invoices
    named). While open and not past ``promised_on`` + ``grace_days``, the
    policy leaves the customer alone."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="promises")
    invoice_refs = models.JSONField(default=list, blank=True)
    amount = models.DecimalField(
        max_digits=MONEY_DIGITS, decimal_places=MONEY_PLACES, null=True, blank=True
    )
    currency = models.CharField(max_length=3, blank=True)
    promised_on = models.DateField()
    grace_days = models.PositiveSmallIntegerField(default=3)
    status = models.CharField(
        max_length=10, choices=PromiseStatus.choices, default=PromiseStatus.OPEN
    )
    # Where it was made: "call", "portal", "e-mail", "staff".
    source = models.CharField(max_length=20)
    note = models.TextField(blank=True)
    created_at = models.DateTimeField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_by_label = models.CharField(max_length=200)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolution = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["customer", "status"]), models.Index(fields=["status"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(amount__isnull=True) | Q(amount__gt=0), name="promise_amount_positive"
            ),
            models.CheckConstraint(
                condition=Q(amount__isnull=True) | ~Q(currency=""),
                name="promise_amount_has_currency",
            ),
        ]

    def __str__(self) -> str:
        return f"promise by {self.customer_id} to pay by {self.promised_on} ({self.status})"


class DisputeStatus(models.TextChoices):
    OPEN = "open", "Open"
    VALID = "valid", "Resolved: valid"
    REJECTED = "rejected", "Resolved: rejected"


class DisputeReason(models.TextChoices):
    PRICING = "pricing", "Pricing or discount"
    QUANTITY = "quantity", "Quantity or short delivery"
    QUALITY = "quality", "Quality or damaged goods"
    NOT_RECEIVED = "not_received", "Goods or service not received"
    DUPLICATE = "duplicate", "Duplicate invoice"
    TAX = "tax", "Tax or invoice details"
    OTHER = "other", "Other"


class Dispute(models.Model):
    """A disagreement about one or more invoices (whole or part amounts).
    While open, its invoices leave the dunning flow."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="disputes")
    reason = models.CharField(max_length=20, choices=DisputeReason.choices)
    description = models.TextField(blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    status = models.CharField(
        max_length=10, choices=DisputeStatus.choices, default=DisputeStatus.OPEN
    )
    opened_at = models.DateTimeField()
    opened_by_label = models.CharField(max_length=200)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolution = models.TextField(blank=True)

    class Meta:
        ordering = ["-opened_at", "-id"]
        indexes = [models.Index(fields=["customer", "status"])]

    def __str__(self) -> str:
        return f"dispute {self.pk} ({self.status})"


class DisputeLine(models.Model):
    """An invoice in a dispute and the amount disputed (at most its open
    amount when the dispute was opened)."""

    dispute = models.ForeignKey(Dispute, on_delete=models.CASCADE, related_name="lines")
    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="dispute_lines")
    amount = money_field()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["dispute", "invoice"], name="dispute_line_unique"),
            models.CheckConstraint(condition=Q(amount__gt=0), name="dispute_line_amount_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.invoice_id}: {self.amount}"


# Approvals, credit holds, placements and write-offs (cases/approval_models.py).
from .approval_models import *  # noqa: E402, F403

# Payment plans, deductions and late-payment charges (cases/plan_models.py).
from .plan_models import *  # noqa: E402, F403
