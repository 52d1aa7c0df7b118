"""The contract between the addon and a speech engine, and nothing else.

An engine's author implements :class:`Transcriber` (``languages`` and
``transcribe``, optionally ``check`` and ``spot``) and returns a
:class:`Transcript` of timed :class:`Word` objects, raising the errors below.
The registry of engines and the engines themselves (``transcribe.py``,
``whisper.py``, ``vosk_engine.py``) import this module; it imports none of
them, so the engines and the memory check read the contract without an import
cycle. ``transcribe`` re-exports every name for the code written against it.
"""

from __future__ import annotations

import abc
import inspect
import os
from dataclasses import dataclass, field

__all__ = [
    "EngineUnavailableError",
    "Transcriber",
    "Transcript",
    "TranscriptionError",
    "UnknownBackendError",
    "UnsupportedLanguageError",
    "Word",
    "normalise_language",
]


class TranscriptionError(Exception):
    """Transcription cannot be done; the message says why."""


class UnknownBackendError(TranscriptionError):
    """No backend of that name is registered or installed."""


class UnsupportedLanguageError(TranscriptionError):
    """The backend has no model for the language asked for."""


class EngineUnavailableError(TranscriptionError):
    """The engine's package or model is not installed: a set-up problem that
    trying again later does not fix."""


@dataclass(frozen=True)
class Word:
    """One recognised word with its time in the recording (seconds)."""

    text: str
    start: float
    end: float
    confidence: float | None = None


@dataclass(frozen=True)
class Transcript:
    """What a backend heard: plain ``text`` and, where known, timed ``words``."""

    text: str
    language: str
    backend: str
    words: tuple[Word, ...] = field(default_factory=tuple)

    def __bool__(self) -> bool:
        return bool(self.text)


def normalise_language(language: str | None) -> str:
    """``"en_US"``, ``"EN-us"`` -> ``"en-us"``; empty -> ``"en-us"``."""
    language = (language or "en-us").strip().replace("_", "-").lower()
    return language or "en-us"


class Transcriber(abc.ABC):
    """A local speech-to-text engine."""

    name = "abstract"

    @abc.abstractmethod
    def languages(self) -> list[str]:
        """Language codes this backend can transcribe (lower case, ``-``)."""

    @abc.abstractmethod
    def transcribe(self, path: str | os.PathLike, language: str = "en-us") -> Transcript:
        """Transcribe a recording; raises :class:`UnsupportedLanguageError`,
        :class:`TranscriptionError` or :class:`~pbx.analysis.audio.AudioError`."""

    def check(self, language: str | None) -> str:
        """Raise what :meth:`transcribe` would raise for a missing model or
        language, without loading anything heavy; returns the resolved code."""
        return self.resolve_language(language)

    def model_name(self, language: str | None) -> str:
        """The model a call in ``language`` gets, as an administrator would
        find it (a model size, a folder's name); empty where the engine has no
        choice of model. Loads nothing; raises what :meth:`check` raises."""
        self.check(language)
        return ""

    def transcribe_expecting(
        self, path: str | os.PathLike, language: str = "en-us", keywords=None
    ) -> Transcript:
        """:meth:`transcribe`, told to expect ``keywords`` where the engine
        can be: where its ``transcribe`` takes ``keywords`` (Whisper's
        hotwords); the others just transcribe."""
        if keywords and "keywords" in inspect.signature(self.transcribe).parameters:
            return self.transcribe(path, language, keywords=list(keywords))
        return self.transcribe(path, language)

    def spot(
        self, path: str | os.PathLike, keywords: list[str], language: str = "en-us"
    ) -> Transcript | None:
        """A second listen restricted to ``keywords``, for engines that can
        (a grammar); None where the engine cannot."""
        return None

    def resolve_language(self, language: str | None) -> str:
        """The backend's code for ``language``: exact, else the first ``xx-*``
        variant of a bare ``xx``, else the bare ``xx`` of ``xx-yy``."""
        wanted = normalise_language(language)
        available = self.languages()
        if wanted in available:
            return wanted
        base = wanted.split("-")[0]
        for code in available:
            if code == base or ("-" not in wanted and code.split("-")[0] == base):
                return code
        raise UnsupportedLanguageError(
            f"{self.name}: language {wanted!r} is not available; available: "
            + (", ".join(sorted(available)) or "none")
        )
