"""Admin: the brand is edited here; the outbox, tasks, consent records and
print batches are shown read-only (they change through the services, which
log every change)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from .models import Brand, ConsentRecord, Message, MessageTemplate, PrintBatch, Task


@admin.register(Brand)
class BrandAdmin(admin.ModelAdmin[Brand]):
    list_display = ["company_name", "sender_name", "sender_email", "public_url", "updated_at"]
    fieldsets = [
        ("Sender", {"fields": ["company_name", "sender_name", "sender_email", "public_url"]}),
        ("Look", {"fields": ["logo_url", "primary_colour"]}),
        ("Letterhead", {"fields": ["postal_address", "phone", "website", "legal_footer"]}),
        (
            "How to pay",
            {"fields": ["bank_name", "iban", "bic", "payment_instructions"]},
        ),
        ("Attachments", {"fields": ["attach_invoice_pdfs"]}),
    ]

    def has_add_permission(self, request: HttpRequest) -> bool:
        # One brand: the row the messages use (pk 1).
        return not Brand.objects.exists()

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ReadOnly(admin.ModelAdmin[Any]):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Message)
class MessageAdmin(ReadOnly):
    list_display = ["id", "customer", "channel", "template_key", "status", "attempts", "created_at"]
    list_filter = ["status", "channel"]
    search_fields = ["customer__ref", "to_address", "idempotency_key", "provider_id"]
    list_select_related = ["customer"]


@admin.register(Task)
class TaskAdmin(ReadOnly):
    list_display = ["id", "customer", "kind", "title", "assigned_to", "status", "due_at"]
    list_filter = ["status", "kind"]
    search_fields = ["customer__ref", "title"]
    list_select_related = ["customer", "assigned_to"]


@admin.register(MessageTemplate)
class MessageTemplateAdmin(ReadOnly):
    list_display = ["key", "channel", "language", "version", "source", "is_active", "created_at"]
    list_filter = ["channel", "language", "is_active", "source"]


@admin.register(ConsentRecord)
class ConsentRecordAdmin(ReadOnly):
    list_display = ["contact", "channel", "granted", "source", "scope", "at", "actor_label"]
    list_filter = ["channel", "granted", "source"]


@admin.register(PrintBatch)
class PrintBatchAdmin(ReadOnly):
    list_display = ["day", "letters", "pdf", "created_at", "created_by"]
