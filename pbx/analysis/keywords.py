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
transcript words it was found in. :func:`keyword_hits` adds a second listen
restricted to the keywords the free transcript missed (an engine's
:meth:`~.transcribe.Transcriber.spot`, a Vosk grammar).

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
    "Hit",
    "find_hits",
    "find_keywords",
    "keyword_hits",
    "parse_keywords",
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


def keyword_hits(
    transcript,
    keywords: Iterable[str] | str,
    language: str | None = None,
    *,
    spotter=None,
    path=None,
) -> list[Hit]:
    """Hits in a :class:`~.transcribe.Transcript`, then in a second listen.

    A transcript without timed words still flags its keywords, with no time.
    Keywords it misses are given to ``spotter.spot(path, missed, language)``
    (a :class:`~.transcribe.Transcriber`), whose hits are added.
    """
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
    if missed and spotter is not None and path is not None:
        spotted = spotter.spot(path, missed, language)
        if spotted is not None and spotted.words:
            hits += find_hits(spotted.words, missed, language, source=spotted.backend)
    return sorted(hits, key=lambda hit: (hit.start or 0.0, hit.keyword.casefold()))
