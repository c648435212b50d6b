from typing import Any

from django.contrib import admin

from . import models


@admin.register(models.Customer)
class CustomerAdmin(admin.ModelAdmin[models.Customer]):
    list_display = ["ref", "name", "country", "automation", "preferred_channel"]
    search_fields = ["ref", "name"]
    list_filter = ["automation", "country"]


@admin.register(models.Contact)
class ContactAdmin(admin.ModelAdmin[models.Contact]):
    list_display = ["customer", "name", "role", "email", "phone", "email_bounced", "is_active"]
    search_fields = ["customer__ref", "email", "name"]
    raw_id_fields = ["customer"]


class ReadOnlyAdmin(admin.ModelAdmin[Any]):
    """Money documents change only through services (imports, API)."""

    def has_add_permission(self, request: Any, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: Any, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: Any, obj: Any = None) -> bool:
        return False


@admin.register(models.Invoice)
class InvoiceAdmin(ReadOnlyAdmin):
    list_display = ["ref", "customer", "issue_date", "due_date", "amount", "currency", "status"]
    search_fields = ["ref", "customer__ref", "order_ref"]
    list_filter = ["status", "currency"]


@admin.register(models.Payment)
class PaymentAdmin(ReadOnlyAdmin):
    list_display = ["ref", "customer", "received_on", "amount", "currency", "allocated"]
    search_fields = ["ref", "customer__ref"]


@admin.register(models.CreditNote)
class CreditNoteAdmin(ReadOnlyAdmin):
    list_display = ["ref", "customer", "issue_date", "amount", "currency", "allocated"]
    search_fields = ["ref", "customer__ref"]


@admin.register(models.Activity)
class ActivityAdmin(ReadOnlyAdmin):
    list_display = ["at", "actor_label", "verb", "subject_type", "subject_ref", "customer"]
    search_fields = ["subject_ref", "customer__ref", "verb"]


@admin.register(models.ImportRun)
class ImportRunAdmin(ReadOnlyAdmin):
    list_display = ["started_at", "kind", "source", "rows", "created", "updated", "unchanged"]
