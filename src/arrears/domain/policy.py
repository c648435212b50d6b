"""The collection policy: its model and its evaluation for one customer on one day.

A policy is a sequence of steps (in file order) plus guardrails. Every open
invoice walks the sequence: each day it may reach at most one step, the
first one after the last step it reached whose conditions hold and whose
trigger date has come. Invoices of one customer that reach the same step on
the same day share ONE action (one consolidated message, never one per
invoice). Guardrails hold a step back (it waits and fires on a later day);
conditions that do not hold skip a step for good.

``evaluate`` is pure and deterministic: it takes ``today`` and everything it
needs as frozen facts, and returns decisions with their reasons.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from functools import lru_cache
from typing import Any, NamedTuple, Protocol

from .calendar import BusinessHours, next_business_day, non_business_reason, planned_at
from .segments import Segment


class Stage(StrEnum):
    NOTIFY = "notify"
    CONFIRM = "confirm"
    REMIND = "remind"
    INQUIRE = "inquire"
    PRESSURE = "pressure"
    ESCALATE = "escalate"


STAGE_RANK = {stage: rank for rank, stage in enumerate(Stage)}


class Kind(StrEnum):
    EMAIL = "email"
    SMS = "sms"
    LETTER = "letter"
    CALL = "call"
    TASK = "task"
    ESCALATION = "escalation"
    CREDIT_HOLD = "credit_hold"
    AGENCY = "agency"
    WRITE_OFF = "write_off"


# A touch is contact with the customer; messages are the automated touches.
TOUCH_KINDS = frozenset({Kind.EMAIL, Kind.SMS, Kind.LETTER, Kind.CALL})
MESSAGE_KINDS = frozenset({Kind.EMAIL, Kind.SMS, Kind.LETTER})
APPROVAL_KINDS = frozenset({Kind.CREDIT_HOLD, Kind.AGENCY, Kind.WRITE_OFF})


class Automation(StrEnum):
    AUTO = "auto"
    WHITE_GLOVE = "white_glove"
    PAUSED = "paused"


class Anchor(StrEnum):
    ISSUE = "issue"
    DUE = "due"
    STEP = "step"


@dataclass(frozen=True)
class Trigger:
    """When a step comes due for an invoice: ``days`` after the issue date,
    the due date (negative: before it) or the day ``step`` fired for it."""

    anchor: Anchor
    days: int
    step: str | None = None

    def describe(self) -> str:
        if self.anchor is Anchor.STEP:
            return f"{self.days} days after {self.step}"
        where = "issue" if self.anchor is Anchor.ISSUE else "due"
        return f"{where}{self.days:+d} days"


@dataclass(frozen=True)
class Conditions:
    """When a step applies at all; a step whose conditions fail is skipped.

    None means "any". Amounts are compared with each invoice's open amount
    in its own currency.
    """

    segments: frozenset[Segment] | None = None
    automation: frozenset[Automation] = frozenset({Automation.AUTO, Automation.WHITE_GLOVE})
    min_open_amount: Decimal | None = None
    max_open_amount: Decimal | None = None
    # Limits for particular currencies, overriding the ones above for them.
    min_open_by_currency: Mapping[str, Decimal] = field(default_factory=dict, hash=False)
    max_open_by_currency: Mapping[str, Decimal] = field(default_factory=dict, hash=False)
    preferred_channels: frozenset[Kind] | None = None
    min_touches: int = 0
    # Whether any amount limit is set (most steps have none).
    limits_amount: bool = field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        limited = (
            self.min_open_amount is not None
            or self.max_open_amount is not None
            or bool(self.min_open_by_currency)
            or bool(self.max_open_by_currency)
        )
        object.__setattr__(self, "limits_amount", limited)

    def open_limits(self, currency: str) -> tuple[Decimal | None, Decimal | None]:
        """The (min, max) open amount that applies in ``currency``."""
        return (
            self.min_open_by_currency.get(currency, self.min_open_amount),
            self.max_open_by_currency.get(currency, self.max_open_amount),
        )


@dataclass(frozen=True)
class Step:
    id: str
    stage: Stage
    kind: Kind
    trigger: Trigger
    conditions: Conditions = Conditions()
    template: str | None = None
    script: str | None = None
    # A letter that sets a deadline: the deadline is this many days later.
    deadline_days: int | None = None
    requires_approval: bool = False
    # The step may fire only this many days after its trigger date; later it
    # is skipped (a confirm-delivery call is pointless a month on). None: no limit.
    window_days: int | None = None
    description: str = ""
    line: int = field(default=0, compare=False)

    @property
    def is_touch(self) -> bool:
        return self.kind in TOUCH_KINDS


@dataclass(frozen=True)
class Guardrails:
    """Limits every step obeys. Defaults are DESIGN.md §2's."""

    earliest_outreach_days: int = 14
    # Stages that are service, not collection: exempt from the earliest
    # outreach age and not counted towards the minimum touches.
    exempt_stages: frozenset[Stage] = frozenset({Stage.NOTIFY, Stage.CONFIRM})
    min_touches_before_escalation: int = 4
    frequency_cap_touches: int = 2
    frequency_cap_days: int = 7
    skip_weekends: bool = True
    skip_holidays: bool = True
    business_hours: BusinessHours = field(default_factory=BusinessHours)
    fallback_channels: tuple[Kind, ...] = (Kind.EMAIL, Kind.SMS, Kind.LETTER, Kind.CALL)


@dataclass(frozen=True)
class SegmentTiming:
    """How a segment's clock runs: days after due and between steps are
    multiplied by ``factor`` then shifted by ``shift_days``. Issue-relative
    and pre-due days are never changed (they follow the invoice terms)."""

    factor: Decimal = Decimal(1)
    shift_days: int = 0

    def scale(self, days: int) -> int:
        if days <= 0:
            return days
        return _scale(self.factor, self.shift_days, days)


@lru_cache(maxsize=4096)
def _scale(factor: Decimal, shift_days: int, days: int) -> int:
    # Decimal arithmetic for every step of every invoice was a hot spot of the run.
    scaled = int((Decimal(days) * factor).to_integral_value(ROUND_HALF_UP))
    return max(0, scaled + shift_days)


@dataclass(frozen=True)
class Policy:
    name: str
    steps: tuple[Step, ...]
    guardrails: Guardrails = Guardrails()
    timing: Mapping[Segment, SegmentTiming] = field(default_factory=dict, hash=False)
    version: int = 0
    description: str = ""
    # Step positions by id, derived from ``steps`` (every evaluation looks them up).
    index_of: Mapping[str, int] = field(init=False, repr=False, compare=False, hash=False)
    # Whether any step's conditions look at the open amount (derived).
    limits_amount: bool = field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        index: dict[str, int] = {}
        for i, step in enumerate(self.steps):
            index.setdefault(step.id, i)
        object.__setattr__(self, "index_of", index)
        limited = any(step.conditions.limits_amount for step in self.steps)
        object.__setattr__(self, "limits_amount", limited)

    def step(self, step_id: str) -> Step | None:
        i = self.index_of.get(step_id)
        return None if i is None else self.steps[i]

    def timing_for(self, segment: Segment) -> SegmentTiming:
        return self.timing.get(segment, SegmentTiming())

    @property
    def label(self) -> str:
        return f"{self.name} v{self.version}" if self.version else self.name


# --- facts in -------------------------------------------------------------


@dataclass(frozen=True)
class PastAction:
    """An action already taken for the customer (by the policy or by hand:
    ``step`` is None for a manual touch such as a logged call)."""

    on: date
    kind: Kind
    stage: Stage
    invoice_refs: frozenset[str]
    step: str | None = None

    @property
    def is_touch(self) -> bool:
        return self.kind in TOUCH_KINDS


class InvoiceFacts(NamedTuple):
    """One open invoice as the policy sees it. A tuple: a run makes one for
    each of a million invoices, three times faster than a frozen dataclass."""

    ref: str
    issue_date: date
    due_date: date
    open_amount: Decimal
    currency: str
    disputed: bool = False
    # Why the invoice is left alone for now (a kept payment plan, a promise
    # to pay until its date plus grace, ...); None when nothing holds it.
    hold_reason: str | None = None


@dataclass(frozen=True)
class CustomerFacts:
    ref: str
    segment: Segment
    country: str
    automation: Automation = Automation.AUTO
    preferred_channel: Kind | None = None
    time_zone: str | None = None
    # Channels that cannot be used, with why ("opted out", "bounced", "no
    # consent", "no address"); a channel not listed is usable.
    blocked_channels: Mapping[Kind, str] = field(default_factory=dict, hash=False)
    # Why the whole customer is left alone (under an agency, ...); None: not held.
    hold_reason: str | None = None
    history: tuple[PastAction, ...] = ()


# --- decisions out --------------------------------------------------------


class Outcome(StrEnum):
    """Why an invoice got what it got today (machine-readable)."""

    FIRED = "fired"
    ALREADY_TODAY = "already_today"
    TOO_EARLY = "too_early"
    BEFORE_EARLIEST_OUTREACH = "before_earliest_outreach"
    CAPPED = "capped"
    NON_BUSINESS_DAY = "non_business_day"
    MIN_TOUCHES = "min_touches"
    NO_CHANNEL = "no_channel"
    WHITE_GLOVE = "white_glove"
    PAUSED = "paused"
    HELD = "held"
    DISPUTED = "disputed"
    PAID = "paid"
    COMPLETE = "complete"


@dataclass(frozen=True)
class PlannedAction:
    """One consolidated action for one customer, one step, one day."""

    customer_ref: str
    step: str
    stage: Stage
    kind: Kind
    invoice_refs: tuple[str, ...]
    planned_for: date
    planned_at: datetime
    reason: str
    template: str | None = None
    script: str | None = None
    deadline: date | None = None
    requires_approval: bool = False

    @property
    def idempotency_key(self) -> str:
        """Unique per customer, step and cycle (the day it is planned for)."""
        return f"{self.customer_ref}|{self.step}|{self.planned_for.isoformat()}"

    def as_past(self) -> PastAction:
        return PastAction(
            self.planned_for, self.kind, self.stage, frozenset(self.invoice_refs), self.step
        )


@dataclass(frozen=True)
class InvoiceDecision:
    invoice_ref: str
    outcome: Outcome
    reason: str
    step: str | None = None
    next_step: str | None = None
    next_date: date | None = None


@dataclass(frozen=True)
class Decisions:
    customer_ref: str
    as_of: date
    policy: str
    segment: Segment
    actions: tuple[PlannedAction, ...]
    invoices: tuple[InvoiceDecision, ...]


# --- evaluation -----------------------------------------------------------


class _Leave(Protocol):
    def __call__(
        self,
        inv: InvoiceFacts,
        outcome: Outcome,
        reason: str,
        nxt: tuple[Step, date | None] | None = None,
    ) -> None: ...


@dataclass
class _Progress:
    """One invoice's place in the sequence."""

    fired: dict[str, date]
    last_index: int
    touches: int
    acted_today: str | None


@dataclass
class _Candidate:
    step: Step
    index: int
    invoices: list[tuple[InvoiceFacts, date]]


@dataclass
class _Known:
    """What is known for one policy, day and kind of customer (segment,
    automation, preferred channel)."""

    # Whether each step fits such customers (``_customer_fits``).
    fits: tuple[bool, ...]
    # Next steps by the invoice's dates, place in the sequence and amount band.
    steps: dict[tuple[Any, ...], tuple[Step, date] | None]
    # The policy's amount limits by currency, sorted; None: it has none.
    limits: dict[str, list[Decimal]] | None


class StepMemo:
    """Next steps already worked out, shared by the evaluations of a batch of
    customers (a chunk of the daily run). An invoice's next step depends only
    on its dates, its place in the sequence, where its open amount lies among
    the policy's amount limits, the policy, the day, and the customer's
    segment, automation and preferred channel: thousands of invoices share
    all of them. Keep one per batch: it grows with the distinct invoices it
    sees."""

    def __init__(self) -> None:
        self._tables: dict[tuple[Any, ...], _Known] = {}
        # Held so that no policy's id is reused by another while the memo lives.
        self._policies: list[Policy] = []

    def known(self, policy: Policy, customer: CustomerFacts, today: date) -> _Known:
        # What ``_customer_fits`` reads of the customer, and the segment's timing.
        key = (
            id(policy),
            today,
            customer.segment,
            customer.automation,
            customer.preferred_channel,
        )
        table = self._tables.get(key)
        if table is None:
            self._policies.append(policy)
            table = self._tables[key] = _Known(
                _customer_fits(policy, customer), {}, {} if policy.limits_amount else None
            )
        return table


def _amount_limits(policy: Policy, currency: str) -> list[Decimal]:
    """Every open-amount limit of the policy's steps in ``currency``, sorted."""
    return sorted(
        {
            limit
            for step in policy.steps
            if step.conditions.limits_amount
            for limit in step.conditions.open_limits(currency)
            if limit is not None
        }
    )


def evaluate(
    policy: Policy,
    customer: CustomerFacts,
    invoices: Sequence[InvoiceFacts],
    today: date,
    *,
    explain: bool = True,
    memo: StepMemo | None = None,
) -> Decisions:
    """Decide what to do today for one customer and its open invoices.

    Returns at most one action per step (covering every invoice that reached
    it) and, for every invoice given, what happened and why, with the next
    planned step and date when one is known. Feeding the returned actions
    back as history and evaluating the same day again returns no action.

    ``explain`` False returns the same actions without the per-invoice
    decisions (``invoices`` is empty): the daily run needs only the actions,
    and working out every invoice's next step was most of its evaluation.
    ``memo`` shares next steps between evaluations (same actions).
    """
    g = policy.guardrails
    non_business = non_business_reason(
        today, customer.country, skip_weekends=g.skip_weekends, skip_holidays=g.skip_holidays
    )
    if non_business is not None and not explain:
        # Every step waits on a day off: no action, whatever the invoices.
        return Decisions(customer.ref, today, policy.label, customer.segment, (), ())
    timing = policy.timing_for(customer.segment)
    index_of = policy.index_of
    decided: dict[str, InvoiceDecision] = {}

    def leave(
        inv: InvoiceFacts,
        outcome: Outcome,
        reason: str,
        nxt: tuple[Step, date | None] | None = None,
    ) -> None:
        decided[inv.ref] = InvoiceDecision(
            inv.ref,
            outcome,
            reason,
            next_step=nxt[0].id if nxt else None,
            next_date=nxt[1] if nxt else None,
        )

    progress = _progress({inv.ref for inv in invoices}, customer.history, index_of, g, today)
    known = None if memo is None else memo.known(policy, customer, today)
    fits = _customer_fits(policy, customer) if known is None else known.fits
    customer_held = customer.automation is Automation.PAUSED or bool(customer.hold_reason)
    outreach_age = timedelta(days=g.earliest_outreach_days)
    candidates: dict[str, _Candidate] = {}

    for inv in invoices:
        prog = progress[inv.ref]
        if customer_held or inv.open_amount <= 0 or inv.disputed or inv.hold_reason:
            if explain:
                leave(inv, *_left_alone(customer, inv))
            continue
        if prog.acted_today is not None:
            if explain:
                tomorrow = today + timedelta(days=1)
                nxt = _planned_next(
                    _next_step(policy, customer, inv, prog, timing, tomorrow, fits),
                    inv,
                    customer,
                    g,
                    tomorrow,
                )
                leave(
                    inv, Outcome.ALREADY_TODAY, f"already acted on today ({prog.acted_today})", nxt
                )
            continue
        found = (
            _next_step(policy, customer, inv, prog, timing, today, fits)
            if known is None
            else _next_step_known(known, policy, customer, inv, prog, timing, today)
        )
        if found is None:
            if explain:
                _leave_without_step(policy, customer, inv, prog, leave)
            continue
        step, due_on = found
        earliest = inv.issue_date + outreach_age
        outreach = step.is_touch and step.stage not in g.exempt_stages
        if outreach and due_on < earliest:
            due_on = earliest
        if due_on > today:
            if not explain:
                continue
            if due_on == earliest and outreach:
                leave(
                    inv,
                    Outcome.BEFORE_EARLIEST_OUTREACH,
                    f"before earliest outreach: invoice is {(today - inv.issue_date).days} "
                    f"days old, first outreach at {g.earliest_outreach_days} days",
                    (step, _business(due_on, customer, g)),
                )
            else:
                leave(
                    inv,
                    Outcome.TOO_EARLY,
                    f"too early: {step.id} is due on {due_on.isoformat()} "
                    f"({step.trigger.describe()})",
                    (step, _business(due_on, customer, g)),
                )
            continue
        if non_business is not None:
            leave(
                inv,
                Outcome.NON_BUSINESS_DAY,
                f"{non_business}; {step.id} waits",
                (step, _business(today, customer, g)),
            )
            continue
        if step.stage is Stage.ESCALATE and prog.touches < g.min_touches_before_escalation:
            if explain:
                leave(
                    inv,
                    Outcome.MIN_TOUCHES,
                    f"minimum touches not reached: {prog.touches} of "
                    f"{g.min_touches_before_escalation} before escalation; {step.id} waits",
                    (step, None),
                )
            continue
        cand = candidates.get(step.id)
        if cand is None:
            cand = candidates[step.id] = _Candidate(step, index_of[step.id], [])
        cand.invoices.append((inv, due_on))

    actions = _plan(
        policy,
        customer,
        candidates,
        today,
        leave,
        decided,
        progress,
        timing,
        fits,
        explain,
    )
    ordered = tuple(decided[inv.ref] for inv in invoices) if explain else ()
    return Decisions(customer.ref, today, policy.label, customer.segment, actions, ordered)


def _left_alone(customer: CustomerFacts, inv: InvoiceFacts) -> tuple[Outcome, str]:
    """Why the invoice gets nothing at all today, whatever the policy (one
    of the reasons ``evaluate`` tests holds)."""
    if inv.open_amount <= 0:
        return Outcome.PAID, "paid: nothing open"
    if inv.disputed:
        return Outcome.DISPUTED, "disputed: out of the dunning flow until resolved"
    if customer.automation is Automation.PAUSED:
        return Outcome.PAUSED, "customer paused: no collection activity"
    if customer.hold_reason:
        return Outcome.HELD, f"customer left alone: {customer.hold_reason}"
    return Outcome.HELD, f"left alone: {inv.hold_reason}"


def _progress(
    refs: set[str],
    history: Sequence[PastAction],
    index_of: Mapping[str, int],
    g: Guardrails,
    today: date,
) -> dict[str, _Progress]:
    """Each invoice's place in the sequence, in one pass over the history."""
    if not history:
        # Nothing done yet: every invoice at the start (read, never changed).
        return dict.fromkeys(refs, _Progress({}, -1, 0, None))
    progress = {ref: _Progress({}, -1, 0, None) for ref in refs}
    for past in history:
        counts = past.is_touch and past.stage not in g.exempt_stages
        step_index = index_of.get(past.step) if past.step is not None else None
        for ref in past.invoice_refs:
            prog = progress.get(ref)
            if prog is None:
                continue
            if counts:
                prog.touches += 1
            if past.on == today:
                prog.acted_today = past.step or past.kind.value
            if step_index is not None:
                assert past.step is not None
                prog.fired[past.step] = max(prog.fired.get(past.step, past.on), past.on)
                prog.last_index = max(prog.last_index, step_index)
    return progress


def _fits_customer(step: Step, customer: CustomerFacts) -> bool:
    """Whether the step's conditions on the customer hold (segment,
    automation, preferred channel): the same for all its invoices."""
    c = step.conditions
    if c.segments is not None and customer.segment not in c.segments:
        return False
    if customer.automation not in c.automation:
        return False
    # White glove: personal calls only, never an automated message or task.
    if customer.automation is Automation.WHITE_GLOVE and step.kind is not Kind.CALL:
        return False
    return c.preferred_channels is None or customer.preferred_channel in c.preferred_channels


def _customer_fits(policy: Policy, customer: CustomerFacts) -> tuple[bool, ...]:
    """``_fits_customer`` for each step, by position (worked out once per
    customer instead of once per invoice and step)."""
    return tuple(_fits_customer(step, customer) for step in policy.steps)


def _applies(
    step: Step,
    customer: CustomerFacts,
    inv: InvoiceFacts,
    *,
    fired_touches: int | None,
    fits: bool | None = None,
) -> bool:
    """Whether the step's conditions hold (``fired_touches`` None: ignore the
    touch count, which changes over time; ``fits``: ``_fits_customer``
    when already known)."""
    if not (_fits_customer(step, customer) if fits is None else fits):
        return False
    c = step.conditions
    if c.limits_amount:
        low, high = c.open_limits(inv.currency)
        if low is not None and inv.open_amount < low:
            return False
        if high is not None and inv.open_amount > high:
            return False
    return fired_touches is None or fired_touches >= c.min_touches


def trigger_date(
    policy: Policy,
    step: Step,
    customer: CustomerFacts,
    inv: InvoiceFacts,
    fired: Mapping[str, date],
    timing: SegmentTiming,
    fits: Sequence[bool] | None = None,
) -> date | None:
    """The day ``step`` comes due for ``inv``.

    A step that follows another counts from the day that one fired; when
    that one does not apply to this customer (a white-glove customer skips
    the e-mail a call follows), from the day it would have come due. None
    when it applies but has not fired: it was passed over, so this step
    never comes due. ``fits``: ``_customer_fits`` when already known.
    """
    t = step.trigger
    if t.anchor is Anchor.ISSUE:
        return inv.issue_date + timedelta(days=t.days)
    if t.anchor is Anchor.DUE:
        return inv.due_date + timedelta(days=timing.scale(t.days))
    seen = {step.id}
    base: date | None = None
    anchor = policy.step(t.step or "")
    days = timing.scale(t.days)
    while anchor is not None and anchor.id not in seen:
        base = fired.get(anchor.id)
        if base is not None:
            break
        fit = None if fits is None else fits[policy.index_of[anchor.id]]
        if _applies(anchor, customer, inv, fired_touches=None, fits=fit):
            return None
        seen.add(anchor.id)
        a = anchor.trigger
        if a.anchor is Anchor.ISSUE:
            base = inv.issue_date + timedelta(days=a.days)
            break
        if a.anchor is Anchor.DUE:
            base = inv.due_date + timedelta(days=timing.scale(a.days))
            break
        days += timing.scale(a.days)
        anchor = policy.step(a.step or "")
    return None if base is None else base + timedelta(days=days)


def _past_window(step: Step, on: date, today: date) -> bool:
    return step.window_days is not None and today > on + timedelta(days=step.window_days)


def _next_step(
    policy: Policy,
    customer: CustomerFacts,
    inv: InvoiceFacts,
    prog: _Progress,
    timing: SegmentTiming,
    today: date,
    fits: Sequence[bool],
) -> tuple[Step, date] | None:
    """The first step after the invoice's place that applies and is not past
    its window, with its trigger date. A step that follows another which
    has not fired for the invoice is skipped: walking in order, that one was
    passed over, so it never will."""
    # The run evaluates every open invoice: the cheap tests come first.
    for i in range(prog.last_index + 1, len(policy.steps)):
        if not fits[i]:
            continue
        step = policy.steps[i]
        if step.stage is Stage.REMIND and today > inv.due_date:
            continue  # a reminder before due makes no sense once past due
        if not _applies(step, customer, inv, fired_touches=prog.touches, fits=True):
            continue
        on = trigger_date(policy, step, customer, inv, prog.fired, timing, fits)
        if on is None:
            continue
        if _past_window(step, on, today):
            continue
        return step, on
    return None


def _next_step_known(
    known: _Known,
    policy: Policy,
    customer: CustomerFacts,
    inv: InvoiceFacts,
    prog: _Progress,
    timing: SegmentTiming,
    today: date,
) -> tuple[Step, date] | None:
    """``_next_step``, looked up in ``known`` first (see ``StepMemo``)."""
    band = None
    if known.limits is not None:
        # Amounts with the same place among the limits meet the same conditions.
        limits = known.limits.get(inv.currency)
        if limits is None:
            limits = known.limits[inv.currency] = _amount_limits(policy, inv.currency)
        amount = inv.open_amount
        band = (inv.currency, bisect_left(limits, amount), bisect_right(limits, amount))
    key = (
        inv.issue_date,
        inv.due_date,
        prog.last_index,
        prog.touches,
        tuple(prog.fired.items()),
        band,
    )
    steps = known.steps
    if key in steps:
        return steps[key]
    found = steps[key] = _next_step(policy, customer, inv, prog, timing, today, known.fits)
    return found


def _leave_without_step(
    policy: Policy, customer: CustomerFacts, inv: InvoiceFacts, prog: _Progress, leave: _Leave
) -> None:
    if customer.automation is Automation.WHITE_GLOVE:
        leave(
            inv,
            Outcome.WHITE_GLOVE,
            "white glove: no automated messages, and no personal call step is left",
        )
    elif prog.last_index >= 0:
        last = policy.steps[prog.last_index]
        leave(
            inv,
            Outcome.COMPLETE,
            f"sequence complete: last step {last.id} on {prog.fired[last.id].isoformat()}",
        )
    else:
        leave(inv, Outcome.COMPLETE, "no step of the policy applies to this invoice")


def _planned_next(
    found: tuple[Step, date] | None,
    inv: InvoiceFacts,
    customer: CustomerFacts,
    g: Guardrails,
    not_before: date,
) -> tuple[Step, date] | None:
    """The next step with the day it can really fire: its trigger day, but
    not before ``not_before`` (an invoice acted on today waits for tomorrow,
    however long ago the next step's trigger day was), nor before the
    earliest outreach, and on a business day."""
    if found is None:
        return None
    step, on = found
    if step.is_touch and step.stage not in g.exempt_stages:
        on = max(on, inv.issue_date + timedelta(days=g.earliest_outreach_days))
    return step, _business(max(on, not_before), customer, g)


def _business(day: date, customer: CustomerFacts, g: Guardrails) -> date:
    return next_business_day(
        day, customer.country, skip_weekends=g.skip_weekends, skip_holidays=g.skip_holidays
    )


def _channel(step: Step, customer: CustomerFacts, g: Guardrails) -> tuple[Kind | None, str]:
    """The channel for a touch: the customer's preferred message channel for
    e-mail and text steps, else the step's own; then the fallback order.
    Returns the channel (None: none usable) and a note for the reason."""
    if not step.is_touch:
        return step.kind, ""
    wanted: list[Kind] = []
    preferred = customer.preferred_channel
    if step.kind in (Kind.EMAIL, Kind.SMS) and preferred in MESSAGE_KINDS:
        assert preferred is not None
        wanted.append(preferred)
    wanted.append(step.kind)
    wanted += [k for k in g.fallback_channels if k not in wanted]
    blocked = customer.blocked_channels
    for kind in wanted:
        if kind not in blocked:
            if kind is step.kind:
                return kind, ""
            if kind is preferred and kind is wanted[0]:
                return kind, f"; {kind} as the customer prefers"
            skipped = ", ".join(f"{k} {blocked[k]}" for k in wanted[: wanted.index(kind)])
            return kind, f"; {kind} instead ({skipped})"
    why = ", ".join(f"{k} {blocked[k]}" for k in wanted)
    return None, f"no usable channel: {why}"


def _ref_of(candidate: tuple[InvoiceFacts, date]) -> str:
    return candidate[0].ref


def _plan(
    policy: Policy,
    customer: CustomerFacts,
    candidates: Mapping[str, _Candidate],
    today: date,
    leave: _Leave,
    decided: dict[str, InvoiceDecision],
    progress: Mapping[str, _Progress],
    timing: SegmentTiming,
    fits: Sequence[bool],
    explain: bool,
) -> tuple[PlannedAction, ...]:
    """The candidates' actions, most advanced step first, within the
    frequency cap; with ``explain``, each fired invoice's decision."""
    g = policy.guardrails
    window_start = today - timedelta(days=g.frequency_cap_days - 1)
    recent = sorted(p.on for p in customer.history if p.is_touch and window_start <= p.on <= today)
    # Already-fired steps today: evaluating twice must not repeat them.
    fired_today = {p.step for p in customer.history if p.on == today and p.step}
    # The most advanced steps go first when the cap leaves room for only some.
    order = sorted(candidates.values(), key=lambda c: (-STAGE_RANK[c.step.stage], c.index))
    actions: list[PlannedAction] = []
    for cand in order:
        step = cand.step
        by_ref = sorted(cand.invoices, key=_ref_of)
        refs = tuple(inv.ref for inv, _ in by_ref)
        if step.id in fired_today:
            for inv, _ in cand.invoices:
                leave(inv, Outcome.ALREADY_TODAY, f"already acted on today ({step.id})")
            continue
        kind, note = _channel(step, customer, g)
        if kind is None:
            for inv, _ in cand.invoices:
                leave(
                    inv,
                    Outcome.NO_CHANNEL,
                    f"{note}; {step.id} waits",
                    (step, today + timedelta(days=1)),
                )
            continue
        if step.is_touch and len(recent) >= g.frequency_cap_touches:
            # The cap frees up the day after the oldest counted touch leaves the window.
            free = recent[len(recent) - g.frequency_cap_touches] + timedelta(
                days=g.frequency_cap_days
            )
            dates = ", ".join(d.isoformat() for d in recent)
            for inv, _ in cand.invoices:
                leave(
                    inv,
                    Outcome.CAPPED,
                    f"capped by frequency: {len(recent)} touches in the last "
                    f"{g.frequency_cap_days} days ({dates}), at most "
                    f"{g.frequency_cap_touches}; {step.id} waits",
                    (step, _business(free, customer, g)),
                )
            continue
        if step.is_touch:
            recent.append(today)
        trigger = step.trigger.describe()
        parts = ", ".join(f"{inv.ref} ({trigger} = {on})" for inv, on in by_ref)
        reason = (
            f"{step.id} ({step.stage}, {kind}): {len(refs)} invoice(s) reached this step — "
            f"{parts}; segment {customer.segment}{note}"
        )
        action = PlannedAction(
            customer_ref=customer.ref,
            step=step.id,
            stage=step.stage,
            kind=kind,
            invoice_refs=refs,
            planned_for=today,
            planned_at=planned_at(today, customer.country, g.business_hours, customer.time_zone),
            reason=reason,
            template=step.template,
            script=step.script,
            deadline=(
                today + timedelta(days=step.deadline_days)
                if step.deadline_days is not None
                else None
            ),
            requires_approval=step.requires_approval,
        )
        actions.append(action)
        for inv, _ in cand.invoices if explain else ():
            prog = progress[inv.ref]
            after = _Progress(
                {**prog.fired, step.id: today},
                cand.index,
                prog.touches + (1 if step.is_touch and step.stage not in g.exempt_stages else 0),
                step.id,
            )
            tomorrow = today + timedelta(days=1)
            nxt = _planned_next(
                _next_step(policy, customer, inv, after, timing, tomorrow, fits),
                inv,
                customer,
                g,
                tomorrow,
            )
            decided[inv.ref] = InvoiceDecision(
                inv.ref,
                Outcome.FIRED,
                reason,
                step=step.id,
                next_step=nxt[0].id if nxt else None,
                next_date=nxt[1] if nxt else None,
            )
    actions.sort(key=lambda a: candidates[a.step].index)
    return tuple(actions)
