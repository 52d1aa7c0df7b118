"""Telephone number classification and normalisation (phonenumbers).

A PBX hands over caller IDs as it got them: E.164, national with a trunk
prefix, an internal extension, or a placeholder for a withheld number.
Odoo matches clients on the E.164 form, so every number is classified once
here and the ORM only ever compares normalised strings.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property

import phonenumbers
from phonenumbers import PhoneNumberFormat

EXTERNAL = "external"
INTERNAL = "internal"
ANONYMOUS = "anonymous"
INVALID = "invalid"

# Placeholders PBXes and carriers put where a caller withheld the number.
_ANONYMOUS_WORDS = {
    "",
    "anonymous",
    "unknown",
    "<unknown>",
    "private",
    "restricted",
    "unavailable",
    "withheld",
    "blocked",
    "none",
    "null",
    "0",
}
_DIAL_CHARS = re.compile(r"[\s().\-/]")
# Internal extensions are short; anything longer is an outside number.
MAX_EXTENSION_DIGITS = 6


@dataclass(frozen=True)
class Number:
    """A classified number. ``e164`` and ``national`` are set for externals."""

    raw: str
    kind: str
    e164: str | None = None
    national: str | None = None
    parsed: phonenumbers.PhoneNumber | None = field(default=None, compare=False, repr=False)

    @property
    def display(self) -> str:
        """What a user should read: E.164 for outside numbers, else as given."""
        return self.e164 or self.raw

    def display_in(self, country: str | None) -> str:
        """The number as people of ``country`` (ISO alpha-2) write it: national
        format for their own numbers ("020 555 0101", "02-1234-5678"),
        international for the others ("+44 20 7946 0123"); as given when it is
        not an outside number.

        >>> classify("+31205550101").display_in("NL")
        '020 555 0101'
        >>> classify("+821012345678").display_in("KR")
        '010-1234-5678'
        >>> classify("+442079460123").display_in("NL")
        '+44 20 7946 0123'
        """
        if not self.parsed:
            return self.raw
        home = phonenumbers.country_code_for_region((country or "").upper())
        style = (
            PhoneNumberFormat.NATIONAL
            if home and self.parsed.country_code == home
            else PhoneNumberFormat.INTERNATIONAL
        )
        return phonenumbers.format_number(self.parsed, style)

    # Region and validity match the number against every pattern of its country:
    # worked out only for the few numbers that need them (callers to create).
    @cached_property
    def region(self) -> str | None:
        return phonenumbers.region_code_for_number(self.parsed) if self.parsed else None

    @cached_property
    def valid(self) -> bool:
        return bool(self.parsed) and phonenumbers.is_valid_number(self.parsed)

    @property
    def international(self) -> str:
        if not self.parsed:
            return self.raw
        return phonenumbers.format_number(self.parsed, PhoneNumberFormat.INTERNATIONAL)


def classify(
    raw: object, country: str | None = None, max_extension_digits: int = MAX_EXTENSION_DIGITS
) -> Number:
    """Classify ``raw`` as external, internal, anonymous or invalid.

    ``country`` is the ISO 3166 alpha-2 code used for numbers without an
    international prefix (the PBX's or the company's country).

    >>> classify("+31 20 794 0100").e164
    '+31207940100'
    >>> classify("020-7940100", "NL").national
    '207940100'
    >>> classify("201").kind
    'internal'
    >>> classify("Anonymous").kind
    'anonymous'
    """
    text = (raw or "").strip() if isinstance(raw, str) else str(raw or "").strip()
    if text.lower() in _ANONYMOUS_WORDS:
        return Number(raw=text, kind=ANONYMOUS)
    compact = _DIAL_CHARS.sub("", text)
    if compact.startswith("00") and compact[2:].isdigit():
        compact = "+" + compact[2:]
    digits = compact.removeprefix("+")
    if not digits.isdigit():
        return Number(raw=text, kind=INVALID)
    if not compact.startswith("+") and len(digits) <= max_extension_digits:
        return Number(raw=digits, kind=INTERNAL)
    region = (country or "").upper() or None
    try:
        parsed = phonenumbers.parse(compact, region)
    except phonenumbers.NumberParseException:
        return Number(raw=text, kind=INVALID)
    if not phonenumbers.is_possible_number(parsed):
        return Number(raw=text, kind=INVALID)
    return Number(
        raw=text,
        kind=EXTERNAL,
        e164=phonenumbers.format_number(parsed, PhoneNumberFormat.E164),
        national=str(parsed.national_number),
        parsed=parsed,
    )


def national_number(e164: str | None) -> str | None:
    """National significant number of an E.164 string, or None."""
    if not e164:
        return None
    try:
        return str(phonenumbers.parse(e164).national_number)
    except phonenumbers.NumberParseException:
        return None
