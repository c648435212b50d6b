"""Generated demo data, loaded through the real CSV importers.

``demo_rows`` invents a realistic receivables ledger: customers with
different payment behaviours (prompt, slow, chronically late, short-paying,
new), two years of invoices, payments, credit notes, partial payments and a
few overpayments. It is deterministic: the same seed and the same ``today``
give the same rows, and every date is relative to ``today`` so the figures
look current whenever the demo is started.

``demo_files_write`` writes the contract's four CSV files and
``demo_files_load`` imports them with ``rows_import``, so the demo exercises
the same validation and allocation path as a customer's own files.

Customers have a postal address in their country's usual layout (streets
and numbers invented, towns and postcodes real), drawn from a generator of
their own so that adding it left every other demo value as it was.

Phone numbers use ranges reserved for fiction where the country has them
(US 555-01xx, UK Ofcom drama numbers, French and German fiction ranges), and
e-mail domains end in the reserved ``.example`` top-level domain, so nothing
the demo sends can reach a real person.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import math
import random
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import TypeVar

from stdnum.util import get_cc_module

from arrears.domain.masterdata import ADDRESS_SEPARATOR, FieldError, phone_number, tax_id

from .csvfiles import KEPT_WHEN_ABSENT, read_rows, write_rows
from .importers import ImportSummary, rows_import
from .models import ImportRun

DEFAULT_SEED = 20_240_601
DEFAULT_CUSTOMERS = 300
HISTORY_DAYS = 730
DEMO_ACTOR = "arrears demo"
# Import order: credit notes before payments, so a payment that ignores a
# credit note already issued shows up as unapplied cash (an overpayment).
LOAD_ORDER = ("customers", "invoices", "credit-notes", "payments")

CENT = Decimal("0.01")
T = TypeVar("T")
DemoRows = dict[str, list[dict[str, str]]]


@dataclass(frozen=True)
class _Region:
    country: str
    currency: str
    language: str
    weight: int
    suffixes: tuple[str, ...]
    local_mailboxes: tuple[str, ...]
    # Fictional phone ranges: (prefix, number of random digits that follow).
    phones: tuple[tuple[str, int], ...]
    # Tax id pattern: d = random digit, c = check digit found by trial, L = check letter.
    tax_pattern: str


_REGIONS = (
    _Region(
        "US",
        "USD",
        "en",
        30,
        ("Inc.", "LLC", "Corp.", "Co."),
        ("accountspayable", "ap"),
        tuple((f"{area} 555 01", 2) for area in ("212", "312", "415", "617", "713", "404")),
        "dd-ddddddd",
    ),
    _Region(
        "GB",
        "GBP",
        "en-GB",
        18,
        ("Ltd", "PLC", "Ltd"),
        ("purchase.ledger", "accounts"),
        (("020 7946 0", 3), ("0161 496 0", 3), ("0113 496 0", 3), ("0121 496 0", 3)),
        "GBdddddddcc",
    ),
    _Region(
        "DE",
        "EUR",
        "de",
        14,
        ("GmbH", "AG", "GmbH & Co. KG"),
        ("buchhaltung", "kreditoren"),
        (("030 23125 ", 3), ("069 90009 ", 3), ("040 66969 ", 3), ("089 99998 ", 3)),
        "DEddddddddc",
    ),
    _Region(
        "FR",
        "EUR",
        "fr",
        10,
        ("SAS", "SARL", "SA"),
        ("comptabilite", "fournisseurs"),
        (("01 99 00 ", 4), ("02 61 91 ", 4), ("04 65 71 ", 4)),
        "FRccddddddddc",
    ),
    _Region(
        "NL",
        "EUR",
        "nl",
        9,
        ("B.V.", "N.V."),
        ("crediteuren", "administratie"),
        (("020 ", 7), ("010 ", 7), ("030 ", 7)),
        "NLddddddddcB01",
    ),
    _Region(
        "IE",
        "EUR",
        "en",
        7,
        ("Ltd", "DAC"),
        ("accounts", "creditors"),
        (("01 ", 7), ("021 ", 7)),
        "IEdddddddL",
    ),
    _Region(
        "ES",
        "EUR",
        "es",
        7,
        ("S.L.", "S.A."),
        ("contabilidad", "proveedores"),
        (("91 ", 7), ("93 ", 7)),
        "ESBdddddddc",
    ),
)

_NAME_FIRST = (
    "Alder",
    "Atlas",
    "Beacon",
    "Bluebird",
    "Brightwater",
    "Cedar",
    "Copperfield",
    "Crescent",
    "Delta",
    "Evergreen",
    "Falcon",
    "Fjord",
    "Granite",
    "Harbor",
    "Highland",
    "Ironwood",
    "Juniper",
    "Keystone",
    "Lakeside",
    "Linden",
    "Maple",
    "Meridian",
    "Northwind",
    "Oakridge",
    "Orion",
    "Pinnacle",
    "Pioneer",
    "Quarry",
    "Redwood",
    "Riverside",
    "Sterling",
    "Summit",
    "Tidewater",
    "Union",
    "Vanguard",
    "Westbrook",
    "Willow",
    "Zenith",
)
_NAME_SECOND = (
    "Automotive",
    "Builders",
    "Chemicals",
    "Components",
    "Electrical",
    "Engineering",
    "Farms",
    "Foods",
    "Furniture",
    "Hardware",
    "Instruments",
    "Logistics",
    "Marine",
    "Medical",
    "Office Supply",
    "Packaging",
    "Pharma",
    "Plastics",
    "Printing",
    "Software",
    "Textiles",
    "Tools",
)
_PEOPLE = (
    "anna.schmidt",
    "c.martin",
    "david.oconnor",
    "e.garcia",
    "j.smith",
    "laura.bianchi",
    "m.jansen",
    "p.dubois",
    "r.patel",
    "s.murphy",
    "t.nguyen",
    "y.kowalski",
)
# Street names, street kinds, (town, postcode pattern: {d} a digit) and the
# lines of the address: {n} house number, {street}, {kind}, {unit}, {town},
# {postcode}.
_AddressStyle = tuple[tuple[str, ...], tuple[str, ...], tuple[tuple[str, str], ...], str]
_ADDRESS_BOOK: dict[str, _AddressStyle] = {
    "US": (
        ("Maple", "Oak", "Lakeview", "Washington", "Commerce", "Industrial", "Harbor"),
        ("Street", "Avenue", "Boulevard", "Drive"),
        (("Chicago, IL", "606{d}{d}"), ("Austin, TX", "787{d}{d}"), ("Columbus, OH", "432{d}{d}"),
         ("Denver, CO", "802{d}{d}"), ("Atlanta, GA", "303{d}{d}")),
        "{n} {street} {kind}{unit} | {town} {postcode} | United States",
    ),
    "GB": (
        ("Station", "Church", "Mill", "Victoria", "Albert", "Bridge"),
        ("Road", "Street", "Lane", "Way"),
        (("Manchester", "M1 {d}AB"), ("Leeds", "LS1 {d}QT"), ("Bristol", "BS1 {d}HL"),
         ("London", "EC1V {d}NX")),
        "{n} {street} {kind} | {town} | {postcode} | United Kingdom",
    ),
    "DE": (
        ("Haupt", "Bahnhof", "Industrie", "Linden", "Schiller", "Garten"),
        ("straße", "weg", "allee"),
        (("Berlin", "101{d}{d}"), ("Hamburg", "203{d}{d}"), ("München", "803{d}{d}"),
         ("Köln", "506{d}{d}"), ("Frankfurt am Main", "603{d}{d}")),
        "{street}{kind} {n} | {postcode} {town} | Germany",
    ),
    "FR": (
        ("de la République", "Victor Hugo", "des Lilas", "du Commerce", "Pasteur"),
        ("rue", "avenue", "boulevard"),
        (("Paris", "750{d}{d}"), ("Lyon", "6900{d}"), ("Lille", "5900{d}"),
         ("Bordeaux", "3300{d}")),
        "{n} {kind} {street} | {postcode} {town} | France",
    ),
    "NL": (
        ("Kerk", "Molen", "Dorps", "Industrie", "Stations"),
        ("straat", "weg", "laan"),
        (("Amsterdam", "10{d}{d} AB"), ("Rotterdam", "30{d}{d} KL"), ("Utrecht", "35{d}{d} CD"),
         ("Eindhoven", "56{d}{d} EN")),
        "{street}{kind} {n} | {postcode} {town} | Netherlands",
    ),
    "IE": (
        ("Main", "Church", "Bridge", "Castle", "Harbour"),
        ("Street", "Road", "Quay"),
        (("Dublin 2", "D02 X{d}{d}5"), ("Cork", "T12 K{d}{d}8"), ("Galway", "H91 E{d}{d}2")),
        "{n} {street} {kind} | {town} | {postcode} | Ireland",
    ),
    "ES": (
        ("Mayor", "de Alcalá", "del Sol", "de la Industria", "Real"),
        ("Calle", "Avenida", "Paseo"),
        (("Madrid", "280{d}{d}"), ("Barcelona", "080{d}{d}"), ("Valencia", "460{d}{d}"),
         ("Sevilla", "410{d}{d}")),
        "{kind} {street}, {n} | {postcode} {town} | Spain",
    ),
}  # fmt: skip
_TERMS = (("Net 30", 30, 60), ("Net 15", 15, 12), ("Net 45", 45, 14), ("Net 60", 60, 10))


@dataclass(frozen=True)
class _Behaviour:
    """How a kind of customer pays: days late (mean, spread, clip range) and habits."""

    name: str
    weight: int
    late_mean: float
    late_spread: float
    late_min: int
    late_max: int
    never_pays: float = 0.0  # share of invoices left unpaid for good
    short_pays: float = 0.0  # share of invoices paid short (a deduction stays open)
    instalments: float = 0.0  # share of invoices paid in two parts


_BEHAVIOURS = (
    _Behaviour("prompt", 38, -2, 4, -12, 8),
    _Behaviour("slow", 25, 18, 9, 0, 50, instalments=0.04),
    _Behaviour("chronic", 12, 65, 30, 10, 180, never_pays=0.15, instalments=0.08),
    _Behaviour("short_payer", 10, 25, 12, 0, 70, never_pays=0.05, short_pays=0.3),
    _Behaviour("new", 15, 8, 14, -10, 60, instalments=0.02),
)


@dataclass
class _Invoice:
    customer_ref: str
    issue: date
    due: date
    amount: Decimal
    currency: str
    order_ref: str
    terms: str
    ref: str = ""
    # What the generator expects to stay open once everything is imported.
    open: Decimal = Decimal(0)


@dataclass(frozen=True)
class _Payment:
    received: date
    customer_ref: str
    currency: str
    amount: Decimal
    invoice: _Invoice | None  # None: no remittance reference


@dataclass
class _Ledger:
    customers: list[dict[str, str]] = field(default_factory=list)
    invoices: list[_Invoice] = field(default_factory=list)
    payments: list[_Payment] = field(default_factory=list)
    on_account: list[_Payment] = field(default_factory=list)
    # (issue date, invoice, amount)
    credit_notes: list[tuple[date, _Invoice, Decimal]] = field(default_factory=list)
    unapplied: dict[str, Decimal] = field(default_factory=dict)

    def pay(self, payment: _Payment) -> None:
        """Record a payment that names its invoice, as the importer will apply it."""
        assert payment.invoice is not None
        applied = min(payment.amount, max(payment.invoice.open, Decimal(0)))
        payment.invoice.open -= applied
        if payment.amount > applied:
            self.unapplied[payment.currency] = (
                self.unapplied.get(payment.currency, Decimal(0)) + payment.amount - applied
            )
        self.payments.append(payment)


@dataclass(frozen=True)
class DemoData:
    """The demo's rows, and what the ledger should hold once they are imported."""

    rows: DemoRows
    # invoice_ref -> amount still open today
    expected_open: dict[str, Decimal]
    # currency -> payments received but not applied (overpayments)
    expected_unapplied: dict[str, Decimal]


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def _money(value: float) -> Decimal:
    return Decimal(str(value)).quantize(CENT)


def _text(amount: Decimal) -> str:
    return str(amount.quantize(CENT))


def _phone(rng: random.Random, region: _Region) -> str:
    for _ in range(100):
        prefix, digits = rng.choice(region.phones)
        text = prefix + "".join(str(rng.randrange(10)) for _ in range(digits))
        try:
            phone_number(text, region.country)
        except FieldError:
            continue
        return text
    raise AssertionError(f"no valid demo phone number for {region.country}")


@functools.cache
def _tax_validators(country: str) -> tuple[Callable[[str], bool], ...]:
    return tuple(
        module.is_valid
        for kind in ("vat", "tin", "ein")
        if (module := get_cc_module(country.lower(), kind))
    )


def _tax_id(rng: random.Random, region: _Region) -> str:
    """A tax id that passes python-stdnum: random digits, check characters by trial.

    The trial uses the validators directly (looking them up per call is slow);
    the result is then checked once the way the importer checks it.
    """
    letters = "ABCDEFGHIJKLMNOPQRSTUVW"
    validators = _tax_validators(region.country)
    for _ in range(50):
        base = [str(rng.randrange(10)) if ch == "d" else ch for ch in region.tax_pattern]
        slots = [i for i, ch in enumerate(base) if ch in "cL"]
        choices = ["0123456789" if base[i] == "c" else letters for i in slots]
        for combo in itertools.product(*choices):
            for i, ch in zip(slots, combo, strict=True):
                base[i] = ch
            text = "".join(base)
            if any(valid(text) for valid in validators):
                tax_id(text, region.country)
                return text
    raise AssertionError(f"no valid demo tax id for {region.country}")


def _postal_address(row: dict[str, str]) -> str:
    """A plausible address for a demo customer, as the file writes it.

    Drawn from a generator seeded with the customer's ref and name, not
    from the demo's own: the rest of the demo stays as it was.
    """
    rng = random.Random(f"address {row['customer_ref']} {row['name']}")
    streets, kinds, towns, layout = _ADDRESS_BOOK[row["country"]]
    town, postcode = rng.choice(towns)
    unit = rng.choice(("", "", "", f", Suite {rng.randint(100, 900)}"))  # US only
    values = {
        "n": rng.randint(1, 240),
        "street": rng.choice(streets),
        "kind": rng.choice(kinds),
        "unit": unit,
        "town": town,
        "postcode": re.sub("{d}", lambda _: str(rng.randrange(10)), postcode),
    }
    return ADDRESS_SEPARATOR.join(line.format(**values) for line in layout.split(" | "))


def _weighted(rng: random.Random, options: tuple[T, ...], weights: list[int]) -> T:
    return rng.choices(options, weights=weights)[0]


def _late_days(rng: random.Random, b: _Behaviour) -> int:
    return max(b.late_min, min(b.late_max, round(rng.gauss(b.late_mean, b.late_spread))))


def _customer(
    rng: random.Random, number: int, today: date, used_names: set[str]
) -> tuple[dict[str, str], _Region, _Behaviour]:
    region = _weighted(rng, _REGIONS, [r.weight for r in _REGIONS])
    behaviour = _weighted(rng, _BEHAVIOURS, [b.weight for b in _BEHAVIOURS])
    while True:
        stem = f"{rng.choice(_NAME_FIRST)} {rng.choice(_NAME_SECOND)}"
        if stem not in used_names:
            break
        stem = f"{stem} {rng.choice(('Group', 'Partners', 'International', 'Services'))}"
        if stem not in used_names:
            break
    used_names.add(stem)
    name = f"{stem} {rng.choice(region.suffixes)}"
    domain = f"{_slug(stem)}.example"
    mailboxes = [rng.choice(("ap", "accounts.payable", "invoices", *region.local_mailboxes))]
    if rng.random() < 0.25:
        mailboxes.append(rng.choice(_PEOPLE))
    # A few customers have no e-mail address at all: phone and letters only.
    emails = "" if rng.random() < 0.04 else ";".join(f"{m}@{domain}" for m in mailboxes)
    if behaviour.name == "new":
        since = today - timedelta(days=rng.randint(20, 110))
    elif rng.random() < 0.25:
        since = today - timedelta(days=rng.randint(180, HISTORY_DAYS))
    else:
        since = today - timedelta(days=rng.randint(HISTORY_DAYS, HISTORY_DAYS + 4000))
    channel = "email" if emails else rng.choice(("call", "letter"))
    if emails and rng.random() < 0.12:
        channel = rng.choice(("call", "call", "letter"))
    automation = "auto"
    roll = rng.random()
    if roll < 0.035:
        automation = "white_glove"
    elif roll < 0.06:
        automation = "paused"
    row = {
        "customer_ref": f"C{10000 + number}",
        "name": name,
        "email": emails,
        "phone": _phone(rng, region),
        "country": region.country,
        "tax_id": _tax_id(rng, region) if rng.random() < 0.7 else "",
        "currency": region.currency,
        "credit_limit": "",
        "preferred_channel": channel,
        "automation": automation,
        "language": region.language,
        "customer_since": since.isoformat(),
    }
    row["postal_address"] = _postal_address(row)
    return row, region, behaviour


def _invoices(rng: random.Random, row: dict[str, str], today: date) -> list[_Invoice]:
    start = max(today - timedelta(days=HISTORY_DAYS), date.fromisoformat(row["customer_since"]))
    per_month = rng.choice((0.25, 0.5, 0.75, 1, 1, 1, 1.5, 2, 2.5))
    typical = math.exp(rng.gauss(math.log(3500), 0.9))
    label, term_days, _ = _weighted(rng, _TERMS, [t[2] for t in _TERMS])
    uses_po = rng.random() < 0.6
    po = rng.randint(1000, 9000)
    credit_limit = typical * per_month * 3
    if rng.random() < 0.8:
        magnitude = 10 ** max(3, int(math.log10(credit_limit)))
        row["credit_limit"] = str(max(1, round(credit_limit / magnitude)) * magnitude)
    made = []
    day = start + timedelta(days=rng.randint(0, 20))
    while day <= today:
        amount = max(Decimal(50), _money(typical * math.exp(rng.gauss(0, 0.5))))
        if rng.random() < 0.15:
            amount = max(Decimal(100), amount.quantize(Decimal(100)))
        po += rng.randint(1, 9)
        made.append(
            _Invoice(
                customer_ref=row["customer_ref"],
                issue=day,
                due=day + timedelta(days=term_days),
                amount=amount,
                currency=row["currency"],
                order_ref=f"PO-{po}" if uses_po else "",
                terms=label,
                open=amount,
            )
        )
        day += timedelta(days=max(1, round(rng.expovariate(per_month / 30.4))))
    return made


def _credit(rng: random.Random, invoice: _Invoice, latest: date, ledger: _Ledger) -> Decimal:
    """Maybe issue a credit note (price adjustment, return, cancellation)."""
    span = (latest - invoice.issue).days
    if span < 1 or rng.random() > 0.035:
        return Decimal(0)
    when = invoice.issue + timedelta(days=rng.randint(1, span))
    full = rng.random() < 0.12
    amount = invoice.amount if full else _money(float(invoice.amount) * rng.uniform(0.05, 0.3))
    ledger.credit_notes.append((when, invoice, amount))
    invoice.open -= amount
    return amount


def _payment_runs(
    rng: random.Random, invoices: list[_Invoice], b: _Behaviour, today: date, ledger: _Ledger
) -> None:
    """A customer whose AP department pays in runs, without naming invoices.

    Each run pays every open invoice due on or before a threshold, so what
    it pays is exactly what the importer's oldest-due-first rule settles.
    The threshold stays within 7 days after the run and terms are at least
    15 days, so a run never pays an invoice issued after it.
    """
    if not invoices:
        return
    late = rng.randint(-7, 2) if b.name == "prompt" else rng.randint(8, 35)
    cadence = rng.choice((7, 14, 14, 30))
    for invoice in invoices:
        _credit(rng, invoice, min(invoice.issue + timedelta(days=7), today), ledger)
    pending = sorted(invoices, key=lambda i: (i.due, i.issue))
    run = invoices[0].issue + timedelta(days=rng.randint(1, cadence))
    while run <= today and pending:
        threshold = run - timedelta(days=late)
        count = next((n for n, i in enumerate(pending) if i.due > threshold), len(pending))
        batch, pending = pending[:count], pending[count:]
        amount = sum((i.open for i in batch), Decimal(0))
        if amount > 0:
            received = min(today, run + timedelta(days=rng.randint(0, 2)))
            ledger.payments.append(
                _Payment(received, batch[0].customer_ref, batch[0].currency, amount, None)
            )
            for invoice in batch:
                invoice.open = Decimal(0)
        run += timedelta(days=cadence)


def _remittances(
    rng: random.Random, invoices: list[_Invoice], b: _Behaviour, today: date, ledger: _Ledger
) -> None:
    """A customer who pays invoice by invoice, naming each one.

    Every credit note is decided before the payments, as the demo imports
    credit notes first; so ``ledger.pay`` sees what the importer will see.
    """
    for invoice in invoices:
        ref, currency = invoice.customer_ref, invoice.currency
        paid_on = invoice.due + timedelta(days=_late_days(rng, b))
        paid_on = max(paid_on, invoice.issue + timedelta(days=1))
        if rng.random() < b.never_pays:
            # Stalled: paid months later, if by today at all.
            paid_on += timedelta(days=rng.randint(90, 400))
        credited = _credit(rng, invoice, min(paid_on, today), ledger)
        to_pay = invoice.amount - credited
        if to_pay <= 0 or paid_on > today:
            continue
        later: list[_Payment] = []
        if credited and rng.random() < 0.08:
            to_pay = invoice.amount  # paid the original amount, ignoring the credit note
        elif rng.random() < b.short_pays:
            # A deduction: settled weeks later by a credit note or a payment.
            short = _money(float(to_pay) * rng.uniform(0.85, 0.97))
            settled_on = paid_on + timedelta(days=rng.randint(60, 240))
            if settled_on <= today and rng.random() < 0.6:
                ledger.credit_notes.append((settled_on, invoice, to_pay - short))
                invoice.open -= to_pay - short
            elif settled_on <= today:
                later.append(_Payment(settled_on, ref, currency, to_pay - short, invoice))
            to_pay = short
        elif rng.random() < b.instalments and to_pay > 200:
            second = to_pay - _money(float(to_pay) * rng.uniform(0.3, 0.6))
            second_on = paid_on + timedelta(days=rng.randint(20, 120))
            if second_on <= today:
                later.append(_Payment(second_on, ref, currency, second, invoice))
            to_pay -= second
        elif rng.random() < 0.002 and paid_on + timedelta(days=3) <= today:
            # A duplicate payment: all of it stays unapplied.
            later.append(_Payment(paid_on + timedelta(days=3), ref, currency, to_pay, invoice))
        for payment in [_Payment(paid_on, ref, currency, to_pay, invoice), *later]:
            ledger.pay(payment)


def _on_account(rng: random.Random, ledger: _Ledger, chronic: list[str], today: date) -> None:
    """Round sums paid "on account" by some late payers, without an invoice.

    They are imported last, so the importer applies them oldest due first to
    what is open today; the generator does the same to know the outcome.
    """
    open_items: dict[str, list[_Invoice]] = {}
    for invoice in ledger.invoices:
        if invoice.open > 0:
            open_items.setdefault(invoice.customer_ref, []).append(invoice)
    for customer_ref in chronic:
        items = sorted(open_items.get(customer_ref, []), key=lambda i: (i.due, i.issue, i.ref))
        total = sum((i.open for i in items), Decimal(0))
        amount = Decimal(int(total * Decimal(str(rng.uniform(0.3, 0.7))) / 500) * 500)
        if rng.random() > 0.5 or amount < 500:
            continue
        received = today - timedelta(days=rng.randint(1, 30))
        ledger.on_account.append(_Payment(received, customer_ref, items[0].currency, amount, None))
        for invoice in items:
            applied = min(amount, invoice.open)
            invoice.open -= applied
            amount -= applied


def demo_data(
    *, today: date, customers: int = DEFAULT_CUSTOMERS, seed: int = DEFAULT_SEED
) -> DemoData:
    """A demo ledger as it stands on ``today``: the four contract files' rows.

    Deterministic: the same arguments always give the same rows.
    """
    rng = random.Random(seed)
    ledger = _Ledger()
    used_names: set[str] = set()
    chronic = []
    for number in range(1, customers + 1):
        row, _region, behaviour = _customer(rng, number, today, used_names)
        ledger.customers.append(row)
        invoices = _invoices(rng, row, today)
        ledger.invoices.extend(invoices)
        if behaviour.name in {"prompt", "slow"} and rng.random() < 0.75:
            _payment_runs(rng, invoices, behaviour, today, ledger)
        else:
            _remittances(rng, invoices, behaviour, today, ledger)
        if behaviour.name == "chronic":
            chronic.append(row["customer_ref"])
    _number(ledger)
    _on_account(rng, ledger, chronic, today)
    return DemoData(
        rows=_rows(ledger),
        expected_open={i.ref: max(i.open, Decimal(0)) for i in ledger.invoices},
        expected_unapplied={c: v for c, v in sorted(ledger.unapplied.items()) if v},
    )


def demo_rows(
    *, today: date, customers: int = DEFAULT_CUSTOMERS, seed: int = DEFAULT_SEED
) -> DemoRows:
    """The rows of ``demo_data``."""
    return demo_data(today=today, customers=customers, seed=seed).rows


def _number(ledger: _Ledger) -> None:
    """Give invoices chronological refs."""
    ledger.invoices.sort(key=lambda i: (i.issue, i.customer_ref, i.amount))
    for n, invoice in enumerate(ledger.invoices, 1):
        invoice.ref = f"INV-{n:06d}"


def _rows(ledger: _Ledger) -> DemoRows:
    invoices = [
        {
            "invoice_ref": i.ref,
            "customer_ref": i.customer_ref,
            "issue_date": i.issue.isoformat(),
            "due_date": i.due.isoformat(),
            "amount": _text(i.amount),
            "currency": i.currency,
            "order_ref": i.order_ref,
            "terms": i.terms,
        }
        for i in ledger.invoices
    ]
    ledger.credit_notes.sort(key=lambda c: (c[0], c[1].ref))
    credit_notes = [
        {
            "credit_note_ref": f"CN-{n:05d}",
            "customer_ref": invoice.customer_ref,
            "issue_date": when.isoformat(),
            "amount": _text(amount),
            "currency": invoice.currency,
            "invoice_ref": invoice.ref,
        }
        for n, (when, invoice, amount) in enumerate(ledger.credit_notes, 1)
    ]
    # Payments in the order they were received. The generator's payment runs
    # and remittances touch only their own customer's invoices, so this order
    # gives the importer the outcome the generator worked out. Payments on
    # account come last, so they meet the ledger as it stands today.
    ledger.payments.sort(key=lambda p: (p.received, p.customer_ref))
    ledger.on_account.sort(key=lambda p: (p.received, p.customer_ref))
    payments = [
        {
            "payment_ref": f"PAY-{n:06d}",
            "customer_ref": p.customer_ref,
            "received_on": p.received.isoformat(),
            "amount": _text(p.amount),
            "currency": p.currency,
            "invoice_ref": p.invoice.ref if p.invoice else "",
        }
        for n, p in enumerate([*ledger.payments, *ledger.on_account], 1)
    ]
    return {
        "customers": ledger.customers,
        "invoices": invoices,
        "credit-notes": credit_notes,
        "payments": payments,
    }


def demo_files_write(directory: Path, rows: DemoRows) -> dict[str, Path]:
    """Write the demo rows as the contract's CSV files; returns kind -> path."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = {}
    for kind in LOAD_ORDER:
        path = directory / f"{kind}.csv"
        # Columns kept when absent that the demo does not fill (time zones,
        # collectors) are left out, so loading the files never clears them.
        filled = {column for row in rows[kind] for column, value in row.items() if value}
        leave_out = set(KEPT_WHEN_ABSENT.get(kind, ())) - filled
        with path.open("w", encoding="utf-8", newline="") as out:
            write_rows(out, kind, iter(rows[kind]), leave_out=leave_out)
        paths[kind] = path
    return paths


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def demo_files_load(
    paths: Mapping[str, Path],
    *,
    on_progress: Callable[[str, int, int], None] | None = None,
) -> dict[str, ImportSummary]:
    """Import the demo files through the CSV importers, in dependency order.

    ``on_progress(kind, bytes_read, bytes_total)`` is told how far each file
    has got. Raises ImportRejected or FileRejected like any import.
    """
    summaries = {}
    for kind in LOAD_ORDER:
        path = paths[kind]
        size = path.stat().st_size

        def report(done: int, kind: str = kind, size: int = size) -> None:
            if on_progress is not None:
                on_progress(kind, done, size)

        summaries[kind] = rows_import(
            kind,
            read_rows(path, kind, on_bytes=report),
            actor_label=DEMO_ACTOR,
            source=str(path),
            sha256=_sha256(path),
        )
    return summaries


def demo_loaded() -> bool:
    """True when the demo's files were imported into this database."""
    return ImportRun.objects.filter(actor_label=DEMO_ACTOR).exists()
