"""Reads for the collection policy."""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

from django.db.models import (
    Avg,
    Count,
    F,
    FloatField,
    Func,
    Max,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
)
from django.db.models.functions import Mod
from django.utils import timezone

from arrears.cases.selectors import Holds, case_history, holds_for
from arrears.domain.policy import (
    Automation,
    CustomerFacts,
    Decisions,
    InvoiceFacts,
    Kind,
    PastAction,
    Policy,
    Stage,
    evaluate,
)
from arrears.domain.policy_file import policy_parse
from arrears.domain.segments import (
    PaymentHistory,
    Segment,
    SegmentOverride,
    SegmentResult,
    segment_of,
)
from arrears.ledger.lookups import Ids
from arrears.ledger.models import Allocation, Contact, Customer, Invoice, InvoiceStatus
from arrears.ledger.selectors import open_invoices_as_of

from .models import Action, ActionStatus, CustomerPolicy, PolicySplit, PolicyVersion

DEFAULT_POLICY_PATH = Path(__file__).parent / "policies" / "default.yaml"


@lru_cache(maxsize=32)
def _parsed(text: str, name: str, version: int) -> Policy:
    return replace(policy_parse(text, name=name), version=version)


def policy_default() -> Policy:
    """The shipped default policy (version 0: never applied)."""
    return _parsed(DEFAULT_POLICY_PATH.read_text(encoding="utf-8"), "default", 0)


def policy_active() -> Policy:
    """The active policy, or the shipped default when none was ever applied."""
    row = PolicyVersion.objects.filter(is_active=True).only("name", "version", "yaml_text").first()
    if row is None:
        return policy_default()
    return _parsed(row.yaml_text, row.name, row.version)


def policy_for_customer(customer: Customer) -> Policy:
    """The customer's override policy (its newest version), else the split's
    variant when the customer falls in its share, else the active one."""
    settings = CustomerPolicy.objects.filter(customer=customer).first()
    return PolicyBook().for_customer(customer.ref, settings.policy_name if settings else "")


def split_bucket(customer_ref: str) -> int:
    """A customer's stable place, 0 to 99, for A/B splits: from a hash of
    the ref, so the same customers are in a variant every day."""
    digest = hashlib.sha256(customer_ref.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % 100


def segment_override_for(customer: Customer) -> SegmentOverride | None:
    """The segment set by hand for the customer; None when it is computed."""
    settings = CustomerPolicy.objects.filter(customer=customer).first()
    if settings is None or not settings.segment:
        return None
    return SegmentOverride(Segment(settings.segment), settings.segment_reason)


# --- facts for the daily run ------------------------------------------------

# Customers per chunk: each is one transaction and a fixed dozen queries.
# A customer's invoices lie anywhere in the table, so each chunk's read of
# them visits most of its pages: fewer, larger chunks visit them less often.
CHUNK = 5000
HISTORY_DAYS = 365
_PAST_STATUSES = (ActionStatus.PLANNED, ActionStatus.DONE)
_PAST_FIELDS = (
    "id",
    "customer_id",
    "planned_for",
    "kind",
    "stage",
    "invoice_refs",
    "step",
    "status",
)


class _DaysBetween(Func):
    """``end - start`` in days, for two date expressions."""

    arg_joiner = " - "
    template = "(%(expressions)s)"
    output_field = FloatField()

    def as_sqlite(self, compiler: Any, connection: Any, **extra_context: Any) -> Any:
        return super().as_sql(
            compiler,
            connection,
            template="(julianday(%(expressions)s))",
            arg_joiner=") - julianday(",
            **extra_context,
        )


@dataclass(frozen=True)
class CustomerRun:
    """Everything the policy needs for one customer on one day."""

    id: int
    policy: Policy
    segment: SegmentResult
    facts: CustomerFacts
    invoices: tuple[InvoiceFacts, ...]
    # The segment and reason stored by the last run ("" when none).
    stored_segment: tuple[str, str] = ("", "")
    # The ids of the customer's actions still planned (on any day).
    planned_ids: tuple[int, ...] = ()


class PolicyBook:
    """The policies of one run: the active one and, by name, the newest
    version of each other policy ever applied (read once per run)."""

    def __init__(self) -> None:
        self.active = policy_active()
        self._by_name: dict[str, Policy] = {}
        for row in PolicyVersion.objects.order_by("name", "-version").only(
            "name", "version", "yaml_text"
        ):
            if row.name not in self._by_name:
                self._by_name[row.name] = _parsed(row.yaml_text, row.name, row.version)

        split = PolicySplit.objects.filter(is_active=True).first()
        self.split: tuple[Policy, int] | None = None
        if split is not None and split.variant_name in self._by_name:
            self.split = (self._by_name[split.variant_name], split.share_percent)

    def for_name(self, name: str) -> Policy:
        if not name:
            return self.active
        return self._by_name.get(name, self.active)

    def for_customer(self, customer_ref: str, override: str = "") -> Policy:
        """The customer's own policy, else the split's variant for the
        customers in its share, else the active policy."""
        if override:
            return self.for_name(override)
        if self.split is not None and split_bucket(customer_ref) < self.split[1]:
            return self.split[0]
        return self.active


def customer_rows(
    *, after_id: int, limit: int, partition: tuple[int, int] | None, ids: Sequence[int] | None
) -> list[Any]:
    """The next ``limit`` customers by primary key after ``after_id`` (those of
    ``partition`` and ``ids`` when given), as dicts with their policy settings;
    an empty list when none is left."""
    qs = Customer.objects.filter(pk__gt=after_id)
    if ids is not None:
        qs = qs.filter(pk__any=Ids(ids))
    if partition is not None:
        k, n = partition
        qs = qs.alias(part=Mod(F("pk"), Value(n))).filter(part=k)
    return list(
        qs.order_by("pk").values(
            "pk",
            "ref",
            "country",
            "automation",
            "preferred_channel",
            "customer_since",
            "time_zone",
            "policy_settings__policy_name",
            "policy_settings__segment",
            "policy_settings__segment_reason",
            "segment_state__segment",
            "segment_state__reason",
        )[:limit]
    )


_INVOICE_FIELDS = ("pk", "ref", "customer_id", "issue_date", "due_date", "currency")
_INVOICE_ORDER = ("customer_id", "due_date", "ref")


def _open_invoice_rows(
    invoices: QuerySet[Invoice], as_of: date, *, balances_as_of: bool
) -> QuerySet[Invoice, tuple[Any, ...]]:
    """``invoices`` open on ``as_of`` as (id, ref, customer id, issue date,
    due date, currency, amount, allocated) rows, by customer, due date, ref."""
    invoices = invoices.order_by(*_INVOICE_ORDER)
    if balances_as_of:
        return open_invoices_as_of(as_of, invoices).values_list(
            *_INVOICE_FIELDS, "open_as_of", Value(0)
        )
    # Subtracted later, not in SQL: SQLite would do it in floating point.
    return invoices.filter(status=InvoiceStatus.OPEN, issue_date__lte=as_of).values_list(
        *_INVOICE_FIELDS, "amount", "allocated"
    )


class OpenInvoiceStream:
    """The open invoices of a run's customers (one partition's), read in ONE
    pass in customer order and handed out chunk by chunk, as they were when
    the run started. Read chunk by chunk instead, every chunk's read visited
    most of the table's pages, a customer's invoices lying anywhere in it.
    PostgreSQL only: the rows come through a server-side cursor, which the
    run's other queries and commits leave open."""

    def __init__(self, as_of: date, partition: tuple[int, int] | None) -> None:
        invoices = Invoice.objects.all()
        if partition is not None:
            k, n = partition
            invoices = invoices.alias(part=Mod(F("customer_id"), Value(n))).filter(part=k)
        rows = _open_invoice_rows(invoices, as_of, balances_as_of=False)
        self._rows = rows.iterator(chunk_size=10 * CHUNK)
        self._next: tuple[Any, ...] | None = next(self._rows, None)

    def through(self, last_customer_id: int) -> list[tuple[Any, ...]]:
        """The rows not handed out yet of customers up to ``last_customer_id``."""
        rows = []
        while self._next is not None and self._next[2] <= last_customer_id:
            rows.append(self._next)
            self._next = next(self._rows, None)
        return rows


def _open_invoices(
    ids: list[int],
    as_of: date,
    holds: Holds,
    *,
    balances_as_of: bool,
    stream: OpenInvoiceStream | None = None,
) -> dict[int, list[InvoiceFacts]]:
    """Per customer id, its open invoices' facts by due date and ref, from
    ``stream`` when given. Rows come as tuples: this read has ten rows per
    customer."""
    rows: Any
    if stream is not None:
        rows = stream.through(ids[-1])
    else:
        invoices = Invoice.objects.filter(customer_id__any=Ids(ids))
        rows = _open_invoice_rows(invoices, as_of, balances_as_of=balances_as_of)
    disputed, held = holds.disputed_invoice_ids, holds.invoices
    by_customer: dict[int, list[InvoiceFacts]] = defaultdict(list)
    for pk, ref, customer_id, issued, due, currency, amount, allocated in rows:
        by_customer[customer_id].append(
            InvoiceFacts(
                ref, issued, due, amount - allocated, currency, pk in disputed, held.get(pk)
            )
        )
    return by_customer


def paid_histories(ids: Sequence[int], as_of: date) -> dict[int, PaymentHistory]:
    """Per customer id, over invoices paid in the 12 months up to ``as_of``:
    how many, how many late and the average days late (one aggregate query;
    a customer who paid none is absent). The other facts of the history
    (customer since, promises, disputes) are left at their defaults."""
    paid_on = Subquery(
        Allocation.objects.filter(invoice=OuterRef("pk"))
        .order_by()
        .values("invoice")
        .annotate(last=Max("effective_on"))
        .values("last")
    )
    rows = (
        Invoice.objects.filter(customer_id__any=Ids(ids), status=InvoiceStatus.PAID)
        .order_by()
        .annotate(paid_on=paid_on)
        .filter(paid_on__gt=as_of - timedelta(days=HISTORY_DAYS), paid_on__lte=as_of)
        .values("customer_id")
        .annotate(
            paid=Count("pk"),
            late=Count("pk", filter=Q(paid_on__gt=F("due_date"))),
            days_late=Avg(_DaysBetween(F("paid_on"), F("due_date"))),
        )
        .values_list("customer_id", "paid", "late", "days_late")
    )
    return {
        pk: PaymentHistory(
            paid_count=paid,
            paid_late_count=late,
            average_days_late=None if days_late is None else float(days_late),
        )
        for pk, paid, late, days_late in rows
    }


def _blocked_channels(contacts: list[dict[str, Any]]) -> dict[Kind, str]:
    """Why e-mail, text or call cannot be used with any active contact.
    Letters are always possible (the postal address is the customer's)."""
    blocked: dict[Kind, str] = {}
    for kind, address, consent, opted_out, bounced in (
        (Kind.EMAIL, "email", "consent_email", "opted_out_email", "email_bounced"),
        (Kind.SMS, "phone", "consent_sms", "opted_out_sms", None),
        (Kind.CALL, "phone", "consent_call", "opted_out_call", None),
    ):
        reachable = [c for c in contacts if c[address]]
        if not reachable:
            blocked[kind] = "no address"
            continue
        usable = [
            c for c in reachable if c[consent] and not c[opted_out] and not (bounced and c[bounced])
        ]
        if usable:
            continue
        if all(c[opted_out] for c in reachable):
            blocked[kind] = "opted out"
        elif bounced and all(c[bounced] or c[opted_out] for c in reachable):
            blocked[kind] = "bounced"
        else:
            blocked[kind] = "no consent"
    return blocked


def blocked_channels_by_customer(ids: Sequence[int]) -> dict[int, dict[Kind, str]]:
    """Per customer id, the channels its active contacts rule out and why
    (one query); every id given has an entry, empty when all are usable."""
    contacts: dict[int, list[Any]] = {pk: [] for pk in ids}
    for contact in (
        Contact.objects.filter(customer_id__any=Ids(ids), is_active=True)
        .order_by()
        .values(
            "customer_id",
            "email",
            "phone",
            "consent_email",
            "consent_sms",
            "consent_call",
            "opted_out_email",
            "opted_out_sms",
            "opted_out_call",
            "email_bounced",
        )
    ):
        contacts[contact["customer_id"]].append(contact)
    return {pk: _blocked_channels(rows) for pk, rows in contacts.items()}


_NOTHING_PAID = PaymentHistory()
# Enum members by value: looked up for every customer of every run.
_AUTOMATIONS = {a.value: a for a in Automation}
_KINDS = {k.value: k for k in Kind}
_STAGES = {s.value: s for s in Stage}


def _past_actions(
    ids: list[int], as_of: date
) -> tuple[dict[int, list[PastAction]], dict[int, list[int]]]:
    """Per customer id, its actions planned or done by ``as_of``; and the ids
    of its actions still planned (on any day)."""
    past: dict[int, list[PastAction]] = defaultdict(list)
    planned: dict[int, list[int]] = defaultdict(list)
    # By customer only in SQL: with the day or the status too, the planner
    # (without statistics on a table the run is filling) read every action
    # of the day, or every one planned, for each chunk.
    rows = Action.objects.filter(customer_id__any=Ids(ids)).order_by().values_list(*_PAST_FIELDS)
    for action_id, customer_id, on, kind, stage, refs, step, status in rows:
        if status == ActionStatus.PLANNED:
            planned[customer_id].append(action_id)
        if on <= as_of and status in _PAST_STATUSES:
            past[customer_id].append(
                PastAction(on, _KINDS[kind], _STAGES[stage], frozenset(refs), step or None)
            )
    return past, planned


def customer_runs(
    *,
    as_of: date,
    book: PolicyBook,
    after_id: int = 0,
    limit: int = CHUNK,
    partition: tuple[int, int] | None = None,
    ids: Sequence[int] | None = None,
    balances_as_of: bool = False,
    extra_history: Mapping[int, Sequence[PastAction]] | None = None,
    invoice_stream: OpenInvoiceStream | None = None,
) -> list[CustomerRun]:
    """The next chunk of customers (by primary key, after ``after_id``) with
    their open invoices and policy facts, in five queries whatever the
    chunk's size (nine queries). An empty list: no customer is left.

    ``partition`` (K, N) keeps customers whose id % N == K. Open amounts are
    today's running balances, or with ``balances_as_of`` those at ``as_of``
    (payments and credit notes dated after it are ignored). ``extra_history``
    adds past actions by customer id that are not stored (simulation).
    ``invoice_stream``: where to take the open invoices from, for a run
    reading the chunks of its partition in order.
    """
    customers = customer_rows(after_id=after_id, limit=limit, partition=partition, ids=ids)
    if not customers:
        return []
    ids_ = [c["pk"] for c in customers]
    holds = holds_for(ids_, as_of)
    invoices = _open_invoices(
        ids_, as_of, holds, balances_as_of=balances_as_of, stream=invoice_stream
    )
    histories = paid_histories(ids_, as_of)
    blocked = blocked_channels_by_customer(ids_)
    past, planned = _past_actions(ids_, as_of)
    cases = case_history(ids_, as_of)
    runs = []
    for c in customers:
        pk = c["pk"]
        broken, disputes = cases.get(pk, (0, 0))
        paid = histories.get(pk, _NOTHING_PAID)
        history = PaymentHistory(
            c["customer_since"],
            paid.paid_count,
            paid.paid_late_count,
            paid.average_days_late,
            broken,
            disputes,
        )
        override = (
            SegmentOverride(
                Segment(c["policy_settings__segment"]), c["policy_settings__segment_reason"]
            )
            if c["policy_settings__segment"]
            else None
        )
        segment = segment_of(history, as_of, override=override)
        history_actions = past.get(pk, ())
        if extra_history is not None:
            history_actions = [*history_actions, *extra_history.get(pk, ())]
        facts = CustomerFacts(
            c["ref"],
            segment.segment,
            c["country"],
            _AUTOMATIONS[c["automation"]],
            _KINDS[c["preferred_channel"]] if c["preferred_channel"] else None,
            c["time_zone"] or None,
            blocked[pk],
            holds.customers.get(pk),
            tuple(history_actions),
        )
        runs.append(
            CustomerRun(
                pk,
                book.for_customer(c["ref"], c["policy_settings__policy_name"] or ""),
                segment,
                facts,
                tuple(invoices.get(pk, ())),
                (c["segment_state__segment"] or "", c["segment_state__reason"] or ""),
                tuple(planned.get(pk, ())),
            )
        )
    return runs


# --- reading actions ----------------------------------------------------------

ACTION_FIELDS = (
    "id",
    "customer_ref",
    "invoice_refs",
    "kind",
    "stage",
    "step",
    "planned_for",
    "status",
    "reason",
)


def actions_list(
    *, as_of: date | None = None, customer_ref: str | None = None
) -> list[dict[str, Any]]:
    """Stored actions as ``actions --format json`` rows (ACTION_FIELDS, dates
    as ISO strings), by planned day, customer and id. ``as_of`` keeps those
    planned for that day, ``customer_ref`` one customer's; None: all."""
    qs = Action.objects.all()
    if as_of is not None:
        qs = qs.filter(planned_for=as_of)
    if customer_ref is not None:
        qs = qs.filter(customer__ref=customer_ref)
    rows = qs.order_by("planned_for", "customer__ref", "id").values_list(
        "id",
        "customer__ref",
        "invoice_refs",
        "kind",
        "stage",
        "step",
        "planned_for",
        "status",
        "reason",
    )
    return [
        dict(zip(ACTION_FIELDS, (*row[:6], row[6].isoformat(), *row[7:]), strict=True))
        for row in rows
    ]


@dataclass(frozen=True)
class Explanation:
    customer_ref: str
    as_of: date
    run: CustomerRun
    decisions: Decisions
    planned: list[dict[str, Any]]


def customer_explain(*, customer: Customer, as_of: date) -> Explanation:
    """Why the policy does what it does for one customer on ``as_of``: the
    evaluation with the stored actions as history, and its planned actions."""
    runs = customer_runs(
        as_of=as_of,
        book=PolicyBook(),
        ids=[customer.pk],
        balances_as_of=as_of < timezone.localdate(),
    )
    run = runs[0]
    decisions = evaluate(run.policy, run.facts, run.invoices, as_of)
    planned = [
        row
        for row in actions_list(customer_ref=customer.ref)
        if row["status"] == ActionStatus.PLANNED
    ]
    return Explanation(customer.ref, as_of, run, decisions, planned)
