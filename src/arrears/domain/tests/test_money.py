"""Money: parsing contract amounts and arithmetic that never mixes currencies."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from arrears.domain.money import (
    Money,
    MoneyError,
    is_currency,
    minor_units,
    parse_amount,
    quantum,
    unusual_minor_units,
)


@pytest.mark.parametrize(("currency", "decimals"), [("JPY", 0), ("USD", 2), ("EUR", 2), ("KWD", 3)])
def test_minor_units_follow_iso_4217(currency: str, decimals: int) -> None:
    assert minor_units(currency) == decimals
    assert quantum(currency) == Decimal(1).scaleb(-decimals)


@pytest.mark.parametrize("code", ["usd", "US", "USDX", "ZZZ", "XAU", "XTS", "XXX", ""])
def test_unknown_lowercase_and_non_money_codes_are_not_currencies(code: str) -> None:
    assert not is_currency(code)
    with pytest.raises(MoneyError):
        minor_units(code)


@pytest.mark.parametrize(
    ("text", "currency", "expected"),
    [
        ("1234", "JPY", Decimal("1234")),
        ("1234.", "JPY", Decimal("1234")),
        ("1234.00", "JPY", Decimal("1234")),
        ("1234.5", "USD", Decimal("1234.50")),
        ("0.01", "USD", Decimal("0.01")),
        (".5", "USD", Decimal("0.50")),
        ("  12.30  ", "USD", Decimal("12.30")),
        ("+12.30", "USD", Decimal("12.30")),
        ("1.234", "KWD", Decimal("1.234")),
        ("7.5", "KWD", Decimal("7.500")),
        ("1.2000", "USD", Decimal("1.20")),
    ],
)
def test_amounts_parse_to_the_currency_minor_units(
    text: str, currency: str, expected: Decimal
) -> None:
    amount = parse_amount(text, currency)
    assert amount == expected
    # Same value and the same exponent: stored and printed with the currency's decimals.
    assert amount.as_tuple().exponent == expected.as_tuple().exponent


@pytest.mark.parametrize(
    ("text", "currency"),
    [("1.5", "JPY"), ("0.5", "JPY"), ("1.001", "USD"), ("0.005", "USD"), ("1.0001", "KWD")],
)
def test_more_decimals_than_the_currency_allows_are_refused(text: str, currency: str) -> None:
    with pytest.raises(MoneyError, match=f"more than {minor_units(currency)} decimals"):
        parse_amount(text, currency)


@pytest.mark.parametrize("text", ["0", "0.00", "-0", "+0.0"])
def test_zero_is_refused_unless_allowed(text: str) -> None:
    with pytest.raises(MoneyError, match="greater than 0"):
        parse_amount(text, "USD")
    assert parse_amount(text, "USD", allow_zero=True) == 0


@pytest.mark.parametrize("text", ["-1", "-0.01", "-100.00"])
def test_negative_amounts_are_refused_even_when_zero_is_allowed(text: str) -> None:
    with pytest.raises(MoneyError, match="greater than"):
        parse_amount(text, "USD")
    with pytest.raises(MoneyError, match="greater than or equal to 0"):
        parse_amount(text, "USD", allow_zero=True)


@pytest.mark.parametrize(
    "text",
    [
        "1,000.00",  # thousands separator
        "1 000",
        "1'000",
        "1_000",  # Decimal() itself would accept this
        "12,50",  # decimal comma
        "$12",
        "12 USD",
        "1e3",  # exponents are not the contract's notation
        "1E3",
        "1.5e-2",
        "NaN",
        "Infinity",
        "inf",
        "\uff11\uff12",  # fullwidth digits
        "\u0661\u0662",  # Arabic-Indic digits
        "1.2.3",
        ".",
        "-",
        "+-1",
        "abc",
    ],
)
def test_anything_but_plain_decimal_notation_is_refused(text: str) -> None:
    with pytest.raises(MoneyError):
        parse_amount(text, "USD")


@pytest.mark.parametrize("text", ["", "   "])
def test_an_empty_amount_is_refused(text: str) -> None:
    with pytest.raises(MoneyError, match="empty"):
        parse_amount(text, "USD")


def test_an_unknown_currency_is_refused_when_parsing() -> None:
    with pytest.raises(MoneyError, match="ISO 4217"):
        parse_amount("10", "ABC")


@pytest.mark.parametrize(
    ("text", "currency"),
    [
        ("10000000000000", "USD"),  # 14 digits + 2 decimals: more than SQLite keeps exactly
        ("99999999999999.99", "USD"),
        ("1000000000000", "KWD"),
        ("100000000000000", "JPY"),  # 15 digits: more than the ledger's columns hold
        ("9" * 20, "USD"),
        ("9" * 28, "JPY"),
        ("9" * 29, "USD"),  # beyond Decimal's default context: must not crash
        ("9" * 200, "USD"),
    ],
)
def test_amounts_too_large_to_store_exactly_are_refused_not_crashing(
    text: str, currency: str
) -> None:
    with pytest.raises(MoneyError, match="too large"):
        parse_amount(text, currency)


@pytest.mark.parametrize(
    ("text", "currency"),
    [
        ("9999999999999.99", "USD"),
        ("000009999999999999.99", "USD"),  # leading zeros are not digits that count
        ("999999999999.999", "KWD"),
        ("99999999999999", "JPY"),
    ],
)
def test_the_largest_storable_amounts_parse(text: str, currency: str) -> None:
    assert parse_amount(text, currency) == Decimal(text)


@given(
    st.sampled_from(["JPY", "USD", "KWD"]),
    st.integers(min_value=1, max_value=10**14 - 1),
)
def test_formatting_a_minor_unit_count_parses_back_to_the_same_amount(
    currency: str, minor: int
) -> None:
    amount = Decimal(minor).scaleb(-minor_units(currency))
    assert parse_amount(str(amount), currency) == amount
    assert parse_amount(f"{amount:f}", currency) == amount


def test_money_adds_and_subtracts_within_one_currency() -> None:
    a = Money(Decimal("10.25"), "USD")
    b = Money(Decimal("0.75"), "USD")
    assert a + b == Money(Decimal("11.00"), "USD")
    assert a - b == Money(Decimal("9.50"), "USD")
    assert Money.zero("JPY") == Money(Decimal(0), "JPY")
    assert str(Money.zero("KWD")) == "0.000 KWD"


def test_money_refuses_to_mix_currencies() -> None:
    usd = Money(Decimal("1.00"), "USD")
    eur = Money(Decimal("1.00"), "EUR")
    with pytest.raises(MoneyError, match="USD and EUR"):
        usd + eur
    with pytest.raises(MoneyError, match="USD and EUR"):
        usd - eur


def test_money_refuses_plain_numbers() -> None:
    usd = Money(Decimal("1.00"), "USD")
    with pytest.raises(TypeError, match="Money and int"):
        usd + 1  # type: ignore[operator]
    with pytest.raises(TypeError, match="Money and Decimal"):
        usd - Decimal(1)  # type: ignore[operator]


def test_money_requires_a_decimal_and_a_real_currency() -> None:
    with pytest.raises(TypeError):
        Money(1.5, "USD")  # type: ignore[arg-type]
    with pytest.raises(MoneyError):
        Money(Decimal(1), "usd")


def test_rounding_is_bankers_rounding_to_the_minor_unit() -> None:
    assert Money(Decimal("0.125"), "USD").rounded() == Money(Decimal("0.12"), "USD")
    assert Money(Decimal("0.135"), "USD").rounded() == Money(Decimal("0.14"), "USD")
    assert Money(Decimal("2.5"), "JPY").rounded().amount == Decimal(2)


def test_money_prints_with_the_currency_decimals() -> None:
    assert str(Money(Decimal("1234.5"), "USD")) == "1,234.50 USD"
    assert str(Money(Decimal("1234"), "JPY")) == "1,234 JPY"


def test_currencies_with_other_than_two_decimals_are_listed_by_their_decimals() -> None:
    unusual = unusual_minor_units()
    assert {"JPY", "KRW", "VND"} <= unusual[0]
    assert {"KWD", "BHD", "TND"} <= unusual[3]
    assert all(minor_units(code) == places for places, codes in unusual.items() for code in codes)
    assert not any("USD" in codes or "EUR" in codes for codes in unusual.values())
