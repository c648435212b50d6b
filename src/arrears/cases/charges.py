"""Late-payment charges (interest, fixed compensation, fees) and
early-payment discounts, configured per policy and region by ChargeRules.

Charges are their own ledger entries (``Charge``): the invoice's amount
never changes. Interest is posted by period as it accrues (each
assessment posts the days since the last one); compensation and a late fee
at most once per invoice. A posted charge is waived only through an
approval (kind "waiver", four eyes: the requester never decides).

Reference rates for statutory interest come from the shipped table
``cases/data/reference_rates.yaml`` (kept up to date by hand), or from the
file named by the ``ARREARS_REFERENCE_RATES`` setting or environment
variable, which replaces it.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from datetime import date, timedelta
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import Max, Q
from django.utils import timezone

from arrears.domain.interest import (
    Balance,
    RateTable,
    Regime,
    discount_offer,
    discount_terms,
    fixed_compensation,
    late_interest,
    percentage_fee,
    rates_parse,
)
from arrears.domain.money import quantum
from arrears.ledger.models import Allocation, Customer, Invoice, InvoiceStatus
from arrears.ledger.services import activity_record

from .approval_models import Approval, ApprovalKind, ApprovalStatus
from .approvals import approval_handler, approval_request
from .plan_models import Charge, ChargeKind, ChargeRegime, ChargeRule, ChargeStatus
from .services import CaseRejected

ACTOR = "charges"
SHIPPED_RATES = Path(__file__).parent / "data" / "reference_rates.yaml"
# ISO 3166 codes of the EU member states (Greece is GR here, EL in EU texts).
EU_MEMBERS = frozenset(
    {"AT", "BE", "BG", "HR", "CY", "CZ", "DK", "EE", "FI", "FR", "DE", "GR", "IE", "IT"}
    | {"LV", "LT", "LU", "MT", "NL", "PL", "PT", "RO", "SK", "SI", "ES", "SE"}
)


def rates_path() -> Path:
    """The rate table in use: the operator's file when one is set, else the
    shipped one."""
    configured = getattr(settings, "ARREARS_REFERENCE_RATES", "") or os.environ.get(
        "ARREARS_REFERENCE_RATES", ""
    )
    return Path(configured) if configured else SHIPPED_RATES


@lru_cache(maxsize=4)
def _rates(path: str, mtime: float) -> RateTable:
    return rates_parse(Path(path).read_text(encoding="utf-8"))


def rates_table() -> RateTable:
    """The reference-rate table (re-read when its file changes). Raises
    RatesInvalid for a bad file, OSError for a missing one."""
    path = rates_path()
    return _rates(str(path), path.stat().st_mtime)


# --- rules ---------------------------------------------------------------------


def _policy_name(customer: Customer) -> str:
    """The customer's own policy name when one is set (even if never
    applied), else the name of the policy the run uses for them."""
    from arrears.sequencing.models import CustomerPolicy
    from arrears.sequencing.selectors import policy_for_customer

    own = CustomerPolicy.objects.filter(customer=customer).values_list("policy_name", flat=True)
    return next((name for name in own if name), "") or policy_for_customer(customer).name


def charge_rule_for(customer: Customer) -> ChargeRule | None:
    """The active rule for the customer's policy and country, most specific
    first: policy and country (or "EU" for a member state), policy alone,
    country alone, then the catch-all. None: nothing is charged."""
    regions = [customer.country.upper()]
    if customer.country.upper() in EU_MEMBERS:
        regions.append("EU")
    policy = _policy_name(customer)
    rules = list(
        ChargeRule.objects.filter(is_active=True)
        .filter(Q(policy_name="") | Q(policy_name=policy))
        .filter(Q(region="") | Q(region__in=regions))
    )

    def rank(rule: ChargeRule) -> tuple[int, int]:
        region_rank = 0 if not rule.region else (1 if rule.region == "EU" else 2)
        return (1 if rule.policy_name else 0, region_rank)

    return max(rules, key=rank, default=None)


# --- assessing -------------------------------------------------------------------


def invoice_balances(invoice: Invoice, *, until: date) -> list[Balance]:
    """The invoice's unpaid balance day by day up to ``until``: an
    allocation effective on a day reduces the balance from the next day
    (the day of payment still bears interest)."""
    steps = list(
        Allocation.objects.filter(invoice=invoice, effective_on__lte=until)
        .order_by("effective_on")
        .values_list("effective_on", "amount")
    )
    balances: list[Balance] = []
    balance, start = invoice.amount, invoice.issue_date
    for day, amount in steps:
        if day >= start:
            balances.append(Balance(start, day, balance))
            start = day + timedelta(days=1)
        balance -= amount
    if start <= until:
        balances.append(Balance(start, until, balance))
    return balances


def _regime(rule: ChargeRule) -> Regime:
    return Regime(rule.regime)


@transaction.atomic
def charges_assess(
    *, invoice: Invoice, as_of: date, actor_label: str = ACTOR, rule: ChargeRule | None = None
) -> list[Charge]:
    """Post what ``invoice`` owes in late charges up to ``as_of`` under its
    customer's rule: interest since the last posted period (on each day's
    unpaid balance), the fixed compensation once, the late fee once it is
    ``fee_after_days`` late. Running again the same day posts nothing new.
    Returns the charges posted now (empty: nothing due or no rule)."""
    customer = invoice.customer
    rule = rule or charge_rule_for(customer)
    if rule is None or as_of <= invoice.due_date:
        return []
    posted: list[Charge] = []
    regime = _regime(rule)
    currency = invoice.currency
    existing = set(
        Charge.objects.filter(invoice=invoice)
        .exclude(kind=ChargeKind.INTEREST)
        .values_list("kind", flat=True)
    )
    last_end = Charge.objects.filter(invoice=invoice, kind=ChargeKind.INTEREST).aggregate(
        last=Max("period_end")
    )["last"]
    start = max(invoice.due_date, last_end or invoice.due_date) + timedelta(days=1)
    if regime is not Regime.NONE and start <= as_of:
        window = [
            Balance(max(b.start, start), b.end, b.amount)
            for b in invoice_balances(invoice, until=as_of)
            if b.end >= start
        ]
        interest = late_interest(
            regime=regime,
            due_date=invoice.due_date,
            balances=window,
            currency=currency,
            rates=rates_table() if regime in (Regime.EU, Regime.UK) else None,
            contract_rate=rule.contract_rate,
        )
        if interest.amount > 0:
            posted.append(
                _charge(
                    invoice,
                    ChargeKind.INTEREST,
                    interest.amount,
                    as_of,
                    actor_label,
                    basis=f"{ChargeRegime(rule.regime).label}: {interest.describe()}",
                    period=(start, as_of),
                )
            )
    if rule.compensation and ChargeKind.COMPENSATION not in existing:
        fixed = fixed_compensation(regime, invoice.amount, currency)
        if fixed is not None:
            posted.append(
                _charge(
                    invoice,
                    ChargeKind.COMPENSATION,
                    fixed,
                    as_of,
                    actor_label,
                    basis=f"{ChargeRegime(rule.regime).label}: fixed sum per late invoice",
                )
            )
    late_days = (as_of - invoice.due_date).days
    if ChargeKind.FEE not in existing and late_days >= rule.fee_after_days:
        fee = Decimal(0)
        parts = []
        if rule.fee_fixed:
            fee += rule.fee_fixed.quantize(quantum(currency))
            parts.append(f"{rule.fee_fixed.normalize():f} {currency}")
        if rule.fee_percent:
            fee += percentage_fee(invoice.amount, rule.fee_percent, currency)
            parts.append(f"{rule.fee_percent.normalize():f} % of {invoice.amount}")
        if fee > 0:
            posted.append(
                _charge(
                    invoice,
                    ChargeKind.FEE,
                    fee,
                    as_of,
                    actor_label,
                    basis=f"late fee ({' + '.join(parts)}) after {rule.fee_after_days} days",
                )
            )
    if posted:
        activity_record(
            actor_label=actor_label,
            verb="charges posted",
            subject_type="invoice",
            subject_ref=invoice.ref,
            customer=customer,
            why=f"{late_days} days late under {rule.name}",
            data={
                "charges": [
                    {"kind": c.kind, "amount": str(c.amount), "currency": c.currency}
                    for c in posted
                ]
            },
        )
    return posted


def _charge(
    invoice: Invoice,
    kind: ChargeKind,
    amount: Decimal,
    on: date,
    actor_label: str,
    *,
    basis: str,
    period: tuple[date, date] | None = None,
) -> Charge:
    return Charge.objects.create(
        customer=invoice.customer,
        invoice=invoice,
        kind=kind,
        amount=amount,
        currency=invoice.currency,
        period_start=period[0] if period else None,
        period_end=period[1] if period else None,
        basis=basis,
        posted_on=on,
        posted_by_label=actor_label,
    )


def charges_assess_due(*, as_of: date, actor_label: str = ACTOR) -> list[Charge]:
    """Assess every invoice past due on ``as_of`` that is open, or was paid
    late and has no charges yet; returns the charges posted."""
    posted: list[Charge] = []
    late = Invoice.objects.filter(due_date__lt=as_of, issue_date__lte=as_of).select_related(
        "customer"
    )
    rules: dict[int, ChargeRule | None] = {}
    for invoice in (
        late.filter(Q(status=InvoiceStatus.OPEN) | Q(charges__isnull=True))
        .distinct()
        .order_by("customer_id", "id")
    ):
        if invoice.customer_id not in rules:
            rules[invoice.customer_id] = charge_rule_for(invoice.customer)
        rule = rules[invoice.customer_id]
        if rule is not None:
            posted += charges_assess(
                invoice=invoice, as_of=as_of, actor_label=actor_label, rule=rule
            )
    return posted


# --- waivers ---------------------------------------------------------------------


def charge_waiver_request(
    *, charge: Charge, reason: str, actor: User | None, actor_label: str = ""
) -> Approval:
    """Ask for a posted charge to be waived. Someone other than ``actor``,
    with a role the approval matrix allows for the amount, must approve
    (``approval_decide``); the charge is waived when they do. Raises
    CaseRejected when the charge is already waived, ApprovalRejected for no
    reason or a request already waiting."""
    if charge.status != ChargeStatus.POSTED:
        raise CaseRejected(f"charge {charge.pk} is already waived")
    return approval_request(
        kind=ApprovalKind.WAIVER,
        customer=charge.customer,
        amount=charge.amount,
        currency=charge.currency,
        subject=charge,
        requested_by=actor,
        requested_by_label=actor_label,
        reason=reason,
    )


@approval_handler(ApprovalKind.WAIVER)
def _waiver_decided(approval: Approval, by: User | None) -> None:
    """Runs in the deciding transaction: an approved waiver waives the
    charge (if still posted); a rejected one leaves it."""
    if approval.status != ApprovalStatus.APPROVED or approval.subject_type != "charge":
        return
    charge = Charge.objects.select_related("invoice").filter(pk=approval.subject_ref).first()
    if charge is None:
        return
    if Charge.objects.filter(pk=charge.pk, status=ChargeStatus.POSTED).update(
        status=ChargeStatus.WAIVED, waiver_approval=approval, waived_at=timezone.now()
    ):
        activity_record(
            actor_label=approval.decided_by_label,
            actor=by,
            verb="charge waived",
            subject_type="charge",
            subject_ref=str(charge.pk),
            customer=approval.customer,
            why=approval.reason,
            data={
                "invoice_ref": charge.invoice.ref,
                "kind": charge.kind,
                "amount": str(charge.amount),
                "currency": charge.currency,
                "approval": approval.pk,
                "requested_by": approval.requested_by_label,
            },
        )


# --- reads for messages ------------------------------------------------------------


def charges_context(invoices: Iterable[Invoice]) -> list[dict[str, Any]]:
    """The ``charges`` entry of a message context: posted (not waived)
    charges on ``invoices``, oldest first (an empty list: none)."""
    ids = [i.pk for i in invoices if i.pk is not None]
    if not ids:
        return []
    return [
        {
            "invoice_ref": c.invoice.ref,
            "kind": c.kind,
            "label": ChargeKind(c.kind).label,
            "amount": c.amount.quantize(quantum(c.currency)),
            "currency": c.currency,
            "period_start": c.period_start,
            "period_end": c.period_end,
            "posted_on": c.posted_on,
        }
        for c in Charge.objects.filter(invoice_id__in=ids, status=ChargeStatus.POSTED)
        .select_related("invoice")
        .order_by("invoice__due_date", "invoice__ref", "posted_on", "id")
    ]


def discount_context(invoices: Sequence[Invoice], today: date) -> list[dict[str, Any]]:
    """The ``discount`` entry of a message context: per invoice whose terms
    offer an early-payment discount still open on ``today`` (e.g. "2/10 net
    30"), the percent, the last day, the discount and what to pay then (an
    empty list: no discount on offer)."""
    offers = []
    for inv in invoices:
        terms = discount_terms(inv.terms)
        if terms is None:
            continue
        offer = discount_offer(
            terms,
            issue_date=inv.issue_date,
            open_amount=inv.amount - inv.allocated,
            currency=inv.currency,
            today=today,
        )
        if offer is not None:
            offers.append(
                {
                    "invoice_ref": inv.ref,
                    "percent": offer.percent,
                    "until": offer.until,
                    "amount": offer.amount,
                    "pay": offer.pay,
                    "currency": offer.currency,
                }
            )
    return offers


def message_extras(
    *, customer: Customer, invoices: Sequence[Invoice], invoice_refs: Sequence[str], today: date
) -> dict[str, Any]:
    """What cases add to a message's context: ``plan`` (the newest payment
    plan covering the message's invoices, or None), ``promise`` (the
    customer's open promise to pay: amount, currency, date; or None),
    ``charges`` (posted charges on the invoices) and ``discount`` (early
    payment discounts still on offer)."""
    from .models import Promise, PromiseStatus
    from .plans import plan_context, plan_for_message

    plan = plan_for_message(customer, invoice_refs) if customer.pk else None
    promise = (
        Promise.objects.filter(customer=customer, status=PromiseStatus.OPEN)
        .order_by("promised_on")
        .first()
        if customer.pk
        else None
    )
    return {
        "plan": plan_context(plan) if plan is not None else None,
        "promise": {
            "amount": promise.amount,
            "currency": promise.currency,
            "date": promise.promised_on,
        }
        if promise is not None and promise.amount is not None
        else None,
        "charges": charges_context(invoices),
        "discount": discount_context(invoices, today),
    }
