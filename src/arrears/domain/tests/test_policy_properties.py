"""Properties of the policy evaluation over random invoice sets, run day by
day with every planned action fed back as history."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import arrears
from arrears.domain.calendar import non_business_reason
from arrears.domain.policy import (
    TOUCH_KINDS,
    Automation,
    CustomerFacts,
    InvoiceFacts,
    Kind,
    PlannedAction,
    Policy,
    Stage,
    evaluate,
)
from arrears.domain.policy_file import policy_parse
from arrears.domain.segments import Segment

from .policy_examples import SMALL

DEFAULT = policy_parse(
    (Path(arrears.__file__).parent / "sequencing" / "policies" / "default.yaml").read_text(
        encoding="utf-8"
    )
)

START = date(2025, 1, 1)
DAYS = 120

invoices_st = st.lists(
    st.builds(
        lambda n, issue, terms, amount, disputed, paid_on: (
            InvoiceFacts(f"I{n}", START + timedelta(days=issue),
                         START + timedelta(days=issue + terms), Decimal(amount), "EUR", disputed),
            paid_on,
        ),
        st.integers(0, 999),
        st.integers(0, 60),
        st.sampled_from([0, 7, 14, 15, 30, 45, 60]),
        st.sampled_from(["0", "10.00", "250.00", "9999.99"]),
        st.booleans(),
        st.none() | st.integers(0, DAYS),
    ),
    min_size=1,
    max_size=6,
    unique_by=lambda pair: pair[0].ref,
)  # fmt: skip
customers_st = st.builds(
    lambda segment, automation, country, preferred: CustomerFacts(
        "C1", segment, country, automation, preferred
    ),
    st.sampled_from(list(Segment)),
    st.sampled_from([Automation.AUTO, Automation.AUTO, Automation.WHITE_GLOVE]),
    st.sampled_from(["DE", "US", "FR", "ZZ"]),
    st.none() | st.sampled_from([Kind.EMAIL, Kind.SMS, Kind.CALL, Kind.LETTER]),
)


def replay(
    policy: Policy, customer: CustomerFacts, invoices: list[tuple[InvoiceFacts, int | None]]
) -> list[tuple[PlannedAction, dict[str, InvoiceFacts]]]:
    """Evaluate every day; an invoice is paid (open 0) from its payment day."""
    done: list[tuple[PlannedAction, dict[str, InvoiceFacts]]] = []
    history = customer.history
    for offset in range(DAYS):
        today = START + timedelta(days=offset)
        facts = [
            inv._replace(open_amount=Decimal(0)) if paid is not None and paid <= offset else inv
            for inv, paid in invoices
            if inv.issue_date <= today
        ]
        by_ref = {inv.ref: inv for inv in facts}
        decisions = evaluate(policy, replace(customer, history=history), facts, today)
        quick = evaluate(policy, replace(customer, history=history), facts, today, explain=False)
        assert quick.actions == decisions.actions, "the run's evaluation decides the same"
        assert quick.invoices == () and len(decisions.invoices) == len(facts)
        again = evaluate(
            policy,
            replace(customer, history=history + tuple(a.as_past() for a in decisions.actions)),
            facts,
            today,
        )
        assert again.actions == (), "the same day evaluated twice creates nothing new"
        steps = [a.step for a in decisions.actions]
        assert len(steps) == len(set(steps)), "one action per customer per step per day"
        history += tuple(a.as_past() for a in decisions.actions)
        done += [(a, by_ref) for a in decisions.actions]
    return done


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from([SMALL, DEFAULT]), customers_st, invoices_st)
def test_guardrails_hold_day_after_day(
    policy: Policy, customer: CustomerFacts, invoices: list[tuple[InvoiceFacts, int | None]]
) -> None:
    g = policy.guardrails
    done = replay(policy, customer, invoices)
    touches = sorted(a.planned_for for a, _ in done if a.kind in TOUCH_KINDS)
    for i, day in enumerate(touches):
        window = [d for d in touches[: i + 1] if d > day - timedelta(days=g.frequency_cap_days)]
        assert len(window) <= g.frequency_cap_touches, "frequency cap"
    counted: dict[str, int] = {}
    for action, by_ref in done:
        assert non_business_reason(action.planned_for, customer.country) is None
        if customer.automation is Automation.WHITE_GLOVE:
            assert action.kind is Kind.CALL
        for ref in action.invoice_refs:
            inv = by_ref[ref]
            assert inv.open_amount > 0 and not inv.disputed, "never on a paid or disputed invoice"
            age = (action.planned_for - inv.issue_date).days
            if action.kind in TOUCH_KINDS and action.stage not in g.exempt_stages:
                assert age >= g.earliest_outreach_days, "no outreach before the earliest age"
            if action.stage is Stage.ESCALATE:
                assert counted.get(ref, 0) >= g.min_touches_before_escalation
        for ref in action.invoice_refs:
            if action.kind in TOUCH_KINDS and action.stage not in g.exempt_stages:
                counted[ref] = counted.get(ref, 0) + 1


@settings(max_examples=15, deadline=None)
@given(invoices_st)
def test_paused_customers_get_nothing(invoices: list[tuple[InvoiceFacts, int | None]]) -> None:
    paused = CustomerFacts("C1", Segment.RISKY, "DE", Automation.PAUSED)
    assert replay(SMALL, paused, invoices) == []
