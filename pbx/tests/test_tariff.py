import pytest

from pbx.tariff import Tariff, TariffError, billed_seconds, cost, match, normalise_prefix

TARIFFS = [
    Tariff("+31", 0.02, increment="60/60", key="nl"),
    Tariff("+316", 0.10, connection_fee=0.05, increment="1/1", key="nl-mobile"),
    Tariff("0044", 0.05, increment="30/6", key="uk"),
    Tariff("+44 20", 0.03, increment="30/6", key="london"),
]


@pytest.mark.parametrize(
    ("number", "key"),
    [
        ("+31205550101", "nl"),
        ("+31612345678", "nl-mobile"),
        ("+441632960961", "uk"),
        ("+442071234567", "london"),
        ("+4930901820", None),
        ("", None),
    ],
)
def test_longest_prefix_wins(number, key):
    found = match(number, TARIFFS)
    assert (found.key if found else None) == key


@pytest.mark.parametrize(
    ("talk", "increment", "billed"),
    [
        (0, "60/60", 0),
        (1, "60/60", 60),
        (60, "60/60", 60),
        (61, "60/60", 120),
        (61, "1/1", 61),
        (10, "30/6", 30),
        (31, "30/6", 36),
        (37, "30/6", 42),
    ],
)
def test_billing_increments(talk, increment, billed):
    assert billed_seconds(talk, increment) == billed


def test_cost():
    nl, mobile = TARIFFS[0], TARIFFS[1]
    assert cost(61, nl) == 0.04  # two started minutes at 0.02
    assert cost(90, mobile) == 0.2  # 0.05 + 90 s at 0.10/min
    assert cost(0, mobile) == 0.0  # unanswered: nothing
    assert cost(100, None) == 0.0


@pytest.mark.parametrize("bad", ["60", "0/60", "a/b", ""])
def test_bad_increment(bad):
    with pytest.raises(TariffError):
        billed_seconds(10, bad)


def test_prefix_normalisation():
    assert normalise_prefix("+31 6") == "316"
    assert normalise_prefix("0044") == "44"
    with pytest.raises(TariffError):
        normalise_prefix("+31x")
