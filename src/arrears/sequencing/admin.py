from django.contrib import admin

from .models import CustomerPolicy, PolicyVersion


@admin.register(PolicyVersion)
class PolicyVersionAdmin(admin.ModelAdmin[PolicyVersion]):
    list_display = ["name", "version", "is_active", "applied_at", "applied_by"]
    readonly_fields = ["name", "version", "yaml_text", "sha256", "applied_at", "applied_by"]


@admin.register(CustomerPolicy)
class CustomerPolicyAdmin(admin.ModelAdmin[CustomerPolicy]):
    list_display = ["customer", "policy_name", "segment", "segment_reason", "updated_by"]
