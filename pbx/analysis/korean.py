"""Korean words cut into morphemes with kiwipiepy, for keyword matching.

Korean glues particles and endings to the word they follow: ``환불`` (a
refund) is said ``환불을``, ``환불해``, ``환불했습니다``. Comparing syllables
would either miss those or, as a substring, find ``사기`` (fraud) in
``사기업`` (private company). Kiwi cuts each word into morphemes
(``환불/NNG 하/XSV 었/EP 습니다/EF``); :func:`morphemes` keeps the ones that
carry meaning, so a keyword matches whole morphemes only.

The Kiwi analyser (its model comes in the ``kiwipiepy-model`` wheel) takes
seconds to load and is built once per process.
"""

from __future__ import annotations

import threading

__all__ = ["jamo", "morphemes"]

# Endings (E*), particles (J*) and punctuation (S* but foreign words SL,
# numbers SN and Hanja SH) change a word's form, not what it is about.
_SKIPPED = ("E", "J", "S")
_KEPT = ("SL", "SN", "SH")

# Hangul syllables are composed arithmetically: (initial * 21 + vowel) * 28 + final
_SYLLABLE_FIRST, _SYLLABLE_LAST = 0xAC00, 0xD7A3
_INITIALS = "ㄱㄲㄴㄷㄸㄹㅁㅂㅃㅅㅆㅇㅈㅉㅊㅋㅌㅍㅎ"
_VOWELS = "ㅏㅐㅑㅒㅓㅔㅕㅖㅗㅘㅙㅚㅛㅜㅝㅞㅟㅠㅡㅢㅣ"
_FINALS = ["", *"ㄱㄲㄳㄴㄵㄶㄷㄹㄺㄻㄼㄽㄾㄿㅀㅁㅂㅄㅅㅆㅇㅈㅊㅋㅌㅍㅎ"]

_KIWI = None
_LOCK = threading.Lock()


def _kiwi():
    global _KIWI
    with _LOCK:
        if _KIWI is None:
            from kiwipiepy import Kiwi  # only Korean keywords need it

            from .memory import ensure_room

            ensure_room("Kiwi (Korean keywords)", "kiwi")

            # Speech engines make no typing typos and the multi-word dictionary
            # finds no morphemes: without both, Kiwi loads in 3 s instead of 9
            _KIWI = Kiwi(load_typo_dict=False, load_multi_dict=False)
        return _KIWI


def morphemes(text: str) -> list[str]:
    """The meaning-bearing morphemes of ``text``, lower-cased, in order."""
    if not text or not text.strip():
        return []
    return [
        token.form.casefold()
        for token in _kiwi().tokenize(text)
        if token.tag.startswith(_KEPT) or not token.tag.startswith(_SKIPPED)
    ]


def jamo(text: str) -> str:
    """``text`` spelt letter by letter: each Hangul syllable as its jamo
    (``"예약"`` -> ``"ㅇㅖㅇㅑㄱ"``), other characters case-folded; no spaces.

    Two spellings that sound alike differ in a letter or two here, not in
    whole syllables: ``"예약"`` and ``"애약"`` are one letter apart.
    Needs no model.
    """
    letters = []
    for char in (text or "").casefold():
        code = ord(char)
        if _SYLLABLE_FIRST <= code <= _SYLLABLE_LAST:
            index = code - _SYLLABLE_FIRST
            letters.append(_INITIALS[index // 588])
            letters.append(_VOWELS[index % 588 // 28])
            letters.append(_FINALS[index % 28])
        elif not char.isspace():
            letters.append(char)
    return "".join(letters)
