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


class PolicySplit(models.Model):
    """An A/B split: ``share_percent`` of the customers without a policy of
    their own run ``variant_name`` instead of the active policy, chosen by a
    stable hash of their ref (the same customers every day, new ones too).
    At most one split is active."""

    variant_name = models.CharField(max_length=100)
    share_percent = models.PositiveSmallIntegerField()
    is_active = models.BooleanField(default=True)
    started_at = models.DateTimeField()
    started_by = models.CharField(max_length=200)
    stopped_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["is_active"], condition=Q(is_active=True), name="policy_one_active_split"
            ),
            models.CheckConstraint(
                condition=Q(share_percent__gte=1, share_percent__lte=99),
                name="policy_split_share_1_99",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.share_percent}% on {self.variant_name}"


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


class CustomerSegment(models.Model):
    """The segment the daily run last computed for a customer (or the one
    set by hand), with why: for reports and the worklist, which group and
    rank by it without recomputing payment histories."""

    customer = models.OneToOneField(
        Customer, on_delete=models.CASCADE, related_name="segment_state"
    )
    segment = models.CharField(max_length=10, choices=Segment.choices)
    reason = models.CharField(max_length=300)
    as_of = models.DateField()

    class Meta:
        indexes = [models.Index(fields=["segment"])]

    def __str__(self) -> str:
        return f"{self.customer_id}: {self.segment}"


class ActionStatus(models.TextChoices):
    PLANNED = "planned", "Planned"
    DONE = "done", "Done"
    CANCELLED = "cancelled", "Cancelled"
    FAILED = "failed", "Failed"


class Action(models.Model):
    """One consolidated action the policy decided for a customer: one step,
    one day, covering one or more invoices.

    ``idempotency_key`` (customer|step|day) is unique in the database, so a
    re-run, a retried crash or two workers racing can never plan it twice.
    ``invoice_refs`` are the invoices it covers (refs are unique): a table
    of links besides, ten rows per action, was the largest write of a run.
    """

    customer = models.ForeignKey(
        Customer, on_delete=models.CASCADE, related_name="actions", db_index=False
    )
    invoice_refs = models.JSONField(default=list)
    kind = models.CharField(max_length=20)
    stage = models.CharField(max_length=20)
    step = models.CharField(max_length=100)
    planned_for = models.DateField()
    planned_at = models.DateTimeField()
    status = models.CharField(
        max_length=10, choices=ActionStatus.choices, default=ActionStatus.PLANNED
    )
    reason = models.TextField()
    # What the step says to use: a message template or a call script, and
    # the deadline a final-demand letter names.
    template = models.CharField(max_length=100, blank=True)
    deadline = models.DateField(null=True, blank=True)
    policy_name = models.CharField(max_length=100)
    policy_version = models.PositiveIntegerField(default=0)
    requires_approval = models.BooleanField(default=False)
    idempotency_key = models.CharField(max_length=300)
    # Which run inserted the row: after an insert that skips conflicts, the
    # rows carrying this run's id are exactly the ones it created.
    run_id = models.CharField(max_length=32, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["planned_for", "customer_id", "id"]
        indexes = [
            models.Index(fields=["customer", "planned_for"]),
            models.Index(fields=["planned_for", "status"]),
            models.Index(fields=["run_id"]),
        ]
        constraints = [
            models.UniqueConstraint(fields=["idempotency_key"], name="action_idempotency_unique"),
            models.CheckConstraint(
                condition=Q(status__in=["planned", "done", "cancelled", "failed"]),
                name="action_status_valid",
            ),
        ]

    def __str__(self) -> str:
        return self.idempotency_key


class ScheduledRun(models.Model):
    """The daily run a worker started on its own, one row per day.

    Inserting the row is the claim: ``day`` is unique, so of any number of
    workers reaching the run time together exactly one starts the run (the
    others get an IntegrityError). ``finished_at`` stays empty until the run
    is done (inline) or its partition tasks are queued; a claim left
    unfinished for long (its worker died) can be taken over, which is safe
    because the run itself is idempotent.
    """

    day = models.DateField(unique=True)
    started_at = models.DateTimeField()
    started_by = models.CharField(max_length=100)
    partitions = models.PositiveIntegerField(default=1)
    attempts = models.PositiveIntegerField(default=1)
    finished_at = models.DateTimeField(null=True, blank=True)
    # The run's ``run --json`` document (inline) or the queued task ids.
    summary = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-day"]

    def __str__(self) -> str:
        return f"daily run {self.day} by {self.started_by}"
