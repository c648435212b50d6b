"""Staff pages. Views are thin: authentication, a form, one selector or
service, a template. With htmx, the worklist's actions answer with the row
partial (``_task_row.html``) instead of redirecting."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import datetime, time, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from django import forms
from django.contrib import messages as flash
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST, require_safe

from arrears.cases.models import DisputeReason
from arrears.cases.services import CaseRejected, dispute_open, promise_record
from arrears.comms.catalog import TemplateMissing
from arrears.comms.compose import task_script
from arrears.comms.models import CallOutcome, Task
from arrears.comms.outbox import message_queue
from arrears.comms.services import TaskRejected, call_log, task_complete, task_reassign, task_snooze
from arrears.ledger.models import Automation, Contact, Customer, Invoice
from arrears.sequencing.models import CustomerSegment, Segment

from .document_views import upload_hint
from .exports import search_csv, worklist_csv
from .roles import is_manager, manager_required, signed_in_user
from .selectors import (
    NO_COLLECTOR,
    balances_by_customer,
    customer_countries,
    customer_page,
    customers_search,
    dashboard_figures,
    dashboard_operations,
    email_template_keys,
    invoice_page,
    search,
)
from .services import ChangeRejected, customer_automation_set, note_add
from .worklist import (
    UNASSIGNED,
    collectors_list,
    task_for,
    work_item,
    worklist_owner,
    worklist_page,
    worklist_ranked,
)

CUSTOMERS_PAGE = 50


def _page_number(request: HttpRequest) -> int:
    value = request.GET.get("page", "1")
    return int(value) if value.isdigit() else 1


@require_safe
@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    today = timezone.localdate()
    figures = dashboard_figures(as_of=today)
    return render(
        request,
        "web/dashboard.html",
        {"dashboard": figures, "ops": dashboard_operations(as_of=today)},
    )


# --- the worklist -------------------------------------------------------------


class CompleteForm(forms.Form):
    outcome = forms.ChoiceField(choices=CallOutcome.choices)
    contact = forms.TypedChoiceField(required=False, coerce=int, empty_value=None, choices=())
    note = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    promised_on = forms.DateField(required=False, input_formats=["%Y-%m-%d"])
    promised_amount = forms.DecimalField(
        required=False, min_value=Decimal("0.01"), max_digits=18, decimal_places=4
    )
    promised_currency = forms.RegexField(regex=r"^[A-Z]{3}$", required=False)

    def __init__(self, *args: Any, customer: Customer, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.customer = customer
        field = self.fields["contact"]
        assert isinstance(field, forms.TypedChoiceField)
        field.choices = [("", "—")] + [
            (c.pk, str(c)) for c in customer.contacts.filter(is_active=True)
        ]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("outcome") == CallOutcome.PROMISE and not data.get("promised_on"):
            self.add_error("promised_on", "A promise to pay needs the promised date.")
        if data.get("promised_amount") is not None and not data.get("promised_currency"):
            data["promised_currency"] = self.customer.currency
        return data

    def contact_obj(self) -> Contact | None:
        pk = self.cleaned_data.get("contact")
        return self.customer.contacts.get(pk=pk) if pk else None

    def promise_kwargs(self) -> dict[str, Any]:
        if self.cleaned_data["outcome"] != CallOutcome.PROMISE:
            return {}
        return {
            "promised_on": self.cleaned_data["promised_on"],
            "promised_amount": self.cleaned_data.get("promised_amount"),
            "promised_currency": self.cleaned_data.get("promised_currency") or "",
        }


def _row(
    request: HttpRequest,
    task: Task,
    *,
    state: str,
    form: CompleteForm | None = None,
    error: str = "",
    status: int = 200,
) -> HttpResponse:
    """The task's row: the full row while open, a one-line note once done,
    snoozed or handed over. Without htmx: back to the worklist."""
    if not getattr(request, "htmx", False):
        if error:
            flash.error(request, error)
        else:
            flash.success(request, f"{task.title}: {state}")
        return redirect(request.POST.get("next") or reverse("worklist"))
    context: dict[str, Any] = {
        "state": state,
        "task": task,
        "error": error,
        "outcomes": CallOutcome.choices,
        "outcome_label": CallOutcome(task.outcome).label
        if task.outcome in CallOutcome.values
        else task.outcome,
    }
    if state == "open":
        context["item"] = work_item(task=task)
        context["form"] = form
        context["manager"] = is_manager(request.user)
        context["collectors"] = collectors_list() if context["manager"] else []
    return render(request, "web/_task_row.html", context, status=status)


@require_safe
@login_required
def worklist(request: HttpRequest) -> HttpResponse | StreamingHttpResponse:
    user = signed_in_user(request)
    try:
        owner = worklist_owner(user=user, collector=request.GET.get("collector"))
    except User.DoesNotExist as exc:
        raise Http404("no such collector") from exc
    if request.GET.get("format") == "csv":
        label = UNASSIGNED if owner is None else owner.get_username()
        return worklist_csv(worklist_ranked(owner=owner), owner=label)
    page = worklist_page(owner=owner, page=_page_number(request))
    manager = is_manager(user)
    return render(
        request,
        "web/worklist.html",
        {
            "worklist": page,
            "manager": manager,
            "collectors": collectors_list() if manager else [],
            "selected": UNASSIGNED if owner is None else str(owner.pk),
            "unassigned": UNASSIGNED,
            "outcomes": CallOutcome.choices,
            "me": user,
        },
    )


def _task(request: HttpRequest, pk: int) -> Task:
    try:
        return task_for(user=signed_in_user(request), pk=pk)
    except Task.DoesNotExist as exc:
        raise Http404("no such task") from exc


@require_POST
@login_required
def task_done(request: HttpRequest, pk: int) -> HttpResponse:
    task = _task(request, pk)
    form = CompleteForm(request.POST, customer=task.customer)
    if not form.is_valid():
        errors = _form_errors(form)
        return _row(request, task, state="open", form=form, error=errors, status=422)
    try:
        done = task_complete(
            task=task,
            outcome=form.cleaned_data["outcome"],
            actor=signed_in_user(request),
            note=form.cleaned_data.get("note") or "",
            contact=form.contact_obj(),
            **form.promise_kwargs(),
        )
    except (TaskRejected, CaseRejected) as exc:
        return _row(request, task, state="open", form=form, error=str(exc), status=422)
    return _row(request, done, state="done")


@require_safe
@login_required
def task_script_view(request: HttpRequest, pk: int) -> HttpResponse:
    """A call task's script rendered with today's data (loaded when the
    collector opens it, so the worklist itself stays a fixed few queries)."""
    task = _task(request, pk)
    try:
        text = task_script(task)
    except TemplateMissing as exc:
        text = f"No script: {exc}"
    return render(request, "web/_task_script.html", {"script": text})


@require_POST
@login_required
def task_snooze_view(request: HttpRequest, pk: int) -> HttpResponse:
    task = _task(request, pk)
    now = timezone.localtime()
    choice = request.POST.get("until", "")
    if choice == "2h":
        until = now + timedelta(hours=2)
    elif choice == "tomorrow":
        until = timezone.make_aware(datetime.combine(now.date() + timedelta(days=1), time(9)))
    else:
        return _row(request, task, state="open", error="Snooze until when?", status=422)
    try:
        snoozed = task_snooze(task=task, until=until, actor=signed_in_user(request))
    except TaskRejected as exc:
        return _row(request, task, state="open", error=str(exc), status=422)
    return _row(request, snoozed, state="snoozed")


@require_POST
@manager_required
def task_reassign_view(request: HttpRequest, pk: int) -> HttpResponse:
    task = _task(request, pk)
    to_value = request.POST.get("to", "")
    to = None
    if to_value and to_value != UNASSIGNED:
        to = next((u for u in collectors_list() if str(u.pk) == to_value), None)
        if to is None:
            return _row(request, task, state="open", error="Pick a collector.", status=422)
    try:
        moved = task_reassign(task=task, to=to, actor=signed_in_user(request))
    except TaskRejected as exc:
        return _row(request, task, state="open", error=str(exc), status=422)
    return _row(request, moved, state="reassigned")


# --- customers ------------------------------------------------------------------


CUSTOMER_FILTERS = ("q", "country", "automation", "segment", "collector")


@require_safe
@login_required
def customers(request: HttpRequest) -> HttpResponse | StreamingHttpResponse:
    filters = {k: request.GET.get(k, "").strip() for k in CUSTOMER_FILTERS}
    qs = customers_search(**filters)
    today = timezone.localdate()
    if request.GET.get("format") == "csv":
        return _customers_csv(qs, today)
    page = Paginator(qs, CUSTOMERS_PAGE).get_page(request.GET.get("page"))
    balances = balances_by_customer([c.pk for c in page], as_of=today)
    rows = [(c, balances.get(c.pk, [])) for c in page]
    return render(
        request,
        "web/customers.html",
        {
            "page": page,
            "rows": rows,
            "q": filters["q"],
            "f": filters,
            "filtered": any(filters.values()),
            # The filters again, for the pager's and the CSV link's addresses.
            "query": urlencode({k: v for k, v in filters.items() if v}),
            "countries": customer_countries(),
            "automations": Automation.choices,
            "segments": Segment.choices,
            "collectors": collectors_list(),
            "no_collector": NO_COLLECTOR,
        },
    )


def _customers_csv(qs: Any, today: Any) -> StreamingHttpResponse:
    header = [
        "customer_ref",
        "name",
        "country",
        "collector",
        "automation",
        "open_invoices",
        "open",
        "overdue",
        "segment",
    ]

    def lines() -> Any:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(header)
        chunk: list[Customer] = []
        for customer in qs.iterator(chunk_size=2000):
            chunk.append(customer)
            if len(chunk) == 2000:
                yield from _csv_rows(writer, out, chunk, today)
                chunk = []
        yield from _csv_rows(writer, out, chunk, today)
        yield out.getvalue()

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="customers.csv"'
    return response


def _csv_rows(writer: Any, out: io.StringIO, chunk: list[Customer], today: Any) -> Any:
    balances = balances_by_customer([c.pk for c in chunk], as_of=today)
    for c in chunk:
        bal = balances.get(c.pk, [])
        writer.writerow(
            [
                c.ref,
                c.name,
                c.country,
                c.collector.get_username() if c.collector else "",
                c.automation,
                sum(b.invoices for b in bal),
                ";".join(f"{b.open:.2f} {b.currency}" for b in bal),
                ";".join(f"{b.overdue:.2f} {b.currency}" for b in bal),
                _stored_segment(c),
            ]
        )
    text = out.getvalue()
    out.seek(0)
    out.truncate()
    yield text


def _stored_segment(customer: Customer) -> str:
    try:
        return customer.segment_state.segment
    except CustomerSegment.DoesNotExist:
        return ""


def _customer(ref: str) -> Customer:
    return get_object_or_404(
        Customer.objects.select_related("collector", "policy_settings"), ref=ref
    )


@require_safe
@login_required
def customer_detail(request: HttpRequest, customer_ref: str) -> HttpResponse:
    customer = _customer(customer_ref)
    page = customer_page(
        customer=customer, as_of=timezone.localdate(), timeline_page=_page_number(request)
    )
    return render(
        request,
        "web/customer.html",
        {
            "p": page,
            "manager": is_manager(request.user),
            "outcomes": CallOutcome.choices,
            "reasons": DisputeReason.choices,
            "automations": Automation.choices,
            "form_token": uuid.uuid4().hex,
            "today": timezone.localdate(),
            "upload_hint": upload_hint(),
        },
    )


def _done(request: HttpRequest, customer: Customer, message: str) -> HttpResponse:
    flash.success(request, message)
    return redirect("customer", customer_ref=customer.ref)


def _refused(request: HttpRequest, customer: Customer, message: str) -> HttpResponse:
    flash.error(request, message)
    return redirect(reverse("customer", args=[customer.ref]) + "#actions")


def _form_errors(form: forms.Form) -> str:
    return "; ".join(
        f"{name.replace('_', ' ')}: {e}" if name != "__all__" else str(e)
        for name, errs in form.errors.items()
        for e in errs
    )


@require_POST
@login_required
def customer_call(request: HttpRequest, customer_ref: str) -> HttpResponse:
    customer = _customer(customer_ref)
    form = CompleteForm(request.POST, customer=customer)
    if not form.is_valid():
        return _refused(request, customer, _form_errors(form))
    try:
        call_log(
            customer=customer,
            outcome=form.cleaned_data["outcome"],
            actor=signed_in_user(request),
            note=form.cleaned_data.get("note") or "",
            contact=form.contact_obj(),
            invoice_refs=request.POST.getlist("invoice_refs"),
            **form.promise_kwargs(),
        )
    except (TaskRejected, CaseRejected) as exc:
        return _refused(request, customer, str(exc))
    return _done(request, customer, "Call logged.")


@require_POST
@login_required
def customer_note(request: HttpRequest, customer_ref: str) -> HttpResponse:
    customer = _customer(customer_ref)
    try:
        note_add(
            customer=customer, text=request.POST.get("text", ""), actor=signed_in_user(request)
        )
    except ChangeRejected as exc:
        return _refused(request, customer, str(exc))
    return _done(request, customer, "Note added.")


class PromiseForm(forms.Form):
    promised_on = forms.DateField(input_formats=["%Y-%m-%d"])
    amount = forms.DecimalField(
        required=False, min_value=Decimal("0.01"), max_digits=18, decimal_places=4
    )
    currency = forms.RegexField(regex=r"^[A-Z]{3}$", required=False)
    note = forms.CharField(required=False)


@require_POST
@login_required
def customer_promise(request: HttpRequest, customer_ref: str) -> HttpResponse:
    customer = _customer(customer_ref)
    form = PromiseForm(request.POST)
    if not form.is_valid():
        return _refused(request, customer, _form_errors(form))
    amount = form.cleaned_data.get("amount")
    try:
        promise_record(
            customer=customer,
            promised_on=form.cleaned_data["promised_on"],
            source="staff",
            actor=signed_in_user(request),
            invoice_refs=request.POST.getlist("invoice_refs"),
            amount=amount,
            currency=(form.cleaned_data.get("currency") or customer.currency)
            if amount is not None
            else "",
            note=form.cleaned_data.get("note") or "",
        )
    except CaseRejected as exc:
        return _refused(request, customer, str(exc))
    return _done(request, customer, "Promise to pay recorded: reminders are paused.")


@require_POST
@login_required
def customer_dispute(request: HttpRequest, customer_ref: str) -> HttpResponse:
    customer = _customer(customer_ref)
    refs = request.POST.getlist("invoice_refs")
    if not refs:
        return _refused(request, customer, "Tick the invoices in dispute.")
    try:
        dispute_open(
            customer=customer,
            lines=dict.fromkeys(refs),
            reason=request.POST.get("reason", ""),
            description=request.POST.get("description", ""),
            actor=signed_in_user(request),
        )
    except CaseRejected as exc:
        return _refused(request, customer, str(exc))
    return _done(
        request, customer, f"Dispute opened on {', '.join(refs)}: left out of the dunning flow."
    )


@require_POST
@manager_required
def customer_automation(request: HttpRequest, customer_ref: str) -> HttpResponse:
    customer = _customer(customer_ref)
    try:
        customer_automation_set(
            customer=customer,
            automation=request.POST.get("automation", ""),
            actor=signed_in_user(request),
            why=request.POST.get("why", ""),
        )
    except ChangeRejected as exc:
        return _refused(request, customer, str(exc))
    return _done(request, customer, f"Collection: {customer.get_automation_display()}.")


@require_POST
@login_required
def customer_email(request: HttpRequest, customer_ref: str) -> HttpResponse:
    customer = _customer(customer_ref)
    key = request.POST.get("template_key", "")
    token = request.POST.get("form_token", "")
    if key not in email_template_keys():
        return _refused(request, customer, "Pick an e-mail template.")
    if not token.isalnum() or len(token) > 64:
        return _refused(request, customer, "The form is stale: reload the page.")
    # The form's token makes a double click (or a resubmitted form) one e-mail.
    message_queue(
        customer=customer,
        channel="email",
        template_key=key,
        invoice_refs=request.POST.getlist("invoice_refs"),
        actor_label=signed_in_user(request).get_username(),
        idempotency_key=f"one-off:{customer.pk}:{token}",
    )
    return _done(request, customer, f"E-mail “{key}” queued.")


# --- invoices and search ----------------------------------------------------------


@require_safe
@login_required
def invoice_detail(request: HttpRequest, invoice_ref: str) -> HttpResponse:
    invoice = get_object_or_404(Invoice.objects.select_related("customer"), ref=invoice_ref)
    page = invoice_page(invoice=invoice, as_of=timezone.localdate())
    return render(request, "web/invoice.html", {"p": page})


@require_safe
@login_required
def search_view(request: HttpRequest) -> HttpResponse | StreamingHttpResponse:
    results = search(q=request.GET.get("q", ""))
    if request.GET.get("format") == "csv":
        return search_csv(results)
    # One exact hit by ref: go straight there.
    exact_customers = [c for c in results.customers if c.ref == results.q]
    exact_invoices = [i for i in results.invoices if i.ref == results.q]
    if len(exact_customers) + len(exact_invoices) == 1:
        if exact_customers:
            return redirect("customer", customer_ref=exact_customers[0].ref)
        return redirect("invoice", invoice_ref=exact_invoices[0].ref)
    return render(request, "web/search.html", {"r": results})
