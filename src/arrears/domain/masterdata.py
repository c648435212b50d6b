"""Validation of customer master data: countries, e-mail, phones, tax ids,
postal addresses and time zones.

Each function returns the normalised value or raises FieldError with a
reason a person can act on.
"""

from __future__ import annotations

import re
import zoneinfo
from datetime import date
from functools import cache
from typing import Any

import email_validator
import phonenumbers
import pycountry
from stdnum.exceptions import ValidationError as StdnumError
from stdnum.util import get_cc_module


class FieldError(ValueError):
    """A value that fails validation; the message is the reason."""


def country_code(text: str) -> str:
    code = text.strip()
    if len(code) != 2 or not code.isalpha() or not code.isupper():
        raise FieldError(f"{text!r} is not an ISO 3166-1 alpha-2 code (e.g. US, DE)")
    if pycountry.countries.get(alpha_2=code) is None:
        raise FieldError(f"{text!r} is not an ISO 3166-1 country code")
    return code


_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def iso_date(text: str) -> date:
    raw = text.strip()
    if not _ISO_DATE.fullmatch(raw):
        raise FieldError(f"{text!r} is not an ISO date (YYYY-MM-DD)")
    try:
        return date.fromisoformat(raw)
    except ValueError as exc:
        raise FieldError(f"{text!r} is not a valid date: {exc}") from None


def email_address(text: str) -> str:
    try:
        result = email_validator.validate_email(text.strip(), check_deliverability=False)
    except email_validator.EmailNotValidError as exc:
        raise FieldError(f"{text!r}: {exc}") from None
    return str(result.normalized)


def email_addresses(text: str) -> list[str]:
    """A ';'-separated list of addresses, normalised, duplicates dropped."""
    seen: dict[str, None] = {}
    for part in text.split(";"):
        if part.strip():
            seen.setdefault(email_address(part), None)
    return list(seen)


def phone_number(text: str, country: str) -> str:
    """E.164 form of a phone number, read with the customer's country."""
    try:
        number = phonenumbers.parse(text.strip(), country)
    except phonenumbers.NumberParseException as exc:
        raise FieldError(f"{text!r} is not a phone number: {exc}") from None
    if not phonenumbers.is_valid_number(number):
        raise FieldError(f"{text!r} is not a valid phone number for {country}")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


# Kinds of tax number tried per country, most specific first.
_TAX_ID_KINDS = ("vat", "tin", "ein", "gst", "abn", "bn", "cnpj", "rfc", "rut", "nit")


@cache
def _tax_id_modules(country: str) -> list[tuple[str, Any]]:
    """python-stdnum validators for a country's tax ids (looked up once)."""
    return [(kind, m) for kind in _TAX_ID_KINDS if (m := get_cc_module(country.lower(), kind))]


def tax_id(text: str, country: str) -> str:
    """A tax id checked with python-stdnum where the country has a validator.

    Countries without a validator keep the trimmed value unchecked.
    """
    raw = text.strip()
    modules = _tax_id_modules(country)
    if not modules:
        return raw
    reasons = []
    for kind, module in modules:
        try:
            return str(module.compact(module.validate(raw)))
        except StdnumError as exc:
            reasons.append(f"{kind}: {exc}")
    raise FieldError(f"{raw!r} is not a valid {country} tax id ({'; '.join(reasons)})")


def language_code(text: str) -> str:
    raw = text.strip()
    if (
        not re.fullmatch(r"[a-z]{2}(-[A-Z]{2})?", raw)
        or not pycountry.languages.get(alpha_2=raw[:2])
        or (len(raw) == 5 and pycountry.countries.get(alpha_2=raw[3:]) is None)
    ):
        raise FieldError(
            f"{text!r} is not a language code (ISO 639-1, optionally with an ISO 3166 "
            "region: en or en-GB)"
        )
    return raw


ADDRESS_SEPARATOR = " | "
ADDRESS_MAX_LINES = 8
ADDRESS_MAX_LINE_LENGTH = 60


def postal_address_lines(text: str) -> list[str]:
    """The lines of a postal address written as ``line | line | line``.

    Lines are trimmed; empty lines, more than ADDRESS_MAX_LINES lines, lines
    longer than ADDRESS_MAX_LINE_LENGTH characters and control characters
    (a line break inside a line included) are refused. A blank text gives
    no lines.
    """
    if not text.strip():
        return []
    lines = [part.strip() for part in text.split("|")]
    if len(lines) > ADDRESS_MAX_LINES:
        raise FieldError(
            f"has {len(lines)} lines; at most {ADDRESS_MAX_LINES} are allowed"
            f" (lines are separated by {ADDRESS_SEPARATOR!r})"
        )
    for number, line in enumerate(lines, start=1):
        if not line:
            raise FieldError(f"line {number} is empty (lines are separated by ' | ')")
        if len(line) > ADDRESS_MAX_LINE_LENGTH:
            raise FieldError(
                f"line {number} ({line[:20]!r}…) has {len(line)} characters;"
                f" at most {ADDRESS_MAX_LINE_LENGTH} are allowed"
            )
        if any(ord(ch) < 32 or 127 <= ord(ch) < 160 for ch in line):
            raise FieldError(
                f"line {number} ({line[:20]!r}) holds a line break or another control"
                " character; separate lines with ' | '"
            )
    return lines


def stored_address_lines(text: str) -> list[str]:
    """The lines of a stored address (newline-separated), trimmed, blank
    lines left out: an address typed into a form may hold some."""
    return [line.strip() for line in text.splitlines() if line.strip()]


# Keys the tz database ships that name no place: not useful for a customer.
_NOT_ZONES = frozenset({"Factory", "localtime", "posixrules"})


@cache
def _zone_keys() -> dict[str, str]:
    """IANA zone keys known to this system, by their lower-case spelling."""
    return {key.lower(): key for key in zoneinfo.available_timezones() - _NOT_ZONES}


def time_zone_name(text: str) -> str:
    """An IANA time zone key such as ``Europe/Berlin``, spelt exactly."""
    raw = text.strip()
    keys = _zone_keys()
    if keys.get(raw.lower()) == raw:
        return raw
    hint = (
        f"; did you mean {keys[raw.lower()]}?" if raw.lower() in keys else " (e.g. Europe/Berlin)"
    )
    raise FieldError(f"{text!r} is not an IANA time zone{hint}")
