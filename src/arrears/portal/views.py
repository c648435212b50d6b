"""The customer portal's pages. A magic link opens a session scoped to one
customer; every page reads through that customer, so another customer's
invoice or contact answers 404 exactly like one that does not exist."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from functools import wraps
from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from arrears.cases.services import CaseRejected
from arrears.comms.compose import invoice_copy_pdf
from arrears.comms.rendering import message_context, payment_reference
from arrears.domain.masterdata import FieldError
from arrears.ledger.models import Contact, ContactRole, Customer
from arrears.ledger.services import ContactRejected

from . import selectors, services
from .branding import brand_context
from .conf import setting
from .forms import (
    ConsentForm,
    ContactForm,
    DetailsForm,
    DisputeForm,
    PlanForm,
    PromiseForm,
    SignInForm,
)
from .links import LinkInvalid, generation_of, portal_token_read
from .onboarding import customer_completeness
from .ratelimit import (
    FORM_PER_CUSTOMER,
    LINK_OPEN_PER_IP,
    LINK_REQUEST_PER_ADDRESS,
    LINK_REQUEST_PER_IP,
    client_ip,
    rate_limit_hit,
    rate_limits_hit,
)

SESSION_KEY = "arrears_portal"


@dataclass(frozen=True)
class Visit:
    """Who is in the portal: the customer the session is scoped to, and
    the contact the link was made for (None: a customer link)."""

    customer: Customer
    contact: Contact | None


class PortalRequest(HttpRequest):
    portal: Visit


def _visit(request: HttpRequest) -> Visit | None:
    data = request.session.get(SESSION_KEY)
    if not isinstance(data, dict):
        return None
    customer_id = data.get("c")
    if not isinstance(customer_id, int):
        return None
    customer = Customer.objects.filter(pk=customer_id).first()
    # A revoked link ends the sessions it opened, too.
    if customer is None or data.get("g") != generation_of(customer.pk):
        request.session.pop(SESSION_KEY, None)
        return None
    contact = None
    if data.get("p"):
        contact = Contact.objects.filter(pk=data["p"], customer=customer).first()
    return Visit(customer, contact)


def _too_many(request: HttpRequest) -> HttpResponse:
    response = render(request, "portal/too_many.html", brand_context(), status=429)
    response["Retry-After"] = "900"
    return response


PortalView = Callable[..., HttpResponse]


def portal_view(view: PortalView) -> PortalView:
    """The page needs a portal session (else: the sign-in page); POSTs are
    rate limited per customer; nothing is cached."""

    @wraps(view)
    @never_cache
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        visit = _visit(request)
        if visit is None:
            return redirect("portal-signin")
        if request.method == "POST" and not rate_limit_hit(
            FORM_PER_CUSTOMER, str(visit.customer.pk)
        ):
            return _too_many(request)
        request.portal = visit  # type: ignore[attr-defined]
        return view(request, *args, **kwargs)

    return wrapped


def _page(
    request: HttpRequest, template: str, context: dict[str, Any], status: int = 200
) -> HttpResponse:
    visit: Visit | None = getattr(request, "portal", None)
    base = {**brand_context(), "visit": visit, "today": timezone.localdate()}
    if visit is not None:
        base["customer"] = visit.customer
    return render(request, f"portal/{template}", {**base, **context}, status=status)


# --- getting in ---------------------------------------------------------------


@never_cache
@require_http_methods(["GET"])
def link_open(request: HttpRequest, token: str) -> HttpResponse:
    """Follow a magic link: open a session for its customer and go to the
    overview (so the token leaves the address bar). A bad, expired or
    revoked token gets the same page, whatever is wrong with it."""
    if not rate_limit_hit(LINK_OPEN_PER_IP, client_ip(request)):
        return _too_many(request)
    try:
        grant = portal_token_read(token)
    except LinkInvalid:
        request.session.pop(SESSION_KEY, None)
        return _page(request, "link_invalid.html", {"form": SignInForm()}, status=403)
    request.session.cycle_key()
    request.session[SESSION_KEY] = {
        "c": grant.customer.pk,
        "g": grant.generation,
        "p": grant.contact.pk if grant.contact else None,
    }
    request.session.set_expiry(setting("ARREARS_PORTAL_SESSION_HOURS") * 3600)
    services.portal_opened(customer=grant.customer, contact=grant.contact, via="link")
    return redirect("portal-home")


@never_cache
@require_http_methods(["GET", "POST"])
def signin(request: HttpRequest) -> HttpResponse:
    """Ask for a sign-in link by e-mail. The answer is the same whether or
    not the address belongs to anyone: addresses cannot be probed."""
    form = SignInForm(request.POST or None)
    if request.method == "POST":
        if form.is_valid():
            email = form.cleaned_data["email"]
            if not rate_limits_hit(
                [(LINK_REQUEST_PER_IP, client_ip(request)), (LINK_REQUEST_PER_ADDRESS, email)]
            ):
                return _too_many(request)
            services.portal_signin_request(email=email)
            return _page(request, "signin_sent.html", {"email": email})
        if not rate_limit_hit(LINK_REQUEST_PER_IP, client_ip(request)):
            return _too_many(request)
    return _page(request, "signin.html", {"form": form}, status=400 if form.errors else 200)


@require_POST
def signout(request: HttpRequest) -> HttpResponse:
    request.session.pop(SESSION_KEY, None)
    request.session.cycle_key()
    return _page(request, "signed_out.html", {})


# --- reading ------------------------------------------------------------------


@portal_view
@require_http_methods(["GET"])
def home(request: PortalRequest) -> HttpResponse:
    customer = request.portal.customer
    overview = selectors.portal_overview(customer=customer, today=timezone.localdate())
    return _page(
        request,
        "home.html",
        {
            "overview": overview,
            "completeness": customer_completeness(customer),
            "here": "home",
        },
    )


@portal_view
@require_http_methods(["GET"])
def invoices(request: PortalRequest) -> HttpResponse:
    overview = selectors.portal_overview(
        customer=request.portal.customer, today=timezone.localdate()
    )
    return _page(request, "invoices.html", {"overview": overview, "here": "invoices"})


@portal_view
@require_http_methods(["GET"])
def invoice_detail(request: PortalRequest, ref: str) -> HttpResponse:
    invoice = selectors.invoice_for(request.portal.customer, ref)
    if invoice is None:
        raise Http404
    return _page(
        request,
        "invoice.html",
        {
            "invoice": invoice,
            "disputed": invoice.ref in selectors.disputed_refs(request.portal.customer),
            "reference": payment_reference(request.portal.customer.ref),
            "here": "invoices",
        },
    )


@portal_view
@require_http_methods(["GET"])
def invoice_pdf(request: PortalRequest, ref: str) -> HttpResponse:
    customer = request.portal.customer
    invoice = selectors.invoice_for(customer, ref)
    if invoice is None:
        raise Http404
    now = timezone.now()
    context = message_context(customer=customer, invoice_refs=[], deadline=None, now=now)
    today = context["today"]
    row = {
        "ref": invoice.ref,
        "order_ref": invoice.order_ref,
        "issue_date": invoice.issue_date,
        "due_date": invoice.due_date,
        "amount": invoice.amount,
        "open_amount": invoice.open_amount,
        "currency": invoice.currency,
        "days_overdue": max((today - invoice.due_date).days, 0),
    }
    context["terms"] = invoice.terms
    response = HttpResponse(invoice_copy_pdf(row, context), content_type="application/pdf")
    safe = "".join(ch for ch in invoice.ref if ch.isalnum() or ch in "-_.") or "invoice"
    response["Content-Disposition"] = f'attachment; filename="{safe}.pdf"'
    return response


@portal_view
@require_http_methods(["GET"])
def pay(request: PortalRequest) -> HttpResponse:
    customer = request.portal.customer
    overview = selectors.portal_overview(customer=customer, today=timezone.localdate())
    return _page(request, "pay.html", {"overview": overview, "here": "pay"})


# --- acting -------------------------------------------------------------------


def _currencies(invoices: list[Any], customer: Customer) -> list[str]:
    found = sorted(
        {i.currency for i in invoices} | ({customer.currency} if customer.currency else set())
    )
    return found


@portal_view
@require_http_methods(["GET", "POST"])
def promise(request: PortalRequest) -> HttpResponse:
    visit = request.portal
    open_ = selectors.open_invoices(visit.customer)
    form = PromiseForm(
        request.POST or None,
        invoices=open_,
        currencies=_currencies(open_, visit.customer),
        initial={"promised_on": timezone.localdate() + timedelta(days=7)},
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            made = services.portal_promise(
                customer=visit.customer,
                contact=visit.contact,
                promised_on=data["promised_on"],
                invoice_refs=data["invoices"],
                amount=data["amount"],
                currency=data["currency"] or "",
                note=data["note"],
            )
        except CaseRejected as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(
                request,
                f"Thank you. We have noted your promise to pay by {made.promised_on:%d %B %Y}; "
                "we will not send reminders until then.",
            )
            return redirect("portal-home")
    return _page(
        request,
        "promise.html",
        {"form": form, "invoices": open_, "here": "promise"},
        status=400 if form.errors else 200,
    )


@portal_view
@require_http_methods(["GET", "POST"])
def dispute(request: PortalRequest) -> HttpResponse:
    visit = request.portal
    disputed = selectors.disputed_refs(visit.customer)
    open_ = [i for i in selectors.open_invoices(visit.customer) if i.ref not in disputed]
    initial = {"invoices": [request.GET["invoice"]]} if request.GET.get("invoice") else {}
    form = DisputeForm(request.POST or None, request.FILES or None, invoices=open_, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            made = services.portal_dispute(
                customer=visit.customer,
                contact=visit.contact,
                invoice_refs=data["invoices"],
                reason=data["reason"],
                description=data["description"],
                uploads=data["attachments"],
            )
        except CaseRejected as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(
                request,
                f"Thank you. Your dispute (number {made.pk}) is with our team; we will not send "
                "reminders about these invoices while we look into it.",
            )
            return redirect("portal-home")
    return _page(
        request,
        "dispute.html",
        {"form": form, "invoices": open_, "here": "dispute"},
        status=400 if form.errors else 200,
    )


@portal_view
@require_http_methods(["GET", "POST"])
def plan(request: PortalRequest) -> HttpResponse:
    visit = request.portal
    open_ = selectors.open_invoices(visit.customer)
    form = PlanForm(
        request.POST or None,
        invoices=open_,
        initial={"first_on": timezone.localdate() + timedelta(days=14)},
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            outcome = services.portal_plan_request(
                customer=visit.customer,
                contact=visit.contact,
                instalments=data["instalments"],
                first_on=data["first_on"],
                invoice_refs=data["invoices"],
                note=data["note"],
            )
        except CaseRejected as exc:
            form.add_error(None, str(exc))
        else:
            if outcome.plan is not None:
                agreed = outcome.plan
                messages.success(
                    request,
                    f"Your payment plan is agreed: {agreed.instalments.count()} monthly "
                    f"instalments, {agreed.total:,.2f} {agreed.currency} in all. We have "
                    "e-mailed you the schedule and will not send reminders while it is kept.",
                )
            else:
                messages.success(
                    request,
                    "Thank you. A plan that long needs your account manager, who will get "
                    "back to you.",
                )
            return redirect("portal-home")
    return _page(
        request,
        "plan.html",
        {"form": form, "invoices": open_, "here": "plan"},
        status=400 if form.errors else 200,
    )


def _contact_errors(form: ContactForm, exc: ContactRejected) -> None:
    for field, reason in exc.problems.items():
        if "customers file" in reason:
            reason = (
                "this comes from our records and cannot be changed here; add a new contact "
                "instead, or tell us"
            )
        form.add_error(field if field in form.fields else None, reason)


@portal_view
@require_http_methods(["GET", "POST"])
def contacts(request: PortalRequest) -> HttpResponse:
    visit = request.portal
    form = ContactForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.portal_contact_add(
                customer=visit.customer,
                contact=visit.contact,
                values={**form.cleaned_data, "role": ContactRole.AP},
            )
        except ContactRejected as exc:
            _contact_errors(form, exc)
        else:
            messages.success(request, "The contact was added.")
            return redirect("portal-contacts")
    return _page(
        request,
        "contacts.html",
        {"form": form, "contacts": selectors.portal_contacts(visit.customer), "here": "contacts"},
        status=400 if form.errors else 200,
    )


@portal_view
@require_http_methods(["GET", "POST"])
def contact_edit(request: PortalRequest, pk: int) -> HttpResponse:
    visit = request.portal
    target = get_object_or_404(Contact, pk=pk, customer=visit.customer, is_active=True)
    initial = {"name": target.name, "email": target.email, "phone": target.phone}
    consents = {
        ch: getattr(target, f"consent_{ch}") and not getattr(target, f"opted_out_{ch}")
        for ch in ("email", "sms", "call")
    }
    posted = request.POST if request.method == "POST" else None
    which = request.POST.get("form") if posted else None
    form = ContactForm(posted if which == "contact" else None, initial=initial)
    consent_form = ConsentForm(posted if which == "consent" else None, initial=consents)
    if which == "contact" and form.is_valid():
        try:
            services.portal_contact_change(
                customer=visit.customer,
                contact=visit.contact,
                target=target,
                changes=form.cleaned_data,
            )
        except ContactRejected as exc:
            _contact_errors(form, exc)
        else:
            messages.success(request, "The contact was saved.")
            return redirect("portal-contacts")
    if which == "consent" and consent_form.is_valid():
        changed = services.portal_consents_set(
            customer=visit.customer,
            contact=visit.contact,
            target=target,
            wanted=consent_form.cleaned_data,
        )
        messages.success(
            request,
            "Your choices were saved."
            if changed
            else "Nothing changed: those were your choices already.",
        )
        return redirect("portal-contacts")
    return _page(
        request,
        "contact_edit.html",
        {"form": form, "consent_form": consent_form, "target": target, "here": "contacts"},
        status=400 if form.errors or consent_form.errors else 200,
    )


@portal_view
@require_http_methods(["GET", "POST"])
def details(request: PortalRequest) -> HttpResponse:
    visit = request.portal
    customer = visit.customer
    form = DetailsForm(
        request.POST or None,
        initial={"tax_id": customer.tax_id, "preferred_channel": customer.preferred_channel},
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.portal_details_set(
                customer=customer,
                contact=visit.contact,
                tax_id_text=form.cleaned_data["tax_id"],
                channel=form.cleaned_data["preferred_channel"],
            )
        except FieldError as exc:
            form.add_error(
                "tax_id", f"{exc}: please check the number and the country ({customer.country})."
            )
        else:
            messages.success(request, "Your company details were saved.")
            return redirect("portal-details")
    return _page(
        request,
        "details.html",
        {"form": form, "completeness": customer_completeness(customer), "here": "details"},
        status=400 if form.errors else 200,
    )
