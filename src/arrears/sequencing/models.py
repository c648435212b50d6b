"""Applied collection policies (versioned) and per-customer policy settings."""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from arrears.ledger.models import Customer


class PolicyVersion(models.Model):
    """One applied version of a policy file. Exactly one version is active:
    the policy every customer without an override runs."""

    name = models.CharField(max_length=100)
    version = models.PositiveIntegerField()
    yaml_text = models.TextField()
    sha256 = models.CharField(max_length=64)
    applied_at = models.DateTimeField()
    applied_by = models.CharField(max_length=200)
    is_active = models.BooleanField(default=False)

    class Meta:
        ordering = ["name", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["name", "version"], name="policy_version_unique"),
            models.UniqueConstraint(
                fields=["is_active"], condition=Q(is_active=True), name="policy_one_active"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} v{self.version}"


class Segment(models.TextChoices):
    NEW = "new", "New"
    GOOD = "good", "Good payer"
    SLOW = "slow", "Slow"
    RISKY = "risky", "Risky"


class CustomerPolicy(models.Model):
    """A customer's own policy settings: another policy (by name, its newest
    version) instead of the active one, and a segment set by hand."""

    customer = models.OneToOneField(
        Customer, on_delete=models.CASCADE, related_name="policy_settings"
    )
    policy_name = models.CharField(max_length=100, blank=True)
    segment = models.CharField(max_length=10, choices=Segment.choices, blank=True)
    segment_reason = models.CharField(max_length=300, blank=True)
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.CharField(max_length=200)

    class Meta:
        verbose_name_plural = "customer policies"
        constraints = [
            models.CheckConstraint(
                condition=Q(segment="") | ~Q(segment_reason=""),
                name="customer_policy_segment_has_reason",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.customer_id}: {self.policy_name or 'active policy'} {self.segment}"
