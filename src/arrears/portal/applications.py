"""Credit applications: submitted on the public form, decided by a
manager (approve, grant a smaller limit, or deny, with notes). Approval
creates the customer, or updates the one with the same ref or tax id, with
the granted ``credit_limit`` (which the credit-hold rules read)."""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser, User
from django.db import transaction
from django.utils import timezone

from arrears.domain.masterdata import (
    FieldError,
    country_code,
    email_address,
    phone_number,
    tax_id,
)
from arrears.domain.money import is_currency, quantum
from arrears.ledger.models import ContactRole, Customer
from arrears.ledger.services import activity_record, contact_create
from arrears.web.roles import manager_check

from .models import ApplicationDocument, ApplicationStatus, CreditApplication
from .onboarding import onboarding_start
from .uploads import CheckedUpload

MAX_DOCUMENTS = 5
TEXT_LIMITS = {
    "company_name": 200,
    "registered_address": 1000,
    "billing_address": 1000,
    "ap_name": 200,
    "trade_references": 2000,
    "bank_reference": 1000,
}
REQUIRED = (
    "company_name",
    "country",
    "tax_id",
    "registered_address",
    "ap_name",
    "ap_email",
    "trade_references",
    "bank_reference",
    "requested_limit",
    "currency",
)
DECISIONS = ("approve", "reduce", "deny")


class ApplicationRejected(ValueError):
    """Problems with an application or a decision: field → reason."""

    def __init__(self, problems: dict[str, str]) -> None:
        super().__init__("; ".join(f"{f}: {r}" for f, r in problems.items()))
        self.problems = problems


def _amount(text: Any, currency: str) -> Decimal:
    try:
        value = Decimal(str(text).strip().replace(",", ""))
    except InvalidOperation:
        raise FieldError(f"{text!r} is not an amount") from None
    if not value.is_finite() or value <= 0:
        raise FieldError("must be more than 0")
    if value >= Decimal(10) ** 13:
        raise FieldError("is too large")
    return value.quantize(quantum(currency)) if is_currency(currency) else value


def application_clean(data: Mapping[str, Any]) -> dict[str, Any]:
    """Validated, normalised fields of an application; raises
    ApplicationRejected listing every problem."""
    problems: dict[str, str] = {}
    clean: dict[str, Any] = {}
    text = {k: str(data.get(k) or "").strip() for k in (*REQUIRED, "billing_address", "ap_phone")}
    for name in REQUIRED:
        if not text[name]:
            problems[name] = "is required"
    for name, limit in TEXT_LIMITS.items():
        if len(text[name]) > limit:
            problems[name] = f"is longer than {limit} characters"
        clean[name] = text[name]
    country = text["country"].upper()
    try:
        if country:
            clean["country"] = country_code(country)
    except FieldError as exc:
        problems["country"] = str(exc)
    if "country" in clean and text["tax_id"]:
        try:
            clean["tax_id"] = tax_id(text["tax_id"], clean["country"])
        except FieldError as exc:
            problems["tax_id"] = str(exc)
    if text["ap_email"]:
        try:
            clean["ap_email"] = email_address(text["ap_email"])
        except FieldError as exc:
            problems["ap_email"] = str(exc)
    clean["ap_phone"] = ""
    if text["ap_phone"]:
        try:
            clean["ap_phone"] = phone_number(text["ap_phone"], clean.get("country") or "US")
        except FieldError as exc:
            problems["ap_phone"] = str(exc)
    currency = text["currency"].upper()
    if currency and not is_currency(currency):
        problems["currency"] = f"{currency!r} is not an ISO 4217 currency"
    clean["currency"] = currency
    if text["requested_limit"]:
        try:
            clean["requested_limit"] = _amount(text["requested_limit"], currency)
        except FieldError as exc:
            problems["requested_limit"] = str(exc)
    if problems:
        raise ApplicationRejected(problems)
    return clean


@transaction.atomic
def application_submit(
    *, data: Mapping[str, Any], uploads: Sequence[CheckedUpload] = ()
) -> CreditApplication:
    """Store a credit application from the public form with its documents
    (already checked for type and size). Raises ApplicationRejected."""
    clean = application_clean(data)
    if len(uploads) > MAX_DOCUMENTS:
        raise ApplicationRejected({"documents": f"attach at most {MAX_DOCUMENTS} files"})
    application = CreditApplication.objects.create(
        ref=f"CA-{secrets.token_hex(5).upper()}",
        submitted_at=timezone.now(),
        **clean,
    )
    for upload in uploads:
        document = ApplicationDocument(
            application=application,
            name=upload.display_name,
            content_type=upload.content_type,
            size=upload.size,
            sha256=upload.sha256,
        )
        document.file.save(upload.storage_name, upload.file, save=False)
        document.save()
    activity_record(
        actor_label=f"portal: {clean['ap_email']}",
        verb="credit application received",
        subject_type="credit_application",
        subject_ref=application.ref,
        why=f"{clean['company_name']} asks for {clean['requested_limit']} {clean['currency']}",
        data={"documents": len(uploads)},
    )
    return application


def _customer_for(application: CreditApplication, customer_ref: str) -> Customer | None:
    if customer_ref:
        found = Customer.objects.select_for_update().filter(ref=customer_ref).first()
        if found is not None:
            return found
        return None
    return (
        Customer.objects.select_for_update()
        .filter(country=application.country, tax_id=application.tax_id)
        .exclude(tax_id="")
        .first()
    )


@transaction.atomic
def application_decide(
    *,
    application: CreditApplication,
    decision: str,
    actor: User | AbstractBaseUser | AnonymousUser,
    notes: str = "",
    granted_limit: Decimal | None = None,
    customer_ref: str = "",
) -> CreditApplication:
    """Approve (the limit asked for), ``reduce`` (grant ``granted_limit``,
    less than asked) or deny (notes required) a waiting application. On
    approval the customer ``customer_ref`` (or the one with the same
    country and tax id) gets the limit; when there is none, a new customer
    is created under ``customer_ref`` (default: from the application's ref)
    with its AP contact, and starts onboarding. Managers only
    (PermissionDenied); ApplicationRejected for a bad decision."""
    manager_check(actor, "decide credit applications")
    assert isinstance(actor, User)
    label = actor.get_username()
    app = CreditApplication.objects.select_for_update().get(pk=application.pk)
    if app.status != ApplicationStatus.SUBMITTED:
        raise ApplicationRejected({"decision": f"the application is already {app.status}"})
    if decision not in DECISIONS:
        raise ApplicationRejected({"decision": f"choose one of {', '.join(DECISIONS)}"})
    notes = notes.strip()
    now = timezone.now()
    if decision == "deny":
        if not notes:
            raise ApplicationRejected({"notes": "say why the application is denied"})
        app.status, app.notes, app.decided_at, app.decided_by = (
            ApplicationStatus.DENIED,
            notes,
            now,
            actor,
        )
        app.save(update_fields=["status", "notes", "decided_at", "decided_by"])
        activity_record(
            actor_label=label,
            actor=actor,
            verb="credit application denied",
            subject_type="credit_application",
            subject_ref=app.ref,
            why=notes,
        )
        return app
    granted = app.requested_limit
    if decision == "reduce":
        if granted_limit is None or not 0 < granted_limit < app.requested_limit:
            raise ApplicationRejected(
                {
                    "granted_limit": "a smaller limit is more than 0 and less than the "
                    f"{app.requested_limit} {app.currency} asked for"
                }
            )
        if not notes:
            raise ApplicationRejected({"notes": "say why a smaller limit is granted"})
        granted = granted_limit.quantize(quantum(app.currency))
    customer_ref = customer_ref.strip()
    customer = _customer_for(app, customer_ref)
    created = customer is None
    if customer is None:
        customer = Customer.objects.create(
            ref=customer_ref or f"C-{app.ref.removeprefix('CA-')}",
            name=app.company_name,
            country=app.country,
            tax_id=app.tax_id,
            currency=app.currency,
            credit_limit=granted,
            postal_address=app.billing_address or app.registered_address,
            customer_since=timezone.localdate(),
        )
        activity_record(
            actor_label=label,
            actor=actor,
            verb="customer created",
            subject_type="customer",
            subject_ref=customer.ref,
            customer=customer,
            why=f"from credit application {app.ref}",
        )
        contact_create(
            customer=customer,
            values={
                "name": app.ap_name,
                "role": ContactRole.AP,
                "email": app.ap_email,
                "phone": app.ap_phone,
            },
            actor_label=label,
            actor=actor,
        )
    else:
        if customer.currency and customer.currency != app.currency:
            raise ApplicationRejected(
                {
                    "customer_ref": f"{customer.ref} is billed in {customer.currency}; the "
                    f"application asks for {app.currency}"
                }
            )
        old = customer.credit_limit
        Customer.objects.filter(pk=customer.pk).update(credit_limit=granted, updated_at=now)
        customer.credit_limit = granted
        activity_record(
            actor_label=label,
            actor=actor,
            verb="credit limit set",
            subject_type="customer",
            subject_ref=customer.ref,
            customer=customer,
            why=f"{old if old is not None else '(none)'} → {granted} {app.currency} "
            f"(credit application {app.ref})",
            data={"fields": {"credit_limit": [None if old is None else str(old), str(granted)]}},
        )
    app.status = ApplicationStatus.APPROVED if decision == "approve" else ApplicationStatus.REDUCED
    app.granted_limit, app.notes, app.decided_at, app.decided_by = granted, notes, now, actor
    app.customer = customer
    app.save(
        update_fields=["status", "granted_limit", "notes", "decided_at", "decided_by", "customer"]
    )
    activity_record(
        actor_label=label,
        actor=actor,
        verb=f"credit application {app.status}",
        subject_type="credit_application",
        subject_ref=app.ref,
        customer=customer,
        why=f"limit {granted} {app.currency} (asked {app.requested_limit})"
        + (f": {notes}" if notes else ""),
    )
    if created:
        onboarding_start(customer=customer, as_of=timezone.localdate(), actor_label=label)
    return app
