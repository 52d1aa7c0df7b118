"""Keyword and phrase matching in transcripts (no audio needed)."""

import pytest

from pbx.analysis.keywords import (
    CONFIRM_CONFIDENCE,
    Hit,
    confirmed,
    distance,
    find_hits,
    find_keywords,
    keyword_hits,
    parse_keywords,
    spelling,
    stemmer_language,
    tokens,
)
from pbx.analysis.korean import jamo
from pbx.analysis.transcribe import Transcript, Word

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


@pytest.fixture(scope="module")
def kiwi():
    return pytest.importorskip("kiwipiepy")


@pytest.mark.parametrize(
    "said",
    [
        "환불을 받고 싶습니다",  # with the object particle
        "환불해 주세요",  # made a verb with 하다
        "어제 환불했습니다",  # past tense, formal
        "환불 요청합니다",
    ],
)
def test_korean_keyword_matches_its_inflections(kiwi, said):
    assert find_keywords(said, ["환불"], "ko") == ["환불"]


@pytest.mark.parametrize(
    "said, keyword",
    [
        ("환불을 받고 싶습니다", "불"),  # the syllable 불 is inside 환불, not a word of its own
        ("사기업에 다닙니다", "사기"),  # 사기업 (private company) is not 사기 (fraud)
        ("계약을 연장해 주세요", "해지"),
    ],
)
def test_korean_keyword_needs_whole_morphemes(kiwi, said, keyword):
    assert find_keywords(said, [keyword], "ko") == []


def test_korean_keyword_forms_and_phrases(kiwi):
    # a keyword written as a verb matches the noun made a verb
    assert find_keywords("환불했습니다", ["환불하다"], "ko_KR") == ["환불하다"]
    # a phrase matches its morphemes in a row, particles between them ignored
    assert find_keywords("계약을 해지해 주세요", ["계약 해지"], "ko") == ["계약 해지"]
    assert find_keywords("해지 계약서", ["계약 해지"], "ko") == []
    assert tokens("환불했습니다", "ko") == ["환불", "하"]
    # English in a Korean call keeps working
    assert find_keywords("LG 서비스센터", ["lg"], "ko") == ["lg"]


def test_hits_keep_the_time_of_the_words():
    words = [
        Word("Please", 0.0, 0.4),
        Word("CANCEL", 0.5, 0.9),
        Word("it;", 0.9, 1.1),
        Word("I'll", 2.0, 2.2),
        Word("talk", 2.2, 2.5),
        Word("to", 2.5, 2.6),
        Word("a", 2.6, 2.7),
        Word("lawyer.", 2.7, 3.2),
        Word("Cancelled!", 4.0, 4.6),
    ]
    hits = find_hits(words, ["cancel", "talk to a lawyer", "refund"], "en")
    assert hits == [
        Hit("cancel", 0.5, 0.9, "CANCEL"),
        Hit("talk to a lawyer", 2.2, 3.2, "talk to a lawyer."),
        Hit("cancel", 4.0, 4.6, "Cancelled!"),
    ]


def test_korean_hits_keep_the_time(kiwi):
    words = [Word("네", 0.0, 0.2), Word("환불을", 1.5, 1.9), Word("원합니다", 1.9, 2.5)]
    assert find_hits(words, "환불, 사기", "ko") == [Hit("환불", 1.5, 1.9, "환불을")]


class Spotter:
    """A second listen that hears what it is asked for, at 3 s, with ``confidence``."""

    def __init__(self, confidence=1.0):
        self.asked = []
        self.confidence = confidence

    def spot(self, path, keywords, language):
        self.asked.append((path, list(keywords), language))
        words = tuple(Word(keyword, 3.0, 3.4, self.confidence) for keyword in keywords)
        return Transcript(" ".join(keywords), language, "grammar", words)


def test_second_listen_only_for_missed_keywords():
    transcript = Transcript(
        "cancel it", "en", "test", (Word("cancel", 0.2, 0.6), Word("it", 0.6, 0.7))
    )
    spotter = Spotter()
    hits = keyword_hits(
        transcript, "cancel, refund", spotter=spotter, path="call.wav", second_listen="trust"
    )
    assert spotter.asked == [("call.wav", ["refund"], "en")]
    assert hits == [
        Hit("cancel", 0.2, 0.6, "cancel", "transcript"),
        Hit("refund", 3.0, 3.4, "refund", "grammar"),
    ]
    # without timed words a plug-in's text still flags, with no time
    plain = Transcript("please cancel", "en", "plug-in")
    assert keyword_hits(plain, ["cancel"]) == [Hit("cancel", None, None, "", "transcript")]
    # nothing missed: no second listen
    spotter.asked.clear()
    keyword_hits(transcript, ["cancel"], spotter=spotter, path="call.wav", second_listen="trust")
    assert spotter.asked == []
    # off, the default: not asked at all
    assert keyword_hits(transcript, "refund", spotter=spotter, path="call.wav") == []
    keyword_hits(transcript, "refund", spotter=spotter, path="call.wav", second_listen="off")
    assert spotter.asked == []
    with pytest.raises(ValueError, match="second_listen"):
        keyword_hits(transcript, "refund", spotter=spotter, path="call.wav", second_listen="x")


# Whisper's words of "명동역 몇 번 출구로 나와야 되나요" and of a call that says
# 예약 misheard as 애약 (one jamo off), around 3 s where the grammar heard it
MYEONGDONG = Transcript(
    "명동역 몇 번 출구로 나와야 되나요",
    "ko",
    "whisper",
    (
        Word("명동역", 2.6, 3.1),
        Word("몇", 3.1, 3.3),
        Word("번", 3.3, 3.4),
        Word("출구로", 3.4, 3.9),
        Word("나와야", 3.9, 4.3),
        Word("되나요", 4.3, 4.8),
    ),
)
MISHEARD = Transcript(
    "애약 취소하려고요", "ko", "whisper", (Word("애약", 2.9, 3.3), Word("취소하려고요", 3.3, 4.0))
)


def test_second_listen_confirms_instead_of_inventing():
    # the grammar "hears" 배달 and 영업 in a call about a subway exit: the
    # transcript has nothing like them there, so nothing is flagged when
    # confirming; trusted, the grammar flags both
    spotter = Spotter()
    keywords = ["배달", "영업"]
    confirm = {"spotter": spotter, "path": "call.wav", "second_listen": "confirm"}
    assert keyword_hits(MYEONGDONG, keywords, **confirm) == []
    assert spotter.asked == [("call.wav", keywords, "ko")]
    trusted = keyword_hits(
        MYEONGDONG, keywords, spotter=spotter, path="call.wav", second_listen="trust"
    )
    assert {hit.keyword for hit in trusted} == {"배달", "영업"}
    # a keyword the transcript misspelt where the grammar heard it is kept
    hits = keyword_hits(MISHEARD, ["예약"], **{**confirm, "spotter": Spotter()})
    assert hits == [Hit("예약", 3.0, 3.4, "예약", "grammar")]
    # ... unless the grammar is unsure of it
    unsure = Spotter(confidence=CONFIRM_CONFIDENCE - 0.1)
    assert keyword_hits(MISHEARD, ["예약"], **{**confirm, "spotter": unsure}) == []
    # by default the grammar is not asked: the transcript alone flags
    spotter.asked.clear()
    assert keyword_hits(MYEONGDONG, keywords, spotter=spotter, path="call.wav") == []
    assert keyword_hits(MISHEARD, ["예약"], spotter=spotter, path="call.wav") == []
    assert spotter.asked == []


def test_confirmation_looks_where_the_keyword_was_heard():
    hit = Hit("예약", 3.0, 3.4, "예약", "grammar")
    assert confirmed(hit, 0.95, MISHEARD, "ko")
    assert confirmed(hit, None, MISHEARD, "ko")  # no confidence given: the spelling decides
    # the same misspelling 10 s later is not where the grammar heard it
    later = Transcript(
        "애약 취소하려고요",
        "ko",
        "whisper",
        (Word("애약", 12.9, 13.3), Word("취소하려고요", 13.3, 14.0)),
    )
    assert not confirmed(hit, 0.95, later, "ko")
    # a transcript without times is searched whole
    assert confirmed(hit, 0.95, Transcript("애약 취소하려고요", "ko", "plug-in"), "ko")
    assert not confirmed(hit, 0.95, Transcript("출구로 나와야", "ko", "plug-in"), "ko")


def test_jamo_spelling_and_distance():
    assert jamo("예약을 해요") == "ㅇㅖㅇㅑㄱㅇㅡㄹㅎㅐㅇㅛ"
    assert jamo("Call 가") == "callㄱㅏ"
    assert spelling("예약, OK!", "ko") == "ㅇㅖㅇㅑㄱok"
    assert spelling("Réclamation, s'il", "fr") == "reclamationsil"
    assert distance("예약", "예약을 했어요", "ko") == 0.0  # inside a longer word
    assert distance("예약", "애약", "ko") == pytest.approx(1 / 5)  # one jamo of five
    assert distance("배달", "명동역 몇 번 출구로 나와야 되나요", "ko") > 0.35
    assert distance("영업", "명동역 몇 번 출구로 나와야 되나요", "ko") > 0.35
    assert distance("refund", "I want a refnd", "en") == pytest.approx(1 / 6)
    assert distance("refund", "", "en") == 1.0
    assert distance("", "refund", "en") == 1.0
