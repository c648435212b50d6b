"""Shapes of the API's requests and responses.

Amounts leave as decimal strings quantised to the currency's minor units
(never floats); dates as ISO ``YYYY-MM-DD``. Blank optional text is ``null``.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal

from ninja import Field, Schema
from pydantic import ConfigDict

from arrears.domain.masterdata import stored_address_lines
from arrears.domain.money import MoneyError, quantum
from arrears.ledger.models import Allocation, Contact, CreditNote, Customer, Invoice, Payment

MAX_PAGE = 1000


def money_text(amount: Decimal, currency: str) -> str:
    """``amount`` as a plain decimal string with the currency's decimals."""
    try:
        return f"{amount.quantize(quantum(currency)):f}"
    except MoneyError:  # no (valid) currency to quantise by: keep what is there
        return f"{amount.normalize():f}"


def _blank_none(text: str) -> str | None:
    return text or None


def _money_map(amounts: dict[str, Decimal]) -> dict[str, str]:
    return {currency: money_text(amount, currency) for currency, amount in sorted(amounts.items())}


class Problem(Schema):
    loc: str = Field(description="`[3]` is the 4th item of a bulk request; `query.limit` …")
    field: str = Field(description="the offending field, or `-` for the whole item")
    reason: str


class Problems(Schema):
    detail: list[Problem]


class Message(Schema):
    detail: str


# --- paging and filters -----------------------------------------------------


class PageIn(Schema):
    limit: int = Field(100, ge=1, le=MAX_PAGE, description=f"items per page (at most {MAX_PAGE})")
    offset: int = Field(0, ge=0, description="items to skip")


class PageOut(Schema):
    count: int = Field(description="items matching the filters, over all pages")
    limit: int
    offset: int


class CustomerFilters(Schema):
    country: str | None = Field(None, description="ISO 3166-1 alpha-2")
    automation: Literal["auto", "white_glove", "paused"] | None = None
    search: str | None = Field(None, description="part of the customer ref or name")


class InvoiceFilters(Schema):
    customer: str | None = Field(None, description="customer_ref")
    status: Literal["open", "paid"] | None = None
    currency: str | None = None
    due_before: date | None = Field(None, description="due strictly before this date")
    due_after: date | None = Field(None, description="due strictly after this date")
    issued_before: date | None = Field(None, description="issued strictly before this date")
    issued_after: date | None = Field(None, description="issued strictly after this date")


class PaymentFilters(Schema):
    customer: str | None = Field(None, description="customer_ref")
    currency: str | None = None
    invoice: str | None = Field(None, description="invoice_ref named by the remittance")
    received_before: date | None = Field(None, description="received strictly before this date")
    received_after: date | None = Field(None, description="received strictly after this date")
    unapplied: bool | None = Field(None, description="true: only those with unapplied cash")


class CreditNoteFilters(Schema):
    customer: str | None = Field(None, description="customer_ref")
    currency: str | None = None
    invoice: str | None = Field(None, description="invoice_ref the credit note names")
    issued_before: date | None = Field(None, description="issued strictly before this date")
    issued_after: date | None = Field(None, description="issued strictly after this date")
    unapplied: bool | None = Field(None, description="true: only those with unapplied credit")


# --- resources --------------------------------------------------------------


class CustomerOut(Schema):
    customer_ref: str
    name: str
    email: list[str] = Field(description="e-mail addresses of the active contacts")
    phone: str | None
    country: str
    tax_id: str | None
    currency: str | None
    credit_limit: str | None
    preferred_channel: str | None
    automation: str
    language: str | None
    customer_since: date | None
    postal_address: list[str] = Field(description="address lines for letters, name not included")
    time_zone: str | None = Field(description="IANA zone; null: the country's main zone")
    collector: str | None = Field(description="username of the collector who owns the account")
    open_amount: dict[str, str] = Field(description="open invoice amounts per currency")
    unapplied: dict[str, str] = Field(description="unapplied cash and credit per currency")

    @classmethod
    def build(
        cls,
        customer: Customer,
        *,
        emails: list[str],
        open_amount: dict[str, Decimal],
        unapplied: dict[str, Decimal],
    ) -> CustomerOut:
        limit = customer.credit_limit
        return cls(
            customer_ref=customer.ref,
            name=customer.name,
            email=emails,
            phone=_blank_none(customer.phone),
            country=customer.country,
            tax_id=_blank_none(customer.tax_id),
            currency=_blank_none(customer.currency),
            credit_limit=None if limit is None else money_text(limit, customer.currency),
            preferred_channel=_blank_none(customer.preferred_channel),
            automation=customer.automation,
            language=_blank_none(customer.language),
            customer_since=customer.customer_since,
            postal_address=stored_address_lines(customer.postal_address),
            time_zone=_blank_none(customer.time_zone),
            collector=customer.collector.get_username() if customer.collector else None,
            open_amount=_money_map(open_amount),
            unapplied=_money_map(unapplied),
        )


class CustomerPage(PageOut):
    items: list[CustomerOut]


class AllocationOut(Schema):
    invoice_ref: str
    payment_ref: str | None
    credit_note_ref: str | None
    amount: str
    effective_on: date

    @classmethod
    def build(cls, allocation: Allocation) -> AllocationOut:
        invoice = allocation.invoice
        return cls(
            invoice_ref=invoice.ref,
            payment_ref=allocation.payment.ref if allocation.payment else None,
            credit_note_ref=allocation.credit_note.ref if allocation.credit_note else None,
            amount=money_text(allocation.amount, invoice.currency),
            effective_on=allocation.effective_on,
        )


class InvoiceOut(Schema):
    invoice_ref: str
    customer_ref: str
    issue_date: date
    due_date: date
    amount: str
    currency: str
    order_ref: str | None
    terms: str | None
    allocated: str = Field(description="paid or credited so far")
    open_amount: str = Field(description="amount - allocated")
    status: Literal["open", "paid"]

    @classmethod
    def build(cls, invoice: Invoice) -> InvoiceOut:
        currency = invoice.currency
        return cls(
            invoice_ref=invoice.ref,
            customer_ref=invoice.customer.ref,
            issue_date=invoice.issue_date,
            due_date=invoice.due_date,
            amount=money_text(invoice.amount, currency),
            currency=currency,
            order_ref=_blank_none(invoice.order_ref),
            terms=_blank_none(invoice.terms),
            allocated=money_text(invoice.allocated, currency),
            open_amount=money_text(invoice.open_amount, currency),
            status=invoice.status,  # type: ignore[arg-type]
        )


class InvoiceDetail(InvoiceOut):
    allocations: list[AllocationOut]

    @classmethod
    def build_detail(cls, invoice: Invoice) -> InvoiceDetail:
        allocations = [AllocationOut.build(a) for a in invoice.allocations.all()]
        return cls(**InvoiceOut.build(invoice).model_dump(), allocations=allocations)


class InvoicePage(PageOut):
    items: list[InvoiceOut]


class PaymentOut(Schema):
    payment_ref: str
    customer_ref: str
    received_on: date
    amount: str
    currency: str
    invoice_ref: str | None
    allocated: str = Field(description="applied to invoices")
    unapplied: str = Field(description="amount - allocated: cash not applied (overpayment)")

    @classmethod
    def build(cls, payment: Payment) -> PaymentOut:
        currency = payment.currency
        return cls(
            payment_ref=payment.ref,
            customer_ref=payment.customer.ref,
            received_on=payment.received_on,
            amount=money_text(payment.amount, currency),
            currency=currency,
            invoice_ref=_blank_none(payment.invoice_ref),
            allocated=money_text(payment.allocated, currency),
            unapplied=money_text(payment.unapplied, currency),
        )


class PaymentDetail(PaymentOut):
    allocations: list[AllocationOut]

    @classmethod
    def build_detail(cls, payment: Payment) -> PaymentDetail:
        allocations = [AllocationOut.build(a) for a in payment.allocations.all()]
        return cls(**PaymentOut.build(payment).model_dump(), allocations=allocations)


class PaymentPage(PageOut):
    items: list[PaymentOut]


class CreditNoteOut(Schema):
    credit_note_ref: str
    customer_ref: str
    issue_date: date
    amount: str
    currency: str
    invoice_ref: str | None
    allocated: str = Field(description="applied to invoices")
    unapplied: str = Field(description="amount - allocated: credit not yet used")

    @classmethod
    def build(cls, credit_note: CreditNote) -> CreditNoteOut:
        currency = credit_note.currency
        return cls(
            credit_note_ref=credit_note.ref,
            customer_ref=credit_note.customer.ref,
            issue_date=credit_note.issue_date,
            amount=money_text(credit_note.amount, currency),
            currency=currency,
            invoice_ref=_blank_none(credit_note.invoice_ref),
            allocated=money_text(credit_note.allocated, currency),
            unapplied=money_text(credit_note.unapplied, currency),
        )


class CreditNoteDetail(CreditNoteOut):
    allocations: list[AllocationOut]

    @classmethod
    def build_detail(cls, credit_note: CreditNote) -> CreditNoteDetail:
        allocations = [AllocationOut.build(a) for a in credit_note.allocations.all()]
        return cls(**CreditNoteOut.build(credit_note).model_dump(), allocations=allocations)


class CreditNotePage(PageOut):
    items: list[CreditNoteOut]


# --- contacts ---------------------------------------------------------------

ContactRoleName = Literal["ap", "billing", "owner", "other"]


class ContactOut(Schema):
    id: int
    customer_ref: str
    name: str | None
    role: str
    email: str | None
    phone: str | None
    consent_email: bool
    consent_sms: bool
    consent_call: bool
    opted_out_email: bool
    opted_out_sms: bool
    opted_out_call: bool
    email_bounced: bool
    is_active: bool
    from_import: bool = Field(
        description="made from the customers file, which owns its email, phone and is_active"
    )
    created_at: datetime
    updated_at: datetime

    @classmethod
    def build(cls, contact: Contact) -> ContactOut:
        return cls(
            id=contact.pk,
            customer_ref=contact.customer.ref,
            name=_blank_none(contact.name),
            role=contact.role,
            email=_blank_none(contact.email),
            phone=_blank_none(contact.phone),
            consent_email=contact.consent_email,
            consent_sms=contact.consent_sms,
            consent_call=contact.consent_call,
            opted_out_email=contact.opted_out_email,
            opted_out_sms=contact.opted_out_sms,
            opted_out_call=contact.opted_out_call,
            email_bounced=contact.email_bounced,
            is_active=contact.is_active,
            from_import=contact.from_import,
            created_at=contact.created_at,
            updated_at=contact.updated_at,
        )


class ContactList(Schema):
    items: list[ContactOut]


class ContactIn(Schema):
    """A new contact: an e-mail address or a phone number (read with the
    customer's country) is needed."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = None
    role: ContactRoleName = "ap"
    email: str | None = None
    phone: str | None = None
    consent_email: bool = True
    consent_sms: bool = False
    consent_call: bool = True
    opted_out_email: bool = False
    opted_out_sms: bool = False
    opted_out_call: bool = False


class ContactPatch(Schema):
    """Only the fields sent change; ``null`` clears a text field (not a flag)."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = None
    role: ContactRoleName | None = None
    email: str | None = None
    phone: str | None = None
    consent_email: bool | None = None
    consent_sms: bool | None = None
    consent_call: bool | None = None
    opted_out_email: bool | None = None
    opted_out_sms: bool | None = None
    opted_out_call: bool | None = None
    is_active: bool | None = None


# --- bulk upserts -----------------------------------------------------------

_REF = "unique reference; the upsert key"
_AMOUNT = "decimal string such as '1234.50' ('.' point, no separators, currency's decimals)"
_DATE = "ISO date YYYY-MM-DD"


class _Row(Schema):
    model_config = ConfigDict(extra="forbid")


class CustomerRow(_Row):
    customer_ref: str = Field(description=_REF)
    name: str
    email: str | list[str] | None = Field(
        None, description="AP addresses: a list, or one string joined with ';'"
    )
    phone: str | None = Field(None, description="read with the customer's country")
    country: str = Field(description="ISO 3166-1 alpha-2")
    tax_id: str | None = None
    currency: str | None = Field(None, description="ISO 4217")
    credit_limit: str | None = Field(None, description=_AMOUNT)
    preferred_channel: Literal["email", "sms", "call", "letter"] | None = None
    automation: Literal["auto", "white_glove", "paused"] | None = Field(
        None, description="default auto"
    )
    language: str | None = Field(None, description="ISO 639-1, e.g. en or en-GB")
    customer_since: str | None = Field(None, description=_DATE)
    # Left out: the customer's value stays as it is; null or blank clears it.
    postal_address: str | list[str] | None = Field(
        None,
        description="address lines (at most 8, each at most 60 characters), a list or one"
        " string joined with ' | '; the name is not included. Left out: kept; null: cleared",
    )
    time_zone: str | None = Field(
        None, description="IANA zone, e.g. Europe/Berlin. Left out: kept; null: cleared"
    )
    collector: str | None = Field(
        None, description="username of an active user. Left out: kept; null: cleared"
    )


class InvoiceRow(_Row):
    invoice_ref: str = Field(description=_REF)
    customer_ref: str
    issue_date: str = Field(description=_DATE)
    due_date: str = Field(description=_DATE)
    amount: str = Field(description=_AMOUNT)
    currency: str = Field(description="ISO 4217")
    order_ref: str | None = None
    terms: str | None = None


class PaymentRow(_Row):
    payment_ref: str = Field(description=_REF)
    customer_ref: str
    received_on: str = Field(description=_DATE)
    amount: str = Field(description=_AMOUNT)
    currency: str = Field(description="ISO 4217")
    invoice_ref: str | None = Field(
        None, description="apply to this invoice; otherwise oldest due first"
    )


class CreditNoteRow(_Row):
    credit_note_ref: str = Field(description=_REF)
    customer_ref: str
    issue_date: str = Field(description=_DATE)
    amount: str = Field(description=_AMOUNT)
    currency: str = Field(description="ISO 4217")
    invoice_ref: str | None = Field(
        None, description="apply to this invoice; otherwise oldest due first"
    )


ROWS: dict[str, type[_Row]] = {
    "customers": CustomerRow,
    "invoices": InvoiceRow,
    "payments": PaymentRow,
    "credit-notes": CreditNoteRow,
}


class ImportSummaryOut(Schema):
    kind: str
    rows: int
    created: int
    updated: int
    unchanged: int
    allocated: dict[str, str] | None = Field(
        None, description="payments and credit notes: applied per currency"
    )
    unapplied: dict[str, str] | None = Field(
        None, description="payments and credit notes: left unapplied per currency"
    )


def bulk_body_openapi(kind: str, max_items: int) -> dict[str, Any]:
    """The documented request body of a bulk upsert (read by hand, see bulk.py)."""
    schema = ROWS[kind].model_json_schema()
    return {
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {"type": "array", "maxItems": max_items, "items": schema}
                }
            },
        }
    }
