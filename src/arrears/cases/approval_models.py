"""Models for the serious end of collection: approvals (four eyes, an amount
matrix), credit holds and order releases, the webhook outbox that tells order
systems about holds, agency or attorney placements, and bad-debt write-offs
with their recoveries.

Imported at the bottom of ``cases/models.py`` so Django finds them in the
``cases`` app.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from arrears.ledger.models import CreditNote, Customer, Invoice, Payment, money_field

__all__ = [
    "AgencyCollection",
    "Approval",
    "ApprovalKind",
    "ApprovalStatus",
    "CreditHold",
    "OrderRelease",
    "Placement",
    "PlacementKind",
    "PlacementStatus",
    "Recovery",
    "WebhookDelivery",
    "WebhookStatus",
    "WriteOff",
    "WriteOffStatus",
]


def _user_fk() -> Any:
    # Typed Any: django-stubs types a ForeignKey only where it is declared.
    return models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )


class ApprovalKind(models.TextChoices):
    CREDIT_HOLD = "credit_hold", "Credit hold"
    ORDER_RELEASE = "order_release", "Order release"
    AGENCY_PLACEMENT = "agency_placement", "Agency or attorney placement"
    WRITE_OFF = "write_off", "Bad-debt write-off"
    WAIVER = "waiver", "Fee or interest waiver"


class ApprovalStatus(models.TextChoices):
    PENDING = "pending", "Waiting for approval"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"
    CANCELLED = "cancelled", "Cancelled"


class Approval(models.Model):
    """A request for someone else to approve something (four eyes).

    ``subject_type``/``subject_ref`` name what is to be approved (a write-off,
    a placement, a fee…). ``required_role`` is the lowest role of the amount
    matrix that may decide, fixed when the request is made. The database
    itself refuses a decision by the requester.
    """

    kind = models.CharField(max_length=20, choices=ApprovalKind.choices)
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="approvals")
    amount = money_field()
    currency = models.CharField(max_length=3)
    subject_type = models.CharField(max_length=40)
    subject_ref = models.CharField(max_length=64)
    reason = models.TextField()
    required_role = models.CharField(max_length=20)
    status = models.CharField(
        max_length=10, choices=ApprovalStatus.choices, default=ApprovalStatus.PENDING
    )
    requested_by = _user_fk()
    requested_by_label = models.CharField(max_length=200)
    requested_at = models.DateTimeField()
    decided_by = _user_fk()
    decided_by_label = models.CharField(max_length=200, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_note = models.TextField(blank=True)

    class Meta:
        ordering = ["-requested_at", "-id"]
        indexes = [
            models.Index(fields=["status", "requested_at"]),
            models.Index(fields=["subject_type", "subject_ref"]),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gte=0), name="approval_amount_not_negative"),
            # Four eyes, in the database as well as in the service.
            models.CheckConstraint(
                condition=Q(decided_by__isnull=True)
                | Q(requested_by__isnull=True)
                | ~Q(decided_by=F("requested_by")),
                name="approval_not_by_requester",
            ),
            models.UniqueConstraint(
                fields=["kind", "subject_type", "subject_ref"],
                condition=Q(status="pending"),
                name="approval_one_pending_per_subject",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.subject_ref} ({self.status})"


class CreditHold(models.Model):
    """New orders for the customer are held while ``released_at`` is empty
    (at most one active hold per customer)."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="credit_holds")
    # Which rule or who: "days_past_due", "over_credit_limit", "broken_promise",
    # "policy", "manual".
    rule = models.CharField(max_length=30)
    reason = models.TextField()
    approval = models.ForeignKey(
        Approval, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    placed_at = models.DateTimeField()
    placed_by = _user_fk()
    placed_by_label = models.CharField(max_length=200)
    released_at = models.DateTimeField(null=True, blank=True)
    released_by = _user_fk()
    released_by_label = models.CharField(max_length=200, blank=True)
    release_reason = models.TextField(blank=True)

    class Meta:
        ordering = ["-placed_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["customer"],
                condition=Q(released_at__isnull=True),
                name="credit_hold_one_active_per_customer",
            ),
        ]

    def __str__(self) -> str:
        return f"hold on {self.customer_id} since {self.placed_at:%Y-%m-%d}"


class OrderRelease(models.Model):
    """One order let through a credit hold, usually traded for a partial
    payment, with who approved it."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="order_releases")
    hold = models.ForeignKey(CreditHold, on_delete=models.PROTECT, related_name="releases")
    order_ref = models.CharField(max_length=64)
    amount = money_field()
    currency = models.CharField(max_length=3)
    payment = models.ForeignKey(
        Payment, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    approver = _user_fk()
    approver_label = models.CharField(max_length=200)
    note = models.TextField(blank=True)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="order_release_amount_positive"),
            models.UniqueConstraint(fields=["hold", "order_ref"], name="order_release_once"),
        ]

    def __str__(self) -> str:
        return f"order {self.order_ref} released"


class WebhookStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed (gave up)"


class WebhookDelivery(models.Model):
    """One event for the order systems' webhook, written in the transaction
    that changed the hold and posted by a worker with retries (at least
    once: receivers deduplicate by ``X-Arrears-Delivery``)."""

    event = models.CharField(max_length=40)
    customer = models.ForeignKey(
        Customer, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    url = models.URLField(max_length=500)
    payload = models.JSONField()
    status = models.CharField(
        max_length=10, choices=WebhookStatus.choices, default=WebhookStatus.PENDING
    )
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    claimed_by = models.CharField(max_length=100, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["status", "next_attempt_at"])]

    def __str__(self) -> str:
        return f"{self.event} #{self.pk} ({self.status})"


class PlacementKind(models.TextChoices):
    AGENCY = "agency", "Collection agency"
    ATTORNEY = "attorney", "Attorney"


class PlacementStatus(models.TextChoices):
    PROPOSED = "proposed", "Proposed (waiting for approval)"
    APPROVED = "approved", "Approved (to be handed over)"
    PLACED = "placed", "Placed"
    REJECTED = "rejected", "Rejected"
    RECALLED = "recalled", "Recalled"
    CLOSED = "closed", "Closed"


ACTIVE_PLACEMENT = ("proposed", "approved", "placed")


class Placement(models.Model):
    """Debt handed to a collection agency or an attorney. While placed, the
    customer gets no automated dunning."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="placements")
    kind = models.CharField(max_length=10, choices=PlacementKind.choices)
    agency = models.CharField(max_length=200)
    invoice_refs = models.JSONField(default=list)
    amount = money_field()
    currency = models.CharField(max_length=3)
    # The agency's commission on what it collects, in percent.
    fee_percent = models.DecimalField(max_digits=5, decimal_places=2, default=0)
    reason = models.TextField()
    status = models.CharField(
        max_length=10, choices=PlacementStatus.choices, default=PlacementStatus.PROPOSED
    )
    approval = models.ForeignKey(
        Approval, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    proposed_by = _user_fk()
    proposed_by_label = models.CharField(max_length=200)
    proposed_at = models.DateTimeField()
    placed_at = models.DateTimeField(null=True, blank=True)
    placed_by_label = models.CharField(max_length=200, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    end_reason = models.TextField(blank=True)

    class Meta:
        ordering = ["-proposed_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="placement_amount_positive"),
            models.CheckConstraint(
                condition=Q(fee_percent__gte=0) & Q(fee_percent__lte=100),
                name="placement_fee_percent_range",
            ),
            models.UniqueConstraint(
                fields=["customer"],
                condition=Q(status__in=ACTIVE_PLACEMENT),
                name="placement_one_active_per_customer",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.customer_id} with {self.agency} ({self.status})"


class AgencyCollection(models.Model):
    """Money an agency reports it collected, posted to the ledger as a
    payment, and the agency's fee on it."""

    placement = models.ForeignKey(Placement, on_delete=models.PROTECT, related_name="collections")
    payment = models.OneToOneField(Payment, on_delete=models.PROTECT, related_name="+")
    amount = money_field()
    fee = money_field(default=0)
    currency = models.CharField(max_length=3)
    reported_on = models.DateField()
    recorded_by_label = models.CharField(max_length=200)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["reported_on", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="agency_collection_positive"),
            models.CheckConstraint(
                condition=Q(fee__gte=0) & Q(fee__lte=F("amount")),
                name="agency_collection_fee_within_amount",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.amount} {self.currency} via {self.placement_id}"


class WriteOffStatus(models.TextChoices):
    PROPOSED = "proposed", "Proposed (waiting for approval)"
    WRITTEN_OFF = "written_off", "Written off"
    REJECTED = "rejected", "Rejected"


class WriteOff(models.Model):
    """Bad debt written off one invoice. Once approved, the ledger entry is a
    credit note (``credit_note``) allocated to the invoice like any other, so
    balances, aging and reports need no special case; this row says the
    credit note is a write-off, and why."""

    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="write_offs")
    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="write_offs")
    amount = money_field()
    currency = models.CharField(max_length=3)
    reason = models.TextField()
    status = models.CharField(
        max_length=12, choices=WriteOffStatus.choices, default=WriteOffStatus.PROPOSED
    )
    approval = models.ForeignKey(
        Approval, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    credit_note = models.OneToOneField(
        CreditNote, null=True, blank=True, on_delete=models.PROTECT, related_name="write_off"
    )
    proposed_by = _user_fk()
    proposed_by_label = models.CharField(max_length=200)
    proposed_at = models.DateTimeField()
    written_off_on = models.DateField(null=True, blank=True)

    class Meta:
        ordering = ["-proposed_at", "-id"]
        indexes = [models.Index(fields=["status", "written_off_on"])]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="write_off_amount_positive"),
            models.UniqueConstraint(
                fields=["invoice"],
                condition=Q(status="proposed"),
                name="write_off_one_proposal_per_invoice",
            ),
        ]

    def __str__(self) -> str:
        return f"write-off {self.pk} of {self.invoice_id} ({self.status})"


class Recovery(models.Model):
    """Money received after a write-off for the written-off debt. The payment
    counts as applied (to bad-debt recovery, not to an invoice)."""

    write_off = models.ForeignKey(WriteOff, on_delete=models.PROTECT, related_name="recoveries")
    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="+")
    amount = money_field()
    currency = models.CharField(max_length=3)
    received_on = models.DateField()
    recorded_by_label = models.CharField(max_length=200)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["received_on", "id"]
        verbose_name_plural = "recoveries"
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="recovery_amount_positive"),
        ]

    def __str__(self) -> str:
        return f"recovery of {self.amount} {self.currency} on {self.write_off_id}"
