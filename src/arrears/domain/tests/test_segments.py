"""Segments from payment history, each with its reason; overrides win."""

from __future__ import annotations

from datetime import date

import pytest

from arrears.domain.segments import PaymentHistory, Segment, SegmentOverride, segment_of

TODAY = date(2025, 6, 1)
OLD = date(2020, 1, 1)


@pytest.mark.parametrize(
    ("history", "segment", "words"),
    [
        (PaymentHistory(), Segment.NEW, "0 invoice(s) paid"),
        (PaymentHistory(date(2025, 3, 1), 10, 0, -2.0), Segment.NEW, "customer since 2025-03-01"),
        (PaymentHistory(OLD, 12, 1, 1.5), Segment.GOOD, "12 invoices paid, 1 late"),
        (PaymentHistory(OLD, 12, 3, 14.0), Segment.SLOW, "14.0 days late on average"),
        (PaymentHistory(OLD, 10, 6, 4.0), Segment.SLOW, "6 of 10 invoices paid late"),
        (PaymentHistory(OLD, 10, 9, 45.0), Segment.RISKY, "45.0 days late"),
        (PaymentHistory(date(2025, 5, 1), 1, 0, 0.0, broken_promises=2), Segment.RISKY,
         "2 broken promises"),
        (PaymentHistory(OLD, 20, 0, 0.0, disputes=3), Segment.RISKY, "3 disputes"),
    ],
)  # fmt: skip
def test_segment_and_its_reason(history: PaymentHistory, segment: Segment, words: str) -> None:
    result = segment_of(history, TODAY)
    assert result.segment is segment
    assert words in result.reason
    assert result.reason.startswith(f"{segment}: ")
    assert not result.overridden


def test_a_manual_override_wins() -> None:
    history = PaymentHistory(OLD, 10, 9, 45.0)
    result = segment_of(history, TODAY, override=SegmentOverride(Segment.GOOD, "CFO's friend"))
    assert (result.segment, result.overridden) == (Segment.GOOD, True)
    assert result.reason == "good: set by hand (CFO's friend)"
