"""Late-payment charges and early-payment discounts: pure arithmetic.

Statutory interest on late commercial payments:

- **EU** (Directive 2011/7/EU): the ECB main refinancing rate + 8 points,
  from the day after the due date, no reminder needed; the reference rate
  is the one in force on 1 January for the first half-year and on 1 July
  for the second, so a long delay is charged at each half-year's rate.
  Plus a fixed compensation of €40 per late invoice.
- **UK** (Late Payment of Commercial Debts (Interest) Act 1998): the Bank
  of England base rate + 8 %, simple; the rate on 31 December applies to
  interest that starts running 1 January to 30 June, the rate on 30 June to
  interest that starts 1 July to 31 December, and stays fixed for the debt.
  Plus a fixed sum by debt size: under £1,000 £40, under £10,000 £70,
  else £100.

Interest is simple, on each day's unpaid balance (the day of payment
counts, the due date does not), over a 365-day year, rounded once to the
currency's minor units: €10,000 45 days late at 12.50 % is €154.11.

Reference rates come as a table by half-year (``rates_parse``); the
application ships one and lets operators replace it. A missing half-year
raises RateMissing rather than guessing.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

import yaml

from .money import quantum

DAYS_IN_YEAR = Decimal(365)
STATUTORY_MARGIN = Decimal(8)


class Regime(StrEnum):
    """How late-payment interest is charged."""

    NONE = "none"
    EU = "eu"
    UK = "uk"
    # A rate agreed in the contract, simple, from the day after due.
    CONTRACT = "contract"


# The reference rate each statutory regime reads from the table.
RATE_SERIES = {Regime.EU: "ecb_mro", Regime.UK: "boe_base"}


class RateMissing(LookupError):
    """The rate table has no rate for a half-year that is needed."""


class RatesInvalid(ValueError):
    """A rate table that cannot be read; the message says where."""


@dataclass(frozen=True)
class HalfYear:
    year: int
    half: int  # 1: January to June, 2: July to December

    @classmethod
    def of(cls, day: date) -> HalfYear:
        return cls(day.year, 1 if day.month <= 6 else 2)

    @property
    def start(self) -> date:
        return date(self.year, 1 if self.half == 1 else 7, 1)

    @property
    def end(self) -> date:
        return date(self.year, 6, 30) if self.half == 1 else date(self.year, 12, 31)

    def __str__(self) -> str:
        return f"{self.year}-H{self.half}"


_HALF = re.compile(r"(\d{4})-H([12])")


@dataclass(frozen=True)
class RateTable:
    """Reference rates in percent by series ("ecb_mro", "boe_base") and
    half-year: for the EU the rate on 1 Jan / 1 Jul of that half-year, for
    the UK the rate on 31 Dec / 30 Jun before it."""

    series: Mapping[str, Mapping[HalfYear, Decimal]]

    def rate(self, series: str, half: HalfYear) -> Decimal:
        try:
            return self.series[series][half]
        except KeyError:
            raise RateMissing(
                f"no {series} reference rate for {half} in the rate table; add it"
            ) from None


def rates_parse(text: str) -> RateTable:
    """Read a rate table: YAML mapping series → {"2024-H1": "4.50", …}.
    Raises RatesInvalid naming the bad entry."""
    try:
        raw: Any = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise RatesInvalid(f"not YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise RatesInvalid("the rate table must map series names to half-years")
    series: dict[str, dict[HalfYear, Decimal]] = {}
    for name, rows in raw.items():
        if not isinstance(rows, dict):
            raise RatesInvalid(f"{name}: must map half-years (2024-H1) to rates")
        series[str(name)] = {}
        for key, value in rows.items():
            match = _HALF.fullmatch(str(key))
            if match is None:
                raise RatesInvalid(f"{name}: {key!r} is not a half-year such as 2024-H1")
            try:
                rate = Decimal(str(value))
            except InvalidOperation:
                raise RatesInvalid(f"{name} {key}: {value!r} is not a rate") from None
            if not rate.is_finite() or not Decimal(-5) <= rate <= Decimal(50):
                raise RatesInvalid(f"{name} {key}: {value!r} is not a plausible rate")
            series[str(name)][HalfYear(int(match.group(1)), int(match.group(2)))] = rate
    return RateTable(series)


@dataclass(frozen=True)
class Balance:
    """An unpaid ``amount`` on each day from ``start`` to ``end`` inclusive."""

    start: date
    end: date
    amount: Decimal


@dataclass(frozen=True)
class InterestPeriod:
    """Interest on ``balance`` for ``days`` days at ``rate`` percent."""

    start: date
    end: date
    balance: Decimal
    rate: Decimal
    days: int

    @property
    def exact(self) -> Decimal:
        return self.balance * self.rate / 100 * self.days / DAYS_IN_YEAR


@dataclass(frozen=True)
class Interest:
    amount: Decimal
    currency: str
    periods: tuple[InterestPeriod, ...]

    def describe(self) -> str:
        return "; ".join(
            f"{p.balance} x {p.rate}% x {p.days}/365 ({p.start.isoformat()} to {p.end.isoformat()})"
            for p in self.periods
        )


def statutory_rate(regime: Regime, day: date, first_day: date, rates: RateTable) -> Decimal:
    """The interest rate in percent for ``day`` of a delay that started on
    ``first_day`` (the day after the due date)."""
    if regime is Regime.EU:
        return rates.rate(RATE_SERIES[regime], HalfYear.of(day)) + STATUTORY_MARGIN
    if regime is Regime.UK:
        return rates.rate(RATE_SERIES[regime], HalfYear.of(first_day)) + STATUTORY_MARGIN
    raise ValueError(f"{regime} has no statutory rate")


def late_interest(
    *,
    regime: Regime,
    due_date: date,
    balances: Sequence[Balance],
    currency: str,
    rates: RateTable | None = None,
    contract_rate: Decimal | None = None,
) -> Interest:
    """Interest on the unpaid ``balances`` for the days after ``due_date``
    (days on or before it are ignored), rounded once to minor units. EU
    periods are cut at half-year ends, where the rate may change.
    ``contract_rate`` (percent a year) is needed for Regime.CONTRACT, the
    rate table for the statutory regimes."""
    q = quantum(currency)
    if regime is Regime.NONE:
        return Interest(Decimal(0).quantize(q), currency, ())
    first_day = due_date + timedelta(days=1)
    periods: list[InterestPeriod] = []
    for balance in balances:
        start = max(balance.start, first_day)
        if balance.amount <= 0 or start > balance.end:
            continue
        while start <= balance.end:
            end = balance.end
            if regime is Regime.EU:
                end = min(end, HalfYear.of(start).end)
            if regime is Regime.CONTRACT:
                if contract_rate is None:
                    raise ValueError("a contractual regime needs its rate")
                rate = contract_rate
            else:
                assert rates is not None, "statutory interest needs the rate table"
                rate = statutory_rate(regime, start, first_day, rates)
            periods.append(InterestPeriod(start, end, balance.amount, rate, (end - start).days + 1))
            start = end + timedelta(days=1)
    total = sum((p.exact for p in periods), Decimal(0))
    return Interest(total.quantize(q, rounding=ROUND_HALF_UP), currency, tuple(periods))


# UK fixed sums by debt size (Late Payment Act s. 5A), in GBP.
UK_FIXED_SUMS = ((Decimal(1000), Decimal(40)), (Decimal(10000), Decimal(70)))
UK_FIXED_SUM_TOP = Decimal(100)
EU_COMPENSATION = Decimal(40)


def fixed_compensation(regime: Regime, debt: Decimal, currency: str) -> Decimal | None:
    """The fixed sum for one late invoice of ``debt``: EU €40 (EUR invoices),
    UK £40/£70/£100 (GBP invoices); None when the regime has none in that
    currency."""
    if regime is Regime.EU and currency == "EUR":
        return EU_COMPENSATION
    if regime is Regime.UK and currency == "GBP":
        for below, amount in UK_FIXED_SUMS:
            if debt < below:
                return amount
        return UK_FIXED_SUM_TOP
    return None


def percentage_fee(amount: Decimal, percent: Decimal, currency: str) -> Decimal:
    """``percent`` of ``amount``, rounded half up to minor units."""
    return (amount * percent / 100).quantize(quantum(currency), rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class DiscountTerms:
    """An early-payment discount: ``percent`` off when paid within ``days``
    of the invoice date; otherwise the net amount within ``net_days``."""

    percent: Decimal
    days: int
    net_days: int | None


# "2/10 net 30", "2/10 n/30", "2% 10 Net 30", "2/10, n30", "1.5/15 net 45".
_DISCOUNT = re.compile(
    r"^\s*(\d{1,2}(?:\.\d{1,2})?)\s*%?\s*[/ ]\s*(\d{1,3})\s*(?:days?)?\s*,?\s*"
    r"(?:(?:net|n)\s*/?\s*(\d{1,3}))?\s*$",
    re.IGNORECASE,
)


def discount_terms(terms: str) -> DiscountTerms | None:
    """The early-payment discount in an invoice's payment terms ("2/10 net
    30": 2 % off within 10 days, net in 30); None when the terms offer none
    ("Net 30", "")."""
    match = _DISCOUNT.match(terms or "")
    if match is None:
        return None
    percent = Decimal(match.group(1))
    if not Decimal(0) < percent < Decimal(100):
        return None
    net = int(match.group(3)) if match.group(3) else None
    return DiscountTerms(percent, int(match.group(2)), net)


@dataclass(frozen=True)
class DiscountOffer:
    percent: Decimal
    until: date
    amount: Decimal
    pay: Decimal
    currency: str


def discount_offer(
    terms: DiscountTerms, *, issue_date: date, open_amount: Decimal, currency: str, today: date
) -> DiscountOffer | None:
    """What the customer may deduct paying ``open_amount`` by the discount
    date (the invoice date + ``terms.days``); None once that date has
    passed or nothing is open."""
    until = issue_date + timedelta(days=terms.days)
    if today > until or open_amount <= 0:
        return None
    amount = percentage_fee(open_amount, terms.percent, currency)
    return DiscountOffer(terms.percent, until, amount, open_amount - amount, currency)
