"""Endpoints of /api/v1/: each validates, calls one selector or service, returns.

Refs may hold slashes (``INV/2024/001``): they are matched with the path
converter, and may also be sent %2F-encoded.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from django.http import HttpRequest
from ninja import Query, Router
from ninja.responses import Status

from arrears.ledger.services import contact_create, contact_update

from . import selectors
from .bulk import MAX_ITEMS, bulk_import, request_body
from .requests import api_actor_label, api_user
from .schemas import (
    ContactIn,
    ContactList,
    ContactOut,
    ContactPatch,
    CreditNoteDetail,
    CreditNoteFilters,
    CreditNoteOut,
    CreditNotePage,
    CustomerFilters,
    CustomerOut,
    CustomerPage,
    ImportSummaryOut,
    InvoiceDetail,
    InvoiceFilters,
    InvoiceOut,
    InvoicePage,
    Message,
    PageIn,
    PaymentDetail,
    PaymentFilters,
    PaymentOut,
    PaymentPage,
    Problems,
    bulk_body_openapi,
)

router = Router()
F = TypeVar("F", bound=Callable[..., Any])

_READ_ERRORS: dict[int, type] = {404: Message}
_BULK_ERRORS: dict[int, type] = {400: Message, 413: Message, 422: Problems}
_BULK_DOC = (
    "Upsert by ref, all or nothing, with the CSV importer's validation: the same "
    "items twice change nothing. Items carry exactly the CSV columns; send amounts "
    f"as strings. At most {MAX_ITEMS} items. 422 lists every problem; then nothing "
    "was written."
)


def _bulk(request: HttpRequest, kind: str) -> ImportSummaryOut:
    summary = bulk_import(
        kind=kind, body=request_body(request), actor_label=api_actor_label(request)
    )
    return ImportSummaryOut(**summary.as_dict())


def _bulk_post(path: str, kind: str, *, summary: str, tag: str) -> Callable[[F], F]:
    return router.post(
        path,
        response={200: ImportSummaryOut, **_BULK_ERRORS},
        summary=summary,
        description=_BULK_DOC,
        openapi_extra=bulk_body_openapi(kind, MAX_ITEMS),
        tags=[tag],
    )


# --- customers and their contacts -------------------------------------------
# Contacts come before the customer itself: its ref may contain slashes.


@router.get(
    "/customers/{path:customer_ref}/contacts",
    response={200: ContactList, **_READ_ERRORS},
    tags=["contacts"],
)
def contacts_list(request: HttpRequest, customer_ref: str) -> ContactList:
    contacts = selectors.contact_list(customer_ref=customer_ref)
    return ContactList(items=[ContactOut.build(c) for c in contacts])


@router.post(
    "/customers/{path:customer_ref}/contacts",
    response={201: ContactOut, 404: Message, 422: Problems},
    tags=["contacts"],
)
def contacts_create(
    request: HttpRequest, customer_ref: str, payload: ContactIn
) -> Status[ContactOut]:
    contact = contact_create(
        customer=selectors.customer_for_write(customer_ref=customer_ref),
        values=payload.model_dump(),
        actor_label=api_actor_label(request),
        actor=api_user(request),
    )
    return Status(201, ContactOut.build(contact))


@router.get(
    "/customers/{path:customer_ref}/contacts/{int:contact_id}",
    response={200: ContactOut, **_READ_ERRORS},
    tags=["contacts"],
)
def contacts_get(request: HttpRequest, customer_ref: str, contact_id: int) -> ContactOut:
    return ContactOut.build(selectors.contact_get(customer_ref=customer_ref, contact_id=contact_id))


@router.patch(
    "/customers/{path:customer_ref}/contacts/{int:contact_id}",
    response={200: ContactOut, 404: Message, 422: Problems},
    tags=["contacts"],
)
def contacts_update(
    request: HttpRequest, customer_ref: str, contact_id: int, payload: ContactPatch
) -> ContactOut:
    contact = contact_update(
        contact=selectors.contact_get(customer_ref=customer_ref, contact_id=contact_id),
        changes=payload.model_dump(exclude_unset=True),
        actor_label=api_actor_label(request),
        actor=api_user(request),
    )
    return ContactOut.build(contact)


@router.get("/customers", response=CustomerPage, tags=["customers"])
def customers_list(
    request: HttpRequest, filters: Query[CustomerFilters], page: Query[PageIn]
) -> CustomerPage:
    result = selectors.customer_page(**page.model_dump(), **filters.model_dump())
    return CustomerPage(
        count=result.count,
        limit=result.limit,
        offset=result.offset,
        items=[
            CustomerOut.build(
                r.customer, emails=r.emails, open_amount=r.open_amount, unapplied=r.unapplied
            )
            for r in result.items
        ],
    )


@_bulk_post("/customers", "customers", summary="Upsert customers", tag="customers")
def customers_upsert(request: HttpRequest) -> ImportSummaryOut:
    return _bulk(request, "customers")


@router.get(
    "/customers/{path:customer_ref}",
    response={200: CustomerOut, **_READ_ERRORS},
    tags=["customers"],
)
def customers_get(request: HttpRequest, customer_ref: str) -> CustomerOut:
    r = selectors.customer_get(customer_ref=customer_ref)
    return CustomerOut.build(
        r.customer, emails=r.emails, open_amount=r.open_amount, unapplied=r.unapplied
    )


# --- invoices, payments, credit notes ---------------------------------------


@router.get("/invoices", response=InvoicePage, tags=["invoices"])
def invoices_list(
    request: HttpRequest, filters: Query[InvoiceFilters], page: Query[PageIn]
) -> InvoicePage:
    result = selectors.invoice_page(**page.model_dump(), **filters.model_dump())
    return InvoicePage(
        count=result.count,
        limit=result.limit,
        offset=result.offset,
        items=[InvoiceOut.build(i) for i in result.items],
    )


@_bulk_post("/invoices", "invoices", summary="Upsert invoices", tag="invoices")
def invoices_upsert(request: HttpRequest) -> ImportSummaryOut:
    return _bulk(request, "invoices")


@router.get(
    "/invoices/{path:invoice_ref}", response={200: InvoiceDetail, **_READ_ERRORS}, tags=["invoices"]
)
def invoices_get(request: HttpRequest, invoice_ref: str) -> InvoiceDetail:
    return InvoiceDetail.build_detail(selectors.invoice_get(invoice_ref=invoice_ref))


@router.get("/payments", response=PaymentPage, tags=["payments"])
def payments_list(
    request: HttpRequest, filters: Query[PaymentFilters], page: Query[PageIn]
) -> PaymentPage:
    result = selectors.payment_page(**page.model_dump(), **filters.model_dump())
    return PaymentPage(
        count=result.count,
        limit=result.limit,
        offset=result.offset,
        items=[PaymentOut.build(p) for p in result.items],
    )


@_bulk_post("/payments", "payments", summary="Import payments and apply them", tag="payments")
def payments_upsert(request: HttpRequest) -> ImportSummaryOut:
    return _bulk(request, "payments")


@router.get(
    "/payments/{path:payment_ref}", response={200: PaymentDetail, **_READ_ERRORS}, tags=["payments"]
)
def payments_get(request: HttpRequest, payment_ref: str) -> PaymentDetail:
    return PaymentDetail.build_detail(selectors.payment_get(payment_ref=payment_ref))


@router.get("/credit-notes", response=CreditNotePage, tags=["credit notes"])
def credit_notes_list(
    request: HttpRequest, filters: Query[CreditNoteFilters], page: Query[PageIn]
) -> CreditNotePage:
    result = selectors.credit_note_page(**page.model_dump(), **filters.model_dump())
    return CreditNotePage(
        count=result.count,
        limit=result.limit,
        offset=result.offset,
        items=[CreditNoteOut.build(c) for c in result.items],
    )


@_bulk_post(
    "/credit-notes",
    "credit-notes",
    summary="Import credit notes and apply them",
    tag="credit notes",
)
def credit_notes_upsert(request: HttpRequest) -> ImportSummaryOut:
    return _bulk(request, "credit-notes")


@router.get(
    "/credit-notes/{path:credit_note_ref}",
    response={200: CreditNoteDetail, **_READ_ERRORS},
    tags=["credit notes"],
)
def credit_notes_get(request: HttpRequest, credit_note_ref: str) -> CreditNoteDetail:
    return CreditNoteDetail.build_detail(selectors.credit_note_get(credit_note_ref=credit_note_ref))
