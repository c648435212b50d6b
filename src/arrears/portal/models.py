"""The customer portal's own rows: link revocation, rate-limit windows,
dispute attachments, the onboarding state per customer and credit
applications with their documents."""

from __future__ import annotations

import uuid
from pathlib import PurePath

from django.conf import settings
from django.db import models
from django.db.models import Q

from arrears.cases.models import Dispute
from arrears.ledger.models import Customer, money_field


class PortalAccess(models.Model):
    """A customer's portal links are valid only for the current
    ``generation``: bumping it revokes every link and session issued before.
    A customer without a row is at generation 0."""

    customer = models.OneToOneField(
        Customer, on_delete=models.CASCADE, related_name="portal_access"
    )
    generation = models.PositiveIntegerField(default=0)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by_label = models.CharField(max_length=200, blank=True)

    def __str__(self) -> str:
        return f"portal access {self.customer_id} g{self.generation}"


class RateLimitWindow(models.Model):
    """Hits on one key (a scope and a hashed IP, address or customer) in one
    fixed window. In the database, so the limit holds across web processes
    and machines; old windows are deleted as new ones start."""

    key = models.CharField(max_length=120)
    window_start = models.DateTimeField()
    hits = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["key", "window_start"], name="ratelimit_window_unique")
        ]
        indexes = [models.Index(fields=["window_start"], name="ratelimit_window_start")]

    def __str__(self) -> str:
        return f"{self.key} {self.window_start:%H:%M} {self.hits}"


def _upload_path(folder: str, filename: str) -> str:
    # Never the uploader's name on disk: a random name with the extension of
    # the type the content was checked to be.
    return f"portal/{folder}/{uuid.uuid4().hex}{PurePath(filename).suffix.lower()}"


def dispute_upload_to(instance: DisputeAttachment, filename: str) -> str:
    return _upload_path("disputes", filename)


def application_upload_to(instance: ApplicationDocument, filename: str) -> str:
    return _upload_path("applications", filename)


class DisputeAttachment(models.Model):
    """Evidence a customer uploaded with a dispute (PDF, PNG or JPEG)."""

    dispute = models.ForeignKey(Dispute, on_delete=models.CASCADE, related_name="attachments")
    file = models.FileField(upload_to=dispute_upload_to, max_length=200)
    name = models.CharField(max_length=200, help_text="The file name as uploaded")
    content_type = models.CharField(max_length=40)
    size = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)
    uploaded_at = models.DateTimeField()
    uploaded_by_label = models.CharField(max_length=200)

    class Meta:
        ordering = ["uploaded_at", "id"]

    def __str__(self) -> str:
        return self.name


class Onboarding(models.Model):
    """A new customer's way through the onboarding sequence: welcomed once,
    reminded at most every few days while master data is incomplete, a task
    for staff when it stays incomplete; ``completed_at`` ends it."""

    customer = models.OneToOneField(Customer, on_delete=models.CASCADE, related_name="onboarding")
    started_on = models.DateField()
    score = models.PositiveSmallIntegerField(default=0)
    missing = models.JSONField(default=list, blank=True)
    welcomed_at = models.DateTimeField(null=True, blank=True)
    last_reminded_on = models.DateField(null=True, blank=True)
    reminders = models.PositiveSmallIntegerField(default=0)
    task_opened_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(score__lte=100), name="onboarding_score_max_100")
        ]
        indexes = [models.Index(fields=["completed_at"], name="onboarding_completed")]

    def __str__(self) -> str:
        return f"onboarding {self.customer_id} {self.score}%"


class ApplicationStatus(models.TextChoices):
    SUBMITTED = "submitted", "Waiting for review"
    APPROVED = "approved", "Approved"
    REDUCED = "reduced", "Approved with a smaller limit"
    DENIED = "denied", "Denied"


class CreditApplication(models.Model):
    """A prospective customer's request for trade credit, from the public
    form. ``ref`` is random so applications cannot be counted or guessed."""

    ref = models.CharField(max_length=20, unique=True)
    company_name = models.CharField(max_length=200)
    country = models.CharField(max_length=2)
    tax_id = models.CharField(max_length=40)
    registered_address = models.TextField()
    billing_address = models.TextField(blank=True)
    ap_name = models.CharField(max_length=200)
    ap_email = models.EmailField()
    ap_phone = models.CharField(max_length=20, blank=True)
    trade_references = models.TextField()
    bank_reference = models.TextField()
    requested_limit = money_field()
    currency = models.CharField(max_length=3)
    status = models.CharField(
        max_length=10, choices=ApplicationStatus.choices, default=ApplicationStatus.SUBMITTED
    )
    submitted_at = models.DateTimeField()
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    granted_limit = money_field(null=True, blank=True)
    notes = models.TextField(blank=True)
    customer = models.ForeignKey(
        Customer,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="credit_applications",
    )

    class Meta:
        ordering = ["-submitted_at", "-id"]
        indexes = [models.Index(fields=["status", "submitted_at"], name="application_status")]
        constraints = [
            models.CheckConstraint(
                condition=Q(requested_limit__gt=0), name="application_requested_positive"
            ),
            models.CheckConstraint(
                condition=Q(granted_limit__isnull=True) | Q(granted_limit__gt=0),
                name="application_granted_positive",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.ref} {self.company_name}"


class ApplicationDocument(models.Model):
    """A document attached to a credit application (PDF, PNG or JPEG)."""

    application = models.ForeignKey(
        CreditApplication, on_delete=models.CASCADE, related_name="documents"
    )
    file = models.FileField(upload_to=application_upload_to, max_length=200)
    name = models.CharField(max_length=200)
    content_type = models.CharField(max_length=40)
    size = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.name
