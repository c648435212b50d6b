"""Statutory interest (the worked examples exactly), fixed compensation,
fees and early-payment discounts."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from arrears.domain.interest import (
    Balance,
    DiscountTerms,
    HalfYear,
    RateMissing,
    RatesInvalid,
    Regime,
    discount_offer,
    discount_terms,
    fixed_compensation,
    late_interest,
    percentage_fee,
    rates_parse,
)

RATES = rates_parse(
    """
ecb_mro: {2023-H2: "4.00", 2024-H1: "4.50", 2024-H2: "4.25"}
boe_base: {2023-H2: "5.00", 2024-H1: "5.25", 2024-H2: "5.25"}
"""
)


def test_eu_worked_example_ten_thousand_euros_45_days_late_is_154_11() -> None:
    # MRO 4.50 % on 1 Jan 2024 + 8 = 12.50 %: 10,000 x 0.125 x 45 / 365.
    due = date(2024, 2, 1)
    interest = late_interest(
        regime=Regime.EU,
        due_date=due,
        balances=[Balance(date(2024, 2, 2), date(2024, 3, 17), Decimal("10000.00"))],
        currency="EUR",
        rates=RATES,
    )
    assert interest.amount == Decimal("154.11")
    assert [(p.rate, p.days) for p in interest.periods] == [(Decimal("12.50"), 45)]
    assert fixed_compensation(Regime.EU, Decimal("10000.00"), "EUR") == Decimal(40)


def test_uk_worked_example_five_thousand_pounds_due_1_march_paid_30_april_is_108_90() -> None:
    # Base 5.25 % on 31 Dec 2023 + 8 = 13.25 %: 5,000 x 0.1325 x 60 / 365.
    interest = late_interest(
        regime=Regime.UK,
        due_date=date(2024, 3, 1),
        balances=[Balance(date(2024, 3, 1), date(2024, 4, 30), Decimal("5000.00"))],
        currency="GBP",
        rates=RATES,
    )
    assert interest.amount == Decimal("108.90")
    assert interest.periods[0].days == 60
    assert fixed_compensation(Regime.UK, Decimal("5000.00"), "GBP") == Decimal(70)


@pytest.mark.parametrize(
    ("debt", "fixed"),
    [("999.99", 40), ("1000.00", 70), ("9999.99", 70), ("10000.00", 100), ("250000", 100)],
)
def test_uk_fixed_sum_follows_the_debt_size(debt: str, fixed: int) -> None:
    assert fixed_compensation(Regime.UK, Decimal(debt), "GBP") == Decimal(fixed)


def test_fixed_sums_are_only_in_the_regimes_own_currency() -> None:
    assert fixed_compensation(Regime.EU, Decimal(100), "USD") is None
    assert fixed_compensation(Regime.UK, Decimal(100), "EUR") is None
    assert fixed_compensation(Regime.CONTRACT, Decimal(100), "EUR") is None


def test_eu_interest_changes_rate_at_the_half_year() -> None:
    # 10 days in June at 12.50 %, 5 in July at 12.25 %.
    interest = late_interest(
        regime=Regime.EU,
        due_date=date(2024, 6, 20),
        balances=[Balance(date(2024, 6, 1), date(2024, 7, 5), Decimal("1000.00"))],
        currency="EUR",
        rates=RATES,
    )
    assert [(p.rate, p.days) for p in interest.periods] == [
        (Decimal("12.50"), 10),
        (Decimal("12.25"), 5),
    ]
    exact = (
        Decimal(1000) * Decimal("0.125") * 10 / 365 + Decimal(1000) * Decimal("0.1225") * 5 / 365
    )
    assert interest.amount == exact.quantize(Decimal("0.01"))


def test_uk_interest_keeps_the_rate_of_the_half_year_it_started_in() -> None:
    rates = rates_parse('boe_base: {2023-H2: "5.00", 2024-H1: "9.00"}')
    interest = late_interest(
        regime=Regime.UK,
        due_date=date(2023, 12, 1),
        balances=[Balance(date(2023, 12, 1), date(2024, 2, 1), Decimal(1000))],
        currency="GBP",
        rates=rates,
    )
    assert {p.rate for p in interest.periods} == {Decimal("13.00")}


def test_interest_follows_the_unpaid_balance_day_by_day() -> None:
    interest = late_interest(
        regime=Regime.CONTRACT,
        contract_rate=Decimal(10),
        due_date=date(2025, 1, 31),
        balances=[
            Balance(date(2025, 1, 1), date(2025, 2, 10), Decimal(1000)),
            Balance(date(2025, 2, 11), date(2025, 2, 20), Decimal(400)),
        ],
        currency="EUR",
    )
    exact = Decimal(1000) * Decimal("0.1") * 10 / 365 + Decimal(400) * Decimal("0.1") * 10 / 365
    assert interest.amount == exact.quantize(Decimal("0.01"))


def test_nothing_accrues_on_or_before_the_due_date_or_without_a_regime() -> None:
    balances = [Balance(date(2025, 1, 1), date(2025, 1, 31), Decimal(1000))]
    on_time = late_interest(
        regime=Regime.EU,
        due_date=date(2025, 1, 31),
        balances=balances,
        currency="EUR",
        rates=RATES,
    )
    assert on_time.amount == Decimal("0.00") and on_time.periods == ()
    none = late_interest(
        regime=Regime.NONE, due_date=date(2024, 1, 1), balances=balances, currency="EUR"
    )
    assert none.amount == Decimal("0.00")


def test_a_missing_reference_rate_is_an_error_not_a_guess() -> None:
    with pytest.raises(RateMissing, match="ecb_mro reference rate for 2031-H1"):
        late_interest(
            regime=Regime.EU,
            due_date=date(2031, 1, 10),
            balances=[Balance(date(2031, 1, 1), date(2031, 2, 1), Decimal(1000))],
            currency="EUR",
            rates=RATES,
        )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("- a list", "must map series"),
        ("ecb_mro: [1, 2]", "must map half-years"),
        ('ecb_mro: {"2024-H3": "1"}', "not a half-year"),
        ('ecb_mro: {"2024-H1": "abc"}', "not a rate"),
        ('ecb_mro: {"2024-H1": "80"}', "plausible"),
        ("ecb_mro: {", "not YAML"),
    ],
)
def test_a_bad_rate_table_names_the_bad_entry(text: str, message: str) -> None:
    with pytest.raises(RatesInvalid, match=message):
        rates_parse(text)


def test_the_shipped_rate_table_covers_the_worked_examples() -> None:
    from pathlib import Path

    import arrears.cases

    path = Path(arrears.cases.__file__).parent / "data" / "reference_rates.yaml"
    table = rates_parse(path.read_text(encoding="utf-8"))
    assert table.rate("ecb_mro", HalfYear(2024, 1)) == Decimal("4.50")
    assert table.rate("boe_base", HalfYear(2024, 1)) == Decimal("5.25")
    for series in ("ecb_mro", "boe_base"):
        for year in (2023, 2024, 2025):
            for half in (1, 2):
                table.rate(series, HalfYear(year, half))


@pytest.mark.parametrize(
    ("terms", "expected"),
    [
        ("2/10 net 30", DiscountTerms(Decimal(2), 10, 30)),
        ("2/10 N/30", DiscountTerms(Decimal(2), 10, 30)),
        ("2% 10 Net 30", DiscountTerms(Decimal(2), 10, 30)),
        ("1.5/15, n45", DiscountTerms(Decimal("1.5"), 15, 45)),
        ("3/7", DiscountTerms(Decimal(3), 7, None)),
        ("Net 30", None),
        ("", None),
        ("0/10 net 30", None),
    ],
)
def test_discount_terms_are_read_from_the_invoice_terms(
    terms: str, expected: DiscountTerms | None
) -> None:
    assert discount_terms(terms) == expected


def test_a_discount_is_offered_until_its_date_only() -> None:
    terms = DiscountTerms(Decimal(2), 10, 30)
    offer = discount_offer(
        terms,
        issue_date=date(2025, 1, 1),
        open_amount=Decimal("1234.50"),
        currency="EUR",
        today=date(2025, 1, 11),
    )
    assert offer is not None
    assert (offer.until, offer.amount, offer.pay) == (
        date(2025, 1, 11),
        Decimal("24.69"),
        Decimal("1209.81"),
    )
    late = discount_offer(
        terms,
        issue_date=date(2025, 1, 1),
        open_amount=Decimal(100),
        currency="EUR",
        today=date(2025, 1, 12),
    )
    assert late is None


@given(
    amount=st.integers(min_value=1, max_value=10**12),
    percent=st.decimals(min_value=0, max_value=100, places=2),
)
def test_a_percentage_fee_is_in_minor_units_and_within_the_amount(
    amount: int, percent: Decimal
) -> None:
    value = Decimal(amount) / 100
    fee = percentage_fee(value, percent, "EUR")
    assert fee == fee.quantize(Decimal("0.01"))
    assert 0 <= fee <= value
