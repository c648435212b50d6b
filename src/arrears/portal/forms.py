"""Forms of the portal: they check shapes (dates, numbers, choices); the
services check the rules and say what is wrong."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.files.uploadedfile import UploadedFile

from arrears.cases.models import DisputeReason
from arrears.comms.templatetags.comms_tags import longdate, money_format
from arrears.ledger.models import Channel

from .uploads import ACCEPTED, CheckedUpload, UploadRejected, upload_check, upload_max_bytes

DATE_INPUT = forms.DateInput(attrs={"type": "date"})
FILE_ACCEPT = "application/pdf,image/png,image/jpeg,.pdf,.png,.jpg,.jpeg"


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class CheckedFilesField(forms.FileField):
    """Zero or more files, each checked by content for type and size."""

    widget = MultipleFileInput(attrs={"accept": FILE_ACCEPT})

    def __init__(self, *, max_files: int, **kwargs: Any) -> None:
        self.max_files = max_files
        kwargs.setdefault("required", False)
        kwargs.setdefault(
            "help_text",
            f"{ACCEPTED}, at most {upload_max_bytes() // 1024 // 1024} MB each, "
            f"up to {max_files} files.",
        )
        super().__init__(**kwargs)

    def clean(self, data: Any, initial: Any = None) -> list[CheckedUpload]:
        files = [f for f in (data if isinstance(data, list | tuple) else [data]) if f]
        if self.required and not files:
            raise forms.ValidationError("Attach a file.")
        if len(files) > self.max_files:
            raise forms.ValidationError(f"Attach at most {self.max_files} files.")
        checked, problems = [], []
        for file in files:
            if not isinstance(file, UploadedFile):
                continue
            try:
                checked.append(upload_check(file))
            except UploadRejected as exc:
                problems.append(str(exc))
        if problems:
            raise forms.ValidationError(problems)
        return checked


class SignInForm(forms.Form):
    email = forms.EmailField(
        label="Your e-mail address",
        max_length=254,
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )


def _invoice_choices(invoices: list[Any]) -> list[tuple[str, str]]:
    return [
        (i.ref, f"{i.ref} · {money_format(i.open_amount, i.currency)} · due {longdate(i.due_date)}")
        for i in invoices
    ]


class PromiseForm(forms.Form):
    promised_on = forms.DateField(label="We will pay by", widget=DATE_INPUT)
    invoices = forms.MultipleChoiceField(
        label="Invoices", widget=forms.CheckboxSelectMultiple, required=False
    )
    amount = forms.DecimalField(
        label="Amount (leave empty for the invoices' open amount)",
        required=False,
        min_value=0,
        max_digits=16,
        decimal_places=4,
    )
    currency = forms.ChoiceField(label="Currency", required=False)
    note = forms.CharField(
        label="Note (optional)",
        required=False,
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def __init__(
        self, *args: Any, invoices: list[Any], currencies: list[str], **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.fields["invoices"].choices = _invoice_choices(invoices)  # type: ignore[attr-defined]
        self.fields["currency"].choices = [("", "—")] + [(c, c) for c in currencies]  # type: ignore[attr-defined]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("amount") is not None and not data.get("currency"):
            self.add_error("currency", "Choose the currency of the amount.")
        if data.get("amount") is None and not data.get("invoices"):
            self.add_error("invoices", "Choose the invoices you will pay, or enter an amount.")
        return data


class DisputeForm(forms.Form):
    invoices = forms.MultipleChoiceField(label="Invoices", widget=forms.CheckboxSelectMultiple)
    reason = forms.ChoiceField(label="Reason", choices=DisputeReason.choices)
    description = forms.CharField(
        label="What is wrong", max_length=2000, widget=forms.Textarea(attrs={"rows": 4})
    )
    attachments = CheckedFilesField(label="Evidence (optional)", max_files=3)

    def __init__(self, *args: Any, invoices: list[Any], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["invoices"].choices = _invoice_choices(invoices)  # type: ignore[attr-defined]


class PlanForm(forms.Form):
    instalments = forms.IntegerField(
        label="Number of instalments", min_value=2, max_value=24, initial=3
    )
    first_on = forms.DateField(label="First instalment on", widget=DATE_INPUT)
    invoices = forms.MultipleChoiceField(
        label="Invoices, all in one currency (none ticked: all open invoices)",
        widget=forms.CheckboxSelectMultiple,
        required=False,
    )
    note = forms.CharField(
        label="Anything we should know (optional)",
        required=False,
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )

    def __init__(self, *args: Any, invoices: list[Any], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["invoices"].choices = _invoice_choices(invoices)  # type: ignore[attr-defined]


class ContactForm(forms.Form):
    name = forms.CharField(label="Name", max_length=200, required=False)
    email = forms.CharField(
        label="E-mail",
        max_length=254,
        required=False,
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )
    phone = forms.CharField(
        label="Phone",
        max_length=30,
        required=False,
        widget=forms.TextInput(attrs={"type": "tel", "autocomplete": "tel"}),
    )


class ConsentForm(forms.Form):
    email = forms.BooleanField(label="E-mail", required=False)
    sms = forms.BooleanField(label="Text messages", required=False)
    call = forms.BooleanField(label="Phone calls", required=False)


class DetailsForm(forms.Form):
    tax_id = forms.CharField(label="Tax id (VAT number, EIN, …)", max_length=40)
    preferred_channel = forms.ChoiceField(
        label="How should we contact you?",
        choices=[("", "Choose…"), *Channel.choices],
        required=False,
    )


class ApplicationForm(forms.Form):
    company_name = forms.CharField(label="Company name", max_length=200)
    country = forms.CharField(label="Country (ISO code, e.g. DE, US)", max_length=2, min_length=2)
    tax_id = forms.CharField(label="Tax id (VAT number, EIN, …)", max_length=40)
    registered_address = forms.CharField(
        label="Registered address", max_length=1000, widget=forms.Textarea(attrs={"rows": 3})
    )
    billing_address = forms.CharField(
        label="Billing address (if different)",
        max_length=1000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    ap_name = forms.CharField(label="Accounts payable contact: name", max_length=200)
    ap_email = forms.EmailField(label="Accounts payable e-mail")
    ap_phone = forms.CharField(
        label="Accounts payable phone (optional)", max_length=30, required=False
    )
    trade_references = forms.CharField(
        label="Trade references (one per line: company, contact, phone or e-mail)",
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 4}),
    )
    bank_reference = forms.CharField(
        label="Bank reference (bank, branch, contact)",
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    requested_limit = forms.DecimalField(
        label="Credit limit requested", min_value=1, max_digits=16, decimal_places=2
    )
    currency = forms.CharField(label="Currency (e.g. EUR, USD)", max_length=3, min_length=3)
    documents = CheckedFilesField(
        label="Documents (registration, financial statements)", max_files=5
    )


class DecisionForm(forms.Form):
    decision = forms.ChoiceField(
        label="Decision",
        choices=[
            ("approve", "Approve the limit asked for"),
            ("reduce", "Grant a smaller limit"),
            ("deny", "Deny"),
        ],
        widget=forms.RadioSelect,
    )
    granted_limit = forms.DecimalField(
        label="Smaller limit", required=False, min_value=0, max_digits=16, decimal_places=2
    )
    customer_ref = forms.CharField(
        label="Customer ref (an existing customer's to update, or the new one's)",
        max_length=64,
        required=False,
    )
    notes = forms.CharField(
        label="Notes", required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 3})
    )
