"""Customer segments from payment history: new, good, slow, risky.

A segment picks how hard and how fast the collection policy goes. It is
computed from facts over the last twelve months, always with its reason, and
a manual override (with its own reason) wins.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum


class Segment(StrEnum):
    NEW = "new"
    GOOD = "good"
    SLOW = "slow"
    RISKY = "risky"


@dataclass(frozen=True)
class PaymentHistory:
    """What the ledger knows about a customer's paying over the last 12 months.

    ``average_days_late`` is over invoices paid in that period (0 or less:
    on time on average); None when nothing was paid.
    """

    customer_since: date | None = None
    paid_count: int = 0
    paid_late_count: int = 0
    average_days_late: float | None = None
    broken_promises: int = 0
    disputes: int = 0


@dataclass(frozen=True)
class SegmentRules:
    """Thresholds, adjustable per installation."""

    new_for_days: int = 180
    new_below_paid_count: int = 3
    risky_average_days_late: float = 30.0
    risky_broken_promises: int = 2
    risky_disputes: int = 3
    slow_average_days_late: float = 10.0
    slow_share_paid_late: float = 0.5


@dataclass(frozen=True)
class SegmentOverride:
    segment: Segment
    reason: str


@dataclass(frozen=True)
class SegmentResult:
    segment: Segment
    reason: str
    overridden: bool = False


def segment_of(
    history: PaymentHistory,
    today: date,
    *,
    override: SegmentOverride | None = None,
    rules: SegmentRules = SegmentRules(),
) -> SegmentResult:
    """The customer's segment as of ``today`` and why.

    Risky signals win over being new (a new customer who broke two promises
    is risky); a customer with too little history is new; then slow; else good.
    """
    if override is not None:
        return SegmentResult(
            override.segment, f"{override.segment}: set by hand ({override.reason})", True
        )
    risky = _risky_reasons(history, rules)
    if risky:
        return SegmentResult(Segment.RISKY, "risky: " + "; ".join(risky))
    if history.customer_since is not None:
        age = (today - history.customer_since).days
        if age < rules.new_for_days:
            return SegmentResult(
                Segment.NEW,
                f"new: customer since {history.customer_since.isoformat()} "
                f"({age} days, under {rules.new_for_days})",
            )
    if history.paid_count < rules.new_below_paid_count:
        return SegmentResult(
            Segment.NEW,
            f"new: {history.paid_count} invoice(s) paid in the last 12 months "
            f"(under {rules.new_below_paid_count})",
        )
    share_late = history.paid_late_count / history.paid_count
    late = history.average_days_late
    if late is not None and late > rules.slow_average_days_late:
        return SegmentResult(
            Segment.SLOW,
            f"slow: paid {late:.1f} days late on average (over {rules.slow_average_days_late:g})",
        )
    if share_late > rules.slow_share_paid_late:
        return SegmentResult(
            Segment.SLOW,
            f"slow: {history.paid_late_count} of {history.paid_count} invoices paid late "
            f"(over {rules.slow_share_paid_late:.0%})",
        )
    return SegmentResult(
        Segment.GOOD,
        f"good: {history.paid_count} invoices paid, {history.paid_late_count} late, "
        f"{0.0 if late is None else late:.1f} days late on average",
    )


def _risky_reasons(history: PaymentHistory, rules: SegmentRules) -> list[str]:
    reasons = []
    late = history.average_days_late
    if late is not None and late > rules.risky_average_days_late:
        reasons.append(
            f"paid {late:.1f} days late on average (over {rules.risky_average_days_late:g})"
        )
    if history.broken_promises >= rules.risky_broken_promises:
        reasons.append(f"{history.broken_promises} broken promises to pay")
    if history.disputes >= rules.risky_disputes:
        reasons.append(f"{history.disputes} disputes")
    return reasons
