"""Reads for the staff web app's pages."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.db.models import Count, F, Min, Q, QuerySet, Sum
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils import timezone

from arrears.cases.models import Dispute, DisputeLine, DisputeStatus, Promise, PromiseStatus
from arrears.comms.models import (
    CallOutcome,
    DeliveryEvent,
    Message,
    MessageTemplate,
    Task,
    TaskKind,
    TaskStatus,
)
from arrears.comms.selectors import FAILED_STATUSES
from arrears.ledger.models import (
    Activity,
    Allocation,
    Contact,
    Customer,
    Invoice,
    InvoiceStatus,
    Payment,
)
from arrears.ledger.selectors import open_invoices_as_of
from arrears.reports.charts import LineChart, line_chart

# The aging is the aging report's (one query); the pages show the same figures.
from arrears.reports.selectors import Aging as Aging
from arrears.reports.selectors import aging_by_currency as aging_by_currency
from arrears.reports.selectors import metrics_by_currency, metrics_trend
from arrears.sequencing.models import Action
from arrears.sequencing.selectors import customer_explain

from .models import Document


@dataclass(frozen=True)
class OverdueCustomer:
    ref: str
    name: str
    currency: str
    overdue: Decimal
    invoices: int
    oldest_due: date
    days_past_due: int


def customers_top_overdue(*, as_of: date, currency: str, limit: int = 10) -> list[OverdueCustomer]:
    """The customers owing the most overdue AR in ``currency`` at ``as_of``.

    Largest first (ties by customer ref); an empty list when nothing is overdue.
    """
    rows = (
        open_invoices_as_of(as_of)
        .filter(currency=currency, due_date__lt=as_of)
        .values("customer_id", "customer__ref", "customer__name")
        .annotate(overdue=Sum("open_as_of"), invoices=Count("id"), oldest_due=Min("due_date"))
        .order_by("-overdue", "customer__ref")[:limit]
    )
    return [
        OverdueCustomer(
            ref=row["customer__ref"],
            name=row["customer__name"],
            currency=currency,
            overdue=row["overdue"],
            invoices=row["invoices"],
            oldest_due=row["oldest_due"],
            days_past_due=(as_of - row["oldest_due"]).days,
        )
        for row in rows
    ]


def unapplied_cash_by_currency() -> dict[str, Decimal]:
    """Payments received but not applied to any invoice, per currency ({} if none)."""
    rows = (
        Payment.objects.filter(allocated__lt=F("amount"))
        .values("currency")
        .annotate(total=Sum(F("amount") - F("allocated")))
        .order_by("currency")
    )
    return {row["currency"]: row["total"] for row in rows}


@dataclass(frozen=True)
class CurrencySummary:
    currency: str
    ar: Decimal
    overdue: Decimal
    unapplied: Decimal
    aging: Aging
    top_overdue: list[OverdueCustomer]

    @property
    def overdue_percent(self) -> Decimal | None:
        """Overdue share of AR in percent; None when there is no AR."""
        return self.overdue / self.ar * 100 if self.ar else None


@dataclass(frozen=True)
class Dashboard:
    as_of: date
    customers: int
    open_invoices: int
    currencies: list[CurrencySummary]

    @property
    def agings(self) -> list[Aging]:
        return [c.aging for c in self.currencies]


def dashboard_figures(*, as_of: date, top: int = 10) -> Dashboard:
    """Everything the landing page shows, per currency (never added across)."""
    # AR and overdue are the aging's total and its past-due buckets.
    aging = aging_by_currency(as_of=as_of)
    unapplied = unapplied_cash_by_currency()
    currencies = [
        CurrencySummary(
            currency=currency,
            ar=a.total,
            overdue=a.past_due,
            unapplied=unapplied.get(currency, Decimal(0)),
            aging=a,
            top_overdue=customers_top_overdue(as_of=as_of, currency=currency, limit=top),
        )
        for currency, a in aging.items()
    ]
    return Dashboard(
        as_of=as_of,
        customers=Customer.objects.count(),
        open_invoices=sum(a.open_invoices for a in aging.values()),
        currencies=currencies,
    )


# --- the dashboard's operational panels -------------------------------------


@dataclass(frozen=True)
class TrendChart:
    currency: str
    chart: LineChart
    cei: Decimal | None
    best_possible_dso: Decimal | None
    dso: Decimal | None


@dataclass(frozen=True)
class Operations:
    """Today's run by action kind, the failed-messages queue, recent broken
    promises and the DSO trend (12 month ends) per currency."""

    run_by_kind: list[tuple[str, int]]
    failed_messages: int
    broken_promises: list[Promise]
    trends: list[TrendChart]


def dashboard_operations(*, as_of: date, broken_limit: int = 8) -> Operations:
    """The dashboard's panels about work rather than money (seven queries)."""
    run = (
        Action.objects.filter(planned_for=as_of)
        .order_by()
        .values("kind")
        .annotate(n=Count("id"))
        .values_list("kind", "n")
    )
    broken = list(
        Promise.objects.filter(status=PromiseStatus.BROKEN)
        .select_related("customer")
        .order_by("-resolved_at", "-id")[:broken_limit]
    )
    now = metrics_by_currency(as_of=as_of)
    trends = []
    for currency, trend in metrics_trend(as_of=as_of).items():
        rounded = [p.metrics.rounded(2) for p in trend.points]
        chart = line_chart(
            [f"{p.as_of:%b %y}" for p in trend.points],
            [
                ("DSO", "dso", [m.dso for m in rounded]),
                ("Best possible DSO", "best", [m.best_possible_dso for m in rounded]),
            ],
        )
        today = now[currency].metrics.rounded(2) if currency in now else None
        trends.append(
            TrendChart(
                currency,
                chart,
                today.cei if today else None,
                today.best_possible_dso if today else None,
                today.dso if today else None,
            )
        )
    return Operations(
        run_by_kind=sorted(run, key=lambda kv: (-kv[1], kv[0])),
        failed_messages=Message.objects.filter(status__in=FAILED_STATUSES).count(),
        broken_promises=broken,
        trends=trends,
    )


# --- customers ----------------------------------------------------------------

BUCKETS = ("current", "1-30", "31-60", "61-90", "90+")


def bucket_of(days_past_due: int) -> str:
    """The aging bucket of an invoice so many days past due (DESIGN §4)."""
    if days_past_due <= 0:
        return "current"
    if days_past_due <= 30:
        return "1-30"
    if days_past_due <= 60:
        return "31-60"
    if days_past_due <= 90:
        return "61-90"
    return "90+"


NO_COLLECTOR = "none"


def customers_search(
    *,
    q: str = "",
    country: str = "",
    automation: str = "",
    segment: str = "",
    collector: str = "",
) -> QuerySet[Customer]:
    """Customers whose ref or name contains ``q`` (all when blank), by ref,
    with their collector and stored segment. Filters, each ignored when
    blank: ``country`` (ISO code), ``automation`` mode, ``segment`` (as the
    daily run last stored it: a customer it has not seen has none),
    ``collector`` (a user id, or "none" for nobody's)."""
    qs = Customer.objects.select_related("collector", "segment_state").order_by("ref")
    q = q.strip()
    if q:
        qs = qs.filter(Q(ref__icontains=q) | Q(name__icontains=q))
    if country:
        qs = qs.filter(country=country.strip().upper())
    if automation:
        qs = qs.filter(automation=automation)
    if segment:
        qs = qs.filter(segment_state__segment=segment)
    if collector == NO_COLLECTOR:
        qs = qs.filter(collector__isnull=True)
    elif collector.isdigit():
        qs = qs.filter(collector_id=int(collector))
    return qs


def customer_countries() -> list[str]:
    """The countries customers are in, for the list's filter (one query)."""
    return list(Customer.objects.order_by("country").values_list("country", flat=True).distinct())


@dataclass(frozen=True)
class Balance:
    currency: str
    open: Decimal
    overdue: Decimal
    invoices: int


def balances_by_customer(customer_ids: list[int], *, as_of: date) -> dict[int, list[Balance]]:
    """Open and overdue amounts per customer and currency, today's running
    balances (one query); a customer with nothing open has no entry."""
    rows = (
        Invoice.objects.filter(customer_id__in=customer_ids, status=InvoiceStatus.OPEN)
        .order_by()
        .values("customer_id", "currency")
        .annotate(
            open=Sum(F("amount") - F("allocated")),
            overdue=Sum(F("amount") - F("allocated"), filter=Q(due_date__lt=as_of)),
            n=Count("id"),
        )
        .order_by("customer_id", "currency")
    )
    result: dict[int, list[Balance]] = defaultdict(list)
    for r in rows:
        result[r["customer_id"]].append(
            Balance(r["currency"], r["open"], r["overdue"] or Decimal(0), r["n"])
        )
    return dict(result)


@dataclass(frozen=True)
class InvoiceLine:
    invoice: Invoice
    open_amount: Decimal
    days_past_due: int
    bucket: str
    disputed: bool
    policy: str


@dataclass(frozen=True)
class CustomerAging:
    currency: str
    buckets: list[tuple[str, Decimal]]
    total: Decimal
    overdue: Decimal


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime
    kind: str
    title: str
    detail: str = ""
    actor: str = ""
    status: str = ""
    events: list[DeliveryEvent] = field(default_factory=list)
    link: str = ""


@dataclass(frozen=True)
class Timeline:
    entries: list[TimelineEntry]
    page: int
    has_more: bool


@dataclass(frozen=True)
class CustomerPage:
    customer: Customer
    as_of: date
    aging: list[CustomerAging]
    credit_limit: Decimal | None
    segment: str
    segment_reason: str
    segment_overridden: bool
    hold_reason: str | None
    contacts: list[Contact]
    open_invoices: list[InvoiceLine]
    paid_invoices: list[Invoice]
    open_promises: list[Promise]
    open_disputes: list[Dispute]
    email_templates: list[str]
    timeline: Timeline
    documents: list[Document] = field(default_factory=list)


# Activity entries that the timeline shows from their own rows instead
# (with more to say), and the daily run's bookkeeping.
_TIMELINE_SKIPS = ("call logged", "task done", "promise to pay", "dispute opened", "action planned")
TIMELINE_PAGE = 25


def _at_midnight(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def customer_timeline(*, customer: Customer, page: int = 1, size: int = TIMELINE_PAGE) -> Timeline:
    """Everything that happened with the customer, newest first: log
    entries, messages with their delivery events, tasks and calls with
    outcomes, promises, disputes and payments. One query per source plus two
    for the events and dispute lines shown, whatever the page."""
    page = max(page, 1)
    take = page * size + 1
    c = customer
    entries: list[TimelineEntry] = []
    for a in Activity.objects.filter(customer=c).exclude(verb__in=_TIMELINE_SKIPS)[:take]:
        # An attached document links to its download (the ref is its id).
        link = (
            reverse("document", args=[a.subject_ref])
            if a.subject_type == "document" and a.subject_ref.isdigit()
            else ""
        )
        entries.append(TimelineEntry(a.at, "activity", a.verb, a.why, a.actor_label, link=link))
    messages = list(Message.objects.filter(customer=c).order_by("-created_at", "-id")[:take])
    tasks = list(
        Task.objects.filter(customer=c)
        .annotate(when=Coalesce("completed_at", "created_at"))
        .select_related("completed_by", "assigned_to")
        .order_by("-when", "-id")[:take]
    )
    promises = list(Promise.objects.filter(customer=c).order_by("-created_at", "-id")[:take])
    disputes = list(Dispute.objects.filter(customer=c).order_by("-opened_at", "-id")[:take])
    payments = list(Payment.objects.filter(customer=c).order_by("-received_on", "-id")[:take])
    for m in messages:
        entries.append(
            TimelineEntry(
                m.sent_at or m.created_at,
                "message",
                f"{m.get_channel_display()}: {m.subject or m.template_key}",
                ", ".join(m.invoice_refs),
                m.created_by,
                m.status,
                link=reverse("message-detail", args=[m.pk]),
            )
        )
    for t in tasks:
        done = t.status == TaskStatus.DONE
        outcome = CallOutcome(t.outcome).label if t.outcome in CallOutcome.values else t.outcome
        entries.append(
            TimelineEntry(
                t.completed_at if done and t.completed_at else t.created_at,
                "call" if t.kind == TaskKind.CALL else "task",
                f"{t.get_kind_display()}: {t.title}",
                " · ".join(x for x in (str(outcome or ""), t.note, "" if done else t.reason) if x),
                (t.completed_by.get_username() if t.completed_by else "")
                or (t.assigned_to.get_username() if t.assigned_to else ""),
                t.status,
            )
        )
    for p in promises:
        until = p.promised_on + timedelta(days=p.grace_days)
        amount = f"{p.amount:,.2f} {p.currency}" if p.amount is not None else "the invoices named"
        detail = f"{amount} by {p.promised_on:%d %b %Y}"
        if p.status == PromiseStatus.OPEN:
            detail += f" · reminders paused until {until:%d %b %Y}"
        elif p.resolution:
            detail += f" · {p.resolution}"
        entries.append(
            TimelineEntry(
                p.created_at, "promise", "Promise to pay", detail, p.created_by_label, p.status
            )
        )
    lines: dict[int, list[str]] = defaultdict(list)
    for dispute_id, ref in (
        DisputeLine.objects.filter(dispute__in=disputes)
        .order_by("invoice__ref")
        .values_list("dispute_id", "invoice__ref")
    ):
        lines[dispute_id].append(ref)
    for d in disputes:
        detail = f"{d.get_reason_display()} · {', '.join(lines[d.pk])}"
        if d.description:
            detail += f" · {d.description}"
        if d.status == DisputeStatus.OPEN:
            detail += " · left out of dunning while open"
        entries.append(
            TimelineEntry(d.opened_at, "dispute", "Dispute", detail, d.opened_by_label, d.status)
        )
    for pay in payments:
        entries.append(
            TimelineEntry(
                _at_midnight(pay.received_on),
                "payment",
                f"Payment {pay.ref}",
                f"{pay.amount:,.2f} {pay.currency}"
                + (f" · for {pay.invoice_ref}" if pay.invoice_ref else ""),
            )
        )
    entries.sort(key=lambda e: e.at, reverse=True)
    shown = entries[(page - 1) * size : page * size]
    # Events of the messages read (not only those shown): one query either way.
    events: dict[int, list[DeliveryEvent]] = defaultdict(list)
    for ev in DeliveryEvent.objects.filter(message__in=messages).order_by("at", "id"):
        events[ev.message_id].append(ev)
    by_link = {reverse("message-detail", args=[m.pk]): m.pk for m in messages}
    for e in shown:
        if e.kind == "message":
            e.events.extend(events.get(by_link[e.link], []))
    return Timeline(shown, page, len(entries) > page * size)


DOCUMENTS_SHOWN = 20


def customer_page(*, customer: Customer, as_of: date, timeline_page: int = 1) -> CustomerPage:
    """Everything the customer page shows (a fixed number of queries): the
    header with balances and aging per currency, the segment and why, the
    policy's decision per open invoice, contacts, paid invoices, open cases,
    e-mail templates for a one-off, a page of the timeline and the latest
    documents."""
    explanation = customer_explain(customer=customer, as_of=as_of)
    decisions = {d.invoice_ref: d for d in explanation.decisions.invoices}
    disputed = set(
        DisputeLine.objects.filter(
            invoice__customer=customer, dispute__status=DisputeStatus.OPEN
        ).values_list("invoice_id", flat=True)
    )
    lines = []
    aging: dict[str, dict[str, Decimal]] = {}
    for inv in Invoice.objects.filter(customer=customer, status=InvoiceStatus.OPEN).order_by(
        "due_date", "ref"
    ):
        days = (as_of - inv.due_date).days
        bucket = bucket_of(days)
        per = aging.setdefault(inv.currency, dict.fromkeys(BUCKETS, Decimal(0)))
        per[bucket] += inv.open_amount
        d = decisions.get(inv.ref)
        lines.append(
            InvoiceLine(
                inv, inv.open_amount, days, bucket, inv.pk in disputed, d.reason if d else ""
            )
        )
    ages = [
        CustomerAging(
            cur,
            list(b.items()),
            sum(b.values(), Decimal(0)),
            sum((v for k, v in b.items() if k != "current"), Decimal(0)),
        )
        for cur, b in sorted(aging.items())
    ]
    segment = explanation.run.segment
    return CustomerPage(
        customer=customer,
        as_of=as_of,
        aging=ages,
        credit_limit=customer.credit_limit,
        segment=segment.segment.value,
        segment_reason=segment.reason,
        segment_overridden=segment.overridden,
        hold_reason=explanation.run.facts.hold_reason,
        contacts=list(customer.contacts.order_by("-is_active", "id")),
        open_invoices=lines,
        paid_invoices=list(
            Invoice.objects.filter(customer=customer, status=InvoiceStatus.PAID).order_by(
                "-due_date", "-ref"
            )[:20]
        ),
        open_promises=list(
            Promise.objects.filter(customer=customer, status=PromiseStatus.OPEN).order_by(
                "promised_on"
            )
        ),
        open_disputes=list(
            Dispute.objects.filter(customer=customer, status=DisputeStatus.OPEN).order_by(
                "-opened_at"
            )
        ),
        email_templates=email_template_keys(),
        timeline=customer_timeline(customer=customer, page=timeline_page),
        documents=list(
            Document.objects.filter(customer=customer).select_related("invoice")[:DOCUMENTS_SHOWN]
        ),
    )


def email_template_keys() -> list[str]:
    """Keys of the active e-mail templates, for a one-off message (one query)."""
    return sorted(
        set(
            MessageTemplate.objects.filter(channel="email", is_active=True).values_list(
                "key", flat=True
            )
        )
    )


# --- invoices and search --------------------------------------------------------


@dataclass(frozen=True)
class InvoicePage:
    invoice: Invoice
    as_of: date
    days_past_due: int
    allocations: list[Allocation]
    dispute_lines: list[DisputeLine]
    actions: list[Action]
    messages: list[Message]
    decision: str
    outcome: str
    # Attached to this invoice on the customer page, newest first.
    documents: list[Document] = field(default_factory=list)


def invoice_page(*, invoice: Invoice, as_of: date) -> InvoicePage:
    """The invoice with its allocations, disputes, the actions and messages
    that named it, the documents attached to it, and the policy's decision
    about it today (""/"" when the policy does not consider it, e.g. paid)."""
    customer = invoice.customer
    explanation = customer_explain(customer=customer, as_of=as_of)
    decision = next(
        (d for d in explanation.decisions.invoices if d.invoice_ref == invoice.ref), None
    )
    # JSON "contains" is not portable to SQLite: filter the customer's
    # messages and actions in Python (one customer's, a bounded set).
    messages = [
        m
        for m in Message.objects.filter(customer=customer).order_by("-created_at", "-id")
        if invoice.ref in m.invoice_refs
    ]
    actions = [
        a
        for a in Action.objects.filter(customer=customer).order_by("-planned_for", "-id")
        if invoice.ref in a.invoice_refs
    ]
    return InvoicePage(
        invoice=invoice,
        as_of=as_of,
        days_past_due=(as_of - invoice.due_date).days,
        allocations=list(
            invoice.allocations.select_related("payment", "credit_note").order_by(
                "effective_on", "id"
            )
        ),
        dispute_lines=list(
            invoice.dispute_lines.select_related("dispute").order_by("-dispute__opened_at")
        ),
        actions=actions,
        messages=messages,
        decision=decision.reason if decision else "",
        outcome=decision.outcome.value if decision else "",
        documents=list(invoice.documents.all()),
    )


@dataclass(frozen=True)
class SearchResults:
    q: str
    customers: list[Customer]
    invoices: list[Invoice]


def search(*, q: str, limit: int = 20) -> SearchResults:
    """Customers by ref or name, invoices by ref or their customer's name,
    containing ``q`` (case-insensitive); nothing for a blank query."""
    q = q.strip()
    if not q:
        return SearchResults(q, [], [])
    customers = list(customers_search(q=q)[:limit])
    exact = list(Invoice.objects.filter(ref=q).select_related("customer"))
    others = list(
        Invoice.objects.filter(Q(ref__icontains=q) | Q(customer__name__icontains=q))
        .exclude(ref=q)
        .select_related("customer")
        .order_by("-due_date", "ref")[: limit - len(exact)]
    )
    return SearchResults(q, customers, exact + others)
