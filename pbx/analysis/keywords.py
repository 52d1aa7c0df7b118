"""Find configured keywords and phrases in a call transcript.

Matching rules, kept simple on purpose:

* case and accents are ignored (``"Réclamation"`` matches ``"reclamation"``);
* words are compared by their Snowball stem (the ``snowballstemmer``
  package) in the transcript's language, so plurals and common inflections
  match: ``"complaint"`` finds ``"complaints"``, ``"cancel"`` finds
  ``"cancelled"``, ``"cancelling"`` and ``"cancellation"``, ``"price"`` finds
  ``"prices"`` and ``"pricing"``. Languages without a stemmer match exact
  words only;
* only whole words match (``"price"`` does not match ``"priceless"``, nor
  ``"law"`` ``"lawyer"``), and a phrase of several words (``"talk to a
  lawyer"``) matches the same words in a row, in any inflection
  (``"talked to a lawyer"``);
* Korean is compared by morpheme (:mod:`.korean`, kiwipiepy) instead of
  stem: ``"환불"`` finds ``"환불을"``, ``"환불해"`` and ``"환불했습니다"``,
  not ``"불"`` in ``"환불"`` nor ``"사기"`` in ``"사기업"``.

:func:`find_hits` says where: each hit keeps the time (seconds) of the
transcript words it was found in. :func:`keyword_hits` can add a second
listen restricted to the keywords the free transcript missed (an engine's
:meth:`~.transcribe.Transcriber.spot`, a Vosk grammar), trusted or confirmed
by the transcript's spelling (:func:`distance`: Korean compared jamo by
jamo); measured on real speech it does not pay, and is off by default.

Keyword lists are plain text: :func:`parse_keywords` splits on commas,
semicolons and new lines.
"""

from __future__ import annotations

import contextlib
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

import snowballstemmer

__all__ = [
    "SECOND_LISTEN",
    "Hit",
    "confirmed",
    "distance",
    "find_hits",
    "find_keywords",
    "keyword_hits",
    "parse_keywords",
    "spelling",
    "stemmer_language",
    "tokens",
]

# ISO 639-1 code -> Snowball algorithm name
SNOWBALL = {
    "ar": "arabic",
    "ca": "catalan",
    "cs": "czech",
    "da": "danish",
    "de": "german",
    "el": "greek",
    "en": "english",
    "es": "spanish",
    "et": "estonian",
    "eu": "basque",
    "fi": "finnish",
    "fr": "french",
    "ga": "irish",
    "hi": "hindi",
    "hu": "hungarian",
    "hy": "armenian",
    "id": "indonesian",
    "it": "italian",
    "lt": "lithuanian",
    "nb": "norwegian",
    "ne": "nepali",
    "nl": "dutch",
    "nn": "norwegian",
    "no": "norwegian",
    "pl": "polish",
    "pt": "portuguese",
    "ro": "romanian",
    "ru": "russian",
    "sr": "serbian",
    "sv": "swedish",
    "ta": "tamil",
    "tr": "turkish",
}

_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)*")
_SEPARATORS = re.compile(r"[,;\n]+")


def parse_keywords(text: str | None) -> list[str]:
    """``"cancel, complaint;\\nprice"`` -> ``["cancel", "complaint", "price"]``."""
    seen, result = set(), []
    for part in _SEPARATORS.split(text or ""):
        keyword = " ".join(part.split())
        if keyword and keyword.casefold() not in seen:
            seen.add(keyword.casefold())
            result.append(keyword)
    return result


def stemmer_language(language: str | None) -> str | None:
    """Snowball algorithm for a language code (``"en-us"``, ``"fr_FR"``), or None."""
    return SNOWBALL.get(_code(language))


@lru_cache(maxsize=32)
def _stemmer(algorithm: str | None):
    if algorithm is None:
        return None
    return snowballstemmer.stemmer(algorithm)


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(char for char in decomposed if not unicodedata.combining(char))


def _code(language: str | None) -> str:
    return (language or "en").strip().replace("_", "-").lower().split("-")[0]


def tokens(text: str, language: str | None = "en") -> list[str]:
    """Words of ``text``, case- and accent-folded and stemmed (Korean: morphemes)."""
    if _code(language) == "ko":
        # kiwipiepy missing: whole words, as for unstemmed languages.
        with contextlib.suppress(ImportError):
            from .korean import morphemes

            return morphemes(text)
    words = [word.replace("'", "") for word in _WORD.findall(_fold(text or ""))]
    stemmer = _stemmer(stemmer_language(language))
    return stemmer.stemWords(words) if stemmer else words


def find_keywords(
    transcript_text: str, keywords: Iterable[str] | str, language: str | None = "en"
) -> list[str]:
    """The keywords (as configured) found in ``transcript_text``, sorted.

    ``keywords`` is an iterable of words/phrases or a comma/new-line separated
    string. Duplicates (ignoring case) are reported once.
    """
    if isinstance(keywords, str):
        keywords = parse_keywords(keywords)
    words = tokens(transcript_text, language)
    if not words:
        return []
    # "\x1f" never occurs in a token: joined sequences compare whole words only
    haystack = "\x1f" + "\x1f".join(words) + "\x1f"
    found = {}
    for keyword in keywords:
        keyword = " ".join((keyword or "").split())
        needle = tokens(keyword, language)
        if not needle or keyword.casefold() in found:
            continue
        if "\x1f" + "\x1f".join(needle) + "\x1f" in haystack:
            found[keyword.casefold()] = keyword
    return sorted(found.values(), key=lambda keyword: (keyword.casefold(), keyword))


@dataclass(frozen=True)
class Hit:
    """A keyword heard at ``start``..``end`` seconds, as the words ``heard``."""

    keyword: str
    start: float | None
    end: float | None
    heard: str
    source: str = "transcript"  # or the spotting engine's name


def _needles(keywords: Iterable[str] | str, language: str | None) -> dict[str, list[str]]:
    if isinstance(keywords, str):
        keywords = parse_keywords(keywords)
    needles: dict[str, tuple[str, list[str]]] = {}
    for keyword in keywords:
        keyword = " ".join((keyword or "").split())
        needle = tokens(keyword, language)
        if needle and keyword.casefold() not in needles:
            needles[keyword.casefold()] = (keyword, needle)
    return dict(needles.values())


def find_hits(
    words: Sequence, keywords: Iterable[str] | str, language: str | None = "en", source="transcript"
) -> list[Hit]:
    """Every place a keyword is said, by start time.

    ``words`` are timed words (``text``, ``start``, ``end``: a transcript's
    :class:`~.transcribe.Word`); the rules are :func:`find_keywords`'s, a
    phrase may span several words.
    """
    flat: list[tuple[str, int]] = [
        (token, index) for index, word in enumerate(words) for token in tokens(word.text, language)
    ]
    hits = []
    for keyword, needle in _needles(keywords, language).items():
        size = len(needle)
        for position in range(len(flat) - size + 1):
            if all(flat[position + i][0] == needle[i] for i in range(size)):
                first, last = flat[position][1], flat[position + size - 1][1]
                hits.append(
                    Hit(
                        keyword=keyword,
                        start=words[first].start,
                        end=words[last].end,
                        heard=" ".join(word.text for word in words[first : last + 1]),
                        source=source,
                    )
                )
    hits = list(dict.fromkeys(hits))  # a token repeated inside one word is one hit
    return sorted(hits, key=lambda hit: (hit.start or 0.0, hit.keyword.casefold()))


def spelling(text: str, language: str | None = "en") -> str:
    """``text`` letter by letter for :func:`distance`: Korean as jamo
    (:func:`.korean.jamo`), others case- and accent-folded; no spaces or
    punctuation."""
    if _code(language) == "ko":
        from .korean import jamo

        return "".join(char for char in jamo(text) if char.isalnum())
    return "".join(char for char in _fold(text or "") if char.isalnum())


def distance(keyword: str, text: str, language: str | None = "en") -> float:
    """How far ``keyword`` is from the closest stretch of ``text``: the
    fewest letters changed, added or dropped to find it there (an edit
    distance with the stretch's start and end free), divided by the
    keyword's letters. 0.0: said as spelt; 1.0: nothing alike.

    Korean is compared as jamo: ``"예약"`` is 0.0 in ``"예약을 했어요"``,
    0.2 in ``"애약"`` (one letter of five), 0.6 in ``"영업"``.
    """
    needle, haystack = spelling(keyword, language), spelling(text, language)
    if not needle:
        return 1.0
    if not haystack:
        return 1.0
    # Sellers' algorithm: row 0 is all zeros, so a match may start anywhere
    previous = [0] * (len(haystack) + 1)
    for i, letter in enumerate(needle, 1):
        current = [i] + [0] * len(haystack)
        for j, other in enumerate(haystack, 1):
            current[j] = min(
                previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (letter != other)
            )
        previous = current
    return min(1.0, min(previous) / len(needle))


# A keyword found by the second listen only (a grammar of the keywords, which
# hears a keyword in whatever sounds a little like it) is kept, with
# second_listen="confirm", when the spotting engine is this sure of it and the
# transcript has a near spelling (within CONFIRM_DISTANCE, see distance())
# where it was heard, give or take CONFIRM_SLACK seconds. Measured on real
# Korean speech (bench/README.md) it keeps a tenth of the grammar's false
# flags, but hardly any of its true ones: not the default.
CONFIRM_CONFIDENCE = 0.9
CONFIRM_DISTANCE = 0.35
CONFIRM_SLACK = 0.5
SECOND_LISTEN = ("off", "confirm", "trust")


def confirmed(hit: Hit, confidence: float | None, transcript, language: str | None) -> bool:
    """Whether a second-listen ``hit`` heard with ``confidence`` is backed by
    ``transcript``: see :data:`CONFIRM_CONFIDENCE` and :data:`CONFIRM_DISTANCE`."""
    if confidence is not None and confidence < CONFIRM_CONFIDENCE:
        return False
    if transcript.words and hit.start is not None and hit.end is not None:
        near = [
            word.text
            for word in transcript.words
            if word.end >= hit.start - CONFIRM_SLACK and word.start <= hit.end + CONFIRM_SLACK
        ]
        text = " ".join(near)
    else:
        text = transcript.text
    return distance(hit.keyword, text, language) <= CONFIRM_DISTANCE


def keyword_hits(
    transcript,
    keywords: Iterable[str] | str,
    language: str | None = None,
    *,
    spotter=None,
    path=None,
    second_listen: str = "off",
) -> list[Hit]:
    """Hits in a :class:`~.transcribe.Transcript`, then in a second listen.

    A transcript without timed words still flags its keywords, with no time.
    With ``second_listen`` other than ``"off"``, the keywords it misses are
    given to ``spotter.spot(path, missed, language)`` (a
    :class:`~.transcribe.Transcriber`: a Vosk grammar), and what that hears
    is added:

    * ``"off"`` (default): no second listen. On real Korean phone speech
      (bench/README.md) a grammar of the keywords hears one in whatever
      sounds a little like it: beside Whisper it found 2 of the 29 keywords
      Whisper missed and flagged a keyword in 16-18 % of the keyword/call
      pairs that did not say it; beside Vosk's own transcript nine flags in
      ten were wrong;
    * ``"confirm"``: only where the transcript agrees, see :func:`confirmed`;
    * ``"trust"``: everything it hears (what the addon did before).
    """
    if second_listen not in SECOND_LISTEN:
        raise ValueError(f"second_listen must be one of {', '.join(SECOND_LISTEN)}")
    language = language or transcript.language
    configured = list(_needles(keywords, language))
    if transcript.words:
        hits = find_hits(transcript.words, configured, language)
    else:
        hits = [
            Hit(keyword, None, None, "", "transcript")
            for keyword in find_keywords(transcript.text, configured, language)
        ]
    found = {hit.keyword for hit in hits}
    missed = [keyword for keyword in configured if keyword not in found]
    if missed and spotter is not None and path is not None and second_listen != "off":
        spotted = spotter.spot(path, missed, language)
        if spotted is not None and spotted.words:
            for hit in find_hits(spotted.words, missed, language, source=spotted.backend):
                if second_listen == "trust" or confirmed(
                    hit, _confidence(hit, spotted.words), transcript, language
                ):
                    hits.append(hit)
    return sorted(hits, key=lambda hit: (hit.start or 0.0, hit.keyword.casefold()))


def _confidence(hit: Hit, words: Sequence) -> float | None:
    """The lowest confidence of the words a hit was found in (None: unknown)."""
    values = [
        word.confidence
        for word in words
        if word.start >= hit.start and word.end <= hit.end and word.confidence is not None
    ]
    return min(values) if values else None
