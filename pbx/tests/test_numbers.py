import pytest

from pbx import numbers


@pytest.mark.parametrize(
    ("raw", "country", "e164"),
    [
        ("+31 20 794 0100", None, "+31207940100"),
        ("0031207940100", None, "+31207940100"),
        ("020-7940100", "NL", "+31207940100"),
        ("(020) 794 01 00", "nl", "+31207940100"),
        ("+1 (650) 253-0000", "NL", "+16502530000"),
    ],
)
def test_external_numbers_become_e164(raw, country, e164):
    number = numbers.classify(raw, country)
    assert number.kind == numbers.EXTERNAL
    assert number.e164 == e164
    assert number.valid


def test_national_number_and_region():
    number = numbers.classify("0612345678", "NL")
    assert number.national == "612345678"
    assert number.region == "NL"
    assert numbers.national_number("+31612345678") == "612345678"
    assert numbers.national_number("") is None


@pytest.mark.parametrize("raw", ["201", "4001", " 12 "])
def test_short_numbers_are_extensions(raw):
    number = numbers.classify(raw, "NL")
    assert number.kind == numbers.INTERNAL
    assert number.e164 is None
    assert number.display == raw.strip()


@pytest.mark.parametrize("raw", [None, "", "Anonymous", "<unknown>", "PRIVATE", "withheld", "0"])
def test_withheld_numbers_are_anonymous(raw):
    assert numbers.classify(raw, "NL").kind == numbers.ANONYMOUS


@pytest.mark.parametrize("raw", ["abc", "12ab34567", "+", "+99999999999999999999"])
def test_garbage_is_invalid(raw):
    assert numbers.classify(raw, "NL").kind == numbers.INVALID


def test_national_without_country_is_invalid():
    # Without a default country a national number cannot be placed.
    assert numbers.classify("0207940100").kind == numbers.INVALID


def test_possible_but_unassigned_number_is_not_valid():
    number = numbers.classify("+31 00 000 0000")
    assert number.kind in (numbers.EXTERNAL, numbers.INVALID)
    assert not number.valid


def test_international_format():
    assert numbers.classify("+31207940100").international == "+31 20 794 0100"
