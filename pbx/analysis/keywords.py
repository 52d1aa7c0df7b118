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
  (``"talked to a lawyer"``).

Keyword lists are plain text: :func:`parse_keywords` splits on commas,
semicolons and new lines.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from functools import lru_cache

import snowballstemmer

__all__ = ["find_keywords", "parse_keywords", "stemmer_language", "tokens"]

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
    code = (language or "en").strip().replace("_", "-").lower().split("-")[0]
    return SNOWBALL.get(code)


@lru_cache(maxsize=32)
def _stemmer(algorithm: str | None):
    if algorithm is None:
        return None
    return snowballstemmer.stemmer(algorithm)


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(char for char in decomposed if not unicodedata.combining(char))


def tokens(text: str, language: str | None = "en") -> list[str]:
    """Words of ``text``, case- and accent-folded and stemmed."""
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
