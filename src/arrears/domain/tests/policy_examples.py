"""Shared builders for the policy tests: a small policy and fact factories."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from arrears.domain.policy import (
    Anchor,
    Conditions,
    CustomerFacts,
    Guardrails,
    InvoiceFacts,
    Kind,
    Policy,
    SegmentTiming,
    Stage,
    Step,
    Trigger,
)
from arrears.domain.segments import Segment


def step(
    id: str, stage: Stage, kind: Kind, anchor: Anchor, days: int, after: str | None = None,
    **options: Any,
) -> Step:  # fmt: skip
    return Step(id, stage, kind, Trigger(anchor, days, after), **options)


SMALL = Policy(
    name="small",
    steps=(
        step("confirm", Stage.CONFIRM, Kind.CALL, Anchor.ISSUE, 5, window_days=7,
             conditions=Conditions(segments=frozenset({Segment.NEW}))),
        step("remind", Stage.REMIND, Kind.EMAIL, Anchor.DUE, -5, template="remind"),
        step("inquire", Stage.INQUIRE, Kind.EMAIL, Anchor.DUE, 3, template="inquire"),
        step("inquire-call", Stage.INQUIRE, Kind.CALL, Anchor.STEP, 5, after="inquire"),
        step("firm", Stage.PRESSURE, Kind.EMAIL, Anchor.STEP, 7, after="inquire-call",
             template="firm"),
        step("firm-call", Stage.PRESSURE, Kind.CALL, Anchor.STEP, 5, after="firm"),
        step("manager", Stage.ESCALATE, Kind.ESCALATION, Anchor.STEP, 5, after="firm-call"),
        step("final", Stage.ESCALATE, Kind.LETTER, Anchor.STEP, 5, after="manager",
             template="final", deadline_days=10),
        step("agency", Stage.ESCALATE, Kind.AGENCY, Anchor.STEP, 14, after="final",
             requires_approval=True),
    ),
    guardrails=Guardrails(),
    timing={Segment.RISKY: SegmentTiming(Decimal("0.5")), Segment.GOOD: SegmentTiming(Decimal(2))},
)  # fmt: skip


def customer(**options: Any) -> CustomerFacts:
    values: dict[str, Any] = {"ref": "C1", "segment": Segment.SLOW, "country": "DE"}
    values.update(options)
    return CustomerFacts(**values)


def invoice(ref: str = "I1", issue: date = date(2025, 1, 6), terms: int = 30,
            open_amount: str = "100.00", **options: Any) -> InvoiceFacts:  # fmt: skip
    return InvoiceFacts(
        ref, issue, date.fromordinal(issue.toordinal() + terms), Decimal(open_amount), "EUR",
        **options,
    )  # fmt: skip
