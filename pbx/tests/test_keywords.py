"""Keyword and phrase matching in transcripts (no audio needed)."""

import pytest

from pbx.analysis.keywords import find_keywords, parse_keywords, stemmer_language, tokens

TRANSCRIPT = (
    "Hello I have two complaints. The PRICES went up again, so I cancelled; "
    "I already talked to a Lawyer about these priceless contracts."
)
KEYWORDS = ["cancel", "complaint", "price", "lawyer", "refund", "talk to a lawyer"]


def test_plural_inflection_and_case():
    assert find_keywords(TRANSCRIPT, KEYWORDS) == [
        "cancel",
        "complaint",
        "lawyer",
        "price",
        "talk to a lawyer",
    ]
    assert find_keywords("we are cancelling, see the cancellation", ["Cancel"]) == ["Cancel"]
    assert find_keywords("the pricing is wrong", ["prices"]) == ["prices"]


def test_whole_words_only():
    assert find_keywords("a priceless outlaw", ["price", "law"]) == []
    assert find_keywords("she is a lawyer", ["law"]) == []
    assert find_keywords("I'd like to cancel", ["cancel"]) == ["cancel"]


def test_phrases_need_the_words_in_a_row():
    assert find_keywords("talk to my lawyer", ["talk to a lawyer"]) == []
    assert find_keywords("we TALKED to a lawyer", ["talk to a lawyer"]) == ["talk to a lawyer"]
    assert find_keywords("money back now", ["money  back"]) == ["money back"]
    assert find_keywords("back money", ["money back"]) == []


def test_keyword_list_forms():
    assert parse_keywords("cancel, complaint;\n price ,,\nCancel\n  talk  to a lawyer ") == [
        "cancel",
        "complaint",
        "price",
        "talk to a lawyer",
    ]
    assert parse_keywords("") == [] and parse_keywords(None) == []
    assert find_keywords(TRANSCRIPT, "refund, price\ncomplaint") == ["complaint", "price"]
    # duplicates ignoring case are reported once, as first configured
    assert find_keywords(TRANSCRIPT, ["Price", "price", "", "  "]) == ["Price"]
    assert find_keywords("", KEYWORDS) == []
    assert find_keywords(TRANSCRIPT, []) == []


def test_accents_and_languages():
    assert find_keywords("Une RÉCLAMATION sur les prix", ["reclamations", "prix"], "fr_FR") == [
        "prix",
        "reclamations",
    ]
    # German stems: "Kündigung" (notice) and "kündigen" (to cancel) share "kundig"
    assert find_keywords("Ich möchte kündigen", ["Kündigung", "Vertrag"], "de") == ["Kündigung"]
    assert stemmer_language("en-us") == "english"
    assert stemmer_language("pt_BR") == "portuguese"
    assert stemmer_language(None) == "english"
    # no stemmer for the language: exact words, still case- and accent-folded
    assert stemmer_language("ja") is None
    assert find_keywords("complaints Café", ["complaint", "cafe"], "ja") == ["cafe"]


@pytest.mark.parametrize(
    "text, expected",
    [
        ("It's the Lawyers'", ["it", "the", "lawyer"]),
        ("cancelled cancelling", ["cancel", "cancel"]),
        ("e-mail 2 times", ["e", "mail", "2", "time"]),
    ],
)
def test_tokens(text, expected):
    assert tokens(text) == expected
