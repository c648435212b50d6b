"""What the reports app stores: the weekly digests sent (one per week)."""

from __future__ import annotations

from django.db import models


class WeeklyDigest(models.Model):
    """The key-figures e-mail of one week. ``week`` (the Monday) is unique:
    inserting the row is how one worker among many claims the sending."""

    week = models.DateField(unique=True)
    as_of = models.DateField()
    recipients = models.JSONField(default=list)
    claimed_by = models.CharField(max_length=200)
    claimed_at = models.DateTimeField()
    sent_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-week"]

    def __str__(self) -> str:
        return f"digest of the week of {self.week}"
