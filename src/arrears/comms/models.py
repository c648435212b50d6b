"""Communications: brand, versioned templates, the outbox of messages with
their delivery events, consent records, print batches and the tasks people
work (call tasks, escalations, "fix master data")."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from arrears.ledger.models import Contact, Customer
from arrears.sequencing.models import Action


class Brand(models.Model):
    """The sender's identity on every e-mail and letter (one row, pk 1)."""

    company_name = models.CharField(max_length=200, default="Arrears Demo Ltd")
    sender_name = models.CharField(max_length=200, default="Accounts Receivable")
    sender_email = models.EmailField(default="ar@example.com")
    # A URL (https:// or data:) the e-mails and letters show as the logo.
    logo_url = models.CharField(max_length=2000, blank=True)
    primary_colour = models.CharField(max_length=7, default="#1f4e79")
    postal_address = models.TextField(blank=True, help_text="Letterhead, one line per row")
    phone = models.CharField(max_length=30, blank=True)
    website = models.CharField(max_length=200, blank=True)
    legal_footer = models.TextField(blank=True)
    bank_name = models.CharField(max_length=200, blank=True)
    iban = models.CharField(max_length=34, blank=True)
    bic = models.CharField(max_length=11, blank=True)
    payment_instructions = models.TextField(blank=True)
    # Where customers' links (portal, opt-out) point, e.g. https://ar.example.com
    public_url = models.CharField(max_length=200, default="http://127.0.0.1:8000")
    attach_invoice_pdfs = models.BooleanField(default=False)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return self.company_name


class TemplateChannel(models.TextChoices):
    EMAIL = "email", "E-mail"
    SMS = "sms", "Text message"
    LETTER = "letter", "Letter"
    CALL = "call", "Call script"


class MessageTemplate(models.Model):
    """One version of a template for a key (the policy step's ``template`` or
    ``script``), a channel and a language, in Django's template language.

    Exactly one version per key, channel and language is active. Shipped
    templates are loaded as versions with ``source`` "shipped"; an edit adds
    a new version, and messages keep the version they were rendered from.
    """

    key = models.CharField(max_length=100)
    channel = models.CharField(max_length=10, choices=TemplateChannel.choices)
    language = models.CharField(max_length=5, default="en")
    version = models.PositiveIntegerField()
    subject = models.CharField(max_length=300, blank=True)
    # HTML for e-mails and letters; the text for texts and call scripts.
    body = models.TextField()
    # The plain-text part of an e-mail.
    body_text = models.TextField(blank=True)
    # Regulated wording (e.g. marketing-like reminders) can demand an opt-out.
    list_unsubscribe = models.BooleanField(default=True)
    is_active = models.BooleanField(default=True)
    source = models.CharField(max_length=20, default="shipped")
    sha256 = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.CharField(max_length=200)

    class Meta:
        ordering = ["key", "channel", "language", "-version"]
        constraints = [
            models.UniqueConstraint(
                fields=["key", "channel", "language", "version"], name="template_version_unique"
            ),
            models.UniqueConstraint(
                fields=["key", "channel", "language"],
                condition=Q(is_active=True),
                name="template_one_active",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.key} {self.channel} {self.language} v{self.version}"


class MessageStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    DELIVERED = "delivered", "Delivered"
    BOUNCED = "bounced", "Bounced"
    FAILED = "failed", "Failed"
    # A worker stopped between handing the message over and recording it: it
    # may or may not have left. Never resent by itself; a person decides.
    UNCERTAIN = "uncertain", "Uncertain (worker stopped while sending)"
    CANCELLED = "cancelled", "Cancelled"


class PrintBatch(models.Model):
    """One day's letters in one PDF, for the post room."""

    day = models.DateField()
    pdf = models.FileField(upload_to="print-batches/")
    letters = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.CharField(max_length=200)

    class Meta:
        ordering = ["-day", "-id"]

    def __str__(self) -> str:
        return f"print batch {self.day} ({self.letters} letters)"


class Message(models.Model):
    """One message in the outbox. Written in the same transaction as the
    action that decided it; rendered and delivered by a worker.

    ``idempotency_key`` is unique: one message per action and channel (a
    fallback is a new message with its own key). ``claimed_by`` and
    ``claimed_at`` mark the worker sending it.
    """

    # The daily run writes a message per action: its indexes are the ones in
    # Meta, without duplicates, and partial where most rows hold no value.
    action = models.ForeignKey(
        Action,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="messages",
        db_index=False,
    )
    customer = models.ForeignKey(
        Customer, on_delete=models.CASCADE, related_name="messages", db_index=False
    )
    contact = models.ForeignKey(
        Contact,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="messages",
        db_index=False,
    )
    channel = models.CharField(max_length=10, choices=TemplateChannel.choices)
    template_key = models.CharField(max_length=100)
    template_version = models.PositiveIntegerField(null=True, blank=True)
    language = models.CharField(max_length=5, blank=True)
    invoice_refs = models.JSONField(default=list)
    deadline = models.DateField(null=True, blank=True)
    # Recipients as sent (e-mail addresses ;-joined, a phone number, or the
    # postal block for a letter).
    to_address = models.TextField(blank=True)
    subject = models.CharField(max_length=300, blank=True)
    body_text = models.TextField(blank=True)
    body_html = models.TextField(blank=True)
    status = models.CharField(
        max_length=10, choices=MessageStatus.choices, default=MessageStatus.QUEUED
    )
    # Not before this instant (the customer's business hours).
    not_before = models.DateTimeField()
    next_attempt_at = models.DateTimeField()
    attempts = models.PositiveIntegerField(default=0)
    claimed_by = models.CharField(max_length=100, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    provider_id = models.CharField(max_length=300, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    # Which message this one replaces after a bounce or opt-out.
    fallback_of = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="fallbacks",
        db_index=False,
    )
    print_batch = models.ForeignKey(
        PrintBatch,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="messages",
        db_index=False,
    )
    tracking_number = models.CharField(max_length=100, blank=True)
    idempotency_key = models.CharField(max_length=200)
    created_by = models.CharField(max_length=200, default="policy run")
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["status", "next_attempt_at"]),
            models.Index(fields=["customer", "created_at"]),
            models.Index(fields=["action"]),
            # Delivery receipts find their message by the provider's id.
            models.Index(
                fields=["provider_id"], name="message_provider_id", condition=~Q(provider_id="")
            ),
            models.Index(
                fields=["contact"], name="message_contact", condition=Q(contact__isnull=False)
            ),
            models.Index(
                fields=["fallback_of"],
                name="message_fallback_of",
                condition=Q(fallback_of__isnull=False),
            ),
            models.Index(
                fields=["print_batch"],
                name="message_print_batch",
                condition=Q(print_batch__isnull=False),
            ),
        ]
        constraints = [
            models.UniqueConstraint(fields=["idempotency_key"], name="message_idempotency_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.channel} to {self.customer_id} ({self.status})"


class DeliveryEvent(models.Model):
    """What happened to a message: queued, sent, delivered, bounced, opened,
    failed, retried, uncertain, cancelled, opted out."""

    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=20)
    at = models.DateTimeField()
    detail = models.TextField(blank=True)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.message_id} {self.kind}"


class ConsentRecord(models.Model):
    """Evidence for a contact's consent or opt-out on one channel: where it
    came from, when, and what it covers. The contact's flags hold the state."""

    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="consents")
    channel = models.CharField(max_length=10, choices=TemplateChannel.choices)
    granted = models.BooleanField()
    source = models.CharField(max_length=60)
    scope = models.CharField(max_length=200, default="collections")
    at = models.DateTimeField()
    actor_label = models.CharField(max_length=200)

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.contact_id} {self.channel} {'granted' if self.granted else 'withdrawn'}"


class TaskKind(models.TextChoices):
    CALL = "call", "Call"
    ESCALATION = "escalation", "Management escalation"
    CREDIT_HOLD = "credit_hold", "Credit hold proposal"
    AGENCY = "agency", "Agency turnover proposal"
    WRITE_OFF = "write_off", "Write-off proposal"
    FIX_MASTER_DATA = "fix_master_data", "Fix master data"
    REVIEW_MESSAGE = "review_message", "Review a message"
    TASK = "task", "Task"


class TaskStatus(models.TextChoices):
    OPEN = "open", "Open"
    DONE = "done", "Done"
    CANCELLED = "cancelled", "Cancelled"


class CallOutcome(models.TextChoices):
    NO_ANSWER = "no_answer", "No answer"
    VOICEMAIL = "voicemail", "Left a voicemail"
    PROMISE = "promise", "Spoke — promise to pay"
    DISPUTE = "dispute", "Spoke — dispute"
    SPOKE = "spoke", "Spoke — other"
    WRONG_NUMBER = "wrong_number", "Wrong number"
    DO_NOT_CALL = "do_not_call", "Asked not to be called"


class Task(models.Model):
    """Work for a person: a call with its script, an escalation, a proposal
    to approve, master data to fix. One per action (``action`` unique)."""

    kind = models.CharField(max_length=20, choices=TaskKind.choices)
    action = models.OneToOneField(
        Action, null=True, blank=True, on_delete=models.SET_NULL, related_name="task"
    )
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="tasks")
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="tasks",
    )
    title = models.CharField(max_length=300)
    # Why it exists (the policy's reason or what went wrong).
    reason = models.TextField(blank=True)
    template_key = models.CharField(max_length=100, blank=True)
    invoice_refs = models.JSONField(default=list)
    due_at = models.DateTimeField()
    snoozed_until = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=10, choices=TaskStatus.choices, default=TaskStatus.OPEN)
    outcome = models.CharField(max_length=20, blank=True)
    note = models.TextField(blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    completed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["due_at", "id"]
        indexes = [
            models.Index(fields=["assigned_to", "status", "due_at"]),
            models.Index(fields=["customer", "status"]),
            models.Index(fields=["status", "due_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.title}"
