"""Staff pages for a customer's contacts: add one, edit one, and record
consent per channel. Validation is the ledger's (``contact_create``,
``contact_update``) and the consent evidence is comms' (``contact_consent_set``);
each change leaves an activity entry through those services."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages as flash
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from arrears.comms.consent import CONSENT_CHANNELS, contact_consent_set
from arrears.comms.models import ConsentRecord
from arrears.ledger.models import Contact, ContactRole, Customer
from arrears.ledger.services import (
    CONTACT_IMPORT_OWNED,
    ContactRejected,
    contact_create,
    contact_update,
)

from .roles import signed_in_user

CHANNEL_LABELS = {"email": "E-mail", "sms": "Text (SMS)", "call": "Calls"}
# ConsentRecord.source holds 60 characters: "staff: <username> — <note>".
SOURCE_MAX = 60
CONSENT_HISTORY = 10


class ContactForm(forms.Form):
    """The fields staff edit; the service validates e-mail and phone."""

    name = forms.CharField(required=False, max_length=200)
    role = forms.ChoiceField(choices=ContactRole.choices)
    email = forms.CharField(required=False, max_length=254, label="E-mail")
    phone = forms.CharField(required=False, max_length=40)
    is_active = forms.BooleanField(required=False, initial=True, label="Active")

    @classmethod
    def of(cls, contact: Contact) -> ContactForm:
        return cls(
            initial={
                "name": contact.name,
                "role": contact.role,
                "email": contact.email,
                "phone": contact.phone,
                "is_active": contact.is_active,
            }
        )

    def add_problems(self, exc: ContactRejected) -> None:
        """The service's problems, each under its field (others on top)."""
        for name, reason in exc.problems.items():
            self.add_error(name if name in self.fields else None, reason)


class ConsentForm(forms.Form):
    channel = forms.ChoiceField(choices=[(c, CHANNEL_LABELS[c]) for c in CONSENT_CHANNELS])
    granted = forms.TypedChoiceField(
        choices=[("yes", "granted"), ("no", "withdrawn")], coerce=lambda v: v == "yes"
    )
    note = forms.CharField(required=False, max_length=SOURCE_MAX)

    def __init__(self, *args: Any, username: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.username = username

    def clean_note(self) -> str:
        note = str(self.cleaned_data.get("note") or "").strip()
        room = SOURCE_MAX - len(self.base_source()) - 3
        if len(note) > room:
            raise forms.ValidationError(f"keep the note to {max(room, 0)} characters")
        return note

    def base_source(self) -> str:
        return f"staff: {self.username}"

    def source(self) -> str:
        """Where the consent came from, as recorded: the staff member, and
        the note when there is one."""
        note = self.cleaned_data.get("note") or ""
        return f"{self.base_source()} — {note}" if note else self.base_source()


def _customer(ref: str) -> Customer:
    return get_object_or_404(Customer, ref=ref)


def _contact(customer: Customer, pk: int) -> Contact:
    return get_object_or_404(Contact.objects.select_related("customer"), customer=customer, pk=pk)


def _values(form: ContactForm) -> dict[str, Any]:
    return {name: form.cleaned_data[name] for name in form.fields}


def _page(
    request: HttpRequest,
    customer: Customer,
    *,
    form: ContactForm,
    contact: Contact | None = None,
    consent_form: ConsentForm | None = None,
    status: int = 200,
) -> HttpResponse:
    channels = []
    history: list[ConsentRecord] = []
    if contact is not None:
        channels = [
            {
                "channel": c,
                "label": CHANNEL_LABELS[c],
                "granted": getattr(contact, f"consent_{c}"),
                "opted_out": getattr(contact, f"opted_out_{c}"),
            }
            for c in CONSENT_CHANNELS
        ]
        history = list(contact.consents.all()[:CONSENT_HISTORY])
    return render(
        request,
        "web/contact_edit.html",
        {
            "customer": customer,
            "contact": contact,
            "form": form,
            "import_owned": CONTACT_IMPORT_OWNED if contact and contact.from_import else (),
            "channels": channels,
            "consent_form": consent_form,
            "history": history,
            "note_max": SOURCE_MAX - len(f"staff: {request.user.get_username()}") - 3,
        },
        status=status,
    )


@require_http_methods(["GET", "HEAD", "POST"])
@login_required
def contact_new(request: HttpRequest, customer_ref: str) -> HttpResponse:
    customer = _customer(customer_ref)
    if request.method != "POST":
        return _page(request, customer, form=ContactForm())
    form = ContactForm(request.POST)
    if form.is_valid():
        try:
            contact = contact_create(
                customer=customer,
                values=_values(form),
                actor_label=request.user.get_username(),
                actor=signed_in_user(request),
            )
        except ContactRejected as exc:
            form.add_problems(exc)
        else:
            flash.success(request, f"Contact {contact} added.")
            return redirect("customer", customer_ref=customer.ref)
    return _page(request, customer, form=form, status=422)


@require_http_methods(["GET", "HEAD", "POST"])
@login_required
def contact_edit(request: HttpRequest, customer_ref: str, pk: int) -> HttpResponse:
    customer = _customer(customer_ref)
    contact = _contact(customer, pk)
    if request.method != "POST":
        return _page(request, customer, form=ContactForm.of(contact), contact=contact)
    form = ContactForm(request.POST)
    if form.is_valid():
        try:
            contact_update(
                contact=contact,
                changes=_values(form),
                actor_label=request.user.get_username(),
                actor=signed_in_user(request),
            )
        except ContactRejected as exc:
            form.add_problems(exc)
        else:
            flash.success(request, f"Contact {contact} saved.")
            return redirect("contact-edit", customer_ref=customer.ref, pk=contact.pk)
    contact.refresh_from_db()
    return _page(request, customer, form=form, contact=contact, status=422)


@require_POST
@login_required
def contact_consent(request: HttpRequest, customer_ref: str, pk: int) -> HttpResponse:
    customer = _customer(customer_ref)
    contact = _contact(customer, pk)
    form = ConsentForm(request.POST, username=request.user.get_username())
    if not form.is_valid():
        return _page(
            request,
            customer,
            form=ContactForm.of(contact),
            contact=contact,
            consent_form=form,
            status=422,
        )
    channel = form.cleaned_data["channel"]
    granted = form.cleaned_data["granted"]
    contact_consent_set(
        contact=contact,
        channel=channel,
        granted=granted,
        source=form.source(),
        actor_label=request.user.get_username(),
        actor=signed_in_user(request),
    )
    flash.success(
        request,
        f"{CHANNEL_LABELS[channel]} consent {'granted' if granted else 'withdrawn'} for {contact}.",
    )
    return redirect("contact-edit", customer_ref=customer.ref, pk=contact.pk)
