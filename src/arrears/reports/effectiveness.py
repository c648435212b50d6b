"""What each policy step and template achieves.

A *touch* is an e-mail, text, letter or call that was carried out (its
action is done) on a day in the period. What followed a touch is read in the
``window_days`` after it: a payment by the customer, a promise to pay, a
dispute, or nothing ("no response").

Cash is attributed to the *last* touch before it: each payment received in
the period (or up to ``window_days`` after it) counts for the customer's most
recent touch in the ``window_days`` before the payment, so no payment is
counted twice. Touches per 1,000 collected is the cost side: fewer is better.

Rows are per policy, version, step, channel and template, so two policy
versions, or the variants of a split, sit side by side. Each row carries its
sample size: below ``SMALL_SAMPLE`` touches a share says little, and the row
says so.

Counting happens in the database (correlated EXISTS and MIN subqueries,
grouped); only the days-to-payment of paid touches come back to Python, for
the median, which SQLite cannot compute.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from statistics import median
from typing import Any

from django.db.models import Count, Exists, OuterRef, Q, Subquery, Sum

from arrears.cases.models import Dispute, Promise
from arrears.domain.money import quantum
from arrears.domain.policy import TOUCH_KINDS
from arrears.ledger.models import Payment
from arrears.sequencing.models import Action, ActionStatus

SMALL_SAMPLE = 30
TOUCHES = [k.value for k in TOUCH_KINDS]


@dataclass
class StepEffect:
    """What the touches of one step achieved."""

    policy: str
    step: str
    kind: str
    template: str
    touches: int = 0
    customers: int = 0
    paid: int = 0
    promised: int = 0
    disputed: int = 0
    no_response: int = 0
    median_days_to_payment: float | None = None
    # Per currency: cash attributed to these touches (last touch).
    collected: dict[str, Decimal] = field(default_factory=dict)

    @property
    def small_sample(self) -> bool:
        return self.touches < SMALL_SAMPLE

    def share(self, count: int) -> Decimal | None:
        """``count`` as a percentage of the touches; None without touches."""
        if not self.touches:
            return None
        return (Decimal(count) * 100 / self.touches).quantize(Decimal("0.1"))

    @property
    def paid_percent(self) -> Decimal | None:
        return self.share(self.paid)

    def touches_per_1000(self) -> dict[str, Decimal | None]:
        """Touches per 1,000 collected, per currency; None when nothing was."""
        return {
            currency: (Decimal(self.touches) * 1000 / amount).quantize(Decimal("0.01"))
            if amount
            else None
            for currency, amount in self.collected.items()
        }

    def as_dict(self) -> dict[str, Any]:
        return {
            "policy": self.policy,
            "step": self.step,
            "kind": self.kind,
            "template": self.template,
            "touches": self.touches,
            "customers": self.customers,
            "small_sample": self.small_sample,
            "paid": self.paid,
            "promised": self.promised,
            "disputed": self.disputed,
            "no_response": self.no_response,
            "paid_percent": _number(self.share(self.paid)),
            "median_days_to_payment": self.median_days_to_payment,
            "collected": {c: str(a) for c, a in sorted(self.collected.items())},
            "touches_per_1000": {c: _number(v) for c, v in sorted(self.touches_per_1000().items())},
        }


def _number(value: Decimal | None) -> float | None:
    return None if value is None else float(value)


def _policy_label(name: str, version: int) -> str:
    if not name:
        return "manual"
    return f"{name} v{version}" if version else name


def _key(row: Mapping[str, Any]) -> tuple[str, str, str, str]:
    step = row["step"] or "(logged by hand)"
    return (
        _policy_label(row["policy_name"], row["policy_version"]),
        step,
        row["kind"],
        row["template"],
    )


def effectiveness(*, start: date, end: date, window_days: int = 14) -> list[StepEffect]:
    """Per policy step and template, the touches done from ``start`` to
    ``end`` (inclusive) and what followed each within ``window_days``.
    An empty list when nothing was done in the period."""
    window = timedelta(days=window_days)
    touches = Action.objects.filter(
        status=ActionStatus.DONE, kind__in=TOUCHES, planned_for__gte=start, planned_for__lte=end
    )
    after = {"customer_id": OuterRef("customer_id")}
    first_payment = Subquery(
        Payment.objects.filter(
            **after,
            received_on__gt=OuterRef("planned_for"),
            received_on__lte=OuterRef("planned_for") + window,
        )
        .order_by("received_on")
        .values("received_on")[:1]
    )
    promised = Exists(
        Promise.objects.filter(
            **after,
            created_at__date__gte=OuterRef("planned_for"),
            created_at__date__lte=OuterRef("planned_for") + window,
        )
    )
    disputed = Exists(
        Dispute.objects.filter(
            **after,
            opened_at__date__gte=OuterRef("planned_for"),
            opened_at__date__lte=OuterRef("planned_for") + window,
        )
    )
    annotated = touches.annotate(
        first_payment=first_payment, promised=promised, disputed=disputed
    ).order_by()
    groups = ("policy_name", "policy_version", "step", "kind", "template")
    rows = annotated.values(*groups).annotate(
        n=Count("id"),
        customers=Count("customer_id", distinct=True),
        paid=Count("id", filter=Q(first_payment__isnull=False)),
        promised_n=Count("id", filter=Q(promised=True)),
        disputed_n=Count("id", filter=Q(disputed=True)),
        silent=Count("id", filter=Q(first_payment__isnull=True, promised=False, disputed=False)),
    )
    effects: dict[tuple[str, str, str, str], StepEffect] = {}
    for row in rows:
        key = _key(row)
        effect = effects.setdefault(key, StepEffect(*key))
        effect.touches += row["n"]
        effect.customers += row["customers"]
        effect.paid += row["paid"]
        effect.promised += row["promised_n"]
        effect.disputed += row["disputed_n"]
        effect.no_response += row["silent"]
    days: dict[tuple[str, str, str, str], list[int]] = defaultdict(list)
    for row in annotated.filter(first_payment__isnull=False).values(
        *groups, "planned_for", "first_payment"
    ):
        days[_key(row)].append((row["first_payment"] - row["planned_for"]).days)
    for key, values in days.items():
        effects[key].median_days_to_payment = float(median(values))
    _attribute_cash(effects, touches, start, end, window)
    return sorted(effects.values(), key=lambda e: (e.policy, e.step, e.kind, e.template))


def _attribute_cash(
    effects: dict[tuple[str, str, str, str], StepEffect],
    touches: Any,
    start: date,
    end: date,
    window: timedelta,
) -> None:
    """Add each payment to its customer's last touch in the window before it."""
    last_touch = Subquery(
        touches.filter(
            customer_id=OuterRef("customer_id"),
            planned_for__lt=OuterRef("received_on"),
            planned_for__gte=OuterRef("received_on") - window,
        )
        .order_by("-planned_for", "-id")
        .values("id")[:1]
    )
    paid = (
        Payment.objects.filter(received_on__gt=start, received_on__lte=end + window)
        .annotate(touch=last_touch)
        .filter(touch__isnull=False)
        .order_by()
        .values("touch", "currency")
        .annotate(total=Sum("amount"))
    )
    totals = list(paid)
    if not totals:
        return
    keys = {
        row["id"]: _key(row)
        for row in Action.objects.filter(id__in={t["touch"] for t in totals}).values(
            "id", "policy_name", "policy_version", "step", "kind", "template"
        )
    }
    for row in totals:
        effect = effects[keys[row["touch"]]]
        amount = row["total"].quantize(quantum(row["currency"]))
        effect.collected[row["currency"]] = (
            effect.collected.get(row["currency"], Decimal(0)) + amount
        )
