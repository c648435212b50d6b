"""The pure policy evaluation: what fires today, and why nothing did."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from arrears.domain.policy import (
    Anchor,
    Automation,
    Decisions,
    Guardrails,
    InvoiceDecision,
    Kind,
    Outcome,
    PastAction,
    Stage,
    Trigger,
    evaluate,
)
from arrears.domain.segments import Segment

from .policy_examples import SMALL, customer, invoice

ISSUE = date(2025, 1, 6)  # a Monday; terms 30 -> due Wednesday 2025-02-05


def past(on: date, step: str, refs: tuple[str, ...] = ("I1",)) -> PastAction:
    s = SMALL.step(step)
    assert s is not None
    return PastAction(on, s.kind, s.stage, frozenset(refs), step)


def one(decisions: Decisions, ref: str = "I1") -> InvoiceDecision:
    return next(d for d in decisions.invoices if d.invoice_ref == ref)


@pytest.mark.parametrize(
    ("facts", "inv", "today", "outcome", "words"),
    [
        ({}, {"open_amount": "0"}, date(2025, 2, 10), Outcome.PAID, "paid"),
        ({}, {"disputed": True}, date(2025, 2, 10), Outcome.DISPUTED, "disputed"),
        ({"automation": Automation.PAUSED}, {}, date(2025, 2, 10), Outcome.PAUSED, "paused"),
        ({"hold_reason": "under an agency"}, {}, date(2025, 2, 10), Outcome.HELD, "agency"),
        ({}, {"hold_reason": "promise to pay until 2025-02-20"}, date(2025, 2, 10), Outcome.HELD,
         "promise"),
        ({}, {}, date(2025, 1, 15), Outcome.TOO_EARLY, "remind is due on 2025-01-31"),
        ({}, {"terms": 14}, date(2025, 1, 16), Outcome.BEFORE_EARLIEST_OUTREACH,
         "first outreach at 14 days"),
        ({}, {}, date(2025, 2, 1), Outcome.NON_BUSINESS_DAY, "Saturday: no contact on weekends"),
        ({"country": "DE"}, {"issue": date(2024, 11, 25)}, date(2024, 12, 25),
         Outcome.NON_BUSINESS_DAY, "public holiday in DE"),
        ({"blocked_channels": {k: "opted out" for k in Kind}}, {}, date(2025, 1, 31),
         Outcome.NO_CHANNEL, "no usable channel: email opted out"),
        ({"automation": Automation.WHITE_GLOVE}, {}, date(2025, 1, 31), Outcome.TOO_EARLY,
         "inquire-call"),
    ],
)  # fmt: skip
def test_each_reason_to_leave_an_invoice_alone(facts, inv, today, outcome, words):  # type: ignore[no-untyped-def]
    decisions = evaluate(SMALL, customer(**facts), [invoice(**inv)], today)
    assert decisions.actions == ()
    decided = one(decisions)
    assert decided.outcome is outcome
    assert words in decided.reason


def test_a_due_step_fires_with_its_reason_and_next_step() -> None:
    decisions = evaluate(SMALL, customer(), [invoice()], date(2025, 1, 31))
    (action,) = decisions.actions
    assert (action.step, action.stage, action.kind) == ("remind", Stage.REMIND, Kind.EMAIL)
    assert action.invoice_refs == ("I1",)
    assert action.reason.startswith("remind (remind, email): 1 invoice(s) reached this step")
    assert "I1 (due-5 days = 2025-01-31)" in action.reason
    assert action.planned_at.isoformat() == "2025-01-31T09:00:00+01:00"
    assert action.idempotency_key == "C1|remind|2025-01-31"
    decided = one(decisions)
    assert (decided.outcome, decided.step) == (Outcome.FIRED, "remind")
    # due + 3 is Saturday 2025-02-08: planned for the next business day, as "too early" says.
    assert (decided.next_step, decided.next_date) == ("inquire", date(2025, 2, 10))


def test_invoices_reaching_the_same_step_share_one_action() -> None:
    invoices = [invoice("I1"), invoice("I2", issue=date(2025, 1, 1), terms=35), invoice("I3")]
    decisions = evaluate(SMALL, customer(), invoices, date(2025, 1, 31))
    (action,) = decisions.actions
    assert action.invoice_refs == ("I1", "I2", "I3")
    assert {d.step for d in decisions.invoices} == {"remind"}


def test_the_frequency_cap_holds_a_touch_back_until_the_window_frees() -> None:
    history = (past(date(2025, 1, 27), "remind", ("X",)), past(date(2025, 1, 29), "remind", ("Y",)))
    decisions = evaluate(SMALL, customer(history=history), [invoice()], date(2025, 1, 31))
    assert decisions.actions == ()
    decided = one(decisions)
    assert decided.outcome is Outcome.CAPPED
    assert "2 touches in the last 7 days (2025-01-27, 2025-01-29)" in decided.reason
    assert decided.next_date == date(2025, 2, 3)


def test_escalation_waits_for_the_minimum_touches() -> None:
    history = (
        past(date(2025, 2, 10), "inquire"),
        past(date(2025, 2, 17), "inquire-call"),
        past(date(2025, 2, 24), "firm"),
        past(date(2025, 3, 3), "firm-call"),
    )
    few = evaluate(SMALL, customer(history=history[1:]), [invoice()], date(2025, 3, 10))
    assert one(few).outcome is Outcome.MIN_TOUCHES
    assert "3 of 4" in one(few).reason
    enough = evaluate(SMALL, customer(history=history), [invoice()], date(2025, 3, 10))
    assert [a.step for a in enough.actions] == ["manager"]


def test_a_confirm_call_is_exempt_from_earliest_outreach_but_not_counted() -> None:
    new = customer(segment=Segment.NEW)
    decisions = evaluate(SMALL, new, [invoice()], date(2025, 1, 13))
    assert [a.step for a in decisions.actions] == ["confirm"]
    later = evaluate(SMALL, new, [invoice()], date(2025, 1, 31))
    assert [a.step for a in later.actions] == ["remind"], "the window of the call passed"
    slow = evaluate(SMALL, customer(), [invoice()], date(2025, 1, 13))
    assert slow.actions == ()


def test_white_glove_customers_get_calls_only() -> None:
    white = customer(automation=Automation.WHITE_GLOVE)
    history = (past(date(2025, 2, 10), "inquire"),)
    decisions = evaluate(SMALL, replace(white, history=history), [invoice()], date(2025, 2, 17))
    assert [(a.step, a.kind) for a in decisions.actions] == [("inquire-call", Kind.CALL)]
    for day in range(1, 28):
        d = date(2025, 2, day)
        assert all(a.kind is Kind.CALL for a in evaluate(SMALL, white, [invoice()], d).actions)


def test_preferred_channel_and_fallback() -> None:
    prefers_sms = customer(preferred_channel=Kind.SMS)
    (action,) = evaluate(SMALL, prefers_sms, [invoice()], date(2025, 1, 31)).actions
    assert action.kind is Kind.SMS and "sms as the customer prefers" in action.reason
    bounced = customer(blocked_channels={Kind.EMAIL: "bounced"})
    (action,) = evaluate(SMALL, bounced, [invoice()], date(2025, 1, 31)).actions
    assert action.kind is Kind.SMS and "sms instead (email bounced)" in action.reason


def test_risky_customers_move_faster_and_good_ones_slower() -> None:
    history = (past(date(2025, 2, 10), "inquire"),)
    day = date(2025, 2, 13)  # inquire + 3: risky (5 * 0.5 -> 3) calls; slow waits (5, Sat)
    risky = evaluate(SMALL, customer(segment=Segment.RISKY, history=history), [invoice()], day)
    assert [a.step for a in risky.actions] == ["inquire-call"]
    slow = evaluate(SMALL, customer(history=history), [invoice()], day)
    assert one(slow).next_date == date(2025, 2, 17) and slow.actions == ()
    good = evaluate(SMALL, customer(segment=Segment.GOOD), [invoice()], date(2025, 2, 10))
    assert one(good).next_date == date(2025, 2, 11), "due + 3 days x 2"


def test_a_final_letter_sets_its_deadline_and_agency_needs_approval() -> None:
    history = tuple(
        past(d, s) for d, s in [(date(2025, 2, 10), "inquire"), (date(2025, 2, 17), "inquire-call"),
                                (date(2025, 2, 24), "firm"), (date(2025, 3, 3), "firm-call"),
                                (date(2025, 3, 10), "manager")]
    )  # fmt: skip
    (letter,) = evaluate(SMALL, customer(history=history), [invoice()], date(2025, 3, 17)).actions
    assert (letter.step, letter.deadline) == ("final", date(2025, 3, 27))
    history += (past(date(2025, 3, 17), "final"),)
    (agency,) = evaluate(SMALL, customer(history=history), [invoice()], date(2025, 3, 31)).actions
    assert agency.kind is Kind.AGENCY and agency.requires_approval


def test_evaluating_the_same_day_again_creates_nothing() -> None:
    c = customer(segment=Segment.NEW)
    first = evaluate(SMALL, c, [invoice()], date(2025, 1, 13))
    assert first.actions
    again = evaluate(
        SMALL, replace(c, history=tuple(a.as_past() for a in first.actions)), [invoice()],
        date(2025, 1, 13),
    )  # fmt: skip
    assert again.actions == ()
    assert one(again).outcome is Outcome.ALREADY_TODAY


def test_without_weekend_rules_weekends_are_working_days() -> None:
    relaxed = replace(SMALL, guardrails=Guardrails(skip_weekends=False))
    decisions = evaluate(relaxed, customer(), [invoice(issue=date(2025, 1, 8))], date(2025, 2, 2))
    assert [a.step for a in decisions.actions] == ["remind"]


# Like the default policy: the call follows the due date, not the e-mail.
DUE_CALL = replace(
    SMALL,
    steps=tuple(
        replace(s, trigger=Trigger(Anchor.DUE, 10)) if s.id == "inquire-call" else s
        for s in SMALL.steps
    ),
)


@pytest.mark.parametrize("acted", ["fired now", "already today"])
def test_the_next_date_after_acting_today_is_never_in_the_past(acted: str) -> None:
    # Due 2025-02-05; on Wednesday 2025-03-12 inquire fires (or fired earlier
    # today); inquire-call's trigger day (due + 10 = 2025-02-15) is long past,
    # so it is next planned for tomorrow, never on that day.
    today = date(2025, 3, 12)
    decisions = evaluate(DUE_CALL, customer(), [invoice()], today)
    assert [a.step for a in decisions.actions] == ["inquire"]
    if acted == "already today":
        again = customer(history=tuple(a.as_past() for a in decisions.actions))
        decisions = evaluate(DUE_CALL, again, [invoice()], today)
        assert one(decisions).outcome is Outcome.ALREADY_TODAY
    decided = one(decisions)
    assert (decided.next_step, decided.next_date) == ("inquire-call", date(2025, 3, 13))


def test_the_next_date_after_acting_on_a_friday_is_the_next_business_day() -> None:
    decisions = evaluate(DUE_CALL, customer(), [invoice()], date(2025, 3, 14))
    assert [a.step for a in decisions.actions] == ["inquire"]
    assert one(decisions).next_date == date(2025, 3, 17)


def test_the_next_date_is_never_before_the_earliest_outreach() -> None:
    # 7-day terms: the call's trigger (due + 10 = issue + 17) is fine, but a
    # reminder due at due - 5 = issue + 2 waits for issue + 14 like the step itself.
    decided = one(evaluate(SMALL, customer(), [invoice(terms=7)], date(2025, 1, 8)))
    assert decided.outcome is Outcome.BEFORE_EARLIEST_OUTREACH
    assert decided.next_date is not None and decided.next_date >= date(2025, 1, 20)


def test_amount_limits_apply_in_the_invoice_currency() -> None:
    from decimal import Decimal

    from arrears.domain.policy import Conditions, Step, _applies

    step = Step(
        id="hold",
        stage=Stage.PRESSURE,
        kind=Kind.CREDIT_HOLD,
        trigger=Trigger(Anchor.DUE, 25),
        conditions=Conditions(
            min_open_amount=Decimal(550), min_open_by_currency={"JPY": Decimal(75000)}
        ),
    )
    facts = customer()
    small_yen = invoice()._replace(currency="JPY", open_amount=Decimal(60000))
    big_yen = small_yen._replace(open_amount=Decimal(80000))
    dollars = invoice()._replace(currency="USD", open_amount=Decimal(600))
    assert not _applies(step, facts, small_yen, fired_touches=None)
    assert _applies(step, facts, big_yen, fired_touches=None)
    assert _applies(step, facts, dollars, fired_touches=None)
