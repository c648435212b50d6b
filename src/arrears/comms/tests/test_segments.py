"""Text length: GSM-7 and UCS-2 segments, and fitting typography to GSM-7.
Pure functions, no database."""

from __future__ import annotations

import math
import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from arrears.comms.sms import GSM7_BASIC, GSM7_EXTENSION, sms_fit, sms_segments

GSM_TEXT = st.text(alphabet=sorted(GSM7_BASIC), max_size=800)
ANY_GSM_TEXT = st.text(alphabet=sorted(GSM7_BASIC | GSM7_EXTENSION), max_size=800)


def test_the_gsm_alphabet_is_the_127_characters_of_03_38_and_ten_extensions() -> None:
    assert len(GSM7_BASIC) == 127
    assert "\x1b" not in GSM7_BASIC
    assert set("\f^{}\\[~]|\u20ac") == GSM7_EXTENSION
    greek = {c for c in GSM7_BASIC if unicodedata.name(c, "").startswith("GREEK CAPITAL LETTER")}
    assert len(greek) == 10


@pytest.mark.parametrize(
    ("text", "encoding", "segments", "characters"),
    [
        ("", "GSM-7", 1, 0),
        ("a" * 160, "GSM-7", 1, 160),
        ("a" * 161, "GSM-7", 2, 161),
        ("a" * 306, "GSM-7", 2, 306),
        ("a" * 307, "GSM-7", 3, 307),
        ("a" * 459, "GSM-7", 3, 459),
        ("a" * 460, "GSM-7", 4, 460),
        # Extension characters take two septets.
        ("\u20ac" * 80, "GSM-7", 1, 160),
        ("\u20ac" + "a" * 159, "GSM-7", 2, 161),
        ("{}[]", "GSM-7", 1, 8),
        # An escape pair is never cut: the first part ends one septet short.
        ("a" * 152 + "\u20ac" + "a" * 152, "GSM-7", 3, 306),
        ("\u00c4rger \u00fcber \u00a3, \u00a5 & \u00a7", "GSM-7", 1, 19),
        ("\u0416" * 70, "UCS-2", 1, 70),
        ("\u0416" * 71, "UCS-2", 2, 71),
        ("\u0416" * 134, "UCS-2", 2, 134),
        ("\u0416" * 135, "UCS-2", 3, 135),
        # One character outside GSM-7 makes the whole text UCS-2.
        ("a" * 70 + "\u00e7", "UCS-2", 2, 71),
        # Emoji are two UTF-16 code units.
        ("\U0001f600" * 35, "UCS-2", 1, 70),
        ("\U0001f600" * 36, "UCS-2", 2, 72),
        # A surrogate pair is never cut either.
        ("\u0416" * 66 + "\U0001f600" + "\u0416" * 66, "UCS-2", 3, 134),
    ],
)
def test_segments_at_the_boundaries(
    text: str, encoding: str, segments: int, characters: int
) -> None:
    parts = sms_segments(text)
    assert (parts.encoding, parts.segments, parts.characters) == (encoding, segments, characters)


@given(st.text(max_size=600))
def test_the_segments_always_hold_the_characters(text: str) -> None:
    parts = sms_segments(text)
    assert parts.segments >= 1
    assert parts.segments * parts.per_segment >= parts.characters
    # Never more than one extra part for pairs that could not be cut.
    if parts.segments > 1:
        assert parts.segments <= math.ceil(parts.characters / (parts.per_segment - 1))


@given(GSM_TEXT)
def test_basic_gsm_text_is_cut_into_full_parts(text: str) -> None:
    parts = sms_segments(text)
    assert parts.encoding == "GSM-7"
    assert parts.characters == len(text)
    expected = 1 if len(text) <= 160 else math.ceil(len(text) / 153)
    assert parts.segments == expected


@given(ANY_GSM_TEXT)
def test_extension_characters_count_twice(text: str) -> None:
    parts = sms_segments(text)
    assert parts.encoding == "GSM-7"
    assert parts.characters == len(text) + sum(c in GSM7_EXTENSION for c in text)


def test_typography_is_fitted_to_gsm7() -> None:
    text = (
        "We\u2019ve received \u201cyour\u201d payment \u2013 thank you\u2026 "
        "Balance:\u00a01\u202f234,56\u00a0\u20ac"
    )
    fitted = sms_fit(text)
    assert fitted == 'We\'ve received "your" payment - thank you... Balance: 1 234,56 \u20ac'
    assert sms_segments(text).encoding == "UCS-2"
    assert sms_segments(fitted).encoding == "GSM-7"


def test_a_text_that_needs_ucs2_anyway_keeps_its_typography() -> None:
    text = "\u201c\u0421\u043f\u0430\u0441\u0438\u0431\u043e\u201d \u2013 \U0001f600"
    assert sms_fit(text) == text


@given(st.text(alphabet=[*sorted(GSM7_BASIC), "\u2019", "\u2026", "\u00a0", "\u0416"]))
def test_fitting_gives_gsm7_in_no_more_segments_or_changes_nothing(text: str) -> None:
    fitted = sms_fit(text)
    assert fitted == text or sms_segments(fitted).encoding == "GSM-7"
    assert sms_segments(fitted).segments <= sms_segments(text).segments
    assert sms_fit(fitted) == fitted


def test_a_text_of_ellipses_is_not_fitted_into_more_segments() -> None:
    text = "\u2026" * 67
    assert sms_segments(text).segments == 1
    assert sms_fit(text) == text
