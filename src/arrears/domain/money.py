"""Money: Decimal amounts with an ISO 4217 currency and its minor units."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from functools import cache

import pycountry

# ISO 4217 minor units that differ from the usual two. Currencies not listed
# here and known to pycountry have two decimals.
_MINOR_UNITS = {
    **dict.fromkeys(
        [
            "BIF",
            "CLP",
            "DJF",
            "GNF",
            "ISK",
            "JPY",
            "KMF",
            "KRW",
            "PYG",
            "RWF",
            "UGX",
            "UYI",
            "VND",
            "VUV",
            "XAF",
            "XOF",
            "XPF",
        ],
        0,
    ),
    **dict.fromkeys(["BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"], 3),
    "CLF": 4,
    "UYW": 4,
}
# Funds, precious metals and testing codes: no minor unit, never invoiced.
_NOT_MONEY = frozenset(
    ["XAG", "XAU", "XBA", "XBB", "XBC", "XBD", "XDR", "XPD", "XPT", "XSU", "XTS", "XUA", "XXX"]
)


class MoneyError(ValueError):
    """An amount or currency that cannot be used as money."""


@cache
def is_currency(code: str) -> bool:
    """True for an active ISO 4217 alpha-3 code that can be invoiced."""
    return (
        len(code) == 3
        and code.isupper()
        and code not in _NOT_MONEY
        and pycountry.currencies.get(alpha_3=code) is not None
    )


@cache
def minor_units(currency: str) -> int:
    """Number of decimals the currency allows (JPY 0, EUR 2, KWD 3)."""
    if not is_currency(currency):
        raise MoneyError(f"{currency!r} is not an ISO 4217 currency code")
    return _MINOR_UNITS.get(currency, 2)


def unusual_minor_units() -> dict[int, frozenset[str]]:
    """Currencies whose minor units are not two, by their number of decimals.

    Every other currency has two; for rounding per currency where only the
    code is at hand (in SQL).
    """
    by_places: dict[int, set[str]] = {}
    for code, places in _MINOR_UNITS.items():
        by_places.setdefault(places, set()).add(code)
    return {places: frozenset(codes) for places, codes in sorted(by_places.items())}


@cache
def quantum(currency: str) -> Decimal:
    return Decimal(1).scaleb(-minor_units(currency))


# ASCII digits only: Decimal() would also read fullwidth or Arabic-Indic digits.
_PLAIN_NUMBER = re.compile(r"[+-]?(\d*)(?:\.(\d*))?", re.ASCII)
# The ledger's columns hold 18 digits, 4 of them after the point; and SQLite
# keeps decimals as binary floats, exact to 15 significant digits. So an
# amount has at most 14 digits before the point, and at most 15 counting the
# currency's minor units (USD up to 9,999,999,999,999.99).
MAX_INTEGER_DIGITS = 14
MAX_DIGITS = 15


def parse_amount(text: str, currency: str, *, allow_zero: bool = False) -> Decimal:
    """Parse a contract amount ('1234.50'): '.' decimal point, no separators.

    Raises MoneyError for anything else, for amounts ≤ 0 (or < 0 with
    ``allow_zero``), for more decimals than the currency allows and for more
    digits than the ledger keeps exactly (MAX_INTEGER_DIGITS, MAX_DIGITS).
    """
    raw = text.strip()
    if not raw:
        raise MoneyError("is empty")
    match = _PLAIN_NUMBER.fullmatch(raw)
    if match is None or not (match.group(1) or match.group(2)):
        raise MoneyError(f"{raw!r} is not a number (use '.' as decimal point, no separators)")
    try:
        amount = Decimal(raw)
    except InvalidOperation:  # pragma: no cover - the pattern admits only numbers
        raise MoneyError(f"{raw!r} is not a number") from None
    if amount < 0 or (amount == 0 and not allow_zero):
        raise MoneyError(f"{raw} must be greater than {'or equal to ' if allow_zero else ''}0")
    decimals = minor_units(currency)
    limit = min(MAX_INTEGER_DIGITS, MAX_DIGITS - decimals)
    if len(match.group(1).lstrip("0")) > limit:
        raise MoneyError(
            f"{raw} is too large (at most {limit} digits before the point in {currency})"
        )
    written = (match.group(2) or "").rstrip("0")
    if len(written) > decimals:
        raise MoneyError(f"{raw} has more than {decimals} decimals, the most {currency} allows")
    return amount.quantize(quantum(currency))


@dataclass(frozen=True, slots=True)
class Money:
    """An amount in one currency. Arithmetic refuses to mix currencies."""

    amount: Decimal
    currency: str

    def __post_init__(self) -> None:
        if not isinstance(self.amount, Decimal):
            raise TypeError("Money.amount must be a Decimal")
        minor_units(self.currency)

    @classmethod
    def zero(cls, currency: str) -> Money:
        return cls(Decimal(0).quantize(quantum(currency)), currency)

    def _check(self, other: Money) -> None:
        if not isinstance(other, Money):  # a plain number has no currency
            raise TypeError(f"cannot combine Money and {type(other).__name__}")
        if self.currency != other.currency:
            raise MoneyError(f"cannot combine {self.currency} and {other.currency}")

    def __add__(self, other: Money) -> Money:
        self._check(other)
        return Money(self.amount + other.amount, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._check(other)
        return Money(self.amount - other.amount, self.currency)

    def rounded(self) -> Money:
        return Money(
            self.amount.quantize(quantum(self.currency), rounding=ROUND_HALF_EVEN), self.currency
        )

    def __str__(self) -> str:
        return f"{self.amount.quantize(quantum(self.currency)):,} {self.currency}"
