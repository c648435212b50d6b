"""Master-data validators: each returns the normalised value or a FieldError."""

from __future__ import annotations

from datetime import date

import pytest

from arrears.domain.masterdata import (
    FieldError,
    country_code,
    email_address,
    email_addresses,
    iso_date,
    language_code,
    phone_number,
    postal_address_lines,
    stored_address_lines,
    tax_id,
    time_zone_name,
)


@pytest.mark.parametrize(("text", "expected"), [("US", "US"), ("DE", "DE"), (" GB ", "GB")])
def test_iso_alpha_2_country_codes_are_accepted(text: str, expected: str) -> None:
    assert country_code(text) == expected


@pytest.mark.parametrize("text", ["us", "USA", "UK", "XX", "EU", "D1", "", "276"])
def test_anything_but_an_upper_case_iso_alpha_2_country_is_refused(text: str) -> None:
    with pytest.raises(FieldError):
        country_code(text)


def test_iso_dates_parse() -> None:
    assert iso_date("2024-02-29") == date(2024, 2, 29)
    assert iso_date(" 2024-01-05 ") == date(2024, 1, 5)


@pytest.mark.parametrize(
    "text",
    [
        "2023-02-29",  # not a leap year
        "2024-13-01",
        "2024-1-5",
        "05/01/2024",
        "1/5/2024",
        "20240105",
        "2024-01-05T00:00",
        "\uff12\uff10\uff12\uff14-\uff10\uff11-\uff10\uff15",  # fullwidth digits
        "\u0662\u0660\u0662\u0664-\u0660\u0661-\u0660\u0665",  # Arabic-Indic digits
        "",
    ],
)
def test_anything_but_a_real_iso_date_is_refused(text: str) -> None:
    with pytest.raises(FieldError):
        iso_date(text)


def test_email_addresses_are_normalised_and_deduplicated() -> None:
    assert email_addresses(" ap@Example.COM ; billing@example.com;ap@example.com;") == [
        "ap@example.com",
        "billing@example.com",
    ]
    assert email_address("AP@example.com") == "AP@example.com"  # the local part keeps its case


def test_an_empty_email_list_is_no_addresses() -> None:
    assert email_addresses("") == []
    assert email_addresses(" ; ;") == []


@pytest.mark.parametrize(
    "text", ["not-an-email", "a@b", "ap@example.com, billing@example.com", "ap@@example.com"]
)
def test_a_bad_address_anywhere_in_the_list_is_refused(text: str) -> None:
    with pytest.raises(FieldError):
        email_addresses(f"ok@example.com;{text}")


@pytest.mark.parametrize(
    ("text", "country", "expected"),
    [
        ("(201) 555-0123", "US", "+12015550123"),
        ("+1 201-555-0123", "US", "+12015550123"),
        ("030 901820", "DE", "+4930901820"),
        ("+49 30 901820", "DE", "+4930901820"),
        ("020 7946 0958", "GB", "+442079460958"),
        ("01 42 68 53 00", "FR", "+33142685300"),
        # An international number is read as written, whatever the country.
        ("+49 30 901820", "US", "+4930901820"),
    ],
)
def test_phone_numbers_are_read_with_the_country_and_given_in_e164(
    text: str, country: str, expected: str
) -> None:
    assert phone_number(text, country) == expected


@pytest.mark.parametrize(
    ("text", "country"),
    [
        ("555-0100", "US"),  # no area code
        ("020 7946 0958", "US"),  # a London number without +44
        ("0201 5550123", "FR"),
        ("12345", "GB"),
        ("abc", "US"),
        ("+999 1234", "US"),
    ],
)
def test_phone_numbers_that_are_not_valid_for_the_country_are_refused(
    text: str, country: str
) -> None:
    with pytest.raises(FieldError):
        phone_number(text, country)


@pytest.mark.parametrize(
    ("text", "country", "expected"),
    [
        ("DE136695976", "DE", "136695976"),
        ("136695976", "DE", "136695976"),
        ("FR 40 303 265 045", "FR", "40303265045"),
        ("GB 980 7806 84", "GB", "980780684"),
        ("04-2103594", "US", "042103594"),  # EIN
        ("536-90-4399", "US", "536904399"),  # SSN as a TIN
        ("NL004495445B01", "NL", "004495445B01"),
        ("CHE-107.787.577 IVA", "CH", "CHE107787577IVA"),
    ],
)
def test_valid_tax_ids_are_accepted_in_compact_form(text: str, country: str, expected: str) -> None:
    assert tax_id(text, country) == expected


@pytest.mark.parametrize(
    ("text", "country"),
    [
        ("DE136695978", "DE"),  # wrong check digit
        ("123", "DE"),  # wrong length
        ("FR 84 323 140 391", "FR"),
        ("GB 802311781", "GB"),
        ("00-2103594", "US"),  # no such EIN prefix
        ("NL004495446B01", "NL"),
        ("FR40303265045", "DE"),  # a French number for a German customer
    ],
)
def test_invalid_tax_ids_for_the_country_are_refused(text: str, country: str) -> None:
    with pytest.raises(FieldError, match=f"not a valid {country} tax id"):
        tax_id(text, country)


def test_tax_ids_of_countries_without_a_validator_are_kept_as_given() -> None:
    assert tax_id("  AQ-0001  ", "AQ") == "AQ-0001"


@pytest.mark.parametrize("text", ["en", "de", "en-GB", "fr-CA"])
def test_iso_639_1_languages_with_optional_region_are_accepted(text: str) -> None:
    assert language_code(text) == text


@pytest.mark.parametrize(
    "text", ["EN", "eng", "xx", "en-gb", "en_GB", "english", "", "en-ZZ", "fr-XX", "en-GBR"]
)
def test_other_language_codes_are_refused(text: str) -> None:
    with pytest.raises(FieldError):
        language_code(text)


@pytest.mark.parametrize(
    ("text", "lines"),
    [
        ("Hauptstr. 5 | 10115 Berlin | Germany", ["Hauptstr. 5", "10115 Berlin", "Germany"]),
        ("  PO Box 7|Springfield, IL 62704  ", ["PO Box 7", "Springfield, IL 62704"]),
        ("One line", ["One line"]),
        (" | ".join(f"line {n}" for n in range(8)), [f"line {n}" for n in range(8)]),
        ("x" * 60, ["x" * 60]),
        (
            "Rue de l\u2019\u00c9glise 3 | 75001 Paris",
            ["Rue de l\u2019\u00c9glise 3", "75001 Paris"],
        ),
        ("", []),
        ("   ", []),
    ],
)
def test_postal_addresses_are_lines_separated_by_a_bar(text: str, lines: list[str]) -> None:
    assert postal_address_lines(text) == lines


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("a | | b", "line 2 is empty"),
        ("| a", "line 1 is empty"),
        ("a |", "line 2 is empty"),
        (" | ".join("x" * 9), "has 9 lines; at most 8 are allowed"),
        ("a | " + "y" * 61, "line 2 ('yyyyyyyyyyyyyyyyyyyy'\u2026) has 61 characters; at most 60"),
        ("a\nb", "line 1 ('a\\nb') holds a line break"),
        ("a\tb | c", "holds a line break or another control character"),
    ],
)
def test_bad_postal_addresses_are_refused_naming_the_line(text: str, reason: str) -> None:
    with pytest.raises(FieldError) as caught:
        postal_address_lines(text)
    assert reason in str(caught.value)


def test_stored_addresses_read_as_trimmed_non_blank_lines() -> None:
    assert stored_address_lines("1 Main St \r\n\r\n  Springfield\n") == ["1 Main St", "Springfield"]
    assert stored_address_lines("") == []


@pytest.mark.parametrize(
    "text", ["Europe/Berlin", "America/Argentina/Buenos_Aires", "UTC", " Asia/Tokyo "]
)
def test_iana_time_zones_are_accepted(text: str) -> None:
    assert time_zone_name(text) == text.strip()


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("Europe/Berlln", "'Europe/Berlln' is not an IANA time zone (e.g. Europe/Berlin)"),
        ("europe/berlin", "'europe/berlin' is not an IANA time zone; did you mean Europe/Berlin?"),
        ("CEST", "'CEST' is not an IANA time zone"),
        ("+01:00", "'+01:00' is not an IANA time zone"),
        ("../../etc/passwd", "is not an IANA time zone"),
        ("localtime", "is not an IANA time zone"),
        ("Factory", "is not an IANA time zone"),
    ],
)
def test_anything_but_an_iana_time_zone_is_refused_naming_the_value(text: str, reason: str) -> None:
    with pytest.raises(FieldError) as caught:
        time_zone_name(text)
    assert reason in str(caught.value)
