"""A speech engine for the speech process's tests: ``fake``, registered on import.

The speech process imports it when ``PBX_SPEECH_PLUGINS=pbx.testing.fake_speech``.
A "recording" is a UTF-8 text file: its words are the transcript, half a
second each; of a real recording (audio, not text) the transcript is the
text of ``transcript`` in the control folder. The folder
``PBX_FAKE_SPEECH_DIR`` steers it:

* ``loads.log``: one line ``<pid> <language>`` per model the engine loads
  (once per process and language, as a real engine keeps its models);
* ``crash-once``: the next request removes the file and kills its process
  (SIGKILL, as the OOM killer would), mid-request;
* ``crash-always``: every request kills its process;
* ``delay``: seconds each request takes (a float in the file).
"""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

from ..analysis.transcribe import Transcriber, Transcript, Word, register_backend

__all__ = ["FakeBackend"]

_LOADED: set[str] = set()
_LOCK = threading.Lock()


def _control() -> Path | None:
    folder = os.environ.get("PBX_FAKE_SPEECH_DIR")
    return Path(folder) if folder else None


class FakeBackend(Transcriber):
    """Reads the words of a text file as a transcript."""

    name = "fake"

    def languages(self) -> list[str]:
        return ["en-us", "ko"]

    def _load(self, language):
        with _LOCK:
            if language in _LOADED:
                return
            time.sleep(0.2)  # a model takes a while to load
            _LOADED.add(language)
            control = _control()
            if control:
                with open(control / "loads.log", "a", encoding="utf-8") as log:
                    log.write(f"{os.getpid()} {language}\n")

    def transcribe(self, path, language="en-us") -> Transcript:
        code = self.resolve_language(language)
        self._load(code)
        control = _control()
        if control:
            if (control / "crash-always").exists():
                os.kill(os.getpid(), signal.SIGKILL)
            once = control / "crash-once"
            if once.exists():
                once.unlink()
                os.kill(os.getpid(), signal.SIGKILL)
            delay = control / "delay"
            if delay.exists():
                time.sleep(float(delay.read_text() or 0))
        try:
            words = Path(path).read_text(encoding="utf-8").split()
        except UnicodeDecodeError:  # audio
            said = control / "transcript" if control else None
            words = said.read_text(encoding="utf-8").split() if said and said.exists() else []
        timed = tuple(
            Word(text=word, start=0.5 * index, end=0.5 * index + 0.4, confidence=1.0)
            for index, word in enumerate(words)
        )
        return Transcript(text=" ".join(words), language=code, backend=self.name, words=timed)


register_backend("fake", FakeBackend)
