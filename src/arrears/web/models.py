"""Rows the staff app owns: documents attached to a customer (a signed
agreement, a proof of delivery, a remittance advice), and the worklist's
ranks of tasks."""

from __future__ import annotations

import uuid
from pathlib import PurePath

from django.conf import settings
from django.db import models

from arrears.comms.models import Task
from arrears.ledger.models import Customer, Invoice


def document_upload_to(instance: Document, filename: str) -> str:
    # Never the uploader's name on disk: a random name with the extension of
    # the type the content was checked to be (the original name is a column).
    return f"documents/{uuid.uuid4().hex}{PurePath(filename).suffix.lower()}"


class Document(models.Model):
    """A file attached to a customer, and optionally to one of its invoices.
    Its type and size were checked when it was uploaded
    (``arrears.portal.uploads``)."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="documents")
    invoice = models.ForeignKey(
        Invoice, null=True, blank=True, on_delete=models.SET_NULL, related_name="documents"
    )
    file = models.FileField(upload_to=document_upload_to, max_length=200)
    name = models.CharField(max_length=200, help_text="The file name as uploaded")
    content_type = models.CharField(max_length=40)
    size = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)
    note = models.CharField(max_length=300, blank=True)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    uploaded_by_label = models.CharField(max_length=200)
    uploaded_at = models.DateTimeField()

    class Meta:
        ordering = ["-uploaded_at", "-id"]
        indexes = [models.Index(fields=["customer", "-uploaded_at"], name="document_customer_at")]

    def __str__(self) -> str:
        return self.name


class TaskRank(models.Model):
    """An open task's rank on the worklist (``arrears.web.ranking``), in the
    parts that change only with the ledger: ``risk`` = amount at risk x
    segment weight, ``since`` = the due date of the oldest invoice counted
    (None: none). The day's priority is computed from them when the list is
    read, so the days past due moving on rewrite nothing. A row of its own,
    narrow, so that ranking tens of thousands of new tasks writes little;
    none until the task is first ranked."""

    task = models.OneToOneField(
        Task, primary_key=True, on_delete=models.CASCADE, related_name="rank"
    )
    risk = models.DecimalField(max_digits=30, decimal_places=4)
    since = models.DateField(null=True, blank=True)

    def __str__(self) -> str:
        return f"task {self.task_id}: {self.risk} since {self.since}"
