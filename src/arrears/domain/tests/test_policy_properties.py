"""Properties of the policy evaluation over random invoice sets, run day by
day with every planned action fed back as history."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import arrears
from arrears.domain.calendar import non_business_reason
from arrears.domain.policy import (
    TOUCH_KINDS,
    Anchor,
    Automation,
    Conditions,
    CustomerFacts,
    InvoiceFacts,
    Kind,
    PastAction,
    PlannedAction,
    Policy,
    Stage,
    StepMemo,
    evaluate,
)
from arrears.domain.policy_file import policy_parse
from arrears.domain.segments import Segment

from .policy_examples import SMALL, step

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
    memo = StepMemo()  # shared by every day, as a run's chunk shares one
    for offset in range(DAYS):
        today = START + timedelta(days=offset)
        facts = [
            inv._replace(open_amount=Decimal(0)) if paid is not None and paid <= offset else inv
            for inv, paid in invoices
            if inv.issue_date <= today
        ]
        by_ref = {inv.ref: inv for inv in facts}
        decisions = evaluate(policy, replace(customer, history=history), facts, today)
        quick = evaluate(
            policy, replace(customer, history=history), facts, today, explain=False, memo=memo
        )
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


# SMALL with a statement 20 days after issue for customers who prefer e-mail
# (so that the issue date, not only the due date, decides a later step, and
# so does the preferred channel) and a step only for invoices
# touched four times (a reminder, two inquiries and a manual call).
VARIANT = replace(
    SMALL,
    steps=(
        SMALL.steps[0],
        step(
            "statement",
            Stage.NOTIFY,
            Kind.EMAIL,
            Anchor.ISSUE,
            20,
            template="statement",
            conditions=Conditions(preferred_channels=frozenset({Kind.EMAIL})),
        ),
        *(
            replace(s, conditions=Conditions(min_touches=4)) if s.id == "firm" else s
            for s in SMALL.steps[1:]
        ),
    ),
)
# Customers with invoices issued on the same few days, each with its own
# terms (so that dates coincide: 0 + 30 = 16 + 14), amounts, payments and
# perhaps a manual call (a touch, but no step).
ledgers_st = st.lists(
    st.tuples(
        st.sampled_from([Segment.NEW, Segment.SLOW, Segment.RISKY]),
        st.sampled_from([Automation.AUTO, Automation.AUTO, Automation.WHITE_GLOVE]),
        st.sampled_from([None, Kind.EMAIL, Kind.SMS]),
        st.lists(st.sampled_from([14, 30]), min_size=6, max_size=6),
        st.lists(st.sampled_from(["10.00", "100.00", "250.00", "500.00", "600.00", "9999.99"]),
                 min_size=6, max_size=6),
        # The day each invoice is paid: half of them after the last day.
        st.lists(st.integers(0, 2 * DAYS), min_size=6, max_size=6),
        # A manual call early on, before any step (whose days it then leaves as they are).
        st.none() | st.integers(0, 8),
    ),
    min_size=2,
    max_size=5,
)  # fmt: skip
Ledger = tuple[Segment, Automation, Kind | None, list[int], list[str], list[int], int | None]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from([SMALL, VARIANT, DEFAULT]),
    st.lists(st.sampled_from([0, 2, 16, 18]), min_size=1, max_size=6),
    ledgers_st,
)
def test_a_shared_memo_decides_as_each_evaluation_alone(
    policy: Policy, issued: list[int], ledgers: list[Ledger]
) -> None:
    """The customers of a run's chunk share one StepMemo. Here their invoices
    have the same dates and are often at the same place in the sequence;
    they differ in segment, automation, preferred channel, terms, open
    amounts, payments and manual touches: every day, each customer gets
    exactly the actions it gets alone."""
    memo = StepMemo()
    histories: list[tuple[PastAction, ...]] = [() for _ in ledgers]
    planned = 0
    for offset in range(DAYS):
        today = START + timedelta(days=offset)
        for i, (segment, automation, preferred, terms, owed, paid_on, called_on) in enumerate(
            ledgers
        ):
            facts = [
                InvoiceFacts(
                    f"I{n}",
                    START + timedelta(days=issue),
                    START + timedelta(days=issue + terms[n]),
                    Decimal(0 if paid_on[n] <= offset else owed[n]),
                    "EUR",
                )
                for n, issue in enumerate(issued)
                if issue <= offset
            ]
            if called_on == offset and facts:
                call = PastAction(today, Kind.CALL, Stage.INQUIRE, frozenset(f.ref for f in facts))
                histories[i] += (call,)
            who = CustomerFacts(f"C{i}", segment, "DE", automation, preferred, history=histories[i])
            alone = evaluate(policy, who, facts, today, explain=False)
            assert evaluate(policy, who, facts, today, explain=False, memo=memo) == alone
            histories[i] += tuple(a.as_past() for a in alone.actions)
            planned += len(alone.actions)
    assume(planned > 0)


def test_a_shared_memo_tells_apart_invoices_touched_more_often() -> None:
    """Two customers alike but for a manual call on the first day: the step
    that needs four touches fires for the called one only, whether they
    share a memo or not (their invoices have the same dates and steps)."""
    invoice = InvoiceFacts("I1", START, START + timedelta(days=30), Decimal(100), "EUR")
    called = PastAction(START, Kind.CALL, Stage.INQUIRE, frozenset({"I1"}))

    def steps_fired(memo: StepMemo | None) -> list[set[str]]:
        histories: list[tuple[PastAction, ...]] = [(called,), ()]
        for offset in range(1, DAYS):
            today = START + timedelta(days=offset)
            for i, history in enumerate(histories):
                who = CustomerFacts(f"C{i}", Segment.SLOW, "DE", history=history)
                decided = evaluate(VARIANT, who, [invoice], today, explain=False, memo=memo)
                histories[i] += tuple(a.as_past() for a in decided.actions)
        return [{p.step for p in history if p.step} for history in histories]

    alone = steps_fired(None)
    assert "firm" in alone[0] and "firm" not in alone[1]
    assert steps_fired(StepMemo()) == alone


def test_a_shared_memo_tells_apart_amounts_at_and_below_a_limit() -> None:
    """Amounts below a limit, on it and above it meet different conditions
    (on the limit, both steps apply and the first wins): a memo shared by
    their customers keeps them apart."""
    policy = Policy(
        "limits",
        (
            step("big", Stage.INQUIRE, Kind.EMAIL, Anchor.DUE, 1,
                 conditions=Conditions(min_open_amount=Decimal(100))),
            step("small", Stage.INQUIRE, Kind.EMAIL, Anchor.DUE, 1,
                 conditions=Conditions(max_open_amount=Decimal(100))),
        ),
    )  # fmt: skip
    today = START + timedelta(days=33)  # a Monday, two days after the steps came due
    for amounts in (["10.00", "100.00", "150.00"], ["150.00", "100.00", "10.00"]):
        memo = StepMemo()
        steps = []
        for i, amount in enumerate(amounts):
            who = CustomerFacts(f"C{i}", Segment.SLOW, "DE")
            invoice = InvoiceFacts("I1", START, START + timedelta(days=30), Decimal(amount), "EUR")
            alone = evaluate(policy, who, [invoice], today, explain=False)
            assert evaluate(policy, who, [invoice], today, explain=False, memo=memo) == alone
            steps.append(alone.actions[0].step)
        assert dict(zip(amounts, steps, strict=True)) == {
            "10.00": "small",
            "100.00": "big",
            "150.00": "big",
        }
