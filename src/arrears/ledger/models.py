"""The AR ledger: customers, contacts, invoices, payments, credit notes and
the allocations that settle invoices; plus the activity log and import runs.

Balances are derived from allocations. Each document keeps a running
``allocated`` total so the database itself can refuse an allocation that
would exceed what is open or what was paid (CHECK constraints).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import F, Q

# Four decimals hold every ISO 4217 minor unit; values are quantised to the
# currency's own minor units on the way in.
MONEY_DIGITS, MONEY_PLACES = 18, 4


def money_field(**options: Any) -> models.DecimalField[Decimal, Decimal]:
    return models.DecimalField(max_digits=MONEY_DIGITS, decimal_places=MONEY_PLACES, **options)


class Channel(models.TextChoices):
    EMAIL = "email", "E-mail"
    SMS = "sms", "Text message"
    CALL = "call", "Phone call"
    LETTER = "letter", "Letter"


class Automation(models.TextChoices):
    AUTO = "auto", "Automated"
    WHITE_GLOVE = "white_glove", "White glove (manual only)"
    PAUSED = "paused", "Paused"


class Customer(models.Model):
    ref = models.CharField("customer ref", max_length=64, unique=True)
    name = models.CharField(max_length=200)
    country = models.CharField(max_length=2, help_text="ISO 3166-1 alpha-2")
    phone = models.CharField(max_length=20, blank=True, help_text="E.164")
    tax_id = models.CharField(max_length=40, blank=True)
    currency = models.CharField(max_length=3, blank=True, help_text="ISO 4217, preferred")
    credit_limit = money_field(null=True, blank=True)
    preferred_channel = models.CharField(max_length=10, choices=Channel.choices, blank=True)
    automation = models.CharField(
        max_length=12, choices=Automation.choices, default=Automation.AUTO
    )
    language = models.CharField(max_length=5, blank=True)
    customer_since = models.DateField(null=True, blank=True)
    # Postal address for letters, one line per row (name not included).
    postal_address = models.TextField(blank=True)
    # IANA zone for business hours; blank: the country's main zone.
    time_zone = models.CharField(max_length=64, blank=True)
    # The collector who owns the account: call tasks and replies go to them.
    collector = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="customers",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["ref"]
        constraints = [
            models.CheckConstraint(
                condition=Q(credit_limit__isnull=True) | Q(credit_limit__gte=0),
                name="customer_credit_limit_not_negative",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.ref} {self.name}"


class ContactRole(models.TextChoices):
    AP = "ap", "Accounts payable"
    BILLING = "billing", "Billing"
    OWNER = "owner", "Owner / management"
    OTHER = "other", "Other"


class Contact(models.Model):
    """A person or mailbox at a customer, with consent per channel."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="contacts")
    name = models.CharField(max_length=200, blank=True)
    role = models.CharField(max_length=10, choices=ContactRole.choices, default=ContactRole.AP)
    email = models.EmailField(blank=True)
    phone = models.CharField(max_length=20, blank=True, help_text="E.164")
    consent_email = models.BooleanField(default=True)
    consent_sms = models.BooleanField(default=False)
    consent_call = models.BooleanField(default=True)
    opted_out_email = models.BooleanField(default=False)
    opted_out_sms = models.BooleanField(default=False)
    opted_out_call = models.BooleanField(default=False)
    email_bounced = models.BooleanField(default=False)
    is_active = models.BooleanField(default=True)
    # Contacts created from the customers file are kept in step with it;
    # contacts added by hand or through the API are never touched by imports.
    from_import = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["customer_id", "id"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(email="") | ~Q(phone=""), name="contact_has_email_or_phone"
            ),
        ]

    def __str__(self) -> str:
        return self.name or self.email or self.phone


class InvoiceStatus(models.TextChoices):
    OPEN = "open", "Open"
    PAID = "paid", "Paid"


class Invoice(models.Model):
    # Unique through Meta.constraints: a plain unique index, without the
    # extra LIKE index Django adds for unique=True on PostgreSQL.
    ref = models.CharField("invoice ref", max_length=64)
    # Indexed by the composite index that starts with customer (Meta).
    customer = models.ForeignKey(
        Customer, on_delete=models.PROTECT, related_name="invoices", db_index=False
    )
    issue_date = models.DateField()
    due_date = models.DateField()
    amount = money_field()
    currency = models.CharField(max_length=3)
    order_ref = models.CharField(max_length=64, blank=True)
    terms = models.CharField(max_length=64, blank=True)
    # Sum of all allocations (payments and credit notes) to this invoice.
    allocated = money_field(default=Decimal(0))
    status = models.CharField(
        max_length=10, choices=InvoiceStatus.choices, default=InvoiceStatus.OPEN
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["due_date", "ref"]
        indexes = [
            models.Index(fields=["customer", "status", "due_date"]),
            models.Index(fields=["status", "due_date"]),
            models.Index(fields=["issue_date"]),
        ]
        constraints = [
            models.UniqueConstraint(fields=["ref"], name="invoice_ref_unique"),
            models.CheckConstraint(condition=Q(amount__gt=0), name="invoice_amount_positive"),
            models.CheckConstraint(
                condition=Q(due_date__gte=F("issue_date")), name="invoice_due_not_before_issue"
            ),
            models.CheckConstraint(
                condition=Q(allocated__gte=0) & Q(allocated__lte=F("amount")),
                name="invoice_allocated_within_amount",
            ),
            models.CheckConstraint(
                condition=Q(status="paid", allocated=F("amount"))
                | (Q(status="open") & Q(allocated__lt=F("amount"))),
                name="invoice_status_matches_balance",
            ),
        ]

    def __str__(self) -> str:
        return self.ref

    @property
    def open_amount(self) -> Decimal:
        """What is open today (all allocations); see selectors for as-of."""
        return self.amount - self.allocated


class Payment(models.Model):
    # Unique through Meta.constraints: a plain unique index, without the
    # extra LIKE index Django adds for unique=True on PostgreSQL.
    ref = models.CharField("payment ref", max_length=64)
    # Indexed by the composite index that starts with customer (Meta).
    customer = models.ForeignKey(
        Customer, on_delete=models.PROTECT, related_name="payments", db_index=False
    )
    received_on = models.DateField()
    amount = money_field()
    currency = models.CharField(max_length=3)
    # The remittance's invoice, if the payer named one.
    invoice_ref = models.CharField(max_length=64, blank=True)
    allocated = money_field(default=Decimal(0))
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["received_on", "ref"]
        indexes = [models.Index(fields=["customer", "received_on"])]
        constraints = [
            models.UniqueConstraint(fields=["ref"], name="payment_ref_unique"),
            models.CheckConstraint(condition=Q(amount__gt=0), name="payment_amount_positive"),
            models.CheckConstraint(
                condition=Q(allocated__gte=0) & Q(allocated__lte=F("amount")),
                name="payment_allocated_within_amount",
            ),
        ]

    def __str__(self) -> str:
        return self.ref

    @property
    def unapplied(self) -> Decimal:
        """Cash received but not applied to any invoice (an overpayment)."""
        return self.amount - self.allocated


class CreditNote(models.Model):
    # Unique through Meta.constraints: a plain unique index, without the
    # extra LIKE index Django adds for unique=True on PostgreSQL.
    ref = models.CharField("credit note ref", max_length=64)
    # Indexed by the composite index that starts with customer (Meta).
    customer = models.ForeignKey(
        Customer, on_delete=models.PROTECT, related_name="credit_notes", db_index=False
    )
    issue_date = models.DateField()
    amount = money_field()
    currency = models.CharField(max_length=3)
    invoice_ref = models.CharField(max_length=64, blank=True)
    allocated = money_field(default=Decimal(0))
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["issue_date", "ref"]
        indexes = [models.Index(fields=["customer", "issue_date"])]
        constraints = [
            models.UniqueConstraint(fields=["ref"], name="credit_note_ref_unique"),
            models.CheckConstraint(condition=Q(amount__gt=0), name="credit_note_amount_positive"),
            models.CheckConstraint(
                condition=Q(allocated__gte=0) & Q(allocated__lte=F("amount")),
                name="credit_note_allocated_within_amount",
            ),
        ]

    def __str__(self) -> str:
        return self.ref

    @property
    def unapplied(self) -> Decimal:
        return self.amount - self.allocated


class Allocation(models.Model):
    """Part of a payment or credit note applied to an invoice.

    ``effective_on`` is the payment's receipt or the credit note's issue
    date, so open amounts can be computed as of any past date.
    """

    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="allocations")
    payment = models.ForeignKey(
        Payment, null=True, blank=True, on_delete=models.PROTECT, related_name="allocations"
    )
    credit_note = models.ForeignKey(
        CreditNote, null=True, blank=True, on_delete=models.PROTECT, related_name="allocations"
    )
    amount = money_field()
    effective_on = models.DateField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["effective_on", "id"]
        indexes = [
            models.Index(fields=["invoice", "effective_on"]),
            # AR as of a past date adds back the allocations effective after
            # it (reports); a range over dates alone needs its own index.
            models.Index(fields=["effective_on"], name="allocation_effective_on"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="allocation_amount_positive"),
            models.CheckConstraint(
                condition=Q(payment__isnull=False, credit_note__isnull=True)
                | Q(payment__isnull=True, credit_note__isnull=False),
                name="allocation_has_one_source",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.amount} to {self.invoice_id} on {self.effective_on}"


class Activity(models.Model):
    """The activity log: who did what to which subject, when and why."""

    at = models.DateTimeField(auto_now_add=True, db_index=True)
    # Indexed in Meta: only where set (most entries are the system's).
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        db_index=False,
    )
    # Who acted when it is not a person: "import customers.csv", "system".
    actor_label = models.CharField(max_length=200)
    # Indexed by the (customer, at) index in Meta.
    customer = models.ForeignKey(
        Customer,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="activities",
        db_index=False,
    )
    subject_type = models.CharField(max_length=40)
    subject_ref = models.CharField(max_length=64)
    verb = models.CharField(max_length=60)
    why = models.TextField(blank=True)
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name_plural = "activities"
        indexes = [
            models.Index(fields=["customer", "-at"]),
            models.Index(fields=["actor"], name="activity_actor", condition=Q(actor__isnull=False)),
        ]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.actor_label}: {self.verb} {self.subject_ref}"


class ImportRun(models.Model):
    """One imported file: who, when, what it changed."""

    kind = models.CharField(max_length=20)
    source = models.CharField(max_length=300)
    sha256 = models.CharField(max_length=64)
    actor_label = models.CharField(max_length=200)
    started_at = models.DateTimeField(auto_now_add=True)
    rows = models.PositiveIntegerField(default=0)
    created = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)
    unchanged = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-started_at"]

    def __str__(self) -> str:
        return f"{self.kind} {self.source}"
